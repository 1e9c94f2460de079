"""Every experiment config composes, its sweep names real groups and keys, and it runs on a
tiny subset of the real data (smoke test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from avengers.run import CONF_DIR
from support import run_cli

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def test_there_are_experiments():
    assert {"table2_main", "table4_embedders", "table5_clustering", "table6_ensemble", "fig2_n_models",
            "fig3_k_sweep", "data_efficiency", "pareto_cost"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_sweeps_real_keys(name):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"experiment={name}"], return_hydra_config=True)
        exp = cfg.experiment
        assert exp.suite and exp.table and cfg.name == name
        params = cfg.hydra.sweeper.params
        assert "seed" in params and len(str(params.seed).split(",")) >= 5, "tables need >= 5 seeds"
        for key, values in params.items():
            if (CONF_DIR / key).is_dir():
                for v in str(values).split(","):
                    assert (CONF_DIR / key / f"{v}.yaml").exists(), f"{name}: {key}={v} has no config"
            else:
                assert OmegaConf.select(cfg, key, default="__absent__") != "__absent__", f"{name}: {key} not in config"
        for key in exp.vary:
            assert OmegaConf.select(cfg, key, default="__absent__") != "__absent__"
        # its table is declared with it and is a valid layout (report.layouts)
        import avengers.report.tables  # noqa: F401 - registers the layout builders
        from avengers.report.layouts import parse_layout

        report = OmegaConf.to_container(exp, resolve=True)
        assert report.get("report"), f"{name}: declare experiment.report (title, rows, columns, figure)"
        layout = parse_layout(report["report"], where=name, vary=tuple(exp.vary))
        assert layout.title and (layout.figure is None or len(exp.vary) == 1)
        for extra in report.get("also") or []:
            assert parse_layout(extra["report"], where=f"{name}/{extra['table']}").title
        # Every sweep point composes.
        for key, values in params.items():
            for v in str(values).split(","):
                compose(config_name="config", overrides=[f"experiment={name}", f"{key}={v}"])


TINY = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=3",
        "data.max_queries_per_benchmark=30", "router.extras.auto_k=false", "router.extras.cluster_ensemble=null"]


def _needs(name: str) -> str | None:
    """`experiment.needs`: an input the data root does not hold (e.g. the LLMRouterBench release);
    such experiments are run end to end on a release-shaped fixture in their own test."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"experiment={name}"])
    return OmegaConf.select(cfg, "experiment.needs", default=None)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_on_a_tiny_subset(name, tmp_path, data_root, shared_cache):
    if _needs(name):
        pytest.skip(f"experiment={name} needs {_needs(name)} (tests/test_paper_tables.py runs it on a fixture)")
    run_cli([f"experiment={name}", *TINY], cache=shared_cache, out=tmp_path, data_root=data_root)
    m = json.loads(next(Path(tmp_path).rglob("metrics.json")).read_text())
    assert m["config"]["experiment"]["table"] and m["averages"]["id"]["avengers"] >= 0


def test_run_sh_keeps_smoke_runs_out_of_results():
    import os
    import subprocess

    from support import REPO

    proc = subprocess.run(["bash", "experiments/run.sh", "--out", "results", "fig3_k_sweep",
                           "data.max_queries_per_benchmark=10"], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, BIN="/nonexistent"), timeout=60)
    assert proc.returncode == 2 and "refusing --out results with overrides" in proc.stderr
    assert "outputs/custom-" in proc.stderr  # where such a run goes instead
