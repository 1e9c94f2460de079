"""Offline vLLM backend: fresh engine processes per model, so GPU memory is freed between models.

The parent never imports vllm. For each model it spawns ``data_parallel_size`` processes
(multiprocessing 'spawn'), one engine per group of ``tensor_parallel_size`` GPUs (its own
``CUDA_VISIBLE_DEVICES``), and deals the model's pending prompts among them round-robin. Each
builds ``vllm.LLM(model, tensor_parallel_size, seed, generation_config="vllm", dtype,
max_model_len, gpu_memory_utilization, ...)`` (``generation_config="vllm"`` so a model's
generation_config.json cannot silently override our sampling settings) and hands ALL of its
prompts to ONE ``llm.chat`` call (``llm.generate`` for models with ``chat: false``): the engine
keeps its batch full to the end instead of draining after every chunk. ``chunk_size`` (default
none) splits that call, trading throughput for finer resumption: a killed run loses the
samples of the call in flight.

Prompts too long for the engine (prompt tokens >= ``max_model_len``, which vLLM refuses) are
found with the engine's tokenizer before the call and recorded as per-item failures: an empty
text with ``finish_reason = "prompt_too_long"`` (scored as a wrong answer), never an aborted run.
Should the engine still refuse a prompt as too long, the call is bisected to isolate it.

Seeds (``seeding``): ``per_request`` (default) sends samples ``start..start+k-1`` as one request
with ``n = k, seed = base + start``; the V1 engine gives child ``j`` the seed ``seed + j``, so
sample ``i`` always has seed ``base + i`` on any GPU split or resumption. ``engine`` sends no
per-request seed (only the engine's ``seed``), which keeps vLLM on its faster batched sampler
(per-request generators force the slower per-request path), but a sample then depends on the
batch it ran in: a resumed or re-split run does not reproduce it.

API used (pinned in the ``vllm`` extra, ``vllm>=0.8.5,<0.34``): ``LLM(..., generation_config=)``
(absent before 0.8), ``LLM.chat``/``LLM.generate`` with one ``SamplingParams`` per prompt,
``LLM.get_tokenizer``, ``RequestOutput.outputs[i].{index,text,token_ids,finish_reason}``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import queue
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from avengers.generate.backends.base import (
    BACKENDS,
    BackendError,
    Request,
    SampleResult,
    Sampling,
    sample_runs,
)
from avengers.generate.pool import ModelSpec
from avengers.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["VLLMBackend", "engine_kwargs", "gpu_groups", "deal", "PROMPT_TOO_LONG"]

PROMPT_TOO_LONG = "prompt_too_long"
SEEDING = ("per_request", "engine")
_RESULTS_PER_MESSAGE = 2048  # results per queue message: bounded pickles, one store transaction each
# vLLM's refusals of an over-long prompt (input_processor.py), across the pinned versions.
_TOO_LONG = re.compile(r"prompt \(length \d+\).*(longer than|exceeds) the maximum model length|"
                       r"maximum context length", re.S)


def engine_kwargs(
    model: ModelSpec,
    *,
    seed: int,
    tensor_parallel_size: int = 1,
    dtype: str = "auto",
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.9,
    generation_config: str = "vllm",
    enforce_eager: bool = False,
    download_dir: str | None = None,
    engine: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``vllm.LLM`` keyword arguments for one model (backend settings, then the model's own)."""
    if not model.hf_id:
        raise ConfigError(f"pool model {model.name!r} has no hf_id; the vllm backend needs one (a Hub id or a local path).")
    kw: dict[str, Any] = {
        "model": model.hf_id,
        "tensor_parallel_size": int(tensor_parallel_size),
        "seed": int(seed),
        "generation_config": generation_config,
        "dtype": dtype,
        "gpu_memory_utilization": float(gpu_memory_utilization),
        "trust_remote_code": bool(model.trust_remote_code),
        "enforce_eager": bool(enforce_eager),
    }
    if max_model_len is not None:
        kw["max_model_len"] = int(max_model_len)
    if model.revision:
        kw["revision"] = model.revision
    if download_dir:
        kw["download_dir"] = download_dir
    kw.update(dict(engine or {}))
    kw.update(dict(model.engine))
    return kw


def gpu_groups(data_parallel_size: int, tensor_parallel_size: int, gpus: Sequence[int | str] | None = None,
               visible: str | None = None) -> list[str | None]:
    """The ``CUDA_VISIBLE_DEVICES`` of each engine: consecutive groups of ``tensor_parallel_size``
    GPUs out of ``gpus`` (default: the parent's CUDA_VISIBLE_DEVICES, else 0, 1, ...). With one
    engine and no explicit GPUs, None: the engine sees what the parent sees."""
    dp, tp = int(data_parallel_size), int(tensor_parallel_size)
    if gpus is None and dp == 1:
        return [None]
    if gpus is not None:
        ids = [str(g).strip() for g in gpus]
    elif visible is not None and visible.strip():
        ids = [g.strip() for g in visible.split(",") if g.strip()]
    else:
        ids = [str(i) for i in range(dp * tp)]
    if len(ids) < dp * tp:
        raise ConfigError(f"backend.data_parallel_size={dp} x tensor_parallel_size={tp} needs {dp * tp} GPUs, "
                          f"but only {len(ids)} are given ({','.join(ids) or 'none'}); set backend.gpus or "
                          f"CUDA_VISIBLE_DEVICES, or lower data_parallel_size.")
    return [",".join(ids[i * tp : (i + 1) * tp]) for i in range(dp)]


def deal(items: Sequence[Any], n: int) -> list[list[Any]]:
    """Round-robin: item i goes to engine i % n (balanced, and the same split every run)."""
    return [list(items[i::n]) for i in range(n)]


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (a killed collect run must not leave a GPU job behind)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _too_long_error(e: BaseException) -> bool:
    """vLLM refused a prompt for its length (a ValueError, VLLMValidationError in newer versions)."""
    if getattr(e, "parameter", None) in ("input_text", "input_tokens"):
        return True
    return isinstance(e, ValueError) and bool(_TOO_LONG.search(str(e)))


def _prompt_lengths(llm: Any, texts: Sequence[str], chat: bool) -> list[int] | None:
    """Prompt tokens as the engine will count them (chat template included), or None when the
    tokenizer cannot say (then only the bisection below catches over-long prompts)."""
    def count(ids: Any) -> int:
        if isinstance(ids, Mapping):  # transformers 5 returns a BatchEncoding by default
            ids = ids["input_ids"]
        if len(ids) and isinstance(ids[0], (list, tuple)):
            ids = ids[0]
        return len(ids)

    try:
        tok = llm.get_tokenizer()
        if chat:
            return [count(tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                                  tokenize=True)) for t in texts]
        return [count(tok.encode(t)) for t in texts]
    except Exception as e:  # a tokenizer without a chat template, an unusual wrapper, ...
        log.warning("could not pre-count prompt tokens (%s: %s); relying on the engine's check", type(e).__name__, e)
        return None


def _max_model_len(llm: Any, configured: int | None) -> int | None:
    for path in (("llm_engine", "model_config", "max_model_len"), ("model_config", "max_model_len")):
        obj: Any = llm
        for attr in path:
            obj = getattr(obj, attr, None)
        if isinstance(obj, int):
            return obj
    return configured


def _run_calls(vllm: Any, llm: Any, job: dict[str, Any], subs: list[list[Any]], send) -> dict[str, Any]:
    """Generate every sub-request of this engine; send results back in slices."""
    s = job["sampling"]
    seeded = job["seeding"] == "per_request"
    stats = {"gen_s": 0.0, "completion_tokens": 0, "samples": 0, "calls": 0, "too_long": 0}

    def params(start: int, count: int):
        return vllm.SamplingParams(
            n=int(count), temperature=float(s["temperature"]), top_p=float(s["top_p"]),
            seed=int(s["seed"]) + int(start) if seeded else None, max_tokens=int(s["max_tokens"]),
        )

    def failed(part: list[list[Any]], lengths: list[int]) -> list[list[Any]]:
        stats["too_long"] += len(part)
        return [[b, q, int(start) + j, "", 0.0, 0, PROMPT_TOO_LONG, n_tok]
                for (b, q, _p, start, count), n_tok in zip(part, lengths) for j in range(int(count))]

    def call(part: list[list[Any]]) -> list[list[Any]]:
        if not part:
            return []
        sps = [params(start, count) for (_b, _q, _p, start, count) in part]
        t1 = time.perf_counter()
        try:
            stats["calls"] += 1
            if job["chat"]:
                outs = llm.chat([[{"role": "user", "content": p}] for (_b, _q, p, _s, _c) in part], sps, use_tqdm=False)
            else:
                outs = llm.generate([p for (_b, _q, p, _s, _c) in part], sps, use_tqdm=False)
        except Exception as e:
            if not _too_long_error(e):
                raise
            if len(part) == 1:  # the engine counts this prompt as too long: a per-item failure
                return failed(part, [-1])
            half = len(part) // 2  # isolate the refused prompt(s) in O(k log n) calls
            return call(part[:half]) + call(part[half:])
        finally:
            stats["gen_s"] += time.perf_counter() - t1
        results = []
        for (b, q, _p, start, count), out in zip(part, outs):
            comps = sorted(out.outputs, key=lambda o: o.index)
            if len(comps) != int(count):
                raise RuntimeError(f"vLLM returned {len(comps)} outputs for n={count}")
            k = len(comps)
            ptoks = len(out.prompt_token_ids or [])
            for j, o in enumerate(comps):
                ct = len(o.token_ids)
                stats["completion_tokens"] += ct
                stats["samples"] += 1
                results.append([b, q, int(start) + j, o.text, ptoks / k, ct, o.finish_reason, ptoks])
        return results

    limit = _max_model_len(llm, job["max_model_len"])
    lengths = _prompt_lengths(llm, [p for (_b, _q, p, _s, _c) in subs], job["chat"]) if limit else None
    if lengths is not None:
        fits = [x for x, n in zip(subs, lengths) if n < limit]
        too_long = [(x, n) for x, n in zip(subs, lengths) if n >= limit]
        if too_long:
            send(failed([x for x, _ in too_long], [n for _, n in too_long]))
        subs = fits
    chunk = int(job["chunk_size"] or 0) or max(1, len(subs))
    for i in range(0, len(subs), chunk):
        send(call(subs[i : i + chunk]))
    return stats


def _worker(out_q: Any, payload: str, parent_pid: int | None = None, rank: int = 0) -> None:
    """Runs in a fresh process: load the model once, generate, report as JSON."""
    _die_with_parent()
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before prctl
        return
    try:
        job = json.loads(payload)
        if job.get("cuda_visible_devices") is not None:  # before vllm (and CUDA) is imported
            os.environ["CUDA_VISIBLE_DEVICES"] = job["cuda_visible_devices"]
        t0 = time.perf_counter()
        import vllm  # only here: the parent process never imports vllm

        llm = vllm.LLM(**job["engine"])
        load_s = time.perf_counter() - t0
        out_q.put(json.dumps({"kind": "loaded", "rank": rank, "load_s": load_s}))

        def send(results: list[list[Any]]) -> None:
            if parent_pid is not None and os.getppid() != parent_pid:
                raise SystemExit(0)  # nobody left to store the results
            for i in range(0, len(results), _RESULTS_PER_MESSAGE):
                out_q.put(json.dumps({"kind": "chunk", "rank": rank, "results": results[i : i + _RESULTS_PER_MESSAGE]}))

        stats = _run_calls(vllm, llm, job, job["subrequests"], send)
        out_q.put(json.dumps({"kind": "done", "rank": rank, "stats": {"load_s": load_s, **stats}}))
    except BaseException as e:  # report, then die
        import traceback

        out_q.put(json.dumps({"kind": "error", "rank": rank, "error": f"{type(e).__name__}: {e}",
                              "traceback": traceback.format_exc()}))
        raise


@BACKENDS.register("vllm")
class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        gpus: Sequence[int | str] | None = None,
        dtype: str = "auto",
        max_model_len: int | None = 8192,
        gpu_memory_utilization: float = 0.9,
        generation_config: str = "vllm",
        enforce_eager: bool = False,
        download_dir: str | None = None,
        seeding: str = "per_request",
        chunk_size: int | None = None,
        engine: Mapping[str, Any] | None = None,
        startup_timeout_s: float = 3600.0,
    ) -> None:
        if chunk_size is not None and int(chunk_size) < 1:
            raise ConfigError(f"backend.chunk_size must be >= 1 or null (one call per engine), got {chunk_size}.")
        for key, v in (("tensor_parallel_size", tensor_parallel_size), ("data_parallel_size", data_parallel_size)):
            if int(v) < 1:
                raise ConfigError(f"backend.{key} must be >= 1, got {v}.")
        if str(seeding) not in SEEDING:
            raise ConfigError(f"backend.seeding must be one of {', '.join(SEEDING)}, got {seeding!r}.")
        self.settings = {
            "tensor_parallel_size": int(tensor_parallel_size),
            "dtype": str(dtype),
            "max_model_len": None if max_model_len is None else int(max_model_len),
            "gpu_memory_utilization": float(gpu_memory_utilization),
            "generation_config": str(generation_config),
            "enforce_eager": bool(enforce_eager),
            "download_dir": download_dir,
            "engine": dict(engine or {}),
        }
        self.data_parallel_size = int(data_parallel_size)
        self.gpus = None if gpus is None else [str(g) for g in gpus]
        # Fail now, not after the first model's prompts are prepared.
        gpu_groups(self.data_parallel_size, int(tensor_parallel_size), self.gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.seeding = str(seeding)
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.startup_timeout_s = float(startup_timeout_s)
        self.last_stats: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "data_parallel_size": self.data_parallel_size, "gpus": self.gpus,
                "seeding": self.seeding, "chunk_size": self.chunk_size, **self.settings}

    def generate(
        self, model: ModelSpec, requests: Sequence[Request], sampling: Sampling
    ) -> Iterator[list[SampleResult]]:
        subs = [
            [r.benchmark, r.query_id, r.prompt, start, count]
            for r in requests
            for start, count in sample_runs(r.samples)
        ]
        if not subs:
            return
        groups = gpu_groups(self.data_parallel_size, self.settings["tensor_parallel_size"], self.gpus,
                            os.environ.get("CUDA_VISIBLE_DEVICES"))
        shards = [(g, part) for g, part in zip(groups, deal(subs, len(groups))) if part]
        engine = engine_kwargs(model, seed=sampling.seed, **self.settings)
        ctx = mp.get_context("spawn")
        out_q = ctx.Queue()
        procs = []
        for rank, (devices, part) in enumerate(shards):
            payload = json.dumps({
                "engine": engine, "sampling": sampling.to_dict(), "chat": model.chat, "subrequests": part,
                "chunk_size": self.chunk_size, "seeding": self.seeding, "cuda_visible_devices": devices,
                "max_model_len": self.settings["max_model_len"],
            })
            # not a daemon: vLLM starts worker processes of its own
            procs.append(ctx.Process(target=_worker, args=(out_q, payload, os.getpid(), rank),
                                     name=f"vllm-{model.name}-{rank}", daemon=False))
        for p in procs:
            p.start()
        if len(procs) > 1:
            log.info("%s: %d engines (data parallel) on GPUs %s", model.name, len(procs), [g for g, _ in shards])
        t_start = time.perf_counter()
        loaded: set[int] = set()
        finished: dict[int, dict[str, Any]] = {}
        try:
            while len(finished) < len(procs):
                try:
                    msg = json.loads(out_q.get(timeout=5.0))
                except queue.Empty:
                    for rank, p in enumerate(procs):
                        if rank not in finished and not p.is_alive():
                            raise BackendError(
                                f"the vLLM process for {model.name!r} (engine {rank}) died (exit code {p.exitcode}) "
                                "without reporting; see its log above (out of GPU memory? is vllm installed: "
                                "pip install -e '.[vllm]')."
                            ) from None
                    if len(loaded) < len(procs) and time.perf_counter() - t_start > self.startup_timeout_s:
                        raise BackendError(
                            f"the vLLM process for {model.name!r} did not load the model in {self.startup_timeout_s:.0f}s "
                            "(backend.startup_timeout_s)."
                        ) from None
                    continue
                rank = int(msg.get("rank", 0))
                if msg["kind"] == "loaded":
                    loaded.add(rank)
                    log.info("vLLM loaded %s (%s) in %.1fs (engine %d)", model.name, model.hf_id, msg["load_s"], rank)
                elif msg["kind"] == "chunk":
                    yield [self._result(model, row) for row in msg["results"]]
                elif msg["kind"] == "done":
                    finished[rank] = msg["stats"]
                else:
                    raise BackendError(
                        f"vLLM failed on model {model.name!r} ({model.hf_id}): {msg['error']}\n{msg.get('traceback', '')}"
                    )
            wall = time.perf_counter() - t_start
            stats = [finished[r] for r in sorted(finished)]
            total = {k: sum(st.get(k, 0) for st in stats) for k in ("completion_tokens", "samples", "calls", "too_long")}
            self.last_stats = {**total, "engines": len(stats), "load_s": max(st["load_s"] for st in stats),
                               "gen_s": max(st["gen_s"] for st in stats), "wall_s": wall}
            if total["too_long"]:
                log.warning("%s: %d prompt(s) longer than the engine allows (max_model_len=%s) recorded as "
                            "failures (finish_reason=%s); raise backend.max_model_len to generate them.",
                            model.name, total["too_long"], self.settings["max_model_len"], PROMPT_TOO_LONG)
        finally:
            for p in procs:
                if len(finished) == len(procs):
                    p.join(timeout=300)
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=60)
                    if p.is_alive():
                        p.kill()
                        p.join()
            out_q.close()

    @staticmethod
    def _result(model: ModelSpec, row: list[Any]) -> SampleResult:
        b, q, s, t, pt, ct, fr, _prompt_len = row
        return SampleResult(benchmark=b, query_id=q, sample=int(s), text=t, prompt_tokens=float(pt),
                            completion_tokens=float(ct), cost=model.cost(pt, ct), finish_reason=fr)
