"""A router that cannot be fitted stops with one message naming the problem and the fix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avengers.errors import ConfigError

from .synthetic import FAST, blobs, make_router

ALL = ["knn", "linear", "mlp", "embedllm", "routerdc", "routerdc_finetune", "avengers", "auto"]


@pytest.fixture(scope="module")
def data():
    return blobs(10, seed=1)[0]


def one_model(data):
    return replace(data, scores=data.scores[:, :1], models=data.models[:1], identity={"synthetic": "one"})


@pytest.mark.parametrize("name", ALL)
def test_one_model(name, data):
    with pytest.raises(ConfigError, match="at least two models"):
        make_router(name, *FAST.get(name, ())).fit(one_model(data), 0)


@pytest.mark.parametrize("name", ALL)
def test_no_variance_in_scores(name, data):
    flat = replace(data, scores=np.ones_like(data.scores), identity={"synthetic": "flat"})
    with pytest.raises(ConfigError, match="nothing to route on"):
        make_router(name, *FAST.get(name, ())).fit(flat, 0)


def test_k_larger_than_the_data(data):
    with pytest.raises(ConfigError, match=r"router.k=500 is larger than the 30 calibration queries.*choose k <= 30"):
        make_router("knn", "k=500", "search=null").fit(data, 0)


def test_clusters_larger_than_the_data(data):
    with pytest.raises(ConfigError, match="n_clusters=64 is larger than the calibration set"):
        make_router("avengers", "clustering.n_clusters=64").fit(data, 0)


def test_search_candidates_that_never_fit(data):
    with pytest.raises(ConfigError, match="no candidate of router.search"):
        make_router("knn", "search={k:[100,200]}").fit(data, 0)


@pytest.mark.parametrize("name,key", [("knn", "k"), ("linear", "C"), ("mlp", "hidden"), ("embedllm", "dim"),
                                      ("routerdc", "top_k")])
def test_missing_hyperparameter(name, key):
    with pytest.raises(ConfigError, match=rf"router={name}: missing hyperparameter\(s\) {key}.*conf/router/{name}.yaml"):
        make_router(name, f"~router.{key}")


def test_unset_hyperparameter():
    with pytest.raises(ConfigError, match=r"router=knn: hyperparameter router.k has no value"):
        make_router("knn", "k=???")


@pytest.mark.parametrize("override,match", [
    ("k=0", r"router.k=0 must be a positive integer"),
    ("k=null", r"router.k=None must be a positive integer"),
    ("+router.search.kk=[1,2]", r"router.search.kk: knn has no hyperparameter 'kk'. Did you mean 'k'"),
    ("search={k:[]}", r"router.search.k=\[\]: give a non-empty list"),
    ("cv_folds=1", r"router.cv_folds=1 must be >= 2"),
    ("+router.kk=3", r"unknown hyperparameter 'kk'"),
])
def test_bad_values(override, match):
    with pytest.raises(ConfigError, match=match):
        make_router("knn", override)


@pytest.mark.parametrize("name,override,match", [
    ("routerdc", "encoder=lora", r"encoder='lora': use frozen .* or finetune \(end-to-end fine-tuning"),
    ("mlp", "holdout=1.5", r"router.holdout=1.5 must be a fraction in \(0, 1\)"),
    ("mlp", "dropout=1.0", r"router.dropout=1.0 must be in \[0, 1\)"),
    ("embedllm", "learning_rate=-1", r"router.learning_rate=-1 must be a number > 0"),
    ("mlp", "device=tpu", r"router.device='tpu': use cpu or cuda"),
    ("avengers", "shrinkage=lots", r"router.shrinkage='lots': use none, auto, or a pseudo-count"),
    ("auto", "include=[knn,knnn]", r"router.include/search names 'knnn'.*Did you mean 'knn'"),
])
def test_bad_values_of_other_routers(name, override, match, data):
    with pytest.raises(ConfigError, match=match):
        make_router(name, override).fit(data, 0)


def test_cuda_without_a_device(data):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="router.device=cuda but torch sees no CUDA device"):
        make_router("mlp", "device=cuda", *FAST["mlp"], "search=null").fit(data, 0)


def test_cli_prints_one_line(tmp_path):
    """Through avengers-run: one `error:` line, exit 2, no traceback."""
    from support import run_cli

    proc = run_cli(["router=knn", "router.k=0"], cache=tmp_path / "c", out=tmp_path / "o", check=False)
    assert proc.returncode == 2
    assert "error: router.k=0 must be a positive integer" in proc.stderr
    assert "Traceback" not in proc.stderr
