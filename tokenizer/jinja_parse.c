/* Jinja2 template → syntax tree: the text/tag split with Jinja's whitespace rules (trim_blocks
 * and lstrip_blocks on, as transformers sets them; "-" strips, "+" keeps), the expression
 * tokenizer and a recursive-descent parser with Jinja's precedence (or < and < not <
 * comparisons and tests < ~ < + - < * / // % < unary - < ** < filters < postfix). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tokenizer/jinja_internal.h"

/* ------------------------------------------------------------------ chunks */

enum { C_TEXT = 1, C_VAR, C_BLOCK };
typedef struct {
    int kind, line;
    const char *s; /* text, or the tag's inside */
    size_t n;
} chunk_t;

typedef struct {
    chunk_t *c;
    int n, cap, pos;
    const char *src;
    /* expression tokens of the current tag */
    const char *p, *end;
    int line;
    int depth; /* expression nesting, bounded (a template is untrusted input) */
} ps_t;

static int line_at(const char *src, const char *p) {
    int l = 1;
    for (const char *q = src; q < p; q++) l += *q == '\n';
    return l;
}

static int push_chunk(ps_t *P, int kind, const char *s, size_t n, int line) {
    if (kind == C_TEXT && !n) return 0;
    if (P->n == P->cap) {
        int nc = P->cap ? P->cap * 2 : 64;
        chunk_t *c = rlc_realloc(P->c, (size_t)nc * sizeof *c);
        if (!c) return RLC_ENOMEM;
        P->c = c, P->cap = nc;
    }
    P->c[P->n++] = (chunk_t){kind, line, s, n};
    return 0;
}

/* The end of a tag opened at p (after its opener), skipping string literals: the closer's
 * position or NULL. */
static const char *tag_end(const char *p, const char *closer) {
    char q = 0;
    for (; *p; p++) {
        if (q) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == q) q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (!strncmp(p, closer, 2) || (*p == '-' && !strncmp(p + 1, closer, 2))) {
            return p;
        }
    }
    return NULL;
}

static int split_chunks(ps_t *P, const char *src) {
    const char *p = src, *text = src;
    int strip_next = 0, rc; /* strip_next: 1 all white space ("-"), 2 one newline (trim_blocks) */
    while (1) {
        const char *t = p;
        while ((t = strchr(t, '{')) && t[1] != '{' && t[1] != '%' && t[1] != '#') t++;
        const char *tend = t ? t : p + strlen(p);
        /* the text before the tag, with the previous tag's right-side stripping */
        const char *a = text, *b = tend;
        if (strip_next == 1) while (a < b && isspace((unsigned char)*a)) a++;
        else if (strip_next == 2 && a < b && *a == '\n') a++;
        if (!t) return push_chunk(P, C_TEXT, a, (size_t)(b - a), line_at(src, a));
        char kind = t[1];
        const char *in = t + 2;
        int minus = *in == '-', plus = *in == '+';
        if (minus) while (b > a && isspace((unsigned char)b[-1])) b--;
        else if (kind != '{' && !plus) { /* lstrip_blocks: blanks from the line start to a block tag */
            const char *q = b;
            while (q > a && (q[-1] == ' ' || q[-1] == '\t')) q--;
            if ((q == src || q[-1] == '\n') && q >= a) b = q;
        }
        if ((rc = push_chunk(P, C_TEXT, a, (size_t)(b - a), line_at(src, a)))) return rc;
        if (minus || plus) in++;
        const char *closer = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
        const char *e = kind == '#' ? strstr(in, "#}") : tag_end(in, closer);
        if (kind == '#' && e && e > in && e[-1] == '-') e--;
        if (!e) return rlc_errc(RLC_EFMT, "chat template line %d: '%c%c' is never closed", line_at(src, t), '{', kind);
        int rminus = *e == '-';
        if (kind != '#' && (rc = push_chunk(P, kind == '{' ? C_VAR : C_BLOCK, in, (size_t)(e - in), line_at(src, t))))
            return rc;
        p = text = e + (rminus ? 3 : 2);
        strip_next = rminus ? 1 : kind != '{' ? 2 : 0;
    }
}

/* ------------------------------------------------------------------ expression tokens */

enum { T_EOF = 0, T_NAME, T_STR, T_INT, T_FLOAT, T_OP };
typedef struct {
    int kind;
    const char *s;
    size_t n;
} tok_t_;

static void skip_ws(ps_t *P) {
    while (P->p < P->end && isspace((unsigned char)*P->p)) P->p++;
}

static tok_t_ peek(ps_t *P) {
    skip_ws(P);
    tok_t_ t = {T_EOF, P->p, 0};
    if (P->p >= P->end) return t;
    const char *p = P->p;
    if (isalpha((unsigned char)*p) || *p == '_') {
        while (p < P->end && (isalnum((unsigned char)*p) || *p == '_')) p++;
        t.kind = T_NAME;
    } else if (isdigit((unsigned char)*p)) {
        t.kind = T_INT;
        while (p < P->end && (isdigit((unsigned char)*p) || *p == '_')) p++;
        if (p + 1 < P->end && *p == '.' && isdigit((unsigned char)p[1])) {
            t.kind = T_FLOAT;
            p++;
            while (p < P->end && isdigit((unsigned char)*p)) p++;
        }
        const char *x = p; /* an exponent: 1e-05, 2.5E3 */
        if (x < P->end && (*x == 'e' || *x == 'E')) {
            x++;
            if (x < P->end && (*x == '+' || *x == '-')) x++;
            if (x < P->end && isdigit((unsigned char)*x)) {
                while (x < P->end && isdigit((unsigned char)*x)) x++;
                t.kind = T_FLOAT, p = x;
            }
        }
    } else if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (p < P->end && *p != q) p += *p == '\\' && p + 1 < P->end ? 2 : 1;
        if (p < P->end) p++;
        t.kind = T_STR;
    } else {
        static const char *two[] = {"==", "!=", "<=", ">=", "//", "**"};
        t.kind = T_OP;
        p++;
        for (int i = 0; i < 6; i++)
            if (P->end - P->p >= 2 && !strncmp(P->p, two[i], 2)) p = P->p + 2;
    }
    t.n = (size_t)(p - t.s);
    return t;
}

static tok_t_ next(ps_t *P) {
    tok_t_ t = peek(P);
    P->p = t.s + t.n;
    return t;
}

static int is_op(tok_t_ t, const char *op) { return t.kind == T_OP && t.n == strlen(op) && !strncmp(t.s, op, t.n); }
static int is_name(tok_t_ t, const char *w) { return t.kind == T_NAME && t.n == strlen(w) && !strncmp(t.s, w, t.n); }

static int perr(ps_t *P, const char *what, tok_t_ t) {
    return rlc_errc(RLC_EFMT, "chat template line %d: %s at '%.*s'", P->line, what, t.kind == T_EOF ? 3 : (int)(t.n > 30 ? 30 : t.n),
                    t.kind == T_EOF ? "end" : t.s);
}

static int expect_op(ps_t *P, const char *op) {
    tok_t_ t = next(P);
    if (!is_op(t, op)) {
        char m[32];
        snprintf(m, sizeof m, "expected '%s'", op);
        return perr(P, m, t);
    }
    return 0;
}

static jx_t *mk(ps_t *P, int kind) {
    jx_t *e = rlc_calloc(1, sizeof *e);
    if (e) e->kind = kind, e->line = P->line;
    return e;
}

static char *dup_n(const char *s, size_t n) {
    char *d = rlc_malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* A quoted literal's value (Python escapes \n \t \r \\ \' \" \uXXXX). */
static char *unquote(tok_t_ t, size_t *len) {
    char *o = rlc_malloc(t.n * 3 + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 1; i + 1 < t.n; i++) {
        char c = t.s[i];
        if (c != '\\' || i + 2 >= t.n) {
            *w++ = c;
            continue;
        }
        c = t.s[++i];
        if (c == 'n') *w++ = '\n';
        else if (c == 't') *w++ = '\t';
        else if (c == 'r') *w++ = '\r';
        else if (c == 'u' && i + 4 < t.n) {
            char hx[5] = {t.s[i + 1], t.s[i + 2], t.s[i + 3], t.s[i + 4], 0};
            unsigned cp = (unsigned)strtoul(hx, NULL, 16);
            i += 4;
            if (cp < 0x80) *w++ = (char)cp;
            else if (cp < 0x800) *w++ = (char)(0xC0 | cp >> 6), *w++ = (char)(0x80 | (cp & 63));
            else *w++ = (char)(0xE0 | cp >> 12), *w++ = (char)(0x80 | ((cp >> 6) & 63)), *w++ = (char)(0x80 | (cp & 63));
        } else if (c == '\\' || c == '\'' || c == '"') *w++ = c;
        else *w++ = '\\', *w++ = c;
    }
    *len = (size_t)(w - o);
    *w = 0;
    return o;
}

static int parse_expr(ps_t *P, jx_t **out);
static int parse_expr_in(ps_t *P, jx_t **out);

/* ( args ) with keyword arguments; the '(' is consumed. */
static int parse_args(ps_t *P, jx_t *e) {
    int rc = 0;
    if (is_op(peek(P), ")")) return next(P), 0;
    while (!rc) {
        jx_t **na = rlc_realloc(e->args, (size_t)(e->nargs + 1) * sizeof *na);
        char **nk = rlc_realloc(e->kw, (size_t)(e->nargs + 1) * sizeof *nk);
        if (na) e->args = na;
        if (nk) e->kw = nk;
        if (!na || !nk) return RLC_ENOMEM;
        e->kw[e->nargs] = NULL, e->args[e->nargs] = NULL;
        tok_t_ t = peek(P);
        const char *save = P->p;
        if (t.kind == T_NAME) {
            next(P);
            if (is_op(peek(P), "=")) {
                next(P);
                e->kw[e->nargs] = dup_n(t.s, t.n);
            } else {
                P->p = save;
            }
        }
        e->nargs++;
        if ((rc = parse_expr(P, &e->args[e->nargs - 1]))) return rc;
        t = next(P);
        if (is_op(t, ")")) return 0;
        if (!is_op(t, ",")) return perr(P, "expected ',' or ')'", t);
    }
    return rc;
}

static int parse_primary(ps_t *P, jx_t **out) {
    *out = NULL;
    tok_t_ t = next(P);
    jx_t *e = NULL;
    int rc = 0;
    if (t.kind == T_STR) {
        e = mk(P, E_LIT_STR);
        if (e && !(e->s = unquote(t, &e->sn))) rc = RLC_ENOMEM;
        while (!rc && peek(P).kind == T_STR) { /* adjacent literals concatenate */
            size_t n2;
            char *s2 = unquote(next(P), &n2), *cat = s2 ? rlc_realloc(e->s, e->sn + n2 + 1) : NULL;
            if (!cat) rc = RLC_ENOMEM;
            else memcpy(cat + e->sn, s2, n2 + 1), e->s = cat, e->sn += n2;
            free(s2);
        }
    } else if (t.kind == T_INT) {
        if ((e = mk(P, E_LIT_INT))) e->i = strtoll(t.s, NULL, 10);
    } else if (t.kind == T_FLOAT) {
        if ((e = mk(P, E_LIT_FLOAT))) e->f = strtod(t.s, NULL);
    } else if (t.kind == T_NAME) {
        if (is_name(t, "true") || is_name(t, "True") || is_name(t, "false") || is_name(t, "False")) {
            if ((e = mk(P, E_LIT_BOOL))) e->i = t.s[0] == 't' || t.s[0] == 'T';
        } else if (is_name(t, "none") || is_name(t, "None")) {
            e = mk(P, E_LIT_NONE);
        } else if ((e = mk(P, E_NAME)) && !(e->s = dup_n(t.s, t.n))) {
            rc = RLC_ENOMEM;
        }
    } else if (is_op(t, "(")) {
        if ((rc = parse_expr(P, &e))) return jinja_expr_free(e), rc;
        if (is_op(peek(P), ",")) { /* a tuple: (a, b, ...) */
            jx_t *tu = mk(P, E_LIST);
            if (!tu || !(tu->args = rlc_calloc(1, sizeof *tu->args))) return jinja_expr_free(e), jinja_expr_free(tu), RLC_ENOMEM;
            tu->negated = 1, tu->args[0] = e, tu->nargs = 1, e = tu;
            while (!rc && is_op(peek(P), ",")) {
                next(P);
                if (is_op(peek(P), ")")) break;
                jx_t **na = rlc_realloc(e->args, (size_t)(e->nargs + 1) * sizeof *na);
                if (!na) return jinja_expr_free(e), RLC_ENOMEM;
                e->args = na, e->args[e->nargs++] = NULL;
                rc = parse_expr(P, &e->args[e->nargs - 1]);
            }
            if (rc) return jinja_expr_free(e), rc;
        }
        if ((rc = expect_op(P, ")"))) return jinja_expr_free(e), rc;
    } else if (is_op(t, "[") || is_op(t, "{")) {
        int dict = is_op(t, "{");
        const char *close = dict ? "}" : "]";
        if (!(e = mk(P, dict ? E_DICT : E_LIST))) return RLC_ENOMEM;
        while (!rc && !is_op(peek(P), close)) {
            jx_t **na = rlc_realloc(e->args, (size_t)(e->nargs + 2) * sizeof *na);
            if (!na) return jinja_expr_free(e), RLC_ENOMEM;
            e->args = na;
            e->args[e->nargs + 1] = NULL;
            if ((rc = parse_expr(P, &e->args[e->nargs++]))) break;
            if (dict && !(rc = expect_op(P, ":"))) rc = parse_expr(P, &e->args[e->nargs++]);
            if (!rc && is_op(peek(P), ",")) next(P);
        }
        if (!rc) rc = expect_op(P, close);
    } else {
        return perr(P, "unexpected token", t);
    }
    if (!e && !rc) rc = RLC_ENOMEM;
    if (rc) return jinja_expr_free(e), rc;
    *out = e;
    return 0;
}

/* primary, then .attr, [index], [a:b], (call) */
static int parse_postfix(ps_t *P, jx_t **out) {
    jx_t *e = NULL;
    int rc = parse_primary(P, &e);
    while (!rc) {
        tok_t_ t = peek(P);
        jx_t *n = NULL;
        if (is_op(t, ".")) {
            next(P);
            tok_t_ a = next(P);
            if (a.kind != T_NAME && a.kind != T_INT) return jinja_expr_free(e), perr(P, "expected an attribute", a);
            if (!(n = mk(P, E_ATTR)) || !(n->s = dup_n(a.s, a.n))) rc = RLC_ENOMEM;
        } else if (is_op(t, "[")) {
            next(P);
            jx_t *lo = NULL, *hi = NULL, *step = NULL;
            int slice = 0;
            if (!is_op(peek(P), ":")) rc = parse_expr(P, &lo);
            if (!rc && is_op(peek(P), ":")) { /* [lo:hi:step], each part optional */
                slice = 1;
                next(P);
                if (!is_op(peek(P), "]") && !is_op(peek(P), ":")) rc = parse_expr(P, &hi);
                if (!rc && is_op(peek(P), ":")) {
                    next(P);
                    if (!is_op(peek(P), "]")) rc = parse_expr(P, &step);
                }
            }
            if (!rc) rc = expect_op(P, "]");
            if (!rc && !(n = mk(P, slice ? E_SLICE : E_INDEX))) rc = RLC_ENOMEM;
            if (!rc && step && !(n->args = rlc_calloc(1, sizeof *n->args))) rc = RLC_ENOMEM;
            if (rc) {
                jinja_expr_free(lo), jinja_expr_free(hi), jinja_expr_free(step), jinja_expr_free(n);
                n = NULL;
            } else {
                n->b = lo, n->c = hi;
                if (step) n->args[0] = step, n->nargs = 1;
            }
        } else if (is_op(t, "(")) {
            next(P);
            if (!(n = mk(P, E_CALL))) rc = RLC_ENOMEM;
            else rc = parse_args(P, n);
        } else {
            break;
        }
        if (n) n->a = e, e = n;
        else if (!rc) rc = RLC_ENOMEM;
    }
    if (rc) return jinja_expr_free(e), rc;
    *out = e;
    return 0;
}

/* x | filter(args) | ... ; x is [not] test [arg] */
static int parse_filtered(ps_t *P, jx_t **out) {
    jx_t *e = NULL;
    int rc = parse_postfix(P, &e);
    while (!rc) {
        tok_t_ t = peek(P);
        int filt = is_op(t, "|"), test = is_name(t, "is");
        if (!filt && !test) break;
        next(P);
        jx_t *n = mk(P, filt ? E_FILTER : E_TEST);
        if (!n) return jinja_expr_free(e), RLC_ENOMEM;
        n->a = e, e = n;
        if (test && is_name(peek(P), "not")) next(P), n->negated = 1;
        tok_t_ name = next(P);
        if (name.kind != T_NAME) return jinja_expr_free(e), perr(P, filt ? "expected a filter" : "expected a test", name);
        if (!(n->s = dup_n(name.s, name.n))) return jinja_expr_free(e), RLC_ENOMEM;
        if (is_op(peek(P), "(")) {
            next(P);
            rc = parse_args(P, n);
        } else if (test && (peek(P).kind == T_STR || peek(P).kind == T_INT || peek(P).kind == T_FLOAT ||
                            peek(P).kind == T_NAME || is_op(peek(P), "[") || is_op(peek(P), "{")) &&
                   !is_name(peek(P), "and") && !is_name(peek(P), "or") && !is_name(peek(P), "else") &&
                   !is_name(peek(P), "if")) { /* "is equalto 3", "is sameas none" */
            n->args = rlc_calloc(1, sizeof *n->args), n->kw = rlc_calloc(1, sizeof *n->kw);
            if (!n->args || !n->kw) rc = RLC_ENOMEM;
            else n->nargs = 1, rc = parse_postfix(P, &n->args[0]);
        }
    }
    if (rc) return jinja_expr_free(e), rc;
    *out = e;
    return 0;
}

static int bin(ps_t *P, jx_t **e, int op, int (*sub)(ps_t *, jx_t **)) {
    jx_t *n = mk(P, op == -1 ? E_AND : op == -2 ? E_OR : E_BIN), *r = NULL;
    if (!n) return RLC_ENOMEM;
    int rc = sub(P, &r);
    if (rc) return jinja_expr_free(n), jinja_expr_free(r), rc; /* (what the failed side built) */
    n->op = op, n->a = *e, n->b = r;
    *e = n;
    return 0;
}

static int parse_unary(ps_t *P, jx_t **out);
static int parse_pow(ps_t *P, jx_t **out) {
    int rc = parse_filtered(P, out);
    while (!rc && is_op(peek(P), "**")) next(P), rc = bin(P, out, OP_POW, parse_unary);
    return rc;
}
static int parse_unary(ps_t *P, jx_t **out) {
    if (P->depth > 100) return rlc_errc(RLC_EFMT, "chat template line %d: expression nested too deeply", P->line);
    if (is_op(peek(P), "-") || is_op(peek(P), "+")) {
        int neg = is_op(next(P), "-");
        jx_t *n = neg ? mk(P, E_NEG) : NULL;
        if (neg && !n) return RLC_ENOMEM;
        P->depth++;
        int rc = parse_unary(P, neg ? &n->a : out);
        P->depth--;
        if (neg) *out = n;
        return rc;
    }
    return parse_pow(P, out);
}
static int parse_mul(ps_t *P, jx_t **out) {
    int rc = parse_unary(P, out);
    while (!rc) {
        tok_t_ t = peek(P);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV : is_op(t, "%") ? OP_MOD : 0;
        if (!op) break;
        next(P), rc = bin(P, out, op, parse_unary);
    }
    return rc;
}
static int parse_add(ps_t *P, jx_t **out) {
    int rc = parse_mul(P, out);
    while (!rc && (is_op(peek(P), "+") || is_op(peek(P), "-")))
        rc = bin(P, out, is_op(next(P), "+") ? OP_ADD : OP_SUB, parse_mul);
    return rc;
}
static int parse_concat(ps_t *P, jx_t **out) {
    int rc = parse_add(P, out);
    while (!rc && is_op(peek(P), "~")) next(P), rc = bin(P, out, OP_CONCAT, parse_add);
    return rc;
}
static int parse_cmp(ps_t *P, jx_t **out) {
    int rc = parse_concat(P, out);
    while (!rc) {
        tok_t_ t = peek(P);
        int op = is_op(t, "==") ? OP_EQ : is_op(t, "!=") ? OP_NE : is_op(t, "<") ? OP_LT : is_op(t, "<=") ? OP_LE
                 : is_op(t, ">") ? OP_GT : is_op(t, ">=") ? OP_GE : is_name(t, "in") ? OP_IN : 0;
        if (!op && is_name(t, "not")) { /* "not in" */
            const char *save = P->p;
            next(P);
            if (is_name(peek(P), "in")) op = OP_NOTIN;
            else P->p = save;
        }
        if (!op) break;
        next(P), rc = bin(P, out, op, parse_concat);
    }
    return rc;
}
static int parse_not(ps_t *P, jx_t **out) {
    if (is_name(peek(P), "not")) {
        if (P->depth > 100) return rlc_errc(RLC_EFMT, "chat template line %d: expression nested too deeply", P->line);
        next(P);
        jx_t *n = mk(P, E_NOT);
        if (!n) return RLC_ENOMEM;
        *out = n;
        P->depth++;
        int rc = parse_not(P, &n->a);
        P->depth--;
        return rc;
    }
    return parse_cmp(P, out);
}
static int parse_and(ps_t *P, jx_t **out) {
    int rc = parse_not(P, out);
    while (!rc && is_name(peek(P), "and")) next(P), rc = bin(P, out, -1, parse_not);
    return rc;
}
static int parse_or(ps_t *P, jx_t **out) {
    int rc = parse_and(P, out);
    while (!rc && is_name(peek(P), "or")) next(P), rc = bin(P, out, -2, parse_and);
    return rc;
}
/* a if cond [else b] */
static int parse_expr(ps_t *P, jx_t **out) {
    *out = NULL;
    if (++P->depth > 100) return rlc_errc(RLC_EFMT, "chat template line %d: expression nested too deeply", P->line);
    int rc = parse_expr_in(P, out);
    P->depth--;
    return rc;
}

static int parse_expr_in(ps_t *P, jx_t **out) {
    int rc = parse_or(P, out);
    if (!rc && is_name(peek(P), "if")) {
        next(P);
        jx_t *n = mk(P, E_COND);
        if (!n) return RLC_ENOMEM;
        n->a = *out, *out = n;
        if ((rc = parse_or(P, &n->b))) return rc;
        if (is_name(peek(P), "else")) next(P), rc = parse_expr(P, &n->c);
    }
    return rc;
}

/* ------------------------------------------------------------------ statements */

static int body_push(jbody_t *b, js_t *s) {
    if (b->n == b->cap) {
        int nc = b->cap ? b->cap * 2 : 8;
        js_t **v = rlc_realloc(b->v, (size_t)nc * sizeof *v);
        if (!v) return RLC_ENOMEM;
        b->v = v, b->cap = nc;
    }
    b->v[b->n++] = s;
    return 0;
}

static void stmt_free(js_t *s);

/* Parse chunks into b until a block tag whose first word is one of `ends` ("a|b|c");
 * *which gets that word (the tag's remaining tokens stay in P). */
static int parse_body(ps_t *P, jbody_t *b, const char *ends, char *which, size_t wcap);
static int parse_body_in(ps_t *P, jbody_t *b, const char *ends, char *which, size_t wcap);

static int tag_word(ps_t *P, const chunk_t *c, char *w, size_t cap) {
    P->p = c->s, P->end = c->s + c->n, P->line = c->line;
    tok_t_ t = next(P);
    if (t.kind != T_NAME) return perr(P, "expected a statement", t);
    snprintf(w, cap, "%.*s", (int)t.n, t.s);
    return 0;
}

static int at_end(ps_t *P) {
    tok_t_ t = peek(P);
    return t.kind == T_EOF ? 0 : perr(P, "unexpected text in the tag", t);
}

static int names_list(ps_t *P, js_t *s) {
    do {
        tok_t_ t = next(P);
        if (t.kind != T_NAME) return perr(P, "expected a name", t);
        char **nn = rlc_realloc(s->names, (size_t)(s->nnames + 1) * sizeof *nn);
        if (!nn) return RLC_ENOMEM;
        s->names = nn;
        if (!(s->names[s->nnames++] = dup_n(t.s, t.n))) return RLC_ENOMEM;
    } while (is_op(peek(P), ",") && (next(P), 1));
    return 0;
}

static int parse_stmt(ps_t *P, const char *w, js_t *s) {
    char which[32];
    int rc = 0;
    if (!strcmp(w, "if")) {
        s->kind = S_IF;
        for (int more = 1; more && !rc;) {
            jx_t **nc = rlc_realloc(s->conds, (size_t)(s->nbr + 1) * sizeof *nc);
            jbody_t *nb = rlc_realloc(s->bodies, (size_t)(s->nbr + 1) * sizeof *nb);
            if (nc) s->conds = nc;
            if (nb) s->bodies = nb;
            if (!nc || !nb) return RLC_ENOMEM;
            s->conds[s->nbr] = NULL, memset(&s->bodies[s->nbr], 0, sizeof *nb);
            int is_else = s->nbr > 0 && !strcmp(which, "else");
            s->nbr++;
            if (!is_else && (rc = parse_expr(P, &s->conds[s->nbr - 1]))) break;
            if ((rc = at_end(P))) break;
            rc = parse_body(P, &s->bodies[s->nbr - 1], is_else ? "endif" : "elif|else|endif", which, sizeof which);
            more = strcmp(which, "endif") != 0;
        }
        return rc ? rc : at_end(P);
    }
    if (!strcmp(w, "for")) {
        s->kind = S_FOR;
        if ((rc = names_list(P, s))) return rc;
        tok_t_ t = next(P);
        if (!is_name(t, "in")) return perr(P, "expected 'in'", t);
        if ((rc = parse_or(P, &s->e))) return rc;
        if (is_name(peek(P), "if")) next(P), rc = parse_or(P, &s->filter);
        if (!rc && is_name(peek(P), "recursive")) return perr(P, "recursive loops are not supported", peek(P));
        if (!rc) rc = at_end(P);
        if (!rc) rc = parse_body(P, &s->body, "else|endfor", which, sizeof which);
        if (!rc && !strcmp(which, "else") && !(rc = at_end(P))) rc = parse_body(P, &s->els, "endfor", which, sizeof which);
        return rc ? rc : at_end(P);
    }
    if (!strcmp(w, "set")) {
        tok_t_ t = next(P);
        if (t.kind != T_NAME) return perr(P, "expected a name", t);
        s->names = rlc_calloc(1, sizeof *s->names);
        if (!s->names || !(s->names[0] = dup_n(t.s, t.n))) return RLC_ENOMEM;
        s->nnames = 1;
        if (is_op(peek(P), ".")) {
            next(P);
            tok_t_ a = next(P);
            if (a.kind != T_NAME) return perr(P, "expected an attribute", a);
            if (!(s->attr = dup_n(a.s, a.n))) return RLC_ENOMEM;
        }
        if (is_op(peek(P), ",")) return perr(P, "multiple assignment is not supported", peek(P));
        if (peek(P).kind == T_EOF) { /* {% set x %}...{% endset %} */
            s->kind = S_SETBLOCK;
            rc = parse_body(P, &s->body, "endset", which, sizeof which);
            return rc ? rc : at_end(P);
        }
        s->kind = S_SET;
        if ((rc = expect_op(P, "="))) return rc;
        if ((rc = parse_expr(P, &s->e))) return rc;
        return at_end(P);
    }
    if (!strcmp(w, "macro")) { /* {% macro name(a, b=default) %}...{% endmacro %} */
        s->kind = S_MACRO;
        tok_t_ t = next(P);
        if (t.kind != T_NAME || !(s->attr = dup_n(t.s, t.n))) return perr(P, "expected a macro name", t);
        if ((rc = expect_op(P, "("))) return rc;
        while (!rc && !is_op(peek(P), ")")) {
            tok_t_ a = next(P);
            if (a.kind != T_NAME) return perr(P, "expected a parameter name", a);
            char **nn = rlc_realloc(s->names, (size_t)(s->nnames + 1) * sizeof *nn);
            jx_t **nd = rlc_realloc(s->defaults, (size_t)(s->nnames + 1) * sizeof *nd);
            if (nn) s->names = nn;
            if (nd) s->defaults = nd;
            if (!nn || !nd) return RLC_ENOMEM;
            s->defaults[s->nnames] = NULL;
            if (!(s->names[s->nnames++] = dup_n(a.s, a.n))) return RLC_ENOMEM;
            if (is_op(peek(P), "=")) next(P), rc = parse_expr(P, &s->defaults[s->nnames - 1]);
            if (!rc && is_op(peek(P), ",")) next(P);
        }
        if (!rc) rc = expect_op(P, ")");
        if (!rc) rc = at_end(P);
        if (!rc) rc = parse_body(P, &s->body, "endmacro", which, sizeof which);
        return rc ? rc : at_end(P);
    }
    if (!strcmp(w, "break") || !strcmp(w, "continue")) {
        s->kind = w[0] == 'b' ? S_BREAK : S_CONTINUE;
        return at_end(P);
    }
    if (!strcmp(w, "generation")) { /* transformers' assistant-mask marker: renders its body */
        s->kind = S_IF;
        s->conds = rlc_calloc(1, sizeof *s->conds), s->bodies = rlc_calloc(1, sizeof *s->bodies);
        if (!s->conds || !s->bodies) return RLC_ENOMEM;
        s->nbr = 1;
        if ((rc = at_end(P))) return rc;
        rc = parse_body(P, &s->bodies[0], "endgeneration", which, sizeof which);
        return rc ? rc : at_end(P);
    }
    return rlc_errc(RLC_EUNSUP, "chat template line %d: statement '%s' is not supported", P->line, w);
}

static int parse_body(ps_t *P, jbody_t *b, const char *ends, char *which, size_t wcap) {
    if (ends && P->depth > 100) return rlc_errc(RLC_EFMT, "chat template line %d: blocks nested too deeply", P->line);
    P->depth += ends != NULL;
    int rc = parse_body_in(P, b, ends, which, wcap);
    P->depth -= ends != NULL;
    return rc;
}

static int parse_body_in(ps_t *P, jbody_t *b, const char *ends, char *which, size_t wcap) {
    int rc = 0;
    while (P->pos < P->n) {
        const chunk_t *c = &P->c[P->pos++];
        js_t *s = rlc_calloc(1, sizeof *s);
        if (!s) return RLC_ENOMEM;
        s->line = c->line;
        if (c->kind == C_TEXT) {
            s->kind = S_TEXT;
            s->text = dup_n(c->s, c->n), s->tn = c->n;
            if (!s->text) rc = RLC_ENOMEM;
        } else if (c->kind == C_VAR) {
            s->kind = S_OUT;
            P->p = c->s, P->end = c->s + c->n, P->line = c->line;
            rc = parse_expr(P, &s->e);
            if (!rc) rc = at_end(P);
        } else {
            char w[32];
            if ((rc = tag_word(P, c, w, sizeof w))) {
                free(s);
                return rc;
            }
            if (ends) {
                char pat[128];
                snprintf(pat, sizeof pat, "|%s|", ends);
                char key[40];
                snprintf(key, sizeof key, "|%s|", w);
                if (strstr(pat, key)) {
                    free(s);
                    snprintf(which, wcap, "%s", w);
                    return 0;
                }
            }
            rc = parse_stmt(P, w, s);
        }
        if (!rc) rc = body_push(b, s);
        if (rc) {
            stmt_free(s);
            return rc;
        }
    }
    if (ends) return rlc_errc(RLC_EFMT, "chat template: missing {%% %s %%} before the end", ends);
    return 0;
}

int jinja_compile(const char *src, jinja_t **out) {
    *out = NULL;
    ps_t P = {0};
    size_t n = strlen(src);
    char *text = rlc_malloc(n + 1); /* Jinja drops one final newline (keep_trailing_newline off) */
    if (!text) return RLC_ENOMEM;
    memcpy(text, src, n + 1);
    if (n && text[n - 1] == '\n') text[--n] = 0;
    P.src = text;
    jinja_t *j = rlc_calloc(1, sizeof *j);
    int rc = j ? split_chunks(&P, text) : RLC_ENOMEM;
    if (!rc) rc = parse_body(&P, &j->top, NULL, NULL, 0);
    free(P.c);
    free(text);
    if (rc) {
        jinja_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

void jinja_expr_free(jx_t *e) {
    if (!e) return;
    jinja_expr_free(e->a), jinja_expr_free(e->b), jinja_expr_free(e->c);
    for (int i = 0; i < e->nargs; i++) {
        jinja_expr_free(e->args[i]);
        if (e->kw) free(e->kw[i]);
    }
    free(e->args), free(e->kw), free(e->s), free(e);
}

static void stmt_free(js_t *s) {
    if (!s) return;
    free(s->text);
    jinja_expr_free(s->e), jinja_expr_free(s->filter);
    for (int k = 0; k < s->nbr; k++) jinja_expr_free(s->conds[k]), jinja_body_free(&s->bodies[k]);
    free(s->conds), free(s->bodies);
    for (int k = 0; k < s->nnames; k++) free(s->names[k]);
    free(s->names), free(s->attr);
    jinja_body_free(&s->body), jinja_body_free(&s->els);
    for (int k = 0; s->defaults && k < s->nnames; k++) jinja_expr_free(s->defaults[k]); /* a macro's */
    free(s->defaults);
    free(s);
}

void jinja_body_free(jbody_t *b) {
    for (int i = 0; i < b->n; i++) stmt_free(b->v[i]);
    free(b->v);
    b->v = NULL, b->n = b->cap = 0;
}

void jinja_free(jinja_t *j) {
    if (!j) return;
    jinja_body_free(&j->top);
    free(j);
}
