"""Every router on real released outcomes (RouterDC, RouterBench), through the pipeline as
`avengers-run router=<name>` runs it: each beats the random router, and router=auto never
falls more than 0.3 points below the best single model."""

from __future__ import annotations

import pytest

from avengers.files import dump_json
from avengers.pipeline import run_job
from avengers.route.tuning import PEEK_LABEL

from support import compose_cfg

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

ROUTERS = ["avengers", "avengers_shrinkage", "knn", "linear", "mlp", "embedllm", "routerdc", "auto"]
SMALL = ["embedder=tfidf", "data.max_queries_per_benchmark=120", "clustering.n_clusters=16"]


def job(overrides, cache, data_root):
    return run_job(compose_cfg(overrides, cache=cache, data_root=data_root))


@pytest.mark.parametrize("name", ROUTERS)
def test_router_beats_random_on_routerdc(name, shared_cache, data_root):
    m = job(["data=routerdc", f"router={name}", *SMALL], shared_cache, data_root).metrics
    ids = m["averages"]["id"]
    assert ids[name] > ids["random"] + 2.0, ids
    assert m["selection"]["router"] == name


@pytest.mark.parametrize("data", ["routerdc", "routerbench"])
def test_auto_is_never_far_below_best_single(data, shared_cache, data_root):
    m = job([f"data={data}", "router=auto", *SMALL], shared_cache, data_root).metrics
    for split, avg in m["averages"].items():
        assert avg["auto"] >= avg["best_single"] - 0.3, (split, avg, m["selection"]["chosen"])
    cv = m["selection"]["cv"]["candidates"]
    assert cv[0]["router"] == "best_single" and {r["router"] for r in cv} >= {"knn", "linear", "mlp"}


def test_peek_variant_is_labelled_and_the_main_row_unchanged(shared_cache, data_root):
    """router.peek_test=true adds `knn†` (k chosen ON TEST, labelled) and changes nothing else."""
    base = ["data=routerdc", "router=knn", *SMALL]
    plain = job(base, shared_cache, data_root).metrics
    peek = job([*base, "router.peek_test=true"], shared_cache, data_root).metrics
    for split in ("id", "ood"):
        assert peek["averages"][split]["knn"] == plain["averages"][split]["knn"]
        assert "knn†" not in plain["averages"][split]
    sel = peek["selection"]["knn†"]
    assert sel["label"] == PEEK_LABEL and {"test_score", "params"} <= set(sel["chosen_on_test"][0])
    assert any("knn†" in n and PEEK_LABEL in n for n in peek["notes"])
    # chosen on test among the same candidates: it can only be as good or better on test
    best_on_test = max(r["test_score"] for r in sel["chosen_on_test"])
    assert abs(best_on_test - _macro_all(peek, "knn†")) < 1e-9
    assert best_on_test >= _macro_all(peek, "knn") - 1e-9


def _macro_all(metrics, method):
    scores = [b["scores"][method] for b in metrics["benchmarks"].values()]
    return sum(scores) / len(scores)


def test_warm_rerun_refits_nothing_and_gives_identical_metrics(shared_cache, data_root):
    overrides = ["data=routerdc", "router=mlp", *SMALL]
    first = job(overrides, shared_cache, data_root)
    again = job(overrides, shared_cache, data_root)
    assert again.stats["timing"]["fit_from_cache"] is True
    assert again.stats["timing"]["fit_seconds"] == first.stats["timing"]["fit_seconds"]
    assert dump_json(first.metrics) == dump_json(again.metrics)
    assert "timing" not in first.metrics and "fit_seconds" not in dump_json(first.metrics)


def test_cli_writes_timing_outside_metrics(tmp_path, shared_cache, data_root):
    from support import run_cli

    run_cli(["router=linear", "data=routerdc", *SMALL], cache=shared_cache, out=tmp_path, data_root=data_root)
    (folder,) = [p.parent for p in tmp_path.rglob("metrics.json")]
    import json

    timing = json.loads((folder / "timing.json").read_text())
    assert timing["router"] == "linear" and timing["fit_seconds"] > 0 and timing["route_seconds_per_1000"] > 0
    assert "fit_seconds" not in (folder / "metrics.json").read_text()


@pytest.mark.parametrize("name", ROUTERS)
def test_router_beats_random_on_routerbench(name, shared_cache, data_root):
    m = job(["data=routerbench", f"router={name}", *SMALL], shared_cache, data_root).metrics
    ids = m["averages"]["id"]
    assert ids[name] > ids["random"] + 2.0, ids


@pytest.mark.parametrize("name", ROUTERS)
def test_router_on_a_canonical_outcome_file(name, tmp_path, shared_cache, data_root):
    """data=outcomes on a file in the canonical schema (RouterBench exported), through the CLI."""
    import json

    from omegaconf import OmegaConf

    from avengers.outcomes import load_outcomes
    from avengers.outcomes.schema import write_outcomes
    from support import REPO, run_cli

    cfg = OmegaConf.load(REPO / "src/avengers/conf/data/routerbench.yaml")
    cfg.root = str(data_root)
    path = tmp_path / "rb.parquet"
    write_outcomes(load_outcomes(cfg).df.assign(split=None), path)
    run_cli(["data=outcomes", f"data.path={path}", "data.ood=[mbpp]", f"router={name}", *SMALL],
            cache=shared_cache, out=tmp_path / "out", data_root=data_root)
    m = json.loads(next((tmp_path / "out").rglob("metrics.json")).read_text())
    assert m["averages"]["id"][name] > m["averages"]["id"]["random"]
    assert "mbpp" in m["benchmarks"] and m["benchmarks"]["mbpp"]["split"] == "ood"
