"""`avengers-tables`: paper tables and figures from finished job folders (never reruns a job).

    avengers-tables --runs outputs/routerdc_table5_clustering --runs 'outputs/routerdc_*' \\
        --out results [--suite routerdc] [--table table5_clustering] [--wandb offline]

Writes, per (suite, table) found in the jobs' config.experiment (an ad-hoc sweep, run without
experiment=, is one table per data source and sweep name):
    <out>/<suite>/<table>.md  .csv  .tex  .sources.json   (+ .png .pdf for figure tables)
`--out` defaults to <first --runs folder>/tables, never to results/. Every write is atomic; the
same runs give the same bytes.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from avengers.errors import AvengersError
from avengers.files import atomic_write_bytes, atomic_write_json, dump_json
from avengers.report import figures as figs
from avengers.report import render
from avengers.report import tables as tbl
from avengers.report.aggregate import group
from avengers.report.jobs import DEFAULT_IGNORED_KEYS, FailedJob, discover

UNPLACED = "failed_jobs.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class Report:
    specs: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    failed: list[FailedJob] = field(default_factory=list)  # all failed jobs, placed or not
    unplaced: list[FailedJob] = field(default_factory=list)  # failed jobs with unknown suite/table
    groups: dict[tuple[str, str], str] = field(default_factory=dict)  # (suite, table) -> W&B group


def _safe(name: str, what: str) -> str:
    if not _NAME.match(name) or name in (".", ".."):
        raise AvengersError(f"config.experiment.{what} {name!r} cannot be used as a file name (letters, digits, _ . + -).")
    return name


def default_out(runs: list[str]) -> Path:
    """<first --runs folder>/tables: next to the runs it summarises, never the committed results/."""
    first = Path(os.path.expanduser(str(runs[0])))
    while glob.has_magic(str(first)) or first.is_file():
        first = first.parent
    return first / "tables"


def run(
    runs: list[str],
    out: str | Path | None = None,
    suite: str | None = None,
    tables: list[str] | None = None,
    root: str | Path | None = None,
    decimals: int = 2,
    figures: bool = True,
    wandb_mode: str = "disabled",
    wandb_project: str = "avengers",
    ignore: tuple[str, ...] = (),
    log: TextIO | None = None,
    timing: bool = False,
) -> Report:
    """Collect, aggregate and write every table; returns what was written. Raises AvengersError."""
    log = log if log is not None else sys.stderr
    out = Path(out) if out is not None else default_out(runs)
    jobs, failed = discover(runs, root)
    if suite is not None:
        jobs = [j for j in jobs if j.suite == suite]
        failed = [f for f in failed if f.suite in (suite, None)]
    if tables:
        jobs = [j for j in jobs if j.table in tables]
        failed = [f for f in failed if f.table in (*tables, None)]
    if not jobs and not any(f.suite for f in failed):
        where = f" of suite {suite!r}" if suite else ""
        where += f" for table(s) {', '.join(tables)}" if tables else ""
        if not failed:
            raise AvengersError(f"No finished jobs{where} below {', '.join(map(str, runs))}.")
    groups, unplaced = group(jobs, failed, DEFAULT_IGNORED_KEYS + tuple(ignore))
    root_path = Path(os.path.abspath(root if root is not None else os.getcwd()))

    # Build everything before writing anything: an error leaves results/ untouched.
    report = Report(failed=list(failed), unplaced=list(unplaced))
    planned: list[tuple[Path, bytes]] = []
    timed: set[frozenset[str]] = set()
    for g in groups:
        spec = json.loads(dump_json(tbl.build(g)))  # exactly what the sidecar (and the notebook) sees
        base = out / _safe(g.suite, "suite") / _safe(g.table, "table")
        planned.append((base.with_name(base.name + ".sources.json"), dump_json(spec).encode("utf-8")))
        planned += [(base.with_name(f"{base.name}.{ext}"), fn(spec, decimals).encode("utf-8"))
                    for ext, fn in render.RENDERERS.items()]
        if figures:
            rendered = figs.render(spec)
            if rendered is not None:
                png, pdf = rendered
                planned += [(base.with_name(base.name + ".png"), png), (base.with_name(base.name + ".pdf"), pdf)]
            elif spec.get("figure"):
                print(f"[avengers-tables] {g.suite}/{g.table}: no data for its figure, none drawn.", file=log)
        report.specs.append(spec)
        report.groups[(g.suite, g.table)] = wandb_group(g, root_path)
        # One timing file per sweep: a table fed by the same jobs as an earlier one (table3_ood
        # by table2_main's) would repeat it.
        jobs_key = frozenset(j.output_dir for j in g.jobs)
        if timing and jobs_key not in timed:
            timed.add(jobs_key)
            text = timing_table(g, root_path)
            if text is not None:
                planned.append((base.with_name(base.name + ".timing.md"), text.encode("utf-8")))

    for path, data in planned:
        atomic_write_bytes(path, data)
        report.files.append(path)
    if unplaced:
        path = out / UNPLACED
        atomic_write_json(path, {"failed": [f.to_dict() for f in unplaced],
                                 "note": "job folders whose metrics.json and .hydra/config.yaml name no "
                                         "experiment.suite/table, so they belong to no table"})
        report.files.append(path)

    for spec in report.specs:
        print(f"[avengers-tables] {spec['suite']}/{spec['table']}: {len(spec['rows'])} rows from "
              f"{spec['n_jobs']} job(s), {len(spec['failed'])} failed -> {out / spec['suite'] / spec['table']}.*",
              file=log)
        for w in spec["warnings"]:
            print(f"[avengers-tables]   warning: {w}", file=log)
    for f in sorted(report.failed, key=lambda f: f.output_dir):
        where = f"{f.suite}/{f.table}" if f.suite else "no table"
        print(f"[avengers-tables] FAILED job {f.output_dir} ({where}): {f.reason}", file=log)

    if wandb_mode != "disabled":
        upload_wandb(report, out, wandb_mode, wandb_project)
    return report


def timing_table(g: Any, root: Path) -> str | None:
    """Fit and routing times of a table's rows, from each job's timing.json (None: no job has
    one). Machine-dependent, so never part of the table itself, whose bytes must not depend on
    where it ran: a companion file written only with --timing."""
    from statistics import mean, stdev

    rows, cpus = [], set()
    for variant, jobs in g.variants:
        fit, route, cached = [], [], 0
        for j in jobs:
            folder = Path(j.output_dir) if os.path.isabs(j.output_dir) else root / j.output_dir
            try:
                t = json.loads((folder / "timing.json").read_text())
                cpus.add((json.loads((folder / "run.json").read_text()).get("machine") or {}).get("cpu") or "?")
            except (OSError, ValueError):
                continue
            if t.get("fit_seconds") is not None:
                fit.append(float(t["fit_seconds"]))
            if t.get("route_seconds_per_1000") is not None:
                route.append(float(t["route_seconds_per_1000"]))
            cached += bool(t.get("fit_from_cache"))
        if not fit and not route:
            continue
        fmt = lambda v, d: "–" if not v else f"{mean(v):.{d}f}" + (f" ± {stdev(v):.{d}f}" if len(v) > 1 else "")  # noqa: E731
        label = ", ".join(f"{k}={v}" for k, v in variant.items()) or "(all)"
        rows.append(f"| {label} | {len(fit)} | {fmt(fit, 1)} | {fmt(route, 3)} | {cached} |")
    if not rows:
        return None
    return "\n".join([
        f"# {g.suite} · {g.table}: fit and routing times",
        "",
        "Machine-dependent, unlike the table: written only by `avengers-tables --timing`, never by a plain "
        "regeneration. Fit: the router's fit on the calibration split (the original fit's time when the job "
        "restored it from the cache), in wall seconds. Routing: wall seconds per 1,000 test queries, embedding "
        "excluded. Mean ± std over the jobs (seeds). CPU: " + ", ".join(sorted(cpus)) + ". Wall times on a "
        "shared machine include its other jobs' load; a fit that found its clusterings or embeddings already "
        "cached (another row of the sweep made them) is faster than a cold one.",
        "",
        "| row | jobs | fit (s) | route (s / 1,000 queries) | fits restored from cache |",
        "|:---|---:|---:|---:|---:|",
        *rows,
        "",
    ])


def wandb_group(g: Any, root: Path) -> str:
    """The W&B group of a table's jobs (their wandb_run.json, written by avengers-run), so the
    tables run sits with the sweep it summarises; else the jobs' experiment name."""
    from avengers.track.wandb_run import RUN_FILE

    found: set[str] = set()
    for j in g.jobs:
        path = Path(j.output_dir) if Path(j.output_dir).is_absolute() else root / j.output_dir
        try:
            found.add(str(json.loads((path / RUN_FILE).read_text())["group"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if len(found) == 1:
        return found.pop()
    names = {str(j.config.get("name")) for j in g.jobs if j.config.get("name")}
    return names.pop() if len(names) == 1 else g.suite


def upload_wandb(report: Report, out: Path, mode: str, project: str) -> None:
    """One W&B run per sweep group (job_type=tables, the jobs' group) with the files as a
    `results` artifact; $WANDB_DIR is honoured (else the output folder)."""
    import re

    import wandb  # lazy: only when tracking is on

    from avengers.track.wandb_run import wandb_dir

    by_group: dict[str, list[dict[str, Any]]] = {}
    for spec in report.specs:
        by_group.setdefault(report.groups[(spec["suite"], spec["table"])], []).append(spec)
    for grp, specs in sorted(by_group.items()):
        run = wandb.init(project=project, job_type="tables", group=grp, name=f"tables-{grp}", mode=mode,
                         dir=wandb_dir(out), config={"group": grp, "tables": [f"{s['suite']}/{s['table']}" for s in specs]})
        exit_code = 1
        try:
            art = wandb.Artifact(name=re.sub(r"[^A-Za-z0-9_.-]", "_", f"tables-{grp}"), type="results",
                                 metadata={"tables": [f"{s['suite']}/{s['table']}" for s in specs],
                                           "n_jobs": {f"{s['suite']}/{s['table']}": s["n_jobs"] for s in specs}})
            for path in report.files:
                if any(path.parent == out / s["suite"] and path.name.startswith(s["table"] + ".") for s in specs):
                    art.add_file(str(path), name=f"{path.parent.name}/{path.name}")
            logged = {}
            for spec in specs:
                columns, data = render.wandb_rows(spec)
                art.add(wandb.Table(columns=columns, data=data), spec["table"])
                logged[spec["table"]] = wandb.Table(columns=columns, data=data)
            run.log(logged)
            run.log_artifact(art)
            exit_code = 0
        finally:
            run.finish(exit_code=exit_code)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avengers-tables",
        description="Paper tables (.md/.csv/.tex) and figures (.png/.pdf) from finished avengers-run jobs. "
        "Never reruns a job; jobs without a usable metrics.json are listed as failed.",
    )
    p.add_argument("--runs", nargs="+", action="extend", required=True, metavar="DIR",
                   help="run/sweep output folders, metrics.json files or globs (repeatable); searched recursively")
    p.add_argument("--out", default=None,
                   help="output root; files go to <out>/<suite>/<table>.* (default: <first --runs folder>/tables; "
                        "the committed paper tables live in results/, pass --out results to regenerate them)")
    p.add_argument("--suite", default=None, help="only jobs of this config.experiment.suite")
    p.add_argument("--table", dest="tables", action="append", default=None,
                   help="only this config.experiment.table (repeatable)")
    p.add_argument("--root", default=None,
                   help="paths in the sidecars are relative to this folder (default: the current directory)")
    p.add_argument("--decimals", type=int, default=2, help="decimals of scores in .md/.tex (default 2)")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="skip .png/.pdf figures")
    p.add_argument("--ignore-key", dest="ignore", action="append", default=[],
                   help="config key (dotted prefix) allowed to differ within a cell, besides seed and "
                        f"{', '.join(DEFAULT_IGNORED_KEYS)} (repeatable)")
    p.add_argument("--wandb", choices=["disabled", "offline", "online"], default="disabled",
                   help="upload tables and figures as a W&B artifact (default: disabled)")
    p.add_argument("--wandb-project", default="avengers")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any job failed")
    p.add_argument("--timing", action="store_true",
                   help="also write <table>.timing.md: fit and routing times per row from each job's timing.json "
                        "(machine-dependent, so off by default)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run(
            args.runs, args.out, suite=args.suite, tables=args.tables, root=args.root, decimals=args.decimals,
            figures=args.figures, wandb_mode=args.wandb, wandb_project=args.wandb_project, ignore=tuple(args.ignore),
            timing=args.timing,
        )
    except AvengersError as e:
        print(f"avengers-tables: error: {e}", file=sys.stderr)
        return 2
    if args.strict and report.failed:
        print(f"avengers-tables: {len(report.failed)} job(s) failed (--strict).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
