/* The math grader: pulls the final answer out of a solution text, normalizes LaTeX answers
 * and decides whether two answers are mathematically equivalent (SPECS.md "Outcome reward").
 * Every call is bounded in time and stack on any input; the only state kept between calls is
 * one reusable work area per thread (equal.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Where math_extract_answer looks, in priority order (first that yields an answer wins;
 * docs/rewards.md "Extraction" has the full order). */
enum {
    MATH_EXTRACT_BOXED = 1 << 0,        /* last \boxed{...} / \fbox{...}, braces matched */
    MATH_EXTRACT_ANSWER_TAG = 1 << 1,   /* last <answer>...</answer> (r1 template) */
    MATH_EXTRACT_GSM8K = 1 << 2,        /* "#### 42" */
    MATH_EXTRACT_FINAL_ANSWER = 1 << 3, /* "final answer is X" (vs \boxed: the later wins), "the answer is X" */
    MATH_EXTRACT_ANSWER_LINE = 1 << 4,  /* "Answer: X" (DAPO) */
    MATH_EXTRACT_LAST_NUMBER = 1 << 5,  /* fallback: the last number in the text */
    MATH_EXTRACT_BARE = 1 << 6,         /* fallback: the text itself when it is a bare answer */
    MATH_EXTRACT_MATH_SPAN = 1 << 7,    /* fallback: the last $...$ / \(...\) / \[...\] span */
    MATH_EXTRACT_WHOLE = 1 << 8,        /* last resort: the whole text, whatever it is */
    MATH_EXTRACT_MARKERS = MATH_EXTRACT_BOXED | MATH_EXTRACT_ANSWER_TAG | MATH_EXTRACT_GSM8K |
                           MATH_EXTRACT_FINAL_ANSWER | MATH_EXTRACT_ANSWER_LINE,
    /* math-verify's default: the markers, then the fallbacks */
    MATH_EXTRACT_DEFAULT = MATH_EXTRACT_MARKERS | MATH_EXTRACT_BARE | MATH_EXTRACT_MATH_SPAN | MATH_EXTRACT_LAST_NUMBER,
    /* how a gold answer is read: everything, the text itself as the last resort */
    MATH_EXTRACT_GOLD = MATH_EXTRACT_DEFAULT | MATH_EXTRACT_WHOLE,
};

/* "boxed,answer_tag,gsm8k,final_answer,answer_line,bare,math_span,last_number,whole" (any
 * subset, or "markers", "default", "none") -> flags. Unknown names are an error. */
int math_extract_flags_from_str(const char *csv, int *flags);
/* The extraction that suits an answer format named by a prompt template ("boxed", "think",
 * "answer_line"; anything else gives MATH_EXTRACT_DEFAULT). */
int math_extract_flags_for_format(const char *format);

/* Which rule produced the answer (math_extract_answer_ex). */
typedef enum {
    MATH_SRC_NONE = 0,
    MATH_SRC_BOXED,
    MATH_SRC_ANSWER_TAG,
    MATH_SRC_GSM8K,
    MATH_SRC_FINAL_ANSWER,
    MATH_SRC_ANSWER_LINE,
    MATH_SRC_LAST_NUMBER,
    MATH_SRC_BARE,
    MATH_SRC_MATH_SPAN,
    MATH_SRC_WHOLE,
} math_src_t;

/* Longest answer the grader treats as math (longer ones compare as plain strings). */
#define MATH_MAX_ANSWER 2048

/* Extract the candidate answer from `solution` into out (NUL-terminated, trimmed of $...$,
 * trailing periods and bold markers). Returns 1 when found, 0 when none of the enabled rules
 * applies (out = ""), RLC_ERANGE when the answer does not fit in cap (out = "", message
 * set), RLC_EINVAL on bad arguments. */
int math_extract_answer(const char *solution, char *out, size_t cap, int flags);
/* Same, also reporting which rule fired (may be NULL). */
int math_extract_answer_ex(const char *solution, char *out, size_t cap, int flags, math_src_t *src);
/* Same, and when the answer was written as one of a group (several \boxed{} answers, or
 * math spans joined by ",", "and", "or"), the whole group joined by ", " into list
 * (list[0] = 0 otherwise; list may be NULL). */
int math_extract_read(const char *text, int flags, char *out, size_t cap, char *list, size_t list_cap,
                      math_src_t *src);

typedef struct {
    double rel_tol;  /* numeric tolerance when an irrational value is involved (1e-6) */
    int n_points;    /* random points for expressions with variables (5, at most 16) */
    uint64_t seed;   /* seeds the random points (fixed, so grading is deterministic) */
    int percent;        /* also accept pred = gold/100 or gold*100 with no percent sign anywhere (0) */
    int percent_strict; /* a percent sign is notation only: 28% = 28, not 0.28 (0: 28% = 28 = 0.28 = 7/25) */
    int chains;         /* a = b = c states c, and an equation against a gold that is none states its
                           right side (1, math-verify; can reward wrong working: "5+5 = 11") */
    int mc_letters;     /* a gold answer that is a letter A-E is matched as a multiple choice (1) */
    long work_cap;   /* evaluation budget in node visits per call; over it the answer is wrong */
} math_opts_t;

void math_opts_default(math_opts_t *o);

/* 1 if pred is equivalent to gold, 0 otherwise (also for unparseable or oversized input).
 * `o` may be NULL for the defaults. Never fails: allocation failure counts as "not equal". */
int math_equal(const char *gold, const char *pred, const math_opts_t *o);

/* The normalized string form of an answer (the first stage of math_equal): $ and \( \)
 * stripped, \left/\right, spacing, degree signs, percent, units, "x =" prefixes and
 * thousands separators removed, dfrac/tfrac -> frac, \frac12 -> \frac{1}{2}, ...
 * Returns 0, RLC_ERANGE when it does not fit in cap. */
int math_normalize(const char *in, char *out, size_t cap);

/* Grade a text against a gold in one call: the gold is read with MATH_EXTRACT_GOLD (a bare
 * answer, or a worked solution whose answer is extracted), the solution with `flags`; a
 * solution whose answer is one of a group of boxed answers is also tried as the list of
 * them. `extracted` (may be NULL) receives the answer compared ("" when none was found).
 * Returns 1 correct, 0 wrong or no answer found. */
int math_grade(const char *gold, const char *solution, int flags, const math_opts_t *o, char *extracted,
               size_t cap);

/* Majority vote over answers (already extracted; NULL or "" entries abstain): clusters
 * by math_equal against each cluster's first member and returns the index of the first
 * member of the largest cluster (ties: the cluster seen first), or -1 if all abstain.
 * `count` (may be NULL) receives the winning cluster's size. At most 4096 answers. */
int math_majority(const char *const *answers, int n, const math_opts_t *o, int *count);
