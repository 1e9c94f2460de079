"""Extra rows built from the main Avengers router (`router.extras`): `avengers_auto` (K chosen
by cross-validation on calibration) and `avengers_ensemble` (several K and seeds averaged)."""

from __future__ import annotations

from typing import Any, Mapping

from avengers.route.avengers import AvengersRouter
from avengers.route.base import Router
from avengers.route.averaging import AveragedRouters


def extra_routers(router: Router) -> dict[str, Router]:
    if not isinstance(router, AvengersRouter):
        return {}
    extras: Mapping[str, Any] = router.extras
    out: dict[str, Router] = {}
    if extras.get("auto_k") and router.clustering.n_clusters != "auto":
        out["avengers_auto"] = router.with_clusters("auto")
    ens = extras.get("cluster_ensemble")
    if ens:
        grid = [(int(k), i) for k in ens["n_clusters"] for i in range(int(ens["n_seeds"]))]
        out["avengers_ensemble"] = AveragedRouters([router.with_clusters(k) for k, _ in grid],
                                                  offsets=[i for _, i in grid], name="avengers_ensemble")
    return out
