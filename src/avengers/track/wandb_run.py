"""One W&B run per Hydra job. `tracking=disabled` never imports wandb; offline mode needs no
account (sync later with `wandb sync <dir>`). The run is finished in a `finally`, so a job
that fails still closes its run (marked failed).

Sweep analysis: every score is a summary value under a slash-separated key, so it shows in the
runs table and parallel-coordinates plots:

    test/id/avg/avengers   test/ood/avg/oracle   test/mmlu/avengers   test/mmlu/model:<name>
    calibration/id/avg/avengers   calibration/mmlu/avengers   cost/avengers   n_test/mmlu

and the job's metrics.json, predictions.parquet, router/ and .hydra/ are one artifact.
Runs are grouped by sweep (experiment name + sweep id); the job folder's `wandb_run.json`
names the run and group, so `avengers-tables` joins the same group.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from avengers.files import atomic_write_json

log = logging.getLogger(__name__)

RUN_FILE = "wandb_run.json"  # in the job folder: project, group, run id, job_type


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


def wandb_dir(out_dir: str | os.PathLike) -> str:
    """$WANDB_DIR when set (wandb's own convention), else the job folder."""
    d = os.environ.get("WANDB_DIR") or str(out_dir)
    Path(d).mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def wandb_run(tracking: Mapping[str, Any], config: Mapping[str, Any], *, name: str, group: str,
              job_type: str, out_dir: str, tags: list[str] | None = None) -> Iterator[Any]:
    mode = tracking.get("mode", "disabled")
    if mode == "disabled":
        yield None
        return
    import wandb

    run = wandb.init(project=tracking.get("project", "avengers"), entity=tracking.get("entity"), mode=mode,
                     dir=wandb_dir(out_dir), name=name, group=group, job_type=job_type,
                     tags=_tags(config) if tags is None else tags, config=dict(config), reinit="finish_previous")
    atomic_write_json(Path(out_dir) / RUN_FILE, {
        "project": tracking.get("project", "avengers"), "entity": tracking.get("entity"), "mode": mode,
        "group": group, "job_type": job_type, "name": name, "id": run.id, "dir": str(run.dir)})
    exit_code = 1
    try:
        yield run
        exit_code = 0
    finally:
        run.finish(exit_code=exit_code)


def _part(name: str) -> str:
    return str(name).replace("/", "_")  # model ids like org/model would open sub-sections


def summary_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Flat slash-separated keys of every score in a job's metrics.json."""
    flat: dict[str, float] = {}
    for source, node in (("test", metrics), ("calibration", metrics.get("calibration") or {})):
        for split, scores in (node.get("averages") or {}).items():
            flat.update({f"{source}/{split}/avg/{_part(k)}": v for k, v in scores.items()})
        for bench, info in (node.get("benchmarks") or {}).items():
            flat.update({f"{source}/{_part(bench)}/{_part(k)}": v for k, v in info["scores"].items()})
    for bench, info in (metrics.get("benchmarks") or {}).items():
        flat[f"n_test/{_part(bench)}"] = info["n_test"]
    flat.update({f"cost/{_part(k)}": v for k, v in (metrics.get("cost") or {}).items()})
    return flat


def log_metrics(run: Any, metrics: Mapping[str, Any]) -> None:
    if run is None:
        return
    import wandb

    flat = summary_metrics(metrics)
    run.log(flat)
    rows = [[b, info["split"], k, v] for b, info in metrics["benchmarks"].items() for k, v in info["scores"].items()]
    run.log({"scores": wandb.Table(columns=["benchmark", "split", "router", "score"], data=rows)})
    run.summary.update(flat)


def log_job_files(run: Any, job_dir: Path, config_hash: str) -> None:
    """metrics.json, predictions.parquet, router/ and .hydra/ of the job as one artifact, named
    by the config hash (the same config in two sweeps is two versions of one artifact)."""
    if run is None:
        return
    import wandb

    art = wandb.Artifact(name=f"job-{config_hash[:16]}", type="job-outputs",
                         metadata={"config_hash": config_hash, "job_dir": str(job_dir)})
    for name in ("metrics.json", "predictions.parquet"):
        if (job_dir / name).is_file():
            art.add_file(str(job_dir / name), name=name)
    for name in (".hydra", "router"):
        if (job_dir / name).is_dir():
            art.add_dir(str(job_dir / name), name=name)
    run.log_artifact(art)
