#!/usr/bin/env bash
# Evaluation only: the benchmarks of docs/performance.md "Compiling the pure-Python path", on exports built by
# scripts/compile_hot_path.py, variant after variant, ROUNDS times (alternately, in one sitting).
#
#   DEV=DIR scripts/compile_hot_path_bench.sh OUT ROUNDS EXPORT...   e.g. /tmp/ce-out 3 /tmp/compiled-eval/{plain,cython}
#
# DEV is the folder of the labelled dev trajectories (*.jsonl) that bench/detectors.py replays.
#
# (set -e does not hold in a subshell whose status is tested, hence the `|| exit 1`s.)
# Every run first imports the hot modules from the export and prints their files (`check`), so a run that
# would measure the plain .py files instead of the compiled ones stops there.
set -euo pipefail
PY=${PY:-python}
SCRIPT=$(cd "$(dirname "$0")" && pwd)/compile_hot_path.py
DEV=${DEV:?set DEV to the folder of the dev trajectories}
out=$1 rounds=$2
shift 2
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for export in "$@"; do
    name=$(basename "$export")
    log="$out/$name.round$round.log"
    (
      cd "$export" || exit 1
      echo "# $name round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
      PYTHONPATH="$export/collector:$export" "$PY" "$SCRIPT" check "$export" || exit 1
      flock /tmp/heavy-run.lock env PYTHONPATH="$export" "$PY" bench/collector.py --requests 60 --modes on,off || exit 1
      flock /tmp/heavy-run.lock env PYTHONPATH="$export" "$PY" bench/collector_breakdown.py --requests 10 || exit 1
      flock /tmp/heavy-run.lock env PYTHONPATH="$export" "$PY" bench/detectors.py "$DEV"/*.jsonl || exit 1
      flock /tmp/heavy-run.lock env PYTHONPATH="$export" "$PY" bench/detectors.py || exit 1
      flock /tmp/heavy-run.lock env PYTHONPATH="$export" "$PY" bench/detectors.py --memory || exit 1
      echo "# end $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    ) > "$log" 2>&1 || echo "FAILED: $log"
  done
done
