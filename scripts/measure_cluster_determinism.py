"""Measure what the reproducible clustering costs and what it removes (docs/reproducibility.md).

    python scripts/measure_cluster_determinism.py [--k 64] [--repeats 5]

1. Embeds every RouterDC calibration query with TF-IDF + SVD (256-d; the data root from
   $AVENGERS_DATA_DIR) and saves the matrix, so every fit below sees the same bits.
2. Times a K-means fit the old way (scikit-learn's default: one OpenMP thread per core) and the
   new way (`ClusteringMethod.fit`: float64, FIT_THREADS threads), and fits each `--repeats`
   times to count distinct results (bitwise).
3. Refits in fresh processes with OpenBLAS forced to other CPU kernels (what another CPU would
   pick), to show how many labels move when only the BLAS kernel changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fit_child(emb: str, ks: list[int], seeds: list[int], dtype: str) -> None:
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from avengers.cluster.methods import FIT_THREADS, KMeansClustering

    x = np.load(emb).astype(np.float64)
    fits = {}
    for k in ks:
        for seed in seeds:
            if dtype == "float64":  # the harness's fit
                fit = KMeansClustering(name="kmeans", n_clusters=k, n_init=10, max_iter=300).fit(x, seed)
                labels, centers = fit.labels, fit.centers
            else:  # for comparison: the same fit in float32, as scikit-learn runs it on float32 input
                from sklearn.cluster import KMeans

                with threadpool_limits(limits=FIT_THREADS):
                    km = KMeans(n_clusters=k, random_state=seed, n_init=10, max_iter=300, algorithm="lloyd")
                    km.fit(x.astype(np.float32))
                labels, centers = km.labels_, km.cluster_centers_
            fits[f"{k}/{seed}"] = {"labels": np.asarray(labels).tolist(),
                                   "centers_sha": hashlib.sha256(np.ascontiguousarray(centers).tobytes()).hexdigest()}
    # The same product with this process's BLAS kernel: do the bits of the distances differ?
    gram = x[:2000] @ x[:512].T
    arch = sorted({str(i.get("architecture")) for i in threadpool_info() if i.get("internal_api") == "openblas"})
    print(json.dumps({"fits": fits, "arch": arch, "gram": gram.tobytes().hex()}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--kernel-ks", default="32,64,128", help="K values of the kernel comparison")
    p.add_argument("--kernel-seeds", default="0,1,2", help="seeds of the kernel comparison")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--kernel-dtypes", default="float64,float32")
    p.add_argument("--child", nargs=4, metavar=("EMB", "KS", "SEEDS", "DTYPE"))
    a = p.parse_args()
    if a.child:
        from avengers.provenance import pin_numerics

        pin_numerics()
        fit_child(a.child[0], [int(v) for v in a.child[1].split(",")], [int(v) for v in a.child[2].split(",")], a.child[3])
        return

    from avengers.provenance import pin_numerics

    pin_numerics()
    import numpy as np
    from omegaconf import OmegaConf
    from sklearn.cluster import KMeans

    from avengers.cluster.methods import FIT_THREADS, KMeansClustering
    from avengers.embed.tfidf import TfidfSvdEmbedder
    from avengers.outcomes import load_outcomes
    from avengers.split import make_splits

    conf = Path(__file__).resolve().parents[1] / "src" / "avengers" / "conf" / "data" / "routerdc.yaml"
    cfg = OmegaConf.load(conf)
    cfg.root = os.environ.get("AVENGERS_DATA_DIR")
    table = load_outcomes(cfg)
    calib = make_splits(table, cfg, 0).calib
    texts = list(calib.drop_duplicates(["benchmark", "query_id"])["query"])
    emb = TfidfSvdEmbedder()
    emb.fit(texts)
    x = emb.encode(texts)
    print(f"{len(texts)} calibration queries, {x.shape[1]}-d {x.dtype} TF-IDF embeddings, K={a.k}, n_init=10, "
          f"{os.cpu_count()} CPUs, FIT_THREADS={FIT_THREADS}")

    def old():
        km = KMeans(n_clusters=a.k, random_state=0, n_init=10, max_iter=300, algorithm="lloyd").fit(x.astype(np.float64))
        return km.labels_, km.cluster_centers_

    def new():
        fit = KMeansClustering(name="kmeans", n_clusters=a.k, n_init=10, max_iter=300).fit(x, 0)
        return fit.labels, fit.centers

    for name, fn in (() if a.skip_timing else (("old (default threads)", old), (f"new ({FIT_THREADS} thread, float64)", new))):
        times, cpu, digests = [], [], set()
        for _ in range(a.repeats):
            t, c = time.perf_counter(), time.process_time()
            labels, centers = fn()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)  # all threads: on a busy machine the fairer measure
            digests.add(hashlib.sha256(labels.tobytes() + np.ascontiguousarray(centers).tobytes()).hexdigest())
        print(f"{name:32s} wall median {np.median(times):6.2f} s (min {min(times):6.2f})  CPU median "
              f"{np.median(cpu):6.2f} s  distinct results in {a.repeats} fits: {len(digests)}")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        for dtype in [d for d in a.kernel_dtypes.split(",") if d]:
            runs = {}
            for core in ("Haswell", "Sandybridge"):  # FMA kernels vs AVX-without-FMA kernels
                env = dict(os.environ, OPENBLAS_CORETYPE=core)
                out = subprocess.run([sys.executable, __file__, "--child", path, a.kernel_ks, a.kernel_seeds, dtype],
                                     env=env, capture_output=True, text=True, check=True).stdout
                runs[core] = json.loads(out.strip().splitlines()[-1])
            h, s = runs["Haswell"], runs["Sandybridge"]
            if dtype == "float64":
                g1 = np.frombuffer(bytes.fromhex(h["gram"]))
                g2 = np.frombuffer(bytes.fromhex(s["gram"]))
                print(f"x @ x.T (2000 x 512, float64) with OpenBLAS {h['arch']} vs {s['arch']} kernels: "
                      f"{int((g1 != g2).sum())} of {g1.size} entries differ in their bits")
            for key in h["fits"]:
                l1, l2 = np.array(h["fits"][key]["labels"]), np.array(s["fits"][key]["labels"])
                same = h["fits"][key]["centers_sha"] == s["fits"][key]["centers_sha"]
                print(f"{dtype} K/seed {key:7s}: {int((l1 != l2).sum()):4d} of {len(l1)} labels differ between the "
                      f"Haswell and Sandybridge kernels; centres bit-identical: {same}")


if __name__ == "__main__":
    main()
