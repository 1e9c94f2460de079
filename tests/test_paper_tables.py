"""The paper's tables on the paper group's release (experiment=paper_table2 / paper_table3 on
data=llmrouterbench), Avengers-Pro on the cost setting with missing rows, and the published
numbers file. The release is not shipped: the tests build tiny releases laid out like it
(tests/lrb_release.py, shared/specs/released_data.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from avengers.pipeline import run_job
from avengers.run import CONF_DIR
from lrb_release import build
from support import compose_cfg

PUBLISHED = CONF_DIR / "published" / "avengers_paper.yaml"
TINY = ["embedder=tfidf", "embedder.n_components=16", "clustering.n_clusters=12"]


def _exp(name: str, *over: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[f"experiment={name}", *over], return_hydra_config=True)


# ----------------------------------------------------------------------------- published numbers


def test_published_numbers_are_consistent_and_labelled():
    pub = yaml.safe_load(PUBLISHED.read_text())
    assert pub["status"] == "published" and "2505.19797" in pub["source"]
    assert len(pub["benchmarks"]["table2"]) == 15 and len(pub["benchmarks"]["table3"]) == 5
    avengers = {t: next(r for r in pub[t] if r["name"] == "The Avengers") for t in ("table2", "table3")}
    assert avengers["table2"]["avg"] == 70.54 and avengers["table3"]["avg"] == 74.42
    # A mistyped digit shows up as a printed average that is not the mean of its row. The paper's
    # own inconsistent rows are listed (each re-read against the image); no other row may differ.
    differs = {t: set(names) for t, names in pub["printed_avg_differs"].items()}
    for t in ("table2", "table3"):
        n_cols = len(pub["benchmarks"][t])
        for row in pub[t]:
            assert len(row["scores"]) == n_cols, row["name"]
            mean = math.fsum(row["scores"]) / n_cols
            if row["name"] in differs[t]:
                assert abs(mean - row["avg"]) > 0.011, f"{t} {row['name']} is consistent: drop it from printed_avg_differs"
            else:
                assert abs(mean - row["avg"]) <= 0.011, f"{t} {row['name']}: mean {mean:.3f} vs printed {row['avg']}"
    # Paper model names map to release names; the two the release lacks are explicit nulls.
    assert [k for k, v in pub["models"].items() if v is None] == ["Qwen-it", "Granite-3.1-it"]


def test_paper_experiment_uses_the_papers_benchmarks_models_and_split():
    pub = yaml.safe_load(PUBLISHED.read_text())
    cfg = _exp("paper_table2", "data.path=/x")
    id_sets = list(pub["benchmarks"]["table2"].values())
    ood_sets = [v for v in pub["benchmarks"]["table3"].values() if v]
    assert sorted(cfg.data.datasets) == sorted(id_sets + ood_sets)
    assert list(cfg.data.ood) == ood_sets == ["mathbench", "winogrande"]
    assert sorted(cfg.data.models) == sorted(v for v in pub["models"].values() if v)
    assert cfg.data.split_protocol == "llmrouterbench" and cfg.data.train_ratio == 0.7
    assert cfg.hydra.sweeper.params.seed == "42,2024,2025,3407,999"
    assert cfg.hydra.sweeper.params.preset == "harness,reference"
    assert cfg.experiment.table == "paper_table2" and [a if isinstance(a, str) else a["table"] for a in cfg.experiment.also] == ["paper_table3"]
    assert _exp("paper_table3", "data.path=/x").experiment.table == "paper_table2"


# ----------------------------------------------------------------------------- end to end on a fixture


PAPER_DATASETS = {"aime": "hybrid", "math500": "test", "livemathbench": "test", "mbpp": "test", "humaneval": "test",
                  "korbench": "test", "kandk": "test", "bbh": "test", "arcc": "test", "mmlupro": "test_1000",
                  "gpqa": "test", "finqa": "test", "medqa": "test", "emorynlp": "test", "meld": "test",
                  "mathbench": "test", "winogrande": "valid"}


@pytest.fixture(scope="module")
def paper_release(tmp_path_factory):
    cfg = _exp("paper_table2", "data.path=/x")
    root = tmp_path_factory.mktemp("lrb") / "bench-release"
    return build(root, PAPER_DATASETS, list(cfg.data.models), n=10), list(cfg.data.models)


@pytest.mark.parametrize("preset", ["harness", "reference"])
def test_paper_table2_runs_end_to_end_on_a_release_shaped_fixture(paper_release, preset, tmp_path):
    root, models = paper_release
    cfg = compose_cfg(["experiment=paper_table2", f"preset={preset}", f"data.path={root}", "seed=2024", *TINY],
                      cache=tmp_path, data_root=tmp_path)
    r = run_job(cfg)
    m = r.metrics
    bench = m["benchmarks"]
    ood = {"mathbench", "winogrande"}
    assert set(bench) == set(PAPER_DATASETS)
    assert {b for b, v in bench.items() if v["split"] == "ood"} == ood
    for b, v in bench.items():
        # LRB split: 10 prompts, int(10 * 0.7) = 7 train, 3 test; OOD datasets entirely test.
        assert v["n_test"] == (10 if b in ood else 3), b
        assert {f"model:{x}" for x in models} <= set(v["scores"])
    assert m["config"]["experiment"]["preset"] == preset
    assert m["config"]["data"]["split_seed"] == 2024
    if preset == "reference":
        # The reference's one --seed splits the data and seeds k-means alike.
        assert m["config"]["clustering"]["random_state"] == 2024
        assert m["config"]["clustering"]["centers"] == "raw" and m["config"]["router"]["ties"] == "order"
    # Each dataset has one model right on every query: routing finds most of them, unlike any single model.
    avg = m["averages"]["id"]
    assert avg["avengers"] > avg["best_single"] + 10
    assert avg["oracle"] == pytest.approx(100.0)


def test_avengers_pro_runs_on_the_cost_setting_with_missing_rows(tmp_path):
    """Not every flagship model has every dataset (llmrouterbench_cost fills the gaps with score 0
    and an unknown cost) and cost 0 means "not priced": alpha < 1 used to refuse. Unknown costs
    now take each model's mean known cost (router.missing_cost=model_mean)."""
    models = ["claude-sonnet-4", "gemini-2.5-flash", "gpt-5"]
    datasets = {"aime": "hybrid", "gpqa": "test", "mmlupro": "test_3000"}
    prices = {0: 0.02, 1: 0.001, 2: 0.01}
    root = build(tmp_path / "bench-release", datasets, models, n=20, best={"aime": 2, "gpqa": 0, "mmlupro": 1},
                 absent={("gpqa", "gemini-2.5-flash")},  # a model without a dataset: missing rows
                 cost_of=lambda mi, i: 0.0 if (mi == 2 and i % 5 == 0) else prices[mi] * (1 + i % 3))
    base = ["data=llmrouterbench_cost", f"data.path={root}", "data.datasets=[aime,gpqa,mmlupro]",
            f"data.models=[{','.join(models)}]", "embedder=tfidf", "embedder.n_components=8", "clustering.n_clusters=3"]
    runs = {a: run_job(compose_cfg(base + [f"router.alpha={a}"], cache=tmp_path / "c", data_root=tmp_path))
            for a in (1.0, 0.5, 0.0)}
    for r in runs.values():
        assert np.isfinite(r.metrics["averages"]["id"]["avengers"])
    # alpha = 0 routes to the cheapest model (gemini-2.5-flash) wherever it has outcomes.
    pred = runs[0.0].predictions
    routed = pred[pred.router == "avengers"]
    assert (routed["model"] == "gemini-2.5-flash").mean() > 0.6
    cost = {a: runs[a].metrics["cost"]["avengers"] for a in runs}
    assert cost[0.0] <= cost[0.5] <= cost[1.0]
    # The same data refuses to guess when told to: router.missing_cost=error names the gaps.
    from avengers.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown for: .*gemini-2.5-flash"):
        run_job(compose_cfg(base + ["router.alpha=0.5", "router.missing_cost=error"], cache=tmp_path / "c",
                            data_root=tmp_path))


def test_published_file_is_what_the_experiment_declares():
    cfg = _exp("paper_table2", "data.path=/x")
    layout = OmegaConf.to_container(cfg.experiment.layout)
    assert (CONF_DIR / layout["published"]["file"]) == PUBLISHED
    assert layout["published"]["tables"] == {"paper_table2": "table2", "paper_table3": "table3"}


def test_paper_table_shows_the_published_rows_beside_the_computed_ones(paper_release, tmp_path):
    """experiment=paper_table2 through the CLI and avengers-tables: the computed rows, then the
    paper's published rows as their own, labelled group (facts cited, not results)."""
    import io

    from avengers.report import cli
    from support import run_cli

    root, _ = paper_release
    out = tmp_path / "outputs"
    run_cli(["-m", "experiment=paper_table2", "preset=harness", "seed=42", f"data.path={root}", *TINY],
            cache=tmp_path / "cache", out=out)
    cli.run([str(out / "paper_table2")], tmp_path / "tables", root=tmp_path, figures=False, log=io.StringIO())
    md2 = (tmp_path / "tables" / "llmrouterbench" / "paper_table2.md").read_text()
    md3 = (tmp_path / "tables" / "llmrouterbench" / "paper_table3.md").read_text()
    pub = yaml.safe_load(PUBLISHED.read_text())
    avengers = next(r for r in pub["table2"] if r["name"] == "The Avengers")
    assert "Published (the paper's own numbers" in md2 and "The Avengers (published)" in md2
    line = next(ln for ln in md2.splitlines() if ln.startswith("| The Avengers (published)"))
    assert f"{avengers['avg']:.2f}" == "70.54" and line.rstrip(" |").endswith("70.54")
    assert "| Avengers |" in md2  # the computed row is there too
    assert "Published rows: arXiv:2505.19797" in md2
    assert "(published)" in md3 and "StudentEval" in md3  # a paper column the release lacks is named
