"""metrics.json (scores in percent, unrounded, no timestamps) and predictions.parquet."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from avengers.evaluate.routers import RouterResult
from avengers.split.views import QueryView
from avengers.files import atomic_write_bytes

BASELINE_ORDER = ("avengers", "random", "best_single", "dataset_oracle", "oracle")


def benchmark_scores(results: Mapping[str, RouterResult], view: QueryView, kinds: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for bench, idx in view.bench_index().items():
        out[bench] = {
            "split": kinds[bench],
            "n_test": int(len(idx)),
            "scores": {k: float(np.mean(r.score[idx]) * 100.0) for k, r in results.items()},
        }
    return out


def averages(per_bench: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Unweighted mean over benchmarks (the paper's "Avg" column), per split kind."""
    out: dict[str, dict[str, float]] = {}
    for kind in ("id", "ood"):
        rows = [b["scores"] for b in per_bench.values() if b["split"] == kind]
        if rows:
            out[kind] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return out


def total_costs(results: Mapping[str, RouterResult]) -> dict[str, float] | None:
    costs = {k: float(np.nansum(r.cost)) for k, r in results.items() if not np.isnan(r.cost).all()}
    return costs or None


def predictions_frame(results: Mapping[str, RouterResult], view: QueryView) -> pd.DataFrame:
    frames = []
    q = view.queries
    for name, r in results.items():
        frames.append(pd.DataFrame({
            "benchmark": q["benchmark"].to_numpy(),
            "query_id": q["query_id"].to_numpy(),
            "query": q["query"].to_numpy(),
            "router": name,
            "model": [",".join(m) if m else None for m in r.models],
            "answer": [None if a is None else str(a) for a in r.answer],
            "score": r.score.astype(np.float64),
            "cost": r.cost.astype(np.float64),
        }))
    return pd.concat(frames, ignore_index=True)


def write_predictions(df: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, compression="zstd")
    atomic_write_bytes(path, buf.getvalue())


def format_table(metrics: Mapping[str, Any]) -> str:
    """A readable table for the end of the job: routers as rows, benchmarks + averages as columns."""
    bench = metrics["benchmarks"]
    names = [b for b in bench if bench[b]["split"] == "id"] + [b for b in bench if bench[b]["split"] == "ood"]
    keys = list(next(iter(bench.values()))["scores"])
    keys = [k for k in BASELINE_ORDER if k in keys] + sorted(k for k in keys if k not in BASELINE_ORDER)
    cols = names + [f"avg_{k}" for k in metrics["averages"]]
    table = pd.DataFrame(index=keys, columns=cols, dtype=float)
    for b in names:
        for k in keys:
            table.at[k, b] = bench[b]["scores"][k]
    for kind, sc in metrics["averages"].items():
        for k in keys:
            table.at[k, f"avg_{kind}"] = sc[k]
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        return table.round(2).to_string()
