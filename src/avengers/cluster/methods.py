from __future__ import annotations

import copy
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from avengers.assets import cache_root
from avengers.embed.base import l2_normalise
from avengers.errors import ConfigError
from avengers.files import atomic_write_bytes, stable_hash

log = logging.getLogger(__name__)

DEFAULT_CACHE = object()  # fit_cached's default: the one cache root (avengers.assets.cache_root)


# `clustering.centers`: what the router measures `1 - q . c` against. `normalised` (harness):
# unit-length centres, i.e. cosine distance. `raw` (reference: Avengers core/routing/rank_router.py
# and core/ablation_experiments.py route with `1 - centres @ q` on the raw k-means centres, whose
# norm < 1 favours tight clusters).
CENTERS = ("normalised", "raw")


@dataclass(frozen=True)
class ClusterFit:
    labels: np.ndarray  # (n_calib,) cluster id of each calibration query
    centers: np.ndarray  # (K, d) centres (L2-normalised unless clustering.centers=raw)

    @property
    def n_clusters(self) -> int:
        return int(self.centers.shape[0])


def member_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Centres for methods that have none (agglomerative, spectral): the mean of each cluster."""
    centers = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(centers, labels, x)
    counts = np.bincount(labels, minlength=k)[:, None]
    return centers / np.maximum(counts, 1)


class ClusteringMethod:
    """Base: subclasses implement `_fit(x, k, seed) -> (labels, centers or None)`."""

    def __init__(self, name: str, n_clusters: int | str = 64, auto_k: Mapping[str, Any] | None = None,
                 centers: str = "normalised", random_state: int | None = None, **params: Any) -> None:
        self.name = name
        self.n_clusters = n_clusters
        self.auto_k = dict(auto_k or {})  # settings of n_clusters=auto (used by the router's CV)
        if centers not in CENTERS:
            raise ConfigError(f"clustering.centers={centers!r}: use one of {list(CENTERS)}.")
        self.centers = centers
        # null = the job seed (harness); an integer fixes the method's seed for every job
        # (reference: random_state=42 whatever the run, core/ablation_experiments.py).
        if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer))):
            raise ConfigError(f"clustering.random_state={random_state!r} must be an integer or null (= the job seed).")
        self.random_state = None if random_state is None else int(random_state)
        self.params = params

    def with_k(self, n_clusters: int | str) -> "ClusteringMethod":
        other = copy.copy(self)
        other.n_clusters = n_clusters
        return other

    def key(self) -> dict[str, Any]:
        key = {"method": type(self).__name__, "n_clusters": self.n_clusters, **self.params}
        if self.centers != "normalised":  # only when set, so the keys of existing fits stay valid
            key["centers"] = self.centers
        return key

    def effective_seed(self, seed: int) -> int:
        """The seed the method really uses: `clustering.random_state` when set, else the job seed."""
        return int(seed) if self.random_state is None else self.random_state

    def fit(self, x: np.ndarray, seed: int) -> ClusterFit:
        k = self.n_clusters
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"clustering.n_clusters={k!r} must be a positive integer.")
        if k > len(x):
            raise ConfigError(
                f"clustering.n_clusters={k} is larger than the calibration set ({len(x)} queries). "
                f"Choose n_clusters <= {len(x)}, or use more calibration data."
            )
        labels, centers = self._fit(np.asarray(x, dtype=np.float64), int(k), self.effective_seed(seed))
        labels = np.asarray(labels, dtype=np.int64)
        # Relabel to 0..K'-1 in order of first appearance: some methods leave ids unused.
        used, labels = np.unique(labels, return_inverse=True)
        centers = member_means(x, labels, len(used)) if centers is None else np.asarray(centers)[used]
        if len(used) < k:
            log.warning("%s produced %d non-empty clusters of the %d requested", self.name, len(used), k)
        centers = np.asarray(centers, dtype=np.float64)
        return ClusterFit(labels=labels, centers=centers if self.centers == "raw" else l2_normalise(centers))

    def _fit(self, x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError


class KMeansClustering(ClusteringMethod):
    def _fit(self, x, k, seed):
        from sklearn.cluster import KMeans

        p = {"n_init": 10, "max_iter": 300, "algorithm": "lloyd", **self.params}
        km = KMeans(n_clusters=k, random_state=seed, **p).fit(x)
        return km.labels_, km.cluster_centers_


class AgglomerativeClustering(ClusteringMethod):
    def _fit(self, x, k, seed):
        from sklearn.cluster import AgglomerativeClustering as Agg

        return Agg(n_clusters=k, **{"linkage": "ward", **self.params}).fit_predict(x), None


class GaussianMixtureClustering(ClusteringMethod):
    def _fit(self, x, k, seed):
        from sklearn.mixture import GaussianMixture

        p = {"covariance_type": "diag", "n_init": 1, "max_iter": 200, "reg_covar": 1e-4, **self.params}
        gm = GaussianMixture(n_components=k, random_state=seed, **p).fit(x)
        return gm.predict(x), gm.means_


class SpectralClustering(ClusteringMethod):
    def _fit(self, x, k, seed):
        from sklearn.cluster import SpectralClustering as Spec

        p = {"affinity": "nearest_neighbors", "n_neighbors": 15, "assign_labels": "kmeans", "n_init": 10, **self.params}
        return Spec(n_clusters=k, random_state=seed, **p).fit_predict(x), None


class BirchClustering(ClusteringMethod):
    def _fit(self, x, k, seed):
        from sklearn.cluster import Birch

        # BIRCH is deterministic given the data order; the final global step groups the
        # subclusters into exactly k clusters.
        return Birch(n_clusters=k, **{"threshold": 0.3, "branching_factor": 50, **self.params}).fit_predict(x), None


def fit_cached(method: ClusteringMethod, x: np.ndarray, seed: int, inputs_key: dict[str, Any],
               cache_dir: str | Path | None | object = DEFAULT_CACHE) -> tuple[ClusterFit, bool]:
    """Fit, or load a fit made with exactly the same inputs. Returns (fit, was_cached).

    `inputs_key` names everything upstream (embedder identity, calibration text hashes); the
    method's own parameters and the seed are added here. Stored as .npz (no pickles), written
    atomically so parallel jobs can race safely.
    """
    key = stable_hash({"inputs": inputs_key, "method": method.key(), "seed": method.effective_seed(seed), "v": 1})
    if cache_dir is DEFAULT_CACHE:
        cache_dir = cache_root()
    path = Path(cache_dir).expanduser() / "clusterings" / f"{key}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as z:
            return ClusterFit(labels=z["labels"], centers=z["centers"]), True
    fit = method.fit(x, seed)
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, labels=fit.labels, centers=fit.centers)
        atomic_write_bytes(path, buf.getvalue())
    return fit, False
