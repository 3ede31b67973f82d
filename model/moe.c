/* The sparse MLP of Qwen3-MoE, Mixtral, OLMoE, Qwen2-MoE, GLM-4.5, dots.llm1 and ERNIE 4.5 MoE
 * (whose shared experts run beside the routed ones, Qwen2-MoE's gated by a sigmoid; the last
 * three route with a correction bias: GLM's and dots' by sigmoid scores within expert groups,
 * ERNIE's by softmax ones): route each token to K of E experts, run each
 * expert over its tokens (gathered into one contiguous block per expert, so an expert is one
 * matmul), and sum the K outputs of each token weighted by their routing weights. Which rows
 * go to which expert is decided on the host from the picked experts, read back once per
 * layer: the per-expert matmuls need their row counts there. The training forward, the
 * exact on-policy forward and the rollout engine's step all run this one function, so the
 * engine's log-probs and the exact path's agree bit for bit on MoE models too. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/model.h"

#define P(off) rlc_model_param_at(m, be, (off))
#define G(off) rlc_model_grad_at(m, (off))

/* Read the picked experts back and group the N·K (token, pick) pairs by expert, tokens in
 * order within each: b->src, b->inv uploaded, b->off on the host. */
static int dispatch(rlc_model_t *m, const rlc_moe_bufs_t *b, int N) {
    rlc_backend_t *be = m->be;
    int E = m->cfg.num_experts, K = m->cfg.experts_per_tok;
    size_t R = (size_t)N * K;
    if (3 * R > m->moe_host_cap) {
        int32_t *h = realloc(m->moe_host, 3 * R * sizeof(int32_t));
        if (!h) return rlc_errc(RLC_ENOMEM, "MoE dispatch of %d tokens: out of memory", N);
        m->moe_host = h;
        m->moe_host_cap = 3 * R;
    }
    int32_t *idx = m->moe_host, *src = idx + R, *inv = src + R;
    int rc = be->download(be, idx, b->idx, RLC_BUF_I32, R);
    if (rc) return rc;
    int *off = b->off;
    memset(off, 0, sizeof(int) * (size_t)(E + 1));
    for (size_t i = 0; i < R; i++) {
        if (idx[i] < 0 || idx[i] >= E) return rlc_errc(RLC_EINVAL, "MoE routing picked expert %d of %d", idx[i], E);
        off[idx[i] + 1]++;
    }
    for (int e = 0; e < E; e++) off[e + 1] += off[e];
    int cur[RLC_MOE_MAX_EXPERTS];
    memcpy(cur, off, sizeof(int) * (size_t)E);
    for (int t = 0; t < N; t++)
        for (int k = 0; k < K; k++) {
            int r = cur[idx[(size_t)t * K + k]]++;
            src[r] = t;
            inv[(size_t)t * K + k] = r;
        }
    if ((rc = be->upload(be, b->src, RLC_BUF_I32, src, R))) return rc;
    return be->upload(be, b->inv, RLC_BUF_I32, inv, R);
}

static void *rows_at(const rlc_model_t *m, const void *base, int row, size_t width) {
    return (char *)base + (size_t)row * width * m->be->esize[RLC_BUF_ACT];
}

/* y [rows, C] = each expert's down projection of its rows of b->h. */
static void expert_outputs(rlc_model_t *m, int l, const rlc_moe_bufs_t *b, void *y) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    int C = c->hidden_size, I = c->moe_intermediate_size;
    for (int e = 0; e < c->num_experts; e++) {
        int r0 = b->off[e], n = b->off[e + 1] - r0;
        if (n) be->matmul_fwd(be, rows_at(m, y, r0, C), rows_at(m, b->h, r0, I), P(rlc_expert_down(c, &m->layer[l], e)),
                              NULL, n, I, C);
    }
}

/* Qwen2-MoE's shared expert (width S): its gate|up [N, 2S] and activation [N, S] rows follow
 * the routed ones in b->gu and b->h (kept for backward). */
static void *shared_gu(const rlc_model_t *m, const rlc_moe_bufs_t *b, int N) {
    return rows_at(m, b->gu, N * m->cfg.experts_per_tok, 2 * (size_t)m->cfg.moe_intermediate_size);
}
static void *shared_h(const rlc_model_t *m, const rlc_moe_bufs_t *b, int N) {
    return rows_at(m, b->h, N * m->cfg.experts_per_tok, (size_t)m->cfg.moe_intermediate_size);
}

/* out += down(glu(x · gate|up)), times sigmoid(x · g) when gated (Qwen2-MoE); its output goes
 * through b->xs and the gate's logit through b->logits (both free once the routed experts are
 * combined). */
static void shared_fwd(rlc_model_t *m, int l, void *out, const void *x, int N, const rlc_moe_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = m->cfg.hidden_size, S = m->cfg.moe_shared_size;
    be->matmul_fwd(be, shared_gu(m, b, N), x, P(W->gu_w), NULL, N, C, 2 * S);
    rlc_model_glu_fwd(m, shared_h(m, b, N), shared_gu(m, b, N), N, S);
    be->matmul_fwd(be, b->xs, shared_h(m, b, N), P(W->down_w), NULL, N, S, C);
    if (!m->cfg.moe_shared_gated) {
        be->add(be, out, out, b->xs, RLC_BUF_ACT, (size_t)N * C);
        return;
    }
    be->matmul_fwd(be, b->logits, x, P(W->shared_gate), NULL, N, C, 1);
    be->moe_gate_add_fwd(be, out, b->xs, b->logits, N, C);
}

/* Its backward into sdx [N,C] (=), reading dout (before anything writes dx, which it may alias);
 * b->xs, b->logits and the tails of dgu and dh beyond the routed rows as scratch. */
static void shared_bwd(rlc_model_t *m, int l, void *sdx, const void *dout, const void *x, int N,
                       const rlc_moe_bufs_t *b, void *dgu, void *dh) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = m->cfg.hidden_size, S = m->cfg.moe_shared_size, R = N * m->cfg.experts_per_tok;
    int I = m->cfg.moe_intermediate_size;
    void *sdgu = rows_at(m, dgu, R, 2 * (size_t)I), *sdh = rows_at(m, dh, R, (size_t)I);
    int gated = m->cfg.moe_shared_gated;
    if (gated) {
        be->matmul_fwd(be, b->xs, shared_h(m, b, N), P(W->down_w), NULL, N, S, C); /* its output, again */
        be->matmul_fwd(be, b->logits, x, P(W->shared_gate), NULL, N, C, 1);
        be->moe_gate_add_bwd(be, b->xs, b->logits, dout, b->xs, b->logits, N, C); /* in place: dy over y, dz over z */
    }
    be->matmul_bwd(be, sdh, G(W->down_w), NULL, gated ? b->xs : dout, shared_h(m, b, N), P(W->down_w), N, S, C);
    rlc_model_glu_bwd(m, sdgu, sdh, shared_gu(m, b, N), N, S);
    be->matmul_bwd(be, sdx, G(W->gu_w), NULL, sdgu, x, P(W->gu_w), N, C, 2 * S);
    if (!gated) return;
    be->matmul_bwd(be, b->xs, G(W->shared_gate), NULL, b->logits, x, P(W->shared_gate), N, C, 1);
    be->add(be, sdx, sdx, b->xs, RLC_BUF_ACT, (size_t)N * C);
}

rlc_moe_route_t rlc_model_moe_route(const rlc_model_config_t *c) {
    rlc_moe_route_t r = {c->num_experts, c->experts_per_tok, c->moe_groups,  c->moe_topk_groups,
                         c->moe_norm_topk, c->moe_softmax,   c->moe_scale, c->moe_norm_min, c->moe_group_max};
    return r;
}

/* The router: logits, then the picks and weights into b (a biased routing's logits in fp32:
 * they go through b->probs, which the scores then overwrite). */
static void route_fwd(rlc_model_t *m, int l, const void *x, int N, const rlc_moe_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = c->hidden_size, E = c->num_experts, K = c->experts_per_tok;
    if (!c->moe_biased) {
        be->matmul_fwd(be, b->logits, x, P(W->router), NULL, N, C, E);
        be->moe_route_fwd(be, b->probs, b->w, b->idx, b->logits, N, E, K, c->moe_norm_topk);
        return;
    }
    be->logits(be, b->probs, x, P(W->router), N, C, E);
    rlc_moe_route_t r = rlc_model_moe_route(c);
    const float *bias = W->router_bias == RLC_NO_OFFSET ? NULL : m->keep_f32 + W->router_bias; /* DeepSeek-V2: none */
    be->moe_route_biased_fwd(be, b->probs, b->w, b->idx, b->probs, bias, N, &r);
}

/* Its backward from the weights' gradient dw: the router's weight gradient, and its input
 * gradient into dy's first N rows (=). b->probs is spent (a biased routing's logit gradient
 * over it). */
static void route_bwd(rlc_model_t *m, int l, void *dy, const float *dw, const void *x, int N, const rlc_moe_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = c->hidden_size, E = c->num_experts, K = c->experts_per_tok;
    if (c->moe_biased) {
        rlc_moe_route_t r = rlc_model_moe_route(c);
        be->moe_route_biased_bwd(be, b->probs, dw, b->probs, b->w, b->idx, N, &r);
        be->f32_to_act(be, b->logits, b->probs, (size_t)N * E);
    } else {
        be->moe_route_bwd(be, b->logits, dw, b->probs, b->w, b->idx, N, E, K, c->moe_norm_topk);
    }
    be->matmul_bwd(be, dy, G(W->router), NULL, b->logits, x, P(W->router), N, C, E);
}

int rlc_moe_fwd(rlc_model_t *m, int l, void *out, const void *x, int N, const rlc_moe_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = c->hidden_size, E = c->num_experts, K = c->experts_per_tok, I = c->moe_intermediate_size;
    route_fwd(m, l, x, N, b);
    int rc = be->check(be);
    if (rc || (rc = dispatch(m, b, N))) return rc;
    be->gather_rows(be, b->xs, x, b->src, N * K, C);
    for (int e = 0; e < E; e++) {
        int r0 = b->off[e], n = b->off[e + 1] - r0;
        if (n) be->matmul_fwd(be, rows_at(m, b->gu, r0, 2 * (size_t)I), rows_at(m, b->xs, r0, C),
                              P(rlc_expert_gu(c, W, e)), NULL, n, C, 2 * I);
    }
    rlc_model_glu_fwd(m, b->h, b->gu, N * K, I);
    expert_outputs(m, l, b, b->xs); /* the inputs are spent: the outputs take their place */
    be->moe_combine_fwd(be, out, b->xs, b->w, b->inv, N, K, C);
    if (c->moe_shared_size) shared_fwd(m, l, out, x, N, b);
    return 0;
}

int rlc_moe_bwd(rlc_model_t *m, int l, void *dx, const void *dout, const void *x, int N, const rlc_moe_bufs_t *b,
                void *dy, float *dw, void *dgu, void *dh, void *sdx) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int C = c->hidden_size, E = c->num_experts, K = c->experts_per_tok, I = c->moe_intermediate_size;
    expert_outputs(m, l, b, b->xs); /* recomputed rather than kept: K rows of C per token and layer */
    be->moe_combine_bwd(be, dy, dw, dout, b->xs, b->w, b->inv, N, K, C);
    if (c->moe_shared_size) shared_bwd(m, l, sdx, dout, x, N, b, dgu, dh); /* the last read of dout */
    for (int e = 0; e < E; e++) {
        int r0 = b->off[e], n = b->off[e + 1] - r0;
        if (n) be->matmul_bwd(be, rows_at(m, dh, r0, I), G(rlc_expert_down(c, W, e)), NULL, rows_at(m, dy, r0, C),
                              rows_at(m, b->h, r0, I), P(rlc_expert_down(c, W, e)), n, I, C);
    }
    rlc_model_glu_bwd(m, dgu, dh, b->gu, N * K, I);
    be->gather_rows(be, b->xs, x, b->src, N * K, C);
    for (int e = 0; e < E; e++) { /* expert e's input gradient overwrites its own rows of dy, read above */
        int r0 = b->off[e], n = b->off[e + 1] - r0;
        if (n) be->matmul_bwd(be, rows_at(m, dy, r0, C), G(rlc_expert_gu(c, W, e)), NULL,
                              rows_at(m, dgu, r0, 2 * (size_t)I), rows_at(m, b->xs, r0, C), P(rlc_expert_gu(c, W, e)),
                              n, C, 2 * I);
    }
    be->moe_combine_fwd(be, dx, dy, NULL, b->inv, N, K, C); /* each token's K input gradients */
    route_bwd(m, l, dy, dw, x, N, b);
    be->add(be, dx, dx, dy, RLC_BUF_ACT, (size_t)N * C);
    if (c->moe_shared_size) be->add(be, dx, dx, sdx, RLC_BUF_ACT, (size_t)N * C);
    return 0;
}
