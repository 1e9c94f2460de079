"""avengers-run as a standard Hydra app: Hydra's launchers, --config-dir experiments with their
own YAML-declared table, one folder per config however typed, multirun.yaml kept per sweep, and
the README's ad-hoc sweep reported with its settings in the caption."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

from avengers.errors import AvengersError
from avengers.run import check_group_choices

USER_EXPERIMENT = """# @package _global_
defaults:
  - override /embedder: tfidf
name: my_exp
experiment:
  suite: routerdc
  table: my_table
  vary: [clustering.n_clusters]
  report:
    title: My K table
    rows: variants
    columns: averages
    figure: curve
    xlabel: clusters
embedder:
  n_components: 16
data:
  max_queries_per_benchmark: 30
"""


def test_hydra_launchers_and_user_config_dirs_pass_the_check(tmp_path):
    for launcher in ("basic", "joblib", "submitit_local", "submitit_slurm", "parallel", "slurm"):
        check_group_choices([f"hydra/launcher={launcher}", "seed=1"])
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "my_exp.yaml").write_text(USER_EXPERIMENT)
    check_group_choices(["--config-dir", str(tmp_path), "experiment=my_exp"])
    check_group_choices([f"hydra.searchpath=[file://{tmp_path}]", "experiment=my_exp"])
    with pytest.raises(AvengersError, match="Unknown experiment 'my_exq'. Did you mean 'my_exp'"):
        check_group_choices(["--config-dir", str(tmp_path), "experiment=my_exq"])
    with pytest.raises(AvengersError, match="Unknown experiment 'my_exp'"):
        check_group_choices(["experiment=my_exp"])  # not on the search path without --config-dir
    with pytest.raises(AvengersError, match="Unknown embedder 'minlm'. Did you mean 'minilm'"):
        check_group_choices(["embedder=minlm"])
    with pytest.raises(AvengersError, match="Unknown hydra/launcher 'jobllib'. Did you mean 'joblib'"):
        check_group_choices(["-m", "hydra/launcher=jobllib"])
    with pytest.raises(AvengersError, match="Unknown clustering 'gmn'.*Known clustering configs: agglomerative, .*birch"):
        check_group_choices(["clustering=kmeans,gmn"])  # _base is not a choice


def _run(args, env, cwd):
    proc = subprocess.run([sys.executable, "-m", "avengers.run", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture
def env(tmp_path, data_root, shared_cache):
    e = dict(os.environ, AVENGERS_CACHE_DIR=str(shared_cache), AVENGERS_OUTPUT_DIR=str(tmp_path / "outputs"),
             AVENGERS_DATA_DIR=str(data_root), WANDB_MODE="disabled")
    e.pop("AVENGERS_SWEEP_ID", None)
    return e


@pytest.mark.realdata
@pytest.mark.slow
def test_config_dir_experiment_on_the_basic_launcher(tmp_path, env):
    cfg_dir = tmp_path / "my_configs"
    (cfg_dir / "experiment").mkdir(parents=True)
    (cfg_dir / "experiment" / "my_exp.yaml").write_text(USER_EXPERIMENT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base = ["--config-dir", str(cfg_dir), "experiment=my_exp", "tracking=disabled"]
    _run(["-m", *base, "hydra/launcher=basic", "clustering.n_clusters=3,6", "seed=0,1"], env, elsewhere)
    root = tmp_path / "outputs" / "my_exp"
    jobs = sorted(p.parent.name for p in root.rglob("metrics.json"))
    # seed=0 is the default: left out of the folder name, so typing it or not is one folder
    assert jobs == ["clustering.n_clusters=3", "clustering.n_clusters=3,seed=1", "clustering.n_clusters=6",
                    "clustering.n_clusters=6,seed=1"]
    m = json.loads((root / "clustering.n_clusters=3" / "metrics.json").read_text())
    assert m["job"]["settings"] == {"clustering.n_clusters": 3, "data.max_queries_per_benchmark": 30,
                                    "embedder": "tfidf", "embedder.n_components": 16}
    before = (root / "clustering.n_clusters=3" / "metrics.json").stat().st_mtime_ns
    proc = _run([*base, "clustering.n_clusters=3", "seed=0", "data.max_queries_per_benchmark=30"], env, elsewhere)
    assert "skipped" in proc.stdout + proc.stderr  # same config, typed differently: the same folder
    assert (root / "clustering.n_clusters=3" / "metrics.json").stat().st_mtime_ns == before
    _run(["-m", *base, "clustering.n_clusters=3", "seed=0,1"], env, elsewhere)  # a second sweep into the folder
    assert len(list(root.glob("multirun-*.yaml"))) == 2 and (root / "multirun.yaml").is_file()

    tables = subprocess.run([sys.executable, "-m", "avengers.report", "--runs", str(root)], cwd=elsewhere,
                            capture_output=True, text=True, timeout=600, env=env)
    assert tables.returncode == 0, tables.stderr[-3000:]
    out = root / "tables" / "routerdc"  # default --out: next to the runs
    md = (out / "my_table.md").read_text()
    assert md.splitlines()[2].startswith("**My K table.**")
    assert "Settings (differing from the package defaults): data.max_queries_per_benchmark=30, embedder=tfidf, " \
           "embedder.n_components=16." in md
    assert "| K | ID Avg | OOD Avg |" in md and (out / "my_table.png").is_file()


@pytest.mark.realdata
@pytest.mark.slow
def test_readme_adhoc_sweep_gets_a_table_with_its_settings(tmp_path, env):
    readme = (REPO / "README.md").read_text()
    sweep = "avengers-run -m clustering=kmeans,gmm clustering.n_clusters=8,64 seed=0,1,2"
    report = "avengers-tables --runs outputs/default --out /tmp/x"
    assert sweep in readme and report in readme
    args = sweep.split()[1:] + ["tracking=disabled", "embedder=tfidf", "embedder.n_components=32",
                                "data.max_queries_per_benchmark=30"]
    _run(args, dict(env, AVENGERS_OUTPUT_DIR=str(tmp_path / "outputs")), tmp_path)
    out = tmp_path / "x"
    tables = subprocess.run([sys.executable, "-m", "avengers.report", "--runs", "outputs/default", "--out", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert tables.returncode == 0 and "FAILED" not in tables.stderr, tables.stderr[-3000:]
    md = (out / "routerdc" / "default.md").read_text()
    assert ("Settings (differing from the package defaults): data.max_queries_per_benchmark=30, embedder=tfidf, "
            "embedder.n_components=32.") in md.splitlines()[2]
    assert md.count("### ") == 4 and "### K=64, Clustering=gmm" in md
    spec = json.loads((out / "routerdc" / "default.sources.json").read_text())
    assert spec["vary"] == ["clustering.n_clusters", "clustering.name"] and spec["n_jobs"] == 12
    assert all(r["n"] == 3 for r in spec["rows"])  # three seeds behind every cell


@pytest.mark.realdata
@pytest.mark.slow
def test_readme_yaml_only_experiment_gets_its_table(tmp_path, env):
    """The README's new experiment, as written there, through --config-dir: its own table and figure."""
    import re

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Adding an experiment and its table"):]
    yaml_text = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    assert "report:" in yaml_text and "avengers-run -m --config-dir my_configs experiment=topk_sweep" in section
    (tmp_path / "my_configs" / "experiment").mkdir(parents=True)
    (tmp_path / "my_configs" / "experiment" / "topk_sweep.yaml").write_text(yaml_text)
    # the README's command, on a smaller sweep (command-line values replace the file's sweep lists)
    _run(["-m", "--config-dir", "my_configs", "experiment=topk_sweep", "tracking=disabled", "router.top_k=1,2",
          "seed=0,1", "data.max_queries_per_benchmark=30", "embedder.n_components=16"], env, tmp_path)
    tables = subprocess.run([sys.executable, "-m", "avengers.report", "--runs", "outputs/topk_sweep", "--out",
                             "my_tables"], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert tables.returncode == 0 and "FAILED" not in tables.stderr, tables.stderr[-3000:]
    out = tmp_path / "my_tables" / "routerdc"
    assert sorted(p.name for p in out.iterdir()) == [f"topk_sweep.{e}" for e in ("csv", "md", "pdf", "png",
                                                                                  "sources.json", "tex")]
    spec = json.loads((out / "topk_sweep.sources.json").read_text())
    assert spec["title"] == "Soft routing, accuracy vs number of nearest clusters"
    assert [r["variant"]["router.top_k"] for r in spec["rows"] if r["section"] == "router"] == [1, 2]
    assert spec["settings"] == {"data.max_queries_per_benchmark": 30, "embedder": "tfidf", "embedder.n_components": 16}
