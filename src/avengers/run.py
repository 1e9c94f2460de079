"""`avengers-run`: the Hydra entry point. Composes configs, skips finished jobs, tracks the
job in W&B and writes its files; the recipe itself lives in `avengers.pipeline`."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from avengers.errors import AvengersError, did_you_mean
from avengers.files import atomic_write_json, dump_json

log = logging.getLogger("avengers")

CONF_DIR = Path(os.environ.get("AVENGERS_CONF_DIR", Path(__file__).resolve().parent / "conf"))

def job_dirname(overrides: str) -> str:
    """Predictable output folder: one per distinct set of overrides, "default" when there are
    none; names past a file system's 255-byte limit keep a readable prefix plus a hash."""
    if not overrides:
        return "default"
    name = overrides.replace("/", "_")
    if len(name.encode()) > 180:
        import hashlib

        name = name[:120] + "...-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name


if not OmegaConf.has_resolver("dirname"):
    OmegaConf.register_new_resolver("dirname", job_dirname)


def check_group_choices(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Fail early, with a did-you-mean, on `group=choice` overrides naming no config file."""
    for arg in argv:
        if "=" not in arg or arg.startswith(("-", "hydra.", "+", "~")):
            continue
        key, _, value = arg.partition("=")
        group = conf_dir / key
        if "." in key or not group.is_dir():
            continue
        known = sorted(p.stem for p in group.glob("*.yaml"))
        for choice in value.split(","):
            if choice and not choice.startswith(("range(", "choice(", "glob(")) and choice not in known:
                raise AvengersError(
                    f"Unknown {key} {choice!r}.{did_you_mean(choice, known)} Known {key} configs: {', '.join(known)}."
                )


def job_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def _finished(out: Path, chash: str) -> bool:
    f = out / "metrics.json"
    if not f.exists():
        return False
    try:
        return json.loads(f.read_text()).get("config_hash") == chash
    except ValueError:
        return False  # a half-written file cannot exist (atomic writes), but be safe


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def app(cfg: DictConfig) -> float | None:
    from avengers.evaluate.metrics import format_table, write_predictions
    from avengers.pipeline import config_hash, run_job
    from avengers.track.wandb_run import log_metrics, wandb_run

    out = job_dir()
    hc = HydraConfig.get()
    chash = config_hash(cfg)
    if cfg.get("skip_existing", True) and _finished(out, chash):
        log.info("%s already has metrics.json for this config: skipped (skip_existing=false reruns it)", out)
        return json.loads((out / "metrics.json").read_text())["averages"].get("id", {}).get("avengers")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    multirun = hc.mode.name == "MULTIRUN"
    try:
        with wandb_run(cfg.tracking, resolved, name=f"{cfg.name}/{hc.job.override_dirname or 'default'}",
                       group=cfg.name, job_type="route", out_dir=str(out)) as run:
            result = run_job(cfg)
            result.metrics["job"] = {"output_dir": str(out), "override_dirname": hc.job.override_dirname}
            write_predictions(result.predictions, out / "predictions.parquet")
            if result.stats.get("timing"):  # machine-dependent, so kept out of metrics.json
                atomic_write_json(out / "timing.json", result.stats["timing"])
            atomic_write_json(out / "metrics.json", result.metrics)  # written last: marks the job done
            log_metrics(run, result.metrics)
        (out / "failed.json").unlink(missing_ok=True)
        print(f"\n{cfg.name} [{hc.job.override_dirname or 'default'}] -> {out}")
        print(format_table(result.metrics))
        log.info("embedded %d new texts, %d from cache; clustering from cache: %s",
                 result.stats["n_embedded"], result.stats["n_cached"], result.stats["clustering_cached"])
        return result.metrics["averages"].get("id", {}).get(result.metrics["selection"]["router"])
    except AvengersError as e:
        # One clear message; in a sweep the other jobs go on and the failure is listed at the end.
        atomic_write_json(out / "failed.json", {"error": str(e), "type": type(e).__name__})
        log.error("%s", e)
        if not multirun:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    except Exception as e:
        atomic_write_json(out / "failed.json", {"error": repr(e), "type": type(e).__name__})
        if not multirun:
            raise
        log.exception("job failed")
    return None


def main() -> None:
    try:
        check_group_choices(sys.argv[1:])
    except AvengersError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    app()


if __name__ == "__main__":
    main()
