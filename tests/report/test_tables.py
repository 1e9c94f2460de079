"""avengers-tables on fake job folders: values, layouts, sidecar, errors, failed jobs, exact bytes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
import statistics
import sys
import types
from pathlib import Path

import pytest
from .fake_jobs import base_config, make_metrics, make_sweep, set_dotted, write_job

from avengers.errors import AvengersError
from avengers.report import cli
from avengers.report.aggregate import mean_std
from avengers.report.tables import pareto_front


def run(tmp_path: Path, *runs, out="results", **kw):
    runs = runs or (str(tmp_path / "outputs"),)
    kw.setdefault("figures", False)
    log = io.StringIO()
    report = cli.run([str(r) for r in runs], tmp_path / out, root=tmp_path, log=log, **kw)
    report.log = log.getvalue()
    return report


def spec_of(report, table):
    (spec,) = [s for s in report.specs if s["table"] == table]
    return spec


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------- stats
def test_mean_std_is_sample_std_and_order_free():
    mean, std = mean_std([60.0, 62.0, 64.0])
    assert mean == 62.0 and std == 2.0
    assert mean_std([1.0]) == (1.0, None)
    vals = [0.1, 0.2, 0.3, 1e-3, 7.7]
    assert mean_std(vals) == mean_std(list(reversed(vals)))
    assert math.isclose(mean_std(vals)[0], statistics.fmean(vals), rel_tol=1e-12)
    assert math.isclose(mean_std(vals)[1], statistics.stdev(vals), rel_tol=1e-12)


def test_pareto_front_flags():
    # (cost, acc): b dominates a; c is cheapest; d is most accurate
    assert pareto_front([(5, 60), (4, 61), (1, 50), (9, 70), (9, 65)]) == [False, True, True, True, False]


# ----------------------------------------------------------------------------------------- main
def test_table2_main_layout_values_and_sidecar(tmp_path):
    make_sweep(tmp_path, "table2_main", [], [{}], extra_routers={"avengers_auto": 1.0})
    report = run(tmp_path)
    spec = spec_of(report, "table2_main")
    out = tmp_path / "results" / "routerdc"
    assert sorted(p.name for p in out.iterdir()) == [  # no .timing.md without --timing
        "table2_main.csv", "table2_main.md", "table2_main.sources.json", "table2_main.tex"]

    # columns: ID benchmarks (no OOD), then Avg
    assert [c["key"] for c in spec["columns"]] == ["arc", "gsm8k", "avg"]
    # rows: every model, random, best_single, dataset_oracle, oracle, then avengers and other routers
    # ... and RouterDC's published gain (conf/published/cited.yaml) on top of the best single-model average
    assert [r["method"] for r in spec["rows"]] == [
        "model:alpha", "model:beta", "random", "best_single", "dataset_oracle", "oracle", "avengers", "avengers_auto",
        "published:RouterDC†"]
    cited = spec["rows"][-1]
    # model:alpha's average is 55 + 2 * seed: 57 over seeds 0-2; RouterDC's abstract: +2.76
    assert list(cited["cells"]) == ["avg"] and math.isclose(cited["cells"]["avg"]["mean"], 57.0 + 2.76)
    assert cited["cells"]["avg"]["published"] and cited["label"] == "RouterDC† (published)"
    assert any("NeurIPS 2024" in n and "57.00 (this table's best single model) + 2.76" in n for n in spec["notes"])

    rows = {r["key"]: r for r in read_csv(out / "table2_main.csv")}
    # avengers on arc: 60, 62, 64 over seeds 0, 1, 2 -> mean 62, sample std 2
    assert float(rows["avengers"]["arc"]) == 62.0 and float(rows["avengers"]["arc_std"]) == 2.0
    assert float(rows["avengers"]["gsm8k"]) == 72.0
    assert float(rows["avengers"]["avg"]) == 67.0 and float(rows["avengers"]["avg_std"]) == 2.0
    assert float(rows["avengers_auto"]["avg"]) == 68.0
    assert float(rows["model:alpha"]["arc"]) == 52.0 and rows["model:alpha"]["label"] == "alpha"
    assert rows["avengers"]["n"] == "3"

    md = (out / "table2_main.md").read_text()
    assert "| Method | arc | gsm8k | Avg |" in md
    assert "| Avengers | 62.00 ± 2.00 | 72.00 ± 2.00 | 67.00 ± 2.00 |" in md
    assert "| Avengers (auto) |" in md
    assert "Dataset oracle†" in md and "chosen on test" in md and "upper reference" in md
    assert "mmlu_pro" not in md

    tex = (out / "table2_main.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "Dataset oracle$^\\dagger$" in tex and "62.00 $\\pm$ 2.00" in tex

    side = json.loads((out / "table2_main.sources.json").read_text())
    assert side == spec
    cell = next(r for r in side["rows"] if r["method"] == "avengers")["cells"]["arc"]
    assert cell["n"] == 3 and cell["seeds"] == [0, 1, 2] and cell["values"] == [60.0, 62.0, 64.0]
    dirs = [j["output_dir"] for j in cell["jobs"]]
    assert dirs == [f"outputs/routerdc_table2_main/seed={s}" for s in (0, 1, 2)]
    for j in cell["jobs"]:
        metrics = json.loads((tmp_path / j["output_dir"] / "metrics.json").read_text())
        assert j["config_hash"] == metrics["config_hash"] and j["seed"] == metrics["config"]["seed"]
    assert side["n_jobs"] == 3 and side["failed"] == []


def test_timing_companion_only_with_the_flag(tmp_path):
    exp = make_sweep(tmp_path, "table2_main", ["router.name"], [{"router.name": "avengers"}, {"router.name": "knn"}],
                     seeds=(0, 1))
    for i, job in enumerate(sorted(p for p in exp.iterdir() if p.is_dir())):
        (job / "timing.json").write_text(json.dumps({"fit_seconds": 10.0 + i, "route_seconds_per_1000": 0.5,
                                                     "fit_from_cache": i == 0}))
        (job / "run.json").write_text(json.dumps({"machine": {"cpu": "Test CPU"}}))
    out = tmp_path / "results" / "routerdc"
    run(tmp_path)
    assert not (out / "table2_main.timing.md").exists()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    run(tmp_path, timing=True)
    text = (out / "table2_main.timing.md").read_text()
    # jobs sorted: router.name=avengers,seed=0 (10 s) / seed=1 (11 s), router.name=knn,seed=0 (12 s) / seed=1 (13 s)
    assert "| router.name=avengers | 2 | 10.5 ± 0.7 | 0.500 ± 0.000 | 1 |" in text
    assert "| router.name=knn | 2 | 12.5 ± 0.7 | 0.500 ± 0.000 | 0 |" in text
    assert "CPU: Test CPU" in text and "Machine-dependent" in text
    # the table itself is unchanged by the flag: its bytes never depend on the machine
    assert all((out / name).read_bytes() == data for name, data in before.items())


def test_table3_ood_uses_ood_benchmarks(tmp_path):
    make_sweep(tmp_path, "table3_ood", [], [{}], seeds=(0, 1))
    spec = spec_of(run(tmp_path), "table3_ood")
    assert [c["key"] for c in spec["columns"]] == ["mmlu_pro", "avg"]
    row = next(r for r in spec["rows"] if r["method"] == "avengers")
    # 55, 57 -> mean 56, std sqrt(2)
    assert row["cells"]["mmlu_pro"]["mean"] == 56.0
    assert math.isclose(row["cells"]["mmlu_pro"]["std"], math.sqrt(2.0))
    assert row["cells"]["avg"]["mean"] == 56.0


def test_single_seed_std_is_na(tmp_path):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(7,))
    run(tmp_path)
    out = tmp_path / "results" / "routerdc"
    row = next(r for r in read_csv(out / "table2_main.csv") if r["key"] == "avengers")
    assert row["arc_std"] == "n/a" and row["n"] == "1"
    assert "60.00 ± n/a" not in (out / "table2_main.md").read_text()  # seed 7 -> 74
    assert "74.00 ± n/a" in (out / "table2_main.md").read_text()
    side = json.loads((out / "table2_main.sources.json").read_text())
    assert next(r for r in side["rows"] if r["method"] == "avengers")["cells"]["arc"]["std"] is None


# ------------------------------------------------------------------------------------- ablations
def test_ablation_rows_are_variants_with_baselines(tmp_path):
    make_sweep(tmp_path, "table5_clustering", ["clustering.name"],
               [{"clustering.name": "kmeans"}, {"clustering.name": "gmm"}],
               shift_of=lambda v: {"kmeans": 0.0, "gmm": 3.0}[v["clustering.name"]])
    spec = spec_of(run(tmp_path), "table5_clustering")
    assert [c["key"] for c in spec["columns"]] == ["avg_id", "avg_ood", "arc", "gsm8k", "mmlu_pro"]
    assert spec["row_header"] == "Clustering"
    labels = [r["label"] for r in spec["rows"]]
    assert labels == ["gmm", "kmeans", "Random", "Best single", "Dataset oracle† (upper ref., chosen on test)", "Oracle"]
    gmm, kmeans = spec["rows"][0], spec["rows"][1]
    assert gmm["variant"] == {"clustering.name": "gmm"} and gmm["method"] == "avengers"
    assert gmm["cells"]["avg_id"]["mean"] == 70.0 and kmeans["cells"]["avg_id"]["mean"] == 67.0
    assert gmm["cells"]["avg_ood"]["mean"] == 60.0 and gmm["cells"]["avg_id"]["std"] == 2.0
    assert {j["output_dir"].split("/")[-1] for j in gmm["cells"]["avg_id"]["jobs"]} == {
        f"clustering.name=gmm,seed={s}" for s in (0, 1, 2)}
    # baselines do not depend on clustering: pooled, n counts seeds (not jobs), std over seeds
    rnd = spec["rows"][2]
    assert rnd["variant"] is None and rnd["cells"]["avg_id"]["n"] == 3
    assert rnd["cells"]["avg_id"]["mean"] == 52.0 and rnd["cells"]["avg_id"]["std"] == 2.0
    assert len(rnd["cells"]["avg_id"]["jobs"]) == 6
    rows = read_csv(tmp_path / "results/routerdc/table5_clustering.csv")
    assert [r["clustering.name"] for r in rows[:2]] == ["gmm", "kmeans"] and rows[2]["clustering.name"] == ""


def test_numeric_variants_sort_numerically_and_uneven_seeds_are_flagged(tmp_path):
    make_sweep(tmp_path, "fig2_n_models", ["router.top_n"], [{"router.top_n": n} for n in (10, 2)])
    # one more variant with a single seed
    make_sweep(tmp_path, "fig2_n_models", ["router.top_n"], [{"router.top_n": 5}], seeds=(0,))
    spec = spec_of(run(tmp_path), "fig2_n_models")
    routers = [r for r in spec["rows"] if r["section"] == "router"]
    assert [r["variant"]["router.top_n"] for r in routers] == [2, 5, 10]
    assert routers[1]["n"] == 1 and routers[1]["cells"]["avg_id"]["std"] is None
    md = (tmp_path / "results/routerdc/fig2_n_models.md").read_text()
    assert "± n/a (n=1)" in md
    assert spec["figure"] == "curve"


def test_baseline_that_depends_on_variant_is_shown_per_variant(tmp_path):
    exp = tmp_path / "outputs" / "de"
    for frac, bump in ((0.1, 0.0), (0.5, 4.0)):
        for seed in (0, 1):
            cfg = base_config("data_efficiency", ["data.calibration_fraction"], seed)
            cfg["data"]["calibration_fraction"] = frac
            m = make_metrics(cfg)
            for b in m["benchmarks"].values():
                b["scores"]["best_single"] += bump
            m["averages"]["id"]["best_single"] += bump
            write_job(exp / f"data.calibration_fraction={frac},seed={seed}", m)
    spec = spec_of(run(tmp_path), "data_efficiency")
    best = [r for r in spec["rows"] if r["method"] == "best_single"]
    assert [r["label"] for r in best] == ["Best single (0.1)", "Best single (0.5)"]
    assert [r["cells"]["avg_id"]["mean"] for r in best] == [58.0, 62.0]
    assert any("Best single differs between variants" in w for w in spec["warnings"])
    assert len([r for r in spec["rows"] if r["method"] == "random"]) == 1


def test_k_sweep_table_and_figure(tmp_path):
    make_sweep(tmp_path, "fig3_k_sweep", ["clustering.n_clusters"],
               [{"clustering.n_clusters": k} for k in (16, 4, 64)], seeds=(0, 1),
               shift_of=lambda v: v["clustering.n_clusters"] / 16)
    report = run(tmp_path, figures=True)
    spec = spec_of(report, "fig3_k_sweep")
    assert [c["key"] for c in spec["columns"]] == ["test_avg_id", "calibration_avg_id", "test_avg_ood"]
    rows = read_csv(tmp_path / "results/routerdc/fig3_k_sweep.csv")
    ks = [r for r in rows if r["method"] == "avengers"]
    assert [r["clustering.n_clusters"] for r in ks] == ["4", "16", "64"]
    # seeds 0, 1 -> ID avg 65 + 2*seed + K/16 -> mean 66 + K/16; calibration is one point lower
    assert [float(r["test_avg_id"]) for r in ks] == [66.25, 67.0, 70.0]
    assert [float(r["calibration_avg_id"]) for r in ks] == [65.25, 66.0, 69.0]
    assert math.isclose(float(ks[0]["test_avg_id_std"]), math.sqrt(2.0))
    base = {r["method"]: r for r in rows if r["section"] == "baseline"}
    assert set(base) == {"random", "best_single", "dataset_oracle", "oracle"}
    assert base["oracle"]["calibration_avg_id"] == ""
    out = tmp_path / "results/routerdc"
    assert (out / "fig3_k_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "fig3_k_sweep.pdf").read_bytes()[:5] == b"%PDF-"


def test_pareto_cost_rows_and_front(tmp_path):
    costs = {"model:alpha": 10.0, "model:beta": 1.0, "random": 5.5}
    make_sweep(tmp_path, "pareto_cost", ["router.alpha"], [{"router.alpha": a} for a in (0.0, 0.5, 1.0)],
               seeds=(0, 1), shift_of=lambda v: -4.0 * v["router.alpha"],
               cost=lambda v, s: {**costs, "avengers": 8.0 - 6.0 * v["router.alpha"] + s})
    spec = spec_of(run(tmp_path), "pareto_cost")
    assert [c["key"] for c in spec["columns"]] == ["accuracy", "cost"]
    rows = {r["key"]: r for r in spec["rows"]}
    a0 = rows["avengers|router.alpha=0.0"]
    assert a0["cells"]["accuracy"]["mean"] == 66.0 and a0["cells"]["cost"]["mean"] == 8.5
    assert math.isclose(a0["cells"]["cost"]["std"], math.sqrt(0.5))
    a1 = rows["avengers|router.alpha=1.0"]
    assert a1["cells"]["accuracy"]["mean"] == 62.0 and a1["cells"]["cost"]["mean"] == 2.5
    # single models are points, pooled over α; beta (cost 1) is on the front, alpha (cost 10, acc 56) is not
    assert rows["model:alpha"]["cells"]["cost"]["mean"] == 10.0 and rows["model:alpha"]["variant"] is None
    assert rows["model:alpha"]["extra"]["pareto_front"] is False
    assert rows["model:beta"]["extra"]["pareto_front"] is True
    assert all(rows[f"avengers|router.alpha={a}"]["extra"]["pareto_front"] for a in (0.0, 0.5, 1.0))
    assert rows["random"]["extra"]["pareto_front"] is None
    csv_rows = {r["key"]: r for r in read_csv(tmp_path / "results/routerdc/pareto_cost.csv")}
    assert csv_rows["model:beta"]["pareto_front"] == "true" and csv_rows["model:alpha"]["pareto_front"] == "false"
    assert csv_rows["avengers|router.alpha=0.5"]["router.alpha"] == "0.5"
    assert spec["figure"] == "pareto"


# ------------------------------------------------------------------------------------ refusals
def test_mixed_configs_in_one_cell_are_refused(tmp_path, capsys):
    exp = tmp_path / "outputs" / "t5"
    for seed, emb in ((0, "minilm"), (1, "bge")):
        cfg = base_config("table5_clustering", ["clustering.name"], seed)
        cfg["embedder"]["name"] = emb
        write_job(exp / f"seed={seed}", make_metrics(cfg))
    with pytest.raises(AvengersError, match=r"differ in 'embedder\.name'"):
        run(tmp_path)
    rc = cli.main(["--runs", str(exp), "--out", str(tmp_path / "results"), "--no-figures"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "embedder.name" in err and "'seed'" in err
    assert not (tmp_path / "results").exists()  # nothing half-written


def test_tracking_paths_and_vary_keys_may_differ(tmp_path):
    make_sweep(tmp_path, "table4_embedders", ["embedder.name"], [{"embedder.name": "minilm"}])
    # the paths/tracking nodes already differ per seed in the fixture; add another tracking difference
    job = tmp_path / "outputs/routerdc_table4_embedders/embedder.name=minilm,seed=1/metrics.json"
    m = json.loads(job.read_text())
    m["config"]["tracking"]["mode"] = "offline"
    job.write_text(json.dumps(m))
    spec = spec_of(run(tmp_path), "table4_embedders")
    assert spec["rows"][0]["n"] == 3


def test_extra_ignored_key(tmp_path):
    exp = tmp_path / "outputs" / "t2"
    for seed in (0, 1):
        cfg = base_config("table2_main", [], seed)
        cfg["launcher"] = {"n_jobs": seed + 1}
        write_job(exp / f"seed={seed}", make_metrics(cfg))
    with pytest.raises(AvengersError, match="launcher.n_jobs"):
        run(tmp_path)
    assert spec_of(run(tmp_path, ignore=("launcher",)), "table2_main")["rows"][0]["n"] == 2


def test_duplicate_seed_is_refused(tmp_path):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0, 1), exp="a")
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(1,), exp="b")
    with pytest.raises(AvengersError, match="seed 1 appears twice"):
        run(tmp_path)


def test_unknown_vary_key_is_refused(tmp_path):
    make_sweep(tmp_path, "table5_clustering", ["clustering.nmae"], [{}], seeds=(0,))
    with pytest.raises(AvengersError, match=r"clustering\.nmae.*Did you mean 'clustering\.name'"):
        run(tmp_path)


# --------------------------------------------------------------------------------- failed jobs
def test_failed_jobs_are_listed_and_do_not_stop_others(tmp_path, capsys):
    exp = make_sweep(tmp_path, "table5_clustering", ["clustering.name"],
                     [{"clustering.name": "kmeans"}, {"clustering.name": "gmm"}], seeds=(0, 1))
    # crashed job: Hydra wrote .hydra/config.yaml, the job never wrote metrics.json
    cfg = base_config("table5_clustering", ["clustering.name"], 2)
    set_dotted(cfg, "clustering.name", "gmm")
    write_job(exp / "clustering.name=gmm,seed=2", None, hydra_cfg=cfg)
    # corrupt metrics.json, config only in .hydra
    cfg3 = base_config("table5_clustering", ["clustering.name"], 3)
    write_job(exp / "clustering.name=kmeans,seed=3", None, hydra_cfg=cfg3, raw='{"benchmarks": {')
    # job folder with nothing telling which table it belongs to
    (tmp_path / "outputs" / "stray").mkdir()
    (tmp_path / "outputs" / "stray" / "metrics.json").write_text("not json")

    report = run(tmp_path)
    spec = spec_of(report, "table5_clustering")
    assert spec["n_jobs"] == 4
    failed = {f["output_dir"].split("/")[-1]: f for f in spec["failed"]}
    assert set(failed) == {"clustering.name=gmm,seed=2", "clustering.name=kmeans,seed=3"}
    assert "missing metrics.json" in failed["clustering.name=gmm,seed=2"]["reason"]
    assert failed["clustering.name=gmm,seed=2"]["variant"] == {"clustering.name": "gmm"}
    assert failed["clustering.name=gmm,seed=2"]["seed"] == 2
    assert "corrupt metrics.json" in failed["clustering.name=kmeans,seed=3"]["reason"]
    md = (tmp_path / "results/routerdc/table5_clustering.md").read_text()
    assert "Failed jobs (2)" in md and "clustering.name=gmm,seed=2" in md
    assert spec["rows"][0]["n"] == 2  # the surviving seeds still make the cells
    unplaced = json.loads((tmp_path / "results" / "failed_jobs.json").read_text())
    assert [f["output_dir"] for f in unplaced["failed"]] == ["outputs/stray"]
    assert "FAILED job outputs/stray" in report.log
    assert "FAILED job outputs/t" not in report.log

    out = str(tmp_path / "results")
    assert cli.main(["--runs", str(tmp_path / "outputs"), "--out", out, "--no-figures"]) == 0
    assert cli.main(["--runs", str(tmp_path / "outputs"), "--out", out, "--no-figures", "--strict"]) == 1
    assert "FAILED job" in capsys.readouterr().err


def test_table_with_only_failed_jobs_still_reports_them(tmp_path):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    cfg = base_config("table3_ood", [], 0)
    write_job(tmp_path / "outputs" / "ood" / "seed=0", None, hydra_cfg=cfg)
    spec = spec_of(run(tmp_path), "table3_ood")
    assert spec["rows"] == [] and len(spec["failed"]) == 1
    assert "No finished jobs" in (tmp_path / "results/routerdc/table3_ood.md").read_text()


# ----------------------------------------------------------------------------- selection / CLI
def test_suite_filter_globs_and_repeated_runs(tmp_path):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0, 1), exp="rdc_main")
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,), suite="routerbench", exp="rb_main")
    make_sweep(tmp_path, "table3_ood", [], [{}], seeds=(0,), exp="rdc_ood")
    out = tmp_path / "res"
    rc = cli.main(["--runs", str(tmp_path / "outputs" / "rdc_*"), "--runs", str(tmp_path / "outputs" / "rb_main"),
                   "--out", str(out), "--suite", "routerdc", "--root", str(tmp_path), "--no-figures"])
    assert rc == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.md")) == [
        "routerdc/table2_main.md", "routerdc/table3_ood.md"]
    report = run(tmp_path, str(tmp_path / "outputs" / "rdc_main" / "seed=0" / "metrics.json"),
                 tmp_path / "outputs" / "rdc_main", out="res2")  # overlapping inputs count once
    assert spec_of(report, "table2_main")["n_jobs"] == 2
    with pytest.raises(AvengersError, match="matches nothing"):
        run(tmp_path, str(tmp_path / "outputs" / "nope*"))
    with pytest.raises(AvengersError, match="does not exist"):
        run(tmp_path, tmp_path / "missing")


def test_paths_outside_root_stay_absolute(tmp_path):
    exp = make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    log = io.StringIO()
    report = cli.run([str(exp)], tmp_path / "r", root=tmp_path / "elsewhere", figures=False, log=log)
    (job,) = report.specs[0]["jobs"]
    assert job["output_dir"] == (exp / "seed=0").as_posix() and Path(job["output_dir"]).is_absolute()


# ------------------------------------------------------------------------------ reproducibility
def _all_tables(root: Path) -> None:
    make_sweep(root, "table2_main", [], [{}], extra_routers={"avengers_ensemble": 0.5})
    make_sweep(root, "table3_ood", [], [{}])
    make_sweep(root, "table6_ensemble", ["ensemble.n_samples"], [{"ensemble.n_samples": n} for n in (1, 5)],
               seeds=(0, 1), extra_routers={"avengers_ensemble": 0.25})
    make_sweep(root, "fig3_k_sweep", ["clustering.n_clusters"], [{"clustering.n_clusters": k} for k in (4, 8, 32)],
               shift_of=lambda v: v["clustering.n_clusters"] / 10)
    make_sweep(root, "fig2_n_models", ["router.top_n"], [{"router.top_n": n} for n in (1, 2, 4)], seeds=(0, 1))
    make_sweep(root, "data_efficiency", ["data.calibration_fraction"],
               [{"data.calibration_fraction": f} for f in (0.1, 0.4)], seeds=(0, 1))
    make_sweep(root, "pareto_cost", ["router.alpha"], [{"router.alpha": a} for a in (0.0, 0.3, 1.0)], seeds=(0, 1),
               cost=lambda v, s: {"avengers": 200.0 - 190 * v["router.alpha"], "model:alpha": 300.0,
                                  "model:beta": 2.0})


def test_rerun_reproduces_every_file_byte_for_byte(tmp_path):
    _all_tables(tmp_path)
    run(tmp_path, figures=True)
    out = tmp_path / "results"
    first = tree_digest(out)
    names = set(first)
    for table in ("table2_main", "table3_ood", "table6_ensemble", "fig3_k_sweep", "fig2_n_models",
                  "data_efficiency", "pareto_cost"):
        for ext in ("md", "csv", "tex", "sources.json"):
            assert f"routerdc/{table}.{ext}" in names
    for table in ("fig3_k_sweep", "fig2_n_models", "data_efficiency", "pareto_cost"):
        assert f"routerdc/{table}.png" in names and f"routerdc/{table}.pdf" in names
    assert "routerdc/table2_main.png" not in names
    pdf = (out / "routerdc/pareto_cost.pdf").read_bytes()
    assert b"CreationDate" not in pdf and b"Matplotlib" not in pdf

    # same runs, other discovery order (globs and reversed --runs), into a fresh folder and in place
    shutil.rmtree(out)
    exps = sorted((tmp_path / "outputs").iterdir(), reverse=True)
    run(tmp_path, *exps, figures=True)
    assert tree_digest(out) == first
    run(tmp_path, str(tmp_path / "outputs" / "*"))  # in place, tables only (figures checked above)
    assert tree_digest(out) == first
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------------------- W&B
class _FakeWandb(types.ModuleType):
    def __init__(self, fail_on_log_artifact=False):
        super().__init__("wandb")
        self.calls = []
        self.fail = fail_on_log_artifact
        outer = self

        class Run:
            def log(self, data):
                outer.calls.append(("log", sorted(data)))

            def log_artifact(self, art):
                outer.calls.append(("log_artifact", art.name, art.type, sorted(art.files), sorted(art.tables)))
                if outer.fail:
                    raise RuntimeError("upload failed")

            def finish(self, exit_code=0):
                outer.calls.append(("finish", exit_code))

        class Artifact:
            def __init__(self, name, type, metadata=None):
                self.name, self.type, self.files, self.tables = name, type, [], []

            def add_file(self, path, name=None):
                assert Path(path).is_file()
                self.files.append(name)

            def add(self, obj, name):
                self.tables.append(name)

        class Table:
            def __init__(self, columns, data):
                assert all(len(row) == len(columns) for row in data)
                self.columns, self.data = columns, data

        def init(**kw):
            outer.calls.append(("init", kw["job_type"], kw["group"], kw["mode"]))
            return Run()

        self.init, self.Artifact, self.Table = init, Artifact, Table


def test_wandb_tables_run_joins_the_sweep_group_of_its_jobs(tmp_path, monkeypatch):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    exp = make_sweep(tmp_path, "fig2_n_models", ["router.top_n"], [{"router.top_n": n} for n in (1, 2)], seeds=(0,))
    for job in exp.iterdir():  # what avengers-run writes next to metrics.json when W&B is on
        (job / "wandb_run.json").write_text(json.dumps({"group": "routerdc_fig2_n_models-20260101-000000"}))
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    run(tmp_path, figures=True, wandb_mode="offline")
    inits = [c for c in fake.calls if c[0] == "init"]
    # one tables run per sweep group: the jobs' recorded group, else their experiment name
    assert inits == [("init", "tables", "routerdc_fig2_n_models-20260101-000000", "offline"),
                     ("init", "tables", "routerdc_table2_main", "offline")]
    arts = [c for c in fake.calls if c[0] == "log_artifact"]
    assert arts[0][1] == "tables-routerdc_fig2_n_models-20260101-000000" and arts[0][2] == "results"
    assert "routerdc/fig2_n_models.png" in arts[0][3] and not any("table2_main" in f for f in arts[0][3])
    assert "routerdc/table2_main.sources.json" in arts[1][3] and arts[1][4] == ["table2_main"]
    assert ("log", ["fig2_n_models"]) in fake.calls and fake.calls[-1] == ("finish", 0)
    assert (tmp_path / "wandb-home").is_dir()  # WANDB_DIR honoured


def test_wandb_run_is_finished_when_upload_fails(tmp_path, monkeypatch):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    fake = _FakeWandb(fail_on_log_artifact=True)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    with pytest.raises(RuntimeError, match="upload failed"):
        run(tmp_path, wandb_mode="online")
    assert fake.calls[-1] == ("finish", 1)


def test_wandb_not_imported_when_disabled(tmp_path, monkeypatch):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    monkeypatch.setitem(sys.modules, "wandb", None)  # importing it would raise
    run(tmp_path)


# ------------------------------------------------------------------------- layouts and captions
def test_deterministic_cells_show_the_value_alone_with_a_footnote(tmp_path):
    exp = tmp_path / "outputs" / "t2"
    for seed in (0, 1, 2):
        m = make_metrics(base_config("table2_main", [], seed))
        for b in m["benchmarks"].values():
            b["scores"]["random"] = 45.0  # a baseline on a fixed split: the same for every seed
        m["averages"]["id"]["random"] = 45.0
        write_job(exp / f"seed={seed}", m)
    run(tmp_path)
    md = (tmp_path / "results/routerdc/table2_main.md").read_text()
    assert "| Random | 45.00 | 45.00 | 45.00 |" in md
    assert "± 0.00" not in md and "identical for every seed (deterministic" in md
    assert "| Avengers | 62.00 ± 2.00 |" in md  # a seed-dependent row keeps its spread


def test_non_default_settings_are_in_every_caption(tmp_path):
    exp = tmp_path / "outputs" / "t4"
    for emb in ("minilm", "tfidf"):
        for seed in (0, 1):
            cfg = base_config("table4_embedders", ["embedder.name"], seed)
            cfg["embedder"]["name"] = emb
            m = make_metrics(cfg)
            m["job"]["settings"] = {"data.max_queries_per_benchmark": 100, "clustering.n_clusters": 16,
                                    **({"embedder": "tfidf"} if emb == "tfidf" else {})}
            write_job(exp / f"embedder={emb},seed={seed}", m)
    spec = spec_of(run(tmp_path), "table4_embedders")
    # the varied embedder is a row, not a setting; what every job shares is
    assert spec["settings"] == {"clustering.n_clusters": 16, "data.max_queries_per_benchmark": 100}
    out = tmp_path / "results/routerdc"
    caption = "Settings (differing from the package defaults): clustering.n_clusters=16, data.max_queries_per_benchmark=100."
    assert caption in (out / "table4_embedders.md").read_text().splitlines()[2]
    assert "\\caption{" in (out / "table4_embedders.tex").read_text()
    assert "data.max\\_queries\\_per\\_benchmark=100" in (out / "table4_embedders.tex").read_text()


def test_adhoc_sweep_gets_one_table_per_varied_setting(tmp_path):
    """Jobs run without experiment=: rows methods, columns benchmarks, one table per setting."""
    exp = tmp_path / "outputs" / "default"
    for method, k in (("kmeans", 8), ("kmeans", 64), ("gmm", 8), ("gmm", 64)):
        for seed in (0, 1):
            cfg = base_config("x", [], seed)
            del cfg["experiment"]
            cfg["name"] = "default"
            cfg["clustering"] = {"name": method, "n_clusters": k, **({"n_init": 10} if method == "kmeans" else
                                                                       {"covariance_type": "diag"})}
            m = make_metrics(cfg, shift=k / 8 + (method == "gmm"))
            m["job"]["settings"] = {"data.max_queries_per_benchmark": 50}
            write_job(exp / f"clustering={method},clustering.n_clusters={k},seed={seed}", m)
    report = run(tmp_path)
    spec = spec_of(report, "default")
    assert spec["suite"] == "routerdc" and spec["layout"] == "methods/benchmarks"
    # the method's own parameters (n_init, covariance_type) follow its name: not settings of their own
    assert spec["vary"] == ["clustering.n_clusters", "clustering.name"]
    groups = [r["group"] for r in spec["rows"]]
    assert list(dict.fromkeys(groups)) == ["K=8, Clustering=gmm", "K=8, Clustering=kmeans",
                                           "K=64, Clustering=gmm", "K=64, Clustering=kmeans"]
    av = {r["group"]: r for r in spec["rows"] if r["method"] == "avengers"}
    # seeds 0, 1 -> 60 + 1 (mean seed shift) + K/8 (+1 for gmm) on arc
    assert av["K=64, Clustering=gmm"]["cells"]["arc"]["mean"] == 70.0
    assert av["K=8, Clustering=kmeans"]["cells"]["arc"]["n"] == 2
    md = (tmp_path / "results/routerdc/default.md").read_text()
    assert md.count("| Method | arc | gsm8k | mmlu_pro | ID Avg | OOD Avg |") == 4
    assert "### K=64, Clustering=gmm" in md and "data.max_queries_per_benchmark=50" in md.splitlines()[2]
    assert "FAILED" not in report.log


def test_table6_layout_has_each_baseline_once(tmp_path):
    make_sweep(tmp_path, "table6_ensemble", ["ensemble.name"],
               [{"ensemble.name": e} for e in ("direct", "self_consistency", "oracle")], seeds=(0, 1),
               shift_of=lambda v: {"direct": 0.0, "self_consistency": 1.0, "oracle": 3.0}[v["ensemble.name"]])
    spec = spec_of(run(tmp_path), "table6_ensemble")
    assert spec["layout"] == "methods/variants"
    assert [c["label"] for c in spec["columns"]] == ["direct", "oracle", "self_consistency"]
    methods = [r["method"] for r in spec["rows"]]
    assert methods == ["model:alpha", "model:beta", "random", "best_single", "dataset_oracle", "oracle", "avengers"]
    av = next(r for r in spec["rows"] if r["method"] == "avengers")
    assert [av["cells"][c["key"]]["mean"] for c in spec["columns"]] == [66.0, 69.0, 67.0]


@pytest.mark.parametrize("report_node, message", [
    ({"rows": "variant"}, r"rows='variant'.*Did you mean 'variants'"),
    ({"colums": "averages"}, r"unknown experiment.report key 'colums'.*Did you mean 'columns'"),
    ({"figure": "parteo"}, r"figure='parteo'.*Did you mean 'pareto'"),
    ({"rows": "methods", "columns": "test_and_calibration"}, "no report layout rows='methods' x columns="),
])
def test_bad_layout_is_refused_with_one_clear_message(tmp_path, report_node, message):
    exp = tmp_path / "outputs" / "x"
    cfg = base_config("my_table", ["clustering.n_clusters"], 0)
    cfg["experiment"]["report"] = report_node
    write_job(exp / "seed=0", make_metrics(cfg))
    with pytest.raises(AvengersError, match=message):
        run(tmp_path)


def test_yaml_declared_layout_needs_no_code(tmp_path):
    """A new experiment's table: only its experiment.report, as a user's YAML would declare it."""
    exp = tmp_path / "outputs" / "my_k"
    for k in (4, 16):
        for seed in (0, 1):
            cfg = base_config("my_k_table", ["clustering.n_clusters"], seed)
            cfg["clustering"]["n_clusters"] = k
            cfg["experiment"]["report"] = {"title": "My K sweep", "rows": "variants", "columns": "averages",
                                           "splits": ["ood"], "figure": "curve", "xlabel": "clusters"}
            write_job(exp / f"clustering.n_clusters={k},seed={seed}", make_metrics(cfg, shift=k / 4))
    report = run(tmp_path, figures=True)
    spec = spec_of(report, "my_k_table")
    assert spec["title"] == "My K sweep" and spec["xlabel"] == "clusters" and spec["figure"] == "curve"
    assert [c["key"] for c in spec["columns"]] == ["avg_ood", "mmlu_pro"]
    assert (tmp_path / "results/routerdc/my_k_table.png").read_bytes()[:4] == b"\x89PNG"


def test_default_out_is_next_to_the_runs_never_results(tmp_path, monkeypatch):
    make_sweep(tmp_path, "table2_main", [], [{}], seeds=(0,))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--runs", "outputs/routerdc_table2_main", "--no-figures"]) == 0
    assert (tmp_path / "outputs/routerdc_table2_main/tables/routerdc/table2_main.md").is_file()
    assert not (tmp_path / "results").exists()


def test_a_varied_group_s_own_settings_are_named_once():
    from avengers.report.render import compact_differences

    keys = ["clustering.n_init", "clustering.threshold", "router.clustering.n_init", "router.beta"]
    assert compact_differences(keys, ["clustering.name"]) == [
        "router.beta", "clustering.* (each clustering's own settings: 3 keys, listed in the .sources.json)"]
    assert compact_differences(keys, ["clustering.n_clusters"]) == keys  # not a whole group: every key
