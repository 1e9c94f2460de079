"""Stage 2: cluster the calibration queries. Methods are `_target_` configs; fitted
clusterings are cached on disk, keyed by every input (embedder, method, parameters,
calibration texts, seed)."""

from avengers.cluster.methods import ClusterFit, ClusteringMethod, fit_cached

__all__ = ["ClusterFit", "ClusteringMethod", "fit_cached"]
