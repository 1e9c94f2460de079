"""Fitted routers are cached by every input, restored exactly, validated on read, and
reproducible byte for byte."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from avengers.route.cache import fit_cached, router_cache_key

from .synthetic import FAST, blobs, make_router

ROUTERS = {
    "knn": ("search=null",),
    "linear": ("search=null",),
    "mlp": FAST["mlp"] + ("search=null",),
    "embedllm": FAST["embedllm"] + ("search=null",),
    "routerdc": FAST["routerdc"] + ("search=null",),
    "avengers": ("clustering.n_clusters=3",),
    "avengers_shrinkage": ("clustering.n_clusters=3",),
}


@pytest.fixture(scope="module")
def data():
    calib, _ = blobs(30, seed=1)
    test, _ = blobs(10, seed=2)
    return calib, test


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_warm_fit_restores_the_identical_router(name, data, tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test = data
    cold, info = fit_cached(make_router(name, *ROUTERS[name]), calib, 0, cache_dir=tmp_path / "routers")
    assert not info["cached"]
    warm, info2 = fit_cached(make_router(name, *ROUTERS[name]), calib, 0, cache_dir=tmp_path / "routers")
    assert info2["cached"] and info2["fit_seconds"] == info["fit_seconds"]
    np.testing.assert_array_equal(cold.predict(test.embeddings), warm.predict(test.embeddings))
    np.testing.assert_array_equal(cold.rank(test.embeddings), warm.rank(test.embeddings))
    assert json.dumps(cold.describe(), sort_keys=True, default=str) == json.dumps(warm.describe(), sort_keys=True, default=str)


def test_auto_router_state_round_trips(data, tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test = data
    make = lambda: make_router("auto", "include=[knn,linear]", "search.knn={k:[3,10]}")  # noqa: E731
    cold, _ = fit_cached(make(), calib, 0, cache_dir=tmp_path / "routers")
    warm, info = fit_cached(make(), calib, 0, cache_dir=tmp_path / "routers")
    assert info["cached"]
    np.testing.assert_array_equal(cold.predict(test.embeddings), warm.predict(test.embeddings))
    assert warm.describe()["chosen"] == cold.describe()["chosen"]


def test_key_covers_every_input(data):
    calib, _ = data
    from dataclasses import replace

    base = router_cache_key(make_router("knn", "k=5", "search=null"), calib, 0)
    assert base == router_cache_key(make_router("knn", "k=5", "search=null"), calib, 0)
    others = [
        router_cache_key(make_router("knn", "k=6", "search=null"), calib, 0),  # hyperparameter
        router_cache_key(make_router("knn", "k=5", "search={k:[5,6]}"), calib, 0),  # search space
        router_cache_key(make_router("knn", "k=5", "search=null"), calib, 1),  # seed
        router_cache_key(make_router("knn", "k=5", "search=null", "top_n=2"), calib, 0),
        router_cache_key(make_router("knn", "k=5", "search=null"), replace(calib, scores=1 - calib.scores), 0),
        router_cache_key(make_router("knn", "k=5", "search=null"), calib.with_identity(embedder="other"), 0),
        router_cache_key(make_router("linear", "search=null"), calib, 0),  # class
    ]
    assert base not in others and len(set(others)) == len(others)


def test_corrupt_entry_is_moved_aside_and_refitted(data, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, test = data
    folder = tmp_path / "routers"
    first, info = fit_cached(make_router("knn", "k=5", "search=null"), calib, 0, cache_dir=folder)
    npz = folder / f"{info['key']}.npz"
    npz.write_bytes(npz.read_bytes()[:-20])  # truncated
    with caplog.at_level(logging.WARNING):
        again, info2 = fit_cached(make_router("knn", "k=5", "search=null"), calib, 0, cache_dir=folder)
    assert not info2["cached"]
    assert "unusable" in caplog.text and "checksum" in caplog.text
    assert list(folder.glob("*.corrupt-*")), "the bad entry is kept aside for inspection"
    np.testing.assert_array_equal(first.predict(test.embeddings), again.predict(test.embeddings))
    _, info3 = fit_cached(make_router("knn", "k=5", "search=null"), calib, 0, cache_dir=folder)
    assert info3["cached"]  # the refit was written back


def test_corrupt_metadata_is_moved_aside(data, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, _ = data
    folder = tmp_path / "routers"
    _, info = fit_cached(make_router("linear", "search=null"), calib, 0, cache_dir=folder)
    (folder / f"{info['key']}.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        _, info2 = fit_cached(make_router("linear", "search=null"), calib, 0, cache_dir=folder)
    assert not info2["cached"] and "JSONDecodeError" in caplog.text


@pytest.mark.parametrize("name", ["mlp", "embedllm", "routerdc"])
def test_trained_routers_are_reproducible_bytes(name, data, tmp_path, monkeypatch):
    """Same seed -> identical weights (to the byte); another seed -> different weights."""
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    calib, _ = data

    def weights(seed):
        r = make_router(name, *ROUTERS[name]).fit(calib, seed)
        _, arrays = r.get_state()
        return {k: v.tobytes() for k, v in arrays.items()}

    a, b, c = weights(0), weights(0), weights(1)
    assert a == b
    assert a != c


def test_every_avengers_constructor_setting_is_in_the_cache_key():
    """A setting left out of the key would let a cached fit of another setting be restored."""
    import inspect

    from avengers.cluster.methods import KMeansClustering
    from avengers.route.avengers import AvengersRouter

    params = [p for p in inspect.signature(AvengersRouter.__init__).parameters
              if p not in ("self", "clustering", "extras", "peek_test")]
    base = AvengersRouter(clustering=KMeansClustering(name="kmeans", n_clusters=3)).cache_key()
    assert set(params) <= set(base), f"missing from cache_key: {sorted(set(params) - set(base))}"
    other = AvengersRouter(clustering=KMeansClustering(name="kmeans", n_clusters=3, random_state=42)).cache_key()
    assert other != base
