"""The generation store: idempotent, atomic per batch, resumable after SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from avengers.generate.backends.base import Sampling, sample_runs
from avengers.generate.pool import ModelSpec
from avengers.generate.store import GenerationStore, StoredSample, request_hash
from avengers.errors import AvengersError


def _s(q: str, i: int, text: str = "t", h: str = "h1", model: str = "m", seed: int = 0) -> StoredSample:
    return StoredSample(model=model, benchmark="b", query_id=q, params_hash=h, sample=i, seed=seed, text=text)


def test_put_fetch_missing_roundtrip(tmp_path):
    with GenerationStore(tmp_path / "g.sqlite") as st:
        assert st.put([_s("q1", 0), _s("q1", 1), _s("q2", 0)]) == 3
        assert st.missing("m", "b", 0, {"q1": "h1", "q2": "h1", "q3": "h1"}, 3) == {
            "q1": (2,),
            "q2": (1, 2),
            "q3": (0, 1, 2),
        }
        # another params hash (new prompt / temperature) or seed: nothing stored for it
        assert st.missing("m", "b", 0, {"q1": "h2"}, 2) == {"q1": (0, 1)}
        assert st.missing("m", "b", 1, {"q1": "h1"}, 2) == {"q1": (0, 1)}
        got = st.fetch("m", "b", 0)
        assert set(got) == {("q1", "h1", 0), ("q1", "h1", 1), ("q2", "h1", 0)}
        assert st.fetch("m", "b", 0, n=1).keys() == {("q1", "h1", 0), ("q2", "h1", 0)}
    # persisted
    with GenerationStore(tmp_path / "g.sqlite") as st:
        assert st.count() == 3


def test_put_is_idempotent_first_write_wins(tmp_path):
    with GenerationStore(tmp_path / "g.sqlite") as st:
        assert st.put([_s("q1", 0, "first")]) == 1
        assert st.put([_s("q1", 0, "second"), _s("q1", 1)]) == 1
        assert st.put([_s("q1", 0, "third"), _s("q1", 1)]) == 0
        assert st.count() == 2
        assert st.fetch("m", "b", 0)[("q1", "h1", 0)].text == "first"
        assert len(st.keys()) == len(set(st.keys())) == 2


def test_batch_is_atomic(tmp_path):
    with GenerationStore(tmp_path / "g.sqlite") as st:
        st.put([_s("q0", 0)])
        bad = StoredSample(model="m", benchmark="b", query_id="q2", params_hash="h1", sample=0, seed=0, text=None)  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):
            st.put([_s("q1", 0), _s("q1", 1), bad])
        assert st.count() == 1  # none of the failed batch
        assert st.put([_s("q1", 0)]) == 1  # and the store is still usable


def test_not_a_database(tmp_path):
    p = tmp_path / "g.sqlite"
    p.write_text("this is not sqlite" * 100)
    with pytest.raises(AvengersError, match="not a usable SQLite"):
        GenerationStore(p)


def test_request_hash_covers_prompt_model_and_sampling_not_n_or_seed():
    m = ModelSpec(name="a", hf_id="x/a")
    s = Sampling(n=10, temperature=0.7, top_p=1.0, max_tokens=64, seed=0)
    h = request_hash(m.identity(), s.identity(), "p")
    assert h == request_hash(m.identity(), Sampling(n=3, temperature=0.7, max_tokens=64, seed=5).identity(), "p")
    assert h == request_hash(ModelSpec(name="a", hf_id="x/a", price_input=1.0).identity(), s.identity(), "p")
    assert h != request_hash(m.identity(), s.identity(), "q")
    assert h != request_hash(m.identity(), Sampling(temperature=0.2, max_tokens=64).identity(), "p")
    assert h != request_hash(m.identity(), Sampling(temperature=0.7, max_tokens=65).identity(), "p")
    assert h != request_hash(ModelSpec(name="a", hf_id="x/b").identity(), s.identity(), "p")


def test_sample_runs():
    assert sample_runs([]) == []
    assert sample_runs([0, 1, 2]) == [(0, 3)]
    assert sample_runs([5, 0, 1, 6, 2, 9]) == [(0, 3), (5, 2), (9, 1)]


_WRITER = textwrap.dedent(
    """
    import sys
    from avengers.generate.store import GenerationStore, StoredSample
    st = GenerationStore(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:  # batches of 10 samples of one query, forever
        st.put([StoredSample("m", "b", f"q{i:06d}", "h", s, 0, "x" * 200) for s in range(10)])
        i += 1
    """
)


def test_sigkill_mid_write_leaves_whole_batches(tmp_path):
    db = tmp_path / "g.sqlite"
    p = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        deadline = time.time() + 20
        while time.time() < deadline:
            time.sleep(0.2)
            with sqlite3.connect(db, timeout=30) as con:
                if con.execute("SELECT COUNT(*) FROM samples").fetchone()[0] >= 50:
                    break
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    with GenerationStore(db) as st:
        rows = st.keys()
        assert len(rows) >= 50 and len(rows) % 10 == 0  # only whole batches
        per_q: dict[str, int] = {}
        for _m, _b, q, _h, _s, _seed in rows:
            per_q[q] = per_q.get(q, 0) + 1
        assert set(per_q.values()) == {10}
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        # resuming adds exactly what is missing
        q_last = max(per_q)
        assert st.put([StoredSample("m", "b", q_last, "h", s, 0, "y") for s in range(12)]) == 2
