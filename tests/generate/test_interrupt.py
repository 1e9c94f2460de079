"""Kill test: SIGKILL a collection midway (twice), rerun, get the uninterrupted run's outcome file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from collect_helpers import cfg, cli, env, overrides

from avengers.generate.app import collect
from avengers.generate.store import GenerationStore

N_ITEMS, N = 20, 4
TOTAL = N_ITEMS * N


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:  # table not created yet
        return 0


def _start(ovr: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cli() + ovr, env=env(), stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _kill_when(p: subprocess.Popen, db: Path, at_least: int, timeout: float = 90.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            raise AssertionError(f"the collection ended (rc={p.returncode}) before it could be killed; see log")
        if _rows(db) >= at_least:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
            assert p.returncode == -signal.SIGKILL
            return _rows(db)
        time.sleep(0.01)
    p.kill()
    raise AssertionError(f"store never reached {at_least} rows")


def test_sigkill_and_rerun_equals_uninterrupted_run(fake_server, standin, tmp_path):
    # slow enough (50 ms a request, 2 at a time, one request per sample) to be killed midway
    srv = fake_server(delay_s=0.05)
    extra = ["backend.supports_n=false", "backend.concurrency=2"]

    ref_dir = tmp_path / "reference"
    collect(cfg(overrides(srv.base_url, ref_dir, limit=N_ITEMS, n=N) + extra))
    reference = (ref_dir / "out.jsonl").read_bytes()
    assert len(srv.requests) == TOTAL

    work = tmp_path / "killed"
    db = work / "generations.sqlite"
    ovr = overrides(srv.base_url, work, limit=N_ITEMS, n=N) + extra
    log = tmp_path / "collect.log"
    after_first = _kill_when(_start(ovr, log), db, at_least=8)
    assert 0 < after_first < TOTAL
    after_second = _kill_when(_start(ovr, log), db, at_least=after_first + 20)
    assert after_first < after_second < TOTAL
    assert not (work / "out.jsonl").exists()

    time.sleep(0.5)  # requests the killed client left in flight finish on the server side
    srv.requests.clear()
    p = subprocess.run(cli() + ovr, env=env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    # only what was missing was generated, and nothing twice
    assert f"{TOTAL - after_second} of {TOTAL} samples to generate" in p.stdout + p.stderr
    assert len(srv.requests) == TOTAL - after_second
    assert (work / "out.jsonl").read_bytes() == reference
    with GenerationStore(db) as a, GenerationStore(ref_dir / "generations.sqlite") as b:
        cols = ("model", "benchmark", "query_id", "params_hash", "sample", "seed", "text")
        assert a.rows(cols) == b.rows(cols)
        assert a.count() == TOTAL
