"""The backend protocol of the collect stage: turn prompts into sampled completions.

A backend gets one model and a list of :class:`Request` (a prompt plus the sample indices still
missing for it) and yields lists of :class:`SampleResult`; each list is stored in one
transaction. Sample ``i`` of a prompt is always drawn with seed ``base_seed + i`` and ``n = 1``
semantics: vLLM (V1 engine) gives child ``j`` of an ``n``-sample request with seed ``s`` the seed
``s + j``, so a request for samples ``start..start+k-1`` is sent as ``n = k, seed = base + start``
and any subset of samples can be regenerated on its own, identically.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from avengers.generate.pool import ModelSpec
from avengers.errors import AvengersError, ConfigError
from avengers.registry import Registry

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "Request",
    "SampleResult",
    "Sampling",
    "make_backend",
    "sample_runs",
]


class BackendError(AvengersError):
    """A generation backend failed (server error after retries, bad response, engine crash)."""


@dataclass(frozen=True)
class Sampling:
    n: int = 10
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int = 0  # base seed; sample i uses seed + i

    def __post_init__(self) -> None:
        if int(self.n) < 1:
            raise ConfigError(f"sampling.n must be >= 1, got {self.n}.")
        if float(self.temperature) < 0:
            raise ConfigError(f"sampling.temperature must be >= 0, got {self.temperature}.")
        if not 0 < float(self.top_p) <= 1:
            raise ConfigError(f"sampling.top_p must be in (0, 1], got {self.top_p}.")
        if int(self.max_tokens) < 1:
            raise ConfigError(f"sampling.max_tokens must be >= 1, got {self.max_tokens}.")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any], seed: int) -> Sampling:
        d = {str(k): v for k, v in dict(m).items()}
        unknown = sorted(set(d) - {"n", "temperature", "top_p", "max_tokens"})
        if unknown:
            raise ConfigError(f"unknown sampling field(s) {unknown}; allowed: n, temperature, top_p, max_tokens.")
        return cls(
            n=int(d.get("n", 10)),
            temperature=float(d.get("temperature", 0.7)),
            top_p=float(d.get("top_p", 1.0)),
            max_tokens=int(d.get("max_tokens", 4096)),
            seed=int(seed),
        )

    def identity(self) -> dict[str, Any]:
        """What changes the distribution of one sample (not n, not the seed: both are in the key)."""
        return {"temperature": float(self.temperature), "top_p": float(self.top_p), "max_tokens": int(self.max_tokens)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    benchmark: str
    query_id: str
    prompt: str
    samples: tuple[int, ...]  # the sample indices to generate (sorted, unique)


@dataclass(frozen=True)
class SampleResult:
    benchmark: str
    query_id: str
    sample: int
    text: str
    prompt_tokens: float | None = None  # this sample's share of the request's prompt tokens
    completion_tokens: float | None = None
    cost: float | None = None  # USD, None when unknown
    finish_reason: str | None = None


def sample_runs(samples: Sequence[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sample indices as (start, count): [0,1,2,5,6] -> [(0,3),(5,2)]."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(int(x) for x in samples)):
        if out and out[-1][0] + out[-1][1] == s:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(
        self, model: ModelSpec, requests: Sequence[Request], sampling: Sampling
    ) -> Iterator[list[SampleResult]]:
        """Yield the samples of ``requests``; each yielded list is stored atomically."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able settings, for logs (no secrets)."""
        ...


# Imported on first use (the vLLM module never imports vllm itself until an engine starts);
# a user's own backend can be named as `backend.name=my_pkg.module:MyBackend`.
BACKENDS: Registry[Any] = Registry("backend", lazy={
    "openai": "avengers.generate.backends.openai:OpenAIBackend",
    "vllm": "avengers.generate.backends.vllm:VLLMBackend",
})


def make_backend(cfg: Mapping[str, Any]) -> Backend:
    """Build the backend named by ``cfg['name']`` from the ``backend`` config node."""

    d = {str(k): v for k, v in dict(cfg).items()}
    name = d.pop("name", None)
    if not name:
        raise ConfigError("backend.name is missing; choose backend=vllm or backend=openai.")
    factory = BACKENDS.get(str(name))
    import inspect

    params = inspect.signature(factory).parameters
    allowed = sorted(k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise ConfigError(f"backend {name!r}: unknown setting(s) {unknown}; allowed: {allowed}.")
    return factory(**d)
