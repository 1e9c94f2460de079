"""Fitted-router cache: a warm sweep refits nothing.

An entry is keyed by everything a fit depends on: the router's class and hyperparameters
(`router.cache_key()`), the calibration data (`data.identity`: embedder and query texts, plus
a hash of the scores, costs, benchmarks and model names here) and the seed. It is stored
under <cache root>/routers/ as <key>.npz (the arrays of `get_state()`, no pickles) and
<key>.json (the metadata, the key's inputs and the .npz checksum), written atomically, the
.json last. On read the entry is validated (key, checksum, set_state); a corrupt one is
moved aside with a warning and the router is refitted.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from avengers.assets import cache_root
from avengers.files import atomic_write_bytes, atomic_write_json, stable_hash
from avengers.route.base import CalibrationSet, Router

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def data_key(data: CalibrationSet) -> dict[str, Any]:
    """What the fit sees of the data, beyond `identity` (which names embedder and texts)."""

    def digest(a: np.ndarray | None) -> str | None:
        return None if a is None else hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()

    return {"identity": dict(data.identity), "scores": digest(data.scores), "costs": digest(data.costs),
            "shape": list(data.scores.shape), "models": list(data.models), "benchmarks": stable_hash(list(data.benchmarks)),
            "embeddings": digest(data.embeddings) if not data.identity else None}


def router_cache_key(router: Router, data: CalibrationSet, seed: int) -> str | None:
    key = getattr(router, "cache_key", None)
    if key is None:
        return None
    return stable_hash({"v": CACHE_VERSION, "router": key(), "data": data_key(data), "seed": int(seed)})


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in sorted(arrays.items())})
    return buf.getvalue()


def _move_aside(paths: list[Path], reason: str) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for p in paths:
        if p.exists():
            p.replace(p.with_name(f"{p.name}.corrupt-{stamp}"))
    log.warning("fitted-router cache entry %s is unusable (%s): moved aside as *.corrupt-%s; refitting",
                paths[0].with_suffix(""), reason, stamp)


def load_fitted(router: Router, key: str, folder: Path) -> dict[str, Any] | None:
    """Restore `router` from the entry `key`; returns the entry's metadata, or None (miss)."""
    meta_path, npz_path = folder / f"{key}.json", folder / f"{key}.npz"
    if not meta_path.exists():
        return None
    try:
        entry = json.loads(meta_path.read_text())
        if entry.get("key") != key:
            raise ValueError("its key does not match its file name")
        blob = npz_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != entry.get("npz_sha256"):
            raise ValueError("the .npz checksum does not match")
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        router.set_state(entry["meta"], arrays)
    except Exception as e:  # noqa: BLE001 - any failure to read means: refit
        _move_aside([meta_path, npz_path], f"{type(e).__name__}: {e}")
        return None
    return entry


def fit_cached(router: Router, data: CalibrationSet, seed: int,
               cache_dir: str | Path | None = None, use_cache: bool = True) -> tuple[Router, dict[str, Any]]:
    """Fit `router` on `data`, or restore the fit made with exactly the same inputs.

    Returns (router, info): info = {"cached": bool, "fit_seconds": the time the fit took
    when it was made (also for a cache hit), "key": the entry's key or None}.
    """
    key = router_cache_key(router, data, seed) if use_cache else None
    folder = Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "routers"
    if key is not None:
        entry = load_fitted(router, key, folder)
        if entry is not None:
            return router, {"cached": True, "fit_seconds": float(entry["fit_seconds"]), "key": key}
    t0 = time.perf_counter()
    router.fit(data, seed)
    seconds = time.perf_counter() - t0
    if key is not None:
        meta, arrays = router.get_state()
        blob = _npz_bytes(arrays)
        atomic_write_bytes(folder / f"{key}.npz", blob)
        atomic_write_json(folder / f"{key}.json", {
            "key": key, "router": router.name, "class": type(router).__qualname__, "seed": int(seed),
            "fit_seconds": seconds, "npz_sha256": hashlib.sha256(blob).hexdigest(), "meta": meta})
    return router, {"cached": False, "fit_seconds": seconds, "key": key}
