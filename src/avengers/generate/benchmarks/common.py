"""Row-reading helpers shared by the benchmark modules (answers are handled by `avengers.answers`)."""

from __future__ import annotations

import ast
import json
import string
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

LETTERS = string.ascii_uppercase


def pick(row: Mapping[str, Any], *names: str, default: Any = KeyError) -> Any:
    """The first of ``names`` present (and not None) in ``row``."""
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    if default is KeyError:
        raise KeyError(f"none of the columns {list(names)} is present")
    return default


def as_list(v: Any) -> list:
    """Lists stored as lists, numpy arrays, JSON strings or python-literal strings (csv)."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                out = json.loads(s)
                if isinstance(out, list):
                    return out
            except json.JSONDecodeError:
                try:
                    out = ast.literal_eval(s)
                    if isinstance(out, (list, tuple)):
                        return list(out)
                except (ValueError, SyntaxError):
                    pass
        return [v]
    tolist = getattr(v, "tolist", None)
    if tolist is not None:
        return list(tolist())
    return [v]


def as_dict(v: Any) -> dict:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str) and v.strip().startswith("{"):
        try:
            return dict(json.loads(v))
        except json.JSONDecodeError:
            return dict(ast.literal_eval(v))
    raise ValueError(f"expected a mapping, got {type(v).__name__}")


def letter_of(value: Any, n_options: int) -> str:
    """Gold letter from a letter ('B', '(B)'), a 0-based int index or a numeric string."""
    if isinstance(value, bool):
        raise ValueError("boolean answer")
    if isinstance(value, int):
        if not 0 <= value < n_options:
            raise ValueError(f"answer index {value} out of range")
        return LETTERS[value]
    s = str(value).strip().strip("()").strip()
    if len(s) == 1 and s.upper() in LETTERS[:n_options]:
        return s.upper()
    raise ValueError(f"cannot read answer {value!r} as one of {LETTERS[:n_options]}")


def lettered(options: Sequence[Any] | Mapping[str, Any]) -> dict[str, str]:
    """Options as {letter: text}: a list gets A, B, C...; a mapping (the reference's data
    files store options as {"A": ...}) keeps its letters, minus empty slots (Arrow fills the
    union of keys with nulls)."""
    if isinstance(options, Mapping):
        return {str(k): str(v).strip() for k, v in options.items() if v is not None and str(v).strip() != ""}
    return {LETTERS[i]: str(o).strip() for i, o in enumerate(options)}


def source_stem(row: Mapping[str, Any]) -> str:
    """Where a row came from, for ids: its Hub config / part, else its file path without suffix."""
    if row.get("__config__"):
        return str(row["__config__"])
    if row.get("__part__"):
        return str(row["__part__"])
    src = str(row.get("__source__") or "data")
    return str(PurePosixPath(src).with_suffix(""))
