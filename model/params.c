/* Parameter table (HF names → offsets in one buffer, llm.c style), model creation, and
 * Hugging Face checkpoint load (the save: save.c). q|k|v and gate|up are laid out contiguously so the
 * backend can run each pair as one matmul. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/philox.h"
#include "core/str.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/params_io.h"

typedef struct {
    rlc_param_info_t *info;
    int n, cap;
    size_t total, keep_f32; /* elements of the parameter buffer and of the fp32 copies */
} table_t;

static size_t add(table_t *t, const char *name, int64_t d0, int64_t d1, int decay) {
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 64;
        rlc_param_info_t *p = realloc(t->info, (size_t)nc * sizeof *p);
        if (!p) return RLC_NO_OFFSET;
        t->info = p;
        t->cap = nc;
    }
    rlc_param_info_t *p = &t->info[t->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    p->offset = t->total;
    p->decay = decay;
    p->file_dtype = RLC_DT_F32;
    p->f32_off = RLC_NO_OFFSET;
    t->total += p->numel;
    return p->offset;
}

/* A sparse layer's MLP: the router (and GLM-4.5's correction bias, also kept in fp32), then
 * each expert's gate, up and down projections in that order (so its gate|up rows are one
 * [2I, C] matrix, as a dense layer's), then the shared expert. */
static void add_experts(table_t *t, rlc_layer_off_t *L, const rlc_model_config_t *c, int l) {
    int64_t C = c->hidden_size, I = c->moe_intermediate_size;
    char nm[96];
    const char *blk = c->moe_naming ? "block_sparse_moe" : "mlp";
    const char *names[2][3] = {{"gate_proj", "up_proj", "down_proj"}, {"w1", "w3", "w2"}};
    snprintf(nm, sizeof nm, "model.layers.%d.%s.gate.weight", l, blk);
    L->router = add(t, nm, c->num_experts, C, 1);
    L->router_bias = RLC_NO_OFFSET;
    if (c->moe_biased && !c->moe_no_bias) { /* ERNIE's: mlp.moe_statics.e_score_correction_bias [1, E] */
        snprintf(nm, sizeof nm, "model.layers.%d.%s%s.e_score_correction_bias", l, blk,
                 c->moe_naming ? "" : c->moe_softmax ? ".moe_statics" : ".gate"); /* MiniMax-M2: the block's */
        if ((c->moe_softmax ? add(t, nm, 1, c->num_experts, 0) : add(t, nm, c->num_experts, 0, 0)) != RLC_NO_OFFSET) {
            L->router_bias = t->info[t->n - 1].f32_off = t->keep_f32;
            t->keep_f32 += (size_t)c->num_experts;
        }
    }
    L->gu_w = L->gu_b = L->down_w = L->down_b = RLC_NO_OFFSET;
    for (int e = 0; e < c->num_experts; e++)
        for (int k = 0; k < 3; k++) {
            snprintf(nm, sizeof nm, "model.layers.%d.%s.experts.%d.%s.weight", l, blk, e, names[c->moe_naming][k]);
            size_t off = k < 2 ? add(t, nm, I, C, 1) : add(t, nm, C, I, 1);
            if (e == 0 && k == 0) L->experts = off;
        }
    L->shared_gate = RLC_NO_OFFSET;
    if (!c->moe_shared_size) return;
    int64_t S = c->moe_shared_size; /* gate and up rows contiguous, as a dense layer's */
    const char *sh = c->moe_shared_gated ? "shared_expert" : "shared_experts";
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.%s.gate_proj.weight", l, sh);
    L->gu_w = add(t, nm, S, C, 1);
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.%s.up_proj.weight", l, sh);
    add(t, nm, S, C, 1);
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.%s.down_proj.weight", l, sh);
    L->down_w = add(t, nm, C, S, 1);
    if (!c->moe_shared_gated) return;
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.shared_expert_gate.weight", l);
    L->shared_gate = add(t, nm, 1, C, 1);
}

/* MLA's attention tensors (config.h): the queries' first projection and kv_a_proj_with_mqa
 * contiguous as one matmul (qkv_w), the bottlenecks' norms, q_b_proj and kv_b_proj. */
static void add_mla(table_t *t, rlc_layer_off_t *L, const rlc_model_config_t *c, int l) {
    int64_t C = c->hidden_size, H = c->num_heads, R = c->q_lora_rank, K = c->kv_lora_rank;
    int64_t qk = c->qk_nope_dim + c->qk_rope_dim;
    char nm[96];
#define NAME(fmt) (snprintf(nm, sizeof nm, "model.layers.%d.self_attn." fmt, l), nm)
    L->qkv_w = R ? add(t, NAME("q_a_proj.weight"), R, C, 1) : add(t, NAME("q_proj.weight"), H * qk, C, 1);
    add(t, NAME("kv_a_proj_with_mqa.weight"), K + c->qk_rope_dim, C, 1);
    L->q_norm = R ? add(t, NAME("q_a_layernorm.weight"), R, 0, 0) : RLC_NO_OFFSET;
    L->k_norm = add(t, NAME("kv_a_layernorm.weight"), K, 0, 0);
    L->q_b = R ? add(t, NAME("q_b_proj.weight"), H * qk, R, 1) : RLC_NO_OFFSET;
    L->kv_b = add(t, NAME("kv_b_proj.weight"), H * (c->qk_nope_dim + c->v_head_dim), K, 1);
#undef NAME
}

/* Build the table for m->cfg (and m->score_labels). */
static int build_table(rlc_model_t *m) {
    const rlc_model_config_t *c = &m->cfg;
    table_t t = {0};
    int64_t C = c->hidden_size, F = c->intermediate_size, D = c->head_dim, Hq = c->num_heads, Hk = c->num_kv_heads;
    char nm[96];
    m->layer = rlc_calloc((size_t)c->num_layers, sizeof *m->layer);
    if (!m->layer) return RLC_ENOMEM;
    m->off_embed = add(&t, "model.embed_tokens.weight", c->vocab_size, C, 1);
    for (int l = 0; l < c->num_layers; l++) {
        rlc_layer_off_t *L = &m->layer[l];
#define NAME(fmt) (snprintf(nm, sizeof nm, "model.layers.%d." fmt, l), nm)
        L->start = t.total;
        L->ln1 = c->post_only ? RLC_NO_OFFSET : add(&t, NAME("input_layernorm.weight"), C, 0, 0);
        L->q_b = L->kv_b = L->qkv_b = L->q_norm = L->k_norm = RLC_NO_OFFSET;
        if (c->mla) {
            add_mla(&t, L, c, l);
        } else if (c->fused_proj) { /* Phi-3: the same q|k|v rows, one tensor */
            L->qkv_w = add(&t, NAME("self_attn.qkv_proj.weight"), (Hq + 2 * Hk) * D, C, 1);
        } else {
            L->qkv_w = add(&t, NAME("self_attn.q_proj.weight"), Hq * D, C, 1);
            add(&t, NAME("self_attn.k_proj.weight"), Hk * D, C, 1);
            add(&t, NAME("self_attn.v_proj.weight"), Hk * D, C, 1);
        }
        if (c->qkv_bias) {
            L->qkv_b = add(&t, NAME("self_attn.q_proj.bias"), Hq * D, 0, 0);
            add(&t, NAME("self_attn.k_proj.bias"), Hk * D, 0, 0);
            add(&t, NAME("self_attn.v_proj.bias"), Hk * D, 0, 0);
        }
        if (c->qk_norm) { /* per head [D], or OLMo's over the whole projections */
            L->q_norm = add(&t, NAME("self_attn.q_norm.weight"), c->qk_norm_full ? Hq * D : D, 0, 0);
            L->k_norm = add(&t, NAME("self_attn.k_norm.weight"), c->qk_norm_full ? Hk * D : D, 0, 0);
        }
        L->o_w = add(&t, NAME("self_attn.o_proj.weight"), C, rlc_config_o_width(c), 1);
        L->o_b = c->o_bias ? add(&t, NAME("self_attn.o_proj.bias"), C, 0, 0) : RLC_NO_OFFSET;
        L->post_attn = L->post_ffn = RLC_NO_OFFSET;
        if (c->glm4_norms) { /* GLM-4: the same four norms, other names */
            L->post_attn = add(&t, NAME("post_self_attn_layernorm.weight"), C, 0, 0);
            L->ln2 = add(&t, NAME("post_attention_layernorm.weight"), C, 0, 0);
        } else if (c->post_norms) { /* Gemma 3, OLMo: post_attention_layernorm normalizes the attention output */
            L->post_attn = add(&t, NAME("post_attention_layernorm.weight"), C, 0, 0);
            L->ln2 = c->post_only ? RLC_NO_OFFSET : add(&t, NAME("pre_feedforward_layernorm.weight"), C, 0, 0);
        } else {
            L->ln2 = add(&t, NAME("post_attention_layernorm.weight"), C, 0, 0);
        }
        L->router = L->experts = L->shared_gate = L->router_bias = RLC_NO_OFFSET;
        if (rlc_config_layer_moe(c, l)) {
            add_experts(&t, L, c, l);
            if (c->post_norms) L->post_ffn = add(&t, NAME("post_feedforward_layernorm.weight"), C, 0, 0);
            continue;
        }
        if (c->fused_mlp) { /* gate rows then up rows, as gate_proj|up_proj */
            L->gu_w = add(&t, NAME("mlp.gate_up_proj.weight"), 2 * F, C, 1);
        } else {
            L->gu_w = add(&t, NAME("mlp.gate_proj.weight"), F, C, 1);
            add(&t, NAME("mlp.up_proj.weight"), F, C, 1);
        }
        L->gu_b = RLC_NO_OFFSET;
        if (c->mlp_bias) {
            L->gu_b = add(&t, NAME("mlp.gate_proj.bias"), F, 0, 0);
            add(&t, NAME("mlp.up_proj.bias"), F, 0, 0);
        }
        L->down_w = add(&t, NAME("mlp.down_proj.weight"), C, F, 1);
        L->down_b = c->mlp_bias ? add(&t, NAME("mlp.down_proj.bias"), C, 0, 0) : RLC_NO_OFFSET;
        if (c->post_norms)
            L->post_ffn = add(&t, c->glm4_norms ? NAME("post_mlp_layernorm.weight")
                                                : NAME("post_feedforward_layernorm.weight"), C, 0, 0);
#undef NAME
    }
    m->off_norm = add(&t, "model.norm.weight", C, 0, 0);
    m->off_lm_head = m->off_embed;
    if (c->head == RLC_HEAD_LM && !c->tie_word_embeddings)
        m->off_lm_head = add(&t, "lm_head.weight", c->vocab_size, C, 1);
    m->off_score_w = m->off_score_b = RLC_NO_OFFSET;
    if (m->score_labels > 0) {
        m->off_score_w = add(&t, "score.weight", m->score_labels, C, 1);
        if (c->score_bias) m->off_score_b = add(&t, "score.bias", m->score_labels, 0, 0);
    }
    for (int i = 0; i < t.n; i++)
        if (t.info[i].offset == RLC_NO_OFFSET) { /* add() failed */
            free(t.info);
            return rlc_errc(RLC_ENOMEM, "out of memory building the parameter table");
        }
    if (c->head == RLC_HEAD_LM && c->tie_word_embeddings) m->off_lm_head = m->off_embed;
    m->info = t.info;
    m->n_info = t.n;
    m->n_params = t.total;
    m->n_keep_f32 = t.keep_f32;
    return 0;
}

static int alloc_params(rlc_model_t *m) {
    rlc_backend_t *be = m->be;
    m->params = be->alloc(be, "parameters", m->n_params, RLC_BUF_PARAM);
    if (!m->params) return RLC_ENOMEM;
    if (m->n_keep_f32 && !(m->keep_f32 = be->alloc(be, "fp32 tensors", m->n_keep_f32, RLC_BUF_F32)))
        return RLC_ENOMEM;
    int R = m->cfg.rotary_dim;
    m->inv_freq = be->alloc(be, "rope inv_freq", (size_t)R / 2, RLC_BUF_F32);
    if (!m->inv_freq) return RLC_ENOMEM;
    float f[512];
    rlc_config_inv_freq(&m->cfg, f);
    int rc = be->upload(be, m->inv_freq, RLC_BUF_F32, f, (size_t)R / 2);
    if (rc || !(m->cfg.rope_local_theta > 0)) return rc;
    /* Gemma 3: the sliding layers' own table */
    m->inv_freq_local = be->alloc(be, "rope inv_freq (sliding layers)", (size_t)R / 2, RLC_BUF_F32);
    if (!m->inv_freq_local) return RLC_ENOMEM;
    rlc_config_inv_freq_local(&m->cfg, f);
    return be->upload(be, m->inv_freq_local, RLC_BUF_F32, f, (size_t)R / 2);
}

const rlc_param_info_t *rlc_model_param(const rlc_model_t *m, const char *name) {
    for (int i = 0; i < m->n_info; i++)
        if (!strcmp(m->info[i].name, name)) return &m->info[i];
    return NULL;
}

static void *pptr(const rlc_model_t *m, void *base, rlc_buf_kind_t k, size_t off) {
    return (char *)base + off * m->be->esize[k];
}

int rlc_model_get_param(const rlc_model_t *m, const rlc_param_info_t *p, float *dst) {
    if (p->f32_off != RLC_NO_OFFSET) /* the exact copy */
        return m->be->download(m->be, dst, m->keep_f32 + p->f32_off, RLC_BUF_F32, p->numel);
    return m->be->download(m->be, dst, pptr(m, m->params, RLC_BUF_PARAM, p->offset), RLC_BUF_PARAM, p->numel);
}

int rlc_model_get_grad(const rlc_model_t *m, const rlc_param_info_t *p, float *dst) {
    if (!m->grads) return rlc_errc(RLC_EINVAL, "gradients are not allocated");
    if (m->grad_ptr) return rlc_errc(RLC_EINVAL, "gradients are staged per layer (ZeRO stage 2): no full gradient");
    return m->be->download(m->be, dst, pptr(m, m->grads, RLC_BUF_GRAD, p->offset), RLC_BUF_GRAD, p->numel);
}

static int upload_param(rlc_model_t *m, const rlc_param_info_t *p, const float *src) {
    int rc = m->be->upload(m->be, pptr(m, m->params, RLC_BUF_PARAM, p->offset), RLC_BUF_PARAM, src, p->numel);
    if (rc || p->f32_off == RLC_NO_OFFSET) return rc;
    return m->be->upload(m->be, m->keep_f32 + p->f32_off, RLC_BUF_F32, src, p->numel);
}

int rlc_model_set_param(rlc_model_t *m, const rlc_param_info_t *p, const float *src) {
    m->params_changed = 1;
    return upload_param(m, p, src);
}

int rlc_model_alloc_grads(rlc_model_t *m) {
    if (m->grads) return 0;
    m->grads = m->be->alloc(m->be, "gradients", m->n_params, RLC_BUF_GRAD);
    if (!m->grads) return RLC_ENOMEM;
    m->grad_elems = m->n_params;
    rlc_model_zero_grads(m);
    return 0;
}

void rlc_model_zero_grads(rlc_model_t *m) {
    if (m->grads) m->be->zero(m->be, m->grads, RLC_BUF_GRAD, m->grad_elems);
}

void *rlc_model_grad_at(const rlc_model_t *m, size_t off) {
    if (m->grad_ptr) return m->grad_ptr(m->grad_ctx, off);
    return (char *)m->grads + off * m->be->esize[RLC_BUF_GRAD];
}

/* Fill parameters on the host, one tensor at a time, then upload. */
static int init_random(rlc_model_t *m, int from, uint64_t seed, float std) {
    size_t maxn = 0;
    for (int i = from; i < m->n_info; i++)
        if (m->info[i].numel > maxn) maxn = m->info[i].numel;
    float *buf = rlc_malloc(maxn * sizeof(float));
    if (!buf) return RLC_ENOMEM;
    int rc = 0;
    for (int i = from; i < m->n_info && !rc; i++) {
        rlc_param_info_t *p = &m->info[i];
        int is_norm = strstr(p->name, "layernorm") || strstr(p->name, "model.norm") || strstr(p->name, "_norm.weight");
        int is_bias = strstr(p->name, ".bias") || strstr(p->name, "_bias"); /* GLM's e_score_correction_bias too */
        rlc_rng_t r;
        rlc_rng_init(&r, seed, (uint64_t)i + 1); /* one stream per tensor: independent of layout */
        for (size_t k = 0; k < p->numel; k++)
            buf[k] = is_norm ? 1.0f - m->cfg.norm_offset : is_bias ? 0.0f : (float)(rlc_rng_normal(&r) * std);
        rc = upload_param(m, p, buf);
    }
    free(buf);
    return rc;
}

static rlc_model_t *new_model(rlc_backend_t *be) {
    rlc_model_t *m = rlc_calloc(1, sizeof *m);
    if (m) m->be = be;
    return m;
}

int rlc_model_create(rlc_model_t **out, const cJSON *config_json, rlc_backend_t *be, uint64_t seed, float std) {
    *out = NULL;
    rlc_model_t *m = new_model(be);
    if (!m) return RLC_ENOMEM;
    cJSON *j = cJSON_Duplicate(config_json, 1);
    int rc = j ? rlc_config_from_json(&m->cfg, j, "model config") : RLC_ENOMEM;
    if (!rc) {
        m->score_labels = m->cfg.head == RLC_HEAD_SCORE ? m->cfg.num_labels : 0;
        m->experts_fused = rlc_experts_native_fused(&m->cfg);
        rc = build_table(m);
    }
    if (!rc) rc = alloc_params(m);
    if (!rc) rc = init_random(m, 0, seed, std);
    if (rc) {
        rlc_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int rlc_model_add_score_head(rlc_model_t *m, int labels, uint64_t seed, float std) {
    if (m->score_labels) return rlc_errc(RLC_EINVAL, "the model already has a score head");
    if (labels <= 0 || labels > 16) return rlc_errc(RLC_EINVAL, "score head width %d out of range", labels);
    if (m->grads || m->acts.cap_tokens)
        return rlc_errc(RLC_EINVAL, "add the score head before allocating gradients or running the model");
    /* Rebuild the table with the head appended, copy the old parameters over. */
    rlc_model_t tmp = *m;
    size_t old_n = m->n_params;
    void *old = m->params;
    free(m->layer);
    m->layer = NULL;
    rlc_param_info_t *old_info = m->info;
    m->score_labels = labels;
    m->cfg.score_bias = 0;
    int rc = build_table(m);
    if (rc) {
        *m = tmp;
        return rc;
    }
    for (int i = 0; i < tmp.n_info; i++) m->info[i].file_dtype = old_info[i].file_dtype;
    free(old_info);
    void *np = m->be->alloc(m->be, "parameters", m->n_params, RLC_BUF_PARAM);
    if (!np) return RLC_ENOMEM;
    m->be->copy(m->be, np, old, RLC_BUF_PARAM, old_n);
    m->be->free(m->be, old);
    m->params = np;
    return init_random(m, tmp.n_info, seed, std);
}

/* ---------------- Hugging Face load ---------------- */

/* Tensor p of an open safetensors set as fp32 in buf (p->numel floats), checked for shape
 * and finite values; *found receives the file's tensor. */
int rlc_params_read_tensor(const rlc_model_t *m, const rlc_st_t *st, const char *dir, const rlc_param_info_t *p,
                           float *buf, const rlc_st_tensor_t **found) {
    const rlc_st_tensor_t *t = rlc_st_find(st, p->name);
    if (!t) return rlc_errc(RLC_EFMT, "%s: missing tensor '%s'", dir, p->name);
    int shape_ok = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim == 1 || t->shape[1] == p->shape[1]);
    if (!shape_ok)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' has shape [%lld%s%lld] but config.json implies [%lld%s%lld]", dir,
                        p->name, (long long)t->shape[0], t->ndim > 1 ? "," : "",
                        t->ndim > 1 ? (long long)t->shape[1] : 0LL, (long long)p->shape[0], p->ndim > 1 ? "," : "",
                        p->ndim > 1 ? (long long)p->shape[1] : 0LL);
    int rc = rlc_st_to_f32(t, buf);
    if (rc) return rlc_err_ctx(rc, "%s", dir);
    if (rlc_fp8_dtype(t->dtype) && (rc = rlc_fp8_dequant(&m->cfg, st, t, buf, dir))) return rc; /* times its scale */
    for (size_t k = 0; k < p->numel; k++)
        if (!isfinite(buf[k])) return rlc_errc(RLC_EFMT, "%s: tensor '%s' contains NaN or Inf", dir, p->name);
    *found = t;
    return 0;
}

/* Open a checkpoint's weights under the names the parameter table uses: a multimodal (Gemma 3,
 * Mistral 3) checkpoint's language model sits under language_model.model. (the Hub's naming) or
 * model.language_model. (transformers 4.5x's); its vision tower is not read. */
int rlc_params_open_weights(const rlc_model_t *m, const char *dir, rlc_st_t *st, int *fused) {
    int rc = rlc_st_open(st, dir);
    if (rc) return rc;
    const char *ren[][2] = {{"language_model.model.", "model."}, {"language_model.lm_head.", "lm_head."},
                            {"model.language_model.", "model."}};
    for (int i = 0; i < 3 && rc >= 0 && m->cfg.multimodal; i++)
        rc = rlc_st_rename_prefix(st, ren[i][0], ren[i][1], dir);
    if (rc >= 0) rc = rlc_experts_unfuse(&m->cfg, st, dir); /* transformers 5's stacked experts */
    if (rc < 0) rlc_st_close(st);
    if (fused) *fused = rc > 0;
    return rc < 0 ? rc : 0;
}

/* Tensors of a multimodal checkpoint that belong to its vision side. */
static int is_vision_tensor(const char *nm) {
    if (!strncmp(nm, "model.", 6)) nm += 6;
    return !strncmp(nm, "vision_tower.", 13) || !strncmp(nm, "multi_modal_projector.", 22);
}

/* A tensor of the multi-token-prediction layers a checkpoint carries (GLM-4.5's
 * num_nextn_predict_layers after its last layer: model.layers.i. with L <= i < L + mtp_layers;
 * ERNIE 4.5's under names with "mtp", which transformers ignores whatever the config says). */
static int is_mtp_tensor(const rlc_model_config_t *c, const char *nm) {
    if (!strcmp(c->model_type, "ernie4_5_moe")) return strstr(nm, "mtp") != NULL;
    if (!c->mtp_layers || strncmp(nm, "model.layers.", 13)) return 0;
    char *end;
    long i = strtol(nm + 13, &end, 10);
    return end != nm + 13 && *end == '.' && i >= c->num_layers && i < (long)c->num_layers + c->mtp_layers;
}

static size_t max_numel(const rlc_model_t *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_info; i++)
        if (m->info[i].numel > n) n = m->info[i].numel;
    return n;
}

int rlc_model_params_f32(rlc_model_t *m, float *dst) {
    rlc_backend_t *be = m->be;
    /* Re-read the file only where it holds more than the backend's PARAM type kept. */
    int reread = 0;
    if (m->src_dir && !m->params_changed && be->esize[RLC_BUF_PARAM] < 4)
        for (int i = 0; i < m->n_info; i++)
            if (m->info[i].file_dtype != RLC_DT_BF16) reread = 1;
    float *buf = rlc_malloc(max_numel(m) * sizeof(float));
    if (!buf) return RLC_ENOMEM;
    rlc_st_t st;
    memset(&st, 0, sizeof st);
    if (reread && rlc_params_open_weights(m, m->src_dir, &st, NULL)) {
        LOG_WARN("cannot re-read %s (%s); fp32 master weights start from the bf16 parameters", m->src_dir,
                 rlc_errmsg());
        reread = 0;
    }
    int rc = 0;
    for (int i = 0; i < m->n_info && !rc; i++) {
        const rlc_param_info_t *p = &m->info[i];
        const rlc_st_tensor_t *t = NULL;
        if (reread && rlc_st_find(&st, p->name))
            rc = rlc_params_read_tensor(m, &st, m->src_dir, p, buf, &t);
        else
            rc = rlc_model_get_param(m, p, buf);
        if (!rc) rc = be->upload(be, dst + p->offset, RLC_BUF_F32, buf, p->numel);
    }
    if (reread) rlc_st_close(&st);
    free(buf);
    if (!rc && reread) LOG_INFO("fp32 master weights read from %s (the parameters are stored in bf16)", m->src_dir);
    return rc;
}

int rlc_model_load(rlc_model_t **out, const char *dir, rlc_backend_t *be) {
    *out = NULL;
    if (!fs_is_dir(dir)) return rlc_errc(RLC_EIO, "model directory %s does not exist", dir);
    rlc_model_t *m = new_model(be);
    if (!m) return RLC_ENOMEM;
    m->src_dir = rlc_strdup(dir);
    char *cfgp = fs_join(dir, "config.json");
    rlc_st_t st;
    memset(&st, 0, sizeof st);
    float *buf = NULL;
    int fp8 = 0; /* FP8 tensors read (dequantized) */
    int rc = cfgp ? rlc_config_load(&m->cfg, cfgp) : RLC_ENOMEM;
    free(cfgp);
    if (rc) goto fail;
    if ((rc = rlc_params_open_weights(m, dir, &st, &m->experts_fused))) goto fail;
    /* A value head saved by rlc on a causal LM travels as an extra "score.weight". */
    m->score_labels = m->cfg.head == RLC_HEAD_SCORE ? m->cfg.num_labels : 0;
    const rlc_st_tensor_t *sw = rlc_st_find(&st, "score.weight");
    if (m->cfg.head == RLC_HEAD_LM && sw && sw->ndim == 2 && sw->shape[1] == m->cfg.hidden_size) {
        m->score_labels = (int)sw->shape[0];
        m->cfg.score_bias = rlc_st_find(&st, "score.bias") != NULL;
    }
    if ((rc = build_table(m)) || (rc = alloc_params(m))) goto fail;
    if (!(buf = rlc_malloc(max_numel(m) * sizeof(float)))) {
        rc = RLC_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < m->n_info; i++) {
        rlc_param_info_t *p = &m->info[i];
        const rlc_st_tensor_t *t = NULL;
        if ((rc = rlc_params_read_tensor(m, &st, dir, p, buf, &t))) goto fail;
        p->file_dtype = t->dtype;
        fp8 += rlc_fp8_dtype(t->dtype);
        if ((rc = upload_param(m, p, buf))) goto fail;
    }
    int unused = 0, vision = 0, mtp = 0, scales = 0, carried = 0;
    const char *first = NULL;
    for (int i = 0; i < st.n; i++) {
        const char *nm = st.t[i].name;
        if (rlc_model_param(m, nm)) continue;
        if (is_mtp_tensor(&m->cfg, nm)) {
            mtp++;
            continue;
        }
        if (rlc_carried_tensor(&m->cfg, nm)) { /* (its FP8 scales too) */
            carried++;
            continue;
        }
        if (fp8 && rlc_fp8_is_scale(nm)) { /* read with its weight (or an activation scale, unused) */
            scales++;
            continue;
        }
        if (m->cfg.multimodal && is_vision_tensor(nm)) {
            vision++;
            continue;
        }
        if (!strcmp(nm, "lm_head.weight") && m->cfg.tie_word_embeddings) continue; /* tied: same as embed */
        if (rlc_ends_with(nm, "rotary_emb.inv_freq")) continue; /* a buffer older checkpoints saved; recomputed */
        if (m->cfg.head == RLC_HEAD_NONE && (!strncmp(nm, "score.", 6) || !strncmp(nm, "v_head.", 7) ||
                                             !strcmp(nm, "lm_head.weight")))
            continue; /* a PRM's head, read by its scorer */
        if (!first) first = nm;
        unused++;
    }
    if (unused) LOG_WARN("%s: %d tensor(s) not used by the model (first: %s)", dir, unused, first);
    if (carried)
        LOG_INFO("%s: %d tensor(s) of its sparse-attention indexer not run (rlc attends to every token within "
                 "index_topk = %d) and carried untrained into saves", dir, carried, m->cfg.max_context);
    if (fp8)
        LOG_INFO("%s: %d FP8 tensor(s) dequantized by their scales (%d scale tensors); a save writes them in bf16",
                 dir, fp8, scales);
    if (mtp)
        LOG_INFO("%s: %d tensor(s) of the multi-token-prediction layer(s) not loaded (as transformers); a save "
                 "leaves them out", dir, mtp);
    if (m->cfg.multimodal)
        LOG_INFO("%s: the language model of a multimodal checkpoint (%d vision tensors not loaded); rlc saves it "
                 "as a text-only %s",
                 dir, vision, m->cfg.model_type);
    free(buf);
    rlc_st_close(&st);
    *out = m;
    return 0;
fail:
    free(buf);
    rlc_st_close(&st);
    rlc_model_free(m);
    return rc;
}

void rlc_model_free(rlc_model_t *m) {
    if (!m) return;
    rlc_model_step_free(m);
    rlc_backend_t *be = m->be;
    if (be) {
        if (m->params) be->free(be, m->params);
        if (m->grads) be->free(be, m->grads);
        if (m->inv_freq) be->free(be, m->inv_freq);
        if (m->inv_freq_local) be->free(be, m->inv_freq_local);
        if (m->keep_f32) be->free(be, m->keep_f32);
        if (m->acts.act_block) be->free(be, m->acts.act_block);
        if (m->acts.f32_block) be->free(be, m->acts.f32_block);
        if (m->acts.i32_block) be->free(be, m->acts.i32_block);
    }
    free(m->acts.x_in);
    free(m->acts.moe);
    free(m->acts.moe_off);
    free(m->moe_host);
    free(m->info);
    free(m->layer);
    free(m->src_dir);
    rlc_config_free(&m->cfg);
    free(m);
}
