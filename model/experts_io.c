/* Mixture-of-experts weights in transformers 5's fused layout: a sparse layer's experts as two
 * stacked tensors, mlp.experts.gate_up_proj [E, 2I, C] (each expert's gate rows, then its up
 * rows) and mlp.experts.down_proj [E, C, I], instead of per-expert gate_proj/up_proj/down_proj.
 * It is the only layout transformers reads for a family with no checkpoint conversion (Mistral
 * 4). A checkpoint in it is read as per-expert views of the same bytes (the parameter table
 * keeps one name per expert projection; an FP8 checkpoint's stacked scales are split alike) and
 * saved back in it; a new model of such a family is written in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/model.h"

int rlc_experts_native_fused(const rlc_model_config_t *c) {
    return c->layer_moe && !strcmp(c->model_type, "mistral4");
}

static void expert_name(const rlc_model_config_t *c, char *out, size_t cap, int l, int e, int k) {
    static const char *const names[2][3] = {{"gate_proj", "up_proj", "down_proj"}, {"w1", "w3", "w2"}};
    snprintf(out, cap, "model.layers.%d.%s.experts.%d.%s.weight", l, c->moe_naming ? "block_sparse_moe" : "mlp", e,
             names[c->moe_naming][k]);
}

/* Tensor `name` of layer l split into its experts' parts of `rows` rows each (gate_up: each
 * expert's gate, then its up), named as the table's tensors plus `suffix`. */
static int unstack(const rlc_model_config_t *c, rlc_st_t *st, const char *name, int l, int down, int64_t rows,
                   const char *suffix, const char *dir) {
    int n = down ? c->num_experts : 2 * c->num_experts, rc = 0;
    char **names = calloc((size_t)n, sizeof *names);
    int64_t *r = malloc((size_t)n * sizeof *r);
    for (int k = 0; names && r && k < n && !rc; k++) {
        r[k] = rows;
        if (!(names[k] = malloc(128))) rc = RLC_ENOMEM;
        else expert_name(c, names[k], 128, l, down ? k : k / 2, down ? 2 : k % 2);
        if (!rc) strcat(names[k], suffix);
    }
    if (!names || !r) rc = RLC_ENOMEM;
    if (!rc) rc = rlc_st_unstack(st, name, n, names, r, dir);
    for (int k = 0; names && k < n; k++) free(names[k]);
    free(names);
    free(r);
    return rc == RLC_ENOMEM ? rlc_errc(RLC_ENOMEM, "%s: out of memory", dir) : rc;
}

/* An FP8 checkpoint's scales of a stacked tensor (NAME_scale_inv or NAME_scale, [E, sR, sC]), split
 * as the weight: per expert, and gate_up's per half, whose rows must not share a block. */
static int split_scale(const rlc_model_config_t *c, rlc_st_t *st, const char *wname, int l, int down,
                       const char *dir) {
    char sn[128];
    const char *suffix = "_scale_inv";
    snprintf(sn, sizeof sn, "%s%s", wname, suffix);
    const rlc_st_tensor_t *t = rlc_st_find(st, sn);
    if (!t) {
        suffix = "_scale";
        snprintf(sn, sizeof sn, "%s%s", wname, suffix);
        if (!(t = rlc_st_find(st, sn))) return 0;
    }
    int64_t I = c->moe_intermediate_size, sR = t->ndim == 3 ? t->shape[1] : 0;
    if (t->ndim != 3 || t->shape[0] != c->num_experts || sR < 1)
        return rlc_errc(RLC_EFMT, "%s: scale '%s' of stacked experts must be [%d, rows, cols]", dir, sn,
                        c->num_experts);
    int64_t bR = c->fp8_block[0] ? c->fp8_block[0] : (2 * I) % sR ? 0 : 2 * I / sR;
    if (!down && (sR % 2 || !bR || I % bR || sR / 2 != I / bR))
        return rlc_errc(RLC_EUNSUP, "%s: scale '%s' has blocks that straddle each expert's gate and up rows", dir, sn);
    return unstack(c, st, sn, l, down, down ? sR : sR / 2, suffix, dir);
}

/* Layer l's stacked tensor (gate_up_proj or down_proj), checked against [E, r, C], and its scales. */
static int split_one(const rlc_model_config_t *c, rlc_st_t *st, int l, int down, const char *dir) {
    int E = c->num_experts;
    int64_t I = c->moe_intermediate_size, C = c->hidden_size, r = down ? C : 2 * I, cols = down ? I : C;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%s", l, down ? "down_proj" : "gate_up_proj");
    const rlc_st_tensor_t *t = rlc_st_find(st, name);
    if (t->ndim != 3 || t->shape[0] != E || t->shape[1] != r || t->shape[2] != cols)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' must have shape [%d,%lld,%lld] (the config's experts)", dir, name, E,
                        (long long)r, (long long)cols);
    int rc = split_scale(c, st, name, l, down, dir);
    return rc ? rc : unstack(c, st, name, l, down, down ? C : I, "", dir);
}

int rlc_experts_unfuse(const rlc_model_config_t *c, rlc_st_t *st, const char *dir) {
    int fused = 0, rc;
    for (int l = 0; c->layer_moe && l < c->num_layers; l++) {
        if (!rlc_config_layer_moe(c, l)) continue;
        char gu[96], dn[96];
        snprintf(gu, sizeof gu, "model.layers.%d.mlp.experts.gate_up_proj", l);
        snprintf(dn, sizeof dn, "model.layers.%d.mlp.experts.down_proj", l);
        int has_gu = rlc_st_find(st, gu) != NULL, has_dn = rlc_st_find(st, dn) != NULL;
        if (!has_gu && !has_dn) continue;
        if (has_gu != has_dn)
            return rlc_errc(RLC_EFMT, "%s: '%s' without '%s'", dir, has_gu ? gu : dn, has_gu ? dn : gu);
        if ((rc = split_one(c, st, l, 0, dir)) || (rc = split_one(c, st, l, 1, dir))) return rc;
        fused++;
    }
    return fused;
}

int rlc_experts_param_layer(const rlc_model_t *m, const rlc_param_info_t *p) {
    const rlc_model_config_t *c = &m->cfg;
    size_t span = (size_t)c->num_experts * 3 * (size_t)c->moe_intermediate_size * (size_t)c->hidden_size;
    for (int l = 0; c->layer_moe && l < c->num_layers; l++) {
        size_t e0 = m->layer[l].experts;
        if (rlc_config_layer_moe(c, l) && e0 != RLC_NO_OFFSET && p->offset >= e0 && p->offset < e0 + span) return l;
    }
    return -1;
}

void rlc_experts_fused_tensor(const rlc_model_t *m, int l, int down, rlc_fused_src_t *src) {
    src->m = m;
    src->down = down;
    snprintf(src->name, sizeof src->name, "model.layers.%d.mlp.experts.%s", l, down ? "down_proj" : "gate_up_proj");
    char first[96];
    expert_name(&m->cfg, first, sizeof first, l, 0, 0);
    src->first = rlc_model_param(m, first);
}

int rlc_experts_fill(void *user, float *dst) {
    const rlc_fused_src_t *s = user;
    const rlc_model_config_t *c = &s->m->cfg;
    size_t IC = (size_t)c->moe_intermediate_size * (size_t)c->hidden_size;
    int rc = 0;
    for (int e = 0; e < c->num_experts && !rc; e++) { /* the table holds expert e's gate, up, down in a row */
        const rlc_param_info_t *p = s->first + 3 * e;
        if (s->down) rc = rlc_model_get_param(s->m, p + 2, dst + (size_t)e * IC);
        else if (!(rc = rlc_model_get_param(s->m, p, dst + 2 * (size_t)e * IC)))
            rc = rlc_model_get_param(s->m, p + 1, dst + (2 * (size_t)e + 1) * IC);
    }
    return rc;
}
