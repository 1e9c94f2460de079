"""The router interface: every router is fitted on the calibration split and ranks the models
for each test query. Voting, evaluation, cost accounting, tables and W&B only see this.

A router receives a `CalibrationSet` (query embeddings, the per-query score matrix, costs when
present, the query texts for routers that encode text themselves) and a seed; it returns, per
test query, a predicted value for every model (higher is better: an estimated score, or a
routing value) from which `rank` orders the models, best first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError
from avengers.files import stable_hash


@dataclass(frozen=True)
class CalibrationSet:
    """What every router is fitted on: the calibration split, one row per query."""

    embeddings: np.ndarray  # (n, d) L2-normalised query embeddings
    scores: np.ndarray  # (n, M) expected score of each model on each query, in [0, 1]
    models: tuple[str, ...]
    texts: tuple[str, ...]  # the query texts (routers that encode text themselves)
    benchmarks: tuple[str, ...]  # benchmark of each query
    costs: np.ndarray | None = None  # (n, M) USD per query, or None when the data has no costs
    # Content identity of the inputs above (embedder identity, text and score hashes): caches key on it.
    identity: Mapping[str, Any] = field(default_factory=dict)
    # Set on subsets (cross-validation folds): the full split's `overall`, so that tie-breaks
    # inside a fold are those of the router fitted on the whole split.
    prior_overall: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.texts)

    @cached_property
    def overall(self) -> np.ndarray:
        """(M,) each model's calibration score: mean over benchmarks of its per-benchmark mean.
        Used to break ties and as the prior of shrinkage estimators."""
        if self.prior_overall is not None:
            return self.prior_overall
        b = np.asarray(self.benchmarks)
        return np.mean([self.scores[b == name].mean(axis=0) for name in sorted(set(b))], axis=0)

    def subset(self, idx: np.ndarray, tag: str) -> "CalibrationSet":
        """Rows `idx` (e.g. a cross-validation fold); `tag` names the subset in the identity."""
        idx = np.asarray(idx)
        return CalibrationSet(
            embeddings=self.embeddings[idx], scores=self.scores[idx], models=self.models,
            texts=tuple(self.texts[i] for i in idx), benchmarks=tuple(self.benchmarks[i] for i in idx),
            costs=None if self.costs is None else self.costs[idx],
            identity={**self.identity, "subset": tag, "rows": stable_hash(idx.tolist())},
            prior_overall=self.overall,
        )

    def with_identity(self, **extra: Any) -> "CalibrationSet":
        return replace(self, identity={**self.identity, **extra})


def order_models(values: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """Column indices of `values` (n, M) best first; ties by overall calibration score, then
    by model order (the order of the data's model list)."""
    m = values.shape[1]
    keys = (np.broadcast_to(np.arange(m), values.shape), np.broadcast_to(-np.asarray(overall), values.shape), -values)
    return np.lexsort(keys, axis=-1)


class Router:
    """Base class. Subclasses implement `_fit(data, seed)` and `predict(q, texts)`.

    `top_n` is how many models the router selects per query (multi-model ensembles vote over
    them). `describe()` returns what the router chose during fitting (K, hyperparameters
    chosen by cross-validation...), written into metrics.json.
    """

    name = "router"

    def __init__(self, name: str | None = None, top_n: int = 1) -> None:
        if name is not None:
            self.name = name
        if isinstance(top_n, bool) or int(top_n) != top_n or int(top_n) < 1:
            raise ConfigError(f"router.top_n={top_n!r} must be a positive integer.")
        self.top_n = int(top_n)
        self.pool: np.ndarray | None = None  # model indices the router may choose (None: all)

    # -- fitting --------------------------------------------------------------------------
    def fit(self, data: CalibrationSet, seed: int) -> "Router":
        if len(data.models) < 2:
            raise ConfigError(f"router={self.name} needs at least two models to route between; the data has "
                              f"{len(data.models)}. Add models (or compare single models without a router).")
        if data.n < 2:
            raise ConfigError(f"router={self.name}: the calibration split has {data.n} queries; use more calibration data.")
        if np.ptp(np.asarray(data.scores, dtype=np.float64)) == 0:
            raise ConfigError(f"router={self.name}: every model scores {float(data.scores.flat[0])} on every calibration "
                              f"query, so there is nothing to route on. Check the outcome data and the split "
                              f"(e.g. data.benchmarks), or use more calibration data.")
        self.models = tuple(data.models)
        self.overall = np.asarray(data.overall, dtype=np.float64)
        self._fit(data, int(seed))
        return self

    def _fit(self, data: CalibrationSet, seed: int) -> None:
        raise NotImplementedError

    # -- routing --------------------------------------------------------------------------
    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """(n, M) value of every model for every query, higher is better."""
        raise NotImplementedError

    def rank(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """(n, P) model indices in routing order (P = pool size); the first `top_n` are selected."""
        values = np.asarray(self.predict(q, texts), dtype=np.float64)
        pool = np.arange(values.shape[1]) if self.pool is None else self.pool
        return pool[order_models(values[:, pool], self.overall[pool])]

    def describe(self) -> dict[str, Any]:
        return {}

    # -- persistence (fitted-router cache, Router.save/load in avengers.api) ---------------
    # A fitted router is (meta, arrays): `meta` JSON-able (hyperparameters, fitted scalars),
    # `arrays` named numpy arrays (.npz, never pickles). `set_state` on an unfitted router
    # built from the same config restores it exactly: routing is identical.
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"name": self.name, "top_n": self.top_n, "models": list(self.models)}
        arrays = {"overall": np.asarray(self.overall, dtype=np.float64)}
        if self.pool is not None:
            arrays["pool"] = np.asarray(self.pool, dtype=np.int64)
        return meta, arrays

    def set_state(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.name, self.top_n, self.models = meta["name"], int(meta["top_n"]), tuple(meta["models"])
        self.overall = np.asarray(arrays["overall"], dtype=np.float64)
        self.pool = np.asarray(arrays["pool"], dtype=np.int64) if "pool" in arrays else None
