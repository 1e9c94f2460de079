"""GPU check of the collect stage's vLLM backend: our path vs bare ``vllm.LLM`` throughput.

Generates ``--n`` samples for each of ``--prompts`` synthetic prompts with a small model, once
through ``avengers.generate.backends.vllm.VLLMBackend`` (a fresh process per model, chunked
``llm.chat``, results stored in a throw-away generation store, as ``avengers-generate`` does) and
once through bare ``vllm.LLM.chat`` in a fresh process, then prints both throughputs
(completion tokens/s and samples/s, over generation time and over wall time with model load)
and how many of the samples agree (same seeds: they should, up to batch nondeterminism).

Needs a GPU and ``pip install -e '.[vllm]'``; the model must be downloadable or cached
(``--model`` takes a local path too).

    python benchmarks/gpu_vllm_check.py --model Qwen/Qwen2.5-0.5B-Instruct --prompts 300 --n 10
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path


def make_prompts(k: int) -> list[str]:
    out = []
    for i in range(k):
        a, b = 3 + (i * 7) % 97, 5 + (i * 13) % 89
        if i % 3 == 0:
            out.append(f"What is {a} times {b}? Think step by step and end with 'The answer is N'.")
        elif i % 3 == 1:
            out.append(f"A shop sells {a} apples a day for {b} days. How many apples is that? End with 'The answer is N'.")
        else:
            out.append(f"Which is larger, {a}/{b} or {b}/{a}? Answer briefly and end with 'The answer is X'.")
    return out


def run_ours(args: argparse.Namespace, prompts: list[str]) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from avengers.generate.backends import Request, Sampling
    from avengers.generate.backends.vllm import VLLMBackend
    from avengers.generate.pool import ModelSpec
    from avengers.generate.store import GenerationStore, StoredSample

    model = ModelSpec(name=Path(args.model).name, hf_id=args.model)
    backend = VLLMBackend(
        tensor_parallel_size=args.tensor_parallel_size,
        dtype=args.dtype,
        max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization,
        chunk_size=args.chunk_size,
    )
    sampling = Sampling(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed)
    reqs = [Request("check", f"p{i:05d}", p, tuple(range(args.n))) for i, p in enumerate(prompts)]
    texts: dict[str, str] = {}
    tokens = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, GenerationStore(Path(tmp) / "g.sqlite") as store:
        for batch in backend.generate(model, reqs, sampling):
            store.put(
                StoredSample(model.name, r.benchmark, r.query_id, "h", r.sample, args.seed, r.text,
                             r.prompt_tokens, r.completion_tokens, r.cost, r.finish_reason, "vllm")
                for r in batch
            )
            for r in batch:
                texts[f"{r.query_id}/{r.sample}"] = r.text
                tokens += int(r.completion_tokens or 0)
        stored = store.count()
    wall = time.perf_counter() - t0
    st = backend.last_stats
    return {"path": "ours (VLLMBackend + store)", "load_s": st.get("load_s"), "gen_s": st.get("gen_s"), "wall_s": wall,
            "samples": stored, "completion_tokens": tokens, "texts": texts}


def _bare_worker(q, args_d: dict, prompts: list[str]) -> None:
    import vllm

    t0 = time.perf_counter()
    llm = vllm.LLM(
        model=args_d["model"], tensor_parallel_size=args_d["tensor_parallel_size"], seed=args_d["seed"],
        generation_config="vllm", dtype=args_d["dtype"], max_model_len=args_d["max_model_len"],
        gpu_memory_utilization=args_d["gpu_memory_utilization"],
    )
    load_s = time.perf_counter() - t0
    params = [
        vllm.SamplingParams(n=args_d["n"], temperature=args_d["temperature"], top_p=args_d["top_p"],
                            seed=args_d["seed"], max_tokens=args_d["max_tokens"])
        for _ in prompts
    ]
    t1 = time.perf_counter()
    outs = llm.chat([[{"role": "user", "content": p}] for p in prompts], params, use_tqdm=False)
    gen_s = time.perf_counter() - t1
    texts, tokens = {}, 0
    for i, out in enumerate(outs):
        for o in out.outputs:
            texts[f"p{i:05d}/{o.index}"] = o.text
            tokens += len(o.token_ids)
    q.put(json.dumps({"load_s": load_s, "gen_s": gen_s, "completion_tokens": tokens, "texts": texts}))


def run_bare(args: argparse.Namespace, prompts: list[str]) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    p = ctx.Process(target=_bare_worker, args=(q, vars(args), prompts))
    p.start()
    res = json.loads(q.get())
    p.join()
    wall = time.perf_counter() - t0
    return {"path": "bare vllm.LLM.chat", "load_s": res["load_s"], "gen_s": res["gen_s"], "wall_s": wall,
            "samples": len(res["texts"]), "completion_tokens": res["completion_tokens"], "texts": res["texts"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct", help="HF id or local path")
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tensor-parallel-size", type=int, default=1)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.85)
    ap.add_argument("--chunk-size", type=int, default=1024, help="prompts per llm.chat call in our backend")
    ap.add_argument("--skip-ours", action="store_true")
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument("--json-out", type=Path, default=None, help="write the numbers (not the texts) here")
    args = ap.parse_args(argv)

    try:
        import vllm  # noqa: F401
    except ImportError:
        print("vllm is not installed: pip install -e '.[vllm]' on a GPU machine.", file=sys.stderr)
        return 2
    prompts = make_prompts(args.prompts)
    results = []
    if not args.skip_ours:
        results.append(run_ours(args, prompts))
    if not args.skip_bare:
        results.append(run_bare(args, prompts))
    print(f"model {args.model}: {args.prompts} prompts x n={args.n}, max_tokens={args.max_tokens}")
    print(f"{'path':30s} {'load s':>8s} {'gen s':>8s} {'wall s':>8s} {'samples':>8s} {'tokens':>9s} "
          f"{'tok/s gen':>10s} {'smp/s gen':>10s} {'tok/s wall':>10s}")
    rows = []
    for r in results:
        gen = r["gen_s"] or float("nan")
        row = {k: v for k, v in r.items() if k != "texts"}
        row.update(tokens_per_s=r["completion_tokens"] / gen, samples_per_s=r["samples"] / gen,
                   tokens_per_s_wall=r["completion_tokens"] / r["wall_s"])
        rows.append(row)
        print(f"{r['path']:30s} {r['load_s']:8.1f} {gen:8.1f} {r['wall_s']:8.1f} {r['samples']:8d} "
              f"{r['completion_tokens']:9d} {row['tokens_per_s']:10.0f} {row['samples_per_s']:10.1f} "
              f"{row['tokens_per_s_wall']:10.0f}")
    if len(results) == 2:
        a, b = results[0]["texts"], results[1]["texts"]
        same = sum(a.get(k) == v for k, v in b.items())
        print(f"identical samples (same seeds): {same}/{len(b)}")
        rows.append({"identical_samples": same, "of": len(b)})
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
