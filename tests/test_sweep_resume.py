"""A sweep killed midway and rerun completes only the missing jobs; a failing job does not hide
the others and is listed at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from support import REPO

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SWEEP = ["-m", "tracking=disabled", "name=resume", "embedder=tfidf", "embedder.n_components=16",
         "data.max_queries_per_benchmark=30", "clustering.n_clusters=2,3,4", "seed=0,1"]


def env_for(tmp_path, data_root):
    return dict(os.environ, AVENGERS_CACHE_DIR=str(tmp_path / "cache"), AVENGERS_OUTPUT_DIR=str(tmp_path / "out"),
                AVENGERS_DATA_DIR=str(data_root), WANDB_MODE="disabled")


def test_killed_sweep_reruns_only_missing_jobs(tmp_path, data_root):
    env = env_for(tmp_path, data_root)
    proc = subprocess.Popen([sys.executable, "-m", "avengers.run", *SWEEP], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out = tmp_path / "out" / "resume"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(out.rglob("metrics.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    assert 2 <= len(done_before) < 6, "the kill should land midway"
    rerun = subprocess.run([sys.executable, "-m", "avengers.run", *SWEEP], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    done_after = {p.parent.name: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    assert len(done_after) == 6
    for name, mtime in done_before.items():
        assert done_after[name] == mtime, f"{name} was rerun"
    assert "6 job(s) with metrics.json, 0 failed" in rerun.stdout


def test_failed_job_is_reported_and_does_not_hide_the_others(tmp_path, data_root):
    env = env_for(tmp_path, data_root)
    args = ["-m", "tracking=disabled", "name=partial", "embedder=tfidf", "embedder.n_components=16",
            "data.max_queries_per_benchmark=30", "clustering.n_clusters=3,100000"]
    run = subprocess.run([sys.executable, "-m", "avengers.run", *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "1 job(s) with metrics.json, 1 failed" in run.stdout
    assert "FAILED" in run.stdout and "larger than the calibration set" in run.stdout
    failed = list((tmp_path / "out" / "partial").rglob("failed.json"))
    assert len(failed) == 1 and "n_clusters=100000" in str(failed[0])
    assert "n_clusters=100000" in json.loads(failed[0].read_text())["error"]
