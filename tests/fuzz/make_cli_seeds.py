#!/usr/bin/env python3
"""Writes fuzz_cli's seed corpus (tests/fuzz/seeds/cli_*.bin): per command, byte strings
that fuzz_cli.c decodes into a plausible command line (the fixture model, the data file,
small numbers), so mutations start from command lines that reach a command's real work
rather than its first parse error. Rerun after changing CMDS or VALUES in fuzz_cli.c."""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "fuzz_cli.c")).read()

# the command table: {"name", heavy, "opts" "opts" ...}
table = SRC[SRC.index("static const cmd_spec_t CMDS[]"):SRC.index("#define NCMDS")]
CMDS = []
for m in re.finditer(r'\{"([a-z-]+)", (\d),\s*((?:"[^"]*"\s*)+)\}', table):
    CMDS.append((m.group(1), " ".join(re.findall(r'"([^"]*)"', m.group(3))).split()))
vals = SRC[SRC.index("VALUES[] = {"):SRC.index("#define NVALUES")]
VALUES = re.findall(r'"([^"]*)"', vals)
PATH = {"missing": 0, "sub": 1, "data": 2, "cfg": 3, "out": 4, "run": 5, "model": 6}


def seed(cmd, pairs):
    """pairs: (option, value) with value a PATH key, a VALUES entry, or None (no value)."""
    names = dict(CMDS)[cmd]
    out = bytearray([[c for c, _ in CMDS].index(cmd)])
    for opt, v in pairs:
        out.append(names.index(opt))
        if v is None:
            out.append(0xE0)
        elif v in PATH:
            out.append(PATH[v])
        else:
            out.append(VALUES.index(v))
    return bytes(out)


SEEDS = {
    "generate": [("--model", "model"), ("--prompt", "1"), ("-n", "3"), ("--temperature", "1"), ("--json", None)],
    "generate_chat": [("--model", "model"), ("--chat", "[1, 2, 3]"), ("--top-k", "3"), ("--seed", "65536")],
    "generate_file": [("--model", "model"), ("--prompts", "data"), ("--stop", "3"), ("--ignore-eos", None)],
    "logprobs": [("--model", "model"), ("--ids", "[1, 2, 3]"), ("--tokens", None), ("--json", None)],
    "logprobs_text": [("--model", "model"), ("--prompt", "1"), ("--completion", "3"), ("--temperature", "3")],
    "tokenize": [("--tokenizer", "model"), ("--text", "grpo"), ("--json", None)],
    "tokenize_chat": [("--tokenizer", "model"), ("--chat", "[1, 2, 3]"), ("--render", None), ("--info", None)],
    "detokenize": [("--tokenizer", "model"), ("--ids", "[1, 2, 3]"), ("--skip-special", None)],
    "grade": [("--gold", "3"), ("--pred", "3"), ("--explain", None)],
    "grade_file": [("--jsonl", "data"), ("--out", "out"), ("--rel-tol", "1e-300")],
    "init-model": [("--config", "cfg"), ("--out", "run"), ("--tokenizer", "model"), ("--std", "3")],
    "score": [("--model", "model"), ("--problem", "1"), ("--solution", "3"), ("--prm-format", "grpo")],
    "score_file": [("--model", "model"), ("--jsonl", "data"), ("--outcome", None)],
    "report": [("--run", "sub"), ("--out", "out"), ("--smooth", "3")],
    "tool": [("--expr", "3"), ("--format", "grpo"), ("--timeout", "1")],
    "info": [("--json", None)],
    "data": [("--data", "data"), ("--head", "3"), ("--out", "out"), ("--profile", "grpo")],
    "data_model": [("--data", "model"), ("--strict", None)],
    "train": [("--algo", "grpo"), ("--group-size", "3"), ("--data", "data"), ("--config", "cfg"),
              ("--kl-estimator", "k9"), ("--lr", "1e-300")],
    "sft": [("--data", "data"), ("--steps", "3"), ("--lr", "1e-300"), ("--batch-size", "65536")],
    "eval": [("--data", "data"), ("--out", "out"), ("--samples", "3"), ("--top-p", "-0.5")],
    "tts": [("--data", "data"), ("--n", "[1, 2, 3]"), ("--out", "out"), ("--prm-agg", "grpo")],
    "demo": [("--dir", "run"), ("--rl-steps", "1"), ("--hidden", "3"), ("--quick", None)],
}

if __name__ == "__main__":
    outdir = os.path.join(HERE, "seeds")
    for name, pairs in SEEDS.items():
        cmd = name.split("_")[0]
        with open(os.path.join(outdir, f"cli_{name}.bin"), "wb") as f:
            f.write(seed(cmd, pairs))
    print(f"{len(SEEDS)} seeds in {outdir}")
