"""Fault injection on the embedding cache: each corruption gives one warning naming the file,
the file is moved aside to `<name>.corrupt-<n>`, and the rerun returns the right vectors."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from avengers.embed.cache import CachedEmbedder, EmbeddingCache
from avengers.errors import AvengersError

pytestmark = pytest.mark.faults

TEXTS = [f"query number {i} about {'a' * (i % 7)}" for i in range(40)]


class Tiny:
    """A deterministic 8-d embedder: unit vectors that depend only on the text."""

    name = "tiny"
    batch_size = 4

    def __init__(self, identity="tiny-v1"):
        self._id, self.n_encoded = identity, 0

    @property
    def identity(self):
        return self._id

    def fit(self, texts):
        pass

    def encode(self, texts):
        self.n_encoded += len(texts)
        rows = []
        for t in texts:
            rng = np.random.default_rng(sum(t.encode()) * 7919 + len(t))
            rows.append(rng.normal(size=8))
        v = np.asarray(rows, dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _fresh(tmp_path) -> tuple[Path, np.ndarray]:
    """A good cache holding TEXTS, its file, and the right vectors."""
    want = CachedEmbedder(Tiny(), tmp_path, progress=False)(TEXTS)
    return EmbeddingCache(tmp_path, "tiny-v1").path, want


def _rerun_recovers(tmp_path, path, want, caplog, reason):
    caplog.clear()
    e = Tiny()
    ce = CachedEmbedder(e, tmp_path, progress=False)
    with caplog.at_level(logging.WARNING, logger="avengers.embed.cache"):
        got = ce(TEXTS)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    msg = warnings[0]
    assert str(path) in msg and "corrupt" in msg and reason in msg, msg
    assert f"{path}.corrupt-1" in msg
    assert Path(f"{path}.corrupt-1").exists()
    np.testing.assert_array_equal(got, want)
    assert e.n_encoded == len(set(TEXTS))  # recomputed from scratch
    # and the rebuilt cache is good: the next run embeds nothing and warns nothing
    caplog.clear()
    e2 = Tiny()
    with caplog.at_level(logging.WARNING, logger="avengers.embed.cache"):
        again = CachedEmbedder(e2, tmp_path, progress=False)(TEXTS)
    assert e2.n_encoded == 0 and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    np.testing.assert_array_equal(again, want)


def _edit(path: Path, *sql: tuple) -> None:
    db = sqlite3.connect(path)
    with db:
        for stmt in sql:
            db.execute(*stmt)
    db.close()


def test_truncated_file(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2])
    _rerun_recovers(tmp_path, path, want, caplog, "SQLite")


def test_garbage_file(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    path.write_bytes(np.random.default_rng(0).bytes(20000))
    _rerun_recovers(tmp_path, path, want, caplog, "not a readable SQLite database")


def test_garbage_header_keeps_size(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00" * 100
    path.write_bytes(bytes(data))
    _rerun_recovers(tmp_path, path, want, caplog, "SQLite")


def test_wrong_vector_length_in_one_row(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    _edit(path, ("UPDATE emb SET vec = ? WHERE rowid IN (SELECT rowid FROM emb LIMIT 1)",
                 (np.ones(5, np.float32).tobytes(),)))
    _rerun_recovers(tmp_path, path, want, caplog, "has 20 bytes")


def test_wrong_dimension_everywhere(tmp_path, caplog):
    """Every vector (and the recorded dimension) 4-d while the embedder gives 8-d vectors."""
    path, want = _fresh(tmp_path)
    v4 = (np.ones(4, np.float32) / 2).tobytes()
    _edit(path, ("UPDATE emb SET vec = ?", (v4,)), ("UPDATE meta SET v = '4' WHERE k = 'dim'",))
    # all texts cached: the wrong dimension shows only when a new text is embedded beside them
    caplog.clear()
    e = Tiny()
    with caplog.at_level(logging.WARNING, logger="avengers.embed.cache"):
        got = CachedEmbedder(e, tmp_path, progress=False)(TEXTS + ["a new text"])
    msg = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert str(path) in msg and "4-d" in msg and "8-d" in msg and Path(f"{path}.corrupt-1").exists()
    np.testing.assert_array_equal(got[:-1], want)


def test_dimension_record_disagrees_with_the_vectors(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    _edit(path, ("UPDATE meta SET v = '16' WHERE k = 'dim'",))
    _rerun_recovers(tmp_path, path, want, caplog, "16-d float32 vectors")


def test_nan_vectors(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    nan = np.full(8, np.nan, np.float32).tobytes()
    _edit(path, ("UPDATE emb SET vec = ? WHERE rowid IN (SELECT rowid FROM emb LIMIT 3)", (nan,)))
    _rerun_recovers(tmp_path, path, want, caplog, "NaN")


def test_infinite_vectors(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    inf = np.full(8, np.inf, np.float32).tobytes()
    _edit(path, ("UPDATE emb SET vec = ? WHERE rowid IN (SELECT rowid FROM emb LIMIT 1)", (inf,)))
    _rerun_recovers(tmp_path, path, want, caplog, "infinity")


def test_random_bytes_of_the_right_length(tmp_path, caplog):
    """Finite garbage of the right size: caught because it is not a unit vector."""
    path, want = _fresh(tmp_path)
    junk = np.random.default_rng(1).uniform(5, 9, size=8).astype(np.float32).tobytes()
    _edit(path, ("UPDATE emb SET vec = ? WHERE rowid IN (SELECT rowid FROM emb LIMIT 1)", (junk,)))
    _rerun_recovers(tmp_path, path, want, caplog, "not unit length")


def test_text_instead_of_bytes(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    _edit(path, ("UPDATE emb SET vec = 'hello' WHERE rowid IN (SELECT rowid FROM emb LIMIT 1)",))
    _rerun_recovers(tmp_path, path, want, caplog, "is a str")


def test_file_of_another_embedder(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    _edit(path, ("UPDATE meta SET v = 'someone-else' WHERE k = 'identity'",))
    _rerun_recovers(tmp_path, path, want, caplog, "belongs to embedder 'someone-else'")


def test_wrong_schema(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    _edit(path, ("DROP TABLE emb",), ("CREATE TABLE emb (key TEXT PRIMARY KEY, vector BLOB, extra INT)",))
    _rerun_recovers(tmp_path, path, want, caplog, "columns")


def test_corrupt_files_are_numbered_not_overwritten(tmp_path, caplog):
    path, want = _fresh(tmp_path)
    for n in (1, 2):
        path.write_bytes(b"junk" * 5000)
        CachedEmbedder(Tiny(), tmp_path, progress=False)(TEXTS)
        assert Path(f"{path}.corrupt-{n}").read_bytes() == b"junk" * 5000


def test_an_empty_file_is_a_new_cache_not_a_corrupt_one(tmp_path, caplog):
    path = EmbeddingCache(tmp_path, "tiny-v1").path
    path.unlink()
    path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="avengers.embed.cache"):
        CachedEmbedder(Tiny(), tmp_path, progress=False)(TEXTS)
    assert not caplog.records and not list(tmp_path.glob("*.corrupt-*"))


def test_an_embedder_returning_nan_is_refused_not_cached(tmp_path):
    class Broken(Tiny):
        def encode(self, texts):
            v = super().encode(texts)
            v[0, 0] = np.nan
            return v

    with pytest.raises(AvengersError, match="NaN or infinite vectors"):
        CachedEmbedder(Broken(), tmp_path, progress=False)(TEXTS)
    assert len(EmbeddingCache(tmp_path, "tiny-v1")) == 0


def test_old_caches_without_a_recorded_dimension_still_read(tmp_path):
    """Caches written before the dimension was recorded (the MiniLM cache of older versions)."""
    path, want = _fresh(tmp_path)
    _edit(path, ("DELETE FROM meta WHERE k IN ('dim', 'dtype')",))
    e = Tiny()
    got = CachedEmbedder(e, tmp_path, progress=False)(TEXTS)
    assert e.n_encoded == 0
    np.testing.assert_array_equal(got, want)
