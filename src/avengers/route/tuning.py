"""Choosing hyperparameters honestly: cross-validation on the calibration split.

A *searchable* router exposes `search_space()` ({hyperparameter: [candidates]}) and
`with_params(**chosen)` (an unfitted copy with those values fixed). `select_by_cv` fits
each candidate on K-1 folds of the calibration split, routes the held-out fold to its top
model and scores it the way the tables do (mean over benchmarks of the per-benchmark mean);
the test split is never seen. The folds are `auto_k.fold_ids`, so every search of one job
uses the same folds.

`TestPeek` is the one door to the test split: only the opt-in † variant (`router.peek_test`)
receives it, and its rows are labelled "† (chosen on test)".
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError
from avengers.route.auto_k import fold_ids
from avengers.route.base import CalibrationSet, Router

log = logging.getLogger(__name__)

PEEK_SUFFIX = "†"
PEEK_LABEL = "† (chosen on test)"


@dataclass(frozen=True)
class TestPeek:
    """The test split, for the paper's † convention only (best hyperparameter/checkpoint ON TEST)."""

    embeddings: np.ndarray
    texts: tuple[str, ...]
    scores: np.ndarray  # (n, M)
    benchmarks: tuple[str, ...]


def macro_mean(values: np.ndarray, benchmarks: Sequence[str]) -> float:
    """Mean over benchmarks of the per-benchmark mean (percent): the tables' average."""
    b = np.asarray(benchmarks)
    return float(np.mean([values[b == name].mean() for name in sorted(set(b))]) * 100)


def routed_score(router: Router, embeddings: np.ndarray, texts: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """(n,) score of the model each query is routed to (top-1)."""
    top = router.rank(embeddings, list(texts))[:, 0]
    return scores[np.arange(len(top)), top]


def expand_grid(space: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """Every combination of a search space, in the order the YAML lists the values."""
    if not space:
        return [{}]
    keys = list(space)
    for k in keys:
        vals = space[k]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise ConfigError(f"router.search.{k}={vals!r}: give a non-empty list of candidate values.")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(list(space[k]) for k in keys))]


def params_text(params: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items()) or "defaults"


def cv_values(make: Callable[[], Router], data: CalibrationSet, seed: int, folds: int) -> np.ndarray:
    """(n,) held-out score of each calibration query's routed model, over `folds` folds."""
    fold_of = fold_ids(data.n, folds, seed)
    out = np.zeros(data.n)
    for f in range(folds):
        tr, te = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
        router = make().fit(data.subset(tr, f"cv{f}of{folds}"), seed)
        out[te] = routed_score(router, data.embeddings[te], [data.texts[i] for i in te], data.scores[te])
    return out


def _fold_values(template: Router, params: Mapping[str, Any], data: CalibrationSet, seed: int, folds: int,
                 fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit `template.with_params(**params)` on all folds but `fold`; (held-out rows, their scores)."""
    fold_of = fold_ids(data.n, folds, seed)
    tr, te = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
    router = template.with_params(**params).fit(data.subset(tr, f"cv{fold}of{folds}"), seed)
    return te, routed_score(router, data.embeddings[te], [data.texts[i] for i in te], data.scores[te])


def cv_values_many(candidates: Sequence[tuple[Router, Mapping[str, Any]]], data: CalibrationSet, seed: int,
                   folds: int, n_jobs: int = 1) -> list[np.ndarray]:
    """`cv_values` of many (router, params) candidates, the (candidate, fold) fits spread over
    `n_jobs` processes. Each fit is seeded and independent, so the result does not depend on
    n_jobs or on the order the fits finish in."""
    tasks = [(c, f) for c in range(len(candidates)) for f in range(folds)]
    if n_jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_fold_values)(candidates[c][0], candidates[c][1], data, seed, folds, f) for c, f in tasks)
    else:
        done = [_fold_values(candidates[c][0], candidates[c][1], data, seed, folds, f) for c, f in tasks]
    out = [np.zeros(data.n) for _ in candidates]
    for (c, _), (te, values) in zip(tasks, done):
        out[c][te] = values
    return out


def paired_se(diff: np.ndarray, benchmarks: Sequence[str]) -> float:
    """Standard error (points) of the macro average of a per-query difference."""
    b = np.asarray(benchmarks)
    names = sorted(set(b))
    var = sum(diff[b == n].var(ddof=1) / max((b == n).sum(), 1) for n in names if (b == n).sum() > 1)
    return float(np.sqrt(var) / len(names) * 100)


def smallest_training_fold(n: int, folds: int) -> int:
    return n - -(-n // folds)


def select_by_cv(router: Router, data: CalibrationSet, seed: int, folds: int,
                 space: Mapping[str, Sequence[Any]] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best hyperparameters of `router` (a searchable router) by `folds`-fold CV on `data`.
    Ties go to the candidate listed first. Returns (chosen, table of every candidate)."""
    space = router.search_space() if space is None else space
    grid = expand_grid(space)
    if len(grid) == 1:
        return grid[0], []
    table = []
    for params in grid:
        problem = router.check_params(params, smallest_training_fold(data.n, folds))
        if problem:
            log.warning("router=%s: candidate %s skipped in CV: %s", router.name, params_text(params), problem)
            continue
        v = cv_values(lambda: router.with_params(**params), data, seed, folds)
        table.append({"params": dict(params), "cv_score": macro_mean(v, data.benchmarks)})
    if not table:
        raise ConfigError(f"router={router.name}: no candidate of router.search {dict(space)} fits the "
                          f"{folds} calibration folds ({data.n} queries); give smaller values or more calibration data.")
    best = max(range(len(table)), key=lambda i: (table[i]["cv_score"], -i))
    log.info("router=%s: %d-fold CV on calibration chose %s (%.2f)", router.name, folds,
             params_text(table[best]["params"]), table[best]["cv_score"])
    return dict(table[best]["params"]), table


def select_on_test(router: Router, data: CalibrationSet, seed: int, peek: TestPeek,
                   space: Mapping[str, Sequence[Any]] | None = None) -> tuple[Router, dict[str, Any], list[dict[str, Any]]]:
    """The paper's † convention: every candidate is fitted on the whole calibration split and
    the one with the best TEST score is kept. Opt-in only (`router.peek_test=true`)."""
    space = router.search_space() if space is None else space
    table, fitted = [], []
    for params in expand_grid(space):
        problem = router.check_params(params, data.n)
        if problem:
            continue
        r = router.with_params(**params)
        r.peek = peek  # trained routers also pick their checkpoint on test
        r.fit(data, seed)
        s = macro_mean(routed_score(r, peek.embeddings, peek.texts, peek.scores), peek.benchmarks)
        table.append({"params": dict(params), "test_score": s})
        fitted.append(r)
    if not table:
        raise ConfigError(f"router={router.name}: no candidate of router.search fits the calibration split.")
    best = max(range(len(table)), key=lambda i: (table[i]["test_score"], -i))
    return fitted[best], dict(table[best]["params"]), table
