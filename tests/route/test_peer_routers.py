"""Every router finds the right routing of a small problem whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from .synthetic import FAST, blobs, make_router

CASES = {
    "knn": (),
    "linear": (),
    "mlp": FAST["mlp"],
    "embedllm": FAST["embedllm"],
    "routerdc": FAST["routerdc"],
    "avengers": ("clustering.n_clusters=3",),
    "avengers_shrinkage": ("clustering.n_clusters=3",),
}


@pytest.fixture(scope="module")
def problem():
    calib, _ = blobs(60, seed=1)
    test, group = blobs(40, seed=2)
    return calib, test, group


@pytest.mark.parametrize("name", sorted(CASES))
def test_router_finds_the_known_routing(name, problem, tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test, group = problem
    router = make_router(name, *CASES[name]).fit(calib, seed=0)
    top = router.rank(test.embeddings, list(test.texts))[:, 0]
    assert np.mean(top == group) >= 0.95, (name, np.bincount(top, minlength=4))
    # the generalist (model 3) is never the best choice here
    assert np.mean(top == 3) <= 0.05


@pytest.mark.slow
def test_auto_finds_the_known_routing(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test, group = problem
    overrides = [f"candidates.{n}.{o}" for n in ("mlp", "embedllm", "routerdc") for o in FAST[n]]
    router = make_router("auto", *overrides, "search.avengers={n_clusters:[2,3],shrinkage:[0,10]}").fit(calib, seed=0)
    top = router.rank(test.embeddings, list(test.texts))[:, 0]
    assert np.mean(top == group) >= 0.95
    chosen = router.describe()["chosen"]
    assert chosen["router"] != "best_single" and chosen["gain_vs_best_single"] > 10
    routers = {row["router"] for row in router.describe()["cv"]["candidates"]}
    assert routers == {"best_single", "avengers", "knn", "linear", "mlp", "embedllm", "routerdc"}


def test_auto_falls_back_to_best_single_when_nothing_beats_it(tmp_path, monkeypatch):
    """Scores unrelated to the query: every router's CV gain is noise, so auto keeps the best
    single model (the guarantee that it is never far below best_single)."""
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, _ = blobs(80, seed=3)
    rng = np.random.default_rng(4)
    p = np.array([0.55, 0.5, 0.5, 0.45])
    scores = (rng.random((calib.n, 4)) < p).astype(float)
    from dataclasses import replace

    calib = replace(calib, scores=scores, identity={"synthetic": "noise"})
    router = make_router("auto", "include=[knn,linear]").fit(calib, seed=0)
    assert router.describe()["chosen"]["router"] == "best_single"
    top = router.rank(calib.embeddings[:50], list(calib.texts[:50]))[:, 0]
    assert set(top) == {int(np.argmax(calib.overall))}


def test_shrinkage_beats_the_plain_recipe_where_clusters_are_small(tmp_path, monkeypatch):
    """The winner's curse: many models, few calibration queries per cluster, and one model truly
    best everywhere. The plain recipe's per-cluster argmax is picked by noise; empirical-Bayes
    shrinkage (strength by calibration CV) recovers the best model."""
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    from dataclasses import replace

    def noisy(seed: int, n: int):
        data, _ = blobs(n, seed=seed, n_blobs=8, dim=16)
        rng = np.random.default_rng(seed + 100)
        p = np.full(20, 0.5)
        p[7] = 0.65  # model 7 is the best everywhere
        scores = (rng.random((data.n, 20)) < p).astype(float)
        return replace(data, scores=scores, models=tuple(f"m{j}" for j in range(20)),
                       identity={"synthetic": f"noisy-{seed}-{n}"})

    calib, test = noisy(5, 20), noisy(6, 200)
    plain = make_router("avengers", "clustering.n_clusters=32").fit(calib, seed=0)
    shrunk = make_router("avengers", "clustering.n_clusters=32", "shrinkage=auto").fit(calib, seed=0)
    assert shrunk.describe()["shrinkage"] > 0
    score = {}
    for name, r in (("plain", plain), ("shrunk", shrunk)):
        top = r.rank(test.embeddings, list(test.texts))[:, 0]
        score[name] = test.scores[np.arange(test.n), top].mean()
    assert score["shrunk"] > score["plain"] + 0.03, score


def test_shrinkage_formula():
    from avengers.cluster.methods import ClusterFit
    from avengers.route.avengers import AvengersRouter, score_clusters

    labels = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [1, 1]], dtype=float)
    fit = ClusterFit(labels=labels, centers=np.eye(2))
    stats = score_clusters(labels, scores, 2, ("a", "b"))
    prior = scores.mean(axis=0)
    r = AvengersRouter(shrinkage=4.0).fit_clusters(fit, stats, prior, prior=prior)
    expected = (np.array([[2], [4]]) * stats.accuracy + 4 * prior) / (np.array([[2], [4]]) + 4)
    np.testing.assert_allclose(r.value, expected)
    plain = AvengersRouter().fit_clusters(fit, stats, prior, prior=prior)
    np.testing.assert_allclose(plain.value, stats.accuracy)


@pytest.mark.slow
def test_auto_does_not_depend_on_n_jobs(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test, _ = problem
    fast = [f"candidates.mlp.{o}" for o in FAST["mlp"]]
    runs = []
    for n_jobs in (1, 2):
        r = make_router("auto", "include=[knn,mlp,avengers]", "search.avengers={n_clusters:[3],shrinkage:[0]}",
                        f"n_jobs={n_jobs}", *fast).fit(calib, seed=0)
        runs.append((r.describe()["cv"], r.predict(test.embeddings)))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
