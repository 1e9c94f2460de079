"""Avengers router-training format importer (released_data.md §2.2-2.3) on files built here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes import avengers_format as av

IDS = ["M01", "M02", "M22"]


def rows_fixture() -> list[dict]:
    """Two datasets, interleaved in file order: mmlupro has 10 rows, aime 7."""
    rows = []
    for i in range(10):
        rows.append({
            "query": f"mmlu question {i}", "dataset": "mmlupro",
            "records": {"M01": i % 2 == 0, "M02": 1 if i % 3 == 0 else 0, "M22": True},
            "frequency": {"M01": 0.9, "M02": 0.4, "M22": 1.0},
        })
        if i < 7:
            rows.append({"query": f"aime question {i}", "dataset": "aime", "records": {"M01": False, "M02": True, "M22": i % 2}})
    return rows


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def cfg(path, **kw):
    base = {"source": "avengers_format", "path": str(path), "missing": "error"}
    base.update(kw)
    return base


@pytest.fixture
def jsonl(tmp_path):
    return write_jsonl(tmp_path / "train.jsonl", rows_fixture())


def test_numpy_permutation_matches_hf_example():
    # released_data.md §2.2: HF train_test_split(test_size=0.3, seed=42) on n=10 gives test=[5, 6, 0]
    assert np.random.default_rng(42).permutation(10)[:3].tolist() == [5, 6, 0]
    train, test = av.hf_train_test_split(10, 0.3, 42)
    assert test.tolist() == [5, 6, 0]
    assert sorted(train.tolist()) == [1, 2, 3, 4, 7, 8, 9]
    assert train.tolist() == np.random.default_rng(42).permutation(10)[3:].tolist()  # permutation order


def test_hf_split_sizes_and_empty_side():
    for n in (2, 3, 7, 11, 100):
        train, test = av.hf_train_test_split(n, 0.3, 0)
        assert len(test) == math.ceil(0.3 * n) and len(train) + len(test) == n
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))
    with pytest.raises(ConfigError, match="empty"):
        av.hf_train_test_split(1, 0.3, 42)


def test_jsonl_table_with_code_names(jsonl):
    t = load_outcomes(cfg(jsonl))
    df = t.df
    assert t.benchmarks == ["aime", "mmlupro"]
    assert t.models == sorted(av.MODEL_NAMES[m] for m in IDS)
    assert len(df) == (10 + 7) * 3
    assert (df["sample"] == 0).all() and df["split"].isna().all() and df["answer"].isna().all() and df["cost"].isna().all()
    q0 = df[(df.benchmark == "mmlupro") & (df["query"] == "mmlu question 0")].set_index("model")["score"]
    assert q0.to_dict() == {"fin-r1-index": 1.0, "glm-4-9b-index": 1.0, "DeepSeek-R1-Distill-Qwen-7B": 1.0}
    q1 = df[(df.benchmark == "mmlupro") & (df["query"] == "mmlu question 1")].set_index("model")["score"]
    assert q1["fin-r1-index"] == 0.0 and q1["glm-4-9b-index"] == 0.0
    assert set(df.columns) == {"benchmark", "query_id", "query", "model", "sample", "score", "answer", "cost", "split"}
    assert list(t.files) == [str(jsonl)]


def test_json_array_equals_jsonl(jsonl, tmp_path):
    arr = tmp_path / "train.json"
    arr.write_text(json.dumps(rows_fixture(), indent=2))
    pd.testing.assert_frame_equal(load_outcomes(cfg(jsonl)).df, load_outcomes(cfg(arr)).df)


def test_model_names_id(jsonl):
    df = load_outcomes(cfg(jsonl, model_names="id")).df
    assert sorted(df.model.unique()) == IDS


def test_model_map_is_the_spec_table():
    assert len(av.MODEL_NAMES) == 22 and list(av.MODEL_NAMES) == [f"M{i:02d}" for i in range(1, 23)]
    assert av.MODEL_NAMES["M16"] == "Granite-3.1-8B-Instruct" and av.MODEL_NAMES["M08"] == "medreason_8b_index"


def test_unknown_model_id_is_an_error(tmp_path):
    p = write_jsonl(tmp_path / "x.jsonl", [{"query": "q", "dataset": "d", "records": {"M01": True, "M23": False}}])
    with pytest.raises(OutcomeError, match="M23.*model_names=id"):
        load_outcomes(cfg(p))
    df = load_outcomes(cfg(p, model_names="id", missing="zero")).df
    assert sorted(df.model) == ["M01", "M23"]


def test_missing_model_is_a_missing_outcome(tmp_path):
    rows = rows_fixture()
    del rows[0]["records"]["M02"]  # absent
    rows[2]["records"]["M22"] = None  # null (Arrow union of keys)
    p = write_jsonl(tmp_path / "x.jsonl", rows)
    with pytest.raises(OutcomeError, match="data.missing"):
        load_outcomes(cfg(p))
    zero = load_outcomes(cfg(p, missing="zero")).df
    r0 = zero[zero["query"] == "mmlu question 0"].set_index("model")["score"]
    assert r0["glm-4-9b-index"] == 0.0  # what the Avengers code does: records.get(m, False)
    drop = load_outcomes(cfg(p, missing="drop_query"))
    assert drop.dropped_queries == {"mmlupro": 2}


def test_bad_values_are_errors(tmp_path):
    for bad in (0.5, "yes", 2):
        p = write_jsonl(tmp_path / "x.jsonl", [{"query": "q", "dataset": "d", "records": {"M01": bad}}])
        with pytest.raises(OutcomeError, match="true/false or 0/1"):
            load_outcomes(cfg(p))
    for row, what in (({"dataset": "d", "records": {"M01": 1}}, "query"), ({"query": "q", "records": {"M01": 1}}, "dataset"),
                      ({"query": "q", "dataset": "d", "records": {}}, "records")):
        p = write_jsonl(tmp_path / "y.jsonl", [row])
        with pytest.raises(OutcomeError, match=what):
            load_outcomes(cfg(p))
    p = tmp_path / "z.jsonl"
    p.write_text('{"query": "q", "dataset": "d", "records": {"M01": 1}}\n{not json\n')
    with pytest.raises(OutcomeError, match="line 2"):
        load_outcomes(cfg(p))


def test_frequency_is_dropped(jsonl):
    df = load_outcomes(cfg(jsonl)).df
    assert "frequency" not in df.columns


def test_query_ids_unique_and_stable(jsonl, tmp_path):
    df = load_outcomes(cfg(jsonl)).df
    assert df.groupby("benchmark")["query_id"].nunique().to_dict() == {"aime": 7, "mmlupro": 10}
    m = df[(df.benchmark == "mmlupro") & (df["query"] == "mmlu question 4")]
    assert set(m.query_id) == {"00004-" + __import__("hashlib").sha256(b"mmlu question 4").hexdigest()[:8]}
    # a duplicated query text inside a dataset stays two queries
    p = write_jsonl(tmp_path / "dup.jsonl", [{"query": "same", "dataset": "d", "records": {"M01": 1}}] * 2)
    assert load_outcomes(cfg(p)).df.query_id.nunique() == 2


def test_split_protocol_avengers(jsonl):
    df = load_outcomes(cfg(jsonl, split_protocol="avengers")).df
    # expectations from numpy directly: per dataset, positions in file order within the dataset
    for ds, n, prefix in (("mmlupro", 10, "mmlu question "), ("aime", 7, "aime question ")):
        perm = np.random.default_rng(42).permutation(n)
        n_test = math.ceil(0.3 * n)
        want_test = {f"{prefix}{j}" for j in perm[:n_test]}
        got = df[df.benchmark == ds].drop_duplicates("query").set_index("query")["split"]
        assert {q for q, s in got.items() if s == "test"} == want_test
        assert (got != "test").sum() == n - n_test and set(got) == {"train", "test"}
    mm = df[df.benchmark == "mmlupro"].drop_duplicates("query").set_index("query")["split"]
    assert {q for q, s in mm.items() if s == "test"} == {"mmlu question 5", "mmlu question 6", "mmlu question 0"}


def test_split_protocol_avengers_seed_and_size(jsonl):
    df = load_outcomes(cfg(jsonl, split_protocol="avengers", split_seed=7, test_size=0.5)).df
    perm = np.random.default_rng(7).permutation(10)
    got = df[df.benchmark == "mmlupro"].drop_duplicates("query").set_index("query")["split"]
    assert {q for q, s in got.items() if s == "test"} == {f"mmlu question {j}" for j in perm[:5]}


def test_split_membership_ignores_other_datasets(jsonl, tmp_path):
    """Filtering keeps file order inside a dataset, so membership does not depend on the others."""
    only = load_outcomes(cfg(jsonl, split_protocol="avengers", datasets=["aime"])).df
    both = load_outcomes(cfg(jsonl, split_protocol="avengers")).df
    pd.testing.assert_frame_equal(only, both[both.benchmark == "aime"].reset_index(drop=True))


def test_filters(jsonl):
    df = load_outcomes(cfg(jsonl, datasets=["mmlupro"], models=["M01", "DeepSeek-R1-Distill-Qwen-7B"])).df
    assert set(df.benchmark) == {"mmlupro"} and set(df.model) == {"fin-r1-index", "DeepSeek-R1-Distill-Qwen-7B"}
    with pytest.raises(ConfigError, match="mmlu_pro.*Did you mean"):
        load_outcomes(cfg(jsonl, datasets=["mmlu_pro"]))
    with pytest.raises(ConfigError, match="M03"):
        load_outcomes(cfg(jsonl, models=["M03"]))


def test_bad_options(jsonl):
    with pytest.raises(ConfigError, match="model_names"):
        load_outcomes(cfg(jsonl, model_names="hf"))
    with pytest.raises(ConfigError, match="split_protocol"):
        load_outcomes(cfg(jsonl, split_protocol="hf"))
    with pytest.raises(ConfigError, match="data.path"):
        load_outcomes({"source": "avengers_format", "path": None})


def test_hydra_config():
    from omegaconf import OmegaConf

    c = OmegaConf.load(Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf" / "data" / "avengers_format.yaml")
    assert c.source == "avengers_format" and c.model_names == "code" and c.split_protocol == "harness"
