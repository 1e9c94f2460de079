"""``avengers-generate``: generate, grade, and write the canonical outcome table.

    avengers-generate pool=paper10 benchmark=paper15 backend=vllm
    avengers-generate pool=local_gemma benchmark=<name> backend=openai backend.base_url=http://127.0.0.1:8080/v1

Flow: load each benchmark's items -> prompts -> generate the samples missing from the store
(one backend call per model) -> extract + grade every sample -> write the outcome table
(benchmark, query_id, query, model, sample, score, answer, cost, split=null) atomically.
Rerunning after a crash generates only what is missing; the outcome file is the same as an
uninterrupted run's.

The config groups live in ``conf/generate/{pool,benchmark,backend}``; ``conf/generate.yaml`` adds
that folder to Hydra's search path, so the command line says ``pool=...``, not
``generate/pool@pool=...``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from avengers.generate.backends.base import Backend, BackendError, Request, Sampling, make_backend
from avengers.generate.grade import grade_sample
from avengers.generate.pool import ModelSpec, load_pool
from avengers.generate.store import GenerationStore, StoredSample, request_hash
from avengers.errors import AvengersError, ConfigError

log = logging.getLogger("avengers.generate")

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

__all__ = ["CONF_DIR", "collect", "main"]


def _collect_conf_dir() -> str:
    return str(CONF_DIR / "generate")


# conf/generate.yaml puts conf/generate/ on Hydra's search path through this resolver.
OmegaConf.register_new_resolver("avengers_generate_conf", _collect_conf_dir, replace=True)


def _plain(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        c = OmegaConf.to_container(cfg, resolve=True)
    else:
        c = dict(cfg)
    c.pop("hydra", None)
    return c  # type: ignore[return-value]


def _load_items(bench: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[str]]]:
    from avengers.generate.benchmarks import get_benchmark, suite_names

    names = bench.get("names")
    if not names:
        raise ConfigError("benchmark.names is empty; choose benchmark=paper15 (or ood5, or one benchmark's name).")
    sources = bench.get("sources") or {}
    limit = bench.get("limit")
    specs, items, prompts = {}, {}, {}
    for b in suite_names(names):
        spec = get_benchmark(b)
        its = spec.load(source=sources.get(b), limit=limit)
        if not its:
            raise AvengersError(f"benchmark {b!r} loaded no items; check benchmark.sources.{b} and benchmark.limit.")
        specs[b], items[b], prompts[b] = spec, its, [spec.prompt(i) for i in its]
    return specs, items, prompts


def _generate_missing(
    store: GenerationStore,
    backend: Backend,
    model: ModelSpec,
    items: Mapping[str, list[Any]],
    prompts: Mapping[str, list[str]],
    hashes: Mapping[str, Mapping[str, str]],
    sampling: Sampling,
    progress: bool,
    usage: dict[str, Any] | None = None,
) -> int:
    reqs: list[Request] = []
    todo: dict[str, int] = {}
    total = 0
    for b, its in items.items():
        miss = store.missing(model.name, b, sampling.seed, hashes[b], sampling.n)
        total += len(its) * sampling.n
        for it, prompt in zip(its, prompts[b]):
            if it.query_id in miss:
                reqs.append(Request(b, it.query_id, prompt, miss[it.query_id]))
        todo[b] = sum(len(v) for v in miss.values())
    need = sum(todo.values())
    log.info("%s: %d of %d samples to generate (%d already stored)", model.name, need, total, total - need)
    if not reqs:
        return 0
    asked = {(r.benchmark, r.query_id): set(r.samples) for r in reqs}
    bars = {
        b: tqdm(total=k, desc=f"{model.name} | {b}", unit="sample", disable=not progress, leave=True, dynamic_ncols=True)
        for b, k in todo.items()
        if k
    }
    added = 0
    try:
        for batch in backend.generate(model, reqs, sampling):
            recs = []
            for r in batch:
                if r.sample not in asked.get((r.benchmark, r.query_id), ()):
                    raise BackendError(
                        f"backend {backend.name!r} returned sample {r.sample} of {r.benchmark}/{r.query_id}, "
                        "which was not asked for."
                    )
                recs.append(
                    StoredSample(
                        model=model.name,
                        benchmark=r.benchmark,
                        query_id=r.query_id,
                        params_hash=hashes[r.benchmark][r.query_id],
                        sample=int(r.sample),
                        seed=int(sampling.seed),
                        text=r.text,
                        prompt_tokens=r.prompt_tokens,
                        completion_tokens=r.completion_tokens,
                        cost=r.cost,
                        finish_reason=r.finish_reason,
                        backend=backend.name,
                    )
                )
            added += store.put(recs)
            for r in batch:
                bars[r.benchmark].update(1)
                if usage is not None:  # for W&B (track.generate_run): tokens, cost, finish reasons
                    for k in ("prompt_tokens", "completion_tokens", "cost"):
                        usage[k] = usage.get(k, 0.0) + float(getattr(r, k) or 0.0)
                    reason = f"finish_reason/{r.finish_reason or 'unknown'}"
                    usage[reason] = usage.get(reason, 0) + 1
    finally:
        for bar in bars.values():
            bar.close()
    still = {b: store.missing(model.name, b, sampling.seed, hashes[b], sampling.n) for b in items}
    lacking = {b: len(m) for b, m in still.items() if m}
    if lacking:
        raise BackendError(
            f"backend {backend.name!r} returned fewer samples than asked for {model.name!r}: "
            f"queries still lacking samples per benchmark: {lacking}. Rerun to fill them in."
        )
    return added


def _grade(
    store: GenerationStore,
    specs: Mapping[str, Any],
    models: list[ModelSpec],
    items: Mapping[str, list[Any]],
    hashes: Mapping[str, Mapping[str, Mapping[str, str]]],
    sampling: Sampling,
    progress: bool,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for b, spec in specs.items():
        for model in models:
            stored = store.fetch(model.name, b, sampling.seed, sampling.n)
            h = hashes[model.name][b]
            for it in tqdm(items[b], desc=f"grade {model.name} | {b}", unit="query", disable=not progress, leave=False):
                for s in range(sampling.n):
                    st = stored.get((it.query_id, h[it.query_id], s))
                    if st is None:  # _generate_missing guarantees this does not happen
                        raise AvengersError(f"sample {s} of {model.name} on {b}/{it.query_id} is missing from the store.")
                    answer, score = grade_sample(spec, it, st.text)
                    rows.append(
                        {
                            "benchmark": b,
                            "query_id": it.query_id,
                            "query": it.query,
                            "model": model.name,
                            "sample": s,
                            "score": score,
                            "answer": answer,
                            "cost": st.cost,
                            "split": None,
                        }
                    )
    return pd.DataFrame(rows)


def collect(cfg: Mapping[str, Any] | DictConfig) -> pd.DataFrame:
    """Run the whole collect stage for a composed config; returns the written outcome table."""
    from avengers.outcomes.schema import validate, write_outcomes

    c = _plain(cfg)
    for mod in c.get("imports") or []:
        importlib.import_module(str(mod))
    output = Path(str(c["output"])).expanduser()
    if output.suffix not in (".parquet", ".jsonl"):
        raise ConfigError(f"output={str(output)!r}: use a .parquet or .jsonl file name.")
    progress = bool(c.get("progress", True))
    models = load_pool(c["pool"])
    sampling = Sampling.from_mapping(c.get("sampling") or {}, seed=int(c.get("seed", 0)))
    specs, items, prompts = _load_items(c["benchmark"])
    backend = make_backend(c["backend"])
    log.info(
        "collect: %d model(s) x %d benchmark(s) (%d queries) x n=%d, backend %s, store %s",
        len(models), len(specs), sum(len(v) for v in items.values()), sampling.n, backend.describe(), c["store"],
    )
    hashes = {
        m.name: {
            b: {it.query_id: request_hash(m.identity(), sampling.identity(), p) for it, p in zip(items[b], prompts[b])}
            for b in specs
        }
        for m in models
    }
    t0 = time.perf_counter()
    usage: dict[str, Any] = {}
    n_new = 0
    with GenerationStore(str(c["store"])) as store:
        for model in models:
            added = _generate_missing(store, backend, model, items, prompts, hashes[model.name], sampling, progress,
                                      usage)
            n_new += added
            if added:
                log.info("%s: stored %d new samples", model.name, added)
        gen_s = time.perf_counter() - t0
        df = _grade(store, specs, models, items, hashes, sampling, progress)
    df = validate(df, where="collected outcomes")
    write_outcomes(df, output)
    acc = df.groupby(["model", "benchmark"])["score"].mean().unstack("benchmark")
    log.info("mean score per model and benchmark (all samples):\n%s", acc.round(3).to_string())
    if getattr(backend, "stats", None):
        log.info("backend stats: %s", backend.stats)
    log.info("wrote %d rows to %s (generation %.1fs, total %.1fs)", len(df), output, gen_s, time.perf_counter() - t0)
    df.attrs["stats"] = {  # what `avengers-generate` reports to W&B (track.generate_run)
        "samples": len(df), "new_samples": n_new, "generation_s": gen_s,
        "samples_per_s": n_new / gen_s if gen_s > 0 else None, **usage,
        "tokens_per_s": usage.get("completion_tokens", 0.0) / gen_s if gen_s > 0 and n_new else None,
        "score": {f"{m}/{b}": float(v) for (m, b), v in df.groupby(["model", "benchmark"])["score"].mean().items()},
    }
    return df


_FAILED: list[str] = []


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="generate")
def app(cfg: DictConfig) -> dict[str, Any]:
    """Returns the run's stats; Hydra hands them to the tracking callback (conf/generate.yaml)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    try:
        return collect(cfg).attrs["stats"]
    except AvengersError as e:
        log.error("%s", e)
        print(f"avengers-generate: error: {e}", file=sys.stderr)
        _FAILED.append(str(e))
        return {"error": str(e)}


def main() -> None:
    app()
    if _FAILED:  # after Hydra returns, so the tracking callback has closed its run
        sys.exit(2)


if __name__ == "__main__":
    main()
