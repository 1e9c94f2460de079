"""Hydra callback for multiruns.

Start: give the sweep an id (a UTC timestamp, or $AVENGERS_SWEEP_ID when the user sets one to
continue a sweep) that every job uses as its W&B group (`<experiment>-<id>`), and keep this
sweep's config as `multirun-<id>.yaml` next to Hydra's `multirun.yaml`, which the next sweep
into the same folder overwrites.
End: list the jobs that failed (they never hide each other).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("avengers")

SWEEP_ENV = "AVENGERS_SWEEP_ID"


class SweepSummary(Callback):
    def __init__(self) -> None:
        self._set_env = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        root = Path(str(config.hydra.sweep.dir))
        sweep_id = os.environ.get(SWEEP_ENV)
        if not sweep_id:
            sweep_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            n = 2
            while (root / f"multirun-{sweep_id}.yaml").exists():  # two sweeps in one second
                sweep_id = f"{sweep_id.split('.')[0]}.{n}"
                n += 1
            # Inherited by launcher workers (joblib processes, submitit/SLURM jobs).
            os.environ[SWEEP_ENV] = sweep_id
            self._set_env = True
        root.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(config, root / f"multirun-{sweep_id}.yaml")
        log.info("sweep %s: W&B group %s-%s; config kept in %s", sweep_id, config.name, sweep_id,
                 root / f"multirun-{sweep_id}.yaml")

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
        if self._set_env:  # the next sweep of this process gets its own id
            os.environ.pop(SWEEP_ENV, None)
            self._set_env = False
