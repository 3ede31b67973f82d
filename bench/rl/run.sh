#!/usr/bin/env bash
# Time per GRPO step on the CPU, broken down into generation / scoring / training, for the
# ~40M-parameter config of bench/model (vocab 32000; the tiny ChatML tokenizer supplies the
# text of the ids it knows). Random weights: the numbers measure the system, not learning.
# Prints the per-step JSON lines' averages as one line; then (PEER=1, the default) the same
# step with TRL's GRPOTrainer (peer_trl.py: per-device batch 16 x accumulation 4, 8
# generations, 128 new tokens, beta 0) with gradient checkpointing off/on and paged generation
# off/on, one JSON line each, and the ratio of rlc's step to the fastest peer setting.
# RAGGED=1 warm-starts the model first so that completion lengths vary (see below).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
BUILD=${RLC_BUILD_DIR:-$root/build}
RLC="$BUILD/cli/rlc"
STEPS=${STEPS:-4} G=${G:-8} PROMPTS=${PROMPTS:-8} NEW=${NEW:-128} THREADS=${THREADS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$RLC" init-model --config "$here/../model/config_40m.json" --out "$tmp/model" \
  --tokenizer "$root/tests/fixtures/tokenizers/tiny-chatml" >/dev/null
python3 - "$tmp/data.jsonl" "$tmp/sft.jsonl" <<'PY'
import json, random, sys
random.seed(0)
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as g:
    for i in range(200):
        a, b = random.randint(10, 999), random.randint(10, 999)
        f.write(json.dumps({"problem": f"Compute {a} + {b}.", "answer": str(a + b)}) + "\n")
        g.write(json.dumps({"prompt": f"Compute {a} + {b}.", "response": f"{a} + {b} = {a + b}\nThe answer is \\boxed{{{a + b}}}."}) + "\n")
PY
# RAGGED=1: warm-start the model first (a short SFT on answers) so that completions stop at
# varied lengths, as in real runs; the default keeps random weights (every sample runs to
# the limit).
if [ "${RAGGED:-0}" = 1 ]; then
  "$RLC" --log-level warn sft --model "$tmp/model" --data "$tmp/sft.jsonl" --run-dir "$tmp/sft" --template raw \
    --steps "${SFT_STEPS:-150}" --batch-size 16 --lr 1e-3 --save-every 0 --threads "$THREADS" >/dev/null
  ck="$tmp/sft/checkpoints/$(cat "$tmp/sft/checkpoints/latest")"
  rm -rf "$tmp/model" && cp -r "$ck" "$tmp/model"
fi
"$RLC" --log-level warn train --model "$tmp/model" --data "$tmp/data.jsonl" --run-dir "$tmp/run" --template raw \
  --group-size "$G" --prompts-per-step "$PROMPTS" --micro-batch 16 --max-new-tokens "$NEW" --temperature 1 \
  --kl-coef 0 --lr 1e-5 --total-steps "$STEPS" --save-every 0 --keep-last 1 --threads "$THREADS" >/dev/null
python3 - "$tmp/run/metrics.jsonl" "$THREADS" "$G" "$PROMPTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]  # the first step warms caches
avg = lambda k: sum(r[k] for r in rows) / len(rows)
print(json.dumps({"bench": "grpo_step_cpu_40m", "unit": "s/step", "threads": int(sys.argv[2]),
                  "seqs_per_step": int(sys.argv[3]) * int(sys.argv[4]), "steps_averaged": len(rows),
                  "generation": round(avg("t_rollout"), 3), "scoring": round(avg("t_score"), 3),
                  "training": round(avg("t_train"), 3), "total": round(avg("t_total"), 3),
                  "tokens_generated": round(avg("tokens_gen")), "tokens_trained": round(avg("tokens_train")),
                  "completion_len_mean": round(avg("resp_len_mean"), 1), "completion_len_max": max(r["resp_len_max"] for r in rows),
                  "truncated_frac": round(avg("truncated_frac"), 3)}))
PY
[ "${PEER:-1}" = 1 ] || exit 0
best=""
for cfg in "0 0" "1 0" "0 1"; do
  set -- $cfg
  line=$(python3 "$here/peer_trl.py" "$tmp/model" "$tmp/data.jsonl" "$STEPS" "$THREADS" "$1" "$2" 2>/dev/null | tail -1)
  echo "$line"
  best=$(python3 -c "import json,sys; a=sys.argv[1]; b=json.loads(sys.argv[2]); print(json.dumps(b) if not a or b['total']<json.loads(a)['total'] else a)" "$best" "$line")
done
python3 - "$tmp/run/metrics.jsonl" "$best" "$("$RLC" info --json)" "${RAGGED:-0}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
ours = sum(r["t_total"] for r in rows) / len(rows)
p = json.loads(sys.argv[2]); info = json.loads(sys.argv[3])
print(json.dumps({"bench": "grpo_step_vs_trl", "ragged": sys.argv[4] == "1", "rlc_s_per_step": round(ours, 2),
                  "trl_best_s_per_step": p["total"],
                  "trl_best": {"gradient_checkpointing": p["gradient_checkpointing"], "paged": p["paged"]},
                  "ratio": round(p["total"] / ours, 2), "cpu": info["cpu_model"], "isa": info["cpu_isa"]}))
PY
