#!/usr/bin/env bash
# Forward+backward tokens/s, rlc CPU backend vs PyTorch CPU, same config/threads/tokens,
# interleaved (rlc, torch, rlc, torch) so background load hits both alike. Prints the JSON
# lines and a summary line {"bench":..., "ours":..., "peer":..., "unit":"tok/s", "ratio":...}.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BUILD=${RLC_BUILD_DIR:-$here/../../build}
CFG=${1:-$here/config_40m.json}
B=${B:-2} T=${T:-256} ITERS=${ITERS:-5} THREADS=${THREADS:-$(nproc)} ROUNDS=${ROUNDS:-2}
tmpd=$(mktemp -d)
cp "$CFG" "$tmpd/config.json"
ours=(); peer=()
for r in $(seq "$ROUNDS"); do
  o=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench/model/bench_train_cpu" "$CFG" "$B" "$T" "$ITERS" "$THREADS"); echo "$o"
  p=$(python3 "$here/bench_train_torch.py" "$tmpd" "$B" "$T" "$ITERS" "$THREADS" 2>/dev/null); echo "$p"
  ours+=("$o"); peer+=("$p")
done
# mean vs mean (each side's best round of per-iteration means) and best vs best (fastest iteration)
name=$(basename "$CFG" .json); name=${name#config_}
python3 - "$THREADS" "$name" "${ours[@]}" "${peer[@]}" <<'PY'
import json, sys
n = (len(sys.argv) - 3) // 2
o = [json.loads(x) for x in sys.argv[3:3 + n]]; p = [json.loads(x) for x in sys.argv[3 + n:]]
om, pm = max(x["tok_per_s"] for x in o), max(x["tok_per_s"] for x in p)
ob, pb = max(x["best_tok_per_s"] for x in o), max(x["best_tok_per_s"] for x in p)
print(json.dumps({"bench": "train_fwd_bwd_cpu_" + sys.argv[2], "unit": "tok/s", "threads": int(sys.argv[1]),
                  "ours_mean": om, "peer_mean": pm, "ratio_mean": round(om / pm, 3),
                  "ours_best": ob, "peer_best": pb, "ratio_best": round(ob / pb, 3),
                  "device": o[0].get("device", "?")}))
PY
rm -rf "$tmpd"
