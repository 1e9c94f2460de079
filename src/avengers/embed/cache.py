"""Content-addressed embedding cache: SQLite, one file per embedder identity.

SQLite because parallel Hydra jobs share it safely (transactions, WAL) and it needs no pickles.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from avengers.embed.base import Embedder

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, folder: str | Path, identity: str) -> None:
        self.identity = identity
        tag = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.path = Path(folder).expanduser() / f"{tag}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=120)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('identity', ?)", (identity,))
        self._db.commit()
        stored = self._db.execute("SELECT v FROM meta WHERE k='identity'").fetchone()[0]
        if stored != identity:  # a 64-bit prefix collision; refuse rather than mix vectors
            raise RuntimeError(f"Embedding cache {self.path} belongs to {stored!r}, not {identity!r}.")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), 900):  # SQLite's bound-parameter limit
            chunk = uniq[i : i + 900]
            q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
            for k, blob in self._db.execute(q, chunk):
                found[k] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, keys: Sequence[str], vecs: np.ndarray) -> None:
        rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vecs)]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO emb VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """Embeds only texts the cache has not seen; counts how many it had to embed."""

    def __init__(self, embedder: Embedder, cache_dir: str | Path, chunk_size: int = 1024, progress: bool = True) -> None:
        self.embedder = embedder
        self.cache_dir = Path(cache_dir)
        self.chunk_size = int(chunk_size)
        self.progress = progress
        self.n_embedded = 0
        self.n_cached = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        cache = EmbeddingCache(self.cache_dir, self.embedder.identity)
        try:
            keys = [text_key(t) for t in texts]
            have = cache.get(keys)
            missing = list(dict.fromkeys(k for k in keys if k not in have))
            if missing:
                # Parallel jobs of a sweep: one embeds, the others wait and then read its vectors.
                from filelock import FileLock

                with FileLock(str(cache.path) + ".lock"):
                    have.update(cache.get(missing))
                    missing = [k for k in missing if k not in have]
                    self._embed_missing(cache, missing, dict(zip(keys, texts)), have)
            self.n_embedded += len(missing)
            self.n_cached += len(set(keys)) - len(missing)
            return np.stack([have[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)
        finally:
            cache.close()

    def _embed_missing(self, cache: EmbeddingCache, missing: list[str], by_key: dict[str, str],
                       have: dict[str, np.ndarray]) -> None:
        if not missing:
            return
        log.info("embedding %d new texts with %s (%d cached)", len(missing), self.embedder.name, len(have))
        from tqdm.auto import tqdm

        # Chunks go to the cache as they finish: an interrupted run resumes where it stopped.
        with tqdm(total=len(missing), desc=f"embed [{self.embedder.name}]", unit="text",
                  disable=not self.progress) as bar:
            for i in range(0, len(missing), self.chunk_size):
                chunk = missing[i : i + self.chunk_size]
                vecs = np.asarray(self.embedder.encode([by_key[k] for k in chunk]), dtype=np.float32)
                cache.put(chunk, vecs)
                have.update(zip(chunk, vecs))
                bar.update(len(chunk))
