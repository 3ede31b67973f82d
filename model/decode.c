/* Paged KV cache and the inference step (see decode.h). The step reuses the training
 * kernels for everything but attention, which reads K/V through the block tables. */
#include "model/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define P(off) ((off) == RLC_NO_OFFSET ? NULL : (void *)((char *)m->params + (off) * be->esize[RLC_BUF_PARAM]))

size_t rlc_kv_page_bytes(const rlc_model_t *m, int page_size) {
    return (size_t)2 * m->cfg.num_layers * page_size * m->cfg.num_kv_heads * m->cfg.head_dim *
           m->be->esize[RLC_BUF_ACT];
}

int rlc_kv_cache_init(rlc_kv_cache_t *kv, rlc_model_t *m, int num_pages, int page_size) {
    memset(kv, 0, sizeof *kv);
    if (num_pages <= 0 || page_size <= 0) return rlc_errc(RLC_EINVAL, "KV cache needs pages and a page size");
    kv->num_pages = num_pages;
    kv->page_size = page_size;
    kv->num_layers = m->cfg.num_layers;
    kv->kv_width = m->cfg.num_kv_heads * m->cfg.head_dim;
    size_t n = (size_t)kv->num_layers * num_pages * page_size * kv->kv_width;
    kv->k = m->be->alloc(m->be, "KV cache (K)", n, RLC_BUF_ACT);
    kv->v = kv->k ? m->be->alloc(m->be, "KV cache (V)", n, RLC_BUF_ACT) : NULL;
    if (!kv->k || !kv->v) {
        rlc_kv_cache_free(kv, m);
        return RLC_ENOMEM;
    }
    return 0;
}

void rlc_kv_cache_free(rlc_kv_cache_t *kv, rlc_model_t *m) {
    if (kv->k) m->be->free(m->be, kv->k);
    if (kv->v) m->be->free(m->be, kv->v);
    memset(kv, 0, sizeof *kv);
}

static void *layer_ptr(const rlc_kv_cache_t *kv, const rlc_model_t *m, void *base, int l, size_t slot) {
    size_t per_layer = (size_t)kv->num_pages * kv->page_size * kv->kv_width;
    return (char *)base + ((size_t)l * per_layer + slot * kv->kv_width) * m->be->esize[RLC_BUF_ACT];
}

void rlc_kv_copy_page(rlc_kv_cache_t *kv, rlc_model_t *m, int dst, int src, int ntokens) {
    rlc_backend_t *be = m->be;
    size_t n = (size_t)ntokens * kv->kv_width;
    for (int l = 0; l < kv->num_layers; l++) {
        be->copy(be, layer_ptr(kv, m, kv->k, l, (size_t)dst * kv->page_size),
                 layer_ptr(kv, m, kv->k, l, (size_t)src * kv->page_size), RLC_BUF_ACT, n);
        be->copy(be, layer_ptr(kv, m, kv->v, l, (size_t)dst * kv->page_size),
                 layer_ptr(kv, m, kv->v, l, (size_t)src * kv->page_size), RLC_BUF_ACT, n);
    }
}

/* Workspace for a step of up to cap_tokens tokens and cap_out sampled rows. */
typedef struct {
    int cap_tokens, cap_out, cap_seqs, cap_bt;
    void *x, *xmid, *ln, *qkv, *att, *tmp, *gu, *h, *rows;
    float *rstd, *logits;
    int32_t *ids, *pos, *slots, *cu, *ctx, *bt, *out_rows;
} step_ws_t;

static void ws_free(rlc_model_t *m, step_ws_t *w) {
    void *bufs[] = {w->x, w->xmid, w->ln, w->qkv, w->att, w->tmp, w->gu, w->h, w->rows, w->rstd, w->logits,
                    w->ids, w->pos, w->slots, w->cu, w->ctx, w->bt, w->out_rows};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) m->be->free(m->be, bufs[i]);
    memset(w, 0, sizeof *w);
}

static int ws_ensure(rlc_model_t *m, step_ws_t *w, const rlc_step_batch_t *b) {
    if (w->cap_tokens >= b->n_tokens && w->cap_out >= b->n_out && w->cap_seqs >= b->nseq &&
        w->cap_bt >= b->nseq * b->max_pages)
        return 0;
    int T = b->n_tokens > w->cap_tokens ? b->n_tokens : w->cap_tokens;
    int O = b->n_out > w->cap_out ? b->n_out : w->cap_out;
    int S = b->nseq > w->cap_seqs ? b->nseq : w->cap_seqs;
    int BT = b->nseq * b->max_pages > w->cap_bt ? b->nseq * b->max_pages : w->cap_bt;
    ws_free(m, w);
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    size_t n = (size_t)T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t QKV = (size_t)(c->num_heads + 2 * c->num_kv_heads) * c->head_dim, A = (size_t)c->num_heads * c->head_dim;
    w->x = be->alloc(be, "step residual", n * C, RLC_BUF_ACT);
    w->xmid = be->alloc(be, "step residual (mid)", n * C, RLC_BUF_ACT);
    w->ln = be->alloc(be, "step norm", n * C, RLC_BUF_ACT);
    w->qkv = be->alloc(be, "step qkv", n * QKV, RLC_BUF_ACT);
    w->att = be->alloc(be, "step attention", n * A, RLC_BUF_ACT);
    w->tmp = be->alloc(be, "step projection", n * C, RLC_BUF_ACT);
    w->gu = be->alloc(be, "step gate|up", n * 2 * F, RLC_BUF_ACT);
    w->h = be->alloc(be, "step swiglu", n * F, RLC_BUF_ACT);
    w->rows = be->alloc(be, "step sampled rows", (size_t)O * C, RLC_BUF_ACT);
    w->rstd = be->alloc(be, "step rstd", n, RLC_BUF_F32);
    w->logits = be->alloc(be, "step logits", (size_t)O * c->vocab_size, RLC_BUF_F32);
    w->ids = be->alloc(be, "step ids", n, RLC_BUF_I32);
    w->pos = be->alloc(be, "step positions", n, RLC_BUF_I32);
    w->slots = be->alloc(be, "step slots", n, RLC_BUF_I32);
    w->cu = be->alloc(be, "step cu_q", (size_t)S + 1, RLC_BUF_I32);
    w->ctx = be->alloc(be, "step ctx_len", (size_t)S, RLC_BUF_I32);
    w->bt = be->alloc(be, "step block tables", (size_t)BT, RLC_BUF_I32);
    w->out_rows = be->alloc(be, "step out rows", (size_t)O, RLC_BUF_I32);
    void *bufs[] = {w->x, w->xmid, w->ln, w->qkv, w->att, w->tmp, w->gu, w->h, w->rows, w->rstd, w->logits,
                    w->ids, w->pos, w->slots, w->cu, w->ctx, w->bt, w->out_rows};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!bufs[i]) {
            ws_free(m, w);
            return RLC_ENOMEM;
        }
    w->cap_tokens = T;
    w->cap_out = O;
    w->cap_seqs = S;
    w->cap_bt = BT;
    return 0;
}

int rlc_model_step(rlc_model_t *m, rlc_kv_cache_t *kv, const rlc_step_batch_t *b, const float **logits) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    if (c->head != RLC_HEAD_LM) return rlc_errc(RLC_EINVAL, "generation needs a model with an LM head");
    if (b->n_tokens <= 0 || b->nseq <= 0 || b->n_out <= 0) return rlc_errc(RLC_EINVAL, "empty decode step");
    for (int i = 0; i < b->n_tokens; i++)
        if (b->ids[i] < 0 || b->ids[i] >= c->vocab_size)
            return rlc_errc(RLC_ERANGE, "token id %d is out of range (vocab size %d)", b->ids[i], c->vocab_size);
    if (!m->step_ws) {
        m->step_ws = rlc_calloc(1, sizeof(step_ws_t));
        if (!m->step_ws) return RLC_ENOMEM;
    }
    step_ws_t *w = m->step_ws;
    int rc = ws_ensure(m, w, b);
    if (rc) return rc;
    int N = b->n_tokens, L = c->num_layers, C = c->hidden_size, F = c->intermediate_size, D = c->head_dim;
    int Hq = c->num_heads, Hk = c->num_kv_heads, QKV = (Hq + 2 * Hk) * D;
    if ((rc = be->upload(be, w->ids, RLC_BUF_I32, b->ids, (size_t)N)) ||
        (rc = be->upload(be, w->pos, RLC_BUF_I32, b->pos, (size_t)N)) ||
        (rc = be->upload(be, w->slots, RLC_BUF_I32, b->slots, (size_t)N)) ||
        (rc = be->upload(be, w->cu, RLC_BUF_I32, b->cu_q, (size_t)b->nseq + 1)) ||
        (rc = be->upload(be, w->ctx, RLC_BUF_I32, b->ctx_len, (size_t)b->nseq)) ||
        (rc = be->upload(be, w->bt, RLC_BUF_I32, b->block_table, (size_t)b->nseq * b->max_pages)) ||
        (rc = be->upload(be, w->out_rows, RLC_BUF_I32, b->out_rows, (size_t)b->n_out)))
        return rc;
    float scale = 1.0f / sqrtf((float)D);
    be->row_invariant = 1; /* batch-invariant matmuls for generation */
    be->embedding_fwd(be, w->x, w->ids, P(m->off_embed), N, C);
    be->rmsnorm_fwd(be, w->ln, w->rstd, w->x, P(m->layer[0].ln1), N, C, c->rms_norm_eps);
    for (int l = 0; l < L; l++) {
        const rlc_layer_off_t *W = &m->layer[l];
        be->matmul_fwd(be, w->qkv, w->ln, P(W->qkv_w), P(W->qkv_b), N, C, QKV);
        be->rope_fwd(be, w->qkv, w->pos, m->inv_freq, N, Hq + Hk, D, QKV);
        void *kc = layer_ptr(kv, m, kv->k, l, 0), *vc = layer_ptr(kv, m, kv->v, l, 0);
        be->kv_store(be, kc, vc, w->qkv, w->slots, N, Hq, Hk, D);
        be->paged_attention(be, w->att, w->qkv, kc, vc, w->cu, w->ctx, w->bt, b->max_pages, kv->page_size, b->nseq,
                            N, Hq, Hk, D, scale, b->max_ctx);
        be->matmul_fwd(be, w->tmp, w->att, P(W->o_w), P(W->o_b), N, Hq * D, C);
        be->residual_rmsnorm_fwd(be, w->xmid, w->ln, w->rstd, w->x, w->tmp, P(W->ln2), N, C, c->rms_norm_eps);
        be->matmul_fwd(be, w->gu, w->ln, P(W->gu_w), P(W->gu_b), N, C, 2 * F);
        be->swiglu_fwd(be, w->h, w->gu, N, F);
        be->matmul_fwd(be, w->tmp, w->h, P(W->down_w), P(W->down_b), N, F, C);
        const void *next_norm = l + 1 < L ? P(m->layer[l + 1].ln1) : P(m->off_norm);
        be->residual_rmsnorm_fwd(be, w->x, w->ln, w->rstd, w->xmid, w->tmp, next_norm, N, C, c->rms_norm_eps);
    }
    be->gather_rows(be, w->rows, w->ln, w->out_rows, b->n_out, C);
    be->logits(be, w->logits, w->rows, P(m->off_lm_head), b->n_out, C, c->vocab_size);
    be->row_invariant = 0;
    if ((rc = be->check(be))) return rc;
    *logits = w->logits;
    return 0;
}

void rlc_model_step_free(rlc_model_t *m) {
    if (!m->step_ws) return;
    ws_free(m, m->step_ws);
    free(m->step_ws);
    m->step_ws = NULL;
}
