"""Averaged routers (the "cluster ensemble" row): average the per-model routing values of Avengers routers fitted with
several seeds and/or K values, then rank. Reduces the variance of a single k-means run."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from avengers.route.base import CalibrationSet, Router


class AveragedRouters(Router):
    def __init__(self, routers: Sequence[Router], offsets: Sequence[int] | None = None, name: str = "ensemble") -> None:
        if not routers:
            raise ValueError("AveragedRouters needs at least one router")
        super().__init__(name=name, top_n=routers[0].top_n)
        self.routers = list(routers)
        self.offsets = list(range(len(routers)) if offsets is None else offsets)

    def _fit(self, data: CalibrationSet, seed: int) -> None:
        # Member seeds derive from the job seed (seed * 1000 + offset), so the ensemble row
        # varies across seeds like the others.
        for r, off in zip(self.routers, self.offsets):
            r.fit(data, seed * 1000 + off)
        self.pool = self.routers[0].pool

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return np.mean([r.predict(q, texts) for r in self.routers], axis=0)

    def describe(self) -> dict[str, Any]:
        return {"members": [r.describe() for r in self.routers]}
