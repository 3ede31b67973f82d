#!/usr/bin/env bash
# The README's test command: install missing dependencies, configure, build (CUDA too when
# nvcc is present), and run every test. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD=${RLC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${RLC_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j "$(nproc)" "$@"
