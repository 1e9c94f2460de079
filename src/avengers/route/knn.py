"""k-nearest-neighbour router: each model's predicted score on a query is its mean score on
the k most similar calibration queries (cosine). The standard non-parametric routing
baseline (e.g. Shnitzer et al., "Large Language Model Routing with Benchmark Datasets",
2023; Hu et al., "RouterBench", 2024), and EmbedLLM's KNN baseline (Zhuang et al., ICLR 2025).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avengers.route.base import CalibrationSet
from avengers.route.tuned import TunedRouter, positive_int

_CHUNK = 2048  # test queries per block: bounds memory at CHUNK x n_calib similarities


class KnnRouter(TunedRouter):
    hyperparameters = ("k",)

    def __init__(self, k: int, name: str = "knn", top_n: int = 1, search: Mapping[str, Sequence[Any]] | None = None,
                 cv_folds: int = 3, peek_test: bool = False, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__(name=name, top_n=top_n, params={"k": k}, search=search, cv_folds=cv_folds,
                         peek_test=peek_test, extras=extras)

    def validate(self, params):
        positive_int("k", params["k"], self.name)

    def _check(self, params, n_train):
        if params["k"] > n_train:
            return (f"router.k={params['k']} is larger than the {n_train} calibration queries it would average over; "
                    f"choose k <= {n_train} (or more calibration data).")
        return None

    def _fit_with(self, data: CalibrationSet, seed: int, params: Mapping[str, Any]) -> None:
        self.k = int(params["k"])
        self.keys = np.ascontiguousarray(data.embeddings, dtype=np.float32)
        self.values = np.ascontiguousarray(data.scores, dtype=np.float32)

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        import torch  # its matmul + topk are ~5x faster than numpy's argpartition here

        keys = torch.from_numpy(self.keys)
        values = torch.from_numpy(self.values)
        q = torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32))
        k = min(self.k, len(self.keys))
        out = np.empty((len(q), values.shape[1]), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, len(q), _CHUNK):
                sim = q[start:start + _CHUNK] @ keys.T
                near = torch.topk(sim, k, dim=1, sorted=False).indices
                out[start:start + _CHUNK] = values[near].mean(dim=1).numpy()
        return out

    def _arrays(self):
        return {"keys": self.keys, "values": self.values, "k": np.asarray(self.k)}

    def _set_arrays(self, arrays):
        self.keys, self.values, self.k = arrays["keys"], arrays["values"], int(arrays["k"])
