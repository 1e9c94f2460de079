"""Every router of a run, answered on the same queries with the same ensemble strategy.

Single-model baselines use the run's strategy too (the paper's "Enhanced" rows), so
`model:<name>` under self-consistency is that model's voted score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.split.views import QueryView
from avengers.vote.voter import Voter

log = logging.getLogger(__name__)


@dataclass
class RouterResult:
    score: np.ndarray  # (n,) correctness of what the router returned (expected score where noted)
    models: list[tuple[str, ...]]  # models whose samples produced the answer; () = all (expected)
    answer: np.ndarray  # (n,) object
    cost: np.ndarray  # (n,) USD, NaN when unknown


def single_model_results(view: QueryView, voter: Voter | None) -> list[RouterResult]:
    out = []
    for m, name in enumerate(view.models):
        if voter is None:  # `direct`: the first sample of the model, vectorised
            out.append(RouterResult(view.first_score[:, m].copy(), [(name,)] * view.n,
                                    view.first_answer[:, m].copy(), view.first_cost[:, m].copy()))
            continue
        res = [voter(i, [name]) for i in range(view.n)]
        out.append(RouterResult(np.array([v.score for v, _ in res]), [tuple(v.models) for v, _ in res],
                                np.array([v.answer for v, _ in res], dtype=object), np.array([c for _, c in res])))
    return out


def routed_result(view: QueryView, ranking: np.ndarray, top_n: int, voter: Voter | None) -> RouterResult:
    """`ranking`: (n, pool) model indices best first; the router selects the first `top_n`,
    and the ensemble strategy works on those. Under `direct` the top model answers."""
    if voter is None:
        top = ranking[:, 0]
        idx = np.arange(view.n)
        return RouterResult(view.first_score[idx, top], [(view.models[t],) for t in top],
                            view.first_answer[idx, top], view.first_cost[idx, top])
    res = [voter(i, [view.models[j] for j in ranking[i, :top_n]]) for i in range(view.n)]
    return RouterResult(np.array([v.score for v, _ in res]), [tuple(v.models) for v, _ in res],
                        np.array([v.answer for v, _ in res], dtype=object), np.array([c for _, c in res]))


def baseline_results(view: QueryView, singles: list[RouterResult], best_single: int,
                     bench_idx: Mapping[str, np.ndarray]) -> dict[str, RouterResult]:
    """random (expected over models), best_single (chosen on calibration), dataset_oracle
    (best model per benchmark, chosen ON TEST: an upper reference), oracle (best per query)."""
    n, models = view.n, view.models
    s = np.stack([r.score for r in singles], axis=1)  # (n, M)
    c = np.stack([r.cost for r in singles], axis=1)
    nothing = np.full(n, None, dtype=object)
    out = {
        "random": RouterResult(s.mean(axis=1), [()] * n, nothing, c.mean(axis=1)),
        "best_single": singles[best_single],
    }
    ds = np.zeros(n, dtype=np.int64)
    for idx in bench_idx.values():
        ds[idx] = int(np.argmax(s[idx].mean(axis=0)))  # first maximum = lowest model index
    take = np.arange(n)
    out["dataset_oracle"] = RouterResult(s[take, ds], [singles[m].models[i] for i, m in enumerate(ds)],
                                         np.array([singles[m].answer[i] for i, m in enumerate(ds)], dtype=object), c[take, ds])
    best = np.argmax(s, axis=1)
    out["oracle"] = RouterResult(s[take, best], [singles[m].models[i] for i, m in enumerate(best)],
                                 np.array([singles[m].answer[i] for i, m in enumerate(best)], dtype=object), c[take, best])
    return out
