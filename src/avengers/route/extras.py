"""Extra rows built from the main Avengers router (`router.extras`): `<name>_auto` (K chosen
by cross-validation on calibration) and `<name>_ensemble` (several K and seeds averaged);
<name> is the router's name (`avengers_auto`, `avengers_ensemble` for the paper's recipe).
Other routers have no such rows: extras set on them are ignored, and the log says so."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from avengers.route.avengers import AvengersRouter
from avengers.route.base import Router
from avengers.route.averaging import AveragedRouters

log = logging.getLogger(__name__)


def extra_routers(router: Router) -> dict[str, Router]:
    if not isinstance(router, AvengersRouter):
        asked = {k: v for k, v in (getattr(router, "extras", None) or {}).items() if v}
        if asked:
            log.info("router.extras %s apply to Avengers routers only: no extra rows for router=%s",
                     sorted(asked), router.name)
        return {}
    extras: Mapping[str, Any] = router.extras
    out: dict[str, Router] = {}
    if extras.get("auto_k") and router.clustering.n_clusters != "auto":
        out[f"{router.name}_auto"] = router.with_clusters("auto")
    ens = extras.get("cluster_ensemble")
    if ens:
        grid = [(int(k), i) for k in ens["n_clusters"] for i in range(int(ens["n_seeds"]))]
        out[f"{router.name}_ensemble"] = AveragedRouters([router.with_clusters(k) for k, _ in grid],
                                                         offsets=[i for _, i in grid], name=f"{router.name}_ensemble")
    return out
