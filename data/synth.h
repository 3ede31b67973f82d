/* Built-in synthetic tasks with exact verifiers, for the demo, SFT warm-starts and tests:
 * multi-digit arithmetic (with a worked step-by-step solution) and Countdown (reach a target
 * with + - * / using each given number at most once). Generation is a pure function of
 * (options, seed, index), so splits made with different seeds are reproducible. */
#pragma once
#include <stdint.h>

#include "data/dataset.h"

typedef struct {
    int min_digits, max_digits;     /* digits per operand (1..9) */
    int min_operands, max_operands; /* operands per problem (2..8) */
    const char *ops;                /* operator set drawn from, subset of "+-*" plus "/" (exact) */
    int allow_negative;             /* 0: every intermediate result stays >= 0 */
    int detail;                     /* 1: spell out multi-digit products by place value */
    double column_frac;             /* fraction of problems whose + and - steps are worked column by column
                                       (digit, carry/borrow, growing partial result); 0 = none */
} data_arith_opts_t;

/* 2-3 digit operands, 2 operands, "+-*", no negatives, detailed products, no column style. */
void data_arith_opts_default(data_arith_opts_t *o);
/* Append n problems: problem "Compute 47 + 385 * 6.", answer "2357", solution = worked steps
 * ending in "\boxed{2357}", meta {"task": "arith"}. */
int data_synth_arith(data_set_t *ds, long n, const data_arith_opts_t *o, uint64_t seed);

typedef struct {
    int n_numbers;   /* numbers given (2..6) */
    int max_number;  /* numbers drawn from 1..max_number */
    int max_target;  /* targets within 1..max_target */
} data_countdown_opts_t;

/* 4 numbers from 1..25, targets up to 200. */
void data_countdown_opts_default(data_countdown_opts_t *o);
/* Append n solvable problems: meta {"task": "countdown", "numbers": [...], "target": t},
 * answer = one solution expression, solution = its steps ending in "\boxed{expr}". */
int data_synth_countdown(data_set_t *ds, long n, const data_countdown_opts_t *o, uint64_t seed);

/* Exact Countdown verifier: 1 when `expr` (integers, + - * / and parentheses; \times \cdot
 * \div and a trailing "= target" are accepted) uses each of numbers[] at most once (as a
 * multiset), uses no other number, and evaluates exactly to target; 0 otherwise. `why`
 * (may be NULL, cap bytes) receives the reason for a 0. */
int data_countdown_check(const char *expr, const long *numbers, int n, long target, char *why, size_t cap);
