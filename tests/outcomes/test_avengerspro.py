"""AvengersPro JSONL importer: partial-credit scores, usages cost, AvengersPro's own split.

Fixture rows follow the writer, LLMRouterBench baselines/adaptors/avengerspro_adaptor.py
(`_convert_records_to_jsonl_format`: query, dataset, index, records {model: score}, usages
{model: {completion_tokens, cost, prompt_tokens}}) and AvengersPro's README "Data Format"."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.avengerspro import hf_train_size_split, load_avengerspro

MODELS = ["anthropic/claude-opus-4.1", "openai/gpt-5-chat"]


def _row(ds, index, q, scores, costs):
    return {"query": q, "dataset": ds, "index": index,
            "records": dict(zip(MODELS, scores)),
            "usages": {m: ({"completion_tokens": 10, "cost": c, "prompt_tokens": 5} if c is not None else {})
                       for m, c in zip(MODELS, costs)}}


@pytest.fixture
def jsonl(tmp_path) -> Path:
    rows = [_row("arenahard", 3, "Write a poem.", [0.5, 1.0], [0.02, 0.01]),
            _row("arenahard", 1, "Write a story.", [0.0, 0.5], [0.03, -1.0]),  # a negative cost is unknown
            _row("gpqa", 0, "Which particle?", [True, False], [0.004, None]),
            _row("gpqa", 1, "Which element?", [None, 1], [0.002, 0.001])]  # null score
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return p


def _cfg(p, **kw):
    return {"source": "avengerspro", "path": str(p), "missing": "error", **kw}


def test_scores_costs_and_ids(jsonl):
    df = load_avengerspro(_cfg(jsonl)).df.set_index(["benchmark", "query_id", "model"])
    poem = df.xs("arenahard", level=0).loc[lambda d: d["query"] == "Write a poem."]
    assert poem.loc[(slice(None), MODELS[0]), "score"].item() == 0.5  # partial credit kept
    assert poem.index.get_level_values(0)[0].startswith("00003-")
    assert poem["cost"].tolist() == [0.02, 0.01]  # usages cost, USD
    story = df.xs("arenahard", level=0).loc[lambda d: d["query"] == "Write a story."]
    assert math.isnan(story.loc[(slice(None), MODELS[1]), "cost"].item())  # -1 -> unknown
    gpqa = df.xs("gpqa", level=0)
    assert sorted(gpqa["score"].tolist()) == [0.0, 1.0, 1.0]  # true -> 1, false -> 0, the null row is missing
    assert gpqa["answer"].isna().all()


def test_avengerspro_readings_of_null_and_cost(jsonl):
    df = load_avengerspro(_cfg(jsonl, null_score="zero", missing_cost="zero")).df
    assert len(df) == 8 and (df["cost"] >= 0).all()
    assert df.loc[df["query"] == "Which element?", "score"].tolist() == [0.0, 1.0]
    with pytest.raises(OutcomeError, match="missing"):  # a null score is a missing outcome by default
        load_outcomes(_cfg(jsonl))
    t = load_outcomes(_cfg(jsonl, missing="zero"))
    assert len(t.df) == 8 and t.models == MODELS


def test_split_is_avengerspros_own(jsonl, tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [_row("d", i, f"q{i}", [1, 0], [0.1, 0.1]) for i in (9, 2, 5, 0, 7, 1, 3, 8, 6, 4)]
    p = tmp_path / "ten.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    df = load_avengerspro(_cfg(p, split_protocol="avengerspro")).df
    split = dict(zip(df["query"], df["split"]))
    # what AvengersPro does (simple_cluster_router.py load_and_split_data): rows sorted by index,
    # HF train_test_split(train_size=0.7, seed=42, shuffle=True) -- run here by `datasets` itself
    by_index = datasets.Dataset.from_list(sorted(rows, key=lambda r: r["index"]))
    hf = by_index.train_test_split(train_size=0.7, seed=42, shuffle=True)
    assert {q: "train" for q in hf["train"]["query"]} | {q: "test" for q in hf["test"]["query"]} == split
    train, test = hf_train_size_split(10, 0.7, 42)
    assert len(train) == 7 and len(test) == 3
    with pytest.raises(ConfigError, match="one side would be empty"):
        hf_train_size_split(1, 0.7, 42)


def test_bad_lines_are_named(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"query": "q", "records": {"m": 1.5}}) + "\n")
    with pytest.raises(OutcomeError, match=r"score 1.5"):
        load_avengerspro(_cfg(p))
    p.write_text(json.dumps({"query": "", "records": {"m": 1}}) + "\n")
    with pytest.raises(OutcomeError, match="non-empty string"):
        load_avengerspro(_cfg(p))
    p.write_text("\n".join(json.dumps({"query": "q", "dataset": "d", "index": 0, "records": {"m": 1}}) for _ in range(2)))
    with pytest.raises(OutcomeError, match="twice"):
        load_avengerspro(_cfg(p))
    p.write_text(json.dumps({"query": "q", "records": {"m": 1}}) + "\n")
    assert load_avengerspro(_cfg(p)).df["benchmark"].tolist() == ["default"]  # AvengersPro's default dataset
    with pytest.raises(ConfigError, match="Did you mean 'zero'"):
        load_avengerspro(_cfg(p, missing_cost="zer"))
