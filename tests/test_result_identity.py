"""`avengers-run` on real data: moving the data changes no byte and is recognised as the same
result; a changed file at the same path reruns; a rerun that fails leaves no result behind
that `avengers-tables` could read as current."""

from __future__ import annotations

import json
import shutil

import pytest

from support import run_cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SMALL = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=4",
         "data.max_queries_per_benchmark=30"]


def job_dir(out):
    (metrics,) = list(out.rglob("metrics.json"))
    return metrics.parent


def copy_routerdc(data_root, dest):
    shutil.copytree(data_root / "routerdc", dest / "routerdc")
    return dest


def test_moving_the_data_root_changes_no_hash_and_no_metrics_byte(tmp_path, data_root):
    here = copy_routerdc(data_root, tmp_path / "here")
    cache = tmp_path / "cache"
    run_cli(SMALL, cache=cache, out=tmp_path / "out1", data_root=here)
    there = tmp_path / "moved" / "elsewhere"
    there.parent.mkdir()
    here.rename(there)
    run_cli(SMALL, cache=cache, out=tmp_path / "out2", data_root=there)

    j1, j2 = job_dir(tmp_path / "out1"), job_dir(tmp_path / "out2")
    assert (j1 / "metrics.json").read_bytes() == (j2 / "metrics.json").read_bytes()
    text = (j1 / "metrics.json").read_text()
    assert str(tmp_path) not in text and '"paths"' not in text and '"root"' not in text
    m = json.loads(text)
    assert "mmlu_train.json" in m["provenance"]["data"]
    # Where it ran is kept, but beside the result.
    run1, run2 = (json.loads((j / "run.json").read_text()) for j in (j1, j2))
    assert run1["config"]["paths"]["data_root"] == str(here) and run2["config"]["paths"]["data_root"] == str(there)
    assert run1["config_hash"] == run2["config_hash"] == m["config_hash"]

    # The finished job in out1 is recognised with the data in its new place.
    before = (j1 / "metrics.json").stat().st_mtime_ns
    proc = run_cli(SMALL, cache=cache, out=tmp_path / "out1", data_root=there)
    assert "already has metrics.json" in proc.stdout + proc.stderr
    assert (j1 / "metrics.json").stat().st_mtime_ns == before


def test_changed_file_reruns_and_a_failed_rerun_leaves_no_current_result(tmp_path, data_root):
    from avengers.report.jobs import discover

    root = copy_routerdc(data_root, tmp_path / "data")
    cache, out = tmp_path / "cache", tmp_path / "out"
    run_cli(SMALL, cache=cache, out=out, data_root=root)
    job = job_dir(out)
    old_bytes = (job / "metrics.json").read_bytes()
    old = json.loads(old_bytes)

    # Same path, other content (one model's score on one query): not mistaken for the old file.
    f = root / "routerdc" / "mmlu_test.json"
    rows = json.loads(f.read_text())
    model = sorted(rows[0]["scores"])[0]
    rows[0]["scores"][model] = 0.0 if rows[0]["scores"][model] else 0.5
    f.write_text(json.dumps(rows))
    proc = run_cli(SMALL, cache=cache, out=out, data_root=root)
    assert "already has metrics.json" not in proc.stdout + proc.stderr
    new = json.loads((job / "metrics.json").read_text())
    assert new["config_hash"] != old["config_hash"]
    assert new["provenance"]["data"]["mmlu_test.json"] != old["provenance"]["data"]["mmlu_test.json"]
    assert not list(job.glob("*.stale.*")) and not (job / "failed.json").exists()

    # The next rerun fails (the file is now broken): the old result is set aside, not left current.
    f.write_text("[{\"question\": ")
    proc = run_cli(SMALL, cache=cache, out=out, data_root=root, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "mmlu_test.json" in proc.stderr
    assert not (job / "metrics.json").exists() and not (job / "predictions.parquet").exists()
    assert json.loads((job / "metrics.stale.json").read_text()) == new
    assert "not valid JSON" in json.loads((job / "failed.json").read_text())["error"]
    jobs, failed = discover([str(out)], root=tmp_path)
    assert jobs == [] and len(failed) == 1 and failed[0].reason.startswith("failed: ")

    # Fixed again: the job reruns, and the set-aside files go.
    shutil.copy(data_root / "routerdc" / "mmlu_test.json", f)
    run_cli(SMALL, cache=cache, out=out, data_root=root)
    assert (job / "metrics.json").read_bytes() == old_bytes
    assert not list(job.glob("*.stale.*")) and not (job / "failed.json").exists()
