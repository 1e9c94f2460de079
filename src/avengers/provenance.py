"""What produced a result, and what does not change it.

- `RESULT_NEUTRAL_KEYS`: the one list of config keys that never change a job's numbers (where
  it runs, how it is watched). The config hash, metrics.json, avengers-tables and Hydra's
  folder names all derive from it.
- git commit, package versions and data checksums (named independently of where the data lies).
- `pin_numerics()`: environment settings that make the BLAS / NumPy / oneDNN kernels the same
  on every x86-64 CPU (docs/reproducibility.md); must run before numpy is imported.
"""

from __future__ import annotations

import copy
import os
import platform
import subprocess
import sys
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

PACKAGES = ("avengers-harness", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "threadpoolctl", "torch",
            "sentence-transformers", "transformers", "hydra-core", "omegaconf", "wandb")

REPO = Path(__file__).resolve().parents[2]

# Config keys (dotted) that do not change what a job computes. Locations (paths.*, data.root,
# data.path) name where things lie on this machine: the data enters a result's identity by its
# content (data_checksums), never by its path. These keys stay out of the config hash and out of
# metrics.json; run.json beside it records them. `hydra` is never part of a job config; listed so
# old files that carried it compare equal.
RESULT_NEUTRAL_KEYS = ("paths", "data.root", "data.path", "tracking", "skip_existing", "hydra")

# Override keys that only choose the experiment or the launcher: they name the sweep folder (or
# nothing) and stay out of each job's folder name. Hydra's exclude_keys = these + the neutral keys
# (see neutral_override_keys) except `data.path`, which keeps naming the job folder.
FOLDER_NAME_EXCLUDED = ("experiment", "name", "hydra/launcher", "hydra.launcher.n_jobs")
FOLDER_NAME_KEPT = ("data.path",)


def _split(key: str) -> list[str]:
    return key.split(".")


def drop_keys(cfg: Mapping[str, Any], keys: tuple[str, ...] = RESULT_NEUTRAL_KEYS) -> dict[str, Any]:
    """A deep copy of a plain config dict without the given dotted keys."""
    out = copy.deepcopy(dict(cfg))
    for key in keys:
        *parents, leaf = _split(key)
        node: Any = out
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out


def result_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that determines the result (what metrics.json records)."""
    return drop_keys(cfg, RESULT_NEUTRAL_KEYS)


def neutral_override_keys(root: Any) -> list[str]:
    """Hydra's `override_dirname.exclude_keys`, derived from RESULT_NEUTRAL_KEYS.

    Hydra compares override keys exactly, so each neutral group is listed with its children
    (`paths`, `paths.cache_dir`, ...), read from the composed config `root` without resolving it."""
    from omegaconf import OmegaConf

    out: set[str] = set(FOLDER_NAME_EXCLUDED)

    def walk(prefix: str, node: Any) -> None:
        out.add(prefix)
        if OmegaConf.is_dict(node):
            for k in node.keys():
                walk(f"{prefix}.{k}", node._get_node(k))

    for key in RESULT_NEUTRAL_KEYS:
        if key in FOLDER_NAME_KEPT:
            continue
        if key == "hydra":  # Hydra's own node: its keys are never job overrides
            out.add(key)
            continue
        node: Any = root
        for part in _split(key):
            node = node._get_node(part) if OmegaConf.is_dict(node) and part in node else None
        walk(key, node)
    return sorted(out)


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


def data_checksums(files: Mapping[str, str]) -> dict[str, str]:
    """File name -> SHA-256 of every data file, the same wherever the data lies.

    A file is named by its base name, so a file under the data root and the same file
    downloaded into the cache get one name; files whose base names clash (a release folder
    with one file per model) are named by their path relative to the folder they share."""
    paths = {Path(p).expanduser().absolute(): sha for p, sha in files.items()}
    by_name: dict[str, list[Path]] = defaultdict(list)
    for p in paths:
        by_name[p.name].append(p)
    out: dict[str, str] = {}
    for name, group in by_name.items():
        if len(group) == 1:
            out[name] = paths[group[0]]
            continue
        base = Path(os.path.commonpath([str(p) for p in group]))
        for p in group:
            out[p.relative_to(base).as_posix()] = paths[p]
    return dict(sorted(out.items()))


# ---- numerics: the same kernels on every x86-64 CPU -------------------------------------------

# NumPy's AVX-512 code paths (exp/log/sort/...) round differently from its AVX2 ones: switch them
# off so every x86-64-v3 CPU runs the AVX2 paths. Both NumPy >= 2.4 names (X86_V4...) and older
# names; NumPy ignores names it does not dispatch (with an ImportWarning, hidden by default).
_NUMPY_AVX512 = ("X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX "
                 "AVX512_CNL AVX512FP16")
PINNED_ENV = {
    "OPENBLAS_CORETYPE": "Haswell",  # OpenBLAS (NumPy, SciPy, scikit-learn): AVX2 kernels, never SkylakeX/AMX
    # One OpenBLAS thread: its LAPACK/BLAS split work by thread count (TF-IDF's SVD gave other
    # bits with 4 threads than with 1 or 2), so a 64-core server would embed differently.
    "OPENBLAS_NUM_THREADS": "1",
    "NPY_DISABLE_CPU_FEATURES": _NUMPY_AVX512,
    "MKL_CBWR": "AVX2",  # MKL (torch's BLAS): conditional numerical reproducibility, AVX2 code path
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch): no AVX-512 / AMX kernels
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
}
OPT_OUT = "AVENGERS_PIN_NUMERICS"  # =0 leaves the machine's fastest kernels in place
_PINNED: dict[str, Any] = {}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pin_numerics() -> dict[str, Any]:
    """Pin the numeric kernels to x86-64-v3 (AVX2 + FMA) before numpy/torch load.

    Values the user set already win. Nothing is pinned on other CPUs (no AVX2/FMA, or not
    x86-64): results there are not promised to match. A NumPy built with AVX-512 in its
    baseline (not the PyPI wheels) refuses NPY_DISABLE_CPU_FEATURES: set
    AVENGERS_PIN_NUMERICS=0 there. Returns a record for run.json."""
    if _PINNED:
        return dict(_PINNED)
    record: dict[str, Any] = {"numpy_loaded_before": "numpy" in sys.modules}
    machine = platform.machine().lower()
    if os.environ.get(OPT_OUT, "1") == "0":
        record["pinned"] = False
        record["why"] = f"{OPT_OUT}=0"
    elif machine not in ("x86_64", "amd64") or not {"avx2", "fma"} <= _cpu_flags():
        record["pinned"] = False
        record["why"] = f"CPU {machine} without AVX2+FMA: kernels not pinned, results may differ from x86-64-v3 machines"
    else:
        for k, v in PINNED_ENV.items():
            if k == "NPY_DISABLE_CPU_FEATURES" and "NPY_ENABLE_CPU_FEATURES" in os.environ:
                continue  # NumPy refuses to start with both set; the user's choice wins
            os.environ.setdefault(k, v)
        record["pinned"] = True
    record["env"] = {k: os.environ.get(k) for k in PINNED_ENV}
    _PINNED.update(record)
    return dict(record)


def machine_record() -> dict[str, Any]:
    """Where a job ran (for run.json; never part of a result)."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    rec: dict[str, Any] = {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
                           "cpu": cpu, "cpu_count": os.cpu_count(),
                           "numerics": dict(_PINNED) or {"pinned": False, "why": "pin_numerics() was not called"}}
    try:
        from threadpoolctl import threadpool_info

        rec["threadpools"] = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                              for i in threadpool_info()]
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        pass
    return rec
