"""notebooks/results_overview.ipynb runs headless on a results/ folder holding only some tables."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from .fake_jobs import make_sweep

from avengers.report import cli

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "results_overview.ipynb"


def execute(results: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AVENGERS_RESULTS_DIR", str(results))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out["text"])
            data = out.get("data", {})
            images += "image/png" in data
            texts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
    return "\n".join(texts), images


def test_notebook_draws_what_is_there_and_names_what_is_missing(tmp_path, monkeypatch):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0, 1))
    make_sweep(tmp_path, "fig3_k_sweep", ["clustering.n_clusters"], [{"clustering.n_clusters": k} for k in (4, 16)],
               seeds=(0, 1))
    make_sweep(tmp_path, "pareto_cost", ["router.alpha"], [{"router.alpha": a} for a in (0.0, 1.0)], seeds=(0,),
               cost=lambda v, s: {"avengers": 5.0 - 4.0 * v["router.alpha"], "model:alpha": 9.0, "model:beta": 1.0})
    results = tmp_path / "results"
    cli.run([str(tmp_path / "outputs")], results, root=tmp_path, figures=False, log=io.StringIO())

    text, images = execute(results, monkeypatch, tmp_path)
    assert f"repo root: {NOTEBOOK.parents[1]}" in text  # found from the notebook's own folder
    assert f"results:   {results.resolve()}" in text
    assert "routerdc: found fig3_k_sweep, pareto_cost, table2_main" in text
    assert "missing table3_ood" in text and "data_efficiency" in text
    assert images == 3  # k-sweep, pareto, table2 average bars
    assert "drew 3 figure(s)" in text
    assert "seed=0" in text and "outputs/routerdc_table2_main/seed=0" in text


def test_notebook_runs_without_results(tmp_path, monkeypatch):
    text, images = execute(tmp_path / "empty", monkeypatch, tmp_path)
    assert "No tables found" in text and images == 0


def test_notebook_on_the_committed_results(tmp_path, monkeypatch):
    """The real, committed results/ of the RouterDC, RouterBench and MoT suites."""
    results = NOTEBOOK.parents[1] / "results"
    assert (results / "routerdc" / "table2_main.csv").is_file()
    text, images = execute(results, monkeypatch, tmp_path)
    assert "routerdc: found" in text and "fig3_k_sweep" in text and "table2_main" in text
    assert images >= 3
