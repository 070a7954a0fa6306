#!/usr/bin/env bash
# The cost of the telemetry stream on GCBench (bench/README.md, "Telemetry").
#
# Usage: bench/telemetry_cost.sh BENCH [BASELINE_BENCH] [REPS] [WORKLOADS]
#
# BENCH is a release build's mps_gc_bench; BASELINE_BENCH (optional, "-"
# for none) the same program built from a commit without the stream. Each
# repetition runs one GCBench in a fresh process (mps_gc_bench
# --gc_bench_child=WORKLOAD) for every configuration, interleaved, so that
# a change in the machine's load touches all of them alike:
#   off      BENCH, MPS_TELEMETRY_CONTROL unset
#   on       BENCH, MPS_TELEMETRY_CONTROL="arena pool trace seg user",
#            the stream written to a scratch file
#   baseline BASELINE_BENCH
# and prints the median wall time of each and the ratios.
set -euo pipefail
bench="${1:?usage: $0 BENCH [BASELINE_BENCH] [REPS] [WORKLOADS]}"
baseline="${2:--}"
reps="${3:-7}"
workloads="${4:-gcbench/amc gcbench/ams}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

run() {  # run NAME WORKLOAD BINARY [env...]: appends the wall time in ms to $scratch/NAME
  local name="$1" workload="$2" binary="$3"
  shift 3
  local t0 t1
  t0=$(date +%s%N)
  env "$@" "$binary" --gc_bench_child="$workload" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000)) >>"$scratch/$name"
}

median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for workload in $workloads; do
  tag="${workload//\//-}"
  for ((i = 0; i < reps; ++i)); do
    run "$tag.off" "$workload" "$bench" -u MPS_TELEMETRY_CONTROL
    run "$tag.on" "$workload" "$bench" MPS_TELEMETRY_CONTROL="arena pool trace seg user" \
      MPS_TELEMETRY_FILENAME="$scratch/stream"
    [ "$baseline" = - ] || run "$tag.baseline" "$workload" "$baseline" -u MPS_TELEMETRY_CONTROL
  done
  off=$(median "$scratch/$tag.off")
  on=$(median "$scratch/$tag.on")
  printf '%s: median of %d runs, wall ms: off %s, on %s (on/off %.3f; stream %s bytes)\n' \
    "$workload" "$reps" "$off" "$on" "$(echo "$on / $off" | bc -l)" \
    "$(stat -c %s "$scratch/stream")"
  if [ "$baseline" != - ]; then
    base=$(median "$scratch/$tag.baseline")
    printf '%s: baseline %s (off/baseline %.3f)\n' "$workload" "$base" \
      "$(echo "$off / $base" | bc -l)"
  fi
  echo "  off: $(tr '\n' ' ' <"$scratch/$tag.off")"
  echo "  on:  $(tr '\n' ' ' <"$scratch/$tag.on")"
  [ "$baseline" = - ] || echo "  baseline: $(tr '\n' ' ' <"$scratch/$tag.baseline")"
done
