"""A name -> object registry with did-you-mean errors (lm-evaluation-harness style), lazy:
names can point at `module:Object` targets that are imported only when first asked for, so
listing or validating names never imports heavy modules (torch, vLLM), and adding an entry
needs no central list of modules to import. A name of the form `pkg.module:Object` that is not
registered is imported as is: a user's own source, backend or benchmark needs no registration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from avengers.errors import ConfigError, did_you_mean

T = TypeVar("T")


def import_target(target: str) -> Any:
    """`pkg.module:Object` (or `pkg.module:Object.attr`) -> the object, with one clear error."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ConfigError(f"{target!r} is not a `module:Object` target.")
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise ConfigError(f"Cannot import {module!r} for {target!r}: {e}. Is the package installed?") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{module!r} has no {attr!r} (from {target!r}).") from None
    return obj


class Registry(Generic[T]):
    def __init__(self, kind: str, lazy: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = dict(lazy or {})

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def register_lazy(self, name: str, target: str) -> None:
        """`name` resolves to `target` (`module:Object`) when first used."""
        self._lazy[name] = target

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            obj = import_target(self._lazy[name])
            # The module may have registered the name itself on import; either way it is the object.
            return self._items.setdefault(name, obj)
        if ":" in name:
            return import_target(name)
        raise ConfigError(
            f"Unknown {self.kind} {name!r}.{did_you_mean(name, self.names())} "
            f"Known: {', '.join(self.names())}."
        )

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._lazy))
