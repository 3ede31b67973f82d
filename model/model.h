/* The transformer: one contiguous parameter buffer with a table of named views (HF names),
 * gradients in the same layout, activations planned up front; forward and backward over a
 * packed varlen batch, calling only the backend vtable. Heads: the LM head (fused log-prob /
 * entropy), and a score head (value / reward models; "score.weight" [labels, C]).
 * Owns: parameters, gradients, activations, the config. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/half.h"
#include "core/safetensors.h"
#include "kernels/backend.h"
#include "model/config.h"

#define RLC_NO_OFFSET ((size_t)-1)

typedef struct {
    char name[96];
    size_t offset, numel; /* in elements of the parameter buffer */
    int ndim;
    int64_t shape[2];
    int decay;              /* AdamW weight decay applies (matrices, not norms or biases) */
    rlc_dtype_t file_dtype; /* dtype it was loaded from; the default when saving */
    /* A tensor transformers keeps in fp32 whatever the model's dtype and that no gradient reaches
     * (GLM-4.5's e_score_correction_bias): its element offset in m->keep_f32, where an exact fp32
     * copy beside the PARAM one serves the computation, reads and saves (RLC_NO_OFFSET: none). */
    size_t f32_off;
} rlc_param_info_t;

typedef struct {
    size_t ln1, qkv_w, qkv_b, q_norm, k_norm, o_w, o_b, ln2, gu_w, gu_b, down_w, down_b; /* RLC_NO_OFFSET if absent */
    size_t post_attn, post_ffn; /* Gemma 3's and OLMo's norms of the attention and MLP outputs */
    size_t start;               /* the layer's first parameter: its tensors are [start, next layer's start) */
    /* a sparse (MoE) layer, whose gu and down offsets are absent: the router [E, C], and expert 0's gate
     * rows; expert e's gate|up [2I, C] sits at rlc_expert_gu, its down [C, I] 2·I·C after it */
    size_t router, experts;
    /* the shared expert is gu_w / down_w (Qwen2-MoE's mlp.shared_expert.*, GLM-4.5's
     * mlp.shared_experts.*); Qwen2-MoE's gate [1, C] */
    size_t shared_gate;
    /* GLM-4.5: the router's correction bias [E], an element offset in m->keep_f32 */
    size_t router_bias;
    /* MLA (model/mla.c): qkv_w is the queries' first projection (q_a_proj, or q_proj) with
     * kv_a_proj_with_mqa's rows after it, q_norm and k_norm the bottlenecks' norms (q_a_layernorm,
     * absent without one; kv_a_layernorm); q_b_proj and kv_b_proj */
    size_t q_b, kv_b;
} rlc_layer_off_t;

static inline size_t rlc_expert_gu(const rlc_model_config_t *c, const rlc_layer_off_t *L, int e) {
    return L->experts + (size_t)e * 3 * c->moe_intermediate_size * c->hidden_size;
}
static inline size_t rlc_expert_down(const rlc_model_config_t *c, const rlc_layer_off_t *L, int e) {
    return rlc_expert_gu(c, L, e) + (size_t)2 * c->moe_intermediate_size * c->hidden_size;
}

/* The buffers of a sparse layer's MLP over N tokens, K picks each (rows = N·K), E experts of
 * width I: ACT logits [N,E] (router), xs [rows, C] (the picked tokens' inputs grouped by
 * expert, then the experts' outputs: scratch), gu [rows, 2I], h [rows, I]; F32 probs [N,E],
 * w [N,K] (routing weights); I32 idx [N,K] (picked experts), src [rows] (row → token), inv
 * [N·K] ((token, pick) → row); host off [E+1]: expert e's rows are [off[e], off[e+1]). What
 * backward needs is gu, h, probs, w, idx, src, inv and off (the outputs are recomputed). */
typedef struct {
    void *logits, *xs, *gu, *h;
    float *probs, *w;
    int32_t *idx, *src, *inv;
    int *off;
} rlc_moe_bufs_t;

/* The buffers of MLA's attention projections over N tokens (model/mla.c; A = the first
 * projection's width, rlc_config_mla_a; R, K the q and kv ranks): x1 [N, A] (that projection,
 * its bottlenecks normed in place; kept for backward), raw [N·(R+K)] and rstd [N·2] (the
 * norms' inputs and scales for backward; NULL at inference), scratch cin [N·max(R+K, H·v)] and
 * cout [N·H·(qk + nope + v)]; backward scratch dx1 [N, A] and dcin [N·(R+K)]. */
typedef struct {
    void *x1, *raw, *cin, *cout, *dx1, *dcin;
    float *rstd;
} rlc_mla_bufs_t;

/* Activation buffers (device pointers into three backend blocks). Per-layer arrays point to
 * distinct buffers when activations are stored for backward, or all to one scratch buffer. */
typedef struct {
    int cap_tokens, per_layer, train, recompute, score_labels;
    void *act_block;
    float *f32_block;
    int32_t *i32_block;
    void **x_in, **ln1, **qkv, **att, **x_mid, **ln2, **gu, **h; /* [L] */
    float **rstd1, **lse, **rstd2;                               /* [L] */
    void **qk_raw;                                               /* [L] Qwen3: q/k heads before their norm */
    float **rstd_qk;                                             /* [L] Qwen3: their scales */
    void **o_out, **dn_out;    /* [L] Gemma 3: attention and MLP outputs before their post-norms */
    float **rstd_pa, **rstd_pf; /* [L] their scales */
    void *br;                   /* Gemma 3: a post-normed block output on its way to the residual */
    void **mla_x1;              /* [L] MLA's first projection (q/k raw and rstd: qk_raw, rstd_qk) */
    void *mla_cin, *mla_cout, *mla_dx1, *mla_dcin; /* MLA's scratch (rlc_mla_bufs_t) */
    rlc_moe_bufs_t *moe;        /* [L] sparse layers' buffers (xs and logits shared; NULL without MoE) */
    void *moe_dy;               /* MoE backward: gradient rows [N·K, C] */
    void *moe_sdx;              /* MoE backward: the shared expert's input gradient [N, C] (Qwen2-MoE) */
    float *moe_dw;              /* MoE backward: routing weights' gradient [N,K] */
    int *moe_off;               /* host [L][E+1] (owned) */
    void *x_final, *lnf, *tmp, *values_act;
    float *rstdf;
    void *dres, *dln, *dqkv, *datt, *dgu, *dh, *dvalues_act;
    float *logp, *ent, *dlogp, *dent, *values;
    int32_t *ids, *pos, *targets, *cu;
} rlc_acts_t;

typedef struct rlc_model {
    rlc_model_config_t cfg;
    rlc_backend_t *be;
    int n_info;
    rlc_param_info_t *info;
    size_t n_params;
    size_t off_embed, off_norm, off_lm_head, off_score_w, off_score_b;
    rlc_layer_off_t *layer;
    int score_labels; /* width of the score head; 0 if the model has none */
    void *params, *grads;
    float *inv_freq;
    float *inv_freq_local; /* Gemma 3's sliding layers (NULL: every layer uses inv_freq) */
    float *keep_f32;       /* fp32 copies of the tensors with an f32_off (NULL: none) */
    size_t n_keep_f32;
    rlc_acts_t acts;
    int recompute; /* recompute layer activations in backward instead of storing them */
    char *src_dir; /* where the model was loaded from (tokenizer files are copied on save) */
    int params_changed; /* parameters differ from src_dir's file (set_param, optimizer step) */
    int experts_fused;  /* saved with transformers 5's stacked expert tensors (model/experts_io.c) */
    /* The batch whose activations are stored (set by a training forward). */
    int fwd_tokens, fwd_nseq, fwd_max_seqlen, fwd_trained;
    unsigned head_kept; /* the backend's id for the last training forward's kept LM-head logits, 0 if none */
    void *step_ws; /* inference-step workspace (model/decode.c) */
    int32_t *moe_host; /* host scratch of MoE dispatch (model/moe.c) */
    size_t moe_host_cap;
    /* Data-parallel gradient hooks (rl/gradsync.c; NULL: none). Backward calls
     * grad_begin(ctx) before it writes any gradient, then grad_ready(ctx, lo) each time the
     * gradients of [lo, n_params) are final for this backward: after the final norm (lo =
     * off_norm), after each layer l (lo = layer[l].start), and at the end (lo = 0).
     * grad_ptr, when set, maps a parameter offset to where its gradient lives (gradients
     * staged per layer instead of one flat buffer: ZeRO stage 2); m->grads then holds
     * grad_elems elements, not n_params. */
    void (*grad_begin)(void *ctx);
    void (*grad_ready)(void *ctx, size_t lo);
    void *(*grad_ptr)(void *ctx, size_t off);
    void *grad_ctx;
    size_t grad_elems; /* elements of m->grads (n_params unless staged) */
} rlc_model_t;

/* The device pointer of the parameter at element offset off (NULL for RLC_NO_OFFSET). */
static inline void *rlc_model_param_at(const rlc_model_t *m, const rlc_backend_t *be, size_t off) {
    return off == RLC_NO_OFFSET ? NULL : (void *)((char *)m->params + off * be->esize[RLC_BUF_PARAM]);
}

/* The RoPE table of layer l. */
static inline const float *rlc_model_inv_freq(const rlc_model_t *m, int l) {
    return m->inv_freq_local && rlc_config_layer_typed_sliding(&m->cfg, l) ? m->inv_freq_local : m->inv_freq;
}

/* Layer l's q/k norms in place on qkv [N, (Hq+2Hk)·D] (Qwen3's and Gemma 3's per head, or
 * OLMo's over the whole q and k projections); raw and rstd (NULL at inference) as the
 * backend's qk_norm_fwd lays them out. bwd: in place on dqkv, weight gradients accumulated. */
void rlc_model_qk_norm_fwd(rlc_model_t *m, int l, void *qkv, void *raw, float *rstd, int N);
void rlc_model_qk_norm_bwd(rlc_model_t *m, int l, void *dqkv, const void *raw, const float *rstd, int N);

/* Layer l's RoPE in place on the q and k heads of qkv [N, (Hq+2Hk)·D] at positions pos: its
 * table and attention factor (Gemma 3's and OLMo 3's sliding layers: the local ones), nothing
 * in SmolLM3's NoPE layers; bwd applies the transpose. */
void rlc_model_rope_fwd(rlc_model_t *m, int l, void *qkv, const int32_t *pos, int N);
void rlc_model_rope_bwd(rlc_model_t *m, int l, void *dqkv, const int32_t *pos, int N);
/* resid = a + b, then out = rmsnorm(resid) with weight w; without a weight (OLMo has no norm
 * before its blocks, whose input is then resid itself) only the add. */
void rlc_model_residual_norm(rlc_model_t *m, void *resid, void *out, float *rstd, const void *a, const void *b,
                             const void *w, int N);

/* Layer l's attention projections around the attention op, for every architecture: qkv
 * [N, (Hq+2Hk)·D] from the normed rows `in`, its q/k norms (raw, rstd as above) and RoPE
 * applied; out [N, C] (=) from the attention output att [N, Hq·D]; under MLA through model/mla.c
 * with its buffers mb (NULL otherwise). */
void rlc_model_qkv_fwd(rlc_model_t *m, int l, void *qkv, const void *in, void *raw, float *rstd, const int32_t *pos,
                       int N, const rlc_mla_bufs_t *mb);
void rlc_model_o_fwd(rlc_model_t *m, int l, void *out, const void *att, int N, const rlc_mla_bufs_t *mb);
/* MLA (model/mla.c): qkv as rlc_model_qkv_fwd, laid out [rope dims, nope dims] per head, zero
 * padded to D, RoPE applied; the output projection of the heads' first v_head_dim dims; their
 * backward: datt (=) from dout; din (=) from dqkv (rewritten: RoPE's transpose is applied in
 * place) and the stored b->x1, b->raw, b->rstd; weight gradients accumulate. */
void rlc_mla_qkv_fwd(rlc_model_t *m, int l, void *qkv, const void *in, const int32_t *pos, int N,
                     const rlc_mla_bufs_t *b);
void rlc_mla_out_fwd(rlc_model_t *m, int l, void *out, const void *att, int N, const rlc_mla_bufs_t *b);
void rlc_mla_out_bwd(rlc_model_t *m, int l, void *datt, const void *dout, const void *att, int N,
                     const rlc_mla_bufs_t *b);
void rlc_mla_qkv_bwd(rlc_model_t *m, int l, void *din, void *dqkv, const void *in, const int32_t *pos, int N,
                     const rlc_mla_bufs_t *b);
/* MLA's projections alone (x1 normed in place, the queries into b->cout when there is a query
 * bottleneck): *q and *qld are where the queries [N, H·(nope + rope)] are, and their row stride,
 * as rlc_mla_queries gives them afterwards. */
void rlc_mla_project(rlc_model_t *m, int l, const void *in, int N, const rlc_mla_bufs_t *b, const void **q, int *qld);
const void *rlc_mla_queries(const rlc_model_config_t *c, const rlc_mla_bufs_t *b, int *qld);
/* A paged cache and a batch's tables as paged_attention takes them (MLA's latent cache: the K
 * cache is the V cache). */
typedef struct {
    void *kc;
    const int32_t *slots, *cu, *ctx, *bt;
    int max_pages, page_size, nseq, max_ctx;
} rlc_mla_paged_t;
/* MLA through its latent cache (model/mla_cache.c: the engine's step and the exact path): from
 * the projections (x1, q as rlc_mla_project left them) of N tokens at positions pos, store their
 * cache rows at pg->slots and attend; attc [N, H·v] (=) receives what the output projection
 * reads. Scratch lq, latt, scr as rlc_mla_latent_sizes gives them. */
void rlc_mla_latent_attn(rlc_model_t *m, int l, void *attc, const void *x1, const void *q, int qld, const int32_t *pos,
                         int N, const rlc_mla_paged_t *pg, void *lq, void *latt, void *scr);
void rlc_mla_latent_sizes(const rlc_model_config_t *c, size_t n, size_t *lq, size_t *latt, size_t *scr);
/* The sizes (elements) of rlc_mla_bufs_t's buffers for n tokens: x1 (and dx1), raw (and
 * dcin), cin, cout. */
void rlc_mla_sizes(const rlc_model_config_t *c, size_t n, size_t *x1, size_t *raw, size_t *cin, size_t *cout);

/* The gated MLP activation of the model's config (SwiGLU or Gemma's GeGLU). */
static inline void rlc_model_glu_fwd(const rlc_model_t *m, void *out, const void *gu, int N, int F) {
    (m->cfg.act == RLC_ACT_GELU_TANH ? m->be->geglu_fwd : m->be->swiglu_fwd)(m->be, out, gu, N, F);
}
static inline void rlc_model_glu_bwd(const rlc_model_t *m, void *dgu, const void *dout, const void *gu, int N, int F) {
    (m->cfg.act == RLC_ACT_GELU_TANH ? m->be->geglu_bwd : m->be->swiglu_bwd)(m->be, dgu, dout, gu, N, F);
}
/* Gemma: embeddings times sqrt(hidden), rounded to the parameters' dtype as transformers does
 * (embed_scale.to(weight.dtype)): bf16 on a backend that stores bf16 parameters. Granite:
 * times embedding_multiplier, as given. */
static inline void rlc_model_embed_scale(const rlc_model_t *m, void *x, size_t n) {
    float s = m->cfg.embed_scale;
    if (s == 0 || s == 1) return;
    if (m->cfg.embed_scale_round && m->be->esize[RLC_BUF_PARAM] == 2) s = rlc_bf16_to_f32(rlc_f32_to_bf16(s));
    m->be->scale(m->be, x, RLC_BUF_ACT, n, s);
}

/* The routing of a model with a correction bias (GLM-4.5, dots.llm1, ERNIE 4.5) as the
 * moe_route_biased ops take it. */
rlc_moe_route_t rlc_model_moe_route(const rlc_model_config_t *c);
/* A sparse layer's MLP (model/moe.c): out [N,C] (=) from its input x [N,C] through the
 * router, the picked experts and their weighted sum, the intermediates left in b (b->off
 * filled on the host: the routing is read back once per call). Backward: dx (=) from dout,
 * with b as the forward left it (b->xs is rewritten: the experts' outputs are recomputed from
 * b->h, then the inputs gathered again), dy [N·K, C] ACT, dw [N,K] F32, dgu and dh as scratch
 * (b->logits receives the router logits' gradient), and sdx [N,C] ACT when the layer has a
 * shared expert (Qwen2-MoE); weight gradients accumulate. */
int rlc_moe_fwd(rlc_model_t *m, int l, void *out, const void *x, int N, const rlc_moe_bufs_t *b);
int rlc_moe_bwd(rlc_model_t *m, int l, void *dx, const void *dout, const void *x, int N, const rlc_moe_bufs_t *b,
                void *dy, float *dw, void *dgu, void *dh, void *sdx);

/* Granite: the factor the LM head's logits are multiplied by (1 / logits_scaling; 1 for the
 * others). Training folds it into inv_temp (and passes Gemma 2's final_softcap to the LM
 * head, which caps before scaling); the engine and the exact path soft-cap and scale their
 * fp32 logits [n] with rlc_model_logits_scale, one function for both so their log-probs stay
 * equal bit for bit. */
static inline float rlc_model_logit_mul(const rlc_model_t *m) {
    return m->cfg.logit_scale > 0 ? 1.0f / m->cfg.logit_scale : 1.0f;
}
static inline void rlc_model_logits_scale(const rlc_model_t *m, float *logits, size_t n) {
    if (m->cfg.final_softcap > 0) m->be->softcap(m->be, logits, n, m->cfg.final_softcap);
    if (rlc_model_logit_mul(m) != 1) m->be->scale(m->be, logits, RLC_BUF_F32, n, rlc_model_logit_mul(m));
}
/* Granite: a block's output times residual_multiplier before the residual add (n elements). */
static inline void rlc_model_residual_scale(const rlc_model_t *m, void *x, size_t n) {
    float r = m->cfg.residual_scale;
    if (r > 0 && r != 1) m->be->scale(m->be, x, RLC_BUF_ACT, n, r);
}

/* A packed varlen batch (host arrays). Sequence s is tokens [cu_seqlens[s], cu_seqlens[s+1]).
 * pos NULL: positions 0.. within each sequence. targets NULL: the next token of the same
 * sequence (-1 for the last); a target < 0 is ignored by the LM head. */
typedef struct {
    int n_tokens, nseq;
    const int32_t *ids, *pos, *cu_seqlens, *targets;
} rlc_batch_t;

typedef struct {
    float inv_temp; /* 1/temperature applied to the logits (1 for plain log-probs) */
    int train;      /* keep activations for rlc_model_backward */
    int head;       /* RLC_HEAD_LM or RLC_HEAD_SCORE */
    int skip_head;  /* run the trunk only (backward will compute the head) */
    /* exact_on_policy: compute the forward with the rollout engine's kernels (paged attention,
     * row-invariant matmuls and LM head, the sampler's log-softmax), so the LM head's logp equal
     * the engine's sampled log-probs bit for bit; temperature is the engine's T (0: 1/inv_temp).
     * Activations for backward are kept as usual (the backward keeps its fast kernels). */
    int exact;
    float temperature;
} rlc_fwd_opts_t;

/* Load config.json + safetensors (single or sharded) from an HF directory. */
int rlc_model_load(rlc_model_t **out, const char *dir, rlc_backend_t *be);
/* A fresh model from a config (json is copied); parameters N(0, std), norms 1, biases 0. */
int rlc_model_create(rlc_model_t **out, const cJSON *config_json, rlc_backend_t *be, uint64_t seed, float std);
/* Attach a score head of `labels` outputs to a model that lacks one (value head). */
int rlc_model_add_score_head(rlc_model_t *m, int labels, uint64_t seed, float std);
/* Save as an HF directory: config.json, model.safetensors (+ tokenizer files from src_dir).
 * dtype: NULL keeps each tensor's loaded dtype; or "float32" / "bfloat16" / "float16". */
int rlc_model_save(rlc_model_t *m, const char *dir, const char *dtype);
void rlc_model_free(rlc_model_t *m);
/* Copy the tokenizer and generation files (tokenizer.json, tokenizer_config.json,
 * tokenizer.model, generation_config.json, ...) that exist in src_dir, atomically. */
int rlc_model_copy_tokenizer_files(const char *src_dir, const char *dst_dir);

const rlc_param_info_t *rlc_model_param(const rlc_model_t *m, const char *name);

/* transformers 5's stacked expert tensors (model/experts_io.c). native_fused: the only layout
 * transformers reads for the family (a new model is saved in it). unfuse: every sparse layer's
 * mlp.experts.gate_up_proj / down_proj in st becomes per-expert views under the table's names;
 * the number of layers found stacked, or an error. param_layer: the sparse layer whose experts
 * hold p, or -1. A fused tensor is saved by rlc_experts_fill from an rlc_fused_src_t. */
typedef struct {
    const rlc_model_t *m;
    const rlc_param_info_t *first; /* expert 0's gate projection */
    int down;
    char name[96];
} rlc_fused_src_t;
int rlc_experts_native_fused(const rlc_model_config_t *c);
int rlc_experts_unfuse(const rlc_model_config_t *c, rlc_st_t *st, const char *dir);
int rlc_experts_param_layer(const rlc_model_t *m, const rlc_param_info_t *p);
void rlc_experts_fused_tensor(const rlc_model_t *m, int l, int down, rlc_fused_src_t *src);
int rlc_experts_fill(void *user, float *dst);

/* FP8 checkpoints (model/fp8.c): fp8_dtype: a float8 weight dtype; dequant: w (t's values read
 * unscaled) times t's scale in st (`<name>_scale_inv` per block, `<name>_scale` per tensor or
 * channel); is_scale: a scale tensor's name. */
int rlc_fp8_dtype(rlc_dtype_t dt);
int rlc_fp8_dequant(const rlc_model_config_t *c, const rlc_st_t *st, const rlc_st_tensor_t *t, float *w,
                    const char *dir);
int rlc_fp8_is_scale(const char *name);
/* A checkpoint tensor the model does not run but carries into its saves, untrained, read again
 * from its source directory (DeepSeek-V3.2's sparse-attention indexer, self_attn.indexer.*). */
int rlc_carried_tensor(const rlc_model_config_t *c, const char *name);
/* Copy one parameter (or its gradient) to host fp32. */
int rlc_model_get_param(const rlc_model_t *m, const rlc_param_info_t *p, float *dst);
int rlc_model_get_grad(const rlc_model_t *m, const rlc_param_info_t *p, float *dst);
int rlc_model_set_param(rlc_model_t *m, const rlc_param_info_t *p, const float *src);
/* Write the fp32 value of every parameter into dst (a device F32 buffer of n_params): the
 * fp32 master weights of a backend that stores bf16 parameters. While the parameters are
 * still those loaded, tensors stored in the file with more precision than bf16 are read
 * from it again, so an fp32 checkpoint keeps its precision; otherwise the parameters are
 * widened. */
int rlc_model_params_f32(rlc_model_t *m, float *dst);

int rlc_model_alloc_grads(rlc_model_t *m);
void rlc_model_zero_grads(rlc_model_t *m);
/* The gradient of parameter offset off (through grad_ptr when the gradients are staged). */
void *rlc_model_grad_at(const rlc_model_t *m, size_t off);

/* Device bytes of the activations for a micro-batch of n_tokens (train: kept for backward,
 * per layer unless m->recompute). */
size_t rlc_model_act_bytes(const rlc_model_t *m, int n_tokens, int train);
/* The largest micro-batch (tokens) whose activations fit in `budget` bytes. */
int rlc_model_max_tokens(const rlc_model_t *m, size_t budget, int train);
/* Allocate the activations for micro-batches of up to n_tokens now (they otherwise grow on
 * first use), so a batch that cannot fit fails at start-up rather than mid-run. */
int rlc_model_reserve(rlc_model_t *m, int n_tokens, int train);

/* Validate a batch against the model (ids in range, offsets consistent). */
int rlc_batch_check(const rlc_model_t *m, const rlc_batch_t *b);

/* Forward. LM head: logp[N] (and entropy[N] if non-NULL) on the host. Score head:
 * values[N * labels] on the host. Outputs may be NULL. */
int rlc_model_forward(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, float *logp, float *entropy,
                      float *values);
/* The final hidden states (after the last RMSNorm: what a head reads) of the batch's token
 * rows `rows[n_rows]`, as fp32 [n_rows, hidden] on the host. Any head kind (RLC_HEAD_NONE
 * models exist for this). */
int rlc_model_hidden(rlc_model_t *m, const rlc_batch_t *b, const int32_t *rows, int n_rows, float *out);
/* Backward of L = Σ dlogp·logp + dent·entropy (LM head) or Σ dvalues·values (score head),
 * for the batch of the last forward with train=1; gradients accumulate into m->grads.
 * logp/entropy (optional) receive the head's outputs recomputed on the way. */
int rlc_model_backward(rlc_model_t *m, const rlc_batch_t *b, const rlc_fwd_opts_t *o, const float *dlogp,
                       const float *dent, const float *dvalues, float *logp, float *entropy);
