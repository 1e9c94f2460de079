"""Voting inside the pipeline on real samples: MoT (20/3/20 samples) and RouterBench answers."""

from __future__ import annotations

import pandas as pd
import pytest

from avengers.pipeline import run_job
from support import compose_cfg

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

MOT = ["data=mot_date", "embedder=tfidf", "embedder.n_components=32", "clustering.n_clusters=4", "router.top_n=2"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_self_consistency_on_mot_routes_and_votes(cache, data_root):
    direct = run_job(compose_cfg(MOT, cache=cache, data_root=data_root))
    sc = run_job(compose_cfg(MOT + ["ensemble=self_consistency"], cache=cache, data_root=data_root))
    b = sc.metrics["benchmarks"]["bbh_date_understanding"]
    assert b["n_test"] == 111  # ceil(0.3 * 369)
    s, d = b["scores"], direct.metrics["benchmarks"]["bbh_date_understanding"]["scores"]
    # The "Enhanced" single-model rows vote too: voted gpt-3.5 beats its first sample.
    assert s["model:gpt-3.5-turbo"] > d["model:gpt-3.5-turbo"]
    assert not sc.metrics["notes"]  # real answers: no expected-score fallback
    pred = sc.predictions
    av = pred[pred.router == "avengers"]
    assert av["answer"].notna().all() and set(av["model"]) <= {"gpt-3.5-turbo", "gpt-4", "llama-2-13b"}
    # The voted answer is the majority of the routed model's samples, normalised as dates.
    assert av["answer"].str.match(r"^\d\d/\d\d/\d{4}$").mean() > 0.9


def test_n_samples_is_a_knob(cache, data_root):
    scores = [run_job(compose_cfg(MOT + ["ensemble=self_consistency", f"ensemble.n_samples={n}"], cache=cache,
                                  data_root=data_root)).metrics["benchmarks"]["bbh_date_understanding"]["scores"]
              for n in (1, 3)]
    direct = run_job(compose_cfg(MOT, cache=cache, data_root=data_root)).metrics
    assert scores[0]["model:llama-2-13b"] == pytest.approx(
        direct["benchmarks"]["bbh_date_understanding"]["scores"]["model:llama-2-13b"])
    assert scores[0] != scores[1]


def test_self_consistency_without_answers_reports_expected_score(cache, data_root):
    args = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=3",
            "data.max_queries_per_benchmark=20", "ensemble=self_consistency"]
    r = run_job(compose_cfg(args, cache=cache, data_root=data_root))
    assert r.metrics["notes"] and "expected score" in r.metrics["notes"][0]
    d = run_job(compose_cfg(args[:-1], cache=cache, data_root=data_root))
    assert r.metrics["benchmarks"] == d.metrics["benchmarks"]  # one sample: expected == direct


def test_multi_model_on_routerbench_arc_beside_single_models(cache, data_root):
    args = ["data=routerbench", "data.benchmarks=[arc_challenge]", "embedder=tfidf", "embedder.n_components=64",
            "clustering.n_clusters=8", "router.top_n=3"]
    r = run_job(compose_cfg(args + ["ensemble=multi_model_top3"], cache=cache, data_root=data_root))
    s = r.metrics["benchmarks"]["arc_challenge"]["scores"]
    assert sum(k.startswith("model:") for k in s) == 11
    av = r.predictions[r.predictions.router == "avengers"]
    assert (av["model"].str.count(",") == 2).all()  # three models voted on every query
    assert s["avengers"] > s["random"]


def test_strategies_vote_over_the_routers_top_n_selection(cache, data_root):
    args = ["data=routerbench", "data.benchmarks=[arc_challenge]", "embedder=tfidf", "embedder.n_components=64",
            "clustering.n_clusters=8", "ensemble=multi_model_top3", "router.top_n=2"]
    r = run_job(compose_cfg(args, cache=cache, data_root=data_root))
    av = r.predictions[r.predictions.router == "avengers"]
    assert (av["model"].str.count(",") == 1).all()  # top_n=2 caps the pool of three
