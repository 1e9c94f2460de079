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
router_train.sh and train_router_mdeberta.py): top_k=3, last_k=3, learning rate 5e-5
(AdamW), 1,000 steps, batch 16, temperature 1, cluster-loss weight 1, 3 negatives, evaluation
every 50 steps, LLM embeddings initialised N(0, 0.78). The release fine-tunes mDeBERTa (first
token, 512 tokens, truncated from the left); the checkpoint here is chosen on held-out
calibration queries rather than on the training data. Two encoders:

- `encoder: frozen` trains a linear head (initialised to the identity) on the job's frozen
  embedding, clustered as it is;
- `encoder: finetune` fine-tunes the packaged sentence-transformers model `finetune_model`
  (MiniLM, 22M parameters) end to end with the same two losses, from the query TEXTS
  (route/text_encoder.py: mean pooling + L2 normalisation, as sentence-transformers;
  `max_seq_length` tokens, cut on `truncation_side`). As in the release, the sample-sample
  clusters are k-means clusters of the untrained encoder's vectors (kept in the embedding
  cache). The job's embedder (tfidf, minilm, mpnet...) plays no part in this fit: routing
  encodes the query texts with the fine-tuned encoder, so `predict` needs the texts. The
  fitted state holds every encoder weight (~91 MB float32 for MiniLM).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from avengers.errors import AvengersError, ConfigError
from avengers.files import stable_hash
from avengers.route.base import CalibrationSet
from avengers.route.trained import TrainedRouter, check_torch_device, single_threaded_torch, training_params
from avengers.route.tuned import positive_float, positive_int

if TYPE_CHECKING:  # the module itself is imported only when a fine-tune needs it
    from avengers.route.text_encoder import EncoderSpec

log = logging.getLogger(__name__)

ENCODERS = ("frozen", "finetune")
# Knobs of the fine-tuned encoder only: a frozen fit neither reads them nor keys its cache on them.
FINETUNE_ONLY = ("finetune_model", "max_seq_length", "truncation_side")


class RouterDcRouter(TrainedRouter):
    hyperparameters = ("encoder", "top_k", "last_k", "temperature", "cluster_loss_weight", "n_clusters", "negatives",
                       "init_std", "steps", "batch_size", "learning_rate", "weight_decay", "eval_every", "holdout",
                       *FINETUNE_ONLY)

    def __init__(self, encoder: str, top_k: int, last_k: int, temperature: float, cluster_loss_weight: float,
                 n_clusters: int, negatives: int, init_std: float, steps: int, batch_size: int,
                 learning_rate: float, weight_decay: float, eval_every: int, holdout: float,
                 finetune_model: str, max_seq_length: int, truncation_side: str,
                 name: str = "routerdc", top_n: int = 1, device: str = "cpu",
                 search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3, peek_test: bool = False,
                 extras: Mapping[str, Any] | None = None) -> None:
        params = {"encoder": encoder, "top_k": top_k, "last_k": last_k, "temperature": temperature,
                  "cluster_loss_weight": cluster_loss_weight, "n_clusters": n_clusters, "negatives": negatives,
                  "init_std": init_std,
                  **training_params(steps, batch_size, learning_rate, weight_decay, eval_every, holdout),
                  "finetune_model": finetune_model, "max_seq_length": max_seq_length,
                  "truncation_side": truncation_side}
        self._routing_module: Any = None  # the fine-tuned encoder, rebuilt from the weights for routing
        self._tokenizer: Any = None
        super().__init__(name=name, top_n=top_n, params=params, device=device, search=search, cv_folds=cv_folds,
                         peek_test=peek_test, extras=extras)
        for k in ("encoder", "finetune_model"):
            if k in self.search:
                raise ConfigError(f"router.search.{k}: the encoder cannot be searched; run one job per encoder "
                                  f"(router={self.name}).")

    def validate(self, params):
        super().validate(params)
        if params["encoder"] not in ENCODERS:
            raise ConfigError(f"router.encoder={params['encoder']!r}: use frozen (a trained head on the job's "
                              f"embedder) or finetune (end-to-end fine-tuning of router.finetune_model).")
        for k in ("top_k", "last_k", "n_clusters", "negatives", "max_seq_length"):
            positive_int(k, params[k], self.name)
        positive_float("temperature", params["temperature"], self.name)
        positive_float("init_std", params["init_std"], self.name)
        positive_float("cluster_loss_weight", params["cluster_loss_weight"], self.name, allow_zero=True)
        if params["truncation_side"] not in ("left", "right"):
            raise ConfigError(f"router.truncation_side={params['truncation_side']!r}: use left (keep a long query's "
                              f"end, as the RouterDC release) or right (keep its start, as sentence-transformers).")
        if not isinstance(params["finetune_model"], str) or not params["finetune_model"].strip():
            raise ConfigError(f"router.finetune_model={params['finetune_model']!r}: name a packaged model "
                              f"(packaged:all-MiniLM-L6-v2) or a local sentence-transformers folder.")

    def _check(self, params, n_train):
        problem = super()._check(params, n_train)
        if problem is None and params["cluster_loss_weight"] > 0 and params["n_clusters"] > n_train // 2:
            problem = (f"router.n_clusters={params['n_clusters']} query clusters for the sample-sample loss is too "
                       f"many for {n_train} calibration queries; lower it (the release uses 8).")
        return problem

    # -- the encoder -----------------------------------------------------------------------
    @property
    def finetune(self) -> bool:
        return self.params["encoder"] == "finetune"

    @property
    def progress_level(self) -> int:  # a fine-tune runs for many minutes: show its progress
        return logging.INFO if self.finetune else logging.DEBUG

    def encoder_spec(self, params: Mapping[str, Any] | None = None) -> EncoderSpec:
        from avengers.route.text_encoder import EncoderSpec

        p = self.params if params is None else params
        return EncoderSpec(str(p["finetune_model"]), int(p["max_seq_length"]), str(p["truncation_side"]))

    def _applicable(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return dict(params) if self.finetune else {k: v for k, v in params.items() if k not in FINETUNE_ONLY}

    def cache_key(self) -> dict[str, Any]:
        key = super().cache_key()
        key["params"] = self._applicable(self.params)
        if self.finetune:  # the model's files, not only its name: another version is another fit
            key["finetune_encoder"] = self.encoder_spec().identity
        return key

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["hyperparameters"] = self._applicable(out["hyperparameters"])
        if self.finetune:
            out["encoder"] = self.encoder_spec(self.chosen).identity
        return out

    # -- training --------------------------------------------------------------------------
    def _fit(self, data: CalibrationSet, seed: int) -> None:
        self._routing_module, self._tokenizer = None, None
        n = int(np.prod([len(v) for v in self.search.values()])) if self.search else 1
        if self.finetune and n > 1:
            log.warning("router=%s: encoder=finetune with %d router.search candidates fine-tunes the encoder %d times "
                        "(router=routerdc_finetune searches nothing; or set router.search=null)", self.name, n, n)
        super()._fit(data, seed)

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
            if params["encoder"] == "finetune":
                x, identity = self._pretrained_vectors(data, params)
                key.update(embedder=identity, texts=stable_hash(list(data.texts)))
            else:
                x = data.embeddings
            fit, _ = fit_cached(method, x[train_rows], seed, key)
            self.cluster_of[train_rows] = fit.labels

    def _pretrained_vectors(self, data: CalibrationSet, params: Mapping[str, Any]) -> tuple[np.ndarray, str]:
        """The untrained encoder's vectors of every calibration text (embedding cache: computed once)."""
        from avengers.assets import cache_root
        from avengers.embed.cache import CachedEmbedder
        from avengers.route.text_encoder import PretrainedEncoder

        encoder = PretrainedEncoder(self.encoder_spec(params))
        return CachedEmbedder(encoder, cache_root() / "embeddings", progress=False)(list(data.texts)), encoder.identity

    def features(self, torch, embeddings, texts, device):
        if self.params_now["encoder"] != "finetune":
            return super().features(torch, embeddings, texts, device)
        from avengers.route.text_encoder import TextBatches

        spec = self.encoder_spec(self.params_now)
        return TextBatches(texts, spec.tokenizer(), spec.max_seq_length, device)

    def build(self, torch, data, params, seed):
        nn = torch.nn
        cosine = llm_cosine

        if params["encoder"] == "finetune":
            from avengers.route.text_encoder import text_encoder_module

            encoder = text_encoder_module(torch, self.encoder_spec(params))
            d = int(encoder.transformer.config.hidden_size)
        else:
            d = data.embeddings.shape[1]
            encoder = nn.Linear(d, d)
            with torch.no_grad():  # start from the frozen embedding itself
                encoder.weight.copy_(torch.eye(d))
                encoder.bias.zero_()

        part = query_part(params)

        class RouterDC(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.add_module(part, encoder)
                self.llm = nn.Parameter(torch.randn(len(data.models), d) * float(params["init_std"]))

            def forward(self, x):
                h = getattr(self, part)(x)
                return h, cosine(torch, h, self.llm)

        return RouterDC()

    def _train(self, data, train_rows, val, params, seed):
        self.params_now = dict(params)  # `features` is called before `build`
        return super()._train(data, train_rows, val, params, seed)

    def loss(self, torch, module, x, y, rows, gen):
        p = self.params_now
        h, cos = module(x)
        logits = cos / float(p["temperature"])
        b, m = y.shape
        dev = y.device
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
            c = torch.as_tensor(self.cluster_of)[rows.cpu()].to(dev)
            hn = torch.nn.functional.normalize(h, dim=1)
            sim = hn @ hn.T
            same = (c[:, None] == c[None, :]) & ~torch.eye(b, dtype=torch.bool, device=dev)
            other = c[:, None] != c[None, :]
            k = int(p["negatives"])
            ok = same.any(dim=1) & (other.sum(dim=1) >= k)
            if ok.any():
                noise = torch.rand(b, b, generator=gen).to(dev)
                pos = torch.where(same, noise, -1.0).argmax(dim=1, keepdim=True)  # a random same-cluster query
                negs = torch.topk(torch.where(other, noise, -1.0), k, dim=1).indices  # k random other-cluster ones
                cand = torch.cat([sim.gather(1, pos), sim.gather(1, negs)], dim=1)
                loss = loss + w * (-torch.log_softmax(cand, dim=1)[:, 0])[ok].mean()
        return loss

    def values(self, torch, module, x):
        if self.params_now["encoder"] != "finetune":
            return module(x)[1]
        from avengers.route.text_encoder import encode

        return llm_cosine(torch, encode(torch, module.encoder, x), module.llm)

    def export(self, module):
        # Parameters only: the transformer's buffers (position ids) come with the model folder.
        return {k: v.detach().cpu().numpy().copy() for k, v in module.named_parameters()}

    # -- routing ---------------------------------------------------------------------------
    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        w = self.weights
        if self.chosen["encoder"] == "finetune":
            if texts is None or len(texts) != len(q):
                raise ConfigError(f"router={self.name} (encoder=finetune) routes a query by encoding its TEXT with "
                                  f"its fine-tuned encoder: pass the query texts to predict/rank (one per query).")
            h = self._encode(texts)
        else:
            h = np.asarray(q, dtype=np.float32) @ w["head.weight"].T + w["head.bias"]
        h /= np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        e = w["llm"] / np.maximum(np.linalg.norm(w["llm"], axis=1, keepdims=True), 1e-12)
        return (h @ e.T).astype(np.float64) / float(self.chosen["temperature"])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """The fine-tuned encoder's vectors of `texts` (single-threaded: identical on every machine)."""
        from avengers.route.text_encoder import TextBatches, encode

        check_torch_device(self.device)
        with single_threaded_torch() as torch:
            module = self._load_encoder(torch).to(torch.device(self.device))
            spec = self.encoder_spec(self.chosen)
            if self._tokenizer is None:
                self._tokenizer = spec.tokenizer()
            batches = TextBatches(texts, self._tokenizer, spec.max_seq_length, torch.device(self.device))
            return encode(torch, module, batches).float().cpu().numpy()

    def _load_encoder(self, torch: Any) -> Any:
        """The text encoder with the fitted weights, on the CPU (built once per fitted router)."""
        if self._routing_module is None:
            from avengers.route.text_encoder import text_encoder_module

            module = text_encoder_module(torch, self.encoder_spec(self.chosen))
            prefix = query_part(self.chosen) + "."
            weights = {k[len(prefix):]: torch.from_numpy(np.asarray(v, dtype=np.float32))
                       for k, v in self.weights.items() if k.startswith(prefix)}
            names = {k for k, _ in module.named_parameters()}
            if set(weights) != names:
                raise AvengersError(f"router={self.name}: the fitted encoder weights do not match "
                                    f"{self.chosen['finetune_model']} ({len(set(weights) ^ names)} parameter names "
                                    f"differ); refit the router.")
            module.load_state_dict(weights, strict=False)  # strict=False: the buffers come with the model
            self._routing_module = module.eval()
        return self._routing_module

    def _set_arrays(self, arrays):
        super()._set_arrays(arrays)
        self._routing_module, self._tokenizer = None, None
        if self.chosen["encoder"] == "finetune":  # validated on read: a mismatched entry is refitted
            with single_threaded_torch() as torch:
                self._load_encoder(torch)


def query_part(params: Mapping[str, Any]) -> str:
    """Name of the module that makes the query vector (its weights are named after it)."""
    return "encoder" if params["encoder"] == "finetune" else "head"


def llm_cosine(torch: Any, h: Any, llm: Any) -> Any:
    """(n, M) cosine similarity of query vectors h and the LLM embeddings."""
    f = torch.nn.functional
    return f.normalize(h, dim=1) @ f.normalize(llm, dim=1).T
