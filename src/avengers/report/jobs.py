"""Find job folders below the given run dirs and load their metrics.json.

A job folder is a directory holding `metrics.json`, `failed.json` or Hydra's `.hydra/config.yaml`
(written when a job starts, so a job that crashed or is still running has one but no
metrics.json). Jobs whose metrics.json is missing or unreadable, and jobs whose last run failed
(`failed.json`, even beside an older metrics.json), become `FailedJob`s: they are reported, never
silently dropped, and never stop the other jobs from being tabulated.
"""

from __future__ import annotations

import dataclasses

import glob
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avengers.errors import AvengersError
from avengers.files import stable_hash
from avengers.provenance import RESULT_NEUTRAL_KEYS, drop_keys

# The files of a job folder (avengers.run writes them).
METRICS = "metrics.json"  # the result; written last, so its presence marks a finished job
FAILED = "failed.json"  # the last run failed: {"error", "type"}; no metrics.json is current then
RUN = "run.json"  # where and how the job ran (paths, machine, predictions checksum): never a result
PREDICTIONS = "predictions.parquet"
STALE_SUFFIX = ".stale"  # metrics.stale.json etc.: a previous result, set aside when a rerun starts
HYDRA_CONFIG = os.path.join(".hydra", "config.yaml")
# Config keys that may differ between jobs of one cell: those that never change a result.
DEFAULT_IGNORED_KEYS = RESULT_NEUTRAL_KEYS
_SKIP_DIRS = {".hydra", "wandb", "__pycache__", ".submitit", ".ipynb_checkpoints"}


@dataclass
class Job:
    """One finished job: its metrics.json plus where it lives."""

    output_dir: str  # display path: relative to --root when inside it, else absolute (posix)
    metrics: dict[str, Any]
    config: dict[str, Any]
    config_hash: str
    seed: Any
    suite: str
    table: str
    vary: tuple[str, ...]
    layout: dict[str, Any] | None = None  # config.experiment.report (see report.layouts)
    adhoc: bool = False  # no experiment config: a sweep typed on the command line

    def ref(self) -> dict[str, Any]:
        return {"output_dir": self.output_dir, "config_hash": self.config_hash, "seed": self.seed}


@dataclass
class FailedJob:
    """A job folder without a usable metrics.json; suite/table known when its config could be read."""

    output_dir: str
    reason: str
    suite: str | None = None
    table: str | None = None
    seed: Any = None
    variant: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output_dir": self.output_dir,
            "reason": self.reason,
            "seed": self.seed,
            "variant": dict(self.variant),
        }


def display_path(path: Path, root: Path) -> str:
    path = Path(os.path.abspath(path))
    try:
        rel = path.relative_to(root)
    except ValueError:
        return path.as_posix()
    return rel.as_posix() or "."


def get_dotted(cfg: Any, key: str, default: Any = KeyError) -> Any:
    node = cfg
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            if default is KeyError:
                raise KeyError(key)
            return default
    return node


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _expand(runs: list[str]) -> list[Path]:
    paths: list[Path] = []
    for arg in runs:
        arg = os.path.expanduser(str(arg))
        if glob.has_magic(arg):
            hits = sorted(glob.glob(arg, recursive=True))
            if not hits:
                raise AvengersError(f"--runs {arg!r} matches nothing.")
            paths.extend(Path(h) for h in hits)
        else:
            p = Path(arg)
            if not p.exists():
                raise AvengersError(f"--runs {arg!r} does not exist. Pass the output folder of a run or sweep.")
            paths.append(p)
    return paths


def _job_dirs(paths: list[Path]) -> list[Path]:
    found: dict[str, Path] = {}
    for p in paths:
        if p.is_file():
            if p.name == METRICS:
                d = p.parent
                found.setdefault(os.path.realpath(d), d)
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            d = Path(dirpath)
            if METRICS in filenames or FAILED in filenames or os.path.isfile(d / HYDRA_CONFIG):
                found.setdefault(os.path.realpath(d), d)
    return [found[k] for k in sorted(found)]


def _hydra_config(job_dir: Path) -> dict[str, Any] | None:
    path = job_dir / HYDRA_CONFIG
    if not path.is_file():
        return None
    try:
        import yaml

        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except Exception:  # noqa: BLE001 - a broken config only loses the attribution
        return None
    return cfg if isinstance(cfg, dict) else None


def _plain(value: Any) -> Any:
    """A config value usable as a label (unresolved interpolations are kept as text)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _failed(job_dir: Path, root: Path, reason: str, cfg: dict[str, Any] | None) -> FailedJob:
    out = FailedJob(output_dir=display_path(job_dir, root), reason=reason)
    if cfg is None:
        cfg = _hydra_config(job_dir)
    if not isinstance(cfg, dict):
        return out
    suite = get_dotted(cfg, "experiment.suite", None)
    table = get_dotted(cfg, "experiment.table", None)
    if cfg.get("experiment") is None:
        suite, table = adhoc_names(cfg)
    if isinstance(suite, str) and isinstance(table, str) and "${" not in suite + table:
        out.suite, out.table = suite, table
    seed = cfg.get("seed")
    out.seed = seed if is_number(seed) or isinstance(seed, str) else None
    vary = get_dotted(cfg, "experiment.vary", None)
    if isinstance(vary, list):
        out.variant = {str(k): _plain(get_dotted(cfg, str(k), None)) for k in vary}
    return out


def adhoc_names(cfg: dict[str, Any]) -> tuple[str, str]:
    """(suite, table) of a job run without experiment=...: its data source and its `name`."""
    data = get_dotted(cfg, "data.name", None)
    name = cfg.get("name")
    return (data if isinstance(data, str) and data else "adhoc"), (name if isinstance(name, str) and name else "default")


def _config_hash(cfg: dict[str, Any], ignored: tuple[str, ...]) -> str:
    return stable_hash(drop_keys(cfg, ignored))


def failure_reason(job_dir: Path) -> str | None:
    """Why the last run of this job failed (from failed.json), or None when it did not."""
    path = job_dir / FAILED
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        msg = info.get("error") if isinstance(info, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        msg = None
    return f"failed: {msg}" if isinstance(msg, str) and msg else "failed (unreadable failed.json)"


def load_job(job_dir: Path, root: Path) -> Job | FailedJob:
    path = job_dir / METRICS
    failed = failure_reason(job_dir)
    if failed is not None:  # an older metrics.json beside it is not the current result
        return _failed(job_dir, root, failed, None)
    if not path.is_file():
        return _failed(job_dir, root, "missing metrics.json (the job failed or is still running)", None)
    try:
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return _failed(job_dir, root, f"corrupt metrics.json ({type(e).__name__}: {e})", None)
    if not isinstance(metrics, dict):
        return _failed(job_dir, root, "corrupt metrics.json (not a JSON object)", None)
    cfg = metrics.get("config")
    if not isinstance(cfg, dict):
        return _failed(job_dir, root, "metrics.json has no 'config' object", None)
    for key in ("benchmarks", "averages"):
        if not isinstance(metrics.get(key), dict):
            return _failed(job_dir, root, f"metrics.json has no {key!r} object", cfg)
    for name, bench in metrics["benchmarks"].items():
        if not isinstance(bench, dict) or not isinstance(bench.get("scores"), dict):
            return _failed(job_dir, root, f"metrics.json benchmark {name!r} has no 'scores' object", cfg)
    if cfg.get("experiment") is None:
        # An ad-hoc sweep: one table per data source and sweep name, vary keys inferred later.
        suite, table = adhoc_names(cfg)
        return Job(output_dir=display_path(job_dir, root), metrics=metrics, config=cfg,
                   config_hash=metrics.get("config_hash") or _config_hash(cfg, DEFAULT_IGNORED_KEYS),
                   seed=cfg.get("seed"), suite=suite, table=table, vary=(), adhoc=True)
    suite = get_dotted(cfg, "experiment.suite", None)
    table = get_dotted(cfg, "experiment.table", None)
    if not isinstance(suite, str) or not isinstance(table, str) or not suite or not table:
        return _failed(
            job_dir, root, "config has no experiment.suite / experiment.table (run it with experiment=<name>)", cfg
        )
    vary = get_dotted(cfg, "experiment.vary", [])
    if vary is None:
        vary = []
    if isinstance(vary, str):
        vary = [vary]
    if not isinstance(vary, list) or not all(isinstance(v, str) for v in vary):
        return _failed(job_dir, root, f"config.experiment.vary must be a list of dotted keys, got {vary!r}", cfg)
    config_hash = metrics.get("config_hash")
    if not isinstance(config_hash, str) or not config_hash:
        config_hash = _config_hash(cfg, DEFAULT_IGNORED_KEYS)
    return Job(
        output_dir=display_path(job_dir, root),
        metrics=metrics,
        config=cfg,
        config_hash=config_hash,
        seed=cfg.get("seed"),
        suite=suite,
        table=table,
        vary=tuple(vary),
        layout=get_dotted(cfg, "experiment.report", None),
    )


def discover(runs: list[str], root: str | os.PathLike | None = None) -> tuple[list[Job], list[FailedJob]]:
    """Every job folder below `runs` (dirs, metrics.json files or globs), loaded, in path order."""
    root_path = Path(os.path.abspath(root if root is not None else os.getcwd()))
    jobs: list[Job] = []
    failed: list[FailedJob] = []
    dirs = _job_dirs(_expand(list(runs)))
    if not dirs:
        raise AvengersError(
            f"No job folders (metrics.json or .hydra/config.yaml) below {', '.join(map(str, runs))}."
        )
    for d in dirs:
        item = load_job(d, root_path)
        (jobs if isinstance(item, Job) else failed).append(item)
        if isinstance(item, Job):
            # One job can feed several tables (Table 2 ID and Table 3 OOD come from the same runs):
            # experiment.also lists table names, or {table, report} with the other table's layout.
            for extra in get_dotted(item.config, "experiment.also", None) or []:
                if isinstance(extra, dict):
                    jobs.append(dataclasses.replace(item, table=str(extra.get("table")), layout=extra.get("report")))
                else:
                    jobs.append(dataclasses.replace(item, table=str(extra), layout=None))
    jobs.sort(key=lambda j: j.output_dir)
    failed.sort(key=lambda f: f.output_dir)
    return jobs, failed
