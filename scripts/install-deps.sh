#!/usr/bin/env bash
# Installs the Debian 12 packages MPS++ needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so it is cheap to re-run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtbb-dev          # oneTBB: parallel tracing
  libsigsegv-dev      # protection faults for the barrier
  libgtest-dev        # tests
  libbenchmark-dev    # benchmarks
  libgc-dev           # Boehm GC: a baseline for the demo and benchmarks
  libsqlite3-dev      # mps-events: telemetry streams into SQLite databases
  chromium            # tests: the mps-events HTML report rendered headless
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
