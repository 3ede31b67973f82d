#!/usr/bin/env bash
# The README's main-job command. Builds rlc if needed (installing apt dependencies), then
# runs the built-in demo. Extra arguments go to `rlc demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${RLC_BUILD_DIR:-build}
if [ ! -x "$BUILD/cli/rlc" ]; then
  scripts/deps.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target rlc
fi
exec "$BUILD/cli/rlc" demo "$@"
