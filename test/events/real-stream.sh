#!/usr/bin/env bash
# The converter on a stream the library really wrote (label `example`): runs
# an example client with telemetry on, then checks that mps-events finds the
# stream sound and that every output shows the collections it recorded.
# Usage: real-stream.sh <mps-events> <work dir> <program> [arguments...]
set -euo pipefail
events="$1" work="$2"
shift 2
die() { printf 'real-stream: FAIL: %s\n' "$*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
stream="$work/run.mpsevents"
MPS_TELEMETRY_CONTROL="arena pool trace seg user" MPS_TELEMETRY_FILENAME="$stream" \
  "$@" >"$work/program.log" || { cat "$work/program.log"; die "$1 failed"; }
[ -s "$stream" ] || die "$1 wrote no stream to $stream"

"$events" check "$stream" || die "the library's stream is not sound"
"$events" text -o "$work/run.txt" "$stream"
"$events" json -o "$work/run.jsonl" "$stream"
"$events" sqlite -o "$work/run.db" "$stream"
"$events" html -o "$work/run.html" "$stream"

starts="$(grep -c ' TraceStart ' "$work/run.txt" || true)"
ends="$(grep -c ' TraceEnd ' "$work/run.txt" || true)"
echo "real-stream: $(wc -l <"$work/run.txt") text lines, $starts collections started, $ends ended"
[ "$starts" -gt 0 ] || die "no TraceStart in the stream"
[ "$starts" -eq "$ends" ] || die "$starts collections started but $ends ended"
# Text has two header lines, JSON one.
[ "$(($(wc -l <"$work/run.jsonl") + 1))" -eq "$(wc -l <"$work/run.txt")" ] \
  || die "json and text disagree on the number of events"
for id in memory-chart generations-chart timeline collections-table pause-histogram mmu-chart \
          workers-chart pools-table; do
  grep -q "id=\"$id\"" "$work/run.html" || die "the report has no element $id"
done

# A copy cut in the middle of a record is refused with its offset, and
# --partial converts what came before the cut.
size="$(stat -c %s "$stream")"
head -c $((size - 3)) "$stream" >"$work/cut.mpsevents"
status=0
msg="$("$events" html -o "$work/cut.html" "$work/cut.mpsevents" 2>&1)" || status=$?
[ "$status" -eq 1 ] || die "a cut stream gave exit status $status, expected 1"
grep -q "offset [0-9]*: stream ends inside a" <<<"$msg" || die "a cut stream gave: $msg"
[ ! -e "$work/cut.html" ] || die "a report of a cut stream was written without --partial"
"$events" --partial html -o "$work/cut.html" "$work/cut.mpsevents" 2>/dev/null \
  || die "--partial did not convert the cut stream"
grep -q 'id="stream-error"' "$work/cut.html" || die "the partial report does not say it is partial"
echo "real-stream: passed"
