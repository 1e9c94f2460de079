"""`avengers-run`: the Hydra entry point. Composes configs, skips finished jobs, tracks the
job in W&B and writes its files; the recipe itself lives in `avengers.pipeline`."""

from __future__ import annotations

# First, before anything loads numpy: the same numeric kernels on every x86-64 CPU.
from avengers.provenance import pin_numerics

pin_numerics()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from avengers.errors import AvengersError, did_you_mean  # noqa: E402
from avengers.files import atomic_write_json, sha256_file  # noqa: E402
from avengers.provenance import machine_record, neutral_override_keys  # noqa: E402
from avengers.report.jobs import FAILED, METRICS, PREDICTIONS, RUN, STALE_SUFFIX  # noqa: E402

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
if not OmegaConf.has_resolver("avengers_neutral_override_keys"):
    # conf/config.yaml: Hydra's folder-name exclude_keys, derived from provenance.RESULT_NEUTRAL_KEYS.
    OmegaConf.register_new_resolver("avengers_neutral_override_keys", lambda *, _root_: neutral_override_keys(_root_))


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


def _stale_name(name: str) -> str:
    stem, dot, ext = name.partition(".")
    return f"{stem}{STALE_SUFFIX}{dot}{ext}"


def _finished(out: Path, chash: str) -> bool:
    """Whether `out` holds a complete, current result for this config hash. Anything else
    (no result, another config or data, a failed last run, a damaged file) means: run it.
    Damaged files are named in a warning; the rerun sets them aside."""
    f = out / METRICS
    if not f.exists() or (out / FAILED).exists():
        return False
    try:
        metrics = json.loads(f.read_text(encoding="utf-8"))
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s): rerunning the job.", f, e)
        return False
    if metrics.get("config_hash") != chash:
        log.info("%s is for another config or other data: rerunning the job.", f)
        return False
    pred = out / PREDICTIONS
    try:
        record = json.loads((out / RUN).read_text(encoding="utf-8"))
        want = record["predictions_sha256"]
    except (OSError, ValueError, TypeError, KeyError) as e:
        log.warning("%s is missing or unreadable (%s): rerunning the job.", out / RUN, e)
        return False
    if not pred.is_file() or sha256_file(pred) != want:
        log.warning("%s is missing or does not match its checksum in %s: rerunning the job.", pred, out / RUN)
        return False
    return True


def set_aside(out: Path) -> None:
    """Rename this job's previous result files to *.stale.*: a rerun that fails (or is killed)
    then leaves no metrics.json to be read as current."""
    for name in (METRICS, PREDICTIONS, RUN):
        p = out / name
        if p.exists():
            p.replace(out / _stale_name(name))
    (out / FAILED).unlink(missing_ok=True)


def clear_stale(out: Path) -> None:
    for name in (METRICS, PREDICTIONS, RUN):
        (out / _stale_name(name)).unlink(missing_ok=True)
    (out / FAILED).unlink(missing_ok=True)


def write_failed(out: Path, error: str, kind: str) -> None:
    set_aside(out)
    atomic_write_json(out / FAILED, {"error": error, "type": kind})


def run_record(out: Path, hc: Any, resolved: dict[str, Any], chash: str, files: dict[str, str],
               predictions_sha256: str) -> dict[str, Any]:
    """run.json: where and how the job ran. Result-neutral: paths and the machine live here, not
    in metrics.json."""
    return {
        "output_dir": str(out),
        "override_dirname": hc.job.override_dirname,
        "config": resolved,
        "config_hash": chash,
        "data_files": dict(sorted(files.items())),
        "predictions_sha256": predictions_sha256,
        "machine": machine_record(),
    }


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def app(cfg: DictConfig) -> float | None:
    from avengers.evaluate.metrics import format_table, write_predictions
    from avengers.pipeline import check_config, config_hash, load_table, run_job
    from avengers.track.wandb_run import log_metrics, wandb_run

    out = job_dir()
    hc = HydraConfig.get()
    multirun = hc.mode.name == "MULTIRUN"
    try:
        check_config(cfg)  # bad knobs stop here, before any data is read or file written
        resolved = OmegaConf.to_container(cfg, resolve=True)
        table = load_table(cfg.data)
        chash = config_hash(cfg, table)  # config without paths + data checksums
        if cfg.get("skip_existing", True) and _finished(out, chash):
            log.info("%s already has metrics.json for this config and data: skipped (skip_existing=false reruns it)", out)
            return json.loads((out / METRICS).read_text())["averages"].get("id", {}).get("avengers")
        set_aside(out)
        with wandb_run(cfg.tracking, resolved, name=f"{cfg.name}/{hc.job.override_dirname or 'default'}",
                       group=cfg.name, job_type="route", out_dir=str(out)) as run:
            result = run_job(cfg, table)
            write_predictions(result.predictions, out / PREDICTIONS)
            atomic_write_json(out / RUN, run_record(out, hc, resolved, chash, dict(table.files),
                                                    sha256_file(out / PREDICTIONS)))
            atomic_write_json(out / METRICS, result.metrics)  # written last: marks the job done
            log_metrics(run, result.metrics)
        clear_stale(out)
        print(f"\n{cfg.name} [{hc.job.override_dirname or 'default'}] -> {out}")
        print(format_table(result.metrics))
        log.info("embedded %d new texts, %d from cache; clustering from cache: %s",
                 result.stats["n_embedded"], result.stats["n_cached"], result.stats["clustering_cached"])
        return result.metrics["averages"].get("id", {}).get("avengers")
    except AvengersError as e:
        # One clear message; in a sweep the other jobs go on and the failure is listed at the end.
        write_failed(out, str(e), type(e).__name__)
        log.error("%s", e)
        if not multirun:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    except Exception as e:
        write_failed(out, repr(e), type(e).__name__)
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
