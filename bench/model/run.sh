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
  ours+=("$(echo "$o" | python3 -c 'import json,sys;print(json.load(sys.stdin)["tok_per_s"])')")
  peer+=("$(echo "$p" | python3 -c 'import json,sys;print(json.load(sys.stdin)["tok_per_s"])')")
done
python3 - "${ours[*]}" "${peer[*]}" "$THREADS" <<'PY'
import json, sys
o = max(float(x) for x in sys.argv[1].split()); p = max(float(x) for x in sys.argv[2].split())
print(json.dumps({"bench": "train_fwd_bwd_cpu_40m", "ours": o, "peer": p, "unit": "tok/s",
                  "ratio": round(o / p, 3), "threads": int(sys.argv[3])}))
PY
rm -rf "$tmpd"
