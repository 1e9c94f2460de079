"""MLP router: a multi-label network predicting every LLM's correctness from the query
embedding (one sigmoid output per model, binary cross-entropy on the per-query scores); route
to the highest predicted correctness. The common "learned router" baseline (e.g. the MLP
router of Hu et al., "RouterBench", 2024, and of the RouteLLM / EmbedLLM comparisons).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError
from avengers.route.trained import TrainedRouter, sigmoid, training_params
from avengers.route.tuned import positive_int


class MlpRouter(TrainedRouter):
    hyperparameters = ("hidden", "dropout", "steps", "batch_size", "learning_rate", "weight_decay", "eval_every",
                       "holdout")

    def __init__(self, hidden: int, dropout: float, steps: int, batch_size: int, learning_rate: float,
                 weight_decay: float, eval_every: int, holdout: float, name: str = "mlp", top_n: int = 1,
                 device: str = "cpu", search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3,
                 peek_test: bool = False, extras: Mapping[str, Any] | None = None) -> None:
        params = {"hidden": hidden, "dropout": dropout,
                  **training_params(steps, batch_size, learning_rate, weight_decay, eval_every, holdout)}
        super().__init__(name=name, top_n=top_n, params=params, device=device, search=search, cv_folds=cv_folds,
                         peek_test=peek_test, extras=extras)

    def validate(self, params):
        super().validate(params)
        positive_int("hidden", params["hidden"], self.name)
        d = params["dropout"]
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= d < 1.0:
            raise ConfigError(f"router.dropout={d!r} must be in [0, 1) (router={self.name}).")

    def build(self, torch, data, params, seed):
        nn = torch.nn
        return nn.Sequential(nn.Linear(data.embeddings.shape[1], int(params["hidden"])), nn.ReLU(),
                             nn.Dropout(float(params["dropout"])), nn.Linear(int(params["hidden"]), len(data.models)))

    def loss(self, torch, module, x, y, rows, gen):
        return torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)

    def values(self, torch, module, x):
        return module(x)

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        w = self.weights
        h = np.maximum(np.asarray(q, dtype=np.float32) @ w["0.weight"].T + w["0.bias"], 0.0)
        return sigmoid((h @ w["3.weight"].T + w["3.bias"]).astype(np.float64))
