#!/usr/bin/env python3
"""The peer of bench/rl: TRL's GRPOTrainer on the same model directory, data and step shape as
rlc's GRPO step (8 prompts x 8 samples = 64 sequences per optimizer step, 128 new tokens at
temperature 1, beta 0, one iteration, lr 1e-5, micro-batches of 16 = per-device batch 16 x
gradient accumulation 4, steps_per_generation 4 so one generation per optimizer step), reward
= the same rule (1 when the last number or \\boxed{} of the completion equals the answer).

Usage: peer_trl.py MODEL_DIR DATA.jsonl STEPS THREADS GRAD_CKPT(0|1) PAGED(0|1)
Prints one JSON line: seconds per optimizer step (mean of steps 2..STEPS), split into
generation (TRL's generate-and-score, timed around it) and the rest (training).
Needs: trl, transformers, torch, datasets (PyPI). Not part of the test suite.
"""
import json
import re
import sys
import time

import torch


def reward_fn(completions, answer, **kw):
    out = []
    for c, a in zip(completions, answer):
        text = c if isinstance(c, str) else c[-1]["content"]
        m = re.findall(r"\\boxed\{([^}]*)\}", text) or re.findall(r"-?\d+", text)
        out.append(1.0 if m and m[-1].strip() == str(a).strip() else 0.0)
    return out


def mean_of(v):
    return round(sum(v[1:] or v) / len(v[1:] or v), 3) if v else None


def main():
    model_dir, data, steps, threads, gc, paged = sys.argv[1:7]
    steps, threads, gc, paged = int(steps), int(threads), int(gc), int(paged)
    torch.set_num_threads(threads)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    rows = [json.loads(l) for l in open(data) if l.strip()]
    ds = Dataset.from_list([{"prompt": r["problem"], "answer": r["answer"]} for r in rows])
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    kw = dict(output_dir="/tmp/peer_trl_out", per_device_train_batch_size=16, gradient_accumulation_steps=4,
              num_generations=8, max_completion_length=128, beta=0.0, num_iterations=1, learning_rate=1e-5,
              temperature=1.0, max_steps=steps, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
              bf16=False, gradient_checkpointing=bool(gc), seed=0, dataloader_num_workers=0)
    for k, v in (("steps_per_generation", 4), ("use_transformers_paged", bool(paged))):
        if k in GRPOConfig.__dataclass_fields__:
            kw[k] = v
    cfg = GRPOConfig(**kw)
    trainer = GRPOTrainer(model=model, args=cfg, train_dataset=ds, reward_funcs=reward_fn, processing_class=tok)
    gen = {"t": 0.0}
    inner = trainer._generate_and_score_completions

    def timed(*a, **k):
        t0 = time.time()
        r = inner(*a, **k)
        gen["t"] += time.time() - t0
        return r

    trainer._generate_and_score_completions = timed
    per_step = []
    lens = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **k):
            self.t0, self.g0 = time.time(), gen["t"]

        def on_step_end(self, args, state, control, **k):
            per_step.append((time.time() - self.t0, gen["t"] - self.g0))

        def on_log(self, args, state, control, logs=None, **k):
            for key in ("completions/mean_length", "completions/clipped_ratio"):
                if logs and key in logs:
                    lens.setdefault(key, []).append(logs[key])

    trainer.add_callback(Clock())
    trainer.train()
    rest = per_step[1:] or per_step
    tot = sum(t for t, _ in rest) / len(rest)
    g = sum(x for _, x in rest) / len(rest)
    import trl
    import transformers
    print(json.dumps({"peer": "trl GRPOTrainer", "trl": trl.__version__, "transformers": transformers.__version__,
                      "torch": torch.__version__, "gradient_checkpointing": bool(gc), "paged": bool(paged),
                      "threads": threads, "steps_averaged": len(rest), "total": round(tot, 3),
                      "generation": round(g, 3), "training": round(tot - g, 3),
                      "completion_len_mean": mean_of(lens.get("completions/mean_length")),
                      "truncated_frac": mean_of(lens.get("completions/clipped_ratio"))}))


if __name__ == "__main__":
    main()
