"""``avengers-generate``: generate, grade, and write the canonical outcome table.

    avengers-generate pool=paper10 benchmark=paper15 backend=vllm
    avengers-generate pool=local_gemma benchmark=<name> backend=openai backend.base_url=http://127.0.0.1:8080/v1

Flow: load each benchmark's items -> prompts -> generate the samples missing from the store
(one backend call per model) -> extract + grade every sample (each distinct answer of an item
once) -> write the outcome table (benchmark, query_id, query, model, sample, score, answer, cost,
split=null) atomically. Rerunning after a crash generates only what is missing; the outcome file
is the same as an uninterrupted run's.

`sampling=self_consistency` (default: 10 samples at T=0.7) and `sampling=direct` (1 sample at
T=0.2, the reference's direct generator) are the reference's two generation settings.
`aggregate=reference` then runs the LLM aggregator (:mod:`avengers.generate.aggregate`).

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
from avengers.generate.benchmarks.revisions import parse_pins
from avengers.generate.grade import GradeCache
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


def _load_items(
    bench: Mapping[str, Any], *, allow_unpinned: bool = False, hub_revisions: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[str]]]:
    from avengers.generate.benchmarks import get_benchmark, reference_paths, suite_names

    names = bench.get("names")
    if not names:
        raise ConfigError("benchmark.names is empty; choose benchmark=paper15 (or ood5, or one benchmark's name).")
    sources = bench.get("sources") or {}
    limit = bench.get("limit")
    reference = bench.get("reference_data")
    specs, items, prompts = {}, {}, {}
    for b in suite_names(names):
        spec = get_benchmark(b)
        source = dict(sources.get(b) or {})
        if reference and not source.get("path"):  # the reference implementation's own data files
            source["path"] = list(reference_paths(spec, reference))
        its = spec.load(source=source or None, limit=limit, allow_unpinned=allow_unpinned, hub_revisions=hub_revisions)
        if not its:
            raise AvengersError(f"benchmark {b!r} loaded no items; check benchmark.sources.{b} and benchmark.limit.")
        if limit is None and spec.n_items is not None and len(its) != spec.n_items:
            log.warning("%s: %d items, the reference evaluates %d (%s)", b, len(its), spec.n_items, spec.n_items_source)
        specs[b], items[b], prompts[b] = spec, its, [spec.prompt(i) for i in its]
    return specs, items, prompts


def model_prompts(model: ModelSpec, prompts: Mapping[str, list[str]], suffixes: Mapping[str, str]) -> dict[str, list[str]]:
    """The prompts a model is sent: with the suffix of the first `suffixes` key its name contains
    (the reference's direct generator asks "Distill" models to keep their reasoning short)."""
    for needle, suffix in suffixes.items():
        if needle in model.name:
            return {b: [p + str(suffix) for p in ps] for b, ps in prompts.items()}
    return dict(prompts)


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
    cache = GradeCache()  # each distinct answer of an item is graded once
    for b, spec in specs.items():
        for model in models:
            stored = store.fetch(model.name, b, sampling.seed, sampling.n)
            h = hashes[model.name][b]
            for it in tqdm(items[b], desc=f"grade {model.name} | {b}", unit="query", disable=not progress, leave=False):
                for s in range(sampling.n):
                    st = stored.get((it.query_id, h[it.query_id], s))
                    if st is None:  # _generate_missing guarantees this does not happen
                        raise AvengersError(f"sample {s} of {model.name} on {b}/{it.query_id} is missing from the store.")
                    answer, score = cache.grade(spec, it, st.text)
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
    log.info("graded %d distinct answers (%d more samples reused an identical answer's grade)", cache.graded, cache.reused)
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
    specs, items, prompts = _load_items(
        c["benchmark"], allow_unpinned=bool(c.get("allow_unpinned", False)), hub_revisions=parse_pins(c.get("hub_revisions"))
    )
    suffixes = {str(k): str(v) for k, v in (c.get("prompt_suffix_by_model") or {}).items()}
    per_model = {m.name: model_prompts(m, prompts, suffixes) for m in models}
    if c.get("aggregate"):  # refuse a bad aggregator setting before generating anything
        from avengers.generate.aggregate import check_config

        check_config(c["aggregate"], models, sampling)
    backend = make_backend(c["backend"])
    log.info(
        "collect: %d model(s) x %d benchmark(s) (%d queries) x n=%d, backend %s, store %s",
        len(models), len(specs), sum(len(v) for v in items.values()), sampling.n, backend.describe(), c["store"],
    )
    hashes = {
        m.name: {
            b: {it.query_id: request_hash(m.identity(), sampling.identity(), p) for it, p in zip(items[b], per_model[m.name][b])}
            for b in specs
        }
        for m in models
    }
    t0 = time.perf_counter()
    usage: dict[str, Any] = {}
    n_new = 0
    with GenerationStore(str(c["store"])) as store:
        for model in models:
            added = _generate_missing(store, backend, model, items, per_model[model.name], hashes[model.name], sampling, progress,
                                      usage)
            n_new += added
            if added:
                log.info("%s: stored %d new samples", model.name, added)
        gen_s = time.perf_counter() - t0
        df = _grade(store, specs, models, items, hashes, sampling, progress)
        df = validate(df, where="collected outcomes")
        write_outcomes(df, output)
        if c.get("aggregate"):  # after the outcome table is safe on disk
            from avengers.generate.aggregate import aggregate

            aggregate(c["aggregate"], store=store, backend=backend, specs=specs, items=items, models=models,
                      hashes=hashes, sampling=sampling, output=output, progress=progress)
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
