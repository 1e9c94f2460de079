"""The recipe as one function: outcomes -> split -> embed -> cluster -> route -> vote -> evaluate.

Each stage takes the previous stage's artefact; the Hydra entry (run.py) only composes
configs, tracks and writes files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from avengers.cluster.auto import select_k
from avengers.cluster.methods import ClusterFit, fit_cached
from avengers.embed.cache import CachedEmbedder, text_key
from avengers.evaluate.metrics import averages, benchmark_scores, predictions_frame, total_costs
from avengers.evaluate.routers import Voter, baseline_results, routed_result, single_model_results, strategy_name
from avengers.evaluate.views import QueryView, make_view
from avengers.io import stable_hash
from avengers.outcomes import load_outcomes
from avengers.outcomes.schema import OutcomeTable
from avengers.provenance import data_checksums, git_commit, package_versions
from avengers.route.ensemble import RouterEnsemble
from avengers.route.router import AvengersRouter, score_clusters
from avengers.split import make_splits

log = logging.getLogger(__name__)

# Config keys that do not change results: excluded from the config hash.
NON_RESULT_KEYS = ("tracking", "paths", "skip_existing")


@dataclass
class JobResult:
    metrics: dict[str, Any]
    predictions: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)  # counters for benchmarks (not in metrics)


def config_hash(cfg: DictConfig) -> str:
    c = OmegaConf.to_container(cfg, resolve=True)
    return stable_hash({k: v for k, v in c.items() if k not in NON_RESULT_KEYS})


def calibration_scores(view: QueryView, kinds) -> np.ndarray:
    """(M,) each model's calibration score: mean over ID benchmarks of its per-benchmark mean."""
    per = [view.mean_score[idx].mean(axis=0) for b, idx in view.bench_index().items() if kinds[b] == "id"]
    return np.mean(per, axis=0)


class RouterFactory:
    """Fits Avengers routers on one calibration set; K and seed can vary (auto K, ensembles)."""

    def __init__(self, cfg: DictConfig, calib: QueryView, e_cal: np.ndarray, kinds, embedder_id: str,
                 costs: np.ndarray | None) -> None:
        self.cfg, self.calib, self.e_cal, self.costs = cfg, calib, e_cal, costs
        self.overall = calibration_scores(calib, kinds)
        self.inputs = {"embedder": embedder_id, "calib": stable_hash([text_key(t) for t in calib.queries["query"]])}
        self.cache_dir = cfg.paths.cache_dir
        self.cv: dict[int, float] | None = None

    def method(self, k: int):
        return instantiate(self.cfg.clustering, n_clusters=int(k))

    def choose_k(self, seed: int) -> int:
        auto = self.cfg.auto_k
        k, self.cv = select_k(self.e_cal, self.calib.mean_score, self.calib.models, self.overall, self.method,
                              lambda: instantiate(self.cfg.router), list(auto.candidates), seed,
                              folds=int(auto.folds), inputs_key=self.inputs, cache_dir=self.cache_dir)
        return k

    def fit(self, k: int | str, seed: int) -> tuple[AvengersRouter, ClusterFit, bool]:
        if k == "auto":
            k = self.choose_k(seed)
        fit, cached = fit_cached(self.method(k), self.e_cal, seed, self.inputs, self.cache_dir)
        stats = score_clusters(fit.labels, self.calib.mean_score, fit.n_clusters, self.calib.models, self.costs)
        return instantiate(self.cfg.router).fit(fit, stats, self.overall), fit, cached


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


def run_job(cfg: DictConfig) -> JobResult:
    seed = int(cfg.seed)
    table = load_table(cfg.data)
    splits = make_splits(table, cfg.data, seed)
    models = table.models
    calib = make_view(splits.calib, models)
    test = make_view(splits.test, models)
    log.info("%d calibration and %d test queries, %d models, benchmarks %s",
             calib.n, test.n, len(models), dict(splits.kinds))

    # 1. embed (content-addressed cache: a rerun embeds nothing)
    embedder = instantiate(cfg.embedder)
    embedder.fit(list(calib.queries["query"]))
    cached = CachedEmbedder(embedder, f"{cfg.paths.cache_dir}/embeddings")
    e_cal = cached(list(calib.queries["query"]))
    e_test = cached(list(test.queries["query"]))

    # 2-3. cluster the calibration queries, score models per cluster, route
    factory = RouterFactory(cfg, calib, e_cal, splits.kinds, embedder.identity,
                            calib.first_cost if table.has_cost else None)
    router, fit, fit_cached_hit = factory.fit(cfg.clustering.n_clusters, seed)
    extra_rankings = {}
    if cfg.extras.get("auto_k") and cfg.clustering.n_clusters != "auto":
        extra_rankings["avengers_auto"] = factory.fit("auto", seed)[0].rank(e_test)
    cluster_ens = cfg.extras.get("cluster_ensemble")
    if cluster_ens:
        # Member seeds derive from the job seed, so the ensemble row varies across seeds like the others.
        members = [factory.fit(int(k), seed * 1000 + i)[0]
                   for k in cluster_ens.n_clusters for i in range(int(cluster_ens.n_seeds))]
        extra_rankings["avengers_ensemble"] = RouterEnsemble(members).rank(e_test)
    ranking = router.rank(e_test)

    # 4. vote (single-model baselines use the same strategy), 5. evaluate
    ens = OmegaConf.to_container(cfg.ensemble, resolve=True)
    voter = None if strategy_name(ens) == "direct" else Voter(test, ens)
    singles = single_model_results(test, voter)
    best_single = int(np.lexsort((np.arange(len(models)), -factory.overall))[0])
    results = {"avengers": routed_result(test, ranking, router.top_n, voter)}
    results.update({k: routed_result(test, r, router.top_n, voter) for k, r in extra_rankings.items()})
    results.update(baseline_results(test, singles, best_single, test.bench_index()))
    results.update({f"model:{m}": r for m, r in zip(models, singles)})

    per_bench = benchmark_scores(results, test, splits.kinds)
    notes = []
    if voter is not None and voter.n_expected:
        notes.append(
            f"ensemble={voter.name}: {voter.n_expected} of {voter.n_votes} votes had no answer to count "
            f"(the source records only scores there); those report the expected score over samples, not a vote."
        )
        log.warning(notes[-1])
    if table.dropped_queries:
        notes.append(f"data.missing=drop_query removed queries lacking some model: {dict(table.dropped_queries)}")

    # Calibration (in-sample) scores of the same routers: the K-sweep's calibration curve.
    cal_rank = router.rank(e_cal)
    idx = np.arange(calib.n)
    cal_results = {
        "avengers": calib.mean_score[idx, cal_rank[:, 0]],
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
            "n_clusters": fit.n_clusters,
            "routable_clusters": int(len(router.centers)),
            "pool": [models[i] for i in router.pool],
            "auto_k_cv": {str(k): v for k, v in factory.cv.items()} if factory.cv else None,
        },
        "notes": notes,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "config_hash": config_hash(cfg),
        "provenance": {
            "git_commit": git_commit(),
            "packages": package_versions(),
            "data": data_checksums(table.files, cfg.data.get("root")),
            "data_source": table.source,
        },
    }
    cost = total_costs(results)
    if cost:
        metrics["cost"] = cost
    stats = {"n_embedded": cached.n_embedded, "n_cached": cached.n_cached, "clustering_cached": fit_cached_hit}
    return JobResult(metrics=metrics, predictions=predictions_frame(results, test), stats=stats)
