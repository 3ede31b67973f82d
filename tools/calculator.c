/* The calculator tool: exact arithmetic on integers of any size and fractions (GMP), with
 * + - * / ^ (also ** × ÷) and parentheses; decimals are read exactly (2.5 = 5/2). A small
 * recursive-descent parser with a depth cap; powers are refused when the result would pass
 * about a million bits, so every call is bounded in time and memory. The answer is an
 * integer or a reduced fraction "p/q" followed by its decimal value. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "core/err.h"
#include "tools/tool.h"

enum { CALC_MAX_INPUT = 4096, CALC_MAX_DEPTH = 64, CALC_MAX_BITS = 1 << 20 };

typedef struct {
    const char *s;
    size_t i, n;
    int depth;
    const char *err;
} calc_t;

static void skip(calc_t *c) {
    while (c->i < c->n && isspace((unsigned char)c->s[c->i])) c->i++;
}

static int at(calc_t *c, const char *tok) {
    skip(c);
    size_t m = strlen(tok);
    if (c->i + m <= c->n && !memcmp(c->s + c->i, tok, m)) {
        c->i += m;
        return 1;
    }
    return 0;
}

static int expr(calc_t *c, mpq_t r);

/* A decimal literal, exact: digits [. digits] [e[+-]digits]. */
static int number(calc_t *c, mpq_t r) {
    skip(c);
    size_t b = c->i;
    while (c->i < c->n && (isdigit((unsigned char)c->s[c->i]) || c->s[c->i] == '.' || c->s[c->i] == ',')) c->i++;
    if (c->i == b) return c->err = "expected a number or '('", -1;
    char buf[1024];
    size_t k = 0, frac = 0;
    int dot = 0;
    for (size_t j = b; j < c->i && k + 1 < sizeof buf; j++) {
        char ch = c->s[j];
        if (ch == ',') continue; /* thousands separator */
        if (ch == '.') {
            if (dot++) return c->err = "a number with two decimal points", -1;
            continue;
        }
        buf[k++] = ch;
        frac += dot;
    }
    if (c->i - b >= sizeof buf) return c->err = "a number over 1000 digits", -1;
    buf[k] = 0;
    if (!k) return c->err = "expected a number", -1;
    mpz_t den;
    mpz_init(den);
    mpz_ui_pow_ui(den, 10, frac);
    mpz_set_str(mpq_numref(r), buf, 10);
    mpz_set(mpq_denref(r), den);
    mpz_clear(den);
    mpq_canonicalize(r);
    return 0;
}

static int primary(calc_t *c, mpq_t r) {
    if (at(c, "(")) {
        if (expr(c, r)) return -1;
        if (!at(c, ")")) return c->err = "missing ')'", -1;
        return 0;
    }
    return number(c, r);
}

static int unary(calc_t *c, mpq_t r);

/* base ^ exponent: the exponent an integer, the result within CALC_MAX_BITS. */
static int power(calc_t *c, mpq_t r) {
    if (primary(c, r)) return -1;
    if (!at(c, "^") && !at(c, "**")) return 0;
    mpq_t e;
    mpq_init(e);
    int rc = unary(c, e);
    if (!rc && mpz_cmp_ui(mpq_denref(e), 1) != 0) c->err = "the exponent must be an integer", rc = -1;
    if (!rc && !mpz_fits_slong_p(mpq_numref(e))) c->err = "the exponent is too large", rc = -1;
    if (!rc) {
        long x = mpz_get_si(mpq_numref(e));
        unsigned long ax = x < 0 ? -(unsigned long)x : (unsigned long)x;
        size_t bits = mpz_sizeinbase(mpq_numref(r), 2) + mpz_sizeinbase(mpq_denref(r), 2);
        if (mpq_sgn(r) == 0 && x < 0) c->err = "division by zero", rc = -1;
        else if (bits > 2 && ax > CALC_MAX_BITS / bits) c->err = "the result would exceed a million bits", rc = -1;
        else {
            mpz_pow_ui(mpq_numref(r), mpq_numref(r), ax);
            mpz_pow_ui(mpq_denref(r), mpq_denref(r), ax);
            if (x < 0) mpq_inv(r, r);
            mpq_canonicalize(r);
        }
    }
    mpq_clear(e);
    return rc;
}

static int unary(calc_t *c, mpq_t r) {
    if (++c->depth > CALC_MAX_DEPTH) return c->err = "the expression nests too deeply", -1;
    int rc;
    if (at(c, "-")) {
        rc = unary(c, r);
        if (!rc) mpq_neg(r, r);
    } else if (at(c, "+")) {
        rc = unary(c, r);
    } else {
        rc = power(c, r);
    }
    c->depth--;
    return rc;
}

static int term(calc_t *c, mpq_t r) {
    if (unary(c, r)) return -1;
    mpq_t x;
    mpq_init(x);
    int rc = 0;
    for (;;) {
        int mul = at(c, "*") || at(c, "\xc3\x97"), div = !mul && (at(c, "/") || at(c, "\xc3\xb7"));
        if (!mul && !div) break;
        if ((rc = unary(c, x))) break;
        if (div && mpq_sgn(x) == 0) {
            c->err = "division by zero";
            rc = -1;
            break;
        }
        if (mul) mpq_mul(r, r, x);
        else mpq_div(r, r, x);
        if (mpz_sizeinbase(mpq_numref(r), 2) + mpz_sizeinbase(mpq_denref(r), 2) > 2 * CALC_MAX_BITS) {
            c->err = "the result would exceed a million bits";
            rc = -1;
            break;
        }
    }
    mpq_clear(x);
    return rc;
}

static int expr(calc_t *c, mpq_t r) {
    if (++c->depth > CALC_MAX_DEPTH) return c->err = "the expression nests too deeply", -1;
    int rc = term(c, r);
    mpq_t x;
    mpq_init(x);
    while (!rc) {
        int add = at(c, "+"), sub = !add && at(c, "-");
        if (!add && !sub) break;
        if ((rc = term(c, x))) break;
        if (add) mpq_add(r, r, x);
        else mpq_sub(r, r, x);
    }
    mpq_clear(x);
    c->depth--;
    return rc;
}

char *rlc_calculator(const char *input, rlc_tool_status_t *st) {
    *st = RLC_TOOL_ERROR;
    size_t n = strlen(input);
    if (n > CALC_MAX_INPUT) return rlc_strdup("error: the expression is longer than 4096 characters");
    calc_t c = {.s = input, .i = 0, .n = n, .depth = 0, .err = NULL};
    mpq_t r;
    mpq_init(r);
    int rc = expr(&c, r);
    skip(&c);
    if (!rc && c.i != c.n) c.err = "unexpected text after the expression", rc = -1;
    char *out;
    if (rc) {
        char buf[160];
        snprintf(buf, sizeof buf, "error: %s (at character %zu)", c.err ? c.err : "cannot read the expression", c.i + 1);
        out = rlc_strdup(buf);
    } else {
        char *num = mpq_get_str(NULL, 10, r);
        size_t ln = strlen(num);
        out = malloc(ln + 64);
        if (out) {
            memcpy(out, num, ln + 1);
            if (mpz_cmp_ui(mpq_denref(r), 1) != 0) snprintf(out + ln, 64, " = %.17g", mpq_get_d(r));
        }
        void (*gfree)(void *, size_t);
        mp_get_memory_functions(NULL, NULL, &gfree);
        gfree(num, ln + 1);
        *st = RLC_TOOL_OK;
    }
    mpq_clear(r);
    return out;
}
