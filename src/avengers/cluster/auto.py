"""`clustering.n_clusters=auto`: choose K by cross-validation on the calibration split only.

For each candidate K and fold, cluster the other folds, score models per cluster, route the
held-out fold's queries to the top model of their nearest cluster and measure their score.
The K with the best mean held-out score wins (ties: the smaller K). Test data is never seen.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from avengers.cluster.methods import ClusteringMethod, fit_cached
from avengers.errors import ConfigError
from avengers.route.router import AvengersRouter, score_clusters
from avengers.split import rng_for

log = logging.getLogger(__name__)


def select_k(x: np.ndarray, scores: np.ndarray, models: Sequence[str], overall: np.ndarray,
             make_method: Callable[[int], ClusteringMethod], make_router: Callable[[], AvengersRouter],
             candidates: Sequence[int], seed: int, folds: int = 5, inputs_key: dict | None = None,
             cache_dir: str | None = None) -> tuple[int, dict[int, float]]:
    n = len(x)
    if folds < 2:
        raise ConfigError(f"clustering.auto.folds={folds} must be >= 2.")
    fold_of = rng_for(seed, "auto_k_folds").permutation(n) % folds
    cv: dict[int, float] = {}
    for k in sorted(set(int(c) for c in candidates)):
        if k > n - n // folds:
            log.warning("auto K: candidate %d exceeds a training fold (%d queries); skipped", k, n - n // folds)
            continue
        held = []
        for f in range(folds):
            tr, te = fold_of != f, fold_of == f
            key = dict(inputs_key or {}, auto_fold=f, folds=folds)
            fit, _ = fit_cached(make_method(k), x[tr], seed, key, cache_dir)
            stats = score_clusters(fit.labels, scores[tr], fit.n_clusters, models)
            router = make_router().fit(fit, stats, overall)
            top = router.rank(x[te])[:, 0]
            held.append(scores[te][np.arange(te.sum()), top])
        cv[k] = float(np.concatenate(held).mean() * 100)
    if not cv:
        raise ConfigError(f"No clustering.auto.candidates {list(candidates)} fits the calibration folds ({n} queries).")
    best = max(cv, key=lambda k: (cv[k], -k))
    log.info("auto K by %d-fold CV on calibration: %s -> K=%d", folds, {k: round(v, 2) for k, v in cv.items()}, best)
    return best, cv
