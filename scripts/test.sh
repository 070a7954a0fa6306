#!/usr/bin/env bash
# Quick start 2: install any missing Debian packages, configure and build the
# `dev` preset (checked, -Werror), and run the whole test suite.
# Usage: scripts/test.sh [extra ctest arguments, e.g. -R mvff or -L install]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset dev
cmake --build --preset dev
ctest --preset dev "$@"
