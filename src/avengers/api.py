"""The Python API: fit a router from recorded outcomes exactly as `avengers-run` would, route
queries with it, save it and load it back (JSON + .npz, no pickles).

    from avengers import Router
    router = Router.from_outcomes("routerdc", embedder="tfidf", **{"clustering.n_clusters": 16})
    router.route(["What is 2 + 2?"])      # [{"query", "models": [chosen...], "scores": {model: value}}]
    router.save("my_router"); Router.load("my_router")

`avengers-route --router DIR [QUERY ...]` (queries from the arguments or JSON Lines on stdin)
writes one JSON line per query. Every `avengers-run` job saves its fitted router as `router/`
in the job folder, loadable with `Router.load`.

The Hydra helpers used by `avengers-run` live here too (`load_config`, `check_choices`), so the
API and the CLI compose configs the same way.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from avengers.errors import AvengersError, ConfigError, did_you_mean
from avengers.files import atomic_write_bytes, atomic_write_json

if TYPE_CHECKING:  # heavy imports stay lazy: `import avengers` must be cheap
    import numpy as np
    import pandas as pd
    from omegaconf import DictConfig

CONF_DIR = Path(os.environ.get("AVENGERS_CONF_DIR") or Path(__file__).resolve().parent / "conf")
CONFIG_NAME = "config"
FORMAT = "avengers.router/1"
ROUTER_JSON, ARRAYS, TEXTS = "router.json", "arrays.npz", "calibration_texts.json.gz"


# ------------------------------------------------------------------------------- Hydra configs
def config_loader():
    """Hydra's config loader: the running app's (its search path: --config-dir,
    hydra.searchpath) inside `avengers-run`, else one over the package's configs."""
    from hydra.core.global_hydra import GlobalHydra

    gh = GlobalHydra.instance()
    if gh.is_initialized():
        return gh.config_loader()
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.utils import setup_globals

    setup_globals()  # Hydra's own resolvers (now, hydra:...), as hydra.main registers them
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))


def check_choices(overrides: Sequence[str], config_name: str = CONFIG_NAME, loader: Any = None) -> None:
    """Refuse `group=choice` overrides naming no config, with a did-you-mean. The options come
    from Hydra's own search path (package configs, --config-dir, hydra.searchpath, launcher
    plugins), so anything Hydra would accept passes; keys that are not groups are left to Hydra."""
    from hydra.core.object_type import ObjectType
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:
        return  # a syntax error: Hydra reports it in its own words
    loader = loader or config_loader()
    context = [o.input_line for o in parsed if o.key_or_group.startswith("hydra.searchpath")]
    for o in parsed:
        if o.is_delete() or "." in o.key_or_group:
            continue
        if o.value_type == ValueType.ELEMENT:
            choices = [o.value()]
        elif o.value_type in (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP):
            choices = list(o.sweep_string_iterator())
        else:
            continue  # glob() and range() sweeps
        known = [c for c in loader.get_group_options(o.key_or_group, ObjectType.CONFIG, config_name, context)
                 if not c.startswith("_")]  # _base files are inherited, not chosen
        if not known:
            continue  # not a config group: a plain key, Hydra checks it
        for choice in choices:
            if isinstance(choice, str) and choice not in known:
                raise ConfigError(f"Unknown {o.key_or_group} {choice!r}.{did_you_mean(choice, known)} "
                                  f"Known {o.key_or_group} configs: {', '.join(known)}.")


def load_config(overrides: Sequence[str], config_name: str = CONFIG_NAME, hydra_node: bool = False) -> "DictConfig":
    """The config `avengers-run <overrides>` composes (without the `hydra` node unless asked)."""
    from hydra.errors import HydraException, MissingConfigException
    from hydra.types import RunMode
    from omegaconf import open_dict

    loader = config_loader()
    check_choices(overrides, config_name, loader)
    try:
        cfg = loader.load_configuration(config_name=config_name, overrides=list(overrides), run_mode=RunMode.RUN)
    except MissingConfigException as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    except HydraException as e:
        raise ConfigError(f"Could not compose the config: {e}") from None
    if not hydra_node:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def hydra_value(value: Any) -> str:
    """A Python value in Hydra's override grammar (strings quoted, so any path is safe)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    raise ConfigError(f"Cannot pass {type(value).__name__} {value!r} as a config value.")


# ---------------------------------------------------------------------------- no-pickle files
def npz_bytes(arrays: Mapping[str, "np.ndarray"]) -> bytes:
    """An .npz (readable by np.load(allow_pickle=False)) with fixed timestamps: same arrays,
    same bytes."""
    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            arr = np.asarray(arrays[name])
            if arr.dtype == object:
                raise ValueError(f"array {name!r} has dtype object; refusing to pickle it")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            body = io.BytesIO()
            np.lib.format.write_array(body, arr, allow_pickle=False)
            z.writestr(info, body.getvalue())
    return buf.getvalue()


def _read_npz(path: Path) -> dict[str, "np.ndarray"]:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ----------------------------------------------------------------------------------- the router
class Router:
    """A fitted router plus the embedder that turns queries into its inputs."""

    def __init__(self, router: Any, embedder: Any, config: Mapping[str, Any], calibration_texts: Sequence[str] | None = None,
                 cache_dir: str | os.PathLike | None = None) -> None:
        self._router = router
        self._embedder = embedder
        self.config = dict(config)  # the resolved job config the router was fitted under
        self._texts = list(calibration_texts) if calibration_texts is not None else None
        self._cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()

    # -- building --------------------------------------------------------------------------
    @classmethod
    def from_outcomes(cls, outcomes: "str | os.PathLike | pd.DataFrame", router: str = "avengers",
                      embedder: str = "minilm", clustering: str = "kmeans", seed: int = 0,
                      overrides: Sequence[str] = (), **settings: Any) -> "Router":
        """Fit on the calibration split of `outcomes`, composing the same configs as `avengers-run`.

        outcomes: a canonical outcome file (.parquet / .jsonl), a canonical DataFrame, or the name
        of a data config (`routerdc`, `routerbench`, ...). router / embedder / clustering: config
        names of those groups. settings: any other config value, dotted keys through a dict
        (`**{"clustering.n_clusters": 16}`) or with `__` for the dots (`clustering__n_clusters=16`).
        overrides: raw Hydra override strings, as typed on the command line.
        """
        import pandas as pd

        ovr = [f"router={router}", f"embedder={embedder}", f"clustering={clustering}", f"seed={int(seed)}",
               "tracking=disabled"]
        table = None
        if isinstance(outcomes, pd.DataFrame):
            from avengers.outcomes.schema import OutcomeTable, validate

            table = OutcomeTable(df=validate(outcomes, where="the outcomes DataFrame"), source="dataframe")
            ovr += ["data=outcomes", f"data.path={hydra_value('<DataFrame>')}"]
        elif isinstance(outcomes, (str, os.PathLike)):
            path = Path(outcomes).expanduser()
            if path.suffix in (".parquet", ".jsonl", ".json") or path.exists():
                if not path.is_file():
                    raise ConfigError(f"Outcome file {str(path)!r} does not exist.")
                ovr += ["data=outcomes", f"data.path={hydra_value(str(path.resolve()))}"]
            else:
                ovr.append(f"data={outcomes}")
        else:
            raise ConfigError(f"outcomes must be a file path, a DataFrame or a data config name; got {type(outcomes).__name__}.")
        ovr += [f"{key.replace('__', '.')}={hydra_value(value)}" for key, value in settings.items()]
        ovr += list(overrides)
        return cls.fit(load_config(ovr), table=table)

    @classmethod
    def fit(cls, cfg: "DictConfig", table: Any = None) -> "Router":
        """Fit on the calibration split of a composed job config (`table`: outcomes already loaded)."""
        from omegaconf import OmegaConf

        from avengers.pipeline import calibrate, load_table
        from avengers.split import make_splits
        from avengers.split.views import make_view

        table = table if table is not None else load_table(cfg.data)
        splits = make_splits(table, cfg.data, int(cfg.seed))
        fitted = calibrate(cfg, make_view(splits.calib, table.models), table.has_cost)
        return cls.from_fitted(fitted, OmegaConf.to_container(cfg, resolve=True), cache_dir=cfg.paths.cache_dir)

    @classmethod
    def from_fitted(cls, fitted: Any, config: Mapping[str, Any], cache_dir: Any = None) -> "Router":
        """Wrap a `pipeline.Calibrated` (what every job fits)."""
        texts = None if _identity_without_fit(config.get("embedder", {}), fitted.embedder.identity) else fitted.data.texts
        return cls(fitted.router, fitted.embedder, config, calibration_texts=texts,
                   cache_dir=None if cache_dir is None else f"{cache_dir}/embeddings")

    # -- routing ---------------------------------------------------------------------------
    @property
    def models(self) -> list[str]:
        return list(self._router.models)

    @property
    def top_n(self) -> int:
        return int(self._router.top_n)

    @property
    def embedder_identity(self) -> str:
        return self._embedder.identity

    def _embed(self, texts: list[str]) -> "np.ndarray":
        if self._cache_dir is not None:
            from avengers.embed.cache import CachedEmbedder

            return CachedEmbedder(self._embedder, self._cache_dir, progress=False)(texts)
        return self._embedder.encode(texts)

    def route(self, texts: str | Sequence[str]) -> list[dict[str, Any]]:
        """Per query: `models` (the chosen model(s), best first; `top_n` of them) and `scores`
        (the router's value of every model for it, higher is better)."""
        import numpy as np

        texts = [texts] if isinstance(texts, str) else list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ConfigError(f"Query {bad[0]} is not a non-empty string ({texts[bad[0]]!r}); pass texts.")
        if not texts:
            return []
        q = np.asarray(self._embed(texts), dtype=np.float32)
        values = np.asarray(self._router.predict(q, texts), dtype=np.float64)
        order = self._router.rank(q, texts)
        names = self.models
        return [{"query": t, "models": [names[j] for j in order[i, : self.top_n]],
                 "scores": {m: float(values[i, j]) for j, m in enumerate(names)}}
                for i, t in enumerate(texts)]

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """router.json (configs, fitted scalars, embedder identity) + arrays.npz; the calibration
        texts too when the embedder is fitted on them (TF-IDF). Same router -> same bytes."""
        from avengers.provenance import package_versions

        out = Path(path).expanduser()
        meta, arrays = self._router.get_state()
        router_cfg = dict(self.config.get("router") or {})
        doc = {
            "format": FORMAT,
            "avengers_version": package_versions().get("avengers-harness"),
            "models": self.models,
            "router": {"target": router_cfg.get("_target_"), "config": router_cfg, "state": meta},
            "embedder": {"config": self.config.get("embedder"), "identity": self.embedder_identity,
                         "calibration_texts": self._texts is not None},
            "config": self.config,
        }
        atomic_write_bytes(out / ARRAYS, npz_bytes(arrays))
        if self._texts is not None:
            blob = json.dumps(list(self._texts), ensure_ascii=False).encode("utf-8")
            atomic_write_bytes(out / TEXTS, gzip.compress(blob, mtime=0))
        atomic_write_json(out / ROUTER_JSON, doc)  # last: a folder with router.json is complete
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, cache_dir: str | os.PathLike | None | bool = None) -> "Router":
        """A saved router (`save`, or a job folder's `router/`). Its embedder is rebuilt from the
        stored config and must have the stored identity, else the routing would silently change.
        cache_dir: embedding cache (default: $AVENGERS_CACHE_DIR/embeddings); False: none."""
        from hydra.utils import instantiate

        from avengers.route.base import Router as BaseRouter

        folder = Path(path).expanduser()
        if (folder / "router" / ROUTER_JSON).is_file() and not (folder / ROUTER_JSON).is_file():
            folder = folder / "router"  # a job folder
        try:
            doc = json.loads((folder / ROUTER_JSON).read_text(encoding="utf-8"))
            arrays = _read_npz(folder / ARRAYS)
        except FileNotFoundError as e:
            raise AvengersError(f"{str(folder)!r} is not a saved router ({Path(e.filename).name} is missing); "
                                "save one with Router.save(dir) or pass a job folder of avengers-run.") from None
        except ValueError as e:
            raise AvengersError(f"{str(folder)!r} holds a corrupt saved router ({e}).") from None
        if doc.get("format") != FORMAT:
            raise AvengersError(f"{folder / ROUTER_JSON} has format {doc.get('format')!r}; this version reads {FORMAT!r}.")
        router = instantiate(doc["router"]["config"])
        if not isinstance(router, BaseRouter):
            raise AvengersError(f"{doc['router']['target']} does not build an avengers.route.base.Router.")
        router.set_state(doc["router"]["state"], arrays)
        embedder = instantiate(doc["embedder"]["config"])
        texts = None
        if doc["embedder"]["calibration_texts"]:
            texts = json.loads(gzip.decompress((folder / TEXTS).read_bytes()).decode("utf-8"))
            embedder.fit(texts)
        identity = embedder.identity
        if identity != doc["embedder"]["identity"]:
            raise AvengersError(
                f"The router in {str(folder)!r} was fitted on embeddings from {doc['embedder']['identity']!r}, but the "
                f"embedder built here is {identity!r}. Install the same embedding model (same files) or refit the router."
            )
        if cache_dir is None:
            from avengers.assets import cache_root

            cache_dir = cache_root() / "embeddings"
        return cls(router, embedder, doc["config"], calibration_texts=texts, cache_dir=cache_dir or None)

    def __repr__(self) -> str:
        return f"Router({self._router.name}, {len(self.models)} models, top_n={self.top_n}, embedder={self._embedder.name})"


def _identity_without_fit(embedder_cfg: Mapping[str, Any], fitted_identity: str) -> bool:
    """Whether a fresh embedder built from the config has the fitted one's identity without being
    fitted (pretrained models); if not (TF-IDF), the saved router keeps the calibration texts."""
    from hydra.utils import instantiate

    try:
        return instantiate(dict(embedder_cfg)).identity == fitted_identity
    except Exception:  # noqa: BLE001 - e.g. "fit() must run before encoding": needs the texts
        return False


# ------------------------------------------------------------------------------ avengers-route
def _read_queries(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise AvengersError(f"stdin line {n} is not JSON; give one JSON object per line with a \"query\" field "
                                "(or a JSON string).") from None
        if isinstance(item, str):
            item = {"query": item}
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            raise AvengersError(f"stdin line {n} has no \"query\" string field.")
        yield item


def route_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="avengers-route",
        description="Route queries with a saved router (Router.save, or a job folder of avengers-run). "
        "Queries come from the arguments, else from stdin as JSON Lines ({\"query\": ...}, other fields are "
        "passed through). Writes one JSON line per query: query, models (chosen, best first), scores.")
    p.add_argument("--router", required=True, metavar="DIR", help="saved router folder or job folder")
    p.add_argument("queries", nargs="*", metavar="QUERY")
    p.add_argument("--batch-size", type=int, default=256, help="queries embedded at once (default 256)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    args = p.parse_args(argv)
    try:
        router = Router.load(args.router, cache_dir=False if args.no_cache else None)
        items: Iterable[dict[str, Any]] = ([{"query": q} for q in args.queries] if args.queries
                                           else _read_queries(sys.stdin))
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            for item, res in zip(batch, router.route([b["query"] for b in batch])):
                sys.stdout.write(json.dumps({**item, **res}, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            batch.clear()

        for item in items:
            batch.append(item)
            if len(batch) >= max(1, args.batch_size):
                flush()
        flush()
    except AvengersError as e:
        print(f"avengers-route: error: {e}", file=sys.stderr)
        return 2
    return 0


def main() -> None:  # console script
    sys.exit(route_main())


if __name__ == "__main__":
    main()
