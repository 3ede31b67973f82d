#!/usr/bin/env bash
# Generation new-tokens/s, rlc engine vs transformers generate, CPU fp32, same config, same
# thread count: batch 1 (1 prompt x 1) and batch 32 (4 prompts x 8 samples sharing their
# prompt). Interleaved runs; prints JSON lines and one summary line per batch size.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BUILD=${RLC_BUILD_DIR:-$here/../../build}
CFG=${1:-$here/../model/config_40m.json}
L=${L:-64} NEW=${NEW:-64} THREADS=${THREADS:-$(nproc)} ROUNDS=${ROUNDS:-2}
tmpd=$(mktemp -d)
cp "$CFG" "$tmpd/config.json"
for shape in "1 1" "4 8"; do
  set -- $shape
  ours=(); peer=()
  for r in $(seq "$ROUNDS"); do
    o=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench/gen/bench_gen_cpu" "$CFG" "$1" "$2" "$L" "$NEW" "$THREADS"); echo "$o"
    p=$(python3 "$here/bench_gen_hf.py" "$tmpd" "$1" "$2" "$L" "$NEW" "$THREADS" 2>/dev/null); echo "$p"
    ours+=("$o"); peer+=("$p")
  done
  python3 - "$(( $1 * $2 ))" "$THREADS" "${ours[@]}" "${peer[@]}" <<'PY'
import json, sys
n = (len(sys.argv) - 3) // 2
o = [json.loads(x) for x in sys.argv[3:3 + n]]; p = [json.loads(x) for x in sys.argv[3 + n:]]
ob, pb = max(x["new_tok_per_s"] for x in o), max(x["new_tok_per_s"] for x in p)
print(json.dumps({"bench": "generate_cpu_batch%s" % sys.argv[1], "ours": ob, "peer": pb, "unit": "new tok/s",
                  "ratio": round(ob / pb, 3), "threads": int(sys.argv[2]), "device": o[0].get("device", "?")}))
PY
done
rm -rf "$tmpd"
