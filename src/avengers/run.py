"""`avengers-run`: the Hydra entry point. Composes configs, skips finished jobs, tracks the
job in W&B and writes its files; the recipe itself lives in `avengers.pipeline`."""

from __future__ import annotations

# First, before anything loads numpy: the same numeric kernels on every x86-64 CPU.
from avengers.provenance import pin_numerics

pin_numerics()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from avengers.api import CONF_DIR, CONFIG_NAME, check_choices, config_loader  # noqa: E402
from avengers.errors import AvengersError  # noqa: E402
from avengers.files import atomic_write_json, dump_json, sha256_file  # noqa: E402
from avengers.provenance import machine_record, neutral_override_keys  # noqa: E402
from avengers.report.jobs import FAILED, METRICS, PREDICTIONS, RUN, STALE_SUFFIX  # noqa: E402
from avengers.track.sweep_summary import SWEEP_ENV  # noqa: E402  (set for every job of one multirun: its W&B group)

log = logging.getLogger("avengers")

# Groups that say where/how a job runs, not what it computes: never "settings" of a table.
_BOOKKEEPING = ("experiment", "tracking", "paths", "name", "seed", "skip_existing", "hydra")


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


# ------------------------------------------------------------------ one folder per config
_COMPOSED: dict[tuple, DictConfig] = {}


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    """Hydra's composition (with the hydra node) through the running app's loader; memoised,
    since every job of a sweep asks for the same few defaults."""
    from hydra.types import RunMode

    loader = config_loader()
    key = (id(loader), config_name, tuple(overrides))
    if key not in _COMPOSED:
        _COMPOSED[key] = loader.load_configuration(config_name=config_name, overrides=list(overrides),
                                                   run_mode=RunMode.RUN)
    return _COMPOSED[key]


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types (1 and 1.0 differ: they hash differently in metrics.json)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def normalised_override_dirname(root: DictConfig) -> str:
    """The job's override_dirname without the overrides that equal their default (given the
    excluded ones, such as experiment=...), so `seed=0` typed or not names the same folder."""
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.object_type import ObjectType
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    hc = root.hydra
    conf = hc.job.config.override_dirname
    excluded = list(conf.exclude_keys)
    parsed = OverridesParser.create().parse_overrides(list(hc.overrides.task))
    context = [str(o) for o in hc.overrides.hydra if str(o).startswith("hydra.searchpath")]
    context += [o.input_line for o in parsed if o.key_or_group in excluded]
    name = hc.job.config_name
    loader = config_loader()
    plain = [o for o in parsed if o.key_or_group not in excluded and o.value_type == ValueType.ELEMENT
             and not (o.is_delete() or o.is_add() or o.is_force_add())]
    groups = [o for o in plain if "." not in o.key_or_group
              and loader.get_group_options(o.key_or_group, ObjectType.CONFIG, name, context)]
    defaults = _compose(name, context).hydra.runtime.choices
    drop = {id(o) for o in groups if defaults.get(o.key_or_group) == o.value()}
    kept_groups = [o.input_line for o in groups if id(o) not in drop]
    base = _compose(name, context + kept_groups)
    missing = object()
    for o in plain:
        if o in groups:
            continue
        value = OmegaConf.select(base, o.key_or_group, default=missing, throw_on_missing=False)
        if value is not missing and _same(_plain(value), o.value()):
            drop.add(id(o))
    kept = [o for o in parsed if o.key_or_group not in excluded and id(o) not in drop]
    return get_overrides_dirname(overrides=kept, exclude_keys=excluded, item_sep=conf.item_sep, kv_sep=conf.kv_sep)


def _dirname(overrides: str, *, _root_: DictConfig) -> str:
    try:
        overrides = normalised_override_dirname(_root_)
    except Exception as e:  # noqa: BLE001 - never block a run over its folder name
        log.debug("override_dirname kept as typed (%s: %s)", type(e).__name__, e)
    return job_dirname(overrides)


OmegaConf.register_new_resolver("dirname", _dirname, replace=True)
if not OmegaConf.has_resolver("avengers_neutral_override_keys"):
    # conf/config.yaml: Hydra's folder-name exclude_keys, derived from provenance.RESULT_NEUTRAL_KEYS.
    OmegaConf.register_new_resolver("avengers_neutral_override_keys", lambda *, _root_: neutral_override_keys(_root_))


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: node}


def non_default_settings(cfg: DictConfig, hc: DictConfig) -> dict[str, Any]:
    """What this job changes relative to the package defaults: group choices (`data: routerbench`)
    and values that differ from their group's defaults (`data.max_queries_per_benchmark: 100`),
    including those set by the experiment. Shown in the caption of every table (`avengers-tables`)."""
    context = [str(o) for o in hc.overrides.hydra if str(o).startswith("hydra.searchpath")]
    name = hc.job.config_name
    choices = {g: c for g, c in hc.runtime.choices.items()
               if not g.startswith("hydra") and g.split("/")[0] not in _BOOKKEEPING and c is not None}
    defaults = _compose(name, context).hydra.runtime.choices
    settings: dict[str, Any] = {g: c for g, c in sorted(choices.items()) if defaults.get(g) != c}
    # Groups an experiment adds to the defaults list (e.g. preset) are appended, not overridden.
    base = _compose(name, context + [f"{g}={c}" if g in defaults else f"+{g}={c}" for g, c in sorted(choices.items())])
    mine = _flat(OmegaConf.to_container(cfg, resolve=False))
    ref = _flat({k: v for k, v in OmegaConf.to_container(base, resolve=False).items() if k != "hydra"})
    missing = object()
    for key in sorted(set(mine) | set(ref)):
        if key.split(".")[0] in _BOOKKEEPING or _same(mine.get(key, missing), ref.get(key, missing)):
            continue
        settings[key] = _plain(OmegaConf.select(cfg, key, default=None)) if key in mine else "<deleted>"
    return json.loads(dump_json(settings))


# ------------------------------------------------------------------------- early checks
def check_group_choices(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Before Hydra runs: a `group=choice` naming no config fails with a did-you-mean. The
    options are those of Hydra's own search path (package configs, --config-dir,
    hydra.searchpath, launcher plugins), so anything Hydra accepts passes."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path, get_args_parser

    parser = get_args_parser()
    parser.exit_on_error = False
    try:
        args = parser.parse_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return  # Hydra reports bad arguments itself
    if args.help or args.hydra_help or args.shell_completion or args.info or args.config_path:
        return
    search_path = create_config_search_path(str(conf_dir))
    if args.config_dir is not None:
        if not os.path.isdir(args.config_dir):
            raise AvengersError(f"--config-dir {args.config_dir!r} is not a folder.")
        search_path.prepend(provider="command-line", path=f"file://{os.path.abspath(args.config_dir)}")
    check_choices(args.overrides, args.config_name or CONFIG_NAME, ConfigLoaderImpl(config_search_path=search_path))


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


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=CONFIG_NAME)
def app(cfg: DictConfig) -> float | None:
    from avengers.api import Router
    from avengers.config import check_config
    from avengers.evaluate.metrics import format_table, write_predictions
    from avengers.pipeline import build_router, config_hash, load_table, run_job
    from avengers.track.wandb_run import log_job_files, log_metrics, wandb_run

    out = job_dir()
    hc = HydraConfig.get()
    multirun = hc.mode.name == "MULTIRUN"
    sweep_id = os.environ.get(SWEEP_ENV)  # one W&B group per sweep (experiment + sweep id)
    group = f"{cfg.name}-{sweep_id}" if sweep_id else str(cfg.name)
    try:
        check_config(cfg)  # bad knobs stop here, before any data is read or file written
        build_router(cfg)  # a bad router hyperparameter too (the job builds its own below)
        resolved = OmegaConf.to_container(cfg, resolve=True)
        table = load_table(cfg.data)
        chash = config_hash(cfg, table)  # config without paths + data checksums
        if cfg.get("skip_existing", True) and _finished(out, chash):
            log.info("%s already has metrics.json for this config and data: skipped (skip_existing=false reruns it)", out)
            return json.loads((out / METRICS).read_text())["averages"].get("id", {}).get("avengers")
        set_aside(out)
        try:
            settings = non_default_settings(cfg, hc)
        except Exception as e:  # noqa: BLE001 - a caption detail must never fail a job
            log.warning("could not work out the non-default settings (%s: %s); tables will say so", type(e).__name__, e)
            settings = None
        with wandb_run(cfg.tracking, resolved, name=f"{cfg.name}/{out.name}", group=group, job_type="route",
                       out_dir=str(out)) as run:
            result = run_job(cfg, table)
            # No absolute path in metrics.json (run.json records where the job ran).
            result.metrics["job"] = {"override_dirname": out.name, "settings": settings}
            write_predictions(result.predictions, out / PREDICTIONS)
            if result.stats.get("timing"):  # machine-dependent, so kept out of metrics.json
                atomic_write_json(out / "timing.json", result.stats["timing"])
            Router.from_fitted(result.calibrated, result.metrics["config"]).save(out / "router")
            atomic_write_json(out / RUN, run_record(out, hc, resolved, chash, dict(table.files),
                                                    sha256_file(out / PREDICTIONS)))
            atomic_write_json(out / METRICS, result.metrics)  # written last: marks the job done
            log_metrics(run, result.metrics)
            log_job_files(run, out, chash)
        clear_stale(out)
        print(f"\n{cfg.name} [{out.name}] -> {out}")
        print(format_table(result.metrics))
        log.info("embedded %d new texts, %d from cache; clustering from cache: %s",
                 result.stats["n_embedded"], result.stats["n_cached"], result.stats["clustering_cached"])
        return result.metrics["averages"].get("id", {}).get(result.metrics["selection"]["router"])
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
