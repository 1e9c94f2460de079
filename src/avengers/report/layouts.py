"""Report layouts: what a table shows, declared with each experiment, built by a registered builder.

An experiment config declares its table under `experiment.report` (and the layout of every
extra table under `experiment.also`):

    experiment:
      suite: routerdc
      table: fig3_k_sweep
      vary: [clustering.n_clusters]
      report:
        title: Accuracy vs number of clusters K (paper Figure 3)
        rows: variants                  # methods | variants
        columns: test_and_calibration   # benchmarks | averages | test_and_calibration | accuracy_cost | variants
        figure: k_sweep                 # curve | k_sweep | pareto | null
        xlabel: Number of clusters K

rows: `methods` = one row per model, baseline and router (per variant); `variants` = the
router(s) once per value of the vary keys, baselines pooled; `pooled` = every method once,
pooled over the variants (a sweep over `router`: each router's row comes from its own jobs, and
a baseline that no variant changes is shown once). columns: `benchmarks` = each
benchmark of `splits` then the split averages; `averages` = split averages then benchmarks;
`test_and_calibration` = test and calibration averages; `accuracy_cost` = accuracy and total
cost (Pareto front); `variants` = one column per variant, cells = `metric` (avg_id, avg_ood
or a benchmark). Without `report`, a sweep with vary keys is `variants` x `averages`, one
without is `methods` x `benchmarks`; an ad-hoc sweep (no experiment=) is `methods` x
`benchmarks` with one table per combination of the settings it varies (`per_variant`).

A new combination is one function registered in LAYOUTS (`@LAYOUTS.register("rows/columns")`);
a new experiment with its own table needs only its YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

from avengers.errors import AvengersError, did_you_mean
from avengers.registry import Registry

ROWS = ("methods", "variants", "pooled")
COLUMNS = ("benchmarks", "averages", "test_and_calibration", "accuracy_cost", "variants")
FIGURES = ("curve", "k_sweep", "pareto")
SPLITS = ("id", "ood")

# "rows/columns" -> builder(group, layout, spec) filling spec["columns"], spec["rows"], ...
LAYOUTS: Registry[Callable[..., None]] = Registry("report layout (rows/columns)")


@dataclass(frozen=True)
class Layout:
    rows: str = "methods"
    columns: str = "benchmarks"
    title: str | None = None
    description: str | None = None
    splits: tuple[str, ...] = SPLITS
    figure: str | None = None
    xlabel: str | None = None
    metric: str = "avg_id"
    per_variant: bool = False

    @property
    def key(self) -> str:
        return f"{self.rows}/{self.columns}"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def default_layout(vary: tuple[str, ...], adhoc: bool) -> Layout:
    if adhoc:
        return Layout(rows="methods", columns="benchmarks", per_variant=True)
    if vary:
        return Layout(rows="variants", columns="averages")
    return Layout(rows="methods", columns="benchmarks")


def parse_layout(node: Mapping[str, Any] | None, *, where: str, vary: tuple[str, ...] = (), adhoc: bool = False) -> Layout:
    """The declared layout (missing keys from the default for this kind of sweep), checked."""
    base = default_layout(vary, adhoc)
    if node is None:
        return base
    if not isinstance(node, Mapping):
        raise AvengersError(f"{where}: experiment.report must be a mapping (title, rows, columns, figure...), got {node!r}.")
    known = [f.name for f in fields(Layout)]
    values = base.to_dict()
    for key, value in node.items():
        if key not in known:
            raise AvengersError(f"{where}: unknown experiment.report key {key!r}.{did_you_mean(key, known)} "
                                f"Known: {', '.join(known)}.")
        values[key] = value
    for key, allowed in (("rows", ROWS), ("columns", COLUMNS)):
        if values[key] not in allowed:
            raise AvengersError(f"{where}: experiment.report.{key}={values[key]!r}.{did_you_mean(str(values[key]), allowed)} "
                                f"Use one of: {', '.join(allowed)}.")
    if values["figure"] is not None and values["figure"] not in FIGURES:
        raise AvengersError(f"{where}: experiment.report.figure={values['figure']!r}."
                            f"{did_you_mean(str(values['figure']), FIGURES)} Use one of: {', '.join(FIGURES)}, or null.")
    splits = values["splits"]
    splits = [splits] if isinstance(splits, str) else list(splits or [])
    if not splits or any(s not in SPLITS for s in splits):
        raise AvengersError(f"{where}: experiment.report.splits={values['splits']!r}: use a list of {', '.join(SPLITS)}.")
    values["splits"] = tuple(splits)
    layout = Layout(**values)
    if layout.key not in LAYOUTS:
        raise AvengersError(f"{where}: no report layout rows={layout.rows!r} x columns={layout.columns!r}. "
                            f"Registered: {', '.join(LAYOUTS.names())}.")
    return layout
