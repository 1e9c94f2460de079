"""Base of the peer routers (knn, linear, mlp, embedllm, routerdc): hyperparameters, their
search space, and the honest protocol that chooses among them.

Every hyperparameter is a constructor argument without a Python default, so a YAML that
lacks one stops with a clear message instead of silently using a value nobody chose.
`search: {name: [candidates]}` lists the values that cross-validation on the calibration
split chooses from (`cv_folds` folds); with `search: null` the YAML values are used as they
are. `peek_test: true` adds the opt-in † row (hyperparameters, and checkpoints for trained
routers, chosen on the TEST split), never the main row.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError, did_you_mean
from avengers.route.base import CalibrationSet, Router
from avengers.route.tuning import TestPeek, expand_grid, select_by_cv


class TunedRouter(Router):
    """A router with named hyperparameters (`self.params`) and an optional search space."""

    hyperparameters: tuple[str, ...] = ()  # names of the hyperparameters, in YAML order
    state_version = 1  # bump when the fitted state changes meaning (cache entries are keyed on it)

    def __init__(self, *, name: str, top_n: int = 1, params: Mapping[str, Any],
                 search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3,
                 peek_test: bool = False, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__(name=name, top_n=top_n)
        self.params = dict(params)
        self.search = {str(k): list(v) for k, v in (search or {}).items()}
        self.cv_folds = int(cv_folds)
        self.peek_test = bool(peek_test)
        self.extras = dict(extras or {})  # Avengers-only extra rows; other routers ignore them (logged)
        self.peek: TestPeek | None = None  # set only on the † variant
        self.chosen: dict[str, Any] = dict(self.params)
        self.cv_table: list[dict[str, Any]] | None = None
        for k in self.search:
            if k not in self.hyperparameters:
                raise ConfigError(f"router.search.{k}: {self.name} has no hyperparameter {k!r}."
                                  f"{did_you_mean(k, self.hyperparameters)} Its hyperparameters: "
                                  f"{', '.join(self.hyperparameters)}.")
        if self.search and self.cv_folds < 2:
            raise ConfigError(f"router.cv_folds={cv_folds} must be >= 2 to choose router.search by cross-validation.")
        for p in expand_grid(self.search):
            self.validate({**self.params, **p})
        self.validate(self.params)

    # -- hyperparameters -----------------------------------------------------------------
    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise ConfigError for a value that can never work (independent of the data)."""

    def check_params(self, params: Mapping[str, Any], n_train: int) -> str | None:
        """Why these values (the YAML's, updated with `params`) cannot be fitted on `n_train`
        queries; None when they can."""
        return self._check({**self.params, **params}, n_train)

    def _check(self, params: Mapping[str, Any], n_train: int) -> str | None:
        return None

    def search_space(self) -> dict[str, list[Any]]:
        return {k: list(v) for k, v in self.search.items()}

    def with_params(self, **params: Any) -> "TunedRouter":
        """An unfitted copy with these hyperparameters fixed (no search)."""
        other = copy.copy(self)
        other.params = {**self.params, **params}
        other.search, other.cv_table, other.peek = {}, None, None
        other.validate(other.params)
        return other

    def cache_key(self) -> dict[str, Any]:
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", "v": self.state_version,
                "name": self.name, "top_n": self.top_n, "params": self.params, "search": self.search,
                "cv_folds": self.cv_folds}

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, data: CalibrationSet, seed: int) -> None:
        chosen, self.cv_table = select_by_cv(self, data, seed, self.cv_folds)
        self.chosen = {**self.params, **chosen}
        problem = self.check_params(self.chosen, data.n)
        if problem:
            raise ConfigError(f"router={self.name}: {problem}")
        self._fit_with(data, seed, self.chosen)

    def _fit_with(self, data: CalibrationSet, seed: int, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hyperparameters": dict(self.chosen)}
        if self.cv_table:
            out["cv"] = {"folds": self.cv_folds, "candidates": self.cv_table}
        return out

    # -- persistence -----------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().get_state()
        meta.update(params=self.params, chosen=self.chosen, cv_table=self.cv_table)
        arrays.update(self._arrays())
        return meta, arrays

    def set_state(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        super().set_state(meta, arrays)
        self.chosen, self.cv_table = dict(meta["chosen"]), meta.get("cv_table")
        self._set_arrays(arrays)

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _set_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError


def positive_int(name: str, value: Any, router: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"router.{name}={value!r} must be a positive integer (router={router}).")
    return int(value)


def positive_float(name: str, value: Any, router: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"router.{name}={value!r} must be a number {bound} (router={router}).")
    return float(value)
