/* Answer equivalence (SPECS.md "Outcome reward"): normalized strings, multiple-choice
 * letters, then expression trees compared exactly (rationals), numerically (irrationals,
 * relative tolerance) or at random points (variables); tuples, intervals, sets, matrices
 * and relations are compared element-wise with their bracket semantics. All work is
 * counted against a budget so no input can make a grading slow. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/philox.h"
#include "rewards/math/internal.h"
#include "rewards/math/math.h"

#define MAX_POINTS 16
#define MAX_VARS 16
#define MAX_ELEMS 130
#define RAW_LIMIT (8 * MATH_MAX_ANSWER)

void math_opts_default(math_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->rel_tol = 1e-6;
    o->n_points = 6;
    o->seed = 0x5eed5eedULL;
    o->percent = 0;
    o->mc_letters = 1;
    o->work_cap = 1000000;
}

/* ---- grading context ---- */
typedef struct {
    const math_opts_t *o;
    mtree_t *t[2];
    uint8_t *flags[2]; /* per node: 1 has a variable, 2 has a ±, 4 has a non-exact part */
    const char *vars[MAX_VARS];
    int nvars;
    double pts[MAX_POINTS][MAX_VARS];
    int npts;
    long work;
    int exhausted;
    int taint; /* a constant evaluation overflowed, underflowed or left the domain */
} gctx_t;

enum { F_VAR = 1, F_PM = 2 };

static const mnode_t *ND(const gctx_t *c, int w, int id) { return &c->t[w]->nodes[id]; }
static int KID(const gctx_t *c, int w, int id, int j) { return c->t[w]->kids[c->t[w]->nodes[id].k + j]; }

static int tick(gctx_t *c) {
    if (++c->work > c->o->work_cap) c->exhausted = 1;
    return c->exhausted;
}

static int ev_rat(gctx_t *c, int w, int id, int pm, rat_t *r) {
    if (tick(c)) return -1;
    const mnode_t *nd = ND(c, w, id);
    rat_t a, b;
    switch (nd->kind) {
    case MN_NUM:
        if (nd->den <= 0) return -1;
        r->n = nd->num, r->d = nd->den;
        return 0;
    case MN_ADD:
    case MN_MUL: {
        rat_t acc = {nd->kind == MN_MUL ? 1 : 0, 1};
        for (int j = 0; j < nd->nk; j++) {
            if (ev_rat(c, w, KID(c, w, id, j), pm, &a)) return -1;
            if ((nd->kind == MN_ADD ? rat_add(acc, a, &acc) : rat_mul(acc, a, &acc))) return -1;
        }
        *r = acc;
        return 0;
    }
    case MN_NEG:
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a) || a.n == INT64_MIN) return -1;
        r->n = -a.n, r->d = a.d;
        return 0;
    case MN_INV:
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a) || a.n == 0) return -1;
        return rat_make(a.d, a.n, r);
    case MN_POW:
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a) || ev_rat(c, w, KID(c, w, id, 1), pm, &b)) return -1;
        if (a.n == 0 && b.n <= 0) return -1;
        return rat_pow(a, b, r);
    case MN_FACT: {
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a) || a.d != 1 || a.n < 0 || a.n > 20) return -1;
        int64_t f = 1;
        for (int64_t j = 2; j <= a.n; j++) f *= j;
        r->n = f, r->d = 1;
        return 0;
    }
    case MN_PM:
        if (nd->nk == 1) {
            if (ev_rat(c, w, KID(c, w, id, 0), pm, &a)) return -1;
            a.n = (pm < 0) != (nd->sub == 1) ? -a.n : a.n;
            *r = a;
            return 0;
        }
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a) || ev_rat(c, w, KID(c, w, id, 1), pm, &b)) return -1;
        if ((pm < 0) != (nd->sub == 1)) b.n = -b.n;
        return rat_add(a, b, r);
    case MN_FUNC:
        if (ev_rat(c, w, KID(c, w, id, 0), pm, &a)) return -1;
        switch (nd->sub) {
        case FN_SQRT: return rat_root(a, 2, r);
        case FN_ROOT:
            if (ev_rat(c, w, KID(c, w, id, 1), pm, &b) || b.d != 1 || b.n < 1 || b.n > 64) return -1;
            return rat_root(a, (int)b.n, r);
        case FN_ABS: *r = a, r->n = a.n < 0 ? -a.n : a.n; return 0;
        case FN_FLOOR:
        case FN_CEIL: {
            int64_t q = a.n / a.d;
            if (a.n % a.d != 0) {
                if (nd->sub == FN_FLOOR && a.n < 0) q--;
                if (nd->sub == FN_CEIL && a.n > 0) q++;
            }
            r->n = q, r->d = 1;
            return 0;
        }
        case FN_BINOM: {
            if (ev_rat(c, w, KID(c, w, id, 1), pm, &b) || a.d != 1 || b.d != 1 || a.n < 0 || a.n > 66 || b.n < 0)
                return -1;
            if (b.n > a.n) return r->n = 0, r->d = 1, 0;
            int64_t k = b.n < a.n - b.n ? b.n : a.n - b.n, v = 1;
            for (int64_t j = 1; j <= k; j++) {
                if (__builtin_mul_overflow(v, a.n - k + j, &v)) return -1;
                v /= j;
            }
            r->n = v, r->d = 1;
            return 0;
        }
        default: return -1;
        }
    default: return -1;
    }
}

/* The exact value of a constant subtree beyond int64: literals of any length, + - x /,
 * integer powers (|exponent| <= 4096); -1 for anything else (roots, functions, ±) or past
 * the size cap, so the caller keeps its other comparisons. */
static int ev_big(gctx_t *c, int w, int id, brat_t *r) {
    if (tick(c)) return -1;
    const mnode_t *nd = ND(c, w, id);
    brat_t a;
    switch (nd->kind) {
    case MN_NUM:
        if (nd->den > 0) return brat_from_rat(nd->num, nd->den, r), 0;
        return nd->str > 0 ? brat_from_literal(c->t[w]->str + nd->str - 1, r) : -1;
    case MN_ADD:
    case MN_MUL:
        brat_from_rat(nd->kind == MN_MUL, 1, r);
        for (int j = 0; j < nd->nk; j++)
            if (ev_big(c, w, KID(c, w, id, j), &a) || (nd->kind == MN_ADD ? brat_add(r, &a, r) : brat_mul(r, &a, r)))
                return -1;
        return 0;
    case MN_NEG:
        if (ev_big(c, w, KID(c, w, id, 0), r)) return -1;
        r->n.neg = r->n.n ? !r->n.neg : 0;
        return 0;
    case MN_INV: return ev_big(c, w, KID(c, w, id, 0), &a) ? -1 : brat_inv(&a, r);
    case MN_POW: {
        rat_t e;
        if (ev_rat(c, w, KID(c, w, id, 1), 0, &e) || e.d != 1 || e.n > 4096 || e.n < -4096) return -1;
        return ev_big(c, w, KID(c, w, id, 0), &a) ? -1 : brat_pow(&a, (long)e.n, r);
    }
    default: return -1;
    }
}

/* Both sides exact beyond int64: 1 equal (or 100x apart with percent), 0 not, -1 unknown. */
static int big_scalar_eq(gctx_t *c, int a, int b) {
    brat_t *x = malloc(4 * sizeof *x), *y = x + 1, *h = x + 2, *t = x + 3;
    int eq = -1;
    if (x && !ev_big(c, 0, a, x) && !ev_big(c, 1, b, y)) {
        eq = brat_eq(x, y);
        brat_from_rat(100, 1, h);
        if (eq == 0 && c->o->percent && !brat_mul(y, h, t) && brat_eq(x, t) == 1) eq = 1;
        if (eq == 0 && c->o->percent && !brat_mul(x, h, t) && brat_eq(t, y) == 1) eq = 1;
    }
    free(x);
    return eq;
}

static double fact_d(double x) {
    if (x < 0 || x != floor(x)) return x > -1 ? tgamma(x + 1) : NAN;
    if (x > 170) return INFINITY;
    return tgamma(x + 1);
}

static double ev_dbl(gctx_t *c, int w, int id, int pt, int pm);

static double ev_node(gctx_t *c, int w, int id, int pt, int pm) {
    const mnode_t *nd = ND(c, w, id);
    double a, b;
    switch (nd->kind) {
    case MN_NUM: return nd->val;
    case MN_VAR: return nd->aux >= 0 && nd->aux < c->nvars ? c->pts[pt][nd->aux] : NAN;
    case MN_PI: return M_PI;
    case MN_E: return M_E;
    case MN_INF: return INFINITY;
    case MN_ADD:
    case MN_MUL: {
        double acc = nd->kind == MN_MUL ? 1 : 0;
        int zero = 0;
        for (int j = 0; j < nd->nk; j++) {
            a = ev_dbl(c, w, KID(c, w, id, j), pt, pm);
            zero |= a == 0;
            acc = nd->kind == MN_MUL ? acc * a : acc + a;
        }
        if (nd->kind == MN_MUL && acc == 0 && !zero) c->taint = 1; /* underflow */
        return acc;
    }
    case MN_NEG: return -ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
    case MN_INV: return 1.0 / ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
    case MN_POW: {
        a = ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
        b = ev_dbl(c, w, KID(c, w, id, 1), pt, pm);
        if (a < 0 && b != floor(b)) {
            /* odd roots of negatives: (-8)^(1/3) = -2 */
            double q = 1.0 / b;
            if (fabs(q - round(q)) < 1e-9 && fmod(fabs(round(q)), 2.0) == 1.0) return -pow(-a, b);
            return NAN;
        }
        double v = pow(a, b);
        if (v == 0 && a != 0) c->taint = 1;
        return v;
    }
    case MN_FACT: return fact_d(ev_dbl(c, w, KID(c, w, id, 0), pt, pm));
    case MN_PM: {
        int neg = (pm < 0) != (nd->sub == 1);
        if (nd->nk == 1) {
            a = ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
            return neg ? -a : a;
        }
        a = ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
        b = ev_dbl(c, w, KID(c, w, id, 1), pt, pm);
        return neg ? a - b : a + b;
    }
    case MN_FUNC:
        a = ev_dbl(c, w, KID(c, w, id, 0), pt, pm);
        b = nd->nk > 1 ? ev_dbl(c, w, KID(c, w, id, 1), pt, pm) : 0;
        switch (nd->sub) {
        case FN_SQRT: return sqrt(a);
        case FN_ROOT:
            if (b == floor(b) && a < 0 && fmod(fabs(b), 2.0) == 1.0) return -pow(-a, 1.0 / b);
            return pow(a, 1.0 / b);
        case FN_SIN: return sin(a);
        case FN_COS: return cos(a);
        case FN_TAN: return tan(a);
        case FN_COT: return 1.0 / tan(a);
        case FN_SEC: return 1.0 / cos(a);
        case FN_CSC: return 1.0 / sin(a);
        case FN_ASIN: return asin(a);
        case FN_ACOS: return acos(a);
        case FN_ATAN: return atan(a);
        case FN_ARCCOT: return atan(1.0 / a);
        case FN_SINH: return sinh(a);
        case FN_COSH: return cosh(a);
        case FN_TANH: return tanh(a);
        case FN_LN:
        case FN_LOG: return log(a);
        case FN_LOGB: return log(a) / log(b);
        case FN_EXP: {
            double v = exp(a);
            if (v == 0) c->taint = 1;
            return v;
        }
        case FN_ABS: return fabs(a);
        case FN_FLOOR: return floor(a);
        case FN_CEIL: return ceil(a);
        case FN_BINOM: return fact_d(a) / (fact_d(b) * fact_d(a - b));
        case FN_GCD:
        case FN_LCM: {
            if (a != floor(a) || b != floor(b) || fabs(a) > 1e15 || fabs(b) > 1e15) return NAN;
            long long x = llabs((long long)a), y = llabs((long long)b), g = x, h = y;
            while (h) {
                long long t = g % h;
                g = h;
                h = t;
            }
            if (nd->sub == FN_GCD) return (double)g;
            return g ? (double)(x / g) * (double)y : 0;
        }
        default: return NAN;
        }
    default: return NAN; /* structures have no scalar value */
    }
}

static double ev_dbl(gctx_t *c, int w, int id, int pt, int pm) {
    if (tick(c)) return NAN;
    double v = ev_node(c, w, id, pt, pm);
    if (!isfinite(v)) c->taint = 1;
    return v;
}

/* Per-node flags, computed in one forward pass: children always precede parents. */
static int compute_flags(gctx_t *c, int w) {
    mtree_t *t = c->t[w];
    uint8_t *f = c->flags[w];
    for (int i = 0; i < t->n_nodes; i++) {
        const mnode_t *nd = &t->nodes[i];
        uint8_t v = 0;
        if (nd->kind == MN_VAR) {
            v |= F_VAR;
            const char *nm = t->str + nd->str;
            int k = 0;
            while (k < c->nvars && strcmp(c->vars[k], nm)) k++;
            if (k == c->nvars) {
                if (c->nvars >= MAX_VARS) return -1;
                c->vars[c->nvars++] = nm;
            }
            t->nodes[i].aux = k;
        }
        if (nd->kind == MN_PM) v |= F_PM;
        for (int j = 0; j < nd->nk; j++) v |= f[t->kids[nd->k + j]];
        f[i] = v;
    }
    return 0;
}

static void make_points(gctx_t *c) {
    c->npts = c->o->n_points < 2 ? 2 : c->o->n_points > MAX_POINTS ? MAX_POINTS : c->o->n_points;
    /* variables are looked up by name, so the same name gets the same value in both answers;
     * most points are positive (sqrt / log domains), the rest have mixed signs so that
     * x and |x| differ */
    for (int p = 0; p < c->npts; p++)
        for (int v = 0; v < c->nvars; v++) {
            rlc_philox_out_t r = rlc_philox4x32((uint32_t)p, (uint32_t)v, 0x6d617468u, 0, (uint32_t)c->o->seed,
                                                (uint32_t)(c->o->seed >> 32));
            double u = rlc_u64_to_unit(r.v[0], r.v[1]);
            double x = 0.3 + 1.9 * u;
            if (p >= (c->npts + 1) / 2 && (r.v[2] & 1)) x = -x;
            c->pts[p][v] = x;
        }
}

static int close_enough(double a, double b, double rel) {
    if (a == b) return 1;
    if (!isfinite(a) || !isfinite(b)) return 0;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= rel * m || d <= 1e-12;
}

static int rat_eq(rat_t a, rat_t b) { return a.n == b.n && a.d == b.d; }

static int canon_eq(gctx_t *c, int a, int b) {
    mbuf_t x, y;
    mbuf_init(&x, 1 << 16);
    mbuf_init(&y, 1 << 16);
    math_tree_print(c->t[0], a, &x);
    math_tree_print(c->t[1], b, &y);
    int eq = !x.failed && !y.failed && x.p && y.p && !strcmp(x.p, y.p);
    mbuf_free(&x);
    mbuf_free(&y);
    return eq;
}

static int is_scalar_kind(int k) { return k <= MN_PM; }

/* Scalars: exact rationals compare exactly; otherwise numbers within rel_tol; with
 * variables, agreement at every random point where both are defined (at least two). */
static int scalar_eq(gctx_t *c, int a, int sa, int b, int sb) {
    int pct = c->o->percent;
    int vars = (c->flags[0][a] | c->flags[1][b]) & F_VAR;
    if (!vars) {
        rat_t ra, rb;
        if (!ev_rat(c, 0, a, sa, &ra) && !ev_rat(c, 1, b, sb, &rb)) {
            if (rat_eq(ra, rb)) return 1;
            rat_t h = {100, 1}, x;
            if (pct && ((!rat_mul(rb, h, &x) && rat_eq(ra, x)) || (!rat_mul(ra, h, &x) && rat_eq(rb, x)))) return 1;
            return 0;
        }
        if (c->exhausted) return 0;
        int big = big_scalar_eq(c, a, b); /* int64 overflowed: exact beyond it when possible */
        if (big >= 0 || c->exhausted) return big > 0;
        c->taint = 0;
        double va = ev_dbl(c, 0, a, 0, sa), vb = ev_dbl(c, 1, b, 0, sb);
        if (c->exhausted) return 0;
        if (c->taint) /* \infty, 1/2004!, 9^9^9^9: values we cannot trust: compare structure */
            return canon_eq(c, a, b);
        double rel = c->o->rel_tol;
        if (close_enough(va, vb, rel)) return 1;
        return pct && (close_enough(va, vb * 100, rel) || close_enough(va * 100, vb, rel));
    }
    int valid = 0;
    for (int p = 0; p < c->npts; p++) {
        double va = ev_dbl(c, 0, a, p, sa), vb = ev_dbl(c, 1, b, p, sb);
        if (c->exhausted) return 0;
        if (isnan(va) || isnan(vb)) continue;
        if (isinf(va) || isinf(vb)) {
            if (va == vb) continue;
            return 0;
        }
        if (!close_enough(va, vb, c->o->rel_tol)) return 0;
        valid++;
    }
    return valid >= 2 ? 1 : canon_eq(c, a, b);
}

/* An equation whose left side is a plain variable ("x = 3" inside a list). */
static int simple_eq(const gctx_t *c, int w, int id) {
    const mnode_t *nd = ND(c, w, id);
    return nd->kind == MN_REL && nd->sub == REL_EQ && nd->nk == 2 && ND(c, w, KID(c, w, id, 0))->kind == MN_VAR;
}

typedef struct {
    int node, sign;
} elem_t;

static int veq(gctx_t *c, int a, int sa, int b, int sb);

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

/* Every element of one side equals some element of the other, both ways. */
static int unordered_eq(gctx_t *c, int a, int b, int same_count) {
    elem_t *ea = malloc(sizeof(elem_t) * MAX_ELEMS * 2);
    if (!ea) return 0;
    elem_t *eb = ea + MAX_ELEMS;
    int na = elems(c, 0, a, ea), nb = elems(c, 1, b, eb);
    int ok = na >= 0 && nb >= 0 && (!same_count || na == nb);
    /* mutual containment: a kept-from-A mask and a kept-from-B mask */
    for (int i = 0; ok && i < na; i++) {
        int hit = 0;
        for (int j = 0; j < nb && !hit && !c->exhausted; j++) {
            hit = veq(c, ea[i].node, ea[i].sign, eb[j].node, eb[j].sign);
        }
        ok = hit;
    }
    for (int j = 0; ok && j < nb; j++) {
        int hit = 0;
        for (int i = 0; i < na && !hit && !c->exhausted; i++) hit = veq(c, ea[i].node, ea[i].sign, eb[j].node, eb[j].sign);
        ok = hit;
    }
    free(ea);
    return ok && !c->exhausted;
}

/* Interval view of an inequality in one variable: x < 3, 1 <= x < 2, 3 > x. Ends are
 * node ids of the tree, or -1 for an infinite end. */
typedef struct {
    int lo, hi, lo_closed, hi_closed;
} ival_t;

static int rel_interval(const gctx_t *c, int w, int id, ival_t *iv) {
    const mnode_t *nd = ND(c, w, id);
    if (nd->kind != MN_REL) return -1;
    int op1 = nd->sub & 15, op2 = nd->sub >> 4;
    if (op1 == REL_EQ || op1 == REL_NE || op2 == REL_EQ || op2 == REL_NE) return -1;
    iv->lo = iv->hi = -1;
    iv->lo_closed = iv->hi_closed = 0;
    if (nd->nk == 2) {
        int l = KID(c, w, id, 0), r = KID(c, w, id, 1);
        int lv = ND(c, w, l)->kind == MN_VAR, rv = ND(c, w, r)->kind == MN_VAR;
        if (lv == rv) return -1;
        int less = op1 == REL_LT || op1 == REL_LE, closed = op1 == REL_LE || op1 == REL_GE;
        if (lv == less) iv->hi = lv ? r : l, iv->hi_closed = closed; /* x < r  or  l > x */
        else iv->lo = lv ? r : l, iv->lo_closed = closed;            /* x > r  or  l < x */
        if (c->flags[w][lv ? r : l] & F_VAR) return -1;
        return 0;
    }
    int a = KID(c, w, id, 0), x = KID(c, w, id, 1), b = KID(c, w, id, 2);
    if (ND(c, w, x)->kind != MN_VAR || ((c->flags[w][a] | c->flags[w][b]) & F_VAR)) return -1;
    int up1 = op1 == REL_LT || op1 == REL_LE, up2 = op2 == REL_LT || op2 == REL_LE;
    if (up1 != up2) return -1;
    if (up1) {
        iv->lo = a, iv->lo_closed = op1 == REL_LE;
        iv->hi = b, iv->hi_closed = op2 == REL_LE;
    } else {
        iv->hi = a, iv->hi_closed = op1 == REL_GE;
        iv->lo = b, iv->lo_closed = op2 == REL_GE;
    }
    return 0;
}

static int tuple_interval(const gctx_t *c, int w, int id, ival_t *iv) {
    const mnode_t *nd = ND(c, w, id);
    if (nd->kind != MN_TUPLE || nd->nk != 2) return -1;
    iv->lo = KID(c, w, id, 0);
    iv->hi = KID(c, w, id, 1);
    iv->lo_closed = (nd->sub >> 4) == BR_SQUARE;
    iv->hi_closed = (nd->sub & 15) == BR_SQUARE;
    return 0;
}

/* Is the end node an infinity of the given sign (-1 / +1)? */
static int is_inf_end(gctx_t *c, int w, int id, int sign) {
    if (id < 0) return 1;
    if (c->flags[w][id] & F_VAR) return 0;
    double v = ev_dbl(c, w, id, 0, 0);
    return isinf(v) && (v > 0) == (sign > 0);
}

static int end_eq(gctx_t *c, int a, int b, int sign) {
    if (a < 0 || b < 0) return is_inf_end(c, 0, a, sign) && is_inf_end(c, 1, b, sign);
    return veq(c, a, 0, b, 0);
}

static int ival_eq(gctx_t *c, const ival_t *x, const ival_t *y) {
    /* an infinite end is open whatever bracket was written */
    int xlo = x->lo_closed && !is_inf_end(c, 0, x->lo, -1), ylo = y->lo_closed && !is_inf_end(c, 1, y->lo, -1);
    int xhi = x->hi_closed && !is_inf_end(c, 0, x->hi, 1), yhi = y->hi_closed && !is_inf_end(c, 1, y->hi, 1);
    return xlo == ylo && xhi == yhi && end_eq(c, x->lo, y->lo, -1) && end_eq(c, x->hi, y->hi, 1);
}

/* Equations a = b and c = d are the same when a - b and c - d are proportional. */
static int equation_eq(gctx_t *c, int a, int b) {
    int la = KID(c, 0, a, 0), ra = KID(c, 0, a, 1), lb = KID(c, 1, b, 0), rb = KID(c, 1, b, 1);
    if (veq(c, la, 0, lb, 0) && veq(c, ra, 0, rb, 0)) return 1;
    if (veq(c, la, 0, rb, 0) && veq(c, ra, 0, lb, 0)) return 1;
    double ratio = NAN;
    int valid = 0;
    for (int p = 0; p < c->npts; p++) {
        double da = ev_dbl(c, 0, la, p, 0) - ev_dbl(c, 0, ra, p, 0);
        double db = ev_dbl(c, 1, lb, p, 0) - ev_dbl(c, 1, rb, p, 0);
        if (c->exhausted) return 0;
        if (!isfinite(da) || !isfinite(db)) continue;
        if (fabs(db) < 1e-12 || fabs(da) < 1e-12) {
            if (fabs(db) < 1e-12 && fabs(da) < 1e-12) continue;
            return 0;
        }
        double r = da / db;
        if (valid && !close_enough(r, ratio, 1e-6)) return 0;
        ratio = r;
        valid++;
    }
    return valid >= 2;
}

static int veq(gctx_t *c, int a, int sa, int b, int sb) {
    if (tick(c)) return 0;
    const mnode_t *x = ND(c, 0, a), *y = ND(c, 1, b);
    int kx = x->kind, ky = y->kind;
    /* x = 3 inside lists: names must agree when both sides name the variable */
    int sx = simple_eq(c, 0, a), sy = simple_eq(c, 1, b);
    if (sx && sy) {
        const char *nx = c->t[0]->str + ND(c, 0, KID(c, 0, a, 0))->str;
        const char *ny = c->t[1]->str + ND(c, 1, KID(c, 1, b, 0))->str;
        return !strcmp(nx, ny) && veq(c, KID(c, 0, a, 1), sa, KID(c, 1, b, 1), sb);
    }
    if (sx && ky != MN_REL) return veq(c, KID(c, 0, a, 1), sa, b, sb);
    if (sy && kx != MN_REL) return veq(c, a, sa, KID(c, 1, b, 1), sb);
    int xs = is_scalar_kind(kx), ys = is_scalar_kind(ky);
    /* a ± b at this level is the two-element set {a + b, a - b} */
    int xpm = xs && sa == 0 && (c->flags[0][a] & F_PM), ypm = ys && sb == 0 && (c->flags[1][b] & F_PM);
    if (xpm || ypm) {
        if ((xs || kx == MN_LIST || kx == MN_SET) && (ys || ky == MN_LIST || ky == MN_SET))
            return unordered_eq(c, a, b, 0);
        return 0;
    }
    if (xs && ys) return scalar_eq(c, a, sa, b, sb);
    /* a one-element set or list against a scalar */
    if ((kx == MN_SET || kx == MN_LIST) && x->nk == 1 && ys) return veq(c, KID(c, 0, a, 0), sa, b, sb);
    if ((ky == MN_SET || ky == MN_LIST) && y->nk == 1 && xs) return veq(c, a, sa, KID(c, 1, b, 0), sb);
    if (kx == MN_TUPLE && ky == MN_TUPLE) {
        if (x->sub != y->sub || x->nk != y->nk) return 0;
        for (int j = 0; j < x->nk; j++)
            if (!veq(c, KID(c, 0, a, j), 0, KID(c, 1, b, j), 0)) return 0;
        return 1;
    }
    /* an ordered pair written without parentheses: "(1, 2)" vs "1, 2" */
    if ((kx == MN_TUPLE && ky == MN_LIST && x->sub == (BR_PAREN << 4 | BR_PAREN)) ||
        (ky == MN_TUPLE && kx == MN_LIST && y->sub == (BR_PAREN << 4 | BR_PAREN))) {
        if (x->nk != y->nk) return 0;
        for (int j = 0; j < x->nk; j++)
            if (!veq(c, KID(c, 0, a, j), 0, KID(c, 1, b, j), 0)) return 0;
        return 1;
    }
    if ((kx == MN_SET || kx == MN_LIST) && (ky == MN_SET || ky == MN_LIST))
        return unordered_eq(c, a, b, kx == MN_LIST && ky == MN_LIST);
    if (kx == MN_UNION && ky == MN_UNION) return unordered_eq(c, a, b, 1);
    if (kx == MN_MATRIX && ky == MN_MATRIX) {
        if (x->aux != y->aux || x->nk != y->nk) return 0;
        for (int j = 0; j < x->nk; j++)
            if (!veq(c, KID(c, 0, a, j), 0, KID(c, 1, b, j), 0)) return 0;
        return 1;
    }
    if (kx == MN_REL || ky == MN_REL) {
        ival_t ix, iy;
        int okx = kx == MN_REL ? rel_interval(c, 0, a, &ix) : tuple_interval(c, 0, a, &ix);
        int oky = ky == MN_REL ? rel_interval(c, 1, b, &iy) : tuple_interval(c, 1, b, &iy);
        if (okx == 0 && oky == 0) {
            if (kx == MN_REL && ky == MN_REL) {
                /* same variable on both sides */
                int vx = -1, vy = -1;
                for (int j = 0; j < x->nk; j++)
                    if (ND(c, 0, KID(c, 0, a, j))->kind == MN_VAR) vx = KID(c, 0, a, j);
                for (int j = 0; j < y->nk; j++)
                    if (ND(c, 1, KID(c, 1, b, j))->kind == MN_VAR) vy = KID(c, 1, b, j);
                if (vx < 0 || vy < 0 || strcmp(c->t[0]->str + ND(c, 0, vx)->str, c->t[1]->str + ND(c, 1, vy)->str))
                    return 0;
            }
            return ival_eq(c, &ix, &iy);
        }
        if (kx == MN_REL && ky == MN_REL && x->nk == 2 && y->nk == 2) {
            if (x->sub == REL_EQ && y->sub == REL_EQ) return equation_eq(c, a, b);
            if (x->sub == REL_NE && y->sub == REL_NE) return equation_eq(c, a, b);
        }
        return 0;
    }
    return 0;
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
    gwork_t *wk = NULL;
    if (math_normalize_buf(gold, lg, &ng, &fg) || math_normalize_buf(pred, lp, &np, &fp)) goto done;
    const char *g = ng.p ? ng.p : "", *p = np.p ? np.p : "";
    if (!*p || !*g) goto done;
    if (!strcmp(g, p)) {
        result = 1;
        goto done;
    }
    if (opts->mc_letters) {
        char gl = mc_letter(g, 1);
        if (gl) {
            result = mc_letter(p, 0) == gl;
            goto done;
        }
    }
    wk = malloc(sizeof *wk);
    if (!wk) goto done;
    int okg = math_parse(g, ng.len, &wk->t[0]) == 0;
    int okp = okg && math_parse(p, np.len, &wk->t[1]) == 0;
    if (okg && okp) {
        gctx_t c;
        memset(&c, 0, sizeof c);
        c.o = opts;
        c.t[0] = &wk->t[0];
        c.t[1] = &wk->t[1];
        c.flags[0] = wk->flags[0];
        c.flags[1] = wk->flags[1];
        if (compute_flags(&c, 0) == 0 && compute_flags(&c, 1) == 0) {
            make_points(&c);
            result = veq(&c, wk->t[0].root, 0, wk->t[1].root, 0) && !c.exhausted;
        }
        goto done;
    }
    result = text_eq(g, p);
done:
    free(wk);
    mbuf_free(&ng);
    mbuf_free(&np);
    return result;
}

int math_grade(const char *gold, const char *solution, int flags, const math_opts_t *o, char *extracted, size_t cap) {
    char buf[MATH_MAX_ANSWER + 1];
    char *out = extracted && cap ? extracted : buf;
    size_t ocap = extracted && cap ? cap : sizeof buf;
    int rc = math_extract_answer(solution, out, ocap, flags);
    if (rc <= 0) {
        out[0] = 0;
        return 0;
    }
    return math_equal(gold, out, o);
}

int math_majority(const char *const *answers, int n, const math_opts_t *o, int *count) {
    if (count) *count = 0;
    if (!answers || n <= 0) return -1;
    if (n > 4096) n = 4096;
    int *rep = malloc(sizeof(int) * (size_t)n * 2); /* cluster representative, cluster size */
    if (!rep) return -1;
    int *size = rep + n, nc = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i] || !answers[i][0]) continue;
        int k = 0;
        while (k < nc && !math_equal(answers[rep[k]], answers[i], o)) k++;
        if (k == nc) rep[nc] = i, size[nc++] = 0;
        size[k]++;
    }
    int best = -1, bs = 0;
    for (int k = 0; k < nc; k++)
        if (size[k] > bs) best = rep[k], bs = size[k];
    free(rep);
    if (count) *count = bs;
    return best;
}
