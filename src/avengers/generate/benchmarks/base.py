"""The benchmark interface of the generation stage.

A benchmark is one :class:`BenchmarkSpec`: where its items come from (Hugging Face Hub
datasets at a pinned revision, the reference implementation's data folder, or local files),
how to prompt a model with an item, and which answer pipeline (`avengers.answers`) extracts
and grades the model's answer. Every spec states the item count and prompt format of the
reference implementation (ZhangYiqun018/Avengers `evaluate/*`), which the tests pin.

All rows are read with `datasets.load_dataset`: Hub datasets by id and pinned revision (so
`HF_HUB_OFFLINE=1` / `HF_DATASETS_OFFLINE=1` and the datasets cache work as usual), local
json / jsonl / parquet / csv files through the same call with the matching builder.

Every spec is registered in :data:`BENCHMARKS` under its name; :data:`SUITES` lists the paper's 15
in-distribution benchmarks (``paper15``) and the 5 out-of-distribution ones (``ood5``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from avengers.answers import get_pipeline, register_benchmark
from avengers.errors import AvengersError, ConfigError
from avengers.generate.benchmarks.revisions import resolve_revision
from avengers.registry import Registry

log = logging.getLogger(__name__)

__all__ = [
    "BENCHMARKS",
    "SUITES",
    "SUPPORTED_SUFFIXES",
    "BenchmarkSource",
    "BenchmarkSpec",
    "HubPart",
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
class HubPart:
    """One Hub table a benchmark reads: dataset id, config, split, or one raw file of the repo
    (`data_files`, read with the csv / json / parquet builder). `tag` marks its rows
    (``__part__``), e.g. the year of an AIME problem."""

    hf_id: str
    config: str | None = None
    split: str = "test"
    data_files: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class BenchmarkSource:
    """Where to read a benchmark: local ``path`` (file, folder, or a list of them) or the Hub.

    ``path`` wins. Otherwise the spec's Hub parts are read; ``hf_id`` / ``config`` / ``split`` /
    ``data_files`` replace them by one table of your choice, ``revision`` pins a single-dataset
    benchmark for this run. ``columns`` renames columns of a mirror to the names the loader
    expects (``{expected_name: name_in_your_files}``).
    """

    path: str | tuple[str, ...] | None = None
    hf_id: str | None = None
    revision: str | None = None
    config: str | tuple[str, ...] | None = None
    split: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    data_files: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | BenchmarkSource | None) -> BenchmarkSource | None:
        """Build from a plain / OmegaConf mapping such as ``sources.<name>`` of the generate config."""
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
        if path in (None, ""):
            path = None
        elif not isinstance(path, (str, Path)):
            path = tuple(str(p) for p in path)
        else:
            path = str(path)
        return cls(
            path=path,
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
    """Everything the generation stage needs to know about one benchmark.

    `pipeline` names its answer pipeline (`avengers.answers`): extraction and, unless `grade_fn`
    is given (code runs tests), grading. `extract_fn` / `grade_fn` alone serve benchmarks
    without a pipeline (test stand-ins, plug-ins).
    """

    name: str
    suite: str  # "paper15" | "ood5"
    answer_kind: str  # "math" | "choice" | "code" | "label" | "number" | "text" | ...
    hub: tuple[HubPart, ...] = ()
    to_item: RowFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    prompt_fn: PromptFn = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    pipeline: str | None = None
    extract_fn: ExtractFn | None = field(repr=False, compare=False, default=None)
    grade_fn: GradeFn | None = field(repr=False, compare=False, default=None)
    columns: tuple[str, ...] = ()  # columns every raw row must have
    local_split: str | None = "test"  # split name looked for in local file names
    keep_file: Callable[[str], bool] | None = field(repr=False, compare=False, default=None)  # folder reads
    prepare_rows: Callable[[list[dict[str, Any]], Sequence[str]], list[dict[str, Any]]] | None = field(
        repr=False, compare=False, default=None
    )  # whole-table step before to_item (join rule files, expand dialogues, ...), given the local paths
    order_key: Callable[[Item], Any] | None = field(repr=False, compare=False, default=None)
    # --- what the reference implementation evaluates (pinned by the tests) ---
    reference_files: tuple[str, ...] = ()  # under the reference data folder (its DATA_DIR/file)
    n_items: int | None = None  # items the reference evaluates
    n_items_source: str = ""  # where that count comes from
    prompt_format: str = ""  # one line: instruction, shots, answer format
    description: str = ""
    homepage: str = ""

    @property
    def hf_id(self) -> str | None:
        """The (first) Hub dataset of the benchmark, None when it is not on the Hub."""
        return self.hub[0].hf_id if self.hub else None

    # ---------------------------------------------------------------- loading
    def resolve_source(self, source: BenchmarkSource | Mapping[str, Any] | None) -> BenchmarkSource:
        return BenchmarkSource.from_mapping(source) or BenchmarkSource()

    def hub_parts(self, src: BenchmarkSource) -> tuple[HubPart, ...]:
        """The Hub tables to read for a source without a path."""
        if src.hf_id and src.hf_id != self.hf_id:  # another dataset: exactly what the source says
            configs = src.config if isinstance(src.config, tuple) else (src.config,)
            return tuple(HubPart(src.hf_id, c, src.split or "test", src.data_files) for c in configs)
        if src.config is not None or src.split or src.data_files:
            base = self.hub[0] if self.hub else HubPart(str(src.hf_id))
            configs = src.config if isinstance(src.config, tuple) else (src.config if src.config is not None else base.config,)
            return tuple(
                HubPart(base.hf_id, c, src.split or base.split, src.data_files or base.data_files) for c in configs
            )
        return self.hub

    def load_rows(
        self,
        source: BenchmarkSource | Mapping[str, Any] | None = None,
        *,
        allow_unpinned: bool = False,
        hub_revisions: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        src = self.resolve_source(source)
        paths: list[str] = []
        if src.path:
            paths = [src.path] if isinstance(src.path, str) else list(src.path)
            rows = []
            for p in paths:
                rows.extend(read_rows(p, split=src.split or self.local_split, keep=self.keep_file))
            where = ", ".join(paths)
        else:
            parts = self.hub_parts(src)
            if not parts:
                files = ", ".join(self.reference_files) or "its published files"
                raise ConfigError(
                    f"Benchmark {self.name!r} is not on the Hugging Face Hub: point "
                    f"benchmark.sources.{self.name}.path at a local copy (json, jsonl, parquet or csv; "
                    f"the reference's {files}), or set benchmark.reference_data to the reference's data folder."
                )
            if src.revision and len({p.hf_id for p in parts}) > 1:
                raise ConfigError(
                    f"Benchmark {self.name!r} reads {len({p.hf_id for p in parts})} Hub datasets; pin them with "
                    f"hub_revisions=[<dataset id>@<commit>, ...], not sources.{self.name}.revision."
                )
            rows = []
            for part in parts:
                rev = resolve_revision(
                    part.hf_id, benchmark=self.name, override=src.revision, overrides=hub_revisions,
                    allow_unpinned=allow_unpinned,
                )
                rows.extend(_load_hub_rows(self.name, part, rev))
            where = ", ".join(sorted({f"{p.hf_id}" for p in parts}))
        if src.columns:
            rows = [_rename(r, src.columns) for r in rows]
        if self.prepare_rows is not None:
            try:
                rows = self.prepare_rows(rows, paths)
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

    def load(
        self,
        source: BenchmarkSource | Mapping[str, Any] | None = None,
        limit: int | None = None,
        *,
        allow_unpinned: bool = False,
        hub_revisions: Mapping[str, str] | None = None,
    ) -> list[Item]:
        """Items in a stable order; ``limit`` keeps the first ``limit`` of them."""
        if limit is not None and int(limit) < 0:
            raise ConfigError(f"limit must be >= 0 or null, got {limit}.")
        rows = self.load_rows(source, allow_unpinned=allow_unpinned, hub_revisions=hub_revisions)
        items: list[Item] = []
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
        if self.order_key is not None:
            items.sort(key=self.order_key)
        if limit is not None:
            items = items[: int(limit)]
        return items

    # ------------------------------------------------------------- prompting
    def prompt(self, item: Item) -> str:
        return self.prompt_fn(item)

    def extract(self, completion: str, item: Item) -> str | None:
        if completion is None:
            return None
        if self.pipeline is not None:
            return get_pipeline(self.pipeline).answer(str(completion), item.meta)
        out = self.extract_fn(str(completion), item)  # type: ignore[misc]
        if out is None:
            return None
        out = str(out).strip()
        return out or None

    def grade_key(self, extracted: str | None) -> str | None:
        """What decides the grade of an answer: its vote key (answers that vote together get
        one grade). Without a pipeline, the answer itself."""
        if self.pipeline is None or extracted is None:
            return extracted
        return get_pipeline(self.pipeline).key(extracted)

    def grade(self, item: Item, extracted: str | None, completion: str) -> float:
        if self.grade_fn is not None:
            score = float(self.grade_fn(item, self.grade_key(extracted), completion or ""))
        else:
            score = get_pipeline(str(self.pipeline)).score(extracted, item.gold, item.meta)
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
    for fn in ("to_item", "prompt_fn"):
        if getattr(spec, fn) is None:
            raise ValueError(f"benchmark {spec.name!r} has no {fn}")
    if spec.pipeline is None:
        raise ValueError(f"benchmark {spec.name!r} names no answer pipeline")
    register_benchmark(spec.name, spec.pipeline)  # voting finds the same pipeline by name
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
    """numpy / pandas values -> plain python, recursively; NaN -> None."""
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


def _datasets():
    try:
        import datasets  # slow import: only when rows are read
    except ImportError:  # pragma: no cover - declared dependency
        raise AvengersError("Reading benchmarks needs the `datasets` package: pip install datasets") from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _json_field(path: Path) -> str | None:
    """For a .json file holding ONE object with a list of rows (BBH's {"examples": [...]}),
    the key of that list; None for JSON Lines or a JSON array."""
    with open(path, encoding="utf-8") as f:
        head = f.read(1 << 16).lstrip()
    if not head.startswith("{"):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # JSON Lines saved as .json (the reference's data files are)
    if not isinstance(data, dict):
        return None
    lists = [k for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    for key in ("data", "examples", "rows", "instances", "test", "episodes"):
        if key in lists:
            return key
    if len(lists) == 1:
        return lists[0]
    if lists:
        raise AvengersError(f"{path}: an object holding several lists of rows ({lists}); keep one, or use JSON Lines.")
    return None  # one object: one row


def _diagnose_jsonl(path: Path) -> None:
    """A precise message (file:line) for a broken JSON Lines file."""
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise AvengersError(f"{path}:{ln}: not valid JSON ({e.msg}).") from None
        if not isinstance(row, dict):
            raise AvengersError(f"{path}:{ln}: expected a JSON object per line.")


def _read_file(path: Path) -> list[dict[str, Any]]:
    """Rows of one local file, read by `datasets.load_dataset` with the file's builder."""
    suffix = path.suffix.lower()
    builder = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(suffix)
    if builder is None:
        raise AvengersError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    kw: dict[str, Any] = {}
    if suffix == ".json":
        fld = _json_field(path)
        if fld:
            kw["field"] = fld
    ds = _datasets()
    try:
        table = ds.load_dataset(builder, data_files=str(path), split="train", **kw)
    except Exception as e:  # Arrow parse errors and the like: say which file and why
        if builder == "json" and not kw:
            _diagnose_jsonl(path)
        raise AvengersError(f"{path}: could not be read as {builder} ({type(e).__name__}: {e}).") from None
    return [_plain(dict(r)) for r in table]


def _tokens(rel: str) -> set[str]:
    return {t for t in re.split(r"[-_./\\\s]+", rel.lower()) if t}


def read_rows(
    path: str | Path, split: str | None = None, keep: Callable[[str], bool] | None = None
) -> list[dict[str, Any]]:
    """Rows of a local file, or of every supported file under a folder (sorted by path).

    In a folder, `keep(relative path)` picks the files a benchmark reads; when some paths carry
    the split name as a token (``test.jsonl``, ``data/test-00000-of-00001.parquet``) only those
    are read. Each row gets ``__source__``: the file's path relative to the folder (its name for
    a single file), which loaders of multi-file benchmarks (BBH tasks, KOR-Bench categories)
    use, and ``__row__``: the row's position in its file (rows from the Hub get ``__row__`` and
    ``__config__``).
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
    if keep is not None:
        files = [f for f in files if keep(f.relative_to(p).as_posix())]
    if not files:
        raise ConfigError(
            f"Folder {str(p)!r} holds no {'/'.join(SUPPORTED_SUFFIXES)} files this benchmark reads; "
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


def _load_hub_rows(name: str, part: HubPart, revision: str) -> list[dict[str, Any]]:
    ds = _datasets()
    hint = (f"Set HF_HUB_OFFLINE=1 to read the datasets cache only, or mirror it and set "
            f"benchmark.sources.{name}.path.")
    if part.data_files:
        suffix = PurePosixPath(part.data_files).suffix.lower().lstrip(".")
        builder = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet"}.get(suffix)
        if builder is None:
            raise ConfigError(f"data_files {part.data_files!r}: use a json, jsonl, csv or parquet file.")
        url = f"hf://datasets/{part.hf_id}@{revision}/{part.data_files}"
        try:
            table = ds.load_dataset(builder, data_files=url, split="train")
        except Exception as e:
            raise AvengersError(f"Could not load {name!r} from {url}: {type(e).__name__}: {e}. {hint}") from e
        return [{**_plain(dict(r)), "__source__": part.data_files, "__row__": k, "__part__": part.tag}
                for k, r in enumerate(table)]
    try:
        table = ds.load_dataset(part.hf_id, part.config, split=part.split, revision=revision)
    except Exception as e:  # network, gated dataset, bad revision, loading script ...
        raise AvengersError(
            f"Could not load {name!r} from the Hub ({part.hf_id}, config={part.config}, split={part.split}, "
            f"revision={revision}): {type(e).__name__}: {e}. {hint}"
        ) from e
    rows = []
    for k, r in enumerate(table):
        row = _plain(dict(r))
        row["__row__"] = k
        row["__part__"] = part.tag
        if part.config is not None:
            row["__config__"] = part.config
        rows.append(row)
    return rows


def _find_case_insensitive(base: Path, rel: str) -> Path:
    """`base/rel`, matching each part without regard to case when the exact path is missing
    (the reference's code says data/MathBench, LLMRouterBench's copy of the folder data/Mathbench)."""
    exact = base / rel
    if exact.exists():
        return exact
    cur = base
    for part in PurePosixPath(rel).parts:
        nxt = cur / part
        if not nxt.exists() and cur.is_dir():
            nxt = next((c for c in sorted(cur.iterdir()) if c.name.lower() == part.lower()), nxt)
        cur = nxt
    return cur


def reference_paths(spec: BenchmarkSpec, root: str | Path) -> tuple[str, ...]:
    """The reference implementation's files of a benchmark under its data folder `root`."""
    if not spec.reference_files:
        raise ConfigError(f"Benchmark {spec.name!r} has no file in the reference's data folder.")
    base = Path(str(root)).expanduser()
    if not base.is_dir():
        raise ConfigError(f"benchmark.reference_data={str(base)!r} is not a folder (the reference's data/ folder).")
    return tuple(str(_find_case_insensitive(base, f)) for f in spec.reference_files)
