/* Answer equivalence (SPECS.md "Outcome reward", docs/rewards.md "Equivalence"): normalized
 * strings, multiple-choice letters, then expression trees compared structurally: scalars by
 * value (value.c), relations and intervals (relation.c), tuples, sets, lists and matrices
 * element-wise with their bracket semantics. All work is counted against a budget so no
 * input can make a grading slow. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/math/gctx.h"

#define MAX_ELEMS 130
#define RAW_LIMIT (8 * MATH_MAX_ANSWER)

void math_opts_default(math_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->rel_tol = 1e-6;
    o->n_points = 6;
    o->seed = 0x5eed5eedULL;
    o->percent = 0;
    o->percent_strict = 0;
    o->chains = 1;
    o->mc_letters = 1;
    o->work_cap = 1000000;
}

typedef struct {
    int node, sign;
} elem_t;

/* Elements of a list/set (\pm expanded into both signs). */
static int elems(gctx_t *c, int w, int id, elem_t *out) {
    const mnode_t *nd = ND(c, w, id);
    int n = 0;
    int kinds_list = nd->kind == MN_LIST || nd->kind == MN_SET || nd->kind == MN_UNION;
    int nk = kinds_list ? nd->nk : 1;
    for (int j = 0; j < nk; j++) {
        int k = kinds_list ? KID(c, w, id, j) : id;
        if (n + 2 > MAX_ELEMS) return -1;
        if ((c->flags[w][k] & F_PM) && is_scalar_kind(ND(c, w, k)->kind)) {
            out[n++] = (elem_t){k, 1};
            out[n++] = (elem_t){k, -1};
        } else {
            out[n++] = (elem_t){k, 0};
        }
    }
    return n;
}

/* Every element of one side equals some element of the other, both ways (solution sets:
 * order and repeats do not matter). */
static int unordered_eq(gctx_t *c, int a, int b) {
    elem_t *ea = malloc(sizeof(elem_t) * MAX_ELEMS * 2);
    if (!ea) return 0;
    elem_t *eb = ea + MAX_ELEMS;
    int na = elems(c, 0, a, ea), nb = elems(c, 1, b, eb);
    int ok = na >= 0 && nb >= 0;
    /* mutual containment: a kept-from-A mask and a kept-from-B mask */
    for (int i = 0; ok && i < na; i++) {
        int hit = 0;
        for (int j = 0; j < nb && !hit && !c->exhausted; j++) {
            hit = g_veq(c, ea[i].node, ea[i].sign, eb[j].node, eb[j].sign);
        }
        ok = hit;
    }
    for (int j = 0; ok && j < nb; j++) {
        int hit = 0;
        for (int i = 0; i < na && !hit && !c->exhausted; i++) hit = g_veq(c, ea[i].node, ea[i].sign, eb[j].node, eb[j].sign);
        ok = hit;
    }
    free(ea);
    return ok && !c->exhausted;
}


/* Same kind of structure, side by side: tuples, matrices (bracket kinds and shapes agree). */
static int sides_eq(gctx_t *c, int a, int b) {
    const mnode_t *x = ND(c, 0, a), *y = ND(c, 1, b);
    if (x->nk != y->nk) return 0;
    for (int j = 0; j < x->nk; j++)
        if (!g_veq(c, KID(c, 0, a, j), 0, KID(c, 1, b, j), 0)) return 0;
    return 1;
}

/* Labels and chains: "(p,q) = (3,2)" against "(3,2)", "x = 3" against "y = 3", an equation
 * against a gold that is none. 1 equal, 0 not, -1 when neither applies. */
static int labelled_eq(gctx_t *c, int a, int sa, int b, int sb) {
    int kx = ND(c, 0, a)->kind, ky = ND(c, 1, b)->kind;
    int lx, vx, ly, vy;
    int ax = g_assignment(c, 0, a, &lx, &vx), ay = g_assignment(c, 1, b, &ly, &vy);
    if (ax && ay) return g_canon_eq(c, lx, ly) && g_veq(c, vx, sa, vy, sb);
    if (ax && ky != MN_REL) return g_veq(c, vx, sa, b, sb);
    if (ay && kx != MN_REL) return g_veq(c, a, sa, vy, sb);
    /* the gold's form decides: a predicted equation against a value is its right side */
    const mnode_t *y = ND(c, 1, b);
    if (c->o->chains && ky == MN_REL && y->nk == 2 && y->sub == REL_EQ && kx != MN_REL)
        return g_veq(c, a, sa, KID(c, 1, b, 1), sb);
    return -1;
}

int g_veq(gctx_t *c, int a, int sa, int b, int sb) {
    if (g_tick(c)) return 0;
    a = g_stated_value(c, 0, a);
    b = g_stated_value(c, 1, b);
    int r = labelled_eq(c, a, sa, b, sb);
    if (r >= 0) return r;
    const mnode_t *x = ND(c, 0, a), *y = ND(c, 1, b);
    int kx = x->kind, ky = y->kind;
    int xs = is_scalar_kind(kx), ys = is_scalar_kind(ky);
    /* a ± b at this level is the two-element set {a + b, a - b} */
    int xpm = xs && sa == 0 && (c->flags[0][a] & F_PM), ypm = ys && sb == 0 && (c->flags[1][b] & F_PM);
    if (xpm || ypm) {
        if ((xs || kx == MN_LIST || kx == MN_SET) && (ys || ky == MN_LIST || ky == MN_SET)) return unordered_eq(c, a, b);
        return 0;
    }
    if (xs && ys) return g_scalar_eq(c, a, sa, b, sb);
    /* a one-element set or list against a scalar */
    if ((kx == MN_SET || kx == MN_LIST) && x->nk == 1 && ys) return g_veq(c, KID(c, 0, a, 0), sa, b, sb);
    if ((ky == MN_SET || ky == MN_LIST) && y->nk == 1 && xs) return g_veq(c, a, sa, KID(c, 1, b, 0), sb);
    if (kx == MN_TUPLE && ky == MN_TUPLE) return x->sub == y->sub && sides_eq(c, a, b);
    /* an ordered pair written without parentheses: "(1, 2)" vs "1, 2" */
    if ((kx == MN_TUPLE && ky == MN_LIST && x->sub == (BR_PAREN << 4 | BR_PAREN)) ||
        (ky == MN_TUPLE && kx == MN_LIST && y->sub == (BR_PAREN << 4 | BR_PAREN)))
        return sides_eq(c, a, b);
    if ((kx == MN_SET || kx == MN_LIST) && (ky == MN_SET || ky == MN_LIST)) return unordered_eq(c, a, b);
    if (kx == MN_UNION && ky == MN_UNION) return unordered_eq(c, a, b);
    if (kx == MN_MATRIX && ky == MN_MATRIX) return x->aux == y->aux && sides_eq(c, a, b);
    r = g_relation_eq(c, a, b);
    return r > 0;
}

static void trim_ptrs(const char **b, const char **e) {
    while (*b < *e && isspace((unsigned char)**b)) (*b)++;
    while (*e > *b && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* The multiple-choice letter of an answer: "C", "(C)", "C)", "(C) 12", "C." -> 'C'. */
static char mc_letter(const char *s, int strict) {
    size_t n = strlen(s);
    if (!strict) {
        /* naming two options ("(C),(D)", "C or D") is not an answer */
        int opts = 0;
        for (size_t i = 0; i < n; i++)
            if (isupper((unsigned char)s[i]) && s[i] <= 'J' && (i + 1 == n || s[i + 1] == ')' || s[i + 1] == ',') &&
                (i == 0 || !isalpha((unsigned char)s[i - 1])))
                opts++;
        if (opts > 1) return 0;
    }
    if (n >= 3 && s[0] == '(' && s[2] == ')' && isupper((unsigned char)s[1])) {
        if (strict && n != 3) return 0;
        return s[1];
    }
    if (n >= 1 && isupper((unsigned char)s[0]) && s[0] <= 'J') {
        if (n == 1) return s[0];
        if (!strict && (s[1] == ')' || s[1] == '.' || s[1] == ':')) return s[0];
    }
    return 0;
}

static int text_eq(const char *a, const char *b) {
    /* last resort for words: case and spacing do not matter */
    for (;;) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (!*a || !*b) return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++, b++;
    }
}

typedef struct {
    mtree_t t[2];
    uint8_t flags[2][MTREE_MAX_NODES];
} gwork_t;

/* The trees' work area (about 100 KB): one per thread, kept for reuse, since allocating and
 * freeing it per grading makes the C library grow and trim the heap every time (measured:
 * 40% of the grader's time in brk). */
static _Thread_local gwork_t *tls_work;

static gwork_t *work_area(void) {
    if (!tls_work) tls_work = malloc(sizeof *tls_work);
    return tls_work;
}

/* Normalized answers: 1 equal, 0 not, -1 when either does not parse (compare as text). */
static int equal_normalized(const mbuf_t *ng, int fg, const mbuf_t *np, int fp, const math_opts_t *o) {
    const char *g = ng->p ? ng->p : "", *p = np->p ? np->p : "";
    if (!*p || !*g) return 0;
    if (!strcmp(g, p)) return 1;
    if (o->mc_letters) {
        char gl = mc_letter(g, 1);
        if (gl) return mc_letter(p, 0) == gl;
    }
    gwork_t *wk = work_area();
    if (!wk) return 0;
    if (math_parse(g, ng->len, &wk->t[0]) || math_parse(p, np->len, &wk->t[1])) return -1;
    gctx_t c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.t[0] = &wk->t[0];
    c.t[1] = &wk->t[1];
    c.flags[0] = wk->flags[0];
    c.flags[1] = wk->flags[1];
    c.pct[0] = (fg & MNORM_PERCENT) != 0;
    c.pct[1] = (fp & MNORM_PERCENT) != 0;
    if (g_prepare(&c)) return 0;
    return g_veq(&c, wk->t[0].root, 0, wk->t[1].root, 0) && !c.exhausted;
}

/* "1,22" / "0,5" (a whole answer with one comma, no spaces, two or more decimals or a zero
 * integer part): also read with a decimal comma. Rewrites b in place; 1 when it did. */
static int decimal_comma(mbuf_t *b) {
    const char *s = b->p ? b->p : "";
    const char *p = s + (*s == '-'), *comma = strchr(p, ',');
    if (!comma || comma == p || strchr(comma + 1, ',')) return 0;
    for (const char *q = p; *q; q++)
        if (q != comma && !isdigit((unsigned char)*q)) return 0;
    size_t frac = strlen(comma + 1);
    if (frac == 0 || !((comma - p == 1 && *p == '0') || frac >= 2)) return 0;
    b->p[comma - s] = '.';
    return 1;
}

int math_equal(const char *gold, const char *pred, const math_opts_t *opts) {
    math_opts_t def;
    if (!opts) {
        math_opts_default(&def);
        opts = &def;
    }
    if (!gold || !pred) return 0;
    size_t lg = strlen(gold), lp = strlen(pred);
    if (lg > RAW_LIMIT || lp > RAW_LIMIT) {
        const char *gb = gold, *ge = gold + lg, *pb = pred, *pe = pred + lp;
        trim_ptrs(&gb, &ge);
        trim_ptrs(&pb, &pe);
        return ge - gb == pe - pb && ge > gb && !memcmp(gb, pb, (size_t)(ge - gb));
    }
    mbuf_t ng, np;
    mbuf_init(&ng, 4 * lg + 256);
    mbuf_init(&np, 4 * lp + 256);
    int fg = 0, fp = 0, result = 0;
    if (math_normalize_buf(gold, lg, &ng, &fg, 0) || math_normalize_buf(pred, lp, &np, &fp, 0)) goto done;
    result = equal_normalized(&ng, fg, &np, fp, opts);
    if (result < 0) {
        /* not math we read: the text, with a "x =" prefix dropped */
        if (math_normalize_buf(gold, lg, &ng, &fg, MNORM_STRIP_LHS) || math_normalize_buf(pred, lp, &np, &fp, MNORM_STRIP_LHS))
            goto done;
        const char *g = ng.p ? ng.p : "", *p = np.p ? np.p : "";
        result = *g && *p && (!strcmp(g, p) || text_eq(g, p));
    }
    /* a decimal comma on either side ("1,22" = 1.22) */
    if (result == 0 && decimal_comma(&ng)) result = equal_normalized(&ng, fg, &np, fp, opts) > 0;
    if (result == 0 && decimal_comma(&np)) result = equal_normalized(&ng, fg, &np, fp, opts) > 0;
done:
    mbuf_free(&ng);
    mbuf_free(&np);
    return result > 0;
}
