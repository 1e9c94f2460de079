"""W&B: offline by default with no account, one run per job, finished even when the job fails;
sweep analysis from the offline files themselves (summary keys, artifacts, groups)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import REPO
from wandb_offline import offline_runs

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TINY = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=3", "data.max_queries_per_benchmark=30"]


def _env(tmp_path, data_root, shared_cache, **extra):
    env = dict(os.environ, AVENGERS_CACHE_DIR=str(shared_cache), AVENGERS_OUTPUT_DIR=str(tmp_path / "out"),
               AVENGERS_DATA_DIR=str(data_root), **extra)
    for key in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", "AVENGERS_SWEEP_ID"):
        if key not in extra:
            env.pop(key, None)
    return env


def test_offline_run_is_written_and_failed_job_still_finishes(tmp_path, data_root, shared_cache):
    env = _env(tmp_path, data_root, shared_cache, WANDB_DIR=str(tmp_path / "wandb-home"))
    ok = subprocess.run([sys.executable, "-m", "avengers.run", "tracking=wandb_offline", *TINY], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-3000:]
    runs = list((tmp_path / "wandb-home").rglob("offline-run-*"))  # WANDB_DIR is honoured
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    assert not list((tmp_path / "out").rglob("offline-run-*"))
    bad = subprocess.run([sys.executable, "-m", "avengers.run", "tracking=wandb_offline", *TINY,
                          "clustering.n_clusters=100000"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "larger than the calibration set" in bad.stderr
    runs = offline_runs(tmp_path / "wandb-home")
    assert len(runs) == 2 and sorted(r.exit_code for r in runs) == [0, 1]  # the failed job's run is closed, failed
    assert list((tmp_path / "out").rglob("failed.json"))


def test_sweep_of_four_jobs_in_wandb_offline(tmp_path, data_root, shared_cache):
    """A 4-job sweep: every score in each run's summary, the job files as an artifact, one group
    per sweep; then the tables run joins that group."""
    env = _env(tmp_path, data_root, shared_cache)
    sweep = subprocess.run([sys.executable, "-m", "avengers.run", "-m", "tracking=wandb_offline", *TINY[:2],
                            "data.max_queries_per_benchmark=30", "clustering.n_clusters=3,4", "seed=0,1"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    sweep_dir = tmp_path / "out" / "default"
    (kept,) = sweep_dir.glob("multirun-*.yaml")  # this sweep's config, kept under its id
    sweep_id = kept.name[len("multirun-"):-len(".yaml")]

    jobs = sorted(p.parent for p in sweep_dir.rglob("metrics.json"))
    assert len(jobs) == 4
    for job in jobs:
        (run_dir,) = job.glob("wandb/offline-run-*")
        [run] = offline_runs(job / "wandb")
        assert run.group == f"default-{sweep_id}" and run.job_type == "route" and run.exit_code == 0
        assert json.loads((job / "wandb_run.json").read_text())["group"] == run.group
        m = json.loads((job / "metrics.json").read_text())
        for bench, info in m["benchmarks"].items():
            for method, score in info["scores"].items():
                assert run.summary[f"test/{bench}/{method.replace('/', '_')}"] == pytest.approx(score)
            assert run.summary[f"n_test/{bench}"] == info["n_test"]
        for split, scores in m["averages"].items():
            assert run.summary[f"test/{split}/avg/avengers"] == pytest.approx(scores["avengers"])
        assert run.summary["calibration/id/avg/avengers"] == pytest.approx(m["calibration"]["averages"]["id"]["avengers"])
        art = run.artifacts[f"job-{m['config_hash'][:16]}"]
        assert art["type"] == "job-outputs"
        assert {"metrics.json", "predictions.parquet", ".hydra/config.yaml", ".hydra/overrides.yaml",
                "router/router.json", "router/arrays.npz"} <= set(art["files"])

    tables = subprocess.run([sys.executable, "-m", "avengers.report", "--runs", str(sweep_dir), "--out",
                             str(tmp_path / "tables"), "--wandb", "offline", "--no-figures"],
                            cwd=tmp_path, env=dict(env, WANDB_DIR=str(tmp_path / "wb-tables")),
                            capture_output=True, text=True, timeout=600)
    assert tables.returncode == 0, tables.stderr[-3000:]
    [trun] = offline_runs(tmp_path / "wb-tables")
    assert trun.group == f"default-{sweep_id}" and trun.job_type == "tables"
    (art,) = [a for a in trun.artifacts.values() if a["type"] == "results"]
    assert "routerdc/default.md" in art["files"] and "routerdc/default.sources.json" in art["files"]
