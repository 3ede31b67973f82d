#!/usr/bin/env python3
"""Peer for bench_tokenizer: Hugging Face tokenizers (Rust) encoding the same file on one
thread. Usage: peer_hf.py TOKENIZER_DIR CORPUS whole|lines ROUNDS -> one JSON line with the
best MB/s, the token count and a hash of the ids (the C side checks the ids are identical)."""
import os
import sys

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
import json  # noqa: E402
import time  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402


def main():
    tdir, corpus, mode, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    load = time.perf_counter() - t0
    raw = open(corpus, "rb").read()
    text = raw.decode("utf-8")
    lines = text.split("\n")
    best = 1e30
    ids = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        if mode == "whole":
            ids = tok.encode(text, add_special_tokens=False).ids
        else:
            encs = tok.encode_batch(lines, add_special_tokens=False)
            ids = [i for e in encs for i in e.ids]
        best = min(best, time.perf_counter() - t0)
    h = 1469598103934665603
    for i in ids:
        h = ((h ^ i) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    print(json.dumps({"mbps": len(raw) / best / 1e6, "n": len(ids), "hash": str(h), "load_s": load}))


if __name__ == "__main__":
    main()
