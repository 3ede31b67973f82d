#!/usr/bin/env python3
"""Runs Hugging Face's math-verify (PyPI `math-verify`) over rlc's grading table
(tests/fixtures/math/grading_table.tsv) and reports where it agrees with the table's
expectations (which rlc's grader meets: tests/rewards/test_grader).

    pip install math-verify
    python3 scripts/compare_math_verify.py [--table FILE] [--markdown] [--bench SECONDS]

--markdown prints the disagreement list as a table for bench/RESULTS.md; --bench times
math-verify's parse + verify over the table (single process) and prints one JSON line
{"bench": "grader_peer", "gradings_per_s": ...} for bench/grader to pick up."""
import argparse
import json
import os
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            cases.append({"line": lineno, "expect": parts[0] == "Y", "gold": parts[1], "pred": parts[2],
                          "note": parts[3] if len(parts) > 3 else ""})
    return cases


MARKERS = ("\\boxed", "####", "answer", "Answer", "<answer>")


def as_latex(s):
    # math-verify looks for LaTeX in $...$ / \boxed{}; a bare answer is wrapped like a gold field
    if any(m in s for m in MARKERS):
        return s
    return "$" + s + "$"


def grade(parse, verify, gold, pred):
    g = parse(as_latex(gold))
    if not g:
        g = parse(gold)
    p = parse(as_latex(pred))
    if not p:
        p = parse(pred)
    return bool(verify(g, p)), g, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default=os.path.join(ROOT, "tests", "fixtures", "math", "grading_table.tsv"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--bench", type=float, default=0)
    args = ap.parse_args()
    try:
        from math_verify import parse, verify
        import math_verify
    except ImportError:
        print("math-verify is not installed (pip install math-verify)", file=sys.stderr)
        return 2
    cases = load(args.table)
    if args.bench > 0:
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.bench:
            for c in cases:
                grade(parse, verify, c["gold"], c["pred"])
                n += 1
        dt = time.perf_counter() - t0
        print(json.dumps({"bench": "grader_peer", "gradings_per_s": n / dt, "cases": len(cases)}))
        return 0
    agree = 0
    dis = []
    for c in cases:
        got, g, p = grade(parse, verify, c["gold"], c["pred"])
        if got == c["expect"]:
            agree += 1
        else:
            dis.append((c, got, g, p))
    version = getattr(math_verify, "__version__", "?")
    try:
        from importlib.metadata import version as v
        version = v("math-verify")
    except Exception:
        pass
    print("math-verify %s agrees with the table on %d of %d cases (%.1f%%); %d disagreements"
          % (version, agree, len(cases), 100.0 * agree / len(cases), len(dis)))
    if args.markdown:
        print()
        print("| line | table | math-verify | gold | prediction | note |")
        print("|---:|:---:|:---:|---|---|---|")
        for c, got, g, p in dis:
            def esc(s):
                return "`" + s.replace("|", "\\|").replace("`", "'") + "`"
            print("| %d | %s | %s | %s | %s | %s |" % (c["line"], "=" if c["expect"] else "≠", "=" if got else "≠",
                                                       esc(c["gold"]), esc(c["pred"]), c["note"]))
    else:
        for c, got, g, p in dis:
            print("line %d: table %s, math-verify %s: gold %r pred %r  (parsed %r vs %r)"
                  % (c["line"], "Y" if c["expect"] else "N", "Y" if got else "N", c["gold"], c["pred"], g, p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
