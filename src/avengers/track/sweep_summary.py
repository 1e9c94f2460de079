"""Hydra callback: after a multirun, list the jobs that failed (they never hide each other)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("avengers")


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        root = Path(config.hydra.sweep.dir)
        done = sorted(p.parent for p in root.rglob("metrics.json"))
        failed = sorted(root.rglob("failed.json"))
        print(f"\nsweep {root}: {len(done)} job(s) with metrics.json, {len(failed)} failed")
        for f in failed:
            try:
                msg = json.loads(f.read_text())["error"]
            except (ValueError, KeyError):
                msg = "(unreadable failed.json)"
            print(f"  FAILED {f.parent}: {msg}")
