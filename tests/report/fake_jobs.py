"""Fake avengers-run job folders: metrics.json files in the format the run app writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ID_BENCH = ("arc", "gsm8k")
OOD_BENCH = ("mmlu_pro",)
MODELS = ("model:alpha", "model:beta")
BASE = {
    "model:alpha": 50.0, "model:beta": 40.0, "random": 45.0, "best_single": 52.0,
    "dataset_oracle": 55.0, "oracle": 80.0, "avengers": 60.0,
}
BENCH_OFFSET = {"arc": 0.0, "gsm8k": 10.0, "mmlu_pro": -5.0}
COST = {"model:alpha": 10.0, "model:beta": 1.0, "random": 5.5, "best_single": 10.0, "oracle": 3.0}


def score(method: str, bench: str, seed: int, shift: float = 0.0) -> float:
    """Routers move with the variant shift and the seed (2 points per seed); baselines only with the seed."""
    s = BASE[method] + BENCH_OFFSET[bench] + 2.0 * seed
    return s + shift if method.startswith("avengers") else s


def declared_layouts() -> dict[str, dict[str, Any]]:
    """table -> experiment.report as declared by the package's experiment configs (so these
    fixtures render exactly as the real experiments do)."""
    import yaml

    from avengers.api import CONF_DIR

    out: dict[str, dict[str, Any]] = {}
    for path in sorted((CONF_DIR / "experiment").glob("*.yaml")):
        exp = (yaml.safe_load(path.read_text()) or {}).get("experiment") or {}
        if exp.get("report"):
            out.setdefault(exp["table"], exp["report"])
        for extra in exp.get("also") or []:
            if isinstance(extra, dict) and extra.get("report"):
                out.setdefault(extra["table"], extra["report"])
    return out


LAYOUTS = declared_layouts()


def base_config(table: str, vary: list[str], seed: int, suite: str = "routerdc") -> dict[str, Any]:
    experiment = {"suite": suite, "table": table, "vary": list(vary)}
    if table in LAYOUTS:
        experiment["report"] = copy.deepcopy(LAYOUTS[table])
    return {
        "seed": seed,
        "name": f"{suite}_{table}",
        "data": {"name": suite, "source": suite, "calibration_fraction": 0.7},
        "embedder": {"name": "minilm", "batch_size": 64},
        "clustering": {"name": "kmeans", "n_clusters": 64},
        "router": {"name": "avengers", "top_n": 3, "top_k": 1, "beta": 9.0, "alpha": 0.0},
        "ensemble": {"name": "none", "n_samples": 1},
        "experiment": experiment,
        "tracking": {"mode": "disabled"},
        "paths": {"output_dir": f"/somewhere/seed{seed}"},
    }


def set_dotted(cfg: dict, key: str, value: Any) -> None:
    node = cfg
    *parents, last = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def make_metrics(cfg: dict[str, Any], shift: float = 0.0, extra_routers: dict[str, float] | None = None,
                 calibration: bool = True, cost: dict[str, float] | None = None) -> dict[str, Any]:
    seed = cfg["seed"]
    methods = dict(BASE)
    benchmarks = {}
    for split, names in (("id", ID_BENCH), ("ood", OOD_BENCH)):
        for b in names:
            scores = {m: score(m, b, seed, shift) for m in methods}
            for name, off in (extra_routers or {}).items():
                scores[name] = scores["avengers"] + off
            benchmarks[b] = {"split": split, "n_test": 100 + len(b), "scores": scores}
    averages = {}
    for split, names in (("id", ID_BENCH), ("ood", OOD_BENCH)):
        keys = benchmarks[names[0]]["scores"]
        averages[split] = {k: sum(benchmarks[b]["scores"][k] for b in names) / len(names) for k in keys}
    out = {
        "benchmarks": benchmarks,
        "averages": averages,
        "config": cfg,
        "provenance": {"git_commit": "abc", "packages": {}, "data": {}},
        "job": {"output_dir": cfg["paths"]["output_dir"], "override_dirname": "", "num": 0},
    }
    import hashlib

    blob = json.dumps({k: v for k, v in cfg.items() if k not in ("tracking", "paths")}, sort_keys=True)
    out["config_hash"] = hashlib.sha256(blob.encode()).hexdigest()
    if calibration:
        out["calibration"] = {"averages": {"id": {k: v - 1.0 for k, v in averages["id"].items()
                                                  if k.startswith("avengers")}}}
    if cost is not None:
        out["cost"] = dict(cost)
    return out


def write_job(job_dir: Path, metrics: dict[str, Any] | None, hydra_cfg: dict[str, Any] | None = None,
              raw: str | None = None) -> Path:
    job_dir.mkdir(parents=True, exist_ok=True)
    cfg = hydra_cfg if hydra_cfg is not None else (metrics or {}).get("config")
    if cfg is not None:
        import yaml

        (job_dir / ".hydra").mkdir(exist_ok=True)
        (job_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=True))
    if raw is not None:
        (job_dir / "metrics.json").write_text(raw)
    elif metrics is not None:
        (job_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return job_dir


def make_sweep(root: Path, table: str, vary: list[str], variants: list[dict[str, Any]], seeds=(0, 1, 2),
               shift_of=None, suite: str = "routerdc", exp: str | None = None, **metrics_kw) -> Path:
    """outputs/<exp>/<override_dirname>/metrics.json for every variant x seed."""
    exp_dir = root / "outputs" / (exp or f"{suite}_{table}")
    for values in variants:
        for seed in seeds:
            cfg = base_config(table, vary, seed, suite)
            for k, v in values.items():
                set_dotted(cfg, k, v)
            override = ",".join([f"{k}={v}" for k, v in values.items()] + [f"seed={seed}"])
            shift = shift_of(values) if shift_of else 0.0
            kw = copy.deepcopy(metrics_kw)
            if callable(kw.get("cost")):
                kw["cost"] = kw["cost"](values, seed)
            write_job(exp_dir / override, make_metrics(cfg, shift=shift, **kw))
    return exp_dir
