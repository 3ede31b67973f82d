#!/usr/bin/env bash
# The issue-19 table for the CPU this runs on, in one command: forward+backward against
# PyTorch (bench/model), generation against transformers at batch 1 and 32, 64/64 and
# 192/192 (bench/gen), and the GRPO step against TRL (bench/rl), each side by side in the
# same run with the same thread count. Writes every JSON line to $OUT/cpu_kind.jsonl and
# prints a markdown table headed by the CPU model, its ISA path and the date, ready for
# bench/RESULTS.md (one table per CPU kind). About 25-35 minutes on 2 cores.
#   OUT=dir THREADS=n ROUNDS=n PEER_RL=0 (skip TRL) bench/cpu_kind.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BUILD=${RLC_BUILD_DIR:-$here/../build}
OUT=${OUT:-$(mktemp -d)}
THREADS=${THREADS:-$(nproc)} ROUNDS=${ROUNDS:-3}
export RLC_BUILD_DIR=$BUILD THREADS
mkdir -p "$OUT"
log="$OUT/cpu_kind.jsonl"
: >"$log"
# A missing peer (torch, transformers, trl) or a failed benchmark stops the table: no silent rows.
peers="import torch, transformers"; [ "${PEER_RL:-1}" = 0 ] || peers="$peers, trl"
python3 -c "$peers" 2>/dev/null ||
  { echo "cpu_kind: the peers need python3 with torch and transformers (pip install torch transformers trl)" >&2; exit 1; }
run() {
  "$@" >"$OUT/part.jsonl" || { echo "cpu_kind: $(basename "$(dirname "$1")")/$(basename "$1") failed" >&2; exit 1; }
  cat "$OUT/part.jsonl" >>"$log"; grep -E '"ratio' "$OUT/part.jsonl" || true
}
echo "# $(date -u +%F), writing $log" >&2
ROUNDS=$ROUNDS run "$here/model/run.sh"
ROUNDS=$ROUNDS run "$here/gen/run.sh"
ROUNDS=$(( ROUNDS > 2 ? 2 : ROUNDS )) L=192 NEW=192 run "$here/gen/run.sh"
PEER=${PEER_RL:-1} run "$here/rl/run.sh"
python3 - "$log" "$("$BUILD/cli/rlc" info --json)" "$THREADS" <<'PY'
import datetime, json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
info = json.loads(sys.argv[2])
print(f"\n**{datetime.date.today()}, {info.get('cpu_model', '?')}, `{info.get('cpu_isa', '?')}` path, "
      f"{sys.argv[3]} threads** (`bench/cpu_kind.sh`)\n")
print("| benchmark | rlc | peer | ratio |\n| --- | --- | --- | --- |")
train = [r for r in rows if r.get("bench") == "train_fwd_bwd_cpu_40m"]
for r in train:
    print(f"| forward+backward, 55M, tok/s, mean | {r['ours_mean']:.1f} | PyTorch {r['peer_mean']:.1f} | {r['ratio_mean']:.2f}× |")
    print(f"| forward+backward, 55M, tok/s, best iteration | {r['ours_best']:.1f} | PyTorch {r['peer_best']:.1f} | {r['ratio_best']:.2f}× |")
gens = [r for r in rows if str(r.get("bench", "")).startswith("generate_cpu_batch")]
shapes = ["64/64", "64/64", "192/192", "192/192"]
for r, s in zip(gens, shapes):
    b = r["bench"].replace("generate_cpu_batch", "")
    print(f"| generation, batch {b}{' (4×8)' if b == '32' else ''}, {s}, new tok/s | {r['ours']:.1f} | transformers {r['peer']:.1f} | {r['ratio']:.2f}× |")
for r in rows:
    if r.get("bench") == "grpo_step_cpu_40m":
        print(f"| GRPO step (8×8, 128 new), s/step: generation {r['generation']}, scoring {r['scoring']}, training {r['training']} | {r['total']} | | |")
    if r.get("bench") == "grpo_step_vs_trl":
        print(f"| GRPO step against TRL's best setting, s/step | {r['rlc_s_per_step']} | TRL {r['trl_best_s_per_step']} | {r['ratio']:.2f}× |")
PY
