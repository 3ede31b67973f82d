/* Paged KV cache and the inference step (see decode.h). The step reuses the training
 * kernels for everything but attention, which reads K/V through the block tables. */
#include "model/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"

#define P(off) rlc_model_param_at(m, be, (off))

enum { STEP_GRAPHS_MAX = 64 };

typedef struct {
    int nseq, stride, out; /* bucket: padded sequences, block-table stride; output kind */
    void *kv, *params;  /* captured with these buffers */
    void *graph;        /* NULL: seen once, not captured yet */
} step_graph_t;

/* Workspace for a step of up to cap_tokens tokens and cap_out sampled rows: three blocks
 * (activations, f32, int32). The int32 inputs are packed on the host in the block's layout
 * so a step uploads them in one copy. */
typedef struct {
    int cap_tokens, cap_out, cap_seqs, cap_bt, groups; /* cap_bt: block-table entries per KV group */
    void *act_block;
    float *f32_block;
    int32_t *i32_block, *i32_host;
    size_t i32_n;
    void *x, *xmid, *ln, *qkv, *att, *tmp, *gu, *h, *rows, *br;
    rlc_mla_bufs_t mla; /* MLA's first projection and scratch (x1, cin, cout) */
    void *lq, *latt, *lscr; /* MLA's latent attention (model/mla_cache.c) */
    float *rstd, *logits;
    rlc_moe_bufs_t moe; /* sparse layers (gu, h shared with the dense MLP's) */
    int *moe_off;       /* host [E+1] (owned) */
    /* element offsets of ids, pos, slots, cu_q, ctx_len, block tables, out rows */
    size_t o_ids, o_pos, o_slots, o_cu, o_ctx, o_bt, o_out;
    /* decode-step graphs by bucket (see step_graphed) and the padded batch's host arrays */
    step_graph_t graphs[STEP_GRAPHS_MAX];
    int n_graphs, graphs_off;
    rlc_step_graph_stats_t gstats;
    int32_t *pad;
    size_t pad_cap;
} step_ws_t;

static void graphs_clear(rlc_model_t *m, step_ws_t *w);

/* Free the device buffers (and the graphs that point into them); the host padding arrays
 * and the graphs_off verdict stay. */
static void ws_free(rlc_model_t *m, step_ws_t *w) {
    graphs_clear(m, w);
    if (w->act_block) m->be->free(m->be, w->act_block);
    if (w->f32_block) m->be->free(m->be, w->f32_block);
    if (w->i32_block) m->be->free(m->be, w->i32_block);
    free(w->i32_host);
    free(w->moe_off);
    int32_t *pad = w->pad;
    size_t pad_cap = w->pad_cap;
    int off = w->graphs_off;
    rlc_step_graph_stats_t gs = w->gstats;
    memset(w, 0, sizeof *w);
    w->pad = pad;
    w->pad_cap = pad_cap;
    w->graphs_off = off;
    w->gstats = gs;
}

enum { W_X, W_XMID, W_LN, W_QKV, W_ATT, W_TMP, W_GU, W_H, W_ROWS, W_BR, W_MXS, W_MLOG, W_LX1, W_LCIN, W_LCOUT,
       W_LQ, W_LATT, W_LSCR, W_RSTD, W_LOGITS,
       W_MPROB, W_MW, W_MIDX, W_MSRC, W_MINV, W_IDS, W_POS, W_SLOTS, W_CU, W_CTX, W_BT, W_OUT, W_N };

/* The three layouts of a workspace for T tokens, O sampled rows, S sequences and BT block
 * table entries; idx[] receives each entry's index within its layout. */
static int ws_plan(const rlc_model_t *m, size_t T, size_t O, size_t S, size_t BT, size_t G, rlc_layout_t *la,
                   rlc_layout_t *lf, rlc_layout_t *li, int idx[W_N]) {
    const rlc_model_config_t *c = &m->cfg;
    size_t C = (size_t)c->hidden_size, F = (size_t)rlc_config_mlp_width(c);
    size_t QKV = (size_t)(c->num_heads + 2 * c->num_kv_heads) * c->head_dim, A = (size_t)c->num_heads * c->head_dim;
    size_t ea = m->be->esize[RLC_BUF_ACT];
    size_t E = (size_t)(c->layer_moe ? c->num_experts : 0), R = c->layer_moe ? T * c->experts_per_tok : 0;
    rlc_layout_init(la);
    rlc_layout_init(lf);
    rlc_layout_init(li);
    idx[W_X] = rlc_layout_add(la, "residual", T * C * ea);
    idx[W_XMID] = rlc_layout_add(la, "residual (mid)", T * C * ea);
    idx[W_LN] = rlc_layout_add(la, "norm", T * C * ea);
    idx[W_QKV] = rlc_layout_add(la, "qkv", c->mla ? 0 : T * QKV * ea); /* MLA: the latent q|k|v (W_LQ) */
    idx[W_ATT] = rlc_layout_add(la, "attention", T * A * ea);
    idx[W_TMP] = rlc_layout_add(la, "projection", T * C * ea);
    idx[W_GU] = rlc_layout_add(la, "gate|up", T * 2 * F * ea);
    idx[W_H] = rlc_layout_add(la, "swiglu", T * F * ea);
    idx[W_ROWS] = rlc_layout_add(la, "sampled rows", O * C * ea);
    idx[W_BR] = rlc_layout_add(la, "post-normed block out", (c->post_norms ? T : 1) * C * ea);
    idx[W_MXS] = rlc_layout_add(la, "moe rows by expert", R * C * ea); /* sparse models only (else empty) */
    idx[W_MLOG] = rlc_layout_add(la, "router logits", T * E * ea);
    size_t x1 = 0, raw, cin = 0, cout = 0; /* MLA models only (else empty) */
    if (c->mla) rlc_mla_sizes(c, T, &x1, &raw, &cin, &cout);
    idx[W_LX1] = rlc_layout_add(la, "mla first projection", x1 * ea);
    idx[W_LCIN] = rlc_layout_add(la, "mla scratch in", cin * ea);
    idx[W_LCOUT] = rlc_layout_add(la, "mla scratch out", cout * ea);
    size_t lq = 0, latt = 0, lscr = 0;
    if (c->mla) rlc_mla_latent_sizes(c, T, &lq, &latt, &lscr);
    idx[W_LQ] = rlc_layout_add(la, "mla latent q|k|v", lq * ea);
    idx[W_LATT] = rlc_layout_add(la, "mla latent attention", latt * ea);
    idx[W_LSCR] = rlc_layout_add(la, "mla latent scratch", lscr * ea);
    idx[W_RSTD] = rlc_layout_add(lf, "rstd", T * 4);
    size_t W = (size_t)c->vocab_size; /* room for any output kind */
    if ((size_t)c->hidden_size > W) W = (size_t)c->hidden_size;
    idx[W_LOGITS] = rlc_layout_add(lf, "logits", O * W * 4);
    idx[W_MPROB] = rlc_layout_add(lf, "router probabilities", T * E * 4);
    idx[W_MW] = rlc_layout_add(lf, "routing weights", R * 4);
    idx[W_MIDX] = rlc_layout_add(li, "picked experts", R * 4);
    idx[W_MSRC] = rlc_layout_add(li, "expert rows' tokens", R * 4);
    idx[W_MINV] = rlc_layout_add(li, "tokens' expert rows", R * 4);
    idx[W_IDS] = rlc_layout_add(li, "ids", T * 4);
    idx[W_POS] = rlc_layout_add(li, "positions", T * 4);
    idx[W_SLOTS] = rlc_layout_add(li, "slots", G * T * 4);
    idx[W_CU] = rlc_layout_add(li, "cu_q", (S + 1) * 4);
    idx[W_CTX] = rlc_layout_add(li, "ctx_len", S * 4);
    idx[W_BT] = rlc_layout_add(li, "block tables", G * BT * 4);
    idx[W_OUT] = rlc_layout_add(li, "out rows", O * 4); /* last: a step uploads up to its end */
    for (int i = 0; i < W_N; i++)
        if (idx[i] < 0) {
            rlc_layout_free(la);
            rlc_layout_free(lf);
            rlc_layout_free(li);
            return RLC_ENOMEM;
        }
    return 0;
}

size_t rlc_model_step_bytes(const rlc_model_t *m, int n_tokens, int n_out, int nseq, int max_pages) {
    rlc_layout_t la, lf, li;
    int idx[W_N];
    int gl, G = rlc_kv_groups(&m->cfg, rlc_kv_release_default(), &gl, NULL, NULL, NULL);
    if (ws_plan(m, (size_t)n_tokens, (size_t)n_out, (size_t)nseq, (size_t)nseq * max_pages, (size_t)G, &la, &lf, &li,
                idx))
        return 0;
    size_t total = la.total + lf.total + li.total;
    rlc_layout_free(&la);
    rlc_layout_free(&lf);
    rlc_layout_free(&li);
    return total;
}

static int ws_ensure(rlc_model_t *m, step_ws_t *w, const rlc_step_batch_t *b, int G) {
    if (w->cap_tokens >= b->n_tokens && w->cap_out >= b->n_out && w->cap_seqs >= b->nseq &&
        w->cap_bt >= b->nseq * b->max_pages && w->groups == G)
        return 0;
    int T = b->n_tokens > w->cap_tokens ? b->n_tokens : w->cap_tokens;
    int O = b->n_out > w->cap_out ? b->n_out : w->cap_out;
    int S = b->nseq > w->cap_seqs ? b->nseq : w->cap_seqs;
    int BT = b->nseq * b->max_pages > w->cap_bt ? b->nseq * b->max_pages : w->cap_bt;
    ws_free(m, w);
    rlc_backend_t *be = m->be;
    size_t ea = be->esize[RLC_BUF_ACT];
    rlc_layout_t la, lf, li;
    int ix[W_N];
    int rc = ws_plan(m, (size_t)T, (size_t)O, (size_t)S, (size_t)BT, (size_t)G, &la, &lf, &li, ix);
    if (rc) return rc;
    w->act_block = be->alloc(be, "generation step activations", la.total / ea, RLC_BUF_ACT);
    w->f32_block = be->alloc(be, "generation step logits", lf.total / 4, RLC_BUF_F32);
    w->i32_n = li.total / 4;
    w->i32_block = be->alloc(be, "generation step indices", w->i32_n, RLC_BUF_I32);
    w->i32_host = rlc_calloc(w->i32_n, sizeof(int32_t));
    w->moe_off = rlc_calloc((size_t)m->cfg.num_experts + 1, sizeof(int));
    if (!w->act_block || !w->f32_block || !w->i32_block || !w->i32_host || !w->moe_off) rc = RLC_ENOMEM;
    if (!rc) {
        char *AB = w->act_block;
        void **act[] = {&w->x, &w->xmid, &w->ln, &w->qkv, &w->att, &w->tmp, &w->gu, &w->h, &w->rows, &w->br};
        for (int i = W_X; i <= W_BR; i++) *act[i - W_X] = AB + la.e[ix[i]].offset;
        w->rstd = w->f32_block + lf.e[ix[W_RSTD]].offset / 4;
        w->logits = w->f32_block + lf.e[ix[W_LOGITS]].offset / 4;
        w->moe = (rlc_moe_bufs_t){.logits = AB + la.e[ix[W_MLOG]].offset, .xs = AB + la.e[ix[W_MXS]].offset,
                                  .gu = w->gu, .h = w->h,
                                  .probs = w->f32_block + lf.e[ix[W_MPROB]].offset / 4,
                                  .w = w->f32_block + lf.e[ix[W_MW]].offset / 4,
                                  .idx = w->i32_block + li.e[ix[W_MIDX]].offset / 4,
                                  .src = w->i32_block + li.e[ix[W_MSRC]].offset / 4,
                                  .inv = w->i32_block + li.e[ix[W_MINV]].offset / 4, .off = w->moe_off};
        w->mla = (rlc_mla_bufs_t){.x1 = AB + la.e[ix[W_LX1]].offset, .cin = AB + la.e[ix[W_LCIN]].offset,
                                  .cout = AB + la.e[ix[W_LCOUT]].offset};
        w->lq = AB + la.e[ix[W_LQ]].offset, w->latt = AB + la.e[ix[W_LATT]].offset;
        w->lscr = AB + la.e[ix[W_LSCR]].offset;
        size_t *off[] = {&w->o_ids, &w->o_pos, &w->o_slots, &w->o_cu, &w->o_ctx, &w->o_bt, &w->o_out};
        for (int i = W_IDS; i <= W_OUT; i++) *off[i - W_IDS] = li.e[ix[i]].offset / 4;
        w->cap_tokens = T;
        w->cap_out = O;
        w->cap_seqs = S;
        w->cap_bt = BT;
        w->groups = G;
    }
    rlc_layout_free(&la);
    rlc_layout_free(&lf);
    rlc_layout_free(&li);
    if (rc) ws_free(m, w);
    return rc;
}

/* Pack a batch's int32 inputs in the workspace layout and upload them in one copy. */
static int upload_inputs(rlc_model_t *m, step_ws_t *w, const rlc_step_batch_t *b) {
    int32_t *hi = w->i32_host;
    size_t N = (size_t)b->n_tokens, S = (size_t)b->nseq;
    memcpy(hi + w->o_ids, b->ids, N * sizeof(int32_t));
    memcpy(hi + w->o_pos, b->pos, N * sizeof(int32_t));
    memcpy(hi + w->o_slots, b->slots, (size_t)w->groups * N * sizeof(int32_t));
    memcpy(hi + w->o_cu, b->cu_q, (S + 1) * sizeof(int32_t));
    memcpy(hi + w->o_ctx, b->ctx_len, S * sizeof(int32_t));
    memcpy(hi + w->o_bt, b->block_table, (size_t)w->groups * S * (size_t)b->max_pages * sizeof(int32_t));
    memcpy(hi + w->o_out, b->out_rows, (size_t)b->n_out * sizeof(int32_t));
    size_t used = w->o_out + (size_t)b->n_out; /* the layout's last entry */
    return m->be->upload(m->be, w->i32_block, RLC_BUF_I32, hi, used);
}

/* The output a batch asks for, resolved: DEFAULT only for an LM (logits); a score-head
 * model's default is SCORE, a trunk's HIDDEN. */
static int step_out_kind(const rlc_model_t *m, int out) {
    if (out != RLC_STEP_OUT_DEFAULT) return out;
    return m->cfg.head == RLC_HEAD_LM ? RLC_STEP_OUT_DEFAULT
           : m->cfg.head == RLC_HEAD_SCORE ? RLC_STEP_OUT_SCORE
                                           : RLC_STEP_OUT_HIDDEN;
}

/* Layer l's attention into w->tmp: q|k|v, the tokens' K/V into the cache, paged attention and the
 * output projection; under MLA through its latent cache (model/mla_cache.c). */
static void attn_step(rlc_model_t *m, int l, rlc_kv_cache_t *kv, step_ws_t *w, const rlc_step_batch_t *b,
                      const void *in) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    int N = b->n_tokens, D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads;
    const int32_t *pos = w->i32_block + w->o_pos, *slots = w->i32_block + w->o_slots;
    const int32_t *cu = w->i32_block + w->o_cu, *ctx = w->i32_block + w->o_ctx, *bt = w->i32_block + w->o_bt;
    void *kc = rlc_kv_layer(kv, m, kv->k, l), *vc = rlc_kv_layer(kv, m, kv->v, l);
    size_t g = (size_t)kv->layer_group[l]; /* the layer's group: its slots and block tables */
    if (c->mla) {
        const void *q;
        int qld;
        rlc_mla_project(m, l, in, N, &w->mla, &q, &qld);
        rlc_mla_paged_t pg = {kc, slots + g * N, cu, ctx, bt + g * b->nseq * b->max_pages, b->max_pages, kv->page_size,
                              b->nseq, b->max_ctx};
        rlc_mla_latent_attn(m, l, w->att, w->mla.x1, q, qld, pos, N, &pg, w->lq, w->latt, w->lscr);
        be->matmul_fwd(be, w->tmp, w->att, P(m->layer[l].o_w), P(m->layer[l].o_b), N, rlc_config_o_width(c),
                       c->hidden_size);
        return;
    }
    rlc_model_qkv_fwd(m, l, w->qkv, in, NULL, NULL, pos, N, &w->mla);
    be->kv_store(be, kc, vc, w->qkv, slots + g * N, N, Hq, Hk, D);
    be->paged_attention(be, w->att, w->qkv, kc, vc, cu, ctx, bt + g * b->nseq * b->max_pages, b->max_pages,
                        kv->page_size, b->nseq, N, Hq, Hk, D, rlc_config_attn_scale(c), c->attn_softcap, b->max_ctx,
                        rlc_config_layer_window(&m->cfg, l));
    rlc_model_o_fwd(m, l, w->tmp, w->att, N, &w->mla);
}

/* Issue the ops of one step (the inputs are on the device already). */
static int step_ops(rlc_model_t *m, rlc_kv_cache_t *kv, step_ws_t *w, const rlc_step_batch_t *b) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    int N = b->n_tokens, L = c->num_layers, C = c->hidden_size, F = c->intermediate_size;
    const int32_t *ids = w->i32_block + w->o_ids, *out_rows = w->i32_block + w->o_out;
    /* Gemma 3's and OLMo's post-norms: each block output is normalized (into br) before the
     * residual add; OLMo (post_only) has no norms before the blocks, which read the residual */
    int post = c->post_norms, pre = !c->post_only;
    void *blk = post ? w->br : w->tmp, *in_att = pre ? w->ln : w->x, *in_mlp = pre ? w->ln : w->xmid;
    be->embedding_fwd(be, w->x, ids, P(m->off_embed), N, C);
    rlc_model_embed_scale(m, w->x, (size_t)N * C);
    if (pre) be->rmsnorm_fwd(be, w->ln, w->rstd, w->x, P(m->layer[0].ln1), N, C, c->rms_norm_eps);
    for (int l = 0; l < L; l++) {
        const rlc_layer_off_t *W = &m->layer[l];
        attn_step(m, l, kv, w, b, in_att);
        if (post) be->rmsnorm_fwd(be, w->br, w->rstd, w->tmp, P(W->post_attn), N, C, c->rms_norm_eps);
        rlc_model_residual_scale(m, blk, (size_t)N * C);
        rlc_model_residual_norm(m, w->xmid, w->ln, w->rstd, w->x, blk, P(W->ln2), N);
        if (rlc_config_layer_moe(c, l)) {
            int rc = rlc_moe_fwd(m, l, w->tmp, in_mlp, N, &w->moe);
            if (rc) return rc;
        } else {
            be->matmul_fwd(be, w->gu, in_mlp, P(W->gu_w), P(W->gu_b), N, C, 2 * F);
            rlc_model_glu_fwd(m, w->h, w->gu, N, F);
            be->matmul_fwd(be, w->tmp, w->h, P(W->down_w), P(W->down_b), N, F, C);
        }
        if (post) be->rmsnorm_fwd(be, w->br, w->rstd, w->tmp, P(W->post_ffn), N, C, c->rms_norm_eps);
        rlc_model_residual_scale(m, blk, (size_t)N * C);
        const void *next_norm = l + 1 < L ? P(m->layer[l + 1].ln1) : P(m->off_norm); /* the final norm always */
        rlc_model_residual_norm(m, w->x, w->ln, w->rstd, w->xmid, blk, next_norm, N);
    }
    be->gather_rows(be, w->rows, w->ln, out_rows, b->n_out, C);
    int out = step_out_kind(m, b->out);
    if (out == RLC_STEP_OUT_DEFAULT) {
        be->logits(be, w->logits, w->rows, P(m->off_lm_head), b->n_out, C, c->vocab_size);
        rlc_model_logits_scale(m, w->logits, (size_t)b->n_out * c->vocab_size); /* Granite, Gemma 2 */
    } else if (out == RLC_STEP_OUT_SCORE) { /* the score head's values (tmp holds T >= n_out rows of C >= labels) */
        be->matmul_fwd(be, w->tmp, w->rows, P(m->off_score_w), P(m->off_score_b), b->n_out, C, m->score_labels);
        be->act_to_f32(be, w->logits, w->tmp, (size_t)b->n_out * m->score_labels);
    } else { /* the final hidden states themselves */
        be->act_to_f32(be, w->logits, w->rows, (size_t)b->n_out * C);
    }
    return 0;
}

int rlc_model_step_width(const rlc_model_t *m, int out) {
    const rlc_model_config_t *c = &m->cfg;
    out = step_out_kind(m, out);
    return out == RLC_STEP_OUT_DEFAULT ? c->vocab_size : out == RLC_STEP_OUT_SCORE ? m->score_labels : c->hidden_size;
}

/* ---- decode steps as graphs ----
 * On a backend with graphs, a pure decode step (one new token per sequence, one sampled
 * row each) is padded to a bucket of sequences and a block-table stride of 2^j pages,
 * and replayed from a graph captured for that bucket: one launch instead of ~10 per layer.
 * Padding rows are harmless dummies (no KV slot, a one-token context on page 0), and the
 * real rows do not depend on them because the inference ops are row-invariant. A bucket
 * runs eagerly the first time (so every workspace has its final size), is captured the
 * second time, and replayed from then on. A graph freezes pointers and sizes, so the cache
 * is dropped whenever the workspace is reallocated. */
enum { GRAPH_MAX_SEQS = 256 };

static int pow2_at_least(int x) {
    int p = 1;
    while (p < x) p <<= 1;
    return p;
}

/* Sequence buckets: powers of two up to 32, then multiples of 32 (padding rows cost
 * compute once the batch is large enough to be compute-bound). */
static int seq_bucket(int n) { return n <= 32 ? pow2_at_least(n) : (n + 31) / 32 * 32; }

static int is_pure_decode(const rlc_step_batch_t *b) {
    if (b->n_tokens != b->nseq || b->n_out != b->nseq || b->nseq > GRAPH_MAX_SEQS) return 0;
    for (int s = 0; s <= b->nseq; s++)
        if (b->cu_q[s] != s) return 0;
    for (int i = 0; i < b->n_out; i++)
        if (b->out_rows[i] != i) return 0;
    return 1;
}

static void graphs_clear(rlc_model_t *m, step_ws_t *w) {
    for (int i = 0; i < w->n_graphs; i++)
        if (w->graphs[i].graph) m->be->graph_free(m->be, w->graphs[i].graph);
    w->n_graphs = 0;
}

/* The batch padded to its bucket, in w's padding arrays. */
static int pad_batch(step_ws_t *w, const rlc_step_batch_t *b, int page_size, int G, rlc_step_batch_t *pb) {
    int B = seq_bucket(b->nseq), SP = pow2_at_least(b->max_pages);
    /* ids pos ctx rows cu(B+1) slots(G*B) bt(G*B*SP) */
    size_t need = (size_t)B * (5 + (size_t)G * (1 + (size_t)SP)) + 1;
    if (need > w->pad_cap) {
        int32_t *np = rlc_realloc(w->pad, need * sizeof(int32_t));
        if (!np) return RLC_ENOMEM;
        w->pad = np;
        w->pad_cap = need;
    }
    int32_t *ids = w->pad, *pos = ids + B, *ctx = pos + B, *rows = ctx + B, *cu = rows + B, *slots = cu + B + 1;
    int32_t *bt = slots + (size_t)G * B;
    for (int i = 0; i < B; i++) {
        int real = i < b->nseq;
        ids[i] = real ? b->ids[i] : 0;
        pos[i] = real ? b->pos[i] : 0;
        ctx[i] = real ? b->ctx_len[i] : 1;
        rows[i] = i;
        cu[i] = i;
        for (int g = 0; g < G; g++) { /* each KV group's slots and tables */
            const int32_t *gs = b->slots + (size_t)g * b->nseq;
            const int32_t *gt = b->block_table + (size_t)g * b->nseq * b->max_pages;
            slots[(size_t)g * B + i] = real ? gs[i] : -1;
            for (int j = 0; j < SP; j++)
                bt[((size_t)g * B + i) * SP + j] = real && j < b->max_pages ? gt[(size_t)i * b->max_pages + j] : 0;
        }
    }
    cu[B] = B;
    *pb = *b;
    pb->n_tokens = pb->nseq = pb->n_out = B;
    pb->ids = ids;
    pb->pos = pos;
    pb->slots = slots;
    pb->ctx_len = ctx;
    pb->out_rows = rows;
    pb->cu_q = cu;
    pb->block_table = bt;
    pb->max_pages = SP;
    pb->max_ctx = SP * page_size; /* the bound for every batch of the bucket: a graph freezes it */
    return 0;
}

/* Run a padded pure-decode batch through its bucket's graph; 1 when graphs cannot serve
 * it (the caller runs it eagerly), 0 done, negative on error. */
static int step_graphed(rlc_model_t *m, rlc_kv_cache_t *kv, step_ws_t *w, const rlc_step_batch_t *pb) {
    rlc_backend_t *be = m->be;
    step_graph_t *g = NULL;
    for (int i = 0; i < w->n_graphs; i++)
        if (w->graphs[i].nseq == pb->nseq && w->graphs[i].stride == pb->max_pages && w->graphs[i].kv == kv->k &&
            w->graphs[i].params == m->params && w->graphs[i].out == pb->out)
            g = &w->graphs[i];
    if (!g) { /* first sight of this bucket: eager, and remember it */
        if (w->n_graphs == STEP_GRAPHS_MAX) graphs_clear(m, w);
        g = &w->graphs[w->n_graphs++];
        *g = (step_graph_t){pb->nseq, pb->max_pages, pb->out, kv->k, m->params, NULL};
        return 1;
    }
    if (!g->graph) {
        int rc = be->graph_begin(be);
        if (!rc) {
            step_ops(m, kv, w, pb); /* a sparse model never gets here (no graphs: its routing is read back) */
            rc = be->graph_end(be, &g->graph);
        }
        if (rc) { /* this backend cannot capture the step: stay eager from now on */
            LOG_WARN("decode-step graphs disabled: %s", rlc_errmsg());
            w->graphs_off = 1;
            return 1;
        }
        w->gstats.captures++;
    }
    int rc = be->graph_launch(be, g->graph);
    if (rc == 1) { /* the backend's own workspaces moved since the capture */
        be->graph_free(be, g->graph);
        g->graph = NULL;
        w->gstats.stale++;
        return 1;
    }
    if (!rc) w->gstats.launches++;
    return rc;
}

int rlc_model_step(rlc_model_t *m, rlc_kv_cache_t *kv, const rlc_step_batch_t *b, const float **logits) {
    rlc_backend_t *be = m->be;
    const rlc_model_config_t *c = &m->cfg;
    if (b->n_tokens <= 0 || b->nseq <= 0 || b->n_out <= 0) return rlc_errc(RLC_EINVAL, "empty decode step");
    if (b->out < RLC_STEP_OUT_DEFAULT || b->out > RLC_STEP_OUT_HIDDEN || !rlc_model_step_width(m, b->out))
        return rlc_errc(RLC_EINVAL, "the model cannot give the step output asked for (%d)", b->out);
    for (int i = 0; i < b->n_tokens; i++)
        if (b->ids[i] < 0 || b->ids[i] >= c->vocab_size)
            return rlc_errc(RLC_ERANGE, "token id %d is out of range (vocab size %d)", b->ids[i], c->vocab_size);
    if (!m->step_ws) {
        m->step_ws = rlc_calloc(1, sizeof(step_ws_t));
        if (!m->step_ws) return RLC_ENOMEM;
    }
    step_ws_t *w = m->step_ws;
    rlc_step_batch_t pb;
    int graphed = be->graph_begin && !w->graphs_off && !c->layer_moe && is_pure_decode(b);
    if (graphed && pad_batch(w, b, kv->page_size, kv->n_groups, &pb)) return RLC_ENOMEM;
    const rlc_step_batch_t *run = graphed ? &pb : b;
    int rc = ws_ensure(m, w, run, kv->n_groups); /* a reallocation drops the graphs */
    if (rc) return rc;
    if ((rc = upload_inputs(m, w, run))) return rc;
    be->row_invariant = 1; /* batch-invariant matmuls for generation */
    be->norm_offset = c->norm_offset;
    rc = graphed ? step_graphed(m, kv, w, run) : 1;
    if (rc == 1) rc = step_ops(m, kv, w, run);
    be->row_invariant = 0;
    be->norm_offset = 0;
    if (rc < 0) return rc;
    if ((rc = be->check(be))) return rc;
    *logits = w->logits; /* rows beyond b->n_out (padding) are ignored */
    return 0;
}

rlc_step_graph_stats_t rlc_model_step_graph_stats(const rlc_model_t *m) {
    rlc_step_graph_stats_t z = {0, 0, 0};
    return m->step_ws ? ((const step_ws_t *)m->step_ws)->gstats : z;
}

void rlc_model_step_free(rlc_model_t *m) {
    if (!m->step_ws) return;
    step_ws_t *w = m->step_ws;
    ws_free(m, w);
    free(w->pad);
    free(m->step_ws);
    m->step_ws = NULL;
}
