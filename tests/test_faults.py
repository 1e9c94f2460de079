"""Fault injection (`pytest -m faults`): every cache and artefact kind this stage owns is corrupted
in turn; each time a clear message names the file, and the rerun gives the correct result.

Artefacts: the clustering cache (.npz), metrics.json, predictions.parquet, run.json, and the
failed.json / *.stale.* files of interrupted or failed reruns."""

from __future__ import annotations

import io
import json
import logging
import pickle
import shutil

import numpy as np
import pytest

from avengers.cluster.methods import KMeansClustering, fit_cached
from support import run_cli

pytestmark = pytest.mark.faults


# ---- the clustering cache ---------------------------------------------------------------------

def blobs():
    rng = np.random.default_rng(0)
    x = np.concatenate([c + 0.05 * rng.standard_normal((20, 6)) for c in np.eye(3, 6)])
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _good(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


CORRUPTIONS = {
    "zero bytes": lambda p, g: b"",
    "truncated": lambda p, g: p.read_bytes()[: len(p.read_bytes()) // 2],
    "garbage": lambda p, g: b"\x00garbage" * 50,
    "pickled object": lambda p, g: pickle.dumps({"labels": g["labels"], "centers": g["centers"]}),
    "pickled object array": lambda p, g: npz(labels=g["labels"].astype(object), centers=g["centers"]),
    "bare array": lambda p, g: (lambda b: (np.save(b, g["labels"]), b.getvalue())[1])(io.BytesIO()),
    "missing key": lambda p, g: npz(labels=g["labels"]),
    "extra key": lambda p, g: npz(labels=g["labels"], centers=g["centers"], other=g["labels"]),
    "float32 centres": lambda p, g: npz(labels=g["labels"], centers=g["centers"].astype(np.float32)),
    "wrong dimension": lambda p, g: npz(labels=g["labels"], centers=np.eye(3, 5)),
    "too many labels": lambda p, g: npz(labels=np.concatenate([g["labels"], [0]]), centers=g["centers"]),
    "float labels": lambda p, g: npz(labels=g["labels"].astype(np.float64), centers=g["centers"]),
    "label out of range": lambda p, g: npz(labels=np.where(g["labels"] == 0, 7, g["labels"]), centers=g["centers"]),
    "negative label": lambda p, g: npz(labels=np.where(g["labels"] == 0, -1, g["labels"]), centers=g["centers"]),
    "empty cluster": lambda p, g: npz(labels=np.where(g["labels"] == 2, 1, g["labels"]), centers=g["centers"]),
    "NaN centre": lambda p, g: npz(labels=g["labels"], centers=np.where(np.eye(3, 6) > 0, np.nan, g["centers"])),
    "non-unit centres": lambda p, g: npz(labels=g["labels"], centers=2 * g["centers"]),
    "more centres than K": lambda p, g: npz(labels=g["labels"], centers=np.vstack([g["centers"], g["centers"][:1]])),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_clustering_cache_is_named_moved_aside_and_refitted(kind, tmp_path, caplog):
    x = blobs()
    method = KMeansClustering(name="kmeans", n_clusters=3, n_init=2)
    key = {"embedder": "e", "calib": "c"}
    fresh, hit = fit_cached(method, x, 0, key, tmp_path)
    assert hit is False
    (path,) = list((tmp_path / "clusterings").glob("*.npz"))
    path.write_bytes(CORRUPTIONS[kind](path, _good(path)))

    with caplog.at_level(logging.WARNING, logger="avengers.cluster.methods"):
        fit, hit = fit_cached(method, x, 0, key, tmp_path)
    assert hit is False
    (msg,) = [r.getMessage() for r in caplog.records]
    assert f"Clustering cache {path} is corrupt" in msg and "recomputing" in msg
    assert (path.parent / (path.name + ".corrupt")).exists()
    np.testing.assert_array_equal(fit.labels, fresh.labels)
    np.testing.assert_array_equal(fit.centers, fresh.centers)
    # The rewritten file is good again: read back without a warning.
    caplog.clear()
    again, hit = fit_cached(method, x, 0, key, tmp_path)
    assert hit is True and not caplog.records
    np.testing.assert_array_equal(again.centers, fresh.centers)


def test_cached_fit_of_other_data_is_refused(tmp_path, caplog):
    """A file that is valid on its own but not for these inputs (another n) is not used."""
    x = blobs()
    method = KMeansClustering(name="kmeans", n_clusters=3, n_init=2)
    fit_cached(method, x, 0, {"k": 1}, tmp_path)
    (path,) = list((tmp_path / "clusterings").glob("*.npz"))
    with caplog.at_level(logging.WARNING):
        fit, hit = fit_cached(method, x[:-3], 0, {"k": 1}, tmp_path)
    assert hit is False and len(fit.labels) == len(x) - 3 and "labels are int64 (60,), expected int64 (57,)" in caplog.text


# ---- job artefacts, through the CLI on real data ------------------------------------------------

SMALL = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=4",
         "data.max_queries_per_benchmark=30"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, data_root):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out")
    run_cli(SMALL, cache=cache, out=out, data_root=data_root)
    (metrics,) = list(out.rglob("metrics.json"))
    job = metrics.parent
    return cache, out, job, {n: (job / n).read_bytes() for n in ("metrics.json", "predictions.parquet")}


def rerun_and_check(baseline, data_root, message=None, out=None, cache=None):
    b_cache, b_out, job, want = baseline
    out = out or b_out
    proc = run_cli(SMALL, cache=cache or b_cache, out=out, data_root=data_root)
    text = proc.stdout + proc.stderr
    if message is not None:
        assert message in text, text[-3000:]
    (metrics,) = list(out.rglob("metrics.json"))
    for name, data in want.items():
        assert (metrics.parent / name).read_bytes() == data, name
    assert not list(metrics.parent.glob("*.stale.*")) and not (metrics.parent / "failed.json").exists()
    return text


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "truncated", "not an object", "deleted predictions", "truncated predictions",
                                    "flipped predictions byte", "garbage run.json", "deleted run.json"])
def test_damaged_job_artefact_is_named_and_the_job_reruns(damage, baseline, data_root):
    _, _, job, _ = baseline
    metrics, pred, run = job / "metrics.json", job / "predictions.parquet", job / "run.json"
    if damage == "garbage":
        metrics.write_text("\x00\x01 not json")
    elif damage == "truncated":
        metrics.write_bytes(metrics.read_bytes()[:100])
    elif damage == "not an object":
        metrics.write_text("[1, 2]")
    elif damage == "deleted predictions":
        pred.unlink()
    elif damage == "garbage run.json":
        run.write_text("{")
    elif damage == "deleted run.json":
        run.unlink()
    elif damage == "truncated predictions":
        pred.write_bytes(pred.read_bytes()[:-200])
    else:
        blob = bytearray(pred.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        pred.write_bytes(bytes(blob))
    target = metrics if damage in ("garbage", "truncated", "not an object") else run if "run.json" in damage else pred
    text = rerun_and_check(baseline, data_root, message=str(target))
    assert "already has metrics.json" not in text


@pytest.mark.realdata
@pytest.mark.slow
def test_failed_json_beside_a_result_and_stale_files_are_not_trusted(baseline, data_root):
    _, _, job, want = baseline
    # An old failure record beside the result (left by an older harness): the job is rerun.
    (job / "failed.json").write_text(json.dumps({"error": "boom", "type": "X"}))
    text = rerun_and_check(baseline, data_root)
    assert "already has metrics.json" not in text
    # A rerun killed after setting the result aside: only *.stale.* files; the job reruns.
    for name in ("metrics.json", "predictions.parquet", "run.json"):
        stem, _, ext = name.partition(".")
        (job / name).replace(job / f"{stem}.stale.{ext}")
    rerun_and_check(baseline, data_root)
    # Untouched: skipped, bytes kept.
    text = rerun_and_check(baseline, data_root)
    assert "already has metrics.json" in text


@pytest.mark.realdata
@pytest.mark.slow
def test_corrupt_clustering_cache_in_a_real_run(baseline, data_root, tmp_path):
    cache, _, _, _ = baseline
    files = sorted((cache / "clusterings").glob("*.npz"))
    assert files
    for f in files:
        f.write_bytes(f.read_bytes()[:64])
    # The fitted-router cache would restore the whole router without reading the clustering.
    shutil.rmtree(cache / "routers", ignore_errors=True)
    # A new output folder, so the job itself is not skipped: the fit must come from the cache.
    text = rerun_and_check(baseline, data_root, message=f"Clustering cache {files[0]} is corrupt", out=tmp_path / "o")
    assert "clustering from cache: False" in text
    shutil.rmtree(tmp_path / "o")
    text = rerun_and_check(baseline, data_root, out=tmp_path / "o")
    assert "clustering from cache: True" in text and "is corrupt" not in text
