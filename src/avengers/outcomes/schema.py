"""The canonical outcome table (../shared/specs/outcomes.md): one row per
(benchmark, query, model, sample). Every importer returns it; every later stage reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from avengers.errors import OutcomeError

REQUIRED = ("benchmark", "query_id", "query", "model", "sample", "score")
OPTIONAL = ("answer", "cost", "split")
COLUMNS = REQUIRED + OPTIONAL
KEY = ["benchmark", "query_id", "model", "sample"]
SPLITS = ("train", "test")
MISSING_POLICIES = ("error", "zero", "drop_query")


@dataclass(frozen=True)
class OutcomeTable:
    """A validated outcome table plus where it came from.

    `files` maps each source file to its SHA-256, for provenance.
    """

    df: pd.DataFrame
    source: str
    files: Mapping[str, str] = field(default_factory=dict)
    dropped_queries: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(sorted(self.files.items()))))

    @property
    def models(self) -> list[str]:
        return sorted(self.df["model"].unique())

    @property
    def benchmarks(self) -> list[str]:
        return sorted(self.df["benchmark"].unique())

    @property
    def has_answers(self) -> bool:
        return bool(self.df["answer"].notna().any())

    @property
    def has_cost(self) -> bool:
        return bool(self.df["cost"].notna().any())


def _isnull(v: object) -> bool:
    """None, NaN, pd.NA or NaT: every spelling of "missing" the readers produce."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # list-like values are not missing
        return False


def _examples(df: pd.DataFrame, cols: list[str], n: int = 3) -> str:
    rows = df[cols].head(n).to_dict("records")
    return "; ".join(", ".join(f"{k}={v!r}" for k, v in r.items()) for r in rows)


def validate(df: pd.DataFrame, *, missing: str = "error", where: str = "outcome table") -> pd.DataFrame:
    """Check every invariant of the spec; return a normalised copy (column order, dtypes).

    Raises OutcomeError with one message naming the problem and the fix. Nothing is dropped
    silently: `missing="drop_query"` and `missing="zero"` are explicit user choices.
    """
    if missing not in MISSING_POLICIES:
        raise OutcomeError(f"data.missing={missing!r} is not one of {MISSING_POLICIES}.")
    absent = [c for c in REQUIRED if c not in df.columns]
    if absent:
        raise OutcomeError(
            f"{where}: required column(s) {absent} are missing; the canonical columns are "
            f"{list(COLUMNS)} (see shared/specs/outcomes.md)."
        )
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        raise OutcomeError(f"{where}: unknown column(s) {extra}; allowed: {list(COLUMNS)}.")
    if df.empty:
        raise OutcomeError(f"{where}: no rows. Check the data path and the benchmark filter.")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for c in ("benchmark", "query_id", "query", "model"):
        col = df[c].reset_index(drop=True)
        if col.isna().any():
            bad = df[col.isna().to_numpy()]
            raise OutcomeError(f"{where}: column {c!r} is null in {len(bad)} row(s), e.g. {_examples(bad, KEY)}.")
        out[c] = col.astype(str)
    blank = out["query"].str.strip() == ""
    if blank.any():
        all_blank = blank.groupby(out["benchmark"]).all()
        if all_blank.any():
            raise OutcomeError(
                f"{where}: every query text of benchmark(s) {sorted(all_blank[all_blank].index)[:5]} is empty; the router "
                f"embeds the query text, so there is nothing to route on. Fill the 'query' column (the question as a user asks it)."
            )
    try:
        sample = pd.to_numeric(df["sample"].reset_index(drop=True), errors="raise")
    except (ValueError, TypeError) as e:
        raise OutcomeError(f"{where}: column 'sample' must be integers 0..n-1 ({e}).") from None
    if sample.isna().any() or (sample < 0).any() or (sample != np.floor(sample)).any():
        raise OutcomeError(f"{where}: column 'sample' must be integers 0..n-1; found {sorted(set(sample.dropna()))[:5]}.")
    out["sample"] = sample.astype("int64")
    try:
        score = pd.to_numeric(df["score"].reset_index(drop=True), errors="raise").astype("float64")
    except (ValueError, TypeError) as e:
        raise OutcomeError(f"{where}: column 'score' must be numbers in [0, 1] ({e}).") from None
    bad = score.isna() | (score < 0) | (score > 1)
    if bad.any():
        ex = out[bad.to_numpy()].assign(score=score[bad])
        raise OutcomeError(
            f"{where}: {int(bad.sum())} score(s) are NaN or outside [0, 1], e.g. "
            f"{_examples(ex, KEY + ['score'])}. Fix the importer or the file; scores are correctness in [0, 1]."
        )
    out["score"] = score
    if "answer" in df:
        # dtype=object keeps None as None (pandas' string dtype would turn it into NaN).
        out["answer"] = pd.Series([None if _isnull(a) else str(a) for a in df["answer"]], dtype=object)
    else:
        out["answer"] = pd.Series([None] * len(df), dtype=object)
    if "cost" in df:
        raw = df["cost"].reset_index(drop=True)
        cost = pd.to_numeric(raw, errors="coerce").astype("float64")
        # A value that is not a number is refused, never read as missing (it would count 0 in totals).
        for bad, what in ((cost.isna() & ~raw.map(_isnull), "is not a number"),
                          (np.isinf(cost), "is infinite"), (cost < 0, "is negative")):
            if bad.any():
                ex = out[bad.to_numpy()].assign(cost=raw[bad].to_numpy())
                raise OutcomeError(
                    f"{where}: cost {what} in {int(bad.sum())} row(s), e.g. {_examples(ex, ['benchmark', 'query_id', 'model', 'cost'])}. "
                    f"cost is the USD spent on the sample: a finite number >= 0, or null when unknown."
                )
        out["cost"] = cost
    else:
        out["cost"] = np.nan
    if "split" in df:
        split = pd.Series([None if _isnull(v) else str(v) for v in df["split"]], dtype=object)
        bad_split = split.notna() & ~split.isin(SPLITS)
        if bad_split.any():
            raise OutcomeError(
                f"{where}: split must be 'train', 'test' or null; found {sorted(set(split[bad_split]))[:5]}."
            )
        out["split"] = split
    else:
        out["split"] = pd.Series([None] * len(df), dtype=object)

    dup = out.duplicated(KEY, keep=False)
    if dup.any():
        raise OutcomeError(
            f"{where}: {int(dup.sum())} duplicate rows for (benchmark, query_id, model, sample), e.g. "
            f"{_examples(out[dup], KEY)}. Each sample of each model on each query must appear once."
        )
    texts = out[["benchmark", "query_id", "query"]].drop_duplicates()
    clash = texts.duplicated(["benchmark", "query_id"], keep=False)
    if clash.any():
        raise OutcomeError(
            f"{where}: the same query_id carries different query texts, e.g. "
            f"{_examples(texts[clash], ['benchmark', 'query_id'])}. query_id must identify one question."
        )
    splits = out[["benchmark", "query_id", "split"]].drop_duplicates()
    sclash = splits.duplicated(["benchmark", "query_id"], keep=False)
    if sclash.any():
        raise OutcomeError(
            f"{where}: one query has rows in different splits, e.g. {_examples(splits[sclash], ['benchmark', 'query_id'])}."
        )
    out = _check_complete(out, missing=missing, where=where)
    return out.sort_values(KEY, kind="mergesort").reset_index(drop=True)


def _check_complete(df: pd.DataFrame, *, missing: str, where: str) -> pd.DataFrame:
    """Every query of a benchmark needs a row for every model of the pool."""
    models = sorted(df["model"].unique())
    have = df[["benchmark", "query_id", "model"]].drop_duplicates()
    counts = have.groupby(["benchmark", "query_id"]).size()
    incomplete = counts[counts < len(models)]
    if incomplete.empty:
        return df
    if missing == "error":
        pairs = have.set_index(["benchmark", "query_id"]).loc[incomplete.index[:1]]
        first = incomplete.index[0]
        lacking = sorted(set(models) - set(pairs["model"]))
        raise OutcomeError(
            f"{where}: {len(incomplete)} quer(y/ies) lack outcomes for some model, e.g. benchmark={first[0]!r} "
            f"query_id={first[1]!r} has no row for {lacking}. Fix the data, or choose explicitly: "
            f"data.missing=drop_query (remove those queries) or data.missing=zero (count them as wrong)."
        )
    if missing == "drop_query":
        keep = ~df.set_index(["benchmark", "query_id"]).index.isin(incomplete.index)
        return df[keep].reset_index(drop=True)
    # missing == "zero": add one sample-0 row with score 0 for each absent (query, model).
    q = df.drop_duplicates(["benchmark", "query_id"])[["benchmark", "query_id", "query", "split"]]
    full = q.merge(pd.DataFrame({"model": models}), how="cross")
    full = full.merge(have.assign(_have=True), on=["benchmark", "query_id", "model"], how="left")
    add = full[full["_have"].isna()].drop(columns="_have").assign(sample=0, score=0.0, answer=None, cost=np.nan)
    return pd.concat([df, add[df.columns]], ignore_index=True)


def read_outcomes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a canonical Parquet or JSON Lines file (not yet validated)."""
    p = Path(path)
    if not p.exists():
        raise OutcomeError(f"Outcome file {str(p)!r} does not exist. Pass data.path=<file.parquet|file.jsonl>.")
    if not p.is_file():
        raise OutcomeError(f"Outcome file {str(p)!r} is a directory, not a file. Pass data.path=<file.parquet|file.jsonl>.")
    if p.stat().st_size == 0:
        raise OutcomeError(f"Outcome file {str(p)!r} is empty (0 bytes). Rewrite it, or point data.path at the right file.")
    if p.suffix == ".parquet":
        import pyarrow as pa

        try:
            return pd.read_parquet(p)
        except (OSError, ValueError, pa.ArrowException) as e:
            first = (str(e).strip().splitlines() or [""])[0]
            raise OutcomeError(
                f"Outcome file {str(p)!r} is not a readable Parquet file ({type(e).__name__}: {first}); it may be truncated "
                f"or corrupt. Rewrite it (avengers.outcomes.schema.write_outcomes) or restore it."
            ) from None
    if p.suffix in (".jsonl", ".json"):
        try:
            return pd.read_json(p, lines=True, dtype={"query_id": str, "benchmark": str, "model": str, "answer": object})
        except ValueError as e:
            raise OutcomeError(f"{p}: not valid JSON Lines ({e}). One JSON object per line, canonical columns.") from None
    raise OutcomeError(f"{p}: unknown outcome file type {p.suffix!r}; use .parquet or .jsonl.")


def write_outcomes(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Validate, then write atomically as Parquet or JSON Lines (by suffix)."""
    from avengers.files import atomic_write_bytes, atomic_write_text

    df = validate(df)
    p = Path(path)
    if p.suffix == ".parquet":
        import io as _io

        buf = _io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(p, buf.getvalue())
    elif p.suffix == ".jsonl":
        atomic_write_text(p, df.to_json(orient="records", lines=True, force_ascii=False) + "\n")
    else:
        raise OutcomeError(f"{p}: unknown outcome file type {p.suffix!r}; use .parquet or .jsonl.")
