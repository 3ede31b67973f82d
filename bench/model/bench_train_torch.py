#!/usr/bin/env python3
"""The peer for bench_train_cpu: transformers LlamaForCausalLM in fp32 on the CPU, same config,
threads and tokens; forward + backward of the mean next-token loss (default attention
implementation, sdpa). Prints one JSON line."""
import json
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

cfg_path = sys.argv[1]
B, T, iters, threads = (int(x) for x in (sys.argv[2:6] + ["2", "256", "5", "2"][len(sys.argv[2:6]):]))
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = AutoConfig.from_pretrained(cfg_path)
model = AutoModelForCausalLM.from_config(cfg).float()
model.train()
ids = torch.randint(0, cfg.vocab_size, (B, T))
times = []
for it in range(iters + 1):
    t0 = time.perf_counter()
    model.zero_grad(set_to_none=False)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    dt = time.perf_counter() - t0
    if it:
        times.append(dt)
N = B * T
print(json.dumps({"bench": "train_fwd_bwd_cpu", "impl": "pytorch", "torch": torch.__version__,
                  "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1), "tokens": N,
                  "threads": threads, "tok_per_s": round(N * iters / sum(times), 1),
                  "best_tok_per_s": round(N / min(times), 1), "loss": round(out.loss.item(), 4)}))
