"""Stage 3: routers. Every router is fitted on the calibration split (`CalibrationSet`) and
ranks the models for each test query (`Router`); the Avengers recipe scores every model
inside every cluster and routes a query to the best model(s) of its nearest cluster(s).

The peer routers (`router=knn|linear|mlp|embedllm|routerdc`, modules of the same names),
`router=auto` (auto.py) and the honest protocol that tunes them (tuned.py, trained.py,
tuning.py) are described in docs/routers.md; fitted routers are cached by cache.py."""

from avengers.route.avengers import AvengersRouter, ClusterScores, score_clusters
from avengers.route.base import CalibrationSet, Router, order_models

__all__ = ["AvengersRouter", "CalibrationSet", "ClusterScores", "Router", "order_models", "score_clusters"]
