"""Renderers: a table spec (report.tables.build) -> .md / .csv / .tex text. Rendering only; the
numbers are all in the spec. Figures are rendered by report.figures from the same spec.

Every rendering carries the caption: title, description and the non-default settings of the
jobs (`spec["settings"]`), so a 100-query smoke table never reads like the paper's.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable

from avengers.report.tables import fmt_value

# -------------------------------------------------------------------------------------- cells
def _decimals_for(col: dict[str, Any], decimals: int, value: float) -> int:
    if col.get("kind") == "cost":
        a = abs(value)
        return 4 if a < 1 else (3 if a < 100 else 2)
    return decimals


def format_cell(cell: dict[str, Any] | None, col: dict[str, Any], decimals: int, max_n: int, pm: str = "±") -> str:
    if not cell:
        return "–"
    d = _decimals_for(col, decimals, cell["mean"])
    if cell.get("published"):
        return f"{cell['mean']:.{d}f}"  # a number printed in the paper: no seeds, no spread
    if cell["std"] == 0.0 and cell["n"] > 1:
        text = f"{cell['mean']:.{d}f}"  # the same for every seed: no "± 0.00" (see the notes)
    else:
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


def settings_text(spec: dict[str, Any]) -> str:
    """'Settings: data.max_queries_per_benchmark=100, embedder=tfidf.' for the caption."""
    settings = spec.get("settings")
    if settings is None:
        return "Settings: not recorded by these jobs (run before avengers-run wrote job.settings)."
    if not settings:
        return "Settings: package defaults."
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in settings.items()]
    return "Settings (differing from the package defaults): " + ", ".join(parts) + "."


def row_groups(spec: dict[str, Any]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Rows split into their per-variant tables (one group None when there are none)."""
    out: list[tuple[str | None, list[dict[str, Any]]]] = []
    for r in spec["rows"]:
        g = r.get("group")
        if not out or out[-1][0] != g:
            out.append((g, []))
        out[-1][1].append(r)
    return out


# ----------------------------------------------------------------------------------------- md
def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def compact_differences(keys: list[str], vary: list[str]) -> list[str]:
    """When a whole config group is varied (router.name: one row per router), each row differs
    in that group's own settings: name the group once instead of listing every key (the sidecar
    keeps the full list)."""
    groups = sorted({v[: -len(".name")] for v in vary if v.endswith(".name")})
    out, folded = [], {}
    for k in keys:
        # the group's keys, and copies of them nested elsewhere (router.clustering.* mirrors clustering.*)
        g = next((g for g in groups if f".{g}." in f".{k}"), None)
        if g is None:
            out.append(k)
        else:
            folded[g] = folded.get(g, 0) + 1
    out += [f"{g}.* (each {g}'s own settings: {n} keys, listed in the .sources.json)" for g, n in folded.items()]
    return out


def render_md(spec: dict[str, Any], decimals: int = 2) -> str:
    max_n = _max_n(spec)
    cols, extras = spec["columns"], spec["extra_columns"]
    out = [f"# {spec['suite']} · {spec['table']}", "",
           f"**{spec['title']}.** {spec['description']} {settings_text(spec)}", ""]
    header = [spec["row_header"]] + [c["label"] for c in cols] + [e["label"] for e in extras]
    for group, rows in row_groups(spec) if spec["rows"] else []:
        if group is not None:
            out += [f"### {group}", ""]
        out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        out.append("|" + "|".join([":---"] + ["---:"] * len(cols) + [":---:"] * len(extras)) + "|")
        for r in rows:
            cells = [format_cell(r["cells"].get(c["key"]), c, decimals, max_n) for c in cols]
            cells += [_extra_text(r["extra"].get(e["key"])) for e in extras]
            out.append("| " + " | ".join(_md_escape(x) for x in [r["label"]] + cells) + " |")
        out.append("")
    for note in spec["notes"]:
        out.append(f"- {note}")
    if spec.get("row_config_differences"):
        out.append(f"- Besides {', '.join(spec['vary'])}, rows also differ in: "
                   f"{', '.join(compact_differences(spec['row_config_differences'], spec['vary']))}.")
    for w in spec["warnings"]:
        out.append(f"- Warning: {w}")
    if spec["failed"]:
        out.append(f"- **Failed jobs ({len(spec['failed'])})**, not in any cell:")
        for f in spec["failed"]:
            out.append(f"  - `{f['output_dir']}`: {f['reason']}")
    out.append(f"- {spec['n_jobs']} finished job(s); `{spec['table']}.sources.json` names the jobs behind every cell.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------- csv
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


# ---------------------------------------------------------------------------------------- tex
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
    width = 1 + len(cols) + len(extras)
    out = [
        f"% {spec['suite']} / {spec['table']}: generated by avengers-tables from {spec['n_jobs']} job(s); "
        f"{spec['table']}.sources.json names the jobs behind every cell. Do not edit by hand.",
        "% Needs \\usepackage{booktabs}.",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{tex_escape(spec['title'])}. {tex_escape(spec['description'])} {tex_escape(settings_text(spec))}}}",
        f"\\label{{tab:{spec['suite']}:{spec['table']}}}",
        "\\begin{tabular}{l" + "r" * len(cols) + "c" * len(extras) + "}",
        "\\toprule",
        " & ".join(tex_escape(h) for h in [spec["row_header"]] + [c["label"] for c in cols] + [e["label"] for e in extras]) + " \\\\",
        "\\midrule",
    ]
    first = True
    for group, rows in row_groups(spec):
        if group is not None:
            if not first:
                out.append("\\midrule")
            out.append(f"\\multicolumn{{{width}}}{{l}}{{\\emph{{{tex_escape(group)}}}}} \\\\")
        first = False
        prev = None
        for r in rows:
            if prev is not None and r["section"] != prev:
                out.append("\\midrule")
            prev = r["section"]
            cells = [tex_escape(format_cell(r["cells"].get(c["key"]), c, decimals, max_n)) for c in cols]
            cells += [tex_escape(_extra_text(r["extra"].get(e["key"]), tex=True)) for e in extras]
            out.append(" & ".join([tex_escape(r["label"])] + cells) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    out.append("\\end{table}")
    for note in spec["notes"]:
        out.append(f"% {note}")
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------------- W&B
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


# File extension -> renderer(spec, decimals) -> text. Figures: report.figures.render.
RENDERERS: dict[str, Callable[[dict[str, Any], int], str]] = {
    "md": render_md,
    "csv": lambda spec, decimals=2: render_csv(spec),
    "tex": render_tex,
}
