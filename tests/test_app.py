"""`avengers-run` end to end on real released outcomes, as a user runs it (subprocess, Hydra CLI).

TF-IDF keeps these fast; the MiniLM default is exercised in test_minilm_real.py.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from support import run_cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SMALL = ["embedder=tfidf", "embedder.n_components=64", "clustering.n_clusters=8",
         "data.max_queries_per_benchmark=120"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, data_root):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out")
    proc = run_cli(SMALL, cache=cache, out=out, data_root=data_root)
    return cache, out, proc


def metrics_path(out):
    found = list(out.rglob("metrics.json"))
    assert len(found) == 1, found
    return found[0]


def test_metrics_layout_and_baselines(first_run):
    _, out, proc = first_run
    m = json.loads(metrics_path(out).read_text())
    assert set(m["benchmarks"]) == {"mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval",
                                    "math_prealgebra", "mbpp", "ceval"}
    assert m["benchmarks"]["ceval"]["split"] == "ood" and m["benchmarks"]["mmlu"]["split"] == "id"
    keys = set(m["benchmarks"]["mmlu"]["scores"])
    assert {"avengers", "random", "best_single", "dataset_oracle", "oracle"} <= keys
    assert sum(k.startswith("model:") for k in keys) == 7
    for b in m["benchmarks"].values():
        s = b["scores"]
        singles = [v for k, v in s.items() if k.startswith("model:")]
        assert s["oracle"] >= max(singles) - 1e-9 and s["dataset_oracle"] == pytest.approx(max(singles))
        assert s["random"] == pytest.approx(sum(singles) / len(singles))
        assert min(singles) - 1e-9 <= s["avengers"] <= s["oracle"] + 1e-9
    assert set(m["averages"]) == {"id", "ood"}
    assert m["config"]["clustering"]["n_clusters"] == 8 and m["config"]["seed"] == 0
    prov = m["provenance"]
    assert prov["git_commit"] and prov["packages"]["scikit-learn"] and len(prov["data"]) == 13
    assert all(not k.startswith("/") for k in prov["data"])  # relative to the data root
    assert "avengers" in proc.stdout and "best_single" in proc.stdout  # the readable table


def test_predictions_parquet(first_run):
    _, out, _ = first_run
    pred = pd.read_parquet(metrics_path(out).parent / "predictions.parquet")
    assert {"benchmark", "query_id", "query", "router", "model", "answer", "score"} <= set(pred.columns)
    m = json.loads(metrics_path(out).read_text())
    for bench, info in m["benchmarks"].items():
        sub = pred[(pred.benchmark == bench) & (pred.router == "avengers")]
        assert len(sub) == info["n_test"]
        assert sub["score"].mean() * 100 == pytest.approx(info["scores"]["avengers"])
        assert sub["model"].notna().all()


def test_identical_runs_identical_bytes_and_warm_run_embeds_nothing(first_run, tmp_path, data_root):
    cache, out, _ = first_run
    out2 = tmp_path / "out2"
    proc = run_cli(SMALL, cache=cache, out=out2, data_root=data_root)
    # No path in metrics.json: another output folder writes the same bytes.
    assert metrics_path(out2).read_bytes() == metrics_path(out).read_bytes()
    assert "embedded 0 new texts" in proc.stderr + proc.stdout
    assert "clustering from cache: True" in proc.stderr + proc.stdout


def test_finished_job_is_skipped(first_run, data_root):
    cache, out, _ = first_run
    before = metrics_path(out).stat().st_mtime_ns
    proc = run_cli(SMALL, cache=cache, out=out, data_root=data_root)
    assert "skipped" in proc.stderr + proc.stdout
    assert metrics_path(out).stat().st_mtime_ns == before


@pytest.mark.parametrize("args, message", [
    (["data=routerdcc"], "Unknown data 'routerdcc'. Did you mean 'routerdc'"),
    (["embedder=minilmm"], "Did you mean 'minilm'"),
    (["clustering=kmean"], "Did you mean 'kmeans'"),
    (SMALL[:2] + ["clustering.n_clusters=5000", "data.max_queries_per_benchmark=50"],
     "n_clusters=5000 is larger than the calibration set"),
    (SMALL + ["data.benchmarks=[mmlu,gsm8kk]"], "Unknown benchmark 'gsm8kk'.*Did you mean 'gsm8k'"),
])
def test_bad_input_fails_with_one_clear_message(args, message, tmp_path, data_root, shared_cache):
    import re

    proc = run_cli(args, cache=shared_cache, out=tmp_path, data_root=data_root, check=False)
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert re.search(message, err[-1]), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_canonical_file_with_ood(tmp_path, data_root, shared_cache):
    """data=outcomes on a file written in the canonical schema (here: RouterBench exported)."""
    from omegaconf import OmegaConf

    from avengers.outcomes import load_outcomes
    from avengers.outcomes.schema import write_outcomes

    cfg = OmegaConf.load(__file__.rsplit("/tests/", 1)[0] + "/src/avengers/conf/data/routerbench.yaml")
    cfg.root = str(data_root)
    df = load_outcomes(cfg).df.assign(split=None)  # let the harness split
    path = tmp_path / "rb.parquet"
    write_outcomes(df, path)
    out = tmp_path / "out"
    run_cli(["data=outcomes", f"data.path={path}", "data.ood=[mbpp]", "embedder=tfidf",
             "embedder.n_components=32", "clustering.n_clusters=4"], cache=shared_cache, out=out, data_root=data_root)
    m = json.loads(next(out.rglob("metrics.json")).read_text())
    assert m["benchmarks"]["mbpp"]["split"] == "ood" and m["benchmarks"]["mbpp"]["n_test"] == 299 + 128
    assert m["benchmarks"]["arc_challenge"]["split"] == "id"
    assert m["cost"]["avengers"] > 0


def test_full_routerdc_job_reproduces_every_single_model_score(tmp_path, data_root, shared_cache):
    """`avengers-run` on the whole release: every model:<name> cell equals the data README's table."""
    from test_routerdc_real import COLUMNS, README_TABLE

    run_cli(["embedder=tfidf", "embedder.n_components=64", "clustering.n_clusters=16"], cache=shared_cache,
            out=tmp_path, data_root=data_root)
    m = json.loads(metrics_path(tmp_path).read_text())
    for model, row in README_TABLE.items():
        for bench, expected in zip(COLUMNS, row):
            assert m["benchmarks"][bench]["scores"][f"model:{model}"] == pytest.approx(expected, abs=0.005 + 1e-9)
    assert m["benchmarks"]["mmlu"]["n_test"] == 4213 and m["benchmarks"]["ceval"]["n_test"] == 1346
    assert m["selection"]["best_single"] == "cognitivecomputations/dolphin-2.9-llama3-8b"
