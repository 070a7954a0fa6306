#!/usr/bin/env bash
# Quick start 1: install any missing Debian packages, build the demo with the
# release preset, and run it. Usage: scripts/demo.sh [--report] [demo arguments...]
#
# --report (or MPS_DEMO_REPORT=1) also records the library's telemetry stream
# while the demo runs (MPS_TELEMETRY_CONTROL, MPS_TELEMETRY_FILENAME), converts
# it with mps-events into an HTML report and prints the report's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

report="${MPS_DEMO_REPORT:-0}"
args=()
for a in "$@"; do
  if [ "$a" = "--report" ]; then report=1; else args+=("$a"); fi
done

scripts/install-deps.sh
cmake --preset release
targets=(mps_demo)
[ "$report" = 1 ] && targets+=(mps-events)
cmake --build --preset release --target "${targets[@]}"

demo=build/release/examples/mps_demo
if [ ! -x "$demo" ]; then
  demo="$(find build/release -type f -name mps_demo -perm -u+x -print -quit)"
fi
if [ -z "$demo" ] || [ ! -x "$demo" ]; then
  echo "demo: mps_demo was not built" >&2
  exit 1
fi
if [ "$report" != 1 ]; then
  echo "demo: running $demo"
  exec "$demo" "${args[@]}"
fi

# Each AMC run is a child process that writes the stream afresh: the file
# holds the last one. Recording costs a little time, so the timings are not
# quite those of a run without it.
out="$PWD/build/release/demo-report"
mkdir -p "$out"
stream="$out/demo.mpsevents"
html="$out/demo-report.html"
rm -f "$stream" "$html"
echo "demo: running $demo, recording telemetry into $stream"
MPS_TELEMETRY_CONTROL="${MPS_TELEMETRY_CONTROL:-arena pool trace seg user}" \
  MPS_TELEMETRY_FILENAME="$stream" "$demo" "${args[@]}"
if [ ! -s "$stream" ]; then
  echo "demo: no telemetry stream was written to $stream" >&2
  exit 1
fi
build/release/tools/mps-events/mps-events html -o "$html" "$stream"
echo "demo: telemetry stream: $stream"
echo "demo: report: $html"
