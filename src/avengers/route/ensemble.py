"""Cluster ensemble: average the per-model routing values of routers fitted with several
seeds and/or K values, then rank. Reduces the variance of a single k-means run."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from avengers.route.router import AvengersRouter


class RouterEnsemble:
    def __init__(self, routers: Sequence[AvengersRouter]) -> None:
        if not routers:
            raise ValueError("RouterEnsemble needs at least one router")
        self.routers = list(routers)
        self.top_n = self.routers[0].top_n
        self.overall = self.routers[0].overall
        self.pool = self.routers[0].pool

    def model_values(self, q: np.ndarray) -> np.ndarray:
        return np.mean([r.model_values(q) for r in self.routers], axis=0)

    def rank(self, q: np.ndarray) -> np.ndarray:
        values = self.model_values(q)[:, self.pool]
        return self.pool[AvengersRouter._order(values, self.overall[self.pool])]
