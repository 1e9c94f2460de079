"""Content-addressed embedding cache: SQLite, one file per embedder identity.

SQLite because parallel Hydra jobs share it safely (transactions, WAL) and it needs no pickles.

Every read is checked (the file is a SQLite database with our schema and identity; each vector
is a float32 blob of the cache's dimension, finite, and unit length or zero). A cache that fails
is moved aside to `<file>.corrupt-<n>` with one warning naming it, and its vectors are recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from avengers.embed.base import Embedder
from avengers.errors import AvengersError

log = logging.getLogger(__name__)

STORED_DTYPE = "float32"  # vectors are stored as raw little-endian float32 bytes
_NORM_TOLERANCE = 1e-3  # vectors are L2-normalised in float32; garbage bytes almost never are


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CorruptCache(Exception):
    """The cache file cannot be trusted; `CachedEmbedder` moves it aside and recomputes."""

    def __init__(self, path: Path, reason: str, inode: int | None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.inode = path, reason, inode


def _is_corruption(e: sqlite3.DatabaseError) -> bool:
    """A damaged file (not a busy or unreadable one, which moving aside would not fix)."""
    name = getattr(e, "sqlite_errorname", "") or ""
    if name:
        return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"
    return type(e) is sqlite3.DatabaseError


class EmbeddingCache:
    def __init__(self, folder: str | Path, identity: str) -> None:
        self.identity = identity
        tag = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.path = Path(folder).expanduser() / f"{tag}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dim: int | None = None
        self.inode: int | None = None
        self._db: sqlite3.Connection | None = None
        try:
            with self._guard():
                self._open()
        except BaseException:
            self.close()  # before the file may be moved aside
            raise

    def _corrupt(self, reason: str) -> CorruptCache:
        return CorruptCache(self.path, reason, self.inode)

    def _guard(self):
        """Turns SQLite's 'malformed'/'not a database' errors into CorruptCache."""
        cache = self

        class Guard:
            def __enter__(self):
                return None

            def __exit__(self, typ, exc, tb):
                if isinstance(exc, sqlite3.DatabaseError) and _is_corruption(exc):
                    raise cache._corrupt(f"not a readable SQLite database ({exc})") from None
                return False

        return Guard()

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, timeout=120)
        self.inode = os.stat(self.path).st_ino  # which file we judged, should we move it aside
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(emb)")]
        if columns != ["key", "vec"]:
            raise self._corrupt(f"table emb has columns {columns}, expected ['key', 'vec']")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('identity', ?)", (self.identity,))
        self._db.commit()
        meta = dict(self._db.execute("SELECT k, v FROM meta"))
        if meta.get("identity") != self.identity:
            # A 64-bit prefix collision is astronomically unlikely: an edited or swapped file.
            raise self._corrupt(f"it belongs to embedder {meta.get('identity')!r}, not {self.identity!r}")
        if meta.get("dtype", STORED_DTYPE) != STORED_DTYPE:
            raise self._corrupt(f"its vectors are stored as {meta['dtype']!r}, expected {STORED_DTYPE!r}")
        if "dim" in meta:
            try:
                self.dim = int(meta["dim"])
            except ValueError:
                raise self._corrupt(f"its recorded dimension {meta['dim']!r} is not a number") from None
            if self.dim <= 0:
                raise self._corrupt(f"its recorded dimension {self.dim} is not positive")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found_keys: list[str] = []
        blobs: list[bytes] = []
        uniq = list(dict.fromkeys(keys))
        with self._guard():
            for i in range(0, len(uniq), 900):  # SQLite's bound-parameter limit
                chunk = uniq[i : i + 900]
                q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
                for k, blob in self._db.execute(q, chunk):
                    found_keys.append(k)
                    blobs.append(blob)
        return dict(zip(found_keys, self._check(found_keys, blobs)))

    def _check(self, keys: list[str], blobs: list) -> np.ndarray:
        """The vectors as one (n, dim) float32 array, or CorruptCache saying what is wrong."""
        if not blobs:
            return np.zeros((0, self.dim or 0), np.float32)
        for k, blob in zip(keys, blobs):
            if not isinstance(blob, bytes):
                raise self._corrupt(f"the vector for text {k[:12]}... is a {type(blob).__name__}, not float32 bytes")
        if self.dim is None:  # a cache written before the dimension was recorded: its first row decides
            self.dim = len(blobs[0]) // 4
        width = 4 * self.dim
        for k, blob in zip(keys, blobs):
            if len(blob) != width:
                raise self._corrupt(f"the vector for text {k[:12]}... has {len(blob)} bytes; this cache holds "
                                    f"{self.dim}-d float32 vectors ({width} bytes)")
        if self.dim == 0:
            raise self._corrupt("its vectors are empty")
        vecs = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), self.dim)
        finite = np.isfinite(vecs).all(axis=1)
        if not finite.all():
            raise self._corrupt(f"{int((~finite).sum())} of the vectors read hold NaN or infinity")
        norms = np.linalg.norm(vecs, axis=1)
        bad = ~((norms == 0) | (np.abs(norms - 1) <= _NORM_TOLERANCE))
        if bad.any():
            raise self._corrupt(f"{int(bad.sum())} of the vectors read are not unit length "
                                f"(e.g. norm {norms[bad][0]:.4g}): not vectors this harness wrote")
        return vecs.astype(np.float32, copy=False)

    def put(self, keys: Sequence[str], vecs: np.ndarray) -> None:
        vecs = np.ascontiguousarray(vecs, dtype="<f4")
        if vecs.ndim != 2 or vecs.shape[0] != len(keys):
            raise AvengersError(f"The embedder returned an array of shape {vecs.shape} for {len(keys)} texts; "
                                f"expected ({len(keys)}, dim).")
        if not np.isfinite(vecs).all():
            # The model, not the cache: never store such vectors.
            raise AvengersError(f"The embedder returned NaN or infinite vectors for {int((~np.isfinite(vecs).all(1)).sum())} "
                                f"texts; refusing to cache them ({self.identity}).")
        if self.dim is not None and vecs.shape[1] != self.dim:
            raise self._corrupt(f"it holds {self.dim}-d vectors but the embedder now gives {vecs.shape[1]}-d ones")
        rows = [(k, v.tobytes()) for k, v in zip(keys, vecs)]
        with self._guard(), self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(vecs.shape[1]),))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dtype', ?)", (STORED_DTYPE,))
            self._db.executemany("INSERT OR IGNORE INTO emb VALUES (?, ?)", rows)
        self.dim = vecs.shape[1]

    def __len__(self) -> int:
        with self._guard():
            return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def quarantine(bad: CorruptCache) -> Path | None:
    """Move a corrupt cache (and its WAL files) to `<name>.corrupt-<n>`; None when another
    process already did (the file at the path is no longer the one judged corrupt)."""
    from filelock import FileLock

    path = bad.path
    with FileLock(str(path) + ".lock"):
        try:
            if bad.inode is not None and os.stat(path).st_ino != bad.inode:
                return None
        except FileNotFoundError:
            return None
        n = 1
        while any(Path(f"{path}.corrupt-{n}{s}").exists() for s in ("", "-wal", "-shm")):
            n += 1
        dest = Path(f"{path}.corrupt-{n}")
        for suffix in ("-wal", "-shm"):  # kept beside the file: SQLite reads `<dest>-wal` as its journal
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.replace(side, f"{dest}{suffix}")
        os.replace(path, dest)
        return dest


class CachedEmbedder:
    """Embeds only texts the cache has not seen; counts how many it had to embed.

    Texts to embed are sorted by length over the whole set (as sentence-transformers does
    inside one `encode` call, so batches pad little), then encoded in chunks that go to the
    cache as they finish: an interrupted run resumes where it stopped. Chunks are small (256
    texts: the longest MPNet chunk is minutes of CPU) and a whole number of batches, so they
    cost nothing over one call.
    """

    def __init__(self, embedder: Embedder, cache_dir: str | Path, chunk_size: int = 256, progress: bool = True) -> None:
        self.embedder = embedder
        self.cache_dir = Path(cache_dir)
        # A whole number of the model's batches, so chunking never makes a batch smaller than
        # one encode call over all texts would.
        batch = max(1, int(getattr(embedder, "batch_size", 1) or 1))
        self.chunk_size = -(-max(1, int(chunk_size)) // batch) * batch
        self.progress = progress
        self.n_embedded = 0
        self.n_cached = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_all(texts)[0]

    def embed_all(self, *text_lists: Sequence[str]) -> list[np.ndarray]:
        """One array per list; the texts of all lists are embedded in one length-sorted pass."""
        try:
            return self._embed_all(text_lists)
        except CorruptCache as bad:
            moved = quarantine(bad)
            where = f"moved it aside to {moved}" if moved else "another job already moved it aside"
            log.warning("Embedding cache %s is corrupt (%s); %s and will recompute its vectors.",
                        bad.path, bad.reason, where)
        try:
            return self._embed_all(text_lists)
        except CorruptCache as bad:  # freshly rebuilt and corrupt again: the disk or the embedder
            raise AvengersError(f"Embedding cache {bad.path} is corrupt again right after it was rebuilt "
                                f"({bad.reason}). Check the disk holding it, or point paths.cache_dir elsewhere.") from None

    def _embed_all(self, text_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
        cache = EmbeddingCache(self.cache_dir, self.embedder.identity)
        try:
            key_lists = [[text_key(t) for t in texts] for texts in text_lists]
            by_key: dict[str, str] = {}
            for keys, texts in zip(key_lists, text_lists):
                by_key.update(zip(keys, texts))
            have = cache.get(list(by_key))
            missing = [k for k in by_key if k not in have]
            if missing:
                # Parallel jobs of a sweep: one embeds, the others wait and then read its vectors.
                from filelock import FileLock

                with FileLock(str(cache.path) + ".lock"):
                    have.update(cache.get(missing))
                    missing = [k for k in missing if k not in have]
                    self._embed_missing(cache, missing, by_key, have)
            self.n_embedded += len(missing)
            self.n_cached += len(by_key) - len(missing)
            dim = cache.dim or 0
            return [np.stack([have[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
                    for keys in key_lists]
        finally:
            cache.close()

    def _embed_missing(self, cache: EmbeddingCache, missing: list[str], by_key: dict[str, str],
                       have: dict[str, np.ndarray]) -> None:
        if not missing:
            return
        log.info("embedding %d new texts with %s (%d cached)", len(missing), self.embedder.name, len(have))
        from tqdm.auto import tqdm

        # Longest first, stable: the order sentence-transformers gives one encode call.
        order = sorted(missing, key=lambda k: -len(by_key[k]))
        with tqdm(total=len(order), desc=f"embed [{self.embedder.name}]", unit="text",
                  disable=not self.progress) as bar:
            for i in range(0, len(order), self.chunk_size):
                chunk = order[i : i + self.chunk_size]
                vecs = np.asarray(self.embedder.encode([by_key[k] for k in chunk]), dtype=np.float32)
                cache.put(chunk, vecs)
                have.update(zip(chunk, vecs))
                bar.update(len(chunk))
