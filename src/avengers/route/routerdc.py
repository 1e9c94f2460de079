"""RouterDC (Chen et al., "RouterDC: Query-Based Router by Dual Contrastive Learning for
Assembling Large Language Models", NeurIPS 2024).

A query encoder and one trainable embedding per LLM; a query is routed to the LLM whose
embedding is most similar (cosine / temperature). Two contrastive losses train them:

- sample-LLM: for each of the `top_k` best-scoring LLMs on a query (skipped when it scored 0),
  softmax cross-entropy of that LLM against the `last_k` worst-scoring LLMs (those scoring
  above 0.5 are not used as negatives);
- sample-sample: queries are clustered (k-means, `n_clusters`); each query is pulled towards
  a random query of its cluster in the batch and pushed from `negatives` random queries of
  other clusters, weighted by `cluster_loss_weight`.

Defaults follow the authors' release (github.com/shuhao02/RouterDC, train_scripts/
router_train.sh): top_k=3, last_k=3, learning rate 5e-5 (AdamW), 1,000 steps, batch 16,
temperature 1, cluster-loss weight 1, 3 negatives, evaluation every 50 steps, LLM embeddings
initialised N(0, 0.78). Unlike the release, which fine-tunes mDeBERTa, `encoder: frozen` trains
a linear head (initialised to the identity) on the job's frozen embedding, and the
checkpoint is chosen on held-out calibration queries rather than on the training data.
`encoder: finetune` (end-to-end fine-tuning of the packaged MiniLM) is not implemented.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError
from avengers.files import stable_hash
from avengers.route.base import CalibrationSet
from avengers.route.trained import TrainedRouter, training_params
from avengers.route.tuned import positive_float, positive_int

log = logging.getLogger(__name__)


class RouterDcRouter(TrainedRouter):
    hyperparameters = ("encoder", "top_k", "last_k", "temperature", "cluster_loss_weight", "n_clusters", "negatives",
                       "init_std", "steps", "batch_size", "learning_rate", "weight_decay", "eval_every", "holdout")

    def __init__(self, encoder: str, top_k: int, last_k: int, temperature: float, cluster_loss_weight: float,
                 n_clusters: int, negatives: int, init_std: float, steps: int, batch_size: int,
                 learning_rate: float, weight_decay: float, eval_every: int, holdout: float,
                 name: str = "routerdc", top_n: int = 1, device: str = "cpu",
                 search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3, peek_test: bool = False,
                 extras: Mapping[str, Any] | None = None) -> None:
        params = {"encoder": encoder, "top_k": top_k, "last_k": last_k, "temperature": temperature,
                  "cluster_loss_weight": cluster_loss_weight, "n_clusters": n_clusters, "negatives": negatives,
                  "init_std": init_std,
                  **training_params(steps, batch_size, learning_rate, weight_decay, eval_every, holdout)}
        super().__init__(name=name, top_n=top_n, params=params, device=device, search=search, cv_folds=cv_folds,
                         peek_test=peek_test, extras=extras)

    def validate(self, params):
        super().validate(params)
        if params["encoder"] == "finetune":
            raise ConfigError("router.encoder=finetune (end-to-end fine-tuning of the packaged MiniLM) is not "
                              "implemented in this harness; use router.encoder=frozen (a trained head on the job's "
                              "embedder).")
        if params["encoder"] != "frozen":
            raise ConfigError(f"router.encoder={params['encoder']!r}: use frozen.")
        for k in ("top_k", "last_k", "n_clusters", "negatives"):
            positive_int(k, params[k], self.name)
        positive_float("temperature", params["temperature"], self.name)
        positive_float("init_std", params["init_std"], self.name)
        positive_float("cluster_loss_weight", params["cluster_loss_weight"], self.name, allow_zero=True)

    def _check(self, params, n_train):
        problem = super()._check(params, n_train)
        if problem is None and params["cluster_loss_weight"] > 0 and params["n_clusters"] > n_train // 2:
            problem = (f"router.n_clusters={params['n_clusters']} query clusters for the sample-sample loss is too "
                       f"many for {n_train} calibration queries; lower it (the release uses 8).")
        return problem

    def prepare(self, data: CalibrationSet, train_rows: np.ndarray, params: Mapping[str, Any], seed: int) -> None:
        m = len(data.models)
        # With few LLMs the release's top_k/last_k cannot both fit: cap them at M - 1 (logged).
        self.top_k_eff, self.last_k_eff = min(int(params["top_k"]), m - 1), min(int(params["last_k"]), m - 1)
        if (self.top_k_eff, self.last_k_eff) != (params["top_k"], params["last_k"]):
            log.warning("router=%s: %d LLMs: top_k/last_k %d/%d capped to %d/%d", self.name, m, params["top_k"],
                        params["last_k"], self.top_k_eff, self.last_k_eff)
        self.cluster_of = np.zeros(data.n, dtype=np.int64)
        if params["cluster_loss_weight"] > 0:
            from avengers.cluster.methods import KMeansClustering, fit_cached

            method = KMeansClustering(name="kmeans", n_clusters=int(params["n_clusters"]), n_init=10)
            key = {**data.identity, "rows": stable_hash(train_rows.tolist()), "purpose": "routerdc_sample_clusters"}
            fit, _ = fit_cached(method, data.embeddings[train_rows], seed, key)
            self.cluster_of[train_rows] = fit.labels

    def build(self, torch, data, params, seed):
        nn = torch.nn
        d = data.embeddings.shape[1]

        class RouterDC(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.head = nn.Linear(d, d)
                with torch.no_grad():  # start from the frozen embedding itself
                    self.head.weight.copy_(torch.eye(d))
                    self.head.bias.zero_()
                self.llm = nn.Parameter(torch.randn(len(data.models), d) * float(params["init_std"]))

            def forward(self, x):
                h = self.head(x)
                return h, nn.functional.normalize(h, dim=1) @ nn.functional.normalize(self.llm, dim=1).T

        self.params_now = dict(params)
        self.cluster_t = torch.as_tensor(self.cluster_of)
        return RouterDC()

    def loss(self, torch, module, x, y, rows, gen):
        p = self.params_now
        h, cos = module(x)
        logits = cos / float(p["temperature"])
        b, m = y.shape
        # sample-LLM loss
        top_val, top_idx = torch.sort(y, dim=1, descending=True, stable=True)
        neg_val, neg_idx = torch.sort(y, dim=1, stable=True)
        neg_val, neg_idx = neg_val[:, :self.last_k_eff], neg_idx[:, :self.last_k_eff]
        neg_logits = logits.gather(1, neg_idx).masked_fill(neg_val > 0.5, float("-inf"))
        loss = logits.new_zeros(())
        for i in range(self.top_k_eff):
            pos = top_idx[:, i:i + 1]
            negs = neg_logits.masked_fill(neg_idx == pos, float("-inf"))  # an LLM is never its own negative
            lsm = torch.log_softmax(torch.cat([logits.gather(1, pos), negs], dim=1), dim=1)[:, 0]
            loss = loss + (-lsm * (top_val[:, i] > 0)).mean()
        # sample-sample loss over query clusters
        w = float(p["cluster_loss_weight"])
        if w > 0 and b > 1:
            c = self.cluster_t[rows.cpu()].to(x.device)
            hn = torch.nn.functional.normalize(h, dim=1)
            sim = hn @ hn.T
            same = (c[:, None] == c[None, :]) & ~torch.eye(b, dtype=torch.bool, device=x.device)
            other = c[:, None] != c[None, :]
            k = int(p["negatives"])
            ok = same.any(dim=1) & (other.sum(dim=1) >= k)
            if ok.any():
                noise = torch.rand(b, b, generator=gen).to(x.device)
                pos = torch.where(same, noise, -1.0).argmax(dim=1, keepdim=True)  # a random same-cluster query
                negs = torch.topk(torch.where(other, noise, -1.0), k, dim=1).indices  # k random other-cluster ones
                cand = torch.cat([sim.gather(1, pos), sim.gather(1, negs)], dim=1)
                loss = loss + w * (-torch.log_softmax(cand, dim=1)[:, 0])[ok].mean()
        return loss

    def values(self, torch, module, x):
        return module(x)[1]

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        w = self.weights
        h = np.asarray(q, dtype=np.float32) @ w["head.weight"].T + w["head.bias"]
        h /= np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        e = w["llm"] / np.maximum(np.linalg.norm(w["llm"], axis=1, keepdims=True), 1e-12)
        return (h @ e.T).astype(np.float64) / float(self.chosen["temperature"])
