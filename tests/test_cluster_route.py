"""Clustering methods, the cluster cache, per-cluster scoring and the router's choices."""

from __future__ import annotations

import numpy as np
import pytest

from avengers.cluster.methods import (AgglomerativeClustering, BirchClustering, GaussianMixtureClustering,
                                      KMeansClustering, SpectralClustering, fit_cached)
from avengers.errors import ConfigError
from avengers.route.avengers import AvengersRouter, score_clusters
from avengers.route.base import CalibrationSet
from avengers.route.averaging import AveragedRouters


def blobs(n_per=30, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.eye(3, 8)
    x = np.concatenate([c + 0.05 * rng.standard_normal((n_per, 8)) for c in centers])
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(3), n_per)


METHODS = [KMeansClustering(name="kmeans", n_clusters=3, n_init=4),
           AgglomerativeClustering(name="agglomerative", n_clusters=3),
           GaussianMixtureClustering(name="gmm", n_clusters=3),
           SpectralClustering(name="spectral", n_clusters=3, n_neighbors=10),
           BirchClustering(name="birch", n_clusters=3)]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_every_method_recovers_clear_clusters_with_unit_centres(method):
    x, truth = blobs()
    fit = method.fit(x, seed=0)
    assert fit.centers.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(fit.centers, axis=1), 1.0, rtol=1e-6)
    # Same partition as the truth, up to label names.
    pairs = {(a, b) for a, b in zip(truth, fit.labels)}
    assert len(pairs) == 3


def test_k_larger_than_data_is_a_clear_error():
    x, _ = blobs(n_per=2)
    with pytest.raises(ConfigError, match="n_clusters=10 is larger than the calibration set \\(6 queries\\)"):
        KMeansClustering(name="kmeans", n_clusters=10, n_init=1).fit(x, seed=0)


def test_fit_cache_is_keyed_by_every_input(tmp_path):
    x, _ = blobs()
    m = KMeansClustering(name="kmeans", n_clusters=3, n_init=2)
    f1, hit1 = fit_cached(m, x, 0, {"embedder": "e", "calib": "c"}, tmp_path)
    f2, hit2 = fit_cached(m, x, 0, {"embedder": "e", "calib": "c"}, tmp_path)
    assert (hit1, hit2) == (False, True)
    np.testing.assert_array_equal(f1.labels, f2.labels)
    for other in ({"embedder": "e2", "calib": "c"}, {"embedder": "e", "calib": "c2"}):
        assert fit_cached(m, x, 0, other, tmp_path)[1] is False
    assert fit_cached(m, x, 1, {"embedder": "e", "calib": "c"}, tmp_path)[1] is False
    assert fit_cached(KMeansClustering(name="kmeans", n_clusters=3, n_init=3), x, 0,
                      {"embedder": "e", "calib": "c"}, tmp_path)[1] is False
    assert not list(tmp_path.rglob("*.pkl"))


def toy_router(**kw):
    """Three clusters; model 0 is best in cluster 0, model 1 in cluster 1, model 2 in cluster 2."""
    x, truth = blobs()
    scores = np.zeros((len(x), 3))
    scores[np.arange(len(x)), truth] = 1.0
    fit = KMeansClustering(name="kmeans", n_clusters=3, n_init=4).fit(x, seed=0)
    stats = score_clusters(fit.labels, scores, 3, ["m0", "m1", "m2"], costs=np.tile([1.0, 2.0, 3.0], (len(x), 1)))
    return AvengersRouter(**kw).fit_clusters(fit, stats, scores.mean(axis=0)), x, truth, fit, stats, scores


def test_hard_routing_picks_the_cluster_best_model():
    router, x, truth, *_ = toy_router()
    assert (router.rank(x)[:, 0] == truth).all()


def test_soft_routing_with_large_beta_equals_hard_routing():
    hard, x, *_ = toy_router()
    soft, *_ = toy_router(top_k=3, beta=200.0)
    np.testing.assert_array_equal(hard.rank(x)[:, 0], soft.rank(x)[:, 0])
    rank_w, *_ = toy_router(top_k=3, beta=200.0, weighting="rank")
    np.testing.assert_array_equal(hard.rank(x)[:, 0], rank_w.rank(x)[:, 0])


def test_alpha_zero_routes_to_cheapest_and_alpha_one_is_accuracy_only():
    a1, x, *_ = toy_router(alpha=1.0)
    plain, *_ = toy_router()
    np.testing.assert_array_equal(a1.rank(x), plain.rank(x))
    a0, *_ = toy_router(alpha=0.0)
    assert (a0.rank(x)[:, 0] == 0).all()


def test_ties_break_by_overall_score_then_name():
    router, x, _, fit, stats, _ = toy_router()
    flat = score_clusters(fit.labels, np.ones((len(x), 3)), 3, ["m0", "m1", "m2"])
    r = AvengersRouter().fit_clusters(fit, flat, np.array([0.2, 0.9, 0.9]))
    assert (r.rank(x) == [1, 2, 0]).all()


def test_min_cluster_size_larger_than_every_cluster_is_an_error():
    with pytest.raises(ConfigError, match="min_cluster_size=31"):
        toy_router(min_cluster_size=31)


def test_pool_selection_keeps_the_models_that_top_most_clusters():
    router, x, *_ = toy_router(pool_size=2)
    assert len(router.pool) == 2
    assert set(np.unique(router.rank(x)[:, 0])) <= set(router.pool)


def blob_data(n_per=30):
    x, truth = blobs(n_per=n_per)
    scores = np.zeros((len(x), 3))
    scores[np.arange(len(x)), truth] = 1.0
    return CalibrationSet(embeddings=x, scores=scores, models=("m0", "m1", "m2"),
                          texts=tuple(f"q{i}" for i in range(len(x))), benchmarks=("b",) * len(x),
                          identity={"test": "blobs", "n_per": n_per}), truth


def test_ensemble_of_identical_routers_equals_one(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    data, truth = blob_data()
    make = lambda: AvengersRouter(clustering=KMeansClustering(name="kmeans", n_clusters=3, n_init=4))
    single = make().fit(data, 0)
    ens = AveragedRouters([make(), make()], offsets=[0, 0]).fit(data, 0)
    np.testing.assert_array_equal(ens.rank(data.embeddings), single.rank(data.embeddings))
    assert (single.rank(data.embeddings)[:, 0] == truth).all()


def test_auto_k_uses_calibration_only_and_finds_the_structure(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    data, truth = blob_data(n_per=40)
    method = KMeansClustering(name="kmeans", n_clusters="auto", n_init=2, auto_k={"candidates": [1, 3, 8], "folds": 3})
    router = AvengersRouter(clustering=method).fit(data, 0)
    cv = router.cv
    assert cv[3] == pytest.approx(100.0) and cv[1] < 50 and router.n_clusters == 3
    assert (router.rank(data.embeddings)[:, 0] == truth).all()


def test_tiny_clusters_are_skipped_and_queries_go_to_the_next_nearest():
    x, truth = blobs(n_per=30)
    scores = np.zeros((len(x), 3))
    scores[np.arange(len(x)), truth] = 1.0
    fit = KMeansClustering(name="kmeans", n_clusters=3, n_init=4).fit(x, seed=0)
    labels = fit.labels.copy()
    tiny = labels[0]
    keep = np.flatnonzero(labels == tiny)[:2]  # leave only 2 queries in the first cluster
    mask = (labels != tiny) | np.isin(np.arange(len(x)), keep)
    from avengers.cluster.methods import ClusterFit

    small = ClusterFit(labels=labels[mask], centers=fit.centers)
    stats = score_clusters(small.labels, scores[mask], 3, ["m0", "m1", "m2"])
    r = AvengersRouter(min_cluster_size=5).fit_clusters(small, stats, scores.mean(0))
    assert len(r.centers) == 2  # the 2-query cluster is not routed to
    assert r.nearest_cluster(x[:1]).shape == (1,)
    assert set(r.rank(x[truth == truth[0]])[:, 0]) <= {0, 1, 2} - {int(truth[0])}


def test_state_round_trip_routes_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    data, truth = blob_data()
    fitted = AvengersRouter(clustering=KMeansClustering(name="kmeans", n_clusters=3, n_init=4), top_k=2).fit(data, 0)
    meta, arrays = fitted.get_state()
    fresh = AvengersRouter()
    fresh.set_state(meta, arrays)
    np.testing.assert_array_equal(fresh.rank(data.embeddings), fitted.rank(data.embeddings))
    np.testing.assert_allclose(fresh.predict(data.embeddings), fitted.predict(data.embeddings))
