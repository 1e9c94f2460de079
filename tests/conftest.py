"""Shared fixtures. Real data comes from the data root: $AVENGERS_DATA_DIR, else ../shared/data
next to the checkout. When AVENGERS_DATA_DIR is set (CI, `make test`) missing files FAIL the
real-data tests; they skip only in a bare checkout with no data at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never talk to W&B and never write into the user's caches.
os.environ.setdefault("WANDB_MODE", "disabled")


def real_data_root() -> Path:
    env = os.environ.get("AVENGERS_DATA_DIR")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    if not env and not root.is_dir():
        pytest.skip(f"no real data at {root} (set AVENGERS_DATA_DIR to run these)")
    if not root.is_dir():
        pytest.fail(f"AVENGERS_DATA_DIR={root} does not exist")
    return root


@pytest.fixture(scope="session")
def data_root() -> Path:
    return real_data_root()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One embedding/clustering cache for the whole session (content-addressed, so sharing is safe)."""
    return Path(os.environ.get("AVENGERS_TEST_CACHE") or tmp_path_factory.mktemp("cache"))
