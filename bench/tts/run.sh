#!/usr/bin/env bash
# PRM-guided beam search per problem: `rlc tts --method beam` vs a straightforward Python
# implementation of the same search with transformers (beam_hf.py), on the same random
# policy and PRM (a Qwen2 shape of ~20M parameters with the qwen2-tiny byte-level tokenizer;
# the PRM the same shape with a 1-label token-classification head), the same problems, beam
# width 4, steps ending at a space (random weights rarely write "\n\n"), at N = 4 and 16.
# rlc's time is the whole command (model loading included); the peer's the search only.
# rlc runs twice: with the PRM's KV cache per beam (the default) and with --no-prm-cache
# (every beam's whole text re-scored, as the peer does). Random sampling differs between rlc
# and the peer, so generated tokens are reported beside times.
# Prints JSON lines and one summary line per N.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BUILD=${RLC_BUILD_DIR:-$here/../../build}
RLC=$BUILD/cli/rlc
TOK=$here/../../tests/fixtures/models/qwen2-tiny
THREADS=${THREADS:-$(nproc)} P=${P:-4} ITERS=${ITERS:-8} NEW=${NEW:-64} NS=${NS:-"4 16"}
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
python3 - "$tmpd" "$P" <<'PY'
import json, sys
d, P = sys.argv[1], int(sys.argv[2])
base = {"model_type": "qwen2", "vocab_size": 512, "hidden_size": 512, "intermediate_size": 1408,
        "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 2,
        "max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "tie_word_embeddings": True, "eos_token_id": [511, 509], "pad_token_id": 509}
json.dump(dict(base, architectures=["Qwen2ForCausalLM"]), open(d + "/pol.json", "w"))
json.dump(dict(base, architectures=["Qwen2ForTokenClassification"], num_labels=1), open(d + "/prm.json", "w"))
with open(d + "/d.jsonl", "w") as f:
    for i in range(P):
        f.write(json.dumps({"problem": "Compute %d + %d step by step." % (17 * i + 3, 29 * i + 8),
                            "answer": str(46 * i + 11)}) + "\n")
PY
"$RLC" init-model --config "$tmpd/pol.json" --out "$tmpd/policy" --tokenizer "$TOK" --seed 1 --std 0.05 >/dev/null
"$RLC" init-model --config "$tmpd/prm.json" --out "$tmpd/prm" --tokenizer "$TOK" --seed 2 >/dev/null
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
rlc_run() { # n, extra flag -> JSON line
  local t0 t1
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$THREADS "$RLC" tts --model "$tmpd/policy" --data "$tmpd/d.jsonl" --template raw --method beam \
    --n "$1" --beam-width 4 --max-iterations "$ITERS" --prm "$tmpd/prm" --prm-agg last --step-delimiter ' ' \
    --max-new-tokens "$NEW" --temperature 0.8 --threads "$THREADS" --out "$tmpd/s.json" $2 >/dev/null 2>&1
  t1=$(date +%s.%N)
  python3 -c "import json; s=json.load(open('$tmpd/s.json'))['search'][0]; print(json.dumps({'ours': 'rlc${2:+ $2}', 'seconds': $t1 - $t0, 'problems': $P, 'gen_tokens': s['tokens'], 'prm_tokens': s['prm_tokens'], 'n': $1}))"
}
for n in $NS; do
  ours=$(rlc_run "$n" ""); echo "$ours"
  nocache=$(rlc_run "$n" "--no-prm-cache"); echo "$nocache"
  peer=$(python3 "$here/beam_hf.py" "$tmpd/policy" "$tmpd/prm" "$tmpd/d.jsonl" "$n" 4 "$ITERS" "$NEW" ' ' "$THREADS" 2>/dev/null)
  echo "$peer"
  python3 - "$ours" "$peer" "$nocache" "$THREADS" "$cpu" <<'PY'
import json, sys
o, p, q = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
so, sp, sq = o["seconds"] / o["problems"], p["seconds"] / p["problems"], q["seconds"] / q["problems"]
print(json.dumps({"bench": "tts_beam_n%d" % o["n"], "rlc_s_per_problem": round(so, 3), "peer_s_per_problem": round(sp, 3),
                  "ratio": round(sp / so, 2), "rlc_no_prm_cache_s_per_problem": round(sq, 3),
                  "rlc_tok_per_s": round(o["gen_tokens"] / o["seconds"], 1),
                  "peer_tok_per_s": round(p["gen_tokens"] / p["seconds"], 1), "threads": int(sys.argv[4]),
                  "cpu": sys.argv[5]}))
PY
done
