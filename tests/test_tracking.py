"""W&B: offline by default with no account, one run per job, finished even when the job fails."""

from __future__ import annotations

import pytest

from support import REPO, run_cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TINY = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=3", "data.max_queries_per_benchmark=30"]


def test_offline_run_is_written_and_failed_job_still_finishes(tmp_path, data_root, shared_cache, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    import os
    import subprocess
    import sys

    env = dict(os.environ, AVENGERS_CACHE_DIR=str(shared_cache), AVENGERS_OUTPUT_DIR=str(tmp_path / "out"),
               AVENGERS_DATA_DIR=str(data_root), WANDB_MODE="offline")
    ok = subprocess.run([sys.executable, "-m", "avengers.run", "tracking=wandb_offline", *TINY], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-3000:]
    runs = list((tmp_path / "out").rglob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    bad = subprocess.run([sys.executable, "-m", "avengers.run", "tracking=wandb_offline", *TINY,
                          "clustering.n_clusters=100000"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "larger than the calibration set" in bad.stderr
    assert len(list((tmp_path / "out").rglob("offline-run-*"))) == 2
    assert list((tmp_path / "out").rglob("failed.json"))
