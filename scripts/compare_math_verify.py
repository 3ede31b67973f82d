#!/usr/bin/env python3
"""Runs Hugging Face's math-verify (PyPI `math-verify`) over rlc's grading table
(tests/fixtures/math/grading_table.tsv) and reports where it agrees with the table's
expectations (which rlc's grader meets: tests/rewards/test_grader). A report, not a test:
the suite never runs it. Both columns go to math-verify's default `parse` (LaTeX and plain
expressions, its default priorities) exactly as written, and `verify(gold, pred)` with its
defaults decides; nothing is wrapped in `$...$`, which would change how math-verify reads
plain text.

    pip install math-verify
    python3 scripts/compare_math_verify.py [--table FILE] [--markdown] [--bench SECONDS]
    python3 scripts/compare_math_verify.py --suite DIR [--rlc build/cli/rlc]

--suite runs the other way round: math-verify's own test cases (the parametrized
(gold, pred, expected) rows of its test suite, read from an unpacked source release DIR:
`pip download math-verify --no-binary :all: --no-deps && tar xzf math_verify-*.tar.gz`)
are graded by `rlc grade --jsonl`, and the agreement with math-verify's expected verdicts is
reported per test group. Nothing of math-verify is copied into rlc; the cases are read at
run time.

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


def grade(parse, verify, gold, pred):
    g = parse(gold)
    p = parse(pred)
    return bool(verify(g, p)), g, p


DELIMITERS = ("$", "\\(", "\\[", "\\boxed")


def wrapped(s):
    """The side as math-verify's documentation writes LaTeX input: in $...$ unless it has
    delimiters or a box already. Used only to classify a disagreement, never to grade."""
    return s if any(d in s for d in DELIMITERS) else "$" + s + "$"


def classify(parse, verify, c):
    """'bare' when math-verify agrees with the table once the bare answers are put in $...$:
    the difference is then math-verify not reading LaTeX written without delimiters (the way
    MATH and AIME store gold answers), not a different equivalence."""
    got, _, _ = grade(parse, verify, wrapped(c["gold"]), wrapped(c["pred"]))
    return "bare" if got == c["expect"] else "other"


def suite_cases(root):
    """(gold, pred, expected) of every parametrized test in math-verify's tests/ directory."""
    import ast
    import glob
    out = []
    for path in sorted(glob.glob(os.path.join(root, "tests", "test_*.py"))):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for dec in fn.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                if not isinstance(dec.args[0], ast.Constant):
                    continue
                names = [x.strip() for x in dec.args[0].value.split(",")]
                if "gold" not in names or "pred" not in names or "expected" not in names:
                    continue
                try:
                    rows = ast.literal_eval(dec.args[1])
                except ValueError:
                    continue  # cases built at run time (f-strings): skipped
                for row in rows:
                    d = dict(zip(names, row))
                    out.append({"test": fn.name, "gold": d["gold"], "pred": d["pred"], "expect": bool(d["expected"])})
    return out


def run_suite(root, rlc):
    import subprocess
    import tempfile
    from collections import Counter
    cases = suite_cases(root)
    if not cases:
        print("no test cases found under %s/tests" % root, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.jsonl"), os.path.join(d, "out.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps({"gold": c["gold"], "pred": c["pred"]}) + "\n")
        subprocess.run([rlc, "grade", "--jsonl", src, "--out", dst], check=True, stderr=subprocess.DEVNULL)
        got = [json.loads(line) for line in open(dst, encoding="utf-8")]
    total, bad = Counter(), Counter()
    for c, g in zip(cases, got):
        total[c["test"]] += 1
        if bool(g["correct"]) != c["expect"]:
            bad[c["test"]] += 1
            print("differs (%s): gold %r pred %r: math-verify %s, rlc %s" % (c["test"], c["gold"][-120:], c["pred"][-120:],
                  "=" if c["expect"] else "≠", "=" if g["correct"] else "≠"))
    n, nb = sum(total.values()), sum(bad.values())
    print("rlc grade gives math-verify's expected verdict on %d of %d of its test cases (%.1f%%)" % (n - nb, n, 100.0 * (n - nb) / n))
    for t in sorted(total):
        print("  %-40s %3d / %3d" % (t, total[t] - bad[t], total[t]))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default=os.path.join(ROOT, "tests", "fixtures", "math", "grading_table.tsv"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--bench", type=float, default=0)
    ap.add_argument("--suite", help="an unpacked math-verify source release: grade its test cases with rlc")
    ap.add_argument("--rlc", default=os.path.join(ROOT, "build", "cli", "rlc"))
    args = ap.parse_args()
    if args.suite:
        return run_suite(args.suite, args.rlc)
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
    classes = {"bare": [], "other": []}
    for d in dis:
        classes[classify(parse, verify, d[0])].append(d)
    print("of the %d: %d disappear when the bare answers are given in $...$ (math-verify does not read LaTeX "
          "written without delimiters); %d remain" % (len(dis), len(classes["bare"]), len(classes["other"])))

    def esc(s):
        return "`" + s.replace("|", "\\|").replace("`", "'") + "`"

    if args.markdown:
        for name, title in (("other", "remaining differences"), ("bare", "bare LaTeX not read")):
            print()
            print("%s (%d):" % (title, len(classes[name])))
            print()
            print("| line | table | math-verify | gold | prediction | note |")
            print("|---:|:---:|:---:|---|---|---|")
            for c, got, g, p in classes[name]:
                print("| %d | %s | %s | %s | %s | %s |" % (c["line"], "=" if c["expect"] else "≠", "=" if got else "≠",
                                                           esc(c["gold"]), esc(c["pred"]), c["note"]))
    else:
        for name in ("other", "bare"):
            for c, got, g, p in classes[name]:
                print("[%s] line %d: table %s, math-verify %s: gold %r pred %r  (parsed %r vs %r)"
                      % (name, c["line"], "Y" if c["expect"] else "N", "Y" if got else "N", c["gold"], c["pred"], g, p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
