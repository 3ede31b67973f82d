/* Canonical text of an expression tree (sums and products with sorted operands): how the
 * grader compares values too large or too small to evaluate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "rewards/math/internal.h"

static void print_num(const mnode_t *nd, mbuf_t *o) {
    char tmp[64];
    if (nd->den > 0) snprintf(tmp, sizeof tmp, "%lld/%lld", (long long)nd->num, (long long)nd->den);
    else snprintf(tmp, sizeof tmp, "%.17g", nd->val);
    mbuf_puts(o, tmp);
}

void math_tree_print(const mtree_t *t, int node, mbuf_t *o) {
    if (node < 0 || o->failed) return;
    const mnode_t *nd = &t->nodes[node];
    const int32_t *kids = t->kids + nd->k;
    char head[32];
    switch (nd->kind) {
    case MN_NUM: print_num(nd, o); return;
    case MN_VAR: mbuf_puts(o, t->str + nd->str); return;
    case MN_PI: mbuf_puts(o, "pi"); return;
    case MN_E: mbuf_puts(o, "e"); return;
    case MN_INF: mbuf_puts(o, "oo"); return;
    default: break;
    }
    snprintf(head, sizeof head, "%d.%d(", nd->kind, nd->sub);
    mbuf_puts(o, head);
    int commutative = nd->kind == MN_ADD || nd->kind == MN_MUL || nd->kind == MN_SET;
    if (commutative && nd->nk > 1) {
        char **parts = calloc((size_t)nd->nk, sizeof *parts);
        if (!parts) {
            o->failed = 1;
            return;
        }
        for (int j = 0; j < nd->nk; j++) {
            mbuf_t sub;
            mbuf_init(&sub, o->limit);
            math_tree_print(t, kids[j], &sub);
            if (sub.failed || !sub.p) o->failed = 1;
            parts[j] = sub.p;
        }
        if (!o->failed) {
            qsort(parts, (size_t)nd->nk, sizeof *parts, rlc_cmp_str);
            for (int j = 0; j < nd->nk; j++) {
                if (j) mbuf_putc(o, ',');
                mbuf_puts(o, parts[j]);
            }
        }
        for (int j = 0; j < nd->nk; j++) free(parts[j]);
        free(parts);
    } else {
        for (int j = 0; j < nd->nk; j++) {
            if (j) mbuf_putc(o, ',');
            math_tree_print(t, kids[j], o);
        }
    }
    mbuf_putc(o, ')');
}
