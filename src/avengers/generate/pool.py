"""Candidate models of the collect stage (the ``pool`` config group).

A pool is a list of :class:`ModelSpec`. ``name`` is what the outcome table's ``model`` column
says; ``hf_id`` is what the vLLM backend loads; ``api_model`` is what an OpenAI-compatible server
is asked for (defaults to ``name``: vLLM servers started with
``--served-model-name $(basename $MODEL)``, as the Avengers repo does, serve exactly that).
Prices are USD per 1M tokens; left null, the sample's cost is null (unknown), not zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from avengers.errors import ConfigError, did_you_mean

__all__ = ["ModelSpec", "load_pool"]

_FIELDS = {
    "name",
    "hf_id",
    "revision",
    "api_model",
    "price_input",
    "price_output",
    "chat",
    "trust_remote_code",
    "engine",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hf_id: str | None = None
    revision: str | None = None
    api_model: str | None = None
    price_input: float | None = None  # USD per 1M prompt tokens
    price_output: float | None = None  # USD per 1M completion tokens
    chat: bool = True  # apply the model's chat template (False: raw completion of the prompt)
    trust_remote_code: bool = False
    engine: Mapping[str, Any] = field(default_factory=dict)  # extra vllm.LLM kwargs for this model

    @property
    def served_name(self) -> str:
        return self.api_model or self.name

    def identity(self) -> dict[str, Any]:
        """What makes two generations comparable: part of the store's sampling-params hash.

        Prices are not part of it (they only turn token counts into cost).
        """
        return {
            "name": self.name,
            "hf_id": self.hf_id,
            "revision": self.revision,
            "chat": self.chat,
        }

    def cost(self, prompt_tokens: float | None, completion_tokens: float | None) -> float | None:
        """USD for the given token counts, or None when a price or a count is unknown."""
        if self.price_input is None or self.price_output is None:
            return None
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (float(prompt_tokens) * self.price_input + float(completion_tokens) * self.price_output) / 1e6

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> ModelSpec:
        d = {str(k): v for k, v in dict(m).items()}
        unknown = sorted(set(d) - _FIELDS)
        if unknown:
            raise ConfigError(f"pool model {d.get('name')!r}: unknown field(s) {unknown}; allowed: {sorted(_FIELDS)}.")
        name = d.get("name")
        if not name and d.get("hf_id"):
            name = str(d["hf_id"]).rstrip("/").split("/")[-1]
        if not name:
            raise ConfigError("every pool model needs a `name` (the outcome table's model column) or an `hf_id`.")
        prices = {}
        for k in ("price_input", "price_output"):
            v = d.get(k)
            if v is not None:
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise ConfigError(f"pool model {name!r}: {k} must be a number (USD per 1M tokens) or null.") from None
                if v < 0:
                    raise ConfigError(f"pool model {name!r}: {k} must be >= 0.")
            prices[k] = v
        return cls(
            name=str(name),
            hf_id=None if d.get("hf_id") in (None, "") else str(d["hf_id"]),
            revision=None if d.get("revision") in (None, "") else str(d["revision"]),
            api_model=None if d.get("api_model") in (None, "") else str(d["api_model"]),
            chat=bool(d.get("chat", True)),
            trust_remote_code=bool(d.get("trust_remote_code", False)),
            engine={str(k): v for k, v in dict(d.get("engine") or {}).items()},
            **prices,
        )


def load_pool(cfg: Mapping[str, Any]) -> list[ModelSpec]:
    """Models of the ``pool`` node: ``{name, models: [...], select: null | [names]}``."""
    models_cfg: Sequence[Any] | None = cfg.get("models")
    if not models_cfg:
        raise ConfigError("pool.models is empty; choose a pool (pool=paper10, pool=local_gemma) or list models.")
    models = [ModelSpec.from_mapping(m) for m in models_cfg]
    names = [m.name for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"pool lists model(s) {dup} twice; model names must be unique.")
    select = cfg.get("select")
    if select:
        if isinstance(select, str):
            select = [select]
        by_name = {m.name: m for m in models}
        chosen = []
        for s in select:
            if str(s) not in by_name:
                raise ConfigError(f"pool.select: unknown model {s!r}.{did_you_mean(str(s), by_name)} Known: {names}.")
            chosen.append(by_name[str(s)])
        models = chosen
    return models
