"""Avengers-Pro on RouterBench (real USD costs): alpha = 1 is the accuracy-only recipe exactly,
and the cheapest alpha costs no more than the cheapest single model."""

from __future__ import annotations

import numpy as np
import pytest

from avengers.pipeline import run_job
from support import compose_cfg

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

BASE = ["data=routerbench", "embedder=tfidf", "embedder.n_components=64", "clustering.n_clusters=16"]


@pytest.fixture(scope="module")
def runs(data_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for alpha in (None, 1.0, 0.5, 0.0):
        extra = [] if alpha is None else [f"router.alpha={alpha}"]
        out[alpha] = run_job(compose_cfg(BASE + extra, cache=cache, data_root=data_root))
    return out


def test_alpha_one_equals_accuracy_only(runs):
    plain, one = runs[None], runs[1.0]
    assert plain.metrics["benchmarks"] == one.metrics["benchmarks"]
    a = plain.predictions[plain.predictions.router == "avengers"]
    b = one.predictions[one.predictions.router == "avengers"]
    assert a["model"].tolist() == b["model"].tolist()


def test_cheapest_alpha_is_no_more_expensive_than_the_cheapest_model(runs):
    cost = runs[0.0].metrics["cost"]
    singles = {k: v for k, v in cost.items() if k.startswith("model:")}
    assert len(singles) == 11
    assert cost["avengers"] <= min(singles.values()) + 1e-12
    # and accuracy falls, cost falls, as alpha goes from 1 to 0
    costs = [runs[a].metrics["cost"]["avengers"] for a in (1.0, 0.5, 0.0)]
    assert costs[0] >= costs[1] >= costs[2]


def test_costs_are_sums_of_real_per_query_costs(runs):
    r = runs[1.0]
    pred = r.predictions
    for router in ("avengers", "best_single", "oracle"):
        assert pred.loc[pred.router == router, "cost"].sum() == pytest.approx(r.metrics["cost"][router])
    assert np.isfinite(pred["cost"]).all()
