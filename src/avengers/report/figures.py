"""Figures drawn from a table spec (the .sources.json sidecar), byte-reproducible PNG and PDF.

No pyplot: figures are plain `matplotlib.figure.Figure`s on an Agg canvas, drawn under fixed
rcParams, saved without timestamps or software versions, so rerunning gives identical bytes.

    draw(spec)   -> Figure | None   (None when the table has no figure or no data for one)
    render(spec) -> (png bytes, pdf bytes) | None
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from typing import Any

from avengers.report.layouts import FIGURES
from avengers.report.tables import method_label, vary_label

BASELINE_LINES = ("random", "best_single", "oracle")
BASELINE_STYLE = {
    "random": {"color": "0.45", "label": "Random"},
    "best_single": {"color": "tab:green", "label": "Best single"},
    "oracle": {"color": "tab:red", "label": "Oracle"},
}
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "avengers-tables",
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": True,
    "text.usetex": False,
    "axes.prop_cycle": None,  # filled in style()
}
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}


@contextlib.contextmanager
def style() -> Iterator[None]:
    import matplotlib
    from cycler import cycler

    rc = dict(RC)
    rc["axes.prop_cycle"] = cycler(color=["tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink",
                                          "tab:olive", "tab:cyan", "tab:gray"])
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(rc)
        yield


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# ------------------------------------------------------------------------------------ spec access
def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _router_rows(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in spec["rows"]:
        if r["section"] == "router" and r["variant"] is not None:
            out.setdefault(r["method"], []).append(r)
    return out


def _series(rows: list[dict[str, Any]], xkey: str, col: str) -> tuple[list[Any], list[float], list[float | None]]:
    pts = [(r["variant"][xkey], r["cells"][col]["mean"], r["cells"][col]["std"]) for r in rows if col in r["cells"]]
    return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]


def _x_positions(values: list[Any]) -> tuple[list[float], list[str] | None]:
    """Numeric x values as they are; anything else as 0..n-1 with tick labels."""
    if all(_is_num(v) for v in values):
        return [float(v) for v in values], None
    cats: list[str] = []
    for v in values:
        if str(v) not in cats:
            cats.append(str(v))
    return [float(cats.index(str(v))) for v in values], cats


def _plot_curve(ax, xs, ys, sds, label, color=None, linestyle="-", marker="o") -> None:
    line = ax.plot(xs, ys, marker=marker, linestyle=linestyle, label=label, color=color, markersize=4)[0]
    if any(s is not None for s in sds):
        lo = [y - (s or 0.0) for y, s in zip(ys, sds)]
        hi = [y + (s or 0.0) for y, s in zip(ys, sds)]
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)


def _baseline_lines(ax, spec: dict[str, Any], col: str, xkey: str, xmap, suffix: str = "") -> None:
    """Random / best single / oracle: a dashed horizontal line, or a dashed curve when they vary with x."""
    for method in BASELINE_LINES:
        st = BASELINE_STYLE[method]
        rows = [r for r in spec["rows"] if r["method"] == method and col in r["cells"]]
        if not rows:
            continue
        per_variant = [r for r in rows if r["variant"] and xkey in r["variant"]]
        if len(per_variant) > 1:
            xs, ys, _ = _series(per_variant, xkey, col)
            ax.plot(xmap(xs), ys, linestyle="--", linewidth=1.1, color=st["color"], label=st["label"] + suffix)
        else:
            ax.axhline(rows[0]["cells"][col]["mean"], linestyle="--", linewidth=1.1, color=st["color"],
                       label=st["label"] + suffix)


def _title(ax, spec: dict[str, Any]) -> None:
    ax.set_title(f"{spec['suite']} · {spec['title']}")


def _finish_x(ax, xs_all: list[float], cats: list[str] | None, xlabel: str, log2: bool) -> None:
    if cats is not None:
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels(cats)
    elif log2 and xs_all and min(xs_all) > 0:
        ax.set_xscale("log", base=2)
        ticks = sorted(set(xs_all))
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()
    elif xs_all:
        ticks = sorted(set(xs_all))
        if len(ticks) <= 12:
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel)


XLABELS = {
    "router.top_n": "Number of selected models",
    "router.pool_size": "Number of models",
    "data.calibration_fraction": "Calibration fraction",
    "clustering.n_clusters": "Number of clusters K",
    "router.alpha": "α",
}


def _vary_label(spec: dict[str, Any]) -> str:
    """The declared experiment.report.xlabel, else a readable name of the vary key."""
    key = spec["vary"][0]
    return spec.get("xlabel") or XLABELS.get(key) or vary_label(key)


def spread_note(spec: dict[str, Any], what: str = "bands") -> str | None:
    """'bands: ±1 std over 5 seeds' from the router cells (None when every cell has one seed)."""
    ns = sorted({c["n"] for r in spec["rows"] if r["section"] == "router" for c in r["cells"].values()})
    if not ns or max(ns) < 2:
        return "one seed: no spread shown" if ns else None
    seeds = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"{what}: ±1 std over {seeds} seeds"


def _legend(ax, spec: dict[str, Any], what: str = "bands", extra: str | None = None, outside: bool = False) -> None:
    note = "\n".join(t for t in (spread_note(spec, what), extra) if t) or None
    if outside:  # busy plots (Pareto): the legend beside the axes hides no point
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, title=note, title_fontsize=7)
    else:
        ax.legend(loc="best", title=note, title_fontsize=7)


# ----------------------------------------------------------------------------------------- kinds
def _draw_curve(spec: dict[str, Any]):
    """Accuracy vs the vary value (fig2_n_models: # selected models; data_efficiency: calibration fraction)."""
    xkey = spec["vary"][0]
    routers = _router_rows(spec)
    if not routers:
        return None
    all_x = [r["variant"][xkey] for rows in routers.values() for r in rows]
    _, cats = _x_positions(all_x)
    xmap = (lambda vs: [float(cats.index(str(v))) for v in vs]) if cats else (lambda vs: [float(v) for v in vs])
    fig = _new_figure()
    ax = fig.add_subplot()
    cols = {c["key"] for c in spec["columns"]}
    for method, rows in routers.items():
        name = method_label(method)
        for col, suffix, ls in (("avg_id", "ID", "-"), ("avg_ood", "OOD", "-.")):
            if col not in cols:
                continue
            xs, ys, sds = _series(rows, xkey, col)
            if xs:
                _plot_curve(ax, xmap(xs), ys, sds, f"{name} ({suffix} avg)", linestyle=ls)
    _baseline_lines(ax, spec, "avg_id", xkey, xmap, " (ID avg)")
    _finish_x(ax, xmap(all_x), cats, _vary_label(spec), log2=False)
    ax.set_ylabel("Accuracy (%)")
    _title(ax, spec)
    _legend(ax, spec)
    return fig


def _draw_k_sweep(spec: dict[str, Any]):
    xkey = spec["vary"][0]
    rows = _router_rows(spec).get("avengers") or next(iter(_router_rows(spec).values()), None)
    if not rows:
        return None
    all_x = [r["variant"][xkey] for r in rows]
    _, cats = _x_positions(all_x)
    xmap = (lambda vs: [float(cats.index(str(v))) for v in vs]) if cats else (lambda vs: [float(v) for v in vs])
    fig = _new_figure()
    ax = fig.add_subplot()
    xs, ys, sds = _series(rows, xkey, "test_avg_id")
    if xs:
        _plot_curve(ax, xmap(xs), ys, sds, "Avengers, test (ID avg)", color="tab:blue")
    xs, ys, sds = _series(rows, xkey, "calibration_avg_id")
    if xs:
        _plot_curve(ax, xmap(xs), ys, sds, "Avengers, calibration (ID avg)", color="tab:orange", marker="s")
    _baseline_lines(ax, spec, "test_avg_id", xkey, xmap, " (test, ID avg)")
    _finish_x(ax, xmap(all_x), cats, _vary_label(spec), log2=True)
    ax.set_ylabel("Accuracy (%)")
    _title(ax, spec)
    _legend(ax, spec)
    return fig


class _Labels:
    """Greedy label placement in axes fractions: a label goes to the first free corner around
    its point, or is left out, so labels never pile up."""

    def __init__(self, ax, xs: list[float], ys: list[float], logx: bool) -> None:
        tx = [math.log10(x) if logx else x for x in xs]
        self.ax, self.logx = ax, logx
        self.x0, self.x1 = min(tx), max(tx)
        self.y0, self.y1 = min(ys), max(ys)
        self.boxes: list[tuple[float, float, float, float]] = []
        self.points = [self._frac(x, y) for x, y in zip(xs, ys)]
        self.skipped = 0

    def _frac(self, x: float, y: float) -> tuple[float, float]:
        tx = math.log10(x) if self.logx else x
        fx = 0.5 if self.x1 == self.x0 else 0.05 + 0.9 * (tx - self.x0) / (self.x1 - self.x0)
        fy = 0.5 if self.y1 == self.y0 else 0.05 + 0.9 * (y - self.y0) / (self.y1 - self.y0)
        return fx, fy

    def add(self, text: str, x: float, y: float, **kw: Any) -> None:
        fx, fy = self._frac(x, y)
        w, h = 0.011 * len(text) + 0.01, 0.045
        for dx, dy, ha, va in ((6, 4, "left", "bottom"), (6, -4, "left", "top"), (-6, 4, "right", "bottom"),
                               (-6, -4, "right", "top")):
            bx = fx + 0.012 if ha == "left" else fx - 0.012 - w
            by = fy + 0.01 if va == "bottom" else fy - 0.01 - h
            box = (bx, by, bx + w, by + h)
            clash = any(not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]) for b in self.boxes)
            hits = any(box[0] <= px <= box[2] and box[1] <= py <= box[3] for px, py in self.points)
            if not clash and not hits and box[0] > -0.02 and box[2] < 1.02:
                self.boxes.append(box)
                self.ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                 fontsize=6.5, **kw)
                return
        self.skipped += 1


def _short(label: str) -> str:
    return label.rsplit("/", 1)[-1]  # org/model -> model: the legend and table keep the full name


def _draw_pareto(spec: dict[str, Any]):
    """Accuracy vs total cost: each router's sweep as a connected curve (error bars ±1 std), single
    models as diamonds, the Pareto front as a dashed step line over the shaded region it dominates."""
    xkey = spec["vary"][0]
    pts = [r for r in spec["rows"] if "accuracy" in r["cells"] and "cost" in r["cells"]]
    if not pts:
        return None
    fig = _new_figure()
    fig.set_size_inches(8.0, 4.4)
    ax = fig.add_subplot()
    costs = [r["cells"]["cost"]["mean"] for r in pts]
    accs = [r["cells"]["accuracy"]["mean"] for r in pts]
    positive = [c for c in costs if c > 0]
    logx = bool(positive) and len(positive) == len(costs) and max(positive) / min(positive) > 10
    if logx:
        ax.set_xscale("log")
    labels = _Labels(ax, costs, accs, logx)
    short = "α" if xkey == "router.alpha" else _vary_label(spec)
    for method, rows in _router_rows(spec).items():
        rows = [r for r in rows if r in pts]
        if not rows:
            continue
        c = [r["cells"]["cost"]["mean"] for r in rows]
        a = [r["cells"]["accuracy"]["mean"] for r in rows]
        cs = [r["cells"]["cost"]["std"] or 0.0 for r in rows]
        as_ = [r["cells"]["accuracy"]["std"] or 0.0 for r in rows]
        name = method_label(method)
        ax.errorbar(c, a, xerr=cs, yerr=as_, marker="o", markersize=4, linestyle="-", linewidth=1.6, capsize=2,
                    color="tab:blue" if method == "avengers" else None, zorder=3,
                    label=f"{name} ({short} sweep)")
        for r, x, y in zip(rows, c, a):
            v = r["variant"][xkey]
            labels.add(f"{short}={v:g}" if _is_num(v) else str(v), x, y, color="tab:blue")
    models = [r for r in pts if r["section"] == "model"]
    if models:
        ax.scatter([r["cells"]["cost"]["mean"] for r in models], [r["cells"]["accuracy"]["mean"] for r in models],
                   marker="D", s=18, color="0.3", label="Single models", zorder=4)
        for r in sorted(models, key=lambda r: -r["cells"]["accuracy"]["mean"]):
            labels.add(_short(r["label"]), r["cells"]["cost"]["mean"], r["cells"]["accuracy"]["mean"], color="0.25")
    for r in [r for r in pts if r["section"] == "baseline" and r["method"] in BASELINE_STYLE]:
        st = BASELINE_STYLE[r["method"]]
        ax.scatter([r["cells"]["cost"]["mean"]], [r["cells"]["accuracy"]["mean"]], marker="x", s=22,
                   color=st["color"], label=st["label"], zorder=4)
    front = sorted((r for r in pts if r["extra"].get("pareto_front")), key=lambda r: r["cells"]["cost"]["mean"])
    if front:
        fx = [r["cells"]["cost"]["mean"] for r in front]
        fy = [r["cells"]["accuracy"]["mean"] for r in front]
        ax.autoscale_view()
        (x0, x1), (y0, _) = ax.get_xlim(), ax.get_ylim()
        # The region the front dominates (more cost, less accuracy), then the front itself.
        ax.fill_between(fx + [x1], fy + [fy[-1]], y0, step="post", color="0.9", zorder=0,
                        label="dominated by the front")
        ax.step(fx + [x1], fy + [fy[-1]], where="post", color="black", linestyle=(0, (4, 2)), linewidth=1.0,
                zorder=2, label="Pareto front (non-dominated)")
        ax.set_xlim(x0, x1)
        ax.set_ylim(bottom=y0)
    ax.set_xlabel("Total cost on the test set (USD)" + (", log scale" if logx else ""))
    ax.set_ylabel("Accuracy, ID avg (%)")
    _title(ax, spec)
    _legend(ax, spec, "error bars", outside=True,
            extra=f"{labels.skipped} label(s) left out (overlap);\nsee the table" if labels.skipped else None)
    return fig


# experiment.report.figure -> drawing function (report.layouts.FIGURES names the kinds).
_KINDS = {"curve": _draw_curve, "k_sweep": _draw_k_sweep, "pareto": _draw_pareto}
assert set(_KINDS) == set(FIGURES), "report.layouts.FIGURES and figures._KINDS must name the same kinds"


def draw(spec: dict[str, Any]):
    """A Figure for specs whose `figure` is set, else None. Call inside style() for exact bytes."""
    kind = spec.get("figure")
    if kind not in _KINDS or not spec.get("rows"):
        return None
    return _KINDS[kind](spec)


def to_bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png", metadata=PNG_METADATA)
    elif fmt == "pdf":
        fig.savefig(buf, format="pdf", metadata=PDF_METADATA)
    elif fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    else:
        raise ValueError(f"unknown figure format {fmt!r}")
    return buf.getvalue()


def render(spec: dict[str, Any]) -> tuple[bytes, bytes] | None:
    """(png, pdf) bytes of the spec's figure under the fixed style, or None when it has none."""
    with style():
        fig = draw(spec)
        if fig is None:
            return None
        return to_bytes(fig, "png"), to_bytes(fig, "pdf")


def render_png(spec: dict[str, Any]) -> bytes | None:
    """PNG bytes only (the notebook displays these)."""
    with style():
        fig = draw(spec)
        return None if fig is None else to_bytes(fig, "png")
