"""Fetch a released file from a commit-pinned public URL into the user cache, checked by SHA-256.

Used only when a file is not under the data root; tests never download."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from avengers.errors import OutcomeError
from avengers.assets import cache_root
from avengers.files import atomic_write_bytes


def data_cache_dir(*parts: str) -> Path:
    """`<cache root>/data/...` for downloaded releases."""
    return cache_root().joinpath("data", *parts)


def fetch_pinned(url: str, dest: Path, sha256: str | None, *, hint: str) -> Path:
    """Download `url` to `dest` atomically; refuse (and cache nothing) when the hash differs."""
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            blob = r.read()
    except OSError as e:
        raise OutcomeError(f"Downloading {url} failed ({e}). {hint}") from None
    got = hashlib.sha256(blob).hexdigest()
    if sha256 and got != sha256:
        raise OutcomeError(f"Downloaded {url} has SHA-256 {got}, expected {sha256}; nothing was cached. {hint}")
    atomic_write_bytes(dest, blob)
    return dest
