"""Every reference-parity switch (docs/deviations.md): its harness default is unchanged, its
reference setting does what the authors' code does, on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from avengers.cluster.methods import ClusterFit, KMeansClustering, fit_cached
from avengers.errors import ConfigError
from avengers.route.avengers import AvengersRouter, cost_score, fill_missing_costs, reference_pool, score_clusters
from avengers.run import CONF_DIR
from avengers.split.views import make_view
from avengers.vote.voter import Voter


def blobs(n_per=30, seed=0, spread=(0.05, 0.05, 0.05)):
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + s * rng.standard_normal((n_per, 8)) for c, s in zip(np.eye(3, 8), spread)])
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def composed(*over: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(over))


# ----------------------------------------------------------------------------- clustering


def test_harness_defaults_are_unchanged():
    cfg = composed()
    assert (cfg.clustering.centers, cfg.clustering.random_state) == ("normalised", None)
    assert (cfg.clustering.n_init, cfg.clustering.max_iter, cfg.clustering.algorithm) == (10, 300, "lloyd")
    r = cfg.router
    assert (r.ties, r.pool_selection, r.weighting, r.rank_offset, r.cost_norm, r.missing_cost) == (
        "overall", "weighted", "score", 0.1, "minmax", "model_mean")
    assert cfg.ensemble.code_answers == "vote"
    assert composed("ensemble=model_switch").ensemble.threshold == 0.5


def test_raw_centres_are_the_kmeans_centres_and_normalised_ones_are_unit():
    from sklearn.cluster import KMeans

    x = blobs(spread=(0.02, 0.3, 0.1))
    raw = KMeansClustering(name="k", n_clusters=3, n_init=2, centers="raw").fit(x, seed=0)
    unit = KMeansClustering(name="k", n_clusters=3, n_init=2).fit(x, seed=0)
    km = KMeans(n_clusters=3, n_init=2, random_state=0).fit(x)
    np.testing.assert_allclose(np.sort(np.linalg.norm(raw.centers, axis=1)),
                               np.sort(np.linalg.norm(km.cluster_centers_, axis=1)))
    assert (np.linalg.norm(raw.centers, axis=1) < 0.999).all()  # a spread cluster's mean is shorter
    np.testing.assert_allclose(np.linalg.norm(unit.centers, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(raw.labels, unit.labels)
    with pytest.raises(ConfigError, match="clustering.centers='unit'"):
        KMeansClustering(name="k", centers="unit")


def test_raw_centres_route_by_one_minus_dot_product():
    """A tight cluster (centre norm 0.95) and a spread one (norm 0.5): a query closer in angle to
    the spread one goes there by cosine, but to the tight one by the reference's 1 - c.q."""
    tight = np.array([0.95, 0.0])
    spread = np.array([0.5 * np.cos(0.5), 0.5 * np.sin(0.5)])
    q = np.array([[np.cos(0.3), np.sin(0.3)]])  # 0.3 rad from tight, 0.2 rad from spread
    stats = score_clusters(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]), 2, ["a", "b"])
    raw = AvengersRouter().fit_clusters(ClusterFit(np.array([0, 1]), np.stack([tight, spread])), stats, np.zeros(2))
    unit = AvengersRouter().fit_clusters(
        ClusterFit(np.array([0, 1]), np.stack([tight, spread]) / np.linalg.norm(np.stack([tight, spread]), axis=1, keepdims=True)),
        stats, np.zeros(2))
    assert raw.rank(q)[0, 0] == 0 and unit.rank(q)[0, 0] == 1
    assert raw.nearest_cluster(q)[0] == 0 and unit.nearest_cluster(q)[0] == 1


def test_random_state_fixes_the_fit_across_job_seeds_and_is_cached_once(tmp_path):
    x = blobs()
    fixed = KMeansClustering(name="k", n_clusters=3, n_init=1, random_state=42)
    a, hit_a = fit_cached(fixed, x, 0, {"e": 1}, tmp_path)
    b, hit_b = fit_cached(fixed, x, 3, {"e": 1}, tmp_path)
    assert (hit_a, hit_b) == (False, True)  # job seed 3 reuses the seed-42 fit
    np.testing.assert_array_equal(a.centers, KMeansClustering(name="k", n_clusters=3, n_init=1).fit(x, 42).centers)
    assert fit_cached(KMeansClustering(name="k", n_clusters=3, n_init=1), x, 0, {"e": 1}, tmp_path)[1] is False
    with pytest.raises(ConfigError, match="random_state"):
        KMeansClustering(name="k", random_state="42")


def test_normalised_centres_keep_their_cache_keys():
    # Existing fits stay valid: the default key has no new entries.
    assert KMeansClustering(name="k", n_clusters=3).key() == {"method": "KMeansClustering", "n_clusters": 3}
    assert KMeansClustering(name="k", n_clusters=3, centers="raw").key()["centers"] == "raw"


@pytest.mark.parametrize("name,expected", [
    ("kmeans_reference", {"n_init": "auto", "max_iter": 1000, "algorithm": "elkan"}),
    ("gmm_reference", {"covariance_type": "diag", "n_init": 10, "max_iter": 100, "reg_covar": 1e-6}),
    ("spectral_reference", {"affinity": "rbf", "gamma": 0.1}),
    ("birch_reference", {"threshold": 0.5, "branching_factor": 50}),
    ("agglomerative_reference", {"linkage": "ward"}),
])
def test_reference_clustering_presets_run_with_the_reference_parameters(name, expected):
    node = composed(f"clustering={name}", "clustering.n_clusters=3").clustering
    for k, v in expected.items():
        assert node[k] == v, k
    from hydra.utils import instantiate

    method = instantiate(node)
    fit = method.fit(blobs(), seed=0)
    assert fit.n_clusters == 3 and len(set(fit.labels)) == 3


# ----------------------------------------------------------------------------- routing


def _router(values, **kw):
    k, m = np.asarray(values).shape
    centers = np.eye(k, 4)
    fit = ClusterFit(labels=np.arange(k), centers=centers)
    stats = score_clusters(np.arange(k), np.asarray(values, dtype=float), k, [f"m{j}" for j in range(m)])
    return AvengersRouter(**kw).fit_clusters(fit, stats, OVERALL[:m]), centers


OVERALL = np.array([0.1, 0.9, 0.5, 0.3])


def test_ties_overall_vs_model_order():
    r, c = _router([[0.5, 0.5, 0.2]])
    assert r.rank(c[:1])[0, 0] == 1  # harness: the tie goes to the better overall model (m1)
    r, c = _router([[0.5, 0.5, 0.2]], ties="order")
    assert list(r.rank(c[:1])[0]) == [0, 1, 2]  # reference: stable sort, list order
    with pytest.raises(ConfigError, match="router.ties"):
        AvengersRouter(ties="name")


def test_rank_weighting_uses_the_rank_offset():
    # Two clusters mixed (top_k=2, beta=0: equal weights). Ranks: cluster 0 m0>m1>m2, cluster 1 m2>m1>m0.
    vals = [[0.9, 0.5, 0.1], [0.1, 0.5, 0.9]]
    q = np.array([[1.0, 1.0, 0, 0]]) / np.sqrt(2)
    for offset in (0.1, 1.0):
        r, _ = _router(vals, weighting="rank", top_k=2, beta=0.0, rank_offset=offset)
        want = 0.5 * np.array([1 / offset + 1 / (2 + offset), 2 / (1 + offset), 1 / (2 + offset) + 1 / offset])
        np.testing.assert_allclose(r.model_values(q)[0], want)
    with pytest.raises(ConfigError, match="rank_offset"):
        AvengersRouter(rank_offset=0)


def test_reference_pool_counts_clusters_then_top2_then_model_order():
    # Rankings of 5 clusters (best first), 5 models. Top-1 counts: m2 x2, m0 x2 (m2 seen first), m4 x1.
    ranked = np.array([[2, 1, 0, 3, 4], [0, 3, 1, 2, 4], [2, 3, 0, 1, 4], [0, 1, 2, 3, 4], [4, 1, 0, 2, 3]])
    assert list(reference_pool(ranked, 2)) == [2, 0]
    assert list(reference_pool(ranked, 3)) == [2, 0, 4]
    # Then the top-2 counter: m1 (0.5 x3) before m3 (0.5 x2).
    assert list(reference_pool(ranked, 4)) == [2, 0, 4, 1]
    assert list(reference_pool(ranked, 5)) == [2, 0, 4, 1, 3]
    # Fill by model order when no counter names enough models.
    assert list(reference_pool(np.array([[1, 0, 2, 3]]), 4)) == [1, 0, 2, 3]


def test_pool_selection_weighted_vs_reference():
    """Cluster sizes 50, 1, 1, 1: m0 tops the big one, m1 the three tiny ones. Weighted by queries
    the pool of 1 is m0; counting clusters (reference) it is m1."""
    labels = np.concatenate([np.zeros(50, int), [1, 2, 3]])
    scores = np.zeros((53, 2))
    scores[:50, 0] = 1
    scores[50:, 1] = 1
    fit = ClusterFit(labels=labels, centers=np.eye(4, 6))
    stats = score_clusters(labels, scores, 4, ["m0", "m1"])
    assert list(AvengersRouter(pool_size=1).fit_clusters(fit, stats, np.zeros(2)).pool) == [0]
    assert list(AvengersRouter(pool_size=1, pool_selection="reference").fit_clusters(fit, stats, np.zeros(2)).pool) == [1]


def test_cost_norm_minmax_vs_max():
    cost = np.array([[1.0, 2.0, 4.0]])
    np.testing.assert_allclose(cost_score(cost, "minmax"), [[1.0, 2 / 3, 0.0]])
    np.testing.assert_allclose(cost_score(cost, "max"), [[0.75, 0.5, 0.0]])
    np.testing.assert_allclose(cost_score(np.zeros((1, 3)), "max"), [[1.0, 1.0, 1.0]])


def test_missing_costs_take_the_models_mean_never_zero():
    c = np.array([[1.0, np.nan], [3.0, 0.5], [np.nan, 1.5]])
    np.testing.assert_allclose(fill_missing_costs(c, ["a", "b"], "model_mean"), [[1.0, 1.0], [3.0, 0.5], [2.0, 1.5]])
    np.testing.assert_allclose(fill_missing_costs(c, ["a", "b"], "zero"), [[1.0, 0.0], [3.0, 0.5], [0.0, 1.5]])
    with pytest.raises(ConfigError, match=r"unknown for: a \(1\), b \(1\)"):
        fill_missing_costs(c, ["a", "b"], "error")
    never = np.array([[1.0, np.nan], [2.0, np.nan]])
    with pytest.raises(ConfigError, match=r"\['b'\] have no known cost"):
        fill_missing_costs(never, ["a", "b"], "model_mean")
    np.testing.assert_array_equal(fill_missing_costs(np.ones((2, 2)), ["a", "b"], "error"), np.ones((2, 2)))


def test_state_round_trip_keeps_the_switches():
    r, c = _router([[0.5, 0.5, 0.2], [0.1, 0.2, 0.3]], ties="order", weighting="rank", rank_offset=1.0, top_k=2)
    meta, arrays = r.get_state()
    other = AvengersRouter()
    other.set_state(meta, arrays)
    assert (other.ties, other.rank_offset, other.weighting) == ("order", 1.0, "rank")
    q = np.array([[0.3, 0.7, 0, 0]])
    np.testing.assert_array_equal(other.rank(q), r.rank(q))


# ----------------------------------------------------------------------------- voting


def _view():
    rows = []
    for b, ans in (("mbpp", ["def f(): return 2", "def f(): return 1", "def f(): return 1"]), ("gsm8k", ["7", "8", "8"])):
        for k, a in enumerate(ans):
            rows.append((b, "q0", f"question {b}", "m1", k, a, 1.0 if a.endswith("1") or a == "8" else 0.0, np.nan))
    df = pd.DataFrame(rows, columns=["benchmark", "query_id", "query", "model", "sample", "answer", "score", "cost"])
    return make_view(df, ["m1"])


@pytest.mark.parametrize("ensemble", ["self_consistency", "pooled_vote", "model_switch", "direct"])
def test_code_answers_first_sample_vs_vote(ensemble):
    view = _view()
    code = view.queries.index[view.queries.benchmark == "mbpp"][0]
    math = view.queries.index[view.queries.benchmark == "gsm8k"][0]
    ens = OmegaConf.to_container(composed(f"ensemble={ensemble}").ensemble)
    voted = Voter(view, ens)
    first = Voter(view, {**ens, "code_answers": "first_sample"})
    # Code: the reference takes sample 0 (wrong here); voting picks the majority program (right).
    assert first(code, ["m1"])[0].score == 0.0
    assert voted(code, ["m1"])[0].score == (0.0 if ensemble == "direct" else 1.0)
    # The strategy's models are still drawn (and paid for).
    assert first(code, ["m1"])[0].models == voted(code, ["m1"])[0].models
    # Other benchmarks are voted either way.
    assert first(math, ["m1"])[0].score == voted(math, ["m1"])[0].score
    with pytest.raises(ConfigError, match="code_answers"):
        Voter(view, {**ens, "code_answers": "sample0"})


def test_oracle_is_not_cut_to_the_first_sample():
    view = _view()
    ens = OmegaConf.to_container(composed("ensemble=oracle").ensemble)
    code = view.queries.index[view.queries.benchmark == "mbpp"][0]
    assert Voter(view, {**ens, "code_answers": "first_sample"})(code, ["m1"])[0].score == 1.0


def test_model_switch_reference_threshold():
    # First model: 3 of 5 agree (0.6): the harness (0.5) keeps it, the reference (0.8) switches.
    from avengers.answers.normalize import NORMALIZERS
    from avengers.vote.ensemble import Sample, build_strategy

    s = {"a": [Sample(x, float(x == "B")) for x in "AAABB"], "b": [Sample("B", 1.0)] * 5}
    exact = NORMALIZERS.get("exact")
    harness = build_strategy(**{k: v for k, v in OmegaConf.to_container(composed("ensemble=model_switch").ensemble).items()})
    ref_node = OmegaConf.to_container(composed("ensemble=model_switch_reference").ensemble)
    strategy = ref_node.pop("strategy")
    ref = build_strategy(**{**ref_node, "name": strategy})
    assert harness(["a", "b"], s, exact).models == ("a",) and harness(["a", "b"], s, exact).answer == "A"
    v = ref(["a", "b"], s, exact)
    assert v.models == ("a", "b") and v.answer == "B"  # pooled: B 7 of 10
