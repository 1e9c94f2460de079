"""The recipe as one function: outcomes -> split -> embed -> cluster -> route -> vote -> evaluate.

Each stage takes the previous stage's artefact; the Hydra entry (run.py) only composes
configs, tracks and writes files.
"""

from __future__ import annotations

import logging
import time
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from avengers.assets import set_cache_root
from avengers.config import check_config
from avengers.errors import AvengersError, ConfigError
from avengers.embed.cache import CachedEmbedder, text_key
from avengers.evaluate.metrics import averages, benchmark_scores, predictions_frame, total_costs
from avengers.evaluate.routers import baseline_results, routed_result, single_model_results
from avengers.files import stable_hash
from avengers.outcomes import load_outcomes
from avengers.outcomes.schema import OutcomeTable
from avengers.provenance import data_checksums, git_commit, package_versions, result_config
from avengers.route.base import CalibrationSet, Router
from avengers.route.cache import fit_cached as fit_router_cached
from avengers.route.extras import extra_routers
from avengers.route.tuning import PEEK_LABEL, PEEK_SUFFIX, TestPeek, select_on_test
from avengers.split import make_splits
from avengers.split.views import QueryView, make_view
from avengers.vote.voter import Voter, strategy_name

log = logging.getLogger(__name__)

@dataclass
class Calibrated:
    """The fitted half of a job: embedder fitted on the calibration texts, router fitted on the
    calibration split. `avengers.api.Router` wraps it; every job folder saves it (router/)."""

    embedder: Any
    cached: CachedEmbedder
    data: CalibrationSet
    router: Router
    extras: dict[str, Router]
    e_test: np.ndarray | None = None  # the test queries' embeddings, when run_job asked for them
    fit_info: dict[str, Any] = field(default_factory=dict)  # fit seconds, from the router cache or not

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.cached(texts)


@dataclass
class JobResult:
    metrics: dict[str, Any]
    predictions: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)  # counters for benchmarks (not in metrics)
    calibrated: Calibrated | None = None  # the fitted router, saved into the job folder


def config_hash(cfg: DictConfig, table: OutcomeTable) -> str:
    """A result's identity: its config without the result-neutral keys (no paths) plus the
    checksums of the data files it read, so a changed file at the same path is a new result
    and the same data in another folder is the same one."""
    c = result_config(OmegaConf.to_container(cfg, resolve=True))
    return stable_hash({"config": c, "data": data_checksums(table.files)})


def calibration_set(view: QueryView, embeddings: np.ndarray, embedder_id: str, has_cost: bool) -> CalibrationSet:
    texts = tuple(view.queries["query"])
    return CalibrationSet(
        embeddings=embeddings, scores=view.mean_score, models=view.models, texts=texts,
        benchmarks=tuple(view.queries["benchmark"]), costs=view.first_cost if has_cost else None,
        identity={"embedder": embedder_id, "calib": stable_hash([text_key(t) for t in texts])},
    )


def build_router(cfg: DictConfig) -> Router:
    """Instantiate `cfg.router`; a bad or missing hyperparameter stops with one ConfigError."""
    try:
        router = instantiate(cfg.router, _convert_="all")
    except Exception as e:  # Hydra wraps the constructor's error: find the real one
        raise router_config_error(cfg, e) from None
    if not isinstance(router, Router):
        raise ConfigError(f"router._target_ must build an avengers.route.Router; got {type(router).__name__}.")
    return router


def router_config_error(cfg: DictConfig, error: BaseException) -> AvengersError:
    name = cfg.router.get("name", "?") if isinstance(cfg.router, DictConfig) else "?"
    chain, e = [], error
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, AvengersError):
            return e
    for e in chain:
        if isinstance(e, MissingMandatoryValue):
            return ConfigError(f"router={name}: hyperparameter {e.full_key} has no value (???); set it, e.g. "
                               f"{e.full_key}=<value>, or give it in conf/router/{name}.yaml.")
        if isinstance(e, TypeError) and "missing" in str(e) and "argument" in str(e):
            missing = re.findall(r"'(\w+)'", str(e))
            return ConfigError(f"router={name}: missing hyperparameter(s) {', '.join(missing)} "
                               f"(conf/router/{name}.yaml lists them all); add e.g. +router.{missing[0] if missing else '<name>'}=<value>.")
        if isinstance(e, TypeError) and "unexpected keyword" in str(e):
            bad = re.findall(r"'(\w+)'", str(e))
            return ConfigError(f"router={name}: unknown hyperparameter {bad[-1] if bad else str(e)!r}; remove it "
                               f"(conf/router/{name}.yaml lists the known ones).")
    raise error


def fit_router(router: Router, data: CalibrationSet, seed: int) -> tuple[Router, dict[str, Any]]:
    """Fit on the calibration split, or restore the identical fit from the router cache."""
    router, info = fit_router_cached(router, data, seed)
    if info["cached"]:
        log.info("router=%s restored from the fitted-router cache (fitted in %.1fs)", router.name, info["fit_seconds"])
    return router, info


def timed_rank(router: Router, embeddings: np.ndarray, texts: list[str]) -> tuple[np.ndarray, float]:
    """(ranking, seconds per 1,000 queries)."""
    t0 = time.perf_counter()
    ranking = router.rank(embeddings, texts)
    return ranking, (time.perf_counter() - t0) / max(len(texts), 1) * 1000


def peek_variant(router: Router, data: CalibrationSet, seed: int, test: QueryView, e_test: np.ndarray) -> Router:
    """The opt-in † variant of `router`: hyperparameters (and checkpoints) chosen ON TEST."""
    peek = TestPeek(embeddings=e_test, texts=tuple(test.queries["query"]), scores=test.mean_score,
                    benchmarks=tuple(test.queries["benchmark"]))
    fitted, _, table = select_on_test(router, data, seed, peek)
    fitted.name = f"{router.name}{PEEK_SUFFIX}"
    fitted.peek_table = table
    return fitted


# Split-side keys of the data config: they do not change what is loaded.
_SPLIT_KEYS = ("test_size", "benchmarks", "ood", "max_queries_per_benchmark", "subsample_seed", "calibration_fraction")
_TABLES: dict[str, OutcomeTable] = {}


def load_table(data_cfg: DictConfig) -> OutcomeTable:
    """Load + validate once per process: jobs of a sweep that share a launcher worker reuse it."""
    spec = {k: v for k, v in OmegaConf.to_container(data_cfg, resolve=True).items() if k not in _SPLIT_KEYS}
    key = stable_hash(spec)
    if key not in _TABLES:
        _TABLES.clear()
        _TABLES[key] = load_outcomes(data_cfg)
    return _TABLES[key]


def calibrate(cfg: DictConfig, calib: QueryView, has_cost: bool, test_texts: list[str] | None = None) -> Calibrated:
    """Embed the calibration queries (content-addressed cache: a rerun embeds nothing) and fit
    the configured router, plus its extra rows, on them. `test_texts` are embedded in the same
    length-sorted pass, as one encode call would (Calibrated.e_test)."""
    set_cache_root(cfg.paths.cache_dir)  # one knob moves every cache: downloads, models, embeddings, fits
    embedder = instantiate(cfg.embedder)
    embedder.fit(list(calib.queries["query"]))
    cached = CachedEmbedder(embedder, f"{cfg.paths.cache_dir}/embeddings")
    e_cal, e_test = cached.embed_all(list(calib.queries["query"]), list(test_texts or []))
    data = calibration_set(calib, e_cal, embedder.identity, has_cost)
    seed = int(cfg.seed)
    router, fit_info = fit_router(build_router(cfg), data, seed)
    extras = {name: r.fit(data, seed) for name, r in extra_routers(router).items()}
    return Calibrated(embedder=embedder, cached=cached, data=data, router=router, extras=extras, e_test=e_test,
                      fit_info=fit_info)


def run_job(cfg: DictConfig, table: OutcomeTable | None = None) -> JobResult:
    check_config(cfg)  # unknown keys (did-you-mean) and bad top-level values, before anything runs
    seed = int(cfg.seed)
    table = load_table(cfg.data) if table is None else table
    splits = make_splits(table, cfg.data, seed)
    models = table.models
    calib = make_view(splits.calib, models)
    test = make_view(splits.test, models)
    log.info("%d calibration and %d test queries, %d models, benchmarks %s",
             calib.n, test.n, len(models), dict(splits.kinds))

    # 1-3. embed both splits in one length-sorted pass, fit the router on the calibration split
    # (Avengers: cluster, score per cluster)
    test_texts = list(test.queries["query"])
    fitted = calibrate(cfg, calib, table.has_cost, test_texts)
    data, router, extras, cached = fitted.data, fitted.router, fitted.extras, fitted.cached
    e_cal, e_test = data.embeddings, fitted.e_test
    ranking, route_per_1000 = timed_rank(router, e_test, test_texts)
    extra_rankings = {name: r.rank(e_test, test_texts) for name, r in extras.items()}
    # Opt-in † row (router.peek_test=true): the paper's convention of choosing on TEST, labelled.
    if getattr(router, "peek_test", False):
        peeked = peek_variant(router, data, seed, test, e_test)
        extras[peeked.name] = peeked
        extra_rankings[peeked.name] = peeked.rank(e_test, test_texts)

    # 4. vote (single-model baselines use the same strategy), 5. evaluate
    ens = OmegaConf.to_container(cfg.ensemble, resolve=True)
    voter = None if strategy_name(ens) == "direct" else Voter(test, ens)
    singles = single_model_results(test, voter)
    best_single = int(np.lexsort((np.arange(len(models)), -data.overall))[0])
    results = {router.name: routed_result(test, ranking, router.top_n, voter)}
    results.update({k: routed_result(test, r, router.top_n, voter) for k, r in extra_rankings.items()})
    results.update(baseline_results(test, singles, best_single, test.bench_index()))
    results.update({f"model:{m}": r for m, r in zip(models, singles)})

    per_bench = benchmark_scores(results, test, splits.kinds)
    notes = [f"{name}: hyperparameters/checkpoint chosen ON THE TEST SPLIT, the paper's † convention — "
             f"{PEEK_LABEL}; not a deployable router." for name in extras if name.endswith(PEEK_SUFFIX)]
    if voter is not None and voter.n_expected:
        notes.append(
            f"ensemble={voter.name}: {voter.n_expected} of {voter.n_votes} votes had no answer to count "
            f"(the source records only scores there); those report the expected score over samples, not a vote."
        )
        log.warning(notes[-1])
    if splits.calibration_only:
        notes.append(f"calibration-only benchmarks (the data has no test rows for them; used for calibration, "
                     f"not tested): {', '.join(splits.calibration_only)}")
    if voter is not None and voter.n_grade_conflicts:
        notes.append(f"ensemble={voter.name}: {voter.n_grade_conflicts} of {voter.n_votes} voted answers carried "
                     f"samples with different grades; each was scored by its samples' majority grade.")
        log.warning(notes[-1])
    if table.dropped_queries:
        notes.append(f"data.missing=drop_query removed queries lacking some model: {dict(table.dropped_queries)}")

    # Calibration (in-sample) scores of the same routers: the K-sweep's calibration curve.
    cal_rank = router.rank(e_cal, list(data.texts))
    idx = np.arange(calib.n)
    cal_results = {
        router.name: calib.mean_score[idx, cal_rank[:, 0]],
        "best_single": calib.mean_score[:, best_single],
        "random": calib.mean_score.mean(axis=1),
        "oracle": calib.mean_score.max(axis=1),
    }
    cal_bench = {
        b: {"split": "id", "n_calib": int(len(ix)), "scores": {k: float(v[ix].mean() * 100) for k, v in cal_results.items()}}
        for b, ix in calib.bench_index().items()
    }
    metrics = {
        "benchmarks": per_bench,
        "averages": averages(per_bench),
        "calibration": {"benchmarks": cal_bench, "averages": averages(cal_bench)},
        "selection": {
            "best_single": models[best_single],
            "router": router.name,
            **router.describe(),
            **{f"{name}": r.describe() for name, r in extras.items()},
            **{name: {"label": PEEK_LABEL, **r.describe(), "chosen_on_test": r.peek_table}
               for name, r in extras.items() if name.endswith(PEEK_SUFFIX)},
        },
        "notes": notes,
        **({"calibration_only": list(splits.calibration_only)} if splits.calibration_only else {}),
        # No path on this machine: metrics.json is the same wherever the data and outputs lie.
        "config": result_config(OmegaConf.to_container(cfg, resolve=True)),
        "config_hash": config_hash(cfg, table),
        "provenance": {
            "git_commit": git_commit(),
            "packages": package_versions(),
            "data": data_checksums(table.files),
            "data_source": table.source,
        },
    }
    cost = total_costs(results)
    if cost:
        metrics["cost"] = cost
    fit_info = fitted.fit_info
    stats = {"n_embedded": cached.n_embedded, "n_cached": cached.n_cached,
             # a router restored from the fitted-router cache fitted no clustering either
             "clustering_cached": True if fit_info.get("cached") else getattr(router, "cached", None),
             # machine-dependent: written to timing.json, never into metrics.json
             "timing": {"router": router.name, "fit_seconds": fit_info.get("fit_seconds"),
                        "fit_from_cache": fit_info.get("cached"), "route_seconds_per_1000": route_per_1000,
                        "n_calibration": int(calib.n), "n_test": int(test.n)}}
    return JobResult(metrics=metrics, predictions=predictions_frame(results, test), stats=stats, calibrated=fitted)
