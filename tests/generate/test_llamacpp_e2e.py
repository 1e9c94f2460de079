"""End to end against a real llama.cpp server (gemma 3 270M): scripts/ci_llamacpp.sh starts it.

Runs ``avengers-generate`` from the command line on a few items of two real benchmarks
(MATH-500 and ARC-Challenge, in their published formats) and of the ``e2e_words`` stand-in
(fixtures/e2e/words.py) with n=3 samples, checks the outcome file with the ``outcomes`` data
source, then runs the recipe on it. Gemma 3 270M scores 0 on the real benchmarks whatever the
CPU, so the word tasks are where the two pool members differ and the router has something to
learn. Skipped unless LLAMACPP_BASE_URL is set.
"""

from __future__ import annotations

import os
import subprocess

import httpx
import pandas as pd
import pytest
from collect_helpers import E2E, cli, env

from avengers.generate.store import GenerationStore
from avengers.outcomes import load_outcomes

pytestmark = pytest.mark.llamacpp

N_ITEMS, N = 4, 3
BENCHMARKS = ["arc_challenge", "e2e_words", "math500"]


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("LLAMACPP_BASE_URL")
    if not url:
        pytest.skip("no llama.cpp server: run scripts/ci_llamacpp.sh (sets LLAMACPP_BASE_URL)")
    r = httpx.get(url.rstrip("/") + "/models", timeout=10)
    assert r.status_code == 200, r.text
    return url


def _collect(base_url: str, work) -> subprocess.CompletedProcess:
    cmd = cli() + [
        "pool=local_gemma_pair",
        "benchmark=paper15",
        "benchmark.names=[math500,arc_challenge,e2e_words]",
        f"benchmark.sources.math500.path={E2E / 'math500.jsonl'}",
        f"benchmark.sources.arc_challenge.path={E2E / 'arc_challenge.jsonl'}",
        f"+benchmark.sources.e2e_words.path={E2E / 'words.jsonl'}",
        f"benchmark.limit={N_ITEMS}",
        "imports=[words]",
        "backend=openai",
        f"backend.base_url={base_url}",
        "backend.concurrency=2",
        f"sampling.n={N}",
        "sampling.max_tokens=48",
        f"work_dir={work}",
        f"output={work / 'outcomes.parquet'}",
        "progress=false",
    ]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1200)


def test_collect_against_llamacpp(base_url, tmp_path):
    p = _collect(base_url, tmp_path)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-4000:]
    out = tmp_path / "outcomes.parquet"
    table = load_outcomes({"source": "outcomes", "path": str(out), "missing": "error"})
    df = table.df
    assert table.models == ["gemma-3-270m", "gemma-3-270m-completion"]  # chat and raw completion
    assert table.benchmarks == BENCHMARKS
    n_rows = 2 * len(BENCHMARKS) * N_ITEMS * N
    assert len(df) == n_rows
    assert df.groupby(["benchmark", "query_id", "model"]).size().eq(N).all()
    assert sorted(df["sample"].unique()) == list(range(N))
    assert df["score"].isin([0.0, 1.0]).all()
    assert (df["cost"] == 0.0).all()  # local server, price 0
    # llama.cpp answers one choice whatever n is: the backend learned it and went sample by sample
    assert "answered 1 of n=3 choices" in log
    with GenerationStore(tmp_path / "generations.sqlite") as st:
        rows = st.rows(("benchmark", "query_id", "sample", "text", "completion_tokens", "finish_reason"))
    assert len(rows) == n_rows
    assert all(t and ct and ct > 0 for _b, _q, _s, t, ct, _f in rows)

    # a rerun finds every sample stored: nothing generated, same outcome file
    before = out.read_bytes()
    p = _collect(base_url, tmp_path)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert (p.stdout + p.stderr).count(f": 0 of {len(BENCHMARKS) * N_ITEMS * N} samples to generate") == 2  # per model
    assert out.read_bytes() == before

    # ... and the recipe runs on it: avengers-run data=outcomes, voting over the 3 real samples.
    import json
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "avengers.run", "tracking=disabled", "data=outcomes", f"data.path={out}",
         "embedder=tfidf", "clustering.n_clusters=2", "ensemble=self_consistency", "name=llamacpp_e2e"],
        env={**env(), "AVENGERS_OUTPUT_DIR": str(tmp_path / "runs"), "AVENGERS_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    metrics = json.loads(next((tmp_path / "runs").rglob("metrics.json")).read_text())
    assert set(metrics["benchmarks"]) == set(BENCHMARKS)
    scores = metrics["benchmarks"]["math500"]["scores"]
    assert {"model:gemma-3-270m", "model:gemma-3-270m-completion", "avengers"} <= set(scores)
    # the raw completion endpoint follows the few-shot word pattern, the chat one echoes it: the
    # router learned that on the calibration half and sends every word query to the former
    words = df[df["benchmark"] == "e2e_words"].groupby("model")["score"].mean()
    assert words["gemma-3-270m-completion"] > words["gemma-3-270m"], words
    pred = pd.read_parquet(next((tmp_path / "runs").rglob("predictions.parquet")))
    routed = pred[(pred["router"] == "avengers") & (pred["benchmark"] == "e2e_words")]["model"]
    assert len(routed) > 0 and (routed == "gemma-3-270m-completion").all(), routed.tolist()


def test_aggregator_against_llamacpp(base_url, tmp_path):
    """The LLM aggregator step end to end on the real server: gemma answers, then gemma (under
    another outcome name) aggregates its own answers; the rows load as an outcome table."""
    cmd = cli() + [
        "pool=local_gemma",
        "benchmark=paper15",
        "benchmark.names=[math500]",
        f"benchmark.sources.math500.path={E2E / 'math500.jsonl'}",
        "benchmark.limit=2",
        "backend=openai",
        f"backend.base_url={base_url}",
        "sampling.n=2",
        "sampling.max_tokens=48",
        "aggregate=reference",
        "aggregate.model={name: gemma-agg, api_model: gemma-3-270m, price_input: 0.0, price_output: 0.0}",
        "aggregate.experts=[gemma-3-270m]",
        "aggregate.n_experts=1",
        "aggregate.max_new_tokens=48",
        f"work_dir={tmp_path}",
        f"output={tmp_path / 'outcomes.parquet'}",
        "progress=false",
    ]
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    agg = load_outcomes({"source": "outcomes", "path": str(tmp_path / "outcomes_aggregated.parquet"), "missing": "error"})
    assert agg.models == ["aggregator:gemma-agg"] and len(agg.df) == 2
    assert agg.df["score"].isin([0.0, 1.0]).all() and (agg.df["cost"] == 0.0).all()
    with GenerationStore(tmp_path / "generations.sqlite") as st:
        rows = st.rows(("model", "text"))
    assert sum(m == "aggregator:gemma-agg" and bool(t) for m, t in rows) == 2
    before = (tmp_path / "outcomes_aggregated.parquet").read_bytes()
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0 and (tmp_path / "outcomes_aggregated.parquet").read_bytes() == before
