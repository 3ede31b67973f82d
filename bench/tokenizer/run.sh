#!/usr/bin/env bash
# Tokenizer benchmark: build the inputs once (real Qwen vocabulary, ~4 MB corpus), then run
# ours vs HF tokenizers interleaved. Usage: bench/tokenizer/run.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
ROUNDS=${2:-3}
OUT="$BUILD/bench-tokenizer"
[ -f "$OUT/qwen-nonorm/tokenizer.json" ] && [ -f "$OUT/corpus.txt" ] || python3 bench/tokenizer/make_bench_data.py "$OUT"
cmake --build "$BUILD" --target bench_tokenizer >/dev/null
for tk in qwen qwen-nonorm; do
  echo "# $tk ($( [ $tk = qwen ] && echo 'NFC normalizer, as Qwen2/2.5' || echo 'no normalizer, as Llama 3 / DeepSeek'))"
  "$BUILD/bench/tokenizer/bench_tokenizer" "$OUT/$tk" "$OUT/corpus.txt" "$ROUNDS"
done
