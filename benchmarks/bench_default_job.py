"""Time the default job cold (empty caches) and warm (everything cached), count embedding
calls, and time a warm K sweep. A measurement script, not a test: numbers go in the notes.

    .venv/bin/python benchmarks/bench_default_job.py [--cache-dir DIR] [--skip-cold] [--sweep]

Each timing is a fresh `avengers-run` process, as a user runs it (tracking disabled).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], cache: Path, out: Path) -> tuple[float, str]:
    env = dict(os.environ, AVENGERS_CACHE_DIR=str(cache), AVENGERS_OUTPUT_DIR=str(out), WANDB_MODE="disabled")
    env.setdefault("AVENGERS_DATA_DIR", str(REPO.parent / "shared" / "data"))
    t0 = time.perf_counter()
    flags = [a for a in args if a.startswith("-")]  # Hydra wants -m before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    proc = subprocess.run([sys.executable, "-m", "avengers.run", *flags, "tracking=disabled", *overrides], cwd=REPO, env=env,
                          capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"avengers-run {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    # Each job logs into its own folder (also under parallel launchers, whose stdout is lost).
    logs = "".join(p.read_text() for p in sorted(out.rglob("run.log")))
    return dt, logs


def embedded(log: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"embedded (\d+) new texts, (\d+) from cache", log)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache-dir", type=Path, help="reuse this cache (default: a fresh temporary one)")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="also time the warm fig3 K sweep (11 K x 5 seeds)")
    ap.add_argument("--launcher", default="parallel", help="hydra/launcher for the sweep (parallel|basic)")
    args = ap.parse_args()
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="avengers-bench-cache-"))
    with tempfile.TemporaryDirectory(prefix="avengers-bench-out-") as tmp:
        tmp = Path(tmp)
        print(f"cache: {cache}\nmachine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
        if not args.skip_cold:
            dt, log = run([], cache, tmp / "cold")
            print(f"default job, cold: {dt:7.1f} s   embedded (new, cached): {embedded(log)}")
        dt, log = run([], cache, tmp / "warm")
        print(f"default job, warm: {dt:7.1f} s   embedded (new, cached): {embedded(log)}")
        if args.sweep:
            sweep = ["-m", "experiment=fig3_k_sweep"]
            if args.launcher != "basic":
                sweep.append(f"hydra/launcher={args.launcher}")
            dt, log = run(sweep, cache, tmp / "sweep1")
            n = len(embedded(log))
            print(f"K sweep (first pass, clusterings fitted): {dt:7.1f} s for {n} jobs")
            dt, log = run(sweep, cache, tmp / "sweep2")
            n = len(embedded(log))
            new = sum(a for a, _ in embedded(log))
            print(f"K sweep, warm: {dt:7.1f} s for {n} jobs, {new} texts embedded")


if __name__ == "__main__":
    main()
