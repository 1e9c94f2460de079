"""Calibration / test protocol: which queries calibrate the router and which test it.

Rules: a split fixed by the data is kept; otherwise each benchmark is split on its own with
`test_size`, seeded by (seed, benchmark) so adding a benchmark does not reshuffle the others;
OOD benchmarks (`data.ood`) go entirely to test and never enter calibration. A benchmark whose
fixed split has calibration (train) rows only is used for calibration and reported as
calibration-only (`Splits.calibration_only`): some releases ship such tasks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

from avengers.errors import ConfigError, did_you_mean
from avengers.outcomes.schema import OutcomeTable


@dataclass(frozen=True)
class Splits:
    calib: pd.DataFrame  # outcome rows of calibration queries (ID benchmarks only)
    test: pd.DataFrame  # outcome rows of test queries (ID and OOD)
    kinds: Mapping[str, str] = field(default_factory=dict)  # tested benchmark -> "id" | "ood"
    calibration_only: tuple[str, ...] = ()  # benchmarks with calibration rows only (never tested)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", MappingProxyType(dict(self.kinds)))
        object.__setattr__(self, "calibration_only", tuple(self.calibration_only))

    @property
    def models(self) -> list[str]:
        return sorted(self.test["model"].unique())


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """An RNG stream per (seed, purpose, benchmark): independent of iteration order."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and bool(np.isfinite(v))


def check_split_config(cfg: Mapping[str, Any]) -> None:
    """Refuse bad split knobs with one message each; nothing is coerced (2.5 is not 2, 0 is not "no cap")."""
    test_size = cfg.get("test_size", 0.3)
    if not _is_number(test_size) or not 0 < test_size < 1:
        raise ConfigError(f"data.test_size={test_size!r} must be a number in (0, 1); e.g. data.test_size=0.3.")
    frac = cfg.get("calibration_fraction", 1.0)
    if not _is_number(frac) or not 0 < frac <= 1:
        raise ConfigError(f"data.calibration_fraction={frac!r} must be a number in (0, 1]; e.g. 0.5.")
    cap = cfg.get("max_queries_per_benchmark")
    if cap is not None and (not _is_int(cap) or cap < 1):
        raise ConfigError(
            f"data.max_queries_per_benchmark={cap!r} must be a positive integer (queries kept per benchmark and "
            f"split), or null for no cap."
        )
    sub_seed = cfg.get("subsample_seed")
    if sub_seed is not None and (not _is_int(sub_seed) or not 0 <= sub_seed < 2**32):
        raise ConfigError(f"data.subsample_seed={sub_seed!r} must be an integer >= 0, or null (the job seed).")


def _subsample(ids: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(ids, size=n, replace=False)) if n < len(ids) else ids


def make_splits(table: OutcomeTable, cfg: Mapping[str, Any], seed: int) -> Splits:
    df = table.df
    known = table.benchmarks
    chosen = list(cfg.get("benchmarks") or known)
    ood = list(cfg.get("ood") or [])
    for name in chosen + ood:
        if name not in known:
            raise ConfigError(
                f"Unknown benchmark {name!r} in data.benchmarks/data.ood.{did_you_mean(name, known)} "
                f"This data has: {', '.join(known)}."
            )
    ood = [b for b in ood if b in chosen]
    check_split_config(cfg)
    test_size = float(cfg.get("test_size", 0.3))
    frac = float(cfg.get("calibration_fraction", 1.0))
    cap = cfg.get("max_queries_per_benchmark")
    # The subsample may be pinned apart from the job seed, so that a seed sweep varies the
    # clustering on one fixed subset (and an expensive embedder embeds it once).
    sub_seed = seed if cfg.get("subsample_seed") is None else int(cfg.get("subsample_seed"))

    calib_keys, test_keys, kinds, calibration_only = [], [], {}, []
    for bench in sorted(chosen):
        rows = df[df["benchmark"] == bench]
        q = rows.drop_duplicates("query_id")[["query_id", "split"]].sort_values("query_id")
        ids = q["query_id"].to_numpy()
        if bench in ood:
            kinds[bench] = "ood"
            train, test = np.array([], dtype=object), ids
        else:
            fixed = q["split"].notna()
            if fixed.all():
                train = q.loc[q["split"] == "train", "query_id"].to_numpy()
                test = q.loc[q["split"] == "test", "query_id"].to_numpy()
            elif not fixed.any():
                perm = rng_for(seed, "split", bench).permutation(len(ids))
                n_test = int(np.ceil(test_size * len(ids)))
                test, train = np.sort(ids[perm[:n_test]]), np.sort(ids[perm[n_test:]])
            else:
                raise ConfigError(
                    f"Benchmark {bench!r} fixes the split for some queries but not others; "
                    f"give every query a split or none."
                )
            if len(train) == 0:
                raise ConfigError(
                    f"Benchmark {bench!r} has no calibration (train) queries. List it in data.ood "
                    f"to use it as an out-of-distribution test set, or drop it from data.benchmarks."
                )
            if len(test) == 0 and fixed.all():
                calibration_only.append(bench)  # the release fixes it as calibration data only
            elif len(test) == 0:
                raise ConfigError(f"Benchmark {bench!r} has no test queries; drop it from data.benchmarks.")
            else:
                kinds[bench] = "id"
            if frac < 1:
                train = _subsample(train, max(1, int(round(frac * len(train)))), rng_for(seed, "calib_fraction", bench))
        if cap is not None:
            train = _subsample(train, int(cap), rng_for(sub_seed, "cap-train", bench))
            test = _subsample(test, int(cap), rng_for(sub_seed, "cap-test", bench))
        calib_keys += [(bench, i) for i in train]
        test_keys += [(bench, i) for i in test]

    idx = pd.MultiIndex.from_frame(df[["benchmark", "query_id"]])
    calib = df[idx.isin(pd.MultiIndex.from_tuples(calib_keys, names=["benchmark", "query_id"]))] if calib_keys else df.iloc[:0]
    test = df[idx.isin(pd.MultiIndex.from_tuples(test_keys, names=["benchmark", "query_id"]))]
    if calib.empty:
        raise ConfigError("No calibration queries: every selected benchmark is OOD. Keep at least one in-distribution benchmark.")
    if not test_keys:
        raise ConfigError("No test queries: every selected benchmark has calibration rows only. "
                          "Keep at least one benchmark with test rows (or list one in data.ood).")
    return Splits(calib=calib.reset_index(drop=True), test=test.reset_index(drop=True), kinds=kinds,
                  calibration_only=tuple(calibration_only))
