"""The best single model as a router: every query goes to the model with the best overall
calibration score. `router=auto` keeps it as a candidate, so that cross-validation can fall
back to it when no router beats it on the calibration split."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avengers.route.base import CalibrationSet, Router


class BestSingleRouter(Router):
    name = "best_single_router"

    def _fit(self, data: CalibrationSet, seed: int) -> None:
        pass  # `overall` (set by Router.fit) is all it needs

    def search_space(self) -> dict[str, list[Any]]:
        return {}

    def with_params(self, **params: Any) -> "BestSingleRouter":
        return BestSingleRouter(name=self.name, top_n=self.top_n)

    def check_params(self, params: Mapping[str, Any], n_train: int) -> str | None:
        return None

    def cache_key(self) -> dict[str, Any]:
        return {"class": f"{__name__}.BestSingleRouter", "name": self.name, "top_n": self.top_n}

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return np.broadcast_to(self.overall, (len(q), len(self.overall))).copy()

    def describe(self) -> dict[str, Any]:
        return {"model": self.models[int(np.lexsort((np.arange(len(self.overall)), -self.overall))[0])]}
