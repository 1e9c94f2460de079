#!/usr/bin/env bash
# Regenerate one paper artefact: run its sweep (5 seeds; finished jobs are skipped), then build
# its tables and figures from the finished jobs.
#
#   bash experiments/run.sh [--out DIR] <experiment> [extra Hydra overrides...]
#   bash experiments/run.sh [--out DIR] all
#
# Without overrides this is the full experiment: jobs in outputs/<experiment>, tables in results/
# (the committed paper tables). With overrides (a smoke run, e.g. data.max_queries_per_benchmark=100)
# the jobs go to outputs/custom-<hash of the overrides>/ and the tables to its tables/ folder:
# never into results/ (--out results with overrides is refused), and never mixed with the full
# runs. Every table's caption lists its non-default settings.
#
# Experiments: src/avengers/conf/experiment/*.yaml. Launcher: LAUNCHER=parallel (default, 2 local
# processes), LAUNCHER=basic (one process) or LAUNCHER=slurm.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LAUNCHER=${LAUNCHER:-parallel}
export AVENGERS_DATA_DIR=${AVENGERS_DATA_DIR:-$(cd .. && pwd)/shared/data}

OUT=""
if [ "${1:-}" = --out ]; then
    [ $# -ge 2 ] || { echo "usage: $0 [--out DIR] <experiment>|all [overrides...]"; exit 2; }
    OUT=$2; shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [--out DIR] <experiment>|all [overrides...]"; ls src/avengers/conf/experiment; exit 2; }
WHAT=$1; shift

OUTPUT_ROOT=outputs
if [ $# -gt 0 ]; then
    # Overrides change the experiment: keep its jobs and tables apart from the full runs.
    TAG=custom-$(printf '%s\n' "$@" | sha256sum | cut -c1-10)
    OUTPUT_ROOT=outputs/$TAG
    case "${OUT%/}" in
        results|./results|"$(pwd)/results")
            echo "refusing --out results with overrides ($*): results/ holds the full experiments only." >&2
            echo "Drop --out (tables go to $OUTPUT_ROOT/tables) or drop the overrides." >&2
            exit 2;;
    esac
    OUT=${OUT:-$OUTPUT_ROOT/tables}
    echo "overrides given: jobs -> $OUTPUT_ROOT, tables -> $OUT (not results/)" >&2
fi
OUT=${OUT:-results}

run_one() {
    local exp=$1; shift
    local launch=()
    [ "$LAUNCHER" != basic ] && launch=("hydra/launcher=$LAUNCHER")
    "$BIN/avengers-run" -m "experiment=$exp" "${launch[@]}" tracking=${TRACKING:-wandb_offline} \
        "paths.output_root=$OUTPUT_ROOT" "$@"
    "$BIN/avengers-tables" --runs "$OUTPUT_ROOT/$exp" --out "$OUT"
}

if [ "$WHAT" = all ]; then
    for f in src/avengers/conf/experiment/*.yaml; do run_one "$(basename "$f" .yaml)" "$@"; done
else
    run_one "$WHAT" "$@"
fi
