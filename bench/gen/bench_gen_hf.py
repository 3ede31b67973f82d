#!/usr/bin/env python3
"""Peer for bench_gen_cpu: transformers generate on the CPU (fp32), the same config,
P prompts each repeated G times as one batch, sampling at T=1, exactly NEW new tokens."""
import json
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

cfg_dir = sys.argv[1]
P, G, L, NEW, threads = (int(x) for x in (sys.argv[2:7] + ["4", "8", "64", "64", "2"][len(sys.argv[2:7]):]))
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = AutoConfig.from_pretrained(cfg_dir)
model = AutoModelForCausalLM.from_config(cfg).float().eval()
prompts = torch.randint(0, cfg.vocab_size, (P, L))
ids = prompts.repeat_interleave(G, dim=0)
with torch.no_grad():
    model.generate(ids[:1, :8], attention_mask=torch.ones_like(ids[:1, :8]), max_new_tokens=2, do_sample=True,
                   pad_token_id=0)  # warm-up
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, min_new_tokens=NEW,
                         do_sample=True, temperature=1.0, top_p=1.0, top_k=0, pad_token_id=0)
    dt = time.perf_counter() - t0
n_new = (out.shape[1] - L) * out.shape[0]
print(json.dumps({"bench": "generate_cpu", "impl": "transformers", "prompts": P, "G": G, "batch": P * G,
                  "prompt_len": L, "new_tokens": NEW, "threads": threads, "new_tok_per_s": round(n_new / dt, 1),
                  "seconds": round(dt, 3)}))
