"""The Avengers router (Zhang et al., AAAI 2026): cluster the calibration queries, score every
model inside every cluster, send a test query to the best model(s) of its nearest cluster(s)."""

from __future__ import annotations

import copy
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.cluster.methods import ClusterFit, ClusteringMethod, fit_cached
from avengers.errors import ConfigError
from avengers.route.base import CalibrationSet, Router, order_models

log = logging.getLogger(__name__)

TIES = ("overall", "order")
POOL_SELECTION = ("weighted", "reference")
COST_NORM = ("minmax", "max")


@dataclass(frozen=True)
class ClusterScores:
    """Per-cluster statistics of the calibration queries."""

    models: tuple[str, ...]
    accuracy: np.ndarray  # (K, M) mean score of each model in each cluster
    counts: np.ndarray  # (K,) calibration queries per cluster
    cost: np.ndarray | None  # (K, M) mean USD per query, or None when the data has no costs


def score_clusters(labels: np.ndarray, scores: np.ndarray, k: int, models: Sequence[str],
                   costs: np.ndarray | None = None) -> ClusterScores:
    counts = np.bincount(labels, minlength=k).astype(np.int64)
    acc = np.zeros((k, scores.shape[1]))
    np.add.at(acc, labels, scores)
    acc /= np.maximum(counts, 1)[:, None]
    cost = None
    if costs is not None:
        cost = np.zeros_like(acc)
        np.add.at(cost, labels, costs)
        cost /= np.maximum(counts, 1)[:, None]
    return ClusterScores(models=tuple(models), accuracy=acc, counts=counts, cost=cost)


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)


def cost_score(cost: np.ndarray, norm: str) -> np.ndarray:
    """(K, M) cheapness in [0, 1] per cluster, 1 = cheapest. `minmax` (harness): 1 - min-max
    normalised cost, so the cheapest model of a cluster gets 1 and the dearest 0. `max`
    (AvengersPro balance_cluster_router.py:191-195): 1 - cost / the cluster's largest cost."""
    if norm == "minmax":
        return 1.0 - _minmax(cost)
    hi = cost.max(axis=1, keepdims=True)
    return np.where(hi > 0, 1.0 - cost / np.where(hi > 0, hi, 1.0), 1.0)


# router.missing_cost: what a (query, model) without a known cost costs when routing by cost.
MISSING_COST = ("model_mean", "zero", "error")


def fill_missing_costs(costs: np.ndarray, models: Sequence[str], policy: str) -> np.ndarray:
    """Calibration costs with the unknown (NaN) entries filled.

    `model_mean` (harness): that model's mean cost over the calibration queries where it is
    known; a model with no known cost at all is an error (it cannot be priced). `zero`:
    AvengersPro's rule (balance_cluster_router.py:102-105 counts a missing cost as 0, i.e.
    free). `error`: refuse. Missing costs come from `data.missing=zero` (a model without an
    outcome) and `data.zero_cost=unknown` (cost 0 = "not priced")."""
    costs = np.asarray(costs, dtype=np.float64)
    unknown = np.isnan(costs)
    if not unknown.any():
        return costs
    if policy == "zero":
        return np.where(unknown, 0.0, costs)
    per_model = unknown.sum(axis=0)
    where = ", ".join(f"{models[j]} ({int(per_model[j])})" for j in np.flatnonzero(per_model))
    if policy == "error":
        raise ConfigError(
            f"router.alpha < 1 needs a cost for every calibration outcome; unknown for: {where}. Set "
            f"router.missing_cost=model_mean (each model's mean known cost) or zero (AvengersPro: free)."
        )
    known = (~unknown).sum(axis=0)
    never = [models[j] for j in np.flatnonzero(known == 0)]
    if never:
        raise ConfigError(
            f"router.alpha < 1: model(s) {never} have no known cost on any calibration query, so they cannot be "
            f"priced. Leave them out (data.models=...), count cost 0 as free (data.zero_cost=zero) or use "
            f"router.missing_cost=zero."
        )
    means = np.where(unknown, 0.0, costs).sum(axis=0) / known
    log.info("router.missing_cost=model_mean: filled unknown costs with each model's mean: %s", where)
    return np.where(unknown, means[None, :], costs)


def reference_pool(ranked: np.ndarray, n: int) -> np.ndarray:
    """The reference's model selection (Avengers core/generate_rank_router.py:320-355, method
    "frequency"). `ranked`: (K, M) models best first in each cluster, clusters in the order the
    reference visits them. Count the clusters each model tops; take models by that count
    (Counter.most_common: ties by first occurrence); fill from a counter that adds 1 for top-1
    and 0.5 for top-2; then by model order."""
    top1: Counter[int] = Counter()
    top2: Counter[int] = Counter()
    for row in ranked:
        top1[int(row[0])] += 1
        top2[int(row[0])] += 1
        if len(row) > 1:
            top2[int(row[1])] += 0.5
    selected: list[int] = []
    for counter in (top1, top2):
        for model, _ in counter.most_common():
            if len(selected) < n and model not in selected:
                selected.append(model)
    for model in range(ranked.shape[1]):
        if len(selected) < n and model not in selected:
            selected.append(model)
    return np.asarray(selected[:n], dtype=np.int64)


class AvengersRouter(Router):
    """Route each query to the best model(s) of its nearest cluster(s).

    top_k=1 is the paper's hard assignment (nearest centre, distance 1 - q . c). top_k>1 mixes
    the top_k nearest clusters with weights softmax(-beta * distance). `weighting="score"`
    mixes the per-cluster scores; `"rank"` mixes 1/(rank + rank_offset) (Avengers: 0.1,
    AvengersPro: 1). alpha < 1 is Avengers-Pro: per cluster, alpha * normalised accuracy +
    (1 - alpha) * cheapness (`cost_norm`, unknown costs filled by `missing_cost`). Clusters
    with fewer than `min_cluster_size` calibration queries are not routed to (their estimates
    are noise); queries go to the next nearest cluster.

    Ties between models (`ties`): `overall` (harness) breaks them by overall calibration
    score, then model order; `order` (reference: Python's stable sort over the model list,
    Avengers core/ablation_experiments.py:225-229 and 295) by model order alone.
    `pool_selection` (with `pool_size`): `weighted` (harness) keeps the models that are best
    for the most calibration queries; `reference` counts clusters where a model is top-1,
    filled by a top-2 counter (Avengers core/generate_rank_router.py:320-355).

    `shrinkage` (empirical Bayes) pulls each cluster's per-model estimate towards the model's
    mean over all calibration queries: (n_c * acc_c + lam * prior) / (n_c + lam), lam a
    pseudo-count of calibration queries. "none" (or 0) is the paper's recipe; a number fixes
    lam; "auto" chooses lam among `shrinkage_candidates` by cross-validation on the calibration
    split (jointly with K when clustering.n_clusters=auto). It tames the winner's curse of
    small clusters, where a cluster's argmax is often picked by noise.
    """

    name = "avengers"

    def __init__(self, clustering: ClusteringMethod | None = None, name: str = "avengers", top_n: int = 1,
                 top_k: int = 1, beta: float = 3.0, weighting: str = "score", alpha: float = 1.0,
                 min_cluster_size: int = 1, pool_size: int | None = None,
                 extras: Mapping[str, Any] | None = None, ties: str = "overall", pool_selection: str = "weighted",
                 rank_offset: float = 0.1, cost_norm: str = "minmax", missing_cost: str = "model_mean",
                 shrinkage: float | str | None = "none",
                 shrinkage_candidates: Sequence[float] = (0, 1, 2, 5, 10, 20, 50), cv_folds: int | None = None,
                 peek_test: bool = False) -> None:
        super().__init__(name=name, top_n=top_n)
        self.clustering = clustering
        self.extras = dict(extras or {})  # extra rows built from this router (route.extras)
        self.n_clusters: int | None = None
        self.cv: dict[int, float] | None = None
        self.cached = False
        if weighting not in ("score", "rank"):
            raise ConfigError(f"router.weighting={weighting!r}: use 'score' or 'rank'.")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"router.alpha={alpha} must be in [0, 1].")
        if int(top_n) < 1 or int(top_k) < 1 or int(min_cluster_size) < 1:
            raise ConfigError("router.top_n, router.top_k and router.min_cluster_size must be >= 1.")
        self.top_k, self.beta = int(top_k), float(beta)
        self.weighting, self.alpha, self.min_cluster_size = weighting, float(alpha), int(min_cluster_size)
        self.pool_size = None if pool_size is None else int(pool_size)
        for key, value, allowed in (("ties", ties, TIES), ("pool_selection", pool_selection, POOL_SELECTION),
                                    ("cost_norm", cost_norm, COST_NORM), ("missing_cost", missing_cost, MISSING_COST)):
            if value not in allowed:
                raise ConfigError(f"router.{key}={value!r}: use one of {list(allowed)}.")
        if isinstance(rank_offset, bool) or not float(rank_offset) > 0:
            raise ConfigError(f"router.rank_offset={rank_offset!r} must be a positive number (1/(rank + offset)).")
        self.ties, self.pool_selection, self.rank_offset = ties, pool_selection, float(rank_offset)
        self.cost_norm, self.missing_cost = cost_norm, missing_cost
        self.shrinkage = _shrinkage(shrinkage, "router.shrinkage")
        self.shrinkage_candidates = [_shrinkage(c, "router.shrinkage_candidates") for c in shrinkage_candidates]
        if self.shrinkage == "auto" and not self.shrinkage_candidates:
            raise ConfigError("router.shrinkage=auto needs router.shrinkage_candidates (pseudo-counts, e.g. [0, 5, 20]).")
        self.cv_folds = cv_folds
        self.peek_test = bool(peek_test)  # opt-in † row: K / shrinkage searched ON TEST (pipeline)
        self.lam: float = _lam(self.shrinkage)
        self.search_cv: list[dict[str, Any]] | None = None

    def with_clusters(self, n_clusters: int | str) -> "AvengersRouter":
        """An unfitted copy clustering with another K (auto K, cluster ensembles)."""
        if self.clustering is None:
            raise ConfigError("This Avengers router has no clustering method to refit.")
        other = copy.copy(self)
        other.clustering = self.clustering.with_k(n_clusters)
        other.cv, other.n_clusters = None, None
        return other

    # -- hyperparameters (router=auto and shrinkage=auto search these) ----------------------
    def search_space(self) -> dict[str, list[Any]]:
        k = self.clustering.n_clusters if self.clustering is not None else None
        ks = list((self.clustering.auto_k or {}).get("candidates", [8, 16, 32, 64, 128])) if k == "auto" else [k]
        lams = list(self.shrinkage_candidates) if self.shrinkage == "auto" else [self.shrinkage]
        return {"n_clusters": ks, "shrinkage": lams}

    def with_params(self, **params: Any) -> "AvengersRouter":
        """An unfitted copy with K and/or the shrinkage pseudo-count fixed."""
        other = self.with_clusters(params["n_clusters"]) if "n_clusters" in params else copy.copy(self)
        if "shrinkage" in params:
            other.shrinkage = _shrinkage(params["shrinkage"], "router.shrinkage")
            other.lam = _lam(other.shrinkage)
        other.cv, other.search_cv, other.n_clusters = None, None, None
        return other

    def check_params(self, params: Mapping[str, Any], n_train: int) -> str | None:
        k = params.get("n_clusters", self.clustering.n_clusters if self.clustering is not None else None)
        if isinstance(k, int) and k > n_train:
            return f"n_clusters={k} is larger than the {n_train} calibration queries to cluster"
        return None

    def cache_key(self) -> dict[str, Any]:
        c = self.clustering
        # Every constructor setting that can change the fit or the routing: a knob missing here
        # would let a cached fit of another setting be restored (tests/route/test_router_cache.py).
        return {"class": f"{__name__}.AvengersRouter", "v": 3, "name": self.name, "top_n": self.top_n,
                "clustering": None if c is None else {**c.key(), "auto_k": c.auto_k, "random_state": c.random_state},
                "top_k": self.top_k, "beta": self.beta, "weighting": self.weighting, "alpha": self.alpha,
                "min_cluster_size": self.min_cluster_size, "pool_size": self.pool_size, "shrinkage": self.shrinkage,
                "shrinkage_candidates": self.shrinkage_candidates, "cv_folds": self.cv_folds,
                "ties": self.ties, "pool_selection": self.pool_selection, "rank_offset": self.rank_offset,
                "cost_norm": self.cost_norm, "missing_cost": self.missing_cost}

    def _fit(self, data: CalibrationSet, seed: int) -> None:
        if self.clustering is None:
            raise ConfigError("router=avengers needs a clustering method (the `clustering` config group).")
        k = self.clustering.n_clusters
        if self.shrinkage == "auto":
            from avengers.route.tuning import select_by_cv

            folds = int(self.cv_folds or (self.clustering.auto_k or {}).get("folds", 3))
            chosen, self.search_cv = select_by_cv(self, data, seed, folds)
            k, self.lam = chosen["n_clusters"], float(chosen["shrinkage"])
        elif k == "auto":
            from avengers.route.auto_k import select_k

            k, self.cv = select_k(self, data, seed)
        fit, self.cached = fit_cached(self.clustering.with_k(k), data.embeddings, seed, dict(data.identity))
        costs = data.costs
        if self.alpha < 1.0 and costs is not None:
            costs = fill_missing_costs(costs, data.models, self.missing_cost)
        stats = score_clusters(fit.labels, data.scores, fit.n_clusters, data.models, costs)
        self.fit_clusters(fit, stats, data.overall, prior=np.asarray(data.scores, dtype=np.float64).mean(axis=0))

    def fit_clusters(self, fit: ClusterFit, stats: ClusterScores, overall: np.ndarray,
                     prior: np.ndarray | None = None) -> "AvengersRouter":
        """Fit from a clustering and its per-cluster statistics. `overall`: (M,) calibration
        score of each model (tie-break and pool selection); `prior`: (M,) each model's mean
        over the calibration queries clustered, towards which `shrinkage` pulls (default
        `overall`)."""
        usable = stats.counts >= self.min_cluster_size
        if not usable.any():
            raise ConfigError(
                f"No cluster has router.min_cluster_size={self.min_cluster_size} calibration queries; lower it or K."
            )
        self.models = stats.models
        self.n_clusters = fit.n_clusters
        self.centers = fit.centers[usable]
        self.counts = stats.counts[usable]
        self.overall = np.asarray(overall, dtype=np.float64)
        value = stats.accuracy[usable]
        if self.lam > 0:
            prior = self.overall if prior is None else np.asarray(prior, dtype=np.float64)
            n_c = self.counts[:, None].astype(np.float64)
            value = (n_c * value + self.lam * prior[None, :]) / (n_c + self.lam)
        if self.alpha < 1.0:
            if stats.cost is None:
                raise ConfigError("router.alpha < 1 routes by cost, but this data has no costs; use data with a "
                                  "`cost` column (e.g. data=routerbench) or router.alpha=1.")
            if np.isnan(stats.cost).any():
                raise ConfigError("router.alpha < 1: some per-cluster costs are unknown; fill them first "
                                  "(fill_missing_costs, router.missing_cost).")
            value = self.alpha * _minmax(value) + (1 - self.alpha) * cost_score(stats.cost[usable], self.cost_norm)
        self.value = value
        # Clusters in order of first appearance in the calibration data: the order the reference
        # walks its per-cluster rankings in (a dict filled query by query).
        first = np.full(len(usable), np.iinfo(np.int64).max)
        np.minimum.at(first, fit.labels, np.arange(len(fit.labels)))
        self.first_seen = np.argsort(first[usable], kind="stable")
        self.pool = self._select_pool()
        return self

    def tie_prior(self) -> np.ndarray:
        """(M,) the score that breaks ties between models before model order (router.ties)."""
        return self.overall if self.ties == "overall" else np.zeros(len(self.models))

    def _select_pool(self) -> np.ndarray:
        """Automatic pool of `pool_size` models (router.pool_selection)."""
        m = len(self.models)
        if self.pool_size is None or self.pool_size >= m:
            return np.arange(m)
        if self.pool_size < 1:
            raise ConfigError("router.pool_size must be >= 1 (or null for every model).")
        ranked = self._order(self.value, self.tie_prior())
        if self.pool_selection == "reference":
            return np.sort(reference_pool(ranked[self.first_seen], self.pool_size))
        # Harness: the models that are best for the most calibration queries, ties by overall score.
        wins = np.bincount(ranked[:, 0], weights=self.counts, minlength=m)
        order = np.lexsort((np.arange(m), -self.tie_prior(), -wins))
        return np.sort(order[: self.pool_size])

    _order = staticmethod(order_models)

    def rank(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        values = np.asarray(self.predict(q, texts), dtype=np.float64)
        pool = np.arange(values.shape[1]) if self.pool is None else self.pool
        return pool[order_models(values[:, pool], self.tie_prior()[pool])]

    def model_values(self, q: np.ndarray) -> np.ndarray:
        """(n, M) routing value of every model for every query (higher is better)."""
        dist = 1.0 - np.asarray(q, dtype=np.float64) @ self.centers.T
        k = min(self.top_k, len(self.centers))
        near = np.argsort(dist, axis=1, kind="stable")[:, :k]
        d = np.take_along_axis(dist, near, axis=1)
        w = np.exp(-self.beta * (d - d.min(axis=1, keepdims=True)))
        w /= w.sum(axis=1, keepdims=True)
        if self.weighting == "rank":
            ranks = np.argsort(self._order(self.value, self.tie_prior()), axis=1)  # rank of each model in each cluster
            per_cluster = 1.0 / (ranks + self.rank_offset)
        else:
            per_cluster = self.value
        return np.einsum("nk,nkm->nm", w, per_cluster[near])

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return self.model_values(q)

    def describe(self) -> dict[str, Any]:
        return {
            "n_clusters": self.n_clusters,
            "routable_clusters": int(len(self.centers)),
            "pool": [self.models[i] for i in self.pool],
            "auto_k_cv": {str(k): v for k, v in self.cv.items()} if self.cv else None,
            **({"shrinkage": self.lam} if self.shrinkage != "none" else {}),
            **({"shrinkage_cv": self.search_cv} if self.search_cv else {}),
        }

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().get_state()
        meta.update(top_k=self.top_k, beta=self.beta, weighting=self.weighting, alpha=self.alpha,
                    min_cluster_size=self.min_cluster_size, pool_size=self.pool_size, n_clusters=self.n_clusters,
                    auto_k_cv={str(k): v for k, v in self.cv.items()} if self.cv else None,
                    ties=self.ties, pool_selection=self.pool_selection, rank_offset=self.rank_offset,
                    cost_norm=self.cost_norm, missing_cost=self.missing_cost,
                    shrinkage=self.shrinkage, lam=self.lam, shrinkage_cv=self.search_cv)
        arrays.update(centers=np.asarray(self.centers, dtype=np.float64), counts=np.asarray(self.counts),
                      value=np.asarray(self.value, dtype=np.float64), first_seen=np.asarray(self.first_seen))
        return meta, arrays

    def set_state(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        super().set_state(meta, arrays)
        self.top_k, self.beta, self.weighting = int(meta["top_k"]), float(meta["beta"]), meta["weighting"]
        self.alpha, self.min_cluster_size, self.pool_size = float(meta["alpha"]), int(meta["min_cluster_size"]), meta["pool_size"]
        self.n_clusters = meta["n_clusters"]
        self.cv = {int(k): v for k, v in meta["auto_k_cv"].items()} if meta.get("auto_k_cv") else None
        self.shrinkage, self.lam = meta.get("shrinkage", "none"), float(meta.get("lam", 0.0))
        self.search_cv = meta.get("shrinkage_cv")
        self.centers, self.counts, self.value = arrays["centers"], arrays["counts"], arrays["value"]
        # Switches added later default to the harness behaviour when an older state lacks them.
        self.ties, self.pool_selection = meta.get("ties", "overall"), meta.get("pool_selection", "weighted")
        self.rank_offset = float(meta.get("rank_offset", 0.1))
        self.cost_norm, self.missing_cost = meta.get("cost_norm", "minmax"), meta.get("missing_cost", "model_mean")
        self.first_seen = arrays["first_seen"] if "first_seen" in arrays else np.arange(len(self.centers))

    def nearest_cluster(self, q: np.ndarray) -> np.ndarray:
        return np.argmax(np.asarray(q, dtype=np.float64) @ self.centers.T, axis=1)


def _shrinkage(value: Any, key: str) -> float | str:
    """'none' (or None / 0) -> 0.0, 'auto' -> 'auto', a number >= 0 -> that pseudo-count."""
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return "none"
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    try:
        lam = float(value)
    except (TypeError, ValueError):
        lam = -1.0
    if isinstance(value, bool) or not np.isfinite(lam) or lam < 0:
        raise ConfigError(f"{key}={value!r}: use none, auto, or a pseudo-count >= 0 (e.g. 10).")
    return lam


def _lam(shrinkage: float | str) -> float:
    """The pseudo-count in use before any search: 0 for none (and for auto until chosen)."""
    return 0.0 if isinstance(shrinkage, str) else float(shrinkage)
