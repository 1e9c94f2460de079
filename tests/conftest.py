"""Shared fixtures. Real data comes from the data root: $AVENGERS_DATA_DIR, else ../shared/data
next to the checkout. When AVENGERS_DATA_DIR is set (CI, `make test`) missing files FAIL the
real-data tests; they skip only in a bare checkout with no data at all."""

from __future__ import annotations

import os
import subprocess
import sys
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


def run_cli(args: list[str], *, cache: Path, out: Path, data_root: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run `avengers-run` as a user would, in a subprocess, with tracking off."""
    env = dict(os.environ, AVENGERS_CACHE_DIR=str(cache), AVENGERS_OUTPUT_DIR=str(out), WANDB_MODE="disabled")
    if data_root is not None:
        env["AVENGERS_DATA_DIR"] = str(data_root)
    proc = subprocess.run([sys.executable, "-m", "avengers.run", "tracking=disabled", *args], cwd=REPO,
                          env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"avengers-run {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def compose_cfg(overrides: list[str], *, cache: Path, data_root: Path):
    """The job config as `avengers-run` would compose it, for in-process pipeline tests."""
    from hydra import compose, initialize_config_dir

    from avengers.run import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[
            "tracking=disabled", f"paths.cache_dir={cache}", f"paths.data_root={data_root}", *overrides])
