"""Table specs: from a group of finished jobs to the JSON-able table (the .sources.json sidecar).
Building only; `report.render` turns a spec into .md / .csv / .tex and `report.figures` into a
figure. What a table shows is declared with its experiment (`report.layouts`).

A spec is a plain JSON-able dict, so the notebook can rebuild every figure from the sidecar:

    {"suite", "table", "layout", "figure", "xlabel", "vary", "title", "description", "row_header",
     "settings": {key: value} (non-default settings shared by every job, for the caption) | null,
     "columns": [{"key", "label", "kind": "score"|"cost", "split", "n_test"}],
     "extra_columns": [{"key", "label"}],
     "rows": [{"key", "label", "section": "model"|"baseline"|"router", "method",
               "variant": {vary key: value} | null (pooled over variants), "group": str | null,
               "n", "cells": {column key: {"mean", "std" (null when n == 1), "n", "seeds", "values",
                                           "jobs": [{"output_dir", "config_hash", "seed"}]}},
               "extra": {...}}],
     "jobs": [...], "failed": [...], "notes": [...], "warnings": [...]}

`group` (per-variant tables of an ad-hoc sweep) splits the rows into one rendered table each.
"""

from __future__ import annotations

import json
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
from avengers.report.layouts import LAYOUTS, Layout, parse_layout

SCHEMA = "avengers.report.table/2"
BASELINES = ("random", "best_single", "dataset_oracle", "oracle")
MAIN_ROUTER = "avengers"

METHOD_LABELS = {
    "random": "Random",
    "best_single": "Best single",
    "dataset_oracle": "Dataset oracle† (upper ref., chosen on test)",
    "oracle": "Oracle",
    "avengers": "Avengers",
    # the peer routers (route/; docs/routers.md)
    "auto": "Auto (router chosen by calibration CV)",
    "knn": "kNN",
    "linear": "Linear (logistic regression)",
    "mlp": "MLP",
    "embedllm": "EmbedLLM",
    "routerdc": "RouterDC (head on the frozen embedder)",
    "routerdc_finetune": "RouterDC (fine-tuned MiniLM)",
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
    "router.pool_size": "Number of models",
    "router.top_k": "Top-k",
    "router.alpha": "α",
    "router.beta": "β",
    "data.calibration_fraction": "Calibration fraction",
    "ensemble.name": "Ensemble",
    "ensemble.n_samples": "# samples",
}
STD_NOTE = "Cells: mean ± sample std (ddof=1) over seeds; n/a where a cell has a single seed."
DETERMINISTIC_NOTE = ("A value without ± is identical for every seed (deterministic: e.g. a baseline on a split "
                      "the data fixes).")


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
    # the recipe, then its variants, then the other routers
    return (2, 0 if method == MAIN_ROUTER else 1 if method.startswith(MAIN_ROUTER + "_") else 2, method)


def vary_label(key: str) -> str:
    return VARY_LABELS.get(key, key)


def fmt_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return str(v)


def variant_label(vary: tuple[str, ...], values: dict[str, Any], always_named: bool = False) -> str:
    if len(vary) == 1 and not always_named:
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
def _main_layout(g: TableGroup, splits: list[str], spec: dict[str, Any], prefix: bool = True) -> None:
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
        suffix = "" if len(g.variants) == 1 or not prefix else f" [{variant_label(g.vary, values)}]"
        for m in methods:
            cells = {c.key: cell_stats(vjobs, c.getter_for(m)) for c in cols}
            if all(s is None for s in cells.values()):
                continue
            key = m if len(g.variants) == 1 else f"{m}|{variant_text(g.vary, values)}"
            rows.append(_row(key, method_label(m) + suffix, m, values if g.vary else None, cells))
    spec["row_header"] = "Method"
    spec["columns"] = [c.to_dict() for c in cols]
    spec["rows"] = rows
    if not any(benches.get(s) for s in splits):
        spec["notes"].append(f"No {'/'.join(s.upper() for s in splits)} benchmarks in these jobs.")


def _router_methods(jobs: list[Job]) -> list[str]:
    return [m for m in methods_present(jobs) if section_of(m) == "router"]


def _ablation_cols(jobs: list[Job], splits: tuple[str, ...] = ("id", "ood")) -> tuple[list[Col], list[str]]:
    benches, n_test, warns = benchmarks_by_split(jobs)
    cols = []
    if "id" in splits:
        cols.append(avg_col("avg_id", "ID Avg", "id"))
    if "ood" in splits and (benches.get("ood") or _has_split_avg(jobs, "ood")):
        cols.append(avg_col("avg_ood", "OOD Avg", "ood"))
    for s in splits:
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


def _variant_groups(g: TableGroup, spec: dict[str, Any]) -> None:
    """Per-variant tables: each row names its variant as its group."""
    if len(g.variants) > 1:
        for r in spec["rows"]:
            if r["variant"] is not None:
                r["group"] = variant_label(g.vary, r["variant"], always_named=True)


@LAYOUTS.register("methods/benchmarks")
def _methods_benchmarks(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    _main_layout(g, list(layout.splits), spec, prefix=not layout.per_variant)
    if layout.per_variant:
        _variant_groups(g, spec)


@LAYOUTS.register("pooled/benchmarks")
def _pooled_benchmarks(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    """Every method once (e.g. Table 2 over a router sweep): routers, baselines, single models."""
    _main_layout(g, list(layout.splits), spec)  # header, notes; the rows are pooled below
    benches, n_test, _ = benchmarks_by_split(g.jobs)
    cols = []
    for s_ in layout.splits:
        cols.extend(bench_col(b, s_, n_test.get(b)) for b in benches.get(s_, []))
    for s_ in layout.splits:
        if benches.get(s_) or _has_split_avg(g.jobs, s_):
            cols.append(avg_col("avg" if len(layout.splits) == 1 else f"avg_{s_}",
                                "Avg" if len(layout.splits) == 1 else f"{s_.upper()} Avg", s_))
    spec["rows"] = _pooled_rows(g, methods_present(g.jobs), cols, spec["warnings"])
    spec["columns"] = [c.to_dict() for c in cols]


@LAYOUTS.register("variants/averages")
def _variants_averages(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    cols, warns = _ablation_cols(g.jobs, layout.splits)
    spec["warnings"].extend(warns)
    _ablation_layout(g, cols, spec)


@LAYOUTS.register("variants/test_and_calibration")
def _variants_k_sweep(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    _k_sweep_layout(g, spec)


@LAYOUTS.register("variants/accuracy_cost")
def _variants_pareto(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    _pareto_layout(g, spec)


def _metric_getter(metric: str) -> Callable[[str], Callable[[Job], float | None]]:
    if metric in ("avg_id", "avg_ood"):
        return lambda m, s=metric[4:]: avg_getter(s, m)
    return lambda m, b=metric: bench_getter(b, m)


@LAYOUTS.register("methods/variants")
def _methods_variants(g: TableGroup, layout: Layout, spec: dict[str, Any]) -> None:
    """Rows: every method once; columns: the variants (e.g. Table 6: one column per ensemble
    strategy), so a baseline that changes with the variant is one row, not one row per variant."""
    getter = _metric_getter(layout.metric)
    methods = methods_present(g.jobs)
    label_of = {"avg_id": "ID Avg", "avg_ood": "OOD Avg"}
    cols = [{"key": variant_text(g.vary, values), "label": variant_label(g.vary, values), "kind": "score",
             "split": None, "n_test": None} for values, _ in g.variants]
    rows = []
    for m in methods:
        cells = {c["key"]: cell_stats(vjobs, getter(m)) for c, (_, vjobs) in zip(cols, g.variants)}
        if all(st is None for st in cells.values()):
            continue
        rows.append(_row(m, method_label(m), m, None, cells))
    spec["row_header"] = f"Method / {' · '.join(vary_label(k) for k in g.vary) or 'Variant'}"
    spec["columns"] = cols
    spec["rows"] = rows
    spec["metric"] = label_of.get(layout.metric, layout.metric)


def _describe(layout: Layout, vary: tuple[str, ...]) -> str:
    if layout.description:
        return layout.description
    splits = "/".join(s.upper() for s in layout.splits)
    varied = " and ".join(vary_label(k) for k in vary) or "variant"
    return {
        "methods/benchmarks": f"Test accuracy (%) per {splits} benchmark and the split averages"
                              + (f", one table per {varied}." if layout.per_variant and vary else "."),
        "variants/averages": f"Test accuracy (%) of the router for each {varied}; baselines for reference.",
        "variants/test_and_calibration": f"Average ID test accuracy (%) and average ID calibration accuracy (%) "
                                         f"of the router for each {varied}.",
        "variants/accuracy_cost": f"Average ID test accuracy (%) against total test-set cost (USD) for each {varied} "
                                  "and each single model.",
        "methods/variants": f"{ {'avg_id': 'Average ID', 'avg_ood': 'Average OOD'}.get(layout.metric, layout.metric) } "
                            f"test accuracy (%) of every method (rows) under each {varied} (columns).",
    }.get(layout.key, f"Test accuracy (%): {layout.rows} x {layout.columns}.")


def common_settings(jobs: list[Job], vary: tuple[str, ...]) -> dict[str, Any] | None:
    """Non-default settings shared by every job (metrics.json job.settings, written by
    avengers-run), minus the varied ones; None when some job did not record them."""
    recorded = [get_dotted(j.metrics, "job.settings", None) for j in jobs]
    if not jobs or any(not isinstance(s, dict) for s in recorded):
        return None
    varied_groups = {k[: -len(".name")] for k in vary if k.endswith(".name")}

    def canon(v: Any) -> str:
        return json.dumps(v, sort_keys=True)

    out = {}
    for key, value in sorted(recorded[0].items()):
        if key in vary or key in varied_groups or any(key.startswith(k + ".") for k in vary):
            continue
        if all(key in s and canon(s[key]) == canon(value) for s in recorded):
            out[key] = value
    return out


PUBLISHED_GROUP = "Published (the paper's own numbers, cited beside the computed rows; not results of this harness)"
CITED_GROUP = "Published by other papers (cited beside the computed rows; not results of this harness)"


def _package_conf(rel: str) -> dict[str, Any]:
    """A YAML file of the package's conf/ as plain data."""
    from pathlib import Path

    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / rel),
                                  resolve=True) or {}


def _avg_key(spec: dict[str, Any]) -> str | None:
    return next((c["key"] for c in spec["columns"] if c["key"] == "avg" or c["key"].startswith("avg_")), None)


def _published_row(name: str, cells: dict[str, Any], group: str) -> dict[str, Any]:
    """A row of published numbers: no seeds, no jobs, every cell flagged `published`."""
    return {
        "key": f"published:{name}", "label": f"{name} (published)", "section": "published",
        "method": f"published:{name}", "variant": None, "n": 0, "group": group, "extra": {},
        "cells": {k: {"mean": float(v), "std": None, "n": 0, "seeds": [], "values": [float(v)], "jobs": [],
                      "published": True}
                  for k, v in cells.items()},
    }


def published_rows(g: TableGroup, spec: dict[str, Any]) -> None:
    """An experiment may cite a paper's published table beside its computed rows
    (`experiment.layout.published: {file, tables: {<our table>: <paper table>}}`, file relative to
    the package's conf/). Each published row fills the columns whose benchmark the file maps to one
    of ours, and the average column with the printed average; the rows are their own group."""
    decl = None
    for j in g.jobs:
        exp = (j.metrics.get("config") or {}).get("experiment") or {}
        decl = ((exp.get("layout") or {}) if isinstance(exp, dict) else {}).get("published")
        if decl:
            break
    if not decl or g.table not in (decl.get("tables") or {}):
        return
    pub = _package_conf(decl["file"])
    paper_table = decl["tables"][g.table]
    names = list(pub["benchmarks"][paper_table])
    ours = {pub["benchmarks"][paper_table][n]: n for n in names if pub["benchmarks"][paper_table][n]}
    cols = [c["key"] for c in spec["columns"]]
    avg_key = _avg_key(spec)
    for row in pub[paper_table]:
        scores = dict(zip(names, row["scores"]))
        cells = {k: scores[ours[k]] for k in cols if k in ours}
        if avg_key is not None and row.get("avg") is not None:
            cells[avg_key] = row["avg"]
        spec["rows"].append(_published_row(row["name"], cells, PUBLISHED_GROUP))
    missing = [n for n in names if not pub["benchmarks"][paper_table][n]]
    spec["notes"].append(f"Published rows: {pub['source']}; averages as printed in the paper (over all its columns"
                         + (f", including {', '.join(missing)}, which the data here lacks" if missing else "") + ").")


def cited_rows(g: TableGroup, spec: dict[str, Any]) -> None:
    """Other papers' published figures for this (suite, table), from conf/published/cited.yaml:
    an average cell only, in a labelled group of its own. `avg_over_best_model` (a paper that
    states only its gain over the best single model on the same data) is added to the best
    single-model average of this table."""
    cited = _package_conf("published/cited.yaml").get(g.suite) or {}
    avg_key = _avg_key(spec)
    if avg_key is None:
        return
    for row in cited.get(g.table) or []:
        if "avg" in row:
            value, how = float(row["avg"]), "as printed"
        else:
            models = [r["cells"][avg_key]["mean"] for r in spec["rows"]
                      if r.get("section") == "model" and avg_key in r["cells"]]
            if not models:
                continue
            best = max(models)
            value = best + float(row["avg_over_best_model"])
            how = f"{best:.2f} (this table's best single model) + {float(row['avg_over_best_model']):.2f}"
        spec["rows"].append(_published_row(row["name"], {avg_key: value}, CITED_GROUP))
        spec["notes"].append(f"{row['name']} (published): {' '.join(str(row['source']).split())}; average {how}.")


def build(g: TableGroup) -> dict[str, Any]:
    """The JSON-able spec (= sidecar) of one (suite, table) group."""
    layout = parse_layout(g.layout, where=f"{g.suite}/{g.table}", vary=g.vary, adhoc=g.adhoc)
    spec: dict[str, Any] = {
        "schema": SCHEMA,
        "suite": g.suite,
        "table": g.table,
        "vary": list(g.vary),
        "layout": layout.key,
        "title": layout.title or (f"{g.table}: ad-hoc sweep on {g.suite}" if g.adhoc else g.table),
        "figure": layout.figure,
        "xlabel": layout.xlabel,
        "columns": [],
        "extra_columns": [],
        "rows": [],
        "notes": [],
        "warnings": [],
    }
    LAYOUTS.get(layout.key)(g, layout, spec)
    published_rows(g, spec)
    cited_rows(g, spec)
    for r in spec["rows"]:
        r.setdefault("group", None)
    spec["description"] = _describe(layout, g.vary)
    spec["settings"] = common_settings(g.jobs, g.vary)
    if spec["figure"] in ("curve", "k_sweep", "pareto") and len(g.vary) != 1:
        spec["warnings"].append(f"the {g.table} figure needs exactly one vary key (got {list(g.vary)}); no figure drawn.")
        spec["figure"] = None
    if any(r["method"] == "dataset_oracle" for r in spec["rows"]):
        spec["notes"].append(DATASET_ORACLE_NOTE)
    calib_only = sorted({b for j in g.jobs for b in (j.metrics.get("calibration_only") or [])})
    if calib_only:
        spec["notes"].append(f"Calibration-only benchmarks (no test rows in the data; used for calibration, not "
                             f"tested): {', '.join(calib_only)}.")
    ns = sorted({r["n"] for r in spec["rows"] if r["n"]})
    std_note = STD_NOTE + (f" Seeds per cell: {', '.join(map(str, ns))}." if ns else "")
    if any(c["std"] == 0.0 and c["n"] > 1 for r in spec["rows"] for c in r["cells"].values()):
        std_note += " " + DETERMINISTIC_NOTE
    spec["notes"].insert(0, std_note)
    if g.row_config_differences:
        spec["row_config_differences"] = list(g.row_config_differences)
    spec["jobs"] = [dict(j.ref(), variant=values) for values, vjobs in g.variants for j in vjobs]
    spec["n_jobs"] = len(spec["jobs"])
    spec["failed"] = [f.to_dict() for f in sorted(g.failed, key=lambda f: f.output_dir)]
    if not spec["rows"]:
        spec["notes"].append("No finished jobs for this table.")
    return spec


def finite(spec: dict[str, Any]) -> bool:  # used by tests
    return all(math.isfinite(c["mean"]) for r in spec["rows"] for c in r["cells"].values())
