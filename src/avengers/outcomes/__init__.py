"""Outcome sources: each importer turns one release format into the canonical table.

A source is a function `load(cfg) -> RawOutcomes` registered under a name; `cfg` is the
`data` config node (a mapping). `load_outcomes` looks the name up (did-you-mean on typos)
and validates the result against the canonical schema.
"""

from __future__ import annotations

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


# Built-in sources, imported only when used. A new source: register it here, or name it in
# the data config as `source: my_package.my_module:load_fn` (no registration needed).
SOURCES: Registry[Callable[[Mapping[str, Any]], RawOutcomes]] = Registry("data source", lazy={
    "outcomes": "avengers.outcomes.canonical:load_canonical",
    "routerdc": "avengers.outcomes.routerdc:load_routerdc",
    "routerbench": "avengers.outcomes.routerbench:load_routerbench",
    "mot": "avengers.outcomes.mot:load_mot",
    "llmrouterbench": "avengers.outcomes.llmrouterbench:load_llmrouterbench",
    "avengers_format": "avengers.outcomes.avengers_format:load_avengers_format",
    "avengerspro": "avengers.outcomes.avengerspro:load_avengerspro",
    "avengers_results": "avengers.outcomes.avengers_results:load_avengers_results",
})


def load_outcomes(cfg: Mapping[str, Any]) -> OutcomeTable:
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
