"""The LLM aggregator step and per-run grade caching, end to end against the fake OpenAI server."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from collect_helpers import ARITH, cfg, overrides

from avengers.errors import ConfigError
from avengers.generate.aggregate import (
    AGGREGATION_SYSTEM,
    _ApproxTokens,
    aggregator_prompt,
    expert_block,
    read_routing,
)
from avengers.generate.app import collect
from avengers.generate.benchmarks import BENCHMARKS, BenchmarkSpec, Item
from avengers.generate.grade import GradeCache
from avengers.generate.store import GenerationStore
from avengers.outcomes.schema import read_outcomes

TWO = ["pool.models=[{name: a, price_input: 1.0, price_output: 1.0}, {name: b, price_input: 1.0, price_output: 1.0}]",
       "pool.name=two"]
AGG = ["aggregate=reference", "aggregate.model={name: judge, price_input: 2.0, price_output: 2.0}"]


def _run(srv, tmp_path, extra, limit=4, n=2):
    return collect(cfg(overrides(srv.base_url, tmp_path, limit=limit, n=n) + TWO + AGG + extra))


def test_reference_prompt_word_for_word():
    # core/inference/aggregation_generator.py:13-34
    assert AGGREGATION_SYSTEM.startswith("You are an aggregation agent designed to provide a coherent, accurate,")
    assert AGGREGATION_SYSTEM.endswith("well-supported conclusion derived from the provided inputs.")
    assert "2. **Aggregation Process:**\n   - Identify consensus, contradictions, and unique insights" in AGGREGATION_SYSTEM
    p = aggregator_prompt("Q?", "### Result of a\nX\n\n")
    assert p == AGGREGATION_SYSTEM + "\n\n\nQuestion: Q?\n\n### Result of a\nX\n\n"


def test_expert_block_keeps_the_end_of_long_answers():
    tok = _ApproxTokens()
    long = " ".join(f"w{i}" for i in range(100)) + " The answer is 7."
    out = expert_block("What is 3 + 4?", ["a", "b"], [long, "short"], max_tokens=60, tokens=tok)
    share = (60 - tok.count("What is 3 + 4?")) // 2
    a, b = out.split("### Result of b\n")
    assert a.startswith("### Result of a\n") and a.rstrip().endswith("The answer is 7.")
    assert tok.count(a) <= share and "w0 " not in a
    assert b == "short\n\n"  # fits: kept whole
    # a share too small for the header leaves the section whole (as the reference does)
    tiny = expert_block("x " * 50, ["a"], [long], max_tokens=10, tokens=tok)
    assert tiny == f"### Result of a\n{long}\n\n"


def test_aggregator_rows_from_fixed_experts(fake_server, standin, tmp_path):
    srv = fake_server()
    df = _run(srv, tmp_path, ["aggregate.experts=[b, a]"])
    assert set(df["model"]) == {"a", "b"}  # the main table is unchanged
    agg = read_outcomes(tmp_path / "out_aggregated.jsonl")
    assert set(agg["model"]) == {"aggregator:judge"} and len(agg) == 4 and (agg["sample"] == 0).all()
    asked = [r for r in srv.requests if r["model"] == "judge"]
    assert len(asked) == 4
    for body in asked:
        assert body["temperature"] == 0.2 and body["top_p"] == 1.0 and body.get("n", 1) == 1
        msg = body["messages"][-1]["content"]
        assert msg.startswith(AGGREGATION_SYSTEM) and "\nQuestion: What is " in msg
        assert msg.index("### Result of b\n") < msg.index("### Result of a\n")  # routing order
    items = {it.query_id: it for it in standin.SPEC.load(source={"path": str(ARITH)}, limit=4)}
    for r in agg.itertuples():
        assert r.score == float(r.answer is not None and int(r.answer) == items[r.query_id].gold)
        # cost = the aggregator call + sample 0 of each expert (all priced here)
        assert r.cost > 0
    experts = df[df["sample"] == 0].groupby("query_id")["cost"].sum()
    with GenerationStore(tmp_path / "generations.sqlite") as st:
        judge_cost = {q: c for m, b, q, c in st.rows(("model", "benchmark", "query_id", "cost")) if m == "aggregator:judge"}
    for r in agg.itertuples():
        assert r.cost == pytest.approx(experts[r.query_id] + judge_cost[r.query_id])
    # a rerun asks the aggregator nothing and writes the same rows
    srv.requests.clear()
    _run(srv, tmp_path, ["aggregate.experts=[b, a]"])
    assert srv.requests == []
    pd.testing.assert_frame_equal(read_outcomes(tmp_path / "out_aggregated.jsonl"), agg)


def test_aggregator_follows_a_routing_file(fake_server, standin, tmp_path):
    srv = fake_server()
    route = tmp_path / "predictions.parquet"
    pd.DataFrame({
        "benchmark": ["e2e_arith"] * 4, "query_id": ["arith-000", "arith-001", "arith-000", "arith-002"],
        "router": ["avengers", "avengers", "other", "avengers"], "model": ["a,b", "b", "b,a", None],
        "score": [1.0, 0.0, 1.0, 0.0],
    }).to_parquet(route)
    with pytest.raises(ConfigError, match="several routers"):
        _run(srv, tmp_path / "x", [f"aggregate.routing={route}"])
    _run(srv, tmp_path, [f"aggregate.routing={route}", "aggregate.router=avengers", "aggregate.n_experts=1"])
    agg = read_outcomes(tmp_path / "out_aggregated.jsonl")
    assert sorted(agg["query_id"]) == ["arith-000", "arith-001"]  # arith-002 has no routed model
    msgs = [r["messages"][-1]["content"] for r in srv.requests if r["model"] == "judge"]
    assert sum("### Result of a\n" in m and "### Result of b" not in m for m in msgs) == 1  # n_experts=1 of "a,b"
    assert sum("### Result of b\n" in m and "### Result of a" not in m for m in msgs) == 1


def test_aggregator_config_errors(fake_server, standin, tmp_path):
    srv = fake_server()
    with pytest.raises(ConfigError, match="needs the experts"):
        _run(srv, tmp_path / "a", [])
    with pytest.raises(ConfigError, match="not in the pool"):
        _run(srv, tmp_path / "b", ["aggregate.experts=[a, zz]"])
    assert srv.attempts == 0  # refused before anything was generated
    bad = tmp_path / "route.jsonl"
    bad.write_text(json.dumps({"benchmark": "e2e_arith", "query_id": "arith-000"}) + "\n")
    with pytest.raises(ConfigError, match="lacks column"):
        read_routing(bad)
    with pytest.raises(ConfigError, match="aggregate.model is not set"):
        collect(cfg(overrides(srv.base_url, tmp_path / "c", limit=2, n=1) + TWO + ["aggregate=reference"]))


def test_routing_file_formats(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"benchmark": "math500", "query_id": "q1", "models": ["m2", "m1"]},
        {"benchmark": "math500", "query_id": "q2", "models": "m1, m3"},
    ]) + "\n")
    assert read_routing(p) == {("math500", "q1"): ["m2", "m1"], ("math500", "q2"): ["m1", "m3"]}
    p.write_text(p.read_text() + json.dumps({"benchmark": "math500", "query_id": "q1", "models": []}) + "\n")
    with pytest.raises(ConfigError, match="routed twice"):
        read_routing(p)


# ------------------------------------------------------------------------- grade cache
_CALLS: list[tuple[str, str]] = []


def _flaky_grade(item: Item, extracted: str | None, completion: str) -> float:
    """A grader that would give the same answer different grades (like a sandbox timeout)."""
    _CALLS.append((item.query_id, extracted))
    right = extracted is not None and int(extracted) == int(item.gold)
    return float(right) if len(_CALLS) % 2 else float(not right)


def _flaky_spec():
    import standin

    name = "e2e_flaky"
    if name not in BENCHMARKS:
        BENCHMARKS.register(name)(BenchmarkSpec(
            name=name, suite="e2e", answer_kind="number", to_item=standin._to_item, prompt_fn=standin._prompt,
            extract_fn=standin._extract, grade_fn=_flaky_grade, columns=("id", "question", "answer"),
        ))
    return BENCHMARKS.get(name)


def test_each_distinct_answer_of_an_item_is_graded_once(fake_server, standin, tmp_path):
    _flaky_spec()
    srv = fake_server()
    _CALLS.clear()
    ovr = [o.replace("e2e_arith", "e2e_flaky") for o in overrides(srv.base_url, tmp_path, limit=6, n=6)] + TWO
    df = collect(cfg(ovr))
    answered = df.dropna(subset=["answer"])
    assert (answered.groupby(["query_id", "answer"])["score"].nunique() == 1).all()
    distinct = answered.groupby(["query_id", "answer"]).ngroups
    assert len(_CALLS) == distinct < len(answered)  # across samples and models of the same item
    # the first grade of each (item, answer) is kept: same numbers on a rerun
    _CALLS.clear()
    again = collect(cfg(ovr))
    pd.testing.assert_frame_equal(again, df)


def test_grade_cache_keys_by_the_vote_key():
    from avengers.generate.benchmarks import get_benchmark

    spec = get_benchmark("arc_challenge")
    item = Item("arc_challenge", "q", "Q?\n\nA. x\nB. y", "B",
                {"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_letters": "A-E"})
    cache = GradeCache()
    assert cache.grade(spec, item, "so...\nAnswer: B")[1] == 1.0
    assert cache.grade(spec, item, "thus\nanswer: b") == ("b", 1.0)  # votes with "B": same grade, reused
    assert (cache.graded, cache.reused) == (1, 1)
    assert cache.grade(spec, item, "Answer: A")[1] == 0.0 and cache.graded == 2


def test_direct_profile_tells_distill_models_to_be_brief(fake_server, standin, tmp_path):
    srv = fake_server()
    pool = ["pool.models=[{name: DeepSeek-R1-Distill-Qwen-7B}, {name: plain}]", "pool.name=two"]
    collect(cfg(overrides(srv.base_url, tmp_path, limit=2, n=1) + pool + ["sampling=direct", "sampling.max_tokens=32"]))
    by_model = {}
    for r in srv.requests:
        by_model.setdefault(r["model"], []).append(r["messages"][-1]["content"])
    suffix = "Don't make your reasoning and thinking too long.\n"
    assert all(m.endswith(suffix) for m in by_model["DeepSeek-R1-Distill-Qwen-7B"])
    assert not any(m.endswith(suffix) for m in by_model["plain"])
    assert {r["temperature"] for r in srv.requests} == {0.2}
    assert all(re.search(r"What is \d+ \+ \d+", m) for ms in by_model.values() for m in ms)


def test_aggregate_needs_stored_experts(fake_server, standin, tmp_path):
    """expert_sample beyond the run's samples is refused before anything is sent."""
    srv = fake_server()
    with pytest.raises(ConfigError, match="expert_sample=5"):
        _run(srv, tmp_path, ["aggregate.experts=[a]", "aggregate.expert_sample=5"])
    assert not any(r["model"] == "judge" for r in srv.requests)
