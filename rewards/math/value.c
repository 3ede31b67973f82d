/* Values of answers: exact rationals (int64, then any size), floating point at random
 * points for expressions with variables, and the scalar comparison built on them (exact when
 * both sides are exact, relative tolerance otherwise, percents by the options). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "rewards/math/gctx.h"

int g_tick(gctx_t *c) {
    if (++c->work > c->o->work_cap) c->exhausted = 1;
    return c->exhausted;
}

static int ev_rat(gctx_t *c, int w, int id, int pm, rat_t *r) {
    if (g_tick(c)) return -1;
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
    if (g_tick(c)) return -1;
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

/* May gold be 100 x pred (up = 1: gold is "28%", pred 0.28), or pred 100 x gold (up = 0)?
 * With a percent sign on one side only (unless percent_strict), or always with `percent`. */
static int pct_ok(const gctx_t *c, int up) {
    if (c->o->percent) return 1;
    if (c->o->percent_strict) return 0;
    return up ? c->pct[0] && !c->pct[1] : c->pct[1] && !c->pct[0];
}

/* Both sides exact beyond int64: 1 equal (or 100x apart with percent), 0 not, -1 unknown. */
static int big_scalar_eq(gctx_t *c, int a, int b) {
    brat_t *x = malloc(4 * sizeof *x), *y = x + 1, *h = x + 2, *t = x + 3;
    int eq = -1;
    if (x && !ev_big(c, 0, a, x) && !ev_big(c, 1, b, y)) {
        eq = brat_eq(x, y);
        brat_from_rat(100, 1, h);
        if (eq == 0 && pct_ok(c, 1) && !brat_mul(y, h, t) && brat_eq(x, t) == 1) eq = 1;
        if (eq == 0 && pct_ok(c, 0) && !brat_mul(x, h, t) && brat_eq(t, y) == 1) eq = 1;
    }
    free(x);
    return eq;
}

static double fact_d(double x) {
    if (x < 0 || x != floor(x)) return x > -1 ? tgamma(x + 1) : NAN;
    if (x > 170) return INFINITY;
    return tgamma(x + 1);
}


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
            a = g_eval(c, w, KID(c, w, id, j), pt, pm);
            zero |= a == 0;
            acc = nd->kind == MN_MUL ? acc * a : acc + a;
        }
        if (nd->kind == MN_MUL && acc == 0 && !zero) c->taint = 1; /* underflow */
        return acc;
    }
    case MN_NEG: return -g_eval(c, w, KID(c, w, id, 0), pt, pm);
    case MN_INV: return 1.0 / g_eval(c, w, KID(c, w, id, 0), pt, pm);
    case MN_POW: {
        a = g_eval(c, w, KID(c, w, id, 0), pt, pm);
        b = g_eval(c, w, KID(c, w, id, 1), pt, pm);
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
    case MN_FACT: return fact_d(g_eval(c, w, KID(c, w, id, 0), pt, pm));
    case MN_PM: {
        int neg = (pm < 0) != (nd->sub == 1);
        if (nd->nk == 1) {
            a = g_eval(c, w, KID(c, w, id, 0), pt, pm);
            return neg ? -a : a;
        }
        a = g_eval(c, w, KID(c, w, id, 0), pt, pm);
        b = g_eval(c, w, KID(c, w, id, 1), pt, pm);
        return neg ? a - b : a + b;
    }
    case MN_FUNC:
        a = g_eval(c, w, KID(c, w, id, 0), pt, pm);
        b = nd->nk > 1 ? g_eval(c, w, KID(c, w, id, 1), pt, pm) : 0;
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

double g_eval(gctx_t *c, int w, int id, int pt, int pm) {
    if (g_tick(c)) return NAN;
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

int g_close(double a, double b, double rel) {
    if (a == b) return 1;
    if (!isfinite(a) || !isfinite(b)) return 0;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= rel * m || d <= 1e-12;
}

static int rat_eq(rat_t a, rat_t b) { return a.n == b.n && a.d == b.d; }

int g_canon_eq(gctx_t *c, int a, int b) {
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

/* Scalars: exact rationals compare exactly; otherwise numbers within rel_tol; with
 * variables, agreement at every random point where both are defined (at least two). */
int g_scalar_eq(gctx_t *c, int a, int sa, int b, int sb) {
    int up = pct_ok(c, 1), down = pct_ok(c, 0);
    int vars = (c->flags[0][a] | c->flags[1][b]) & F_VAR;
    if (!vars) {
        rat_t ra, rb;
        if (!ev_rat(c, 0, a, sa, &ra) && !ev_rat(c, 1, b, sb, &rb)) {
            if (rat_eq(ra, rb)) return 1;
            rat_t h = {100, 1}, x;
            if ((up && !rat_mul(rb, h, &x) && rat_eq(ra, x)) || (down && !rat_mul(ra, h, &x) && rat_eq(rb, x))) return 1;
            return 0;
        }
        if (c->exhausted) return 0;
        int big = big_scalar_eq(c, a, b); /* int64 overflowed: exact beyond it when possible */
        if (big >= 0 || c->exhausted) return big > 0;
        c->taint = 0;
        double va = g_eval(c, 0, a, 0, sa), vb = g_eval(c, 1, b, 0, sb);
        if (c->exhausted) return 0;
        if (c->taint) /* \infty, 1/2004!, 9^9^9^9: values we cannot trust: compare structure */
            return g_canon_eq(c, a, b);
        double rel = c->o->rel_tol;
        if (g_close(va, vb, rel)) return 1;
        return (up && g_close(va, vb * 100, rel)) || (down && g_close(va * 100, vb, rel));
    }
    int valid = 0;
    for (int p = 0; p < c->npts; p++) {
        double va = g_eval(c, 0, a, p, sa), vb = g_eval(c, 1, b, p, sb);
        if (c->exhausted) return 0;
        if (isnan(va) || isnan(vb)) continue;
        if (isinf(va) || isinf(vb)) {
            if (va == vb) continue;
            return 0;
        }
        if (!g_close(va, vb, c->o->rel_tol)) return 0;
        valid++;
    }
    return valid >= 2 ? 1 : g_canon_eq(c, a, b);
}

int g_prepare(gctx_t *c) {
    if (compute_flags(c, 0) || compute_flags(c, 1)) return -1;
    make_points(c);
    return 0;
}
