/* Pre-tokenization: the tokenizer.json regex (Oniguruma syntax, run with PCRE2 in UTF+UCP
 * mode after a small translation) and the Split / ByteLevel / Digits steps with Hugging
 * Face's split behaviours. Pieces are reported through a callback, so the common case
 * (one Split, Isolated) allocates nothing. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "tokenizer/tok_internal.h"

/* The pattern is handed to PCRE2 as written: in UTF+UCP mode its \s, \p{L}, \p{N}, (?i:...)
 * and look-ahead agree with the Oniguruma engine tokenizers uses (checked character by
 * character in the parity fixtures: NEL, NBSP, U+2000-U+200A, U+3000, ...). */
int tok_regex_compile(const char *pattern, int is_literal, void **out, char **translated) {
    *out = NULL;
    *translated = rlc_strdup(pattern);
    if (!*translated) return RLC_ENOMEM;
    const char *t = pattern;
    size_t o = strlen(pattern);
    int err;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | (is_literal ? PCRE2_LITERAL : PCRE2_UCP); /* UCP is not allowed with LITERAL */
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)t, o, opts, &err, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        free(*translated);
        *translated = NULL;
        return rlc_errc(RLC_EFMT, "tokenizer.json: pre-tokenizer regex does not compile at offset %zu: %s (pattern %.120s)",
                        (size_t)eoff, (const char *)msg, pattern);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* when JIT is unavailable the interpreter runs */
    *out = re;
    return 0;
}

void tok_regex_free(void *re) { pcre2_code_free((pcre2_code *)re); }

typedef struct {
    const tok_pretok_t *steps;
    int nsteps;
    tok_piece_fn fn;
    void *ctx;
    pcre2_match_data *md;
    const char *origin; /* where the text starts when it is at offset 0 of the input, else NULL */
} run_t;

static int run_step(run_t *r, int k, const char *s, size_t n);

static int emit(run_t *r, int k, const char *s, size_t n) {
    if (!n) return 0; /* HF drops empty pieces */
    return k + 1 < r->nsteps ? run_step(r, k + 1, s, n) : r->fn(r->ctx, s, n);
}

/* Next match of re in s[0..n) at or after pos: 1 with [*ms,*me), 0 when none, <0 on error. */
static int next_match(run_t *r, const pcre2_code *re, const char *s, size_t n, size_t pos, size_t *ms, size_t *me) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, r->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* deep backtracking: the interpreter keeps its frames on the heap */
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, r->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return rlc_errc(RLC_ERR, "tokenizer: pre-tokenizer regex failed: %s", (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

typedef struct {
    size_t a, b;
    int m;
} span_t;

/* General split behaviours (HF SplitDelimiterBehavior) over the (gap, match) spans. */
static int split_general(run_t *r, int k, const char *s, span_t *sp, int nsp, int behavior) {
    int rc = 0;
    switch (behavior) {
    case SPLIT_REMOVED:
        for (int i = 0; i < nsp && !rc; i++)
            if (!sp[i].m) rc = emit(r, k, s + sp[i].a, sp[i].b - sp[i].a);
        return rc;
    case SPLIT_ISOLATED:
        for (int i = 0; i < nsp && !rc; i++) rc = emit(r, k, s + sp[i].a, sp[i].b - sp[i].a);
        return rc;
    case SPLIT_MERGED_PREV: {
        int prev_match = 0, no = 0;
        for (int i = 0; i < nsp; i++) {
            if (sp[i].m && !prev_match && no) sp[no - 1].b = sp[i].b;
            else sp[no++] = sp[i];
            prev_match = sp[i].m;
        }
        for (int i = 0; i < no && !rc; i++) rc = emit(r, k, s + sp[i].a, sp[i].b - sp[i].a);
        return rc;
    }
    case SPLIT_MERGED_NEXT: {
        int prev_match = 0, no = nsp;
        for (int i = nsp - 1; i >= 0; i--) {
            if (sp[i].m && !prev_match && no < nsp) sp[no].a = sp[i].a;
            else sp[--no] = sp[i];
            prev_match = sp[i].m;
        }
        for (int i = no; i < nsp && !rc; i++) rc = emit(r, k, s + sp[i].a, sp[i].b - sp[i].a);
        return rc;
    }
    case SPLIT_CONTIGUOUS: {
        int prev_match = 0, no = 0;
        for (int i = 0; i < nsp; i++) {
            if (sp[i].m == prev_match && no) sp[no - 1].b = sp[i].b;
            else sp[no++] = sp[i];
            prev_match = sp[i].m;
        }
        for (int i = 0; i < no && !rc; i++) rc = emit(r, k, s + sp[i].a, sp[i].b - sp[i].a);
        return rc;
    }
    }
    return rlc_errc(RLC_EINVAL, "tokenizer: unknown split behaviour %d", behavior);
}

static int push_span(span_t **sp, int *nsp, int *cap, size_t a, size_t b, int m) {
    if (*nsp == *cap) {
        int nc = *cap ? *cap * 2 : 32;
        span_t *x = rlc_realloc(*sp, (size_t)nc * sizeof *x);
        if (!x) return RLC_ENOMEM;
        *sp = x;
        *cap = nc;
    }
    (*sp)[(*nsp)++] = (span_t){a, b, m};
    return 0;
}

static int split_regex(run_t *r, int k, const pcre2_code *re, int behavior, int invert, const char *s, size_t n) {
    size_t pos = 0, prev = 0, ms = 0, me = 0;
    int rc = 0, fast = behavior == SPLIT_ISOLATED && !invert;
    span_t *sp = NULL;
    int nsp = 0, cap = 0;
    while (pos < n && (rc = next_match(r, re, s, n, pos, &ms, &me)) > 0) {
        if (fast) {
            if ((rc = emit(r, k, s + prev, ms - prev)) || (rc = emit(r, k, s + ms, me - ms))) return rc;
        } else {
            if (ms > prev && (rc = push_span(&sp, &nsp, &cap, prev, ms, invert))) goto out;
            if ((rc = push_span(&sp, &nsp, &cap, ms, me, !invert))) goto out;
        }
        prev = me;
        if (me == ms) { /* empty match: step over one character */
            int32_t cp;
            pos = ms + (size_t)tok_utf8_next(s + ms, n - ms, &cp);
        } else {
            pos = me;
        }
    }
    if (rc < 0) goto out;
    if (fast) return emit(r, k, s + prev, n - prev);
    if (prev < n && (rc = push_span(&sp, &nsp, &cap, prev, n, invert))) goto out;
    rc = split_general(r, k, s, sp, nsp, behavior);
out:
    free(sp);
    return rc;
}

/* Rust's char::is_numeric, which HF's Digits uses: categories Nd, Nl, No. */
static int is_numeric_at(const char *s, size_t n, size_t i, size_t *len) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *len = 1;
        return c >= '0' && c <= '9';
    }
    int32_t cp;
    *len = (size_t)tok_utf8_next(s + i, n - i, &cp);
    utf8proc_category_t cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

static int split_digits(run_t *r, int k, int individual, const char *s, size_t n) {
    size_t i = 0, start = 0, cl;
    int rc = 0;
    while (i < n && !rc) {
        if (is_numeric_at(s, n, i, &cl)) {
            if ((rc = emit(r, k, s + start, i - start))) return rc;
            size_t j = i + cl;
            while (!individual && j < n && is_numeric_at(s, n, j, &cl)) j += cl;
            rc = emit(r, k, s + i, j - i);
            start = i = j;
        } else {
            i += cl;
        }
    }
    return rc ? rc : emit(r, k, s + start, n - start);
}

/* HF's Metaspace: spaces become the replacement, which is prepended (always, or only to the
 * piece at offset 0 of the input: "first", unless it already starts with one), then the
 * piece is split before each replacement (MergedWithNext) when split is set. */
static int metaspace(run_t *r, int k, const tok_pretok_t *st, const char *s, size_t n) {
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    char *buf = rlc_malloc(n + spaces * (size_t)st->rep_len + (size_t)st->rep_len + 1);
    if (!buf) return RLC_ENOMEM;
    size_t o = 0;
    int starts = n && (s[0] == ' ' || (n >= (size_t)st->rep_len && !memcmp(s, st->rep, (size_t)st->rep_len)));
    if (!starts && (st->prepend == PREPEND_ALWAYS || (st->prepend == PREPEND_FIRST && s == r->origin)))
        memcpy(buf, st->rep, (size_t)st->rep_len), o = (size_t)st->rep_len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') memcpy(buf + o, st->rep, (size_t)st->rep_len), o += (size_t)st->rep_len;
        else buf[o++] = s[i];
    }
    int rc = 0;
    if (!st->split) {
        rc = emit(r, k, buf, o);
    } else { /* pieces start at each replacement */
        size_t a = 0;
        for (size_t i = 1; i <= o && !rc; i++)
            if (i == o || (i + (size_t)st->rep_len <= o && !memcmp(buf + i, st->rep, (size_t)st->rep_len))) {
                rc = emit(r, k, buf + a, i - a);
                a = i;
            }
    }
    free(buf);
    return rc;
}

static int run_step(run_t *r, int k, const char *s, size_t n) {
    const tok_pretok_t *st = &r->steps[k];
    switch (st->type) {
    case PT_SPLIT: return split_regex(r, k, st->re, st->behavior, st->invert, s, n);
    case PT_DIGITS: return split_digits(r, k, st->individual_digits, s, n);
    case PT_METASPACE: return metaspace(r, k, st, s, n);
    case PT_BYTELEVEL: {
        if (st->add_prefix_space && s[0] != ' ') {
            char *buf = rlc_malloc(n + 1);
            if (!buf) return RLC_ENOMEM;
            buf[0] = ' ';
            memcpy(buf + 1, s, n);
            int rc = st->re ? split_regex(r, k, st->re, SPLIT_ISOLATED, 0, buf, n + 1) : emit(r, k, buf, n + 1);
            free(buf);
            return rc;
        }
        return st->re ? split_regex(r, k, st->re, SPLIT_ISOLATED, 0, s, n) : emit(r, k, s, n);
    }
    }
    return rlc_errc(RLC_EINVAL, "tokenizer: unknown pre-tokenizer step %d", st->type);
}

int tok_pretok_run(const tok_pretok_t *steps, int nsteps, const char *s, size_t n, int at_origin, tok_piece_fn fn,
                   void *ctx) {
    if (!n) return 0;
    if (!nsteps) return fn(ctx, s, n);
    run_t r = {steps, nsteps, fn, ctx, pcre2_match_data_create(4, NULL), at_origin ? s : NULL};
    if (!r.md) return rlc_errc(RLC_ENOMEM, "tokenizer: out of memory");
    int rc = run_step(&r, 0, s, n);
    pcre2_match_data_free(r.md);
    return rc;
}
