"""The whole recipe on a tiny canonical file whose right routing is known: runs without the
shared data, and asserts exact scores (not merely that something ran)."""

from __future__ import annotations

import json

import pytest

from avengers.pipeline import run_job
from tests.support import compose_cfg

# Two benchmarks with disjoint vocabularies; model "a" solves every algebra query and no
# botany query, model "b" the reverse, model "c" gets every third query of both right (2 of the 5 test queries).
WORDS = {"algebra": "matrix vector eigenvalue determinant", "botany": "petal stamen chlorophyll pollen"}


def write_outcomes(path):
    rows = []
    for bench, words in WORDS.items():
        for i in range(20):
            qid = f"{bench}-{i:02d}"
            split = "test" if i % 4 == 0 else "train"  # 5 test, 15 calibration queries per benchmark
            scores = {"a": float(bench == "algebra"), "b": float(bench == "botany"), "c": float(i % 3 == 0)}
            for model, score in scores.items():
                rows.append({"benchmark": bench, "query_id": qid, "query": f"{words} question {i}",
                             "model": model, "sample": 0, "score": score, "split": split})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture()
def job(tmp_path):
    data = tmp_path / "outcomes.jsonl"
    write_outcomes(data)
    cfg = compose_cfg(["debug=tiny", "data=outcomes", f"data.path={data}", "clustering.n_clusters=2",
                       "embedder.n_components=2", "data.max_queries_per_benchmark=null"],
                      cache=tmp_path / "cache", data_root=tmp_path)
    return run_job(cfg).metrics


def test_routing_finds_each_benchmarks_expert(job):
    for bench in WORDS:
        s = job["benchmarks"][bench]["scores"]
        assert job["benchmarks"][bench]["n_test"] == 5
        assert s["avengers"] == 100.0
        assert s["oracle"] == 100.0
        assert s["random"] == pytest.approx(100 * (1 + 0 + 2 / 5) / 3)  # c: test ids 0 and 12 of 0,4,8,12,16
        assert s["model:c"] == pytest.approx(40.0)
    # a and b tie on calibration (50 each; c has 5 of 15 = 33.3): the tie goes to the first model, a.
    assert job["selection"]["best_single"] == "a"
    assert job["benchmarks"]["algebra"]["scores"]["best_single"] == 100.0
    assert job["benchmarks"]["botany"]["scores"]["best_single"] == 0.0
    assert job["averages"]["id"]["avengers"] == 100.0
    assert job["averages"]["id"]["best_single"] == 50.0
    assert job["selection"]["n_clusters"] == 2
