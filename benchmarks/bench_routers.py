"""Fit and routing time of every router on the RouterDC calibration split, plus its test
averages (ID / OOD) beside best single and random. A measurement script, not a test: the
figures go in the notes.

    .venv/bin/python benchmarks/bench_routers.py [--embedder minilm|tfidf] [--data routerdc]
        [--routers knn,linear,...] [--seed 0] [--route-n 20000] [--no-score] [override ...]

Embeddings come from the embedding cache (~/.cache/avengers, or $AVENGERS_CACHE_DIR); routers
and clusterings are fitted cold, in a temporary cache, so the fit times are real fits. Fit
time is wall-clock and CPU time (this process and its worker processes; the machine may be
shared: CPU time is the steadier figure); routing time is `router.rank` over `--route-n` test embeddings (the test split
tiled; evenly spaced test queries when --route-n is smaller), embedding excluded. Scores use the
pipeline's own evaluation (ensemble=direct); --no-score skips them (routing every test query).
Trained routers also print their time per training step and per held-out evaluation.

`--routers routerdc_finetune` (not in the default list) fine-tunes MiniLM end to end: a full
default fit is about two hours on the 2-core dev machine (extrapolated from 40 steps) and its
routing encodes every query text, ~65 ms each (docs/routers.md).
The job's embedder is irrelevant to it; `--embedder tfidf` saves embedding the queries. A
shorter timing run: `--routers routerdc_finetune --route-n 1000 --no-score router.steps=40
router.eval_every=20`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ALL = ["avengers", "avengers_shrinkage", "knn", "linear", "mlp", "embedllm", "routerdc", "auto"]


def cpu_seconds() -> float:
    """CPU time of this process and of its live children (router=auto's worker processes)."""
    total = time.process_time()
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    except ImportError:
        pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--data", default="routerdc")
    ap.add_argument("--routers", default=",".join(ALL))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--route-n", type=int, default=20000)
    ap.add_argument("--no-score", action="store_true", help="skip the ID/OOD scores (they route every test query once more)")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. data.max_queries_per_benchmark=200")
    args = ap.parse_args()
    # progress lines (a fine-tune logs every held-out evaluation) go to stderr, the table to stdout
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from avengers.embed.cache import CachedEmbedder
    from avengers.evaluate.metrics import averages, benchmark_scores
    from avengers.evaluate.routers import baseline_results, routed_result, single_model_results
    from avengers.pipeline import build_router, calibration_set, load_table
    from avengers.run import CONF_DIR
    from avengers.split import make_splits
    from avengers.split.views import make_view

    embed_cache = Path(os.environ.get("AVENGERS_CACHE_DIR", Path.home() / ".cache" / "avengers"))
    data_root = os.environ.get("AVENGERS_DATA_DIR", str(REPO.parent / "shared" / "data"))

    def cfg_for(router: str, benched: bool = True):
        # router.* overrides are for the benchmarked routers, not the config that loads the data
        overrides = [o for o in args.overrides if benched or not o.lstrip("+~").startswith("router.")]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=[
                "tracking=disabled", f"data={args.data}", f"embedder={args.embedder}", f"router={router}",
                f"seed={args.seed}", f"paths.data_root={data_root}", f"paths.cache_dir={embed_cache}", *overrides])

    cfg = cfg_for("avengers", benched=False)
    table = load_table(cfg.data)
    splits = make_splits(table, cfg.data, args.seed)
    calib, test = make_view(splits.calib, table.models), make_view(splits.test, table.models)
    embedder = instantiate(cfg.embedder)
    embedder.fit(list(calib.queries["query"]))
    cached = CachedEmbedder(embedder, f"{embed_cache}/embeddings")
    e_cal, e_test = cached(list(calib.queries["query"])), cached(list(test.queries["query"]))
    if cached.n_embedded:
        print(f"(embedded {cached.n_embedded} texts that were not cached)")
    data = calibration_set(calib, e_cal, embedder.identity, table.has_cost)
    if args.route_n < len(e_test):  # evenly spaced: every benchmark's texts (their lengths matter to text encoders)
        idx = np.linspace(0, len(e_test) - 1, args.route_n).astype(int)
    else:
        idx = np.resize(np.arange(len(e_test)), args.route_n)
    q_many = e_test[idx]
    test_texts = list(test.queries["query"])
    t_many = [test_texts[i] for i in idx]

    singles = single_model_results(test, None)
    best = int(np.lexsort((np.arange(len(table.models)), -data.overall))[0])
    base = baseline_results(test, singles, best, test.bench_index())
    base_avg = averages(benchmark_scores(base, test, splits.kinds))

    fit_cache = Path(tempfile.mkdtemp(prefix="avengers-bench-routers-"))
    os.environ["AVENGERS_CACHE_DIR"] = str(fit_cache)  # cold clusterings and fits; embeddings are in hand
    print(f"data={args.data} embedder={args.embedder} seed={args.seed}: {data.n} calibration x "
          f"{data.embeddings.shape[1]}-d, {len(e_test)} test queries, {len(table.models)} models; "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    print(f"{'router':20s} {'fit wall s':>10s} {'fit cpu s':>10s} {'route ' + str(args.route_n) + ' s':>13s} "
          f"{'route cpu s':>11s} {'per 1k ms':>10s} {'ID':>7s} {'OOD':>7s}  chosen")
    for name in args.routers.split(","):
        router = build_router(cfg_for(name))
        w0, c0 = time.perf_counter(), cpu_seconds()
        router.fit(data, args.seed)
        fit_wall, fit_cpu = time.perf_counter() - w0, cpu_seconds() - c0
        router.rank(q_many[:100], t_many[:100])  # warm-up (imports, allocations)
        w0, c0 = time.perf_counter(), time.process_time()
        router.rank(q_many, t_many)
        route, route_cpu = time.perf_counter() - w0, time.process_time() - c0
        if args.no_score:
            avg = {}
        else:
            res = {name: routed_result(test, router.rank(e_test, list(test.queries["query"])), 1, None)}
            avg = averages(benchmark_scores(res, test, splits.kinds))
        d = router.describe()
        chosen = d.get("chosen") or d.get("hyperparameters") or {k: d[k] for k in ("n_clusters", "shrinkage") if k in d}
        short = {k: v for k, v in (chosen.items() if isinstance(chosen, dict) else [])
                 if k in ("router", "params", "k", "C", "dropout", "learning_rate", "n_clusters", "shrinkage")}
        if "checkpoint" in d:
            short["step"] = d["checkpoint"]["step"]
        print(f"{name:20s} {fit_wall:10.1f} {fit_cpu:10.1f} {route:13.3f} {route_cpu:11.3f} {route / args.route_n * 1e6:10.2f} "
              f"{avg.get('id', {}).get(name, float('nan')):7.2f} {avg.get('ood', {}).get(name, float('nan')):7.2f}  {short}")
        clock = getattr(router, "train_timing", None)
        if clock and clock["steps"]:
            print(f"{'':20s} training: {clock['steps']} steps, {clock['step_seconds'] / clock['steps']:.3f} s/step; "
                  f"{clock['evaluations']} held-out evaluations, "
                  f"{clock['evaluation_seconds'] / max(clock['evaluations'], 1):.2f} s each; other fit time "
                  f"{fit_wall - clock['step_seconds'] - clock['evaluation_seconds']:.1f} s")
        arrays = router.get_state()[1] if hasattr(router, "get_state") else {}
        print(f"{'':20s} fitted state: {sum(np.asarray(a).nbytes for a in arrays.values()) / 1e6:.1f} MB")
        sys.stdout.flush()
    for ref in ("best_single", "random", "dataset_oracle", "oracle"):
        print(f"{ref:20s} {'':10s} {'':10s} {'':13s} {'':11s} {'':10s} {base_avg.get('id', {}).get(ref, float('nan')):7.2f} "
              f"{base_avg.get('ood', {}).get(ref, float('nan')):7.2f}")


if __name__ == "__main__":
    main()
