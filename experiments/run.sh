#!/usr/bin/env bash
# Regenerate one paper artefact: run its sweep (5 seeds; finished jobs are skipped), then build
# its tables and figures under results/ from the finished jobs.
#
#   bash experiments/run.sh <experiment> [extra Hydra overrides...]
#   bash experiments/run.sh all
#
# Experiments: src/avengers/conf/experiment/*.yaml. Launcher: LAUNCHER=parallel (default, 2 local processes),
# LAUNCHER=basic (one process) or LAUNCHER=slurm.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LAUNCHER=${LAUNCHER:-parallel}
export AVENGERS_DATA_DIR=${AVENGERS_DATA_DIR:-$(cd .. && pwd)/shared/data}

run_one() {
    local exp=$1; shift
    local launch=()
    [ "$LAUNCHER" != basic ] && launch=("hydra/launcher=$LAUNCHER")
    "$BIN/avengers-run" -m "experiment=$exp" "${launch[@]}" tracking=${TRACKING:-wandb_offline} "$@"
    "$BIN/avengers-tables" --runs "outputs/$exp" --out results
}

if [ "${1:-}" = all ]; then
    shift
    for f in src/avengers/conf/experiment/*.yaml; do run_one "$(basename "$f" .yaml)" "$@"; done
else
    [ $# -ge 1 ] || { echo "usage: $0 <experiment>|all [overrides...]"; ls src/avengers/conf/experiment; exit 2; }
    run_one "$@"
fi
