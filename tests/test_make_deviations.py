"""scripts/make_deviations.py: docs/deviations.md from finished jobs, numbers from metrics.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_deviations", REPO / "scripts" / "make_deviations.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _job(root: Path, dev: dict, seed: int, id_avg: float, ood_avg: float | None, cost: float | None = None) -> None:
    cfg = {
        "seed": seed, "name": "deviations", "embedder": {"name": "minilm"},
        "experiment": {"suite": "deviations", "table": "deviations", "vary": ["experiment.deviation.id"],
                       "deviation": dev, "rows": ["harness", "centers_raw", "switch_harness", "switch_reference", "ties_order"],
                       "not_measurable": [{"switch": "router.missing_cost", "harness": "model_mean", "reference": "zero",
                                           "reason": "never free", "source": "x.py:1"}],
                       "generation_side": []},
    }
    averages = {"id": {"avengers": id_avg}}
    benchmarks = {"b": {"split": "id", "n_test": 1, "scores": {"avengers": id_avg}}}
    if ood_avg is not None:
        averages["ood"] = {"avengers": ood_avg}
    m = {"benchmarks": benchmarks, "averages": averages, "config": cfg, "config_hash": f"{dev['id']}{seed}"}
    if cost is not None:
        m["cost"] = {"avengers": cost}
    d = root / f"deviation={dev['id']},seed={seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(m))


def test_rows_pair_each_switch_with_its_harness_side(tmp_path):
    mod = _script()
    runs = tmp_path / "deviations"
    base = {"id": "harness", "pair": None, "setting": "harness", "data": "routerdc"}
    centers = {"id": "centers_raw", "pair": "centers", "setting": "reference", "data": "routerdc",
               "switch": "clustering.centers", "harness": "normalised", "reference": "raw",
               "reason": "angle | not tightness", "source": "rank_router.py:98"}
    sw_h = {"id": "switch_harness", "pair": "switch", "setting": "harness", "data": "mot_date"}
    sw_r = {"id": "switch_reference", "pair": "switch", "setting": "reference", "data": "mot_date",
            "switch": "ensemble.threshold", "harness": "0.5", "reference": "0.8", "reason": "r", "source": "s"}
    for seed, (h, r) in enumerate([(56.0, 55.0), (57.0, 55.0), (58.0, 55.0)]):
        _job(runs, base, seed, h, h - 10)
        _job(runs, centers, seed, r, r - 11)
        _job(runs, sw_h, seed, 90.0 + seed, None, cost=1.0)
        _job(runs, sw_r, seed, 89.0, None, cost=2.0)
    out = tmp_path / "deviations.md"
    assert mod.main(["--runs", str(runs), "--out", str(out)]) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    # centers vs the shared RouterDC baseline: harness 57 ± 1, reference 55 ± 0, delta -2.
    assert rows[0].startswith("| `clustering.centers` | normalised | raw | RouterDC | 57.00 ± 1.00 | 55.00 ± 0.00 | -2.00 "
                              "| 47.00 ± 1.00 | 44.00 ± 0.00 | -3.00 |")
    assert "angle \\| not tightness" in rows[0]  # a pipe in the text cannot break the table
    # the threshold pair has its own harness side (MoT), no OOD, and costs.
    assert rows[1].startswith("| `ensemble.threshold` | 0.5 | 0.8 | MoT date | 91.00 ± 1.00 | 89.00 ± 0.00 | -2.00 | – | – | – "
                              "| 1.0000 ± 0.0000 | 2.0000 ± 0.0000 |")
    assert "| `router.missing_cost` | model_mean | zero | not measurable on released outcomes |" in text
    assert "Not run (no finished job): ties_order." in text
    # Same jobs, same bytes.
    again = tmp_path / "again.md"
    mod.main(["--runs", str(runs), "--out", str(again)])
    assert again.read_bytes() == out.read_bytes()


def test_no_deviation_jobs_is_one_clear_error(tmp_path, capsys):
    mod = _script()
    d = tmp_path / "x"
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps({"benchmarks": {}, "averages": {}, "config": {
        "experiment": {"suite": "routerdc", "table": "table2_main"}}}))
    assert mod.main(["--runs", str(tmp_path), "--out", str(tmp_path / "o.md")]) == 2
    assert "experiment=deviations" in capsys.readouterr().err
