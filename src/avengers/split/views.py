"""Dense views of the outcome rows: one row per query, one column per model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class QueryView:
    queries: pd.DataFrame  # benchmark, query_id, query (one row per query, sorted)
    models: tuple[str, ...]
    mean_score: np.ndarray  # (n, M) mean over samples: the expected single-sample score
    first_score: np.ndarray  # (n, M) score of sample 0
    first_answer: np.ndarray  # (n, M) object: answer of sample 0 (or None)
    first_cost: np.ndarray  # (n, M) cost of sample 0 (NaN when unknown)
    rows: pd.DataFrame  # the outcome rows, with `qi` (query row) and `mi` (model column)

    @property
    def n(self) -> int:
        return len(self.queries)

    def bench_index(self) -> dict[str, np.ndarray]:
        b = self.queries["benchmark"].to_numpy()
        return {name: np.flatnonzero(b == name) for name in sorted(set(b))}


def make_view(rows: pd.DataFrame, models: list[str]) -> QueryView:
    queries = rows.drop_duplicates(["benchmark", "query_id"])[["benchmark", "query_id", "query"]]
    queries = queries.sort_values(["benchmark", "query_id"], kind="mergesort").reset_index(drop=True)
    qidx = pd.MultiIndex.from_frame(queries[["benchmark", "query_id"]])
    qi = qidx.get_indexer(pd.MultiIndex.from_frame(rows[["benchmark", "query_id"]]))
    mi = pd.Index(models).get_indexer(rows["model"])
    rows = rows.assign(qi=qi, mi=mi)
    n, m = len(queries), len(models)
    total = np.zeros((n, m))
    count = np.zeros((n, m))
    np.add.at(total, (qi, mi), rows["score"].to_numpy())
    np.add.at(count, (qi, mi), 1)
    first = rows[rows["sample"] == rows.groupby(["qi", "mi"])["sample"].transform("min")]
    f_score = np.full((n, m), np.nan)
    f_answer = np.full((n, m), None, dtype=object)
    f_cost = np.full((n, m), np.nan)
    fq, fm = first["qi"].to_numpy(), first["mi"].to_numpy()
    f_score[fq, fm] = first["score"].to_numpy()
    f_answer[fq, fm] = first["answer"].to_numpy()
    f_cost[fq, fm] = first["cost"].to_numpy()
    return QueryView(queries=queries, models=tuple(models), mean_score=total / np.maximum(count, 1),
                     first_score=f_score, first_answer=f_answer, first_cost=f_cost, rows=rows)
