#!/usr/bin/env python3
"""Writes the small dataset fixtures under tests/fixtures/math/ (MATH-style, AIME in both
field spellings, GSM8K). The problems are written for rlc's tests, not copied from the
benchmarks; only their field layout follows the real datasets. The grading table
(grading_table.tsv) and malformed.jsonl are edited by hand."""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "math")

MATH = [
    ("What is the value of $\\frac{1}{2} + \\frac{1}{3}$?",
     "We have $\\frac{1}{2}+\\frac{1}{3} = \\frac{3}{6}+\\frac{2}{6} = \\boxed{\\frac{5}{6}}$.", "\\frac{5}{6}", "Prealgebra", 1),
    ("Solve for $x$: $3x - 7 = 11$.", "Adding 7 gives $3x = 18$, so $x = \\boxed{6}$.", "6", "Algebra", 1),
    ("Find all real solutions of $x^2 - 5x + 6 = 0$. Enter them separated by commas.",
     "Factoring, $(x-2)(x-3)=0$, so the solutions are $\\boxed{2, 3}$.", "2, 3", "Algebra", 2),
    ("Simplify $\\sqrt{72}$.", "$\\sqrt{72} = \\sqrt{36 \\cdot 2} = \\boxed{6\\sqrt{2}}$.", "6\\sqrt{2}", "Prealgebra", 2),
    ("What is the area of a circle with radius 3? Express your answer in terms of $\\pi$.",
     "The area is $\\pi r^2 = \\boxed{9\\pi}$.", "9\\pi", "Geometry", 1),
    ("For what values of $x$ is $2x + 1 > 7$? Express your answer in interval notation.",
     "We need $2x > 6$, so $x > 3$: $\\boxed{(3, \\infty)}$.", "(3, \\infty)", "Algebra", 3),
    ("How many ways are there to choose 2 books from a shelf of 6 books?", "This is $\\binom{6}{2} = \\boxed{15}$.", "15",
     "Counting & Probability", 2),
    ("What is the remainder when $2^{10}$ is divided by 7?",
     "$2^3 = 8 \\equiv 1 \\pmod 7$, so $2^{10} = 2^9 \\cdot 2 \\equiv 2$. The remainder is $\\boxed{2}$.", "2",
     "Number Theory", 3),
    ("Find the point where the lines $y = 2x$ and $y = x + 1$ meet. Enter your answer as an ordered pair.",
     "Setting $2x = x + 1$ gives $x = 1$ and $y = 2$, so the point is $\\boxed{(1, 2)}$.", "(1, 2)", "Algebra", 2),
    ("Compute $\\begin{pmatrix} 1 & 2 \\\\ 0 & 1 \\end{pmatrix} \\begin{pmatrix} 3 \\\\ 1 \\end{pmatrix}$.",
     "The product is $\\boxed{\\begin{pmatrix} 5 \\\\ 1 \\end{pmatrix}}$.", "\\begin{pmatrix} 5 \\\\ 1 \\end{pmatrix}",
     "Precalculus", 2),
    ("What is $\\cos 60^\\circ$?", "$\\cos 60^\\circ = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "Precalculus", 1),
    ("A store sells pencils at 3 for \\$1. How many dollars do 12 pencils cost?",
     "12 pencils are 4 groups of 3, so they cost $\\boxed{\\$4}$.", "\\$4", "Prealgebra", 1),
]

AIME = [
    ("Find the number of positive integers $n \\le 100$ divisible by 6 or 10.", "Inclusion-exclusion: 16 + 10 - 3 = 23.", "23"),
    ("What is the sum of the digits of $10^{3} - 1$?", "$999$ has digit sum 27.", "27"),
    ("Let $N = 7^3$. Find $N \\bmod 1000$.", "$343$.", "343"),
]

GSM8K = [
    ("Tom has 3 bags with 6 apples each. How many apples does he have?", "He has 3 * 6 = <<3*6=18>>18 apples.\n#### 18"),
    ("A book costs $12 and a pen costs $3. How much do 2 books and 4 pens cost?",
     "2 books cost 2 * 12 = 24 dollars. 4 pens cost 4 * 3 = 12 dollars. Together 24 + 12 = 36.\n#### 36"),
    ("A town has 1,200 people and grows by 300. How many people live there now?", "1,200 + 300 = 1,500\n#### 1,500"),
]


def write(name, rows):
    with open(os.path.join(OUT, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write("math500_sample.jsonl", [
        {"problem": p, "solution": s, "answer": a, "subject": sub, "level": lvl,
         "unique_id": "test/%s/%d.json" % (sub.lower().replace(" & ", "_").replace(" ", "_"), i + 1)}
        for i, (p, s, a, sub, lvl) in enumerate(MATH)])
    write("aime_aimo.jsonl", [{"id": 60 + i, "problem": p, "solution": s, "answer": a, "url": "https://example.org/aime/%d" % i}
                              for i, (p, s, a) in enumerate(AIME)])
    write("aime_maxwell.jsonl", [{"ID": "2024-I-%d" % (i + 1), "Problem": p, "Solution": s, "Answer": int(a)}
                                 for i, (p, s, a) in enumerate(AIME)])
    write("gsm8k_sample.jsonl", [{"question": q, "answer": a} for q, a in GSM8K])


if __name__ == "__main__":
    main()
