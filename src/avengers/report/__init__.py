"""`avengers-tables`: turn finished job folders (their metrics.json) into paper tables and figures.

Data flows one way and never reruns a job:

    jobs.discover()      find every job folder below --runs, load metrics.json (or record why not)
    aggregate.group()    group jobs by (suite, table, vary values), refuse mixed configs
    layouts              what each table shows, declared in its experiment config
                         (experiment.report: title, rows, columns, figure), with a default for
                         any sweep; builders are registered per rows/columns combination
    tables.build()       one JSON-able table spec per (suite, table): rows, columns, cells
                         (mean, sample std, n, the jobs behind each cell) -> the .sources.json sidecar
    render.RENDERERS     .md / .csv / .tex from the spec (building and rendering are separate)
    figures.render()     matplotlib figure from the same spec (the notebook calls it too)
"""

from __future__ import annotations

__all__ = ["main", "run"]


def main(argv=None) -> int:  # pragma: no cover - thin wrapper, see cli.main
    from avengers.report.cli import main as _main

    return _main(argv)


def run(*args, **kwargs):  # pragma: no cover - thin wrapper, see cli.run
    from avengers.report.cli import run as _run

    return _run(*args, **kwargs)
