"""Fetch a released file from a commit-pinned public URL into the user cache, checked by SHA-256.

The pinned hash is checked on every read from the cache, not only after the download: a cached
file that changed is moved aside and fetched again (or refused when downloads are off). A file
without a pinned hash is never downloaded nor read from the cache. Used only when a file is not
under the data root; tests never download.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.request
from pathlib import Path

from avengers.assets import cache_root
from avengers.errors import OutcomeError
from avengers.files import atomic_write_bytes, sha256_file

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def data_cache_dir(*parts: str) -> Path:
    """`<cache root>/data/...` for downloaded releases."""
    return cache_root().joinpath("data", *parts)


def fetch_pinned(url: str, dest: Path, sha256: str | None, *, hint: str) -> Path:
    """Download `url` to `dest` atomically; refuse (and cache nothing) when the hash differs or
    when there is no pinned hash to check it against."""
    if not sha256:
        raise OutcomeError(f"{url} has no pinned SHA-256, so it is not downloaded (nothing could check it). {hint}")
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            while True:
                chunk = r.read(_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                chunks.append(chunk)
    # URLError/timeouts are OSErrors; IncompleteRead, BadStatusLine, RemoteDisconnected, ... are
    # http.client.HTTPExceptions; a malformed URL is a ValueError.
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise OutcomeError(f"Downloading {url} failed ({type(e).__name__}: {e}); nothing was cached. {hint}") from None
    got = digest.hexdigest()
    if got != sha256:
        raise OutcomeError(f"Downloaded {url} has SHA-256 {got}, expected {sha256}; nothing was cached. {hint}")
    atomic_write_bytes(dest, b"".join(chunks))
    return dest


def _move_aside(path: Path) -> Path:
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad


def pinned_file(
    url: str,
    dest: Path,
    sha256: str | None,
    *,
    hint: str,
    download: bool = True,
    missing: str | None = None,
) -> Path:
    """The file at `dest` (the download cache), checked against `sha256` on every call.

    A missing file is downloaded (or, with ``download=False``, refused with `missing`); a cached
    file whose hash differs is moved aside to ``<name>.bad`` and downloaded again (or refused).
    """
    if dest.exists():
        if not sha256:
            raise OutcomeError(
                f"The cached file {dest} has no pinned SHA-256 to check it against, so it is not used. {hint}"
            )
        try:
            got = sha256_file(dest)
        except OSError as e:
            got = f"unreadable ({e.strerror or e})"
        if got == sha256:
            return dest
        try:
            where = f"moved aside to {_move_aside(dest)}"
        except OSError as e:
            where = f"could not be moved aside ({e.strerror or e}): delete it"
        if not download:
            raise OutcomeError(
                f"The cached file {dest} has SHA-256 {got}, expected {sha256}: it changed after it was "
                f"downloaded and is not used ({where}). Rerun with data.download=true to fetch it again. {hint}"
            )
        log.warning("cached file %s has SHA-256 %s, expected %s (%s); downloading it again", dest, got, sha256, where)
    elif not download:
        raise OutcomeError(missing or f"{dest} is not in the download cache and downloads are off. {hint}")
    return fetch_pinned(url, dest, sha256, hint=hint)
