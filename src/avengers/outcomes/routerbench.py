"""RouterBench (Martian, 2024) CSVs as redistributed by RouterDC (datasets/routerbench_zs).

One row per query: sample_id, prompt (a Python-literal list of strings), eval_name, one 0/1
score column per model (empty = missing outcome), `<model>|model_response` (a Python-literal
list holding the raw answer), `<model>|total_cost` (USD) and oracle_model_to_route_to.
"""

from __future__ import annotations

import ast
import csv
import math
import re
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from avengers.errors import ConfigError, OutcomeError
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes

csv.field_size_limit(1 << 30)

_INSTRUCTION = re.compile(r"^(Print only a single choice.*|Answer:)\s*$")


def _literal(cell: str, what: str, path: Path, row: int) -> Any:
    try:
        return ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        raise OutcomeError(f"{path}: row {row}: {what} is not a Python-literal list as RouterBench writes it.") from None


def user_question(prompt: str) -> str:
    """The question a user asks: RouterBench prompts carry few-shot examples first, separated
    by blank lines, and an output-format instruction last; neither belongs in the embedding."""
    last = prompt.strip().split("\n\n")[-1]
    lines = [ln for ln in last.splitlines() if not _INSTRUCTION.match(ln.strip())]
    return "\n".join(lines).strip() or prompt.strip()


def _read(path: Path, split: str, query_mode: str) -> pd.DataFrame:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if "sample_id" not in header or "prompt" not in header or "eval_name" not in header:
            raise OutcomeError(f"{path}: not a RouterBench CSV (needs sample_id, prompt, eval_name columns).")
        models = [c for c in header if c and "|" not in c and c not in ("sample_id", "prompt", "eval_name", "oracle_model_to_route_to")]
        recs = []
        for i, row in enumerate(reader):
            prompt = _literal(row["prompt"], "prompt", path, i)
            text = prompt[-1] if isinstance(prompt, list) else str(prompt)
            query = user_question(text) if query_mode == "question" else text
            for m in models:
                cell = row[m].strip()
                if cell == "":
                    continue  # missing outcome: the table's missing policy decides
                resp = row.get(f"{m}|model_response", "")
                answer = None
                if resp:
                    val = _literal(resp, f"{m}|model_response", path, i)
                    answer = str(val[0]) if isinstance(val, list) and val else str(val)
                cost = row.get(f"{m}|total_cost", "")
                cost_v = float(cost) if cost not in ("", None) else math.nan
                # sample_id is not unique in the release (7 repeats inside arc_challenge_train, 6 ids
                # reused across train and test with other questions): prefix split and row.
                qid = f"{split}-{i:05d}:{row['sample_id']}"
                recs.append((row["eval_name"].replace("-", "_"), qid, query, m, 0, float(cell), answer, cost_v, split))
    return pd.DataFrame.from_records(
        recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "answer", "cost", "split"]
    )


@SOURCES.register("routerbench")
def load_routerbench(cfg: Mapping[str, Any]) -> RawOutcomes:
    root = cfg.get("root")
    if not root:
        raise ConfigError("data=routerbench needs the data root: set AVENGERS_DATA_DIR or data.root.")
    query_mode = cfg.get("query_mode", "question")
    if query_mode not in ("question", "prompt"):
        raise ConfigError(f"data.query_mode={query_mode!r}: use 'question' (last question only) or 'prompt' (full prompt).")
    frames, files = [], {}
    for split, key in (("train", "calibration"), ("test", "test")):
        for stem in cfg.get(key) or []:
            path = Path(root).expanduser() / "routerbench" / f"{stem}.csv"
            if not path.exists():
                raise OutcomeError(f"RouterBench file {path} not found. Check data.root / AVENGERS_DATA_DIR and data.{key}.")
            files[str(path)] = sha256_file(path)
            frames.append(_read(path, split, query_mode))
    if not frames:
        raise ConfigError("data.calibration and data.test name no RouterBench file.")
    return RawOutcomes(df=pd.concat(frames, ignore_index=True), files=files)
