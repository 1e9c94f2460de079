"""Shared assets: pinned downloads, packaged models, and the one cache root they live under.

Every cache (downloads, joined models, embeddings, clusterings, fitted routers) lives under
`cache_root()`: $AVENGERS_CACHE_DIR, else $XDG_CACHE_HOME/avengers (~/.cache/avengers).
A job sets it from `paths.cache_dir`, so that one knob moves everything.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$AVENGERS_CACHE_DIR, else $XDG_CACHE_HOME/avengers (~/.cache/avengers): never inside the package."""
    base = os.environ.get("AVENGERS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "avengers")
    return Path(base).expanduser()


def set_cache_root(path: str | os.PathLike) -> None:
    """Point every cache of this process (and of the processes it starts) at `path`."""
    os.environ["AVENGERS_CACHE_DIR"] = str(Path(path).expanduser())
