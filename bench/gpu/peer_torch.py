#!/usr/bin/env python3
"""PyTorch peers for bench_gpu: the same shapes on the same GPU, timed with CUDA events.
Each subcommand prints one JSON line (the last line of output), read by bench_gpu.c.
RLC_PEER_DEVICE=cpu runs them on the CPU instead (a smoke test of this script, as
`RLC_PEER_DEVICE=cpu bench_gpu --device cpu --quick`; the flash kernel and fused AdamW
are then whatever the CPU offers).

  attention --nseq S --seqlen L --hq H --hk K --d D   SDPA (flash kernel), causal, bf16
  matmul --n N --ic IC --oc OC                        F.linear fwd, and its backward
  lmhead --n N --c C --v V                            linear + log_softmax + gather + entropy
  train --config PATH --batch B --seqlen T --steps K  transformers Qwen2/Llama, bf16, fused
                                                      AdamW: eager, then torch.compile
  generate --config PATH --prompts P --g G --prompt-len L --new K
                                                      transformers generate, bf16, sampling T=1,
                                                      each prompt repeated G times, K new tokens
"""
import argparse
import contextlib
import json
import os
import sys
import time

DEV = os.environ.get("RLC_PEER_DEVICE", "cuda")


def sync():
    import torch
    if DEV == "cuda":
        torch.cuda.synchronize()


def timed(fn, warm=2, iters=10):
    import torch
    for _ in range(warm):
        fn()
    if DEV != "cuda":
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) * 1e3 / iters
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(iters):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / iters


def flash():
    """The flash SDPA kernel on a GPU; on the CPU whatever SDPA picks."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel(SDPBackend.FLASH_ATTENTION) if DEV == "cuda" else contextlib.nullcontext()


def attention(a):
    import torch
    import torch.nn.functional as F
    dev, dt = DEV, torch.bfloat16
    q = torch.randn(a.nseq, a.hq, a.seqlen, a.d, device=dev, dtype=dt, requires_grad=True)
    k = torch.randn(a.nseq, a.hk, a.seqlen, a.d, device=dev, dtype=dt, requires_grad=True)
    v = torch.randn(a.nseq, a.hk, a.seqlen, a.d, device=dev, dtype=dt, requires_grad=True)
    kernel = "flash+gqa"
    try:
        with flash():
            F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    except Exception:  # flash without native GQA: expand k, v outside the timed region
        kernel = "flash(expanded kv)"
        k = k.detach().repeat_interleave(a.hq // a.hk, dim=1).requires_grad_()
        v = v.detach().repeat_interleave(a.hq // a.hk, dim=1).requires_grad_()
        call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    with flash():
        fwd = timed(call)
        out = call()
        dout = torch.randn_like(out)
        bwd = timed(lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True))
    return {"fwd_ms": fwd, "bwd_ms": bwd, "kernel": kernel}


def matmul(a):
    import torch
    import torch.nn.functional as F
    x = torch.randn(a.n, a.ic, device=DEV, dtype=torch.bfloat16, requires_grad=True)
    w = (torch.randn(a.oc, a.ic, device=DEV, dtype=torch.bfloat16) * 0.02).requires_grad_()
    fwd = timed(lambda: F.linear(x, w), iters=20)
    y = F.linear(x, w)
    dy = torch.randn_like(y)
    bwd = timed(lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True), iters=20)
    return {"fwd_ms": fwd, "bwd_ms": bwd}


def lmhead(a):
    import torch
    h = torch.randn(a.n, a.c, device=DEV, dtype=torch.bfloat16, requires_grad=True)
    w = (torch.randn(a.v, a.c, device=DEV, dtype=torch.bfloat16) * 0.02).requires_grad_()
    t = torch.randint(0, a.v, (a.n,), device=DEV)

    def fwd():
        z = (h @ w.t()).float()
        lp = torch.log_softmax(z, dim=-1)
        logp = lp.gather(1, t[:, None])[:, 0]
        ent = -(lp.exp() * lp).sum(-1)
        return logp, ent

    def fwd_bwd():
        logp, _ = fwd()
        torch.autograd.grad(logp.sum() / a.n, (h, w))

    with torch.no_grad():
        f = timed(fwd, iters=5)
    fb = timed(fwd_bwd, iters=5)
    return {"fwd_ms": f, "fwd_bwd_ms": fb}


def make_model(cfg):
    import torch
    from transformers import AutoModelForCausalLM
    try:  # transformers >= 4.56 spells it dtype
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).to(DEV)
    except TypeError:
        return AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16).to(DEV)


def train(a):
    import torch
    from transformers import AutoConfig
    with open(a.config) as fh:
        cfgd = json.load(fh)
    cfg = AutoConfig.for_model(cfgd.pop("model_type"), **{k: v for k, v in cfgd.items() if k != "architectures"})
    cfg._attn_implementation = "sdpa"
    res = {}
    for mode in (["eager"] + ([] if a.no_compile else ["compile"])):
        torch.manual_seed(0)
        model = make_model(cfg)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
        step_model = torch.compile(model) if mode == "compile" else model
        ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seqlen), device=DEV)

        def step():
            loss = step_model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        t0 = time.time()
        ms = timed(step, warm=3, iters=a.steps)
        res[mode + "_tok_s"] = a.batch * a.seqlen / (ms / 1e3)
        res[mode + "_step_ms"] = ms
        res[mode + "_wall_s"] = time.time() - t0
        print(json.dumps(res), flush=True)  # partial result, in case compile runs out of time
        del model, opt, step_model
        if DEV == "cuda":
            torch.cuda.empty_cache()
    return res


def generate(a):
    import torch
    from transformers import AutoConfig
    with open(a.config) as fh:
        cfgd = json.load(fh)
    cfg = AutoConfig.for_model(cfgd.pop("model_type"), **{k: v for k, v in cfgd.items() if k != "architectures"})
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = make_model(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (a.prompts, a.prompt_len), device=DEV).repeat_interleave(a.g, dim=0)
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, pad_token_id=0)
    with torch.no_grad():
        model.generate(ids[:1], attention_mask=torch.ones_like(ids[:1]), max_new_tokens=4, **kw)  # warm-up
        sync()
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=a.new, min_new_tokens=a.new, **kw)
        sync()
        dt = time.perf_counter() - t0
    n_new = (out.shape[1] - a.prompt_len) * out.shape[0]
    return {"tok_s": n_new / dt, "seconds": dt}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("attention")
    for k in ("nseq", "seqlen", "hq", "hk", "d"):
        s.add_argument("--" + k, type=int, required=True)
    s = sub.add_parser("matmul")
    for k in ("n", "ic", "oc"):
        s.add_argument("--" + k, type=int, required=True)
    s = sub.add_parser("lmhead")
    for k in ("n", "c", "v"):
        s.add_argument("--" + k, type=int, required=True)
    s = sub.add_parser("train")
    s.add_argument("--config", required=True)
    for k in ("batch", "seqlen", "steps"):
        s.add_argument("--" + k, type=int, required=True)
    s.add_argument("--no-compile", action="store_true")
    s = sub.add_parser("generate")
    s.add_argument("--config", required=True)
    for k in ("prompts", "g", "prompt-len", "new"):
        s.add_argument("--" + k, type=int, required=True)
    a = p.parse_args()
    try:
        import torch
        if DEV == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        out = {"attention": attention, "matmul": matmul, "lmhead": lmhead, "train": train,
               "generate": generate}[a.cmd](a)
        out["torch"] = torch.__version__
    except Exception as e:  # reported, never fatal for the C side
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
