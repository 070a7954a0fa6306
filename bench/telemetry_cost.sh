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
# and prints the median wall time and processor time (user + system, all
# threads) of each, and the ratios. On a loaded machine processor time is
# the steadier of the two.
#
# COUNT_INSTRUCTIONS=1 also runs each configuration once under valgrind's
# callgrind with one marking worker (MPS_GC_WORKERS=1) and prints the
# instructions executed: a measure the machine's load does not disturb.
set -euo pipefail
bench="${1:?usage: $0 BENCH [BASELINE_BENCH] [REPS] [WORKLOADS]}"
baseline="${2:--}"
reps="${3:-7}"
workloads="${4:-gcbench/amc gcbench/ams}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

run() {  # run NAME WORKLOAD BINARY [env...]: appends wall and processor ms to $scratch/NAME.*
  local name="$1" workload="$2" binary="$3"
  shift 3
  /usr/bin/time -f "%e %U %S" -o "$scratch/time" env "$@" "$binary" --gc_bench_child="$workload" \
    >/dev/null
  awk '{printf "%d\n", $1 * 1000}' "$scratch/time" >>"$scratch/$name.wall"
  awk '{printf "%d\n", ($2 + $3) * 1000}' "$scratch/time" >>"$scratch/$name.cpu"
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
  [ "$reps" -gt 0 ] || continue
  for kind in wall cpu; do
    off=$(median "$scratch/$tag.off.$kind")
    on=$(median "$scratch/$tag.on.$kind")
    line="$workload $kind ms, median of $reps: off $off, on $on (on/off $(echo "scale=3; $on / $off" | bc -l))"
    if [ "$baseline" != - ]; then
      base=$(median "$scratch/$tag.baseline.$kind")
      line="$line, baseline $base (off/baseline $(echo "scale=3; $off / $base" | bc -l))"
    fi
    echo "$line"
    for config in off on baseline; do
      if [ -f "$scratch/$tag.$config.$kind" ]; then
        echo "  $config: $(tr '\n' ' ' <"$scratch/$tag.$config.$kind")"
      fi
    done
  done
  echo "  stream of the last 'on' run: $(stat -c %s "$scratch/stream" 2>/dev/null || echo 0) bytes"
done

count() {  # count WORKLOAD BINARY [env...]: instructions executed, under callgrind
  local workload="$1" binary="$2"
  shift 2
  env "$@" MPS_GC_WORKERS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$binary" --gc_bench_child="$workload" 2>&1 >/dev/null | awk '/Collected :/ {print $NF}'
}

if [ "${COUNT_INSTRUCTIONS:-0}" = 1 ]; then
  for workload in $workloads; do
    off=$(count "$workload" "$bench" -u MPS_TELEMETRY_CONTROL)
    on=$(count "$workload" "$bench" MPS_TELEMETRY_CONTROL="arena pool trace seg user" \
      MPS_TELEMETRY_FILENAME="$scratch/stream")
    line="$workload instructions (one worker): off $off, on $on (on/off $(echo "scale=5; $on / $off" | bc -l))"
    if [ "$baseline" != - ]; then
      base=$(count "$workload" "$baseline" -u MPS_TELEMETRY_CONTROL)
      line="$line, baseline $base (off/baseline $(echo "scale=5; $off / $base" | bc -l))"
    fi
    echo "$line"
  done
fi
