"""AvengersPro JSONL (ZhangYiqun018/AvengersPro `simple_cluster_router.py --input`; written by
LLMRouterBench's `baselines/adaptors/avengerspro_adaptor.py`), imported in full.

One object per line (AvengersPro README "Data Format"; the adaptor's `_convert_records_to_jsonl_format`):
`{"query": str, "dataset": str, "index": int, "records": {model: score}, "usages": {model:
{"cost": float, "prompt_tokens": int, "completion_tokens": int}}}`.

One canonical row per (line, model), `sample` 0:
- `benchmark`: the line's `dataset` ("default" when absent, as AvengersPro does);
  `query_id`: `<index, 5 digits (position in the dataset when absent)>-<sha256(query)[:8]>`;
  `query`: the line's `query` (the formatted prompt).
- `score`: any number in [0, 1] as it is: 0.5 is partial credit (ArenaHard's tie), not refused;
  true/false are 1/0 (AvengersPro `_validate_data_item`). null is a missing outcome (no row;
  `data.missing` decides) unless `data.null_score=zero`, which is what AvengersPro does.
- `cost`: `usages[model].cost` in USD. A missing or negative cost is unknown (null) unless
  `data.missing_cost=zero`, AvengersPro's own reading (`balance_cluster_router.py`: "no cost
  penalty for missing data").
- `answer`: null (the format has none); `split`: null (the harness splits) unless
  `data.split_protocol=avengerspro`, which reproduces AvengersPro's split
  (`load_and_split_data`): per dataset, in sorted name order, rows sorted by `index`, HF
  `train_test_split(train_size=train_ratio, seed=seed, shuffle=True)`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from avengers.errors import ConfigError, OutcomeError
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes
from avengers.outcomes.avengers_format import _choice, _paths, _read_rows

log = logging.getLogger(__name__)

CHOICES: dict[str, tuple[str, ...]] = {
    "null_score": ("missing", "zero"),
    "missing_cost": ("unknown", "zero"),
    "split_protocol": ("harness", "avengerspro"),
}




def hf_train_size_split(n: int, train_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions of HF `Dataset.train_test_split(train_size=train_ratio, seed=seed,
    shuffle=True)` on n rows: n_train = floor(train_ratio * n), n_test = n - n_train,
    perm = numpy.random.default_rng(seed).permutation(n), test = perm[:n_test], train = the rest."""
    n_train = int(math.floor(train_ratio * n))
    n_test = n - n_train
    if n_train == 0 or n_test == 0:
        raise ConfigError(
            f"A dataset with {n} row(s) cannot be split with train_ratio={train_ratio}: one side would be empty "
            f"(HF train_test_split refuses it too). Use data.split_protocol=harness or drop the dataset."
        )
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def _score(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and not math.isnan(value) and 0.0 <= float(value) <= 1.0:
        return float(value)
    raise OutcomeError(f"{where}: score {value!r}; records values must be numbers in [0, 1], true/false or null.")


def _cost(usages: Any, model: str) -> float | None:
    if not isinstance(usages, Mapping):
        return None
    u = usages.get(model)
    c = u.get("cost") if isinstance(u, Mapping) else None
    if isinstance(c, bool) or not isinstance(c, (int, float)) or math.isnan(c) or c < 0:
        return None
    return float(c)


@SOURCES.register("avengerspro")
def load_avengerspro(cfg: Mapping[str, Any]) -> RawOutcomes:
    null_score = _choice(cfg, "null_score", CHOICES)
    missing_cost = _choice(cfg, "missing_cost", CHOICES)
    protocol = _choice(cfg, "split_protocol", CHOICES)
    ratio = float(cfg.get("train_ratio", 0.7))
    if not 0 < ratio < 1:
        raise ConfigError(f"data.train_ratio={ratio} must be in (0, 1).")
    seed = 42 if cfg.get("split_seed") is None else int(cfg["split_seed"])

    files: dict[str, str] = {}
    per_dataset: dict[str, list[tuple[int, str, dict, Any]]] = {}
    n_unknown_cost = 0
    for path in _paths(cfg):
        files[str(path)] = sha256_file(path)
        for i, row in enumerate(_read_rows(path)):
            where = f"{path}: row {i}"
            if not isinstance(row, dict):
                raise OutcomeError(f"{where} is not an object {{query, dataset, records, usages}}.")
            query, records = row.get("query"), row.get("records")
            if not isinstance(query, str) or not query.strip():
                raise OutcomeError(f"{where}: 'query' must be a non-empty string.")
            if not isinstance(records, dict) or not records:
                raise OutcomeError(f"{where}: 'records' must be a non-empty object {{model: score}}.")
            ds = row.get("dataset") or "default"
            index = row.get("index", -1)
            index = -1 if index is None else int(index)
            per_dataset.setdefault(str(ds), []).append((index, query, records, row.get("usages")))
    if not per_dataset:
        raise OutcomeError(f"{', '.join(files)}: no rows.")

    recs = []
    for ds in sorted(per_dataset):
        rows = per_dataset[ds]
        split: list[str | None] = [None] * len(rows)
        if protocol == "avengerspro":
            order = sorted(range(len(rows)), key=lambda j: rows[j][0])  # stable: ties keep file order
            train, test = hf_train_size_split(len(rows), ratio, seed)
            for k in train:
                split[order[k]] = "train"
            for k in test:
                split[order[k]] = "test"
        for j, (index, query, records, usages) in enumerate(rows):
            qid = f"{index if index >= 0 else j:05d}-{hashlib.sha256(query.encode('utf-8')).hexdigest()[:8]}"
            for model, value in records.items():
                s = _score(value, f"dataset {ds!r} row {j} model {model!r}")
                if s is None:
                    if null_score == "missing":
                        continue
                    s = 0.0
                c = _cost(usages, str(model))
                if c is None:
                    n_unknown_cost += 1
                    if missing_cost == "zero":
                        c = 0.0
                recs.append((ds, qid, query, str(model), 0, s, None, math.nan if c is None else c, split[j]))
    if n_unknown_cost:
        log.info("avengerspro: %d outcome(s) without a usable usages cost: %s.", n_unknown_cost,
                 "counted as 0 (data.missing_cost=zero)" if missing_cost == "zero" else "cost unknown")
    df = pd.DataFrame.from_records(
        recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "answer", "cost", "split"]
    )
    if df.duplicated(["benchmark", "query_id", "model"]).any():
        dup = df[df.duplicated(["benchmark", "query_id", "model"], keep=False)].iloc[0]
        raise OutcomeError(
            f"avengerspro: dataset {dup['benchmark']!r} has the query {dup['query'][:60]!r} twice (query_id "
            f"{dup['query_id']}); keep one line per (dataset, query)."
        )
    return RawOutcomes(df=df, files=files)
