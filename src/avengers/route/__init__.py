"""Stage 3: score every model inside every cluster and route test queries to the best."""

from avengers.route.router import AvengersRouter, ClusterScores, score_clusters

__all__ = ["AvengersRouter", "ClusterScores", "score_clusters"]
