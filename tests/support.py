"""Helpers shared by the top-level tests: run the CLI as a user would, compose job configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], *, cache: Path, out: Path, data_root: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run `avengers-run` as a user would, in a subprocess, with tracking off."""
    env = dict(os.environ, AVENGERS_CACHE_DIR=str(cache), AVENGERS_OUTPUT_DIR=str(out), WANDB_MODE="disabled")
    if data_root is not None:
        env["AVENGERS_DATA_DIR"] = str(data_root)
    # Hydra options (--config-dir ...) must come before the overrides.
    proc = subprocess.run([sys.executable, "-m", "avengers.run", *args, "tracking=disabled"], cwd=REPO,
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
