"""One W&B run per Hydra job. `tracking=disabled` never imports wandb; offline mode needs no
account (sync later with `wandb sync <dir>`). The run is finished in a `finally`, so a job
that fails still closes its run (marked failed)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Mapping

log = logging.getLogger(__name__)


def _tags(cfg: Mapping[str, Any]) -> list[str]:
    def pick(*path: str) -> Any:
        node: Any = cfg
        for p in path:
            node = node.get(p) if isinstance(node, Mapping) else None
        return node

    tags = {
        "data": pick("data", "name"),
        "embedder": pick("embedder", "name"),
        "clustering": pick("clustering", "name"),
        "K": pick("clustering", "n_clusters"),
        "ensemble": pick("ensemble", "name"),
        "seed": pick("seed"),
    }
    return [f"{k}={v}" for k, v in tags.items() if v is not None]


@contextlib.contextmanager
def wandb_run(tracking: Mapping[str, Any], config: Mapping[str, Any], *, name: str, group: str,
              job_type: str, out_dir: str) -> Iterator[Any]:
    mode = tracking.get("mode", "disabled")
    if mode == "disabled":
        yield None
        return
    import wandb

    run = wandb.init(project=tracking.get("project", "avengers"), entity=tracking.get("entity"), mode=mode,
                     dir=out_dir, name=name, group=group, job_type=job_type, tags=_tags(config),
                     config=dict(config), reinit="finish_previous")
    exit_code = 1
    try:
        yield run
        exit_code = 0
    finally:
        run.finish(exit_code=exit_code)


def log_metrics(run: Any, metrics: Mapping[str, Any]) -> None:
    if run is None:
        return
    import wandb

    flat = {}
    for kind, scores in metrics["averages"].items():
        flat.update({f"avg_{kind}/{k}": v for k, v in scores.items()})
    run.log(flat)
    rows = [[b, info["split"], k, v] for b, info in metrics["benchmarks"].items() for k, v in info["scores"].items()]
    run.log({"scores": wandb.Table(columns=["benchmark", "split", "router", "score"], data=rows)})
    run.summary.update(flat)
