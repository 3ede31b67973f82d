/* Mixture-of-experts keys (Qwen3-MoE, Mixtral, OLMoE, Qwen2-MoE, GLM-4.5, dots.llm1, ERNIE 4.5,
 * DeepSeek-V3 / Kimi K2, GLM-4.7-Flash):
 * how many experts, how many each token takes, their width, whether the picked weights are
 * renormalised, which layers are sparse, the shared experts, the routings with a correction
 * bias (GLM-4.5's, dots.llm1's, ERNIE 4.5's) and Qwen2-MoE's and dots.llm1's sliding rules. The
 * attention side of these families is read by config.c as their dense kin's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "kernels/backend.h"
#include "model/config_json.h"

/* A key under either of its two spellings (transformers maps each family's onto one attribute:
 * Qwen3-MoE's num_experts and num_local_experts, whose own saves write the other; GLM's
 * n_routed_experts; ERNIE's moe_k and num_experts_per_tok), def when neither is given; both
 * must agree. */
static int get_either(const cJSON *j, const char *a, const char *b, int def, int *out, const char *what) {
    int x = -1, y = -1, rc;
    if ((rc = cfg_get_int(j, a, &x, 0, -1, what)) || (rc = cfg_get_int(j, b, &y, 0, -1, what))) return rc;
    if (x >= 0 && y >= 0 && x != y) return rlc_errc(RLC_EINVAL, "%s: %s (%d) and %s (%d) disagree", what, a, x, b, y);
    *out = x >= 0 ? x : y >= 0 ? y : def;
    return 0;
}

/* Qwen3-MoE's sparse layers: not in mlp_only_layers, and every decoder_sparse_step-th
 * ((l + 1) % step == 0). */
static int qwen_sparse_layers(rlc_model_config_t *c, const cJSON *j, const char *what) {
    int step, rc;
    if ((rc = cfg_get_int(j, "decoder_sparse_step", &step, 0, 1, what))) return rc;
    if (step <= 0) return rlc_errc(RLC_EINVAL, "%s: decoder_sparse_step must be positive", what);
    for (int l = 0; l < c->num_layers; l++) c->layer_moe[l] = (l + 1) % step == 0;
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(j, "mlp_only_layers"), *e;
    if (!only || cJSON_IsNull(only)) return 0;
    if (!cJSON_IsArray(only)) return rlc_errc(RLC_EINVAL, "%s: mlp_only_layers must be a list of layer indices", what);
    cJSON_ArrayForEach(e, only) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble))
            return rlc_errc(RLC_EINVAL, "%s: mlp_only_layers must be a list of layer indices", what);
        if (e->valuedouble >= 0 && e->valuedouble < c->num_layers) c->layer_moe[(int)e->valuedouble] = 0;
    }
    return 0;
}

int cfg_moe_sliding(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what) {
    int dots = !strcmp(mt, "dots1"), use = dots, from = dots ? 62 : 28, W = 4096;
    int rc = cfg_layer_types(c, j, &c->layer_slides, what), typed = rc == 0;
    if (rc < 0 || (!dots && (rc = cfg_get_bool(j, "use_sliding_window", &use, 0, what))) ||
        (rc = cfg_get_int(j, "max_window_layers", &from, 0, from, what)))
        return rc;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if (!use || (sw && cJSON_IsNull(sw))) return 0; /* no window: the layer types do not matter */
    if ((rc = cfg_get_int(j, "sliding_window", &W, 0, W, what))) return rc;
    if (W <= 0) return rlc_errc(RLC_EINVAL, "%s: sliding_window must be a positive number", what);
    if (!typed) {
        if (!(c->layer_slides = calloc((size_t)c->num_layers, 1)))
            return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
        for (int l = 0; l < c->num_layers; l++) c->layer_slides[l] = dots ? l >= from : (l + 1) % 2 && l < from;
    }
    for (int l = 0; l < c->num_layers; l++)
        if (c->layer_slides[l]) c->sliding_window = W;
    return 0;
}

/* The expert bounds every family shares. */
static int check_experts(const rlc_model_config_t *c, const char *what) {
    if (c->num_experts <= 0 || c->num_experts > RLC_MOE_MAX_EXPERTS)
        return rlc_errc(RLC_EUNSUP, "%s: %d experts (rlc takes 1 to %d)", what, c->num_experts, RLC_MOE_MAX_EXPERTS);
    if (c->experts_per_tok <= 0 || c->experts_per_tok > c->num_experts || c->experts_per_tok > RLC_MOE_MAX_TOPK)
        return rlc_errc(RLC_EINVAL, "%s: num_experts_per_tok = %d must be between 1 and the experts (%d, at most %d)",
                        what, c->experts_per_tok, c->num_experts, RLC_MOE_MAX_TOPK);
    if (c->moe_intermediate_size <= 0) return rlc_errc(RLC_EINVAL, "%s: moe_intermediate_size must be positive", what);
    return 0;
}

/* n shared experts run as one MLP of n x moe_intermediate_size (key: the config's name for n). */
static int shared_experts(rlc_model_config_t *c, int n, const char *key, const char *what) {
    if ((size_t)n * c->moe_intermediate_size > (size_t)1 << 30)
        return rlc_errc(RLC_EINVAL, "%s: %s = %d is too large", what, key, n);
    c->moe_shared_size = n * c->moe_intermediate_size;
    return 0;
}

/* The config classes' defaults of the DeepSeek-V3-style routed families. dots.llm1 has none for the
 * expert counts (a config without them fails in transformers too; -1: required). */
typedef struct {
    const char *mt;
    int experts, per_tok, width, shared, groups, topk_groups, dense, norm, mtp;
    double scale;
} sig_defaults_t;
static const sig_defaults_t SIG_DEFAULTS[] = {
    {"glm4_moe", 128, 8, 1408, 1, 1, 1, 1, 1, 1, 1.0},     {"dots1", -1, -1, 1408, -1, 1, 1, 0, 0, 0, 1.0},
    {"deepseek_v3", 256, 8, 2048, 1, 8, 4, 3, 1, 1, 2.5}, {"kimi_k2", 256, 8, 2048, 1, 8, 4, 3, 1, 1, 2.5},
    {"glm4_moe_lite", 64, 4, 1536, 1, 1, 1, 1, 1, 0, 1.8},  {"deepseek_v2", 64, -1, 1407, 2, -1, -1, 0, 0, 0, 1.0},
    {"mistral4", 128, 4, 2048, 1, 1, 1, 0, 1, 0, 1.0},      {"sarvam_mla", 128, 8, 2048, 1, 1, 1, 1, 1, 0, 2.5},
    {"deepseek_v32", 256, 8, 2048, 1, 8, 4, 3, 1, 0, 2.5},  {"glm_moe_dsa", 256, 8, 2048, 1, 1, 1, 3, 1, 0, 2.5},
    {"solar_open", 128, 8, 1280, 1, 1, 1, 0, 1, 0, 1.0}};

/* DeepSeek-V2's routing as transformers runs it: softmax scores without a correction bias, the
 * top num_experts_per_tok (topk_method greedy), or those within the topk_group best of n_group
 * groups, a group ranked by its best score (group_limited_greedy); never renormalised (transformers
 * reads no norm_topk_prob there, DeepSeek's code does: true is refused), times
 * routed_scaling_factor. Every layer from first_k_dense_replace on is sparse (moe_layer_freq 1). */
static int dsv2_routing(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const char *tm = NULL;
    int rc, freq = 1;
    if ((rc = rlc_json_get_str(j, "topk_method", &tm, 0, what)) < 0 ||
        (rc = cfg_get_int(j, "moe_layer_freq", &freq, 0, 1, what)))
        return rc;
    if (freq != 1) return rlc_errc(RLC_EUNSUP, "%s: moe_layer_freq = %d is not supported (1)", what, freq);
    if (c->moe_norm_topk)
        return rlc_errc(RLC_EUNSUP, "%s: norm_topk_prob true is not supported for deepseek_v2 (transformers "
                        "ignores it, DeepSeek's own code does not)", what);
    if (!tm || !strcmp(tm, "greedy")) {
        c->moe_groups = c->moe_topk_groups = 1;
    } else if (strcmp(tm, "group_limited_greedy")) {
        return rlc_errc(RLC_EUNSUP, "%s: topk_method '%s' is not supported (greedy, group_limited_greedy)", what, tm);
    } else if (c->moe_groups < 0 || c->moe_topk_groups < 0) {
        return rlc_errc(RLC_EINVAL, "%s: group_limited_greedy needs n_group and topk_group", what);
    }
    c->moe_softmax = c->moe_group_max = c->moe_no_bias = 1;
    c->moe_norm_min = 1e-12f; /* (unused: not renormalised) */
    return 0;
}

/* GLM-4.7-Flash's mlp_layer_types: "dense" or "sparse" per layer (absent: the first dense). */
static int lite_layer_types(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "mlp_layer_types"), *e;
    if (!lt || cJSON_IsNull(lt)) return 1;
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->num_layers)
        return rlc_errc(RLC_EINVAL, "%s: mlp_layer_types must list one type per layer (%d)", what, c->num_layers);
    int l = 0;
    cJSON_ArrayForEach(e, lt) {
        const char *t = cJSON_IsString(e) ? e->valuestring : "?";
        if (strcmp(t, "dense") && strcmp(t, "sparse"))
            return rlc_errc(RLC_EINVAL, "%s: mlp_layer_types[%d] '%s' must be dense or sparse", what, l, t);
        c->layer_moe[l++] = !strcmp(t, "sparse");
    }
    return 0;
}

/* GLM-4.5 (glm4_moe), dots.llm1 (dots1), DeepSeek-V3 (deepseek_v3, kimi_k2), GLM-4.7-Flash
 * (glm4_moe_lite), Sarvam (sarvam_mla: DeepSeek-V3's, other defaults), DeepSeek-V2 (dsv2_routing's
 * softmax) and Mistral 4 (softmax without a bias):
 * sigmoid routing with a correction bias
 * and expert groups, shared experts added
 * ungated, the first first_k_dense_replace layers dense (GLM-4.7-Flash: its mlp_layer_types);
 * GLM-4.5's optional per-head q/k norms (use_qk_norm; dots.llm1 always has them) and the MTP
 * layers. */
static int cfg_sig_moe(rlc_model_config_t *c, const cJSON *j, const sig_defaults_t *d, const char *what) {
    int shared = -1, dense, rc, dots = !strcmp(d->mt, "dots1"), glm = !strcmp(d->mt, "glm4_moe");
    double scale;
    if ((rc = get_either(j, "n_routed_experts", "num_local_experts", d->experts, &c->num_experts, what)) ||
        (rc = cfg_get_int(j, "num_experts_per_tok", &c->experts_per_tok, 0, d->per_tok, what)) ||
        (rc = cfg_get_int(j, "moe_intermediate_size", &c->moe_intermediate_size, 0, d->width, what)) ||
        (rc = cfg_get_int(j, "n_shared_experts", &shared, 0, d->shared, what)) ||
        (rc = cfg_get_num(j, "routed_scaling_factor", &scale, d->scale, what)) ||
        (rc = cfg_get_int(j, "n_group", &c->moe_groups, 0, d->groups, what)) ||
        (rc = cfg_get_int(j, "topk_group", &c->moe_topk_groups, 0, d->topk_groups, what)) ||
        (rc = cfg_get_int(j, "first_k_dense_replace", &dense, 0, d->dense, what)) ||
        (rc = cfg_get_bool(j, "norm_topk_prob", &c->moe_norm_topk, d->norm, what)))
        return rc;
    if ((d->experts < 0 && c->num_experts < 0) || (d->per_tok < 0 && c->experts_per_tok < 0) ||
        (d->shared < 0 && shared < 0)) /* no class default: dots.llm1's counts, DeepSeek-V2's per token */
        return rlc_errc(RLC_EINVAL, "%s: n_routed_experts, num_experts_per_tok and n_shared_experts are required",
                        what);
    int v2 = !strcmp(d->mt, "deepseek_v2"), m4 = !strcmp(d->mt, "mistral4");
    if (v2 && (rc = dsv2_routing(c, j, what))) return rc;
    if (m4) { /* Mistral 4: DeepSeek-V3's groups over softmax scores without a bias; the picked scores
               * over their sum + 1e-20, which for softmax scores is their sum, max(sum, 1e-20) alike */
        c->moe_softmax = c->moe_no_bias = 1;
        c->moe_norm_min = 1e-20f;
    }
    if (glm && (rc = cfg_get_bool(j, "use_qk_norm", &c->qk_norm, 0, what))) return rc;
    if (!strcmp(d->mt, "glm4_moe_lite")) dense = 1; /* its class reads mlp_layer_types, not first_k_dense_replace */
    if (!dots && !v2 && ((rc = cfg_get_int(j, "num_nextn_predict_layers", &c->mtp_layers, 0, d->mtp, what)) ||
                  (rc = cfg_get_int(j, "num_mtp_layers", &c->mtp_layers, 0, c->mtp_layers, what))))
        return rc;
    if ((rc = check_experts(c, what))) return rc;
    if (shared < 0 || dense < 0 || c->mtp_layers < 0)
        return rlc_errc(RLC_EINVAL, "%s: n_shared_experts, first_k_dense_replace and num_nextn_predict_layers must "
                        "not be negative", what);
    if (!(scale > 0) || !isfinite(scale))
        return rlc_errc(RLC_EINVAL, "%s: routed_scaling_factor = %g must be a positive number", what, scale);
    int G = c->moe_groups, TG = c->moe_topk_groups, E = c->num_experts;
    if (G <= 0 || E % G || TG <= 0 || TG > G)
        return rlc_errc(RLC_EINVAL,
                        "%s: n_group = %d must divide the %d experts and topk_group = %d be between 1 and it", what,
                        G, E, TG);
    if (E / G < 2 && !c->moe_group_max) /* a group is ranked by its two best experts */
        return rlc_errc(RLC_EINVAL, "%s: %d experts in %d groups: a group needs at least 2", what, E, G);
    if (G > RLC_MOE_MAX_EXPERTS / 2)
        return rlc_errc(RLC_EUNSUP, "%s: n_group = %d (rlc takes up to %d groups)", what, G, RLC_MOE_MAX_EXPERTS / 2);
    if (c->experts_per_tok > TG * (E / G))
        return rlc_errc(RLC_EINVAL, "%s: num_experts_per_tok = %d exceeds the %d experts of the topk_group groups",
                        what, c->experts_per_tok, TG * (E / G));
    if ((rc = shared_experts(c, shared, "n_shared_experts", what))) return rc;
    c->moe_biased = 1;
    c->moe_scale = (float)scale;
    if (!(c->layer_moe = calloc((size_t)c->num_layers, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    /* GLM-4.7-Flash's, DeepSeek-V3.2's and GLM-5's mlp_layer_types (the last two's default: the first
     * first_k_dense_replace dense) */
    int typed = !strcmp(d->mt, "glm4_moe_lite") || !strcmp(d->mt, "deepseek_v32") || !strcmp(d->mt, "glm_moe_dsa");
    if (typed && (rc = lite_layer_types(c, j, what)) <= 0) return rc;
    for (int l = dense; l < c->num_layers; l++) c->layer_moe[l] = 1;
    return 0;
}

/* ERNIE 4.5's MoE (ernie4_5_moe): softmax scores plus a correction bias select the experts,
 * the picked scores renormalised by max(sum, moe_norm_min); shared experts added ungated; the
 * sparse layers every moe_layer_interval-th from moe_layer_start_index to moe_layer_end_index. */
static int cfg_ernie_moe(rlc_model_config_t *c, const cJSON *j, const char *what) {
    int shared, start, end, step, bias, rc;
    double norm_min;
    if ((rc = get_either(j, "moe_num_experts", "num_experts", 64, &c->num_experts, what)) ||
        (rc = get_either(j, "moe_k", "num_experts_per_tok", 6, &c->experts_per_tok, what)) ||
        (rc = cfg_get_int(j, "moe_intermediate_size", &c->moe_intermediate_size, 0, 1536, what)) ||
        (rc = cfg_get_int(j, "moe_num_shared_experts", &shared, 0, 2, what)) ||
        (rc = cfg_get_int(j, "moe_layer_start_index", &start, 0, 1, what)) ||
        (rc = cfg_get_int(j, "moe_layer_end_index", &end, 0, -1, what)) ||
        (rc = cfg_get_int(j, "moe_layer_interval", &step, 0, 1, what)) ||
        (rc = cfg_get_num(j, "moe_norm_min", &norm_min, 1e-12, what)) ||
        (rc = cfg_get_bool(j, "use_bias", &bias, 0, what)) || (rc = check_experts(c, what)))
        return rc;
    if (bias) return rlc_errc(RLC_EUNSUP, "%s: use_bias (biases on the shared experts) is not supported", what);
    if (shared < 0 || step <= 0 || c->num_experts < 2)
        return rlc_errc(RLC_EINVAL, "%s: moe_num_shared_experts >= 0, moe_layer_interval > 0 and 2 experts or more "
                        "are required", what);
    if (!(norm_min > 0) || !isfinite(norm_min))
        return rlc_errc(RLC_EINVAL, "%s: moe_norm_min = %g must be a positive number", what, norm_min);
    if ((rc = shared_experts(c, shared, "moe_num_shared_experts", what))) return rc;
    c->moe_biased = c->moe_softmax = c->moe_norm_topk = 1;
    c->moe_groups = c->moe_topk_groups = 1;
    c->moe_scale = 1.0f;
    c->moe_norm_min = (float)norm_min;
    if (end == -1) end = c->num_layers - 1;
    if (!(c->layer_moe = calloc((size_t)c->num_layers, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    for (int l = 0; l < c->num_layers; l++) c->layer_moe[l] = (l + 1) % step == 0 && l >= start && l <= end;
    return 0;
}

int cfg_moe(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what) {
    int qwen3 = !strcmp(mt, "qwen3_moe"), qwen2 = !strcmp(mt, "qwen2_moe"), qwen = qwen2 || qwen3;
    int mm2 = !strcmp(mt, "minimax_m2"), mixtral = !strcmp(mt, "mixtral") || mm2, olmoe = !strcmp(mt, "olmoe"), rc;
    for (size_t i = 0; i < sizeof SIG_DEFAULTS / sizeof *SIG_DEFAULTS; i++)
        if (!strcmp(mt, SIG_DEFAULTS[i].mt)) return cfg_sig_moe(c, j, &SIG_DEFAULTS[i], what);
    if (!strcmp(mt, "ernie4_5_moe")) return cfg_ernie_moe(c, j, what);
    if (!qwen && !mixtral && !olmoe) return 0;
    int def_e = qwen3 ? 128 : qwen2 ? 60 : mm2 ? 256 : mixtral ? 8 : 64;
    int def_k = qwen3 ? 8 : qwen2 ? 4 : mm2 ? 8 : mixtral ? 2 : 8;
    if ((rc = get_either(j, "num_experts", "num_local_experts", def_e, &c->num_experts, what)) ||
        (rc = cfg_get_int(j, "num_experts_per_tok", &c->experts_per_tok, 0, def_k, what)))
        return rc;
    c->moe_intermediate_size = c->intermediate_size; /* Mixtral's and OLMoE's experts */
    if (qwen && (rc = cfg_get_int(j, "moe_intermediate_size", &c->moe_intermediate_size, 0, qwen2 ? 1408 : 768, what)))
        return rc;
    if (qwen2) { /* Qwen2-MoE's shared expert and its gate */
        if ((rc = cfg_get_int(j, "shared_expert_intermediate_size", &c->moe_shared_size, 0, 5632, what))) return rc;
        if (c->moe_shared_size <= 0)
            return rlc_errc(RLC_EINVAL, "%s: shared_expert_intermediate_size must be positive", what);
        c->moe_shared_gated = 1;
    }
    c->moe_norm_topk = mixtral; /* Mixtral always renormalises */
    if (!mixtral && (rc = cfg_get_bool(j, "norm_topk_prob", &c->moe_norm_topk, 0, what))) return rc;
    c->moe_naming = mixtral;
    if ((rc = check_experts(c, what))) return rc;
    if (olmoe) { /* OLMoE: q/k norms over the whole projections, and no clipping rlc would not apply */
        const cJSON *clip = cJSON_GetObjectItemCaseSensitive(j, "clip_qkv");
        if (clip && !cJSON_IsNull(clip)) return rlc_errc(RLC_EUNSUP, "%s: clip_qkv is not supported", what);
        c->qk_norm = c->qk_norm_full = 1;
    }
    if (mm2) { /* MiniMax-M2: OLMoE's q/k norms; Mixtral's experts routed by sigmoid scores plus a correction
                * bias (block_sparse_moe.e_score_correction_bias), no groups, renormalised, unscaled */
        c->qk_norm = c->qk_norm_full = 1;
        c->moe_biased = 1;
        c->moe_groups = c->moe_topk_groups = 1;
        c->moe_scale = 1.0f;
    }
    if (!(c->layer_moe = calloc((size_t)c->num_layers, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    if (qwen) return qwen_sparse_layers(c, j, what);
    memset(c->layer_moe, 1, (size_t)c->num_layers);
    return 0;
}

int rlc_config_layer_moe(const rlc_model_config_t *c, int layer) {
    return c->layer_moe && layer >= 0 && layer < c->num_layers && c->layer_moe[layer];
}

int rlc_config_mlp_width(const rlc_model_config_t *c) {
    int w = c->intermediate_size, m = c->experts_per_tok * c->moe_intermediate_size + c->moe_shared_size;
    return c->layer_moe && m > w ? m : w;
}
