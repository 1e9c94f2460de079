"""Clustering methods (`_target_` configs) and the on-disk cache of fitted clusterings.

Fits are float64 with a fixed thread count, so the same inputs and seed give the same labels
on any x86-64 CPU (docs/reproducibility.md)."""

from __future__ import annotations

import copy
import io
import logging
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from avengers.assets import cache_root
from avengers.errors import ConfigError
from avengers.files import atomic_write_bytes, stable_hash

log = logging.getLogger(__name__)

DEFAULT_CACHE = object()  # fit_cached's default: the one cache root (avengers.assets.cache_root)

# Threads of every fit. Fixed, so a fit sums in the same order on a 2-core laptop and a 64-core
# server: scikit-learn's k-means adds per-thread partial centre sums in lock order, which with
# more threads varies from run to run (docs/reproducibility.md). Cost: measured there.
FIT_THREADS = 1

# Bump when the fitting procedure changes, so fits made the old way are not reused.
CACHE_VERSION = 2


# `clustering.centers`: what the router measures `1 - q . c` against. `normalised` (harness):
# unit-length centres, i.e. cosine distance. `raw` (reference: Avengers core/routing/rank_router.py
# and core/ablation_experiments.py route with `1 - centres @ q` on the raw k-means centres, whose
# norm < 1 favours tight clusters).
CENTERS = ("normalised", "raw")


@dataclass(frozen=True)
class ClusterFit:
    labels: np.ndarray  # (n_calib,) int64 cluster id of each calibration query
    centers: np.ndarray  # (K, d) float64 centres (L2-normalised unless clustering.centers=raw)

    @property
    def n_clusters(self) -> int:
        return int(self.centers.shape[0])


def check_n_clusters(k: Any, where: str = "clustering.n_clusters", allow_auto: bool = True) -> None:
    """A positive integer (or 'auto'); anything else is refused, never rounded."""
    if allow_auto and k == "auto":
        return
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        auto = " or 'auto'" if allow_auto else ""
        raise ConfigError(f"{where}={k!r} must be a positive integer{auto}; e.g. {where}=64.")


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return x / np.where(norms == 0, 1.0, norms)


def member_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Centres for methods that have none (agglomerative, spectral): the mean of each cluster."""
    centers = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(centers, labels, np.asarray(x, dtype=np.float64))
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
        check_n_clusters(k, allow_auto=False)
        if k > len(x):
            raise ConfigError(
                f"clustering.n_clusters={k} is larger than the calibration set ({len(x)} queries). "
                f"Choose n_clusters <= {len(x)}, or use more calibration data."
            )
        from threadpoolctl import threadpool_limits

        # float64 throughout: boundary queries then flip only for differences 1e9 times smaller
        # than float32 rounding. Fixed threads for BLAS and OpenMP alike (see FIT_THREADS).
        x = np.ascontiguousarray(x, dtype=np.float64)
        with threadpool_limits(limits=FIT_THREADS):
            labels, centers = self._fit(x, int(k), self.effective_seed(seed))
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        # Relabel to 0..K'-1 keeping the method's order: some methods leave ids unused.
        used, labels = np.unique(labels, return_inverse=True)
        labels = labels.astype(np.int64).reshape(-1)
        centers = member_means(x, labels, len(used)) if centers is None else np.asarray(centers, dtype=np.float64)[used]
        if len(used) < k:
            log.warning("%s produced %d non-empty clusters of the %d requested", self.name, len(used), k)
        return ClusterFit(labels=labels, centers=centers if self.centers == "raw" else unit_rows(centers))

    def _fit(self, x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError


class KMeansClustering(ClusteringMethod):
    estimator = "sklearn.cluster:KMeans"  # its parameters are this method's config keys

    def _fit(self, x, k, seed):
        from sklearn.cluster import KMeans

        p = {"n_init": 10, "max_iter": 300, "algorithm": "lloyd", **self.params}
        km = KMeans(n_clusters=k, random_state=seed, **p).fit(x)
        return km.labels_, km.cluster_centers_


class AgglomerativeClustering(ClusteringMethod):
    estimator = "sklearn.cluster:AgglomerativeClustering"  # its parameters are this method's config keys

    def _fit(self, x, k, seed):
        from sklearn.cluster import AgglomerativeClustering as Agg

        return Agg(n_clusters=k, **{"linkage": "ward", **self.params}).fit_predict(x), None


class GaussianMixtureClustering(ClusteringMethod):
    estimator = "sklearn.mixture:GaussianMixture"  # its parameters are this method's config keys

    def _fit(self, x, k, seed):
        from sklearn.mixture import GaussianMixture

        p = {"covariance_type": "diag", "n_init": 1, "max_iter": 200, "reg_covar": 1e-4, **self.params}
        gm = GaussianMixture(n_components=k, random_state=seed, **p).fit(x)
        return gm.predict(x), gm.means_


class SpectralClustering(ClusteringMethod):
    estimator = "sklearn.cluster:SpectralClustering"  # its parameters are this method's config keys

    def _fit(self, x, k, seed):
        from sklearn.cluster import SpectralClustering as Spec

        p = {"affinity": "nearest_neighbors", "n_neighbors": 15, "assign_labels": "kmeans", "n_init": 10, **self.params}
        return Spec(n_clusters=k, random_state=seed, **p).fit_predict(x), None


class BirchClustering(ClusteringMethod):
    estimator = "sklearn.cluster:Birch"  # its parameters are this method's config keys

    def _fit(self, x, k, seed):
        from sklearn.cluster import Birch

        # BIRCH is deterministic given the data order; the final global step groups the
        # subclusters into exactly k clusters.
        return Birch(n_clusters=k, **{"threshold": 0.3, "branching_factor": 50, **self.params}).fit_predict(x), None


class CorruptCache(Exception):
    """A cached fit that cannot be used; the message says why."""


def read_fit(path: Path, n: int, d: int, k: int, unit: bool = True) -> ClusterFit:
    """Load a cached fit and check it against what the fit must be: `n` labels in 0..K'-1 (every
    cluster used), K' <= k finite float64 centres of dimension `d`, unit-norm when `unit`
    (every centres setting but clustering.centers=raw)."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise CorruptCache("holds a bare array, expected an .npz archive of 'centers' and 'labels'")
        with z:
            if sorted(z.files) != ["centers", "labels"]:
                raise CorruptCache(f"holds {sorted(z.files)}, expected ['centers', 'labels']")
            labels, centers = z["labels"], z["centers"]
    except CorruptCache:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        # allow_pickle=False turns a pickled payload into a ValueError here.
        raise CorruptCache(f"unreadable: {type(e).__name__}: {e}") from None
    if labels.dtype != np.int64 or labels.shape != (n,):
        raise CorruptCache(f"labels are {labels.dtype} {labels.shape}, expected int64 ({n},)")
    if centers.dtype != np.float64 or centers.ndim != 2 or centers.shape[1] != d or not 1 <= centers.shape[0] <= k:
        raise CorruptCache(f"centres are {centers.dtype} {centers.shape}, expected float64 (K<={k}, {d})")
    kk = centers.shape[0]
    if labels.min() < 0 or labels.max() >= kk:
        raise CorruptCache(f"labels range {labels.min()}..{labels.max()} is outside 0..{kk - 1}")
    if (np.bincount(labels, minlength=kk) == 0).any():
        raise CorruptCache("some cluster has no member")
    if not np.isfinite(centers).all():
        raise CorruptCache("centres hold NaN or infinity")
    if unit and not np.allclose(np.einsum("ij,ij->i", centers, centers), 1.0, rtol=0, atol=1e-9):
        raise CorruptCache("centres are not unit vectors")
    return ClusterFit(labels=labels, centers=centers)


def move_aside(path: Path) -> Path:
    """Rename a bad cache file to <name>.corrupt (kept for inspection, never read again)."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        path.replace(aside)
    except FileNotFoundError:  # a parallel job moved it first
        pass
    return aside


def fit_cached(method: ClusteringMethod, x: np.ndarray, seed: int, inputs_key: dict[str, Any],
               cache_dir: str | Path | None | object = DEFAULT_CACHE) -> tuple[ClusterFit, bool]:
    """Fit, or load a fit made with exactly the same inputs. Returns (fit, was_cached).

    `inputs_key` names everything upstream (embedder identity, calibration text hashes); the
    method's own parameters and the seed are added here. Stored as .npz (no pickles), written
    atomically so parallel jobs can race safely, checked on read: a corrupt file is named in a
    warning, moved aside and the fit recomputed.
    """
    check_n_clusters(method.n_clusters, allow_auto=False)
    key = stable_hash({"inputs": inputs_key, "method": method.key(), "seed": method.effective_seed(seed),
                       "v": CACHE_VERSION})
    if cache_dir is DEFAULT_CACHE:
        cache_dir = cache_root()
    path = Path(cache_dir).expanduser() / "clusterings" / f"{key}.npz" if cache_dir else None
    if path is not None and path.exists():
        x = np.asarray(x)
        try:
            return read_fit(path, len(x), x.shape[1], int(method.n_clusters), unit=method.centers != "raw"), True
        except CorruptCache as e:
            aside = move_aside(path)
            log.warning("Clustering cache %s is corrupt (%s); moved it to %s and recomputing the fit.", path, e, aside)
    fit = method.fit(x, seed)
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, labels=fit.labels, centers=fit.centers)
        atomic_write_bytes(path, buf.getvalue())
    return fit, False
