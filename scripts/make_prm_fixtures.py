#!/usr/bin/env python3
"""Make tiny process-reward-model fixtures with the published layouts, and their reference
step scores, under tests/fixtures/models/:

  qwen-prm-tiny/     Qwen2ForProcessRewardModel (Qwen2.5-Math-PRM's layout): a Qwen2 trunk saved
                     as model.*, a two-layer MLP head score.0 (Linear C->C), ReLU, score.2
                     (Linear C->2), the config's custom-code fields (auto_map), and the
                     qwen2-tiny tokenizer with "<extra_0>" added as a special token.
  skywork-prm-tiny/  Qwen2ForPrmModel (Skywork-o1-Open-PRM's layout): a Qwen2 trunk (model.*), an
                     lm_head, and the value head v_head.summary (Linear C->1); the qwen2-tiny
                     tokenizer with bos_token "<|endoftext|>".
  <name>.ref/prm.json  cases {question, solution, scores}: the step scores computed here in fp32
                     with transformers' Qwen2Model and torch heads, on inputs built as the
                     models' own model cards do:
    qwen:    apply_chat_template([system, user = question, assistant = "<extra_0>".join(steps) +
             "<extra_0>"]), steps = the solution split at "\\n\\n" (blank pieces dropped, as rlc
             splits), score = softmax(head(h))[1] at each "<extra_0>";
    skywork: encode(bos + question + "\\n"), then per step (solution split at "\\n", blank pieces
             dropped) encode(step) + [id of "\\n"], score = sigmoid(head(h)) at those "\\n" ids.

Usage: python3 scripts/make_prm_fixtures.py   (needs torch, transformers, safetensors; seconds)
Tests never run this script.
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, Qwen2Config, Qwen2Model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "tests", "fixtures", "models")
BASE_TOK = os.path.join(ROOT, "qwen2-tiny")
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."

CASES = [
    ("What is 2 + 3?", "We add 2 and 3.\n\n2 + 3 = 5.\n\nThe answer is \\boxed{5}."),
    ("Compute 12 * 4, then subtract 8.", "First, 12 * 4 = 48.\nThen 48 - 8 = 40.\n\n\nSo \\boxed{40}."),
    ("Find x if 2x = 10.", "Divide both sides by 2: x = 5 — done.\n\n  \n\nThus x = \\boxed{5}.\n"),
    ("Is 7 prime?", "Yes."),
    ("Say nothing.", "   \n\n  "),
]


def steps_nn(text):
    return [s for s in text.split("\n\n") if s.strip()]


def steps_n(text):
    return [s for s in text.split("\n") if s.strip()]


def trunk_config(vocab):
    return Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       rms_norm_eps=1e-6, tie_word_embeddings=False, rope_theta=10000.0)


def write_model(name, arch, cfg, trunk, head, extra_cfg, tok_dir):
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    sd = {"model." + k: v.contiguous() for k, v in trunk.state_dict().items()}
    sd.update({k: v.contiguous() for k, v in head.items()})
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    c = cfg.to_dict()
    c["architectures"] = [arch]
    c.update(extra_cfg)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, fn), os.path.join(out, fn))
    return out


def qwen_prm():
    tok = AutoTokenizer.from_pretrained(BASE_TOK)
    tok.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    tmp = os.path.join(ROOT, "_qwen_tok")
    tok.save_pretrained(tmp)
    sep = tok.convert_tokens_to_ids("<extra_0>")
    torch.manual_seed(11)
    cfg = trunk_config(len(tok))
    trunk = Qwen2Model(cfg).eval()
    C = cfg.hidden_size
    mlp = torch.nn.Sequential(torch.nn.Linear(C, C), torch.nn.ReLU(), torch.nn.Linear(C, 2))
    with torch.no_grad():
        for p in mlp.parameters():
            p.normal_(0, 0.3)
    head = {"score.0.weight": mlp[0].weight, "score.0.bias": mlp[0].bias, "score.2.weight": mlp[2].weight,
            "score.2.bias": mlp[2].bias}
    extra = {"auto_map": {"AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                          "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}, "num_labels": 2}
    out = write_model("qwen-prm-tiny", "Qwen2ForProcessRewardModel", cfg, trunk, head, extra, tmp)
    shutil.rmtree(tmp)
    cases = []
    for q, sol in CASES:
        steps = steps_nn(sol)
        scores = []
        if steps:
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                    {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
            conv = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
            ids = torch.tensor([tok.encode(conv)])
            with torch.no_grad():
                h = trunk(input_ids=ids).last_hidden_state[0]
                probs = torch.softmax(mlp(h), dim=-1)[:, 1]
            scores = [float(probs[i]) for i in range(ids.shape[1]) if int(ids[0, i]) == sep]
            assert len(scores) == len(steps)
        cases.append({"question": q, "solution": sol, "scores": scores})
    return out, cases


def skywork_prm():
    tok = AutoTokenizer.from_pretrained(BASE_TOK)
    tok.bos_token = "<|endoftext|>"
    tmp = os.path.join(ROOT, "_sky_tok")
    tok.save_pretrained(tmp)
    torch.manual_seed(12)
    cfg = trunk_config(len(tok))
    trunk = Qwen2Model(cfg).eval()
    C = cfg.hidden_size
    v = torch.nn.Linear(C, 1)
    lm = torch.nn.Linear(C, len(tok), bias=False)
    with torch.no_grad():
        v.weight.normal_(0, 0.5)
        v.bias.fill_(0.1)
    head = {"v_head.summary.weight": v.weight, "v_head.summary.bias": v.bias, "lm_head.weight": lm.weight}
    out = write_model("skywork-prm-tiny", "Qwen2ForPrmModel", cfg, trunk, head, {}, tmp)
    shutil.rmtree(tmp)
    nl = tok.encode("\n")[-1]
    cases = []
    for q, sol in CASES:
        steps = steps_n(sol)
        scores = []
        if steps:
            ids = tok.encode(tok.bos_token + q + "\n")
            flags = []
            for s in steps:
                ids += tok.encode(s) + [nl]
                flags.append(len(ids) - 1)
            with torch.no_grad():
                h = trunk(input_ids=torch.tensor([ids])).last_hidden_state[0]
                p = torch.sigmoid(v(h))[:, 0]
            scores = [float(p[i]) for i in flags]
        cases.append({"question": q, "solution": sol, "scores": scores})
    return out, cases


def main():
    for fn in (qwen_prm, skywork_prm):
        out, cases = fn()
        ref = out + ".ref"
        os.makedirs(ref, exist_ok=True)
        with open(os.path.join(ref, "prm.json"), "w") as f:
            json.dump({"cases": cases}, f, indent=1, ensure_ascii=False)
        print("wrote", out, "and", ref)


if __name__ == "__main__":
    main()
