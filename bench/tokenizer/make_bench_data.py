#!/usr/bin/env python3
"""Bench inputs for tokenizer throughput (not committed; written under OUT, default
build-tok/bench-tokenizer): a Qwen2-equivalent tokenizer.json with the real 151,643-token
Qwen vocabulary (qwen.tiktoken as shipped in the PyPI package `dashscope`, converted to HF
merges: every split of a token whose halves are tokens, ranked by the token's rank), and a
~4 MB mixed corpus: English (license and copyright texts on this machine), Python code
(stdlib sources), generated math/LaTeX, multilingual lines.
Usage: python3 bench/tokenizer/make_bench_data.py [OUT]"""
import base64
import glob
import json
import os
import random
import subprocess
import sys
import zipfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_chars():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def qwen_tiktoken(out):
    wheel_dir = os.path.join(out, "wheel")
    if not glob.glob(os.path.join(wheel_dir, "dashscope-*.whl")):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "dashscope", "--no-deps", "-q", "-d", wheel_dir])
    whl = glob.glob(os.path.join(wheel_dir, "dashscope-*.whl"))[0]
    with zipfile.ZipFile(whl) as z:
        return z.read("dashscope/resources/qwen.tiktoken").decode()


def build_tokenizer(out):
    ranks = {}
    for line in qwen_tiktoken(out).splitlines():
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    bc = byte_chars()
    s = lambda b: "".join(bc[x] for x in b)
    vocab = {s(t): r for t, r in ranks.items()}
    merges = []
    for t, r in ranks.items():
        for i in range(1, len(t)):
            a, b = t[:i], t[i:]
            if a in ranks and b in ranks:
                merges.append((r, ranks[a], ranks[b], s(a), s(b)))
    merges.sort()
    tok = Tokenizer(models.BPE(vocab, [(m[3], m[4]) for m in merges], ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    d = os.path.join(out, "qwen")
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    json.dump({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": None},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    # the same without the NFC normalizer (as Llama 3 and DeepSeek tokenizers have none)
    tok.normalizer = None
    d2 = os.path.join(out, "qwen-nonorm")
    os.makedirs(d2, exist_ok=True)
    tok.save(os.path.join(d2, "tokenizer.json"))
    print(f"qwen: vocab {tok.get_vocab_size()}, {len(merges)} merges")


def corpus(out):
    rng = random.Random(7)
    eng, code = [], []
    for p in sorted(glob.glob("/usr/share/common-licenses/*") + glob.glob("/usr/share/doc/*/copyright")):
        try:
            eng.append(open(p, encoding="utf-8").read())
        except (UnicodeDecodeError, IsADirectoryError, OSError):
            pass
    import sysconfig
    for p in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
        code.append(open(p, encoding="utf-8", errors="replace").read())
    math = []
    for _ in range(12000):
        a, b, c = rng.randint(1, 999), rng.randint(1, 99), rng.randint(2, 9)
        math.append(f"Problem: Let $f(x) = {a}x^{c} - {b}x + {a % 17}$. Compute $f'({b % 7})$ and "
                    f"$\\int_0^{{{c}}} f(x)\\,dx$.\nSolution: We have $f'(x) = {a * c}x^{{{c - 1}}} - {b}$, so "
                    f"$f'({b % 7}) = {a * c * (b % 7) ** (c - 1) - b}$. Therefore the answer is $\\boxed{{{a * c - b}}}$.\n")
    multi = ["你好，世界！我们来解方程：2x+3=7，所以 x=2。", "こんにちは世界、数学の問題を解きます。", "Привет, мир! Решим уравнение x² − 4 = 0.",
             "안녕하세요 세계, 정답은 42입니다.", "مرحبا بالعالم، ٣ + ٤ = ٧", "Größe, Straße — schön! café naïve", "😀 👍🏽 👨‍👩‍👧‍👦 ❤️"]
    parts = []
    budget = {"eng": 1_500_000, "code": 1_500_000, "math": 700_000, "multi": 300_000}
    for name, src in (("eng", eng), ("code", code), ("math", math)):
        total = 0
        for t in src:
            if total >= budget[name]:
                break
            parts.append(t)
            total += len(t.encode())
    total = 0
    while total < budget["multi"]:
        t = " ".join(rng.choice(multi) for _ in range(8)) + "\n"
        parts.append(t)
        total += len(t.encode())
    rng.shuffle(parts)
    text = "\n".join(parts)
    with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    print(f"corpus: {len(text.encode()) / 1e6:.2f} MB, {text.count(chr(10))} lines")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build-tok/bench-tokenizer"
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(os.path.join(out, "qwen-nonorm", "tokenizer.json")):
        build_tokenizer(out)
    corpus(out)


if __name__ == "__main__":
    main()
