"""The benchmark interface of the collect stage.

A benchmark is one :class:`BenchmarkSpec`: how to load its items (from the Hugging Face Hub at a
pinned revision, or from local json / jsonl / parquet / csv files that mirror it), how to prompt a
model with an item, how to extract the final answer from the model's completion, and how to grade
that answer (score in [0, 1]).

Every spec is registered in :data:`BENCHMARKS` under its name; :data:`SUITES` lists the paper's 15
in-distribution benchmarks (``paper15``) and the 5 out-of-distribution ones (``ood5``).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from avengers.errors import AvengersError, ConfigError
from avengers.registry import Registry

__all__ = [
    "BENCHMARKS",
    "SUITES",
    "SUPPORTED_SUFFIXES",
    "BenchmarkSource",
    "BenchmarkSpec",
    "Item",
    "get_benchmark",
    "read_rows",
    "suite_names",
]

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


@dataclass(frozen=True)
class Item:
    """One benchmark question. Everything in it is JSON-able."""

    benchmark: str  # registry name, e.g. "math500"
    query_id: str  # unique within the benchmark, stable across runs
    query: str  # the question as a user asks it (this is what gets embedded later)
    gold: Any  # gold answer / tests (JSON-able)
    meta: Mapping[str, Any] = field(default_factory=dict)  # options, test code, entry point, ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "query_id": self.query_id,
            "query": self.query,
            "gold": self.gold,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Item:
        return cls(
            benchmark=str(d["benchmark"]),
            query_id=str(d["query_id"]),
            query=str(d["query"]),
            gold=d.get("gold"),
            meta=dict(d.get("meta") or {}),
        )


@dataclass(frozen=True)
class BenchmarkSource:
    """Where to read a benchmark: a local ``path`` (file or folder) or a Hub dataset.

    ``path`` wins when both are set. ``hf_id`` / ``revision`` / ``config`` / ``split`` left as None
    fall back to the spec's defaults. ``config`` may be a list (benchmarks split into many Hub
    configs, e.g. BBH tasks): each config is loaded and its rows tagged with ``__config__``.
    ``columns`` renames columns of a mirror to the names the loader expects
    (``{expected_name: name_in_your_files}``).
    """

    path: str | None = None
    hf_id: str | None = None
    revision: str | None = None
    config: str | tuple[str, ...] | None = None
    split: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    data_files: str | None = None  # a file inside the Hub repo, read with the csv/json/parquet builder

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | BenchmarkSource | None) -> BenchmarkSource | None:
        """Build from a plain / OmegaConf mapping such as ``sources.<name>`` of the collect config."""
        if m is None or isinstance(m, BenchmarkSource):
            return m
        if isinstance(m, (str, Path)):
            return cls(path=str(m))
        d = {str(k): v for k, v in dict(m).items()}
        known = {"path", "hf_id", "revision", "config", "split", "columns", "data_files"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(
                f"Unknown benchmark source field(s) {unknown}; allowed: {sorted(known)}."
            )
        config = d.get("config")
        if config is not None and not isinstance(config, str):
            config = tuple(str(c) for c in config)
        path = d.get("path")
        return cls(
            path=None if path in (None, "") else str(path),
            hf_id=d.get("hf_id") or None,
            revision=None if d.get("revision") is None else str(d["revision"]),
            config=config,
            split=d.get("split") or None,
            columns={str(k): str(v) for k, v in dict(d.get("columns") or {}).items()},
            data_files=d.get("data_files") or None,
        )


# A row converter turns one raw row (a dict) into an Item, or None to skip the row.
RowFn = Callable[[str, Mapping[str, Any], int], "Item | None"]
PromptFn = Callable[[Item], str]
ExtractFn = Callable[[str, Item], "str | None"]
GradeFn = Callable[[Item, "str | None", str], float]


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything the collect stage needs to know about one benchmark."""

    name: str
    suite: str  # "paper15" | "ood5"
    answer_kind: str  # "math" | "choice" | "code" | "label" | "number" | "text" | ...
    hf_id: str | None
    hf_revision: str | None
    hf_config: str | None
    hf_split: str
    to_item: RowFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    prompt_fn: PromptFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    extract_fn: ExtractFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    grade_fn: GradeFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    columns: tuple[str, ...] = ()  # columns every raw row must have
    hf_configs: tuple[str, ...] = ()  # when the Hub dataset is split into many configs
    hf_data_files: str | None = None  # Hub repos holding raw files only (no loadable config)
    local_split: str | None = None  # split name to look for in local file names (default hf_split)
    prepare_rows: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = field(
        repr=False, compare=False, default=None
    )  # whole-table step before to_item (join rule files, expand dialogues, ...)
    description: str = ""
    homepage: str = ""

    # ---------------------------------------------------------------- loading
    def default_source(self) -> BenchmarkSource:
        config: str | tuple[str, ...] | None = self.hf_config
        if config is None and self.hf_configs:
            config = tuple(self.hf_configs)
        return BenchmarkSource(
            hf_id=self.hf_id,
            revision=self.hf_revision,
            config=config,
            split=self.hf_split,
            data_files=self.hf_data_files,
        )

    def resolve_source(self, source: BenchmarkSource | Mapping[str, Any] | None) -> BenchmarkSource:
        src = BenchmarkSource.from_mapping(source) or BenchmarkSource()
        default = self.default_source()
        if src.path:
            return replace(src, split=src.split or self.local_split or self.hf_split)
        hf_id = src.hf_id or default.hf_id
        same_dataset = hf_id == default.hf_id
        return BenchmarkSource(
            path=None,
            hf_id=hf_id,
            revision=src.revision or (default.revision if same_dataset else None),
            config=src.config if src.config is not None else (default.config if same_dataset else None),
            split=src.split or default.split,
            columns=src.columns,
            data_files=src.data_files or (default.data_files if same_dataset else None),
        )

    def load_rows(self, source: BenchmarkSource | Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        src = self.resolve_source(source)
        if src.path:
            rows = read_rows(src.path, split=src.split)
        elif src.hf_id:
            rows = _load_hf_rows(self.name, src)
        else:
            raise ConfigError(
                f"Benchmark {self.name!r} has no Hugging Face dataset to download; point "
                f"sources.{self.name}.path at a local copy (json, jsonl, parquet or csv)."
            )
        if src.columns:
            rows = [_rename(r, src.columns) for r in rows]
        where = src.path or f"{src.hf_id}@{src.revision or 'main'}"
        if self.prepare_rows is not None:
            try:
                rows = self.prepare_rows(rows)
            except (KeyError, TypeError, ValueError, IndexError) as e:
                raise AvengersError(
                    f"Benchmark {self.name!r}: cannot read {where} ({type(e).__name__}: {e}); "
                    f"is it in the published format of {self.hf_id or self.name}?"
                ) from e
        if self.columns:
            for i, row in enumerate(rows):
                missing = [c for c in self.columns if c not in row]
                if missing:
                    raise AvengersError(
                        f"Benchmark {self.name!r}: row {i} of {where} lacks required column(s) "
                        f"{missing} (has {sorted(k for k in row if not k.startswith('__'))}). "
                        f"Rename them in your files or map them with "
                        f"sources.{self.name}.columns: {{{missing[0]}: <your column>}}."
                    )
        return rows

    def load(self, source: BenchmarkSource | Mapping[str, Any] | None = None, limit: int | None = None) -> list[Item]:
        """Items in a stable order; ``limit`` keeps the first ``limit`` of them."""
        if limit is not None and int(limit) < 0:
            raise ConfigError(f"limit must be >= 0 or null, got {limit}.")
        rows = self.load_rows(source)
        items: list[Item] = []
        if limit is not None and int(limit) == 0:
            return items
        seen: dict[str, int] = {}
        for i, row in enumerate(rows):
            try:
                item = self.to_item(self.name, row, i)
            except (KeyError, TypeError, ValueError, IndexError) as e:
                raise AvengersError(
                    f"Benchmark {self.name!r}: cannot read row {i} ({type(e).__name__}: {e}); "
                    f"is the file in the published format of {self.hf_id or self.name}?"
                ) from e
            if item is None:
                continue
            if item.query_id in seen:
                raise AvengersError(
                    f"Benchmark {self.name!r}: query_id {item.query_id!r} appears twice "
                    f"(rows {seen[item.query_id]} and {i}); remove the duplicate row."
                )
            seen[item.query_id] = i
            items.append(item)
            if limit is not None and len(items) >= int(limit):
                break
        return items

    # ------------------------------------------------------------- prompting
    def prompt(self, item: Item) -> str:
        return self.prompt_fn(item)

    def extract(self, completion: str, item: Item) -> str | None:
        if completion is None:
            return None
        out = self.extract_fn(str(completion), item)
        if out is None:
            return None
        out = str(out).strip()
        return out or None

    def grade(self, item: Item, extracted: str | None, completion: str) -> float:
        score = float(self.grade_fn(item, extracted, completion or ""))
        if math.isnan(score):
            return 0.0
        return min(1.0, max(0.0, score))


# --------------------------------------------------------------------- registry
BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmark")

PAPER15 = [
    "aime",
    "math500",
    "livemathbench",
    "mbpp",
    "humaneval",
    "korbench",
    "knights_knaves",
    "bbh",
    "arc_challenge",
    "mmlu_pro",
    "gpqa",
    "finqa",
    "medqa",
    "emorynlp",
    "meld",
]
OOD5 = ["mathbench", "studenteval", "winogrande", "brainteaser", "dailydialog"]
SUITES: dict[str, list[str]] = {"paper15": list(PAPER15), "ood5": list(OOD5)}


def register(spec: BenchmarkSpec) -> BenchmarkSpec:
    if spec.suite not in SUITES or spec.name not in SUITES[spec.suite]:
        raise ValueError(f"benchmark {spec.name!r} is not listed in SUITES[{spec.suite!r}]")
    for fn in ("to_item", "prompt_fn", "extract_fn", "grade_fn"):
        if getattr(spec, fn) is None:
            raise ValueError(f"benchmark {spec.name!r} has no {fn}")
    return BENCHMARKS.register(spec.name)(spec)


def get_benchmark(name: str) -> BenchmarkSpec:
    return BENCHMARKS.get(str(name))


def suite_names(names: str | Iterable[str]) -> list[str]:
    """Expand suite names (``paper15``, ``ood5``) in a list of benchmark names; check them all."""
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for n in names:
        n = str(n)
        expanded = SUITES[n] if n in SUITES else [n]
        for b in expanded:
            get_benchmark(b)  # did-you-mean error for unknown names
            if b not in out:
                out.append(b)
    return out


# ------------------------------------------------------------------ file reading
def _rename(row: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    out = dict(row)
    for expected, actual in columns.items():
        if actual in out and expected not in out:
            out[expected] = out.pop(actual)
    return out


def _plain(v: Any) -> Any:
    """numpy / pandas values (from parquet) -> plain python, recursively."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    tolist = getattr(v, "tolist", None)
    if tolist is not None and not isinstance(v, (str, bytes)):
        return _plain(tolist())
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _rows_from_json_value(data: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(data, list):
        rows = data
    elif isinstance(data, dict):
        lists = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        for key in ("data", "examples", "rows", "instances", "test"):
            if key in lists:
                rows = lists[key]
                break
        else:
            if len(lists) == 1:
                rows = next(iter(lists.values()))
            elif data and all(isinstance(v, dict) for v in data.values()):
                # {"id": {...row...}, ...}
                rows = [{"__key__": k, **v} for k, v in data.items()]
            elif not lists:
                rows = [data]  # a single row
            else:
                raise AvengersError(
                    f"{path}: expected a JSON list of rows (or an object holding one list of rows)."
                )
    else:
        raise AvengersError(f"{path}: expected a JSON list of rows, got {type(data).__name__}.")
    bad = [i for i, r in enumerate(rows) if not isinstance(r, dict)]
    if bad:
        raise AvengersError(f"{path}: row {bad[0]} is not a JSON object.")
    return [dict(r) for r in rows]


def _jsonl_rows(text: str, path: Path) -> list[dict[str, Any]]:
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise AvengersError(f"{path}:{ln}: not valid JSON ({e.msg}).") from None
        if not isinstance(row, dict):
            raise AvengersError(f"{path}:{ln}: expected a JSON object per line.")
        rows.append(row)
    return rows


def _read_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_rows(path.read_text(encoding="utf-8"), path)
    if suffix == ".json":
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if e.msg == "Extra data":  # JSON Lines saved as .json (as in the paper's data)
                return _jsonl_rows(text, path)
            raise AvengersError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}).") from None
        return _rows_from_json_value(data, path)
    if suffix == ".parquet":
        import pandas as pd

        return [_plain(r) for r in pd.read_parquet(path).to_dict(orient="records")]
    if suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            return [dict(r) for r in csv.DictReader(f)]
    raise AvengersError(
        f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}."
    )


def _tokens(rel: str) -> set[str]:
    return {t for t in re.split(r"[-_./\\\s]+", rel.lower()) if t}


def read_rows(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a local file, or of every supported file under a folder (sorted by path).

    In a folder, when some file paths carry the split name as a token (``test.jsonl``,
    ``data/test-00000-of-00001.parquet``) only those are read. Each row gets ``__source__``:
    the file's path relative to the folder (its name for a single file), which loaders of
    multi-file benchmarks (BBH tasks, KOR-Bench categories) use, and ``__row__``: the row's
    position in its file (rows from the Hub get ``__row__`` and ``__config__``).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"Benchmark source path {str(p)!r} does not exist; fix sources.<name>.path.")
    if p.is_file():
        return [{**r, "__source__": p.name, "__row__": k} for k, r in enumerate(_read_file(p))]
    files = sorted(
        f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in f.relative_to(p).parts)
    )
    if not files:
        raise ConfigError(
            f"Folder {str(p)!r} holds no {'/'.join(SUPPORTED_SUFFIXES)} files; "
            "fix sources.<name>.path."
        )
    if split:
        chosen = [f for f in files if split.lower() in _tokens(str(f.relative_to(p)))]
        if chosen:
            files = chosen
    rows: list[dict[str, Any]] = []
    for f in files:
        rel = f.relative_to(p).as_posix()
        rows.extend({**r, "__source__": rel, "__row__": k} for k, r in enumerate(_read_file(f)))
    return rows


def _load_hf_rows(name: str, src: BenchmarkSource) -> list[dict[str, Any]]:
    try:
        import datasets  # lazy: slow import, optional at test time
    except ImportError:
        raise AvengersError(
            f"Loading {name!r} from the Hub needs the `datasets` package (pip install datasets), "
            f"or point sources.{name}.path at a local copy."
        ) from None
    configs: Sequence[str | None]
    if isinstance(src.config, tuple):
        configs = list(src.config)
    else:
        configs = [src.config]
    rows: list[dict[str, Any]] = []
    if src.data_files:
        suffix = Path(src.data_files).suffix.lower().lstrip(".")
        builder = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet"}.get(suffix)
        if builder is None:
            raise ConfigError(f"data_files {src.data_files!r}: use a json, jsonl, csv or parquet file.")
        url = f"hf://datasets/{src.hf_id}@{src.revision or 'main'}/{src.data_files}"
        try:
            ds = datasets.load_dataset(builder, data_files=url, split="train")
        except Exception as e:
            raise AvengersError(
                f"Could not load {name!r} from {url}: {type(e).__name__}: {e}. Mirror it locally "
                f"and set sources.{name}.path."
            ) from e
        return [{**_plain(dict(r)), "__source__": src.data_files, "__row__": k} for k, r in enumerate(ds)]
    for cfg in configs:
        try:
            ds = datasets.load_dataset(src.hf_id, cfg, split=src.split, revision=src.revision)
        except Exception as e:  # network, gated dataset, bad revision ...
            raise AvengersError(
                f"Could not load {name!r} from the Hub ({src.hf_id}, config={cfg}, split="
                f"{src.split}, revision={src.revision}): {type(e).__name__}: {e}. Mirror it locally "
                f"and set sources.{name}.path."
            ) from e
        for k, r in enumerate(ds):
            row = _plain(dict(r))
            row["__row__"] = k
            if cfg is not None:
                row["__config__"] = cfg
            rows.append(row)
    return rows
