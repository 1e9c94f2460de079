"""Offline vLLM backend: one fresh process per model, so GPU memory is freed between models.

The parent never imports vllm. For each model it spawns a process (multiprocessing 'spawn')
that builds ``vllm.LLM(model, tensor_parallel_size, seed, generation_config="vllm", dtype,
max_model_len, gpu_memory_utilization, ...)`` (``generation_config="vllm"`` is set explicitly so a
model's generation_config.json cannot silently override our sampling settings), then runs
``llm.chat`` (the model's chat template; ``llm.generate`` for models with ``chat: false``) on
chunks of ``chunk_size`` prompts with one ``SamplingParams(n, temperature, top_p, seed,
max_tokens)`` per prompt, and sends each finished chunk back as JSON to be stored; a killed run
loses at most the chunk in flight.

Seeds: samples ``start..start+k-1`` are one request with ``n = k, seed = base + start``; the V1
engine gives child ``j`` the seed ``seed + j``, i.e. sample ``i`` always has seed ``base + i``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import queue
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

__all__ = ["VLLMBackend", "engine_kwargs"]


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


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (a killed collect run must not leave a GPU job behind)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(out_q: Any, payload: str, parent_pid: int | None = None) -> None:
    """Runs in a fresh process: load the model once, generate chunk by chunk, report as JSON."""
    _die_with_parent()
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before prctl
        return
    try:
        job = json.loads(payload)
        t0 = time.perf_counter()
        import vllm  # only here: the parent process never imports vllm

        llm = vllm.LLM(**job["engine"])
        load_s = time.perf_counter() - t0
        out_q.put(json.dumps({"kind": "loaded", "load_s": load_s}))
        s = job["sampling"]
        gen_s = 0.0
        n_tokens = 0
        n_samples = 0
        subs = job["subrequests"]
        chunk = int(job["chunk_size"])
        for i in range(0, len(subs), chunk):
            if parent_pid is not None and os.getppid() != parent_pid:
                return  # nobody left to store the results
            part = subs[i : i + chunk]
            params = [
                vllm.SamplingParams(
                    n=int(count),
                    temperature=float(s["temperature"]),
                    top_p=float(s["top_p"]),
                    seed=int(s["seed"]) + int(start),
                    max_tokens=int(s["max_tokens"]),
                )
                for (_b, _q, _p, start, count) in part
            ]
            t1 = time.perf_counter()
            if job["chat"]:
                convs = [[{"role": "user", "content": p}] for (_b, _q, p, _s, _c) in part]
                outs = llm.chat(convs, params, use_tqdm=False)
            else:
                outs = llm.generate([p for (_b, _q, p, _s, _c) in part], params, use_tqdm=False)
            gen_s += time.perf_counter() - t1
            results = []
            for (b, q, _p, start, count), out in zip(part, outs):
                comps = sorted(out.outputs, key=lambda o: o.index)
                if len(comps) != int(count):
                    raise RuntimeError(f"vLLM returned {len(comps)} outputs for n={count}")
                k = len(comps)
                ptoks = len(out.prompt_token_ids or [])
                for j, o in enumerate(comps):
                    ct = len(o.token_ids)
                    n_tokens += ct
                    n_samples += 1
                    results.append([b, q, int(start) + j, o.text, ptoks / k, ct, o.finish_reason])
            out_q.put(json.dumps({"kind": "chunk", "results": results}))
        stats = {"load_s": load_s, "gen_s": gen_s, "completion_tokens": n_tokens, "samples": n_samples}
        out_q.put(json.dumps({"kind": "done", "stats": stats}))
    except BaseException as e:  # report, then die
        import traceback

        out_q.put(json.dumps({"kind": "error", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}))
        raise


@BACKENDS.register("vllm")
class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = 8192,
        gpu_memory_utilization: float = 0.9,
        generation_config: str = "vllm",
        enforce_eager: bool = False,
        download_dir: str | None = None,
        chunk_size: int = 1024,
        engine: Mapping[str, Any] | None = None,
        startup_timeout_s: float = 3600.0,
    ) -> None:
        if int(chunk_size) < 1:
            raise ConfigError(f"backend.chunk_size must be >= 1, got {chunk_size}.")
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
        self.chunk_size = int(chunk_size)
        self.startup_timeout_s = float(startup_timeout_s)
        self.last_stats: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "chunk_size": self.chunk_size, **self.settings}

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
        payload = json.dumps(
            {
                "engine": engine_kwargs(model, seed=sampling.seed, **self.settings),
                "sampling": sampling.to_dict(),
                "chat": model.chat,
                "subrequests": subs,
                "chunk_size": self.chunk_size,
            }
        )
        ctx = mp.get_context("spawn")
        out_q = ctx.Queue()
        # not a daemon: vLLM starts worker processes of its own
        proc = ctx.Process(target=_worker, args=(out_q, payload, os.getpid()), name=f"vllm-{model.name}", daemon=False)
        proc.start()
        done = False
        t_start = time.perf_counter()
        loaded = False
        try:
            while True:
                try:
                    msg = json.loads(out_q.get(timeout=5.0))
                except queue.Empty:
                    if not proc.is_alive():
                        raise BackendError(
                            f"the vLLM process for {model.name!r} died (exit code {proc.exitcode}) "
                            "without reporting; see its log above (out of GPU memory? is vllm installed: "
                            "pip install -e '.[vllm]')."
                        ) from None
                    if not loaded and time.perf_counter() - t_start > self.startup_timeout_s:
                        raise BackendError(
                            f"the vLLM process for {model.name!r} did not load the model in {self.startup_timeout_s:.0f}s "
                            "(backend.startup_timeout_s)."
                        ) from None
                    continue
                if msg["kind"] == "loaded":
                    loaded = True
                    log.info("vLLM loaded %s (%s) in %.1fs", model.name, model.hf_id, msg["load_s"])
                elif msg["kind"] == "chunk":
                    yield [
                        SampleResult(
                            benchmark=b, query_id=q, sample=int(s), text=t,
                            prompt_tokens=float(pt), completion_tokens=float(ct), cost=model.cost(pt, ct),
                            finish_reason=fr,
                        )
                        for b, q, s, t, pt, ct, fr in msg["results"]
                    ]
                elif msg["kind"] == "done":
                    self.last_stats = {**msg["stats"], "wall_s": time.perf_counter() - t_start}
                    done = True
                    break
                else:
                    raise BackendError(
                        f"vLLM failed on model {model.name!r} ({model.hf_id}): {msg['error']}\n{msg.get('traceback', '')}"
                    )
        finally:
            if done:
                proc.join(timeout=300)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=60)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            out_q.close()
