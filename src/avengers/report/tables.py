"""Table specs (the .sources.json sidecar) and their .md / .csv / .tex renderings.

A spec is a plain JSON-able dict, so the notebook can rebuild every figure from the sidecar:

    {"suite", "table", "layout", "figure", "vary", "title", "description", "row_header",
     "columns": [{"key", "label", "kind": "score"|"cost", "split", "n_test"}],
     "extra_columns": [{"key", "label"}],
     "rows": [{"key", "label", "section": "model"|"baseline"|"router", "method",
               "variant": {vary key: value} | null (pooled over variants), "n",
               "cells": {column key: {"mean", "std" (null when n == 1), "n", "seeds", "values",
                                      "jobs": [{"output_dir", "config_hash", "seed"}]}},
               "extra": {...}}],
     "jobs": [...], "failed": [...], "notes": [...], "warnings": [...]}
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Any

from avengers.report.aggregate import (
    Stats,
    TableGroup,
    cell_stats,
    pooled_stats,
    variant_text,
)
from avengers.report.jobs import Job, get_dotted, is_number

SCHEMA = "avengers.report.table/1"
BASELINES = ("random", "best_single", "dataset_oracle", "oracle")
MAIN_ROUTER = "avengers"

METHOD_LABELS = {
    "random": "Random",
    "best_single": "Best single",
    "dataset_oracle": "Dataset oracle† (upper ref., chosen on test)",
    "oracle": "Oracle",
    "avengers": "Avengers",
}
DATASET_ORACLE_NOTE = (
    "† Dataset oracle: for each benchmark the single model that is best on that benchmark's test split "
    "(chosen on test) — an upper reference, not a deployable router."
)
VARY_LABELS = {
    "clustering.name": "Clustering",
    "clustering.n_clusters": "K",
    "embedder.name": "Embedder",
    "router.top_n": "# models",
    "router.top_k": "Top-k",
    "router.alpha": "α",
    "router.beta": "β",
    "data.calibration_fraction": "Calibration fraction",
    "ensemble.name": "Ensemble",
    "ensemble.n_samples": "# samples",
}
TABLE_TITLES = {
    "table2_main": "Main results, in-distribution benchmarks (paper Table 2)",
    "table3_ood": "Main results, out-of-distribution benchmarks (paper Table 3)",
    "table4_embedders": "Ablation: embedding model (paper Table 4)",
    "table5_clustering": "Ablation: clustering method (paper Table 5)",
    "table6_ensemble": "Ablation: ensemble / voting (paper Table 6)",
    "fig2_n_models": "Accuracy vs number of selected models (paper Figure 2)",
    "fig3_k_sweep": "Accuracy vs number of clusters K (paper Figure 3)",
    "data_efficiency": "Data efficiency: accuracy vs calibration fraction",
    "pareto_cost": "Accuracy vs cost (Pareto front over α)",
}
FIGURE_OF = {
    "fig2_n_models": "curve",
    "data_efficiency": "curve",
    "fig3_k_sweep": "k_sweep",
    "pareto_cost": "pareto",
}
STD_NOTE = "Cells: mean ± sample std (ddof=1) over seeds; n/a where a cell has a single seed."


# --------------------------------------------------------------------------------------- getters
def _num(x: Any) -> float | None:
    return float(x) if is_number(x) else None


def bench_getter(bench: str, method: str) -> Callable[[Job], float | None]:
    def get(j: Job) -> float | None:
        b = j.metrics["benchmarks"].get(bench)
        return _num(b["scores"].get(method)) if isinstance(b, dict) else None

    return get


def avg_getter(split: str, method: str, source: str = "test") -> Callable[[Job], float | None]:
    def get(j: Job) -> float | None:
        root = j.metrics if source == "test" else j.metrics.get("calibration")
        node = get_dotted(root, f"averages.{split}", None) if isinstance(root, dict) else None
        return _num(node.get(method)) if isinstance(node, dict) else None

    return get


def cost_getter(method: str) -> Callable[[Job], float | None]:
    def get(j: Job) -> float | None:
        node = j.metrics.get("cost")
        return _num(node.get(method)) if isinstance(node, dict) else None

    return get


# ----------------------------------------------------------------------------------- vocabulary
def section_of(method: str) -> str:
    if method.startswith("model:"):
        return "model"
    if method in BASELINES:
        return "baseline"
    return "router"


def method_label(method: str) -> str:
    if method in METHOD_LABELS:
        return METHOD_LABELS[method]
    if method.startswith("model:"):
        return method[len("model:") :]
    if method.startswith(MAIN_ROUTER + "_"):
        return f"Avengers ({method[len(MAIN_ROUTER) + 1 :].replace('_', ' ')})"
    return method.replace("_", " ")


def method_sort_key(method: str) -> tuple:
    sec = section_of(method)
    if sec == "model":
        return (0, 0, method)
    if sec == "baseline":
        return (1, BASELINES.index(method), method)
    return (2, 0 if method == MAIN_ROUTER else 1, method)


def vary_label(key: str) -> str:
    return VARY_LABELS.get(key, key)


def fmt_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return str(v)


def variant_label(vary: tuple[str, ...], values: dict[str, Any]) -> str:
    if len(vary) == 1:
        return fmt_value(values[vary[0]])
    return ", ".join(f"{vary_label(k)}={fmt_value(values[k])}" for k in vary)


def methods_present(jobs: list[Job]) -> list[str]:
    keys: set[str] = set()
    for j in jobs:
        for b in j.metrics["benchmarks"].values():
            keys.update(k for k in b["scores"])
        for node in j.metrics["averages"].values():
            if isinstance(node, dict):
                keys.update(node)
    return sorted(keys, key=method_sort_key)


def benchmarks_by_split(jobs: list[Job]) -> tuple[dict[str, list[str]], dict[str, Any], list[str]]:
    """{'id': [...], 'ood': [...]} sorted by name, n_test per benchmark, and warnings."""
    split_of: dict[str, set[str]] = {}
    n_test: dict[str, set[int]] = {}
    for j in jobs:
        for name, b in j.metrics["benchmarks"].items():
            split_of.setdefault(name, set()).add(str(b.get("split", "id")))
            if is_number(b.get("n_test")):
                n_test.setdefault(name, set()).add(int(b["n_test"]))
    warnings = []
    out: dict[str, list[str]] = {}
    for name in sorted(split_of):
        splits = sorted(split_of[name])
        if len(splits) > 1:
            warnings.append(f"benchmark {name!r} is listed as {' and '.join(splits)} by different jobs; shown as {splits[0]}.")
        out.setdefault(splits[0], []).append(name)
    nt: dict[str, Any] = {}
    for name, vals in n_test.items():
        nt[name] = sorted(vals)[0] if len(vals) == 1 else sorted(vals)
    return out, nt, warnings


# --------------------------------------------------------------------------------------- columns
class Col:
    """A column: key/label plus how to read the value of `method` from a job."""

    def __init__(self, key: str, label: str, getter_for: Callable[[str], Callable], kind: str = "score",
                 split: str | None = None, n_test: Any = None) -> None:
        self.key, self.label, self.getter_for, self.kind, self.split, self.n_test = key, label, getter_for, kind, split, n_test

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "kind": self.kind, "split": self.split, "n_test": self.n_test}


def bench_col(name: str, split: str, n_test: Any) -> Col:
    return Col(name, name, lambda m, b=name: bench_getter(b, m), split=split, n_test=n_test)


def avg_col(key: str, label: str, split: str, source: str = "test") -> Col:
    return Col(key, label, lambda m, s=split, src=source: avg_getter(s, m, src), split=split)


def _has_split_avg(jobs: list[Job], split: str) -> bool:
    return any(isinstance(j.metrics["averages"].get(split), dict) and j.metrics["averages"][split] for j in jobs)


# ------------------------------------------------------------------------------------------- rows
def _row(key: str, label: str, method: str, variant: dict[str, Any] | None,
         cells: dict[str, Stats | None], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    kept = {k: s.to_dict() for k, s in cells.items() if s is not None}
    return {
        "key": key,
        "label": label,
        "section": section_of(method),
        "method": method,
        "variant": None if variant is None else dict(variant),
        "n": max((c["n"] for c in kept.values()), default=0),
        "cells": kept,
        "extra": dict(extra or {}),
    }


def _variant_rows(g: TableGroup, methods: list[str], cols: list[Col], multi_label: bool) -> list[dict[str, Any]]:
    rows = []
    for values, vjobs in g.variants:
        vlab = variant_label(g.vary, values)
        for m in methods:
            cells = {c.key: cell_stats(vjobs, c.getter_for(m)) for c in cols}
            if all(s is None for s in cells.values()):
                continue
            label = vlab if not multi_label else f"{vlab} · {method_label(m)}"
            rows.append(_row(f"{m}|{variant_text(g.vary, values)}", label, m, values, cells))
    return rows


def _pooled_rows(g: TableGroup, methods: list[str], cols: list[Col], warnings: list[str]) -> list[dict[str, Any]]:
    """One row per method pooled over variants, or one per variant when its value depends on the variant."""
    rows = []
    for m in methods:
        pooled: dict[str, Stats | None] = {}
        invariant = True
        for c in cols:
            st, inv = pooled_stats(g.variant_jobs(), c.getter_for(m))
            pooled[c.key] = st
            invariant = invariant and inv
        if all(s is None for s in pooled.values()):
            continue
        if invariant or len(g.variants) == 1:
            variant = None if len(g.variants) > 1 else g.variants[0][0]
            rows.append(_row(m, method_label(m), m, variant, pooled))
            continue
        warnings.append(f"{method_label(m)} differs between variants, so it is shown once per variant.")
        for values, vjobs in g.variants:
            cells = {c.key: cell_stats(vjobs, c.getter_for(m)) for c in cols}
            if all(s is None for s in cells.values()):
                continue
            rows.append(_row(f"{m}|{variant_text(g.vary, values)}",
                             f"{method_label(m)} ({variant_label(g.vary, values)})", m, values, cells))
    return rows


# ---------------------------------------------------------------------------------------- layouts
def _main_layout(g: TableGroup, splits: list[str], spec: dict[str, Any]) -> None:
    jobs = g.jobs
    benches, n_test, warns = benchmarks_by_split(jobs)
    spec["warnings"].extend(warns)
    cols: list[Col] = []
    for s in splits:
        cols.extend(bench_col(b, s, n_test.get(b)) for b in benches.get(s, []))
    for s in splits:
        if benches.get(s) or _has_split_avg(jobs, s):
            label = "Avg" if len(splits) == 1 else f"{s.upper()} Avg"
            cols.append(avg_col("avg" if len(splits) == 1 else f"avg_{s}", label, s))
    methods = methods_present(jobs)
    rows: list[dict[str, Any]] = []
    for values, vjobs in g.variants:
        prefix = "" if len(g.variants) == 1 else f" [{variant_label(g.vary, values)}]"
        for m in methods:
            cells = {c.key: cell_stats(vjobs, c.getter_for(m)) for c in cols}
            if all(s is None for s in cells.values()):
                continue
            key = m if len(g.variants) == 1 else f"{m}|{variant_text(g.vary, values)}"
            rows.append(_row(key, method_label(m) + prefix, m, values if g.vary else None, cells))
    spec["row_header"] = "Method"
    spec["columns"] = [c.to_dict() for c in cols]
    spec["rows"] = rows
    if not any(benches.get(s) for s in splits):
        spec["notes"].append(f"No {'/'.join(s.upper() for s in splits)} benchmarks in these jobs.")


def _router_methods(jobs: list[Job]) -> list[str]:
    return [m for m in methods_present(jobs) if section_of(m) == "router"]


def _ablation_cols(jobs: list[Job]) -> tuple[list[Col], list[str]]:
    benches, n_test, warns = benchmarks_by_split(jobs)
    cols = [avg_col("avg_id", "ID Avg", "id")]
    if benches.get("ood") or _has_split_avg(jobs, "ood"):
        cols.append(avg_col("avg_ood", "OOD Avg", "ood"))
    for s in ("id", "ood"):
        cols.extend(bench_col(b, s, n_test.get(b)) for b in benches.get(s, []))
    return cols, warns


def _ablation_layout(g: TableGroup, cols: list[Col], spec: dict[str, Any]) -> None:
    jobs = g.jobs
    routers = _router_methods(jobs)
    rows = _variant_rows(g, routers, cols, multi_label=len(routers) > 1)
    rows += _pooled_rows(g, [b for b in BASELINES], cols, spec["warnings"])
    spec["row_header"] = " / ".join(vary_label(k) for k in g.vary) or "Variant"
    spec["columns"] = [c.to_dict() for c in cols]
    spec["rows"] = rows


def _k_sweep_layout(g: TableGroup, spec: dict[str, Any]) -> None:
    jobs = g.jobs
    cols = [avg_col("test_avg_id", "Test Avg (ID)", "id"), avg_col("calibration_avg_id", "Calibration Avg (ID)", "id", "calibration")]
    if _has_split_avg(jobs, "ood"):
        cols.append(avg_col("test_avg_ood", "Test Avg (OOD)", "ood"))
    _ablation_layout(g, cols, spec)
    if not any("calibration_avg_id" in r["cells"] for r in spec["rows"]):
        spec["notes"].append("No job wrote calibration scores (metrics.json 'calibration'), so that column is empty.")


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """Which (cost, accuracy) points no other point beats (cost <= and accuracy >=, one strictly)."""
    flags = []
    for i, (c, a) in enumerate(points):
        dominated = any(
            (c2 <= c and a2 >= a and (c2 < c or a2 > a)) for k, (c2, a2) in enumerate(points) if k != i
        )
        flags.append(not dominated)
    return flags


def _pareto_layout(g: TableGroup, spec: dict[str, Any]) -> None:
    jobs = g.jobs
    cols = [avg_col("accuracy", "Accuracy (ID Avg, %)", "id"),
            Col("cost", "Total cost (USD)", lambda m: cost_getter(m), kind="cost")]
    methods = methods_present(jobs) + sorted({k for j in jobs for k in (j.metrics.get("cost") or {})} - set(methods_present(jobs)), key=method_sort_key)
    routers = [m for m in methods if section_of(m) == "router"]
    models = [m for m in methods if section_of(m) == "model"]
    rows = _variant_rows(g, routers, cols, multi_label=len(routers) > 1)
    rows += _pooled_rows(g, models, cols, spec["warnings"])
    rows += _pooled_rows(g, [b for b in BASELINES if b in methods], cols, spec["warnings"])
    cand = [r for r in rows if r["section"] in ("router", "model") and "accuracy" in r["cells"] and "cost" in r["cells"]]
    flags = pareto_front([(r["cells"]["cost"]["mean"], r["cells"]["accuracy"]["mean"]) for r in cand])
    on = {id(r): f for r, f in zip(cand, flags)}
    for r in rows:
        r["extra"]["pareto_front"] = on.get(id(r))
    if not cand:
        spec["notes"].append("No job wrote costs (metrics.json 'cost'), so there is no Pareto front.")
    spec["row_header"] = " / ".join(vary_label(k) for k in g.vary) or "Variant"
    spec["columns"] = [c.to_dict() for c in cols]
    spec["extra_columns"] = [{"key": "pareto_front", "label": "Pareto"}]
    spec["rows"] = rows
    spec["notes"].append("Pareto front over the Avengers α points and the single models (higher accuracy, lower cost); "
                         "baselines are shown for reference only.")


DESCRIPTIONS = {
    "main_id": "Test accuracy (%) per in-distribution benchmark and their average.",
    "main_ood": "Test accuracy (%) per out-of-distribution benchmark and their average.",
    "main_all": "Test accuracy (%) per benchmark and split averages.",
    "ablation": "Test accuracy (%) of the Avengers router for each variant; baselines for reference.",
    "k_sweep": "Average ID test accuracy (%) and average ID calibration accuracy (%) of Avengers for each number of clusters K.",
    "pareto": "Average ID test accuracy (%) against total test-set cost (USD) for each α and each single model.",
}


def build(g: TableGroup) -> dict[str, Any]:
    """The JSON-able spec (= sidecar) of one (suite, table) group."""
    spec: dict[str, Any] = {
        "schema": SCHEMA,
        "suite": g.suite,
        "table": g.table,
        "vary": list(g.vary),
        "title": TABLE_TITLES.get(g.table, g.table),
        "figure": FIGURE_OF.get(g.table),
        "columns": [],
        "extra_columns": [],
        "rows": [],
        "notes": [],
        "warnings": [],
    }
    t = g.table
    if t == "table2_main":
        layout = "main_id"
        _main_layout(g, ["id"], spec)
    elif t == "table3_ood":
        layout = "main_ood"
        _main_layout(g, ["ood"], spec)
    elif t == "fig3_k_sweep":
        layout = "k_sweep"
        _k_sweep_layout(g, spec)
    elif t == "pareto_cost":
        layout = "pareto"
        _pareto_layout(g, spec)
    elif g.vary or t in ("table4_embedders", "table5_clustering", "table6_ensemble", "data_efficiency", "fig2_n_models"):
        layout = "ablation"
        cols, warns = _ablation_cols(g.jobs)
        spec["warnings"].extend(warns)
        _ablation_layout(g, cols, spec)
    else:
        layout = "main_all"
        _main_layout(g, ["id", "ood"], spec)
    spec["layout"] = layout
    spec["description"] = DESCRIPTIONS[layout]
    if spec["figure"] in ("curve", "k_sweep", "pareto") and len(g.vary) != 1:
        spec["warnings"].append(f"the {t} figure needs exactly one vary key (got {list(g.vary)}); no figure drawn.")
        spec["figure"] = None
    if any(r["method"] == "dataset_oracle" for r in spec["rows"]):
        spec["notes"].append(DATASET_ORACLE_NOTE)
    ns = sorted({r["n"] for r in spec["rows"] if r["n"]})
    spec["notes"].insert(0, STD_NOTE + (f" Seeds per cell: {', '.join(map(str, ns))}." if ns else ""))
    if g.row_config_differences:
        spec["row_config_differences"] = list(g.row_config_differences)
    spec["jobs"] = [dict(j.ref(), variant=values) for values, vjobs in g.variants for j in vjobs]
    spec["n_jobs"] = len(spec["jobs"])
    spec["failed"] = [f.to_dict() for f in sorted(g.failed, key=lambda f: f.output_dir)]
    if not spec["rows"]:
        spec["notes"].append("No finished jobs for this table.")
    return spec


# -------------------------------------------------------------------------------------- rendering
def _decimals_for(col: dict[str, Any], decimals: int, value: float) -> int:
    if col.get("kind") == "cost":
        a = abs(value)
        return 4 if a < 1 else (3 if a < 100 else 2)
    return decimals


def format_cell(cell: dict[str, Any] | None, col: dict[str, Any], decimals: int, max_n: int, pm: str = "±") -> str:
    if not cell:
        return "–"
    d = _decimals_for(col, decimals, cell["mean"])
    std = "n/a" if cell["std"] is None else f"{cell['std']:.{d}f}"
    text = f"{cell['mean']:.{d}f} {pm} {std}"
    if cell["n"] < max_n:
        text += f" (n={cell['n']})"
    return text


def _max_n(spec: dict[str, Any]) -> int:
    return max((c["n"] for r in spec["rows"] for c in r["cells"].values()), default=0)


def _extra_text(value: Any, tex: bool = False) -> str:
    if value is True:
        return "yes" if tex else "✓"
    if value is False or value is None:
        return ""
    return str(value)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def render_md(spec: dict[str, Any], decimals: int = 2) -> str:
    max_n = _max_n(spec)
    cols, extras = spec["columns"], spec["extra_columns"]
    out = [f"# {spec['suite']} · {spec['table']}", "", f"**{spec['title']}.** {spec['description']}", ""]
    if spec["rows"]:
        header = [spec["row_header"]] + [c["label"] for c in cols] + [e["label"] for e in extras]
        out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        out.append("|" + "|".join([":---"] + ["---:"] * len(cols) + [":---:"] * len(extras)) + "|")
        for r in spec["rows"]:
            cells = [format_cell(r["cells"].get(c["key"]), c, decimals, max_n) for c in cols]
            cells += [_extra_text(r["extra"].get(e["key"])) for e in extras]
            out.append("| " + " | ".join(_md_escape(x) for x in [r["label"]] + cells) + " |")
        out.append("")
    for note in spec["notes"]:
        out.append(f"- {note}")
    if spec.get("row_config_differences"):
        out.append(f"- Besides {', '.join(spec['vary'])}, rows also differ in: {', '.join(spec['row_config_differences'])}.")
    for w in spec["warnings"]:
        out.append(f"- Warning: {w}")
    if spec["failed"]:
        out.append(f"- **Failed jobs ({len(spec['failed'])})**, not in any cell:")
        for f in spec["failed"]:
            out.append(f"  - `{f['output_dir']}`: {f['reason']}")
    out.append(f"- {spec['n_jobs']} finished job(s); `{spec['table']}.sources.json` names the jobs behind every cell.")
    return "\n".join(out) + "\n"


def _num_text(x: Any) -> str:
    if x is None:
        return ""
    return repr(float(x))


def render_csv(spec: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    vary = spec["vary"]
    header = ["key", "section", "method", "label", *vary, "n"]
    for c in spec["columns"]:
        header += [c["key"], f"{c['key']}_std"]
    header += [e["key"] for e in spec["extra_columns"]]
    w.writerow(header)
    for r in spec["rows"]:
        variant = r["variant"] or {}
        line = [r["key"], r["section"], r["method"], r["label"], *[fmt_value(variant[k]) if k in variant else "" for k in vary], r["n"]]
        for c in spec["columns"]:
            cell = r["cells"].get(c["key"])
            if cell is None:
                line += ["", ""]
            else:
                line += [_num_text(cell["mean"]), "n/a" if cell["std"] is None else _num_text(cell["std"])]
        for e in spec["extra_columns"]:
            v = r["extra"].get(e["key"])
            line.append("" if v is None else (str(v).lower() if isinstance(v, bool) else v))
        w.writerow(line)
    return buf.getvalue()


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_TEX_UNICODE = {"†": r"$^\dagger$", "α": r"$\alpha$", "β": r"$\beta$", "±": r"$\pm$", "·": r"$\cdot$",
                "–": "--", "—": "---", "✓": "yes"}


def tex_escape(text: str) -> str:
    out = []
    for ch in str(text):
        out.append(_TEX_ESCAPES.get(ch) or _TEX_UNICODE.get(ch) or ch)
    return "".join(out)


def render_tex(spec: dict[str, Any], decimals: int = 2) -> str:
    max_n = _max_n(spec)
    cols, extras = spec["columns"], spec["extra_columns"]
    out = [
        f"% {spec['suite']} / {spec['table']}: {spec['title']}.",
        f"% Generated by avengers-tables from {spec['n_jobs']} job(s); {spec['table']}.sources.json names the jobs "
        "behind every cell. Do not edit by hand.",
        "% Needs \\usepackage{booktabs}.",
        "\\begin{tabular}{l" + "r" * len(cols) + "c" * len(extras) + "}",
        "\\toprule",
        " & ".join(tex_escape(h) for h in [spec["row_header"]] + [c["label"] for c in cols] + [e["label"] for e in extras]) + " \\\\",
        "\\midrule",
    ]
    prev = None
    for r in spec["rows"]:
        if prev is not None and r["section"] != prev:
            out.append("\\midrule")
        prev = r["section"]
        cells = [tex_escape(format_cell(r["cells"].get(c["key"]), c, decimals, max_n)) for c in cols]
        cells += [tex_escape(_extra_text(r["extra"].get(e["key"]), tex=True)) for e in extras]
        out.append(" & ".join([tex_escape(r["label"])] + cells) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    for note in spec["notes"]:
        out.append(f"% {note}")
    return "\n".join(out) + "\n"


def wandb_rows(spec: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows for a wandb.Table (means and stds as numbers, None when missing)."""
    vary = spec["vary"]
    columns = ["label", "section", "method", *vary, "n"]
    for c in spec["columns"]:
        columns += [c["key"], f"{c['key']}_std"]
    columns += [e["key"] for e in spec["extra_columns"]]
    data = []
    for r in spec["rows"]:
        variant = r["variant"] or {}
        line: list[Any] = [r["label"], r["section"], r["method"], *[None if k not in variant else str(variant[k]) for k in vary], r["n"]]
        for c in spec["columns"]:
            cell = r["cells"].get(c["key"])
            line += [None, None] if cell is None else [cell["mean"], cell["std"]]
        line += [r["extra"].get(e["key"]) for e in spec["extra_columns"]]
        data.append(line)
    return columns, data


def finite(spec: dict[str, Any]) -> bool:  # used by tests
    return all(math.isfinite(c["mean"]) for r in spec["rows"] for c in r["cells"].values())
