"""OpenAI-compatible HTTP backend: a vLLM server, a llama.cpp server, or any provider.

``POST {base_url}/chat/completions`` (``/completions`` for models with ``chat: false``) with
``n``, ``temperature``, ``top_p``, ``seed`` and ``max_tokens``. Requests run concurrently on an
``httpx.AsyncClient`` under an ``asyncio.Semaphore(concurrency)``; 408/409/425/429/5xx answers
and connection errors are retried with exponential backoff (``Retry-After`` honoured), other
errors stop the run with the server's message.

Samples ``start..start+k-1`` of a prompt are asked for as one request with ``n = k`` and
``seed = base_seed + start`` (vLLM gives choice ``j`` the seed ``seed + j``). A server that
ignores ``n`` (llama.cpp answers with one choice) gets the rest as separate ``n = 1`` requests
with ``seed = base_seed + sample``, so every sample is still deterministic and resumable on its
own; with ``supports_n: auto`` that is learned from the first short answer.

Usage of an ``n``-sample request is shared evenly among its samples (token counts and cost), so
sums over samples equal what the server reports. Cost = tokens x the model's price per 1M tokens
(``pool.models[].price_input`` / ``price_output``); without prices, a ``usage.cost`` the
provider reports is used; otherwise cost is null.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

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

__all__ = ["OpenAIBackend", "RETRY_STATUS"]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


@BACKENDS.register("openai")
class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 64,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 6,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        supports_n: bool | str = "auto",
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ConfigError("backend.base_url is empty; e.g. backend.base_url=http://127.0.0.1:8000/v1")
        if int(concurrency) < 1:
            raise ConfigError(f"backend.concurrency must be >= 1, got {concurrency}.")
        if int(max_retries) < 0:
            raise ConfigError(f"backend.max_retries must be >= 0, got {max_retries}.")
        if isinstance(supports_n, str):
            low = supports_n.lower()
            if low not in ("auto", "true", "false"):
                raise ConfigError(f"backend.supports_n must be auto, true or false, got {supports_n!r}.")
            supports_n = "auto" if low == "auto" else low == "true"
        self.base_url = str(base_url).rstrip("/")
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        self._headers = {str(k): str(v) for k, v in dict(headers or {}).items()}
        if key:
            self._headers.setdefault("Authorization", f"Bearer {key}")
        self.concurrency = int(concurrency)
        self.timeout = httpx.Timeout(float(timeout_s), connect=float(connect_timeout_s))
        self.max_retries = int(max_retries)
        self.backoff_initial_s = float(backoff_initial_s)
        self.backoff_max_s = float(backoff_max_s)
        self.supports_n: bool | str = supports_n
        self.extra_body = dict(extra_body or {})
        self._transport = transport
        self._n_ok: dict[str, bool] = {}  # learned per model when supports_n is "auto"
        self._in_flight = 0
        self.stats: dict[str, float] = {}
        self.reset_stats()

    # ------------------------------------------------------------------ public
    def reset_stats(self) -> None:
        self.stats = {
            "requests": 0,
            "retries": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": 0.0,
            "max_in_flight": 0,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_url": self.base_url,
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "supports_n": self.supports_n,
            "extra_body": self.extra_body,
        }

    def generate(
        self, model: ModelSpec, requests: Sequence[Request], sampling: Sampling
    ) -> Iterator[list[SampleResult]]:
        jobs = [(r, start, count) for r in requests for start, count in sample_runs(r.samples)]
        if not jobs:
            return
        q: queue.Queue[Any] = queue.Queue()
        holder: dict[str, Any] = {}

        def runner() -> None:
            try:
                asyncio.run(self._run_all(model, jobs, sampling, q.put_nowait, holder))
                q.put(_DONE)
            except BaseException as e:  # forwarded to the consumer thread
                q.put(_Failure(e))

        t = threading.Thread(target=runner, name="openai-backend", daemon=True)
        t.start()
        finished = False
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    finished = True
                    break
                if isinstance(item, _Failure):
                    finished = True
                    exc = item.exc
                    if isinstance(exc, asyncio.CancelledError):
                        raise BackendError("generation was cancelled") from exc
                    raise exc
                yield item
        finally:
            if not finished:  # the consumer stopped early: cancel what is in flight
                loop, task = holder.get("loop"), holder.get("task")
                if loop is not None and task is not None:
                    try:
                        loop.call_soon_threadsafe(task.cancel)
                    except RuntimeError:
                        pass
            t.join(timeout=30)

    # ------------------------------------------------------------------- async
    async def _run_all(
        self,
        model: ModelSpec,
        jobs: list[tuple[Request, int, int]],
        sampling: Sampling,
        put: Callable[[list[SampleResult]], None],
        holder: dict[str, Any],
    ) -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["task"] = asyncio.current_task()
        sem = asyncio.Semaphore(self.concurrency)
        self._in_flight = 0
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        # Plain-http servers (local vLLM / llama.cpp) need no TLS context: building the default one
        # (loading the CA bundle) costs ~0.4 s per call. https URLs keep full verification.
        verify = not self.base_url.startswith("http://")
        async with httpx.AsyncClient(
            headers=self._headers, timeout=self.timeout, limits=limits, transport=self._transport, verify=verify
        ) as client:
            tasks = [
                asyncio.create_task(self._job(client, sem, model, sampling, r, start, count, put))
                for r, start, count in jobs
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in tasks:
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _use_n(self, model: ModelSpec) -> bool:
        if self.supports_n is True or self.supports_n is False:
            return bool(self.supports_n)
        return self._n_ok.get(model.name, True)

    async def _job(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        model: ModelSpec,
        sampling: Sampling,
        req: Request,
        start: int,
        count: int,
        put: Callable[[list[SampleResult]], None],
    ) -> None:
        base = int(sampling.seed)
        rest = list(range(start, start + count))
        if count > 1 and self._use_n(model):
            choices, usage = await self._chat(client, sem, model, req.prompt, sampling, n=count, seed=base + start)
            if len(choices) >= count:
                put(self._results(model, req, start, choices[:count], usage))
                return
            # The server ignored n: its one choice is sample `start` (seed base + start).
            if self.supports_n == "auto" and self._n_ok.get(model.name, True):
                self._n_ok[model.name] = False
                log.info(
                    "%s at %s answered %d of n=%d choices: asking one request per sample from now on "
                    "(seed = %d + sample).", model.name, self.base_url, len(choices), count, base
                )
            put(self._results(model, req, start, choices[:1], usage))
            rest = rest[1:]

        async def one(s: int) -> None:
            ch, us = await self._chat(client, sem, model, req.prompt, sampling, n=1, seed=base + s)
            put(self._results(model, req, s, ch[:1], us))

        if rest:
            await asyncio.gather(*(one(s) for s in rest))

    def _results(
        self,
        model: ModelSpec,
        req: Request,
        start: int,
        choices: list[tuple[str, str | None]],
        usage: Mapping[str, Any] | None,
    ) -> list[SampleResult]:
        k = len(choices)
        pt = ct = cost = None
        if usage:
            p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
            pt = None if p is None else float(p) / k
            ct = None if c is None else float(c) / k
            cost = model.cost(pt, ct)
            if cost is None and isinstance(usage.get("cost"), (int, float)):
                cost = float(usage["cost"]) / k
            if p is not None:
                self.stats["prompt_tokens"] += int(p)
            if c is not None:
                self.stats["completion_tokens"] += int(c)
            if cost is not None:
                self.stats["cost"] += cost * k
        return [
            SampleResult(
                benchmark=req.benchmark,
                query_id=req.query_id,
                sample=start + j,
                text=text,
                prompt_tokens=pt,
                completion_tokens=ct,
                cost=cost,
                finish_reason=fr,
            )
            for j, (text, fr) in enumerate(choices)
        ]

    def _body(self, model: ModelSpec, prompt: str, sampling: Sampling, n: int, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model.served_name,
            "n": int(n),
            "temperature": float(sampling.temperature),
            "top_p": float(sampling.top_p),
            "max_tokens": int(sampling.max_tokens),
            "seed": int(seed),
        }
        if model.chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        body.update(self.extra_body)
        return body

    async def _chat(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        model: ModelSpec,
        prompt: str,
        sampling: Sampling,
        *,
        n: int,
        seed: int,
    ) -> tuple[list[tuple[str, str | None]], Mapping[str, Any] | None]:
        url = self.base_url + ("/chat/completions" if model.chat else "/completions")
        body = self._body(model, prompt, sampling, n, seed)
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            async with sem:
                self._in_flight += 1
                self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self._in_flight)
                self.stats["requests"] += 1
                try:
                    resp = await client.post(url, json=body)
                except httpx.TransportError as e:
                    resp = None
                    last = f"{type(e).__name__}: {e}"
                finally:
                    self._in_flight -= 1
            if resp is not None:
                if resp.status_code == 200:
                    try:
                        return self._parse(resp.json(), model)
                    except (ValueError, KeyError, TypeError, IndexError) as e:
                        last = f"malformed response ({type(e).__name__}: {e}): {resp.text[:300]!r}"
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                    retry_after = _retry_after(resp.headers.get("retry-after"))
                else:
                    raise BackendError(
                        f"{url} answered HTTP {resp.status_code} for model {model.served_name!r}: "
                        f"{resp.text[:1000]}"
                    )
            if attempt == self.max_retries:
                break
            self.stats["retries"] += 1
            delay = min(self.backoff_max_s, self.backoff_initial_s * (2**attempt)) * random.uniform(0.5, 1.0)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.backoff_max_s))
            log.debug("retrying %s in %.2fs after %s", url, delay, last)
            await asyncio.sleep(delay)
        raise BackendError(
            f"{url}: gave up on model {model.served_name!r} after {self.max_retries + 1} attempt(s); "
            f"last error: {last}. Is the server up (backend.base_url)? Raise backend.max_retries for a flaky one."
        )

    @staticmethod
    def _parse(data: Mapping[str, Any], model: ModelSpec) -> tuple[list[tuple[str, str | None]], Mapping[str, Any] | None]:
        raw = data["choices"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("no choices")
        raw = sorted(raw, key=lambda c: int(c.get("index", 0)))
        choices = []
        for c in raw:
            if model.chat:
                text = (c.get("message") or {}).get("content")
            else:
                text = c.get("text")
            choices.append(("" if text is None else str(text), c.get("finish_reason")))
        usage = data.get("usage")
        return choices, usage if isinstance(usage, Mapping) else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
