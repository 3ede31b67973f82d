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
if "$BUILD/cli/rlc" --help | grep -q "^  demo "; then
  exec "$BUILD/cli/rlc" demo "$@"
fi
# Until `rlc demo` exists: the model, engine and grader on the fixture model.
M=tests/fixtures/models/qwen2-tiny
"$BUILD/cli/rlc" info
"$BUILD/cli/rlc" generate --model "$M" --chat --prompt "What is 12 + 35?" -n 2 --max-new-tokens 24 --seed 1
"$BUILD/cli/rlc" logprobs --model "$M" --prompt "What is 12 + 35?" --completion " The answer is 47."
"$BUILD/cli/rlc" grade --gold '\frac{1}{2}' --pred 'so the answer is \boxed{0.5}'
