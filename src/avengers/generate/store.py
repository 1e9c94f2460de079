"""Resumable generation store: every sample is generated once, kept across killed runs.

SQLite in WAL mode, one row per sample, primary key (model, benchmark, query_id, params_hash,
sample, seed); rows go in with ``INSERT ... ON CONFLICT DO NOTHING`` (INSERT OR IGNORE, for the
key only) inside one transaction per batch, so a batch is either all stored or not at all, and
storing the same sample twice is a no-op. A run killed
at any point, rerun, ends with exactly the samples an uninterrupted run would have.

``params_hash`` (:func:`request_hash`) covers everything that changes what one sample is drawn
from: the model's identity (name, hf_id, revision, chat), temperature, top_p, max_tokens and the
SHA-256 of the prompt. It leaves out ``n`` (asking for more samples later reuses the first ones)
and the seed (a column of the key). Plain text only: no pickles.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avengers.errors import AvengersError
from avengers.files import sha256_text, stable_hash

__all__ = ["GenerationStore", "StoredSample", "request_hash", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    model TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    query_id TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    sample INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens REAL,
    completion_tokens REAL,
    cost REAL,
    finish_reason TEXT,
    backend TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (model, benchmark, query_id, params_hash, sample, seed)
) WITHOUT ROWID;
"""

_COLS = (
    "model", "benchmark", "query_id", "params_hash", "sample", "seed", "text",
    "prompt_tokens", "completion_tokens", "cost", "finish_reason", "backend", "created_at",
)


# Like INSERT OR IGNORE, but only a primary-key clash is ignored (a NULL text still fails).
_INSERT = (
    f"INSERT INTO samples ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))}) "
    "ON CONFLICT (model, benchmark, query_id, params_hash, sample, seed) DO NOTHING"
)


def request_hash(model_identity: Mapping[str, Any], sampling_identity: Mapping[str, Any], prompt: str) -> str:
    """The store's ``params_hash`` of one prompt sent to one model with given sampling settings."""
    return stable_hash({"model": dict(model_identity), "sampling": dict(sampling_identity), "prompt": sha256_text(prompt)})[:32]


@dataclass(frozen=True)
class StoredSample:
    model: str
    benchmark: str
    query_id: str
    params_hash: str
    sample: int
    seed: int
    text: str
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    cost: float | None = None
    finish_reason: str | None = None
    backend: str | None = None
    created_at: float = 0.0

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in _COLS)


class GenerationStore:
    """A SQLite file of generated samples. Use one instance per process (it holds a connection)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.execute("PRAGMA busy_timeout=60000")
            self._con.executescript(_SCHEMA)
            self._con.execute("BEGIN IMMEDIATE")
            self._con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._con.execute("COMMIT")
            (version,) = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise AvengersError(
                f"generation store {str(self.path)!r} is not a usable SQLite file ({e}); "
                "move it away or set store=<new path>."
            ) from e
        if int(version) != SCHEMA_VERSION:
            raise AvengersError(
                f"generation store {str(self.path)!r} has schema version {version}, this code writes {SCHEMA_VERSION}; "
                "use a new store=<path>."
            )

    # ------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None  # type: ignore[assignment]

    def __enter__(self) -> GenerationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- write
    def put(self, samples: Iterable[StoredSample]) -> int:
        """Store a batch in one transaction; samples already there are left as they are.

        Returns how many rows were new.
        """
        rows = []
        now = time.time()
        for s in samples:
            r = list(s.row())
            if not r[-1]:
                r[-1] = now
            rows.append(tuple(r))
        if not rows:
            return 0
        cur = self._con.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            before = self._con.total_changes
            cur.executemany(_INSERT, rows)
            added = self._con.total_changes - before
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return added

    # ------------------------------------------------------------------ read
    def have(self, model: str, benchmark: str, seed: int) -> dict[tuple[str, str], set[int]]:
        """{(query_id, params_hash): {sample, ...}} stored for one model and benchmark."""
        out: dict[tuple[str, str], set[int]] = {}
        for q, h, s in self._con.execute(
            "SELECT query_id, params_hash, sample FROM samples WHERE model=? AND benchmark=? AND seed=?",
            (model, benchmark, int(seed)),
        ):
            out.setdefault((q, h), set()).add(int(s))
        return out

    def missing(
        self, model: str, benchmark: str, seed: int, wanted: Mapping[str, str], n: int
    ) -> dict[str, tuple[int, ...]]:
        """Sample indices 0..n-1 not yet stored, per query_id; ``wanted`` maps query_id -> params_hash."""
        have = self.have(model, benchmark, seed)
        out = {}
        for q, h in wanted.items():
            got = have.get((q, h), set())
            miss = tuple(i for i in range(int(n)) if i not in got)
            if miss:
                out[q] = miss
        return out

    def fetch(self, model: str, benchmark: str, seed: int, n: int | None = None) -> dict[tuple[str, str, int], StoredSample]:
        """{(query_id, params_hash, sample): StoredSample} for one model and benchmark."""
        sql = f"SELECT {', '.join(_COLS)} FROM samples WHERE model=? AND benchmark=? AND seed=?"
        args: list[Any] = [model, benchmark, int(seed)]
        if n is not None:
            sql += " AND sample < ?"
            args.append(int(n))
        out = {}
        for row in self._con.execute(sql, args):
            s = StoredSample(*row)
            out[(s.query_id, s.params_hash, s.sample)] = s
        return out

    def count(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def keys(self) -> list[tuple[Any, ...]]:
        """Every primary key, sorted (for tests and audits)."""
        return [
            tuple(r)
            for r in self._con.execute(
                "SELECT model, benchmark, query_id, params_hash, sample, seed FROM samples "
                "ORDER BY model, benchmark, query_id, params_hash, sample, seed"
            )
        ]

    def rows(self, columns: Sequence[str] = _COLS) -> list[tuple[Any, ...]]:
        bad = [c for c in columns if c not in _COLS]
        if bad:
            raise ValueError(f"unknown store column(s) {bad}")
        return list(
            self._con.execute(
                f"SELECT {', '.join(columns)} FROM samples "
                "ORDER BY model, benchmark, query_id, params_hash, sample, seed"
            )
        )
