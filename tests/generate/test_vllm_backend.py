"""The offline vLLM backend against the stand-in `vllm` package (no GPU, no vllm): one call per
engine over all pending prompts, over-long prompts as per-item failures, data-parallel engines."""

from __future__ import annotations

import json
import sys

import pytest
from collect_helpers import E2E
from fake_openai import completion_text

from avengers.errors import ConfigError
from avengers.generate.backends import Request, Sampling, make_backend
from avengers.generate.backends.vllm import PROMPT_TOO_LONG, VLLMBackend, deal, gpu_groups
from avengers.generate.pool import ModelSpec

MODEL = ModelSpec(name="m", hf_id="org/m")


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(E2E / "fake_vllm"))  # spawned engines inherit sys.path
    logs = {"engines": tmp_path / "engines.jsonl", "calls": tmp_path / "calls.jsonl"}
    monkeypatch.setenv("FAKE_VLLM_LOG", str(logs["engines"]))
    monkeypatch.setenv("FAKE_VLLM_CALLS", str(logs["calls"]))
    monkeypatch.delenv("FAKE_VLLM_UNDERCOUNT", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    def read(name):
        p = logs[name]
        return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []

    return read


def _reqs(k: int, samples=(0, 1)) -> list[Request]:
    return [Request("b", f"q{i}", f"What is {i} plus {2 * i} ?", tuple(samples)) for i in range(k)]


def _run(backend, requests, sampling, model=MODEL):
    batches = list(backend.generate(model, requests, sampling))
    return {(r.query_id, r.sample): r for b in batches for r in b}


def test_one_call_over_all_pending_prompts(fake_vllm):
    """3,000 prompts (more than the old 1,024-prompt chunks) go to the engine in one chat call."""
    s = Sampling(n=2, temperature=0.7, max_tokens=16, seed=5)
    b = VLLMBackend()
    got = _run(b, _reqs(3000), s)
    calls = fake_vllm("calls")
    assert [(c["method"], c["prompts"]) for c in calls] == [("chat", 3000)]
    assert len(got) == 6000 and b.last_stats["calls"] == 1 and b.last_stats["samples"] == 6000
    # per-request seeds (the default): sample j of a prompt has seed base + j
    assert calls[0]["seeds"][:2] == [5, 5]
    assert got[("q7", 1)].text == completion_text("What is 7 plus 14 ?", 6)
    assert "vllm" not in sys.modules  # the parent never imports vllm


def test_chunk_size_splits_the_call_and_gives_the_same_samples(fake_vllm):
    s = Sampling(n=2, max_tokens=16, seed=1)
    whole = _run(VLLMBackend(), _reqs(10), s)
    chunked = _run(VLLMBackend(chunk_size=4), _reqs(10), s)
    assert [c["prompts"] for c in fake_vllm("calls")] == [10, 4, 4, 2]
    assert {k: r.text for k, r in whole.items()} == {k: r.text for k, r in chunked.items()}


def test_missing_samples_keep_their_seeds(fake_vllm):
    """Only samples 1 and 3 missing: requests (start 1, n 1) and (start 3, n 1) with seeds base+1, base+3."""
    s = Sampling(n=4, max_tokens=16, seed=10)
    got = _run(VLLMBackend(), [Request("b", "q", "What is 1 plus 1 ?", (1, 3))], s)
    assert sorted(got) == [("q", 1), ("q", 3)]
    assert fake_vllm("calls")[0]["seeds"] == [11, 13]
    assert got[("q", 3)].text == completion_text("What is 1 plus 1 ?", 13)


def test_engine_seeding_sends_no_per_request_seed(fake_vllm):
    b = make_backend({"name": "vllm", "seeding": "engine"})
    got = _run(b, _reqs(3), Sampling(n=2, max_tokens=16, seed=4))
    assert fake_vllm("calls")[0]["seeds"] == [None, None, None]
    assert fake_vllm("engines")[0]["seed"] == 4  # the engine-level seed still fixes the run
    assert len(got) == 6
    with pytest.raises(ConfigError, match="seeding"):
        make_backend({"name": "vllm", "seeding": "sometimes"})


def _long(k: int) -> str:
    return " ".join(["word"] * k)


def test_long_prompts_are_per_item_failures(fake_vllm):
    """max_model_len=20: a 20-token and a 50-token prompt fail alone; the rest are generated."""
    reqs = [
        Request("b", "ok1", _long(5), (0, 1)),
        Request("b", "edge", _long(20), (0, 1)),  # == max_model_len: vLLM refuses (no room for 1 token)
        Request("b", "ok2", _long(19), (0, 1)),  # one short of the limit: allowed
        Request("b", "huge", _long(50), (0,)),
    ]
    b = VLLMBackend(max_model_len=20)
    got = _run(b, reqs, Sampling(n=2, max_tokens=4, seed=0))
    assert len(got) == 7
    for q in ("edge", "huge"):
        bad = [r for (qq, _), r in got.items() if qq == q]
        assert bad and all(r.text == "" and r.finish_reason == PROMPT_TOO_LONG for r in bad)
    assert got[("ok2", 1)].text == completion_text(_long(19), 1) and got[("ok2", 1)].finish_reason == "stop"
    assert [c["prompts"] for c in fake_vllm("calls")] == [2]  # found by the tokenizer, never sent
    assert b.last_stats["too_long"] == 2


def test_prompts_the_tokenizer_undercounts_are_isolated_by_bisection(fake_vllm, monkeypatch):
    """The engine refuses a prompt the pre-check let through: the call is split until it is alone."""
    monkeypatch.setenv("FAKE_VLLM_UNDERCOUNT", "5")
    reqs = [Request("b", f"q{i}", _long(22 if i == 5 else 3), (0,)) for i in range(8)]
    got = _run(VLLMBackend(max_model_len=20), reqs, Sampling(n=1, max_tokens=4))
    assert got[("q5", 0)].finish_reason == PROMPT_TOO_LONG and got[("q5", 0)].text == ""
    assert all(got[(f"q{i}", 0)].text == completion_text(_long(3), 0) for i in range(8) if i != 5)
    sizes = [c["prompts"] for c in fake_vllm("calls")]
    assert sizes[0] == 8 and len(sizes) <= 1 + 2 * 3  # 8 -> 4+4 -> 2+2 -> 1+1


def test_data_parallel_engines_split_the_prompts(fake_vllm, monkeypatch):
    """Two engines x two GPUs each on GPUs 4-7: each sees its own pair and half of the prompts,
    and the samples are those of a single engine."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    s = Sampling(n=2, max_tokens=16, seed=3)
    single = _run(VLLMBackend(), _reqs(11), s)
    engines_before = len(fake_vllm("engines"))
    b = VLLMBackend(data_parallel_size=2, tensor_parallel_size=2)
    dp = _run(b, _reqs(11), s)
    engines = fake_vllm("engines")[engines_before:]
    assert sorted(e["cuda_visible_devices"] for e in engines) == ["4,5", "6,7"]
    assert len({e["pid"] for e in engines}) == 2 and all(e["tensor_parallel_size"] == 2 for e in engines)
    calls = fake_vllm("calls")[1:]
    assert sorted((c["cuda_visible_devices"], c["prompts"]) for c in calls) == [("4,5", 6), ("6,7", 5)]
    assert {k: r.text for k, r in dp.items()} == {k: r.text for k, r in single.items()}
    assert b.last_stats["engines"] == 2 and b.last_stats["samples"] == 22


def test_gpu_groups_and_dealing():
    assert gpu_groups(1, 1) == [None]  # one engine: it sees what the parent sees
    assert gpu_groups(2, 1) == ["0", "1"]
    assert gpu_groups(2, 2, visible="3,1,2,0") == ["3,1", "2,0"]
    assert gpu_groups(3, 1, gpus=[7, 5, 6]) == ["7", "5", "6"]
    with pytest.raises(ConfigError, match="needs 4 GPUs"):
        gpu_groups(2, 2, visible="0,1,2")
    assert deal(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    with pytest.raises(ConfigError, match="needs 4 GPUs"):
        VLLMBackend(data_parallel_size=2, tensor_parallel_size=2, gpus=[0, 1, 2])


def test_an_engine_that_fails_stops_the_run_with_its_message(fake_vllm):
    from avengers.generate.backends import BackendError

    with pytest.raises(BackendError, match="CUDA out of memory"):
        _run(VLLMBackend(data_parallel_size=2), _reqs(4), Sampling(n=1, max_tokens=4),
             model=ModelSpec(name="c", hf_id="crash"))
