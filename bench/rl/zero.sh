#!/usr/bin/env bash
# ZeRO and the overlapped gradient exchange on the CPU (docs/distributed.md): the GRPO step of
# bench/rl (55.3M-parameter config of bench/model, random weights, 8 prompts x 8 samples, NEW
# new tokens, micro-batches of 16) at -np 1 and at -np 2 with each zero_stage, overlap on and
# off. Prints one JSON line per run: rank 0's per-buffer memory from the start-up report
# (MiB) and the mean generation / training / step seconds of steps 2..STEPS.
# Needs Open MPI's mpirun. The machine's cores are shared among the ranks (THREADS in all).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
BUILD=${RLC_BUILD_DIR:-$root/build}
RLC="$BUILD/cli/rlc"
STEPS=${STEPS:-3} NEW=${NEW:-64} THREADS=${THREADS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$RLC" init-model --config "$here/../model/config_40m.json" --out "$tmp/model" \
  --tokenizer "$root/tests/fixtures/tokenizers/tiny-chatml" >/dev/null
python3 - "$tmp/data.jsonl" <<'PY'
import json, random, sys
random.seed(0)
with open(sys.argv[1], "w") as f:
    for i in range(200):
        a, b = random.randint(10, 999), random.randint(10, 999)
        f.write(json.dumps({"problem": f"Compute {a} + {b}.", "answer": str(a + b)}) + "\n")
PY
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1
MPIRUN="mpirun -q --oversubscribe --bind-to none $([ "$(id -u)" = 0 ] && echo --allow-run-as-root)"
run() { # name np stage overlap
  local name=$1 np=$2 stage=$3 ov=$4 threads=$((THREADS / $2))
  local cmd=("$RLC" train --model "$tmp/model" --data "$tmp/data.jsonl" --run-dir "$tmp/$name" --template raw
    --group-size 8 --prompts-per-step 8 --micro-batch 16 --max-new-tokens "$NEW" --temperature 1 --kl-coef 0
    --lr 1e-5 --total-steps "$STEPS" --save-every 0 --keep-last 1 --threads "$threads" --zero-stage "$stage"
    --overlap-comm "$ov")
  if [ "$np" = 1 ]; then "${cmd[@]}" >"$tmp/$name.log" 2>&1; else $MPIRUN -np "$np" "${cmd[@]}" >"$tmp/$name.log" 2>&1; fi
  python3 - "$name" "$np" "$stage" "$ov" "$tmp/$name.log" "$tmp/$name/metrics.jsonl" <<'PY'
import json, re, sys
name, np_, stage, ov, logf, mf = sys.argv[1:]
mem = {}
for l in open(logf):
    m = re.match(r"^  (\S.*?)\s{2,}([\d.]+) MiB$", l.rstrip())
    if m and not m.group(1).startswith("free now"):
        mem[m.group(1)] = float(m.group(2))
rows = [json.loads(l) for l in open(mf)][1:]
avg = lambda k: round(sum(r[k] for r in rows) / len(rows), 3)
print(json.dumps({"run": name, "np": int(np_), "zero_stage": int(stage), "overlap": ov == "true",
                  "generation": avg("t_rollout"), "training": avg("t_train"), "step": avg("t_total"),
                  "memory_mib": mem}))
PY
}
run np1 1 0 true
for st in 0 1 2; do
  run "np2_s${st}_overlap" 2 "$st" true
  run "np2_s${st}_inline" 2 "$st" false
done
echo "{\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\", \"threads\": $THREADS}"
