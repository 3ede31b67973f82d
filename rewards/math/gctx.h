/* The grading context shared by the stages of math_equal: value.c (evaluating and comparing
 * scalars), relation.c (labels, equations, inequalities as intervals) and equal.c (the
 * structural comparison). Tree 0 is the gold answer, tree 1 the prediction. */
#pragma once
#include <stdint.h>

#include "rewards/math/internal.h"
#include "rewards/math/math.h"

#define MAX_POINTS 16
#define MAX_VARS 16
#define SCRATCH_POINT MAX_POINTS /* a point the relation code sets by hand */

typedef struct {
    const math_opts_t *o;
    mtree_t *t[2];
    uint8_t *flags[2]; /* per node: F_VAR has a variable, F_PM has a ± */
    int pct[2];        /* the answer was written with a percent sign */
    const char *vars[MAX_VARS];
    int nvars;
    double pts[MAX_POINTS + 1][MAX_VARS];
    int npts;
    long work;
    int exhausted;
    int taint; /* a constant evaluation overflowed, underflowed or left the domain */
} gctx_t;

enum { F_VAR = 1, F_PM = 2 };

static inline const mnode_t *ND(const gctx_t *c, int w, int id) { return &c->t[w]->nodes[id]; }
static inline int KID(const gctx_t *c, int w, int id, int j) { return c->t[w]->kids[c->t[w]->nodes[id].k + j]; }
static inline int is_scalar_kind(int k) { return k <= MN_PM; }

/* value.c */
int g_tick(gctx_t *c); /* one unit of work; 1 when the budget is spent */
double g_eval(gctx_t *c, int w, int id, int pt, int pm);
int g_close(double a, double b, double rel);
int g_canon_eq(gctx_t *c, int a, int b); /* same canonical text (tree 0 node a, tree 1 node b) */
int g_scalar_eq(gctx_t *c, int a, int sa, int b, int sb);
int g_prepare(gctx_t *c); /* per-node flags and the random points; -1 when too many variables */

/* relation.c */
/* Is node id of tree w a label (variables combined without numbers: x, AB, (p,q), f(x),
 * V_1:V_2, |AB|, \frac{NO}{BO})? */
int g_is_label(const gctx_t *c, int w, int id);
/* The value an answer states, or id itself: a chain a = b = c gives c (chains option),
 * "label \approx v" gives v, "e \approx v" gives e. */
int g_stated_value(const gctx_t *c, int w, int id);
/* "label = value" (also a chain whose first side is a label): 1 with *label and *value. */
int g_assignment(const gctx_t *c, int w, int id, int *label, int *value);
/* Relations or intervals compared as sets of values / as equations: 1 equal, 0 not, -1 when
 * neither side is a relation this code reads. */
int g_relation_eq(gctx_t *c, int a, int b);

/* equal.c */
int g_veq(gctx_t *c, int a, int sa, int b, int sb);
