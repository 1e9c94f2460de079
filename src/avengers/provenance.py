"""What produced a result: git commit, package versions, data checksums."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Mapping

PACKAGES = ("avengers-harness", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "torch",
            "sentence-transformers", "transformers", "hydra-core", "omegaconf", "wandb")

REPO = Path(__file__).resolve().parents[2]


def git_commit(repo: Path = REPO) -> str:
    """The checkout's commit (+ "-dirty"); for an installed package (no source checkout around
    it) the package version, never a commit of whatever repository the environment sits in."""
    if not (repo / "pyproject.toml").is_file() or not (repo / "src" / "avengers").is_dir():
        try:
            return f"installed package avengers-harness=={metadata.version('avengers-harness')} (no git checkout)"
        except metadata.PackageNotFoundError:
            return "unknown (neither a git checkout nor an installed package)"
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def data_checksums(files: Mapping[str, str], root: str | None) -> dict[str, str]:
    """Paths relative to the data root where possible, so the record is the same on every machine."""
    out = {}
    for path, sha in files.items():
        p = Path(path)
        if root:
            try:
                p = p.resolve().relative_to(Path(root).expanduser().resolve())
            except ValueError:
                pass
        out[str(p)] = sha
    return dict(sorted(out.items()))
