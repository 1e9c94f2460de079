"""Embedding speed on this machine, in one run (issue 14). A measurement script, not a test.

    .venv/bin/python benchmarks/bench_speed.py [--sample 2000] [--repeats 2] [--skip-jobs] [--skip-cold]

Prints:
  1. a bare `SentenceTransformer.encode` vs the harness's cold embedding (CachedEmbedder on an
     empty cache: hashing, length sort, chunked SQLite writes included) of the same texts with
     the same batch size; the ratio should be <= 1.1;
  2. MiniLM float32 vs bfloat16 vs the static (model2vec) embedder: queries/s and ratio, plus the
     cosine of the bf16 vectors to the fp32 ones;
  3. the default job cold (empty caches: all 18k RouterDC queries embedded) and warm, each a
     fresh `avengers-run` process (benchmarks/bench_default_job.py).

The texts are a fixed sample (seed 0) of the unique RouterDC queries. Models are loaded before
the clock starts (loading is not encoding). Each timing is the best of --repeats runs, the
sides of a comparison alternating, so that a shared machine's load hurts both alike. Beside wall
time it reports the process's CPU time (all threads): on a shared machine the wall clock mostly
measures the neighbours, while CPU time still measures the work each side does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def routerdc_sample(n: int, seed: int = 0) -> list[str]:
    from hydra import compose, initialize_config_dir

    from avengers.pipeline import load_table
    from avengers.run import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["tracking=disabled"])
    queries = sorted(set(load_table(cfg.data).df["query"].astype(str)))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(queries), size=min(n, len(queries)), replace=False)
    return [queries[i] for i in sorted(pick)]


def timed(fn) -> tuple[float, float, object]:
    """(wall s, CPU s of this process, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def fmt(ts: list[float]) -> str:
    return "[" + ", ".join(f"{t:.2f}" for t in ts) + "]"


def line(label: str, n: int, wall: list[float], cpu: list[float]) -> str:
    return (f"   {label:17s} wall {min(wall):7.2f} s ({n / min(wall):6.1f} q/s)  cpu {min(cpu):7.2f} s "
            f"({n / min(cpu):6.1f} q/cpu-s)   runs wall {fmt(wall)} cpu {fmt(cpu)}")


def bare_vs_harness(texts: list[str], repeats: int) -> None:
    from sentence_transformers import SentenceTransformer

    from avengers.embed.cache import CachedEmbedder
    from avengers.embed.sentence import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", batch_size=64, device="cpu")
    emb._load()
    bare = SentenceTransformer(emb.path, device="cpu")
    bare.encode(texts[:64], batch_size=64)  # first-call warm-up, for both sides
    emb.encode(texts[:64])

    def run_bare():
        return bare.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)

    inside = {"wall": 0.0, "cpu": 0.0}  # time the harness spends inside the model's encode
    encode = emb.encode

    def timed_encode(batch):
        w, c, out = timed(lambda: encode(batch))
        inside["wall"] += w
        inside["cpu"] += c
        return out

    emb.encode = timed_encode

    def run_harness():
        inside["wall"] = inside["cpu"] = 0.0
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as d:  # cold: an empty cache every time
            return CachedEmbedder(emb, d, progress=False)(texts)

    wall = {"bare": [], "harness": []}
    cpu = {"bare": [], "harness": []}
    overhead = {"wall": [], "cpu": []}
    for _ in range(repeats):
        for side, fn in (("bare", run_bare), ("harness", run_harness)):
            w, c, out = timed(fn)
            wall[side].append(w)
            cpu[side].append(c)
            if side == "harness":
                got = out
                overhead["wall"].append(w - inside["wall"])
                overhead["cpu"].append(c - inside["cpu"])
            else:
                ref = out
    from avengers.embed.base import l2_normalise

    ref = l2_normalise(ref)  # the harness re-normalises in float32 (as it always has)
    cos = (got * ref).sum(1)
    n = len(texts)
    print(f"1. bare SentenceTransformer.encode vs harness (cold cache), MiniLM fp32, batch 64, {n} texts")
    print(line("bare encode:", n, wall["bare"], cpu["bare"]))
    print(line("harness, cold:", n, wall["harness"], cpu["harness"]))
    print(f"   ratio harness/bare: wall {min(wall['harness']) / min(wall['bare']):.3f}, "
          f"cpu {min(cpu['harness']) / min(cpu['bare']):.3f}   (target <= 1.1; min cosine to the bare "
          f"vectors {cos.min():.6f}; bit-identical: {np.array_equal(got, ref)}, as texts of equal length may "
          f"fall into other batches: the harness sorts stably so that a resumed run batches as before)")
    print(f"   harness time outside the model's encode (hashing, sort, SQLite, checks): wall "
          f"{fmt(overhead['wall'])} s, cpu {fmt(overhead['cpu'])} s")


def harness_overhead_all(dim: int = 384) -> None:
    """The harness's own cost on every RouterDC query, with an embedder that costs nothing
    (precomputed unit vectors): what the cache adds to a cold default job, and to a warm one."""
    from avengers.embed.cache import CachedEmbedder

    texts = routerdc_sample(10**9)
    table = np.random.default_rng(0).normal(size=(len(texts), dim)).astype(np.float32)
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    row = {t: i for i, t in enumerate(texts)}

    class Free:
        name, identity, batch_size = "free", "free-v1", 64

        def fit(self, texts):
            pass

        def encode(self, batch):
            return table[[row[t] for t in batch]]

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as d:
        cold_w, cold_c, _ = timed(lambda: CachedEmbedder(Free(), d, progress=False)(texts))
        warm_w, warm_c, _ = timed(lambda: CachedEmbedder(Free(), d, progress=False)(texts))
    print(f"   harness alone on all {len(texts)} RouterDC queries ({dim}-d, an embedder that costs nothing): "
          f"cold {cold_w:.2f} s wall / {cold_c:.2f} s cpu, warm read {warm_w:.2f} s / {warm_c:.2f} s")


def dtypes_and_static(texts: list[str], repeats: int, skip_static: bool) -> None:
    from avengers.embed.device import cpu_has_native_bf16

    from avengers.embed.sentence import SentenceTransformerEmbedder

    sides = {}
    for dt in ("float32", "bfloat16"):
        e = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", batch_size=64,
                                        device="cpu", dtype=dt)
        e._load()
        e.encode(texts[:64])
        sides[dt] = e
    if not skip_static:
        from avengers.embed.static import Model2VecEmbedder

        s = Model2VecEmbedder()
        t0 = time.perf_counter()
        s._load()  # distils once into the cache (minutes the first time), then loads
        print(f"   (static model ready in {time.perf_counter() - t0:.1f} s: {s.model_dir})")
        s.encode(texts[:64])
        sides["static"] = s
    wall: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    vecs = {}
    for _ in range(repeats):
        for k, e in sides.items():
            w, c, vecs[k] = timed(lambda: e.encode(texts))
            wall[k].append(w)
            cpu[k].append(c)
    n = len(texts)
    print(f"2. encoders on {n} RouterDC queries (CPU, {os.cpu_count()} cores; native bf16 on this CPU: "
          f"{cpu_has_native_bf16()}); ratio = speed vs fp32")
    for k in sides:
        print(line(k, n, wall[k], cpu[k]) + f"   ratio wall x{min(wall['float32']) / min(wall[k]):.2f}, "
              f"cpu x{min(cpu['float32']) / min(cpu[k]):.2f}")
    cos = (vecs["bfloat16"] * vecs["float32"]).sum(1)
    print(f"   bf16 vs fp32 vectors: mean cosine {cos.mean():.5f}, min {cos.min():.5f}")


def jobs(skip_cold: bool, cache: Path | None) -> None:
    from bench_default_job import embedded, run

    cache = cache or Path(tempfile.mkdtemp(prefix="avengers-bench-cache-"))
    with tempfile.TemporaryDirectory(prefix="avengers-bench-out-") as tmp:
        tmp = Path(tmp)
        print(f"3. default job (fresh avengers-run processes, cache {cache})")
        if not skip_cold:
            dt, log = run([], cache, tmp / "cold")
            print(f"   cold: {dt:7.1f} s   embedded (new, cached): {embedded(log)}")
        dt, log = run([], cache, tmp / "warm")
        print(f"   warm: {dt:7.1f} s   embedded (new, cached): {embedded(log)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=2000, help="RouterDC queries to encode (fixed sample, seed 0)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-harness", action="store_true", help="skip 1 (bare vs harness)")
    ap.add_argument("--skip-dtypes", action="store_true", help="skip 2 (fp32 vs bf16 vs static)")
    ap.add_argument("--skip-static", action="store_true", help="leave the static embedder out of 2")
    ap.add_argument("--skip-jobs", action="store_true", help="skip 3 (default job cold/warm)")
    ap.add_argument("--skip-cold", action="store_true", help="in 3, time only the warm job")
    ap.add_argument("--job-cache", type=Path, help="in 3, use this cache (e.g. a filled one, with --skip-cold)")
    ap.add_argument("--dtype-sample", type=int, help="in 2, encode only the first N texts of the sample "
                    "(bf16 is slow on CPUs without native bf16)")
    args = ap.parse_args()
    os.environ.setdefault("AVENGERS_DATA_DIR", str(REPO.parent / "shared" / "data"))
    import torch

    print(f"machine: {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, nice {os.nice(0)}")
    texts = routerdc_sample(args.sample)
    if not args.skip_harness:
        bare_vs_harness(texts, args.repeats)
        harness_overhead_all()
    if not args.skip_dtypes:
        dtypes_and_static(texts[: args.dtype_sample or len(texts)], args.repeats, args.skip_static)
    if not args.skip_jobs:
        jobs(args.skip_cold, args.job_cache)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
