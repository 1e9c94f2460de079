"""Typed specs for every config group, checked right after composition, before anything runs.

Hydra already refuses a command-line override of a key that does not exist; this catches the
rest (a typo in a user's own YAML, an experiment file, a `+key=` append, `--config-dir`
configs) and says what was meant. Each group's schema lives in one place:

- `paths`, `tracking` and the top level: the frozen dataclasses below;
- `data`: the shared keys (`DataSpec`, mirrored by conf/data/_base.yaml) plus the keys that the
  shipped YAML of the chosen `source` declares (the source's own options);
- `embedder`, `clustering`, `router`: the constructor of their `_target_` class (a clustering
  method also accepts its scikit-learn estimator's parameters);
- `ensemble`: the fields of the chosen strategy's dataclass.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from omegaconf import DictConfig, OmegaConf

from avengers.errors import ConfigError, did_you_mean
from avengers.registry import import_target

CONF_DIR = Path(__file__).resolve().parent / "conf"


@dataclass(frozen=True)
class PathsSpec:
    data_root: Optional[str]  # folder holding the released outcomes (routerdc/, routerbench/, ...)
    cache_dir: str  # the one cache root: downloads, models, embeddings, clusterings, routers
    output_root: str  # job folders


@dataclass(frozen=True)
class TrackingSpec:
    mode: str  # offline | online | disabled
    project: str
    entity: Optional[str]


@dataclass(frozen=True)
class DataSpec:
    """Keys every data source shares (conf/data/_base.yaml); a source adds its own options."""

    source: str
    name: str
    root: Optional[str]
    missing: str
    ood: list
    test_size: float
    benchmarks: Optional[list]
    max_queries_per_benchmark: Optional[int]
    subsample_seed: Optional[int]
    calibration_fraction: float


@dataclass(frozen=True)
class JobSpec:
    name: str
    seed: int
    skip_existing: bool
    paths: PathsSpec
    data: DataSpec
    embedder: dict
    clustering: dict
    router: dict
    ensemble: dict
    tracking: TrackingSpec
    experiment: Optional[dict] = None  # the experiment's report layout (see conf/experiment/)


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_keys(where: str, keys: Iterable[str], allowed: set[str], hint: str = "") -> None:
    for key in keys:
        if key not in allowed:
            name, owner = (f"{where}.{key}", where) if where else (key, "The job config")
            raise ConfigError(
                f"Unknown config key {name!r}.{did_you_mean(key, allowed)} "
                f"{owner} takes: {', '.join(sorted(k for k in allowed if not k.startswith('_') or k == '_target_'))}."
                f"{(' ' + hint) if hint else ''}"
            )


def _init_params(cls: type) -> tuple[set[str], bool]:
    """Named constructor parameters along the MRO, and whether the class takes **kwargs it
    does not pass on to a known estimator."""
    names: set[str] = set()
    open_kwargs = False
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names, False
        open_kwargs = True
    return names, open_kwargs


def target_keys(node: Mapping[str, Any]) -> set[str] | None:
    """Keys a `_target_` node may have, or None when the target accepts anything."""
    from hydra.utils import get_object

    try:
        obj = get_object(str(node["_target_"]))
    except Exception as e:  # ImportError, AttributeError: Hydra words them well
        raise ConfigError(f"_target_ {node['_target_']!r} cannot be imported: {e}") from None
    if not inspect.isclass(obj):
        params = inspect.signature(obj).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params} | {"_target_"}
    names, open_kwargs = _init_params(obj)
    estimator = getattr(obj, "estimator", None)  # e.g. a clustering method's scikit-learn class
    if open_kwargs and estimator:
        names |= set(inspect.signature(import_target(estimator).__init__).parameters) - {"self"}
        open_kwargs = False
    return None if open_kwargs else names | {"_target_", "_recursive_", "_convert_", "_partial_"}


def _source_options(source: str) -> set[str] | None:
    """The options the shipped YAML(s) of `source` declare; None for a user's own source."""
    keys: set[str] = set()
    found = False
    for path in sorted((CONF_DIR / "data").glob("*.yaml")):
        node = OmegaConf.load(path)
        if node.get("source") == source:
            found = True
            keys |= {str(k) for k in node.keys() if k != "defaults"}
    return keys if found else None


def check_values(cfg: DictConfig) -> None:
    """Refuse bad values of the top-level knobs before anything is loaded or written (each stage
    checks its own finer values)."""
    from avengers.cluster.methods import check_n_clusters
    from avengers.split import check_split_config

    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed!r} must be an integer in [0, 2**32); e.g. seed=0.")
    if cfg.get("clustering") is not None and "n_clusters" in cfg.clustering:
        check_n_clusters(cfg.clustering.n_clusters)
    check_split_config(cfg.data)


def check_config(cfg: DictConfig | Mapping[str, Any]) -> None:
    """Refuse unknown keys in any group (with a did-you-mean), then bad top-level values."""
    check_keys(cfg)
    check_values(cfg)


def check_keys(cfg: DictConfig | Mapping[str, Any]) -> None:
    """Refuse unknown keys in any group, with a did-you-mean."""
    c = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else dict(cfg)
    c.pop("hydra", None)
    _check_keys("", c, _fields(JobSpec), "Groups: data, embedder, clustering, router, ensemble, tracking, paths.")
    _check_keys("paths", c.get("paths") or {}, _fields(PathsSpec))
    _check_keys("tracking", c.get("tracking") or {}, _fields(TrackingSpec))

    data = c.get("data") or {}
    options = _source_options(str(data.get("source")))
    if options is not None:
        _check_keys("data", data, _fields(DataSpec) | options, f"(data.source={data.get('source')})")

    for group in ("embedder", "clustering", "router"):
        node = c.get(group) or {}
        if "_target_" not in node:
            raise ConfigError(f"{group} has no _target_: choose one of the shipped {group} configs ({group}=...).")
        allowed = target_keys(node)
        if allowed is not None:
            _check_keys(group, node, allowed, f"(_target_ {node['_target_']})")

    ens = c.get("ensemble") or {}
    from avengers.vote.ensemble import CONFIG_KEYS, STRATEGIES

    strategy = ens.get("strategy") or ens.get("name", "direct")
    cls = STRATEGIES.get(str(strategy))
    _check_keys("ensemble", ens, _fields(cls) | set(CONFIG_KEYS) | {"strategy"})
