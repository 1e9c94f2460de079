"""The LLM aggregator ("Aggregation" in the paper): an aggregator model reads the routed experts'
answers to an item and writes the final answer.

As the reference implementation does it (core/inference/aggregation_generator.py): the first
`n_experts` routed models each answer the benchmark prompt (here: a stored sample of the
generation run, `expert_sample`, by default sample 0 of the T=0.7 samples, the reference's
`choices[0]` of its n-sample request); their answers are laid out as "### Result of <model>"
sections, each cut to its share of a `max_tokens` budget by keeping its END (:func:`expert_block`);
the aggregator model gets the reference's aggregation instructions and "Question: <prompt>"
plus those sections, and answers once at temperature 0.2, top_p 1.0. Its answer is graded with
the benchmark's own pipeline; cost = the aggregator call plus the expert samples used.

Which experts answer an item: `aggregate.routing`, a file of routed models per query (the
recipe's predictions.parquet, with `aggregate.router` naming the router whose `model` column
"m1,m2" to use, or any json/jsonl/csv/parquet with benchmark, query_id and models), or one
fixed list for every item (`aggregate.experts`). Items without a routing are skipped.

Output: canonical outcome rows (model `aggregator:<name>`, sample 0) in their own file
(`aggregate.output`, default `<output stem>_aggregated<suffix>` next to the outcome table), since
they exist only for the routed items. Aggregator calls are stored in the same generation store,
so a rerun asks for nothing new.

Differences to the reference (docs/deviations_generation.md): the backends send one user
message, so the instructions come first in it rather than as a system message; experts are
laid out in routing order (the reference uses completion order, which varies run to run);
without `tiktoken` and its gpt-4o encoding the token budget is counted with a word-and-
punctuation approximation.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from avengers.errors import AvengersError, ConfigError, did_you_mean
from avengers.generate.backends.base import Backend, Sampling, make_backend
from avengers.generate.grade import GradeCache
from avengers.generate.pool import ModelSpec
from avengers.generate.store import GenerationStore, request_hash

log = logging.getLogger(__name__)

__all__ = ["AGGREGATION_SYSTEM", "AGGREGATION_USER", "aggregate", "aggregator_prompt", "check_config", "expert_block",
           "read_routing"]

# core/inference/aggregation_generator.py:13 and :31 (word for word)
AGGREGATION_SYSTEM = (
    "You are an aggregation agent designed to provide a coherent, accurate, and well-formatted final answer to a "
    "given question based on multiple responses from different models.\n\nYour task is:\n1. **Input Analysis:**\n"
    "   - Clearly understand the original question provided.\n   - Carefully review all provided responses from "
    "multiple models.\n\n2. **Aggregation Process:**\n   - Identify consensus, contradictions, and unique insights "
    "among the provided responses.\n   - Give higher priority to responses supported by the majority of models or "
    "responses that show strong reasoning and credible evidence.\n   - Clearly resolve contradictions by favoring "
    "the most logical, evidence-based, or well-supported answers.\n\n3. **Output Formatting:**\n   - Provide your "
    "final aggregated answer strictly following the format implied by the original question (e.g., if it's a "
    "yes/no question, your answer should clearly be 'Yes' or 'No'; if it asks for an explanation, your answer "
    "should clearly explain the reasoning).\n   - Ensure clarity, conciseness, and readability in the final "
    "response.\n\nYour final output must directly answer the original question with the most accurate, logically "
    "consistent, and well-supported conclusion derived from the provided inputs."
)
AGGREGATION_USER = "\nQuestion: {question}\n\n{expert_results}"

_KEYS = {"model", "n_experts", "experts", "routing", "router", "expert_sample", "max_tokens", "temperature",
         "top_p", "max_new_tokens", "backend", "output"}


# ------------------------------------------------------------------------- token budget
class _ApproxTokens:
    """Words, punctuation marks and their leading spaces as tokens (close to a BPE count for
    English; used when tiktoken or its gpt-4o encoding is not available)."""

    _TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")

    name = "approx"

    def count(self, text: str) -> int:
        return len(self._TOKEN.findall(text))

    def tail(self, text: str, k: int) -> str:
        starts = [m.start() for m in self._TOKEN.finditer(text)]
        return text if k >= len(starts) else text[starts[len(starts) - k]:] if k > 0 else ""


class _Tiktoken:
    name = "tiktoken gpt-4o"

    def __init__(self, enc: Any) -> None:
        self.enc = enc

    def count(self, text: str) -> int:
        return len(self.enc.encode(text))

    def tail(self, text: str, k: int) -> str:
        return self.enc.decode(self.enc.encode(text)[-k:]) if k > 0 else ""


def token_counter() -> Any:
    """The reference's tokenizer (tiktoken, gpt-4o) when it can be loaded, else the approximation."""
    try:
        import tiktoken

        return _Tiktoken(tiktoken.encoding_for_model("gpt-4o"))
    except Exception:  # not installed, or its encoding file cannot be downloaded
        return _ApproxTokens()


def expert_block(question: str, models: Sequence[str], answers: Sequence[str], max_tokens: int, tokens: Any) -> str:
    """The experts' answers as "### Result of <model>" sections; a section longer than its share
    `(max_tokens - tokens(question)) // n` keeps its last tokens (conclusions come last). As in
    the reference, a share too small for even the header leaves the section whole."""
    share = (int(max_tokens) - tokens.count(question)) // max(1, len(models))
    parts = []
    for model, answer in zip(models, answers):
        header, content = f"### Result of {model}\n", f"{answer}\n\n"
        if tokens.count(header) + tokens.count(content) > share:
            room = share - tokens.count(header)
            if room > 0:
                parts.append(header + tokens.tail(content, room))
                continue
        parts.append(header + content)
    return "".join(parts)


def aggregator_prompt(question: str, expert_results: str) -> str:
    """The one user message sent to the aggregator: the reference's system instructions, then its
    user message."""
    return AGGREGATION_SYSTEM + "\n\n" + AGGREGATION_USER.format(question=question, expert_results=expert_results)


# ------------------------------------------------------------------------------ routing
def _models_cell(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    if isinstance(v, str):
        return [m.strip() for m in v.split(",") if m.strip()]
    return [str(m) for m in list(v)]


def read_routing(path: str | Path, router: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(benchmark, query_id) -> routed models, best first, from a predictions.parquet (column
    `model` "m1,m2", one `router` picked) or any json/jsonl/csv/parquet with benchmark,
    query_id and `models` (a list or "m1,m2")."""
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise ConfigError(f"aggregate.routing={str(p)!r} is not a file.")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(p)
    elif suffix in (".jsonl", ".json"):
        df = pd.read_json(p, lines=suffix == ".jsonl")
    elif suffix == ".csv":
        df = pd.read_csv(p)
    else:
        raise ConfigError(f"aggregate.routing={str(p)!r}: use a parquet, json, jsonl or csv file.")
    if "router" in df.columns:
        routers = sorted(df["router"].astype(str).unique())
        if router is None:
            if len(routers) != 1:
                raise ConfigError(f"{p} holds several routers {routers}; choose one with aggregate.router=<name>.")
            router = routers[0]
        if router not in routers:
            raise ConfigError(f"aggregate.router={router!r} is not in {p}.{did_you_mean(router, routers)} Known: {routers}.")
        df = df[df["router"].astype(str) == router]
    col = "models" if "models" in df.columns else "model" if "model" in df.columns else None
    missing = [c for c in ("benchmark", "query_id") if c not in df.columns] + ([] if col else ["models"])
    if missing:
        raise ConfigError(f"{p}: the routing file lacks column(s) {missing} (needs benchmark, query_id, models).")
    out: dict[tuple[str, str], list[str]] = {}
    for b, q, m in zip(df["benchmark"], df["query_id"], df[col]):
        key = (str(b), str(q))
        if key in out:
            raise ConfigError(f"{p}: query {key} is routed twice; keep one row per query (or pick a router).")
        out[key] = _models_cell(m)
    return out


# ---------------------------------------------------------------------------- the step
def check_config(cfg: Mapping[str, Any], models: Sequence[ModelSpec], sampling: Sampling) -> None:
    """Refuse a bad `aggregate` node before anything is generated."""
    unknown = sorted(set(cfg) - _KEYS)
    if unknown:
        raise ConfigError(f"aggregate: unknown setting(s) {unknown}.{did_you_mean(unknown[0], _KEYS)} Allowed: {sorted(_KEYS)}.")
    model = cfg.get("model") or {}
    if not isinstance(model, Mapping) or str(model.get("name") or "???") == "???":
        raise ConfigError("aggregate.model is not set: name the aggregator model, e.g. aggregate.model.name=<served model>.")
    if not cfg.get("routing") and not cfg.get("experts"):
        raise ConfigError("aggregate needs the experts of each item: aggregate.routing=<predictions.parquet> "
                          "(routed models per query) or aggregate.experts=[m1, m2] (the same for every item).")
    if int(cfg.get("n_experts") or 2) < 1:
        raise ConfigError(f"aggregate.n_experts must be >= 1, got {cfg.get('n_experts')}.")
    sample = int(cfg.get("expert_sample") or 0)
    if not 0 <= sample < sampling.n:
        raise ConfigError(f"aggregate.expert_sample={sample}: the run has samples 0..{sampling.n - 1}.")
    pool = {m.name for m in models}
    unknown_experts = [str(m) for m in (cfg.get("experts") or []) if str(m) not in pool]
    if unknown_experts:
        raise ConfigError(f"aggregate.experts {unknown_experts} are not in the pool ({sorted(pool)}).")
    if cfg.get("routing"):
        read_routing(cfg["routing"], cfg.get("router"))


def aggregate(
    cfg: Mapping[str, Any],
    *,
    store: GenerationStore,
    backend: Backend,
    specs: Mapping[str, Any],
    items: Mapping[str, list[Any]],
    models: Sequence[ModelSpec],
    hashes: Mapping[str, Mapping[str, Mapping[str, str]]],
    sampling: Sampling,
    output: Path,
    progress: bool = False,
    tokens: Any = None,
    base_prompt: Callable[[Any, Any], str] | None = None,
) -> pd.DataFrame:
    """Run the aggregator on every routed item and write its outcome rows; returns them. The
    aggregator is shown the benchmark's own prompt (`spec.prompt(item)`), as the reference does."""
    from avengers.generate.app import _generate_missing
    from avengers.outcomes.schema import validate, write_outcomes

    cfg = dict(cfg)
    check_config(cfg, models, sampling)
    agg = ModelSpec.from_mapping({k: v for k, v in dict(cfg["model"]).items() if v is not None})
    n_experts = int(cfg.get("n_experts") or 2)
    sample = int(cfg.get("expert_sample") or 0)
    pool = {m.name: m for m in models}
    fixed = [str(m) for m in (cfg.get("experts") or [])]
    routing = read_routing(cfg["routing"], cfg.get("router")) if cfg.get("routing") else None
    name = f"aggregator:{agg.name}"
    # the store keeps the aggregator's answers under its outcome name; the server is asked for its own
    stored_as = dataclasses.replace(agg, name=name, api_model=agg.served_name)
    agg_sampling = Sampling(n=1, temperature=float(cfg.get("temperature", 0.2)), top_p=float(cfg.get("top_p", 1.0)),
                            max_tokens=int(cfg.get("max_new_tokens") or sampling.max_tokens), seed=sampling.seed)
    agg_backend = make_backend(cfg["backend"]) if cfg.get("backend") else backend
    tokens = tokens or token_counter()
    budget = int(cfg.get("max_tokens") or 3000)

    todo_items: dict[str, list[Any]] = {}
    todo_prompts: dict[str, list[str]] = {}
    todo_hashes: dict[str, dict[str, str]] = {}
    experts_of: dict[tuple[str, str], list[str]] = {}
    for b, its in items.items():
        spec = specs[b]
        stored = {m: store.fetch(m, b, sampling.seed, sampling.n) for m in pool}
        for it in its:
            routed = routing.get((b, it.query_id)) if routing is not None else fixed
            if not routed:
                continue
            chosen = routed[:n_experts]
            unknown = [m for m in chosen if m not in pool]
            if unknown:
                raise ConfigError(
                    f"aggregate: {b}/{it.query_id} is routed to {unknown}, not in the pool "
                    f"({sorted(pool)}); generate with the pool the router chose from."
                )
            answers = []
            for m in chosen:
                st = stored[m].get((it.query_id, hashes[m][b][it.query_id], sample))
                if st is None:
                    raise AvengersError(f"aggregate: sample {sample} of {m} on {b}/{it.query_id} is not in the store.")
                answers.append(st.text)
            question = base_prompt(spec, it) if base_prompt else spec.prompt(it)
            prompt = aggregator_prompt(question, expert_block(question, chosen, answers, budget, tokens))
            todo_items.setdefault(b, []).append(it)
            todo_prompts.setdefault(b, []).append(prompt)
            todo_hashes.setdefault(b, {})[it.query_id] = request_hash(stored_as.identity(), agg_sampling.identity(), prompt)
            experts_of[(b, it.query_id)] = chosen
    if not experts_of:
        raise AvengersError("aggregate: no item has a routing; check aggregate.routing / aggregate.router and the benchmarks.")
    log.info("aggregate: %d items, aggregator %s, up to %d experts each, token budget %d (%s)",
             len(experts_of), agg.served_name, n_experts, budget, tokens.name)
    _generate_missing(store, agg_backend, stored_as, todo_items, todo_prompts, todo_hashes, agg_sampling, progress)

    cache = GradeCache()
    rows = []
    for b, its in todo_items.items():
        spec = specs[b]
        got = store.fetch(name, b, agg_sampling.seed, 1)
        expert_rows = {m: store.fetch(m, b, sampling.seed, sampling.n) for m in pool}
        for it in its:
            st = got[(it.query_id, todo_hashes[b][it.query_id], 0)]
            answer, score = cache.grade(spec, it, st.text)
            costs = [st.cost] + [expert_rows[m][(it.query_id, hashes[m][b][it.query_id], sample)].cost
                                 for m in experts_of[(b, it.query_id)]]
            cost = None if any(c is None for c in costs) else float(sum(costs))
            rows.append({"benchmark": b, "query_id": it.query_id, "query": it.query, "model": name, "sample": 0,
                         "score": score, "answer": answer, "cost": cost, "split": None})
    df = validate(pd.DataFrame(rows), where="aggregated outcomes")
    path = Path(str(cfg["output"])).expanduser() if cfg.get("output") else output.with_name(
        f"{output.stem}_aggregated{output.suffix}")
    write_outcomes(df, path)
    log.info("aggregate: wrote %d rows to %s (mean score %.3f)", len(df), path, df["score"].mean())
    return df
