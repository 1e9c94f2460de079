"""LLMRouterBench release (HF dataset NPULH/LLMRouterBench, one tarball `bench-release.tar.gz`).

See ../shared/specs/released_data.md §1 and its importer checklist §4. `data.path` is the
tarball (its SHA-256 is checked against the pinned release, or against `data.sha256`) or an
extracted folder (`bench-release/` or `results/bench/`; any depth works). The tarball is
streamed, never extracted.

Which files: every `*.json` below the root. Identity comes from each file's header
(`dataset_name`, `split`, `model_name`, `demo`), never from its path. Demo files are skipped;
per (dataset, split, model) the file with the newest `YYYYMMDD_HHMMSS.json` name wins (file
mtime when the name has none), exactly like LRB's `baselines/data_loader.py`. Two different
files tied for newest are an error. JSON files without a result header are ignored, with a
warning.

One canonical row per (dataset, split, prompt, model) - the release has one sample per model
and query, so `sample` is 0:
- `benchmark`: the dataset id; `<dataset>/<split>` when several splits of one dataset are
  selected (only with `data.allow_multiple_splits=true`: the exports overlap, see below).
- `query_id`: `<smallest record index of the prompt, 5 digits>-<sha256(prompt)[:10]>`; the
  cross-model join key is (dataset, split, prompt) as in LRB (record indices are 0- or
  1-based and local to a split).
- `query`: the prompt (`data.query_field=prompt`, default) or the raw question
  (`origin_query`; the prompt when a record has none).
- `score`: the record's score. A null score is a missing outcome (no row), so the table's
  `data.missing` policy decides; `data.null_score=zero` is LRB's own loader (null -> 0.0).
- `answer`: the prediction as a string (lists/dicts as JSON).
- `cost`: the per-record USD cost (the file totals are wrong for the ArenaHard category
  exports). Cost 0 means "not priced", so it is null unless `data.zero_cost=zero`.
- `split`: null (the harness splits) unless `data.split_protocol=llmrouterbench`, which
  reproduces LRB's `split_by_dataset_then_prompt(train_ratio, random_seed, ood_datasets)`.

Quarantine (reported in one warning, never used silently): records with a negative token
count or a negative cost keep their score but get cost null; records with an empty prompt
(failed before the prompt was built) cannot be joined across models and give no row.

Overlapping exports (hle subset_500 ⊂ test, simpleqa subset_500 ⊂ test, mmlupro
test_1000 / test_3000, arenahard and its arenahard_* category files) are never merged: a
selection with several splits of one dataset, or with arenahard and a category export, is
an error unless `data.splits: {dataset: split}` picks one (a list of labels accepts either,
e.g. `mmlupro: [test_1000, test]`) or `data.allow_multiple_splits=true` keeps each as its
own benchmark. A prompt that occurs twice in one model's file (mmlupro test_1000 has one)
gives one row: the last record wins (`data.duplicate_prompts=last`, as LRB's adaptors do),
or `first`, or `error`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import logging
import lzma
import math
import random
import re
import tarfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from json.decoder import scanstring
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from avengers.errors import ConfigError, OutcomeError, did_you_mean
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes

log = logging.getLogger(__name__)

RELEASE_FILE = "bench-release.tar.gz"
RELEASE_SHA256 = "b79f8cde1a6f029c2efa663a3a3b6f7748defb22341fe59f328cebef6648c8f1"
RELEASE_REVISION = "0e5af1b84bf73437a01a1849c0f1d2468baa93fc"

# Options and their allowed values (the first is the default).
CHOICES: dict[str, tuple[str, ...]] = {
    "null_score": ("missing", "zero"),
    "zero_cost": ("unknown", "zero"),
    "query_field": ("prompt", "origin_query"),
    "duplicate_prompts": ("last", "first", "error"),
    "split_protocol": ("harness", "llmrouterbench"),
}
# A parent dataset whose rows are duplicated by category exports named <parent>_<category>.
OVERLAPPING_EXPORTS = {"arenahard": "arenahard_"}

_TIMESTAMP = re.compile(r"(\d{8})_(\d{6})\.json$")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_PEEK_BYTES = 1 << 16
_HEADER = ("dataset_name", "split", "model_name")
#: largest result file read into memory (MiB); `data.max_member_mb` overrides it. The release's
#: 700 files average 10 MB; a member over this is refused from its tar header, before reading.
MAX_MEMBER_MB = 512
_READ_CHUNK = 1 << 20
# what a truncated or corrupt (gzip / xz / bzip2) tarball raises while it is streamed
_DAMAGED = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


# ----------------------------------------------------------------------------- options


def _choice(cfg: Mapping[str, Any], key: str) -> str:
    allowed = CHOICES[key]
    value = cfg.get(key)
    value = allowed[0] if value is None else str(value)
    if value not in allowed:
        raise ConfigError(f"data.{key}={value!r} is not one of {list(allowed)}.{did_you_mean(value, allowed)}")
    return value


def _names(cfg: Mapping[str, Any], key: str) -> list[str] | None:
    value = cfg.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _split_filter(cfg: Mapping[str, Any]) -> tuple[set[str] | None, dict[str, set[str]]]:
    """`data.splits`: a list (allowed split labels for every dataset, as LRB's `filters.splits`)
    or a mapping {dataset: split or [labels]}; datasets not in the mapping keep all splits."""
    value = cfg.get("splits")
    if value is None:
        return None, {}
    if isinstance(value, str):
        return {value}, {}
    if isinstance(value, Mapping):
        per: dict[str, set[str]] = {}
        for ds, sp in value.items():
            if sp is None:
                continue
            per[str(ds)] = {str(sp)} if isinstance(sp, str) else {str(s) for s in sp}
        return None, per
    return {str(s) for s in value}, {}


@dataclass(frozen=True)
class Options:
    datasets: list[str] | None
    models: list[str] | None
    splits_all: set[str] | None
    splits_per: dict[str, set[str]]
    allow_multiple_splits: bool
    null_score: str
    zero_cost: str
    query_field: str
    duplicate_prompts: str
    split_protocol: str
    split_seed: int
    train_ratio: float
    ood: list[str]
    max_member_mb: float

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> "Options":
        splits_all, splits_per = _split_filter(cfg)
        ratio = cfg.get("train_ratio")
        if ratio is None:
            ratio = round(1.0 - float(cfg.get("test_size", 0.3)), 12)
        ratio = float(ratio)
        if not 0 < ratio < 1:
            raise ConfigError(f"data.train_ratio={ratio} (or 1 - data.test_size) must be in (0, 1).")
        seed = cfg.get("split_seed")
        max_mb = cfg.get("max_member_mb")
        max_mb = MAX_MEMBER_MB if max_mb is None else max_mb
        if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or not 0 < max_mb < 1 << 20:
            raise ConfigError(f"data.max_member_mb={max_mb!r} must be a positive number of MiB (default {MAX_MEMBER_MB}).")
        return cls(
            datasets=_names(cfg, "datasets"),
            models=_names(cfg, "models"),
            splits_all=splits_all,
            splits_per=splits_per,
            allow_multiple_splits=bool(cfg.get("allow_multiple_splits", False)),
            null_score=_choice(cfg, "null_score"),
            zero_cost=_choice(cfg, "zero_cost"),
            query_field=_choice(cfg, "query_field"),
            duplicate_prompts=_choice(cfg, "duplicate_prompts"),
            split_protocol=_choice(cfg, "split_protocol"),
            split_seed=42 if seed is None else int(seed),
            train_ratio=ratio,
            ood=_names(cfg, "ood") or [],
            max_member_mb=float(max_mb),
        )

    @property
    def max_member_bytes(self) -> int:
        return int(self.max_member_mb * (1 << 20))

    def split_allowed(self, dataset: str, split: str) -> bool:
        if dataset in self.splits_per:
            return split in self.splits_per[dataset]
        return self.splits_all is None or split in self.splits_all

    def wanted(self, dataset: str, split: str, model: str) -> bool:
        """LRB's `_should_skip_file` whitelists (demo is checked separately)."""
        if self.datasets is not None and dataset not in self.datasets:
            return False
        if self.models is not None and model not in self.models:
            return False
        return self.split_allowed(dataset, split)


# ----------------------------------------------------------------------------- reading


@dataclass
class _Member:
    """One `*.json` file of the release: a real file or a tarball member."""

    rel: PurePosixPath  # path below the release root: LRB's `sorted(path)` order
    where: str  # for messages
    mtime: float
    open: Callable[[], IO[bytes]]
    size: int  # bytes, from the tar header or the file system


def _resolve(cfg: Mapping[str, Any]) -> Path:
    try:
        raw = cfg.get("path")
    except Exception:  # OmegaConf's '???' (mandatory, unset) raises on access
        raw = None
    if raw in (None, "", "???"):
        raise ConfigError(
            f"data.path is not set: pass data.path=/path/to/{RELEASE_FILE} (the LLMRouterBench release) "
            f"or its extracted folder (bench-release/ or results/bench/)."
        )
    p = Path(str(raw)).expanduser()
    if not p.exists() and not p.is_absolute() and cfg.get("root"):
        under_root = Path(str(cfg["root"])).expanduser() / p
        if under_root.exists():
            p = under_root
    if not p.exists():
        raise OutcomeError(
            f"data.path={str(raw)!r} does not exist (also looked under data.root={cfg.get('root')!r}). "
            f"Download {RELEASE_FILE} from HF NPULH/LLMRouterBench and pass its path, or the extracted folder."
        )
    return p


def _check_sha(path: Path, cfg: Mapping[str, Any]) -> str:
    expected = str(cfg.get("sha256") or RELEASE_SHA256).lower()
    actual = sha256_file(path)
    if actual != expected:
        which = (
            "data.sha256"
            if cfg.get("sha256")
            else f"the pinned release {RELEASE_FILE} (HF NPULH/LLMRouterBench @ {RELEASE_REVISION[:12]})"
        )
        raise OutcomeError(
            f"{path}: SHA-256 is {actual}, expected {expected} ({which}). The download is incomplete or a "
            f"different file: download it again, or, if you trust this file, set data.sha256={actual}."
        )
    return actual


def _iter_folder(root: Path) -> Iterator[_Member]:
    for p in sorted(root.rglob("*.json")):
        if not p.is_file():
            continue
        yield _Member(
            rel=PurePosixPath(p.relative_to(root).as_posix()),
            where=str(p),
            mtime=p.stat().st_mtime,
            open=lambda p=p: open(p, "rb"),
            size=p.stat().st_size,
        )


def _open_stream(path: Path) -> IO[bytes]:
    """The tarball's bytes, decompressed by a reader that checks the stream's end (CRC, length):
    tarfile's own stream mode stops at the end-of-archive block and never notices a cut tail."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _iter_tar(path: Path) -> Iterator[_Member]:
    """Stream the tarball; each member must be read before the next one is yielded."""
    raw = _open_stream(path)
    try:
        tar = tarfile.open(fileobj=raw, mode="r|")
    except _DAMAGED as e:
        raw.close()
        if isinstance(e, EOFError):  # cut off inside the first member's header
            raise _damaged(path, e, "at its first member") from None
        raise OutcomeError(f"{path}: not a readable tarball ({e}). Pass {RELEASE_FILE} or its extracted folder.") from None
    with raw, tar:
        try:
            for m in tar:
                if not m.isfile() or not m.name.endswith(".json"):
                    continue
                yield _Member(
                    rel=PurePosixPath(m.name),
                    where=f"{path}::{m.name}",
                    mtime=float(m.mtime),
                    open=lambda m=m: tar.extractfile(m),  # type: ignore[return-value]
                    size=int(m.size),
                )
            while raw.read(_READ_CHUNK):  # to the end of the compressed stream: its trailer is checked
                pass
        except _DAMAGED as e:  # truncated archive with a matching data.sha256
            raise _damaged(path, e, "between two members") from None


def _damaged(path: Path, e: BaseException, where: str) -> OutcomeError:
    return OutcomeError(
        f"{path}: the tarball is truncated or damaged ({type(e).__name__}: {e}; {where}). Download it again "
        f"(and check it against the release's SHA-256)."
    )


def _read_bounded(fh: IO[bytes], head: bytes, member: _Member, limit_mb: float) -> bytes:
    """The rest of the member after `head`, in chunks, never more than `limit` bytes in all
    (the size in a header can lie in a folder that changes while it is read)."""
    limit = int(limit_mb * (1 << 20))
    buf = bytearray(head)
    while True:
        chunk = fh.read(_READ_CHUNK)
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise _too_large(member, len(buf), limit_mb)


def _too_large(member: _Member, size: int, limit_mb: float) -> OutcomeError:
    return OutcomeError(
        f"{member.where}: {size:,} bytes, more than the {limit_mb:g} MiB allowed for one result file "
        f"(data.max_member_mb; the release's files average 10 MB), so it was not read. A damaged or foreign "
        f"archive? Download the release again; if the file is genuine, raise data.max_member_mb."
    )


def _peek_header(text: str) -> dict[str, Any] | None:
    """The top-level members before `records` (LRB's writer puts the header first), or None.

    Only a prefilter: a file it keeps is parsed in full and checked again."""
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if text[pos] != "{":
            return None
        pos += 1
        head: dict[str, Any] = {}
        while True:
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == "}":
                return head
            if text[pos] != '"':
                return None
            key, pos = scanstring(text, pos + 1)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] != ":":
                return None
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            if key == "records":
                return head
            head[key], pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == ",":
                pos += 1
            elif text[pos] == "}":
                return head
            else:
                return None
    except (IndexError, ValueError):
        return None


def _text(value: Any) -> str:
    """LRB's `normalize_to_string`: None -> '', list/dict -> JSON, else str."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _answer(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _number(value: Any, what: str, where: str, index: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    raise OutcomeError(f"{where}: record index={index!r} has {what}={value!r}; expected a number or null.")


@dataclass
class _Candidate:
    member: _Member
    stamp: int
    sha256: str
    rows: list[tuple]
    ties: list[str] = field(default_factory=list)


def _stamp(member: _Member) -> int:
    """LRB's `_get_latest_file_by_timestamp` key: YYYYMMDDHHMMSS from the name, else int(mtime)."""
    m = _TIMESTAMP.search(member.rel.name)
    return int(m.group(1) + m.group(2)) if m else int(member.mtime)


_COLUMNS = [
    "dataset", "split", "model", "index", "prompt", "origin_query", "answer",
    "score", "prompt_tokens", "completion_tokens", "cost", "file",
]
_FLOATS = {"score", "prompt_tokens", "completion_tokens", "cost"}


def _records(data: dict, member: _Member, intern: dict[str, str]) -> list[tuple]:
    ds, sp, model = (str(data[k]) for k in _HEADER)
    records = data.get("records")
    if not isinstance(records, list):
        raise OutcomeError(f"{member.where}: 'records' is not a list; this is not an LLMRouterBench result file.")
    rows = []
    for r in records:
        if not isinstance(r, dict) or "index" not in r:
            raise OutcomeError(f"{member.where}: a record is not an object with an 'index'; the file is damaged.")
        idx = r["index"]
        prompt = _text(r.get("prompt", ""))
        prompt = intern.setdefault(prompt, prompt)
        origin = _text(r.get("origin_query", ""))
        rows.append((
            ds, sp, model, idx, prompt, origin, _answer(r.get("prediction")),
            _number(r.get("score"), "score", member.where, idx),
            _number(r.get("prompt_tokens", 0), "prompt_tokens", member.where, idx),
            _number(r.get("completion_tokens", 0), "completion_tokens", member.where, idx),
            _number(r.get("cost"), "cost", member.where, idx),
            member.where,
        ))
    return rows


@dataclass
class Release:
    """The selected records of a release, in LRB's load order (files by sorted path)."""

    records: pd.DataFrame  # columns _COLUMNS
    files: dict[str, str]  # path -> SHA-256 of what was read
    superseded: list[str] = field(default_factory=list)  # older duplicate runs that lost
    skipped_demo: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # JSON files without a result header


def _take(member: _Member, opts: Options, best: dict, seen: dict, seen_splits: dict, superseded: list,
          demo: list, ignored: list, intern: dict) -> None:
    """Read one result file (its header first: most files are skipped without reading on)."""
    if member.size > opts.max_member_bytes:  # from the tar header: nothing was read yet
        raise _too_large(member, member.size, opts.max_member_mb)
    with member.open() as fh:
        head_bytes = fh.read(_PEEK_BYTES)
        head = _peek_header(head_bytes.decode("utf-8", errors="replace"))
        if head is not None and all(isinstance(head.get(k), str) for k in _HEADER):
            ds, sp, model = (head[k] for k in _HEADER)
            if not head.get("demo", False):
                seen["dataset"].add(ds)
                seen["model"].add(model)
                seen_splits[ds].add(sp)
            if head.get("demo", False) or not opts.wanted(ds, sp, model):
                if head.get("demo", False):
                    demo.append(member.where)
                return
        blob = _read_bounded(fh, head_bytes, member, opts.max_member_mb)
    try:
        data = json.loads(blob)
    except ValueError as e:
        if member.rel.name.startswith("._"):  # macOS AppleDouble metadata, not a result file
            ignored.append(member.where)
            return
        raise OutcomeError(f"{member.where}: not valid JSON ({e}). The release is damaged: download it again.") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in _HEADER) or "records" not in data:
        ignored.append(member.where)
        return
    ds, sp, model = (data[k] for k in _HEADER)
    if data.get("demo", False):
        demo.append(member.where)
        return
    seen["dataset"].add(ds)
    seen["model"].add(model)
    seen_splits[ds].add(sp)
    if not opts.wanted(ds, sp, model):
        return
    key = (ds, sp, model)
    stamp = _stamp(member)
    old = best.get(key)
    if old is not None and stamp < old.stamp:
        superseded.append(member.where)
        return
    sha = hashlib.sha256(blob).hexdigest()
    if old is not None and stamp == old.stamp:
        old.ties.append(member.where)
        return
    if old is not None:
        superseded.append(old.member.where)
    best[key] = _Candidate(member, stamp, sha, _records(data, member, intern))


def read_release(cfg: Mapping[str, Any]) -> Release:
    """Find, filter and deduplicate the result files; flatten the selected ones."""
    opts = Options.from_cfg(cfg)
    path = _resolve(cfg)
    files: dict[str, str] = {}
    if path.is_dir():
        members = _iter_folder(path)
    else:
        files[str(path)] = _check_sha(path, cfg)
        members = _iter_tar(path)

    seen: dict[str, set[str]] = {"dataset": set(), "model": set()}
    seen_splits: dict[str, set[str]] = defaultdict(set)
    best: dict[tuple[str, str, str], _Candidate] = {}
    superseded: list[str] = []
    demo: list[str] = []
    ignored: list[str] = []
    intern: dict[str, str] = {}
    n_json = 0
    current = "the first member"
    try:
        for member in members:
            current = member.where
            n_json += 1
            _take(member, opts, best, seen, seen_splits, superseded, demo, ignored, intern)
    except _DAMAGED as e:
        if path.is_dir():
            raise OutcomeError(f"{current}: cannot be read ({type(e).__name__}: {e}).") from None
        raise _damaged(path, e, f"while reading {current}") from None

    if n_json == 0:
        raise OutcomeError(
            f"{path}: no *.json result files found. Pass {RELEASE_FILE} or the folder it extracts to "
            f"(bench-release/ or results/bench/)."
        )
    for key, cand in best.items():
        if cand.ties:
            raise OutcomeError(
                f"Several result files for dataset={key[0]!r} split={key[1]!r} model={key[2]!r} have the same newest "
                f"timestamp: {[cand.member.where, *cand.ties]}. Keep one of them (or point data.path at a single "
                f"release folder)."
            )
    if ignored:
        log.warning(
            "LLMRouterBench: ignored %d JSON file(s) without a result header (dataset_name/split/model_name/records), e.g. %s",
            len(ignored), ignored[:3],
        )
    if superseded:
        log.info("LLMRouterBench: %d older run file(s) superseded by a newer one, e.g. %s", len(superseded), superseded[:3])
    _check_selection(opts, best, seen, seen_splits)

    chosen = sorted(best.values(), key=lambda c: c.member.rel)
    if path.is_dir():  # a tarball's own checksum covers its members
        files.update({c.member.where: c.sha256 for c in chosen})
    rows = [r for c in chosen for r in c.rows]
    cols = list(zip(*rows)) if rows else [()] * len(_COLUMNS)
    # object columns: long prompts shared by every model stay shared (no copy into Arrow strings)
    df = pd.DataFrame({
        name: pd.Series(list(col), dtype="float64" if name in _FLOATS else object)
        for name, col in zip(_COLUMNS, cols)
    })
    return Release(records=df, files=files, superseded=superseded, skipped_demo=demo, ignored=ignored)


def _check_selection(
    opts: Options,
    best: dict[tuple[str, str, str], _Candidate],
    seen: dict[str, set[str]],
    seen_splits: dict[str, set[str]],
) -> None:
    for kind, names in (("dataset", opts.datasets), ("model", opts.models)):
        for name in names or []:
            if name not in seen[kind]:
                raise ConfigError(
                    f"data.{kind}s names {name!r}, which no (non-demo) result file of the release has."
                    f"{did_you_mean(name, seen[kind])} Names are exact and case-sensitive; known {kind}s: "
                    f"{', '.join(sorted(seen[kind]))}."
                )
    for ds, labels in opts.splits_per.items():
        selected = opts.datasets is None or ds in opts.datasets
        if selected and ds in seen_splits and not labels & seen_splits[ds]:
            raise ConfigError(
                f"data.splits asks for split {sorted(labels)} of dataset {ds!r}, but the release has "
                f"{sorted(seen_splits[ds])} for it. Pick one of those."
            )
    if not best:
        raise OutcomeError(
            "No LLMRouterBench result file matches data.datasets / data.models / data.splits "
            f"(datasets in the release: {', '.join(sorted(seen['dataset']))})."
        )
    for kind, names, pos in (("dataset", opts.datasets, 0), ("model", opts.models, 2)):
        have = {k[pos] for k in best}
        empty = [n for n in names or [] if n not in have]
        if empty:
            raise ConfigError(
                f"data.{kind}s names {empty}, but none of their result files passes the other filters "
                f"(data.datasets / data.models / data.splits). Widen the filters or drop those names."
            )
    if opts.allow_multiple_splits:
        return
    splits: dict[str, set[str]] = defaultdict(set)
    for ds, sp, _ in best:
        splits[ds].add(sp)
    for ds, sps in sorted(splits.items()):
        if len(sps) > 1:
            ex = sorted(sps)
            raise ConfigError(
                f"The selection holds {len(sps)} splits of dataset {ds!r}: {ex}. LLMRouterBench's split exports "
                f"overlap (e.g. hle subset_500 is part of test; mmlupro test_1000 vs test_3000) and are never merged "
                f"silently. Choose one with data.splits={{{ds}: {ex[-1]}}}, or set data.allow_multiple_splits=true "
                f"to keep each as its own benchmark '{ds}/<split>'."
            )
    for parent, prefix in OVERLAPPING_EXPORTS.items():
        cats = sorted(d for d in splits if d.startswith(prefix))
        if parent in splits and cats:
            raise ConfigError(
                f"The selection holds {parent!r} and its category exports {cats}, which duplicate {parent!r} rows. "
                f"Drop one side via data.datasets, or set data.allow_multiple_splits=true to keep both."
            )


# ----------------------------------------------------------------------------- split protocol


def split_by_dataset_then_prompt(
    records: pd.DataFrame, train_ratio: float, random_seed: int, ood_datasets: list[str] | None = None
) -> dict[tuple[str, str], str]:
    """LRB `BaselineDataLoader.split_by_dataset_then_prompt`, exactly: {(dataset, prompt): split}.

    `records` must be in LRB's load order (result files by sorted path, records in file order).
    Datasets in first-seen order; per dataset the unique prompts sorted (stably) by their
    smallest record index; `n_train = int(len * train_ratio)`; one `random.shuffle` of
    `range(len)` per in-distribution dataset, all from one stream seeded once; OOD datasets
    go to test without drawing. A private `random.Random(seed)` gives the same stream as
    LRB's global `random.seed(seed)`."""
    rng = random.Random(random_seed)
    ood = set(ood_datasets or [])
    groups: dict[str, dict[str, Any]] = {}
    for ds, prompt, idx in zip(records["dataset"], records["prompt"], records["index"]):
        g = groups.setdefault(ds, {})
        if prompt not in g or idx < g[prompt]:
            g[prompt] = idx
    out: dict[tuple[str, str], str] = {}
    for ds, g in groups.items():
        if ds in ood:
            out.update({(ds, p): "test" for p in g})
            continue
        prompts = list(g)
        prompts.sort(key=lambda p: g[p])
        n_train = int(len(prompts) * train_ratio)
        order = list(range(len(prompts)))
        rng.shuffle(order)
        train = set(order[:n_train])
        out.update({(ds, p): ("train" if k in train else "test") for k, p in enumerate(prompts)})
    return out


# ----------------------------------------------------------------------------- canonical table


def _query_id(index: Any, prompt: str) -> str:
    h = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]
    try:
        i = int(index)
    except (TypeError, ValueError):
        return f"{index}-{h}"
    return f"{i:05d}-{h}"


@dataclass
class Converted:
    df: pd.DataFrame  # canonical columns
    quarantine: pd.DataFrame  # dataset, split, model, index, reason, action


def to_canonical(release: Release, cfg: Mapping[str, Any]) -> Converted:
    opts = Options.from_cfg(cfg)
    rec = release.records.copy()
    n_splits = rec.groupby("dataset")["split"].nunique()
    multi = set(n_splits[n_splits > 1].index)
    rec["benchmark"] = [f"{d}/{s}" if d in multi else d for d, s in zip(rec["dataset"], rec["split"])]

    if opts.split_protocol == "llmrouterbench":
        ood = set(opts.ood)
        ood_ds = sorted({d for d, b in zip(rec["dataset"], rec["benchmark"]) if d in ood or b in ood})
        assign = split_by_dataset_then_prompt(rec, opts.train_ratio, opts.split_seed, ood_ds)
        rec["split_out"] = [assign[(d, p)] for d, p in zip(rec["dataset"], rec["prompt"])]
    else:
        rec["split_out"] = None

    # The join key (dataset, split, prompt) -> query_id; computed before anything is dropped.
    first_idx = rec.groupby(["dataset", "split", "prompt"], sort=False)["index"].transform("min")
    ids: dict[tuple[Any, str], str] = {}
    rec["query_id"] = pd.Series(
        [ids.get((i, p)) or ids.setdefault((i, p), _query_id(i, p)) for i, p in zip(first_idx, rec["prompt"])],
        index=rec.index, dtype=object,
    )

    quarantine: list[pd.DataFrame] = []

    def _quarantine(mask: pd.Series, reason: str, action: str) -> None:
        if mask.any():
            q = rec.loc[mask, ["dataset", "split", "model", "index"]].assign(reason=reason, action=action)
            quarantine.append(q)

    neg_tok = (rec["prompt_tokens"] < 0) | (rec["completion_tokens"] < 0)
    _quarantine(neg_tok, "negative token count", "cost set to null")
    neg_cost = rec["cost"] < 0
    _quarantine(neg_cost & ~neg_tok, "negative cost", "cost set to null")
    empty = rec["prompt"].str.strip() == ""
    _quarantine(empty, "empty prompt (failed before prompting)", "no row: missing outcome")

    cost = rec["cost"].astype("float64")
    cost[neg_tok | neg_cost] = np.nan
    if opts.zero_cost == "unknown":
        cost[cost == 0] = np.nan
    rec["cost"] = cost
    rec = rec[~empty]

    null = rec["score"].isna()
    if null.any():
        counts = Counter(zip(rec.loc[null, "dataset"], rec.loc[null, "split"], rec.loc[null, "model"]))
        if opts.null_score == "zero":
            log.info("LLMRouterBench: %d null score(s) counted as 0 (data.null_score=zero): %s", int(null.sum()), dict(counts))
            rec.loc[null, "score"] = 0.0
        else:
            log.warning(
                "LLMRouterBench: %d null score(s) (not gradable / failed) are missing outcomes, handled by "
                "data.missing; data.null_score=zero counts them as wrong like LRB's loader: %s",
                int(null.sum()), dict(counts),
            )
            rec = rec[~null]

    if opts.query_field == "origin_query":
        has = rec["origin_query"].str.strip() != ""
        if (~has).any():
            log.warning(
                "LLMRouterBench: %d record(s) have no origin_query; their query is the prompt.", int((~has).sum())
            )
        origin = rec["origin_query"].where(has, rec["prompt"])
        # One text per query: the first record's (LRB load order).
        rec["query"] = origin.groupby([rec["benchmark"], rec["query_id"]], sort=False).transform("first")
    else:
        rec["query"] = rec["prompt"]

    key = ["benchmark", "query_id", "model"]
    dup = rec.duplicated(key, keep=False)
    if dup.any():
        ex = rec.loc[dup, key + ["index"]].head(4).to_dict("records")
        if opts.duplicate_prompts == "error":
            raise OutcomeError(
                f"LLMRouterBench: {int(dup.sum())} records repeat a prompt within one model's file, e.g. {ex}. "
                f"Choose data.duplicate_prompts=last (LRB's adaptors) or first."
            )
        keep = "last" if opts.duplicate_prompts == "last" else "first"
        log.warning(
            "LLMRouterBench: %d records repeat a prompt within one model's file; keeping the %s one "
            "(data.duplicate_prompts=%s), e.g. %s", int(dup.sum()), keep, keep, ex,
        )
        rec = rec[~rec.duplicated(key, keep=keep)]

    q = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(
        columns=["dataset", "split", "model", "index", "reason", "action"]
    )
    if len(q):
        summary = q.groupby(["reason", "action", "dataset", "split", "model"]).size().to_dict()
        log.warning("LLMRouterBench: quarantined %d record(s): %s", len(q), summary)

    df = pd.DataFrame({
        "benchmark": rec["benchmark"].astype(object).to_numpy(),
        "query_id": rec["query_id"].astype(object).to_numpy(),
        "query": rec["query"].astype(object).to_numpy(),
        "model": rec["model"].astype(object).to_numpy(),
        "sample": np.zeros(len(rec), dtype="int64"),
        "score": rec["score"].astype("float64").to_numpy(),
        "answer": rec["answer"].astype(object).to_numpy(),
        "cost": rec["cost"].astype("float64").to_numpy(),
        "split": rec["split_out"].astype(object).to_numpy(),
    })
    return Converted(df=df, quarantine=q.reset_index(drop=True))


@SOURCES.register("llmrouterbench")
def load_llmrouterbench(cfg: Mapping[str, Any]) -> RawOutcomes:
    release = read_release(cfg)
    conv = to_canonical(release, cfg)
    return RawOutcomes(df=conv.df, files=release.files)
