/* Relations in answers: labels ("(p,q) = (3,2)" states (3,2)), chains and approximations
 * (what value an answer states), inequalities in one variable read as intervals (linear ones
 * solved: "-x > -1" is x < 1; "0 < f(x) < 1" is (0, 1)), and equations compared up to a
 * factor ("2x+4y-3=0" is "y = -x/2 + 3/4"). */
#include <math.h>
#include <string.h>

#include "rewards/math/gctx.h"

static int rel_op_at(const mnode_t *nd, int j) {
    if (nd->nk > 3) return REL_EQ;
    return j == 0 ? nd->sub & 15 : nd->sub >> 4;
}

static int all_eq(const mnode_t *nd) {
    if (nd->kind != MN_REL) return 0;
    for (int j = 0; j + 1 < nd->nk; j++)
        if (rel_op_at(nd, j) != REL_EQ) return 0;
    return 1;
}

static int label_walk(const gctx_t *c, int w, int id, int *vars) {
    const mnode_t *nd = ND(c, w, id);
    switch (nd->kind) {
    case MN_VAR:
        if (!strcmp(c->t[w]->str + nd->str, "...")) return 0;
        (*vars)++;
        return 1;
    case MN_MUL:
    case MN_INV:
    case MN_TUPLE: break;
    case MN_FUNC:
        if (nd->sub != FN_ABS) return 0;
        break;
    default: return 0;
    }
    for (int j = 0; j < nd->nk; j++)
        if (!label_walk(c, w, KID(c, w, id, j), vars)) return 0;
    return 1;
}

int g_is_label(const gctx_t *c, int w, int id) {
    int vars = 0;
    return label_walk(c, w, id, &vars) && vars > 0;
}

int g_stated_value(const gctx_t *c, int w, int id) {
    for (int guard = 0; guard < 4; guard++) {
        const mnode_t *nd = ND(c, w, id);
        if (nd->kind != MN_REL) return id;
        if (nd->nk == 2 && nd->sub == REL_APPROX) {
            id = g_is_label(c, w, KID(c, w, id, 0)) ? KID(c, w, id, 1) : KID(c, w, id, 0);
            continue;
        }
        if (c->o->chains && nd->nk >= 3 && all_eq(nd) && !g_is_label(c, w, KID(c, w, id, 0))) {
            id = KID(c, w, id, nd->nk - 1);
            continue;
        }
        return id;
    }
    return id;
}

int g_assignment(const gctx_t *c, int w, int id, int *label, int *value) {
    const mnode_t *nd = ND(c, w, id);
    if (!all_eq(nd) || (nd->nk > 2 && !c->o->chains)) return 0;
    if (!g_is_label(c, w, KID(c, w, id, 0))) return 0;
    *label = KID(c, w, id, 0);
    *value = KID(c, w, id, nd->nk - 1);
    return 1;
}

/* ---- inequalities as intervals ---- */

/* An interval's end: a node of the tree, a number worked out from a linear relation, or
 * infinite (none). */
typedef struct {
    int node;   /* -1: see num */
    int is_num; /* the end is `val` */
    double val;
    int closed;
} iend_t;

typedef struct {
    iend_t lo, hi;
    int var; /* the node naming the variable (a label), -1 for a written interval */
} ival_t;

static iend_t node_end(int node, int closed) { return (iend_t){node, 0, 0, closed}; }
static iend_t no_end(void) { return (iend_t){-1, 0, 0, 0}; }

/* The one variable of a subtree (its index in c->vars and a node naming it): 1 found, 0 no
 * variable, -1 two or more. */
static int one_var(const gctx_t *c, int w, int id, int *aux, int *node) {
    const mnode_t *nd = ND(c, w, id);
    if (nd->kind == MN_VAR) {
        if (*aux >= 0 && *aux != nd->aux) return -1;
        *aux = nd->aux, *node = id;
        return 1;
    }
    int found = 0;
    for (int j = 0; j < nd->nk; j++) {
        int r = one_var(c, w, KID(c, w, id, j), aux, node);
        if (r < 0) return -1;
        found |= r;
    }
    return found;
}

/* l - r at variable value t (all other variables 0). */
static double diff_at(gctx_t *c, int w, int l, int r, int aux, double t) {
    for (int v = 0; v < c->nvars; v++) c->pts[SCRATCH_POINT][v] = 0;
    c->pts[SCRATCH_POINT][aux] = t;
    return g_eval(c, w, l, SCRATCH_POINT, 0) - g_eval(c, w, r, SCRATCH_POINT, 0);
}

/* "l op r" linear in one variable v: solved for v ("-x > -1" -> x < 1). 0, or -1. */
static int linear_interval(gctx_t *c, int w, int l, int r, int op, ival_t *iv) {
    int aux = -1, node = -1;
    if (one_var(c, w, l, &aux, &node) < 0 || one_var(c, w, r, &aux, &node) < 0 || aux < 0) return -1;
    double d0 = diff_at(c, w, l, r, aux, 0), d1 = diff_at(c, w, l, r, aux, 1);
    double d2 = diff_at(c, w, l, r, aux, 2), dm = diff_at(c, w, l, r, aux, -1.5);
    double a = d1 - d0;
    if (!isfinite(a) || fabs(a) < 1e-12 || !g_close(d2 - d1, a, 1e-9) || !g_close(dm, d0 - 1.5 * a, 1e-9)) return -1;
    double root = -d0 / a;
    if (fabs(root) < 1e-15) root = 0;
    int less = op == REL_LT || op == REL_LE, closed = op == REL_LE || op == REL_GE;
    if (a < 0) less = !less; /* a v + b < 0 with a < 0: v > -b/a */
    iend_t e = {-1, 1, root, closed};
    iv->lo = less ? no_end() : e;
    iv->hi = less ? e : no_end();
    iv->var = node;
    return 0;
}

static int rel_interval(gctx_t *c, int w, int id, ival_t *iv) {
    const mnode_t *nd = ND(c, w, id);
    if (nd->kind != MN_REL || nd->nk > 3) return -1;
    int op1 = rel_op_at(nd, 0), op2 = nd->nk == 3 ? rel_op_at(nd, 1) : REL_LT;
    int bad1 = op1 == REL_EQ || op1 == REL_NE || op1 == REL_APPROX, bad2 = op2 == REL_EQ || op2 == REL_NE || op2 == REL_APPROX;
    if (bad1 || bad2) return -1;
    if (nd->nk == 2) {
        int l = KID(c, w, id, 0), r = KID(c, w, id, 1);
        int lv = g_is_label(c, w, l) && !(c->flags[w][r] & F_VAR), rv = g_is_label(c, w, r) && !(c->flags[w][l] & F_VAR);
        if (!lv && !rv) return linear_interval(c, w, l, r, op1, iv);
        int less = op1 == REL_LT || op1 == REL_LE, closed = op1 == REL_LE || op1 == REL_GE;
        iend_t e = node_end(lv ? r : l, closed);
        if (lv == less) iv->hi = e, iv->lo = no_end(); /* x < r  or  l > x */
        else iv->lo = e, iv->hi = no_end();            /* x > r  or  l < x */
        iv->var = lv ? l : r;
        return 0;
    }
    int a = KID(c, w, id, 0), x = KID(c, w, id, 1), b = KID(c, w, id, 2);
    if (!g_is_label(c, w, x) || ((c->flags[w][a] | c->flags[w][b]) & F_VAR)) return -1;
    int up1 = op1 == REL_LT || op1 == REL_LE, up2 = op2 == REL_LT || op2 == REL_LE;
    if (up1 != up2) return -1;
    if (up1) iv->lo = node_end(a, op1 == REL_LE), iv->hi = node_end(b, op2 == REL_LE);
    else iv->hi = node_end(a, op1 == REL_GE), iv->lo = node_end(b, op2 == REL_GE);
    iv->var = x;
    return 0;
}

static int tuple_interval(const gctx_t *c, int w, int id, ival_t *iv) {
    const mnode_t *nd = ND(c, w, id);
    if (nd->kind != MN_TUPLE || nd->nk != 2) return -1;
    iv->lo = node_end(KID(c, w, id, 0), (nd->sub >> 4) == BR_SQUARE);
    iv->hi = node_end(KID(c, w, id, 1), (nd->sub & 15) == BR_SQUARE);
    iv->var = -1;
    return 0;
}

/* Is the end infinite with the given sign (-1 / +1)? A missing end is. */
static int is_inf_end(gctx_t *c, int w, const iend_t *e, int sign) {
    if (e->is_num) return 0;
    if (e->node < 0) return 1;
    if (c->flags[w][e->node] & F_VAR) return 0;
    double v = g_eval(c, w, e->node, 0, 0);
    return isinf(v) && (v > 0) == (sign > 0);
}

static int end_eq(gctx_t *c, const iend_t *x, const iend_t *y, int sign) {
    int ix = is_inf_end(c, 0, x, sign), iy = is_inf_end(c, 1, y, sign);
    if (ix || iy) return ix && iy;
    if (!x->is_num && !y->is_num) return g_veq(c, x->node, 0, y->node, 0);
    if ((!x->is_num && (c->flags[0][x->node] & F_VAR)) || (!y->is_num && (c->flags[1][y->node] & F_VAR))) return 0;
    double vx = x->is_num ? x->val : g_eval(c, 0, x->node, 0, 0);
    double vy = y->is_num ? y->val : g_eval(c, 1, y->node, 0, 0);
    return g_close(vx, vy, 1e-9);
}

static int ival_eq(gctx_t *c, const ival_t *x, const ival_t *y) {
    /* an infinite end is open whatever bracket was written */
    int xlo = x->lo.closed && !is_inf_end(c, 0, &x->lo, -1), ylo = y->lo.closed && !is_inf_end(c, 1, &y->lo, -1);
    int xhi = x->hi.closed && !is_inf_end(c, 0, &x->hi, 1), yhi = y->hi.closed && !is_inf_end(c, 1, &y->hi, 1);
    return xlo == ylo && xhi == yhi && end_eq(c, &x->lo, &y->lo, -1) && end_eq(c, &x->hi, &y->hi, 1);
}

/* Equations a = b and c = d are the same when a - b and c - d are proportional. */
static int equation_eq(gctx_t *c, int a, int b) {
    int la = KID(c, 0, a, 0), ra = KID(c, 0, a, 1), lb = KID(c, 1, b, 0), rb = KID(c, 1, b, 1);
    if (g_veq(c, la, 0, lb, 0) && g_veq(c, ra, 0, rb, 0)) return 1;
    if (g_veq(c, la, 0, rb, 0) && g_veq(c, ra, 0, lb, 0)) return 1;
    double ratio = NAN;
    int valid = 0;
    for (int p = 0; p < c->npts; p++) {
        double da = g_eval(c, 0, la, p, 0) - g_eval(c, 0, ra, p, 0);
        double db = g_eval(c, 1, lb, p, 0) - g_eval(c, 1, rb, p, 0);
        if (c->exhausted) return 0;
        if (!isfinite(da) || !isfinite(db)) continue;
        if (fabs(db) < 1e-12 || fabs(da) < 1e-12) {
            if (fabs(db) < 1e-12 && fabs(da) < 1e-12) continue;
            return 0;
        }
        double r = da / db;
        if (valid && !g_close(r, ratio, 1e-6)) return 0;
        ratio = r;
        valid++;
    }
    return valid >= 2;
}

int g_relation_eq(gctx_t *c, int a, int b) {
    const mnode_t *x = ND(c, 0, a), *y = ND(c, 1, b);
    int kx = x->kind, ky = y->kind;
    if (kx != MN_REL && ky != MN_REL) return -1;
    ival_t ix, iy;
    int okx = kx == MN_REL ? rel_interval(c, 0, a, &ix) : tuple_interval(c, 0, a, &ix);
    int oky = ky == MN_REL ? rel_interval(c, 1, b, &iy) : tuple_interval(c, 1, b, &iy);
    if (okx == 0 && oky == 0) {
        /* two inequalities: in the same variable */
        if (ix.var >= 0 && iy.var >= 0 && !g_canon_eq(c, ix.var, iy.var)) return 0;
        return ival_eq(c, &ix, &iy);
    }
    if (kx != MN_REL || ky != MN_REL) return 0;
    if (x->nk == 2 && y->nk == 2) {
        if (x->sub == REL_EQ && y->sub == REL_EQ) return equation_eq(c, a, b);
        if (x->sub == REL_NE && y->sub == REL_NE) return equation_eq(c, a, b);
        return 0;
    }
    /* chains read as written (chains option off): side by side */
    if (x->nk != y->nk || x->sub != y->sub) return 0;
    for (int j = 0; j < x->nk; j++)
        if (!g_veq(c, KID(c, 0, a, j), 0, KID(c, 1, b, j), 0)) return 0;
    return 1;
}
