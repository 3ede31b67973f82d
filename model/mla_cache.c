/* Multi-head latent attention over its latent KV cache (the rollout engine's step and the exact
 * on-policy forward): a token's cache row is its normed key/value latent and its rope key,
 * kv_lora_rank + qk_rope_head_dim values per layer (576 for DeepSeek-V3, against 2 x heads x
 * head_dim expanded), laid out [rope key, latent]. kv_b_proj's key rows W_uk_h are absorbed into
 * each head's query and its value rows W_uv_h applied to each head's output, so attention runs
 * as plain multi-query attention of heads of that width over one cached key, whose value is
 * the same row (the V cache is the K cache):
 *   score_h(t, s) = q_nope_h(t)·W_uk_h c(s) + q_rope_h(t)·k_rope(s) = [q_rope_h, W_uk_h^T q_nope_h]·[k_rope, c]
 *   out_h(t)      = W_uv_h Σ_s p_h(t, s) c(s).
 * The scores equal the expanded ones up to rounding. Only ops other layers use, plus per-head
 * copies and matmuls (the per-head transposed W_uk_h is rebuilt each call: no copy of the weights
 * lives beside them to go stale). */
#include "model/model.h"

#define P(off) rlc_model_param_at(m, be, (off))
#define AT(p, off) ((void *)((char *)(p) + (size_t)(off) * ea))

void rlc_mla_latent_sizes(const rlc_model_config_t *c, size_t n, size_t *lq, size_t *latt, size_t *scr) {
    size_t H = (size_t)c->num_heads, Dl = (size_t)rlc_config_mla_latent(c), K = (size_t)c->kv_lora_rank;
    size_t nope = (size_t)c->qk_nope_dim, v = (size_t)c->v_head_dim;
    *lq = n * (H + 2) * Dl;
    *latt = n * H * Dl;
    *scr = K * nope + n * (nope + 2 * K + v);
}

/* Each head's absorbed query W_uk_h^T q_nope_h (K dims) after its rope dims in lq. */
static void absorb_queries(rlc_model_t *m, int l, void *lq, const void *q, int qld, int N, void *scr) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    size_t ea = be->esize[RLC_BUF_ACT];
    int H = c->num_heads, K = c->kv_lora_rank, nope = c->qk_nope_dim, v = c->v_head_dim, rope = c->qk_rope_dim;
    int qk = nope + rope, Dl = K + rope, W = (H + 2) * Dl;
    void *T = scr, *qn = AT(scr, (size_t)K * nope), *qa = AT(qn, (size_t)N * nope);
    const void *kvb = P(m->layer[l].kv_b); /* [H·(nope + v), K]: head h's key rows, then its value rows */
    if (!nope) { /* no key dims from the latent: the scores are the rope part's alone */
        be->zero(be, qa, RLC_BUF_ACT, (size_t)N * K);
        be->head_copy(be, AT(lq, rope), W, Dl, qa, K, 0, N, H, K, 0);
        return;
    }
    for (int h = 0; h < H; h++) {
        const void *wuk = (const char *)kvb + (size_t)h * (nope + v) * K * be->esize[RLC_BUF_PARAM];
        be->head_copy(be, T, 1, nope, wuk, K, 1, nope, K, 1, 0); /* T [K, nope] = W_uk_h^T */
        be->head_copy(be, qn, nope, 0, AT(q, h * qk), qld, 0, N, 1, nope, 0);
        be->matmul_fwd(be, qa, qn, T, NULL, N, nope, K);
        be->head_copy(be, AT(lq, h * Dl + rope), W, 0, qa, K, 0, N, 1, K, 0);
    }
}

void rlc_mla_latent_attn(rlc_model_t *m, int l, void *attc, const void *x1, const void *q, int qld,
                         const int32_t *pos, int N, const rlc_mla_paged_t *pg, void *lq, void *latt, void *scr) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    size_t ea = be->esize[RLC_BUF_ACT];
    int H = c->num_heads, K = c->kv_lora_rank, nope = c->qk_nope_dim, v = c->v_head_dim, rope = c->qk_rope_dim;
    int qk = nope + rope, Dl = K + rope, W = (H + 2) * Dl, A = rlc_config_mla_a(c), QW = rlc_config_mla_qw(c);
    /* the token's cache row [k_rope, c], as the key and (the same row) the value */
    be->head_copy(be, AT(lq, H * Dl), W, Dl, AT(x1, QW + K), A, 0, N, 2, rope, 0);
    be->head_copy(be, AT(lq, H * Dl + rope), W, Dl, AT(x1, QW), A, 0, N, 2, K, 0);
    be->head_copy(be, lq, W, Dl, AT(q, nope), qld, qk, N, H, rope, 0); /* the queries' rope dims */
    absorb_queries(m, l, lq, q, qld, N, scr);
    /* RoPE on the queries, the key and the value alike (the value's rope dims are not read, but
     * its row overwrites the key's in the shared cache) */
    be->rope_fwd(be, lq, pos, rlc_model_inv_freq(m, l), N, H + 2, Dl, rope, rlc_config_layer_rope_mscale(c, l), W,
                 c->rope_interleaved);
    be->kv_store(be, pg->kc, pg->kc, lq, pg->slots, N, H, 1, Dl);
    be->paged_attention(be, latt, lq, pg->kc, pg->kc, pg->cu, pg->ctx, pg->bt, pg->max_pages, pg->page_size, pg->nseq,
                        N, H, 1, Dl, rlc_config_attn_scale(c), c->attn_softcap, pg->max_ctx, 0);
    /* each head's latent output through its value rows of kv_b_proj */
    const void *kvb = P(m->layer[l].kv_b);
    void *oh = AT(scr, (size_t)K * nope + (size_t)N * (nope + K)), *ov = AT(oh, (size_t)N * K);
    for (int h = 0; h < H; h++) {
        const void *wuv = (const char *)kvb + ((size_t)h * (nope + v) + nope) * K * be->esize[RLC_BUF_PARAM];
        be->head_copy(be, oh, K, 0, AT(latt, h * Dl + rope), H * Dl, 0, N, 1, K, 0);
        be->matmul_fwd(be, ov, oh, wuv, NULL, N, K, v);
        be->head_copy(be, AT(attc, h * v), H * v, 0, ov, v, 0, N, 1, v, 0);
    }
}
