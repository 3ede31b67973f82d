#!/usr/bin/env python3
"""The peer of `rlc tts --method beam`: a straightforward PRM-guided beam search (the rules of
search-and-learn, as docs/tts.md states them) with transformers on the CPU: per iteration one
batched `generate` call for all active beams (left-padded, sampling at T = 0.8, stopping at
the step delimiter with `stop_strings`; the last iteration to the end), then one batched
forward of the PRM (a 1-label token-classification model) over every new beam's whole text,
its score the sigmoid of the head at the last token; the n/M best continue (ties: the
earlier), copied back up to n. No KV cache survives between iterations: each iteration
re-reads every beam's prefix, as a simple HF implementation does.

Usage: beam_hf.py POLICY_DIR PRM_DIR DATA.jsonl N WIDTH ITERS MAX_NEW DELIM THREADS
Prints one JSON line: seconds (search only, models loaded), problems, generated tokens.
"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer


def main():
    pol_dir, prm_dir, data, n, M, iters, max_new, delim, threads = sys.argv[1:10]
    n, M, iters, max_new, threads = int(n), int(M), int(iters), int(max_new), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(pol_dir)
    pol = AutoModelForCausalLM.from_pretrained(pol_dir, dtype=torch.float32).eval()
    prm = AutoModelForTokenClassification.from_pretrained(prm_dir, dtype=torch.float32).eval()
    pad = pol.config.pad_token_id if pol.config.pad_token_id is not None else 0
    eos = pol.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    problems = [json.loads(l)["problem"] for l in open(data) if l.strip()]
    t0 = time.time()
    gen_tokens = 0
    for q in problems:
        prompt = tok.encode(q)
        active = [[] for _ in range(n)]
        done = []
        for it in range(iters):
            last = it == iters - 1
            if it > 0 and len(active) != n:
                active = (active * (n // len(active) + 1))[:n]
            L = max(len(prompt) + len(a) for a in active)
            ids = torch.full((len(active), L), pad, dtype=torch.long)
            mask = torch.zeros((len(active), L), dtype=torch.long)
            for i, a in enumerate(active):
                s = prompt + a
                ids[i, L - len(s):] = torch.tensor(s)
                mask[i, L - len(s):] = 1
            budget = max(max_new - len(a) for a in active)
            kw = {} if last else {"stop_strings": [delim], "tokenizer": tok}
            with torch.no_grad():
                out = pol.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=0.8, top_p=1.0,
                                   max_new_tokens=budget, pad_token_id=pad, **kw)
            kids = []
            for i, a in enumerate(active):
                new = out[i, L:].tolist()[: max_new - len(a)]
                cut, ended = len(new), None
                for t, x in enumerate(new):
                    if x in eos:
                        cut = t + 1
                        break
                text = tok.decode(new[:cut], skip_special_tokens=True)
                if not last and delim in text:
                    for t in range(1, cut + 1):  # the token that completes the delimiter
                        if delim in tok.decode(new[:t], skip_special_tokens=True):
                            cut = t
                            break
                    ended = "step"
                elif cut < len(new) or (new and new[cut - 1] in eos):
                    ended = "eos"
                else:
                    ended = "length"
                step = new[:cut]
                gen_tokens += len(step)
                blank = not tok.decode(step, skip_special_tokens=True).strip()
                kids.append((a + step, ended, blank))
            # PRM: one batched forward over every new beam, score at its last token
            L2 = max(len(prompt) + len(k[0]) for k in kids)
            ids = torch.full((len(kids), L2), pad, dtype=torch.long)
            mask = torch.zeros((len(kids), L2), dtype=torch.long)
            for i, k in enumerate(kids):
                s = prompt + k[0]
                ids[i, : len(s)] = torch.tensor(s)
                mask[i, : len(s)] = 1
            with torch.no_grad():
                logits = prm(input_ids=ids, attention_mask=mask).logits[:, :, 0]
            scores = [float(torch.sigmoid(logits[i, len(prompt) + len(k[0]) - 1])) for i, k in enumerate(kids)]
            rest = []
            for k, s in zip(kids, scores):
                if last or k[1] != "step" or k[2]:
                    done.append((s, k[0]))
                else:
                    rest.append((s, k[0]))
            if not rest:
                break
            keep = sorted(range(len(rest)), key=lambda i: (-rest[i][0], i))[: n // M]
            active = [rest[i][1] for i in sorted(keep)]
    secs = time.time() - t0
    print(json.dumps({"peer": "transformers", "seconds": secs, "problems": len(problems), "gen_tokens": gen_tokens,
                      "n": n, "threads": threads}))


if __name__ == "__main__":
    main()
