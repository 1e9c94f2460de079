"""The package is the pipeline: each stage imports only itself and earlier stages.

Order (shared helpers first): errors/registry/files/provenance -> assets -> answers ->
outcomes -> split -> embed -> cluster -> route -> vote -> evaluate -> track -> report ->
config -> pipeline/api/run. `generate` (making outcomes with LLMs) sits beside the recipe: it may use
the helpers, assets, answers and the outcome schema, and nothing imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "avengers"

ORDER = ["errors", "registry", "files", "provenance", "assets", "answers", "outcomes", "split", "embed",
         "cluster", "route", "vote", "evaluate", "track", "report", "config", "pipeline", "api", "run"]
RANK = {name: i for i, name in enumerate(ORDER)}
BASE = {"errors", "registry", "files", "provenance"}
GENERATE_MAY_USE = BASE | {"assets", "answers", "outcomes"}


def unit_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "avengers"]
        for n in names:
            parts = n.split(".")
            if parts[0] == "avengers" and len(parts) > 1:
                out.add(parts[1])
    return out


MODULES = sorted(p for p in SRC.rglob("*.py") if unit_of(p) not in {"__init__", "__main__"})


def test_every_unit_is_placed():
    units = {unit_of(p) for p in MODULES} - {"generate"}
    assert units <= set(ORDER), f"place these in ORDER: {sorted(units - set(ORDER))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_earlier_stages(path):
    me = unit_of(path)
    for other in imported_units(path) - {me}:
        if other == "generate":
            raise AssertionError(f"{path.relative_to(SRC)} imports avengers.generate: nothing in the recipe may")
        if me == "generate":
            assert other in GENERATE_MAY_USE, f"generate may not import the later stage {other!r}"
            continue
        assert other in RANK, f"unknown unit {other!r}"
        assert RANK[other] < RANK[me] or (other in BASE and me in BASE and RANK[other] < RANK[me]), (
            f"{path.relative_to(SRC)} ({me}) imports {other}, a later stage")
