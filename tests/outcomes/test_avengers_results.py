"""Importers of what the reference implementation writes: its app's run results and its
rank-router artifacts (fixtures in fixtures/avengers_results/, built to the reference's writers)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.avengers_results import load_avengers_results, read_rank_router

FIX = Path(__file__).parent / "fixtures" / "avengers_results"
GPQA = FIX / "self_consistency" / "gpqa-20250101-120000.json"


def _cfg(path, **kw):
    return {"source": "avengers_results", "path": str(path), "missing": "error", **kw}


def test_vote_rows_are_the_references_decisions():
    t = load_outcomes(_cfg(GPQA))
    df = t.df.set_index("query_id")
    run = json.loads(GPQA.read_text())
    assert t.source == "avengers_results" and t.models == ["m1"] and t.benchmarks == ["gpqa"]
    assert len(df) == 3 and (df["sample"] == 0).all() and df["cost"].isna().all() and df["split"].isna().all()
    for r in run["records"]:
        row = df.loc[hashlib.sha256(r["query"].encode()).hexdigest()[:16]]
        assert row["answer"] == r["prediction"] and row["score"] == float(r["is_correct"])
        assert row["query"] == r["query"]  # the prompt
    assert df["score"].mean() == pytest.approx(run["performance"])  # the run's own accuracy
    assert dict(t.files) == {str(GPQA): hashlib.sha256(GPQA.read_bytes()).hexdigest()}


def test_all_samples_are_graded_like_the_vote():
    df = load_avengers_results(_cfg(GPQA, samples="all")).df
    assert len(df) == 9 and sorted(df["sample"].unique()) == [0, 1, 2]
    by = {(q, s): (None if pd.isna(a) else a, sc) for q, s, a, sc in zip(df["query"], df["sample"], df["answer"], df["score"])}
    q_small = next(q for q in df["query"] if "smallest" in q)
    assert [by[(q_small, k)] for k in range(3)] == [("A", 0.0), (None, 0.0), ("D", 1.0)]  # D regraded against gold
    q_even = next(q for q in df["query"] if "even" in q)
    assert [by[(q_even, k)][1] for k in range(3)] == [1.0, 1.0, 1.0]  # "c" votes (and grades) with "C"


def test_code_and_multi_model_runs(tmp_path):
    df = load_avengers_results(_cfg(FIX, benchmark_names="harness")).df
    assert sorted(df["benchmark"].unique()) == ["gpqa", "mbpp", "mmlu_pro"]  # mmlupro -> mmlu_pro
    assert sorted(df["model"].unique()) == ["m1", "m1+m2"]  # the aggregation run's experts
    mb = df[df["benchmark"] == "mbpp"].iloc[0]
    assert mb["score"] == 1.0 and mb["answer"].startswith("import math")  # sample 0's graded program
    raw = load_avengers_results(_cfg(FIX, benchmark_names="reference", model="avengers")).df
    assert sorted(raw["benchmark"].unique()) == ["gpqa", "mbpp", "mmlupro"] and set(raw["model"]) == {"avengers"}
    with pytest.raises(ConfigError, match="keeps only the vote's for 'mbpp'"):
        load_avengers_results(_cfg(FIX / "direct", samples="all"))
    # the same queries twice (two runs of one task and model) are refused
    (tmp_path / "a").mkdir()
    for name in ("gpqa-1.json", "gpqa-2.json"):
        (tmp_path / "a" / name).write_text(GPQA.read_text())
    with pytest.raises(OutcomeError, match="more than one record"):
        load_avengers_results(_cfg(tmp_path / "a"))


def test_task_from_the_file_name_and_bad_files(tmp_path):
    run = json.loads(GPQA.read_text())
    del run["config"]
    p = tmp_path / "medqa-exp-20250101-000000.json"
    p.write_text(json.dumps(run))
    assert load_avengers_results(_cfg(p)).df["benchmark"].unique().tolist() == ["medqa"]
    p.write_text(json.dumps({"performance": 1}))
    with pytest.raises(OutcomeError, match="no 'records' list"):
        load_avengers_results(_cfg(p))
    p.write_text(json.dumps({"records": [{"uid": "1", "messages": []}]}))  # ArenaHard's shape
    with pytest.raises(OutcomeError, match="no per-record grade"):
        load_avengers_results(_cfg(p))
    with pytest.raises(ConfigError, match="data.path is not set"):
        load_avengers_results({"path": "???"})
    with pytest.raises(ConfigError, match="Did you mean 'vote'"):
        load_avengers_results(_cfg(GPQA, samples="vot"))


# ------------------------------------------------------------------ rank-router artifacts
def _artifacts(tmp_path):
    """Written as generate_rank_router.py writes them (:423-436): json.dump(indent=2), np.save."""
    rankings = {
        0: {"total": 4, "scores": {"M01": {"correct": 3, "total": 4, "accuracy": 0.75},
                                   "M22": {"correct": 1, "total": 4, "accuracy": 0.25}}, "ranking": ["M01", "M22"]},
        1: {"total": 2, "scores": {"M01": {"correct": 0, "total": 2, "accuracy": 0.0},
                                   "M22": {"correct": 2, "total": 2, "accuracy": 1.0}}, "ranking": ["M22", "M01"]},
    }
    r = tmp_path / "ranking_split_k2_m22.json"
    r.write_text(json.dumps(rankings, indent=2))
    c = tmp_path / "ranking_centers_split_k2_m22.npy"
    np.save(c, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    m = tmp_path / "map_m22.json"
    m.write_text(json.dumps({"fin-r1-index": "M01", "DeepSeek-R1-Distill-Qwen-7B": "M22"}, indent=2))
    return r, c, m, rankings


def test_rank_router_artifacts(tmp_path):
    r, c, m, rankings = _artifacts(tmp_path)
    router = read_rank_router(r, c, m)
    assert router.centres.shape == (2, 3) and list(router.clusters) == [0, 1]
    assert router.clusters[1].ranking == ("M22", "M01") and router.clusters[0].accuracy("M01") == 0.75
    assert router.mapping == {"M01": "fin-r1-index", "M22": "DeepSeek-R1-Distill-Qwen-7B"}  # either direction
    table = router.accuracy_table()
    assert list(table.columns) == ["fin-r1-index", "DeepSeek-R1-Distill-Qwen-7B"]
    assert table.loc[1].tolist() == [0.0, 1.0]
    # broken artifacts: one clear error each
    bad = dict(rankings)
    bad[1] = {**rankings[1], "ranking": ["M01", "M22"]}
    r.write_text(json.dumps(bad))
    with pytest.raises(OutcomeError, match="not by accuracy"):
        read_rank_router(r, c)
    bad[1] = {**rankings[1], "ranking": ["M22"]}
    r.write_text(json.dumps(bad))
    with pytest.raises(OutcomeError, match="ranking lists"):
        read_rank_router(r, c)
    r.write_text(json.dumps({5: rankings[0]}))
    with pytest.raises(OutcomeError, match="no such row"):
        read_rank_router(r, c)
    np.save(c, np.zeros(3))
    with pytest.raises(OutcomeError, match="K x D"):
        read_rank_router(r, c)
