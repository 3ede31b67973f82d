/* Internals of answer extraction shared by extract.c (the marker rules and their priority)
 * and fallback.c (bare answers, math spans, the last number): an answer is found as
 * "pieces" pointing into the text, turned into a string only at the end. */
#pragma once
#include <stddef.h>

enum { PIECE_TEXT = 0, PIECE_NUMBER = 1 };

typedef struct {
    const char *b, *e; /* the answer's bytes in the text */
    int kind;          /* PIECE_TEXT: trimmed of $, bold, trailing dots; PIECE_NUMBER: separators read */
    int pct;           /* a percent sign or word follows: "\%" is appended */
} piece_t;

#define XT_GROUP_MAX 16

/* An answer, and the answers written next to it as one group (several \boxed{} or math spans
 * joined by ",", "and", "or"): item[n - 1] is the answer, n > 1 means a group. */
typedef struct {
    piece_t item[XT_GROUP_MAX];
    int n;
} pieces_t;

/* Is [b, e) an answer by itself (no math delimiters inside, not a sentence of words)? */
int xt_is_bare(const char *b, const char *e);
/* The last math span ($...$, $$...$$, \(...\), \[...\]) of [b, e) with its group. 1 found. */
int xt_last_span(const char *b, const char *e, pieces_t *out);
/* The last number of [b, e) (signs, thousands separators, decimal commas, a/b, \frac{a}{b},
 * a trailing percent), not one glued to a word ("x2", "AZ2K"). 1 found. */
int xt_last_number(const char *b, const char *e, piece_t *out);
/* The rightmost of the last math span and the last number, each if enabled. 1 found. */
int xt_fallback(const char *b, const char *e, int spans, int numbers, pieces_t *out);
/* Does a percent sign or word start at p (after spaces)? Returns its end, or NULL. */
const char *xt_percent_after(const char *p, const char *e);
/* Write one piece into out (cap bytes with the NUL). 1, or RLC_ERANGE when it does not fit. */
int xt_emit(const piece_t *pc, char *out, size_t cap);
