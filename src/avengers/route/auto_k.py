"""`clustering.n_clusters=auto`: choose K by cross-validation on the calibration split only.

For each candidate K and fold, the router is fitted on the other folds and routes the held-out
fold's queries to their top model; the K with the best mean held-out score wins (ties: the
smaller K). Test data is never seen. The settings live in `clustering.auto_k`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

import numpy as np

from avengers.errors import ConfigError
from avengers.route.base import CalibrationSet, Router
from avengers.split import rng_for

if TYPE_CHECKING:
    from avengers.route.avengers import AvengersRouter

log = logging.getLogger(__name__)


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold of each calibration query: a seeded permutation, so folds are balanced."""
    if folds < 2:
        raise ConfigError(f"clustering.auto_k.folds={folds} must be >= 2.")
    return rng_for(seed, "auto_k_folds").permutation(n) % folds


def held_out_score(make: Callable[[], Router], data: CalibrationSet, seed: int, folds: int) -> float:
    """Mean held-out score (percent) of the top-ranked model, over `folds` folds of `data`."""
    fold_of = fold_ids(data.n, folds, seed)
    held = []
    for f in range(folds):
        tr, te = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
        router = make().fit(data.subset(tr, f"cv{f}of{folds}"), seed)
        top = router.rank(data.embeddings[te], [data.texts[i] for i in te])[:, 0]
        held.append(data.scores[te, top])
    return float(np.concatenate(held).mean() * 100)


def select_k(router: "AvengersRouter", data: CalibrationSet, seed: int) -> tuple[int, dict[int, float]]:
    settings = router.clustering.auto_k or {}
    candidates = list(settings.get("candidates", [8, 16, 32, 64, 128]))
    folds = int(settings.get("folds", 3))
    n = data.n
    cv: dict[int, float] = {}
    for k in sorted(set(int(c) for c in candidates)):
        if k > n - n // folds:
            log.warning("auto K: candidate %d exceeds a training fold (%d queries); skipped", k, n - n // folds)
            continue
        cv[k] = held_out_score(lambda: router.with_clusters(k), data, seed, folds)
    if not cv:
        raise ConfigError(f"No clustering.auto_k.candidates {candidates} fits the calibration folds ({n} queries); "
                          f"give smaller candidates or more calibration data.")
    best = max(cv, key=lambda k: (cv[k], -k))
    log.info("auto K by %d-fold CV on calibration: %s -> K=%d", folds, {k: round(v, 2) for k, v in cv.items()}, best)
    return best, cv
