"""avengers-tables never reads a result its job no longer stands behind: a folder whose last run
failed (failed.json) is a failed job even when an older metrics.json is still beside it."""

from __future__ import annotations

import json

from .fake_jobs import make_sweep

from avengers.report.jobs import FailedJob, discover


def test_failed_json_beside_old_metrics_makes_a_failed_job(tmp_path):
    exp = make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0, 1))
    (exp / "seed=1" / "failed.json").write_text(json.dumps({"error": "cost is infinite in 1 row(s)", "type": "OutcomeError"}))
    jobs, failed = discover([str(tmp_path / "outputs")], root=tmp_path)
    assert [j.seed for j in jobs] == [0]
    assert len(failed) == 1 and isinstance(failed[0], FailedJob)
    assert failed[0].output_dir.endswith("seed=1") and failed[0].reason == "failed: cost is infinite in 1 row(s)"
    assert failed[0].table == "table2_main" and failed[0].seed == 1  # attributed from .hydra/config.yaml


def test_failed_folder_without_metrics_or_hydra_config_is_still_found(tmp_path):
    d = tmp_path / "outputs" / "x" / "seed=0"
    d.mkdir(parents=True)
    (d / "failed.json").write_text("{not json")
    (d / "metrics.stale.json").write_text("{}")  # the set-aside result is never read
    jobs, failed = discover([str(tmp_path / "outputs")], root=tmp_path)
    assert jobs == [] and [f.reason for f in failed] == ["failed (unreadable failed.json)"]
