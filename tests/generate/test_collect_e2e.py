"""avengers-generate end to end against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from collect_helpers import ARITH, E2E, cfg, cli, env, overrides

from avengers.generate.app import collect
from avengers.generate.backends import BackendError
from avengers.generate.store import GenerationStore
from avengers.errors import ConfigError
from avengers.outcomes.schema import COLUMNS, read_outcomes, validate


def test_config_defaults_are_the_papers():
    c = cfg(["~benchmark", "+benchmark={names:[e2e_arith]}"])
    assert c.pool.name == "paper10" and len(c.pool.models) == 10
    assert c.backend.name == "vllm" and c.backend.generation_config == "vllm"
    assert (c.sampling.n, c.sampling.temperature, c.sampling.top_p) == (10, 0.7, 1.0)
    assert c.sampling.max_tokens == 32768  # room for reasoning models; the reference sets no limit
    assert c.sampling_profile == "self_consistency" and c.aggregate is None and c.allow_unpinned is False
    d = cfg(["~benchmark", "+benchmark={names:[e2e_arith]}", "sampling=direct"])
    assert (d.sampling.n, d.sampling.temperature) == (1, 0.2) and d.output.endswith("_direct.parquet")
    assert set(d.prompt_suffix_by_model) == {"Distill", "EXAOME"}
    ids = {m.hf_id for m in c.pool.models}
    assert "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B" in ids and "ibm-granite/granite-3.1-8b-instruct" in ids


def test_collect_writes_a_valid_outcome_table(fake_server, standin, tmp_path):
    srv = fake_server()
    df = collect(cfg(overrides(srv.base_url, tmp_path)))
    out = tmp_path / "out.jsonl"
    assert out.exists()
    raw = read_outcomes(out)
    assert list(raw.columns) == list(COLUMNS)
    table = validate(raw)
    assert len(table) == 6 * 3
    assert set(table["model"]) == {"gemma-3-270m"}
    assert sorted(table["sample"].unique()) == [0, 1, 2]
    assert table["split"].isna().all()
    assert (table["cost"] == 0.0).all()  # local_gemma: price 0
    items = {it.query_id: it for it in standin.SPEC.load(source={"path": str(ARITH)}, limit=6)}
    for r in table.itertuples():
        assert r.query == items[r.query_id].query
        assert r.score == float(r.answer is not None and int(r.answer) == items[r.query_id].gold)
    assert 0 < table["score"].mean() < 1
    pd.testing.assert_frame_equal(df, table)
    from avengers.outcomes import load_outcomes

    loaded = load_outcomes({"source": "outcomes", "path": str(out), "missing": "error"})
    assert len(loaded.df) == 18


def test_rerun_generates_nothing_and_writes_the_same_bytes(fake_server, standin, tmp_path):
    srv = fake_server()
    ovr = overrides(srv.base_url, tmp_path)
    collect(cfg(ovr))
    first = (tmp_path / "out.jsonl").read_bytes()
    sent = len(srv.requests)
    collect(cfg(ovr))
    assert len(srv.requests) == sent
    assert (tmp_path / "out.jsonl").read_bytes() == first


def test_more_samples_reuse_the_stored_ones(fake_server, standin, tmp_path):
    srv = fake_server()
    collect(cfg(overrides(srv.base_url, tmp_path, n=3)))
    small = read_outcomes(tmp_path / "out.jsonl")
    srv.requests.clear()
    collect(cfg(overrides(srv.base_url, tmp_path, n=5)))
    assert sorted((r["n"], r["seed"]) for r in srv.requests) == [(2, 3)] * 6
    big = read_outcomes(tmp_path / "out.jsonl")
    assert len(big) == 6 * 5
    pd.testing.assert_frame_equal(big[big["sample"] < 3].reset_index(drop=True), small)


def test_new_sampling_settings_mean_new_samples(fake_server, standin, tmp_path):
    srv = fake_server()
    collect(cfg(overrides(srv.base_url, tmp_path)))
    srv.requests.clear()
    collect(cfg(overrides(srv.base_url, tmp_path) + ["sampling.temperature=0.2"]))
    assert len(srv.requests) == 6 and all(r["temperature"] == 0.2 for r in srv.requests)
    with GenerationStore(tmp_path / "generations.sqlite") as st:
        assert st.count() == 2 * 6 * 3  # the earlier samples are kept


def test_several_models_and_prices(fake_server, standin, tmp_path):
    srv = fake_server()
    ovr = overrides(srv.base_url, tmp_path, limit=3, output="out.parquet") + [
        "pool.models=[{name: small, price_input: 1.0, price_output: 2.0}, {name: big}]",
        "pool.name=two",
    ]
    df = collect(cfg(ovr))
    assert sorted(df["model"].unique()) == ["big", "small"]
    assert df[df["model"] == "big"]["cost"].isna().all()
    assert (df[df["model"] == "small"]["cost"] > 0).all()
    assert {r["model"] for r in srv.requests} == {"small", "big"}
    pd.testing.assert_frame_equal(validate(read_outcomes(tmp_path / "out.parquet")), df)


def test_bad_output_suffix_fails_before_generating(fake_server, standin, tmp_path):
    srv = fake_server()
    with pytest.raises(ConfigError, match="parquet or .jsonl"):
        collect(cfg(overrides(srv.base_url, tmp_path, output="out.csv")))
    assert srv.attempts == 0


def test_command_line(fake_server, tmp_path):
    srv = fake_server()
    ovr = overrides(srv.base_url, tmp_path, limit=2, n=2)
    p = subprocess.run(cli() + ovr, env=env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert len(read_outcomes(tmp_path / "out.jsonl")) == 4
    bad = [o for o in ovr if not o.startswith("+benchmark")] + ["+benchmark={names:[e2e_arihm]}"]
    p = subprocess.run(cli() + bad, env=env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "e2e_arith" in p.stderr  # did you mean


TWO_MODELS = [
    "pool.models=[{name: a, hf_id: org/a}, {name: b, hf_id: org/b, trust_remote_code: true, engine: {enforce_eager: true}}]",
    "pool.name=two",
]


def test_vllm_backend_one_process_per_model(fake_server, standin, tmp_path, monkeypatch):
    """backend=vllm with a stand-in `vllm` package: one spawned engine per model, same samples as HTTP."""
    monkeypatch.syspath_prepend(str(E2E / "fake_vllm"))  # spawned children inherit sys.path
    log = tmp_path / "engines.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    base = [o for o in overrides("unused", tmp_path / "vllm", limit=4, n=3) if not o.startswith("backend")]
    df = collect(cfg(base + TWO_MODELS + ["backend=vllm", "backend.chunk_size=3"]))
    assert "vllm" not in sys.modules  # the parent never imports vllm
    engines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["model"] for e in engines] == ["org/a", "org/b"]
    pids = {e["pid"] for e in engines}
    assert len(pids) == 2 and os.getpid() not in pids
    for e in engines:
        assert e["generation_config"] == "vllm" and e["seed"] == 0 and e["tensor_parallel_size"] == 1
        # max_model_len null: each model's own context, as `vllm serve` (the reference's servers)
        assert "max_model_len" not in e and e["dtype"] == "auto" and e["gpu_memory_utilization"] == 0.9
    assert engines[0]["trust_remote_code"] is False
    assert engines[1]["trust_remote_code"] is True and engines[1]["enforce_eager"] is True
    assert len(df) == 2 * 4 * 3

    srv = fake_server()
    http = collect(cfg(overrides(srv.base_url, tmp_path / "http", limit=4, n=3) + TWO_MODELS))
    pd.testing.assert_frame_equal(df, http)  # same seed rule on both paths: same samples, same table

    # resuming with the vllm backend starts no engine when nothing is missing
    collect(cfg(base + TWO_MODELS + ["backend=vllm"]))
    assert len(log.read_text().splitlines()) == 2


def test_vllm_engine_failure_is_reported(standin, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(E2E / "fake_vllm"))
    base = [o for o in overrides("unused", tmp_path, limit=2, n=1) if not o.startswith("backend")]
    with pytest.raises(BackendError, match="CUDA out of memory"):
        collect(cfg(base + ["backend=vllm", "pool.models=[{name: c, hf_id: crash}]"]))
