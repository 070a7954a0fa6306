#!/usr/bin/env bash
# Quick start 1: install any missing Debian packages, build the demo with the
# release preset, and run it. Usage: scripts/demo.sh [demo arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target mps_demo

demo=build/release/examples/mps_demo
if [ ! -x "$demo" ]; then
  demo="$(find build/release -type f -name mps_demo -perm -u+x -print -quit)"
fi
if [ -z "$demo" ] || [ ! -x "$demo" ]; then
  echo "demo: mps_demo was not built" >&2
  exit 1
fi
echo "demo: running $demo"
exec "$demo" "$@"
