/* Multi-head latent attention (DeepSeek-V3, Kimi K2, Moonlight, GLM-4.7-Flash) as plain attention:
 * its projections build each head's query, key and value in the packed qkv layout every kernel
 * takes (config.h: [rope dims, nope dims] per head, zero padded to head_dim), and its output
 * projection reads the heads' first v_head_dim dims. Only copies and the ops other layers use:
 *   x1   = in · [q_a_proj | kv_a_proj_with_mqa]^T   (or q_proj), bottlenecks normed in place
 *   q    = x1[:, :R] · q_b_proj^T                   (or x1's first H·qk columns)
 *   kvb  = x1[:, QW:QW+K] · kv_b_proj^T             (each head's nope key, then its value)
 *   qkv  = heads assembled; the rope key x1[:, QW+K:] is every key head's; RoPE on q and k.
 * The KV cache holds the expanded heads, not the latent (what the engine's kernels read). */
#include "model/model.h"

#define P(off) rlc_model_param_at(m, be, (off))
#define G(off) ((off) == RLC_NO_OFFSET ? NULL : rlc_model_grad_at(m, (off)))
#define AT(p, off) ((void *)((char *)(p) + (size_t)(off) * ea))

/* Both bottleneck norms take their class's default eps (DeepseekV3RMSNorm(rank)). */
static const float MLA_EPS = 1e-6f;

typedef struct {
    int C, H, nope, rope, v, qk, D, R, K, A, QW, W3, KVW;
} dims_t;

static dims_t dims_of(const rlc_model_config_t *c) {
    dims_t d = {.C = c->hidden_size, .H = c->num_heads, .nope = c->qk_nope_dim, .rope = c->qk_rope_dim,
                .v = c->v_head_dim, .D = c->head_dim, .R = c->q_lora_rank, .K = c->kv_lora_rank};
    d.qk = d.nope + d.rope;
    d.A = rlc_config_mla_a(c);
    d.QW = rlc_config_mla_qw(c);
    d.W3 = 3 * d.H * d.D;
    d.KVW = d.H * (d.nope + d.v);
    return d;
}

void rlc_mla_sizes(const rlc_model_config_t *c, size_t n, size_t *x1, size_t *raw, size_t *cin, size_t *cout) {
    dims_t d = dims_of(c);
    size_t in = (size_t)d.R + d.K, ov = (size_t)d.H * d.v;
    *x1 = n * d.A;
    *raw = n * in;
    *cin = n * (in > ov ? in : ov);
    *cout = n * ((size_t)d.H * d.qk + d.KVW);
}

/* The bottlenecks' norms in place on x1 (raw [N·R] then [N·K], rstd [N] then [N]). */
static void norms_fwd(rlc_model_t *m, int l, const dims_t *d, const rlc_mla_bufs_t *b, int N) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    size_t ea = be->esize[RLC_BUF_ACT];
    if (d->R) be->qk_norm_fwd(be, b->x1, b->raw, b->rstd, P(W->q_norm), NULL, N, 1, 0, d->R, d->A, MLA_EPS);
    be->qk_norm_fwd(be, AT(b->x1, d->QW), b->raw ? AT(b->raw, (size_t)N * d->R) : NULL,
                    b->rstd ? b->rstd + (d->R ? N : 0) : NULL, NULL, P(W->k_norm), N, 0, 1, d->K, d->A, MLA_EPS);
}

void rlc_mla_project(rlc_model_t *m, int l, const void *in, int N, const rlc_mla_bufs_t *b, const void **q, int *qld) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    dims_t d = dims_of(&m->cfg);
    be->matmul_fwd(be, b->x1, in, P(W->qkv_w), NULL, N, d.C, d.A);
    norms_fwd(m, l, &d, b, N);
    if (d.R) { /* the query bottleneck's rows made contiguous, then expanded */
        be->head_copy(be, b->cin, d.R, 0, b->x1, d.A, 0, N, 1, d.R, 0);
        be->matmul_fwd(be, b->cout, b->cin, P(W->q_b), NULL, N, d.R, d.H * d.qk);
    }
    *q = rlc_mla_queries(&m->cfg, b, qld);
}

const void *rlc_mla_queries(const rlc_model_config_t *c, const rlc_mla_bufs_t *b, int *qld) {
    dims_t d = dims_of(c);
    *qld = d.R ? d.H * d.qk : d.A; /* q_b_proj's output, or q_proj's columns of x1 */
    return d.R ? b->cout : b->x1;
}

void rlc_mla_qkv_fwd(rlc_model_t *m, int l, void *qkv, const void *in, const int32_t *pos, int N,
                     const rlc_mla_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    dims_t d = dims_of(&m->cfg);
    size_t ea = be->esize[RLC_BUF_ACT];
    const void *q;
    int qld;
    rlc_mla_project(m, l, in, N, b, &q, &qld);
    void *kvc = AT(b->cin, (size_t)N * d.R), *kvb = AT(b->cout, (size_t)N * d.H * d.qk);
    be->head_copy(be, kvc, d.K, 0, AT(b->x1, d.QW), d.A, 0, N, 1, d.K, 0);
    be->matmul_fwd(be, kvb, kvc, P(W->kv_b), NULL, N, d.K, d.KVW);
    if (d.D > d.qk || d.D > d.v) be->zero(be, qkv, RLC_BUF_ACT, (size_t)N * d.W3);
    be->head_copy(be, qkv, d.W3, d.D, AT(q, d.nope), qld, d.qk, N, d.H, d.rope, 0);                /* q rope */
    be->head_copy(be, AT(qkv, d.H * d.D), d.W3, d.D, AT(b->x1, d.QW + d.K), d.A, 0, N, d.H, d.rope, 0); /* k rope */
    if (d.nope) {
        be->head_copy(be, AT(qkv, d.rope), d.W3, d.D, q, qld, d.qk, N, d.H, d.nope, 0);
        be->head_copy(be, AT(qkv, d.H * d.D + d.rope), d.W3, d.D, kvb, d.KVW, d.nope + d.v, N, d.H, d.nope, 0);
    }
    be->head_copy(be, AT(qkv, 2 * d.H * d.D), d.W3, d.D, AT(kvb, d.nope), d.KVW, d.nope + d.v, N, d.H, d.v, 0);
    rlc_model_rope_fwd(m, l, qkv, pos, N);
}

void rlc_mla_out_fwd(rlc_model_t *m, int l, void *out, const void *att, int N, const rlc_mla_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    dims_t d = dims_of(&m->cfg);
    if (d.v != d.D) { /* the heads' value dims, without their padding */
        be->head_copy(be, b->cin, d.H * d.v, d.v, att, d.H * d.D, d.D, N, d.H, d.v, 0);
        att = b->cin;
    }
    be->matmul_fwd(be, out, att, P(W->o_w), P(W->o_b), N, d.H * d.v, d.C);
}

void rlc_mla_out_bwd(rlc_model_t *m, int l, void *datt, const void *dout, const void *att, int N,
                     const rlc_mla_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    dims_t d = dims_of(&m->cfg);
    if (d.v == d.D) {
        be->matmul_bwd(be, datt, G(W->o_w), G(W->o_b), dout, att, P(W->o_w), N, d.H * d.D, d.C);
        return;
    }
    be->head_copy(be, b->cin, d.H * d.v, d.v, att, d.H * d.D, d.D, N, d.H, d.v, 0);
    be->matmul_bwd(be, b->cout, G(W->o_w), G(W->o_b), dout, b->cin, P(W->o_w), N, d.H * d.v, d.C);
    be->zero(be, datt, RLC_BUF_ACT, (size_t)N * d.H * d.D); /* the padding's gradient: 0, and no NaN from scratch */
    be->head_copy(be, datt, d.H * d.D, d.D, b->cout, d.H * d.v, d.v, N, d.H, d.v, 0);
}

/* dqkv's heads back to the layouts the projections produced: dq (ld dqld), dkvb, and the sum
 * of the key heads' rope gradients into dx1's rope key. */
static void scatter_grads(rlc_backend_t *be, const dims_t *d, const void *dqkv, void *dq, int dqld, void *dkvb,
                          void *dx1, int N) {
    size_t ea = be->esize[RLC_BUF_ACT];
    be->head_copy(be, AT(dq, d->nope), dqld, d->qk, dqkv, d->W3, d->D, N, d->H, d->rope, 0);
    be->head_copy(be, AT(dx1, d->QW + d->K), d->A, 0, AT(dqkv, d->H * d->D), d->W3, d->D, N, d->H, d->rope, 1);
    if (d->nope) {
        be->head_copy(be, dq, dqld, d->qk, AT(dqkv, d->rope), d->W3, d->D, N, d->H, d->nope, 0);
        be->head_copy(be, dkvb, d->KVW, d->nope + d->v, AT(dqkv, d->H * d->D + d->rope), d->W3, d->D, N, d->H, d->nope,
                      0);
    }
    be->head_copy(be, AT(dkvb, d->nope), d->KVW, d->nope + d->v, AT(dqkv, 2 * d->H * d->D), d->W3, d->D, N, d->H, d->v,
                  0);
}

void rlc_mla_qkv_bwd(rlc_model_t *m, int l, void *din, void *dqkv, const void *in, const int32_t *pos, int N,
                     const rlc_mla_bufs_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_layer_off_t *W = &m->layer[l];
    dims_t d = dims_of(&m->cfg);
    size_t ea = be->esize[RLC_BUF_ACT];
    rlc_model_rope_bwd(m, l, dqkv, pos, N);
    void *dq = d.R ? b->cout : b->dx1, *dkvb = AT(b->cout, (size_t)N * d.H * d.qk);
    scatter_grads(be, &d, dqkv, dq, d.R ? d.H * d.qk : d.A, dkvb, b->dx1, N);
    if (d.R) { /* through q_b_proj (its input made contiguous again from x1) */
        be->head_copy(be, b->cin, d.R, 0, b->x1, d.A, 0, N, 1, d.R, 0);
        be->matmul_bwd(be, b->dcin, G(W->q_b), NULL, dq, b->cin, P(W->q_b), N, d.R, d.H * d.qk);
        be->head_copy(be, b->dx1, d.A, 0, b->dcin, d.R, 0, N, 1, d.R, 0);
    }
    void *kvc = AT(b->cin, (size_t)N * d.R), *dkvc = AT(b->dcin, (size_t)N * d.R);
    be->head_copy(be, kvc, d.K, 0, AT(b->x1, d.QW), d.A, 0, N, 1, d.K, 0);
    be->matmul_bwd(be, dkvc, G(W->kv_b), NULL, dkvb, kvc, P(W->kv_b), N, d.K, d.KVW);
    be->head_copy(be, AT(b->dx1, d.QW), d.A, 0, dkvc, d.K, 0, N, 1, d.K, 0);
    if (d.R)
        be->qk_norm_bwd(be, b->dx1, G(W->q_norm), NULL, b->raw, P(W->q_norm), NULL, b->rstd, N, 1, 0, d.R, d.A);
    be->qk_norm_bwd(be, AT(b->dx1, d.QW), NULL, G(W->k_norm), AT(b->raw, (size_t)N * d.R), NULL, P(W->k_norm),
                    b->rstd + (d.R ? N : 0), N, 0, 1, d.K, d.A);
    be->matmul_bwd(be, din, G(W->qkv_w), NULL, b->dx1, in, P(W->qkv_w), N, d.C, d.A);
}
