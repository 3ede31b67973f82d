#!/usr/bin/env bash
# Every GPU check in one run, on a machine with an NVIDIA GPU: build rlc for the local GPU,
# run the gpu-labelled tests (plus the CPU emulation of the kernels, and the GPU tests under
# compute-sanitizer when it is installed), run the GPU benchmarks against their PyTorch
# peers, and write one report folder (at most 8 files):
#   summary.md  env.txt  build.log  tests.log  sanitizer.log  bench.jsonl  bench.log
# Usage: scripts/gpu_check.sh [REPORT_DIR]    (or RLC_REPORT_DIR=...; default ./gpu_report)
# Plan for ~10 minutes on an H100 (the sanitizer runs last and is cut first).
# Env: RLC_GPU_BUILD_DIR (default build-gpu), RLC_CHECK_QUICK=1 (small benchmark shapes),
#      RLC_NO_COMPILE=1 (skip the torch.compile peer), RLC_SKIP_TESTS=1, RLC_SKIP_BENCH=1,
#      RLC_SKIP_SANITIZER=1, RLC_RACECHECK=1 (also compute-sanitizer racecheck: slow).
# Time: about 2 min build, 1 min tests, 5 min benchmarks, 1 min sanitizer on an H100; to
# stay under a 10-minute limit per command, split with RLC_SKIP_BENCH / RLC_SKIP_TESTS.
# The benchmark harness and its PyTorch peers can be smoke-tested without a GPU:
#   RLC_PEER_DEVICE=cpu build/bench/gpu/bench_gpu --device cpu --quick
# Build dependencies missing on the GPU machine (no package registry there) can travel as
# .deb files: run scripts/gpu_deps.sh here first, then carry the .gpudeps folder.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
REPORT=${1:-${RLC_REPORT_DIR:-./gpu_report}}
mkdir -p "$REPORT" && REPORT=$(cd "$REPORT" && pwd)
BUILD=${RLC_GPU_BUILD_DIR:-build-gpu}
SUMMARY=$REPORT/summary.md
: >"$SUMMARY"
status=0
say() { echo "$*" | tee -a "$SUMMARY"; }
t_start=$(date +%s)

# ---- environment ----
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ local changes)')"
  echo "host: $(uname -a)"
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  nvcc --version 2>&1 | tail -2
  cmake --version 2>&1 | head -1
  python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' 2>&1
  python3 -c 'import transformers; print("transformers", transformers.__version__)' 2>&1
} >"$REPORT/env.txt" 2>&1
GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
ARCH=${RLC_CUDA_ARCH:-${CC:-90}}
say "# rlc gpu_check"
say ""
say "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "- device: ${GPU:-unknown} (sm_${ARCH})"
say "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# ---- dependencies carried as .deb files (see scripts/gpu_deps.sh) ----
CMAKE_EXTRA=()
if ls .gpudeps/*.deb >/dev/null 2>&1; then
  ROOT=$SRC/.gpudeps/root
  mkdir -p "$ROOT"
  for f in .gpudeps/*.deb; do dpkg-deb -x "$f" "$ROOT" 2>/dev/null || dpkg -x "$f" "$ROOT"; done
  ML=$ROOT/usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_PATH=$ML/pkgconfig:$ROOT/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export PKG_CONFIG_SYSROOT_DIR=$ROOT
  export LD_LIBRARY_PATH=$ML:$ML/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LIBRARY_PATH=$ML:$ML/openblas-openmp${LIBRARY_PATH:+:$LIBRARY_PATH}
  export CPATH=$ROOT/usr/include:$ROOT/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  command -v pkg-config >/dev/null || export PATH=$ROOT/usr/bin:$PATH
  [ -e "$ML/openblas-openmp/libopenblas.so" ] &&
    CMAKE_EXTRA+=(-DOPENBLAS_LIB="$ML/openblas-openmp/libopenblas.so" -DCBLAS_INCLUDE="$ROOT/usr/include/x86_64-linux-gnu/openblas-openmp")
  CMAKE_EXTRA+=(-DCMAKE_PREFIX_PATH="$ROOT/usr")
  say "- dependencies: unpacked $(ls .gpudeps/*.deb | wc -l) carried .deb files"
fi

# ---- build ----
say ""
say "## build"
JOBS=$(nproc 2>/dev/null || echo 8)
# Only what the checks run: every gpu-labelled test (test name = target name), the emulated
# suites and the benchmark; the rest of the tree is not needed here.
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRLC_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
  "${CMAKE_EXTRA[@]}" >"$REPORT/build.log" 2>&1 &&
  GPU_TESTS=$(cd "$BUILD" && ctest -N -L gpu | sed -n 's/^ *Test *#[0-9]*: *//p') &&
  cmake --build "$BUILD" -j "$JOBS" --target test_cuda_emu test_cuda_emu_decode test_cuda_emu_model test_cuda_emu_moe \
    bench_gpu $GPU_TESTS \
    >>"$REPORT/build.log" 2>&1; then
  say "- build: ok ($(($(date +%s) - t_start)) s)"
  built=1
else
  say "- build: FAILED (see build.log)"
  tail -30 "$REPORT/build.log" | sed 's/^/    /' >>"$SUMMARY"
  built=0
  status=1
fi
# ---- tests ----
say ""
say "## tests"
if [ "$built" = 1 ] && [ -z "${RLC_SKIP_TESTS:-}" ]; then
  (cd "$BUILD" && timeout 300 ctest -L gpu --output-on-failure --timeout 240 &&
    timeout 200 ctest -R test_cuda_emu --output-on-failure) >"$REPORT/tests.log" 2>&1
  rc=$?
  grep -E "tests passed|tests failed|\*\*\*|Skipped|Not Run|Failed" "$REPORT/tests.log" | sed 's/^/    /' >>"$SUMMARY"
  if [ $rc -ne 0 ]; then
    say "- tests: FAILED (see tests.log)"
    status=1
  elif grep -q "Skipped" "$REPORT/tests.log"; then
    say "- tests: some were SKIPPED (no GPU visible?) (see tests.log)"
    status=1
  else
    say "- tests: ok"
  fi
  for t in "$BUILD"/tests/gpu/test_gpu_ops "$BUILD"/tests/gpu/test_gpu_decode; do
    [ -x "$t" ] && (cd "$BUILD" && "$t" 2>&1 | grep -E "nmse|rounded up|->" | sed 's/^/    /') >>"$REPORT/tests.log"
  done
fi

# ---- benchmarks ----
say ""
say "## benchmarks (ours vs PyTorch peer, same GPU, same run)"
if [ "$built" = 1 ] && [ -z "${RLC_SKIP_BENCH:-}" ]; then
  BARGS=()
  [ -n "${RLC_CHECK_QUICK:-}" ] && BARGS+=(--quick)
  export RLC_PEER_TIMEOUT=${RLC_PEER_TIMEOUT:-200}
  timeout 330 "$BUILD/bench/gpu/bench_gpu" "${BARGS[@]}" >"$REPORT/bench.jsonl" 2>"$REPORT/bench.log"
  brc=$?
  [ $brc -ne 0 ] && say "- bench_gpu exited with $brc (see bench.log)"
  python3 - "$REPORT/bench.jsonl" >>"$SUMMARY" 2>>"$REPORT/bench.log" <<'EOF' || cat "$REPORT/bench.jsonl" >>"$SUMMARY"
import json, sys
print("| bench | ours | peer | unit | ours/peer speed | extra |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if "error" in j:
        print(f"| {j['bench']} | error: {j['error']} | | | | |")
        continue
    f = lambda v: "n/a" if v is None else (f"{v:.4g}" if isinstance(v, (int, float)) else str(v))
    extra = ", ".join(f"{k}={f(v)}" for k, v in j.items() if k not in ("bench", "ours", "peer", "unit", "speedup", "device"))
    print(f"| {j['bench']} | {f(j.get('ours'))} | {f(j.get('peer'))} | {j.get('unit')} | {f(j.get('speedup'))} | {extra} |")
EOF
fi

# ---- compute-sanitizer last: the slowest part, and the one to lose if time runs out ----
if [ "$built" = 1 ]; then
  if [ -z "${RLC_SKIP_SANITIZER:-}" ] && [ -z "${RLC_SKIP_TESTS:-}" ] && command -v compute-sanitizer >/dev/null; then
    : >"$REPORT/sanitizer.log"
    tools=(memcheck)
    [ -n "${RLC_RACECHECK:-}" ] && tools+=(racecheck)
    for tool in "${tools[@]}"; do
      echo "=== compute-sanitizer --tool $tool test_gpu_ops" >>"$REPORT/sanitizer.log"
      (cd "$BUILD" && timeout 75 compute-sanitizer --tool "$tool" --error-exitcode 9 ./tests/gpu/test_gpu_ops) \
        >>"$REPORT/sanitizer.log" 2>&1
      src=$?
      if [ $src -eq 0 ]; then say "- compute-sanitizer $tool: clean"
      elif [ $src -eq 124 ]; then say "- compute-sanitizer $tool: timed out after 75 s (no verdict)"
      else
        say "- compute-sanitizer $tool: FAILED (exit $src, see sanitizer.log)"
        status=1
      fi
    done
  fi
fi

say ""
say "total: $(($(date +%s) - t_start)) s; status: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
