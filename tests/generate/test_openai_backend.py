"""The OpenAI-compatible backend against a fake local server: n, seeds, retries, concurrency, usage."""

from __future__ import annotations

import socket

import pytest
from fake_openai import completion_text

from avengers.generate.backends import BackendError, Request, Sampling, make_backend
from avengers.generate.backends.openai import OpenAIBackend
from avengers.generate.pool import ModelSpec
from avengers.errors import ConfigError

MODEL = ModelSpec(name="m1", api_model="served-m1", price_input=2.0, price_output=10.0)
FREE = ModelSpec(name="m2")


def _backend(srv, **kw) -> OpenAIBackend:
    kw.setdefault("backoff_initial_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    return OpenAIBackend(base_url=srv.base_url if hasattr(srv, "base_url") else srv, api_key_env=None, **kw)


def _run(backend, model, requests, sampling):
    batches = list(backend.generate(model, requests, sampling))
    flat = [r for b in batches for r in b]
    return batches, {(r.query_id, r.sample): r for r in flat}


def _reqs(k: int, samples=(0, 1, 2)) -> list[Request]:
    return [Request("b", f"q{i}", f"What is {i} + {2 * i}?", tuple(samples)) for i in range(k)]


def test_n_samples_one_request_each(fake_server):
    srv = fake_server()
    s = Sampling(n=3, temperature=0.7, top_p=0.9, max_tokens=32, seed=100)
    batches, got = _run(_backend(srv), MODEL, _reqs(4), s)
    assert len(srv.requests) == 4 and len(batches) == 4
    body = srv.requests[0]
    assert body["n"] == 3 and body["seed"] == 100 and body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert body["max_tokens"] == 32 and body["model"] == "served-m1"
    assert body["messages"] == [{"role": "user", "content": body["messages"][0]["content"]}]
    assert set(got) == {(f"q{i}", j) for i in range(4) for j in range(3)}
    for i in range(4):
        for j in range(3):
            assert got[(f"q{i}", j)].text == completion_text(f"What is {i} + {2 * i}?", 100 + j)
    # usage is shared evenly among the request's samples; cost from the model's prices
    r = got[("q1", 0)]
    prompt_tokens = len("What is 1 + 2?".split())
    assert r.prompt_tokens == pytest.approx(prompt_tokens / 3)
    assert r.cost == pytest.approx((r.prompt_tokens * 2.0 + r.completion_tokens * 10.0) / 1e6)
    assert r.finish_reason == "stop"


def test_server_ignoring_n_gives_the_same_samples(fake_server):
    """llama.cpp returns one choice: the rest come from n=1 requests with seed base + sample."""
    s = Sampling(n=3, temperature=0.7, max_tokens=32, seed=7)
    _, want = _run(_backend(fake_server()), MODEL, _reqs(3), s)
    srv = fake_server(ignore_n=True)
    b = _backend(srv, concurrency=1)
    _, got = _run(b, MODEL, _reqs(3), s)
    assert {k: v.text for k, v in got.items()} == {k: v.text for k, v in want.items()}
    # the first requests (already on their way) asked n=3; once learned, queries go sample by sample
    asked_n = [r["n"] for r in srv.requests]
    assert asked_n[0] == 3 and 3 not in asked_n[asked_n.count(3):]
    assert sorted(r["seed"] for r in srv.requests) == [7, 7, 7, 8, 8, 8, 9, 9, 9]
    assert len(srv.requests) == 9
    # supports_n=false never asks for n > 1
    srv2 = fake_server()
    _, got2 = _run(_backend(srv2, supports_n="false"), MODEL, _reqs(3), s)
    assert {k: v.text for k, v in got2.items()} == {k: v.text for k, v in want.items()}
    assert all(r["n"] == 1 for r in srv2.requests)


def test_only_missing_samples_are_asked_for(fake_server):
    srv = fake_server()
    s = Sampling(n=10, max_tokens=16, seed=0)
    _, got = _run(_backend(srv), MODEL, [Request("b", "q", "What is 1 + 1?", (3, 4, 7))], s)
    assert sorted((r["n"], r["seed"]) for r in srv.requests) == [(1, 7), (2, 3)]
    assert sorted(got) == [("q", 3), ("q", 4), ("q", 7)]
    assert got[("q", 4)].text == completion_text("What is 1 + 1?", 4)


def test_retries_on_429_5xx_and_dropped_connections(fake_server):
    srv = fake_server(fail=[429, 503, 0, 500], retry_after="0")
    b = _backend(srv, max_retries=5)
    _, got = _run(b, MODEL, _reqs(1), Sampling(n=3, max_tokens=8))
    assert len(got) == 3
    assert srv.attempts == 5 and len(srv.requests) == 1
    assert b.stats["retries"] == 4 and b.stats["requests"] == 5


def test_gives_up_after_max_retries(fake_server):
    srv = fake_server(fail=[503] * 10)
    b = _backend(srv, max_retries=2)
    with pytest.raises(BackendError, match="after 3 attempt"):
        _run(b, MODEL, _reqs(1), Sampling(n=1, max_tokens=8))
    assert srv.attempts == 3


def test_client_error_is_not_retried(fake_server):
    srv = fake_server(fail=[400])
    with pytest.raises(BackendError, match="HTTP 400"):
        _run(_backend(srv, max_retries=5), MODEL, _reqs(1), Sampling(n=1, max_tokens=8))
    assert srv.attempts == 1


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens
    b = _backend(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(BackendError, match="ConnectError"):
        _run(b, MODEL, _reqs(1), Sampling(n=1, max_tokens=8))
    assert b.stats["requests"] == 3


def test_concurrency_limit(fake_server):
    srv = fake_server(delay_s=0.05)
    b = _backend(srv, concurrency=3)
    _, got = _run(b, MODEL, _reqs(12, samples=(0,)), Sampling(n=1, max_tokens=8))
    assert len(got) == 12
    assert srv.max_in_flight <= 3
    assert srv.max_in_flight >= 2  # requests do overlap
    assert b.stats["max_in_flight"] <= 3


def test_cost_unknown_without_prices_unless_provider_reports_it(fake_server):
    _, got = _run(_backend(fake_server()), FREE, _reqs(1, samples=(0, 1)), Sampling(n=2, max_tokens=8))
    assert all(r.cost is None for r in got.values())
    assert all(r.completion_tokens and r.completion_tokens > 0 for r in got.values())
    _, got = _run(_backend(fake_server(cost_per_request=0.002)), FREE, _reqs(1, samples=(0, 1)), Sampling(n=2, max_tokens=8))
    assert [r.cost for r in got.values()] == [pytest.approx(0.001)] * 2


def test_completion_endpoint_for_models_without_chat(fake_server):
    srv = fake_server()
    base = ModelSpec(name="base", chat=False)
    _, got = _run(_backend(srv), base, _reqs(1), Sampling(n=2, max_tokens=8, seed=3))
    assert srv.paths == ["/v1/completions"]
    assert srv.requests[0]["prompt"] == "What is 0 + 0?"
    assert got[("q0", 1)].text == completion_text("What is 0 + 0?", 4)


def test_abandoning_the_iterator_stops_cleanly(fake_server):
    srv = fake_server(delay_s=0.05)
    b = _backend(srv, concurrency=2)
    it = b.generate(MODEL, _reqs(40, samples=(0,)), Sampling(n=1, max_tokens=8))
    first = next(it)
    it.close()
    assert len(first) == 1
    assert srv.attempts < 40


def test_make_backend_checks_settings(fake_server):
    srv = fake_server()
    b = make_backend({"name": "openai", "base_url": srv.base_url, "concurrency": 2, "api_key_env": None})
    assert isinstance(b, OpenAIBackend) and b.concurrency == 2
    with pytest.raises(ConfigError, match="unknown setting"):
        make_backend({"name": "openai", "base_url": srv.base_url, "concurency": 2})
    with pytest.raises(ConfigError, match="Unknown backend"):
        make_backend({"name": "openia"})
    with pytest.raises(ConfigError, match="supports_n"):
        make_backend({"name": "openai", "supports_n": "maybe"})


def test_api_key_from_environment(fake_server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    b = OpenAIBackend(base_url="http://x/v1", api_key_env="MY_KEY")
    assert b._headers["Authorization"] == "Bearer sk-test"
    assert "sk-test" not in repr(b.describe())


def test_default_concurrency_keeps_64_requests_in_flight(fake_server):
    """A vLLM server batches what is in flight: the default (code and config) keeps >= 64 there."""
    from pathlib import Path

    import yaml

    conf = Path(__file__).resolve().parents[2] / "src/avengers/conf/generate/backend/openai.yaml"
    assert yaml.safe_load(conf.read_text())["concurrency"] >= 64
    srv = fake_server(delay_s=2.0)
    b = OpenAIBackend(base_url=srv.base_url, api_key_env=None)
    assert b.concurrency >= 64
    _, got = _run(b, MODEL, _reqs(96, samples=(0,)), Sampling(n=1, max_tokens=8))
    assert len(got) == 96
    assert b.stats["max_in_flight"] >= 64  # the backend had 64 requests open at once
    # The stand-in server accepts connections slowly (a listen backlog of 5), so it sees fewer
    # at once, but more than the old default of 16 ever allowed.
    assert srv.max_in_flight > 16
