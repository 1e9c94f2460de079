"""Canonical Parquet / JSON Lines files: `data=outcomes data.path=FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from avengers.errors import ConfigError
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes
from avengers.outcomes.schema import read_outcomes


@SOURCES.register("outcomes")
def load_canonical(cfg: Mapping[str, Any]) -> RawOutcomes:
    path = cfg.get("path")
    if not path:
        raise ConfigError("data=outcomes needs a file: pass data.path=/path/to/outcomes.parquet (or .jsonl).")
    paths = [path] if isinstance(path, str) else list(path)
    frames, files = [], {}
    for p in paths:
        p = Path(p).expanduser()
        frames.append(read_outcomes(p))
        files[str(p)] = sha256_file(p)
    import pandas as pd

    return RawOutcomes(df=pd.concat(frames, ignore_index=True), files=files)
