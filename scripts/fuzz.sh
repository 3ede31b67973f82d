#!/usr/bin/env bash
# Coverage-guided fuzzing with clang's libFuzzer, outside the test suite (the suite runs the
# same targets for seconds each under gcc's ASan/UBSan with a random-mutation driver).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the fuzz targets with clang (-DRLC_LIBFUZZER=ON) in $FUZZ_BUILD (build-fuzz), then
# runs each named target (default: all) for SECONDS (default 300) on a corpus kept in
# $FUZZ_BUILD/corpus/TARGET (seeded from the suite's seed files, growing run by run).
# A crash, leak or undefined behaviour stops that target and leaves its input in
# $FUZZ_BUILD/crashes/TARGET/; the script then exits 1 after the others ran. Needs clang
# and its runtime (Debian: clang, libclang-rt-14-dev or the clang package's own).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}
shift || true
B=${FUZZ_BUILD:-build-fuzz}
ALL=(fuzz_grader fuzz_dataset fuzz_tool_format fuzz_rl_config fuzz_safetensors fuzz_torch_bin fuzz_model_config fuzz_tokenizer
     fuzz_cli)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 2; }
if [ ! -f "$B/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DRLC_LIBFUZZER=ON -DRLC_CUDA=OFF \
        -DRLC_WERROR=OFF >/dev/null
fi
cmake --build "$B" -j"$(nproc)" --target "${TARGETS[@]}" >/dev/null
failed=()
for t in "${TARGETS[@]}"; do
    exe=$(find "$B/tests" -name "$t" -type f -perm -u+x | head -1)
    [ -n "$exe" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
    mkdir -p "$B/corpus/$t" "$B/crashes/$t"
    cp -n "$B/fuzz-seeds/$t/"* "$B/corpus/$t/" 2>/dev/null || true
    echo "== $t: ${SECS}s, corpus $(ls "$B/corpus/$t" | wc -l) inputs"
    # the same environment as the suite's runs; leaks are checked except for the whole CLI,
    # whose error paths may leave memory to the process exit
    # (the CLI may be asked for a huge buffer on purpose, --kv-cache-mb 65536 say: its
    # allocation failing must give rlc's out-of-memory error, so there a failed allocation
    # returns NULL instead of stopping the run; elsewhere a huge allocation claimed by an
    # input file is a fault to find)
    leaks=1 mlimit=4096
    [ "$t" = fuzz_cli ] && leaks=0 mlimit=1048576
    if ! ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1:allocator_may_return_null=1" \
        UBSAN_OPTIONS=print_stacktrace=1 RLC_FIXTURES="$PWD/tests/fixtures" OMP_NUM_THREADS=1 \
        "$exe" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb="$mlimit" \
        -print_final_stats=1 \
        -artifact_prefix="$B/crashes/$t/" "$B/corpus/$t" >"$B/$t.log" 2>&1; then
        failed+=("$t")
        echo "   FAILED: see $B/$t.log and $B/crashes/$t/"
    fi
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$B/$t.log" | tail -2 | sed 's/^/   /'
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: ${failed[*]} failed"
    exit 1
fi
echo "fuzz.sh: no failure in ${TARGETS[*]}"
