/* Attention's projections around the attention op, shared by training (forward.c), the
 * engine's step (decode.c) and the exact path: q|k|v and its q/k norms and RoPE, the output
 * projection; MLA's go through model/mla.c. */
#include "model/model.h"

#define P(off) rlc_model_param_at(m, be, (off))
#define G(off) ((off) == RLC_NO_OFFSET ? NULL : rlc_model_grad_at(m, (off)))

void rlc_model_qk_norm_fwd(rlc_model_t *m, int l, void *qkv, void *raw, float *rstd, int N) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads, QKV = (Hq + 2 * Hk) * D;
    if (!c->qk_norm_full) {
        be->qk_norm_fwd(be, qkv, raw, rstd, P(W->q_norm), P(W->k_norm), N, Hq, Hk, D, QKV, c->rms_norm_eps);
        return;
    }
    /* one "head" of Hq·D, then one of Hk·D (raw: the q rows, then the k rows; rstd likewise) */
    size_t ea = be->esize[RLC_BUF_ACT];
    be->qk_norm_fwd(be, qkv, raw, rstd, P(W->q_norm), NULL, N, 1, 0, Hq * D, QKV, c->rms_norm_eps);
    be->qk_norm_fwd(be, (char *)qkv + (size_t)Hq * D * ea, raw ? (char *)raw + (size_t)N * Hq * D * ea : NULL,
                    rstd ? rstd + N : NULL, NULL, P(W->k_norm), N, 0, 1, Hk * D, QKV, c->rms_norm_eps);
}

void rlc_model_qk_norm_bwd(rlc_model_t *m, int l, void *dqkv, const void *raw, const float *rstd, int N) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    const rlc_layer_off_t *W = &m->layer[l];
    int D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads, QKV = (Hq + 2 * Hk) * D;
    if (!c->qk_norm_full) {
        be->qk_norm_bwd(be, dqkv, G(W->q_norm), G(W->k_norm), raw, P(W->q_norm), P(W->k_norm), rstd, N, Hq, Hk, D,
                        QKV);
        return;
    }
    size_t ea = be->esize[RLC_BUF_ACT];
    be->qk_norm_bwd(be, dqkv, G(W->q_norm), NULL, raw, P(W->q_norm), NULL, rstd, N, 1, 0, Hq * D, QKV);
    be->qk_norm_bwd(be, (char *)dqkv + (size_t)Hq * D * ea, NULL, G(W->k_norm),
                    (const char *)raw + (size_t)N * Hq * D * ea, NULL, P(W->k_norm), rstd + N, N, 0, 1, Hk * D, QKV);
}

void rlc_model_rope_fwd(rlc_model_t *m, int l, void *qkv, const int32_t *pos, int N) {
    const rlc_model_config_t *c = &m->cfg;
    int Hq = c->num_heads, Hk = c->num_kv_heads, D = c->head_dim;
    if (rlc_config_layer_rope(c, l)) /* SmolLM3's NoPE layers skip it */
        m->be->rope_fwd(m->be, qkv, pos, rlc_model_inv_freq(m, l), N, Hq + Hk, D, c->rotary_dim,
                        rlc_config_layer_rope_mscale(c, l), (Hq + 2 * Hk) * D, c->rope_interleaved);
}

void rlc_model_rope_bwd(rlc_model_t *m, int l, void *dqkv, const int32_t *pos, int N) {
    const rlc_model_config_t *c = &m->cfg;
    int Hq = c->num_heads, Hk = c->num_kv_heads, D = c->head_dim;
    if (rlc_config_layer_rope(c, l))
        m->be->rope_bwd(m->be, dqkv, pos, rlc_model_inv_freq(m, l), N, Hq + Hk, D, c->rotary_dim,
                        rlc_config_layer_rope_mscale(c, l), (Hq + 2 * Hk) * D, c->rope_interleaved);
}

void rlc_model_qkv_fwd(rlc_model_t *m, int l, void *qkv, const void *in, void *raw, float *rstd, const int32_t *pos,
                       int N, const rlc_mla_bufs_t *mb) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    if (c->mla) {
        rlc_mla_qkv_fwd(m, l, qkv, in, pos, N, mb);
        return;
    }
    const rlc_layer_off_t *W = &m->layer[l];
    be->matmul_fwd(be, qkv, in, P(W->qkv_w), P(W->qkv_b), N, c->hidden_size,
                   (c->num_heads + 2 * c->num_kv_heads) * c->head_dim);
    if (c->qk_norm) rlc_model_qk_norm_fwd(m, l, qkv, raw, rstd, N);
    rlc_model_rope_fwd(m, l, qkv, pos, N);
}

void rlc_model_o_fwd(rlc_model_t *m, int l, void *out, const void *att, int N, const rlc_mla_bufs_t *mb) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    if (c->mla) {
        rlc_mla_out_fwd(m, l, out, att, N, mb);
        return;
    }
    const rlc_layer_off_t *W = &m->layer[l];
    be->matmul_fwd(be, out, att, P(W->o_w), P(W->o_b), N, c->num_heads * c->head_dim, c->hidden_size);
}
