"""Outcome sources: each importer turns one release format into the canonical table.

A source is a function `load(cfg) -> RawOutcomes` registered under a name; `cfg` is the
`data` config node (a mapping). `load_outcomes` looks the name up (did-you-mean on typos)
and validates the result against the canonical schema.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import logging

import pandas as pd

from avengers.outcomes.schema import OutcomeTable, validate
from avengers.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class RawOutcomes:
    """What an importer returns: rows in canonical columns, plus file checksums."""

    df: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)


SOURCES: Registry[Callable[[Mapping[str, Any]], RawOutcomes]] = Registry("data source")

# Modules that register sources on import. Add a new source module here.
_SOURCE_MODULES = (
    "avengers.outcomes.canonical",
    "avengers.outcomes.routerdc",
    "avengers.outcomes.routerbench",
    "avengers.outcomes.mot",
    "avengers.outcomes.llmrouterbench",
    "avengers.outcomes.avengers_format",
    "avengers.outcomes.avengerspro",
    "avengers.outcomes.avengers_results",
)


def _import_sources() -> None:
    for mod in _SOURCE_MODULES:
        importlib.import_module(mod)


def load_outcomes(cfg: Mapping[str, Any]) -> OutcomeTable:
    _import_sources()
    name = cfg["source"]
    raw = SOURCES.get(name)(cfg)
    missing = cfg.get("missing", "error")
    df = validate(raw.df, missing=missing, where=f"data source {name!r}")
    before = raw.df.groupby("benchmark")["query_id"].nunique()
    after = df.groupby("benchmark")["query_id"].nunique().reindex(before.index, fill_value=0)
    dropped = {b: int(n) for b, n in (before - after).items() if n}
    if dropped:  # an explicit data.missing=drop_query; still say what it removed
        log.warning("data.missing=drop_query removed queries lacking some model: %s", dropped)
    return OutcomeTable(df=df, source=name, files=raw.files, dropped_queries=dropped)
