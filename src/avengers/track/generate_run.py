"""W&B for `avengers-generate`, as a Hydra callback (conf/generate.yaml), so generation stays free
of the recipe's later stages: the run opens when the job starts and closes when it ends with
the job's stats (what `generate.app.app` returns):

    generate/samples, generate/new_samples, generate/samples_per_s, generate/tokens_per_s,
    generate/prompt_tokens, generate/completion_tokens, generate/cost, generate/generation_s,
    generate/finish_reason/<reason> (length = truncated), generate/score/<model>/<benchmark>,
    generate/failed (1 when the job stopped with an error, which is logged too)

`tracking=disabled` (or WANDB_MODE=disabled) never imports wandb.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from avengers.track.wandb_run import wandb_dir


def flat_stats(stats: Mapping[str, Any], prefix: str = "generate") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, Mapping):
            out.update(flat_stats(value, f"{prefix}/{key}"))
        elif value is not None and not isinstance(value, str):
            out[f"{prefix}/{key}"] = value
    return out


class GenerateTracking(Callback):
    def __init__(self) -> None:
        self.run: Any = None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = config.get("tracking") or {}
        mode = tracking.get("mode", "disabled")
        if mode == "disabled" or os.environ.get("WANDB_MODE") == "disabled":
            return
        import wandb

        # The job's config without Hydra's own node (whose sweep keys do not resolve in a run).
        resolved = OmegaConf.to_container(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]),
                                          resolve=True)
        pool = str(OmegaConf.select(config, "pool.name", default="pool"))
        bench = OmegaConf.select(config, "benchmark.name", default=None)
        self.run = wandb.init(project=tracking.get("project", "avengers"), entity=tracking.get("entity"), mode=mode,
                              dir=wandb_dir(config.work_dir), job_type="generate", group=f"generate-{pool}",
                              name=f"generate/{pool}" + (f"/{bench}" if bench else ""), config=resolved,
                              tags=[f"pool={pool}", f"backend={OmegaConf.select(config, 'backend.name', default='?')}"],
                              reinit="finish_previous")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        exit_code = 1
        try:
            stats = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
            failed = not isinstance(stats, Mapping) or "error" in stats
            summary = {"generate/failed": int(failed), **(flat_stats(stats) if isinstance(stats, Mapping) else {})}
            if failed:
                error = stats.get("error") if isinstance(stats, Mapping) else repr(job_return._return_value)
                run.summary["generate/error"] = str(error)
            run.log(summary)
            run.summary.update(summary)
            exit_code = int(failed)
        finally:
            run.finish(exit_code=exit_code)
