"""Avengers router-training format (ZhangYiqun018/Avengers `core/generate_rank_router.py --data_path`).

See ../shared/specs/released_data.md §2.2-2.3. `data.path` is one file (or a list of files):
JSON Lines (one object per line) or a JSON array, as `datasets.load_dataset("json")` reads it.
Each row is `{"query": str, "dataset": str, "records": {M01..M22: bool or 0/1}, "frequency"?: {...}}`.

One canonical row per (row, model), `sample` 0:
- `benchmark`: the row's `dataset`; `query_id`: `<position of the row within its dataset, in file
  order, 5 digits>-<sha256(query)[:8]>`; `query`: the row's `query` (the formatted prompt).
- `model`: the served model name of §2.3 (`data.model_names=code`, default; an unknown id is an
  error) or the id itself (`data.model_names=id`).
- `score`: 1.0 for true/1, 0.0 for false/0; any other value is an error. A model absent from a
  row, or null (the Arrow union of keys), is a missing outcome: no row, so `data.missing`
  decides (`zero` is what the Avengers code does: `records.get(m, False)`).
- `answer` and `cost`: null (the format has neither).
- `split`: null (the harness splits) unless `data.split_protocol=avengers`, which reproduces the
  router's per-dataset HF `train_test_split(test_size, seed)`: for the n rows of a dataset in
  file order, `n_test = ceil(test_size * n)`, `perm = numpy.random.default_rng(seed).permutation(n)`,
  test = `perm[:n_test]`, train = the rest (`data.test_size`, default 0.3; `data.split_seed`,
  default 42). The order datasets are concatenated in does not matter for membership.

`frequency` (the self-consistency agreement rate of each model's majority answer, used only by
the router's `top_n > 1` tie-break) has no canonical column and is dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from avengers.errors import ConfigError, OutcomeError, did_you_mean
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes

log = logging.getLogger(__name__)

# AV core/generate_rank_router.py DEFAULT_MODEL_MAPPING, inverted: id -> served name.
MODEL_NAMES: dict[str, str] = {
    "M01": "fin-r1-index",
    "M02": "glm-4-9b-index",
    "M03": "eurus-2-7b-prime-index",
    "M04": "qwen2.5-7b-instruct-index",
    "M05": "qwen2.5-coder-7b-instruct-index",
    "M06": "qwen2.5-math-7b-instruct-index",
    "M07": "nemotron-8b-index",
    "M08": "medreason_8b_index",
    "M09": "gemma-2-9b-it",
    "M10": "Llama-3.1-8B-Instruct",
    "M11": "cogito-v1-preview-llama-8B",
    "M12": "internlm3-8b-instruct",
    "M13": "mistral-7b-instruct-v0.3",
    "M14": "Falcon3-7B-Instruct",
    "M15": "Phi-4-mini-instruct",
    "M16": "Granite-3.1-8B-Instruct",
    "M17": "Yi-1.5-9B-Chat",
    "M18": "OLMo-2-1124-7B-Instruct",
    "M19": "Llama-3.1-Tulu-3.1-8B",
    "M20": "Hermes-3-Llama-3.1-8B",
    "M21": "Llama-3.1-8B-UltraMedical",
    "M22": "DeepSeek-R1-Distill-Qwen-7B",
}
# The 10 models of the paper (AV core/ablation_experiments.py available_models).
PAPER_MODELS = ["M01", "M02", "M04", "M05", "M09", "M10", "M11", "M21", "M22", "M16"]

CHOICES: dict[str, tuple[str, ...]] = {
    "model_names": ("code", "id"),
    "split_protocol": ("harness", "avengers"),
}


def _choice(cfg: Mapping[str, Any], key: str, choices: Mapping[str, tuple[str, ...]] = CHOICES) -> str:
    """`data.<key>`, one of `choices[key]` (the first is the default); a ConfigError otherwise."""
    allowed = choices[key]
    value = cfg.get(key)
    value = allowed[0] if value is None else str(value)
    if value not in allowed:
        raise ConfigError(f"data.{key}={value!r} is not one of {list(allowed)}.{did_you_mean(value, allowed)}")
    return value


def hf_train_test_split(n: int, test_size: float = 0.3, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions of HF `Dataset.train_test_split(test_size=float, seed=seed)` on n rows.

    Same arithmetic as `datasets`: n_test = ceil(test_size * n), n_train = n - n_test; both in
    permutation order. HF refuses an empty side; so does this."""
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_test == 0 or n_train <= 0:
        raise ConfigError(
            f"A dataset with {n} row(s) cannot be split with test_size={test_size}: one side would be empty "
            f"(HF train_test_split refuses it too). Use data.split_protocol=harness or drop the dataset."
        )
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def _read_rows(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as e:
            raise OutcomeError(f"{path}: not a valid JSON array ({e}). Use a JSON array or JSON Lines.") from None
        return rows
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            raise OutcomeError(f"{path}: line {n} is not valid JSON ({e}). Use JSON Lines (one object per line) or a JSON array.") from None
    return rows


def _paths(cfg: Mapping[str, Any]) -> list[Path]:
    raw = cfg.get("path")
    if raw in (None, "", "???"):
        raise ConfigError("data.path is not set: pass the Avengers router-training file (JSON Lines or a JSON array).")
    out = []
    for r in [raw] if isinstance(raw, (str, Path)) else list(raw):
        p = Path(str(r)).expanduser()
        if not p.exists() and not p.is_absolute() and cfg.get("root"):
            alt = Path(str(cfg["root"])).expanduser() / p
            if alt.exists():
                p = alt
        if not p.is_file():
            raise OutcomeError(f"data.path={str(r)!r} is not a file (also looked under data.root={cfg.get('root')!r}).")
        out.append(p)
    return out


def _score(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    raise OutcomeError(f"{where}: value {value!r}; records values must be true/false or 0/1 (null = missing).")


@SOURCES.register("avengers_format")
def load_avengers_format(cfg: Mapping[str, Any]) -> RawOutcomes:
    names = _choice(cfg, "model_names")
    protocol = _choice(cfg, "split_protocol")
    test_size = float(cfg.get("test_size", 0.3))
    if not 0 < test_size < 1:
        raise ConfigError(f"data.test_size={test_size} must be in (0, 1).")
    seed = cfg.get("split_seed")
    seed = 42 if seed is None else int(seed)
    want_ds = cfg.get("datasets")
    want_ds = None if want_ds is None else {str(d) for d in ([want_ds] if isinstance(want_ds, str) else want_ds)}
    want_models = cfg.get("models")
    want_models = None if want_models is None else [str(m) for m in ([want_models] if isinstance(want_models, str) else want_models)]

    files: dict[str, str] = {}
    per_dataset: dict[str, list[tuple[str, dict]]] = {}  # dataset -> [(query, records)] in file order
    n_freq = 0
    for path in _paths(cfg):
        files[str(path)] = sha256_file(path)
        rows = _read_rows(path)
        if not isinstance(rows, list):
            raise OutcomeError(f"{path}: expected JSON Lines or a JSON array of rows.")
        for i, row in enumerate(rows):
            where = f"{path}: row {i}"
            if not isinstance(row, dict):
                raise OutcomeError(f"{where} is not an object {{query, dataset, records}}.")
            query, ds, records = row.get("query"), row.get("dataset"), row.get("records")
            if not isinstance(query, str) or not query:
                raise OutcomeError(f"{where}: 'query' must be a non-empty string (the embedded prompt).")
            if not isinstance(ds, str) or not ds:
                raise OutcomeError(f"{where}: 'dataset' must be a non-empty string.")
            if not isinstance(records, dict) or not records:
                raise OutcomeError(f"{where}: 'records' must be a non-empty object {{M01: true, ...}}.")
            n_freq += "frequency" in row
            per_dataset.setdefault(ds, []).append((query, records))
    if not per_dataset:
        raise OutcomeError(f"{', '.join(files)}: no rows.")
    if n_freq:
        log.info("avengers_format: 'frequency' of %d row(s) dropped (no canonical column).", n_freq)

    known_ids = {k for rows in per_dataset.values() for _, rec in rows for k in rec}
    if names == "code":
        unknown = sorted(known_ids - set(MODEL_NAMES))
        if unknown:
            raise OutcomeError(
                f"avengers_format: records keys {unknown[:5]} are not Avengers model ids M01..M22.{did_you_mean(unknown[0], MODEL_NAMES)} "
                f"Set data.model_names=id to keep the keys as they are."
            )
    if want_ds is not None:
        for d in sorted(want_ds - set(per_dataset)):
            raise ConfigError(f"data.datasets names {d!r}, which no row has.{did_you_mean(d, per_dataset)} Known: {', '.join(sorted(per_dataset))}.")
    if want_models is not None:
        valid = known_ids | ({MODEL_NAMES[k] for k in known_ids if k in MODEL_NAMES} if names == "code" else set())
        for m in want_models:
            if m not in valid:
                raise ConfigError(f"data.models names {m!r}, which no row has.{did_you_mean(m, valid)} Known ids: {', '.join(sorted(known_ids))}.")

    recs = []
    for ds, rows in per_dataset.items():
        if want_ds is not None and ds not in want_ds:
            continue
        split = [None] * len(rows)
        if protocol == "avengers":
            train, test = hf_train_test_split(len(rows), test_size, seed)
            for j in train:
                split[j] = "train"
            for j in test:
                split[j] = "test"
        for j, (query, records) in enumerate(rows):
            qid = f"{j:05d}-{hashlib.sha256(query.encode('utf-8')).hexdigest()[:8]}"
            for mid, value in records.items():
                model = MODEL_NAMES[mid] if names == "code" else mid
                if want_models is not None and mid not in want_models and model not in want_models:
                    continue
                s = _score(value, f"dataset {ds!r} row {j} model {mid}")
                if s is None:
                    continue  # missing outcome: data.missing decides
                recs.append((ds, qid, query, model, 0, s, None, math.nan, split[j]))
    df = pd.DataFrame.from_records(
        recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "answer", "cost", "split"]
    )
    return RawOutcomes(df=df, files=files)
