/* Forward and backward passes of the decoder over a packed varlen batch, and the
 * activation plan (one block per buffer kind, sized for the largest batch seen so far,
 * reported once). Every op goes through the backend vtable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "model/exact.h"
#include "model/model.h"

#define P(off) rlc_model_param_at(m, be, (off))
#define G(off) ((off) == RLC_NO_OFFSET ? NULL : rlc_model_grad_at(m, (off)))
#define READY(lo) (m->grad_ready ? m->grad_ready(m->grad_ctx, (lo)) : (void)0)

/* Entries of the activation plan, in the order they are added to the three layouts. */
enum {
    A_XIN, A_LN1, A_QKV, A_ATT, A_XMID, A_LN2, A_GU, A_H, A_XF, A_LNF, A_TMP, A_VAL,
    A_DRES, A_DLN, A_DQKV, A_DATT, A_DGU, A_DH, A_DVAL, /* training only */
    A_QKR,                                              /* training with qk_norm only */
    A_OOUT, A_DNOUT, A_BR,                              /* post_norms only */
    A_MXS, A_MLOG, A_MDY, A_MSDX, F_MPROB, F_MW, F_MDW, I_MIDX, I_MSRC, I_MINV, /* sparse layers only */
    A_LX1, A_LCIN, A_LCOUT, A_LDX1, A_LDCIN,                                      /* MLA only */
    F_R1, F_LSE, F_R2, F_RF, F_LP, F_ENT, F_DLP, F_DEN, F_VALUES, F_RQK, F_RPA, F_RPF,
    I_IDS, I_POS, I_TG, I_CU, PLAN_N
};

/* A sparse model's MoE buffers (model.h's rlc_moe_bufs_t): the routing kept per layer (nl),
 * the grouped rows and router logits shared (gu and h are the dense MLP's, sized for both). */
static void plan_moe(const rlc_model_config_t *c, size_t n, size_t ea, int train, size_t nl, rlc_layout_t *la,
                     rlc_layout_t *lf, rlc_layout_t *li, int idx[PLAN_N]) {
    size_t C = (size_t)c->hidden_size, E = (size_t)c->num_experts, R = n * (size_t)c->experts_per_tok;
    idx[A_MXS] = rlc_layout_add(la, "moe rows by expert", R * C * ea);
    idx[A_MLOG] = rlc_layout_add(la, "router logits", n * E * ea);
    idx[F_MPROB] = rlc_layout_add(lf, "router probabilities", n * E * 4 * nl);
    idx[F_MW] = rlc_layout_add(lf, "routing weights", R * 4 * nl);
    idx[I_MIDX] = rlc_layout_add(li, "picked experts", R * 4 * nl);
    idx[I_MSRC] = rlc_layout_add(li, "expert rows' tokens", R * 4 * nl);
    idx[I_MINV] = rlc_layout_add(li, "tokens' expert rows", R * 4 * nl);
    if (!train) return;
    idx[A_MDY] = rlc_layout_add(la, "grad expert rows", R * C * ea);
    idx[F_MDW] = rlc_layout_add(lf, "grad routing weights", R * 4);
    if (c->moe_shared_size) idx[A_MSDX] = rlc_layout_add(la, "grad shared expert input", n * C * ea);
}

/* Plan the activations of N tokens into la (ACT), lf (F32) and li (I32); idx[] receives
 * each entry's index within its layout. per_layer: every layer keeps its buffers (training
 * without recomputation). */
static int plan_acts(const rlc_model_t *m, int N, int train, rlc_layout_t *la, rlc_layout_t *lf, rlc_layout_t *li,
                     int idx[PLAN_N]) {
    const rlc_model_config_t *c = &m->cfg;
    int L = c->num_layers, per_layer = train && !m->recompute;
    size_t n = (size_t)N, C = (size_t)c->hidden_size, F = (size_t)rlc_config_mlp_width(c);
    size_t QKV = (size_t)(c->num_heads + 2 * c->num_kv_heads) * c->head_dim, A = (size_t)c->num_heads * c->head_dim;
    size_t S = (size_t)(m->score_labels > 0 ? m->score_labels : 1);
    size_t ea = m->be->esize[RLC_BUF_ACT];
    size_t nl = per_layer ? (size_t)L : 1, nx = train ? (size_t)L : 1;
    rlc_layout_init(la);
    rlc_layout_init(lf);
    rlc_layout_init(li);
    for (int i = 0; i < PLAN_N; i++) idx[i] = -1;
    idx[A_XIN] = rlc_layout_add(la, "x_in (residual)", n * C * ea * nx);
    idx[A_LN1] = rlc_layout_add(la, "ln1", n * C * ea * nl);
    idx[A_QKV] = rlc_layout_add(la, "qkv", n * QKV * ea * nl);
    idx[A_ATT] = rlc_layout_add(la, "attention out", n * A * ea * nl);
    idx[A_XMID] = rlc_layout_add(la, "x_mid (residual)", n * C * ea * nl);
    idx[A_LN2] = rlc_layout_add(la, "ln2", n * C * ea * nl);
    idx[A_GU] = rlc_layout_add(la, "gate|up", n * 2 * F * ea * nl);
    idx[A_H] = rlc_layout_add(la, "swiglu out", n * F * ea * nl);
    idx[A_XF] = rlc_layout_add(la, "final residual", n * C * ea);
    idx[A_LNF] = rlc_layout_add(la, "final norm", n * C * ea);
    idx[A_TMP] = rlc_layout_add(la, "projection scratch", n * C * ea);
    idx[A_VAL] = rlc_layout_add(la, "score head out", n * S * ea);
    if (train) {
        idx[A_DRES] = rlc_layout_add(la, "grad residual", n * C * ea);
        idx[A_DLN] = rlc_layout_add(la, "grad norm out", n * C * ea);
        idx[A_DQKV] = rlc_layout_add(la, "grad qkv", n * QKV * ea);
        idx[A_DATT] = rlc_layout_add(la, "grad attention", n * A * ea);
        idx[A_DGU] = rlc_layout_add(la, "grad gate|up", n * 2 * F * ea);
        idx[A_DH] = rlc_layout_add(la, "grad swiglu", n * F * ea);
        idx[A_DVAL] = rlc_layout_add(la, "grad score head", n * S * ea);
    }
    size_t HQK = (size_t)(c->num_heads + c->num_kv_heads);
    if (train && c->qk_norm) idx[A_QKR] = rlc_layout_add(la, "q/k before their norm", n * HQK * c->head_dim * ea * nl);
    if (c->mla) { /* the bottleneck norms' inputs and scales take the q/k norms' places */
        size_t x1, raw, cin, cout;
        rlc_mla_sizes(c, n, &x1, &raw, &cin, &cout);
        idx[A_LX1] = rlc_layout_add(la, "mla first projection", x1 * ea * nl);
        idx[A_LCIN] = rlc_layout_add(la, "mla scratch in", cin * ea);
        idx[A_LCOUT] = rlc_layout_add(la, "mla scratch out", cout * ea);
        if (train) {
            idx[A_QKR] = rlc_layout_add(la, "mla norms' inputs", raw * ea * nl);
            idx[F_RQK] = rlc_layout_add(lf, "mla norms' rstd", n * 2 * 4 * nl);
            idx[A_LDX1] = rlc_layout_add(la, "grad mla first projection", x1 * ea);
            idx[A_LDCIN] = rlc_layout_add(la, "grad mla bottlenecks", raw * ea);
        }
    }
    idx[F_R1] = rlc_layout_add(lf, "rstd1", n * 4 * nl);
    idx[F_LSE] = rlc_layout_add(lf, "attention lse", n * (size_t)c->num_heads * 4 * nl);
    idx[F_R2] = rlc_layout_add(lf, "rstd2", n * 4 * nl);
    idx[F_RF] = rlc_layout_add(lf, "rstd final", n * 4);
    idx[F_LP] = rlc_layout_add(lf, "logp", n * 4);
    idx[F_ENT] = rlc_layout_add(lf, "entropy", n * 4);
    idx[F_DLP] = rlc_layout_add(lf, "dlogp", n * 4);
    idx[F_DEN] = rlc_layout_add(lf, "dentropy", n * 4);
    idx[F_VALUES] = rlc_layout_add(lf, "values", n * S * 4);
    if (train && c->qk_norm) idx[F_RQK] = rlc_layout_add(lf, "q/k norm rstd", n * HQK * 4 * nl);
    if (c->post_norms) {
        idx[A_OOUT] = rlc_layout_add(la, "attention block out", n * C * ea * nl);
        idx[A_DNOUT] = rlc_layout_add(la, "mlp block out", n * C * ea * nl);
        idx[A_BR] = rlc_layout_add(la, "post-normed block out", n * C * ea);
        idx[F_RPA] = rlc_layout_add(lf, "post-attention norm rstd", n * 4 * nl);
        idx[F_RPF] = rlc_layout_add(lf, "post-mlp norm rstd", n * 4 * nl);
    }
    if (c->layer_moe) plan_moe(c, n, ea, train, nl, la, lf, li, idx);
    idx[I_IDS] = rlc_layout_add(li, "ids", n * 4);
    idx[I_POS] = rlc_layout_add(li, "positions", n * 4);
    idx[I_TG] = rlc_layout_add(li, "targets", n * 4);
    idx[I_CU] = rlc_layout_add(li, "cu_seqlens", (n + 1) * 4);
    for (int i = 0; i < PLAN_N; i++)
        if (idx[i] < -1) {
            rlc_layout_free(la);
            rlc_layout_free(lf);
            rlc_layout_free(li);
            return RLC_ENOMEM;
        }
    return 0;
}

size_t rlc_model_act_bytes(const rlc_model_t *m, int n_tokens, int train) {
    rlc_layout_t la, lf, li;
    int idx[PLAN_N];
    if (n_tokens < 1 || plan_acts(m, n_tokens, train, &la, &lf, &li, idx)) return 0;
    size_t total = la.total + lf.total + li.total;
    rlc_layout_free(&la);
    rlc_layout_free(&lf);
    rlc_layout_free(&li);
    return total;
}

/* The per-layer pointer arrays of a: 12 act + 6 f32 arrays of L entries, one allocation
 * (owned through a->x_in). */
static int layer_ptrs(rlc_acts_t *a, int L) {
    void **ptrs = rlc_calloc((size_t)L * 18, sizeof(void *));
    if (!ptrs) return RLC_ENOMEM;
    a->x_in = ptrs;
    a->ln1 = ptrs + L;
    a->qkv = ptrs + 2 * L;
    a->att = ptrs + 3 * L;
    a->x_mid = ptrs + 4 * L;
    a->ln2 = ptrs + 5 * L;
    a->gu = ptrs + 6 * L;
    a->h = ptrs + 7 * L;
    a->rstd1 = (float **)(ptrs + 8 * L);
    a->lse = (float **)(ptrs + 9 * L);
    a->rstd2 = (float **)(ptrs + 10 * L);
    a->qk_raw = ptrs + 11 * L;
    a->rstd_qk = (float **)(ptrs + 12 * L);
    a->o_out = ptrs + 13 * L;
    a->dn_out = ptrs + 14 * L;
    a->rstd_pa = (float **)(ptrs + 15 * L);
    a->rstd_pf = (float **)(ptrs + 16 * L);
    a->mla_x1 = ptrs + 17 * L;
    return 0;
}

/* Plan and allocate activations for `N` tokens (kept when the current plan is big enough). */
static int ensure_acts(rlc_model_t *m, int N, int train) {
    rlc_acts_t *a = &m->acts;
    /* A plan made for training also serves inference; grow only when needed. */
    if (a->cap_tokens >= N && a->train >= train && a->recompute == m->recompute &&
        a->score_labels == m->score_labels)
        return 0;
    rlc_backend_t *be = m->be;
    int L = m->cfg.num_layers, per_layer = train && !m->recompute;
    if (N < a->cap_tokens) N = a->cap_tokens;
    if (a->act_block) be->free(be, a->act_block);
    if (a->f32_block) be->free(be, a->f32_block);
    if (a->i32_block) be->free(be, a->i32_block);
    free(a->x_in);
    free(a->moe);
    free(a->moe_off);
    memset(a, 0, sizeof *a);
    if (layer_ptrs(a, L)) return RLC_ENOMEM;
    if (m->cfg.layer_moe) {
        a->moe = rlc_calloc((size_t)L, sizeof *a->moe);
        a->moe_off = rlc_calloc((size_t)L * (m->cfg.num_experts + 1), sizeof(int));
        if (!a->moe || !a->moe_off) return RLC_ENOMEM;
    }

    rlc_layout_t la, lf, li;
    int ix[PLAN_N];
    int rc = plan_acts(m, N, train, &la, &lf, &li, ix);
    if (rc) return rc;
    size_t ea = be->esize[RLC_BUF_ACT];
    a->act_block = be->alloc(be, "activations", la.total / ea + 1, RLC_BUF_ACT);
    a->f32_block = a->act_block ? be->alloc(be, "activation statistics", lf.total / 4 + 1, RLC_BUF_F32) : NULL;
    a->i32_block = a->f32_block ? be->alloc(be, "batch indices", li.total / 4 + 1, RLC_BUF_I32) : NULL;
    if (!a->act_block || !a->f32_block || !a->i32_block) {
        rlc_layout_free(&la);
        rlc_layout_free(&lf);
        rlc_layout_free(&li);
        return rlc_err_ctx(RLC_ENOMEM, "activations for %d tokens (%.1f MiB)", N,
                           (double)(la.total + lf.total + li.total) / 1048576.0);
    }
    char *AB = a->act_block, *FB = (char *)a->f32_block, *IB = (char *)a->i32_block;
    size_t n = (size_t)N, C = (size_t)m->cfg.hidden_size, F = (size_t)rlc_config_mlp_width(&m->cfg);
    size_t QKV = (size_t)(m->cfg.num_heads + 2 * m->cfg.num_kv_heads) * m->cfg.head_dim;
    size_t A = (size_t)m->cfg.num_heads * m->cfg.head_dim;
#define AOFF(i) (AB + la.e[ix[i]].offset)
#define FOFF(i) ((float *)(FB + lf.e[ix[i]].offset))
#define IOFF(i) ((int32_t *)(IB + li.e[ix[i]].offset))
    for (int l = 0; l < L; l++) {
        int k = per_layer ? l : 0, kx = train ? l : 0;
        a->x_in[l] = AOFF(A_XIN) + (size_t)kx * n * C * ea;
        a->ln1[l] = AOFF(A_LN1) + (size_t)k * n * C * ea;
        a->qkv[l] = AOFF(A_QKV) + (size_t)k * n * QKV * ea;
        a->att[l] = AOFF(A_ATT) + (size_t)k * n * A * ea;
        a->x_mid[l] = AOFF(A_XMID) + (size_t)k * n * C * ea;
        a->ln2[l] = AOFF(A_LN2) + (size_t)k * n * C * ea;
        a->gu[l] = AOFF(A_GU) + (size_t)k * n * 2 * F * ea;
        a->h[l] = AOFF(A_H) + (size_t)k * n * F * ea;
        a->rstd1[l] = FOFF(F_R1) + (size_t)k * n;
        a->lse[l] = FOFF(F_LSE) + (size_t)k * n * m->cfg.num_heads;
        a->rstd2[l] = FOFF(F_R2) + (size_t)k * n;
        if (ix[A_QKR] >= 0 && !m->cfg.mla) { /* Qwen3 training: the q/k heads before their norm, and its scales */
            size_t hqk = (size_t)(m->cfg.num_heads + m->cfg.num_kv_heads);
            a->qk_raw[l] = AOFF(A_QKR) + (size_t)k * n * hqk * m->cfg.head_dim * ea;
            a->rstd_qk[l] = FOFF(F_RQK) + (size_t)k * n * hqk;
        }
        if (ix[A_LX1] >= 0) { /* MLA: its first projection, its norms' inputs and scales */
            size_t x1, raw, cin, cout;
            rlc_mla_sizes(&m->cfg, n, &x1, &raw, &cin, &cout);
            a->mla_x1[l] = AOFF(A_LX1) + (size_t)k * x1 * ea;
            if (train) a->qk_raw[l] = AOFF(A_QKR) + (size_t)k * raw * ea, a->rstd_qk[l] = FOFF(F_RQK) + (size_t)k * n * 2;
        }
        if (ix[A_OOUT] >= 0) { /* Gemma 3: the block outputs before their post-norms, and its scales */
            a->o_out[l] = AOFF(A_OOUT) + (size_t)k * n * C * ea;
            a->dn_out[l] = AOFF(A_DNOUT) + (size_t)k * n * C * ea;
            a->rstd_pa[l] = FOFF(F_RPA) + (size_t)k * n;
            a->rstd_pf[l] = FOFF(F_RPF) + (size_t)k * n;
        }
        if (a->moe) { /* sparse layers: the routing per layer, the rows by expert and router logits shared */
            size_t E = (size_t)m->cfg.num_experts, R = n * m->cfg.experts_per_tok;
            a->moe[l] = (rlc_moe_bufs_t){.logits = AOFF(A_MLOG), .xs = AOFF(A_MXS), .gu = a->gu[l], .h = a->h[l],
                                         .probs = FOFF(F_MPROB) + (size_t)k * n * E, .w = FOFF(F_MW) + (size_t)k * R,
                                         .idx = IOFF(I_MIDX) + (size_t)k * R, .src = IOFF(I_MSRC) + (size_t)k * R,
                                         .inv = IOFF(I_MINV) + (size_t)k * R, .off = a->moe_off + (size_t)l * (E + 1)};
        }
    }
    if (train && a->moe) a->moe_dy = AOFF(A_MDY), a->moe_dw = FOFF(F_MDW);
    if (train && ix[A_MSDX] >= 0) a->moe_sdx = AOFF(A_MSDX);
    if (ix[A_BR] >= 0) a->br = AOFF(A_BR);
    if (ix[A_LX1] >= 0) a->mla_cin = AOFF(A_LCIN), a->mla_cout = AOFF(A_LCOUT);
    if (ix[A_LDX1] >= 0) a->mla_dx1 = AOFF(A_LDX1), a->mla_dcin = AOFF(A_LDCIN);
    if (m->cfg.post_only) /* OLMo: no norms before the blocks; they read the residual stream */
        for (int l = 0; l < L; l++) a->ln1[l] = a->x_in[l], a->ln2[l] = a->x_mid[l];
    a->x_final = AOFF(A_XF);
    a->lnf = AOFF(A_LNF);
    a->tmp = AOFF(A_TMP);
    a->values_act = AOFF(A_VAL);
    if (train) {
        a->dres = AOFF(A_DRES);
        a->dln = AOFF(A_DLN);
        a->dqkv = AOFF(A_DQKV);
        a->datt = AOFF(A_DATT);
        a->dgu = AOFF(A_DGU);
        a->dh = AOFF(A_DH);
        a->dvalues_act = AOFF(A_DVAL);
    }
    a->rstdf = FOFF(F_RF);
    a->logp = FOFF(F_LP);
    a->ent = FOFF(F_ENT);
    a->dlogp = FOFF(F_DLP);
    a->dent = FOFF(F_DEN);
    a->values = FOFF(F_VALUES);
    a->ids = IOFF(I_IDS);
    a->pos = IOFF(I_POS);
    a->targets = IOFF(I_TG);
    a->cu = IOFF(I_CU);
#undef AOFF
#undef FOFF
#undef IOFF
    a->cap_tokens = N;
    a->per_layer = per_layer;
    a->train = train;
    a->recompute = m->recompute;
    a->score_labels = m->score_labels;
    char title[96];
    snprintf(title, sizeof title, "activations for %d tokens (%s)", N,
             per_layer ? "stored per layer" : train ? "recomputed per layer" : "inference");
    if (rlc_log_get_level() <= RLC_LOG_DEBUG) rlc_layout_report(&la, title, 0.01);
    rlc_layout_free(&la);
    rlc_layout_free(&lf);
    rlc_layout_free(&li);
    return 0;
}

int rlc_model_max_tokens(const rlc_model_t *m, size_t budget, int train) {
    int lo = 0, hi = 1 << 30; /* act_bytes grows with N: largest N whose plan fits */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        size_t b = rlc_model_act_bytes(m, mid, train);
        if (b && b <= budget) lo = mid;
        else hi = mid;
    }
    return lo;
}

int rlc_model_reserve(rlc_model_t *m, int n_tokens, int train) {
    if (n_tokens < 1) return rlc_errc(RLC_EINVAL, "reserve: n_tokens must be positive");
    return ensure_acts(m, n_tokens, train);
}

int rlc_batch_check(const rlc_model_t *m, const rlc_batch_t *b) {
    if (b->n_tokens <= 0 || b->nseq <= 0) return rlc_errc(RLC_EINVAL, "empty batch");
    if (!b->ids || !b->cu_seqlens) return rlc_errc(RLC_EINVAL, "batch lacks ids or cu_seqlens");
    if (b->cu_seqlens[0] != 0 || b->cu_seqlens[b->nseq] != b->n_tokens)
        return rlc_errc(RLC_EINVAL, "cu_seqlens must start at 0 and end at n_tokens");
    for (int s = 0; s < b->nseq; s++) {
        int len = b->cu_seqlens[s + 1] - b->cu_seqlens[s];
        if (len <= 0) return rlc_errc(RLC_EINVAL, "sequence %d is empty or cu_seqlens is not increasing", s);
        if (m->cfg.context_why && len > m->cfg.max_context)
            return rlc_errc(RLC_EUNSUP,
                            "a sequence of %d tokens is longer than the model's %s (%d), beyond which rlc would not "
                            "compute what transformers does",
                            len, m->cfg.context_why, m->cfg.max_context);
    }
    int V = m->cfg.vocab_size;
    for (int i = 0; i < b->n_tokens; i++) {
        if (b->ids[i] < 0 || b->ids[i] >= V)
            return rlc_errc(RLC_ERANGE, "token id %d at position %d is out of range (vocab size %d)", b->ids[i], i, V);
        if (b->targets && b->targets[i] >= V)
            return rlc_errc(RLC_ERANGE, "target id %d at position %d is out of range (vocab size %d)", b->targets[i],
                            i, V);
        if (b->pos && b->pos[i] < 0) return rlc_errc(RLC_EINVAL, "negative position id at %d", i);
    }
    return 0;
}

/* Upload ids/positions/targets/cu_seqlens; returns max sequence length. */
static int upload_batch(rlc_model_t *m, const rlc_batch_t *b) {
    rlc_backend_t *be = m->be;
    rlc_acts_t *a = &m->acts;
    int N = b->n_tokens, maxlen = 0;
    int32_t *tmp = rlc_malloc((size_t)N * 2 * sizeof(int32_t));
    if (!tmp) return RLC_ENOMEM;
    int32_t *pos = tmp, *tg = tmp + N;
    for (int s = 0; s < b->nseq; s++) {
        int s0 = b->cu_seqlens[s], s1 = b->cu_seqlens[s + 1];
        if (s1 - s0 > maxlen) maxlen = s1 - s0;
        for (int i = s0; i < s1; i++) {
            pos[i] = b->pos ? b->pos[i] : i - s0;
            tg[i] = b->targets ? b->targets[i] : (i + 1 < s1 ? b->ids[i + 1] : -1);
        }
    }
    int rc = be->upload(be, a->ids, RLC_BUF_I32, b->ids, (size_t)N);
    if (!rc) rc = be->upload(be, a->pos, RLC_BUF_I32, pos, (size_t)N);
    if (!rc) rc = be->upload(be, a->targets, RLC_BUF_I32, tg, (size_t)N);
    if (!rc) rc = be->upload(be, a->cu, RLC_BUF_I32, b->cu_seqlens, (size_t)b->nseq + 1);
    free(tmp);
    return rc ? rc : maxlen;
}

void rlc_model_residual_norm(rlc_model_t *m, void *resid, void *out, float *rstd, const void *a, const void *b,
                             const void *w, int N) {
    int C = m->cfg.hidden_size;
    if (w) m->be->residual_rmsnorm_fwd(m->be, resid, out, rstd, a, b, w, N, C, m->cfg.rms_norm_eps);
    else m->be->add(m->be, resid, a, b, RLC_BUF_ACT, (size_t)N * C);
}

/* The block output layer l adds to the residual: the projection's output (in tmp), or under
 * Gemma 3's post-norms its normalized copy. */
static void *block_out(const rlc_model_t *m) { return m->cfg.post_norms ? m->acts.br : m->acts.tmp; }

/* Layer l's MLA buffers (empty without MLA). */
static rlc_mla_bufs_t layer_mla(const rlc_model_t *m, int l) {
    const rlc_acts_t *a = &m->acts;
    return (rlc_mla_bufs_t){.x1 = a->mla_x1[l], .raw = a->qk_raw[l], .rstd = a->rstd_qk[l], .cin = a->mla_cin,
                            .cout = a->mla_cout, .dx1 = a->mla_dx1, .dcin = a->mla_dcin};
}

/* Layer l up to the gated MLP's output (what backward needs), and with `down` the MLP's down
 * projection (and its post-norm) into block_out(m). need_ln1: compute ln1 from x_in (layer 0,
 * or recomputation); otherwise the previous layer's fused residual+norm did. */
static int layer_body(rlc_model_t *m, int l, int N, int nseq, int maxlen, int need_ln1, int down,
                      const rlc_exact_t *ex) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    rlc_acts_t *a = &m->acts;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = c->hidden_size, F = c->intermediate_size, D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads;
    if (need_ln1 && !c->post_only)
        be->rmsnorm_fwd(be, a->ln1[l], a->rstd1[l], a->x_in[l], P(W->ln1), N, C, c->rms_norm_eps);
    rlc_mla_bufs_t mb = layer_mla(m, l);
    /* ln1 is x_in under post_only */
    rlc_model_qkv_fwd(m, l, a->qkv[l], a->ln1[l], a->qk_raw[l], a->rstd_qk[l], a->pos, N, &mb);
    be->attention_fwd(be, a->att[l], a->lse[l], a->qkv[l], a->cu, nseq, maxlen, N, Hq, Hk, D,
                      rlc_config_attn_scale(c), c->attn_softcap, rlc_config_layer_window(c, l));
    if (ex) rlc_exact_attention(m, ex, l, N, nseq, maxlen); /* the output the engine computes (lse kept) */
    int post = c->post_norms;
    rlc_model_o_fwd(m, l, post ? a->o_out[l] : a->tmp, a->att[l], N, &mb);
    if (post) be->rmsnorm_fwd(be, a->br, a->rstd_pa[l], a->o_out[l], P(W->post_attn), N, C, c->rms_norm_eps);
    rlc_model_residual_scale(m, block_out(m), (size_t)N * C); /* Granite (never with post-norms) */
    /* OLMo has no ln2: the MLP reads the residual itself (ln2[l] is x_mid[l]) */
    rlc_model_residual_norm(m, a->x_mid[l], a->ln2[l], a->rstd2[l], a->x_in[l], block_out(m), P(W->ln2), N);
    if (rlc_config_layer_moe(c, l)) { /* the experts' weighted sum (backward needs all of it) */
        int rc = rlc_moe_fwd(m, l, post ? a->dn_out[l] : a->tmp, a->ln2[l], N, &a->moe[l]);
        if (rc || !down) return rc;
    } else {
        be->matmul_fwd(be, a->gu[l], a->ln2[l], P(W->gu_w), P(W->gu_b), N, C, 2 * F);
        rlc_model_glu_fwd(m, a->h[l], a->gu[l], N, F);
        if (!down) return 0;
        be->matmul_fwd(be, post ? a->dn_out[l] : a->tmp, a->h[l], P(W->down_w), P(W->down_b), N, F, C);
    }
    if (post) be->rmsnorm_fwd(be, a->br, a->rstd_pf[l], a->dn_out[l], P(W->post_ffn), N, C, c->rms_norm_eps);
    rlc_model_residual_scale(m, block_out(m), (size_t)N * C);
    return 0;
}

static int forward_ops(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, float *logp, float *entropy,
                       float *values) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    int rc = rlc_batch_check(m, b);
    if (rc) return rc;
    if (o->head == RLC_HEAD_SCORE && m->score_labels <= 0) return rlc_errc(RLC_EINVAL, "the model has no score head");
    if (o->head == RLC_HEAD_LM && c->head != RLC_HEAD_LM && !(o->skip_head && !o->train))
        return rlc_errc(RLC_EINVAL, "the model has no LM head");
    if (o->train && !m->grads && (rc = rlc_model_alloc_grads(m))) return rc;
    if ((rc = ensure_acts(m, b->n_tokens, o->train))) return rc;
    m->head_kept = 0;
    int maxlen = upload_batch(m, b);
    if (maxlen < 0) return maxlen;
    rlc_acts_t *a = &m->acts;
    rlc_exact_t ex;
    if (o->exact && (rc = rlc_exact_begin(m, b, &ex))) return rc;
    int ri = be->row_invariant;
    if (o->exact) be->row_invariant = 1; /* the engine's matmuls */
    int N = b->n_tokens, L = c->num_layers, C = c->hidden_size;
    be->embedding_fwd(be, a->x_in[0], a->ids, P(m->off_embed), N, C);
    rlc_model_embed_scale(m, a->x_in[0], (size_t)N * C);
    for (int l = 0; l < L && !rc; l++) {
        rc = layer_body(m, l, N, b->nseq, maxlen, l == 0, 1, o->exact ? &ex : NULL);
        if (l + 1 < L)
            rlc_model_residual_norm(m, a->x_in[l + 1], a->ln1[l + 1], a->rstd1[l + 1], a->x_mid[l], block_out(m),
                                    P(m->layer[l + 1].ln1), N);
        else
            rlc_model_residual_norm(m, a->x_final, a->lnf, a->rstdf, a->x_mid[l], block_out(m), P(m->off_norm), N);
    }
    be->row_invariant = ri;
    if (!rc && !o->skip_head) {
        if (o->head == RLC_HEAD_LM) {
            be->lmhead_keep = o->train; /* the backward of this batch may reuse the logits */
            be->lmhead_fwd(be, a->logp, entropy ? a->ent : NULL, a->lnf, P(m->off_lm_head), a->targets, N, C,
                           c->vocab_size, o->inv_temp * rlc_model_logit_mul(m), c->final_softcap);
            m->head_kept = o->train ? be->lmhead_kept : 0;
            be->lmhead_keep = 0, be->lmhead_kept = 0;
            if (logp) rc = be->download(be, logp, a->logp, RLC_BUF_F32, (size_t)N);
            if (!rc && entropy) rc = be->download(be, entropy, a->ent, RLC_BUF_F32, (size_t)N);
            float T = o->temperature > 0 ? o->temperature : 1.0f / o->inv_temp;
            if (!rc && logp && o->exact) rc = rlc_exact_logp(m, b, T, logp); /* the engine's log-probs */
        } else {
            int S = m->score_labels;
            be->matmul_fwd(be, a->values_act, a->lnf, P(m->off_score_w), P(m->off_score_b), N, C, S);
            be->act_to_f32(be, a->values, a->values_act, (size_t)N * S);
            if (values) rc = be->download(be, values, a->values, RLC_BUF_F32, (size_t)N * S);
        }
    }
    if (o->exact) rlc_exact_end(m, &ex);
    int brc = be->check(be);
    if (!rc && brc) rc = brc;
    if (rc) return rc;
    m->fwd_trained = o->train;
    m->fwd_tokens = N;
    m->fwd_nseq = b->nseq;
    m->fwd_max_seqlen = maxlen;
    return 0;
}

/* The gradient of a block's output before the residual add, from dres (the residual's):
 * dres itself, or under Gemma 3's and OLMo's post-norms through the norm (post_w, its input
 * pre and scales rstd), or under Granite's residual_multiplier r · dres; the last two in dln,
 * which is free until the block's projections write it. */
static const void *block_grad(rlc_model_t *m, size_t post_w, const void *pre, const float *rstd, int N) {
    rlc_backend_t *be = m->be;
    rlc_acts_t *a = &m->acts;
    size_t n = (size_t)N * m->cfg.hidden_size;
    if (m->cfg.post_norms) { /* (configs never give post-norms a residual multiplier) */
        be->zero(be, a->dln, RLC_BUF_ACT, n);
        be->rmsnorm_bwd(be, a->dln, G(post_w), a->dres, pre, P(post_w), rstd, N, m->cfg.hidden_size);
        return a->dln;
    }
    if (!(m->cfg.residual_scale > 0 && m->cfg.residual_scale != 1)) return a->dres;
    be->copy(be, a->dln, a->dres, RLC_BUF_ACT, n);
    rlc_model_residual_scale(m, a->dln, n);
    return a->dln;
}

/* The backward of rlc_model_residual_norm's norm: dres += the gradient through the pre-block
 * norm w (input x, scales rstd) of dln, its output's gradient; where the layer has no such norm
 * (OLMo: the block read the residual itself) dln adds to dres as it is. */
static void pre_norm_bwd(rlc_model_t *m, size_t w, const void *x, const float *rstd, int N) {
    rlc_backend_t *be = m->be;
    rlc_acts_t *a = &m->acts;
    int C = m->cfg.hidden_size;
    if (w == RLC_NO_OFFSET) be->add(be, a->dres, a->dres, a->dln, RLC_BUF_ACT, (size_t)N * C);
    else be->rmsnorm_bwd(be, a->dres, G(w), a->dln, x, P(w), rstd, N, C);
}

static int backward_ops(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, const float *dlogp,
                        const float *dent, const float *dvalues, float *logp, float *entropy) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    rlc_acts_t *a = &m->acts;
    if (!m->fwd_trained || m->fwd_tokens != b->n_tokens || m->fwd_nseq != b->nseq)
        return rlc_errc(RLC_EINVAL, "backward needs a training forward of the same batch first");
    int N = b->n_tokens, L = c->num_layers, C = c->hidden_size, F = c->intermediate_size, D = c->head_dim;
    int Hq = c->num_heads, Hk = c->num_kv_heads, QKV = (Hq + 2 * Hk) * D, maxlen = m->fwd_max_seqlen;
    int rc = 0;
    be->zero(be, a->dres, RLC_BUF_ACT, (size_t)N * C);
    if (m->grad_begin) m->grad_begin(m->grad_ctx);
    if (o->head == RLC_HEAD_LM) {
        if (!dlogp) return rlc_errc(RLC_EINVAL, "backward through the LM head needs dlogp");
        if ((rc = be->upload(be, a->dlogp, RLC_BUF_F32, dlogp, (size_t)N))) return rc;
        if (dent && (rc = be->upload(be, a->dent, RLC_BUF_F32, dent, (size_t)N))) return rc;
        be->lmhead_use = m->head_kept; /* the forward's logits, when it kept them */
        be->lmhead_bwd(be, a->dln, G(m->off_lm_head), logp ? a->logp : NULL, entropy ? a->ent : NULL, a->dlogp,
                       dent ? a->dent : NULL, a->lnf, P(m->off_lm_head), a->targets, N, C, c->vocab_size,
                       o->inv_temp * rlc_model_logit_mul(m), c->final_softcap);
        be->lmhead_use = 0, m->head_kept = 0;
        if (logp && (rc = be->download(be, logp, a->logp, RLC_BUF_F32, (size_t)N))) return rc;
        if (entropy && (rc = be->download(be, entropy, a->ent, RLC_BUF_F32, (size_t)N))) return rc;
    } else {
        int S = m->score_labels;
        if (!dvalues || S <= 0) return rlc_errc(RLC_EINVAL, "backward through the score head needs dvalues");
        if ((rc = be->upload(be, a->values, RLC_BUF_F32, dvalues, (size_t)N * S))) return rc;
        be->f32_to_act(be, a->dvalues_act, a->values, (size_t)N * S);
        be->matmul_bwd(be, a->dln, G(m->off_score_w), G(m->off_score_b), a->dvalues_act, a->lnf, P(m->off_score_w), N,
                       C, S);
    }
    be->rmsnorm_bwd(be, a->dres, G(m->off_norm), a->dln, a->x_final, P(m->off_norm), a->rstdf, N, C);
    READY(m->off_norm);
    for (int l = L - 1; l >= 0; l--) {
        const rlc_layer_off_t *W = &m->layer[l];
        if (!a->per_layer && (rc = layer_body(m, l, N, b->nseq, maxlen, 1, c->post_norms, NULL))) return rc;
        const void *dblk = block_grad(m, W->post_ffn, a->dn_out[l], a->rstd_pf[l], N);
        if (rlc_config_layer_moe(c, l)) { /* dblk may be dln: the MoE backward reads it before writing dln */
            rc = rlc_moe_bwd(m, l, a->dln, dblk, a->ln2[l], N, &a->moe[l], a->moe_dy, a->moe_dw, a->dgu, a->dh,
                             a->moe_sdx);
            if (rc) return rc;
        } else {
            be->matmul_bwd(be, a->dh, G(W->down_w), G(W->down_b), dblk, a->h[l], P(W->down_w), N, F, C);
            rlc_model_glu_bwd(m, a->dgu, a->dh, a->gu[l], N, F);
            be->matmul_bwd(be, a->dln, G(W->gu_w), G(W->gu_b), a->dgu, a->ln2[l], P(W->gu_w), N, C, 2 * F);
        }
        pre_norm_bwd(m, W->ln2, a->x_mid[l], a->rstd2[l], N);
        dblk = block_grad(m, W->post_attn, a->o_out[l], a->rstd_pa[l], N);
        rlc_mla_bufs_t mb = layer_mla(m, l);
        if (c->mla) rlc_mla_out_bwd(m, l, a->datt, dblk, a->att[l], N, &mb);
        else be->matmul_bwd(be, a->datt, G(W->o_w), G(W->o_b), dblk, a->att[l], P(W->o_w), N, Hq * D, C);
        be->attention_bwd(be, a->dqkv, a->datt, a->qkv[l], a->att[l], a->lse[l], a->cu, b->nseq, maxlen, N, Hq, Hk, D,
                          rlc_config_attn_scale(c), c->attn_softcap, rlc_config_layer_window(c, l));
        if (c->mla) {
            rlc_mla_qkv_bwd(m, l, a->dln, a->dqkv, a->ln1[l], a->pos, N, &mb);
        } else {
            rlc_model_rope_bwd(m, l, a->dqkv, a->pos, N);
            if (c->qk_norm) rlc_model_qk_norm_bwd(m, l, a->dqkv, a->qk_raw[l], a->rstd_qk[l], N);
            be->matmul_bwd(be, a->dln, G(W->qkv_w), G(W->qkv_b), a->dqkv, a->ln1[l], P(W->qkv_w), N, C, QKV);
        }
        pre_norm_bwd(m, W->ln1, a->x_in[l], a->rstd1[l], N);
        READY(W->start);
    }
    rlc_model_embed_scale(m, a->dres, (size_t)N * C); /* d(embedding row) = scale * d(scaled row) */
    be->embedding_bwd(be, G(m->off_embed), a->dres, a->ids, N, C);
    READY(0);
    return be->check(be);
}

/* The model's norm offset (Gemma's 1 + w) holds for the backend while its ops run. */
int rlc_model_forward(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, float *logp, float *entropy,
                      float *values) {
    m->be->norm_offset = m->cfg.norm_offset;
    int rc = forward_ops(m, b, o, logp, entropy, values);
    m->be->norm_offset = 0;
    return rc;
}

int rlc_model_backward(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, const float *dlogp,
                       const float *dent, const float *dvalues, float *logp, float *entropy) {
    m->be->norm_offset = m->cfg.norm_offset;
    int rc = backward_ops(m, b, o, dlogp, dent, dvalues, logp, entropy);
    m->be->norm_offset = 0;
    return rc;
}

int rlc_model_hidden(rlc_model_t *m, const rlc_batch_t *b, const int32_t *rows, int n_rows, float *out) {
    rlc_backend_t *be = m->be;
    for (int i = 0; i < n_rows; i++)
        if (rows[i] < 0 || rows[i] >= b->n_tokens)
            return rlc_errc(RLC_ERANGE, "hidden-state row %d outside the batch of %d tokens", rows[i], b->n_tokens);
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_LM, .skip_head = 1};
    int rc = rlc_model_forward(m, b, &fo, NULL, NULL, NULL);
    if (rc || !n_rows) return rc;
    rlc_acts_t *a = &m->acts;
    /* the row indices go to the targets buffer (unused without a head), the rows to tmp */
    if ((rc = be->upload(be, a->targets, RLC_BUF_I32, rows, (size_t)n_rows))) return rc;
    be->gather_rows(be, a->tmp, a->lnf, a->targets, n_rows, m->cfg.hidden_size);
    if ((rc = be->download(be, out, a->tmp, RLC_BUF_ACT, (size_t)n_rows * m->cfg.hidden_size))) return rc;
    return be->check(be);
}
