"""EmbedLLM router (Zhuang et al., "EmbedLLM: Learning Compact Representations of Large
Language Models", ICLR 2025): a learned embedding per LLM and a linear projection of the
query embedding into the same space; the correctness logit of (query, LLM) is a linear
read-out of their element-wise product, trained with binary cross-entropy. During training
Gaussian noise (std `noise`) is added to the query embedding against overfitting, as in the
authors' matrix-factorisation code; routing takes the LLM with the highest logit.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avengers.route.trained import TrainedRouter, training_params
from avengers.route.tuned import positive_float, positive_int


class EmbedLlmRouter(TrainedRouter):
    hyperparameters = ("dim", "noise", "steps", "batch_size", "learning_rate", "weight_decay", "eval_every", "holdout")

    def __init__(self, dim: int, noise: float, steps: int, batch_size: int, learning_rate: float,
                 weight_decay: float, eval_every: int, holdout: float, name: str = "embedllm", top_n: int = 1,
                 device: str = "cpu", search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3,
                 peek_test: bool = False, extras: Mapping[str, Any] | None = None) -> None:
        params = {"dim": dim, "noise": noise,
                  **training_params(steps, batch_size, learning_rate, weight_decay, eval_every, holdout)}
        super().__init__(name=name, top_n=top_n, params=params, device=device, search=search, cv_folds=cv_folds,
                         peek_test=peek_test, extras=extras)

    def validate(self, params):
        super().validate(params)
        positive_int("dim", params["dim"], self.name)
        positive_float("noise", params["noise"], self.name, allow_zero=True)

    def build(self, torch, data, params, seed):
        nn = torch.nn

        class EmbedLLM(nn.Module):
            def __init__(self, d: int, m: int, dim: int, noise: float) -> None:
                super().__init__()
                self.models = nn.Embedding(m, dim)  # one learned embedding per LLM
                self.query_proj = nn.Linear(d, dim)
                self.readout = nn.Linear(dim, 1)
                self.noise = noise

            def forward(self, x):
                if self.training and self.noise > 0:
                    x = x + torch.randn_like(x) * self.noise
                q = self.query_proj(x)  # (n, dim)
                return self.readout(q[:, None, :] * self.models.weight[None]).squeeze(-1)  # (n, M)

        return EmbedLLM(data.embeddings.shape[1], len(data.models), int(params["dim"]), float(params["noise"]))

    def loss(self, torch, module, x, y, rows, gen):
        return torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)

    def values(self, torch, module, x):
        return module(x)

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        w = self.weights
        proj = np.asarray(q, dtype=np.float32) @ w["query_proj.weight"].T + w["query_proj.bias"]  # (n, dim)
        scaled = w["models.weight"] * w["readout.weight"][0]  # (M, dim): the read-out folded into the LLM embeddings
        return (proj @ scaled.T + w["readout.bias"][0]).astype(np.float64)
