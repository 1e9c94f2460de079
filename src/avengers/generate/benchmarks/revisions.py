"""The ONE table of Hugging Face Hub revisions the generation stage reads benchmarks at.

`HUB_REVISIONS` maps a Hub dataset id to the commit (40 hex digits) its rows are read at.
The reference implementation pins none (it reads local copies of its data folder,
`Estwld/Avengers`), and the Hub cannot be reached from where this table was written, so no
commit could be looked up: every entry is `None` ("not pinned yet") rather than a made-up
hash. Loading an unpinned dataset stops with a message naming the fix, unless the run says
`allow_unpinned=true` (then `main` is read and a warning logged). Pin a dataset either here
or per run with `hub_revisions=[<dataset id>@<commit>, ...]` (avengers-generate config).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from avengers.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["HUB_REVISIONS", "is_commit", "parse_pins", "resolve_revision"]

HUB_REVISIONS: dict[str, str | None] = {
    # maths
    "Maxwell-Jia/AIME_2024": None,
    "MathArena/aime_2025": None,
    "HuggingFaceH4/MATH-500": None,
    "opencompass/LiveMathBench": None,
    # code
    "google-research-datasets/mbpp": None,
    "openai/openai_humaneval": None,
    "wellesley-easel/StudentEval": None,
    # reasoning
    "K-and-K/knights-and-knaves": None,
    # knowledge
    "allenai/ai2_arc": None,
    "TIGER-Lab/MMLU-Pro": None,
    "Idavidrein/gpqa": None,
    "ibm/finqa": None,
    "GBaker/MedQA-USMLE-4-options": None,
    "allenai/winogrande": None,
    # affective
    "zrr1999/MELD_Text": None,
}

_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(revision: str | None) -> bool:
    return revision is not None and bool(_COMMIT.fullmatch(str(revision)))


def parse_pins(pins: Any) -> dict[str, str]:
    """`hub_revisions` of the config: a list of "<dataset id>@<commit>" (or a mapping) -> {id: commit}."""
    if not pins:
        return {}
    if isinstance(pins, Mapping):
        return {str(k): str(v) for k, v in pins.items()}
    out: dict[str, str] = {}
    for pin in pins:
        hf_id, sep, rev = str(pin).rpartition("@")
        if not sep or not hf_id or not rev:
            raise ConfigError(f"hub_revisions entry {pin!r}: write <dataset id>@<commit>, e.g. TIGER-Lab/MMLU-Pro@<40 hex>.")
        out[hf_id] = rev
    return out


def resolve_revision(
    hf_id: str,
    *,
    benchmark: str,
    override: str | None = None,
    overrides: Mapping[str, str] | None = None,
    allow_unpinned: bool = False,
) -> str:
    """The revision to read `hf_id` at: a per-source `override`, else `overrides[hf_id]`
    (hub_revisions in the config), else the table. A branch or tag name, or no pin at all, is
    refused unless `allow_unpinned` (a branch moves, so the items would not be reproducible)."""
    rev = override or (overrides or {}).get(hf_id) or HUB_REVISIONS.get(hf_id)
    if is_commit(rev):
        return str(rev)
    if not allow_unpinned:
        what = f"is pinned to {rev!r}, which is not a commit" if rev else "is not pinned to a commit"
        raise ConfigError(
            f"Benchmark {benchmark!r}: Hub dataset {hf_id!r} {what} "
            f"(avengers/generate/benchmarks/revisions.py). Pin it with hub_revisions=[{hf_id}@<40-hex commit>] "
            f"(the dataset's 'Files and versions' history on the Hub), point benchmark.sources.{benchmark}.path "
            f"at a local copy, or pass allow_unpinned=true to read {rev or 'main'!r} as it is today."
        )
    rev = rev or "main"
    log.warning("benchmark %r: reading Hub dataset %s at %r, which is not a pinned commit (allow_unpinned=true).",
                benchmark, hf_id, rev)
    return str(rev)
