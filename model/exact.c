/* The exact on-policy forward's pieces (see exact.h). */
#include "model/exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/decode.h"

#define P(off) rlc_model_param_at(m, be, (off))

enum { EXACT_PAGE = 16 };

int rlc_exact_begin(rlc_model_t *m, const rlc_batch_t *b, rlc_exact_t *ex) {
    rlc_backend_t *be = m->be;
    memset(ex, 0, sizeof *ex);
    ex->page = EXACT_PAGE;
    int pages = 0;
    for (int s = 0; s < b->nseq; s++) {
        int n = (b->cu_seqlens[s + 1] - b->cu_seqlens[s] + EXACT_PAGE - 1) / EXACT_PAGE;
        pages += n;
        if (n > ex->max_pages) ex->max_pages = n;
    }
    size_t kvw = (size_t)rlc_kv_width(&m->cfg), slots = (size_t)pages * EXACT_PAGE;
    int32_t *h_slots = malloc(sizeof(int32_t) * (size_t)b->n_tokens), *h_ctx = malloc(sizeof(int32_t) * (size_t)b->nseq);
    int32_t *h_bt = calloc((size_t)b->nseq * ex->max_pages, sizeof(int32_t));
    int rc = h_slots && h_ctx && h_bt ? 0 : RLC_ENOMEM;
    for (int s = 0, page0 = 0; s < b->nseq && !rc; s++) { /* each sequence's pages, in order */
        int s0 = b->cu_seqlens[s], len = b->cu_seqlens[s + 1] - s0, np = (len + EXACT_PAGE - 1) / EXACT_PAGE;
        h_ctx[s] = len;
        for (int j = 0; j < np; j++) h_bt[(size_t)s * ex->max_pages + j] = page0 + j;
        for (int i = 0; i < len; i++) h_slots[s0 + i] = page0 * EXACT_PAGE + i;
        page0 += np;
    }
    if (!rc) {
        ex->kc = be->alloc(be, "exact attention K", slots * kvw, RLC_BUF_ACT);
        ex->vc = m->cfg.mla ? ex->kc : be->alloc(be, "exact attention V", slots * kvw, RLC_BUF_ACT);
        ex->slots = be->alloc(be, "exact attention slots", (size_t)b->n_tokens, RLC_BUF_I32);
        ex->ctx = be->alloc(be, "exact attention lengths", (size_t)b->nseq, RLC_BUF_I32);
        ex->bt = be->alloc(be, "exact attention pages", (size_t)b->nseq * ex->max_pages, RLC_BUF_I32);
        if (!ex->kc || !ex->vc || !ex->slots || !ex->ctx || !ex->bt) rc = RLC_ENOMEM;
    }
    if (!rc && m->cfg.mla) { /* the engine's latent attention */
        size_t lq, latt, scr, n = (size_t)b->n_tokens;
        rlc_mla_latent_sizes(&m->cfg, n, &lq, &latt, &scr);
        ex->lq = be->alloc(be, "exact mla latent q|k|v", lq, RLC_BUF_ACT);
        ex->latt = be->alloc(be, "exact mla latent attention", latt, RLC_BUF_ACT);
        ex->scr = be->alloc(be, "exact mla scratch", scr, RLC_BUF_ACT);
        ex->attc = be->alloc(be, "exact mla heads", n * (size_t)rlc_config_o_width(&m->cfg), RLC_BUF_ACT);
        if (!ex->lq || !ex->latt || !ex->scr || !ex->attc) rc = RLC_ENOMEM;
    }
    if (!rc) rc = be->upload(be, ex->slots, RLC_BUF_I32, h_slots, (size_t)b->n_tokens);
    if (!rc) rc = be->upload(be, ex->ctx, RLC_BUF_I32, h_ctx, (size_t)b->nseq);
    if (!rc) rc = be->upload(be, ex->bt, RLC_BUF_I32, h_bt, (size_t)b->nseq * ex->max_pages);
    free(h_slots), free(h_ctx), free(h_bt);
    if (rc) rlc_exact_end(m, ex);
    return rc;
}

void rlc_exact_end(rlc_model_t *m, rlc_exact_t *ex) {
    rlc_backend_t *be = m->be;
    void *bufs[9] = {ex->kc, ex->vc == ex->kc ? NULL : ex->vc, ex->slots, ex->ctx, ex->bt, ex->lq, ex->latt, ex->scr,
                     ex->attc};
    for (int i = 0; i < 9; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    memset(ex, 0, sizeof *ex);
}

void rlc_exact_attention(rlc_model_t *m, const rlc_exact_t *ex, int l, int N, int nseq, int maxlen) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    rlc_acts_t *a = &m->acts;
    int D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads;
    if (c->mla) { /* the latent cache's attention from the layer's projections, into att's heads (zero-padded) */
        int v = c->v_head_dim, qld;
        rlc_mla_bufs_t mb = {.x1 = a->mla_x1[l], .cout = a->mla_cout};
        const void *q = rlc_mla_queries(c, &mb, &qld);
        rlc_mla_paged_t pg = {ex->kc, ex->slots, a->cu, ex->ctx, ex->bt, ex->max_pages, ex->page, nseq, maxlen};
        rlc_mla_latent_attn(m, l, ex->attc, a->mla_x1[l], q, qld, a->pos, N, &pg, ex->lq, ex->latt, ex->scr);
        be->zero(be, a->att[l], RLC_BUF_ACT, (size_t)N * Hq * D);
        be->head_copy(be, a->att[l], Hq * D, D, ex->attc, Hq * v, v, N, Hq, v, 0);
        return;
    }
    be->kv_store(be, ex->kc, ex->vc, a->qkv[l], ex->slots, N, Hq, Hk, D);
    be->paged_attention(be, a->att[l], a->qkv[l], ex->kc, ex->vc, a->cu, ex->ctx, ex->bt, ex->max_pages, ex->page, nseq,
                        N, Hq, Hk, D, rlc_config_attn_scale(c), c->attn_softcap, maxlen, rlc_config_layer_window(c, l));
}

int rlc_exact_logp(rlc_model_t *m, const rlc_batch_t *b, float T, float *logp) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    int N = b->n_tokens, C = c->hidden_size, V = c->vocab_size, ch = (int)((4u << 20) / (unsigned)V);
    if (ch < 1) ch = 1;
    if (ch > N) ch = N;
    float *logits = be->alloc(be, "exact log-prob logits", (size_t)ch * V, RLC_BUF_F32);
    int32_t *tg = malloc(sizeof(int32_t) * (size_t)N), *tok = malloc(sizeof(int32_t) * (size_t)ch);
    rlc_sample_params_t *sp = calloc((size_t)ch, sizeof *sp);
    int rc = logits && tg && tok && sp ? 0 : RLC_ENOMEM;
    for (int s = 0; s < b->nseq && !rc; s++)
        for (int i = b->cu_seqlens[s]; i < b->cu_seqlens[s + 1]; i++)
            tg[i] = b->targets ? b->targets[i] : (i + 1 < b->cu_seqlens[s + 1] ? b->ids[i + 1] : -1);
    int ri = be->row_invariant;
    be->row_invariant = 1; /* the engine's LM head */
    for (int r0 = 0; r0 < N && !rc; r0 += ch) {
        int rows = N - r0 < ch ? N - r0 : ch;
        const char *h = (const char *)m->acts.lnf + (size_t)r0 * C * be->esize[RLC_BUF_ACT];
        be->logits(be, logits, h, P(m->off_lm_head), rows, C, V);
        rlc_model_logits_scale(m, logits, (size_t)rows * V); /* the engine's op, so the bits agree */
        for (int r = 0; r < rows; r++)
            sp[r] = (rlc_sample_params_t){.temperature = T, .top_p = 1.0f, .force1 = tg[r0 + r] >= 0 ? tg[r0 + r] + 1 : 1};
        be->sample(be, tok, logp + r0, logits, sp, rows, V);
        if ((rc = be->check(be))) break;
        for (int r = 0; r < rows; r++)
            if (tg[r0 + r] < 0) logp[r0 + r] = 0;
    }
    be->row_invariant = ri;
    if (logits) be->free(be, logits);
    free(tg), free(tok), free(sp);
    return rc;
}
