"""Mixture-of-Thought cascade release (Yue et al., ICLR 2024): many samples per query.

github.com/MurongYue/LLM_MoT_cascade at COMMIT, BIG-Bench Hard date understanding, CoT
prompt 1: one JSON list per model, the same 369 questions in the same order. Each record
has `question`, `answer` (gold; in the llama-2-13b file a dict {candidate: 1|0}, the gold
being the key with value 1), `generated` (raw texts), `results` (the parsed answer of each
sample), `result_counter` and `prediction` (the release's majority vote).

One canonical row per (query, model, sample): `answer` is the parsed answer exactly as
released (voting normalises it later); `score` is 1.0 iff the sample's answer matches the
gold under the answer pipeline of `data.benchmark` (`avengers.answers.pipeline_for`), the
same pipeline the vote normalises with, so grades and votes always agree:
`bbh_date_understanding` (default) compares dates (`5/1/2021` is `05/01/2021`); a name without
a pipeline, e.g. `date` (the release's own task name), compares byte for byte, which is the
release's own accuracy rule (64.50 / 88.62 / 57.72). query_id is the position in the files,
zero-padded; split is null (the harness splits); cost is null (the release has none).

Files are read from `<data.root>/<data.subdir (mot_date)>/<file>`; the release's default
files missing there are downloaded from the pinned commit into the user cache and checked
against their SHA-256 (`data.download=false` turns that off).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from avengers.errors import ConfigError, OutcomeError
from avengers.files import sha256_file
from avengers.assets.download import data_cache_dir, pinned_file
from avengers.outcomes import SOURCES, RawOutcomes
from avengers.answers import pipeline_for

COMMIT = "8db97e652d196ce6380927c3b4df8af6d6c09746"
URL = "https://raw.githubusercontent.com/MurongYue/LLM_MoT_cascade/{commit}/{path}"

DEFAULT_FILES: dict[str, str] = {
    "gpt-3.5-turbo": "GPT3_date_cot1.json",
    "gpt-4": "GPT4_date_cot1.json",
    "llama-2-13b": "llama2_13B_date_cot1.json",
}
DEFAULT_BENCHMARK = "bbh_date_understanding"

# local file name -> (path in the release, SHA-256 of the file at COMMIT)
RELEASE: dict[str, tuple[str, str]] = {
    "GPT3_date_cot1.json": ("GPT3_result/date_cot1.json", "3f2d984619fe798551f6f6bea01bd8d20e5892d76461e5c6d47ade31c0e9d14a"),
    "GPT4_date_cot1.json": ("GPT4_result/date_cot1.json", "a6d1193ffa164cf37218188800dba8fcd5ebeeeaa6649ca0e314f1c31888eb70"),
    "llama2_13B_date_cot1.json": (
        "llama2_13B_result/date_cot1.json",
        "289067d4ca4cd10091b704498e2bf1e30c9002cbb2db00623acfd6de02dd0479",
    ),
}


def cache_dir() -> Path:
    return data_cache_dir("mot", COMMIT)


def locate(filename: str, cfg: Mapping[str, Any]) -> Path:
    """`<root>/<subdir>/<filename>`, else the cache, else a checked download (release files only)."""
    root = cfg.get("root")
    subdir = cfg.get("subdir", "mot_date") or ""
    expected = Path(root).expanduser() / subdir / filename if root else None
    if expected is not None and expected.exists():
        return expected
    if filename not in RELEASE:
        raise OutcomeError(
            f"MoT file {filename!r} not found (expected {expected}). Set AVENGERS_DATA_DIR / data.root, "
            f"or give data.files existing paths."
        )
    cached = cache_dir() / filename
    rel, sha = RELEASE[filename]
    url = URL.format(commit=COMMIT, path=rel)
    return pinned_file(
        url, cached, sha, hint=f"Download it by hand to {expected or cached} or set AVENGERS_DATA_DIR.",
        download=bool(cfg.get("download", True)),
        missing=(
            f"MoT file {filename} not found under data root {root!r} (expected {expected}) and downloads are off. "
            f"Set AVENGERS_DATA_DIR / data.root, or data.download=true (fetches {url})."
        ),
    )


def _gold(rec: Mapping[str, Any], path: Path, i: int) -> str:
    g = rec.get("answer")
    if isinstance(g, str):
        return g
    if isinstance(g, dict):
        keys = [k for k, v in g.items() if v == 1]
        if len(keys) == 1:
            return str(keys[0])
        raise OutcomeError(f"{path}: record {i}: 'answer' is a dict with {len(keys)} gold entries (value 1); need exactly one.")
    raise OutcomeError(f"{path}: record {i}: 'answer' must be a string or a {{candidate: 1|0}} dict, got {type(g).__name__}.")


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise OutcomeError(f"{path}: not valid JSON ({e}).") from None
    if not isinstance(rows, list):
        raise OutcomeError(f"{path}: expected a JSON list of MoT records (question, answer, results, ...).")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not isinstance(r.get("question"), str) or not isinstance(r.get("results"), list):
            raise OutcomeError(f"{path}: record {i} is malformed; every record needs a 'question' string and a 'results' list.")
    return rows


def _short(s: str, n: int = 80) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


@SOURCES.register("mot")
def load_mot(cfg: Mapping[str, Any]) -> RawOutcomes:
    files_cfg = cfg.get("files") or DEFAULT_FILES
    files = {str(k): str(v) for k, v in files_cfg.items()}
    if not files:
        raise ConfigError("data.files is empty; map each model name to its MoT file, e.g. {gpt-4: GPT4_date_cot1.json}.")
    benchmark = str(cfg.get("benchmark") or DEFAULT_BENCHMARK)
    if cfg.get("score_normalizer") is not None:
        raise ConfigError(
            "data.score_normalizer is gone: MoT answers are graded by the answer pipeline of data.benchmark "
            "(bbh_date_understanding: dates; a name without a pipeline, e.g. data.benchmark=date: byte for byte)."
        )
    pipe = pipeline_for(benchmark)

    checksums: dict[str, str] = {}
    data: dict[str, tuple[Path, list[dict[str, Any]]]] = {}
    for model, filename in files.items():
        path = locate(filename, cfg)
        checksums[str(path)] = sha256_file(path)
        data[model] = (path, _read(path))

    (ref_model, (ref_path, ref_rows)), *others = data.items()
    golds = [_gold(r, ref_path, i) for i, r in enumerate(ref_rows)]
    for model, (path, rows) in others:
        if len(rows) != len(ref_rows):
            raise OutcomeError(
                f"MoT files disagree: {path} has {len(rows)} questions, {ref_path} has {len(ref_rows)}; "
                f"query ids are positions, so every file must hold the same questions in the same order."
            )
        for i, (a, b) in enumerate(zip(ref_rows, rows)):
            if a["question"] != b["question"]:
                raise OutcomeError(
                    f"MoT files disagree at position {i}: {ref_path} has {_short(a['question'])!r}, "
                    f"{path} has {_short(b['question'])!r}. Query ids are positions, so the questions must match."
                )
            g = _gold(b, path, i)
            if g != golds[i]:
                raise OutcomeError(f"MoT files disagree on the gold answer at position {i}: {golds[i]!r} ({ref_path}) vs {g!r} ({path}).")

    width = len(str(max(len(ref_rows) - 1, 0)))
    recs = []
    for model, (_path, rows) in data.items():
        for i, r in enumerate(rows):
            qid = f"{i:0{width}d}"
            for k, ans in enumerate(r["results"]):
                ans = None if ans is None else str(ans)
                score = pipe.score(ans, golds[i])
                recs.append((benchmark, qid, r["question"], model, k, score, ans))
    df = pd.DataFrame.from_records(recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "answer"])
    df["cost"] = float("nan")
    df["split"] = None
    return RawOutcomes(df=df, files=checksums)
