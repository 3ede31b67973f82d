/* config.json parsing and validation, and RoPE frequency setup. */
#include "model/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "model/config_json.h"

int cfg_get_int(const cJSON *j, const char *key, int *out, int required, int def, const char *what) {
    long long v;
    int rc = rlc_json_get_int(j, key, &v, required, what);
    if (rc < 0) return rc;
    if (rc == 1) {
        *out = def;
        return 0;
    }
    if (v < -2147483647LL || v > 2147483647LL) return rlc_errc(RLC_EINVAL, "%s: field '%s' out of range", what, key);
    *out = (int)v;
    return 0;
}

/* A finite number at key (a literal such as 1e999 is an error), def when absent. */
int cfg_get_num(const cJSON *j, const char *key, double *out, double def, const char *what) {
    int rc = rlc_json_get_num(j, key, out, 0, what);
    if (rc < 0) return rc;
    if (rc == 1) *out = def;
    else if (!isfinite(*out))
        return rlc_errc(RLC_EINVAL, "%s: field '%s' must be a finite number", what, key);
    return 0;
}

/* get_num for a key that must be present. */
int cfg_need_num(const cJSON *j, const char *key, double *out, const char *what) {
    int rc = rlc_json_get_num(j, key, out, 1, what);
    return rc < 0 ? rc : cfg_get_num(j, key, out, 0, what);
}

int cfg_get_bool(const cJSON *j, const char *key, int *out, int def, const char *what) {
    int rc = rlc_json_get_bool(j, key, out, 0, what);
    if (rc < 0) return rc;
    if (rc == 1) *out = def;
    return 0;
}

double cfg_yarn_mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0; }

/* yarn, as transformers 5 reads it: original_max_position_embeddings from the config's top
 * level, else the rope dict, else max_position_embeddings; factor, when absent, the ratio of
 * max_position_embeddings to it; beta_fast 32 and beta_slow 1 when absent or 0; the
 * attention factor given, or from factor (and mscale / mscale_all_dim when both are set). */
static int parse_yarn(rlc_model_config_t *c, const cJSON *j, const cJSON *src, const char *what) {
    int rc;
    c->rope_type = RLC_ROPE_YARN;
    if (!(c->rope_theta > 1)) /* its correction range divides by log(rope_theta) */
        return rlc_errc(RLC_EINVAL, "%s: yarn rope needs rope_theta > 1 (got %g)", what, c->rope_theta);
    if ((rc = cfg_get_int(src, "original_max_position_embeddings", &c->rope_original_max_pos, 0,
                      c->max_position_embeddings, what)) ||
        (rc = cfg_get_int(j, "original_max_position_embeddings", &c->rope_original_max_pos, 0, c->rope_original_max_pos,
                      what)))
        return rc;
    if (c->rope_original_max_pos <= 0)
        return rlc_errc(RLC_EINVAL, "%s: yarn rope needs original_max_position_embeddings > 0", what);
    double mscale = 0, mscale_all = 0;
    if ((rc = cfg_get_num(src, "factor", &c->rope_factor,
                      (double)c->max_position_embeddings / c->rope_original_max_pos, what)) ||
        (rc = cfg_get_num(src, "beta_fast", &c->rope_beta_fast, 0, what)) ||
        (rc = cfg_get_num(src, "beta_slow", &c->rope_beta_slow, 0, what)) ||
        (rc = cfg_get_num(src, "mscale", &mscale, 0, what)) ||
        (rc = cfg_get_num(src, "mscale_all_dim", &mscale_all, 0, what)) ||
        (rc = cfg_get_bool(src, "truncate", &c->rope_truncate, 1, what)))
        return rc;
    c->rope_mscale_all = mscale_all; /* MLA's attention scale (config_arch.c) */
    if (c->rope_beta_fast == 0) c->rope_beta_fast = 32;
    if (c->rope_beta_slow == 0) c->rope_beta_slow = 1;
    if (!(c->rope_factor > 0) || !(c->rope_beta_fast > 0) || !(c->rope_beta_slow > 0))
        return rlc_errc(RLC_EINVAL, "%s: yarn rope needs positive factor, beta_fast and beta_slow", what);
    double f = c->rope_factor;
    double dflt = mscale != 0 && mscale_all != 0 ? cfg_yarn_mscale(f, mscale) / cfg_yarn_mscale(f, mscale_all)
                                                  : cfg_yarn_mscale(f, 1);
    if ((rc = cfg_get_num(src, "attention_factor", &c->rope_attn_factor, dflt, what))) return rc;
    if (!(c->rope_attn_factor > 0) || !isfinite(c->rope_attn_factor))
        return rlc_errc(RLC_EINVAL, "%s: yarn attention_factor must be a positive number", what);
    return 0;
}

/* rotary_dim: head_dim, or int(head_dim x partial_rotary_factor) for phi3 and glm4_moe (0.5 by
 * default there; transformers 5 keeps the factor in rope_parameters, 4.x at the top level); the
 * first rotary_dim dims of each head rotate, half against half. Another model type with a
 * factor other than 1 is refused, as its attention in transformers cannot apply one. */
static int parse_partial_rotary(rlc_model_config_t *c, const cJSON *j, const cJSON *src, const char *what) {
    int glm = !strcmp(c->model_type, "glm4_moe") || !strcmp(c->model_type, "glm4"), rc;
    int m4 = !strcmp(c->model_type, "mistral4"); /* its class: qk_rope_head_dim / head_dim (cfg_mla) */
    int mm2 = !strcmp(c->model_type, "minimax_m2"), rd = 0; /* MiniMax-M2's rotary_dim: a factor of head_dim */
    if (mm2 && (rc = cfg_get_int(j, "rotary_dim", &rd, 0, 0, what))) return rc;
    if (rd < 0 || rd > c->head_dim)
        return rlc_errc(RLC_EINVAL, "%s: rotary_dim %d is not in [0, %d]", what, rd, c->head_dim);
    double f = glm ? 0.5 : m4 ? (double)c->qk_rope_dim / c->head_dim : rd ? (double)rd / c->head_dim : 1;
    if ((rc = cfg_get_num(j, "partial_rotary_factor", &f, f, what)) ||
        (src && (rc = cfg_get_num(src, "partial_rotary_factor", &f, f, what))))
        return rc;
    if (f != 1 && !c->fused_proj && !glm && !m4 && !mm2)
        return rlc_errc(RLC_EUNSUP, "%s: partial_rotary_factor %g is supported for phi3, glm4, glm4_moe, mistral4 and "
                        "minimax_m2 only", what, f);
    if (!(f > 0 && f <= 1)) return rlc_errc(RLC_EINVAL, "%s: partial_rotary_factor %g must be in (0, 1]", what, f);
    c->rotary_dim = (int)(c->head_dim * f);
    if (c->rotary_dim < 2 || c->rotary_dim % 2)
        return rlc_errc(RLC_EINVAL, "%s: partial_rotary_factor %g gives %d rotary dims of %d (must be even)", what, f,
                        c->rotary_dim, c->head_dim);
    return 0;
}

/* LongRoPE as transformers 5 reads it for Phi-3: original_max_position_embeddings from the
 * config's top level (Phi3Config's field, 4096 by default) before the rope dict; short_factor
 * and long_factor of rotary_dim / 2 numbers; attention_factor given, or from factor (itself
 * max_position_embeddings / original when absent): sqrt(1 + ln factor / ln original), 1 when
 * factor <= 1. Only the short factors are used: rlc runs sequences up to the original context
 * (max_context), where transformers uses them. */
static int parse_longrope(rlc_model_config_t *c, const cJSON *j, const cJSON *src, const char *what) {
    int rc, n = c->rotary_dim / 2;
    c->rope_type = RLC_ROPE_LONGROPE;
    if ((rc = cfg_get_int(src, "original_max_position_embeddings", &c->rope_original_max_pos, 0, 4096, what)) ||
        (rc = cfg_get_int(j, "original_max_position_embeddings", &c->rope_original_max_pos, 0, c->rope_original_max_pos,
                      what)))
        return rc;
    if (c->rope_original_max_pos <= 1)
        return rlc_errc(RLC_EINVAL, "%s: longrope needs original_max_position_embeddings > 1", what);
    const char *keys[2] = {"short_factor", "long_factor"};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(src, keys[k]), *x;
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
            return rlc_errc(RLC_EINVAL, "%s: longrope %s must list %d numbers (rotary dims / 2)", what, keys[k], n);
        int i = 0;
        cJSON_ArrayForEach(x, a) {
            if (!cJSON_IsNumber(x) || !(x->valuedouble > 0) || !isfinite(x->valuedouble))
                return rlc_errc(RLC_EINVAL, "%s: longrope %s[%d] must be a positive number", what, keys[k], i);
            if (k == 0) c->rope_short_factor[i] = (float)x->valuedouble;
            i++;
        }
    }
    double f;
    if ((rc = cfg_get_num(src, "factor", &f, (double)c->max_position_embeddings / c->rope_original_max_pos, what)))
        return rc;
    double dflt = f <= 1 ? 1.0 : sqrt(1 + log(f) / log((double)c->rope_original_max_pos));
    if ((rc = cfg_get_num(src, "attention_factor", &c->rope_attn_factor, dflt, what))) return rc;
    if (!(c->rope_attn_factor > 0) || !isfinite(c->rope_attn_factor))
        return rlc_errc(RLC_EINVAL, "%s: longrope attention_factor must be a positive number", what);
    c->rope_factor = 1;
    if (c->rope_original_max_pos < c->max_context) {
        c->max_context = c->rope_original_max_pos;
        c->context_why = "LongRoPE original context"; /* rlc runs the short factors, as transformers does within it */
    }
    return 0;
}

static int parse_rope(rlc_model_config_t *c, const cJSON *j, const char *what) {
    /* transformers 5: rope_parameters {rope_type, rope_theta, ...}; 4.x: rope_theta + rope_scaling */
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
    const cJSON *src = NULL;
    int gemma3 = !strcmp(c->model_type, "gemma3_text"), olmo3 = !strcmp(c->model_type, "olmo3"), rc;
    /* OLMo 3's sliding layers take its default theta when their dict lacks one, as transformers'
     * conversion leaves them */
    if (gemma3 && (rc = cfg_layer_rope(c, j, &rp, "rope_local_base_freq", 10000.0, what))) return rc;
    if (olmo3 && (rc = cfg_layer_rope(c, j, &rp, NULL, 500000.0, what))) return rc;
    double theta0 = gemma3 || !strcmp(c->model_type, "mixtral")                  ? 1e6
                    : olmo3 || !strncmp(c->model_type, "ernie4_5", 8) ? 500000.0
                    : !strcmp(c->model_type, "minimax_m2")             ? 5e6
                    : !strcmp(c->model_type, "solar_open")             ? 1e6
                                                                   : 10000.0;
    if ((rc = cfg_get_num(j, "rope_theta", &c->rope_theta, theta0, what))) return rc;
    if (cJSON_IsObject(rp)) {
        src = rp;
        if ((rc = cfg_get_num(rp, "rope_theta", &c->rope_theta, c->rope_theta, what))) return rc;
    } else if (cJSON_IsObject(rs)) {
        src = rs;
    } else if (rs && !cJSON_IsNull(rs)) {
        return rlc_errc(RLC_EINVAL, "%s: 'rope_scaling' must be an object or null", what);
    }
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta)) /* inv_freq = theta^(-2i/D) would be NaN or infinite */
        return rlc_errc(RLC_EINVAL, "%s: rope_theta = %g must be a positive number", what, c->rope_theta);
    c->rope_type = RLC_ROPE_DEFAULT;
    c->rope_attn_factor = 1;
    if ((rc = parse_partial_rotary(c, j, src, what))) return rc;
    if (!src) return 0;
    const char *type = NULL;
    if ((rc = rlc_json_get_str(src, "rope_type", &type, 0, what)) < 0) return rc;
    if (!type && (rc = rlc_json_get_str(src, "type", &type, 0, what)) < 0) return rc;
    if (!type || !strcmp(type, "default")) return 0;
    if (!strcmp(type, "deepseek_yarn") && !strcmp(c->model_type, "sarvam_mla")) type = "yarn"; /* its legacy name */
    if (!strcmp(type, "longrope") && !strcmp(c->model_type, "minicpm3")) /* MiniCPM3-4B's */
        return parse_longrope(c, j, src, what);
    if (c->fused_proj) { /* Phi3Config reads su and yarn as longrope too */
        if (strcmp(type, "longrope") && strcmp(type, "su") && strcmp(type, "yarn"))
            return rlc_errc(RLC_EUNSUP, "%s: rope type '%s' of a phi3 model is not supported (default, longrope)", what,
                            type);
        return parse_longrope(c, j, src, what);
    }
    if (!strcmp(type, "linear")) {
        c->rope_type = RLC_ROPE_LINEAR;
        if ((rc = rlc_json_get_num(src, "factor", &c->rope_factor, 1, what)) < 0) return rc;
    } else if (!strcmp(type, "llama3")) {
        c->rope_type = RLC_ROPE_LLAMA3;
        if ((rc = rlc_json_get_num(src, "factor", &c->rope_factor, 1, what)) < 0 ||
            (rc = cfg_need_num(src, "low_freq_factor", &c->rope_low_freq_factor, what)) ||
            (rc = cfg_need_num(src, "high_freq_factor", &c->rope_high_freq_factor, what)))
            return rc;
        if ((rc = cfg_get_int(src, "original_max_position_embeddings", &c->rope_original_max_pos, 0,
                          c->max_position_embeddings, what)))
            return rc;
        if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
            return rlc_errc(RLC_EINVAL, "%s: llama3 rope needs high_freq_factor > low_freq_factor", what);
    } else if (!strcmp(type, "yarn")) {
        if ((rc = parse_yarn(c, j, src, what))) return rc;
    } else {
        return rlc_errc(RLC_EUNSUP, "%s: rope type '%s' is not supported (default, linear, llama3, yarn)", what, type);
    }
    if (!(c->rope_factor > 0) || !isfinite(c->rope_factor))
        return rlc_errc(RLC_EINVAL, "%s: rope factor must be a positive number", what);
    return 0;
}

static int parse_eos(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "eos_token_id");
    c->n_eos = 0;
    if (!e || cJSON_IsNull(e)) return 0;
    if (cJSON_IsNumber(e)) {
        c->eos_token_ids[c->n_eos++] = e->valueint;
        return 0;
    }
    if (!cJSON_IsArray(e)) return rlc_errc(RLC_EINVAL, "%s: 'eos_token_id' must be an integer or a list", what);
    for (const cJSON *x = e->child; x; x = x->next) {
        if (!cJSON_IsNumber(x)) return rlc_errc(RLC_EINVAL, "%s: 'eos_token_id' entries must be integers", what);
        if (c->n_eos < 8) c->eos_token_ids[c->n_eos++] = x->valueint;
    }
    return 0;
}

/* Whatever the RoPE parameters, the frequencies and the attention scale they give must be
 * numbers: a llama3 factor of 1e-60 divides the frequencies into infinity, and yarn's
 * attention factor, squared in fp32, can over- or underflow. */
static int check_rope_outputs(const rlc_model_config_t *c, const char *what) {
    float inv[512]; /* head_dim <= 1024 */
    rlc_config_inv_freq(c, inv);
    for (int i = 0; i < c->rotary_dim / 2; i++)
        if (!isfinite(inv[i]))
            return rlc_errc(RLC_EINVAL, "%s: the rope parameters give a non-finite frequency (%g at %d)", what,
                            (double)inv[i], i);
    float scale = rlc_config_rope_mscale(c);
    if (!(scale > 0) || !isfinite(scale))
        return rlc_errc(RLC_EINVAL, "%s: the rope parameters give an attention factor of %g in fp32 (%g given)", what,
                        (double)scale, c->rope_attn_factor);
    return 0;
}

/* Qwen's layer_types, if given: one known type per layer (validated whether or not the model
 * slides, as transformers does); *slides (allocated) marks the sliding_attention ones. 1 when
 * absent. */
int cfg_layer_types(const rlc_model_config_t *c, const cJSON *j, unsigned char **slides, const char *what) {
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "layer_types");
    if (!lt || cJSON_IsNull(lt)) return 1;
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->num_layers)
        return rlc_errc(RLC_EINVAL, "%s: layer_types must list one type per layer (%d)", what, c->num_layers);
    if (!(*slides = calloc((size_t)c->num_layers, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    int l = 0;
    for (const cJSON *e = lt->child; e; e = e->next, l++) {
        const char *t = cJSON_IsString(e) ? e->valuestring : "?";
        if (strcmp(t, "full_attention") && strcmp(t, "sliding_attention"))
            return rlc_errc(RLC_EUNSUP, "%s: layer type '%s' is not supported (full_attention, sliding_attention)",
                            what, t);
        (*slides)[l] = !strcmp(t, "sliding_attention");
    }
    return 0;
}

/* Which layers slide and how far, as transformers 5 decides it. Mistral: every layer when
 * sliding_window is a number (4096 when the key is absent, MistralConfig's default), none when
 * null; its layer_types are ignored. Qwen2/Qwen3: a window only with use_sliding_window, and
 * then in the layers layer_types names sliding_attention, or without layer_types those from
 * max_window_layers (28 when absent) on. Phi-3 as Mistral, without a default window (Phi-3-mini
 * has 2047). Llama never slides. Sets sliding_window, slide_from and layer_slides
 * (model/config.h). */
static int parse_sliding(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what) {
    int use = 0, from = 28, rc, W = 4096, any = 0;
    int mistral = !strcmp(mt, "mistral"), qwen = !strcmp(mt, "qwen2") || !strcmp(mt, "qwen3");
    /* as Mistral, without a default window */
    if (!strcmp(mt, "phi3") || !strcmp(mt, "ministral3") || !strcmp(mt, "mixtral")) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "sliding_window")) return 0;
        mistral = 1;
    }
    if (!strcmp(mt, "qwen3_moe")) { /* every layer slides under use_sliding_window (4096 by default) */
        if ((rc = cfg_get_bool(j, "use_sliding_window", &use, 0, what)) || !use) return rc;
        mistral = 1;
    }
    if (!strcmp(mt, "qwen2_moe") || !strcmp(mt, "dots1")) return cfg_moe_sliding(c, j, mt, what);
    if (!mistral && !qwen) return 0;
    if (qwen) {
        if ((rc = cfg_layer_types(c, j, &c->layer_slides, what)) < 0) return rc;
        if ((rc = cfg_get_bool(j, "use_sliding_window", &use, 0, what)) ||
            (rc = cfg_get_int(j, "max_window_layers", &from, 0, from, what)))
            return rc;
    }
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if ((mistral || use) && !(sw && cJSON_IsNull(sw))) {
        if ((rc = cfg_get_int(j, "sliding_window", &W, 0, W, what))) return rc;
        if (W <= 0) return rlc_errc(RLC_EINVAL, "%s: sliding_window must be a positive number", what);
        c->slide_from = mistral || from < 0 ? 0 : from;
        for (int l = 0; c->layer_slides && l < c->num_layers; l++) any |= c->layer_slides[l];
        if (!c->layer_slides) any = c->slide_from < c->num_layers;
    }
    if (any) c->sliding_window = W;
    return 0;
}

int rlc_config_layer_typed_sliding(const rlc_model_config_t *c, int layer) {
    if (layer < 0 || layer >= c->num_layers) return 0;
    return c->layer_slides ? c->layer_slides[layer] : c->slide_pattern ? (layer + 1) % c->slide_pattern != 0 : 0;
}

int rlc_config_layer_rope(const rlc_model_config_t *c, int layer) {
    if (layer < 0 || layer >= c->num_layers) return 1;
    if (c->layer_rope) return c->layer_rope[layer];
    return !c->nope_interval || (layer + 1) % c->nope_interval != 0;
}

int rlc_config_layer_window(const rlc_model_config_t *c, int layer) {
    if (!c->sliding_window || layer < 0 || layer >= c->num_layers) return 0;
    int slides = c->layer_slides || c->slide_pattern ? rlc_config_layer_typed_sliding(c, layer)
                 : c->slide_nope                     ? !rlc_config_layer_rope(c, layer)
                                                     : layer >= c->slide_from;
    return slides ? c->sliding_window : 0;
}

float rlc_config_layer_rope_mscale(const rlc_model_config_t *c, int layer) {
    return c->rope_local_theta > 0 && rlc_config_layer_typed_sliding(c, layer) ? 1.0f : rlc_config_rope_mscale(c);
}

/* The model types rlc reads (multimodal wrappers become one of them first: config_arch.c). */
static const char *const MODEL_TYPES[] = {"qwen2",     "qwen3",     "llama",   "mistral",  "ministral3",
                                          "phi3",      "gemma",     "gemma2",  "gemma3_text", "olmo2",
                                          "olmo3",     "granite",   "smollm3", "qwen3_moe", "mixtral",
                                          "olmoe",     "qwen2_moe", "glm4_moe", "dots1",    "ernie4_5",
                                          "ernie4_5_moe", "glm4", "deepseek_v2", "deepseek_v3", "kimi_k2",
                                          "glm4_moe_lite", "minicpm3", "youtu", "mistral4", "sarvam_mla", "seed_oss",
                                          "minimax_m2", "deepseek_v32", "glm_moe_dsa", "exaone4", "solar_open"};

static int check_model_type(const char *mt, const char *what) {
    char list[512] = "";
    for (size_t i = 0; i < sizeof MODEL_TYPES / sizeof *MODEL_TYPES; i++) {
        if (!strcmp(mt, MODEL_TYPES[i])) return 0;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", MODEL_TYPES[i]);
    }
    return rlc_errc(RLC_EUNSUP, "%s: model_type '%s' is not supported (%s)", what, mt, list);
}

/* Head: CausalLM by default; *ForSequenceClassification / *ForTokenClassification are
 * score-head models (reward and value models); *ForProcessRewardModel (Qwen2.5-Math-PRM)
 * and *ForPrmModel (Skywork PRM) are loaded as trunks (their heads: rewards/rm.c). */
static int parse_head(rlc_model_config_t *c, const cJSON *j, const char *what) {
    c->head = RLC_HEAD_LM;
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "architectures");
    if (!cJSON_IsArray(arch) || !cJSON_IsString(arch->child)) return 0;
    const char *a = arch->child->valuestring;
    int seq = strstr(a, "ForSequenceClassification") != NULL, tokc = strstr(a, "ForTokenClassification") != NULL;
    if (seq || tokc) {
        c->head = RLC_HEAD_SCORE;
        c->score_bias = tokc; /* transformers: token classification's score Linear has a bias */
        const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(j, "id2label");
        int nl = cJSON_IsObject(id2) ? cJSON_GetArraySize(id2) : 2, rc;
        if ((rc = cfg_get_int(j, "num_labels", &c->num_labels, 0, nl, what))) return rc;
        if (c->num_labels <= 0 || c->num_labels > 16)
            return rlc_errc(RLC_EINVAL, "%s: num_labels %d out of range", what, c->num_labels);
    } else if (strstr(a, "ForProcessRewardModel") || strstr(a, "ForPrmModel")) {
        c->head = RLC_HEAD_NONE; /* the reward head is read by the PRM scorer */
    } else if (!strstr(a, "ForCausalLM")) {
        return rlc_errc(RLC_EUNSUP, "%s: architecture '%s' is not supported", what, a);
    }
    return 0;
}

int rlc_config_from_json(rlc_model_config_t *c, cJSON *j, const char *what) {
    memset(c, 0, sizeof *c);
    c->json = j;
    int rc;
    if (!cJSON_IsObject(j)) {
        rc = rlc_errc(RLC_EINVAL, "%s: expected a JSON object", what);
        goto fail;
    }
    const char *mt = NULL;
    if ((rc = cfg_multimodal_text(j, &c->multimodal, what)) || (rc = cfg_ministral3_rope(j, what))) goto fail;
    if ((rc = rlc_json_get_str(j, "model_type", &mt, 1, what))) goto fail;
    if ((rc = check_model_type(mt, what))) goto fail;
    int gemma = !strcmp(mt, "gemma"), gemma2 = !strcmp(mt, "gemma2"), gemma3 = !strcmp(mt, "gemma3_text");
    int olmo = !strcmp(mt, "olmo2") || !strcmp(mt, "olmo3"), granite = !strcmp(mt, "granite");
    int smol = !strcmp(mt, "smollm3"), ministral3 = !strcmp(mt, "ministral3"), cpm = !strcmp(mt, "minicpm3");
    int youtu = !strcmp(mt, "youtu"), mistral4 = !strcmp(mt, "mistral4"), seed = !strcmp(mt, "seed_oss");
    int mm2 = !strcmp(mt, "minimax_m2"), dsa = !strcmp(mt, "deepseek_v32") || !strcmp(mt, "glm_moe_dsa");
    int exaone = !strcmp(mt, "exaone4");
    c->fused_proj = !strcmp(mt, "phi3");
    int glm4 = !strcmp(mt, "glm4"); /* GLM-4-0414, GLM-Z1: fused gate|up, four norms a layer, interleaved RoPE */
    c->fused_mlp = c->fused_proj || glm4;
    c->post_norms = c->glm4_norms = c->rope_interleaved = glm4;
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);
    int qwen = !strcmp(mt, "qwen2");
    c->qk_norm = !strcmp(mt, "qwen3") || !strcmp(mt, "qwen3_moe") || !strcmp(mt, "dots1");
    int glm = !strcmp(mt, "glm4_moe"), ernie = !strncmp(mt, "ernie4_5", 8); /* ernie4_5 and ernie4_5_moe */
    int solar = !strcmp(mt, "solar_open"); /* Solar Open: GLM-4.5's experts in every layer, Llama's attention */
    int eps5 = olmo || c->fused_proj || glm || ernie || !strcmp(mt, "mixtral") || !strcmp(mt, "olmoe") ||
               !strcmp(mt, "glm4_moe_lite") || !strcmp(mt, "glm_moe_dsa") || cpm || exaone || solar;
    if ((rc = cfg_get_int(j, "vocab_size", &c->vocab_size, 1, 0, what)) ||
        (rc = cfg_get_int(j, "hidden_size", &c->hidden_size, 1, 0, what)) ||
        (rc = cfg_get_int(j, "intermediate_size", &c->intermediate_size, !solar, 1, what)) || /* Solar: none */
        (rc = cfg_get_int(j, "num_hidden_layers", &c->num_layers, 1, 0, what)) ||
        (rc = cfg_get_int(j, "num_attention_heads", &c->num_heads, 1, 0, what)) ||
        (rc = cfg_get_int(j, "num_key_value_heads", &c->num_kv_heads, 0, c->num_heads, what)) ||
        (rc = cfg_get_int(j, "max_position_embeddings", &c->max_position_embeddings, 0, 4096, what)) ||
        (rc = cfg_get_int(j, "bos_token_id", &c->bos_token_id, 0, -1, what)))
        goto fail;
    if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->intermediate_size <= 0 || c->num_layers <= 0 ||
        c->num_heads <= 0 || c->num_kv_heads <= 0 || c->max_position_embeddings <= 0) {
        rc = rlc_errc(RLC_EINVAL, "%s: sizes, layer and head counts must be positive", what);
        goto fail;
    }
    if (c->num_layers > RLC_MAX_LAYERS) { /* per-layer tables and loops; the largest models have ~130 */
        rc = rlc_errc(RLC_EINVAL, "%s: num_hidden_layers = %d is more than rlc takes (%d)", what, c->num_layers,
                      RLC_MAX_LAYERS);
        goto fail;
    }
    c->max_context = c->max_position_embeddings; /* LongRoPE and Ministral 3 lower it (context_why) */
    if (c->num_heads % c->num_kv_heads) {
        rc = rlc_errc(RLC_EINVAL, "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", what,
                      c->num_heads, c->num_kv_heads);
        goto fail;
    }
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(j, "head_dim");
    int hd128 = !strcmp(mt, "ernie4_5") || glm4 || seed || mm2 || solar; /* their classes' head_dim: 128 */
    if ((hd && !cJSON_IsNull(hd)) || (hd128 && !hd)) {
        if ((rc = cfg_get_int(j, "head_dim", &c->head_dim, 0, 128, what))) goto fail;
    } else {
        if (c->hidden_size % c->num_heads) {
            rc = rlc_errc(RLC_EINVAL, "%s: hidden_size is not a multiple of num_attention_heads", what);
            goto fail;
        }
        c->head_dim = c->hidden_size / c->num_heads;
    }
    if (c->head_dim <= 0 || c->head_dim % 2 || c->head_dim > 1024) {
        rc = rlc_errc(RLC_EINVAL, "%s: head_dim %d must be even and at most 1024", what, c->head_dim);
        goto fail;
    }
    int mla = !strcmp(mt, "deepseek_v3") || !strcmp(mt, "kimi_k2") || !strcmp(mt, "glm4_moe_lite") ||
              !strcmp(mt, "deepseek_v2") || !strcmp(mt, "sarvam_mla") || dsa || cpm || youtu || mistral4;
    if (mla && (rc = cfg_mla(c, j, mt, what))) goto fail;
    double eps;
    /* the config classes' defaults: 1e-5 for OLMo, OLMoE, Mixtral and Phi-3, 1e-6 for the others */
    if ((rc = cfg_get_num(j, "rms_norm_eps", &eps, glm4 ? 1.5625e-7 : eps5 ? 1e-5 : 1e-6, what))) goto fail;
    c->rms_norm_eps = (float)eps;
    if (!(c->rms_norm_eps > 0)) { /* rsqrt(mean(x^2) + eps) is NaN or infinite for a zero row */
        rc = rlc_errc(RLC_EINVAL, "%s: rms_norm_eps = %g must be positive", what, eps);
        goto fail;
    }
    const char *act = NULL;
    if (gemma || gemma2 || gemma3) {
        if ((rc = cfg_gemma(c, j, gemma3 ? 3 : gemma2 ? 2 : 1, what))) goto fail;
    } else {
        if ((rc = rlc_json_get_str(j, "hidden_act", &act, 0, what)) < 0) goto fail;
        if (act && strcmp(act, "silu")) {
            rc = rlc_errc(RLC_EUNSUP, "%s: hidden_act '%s' is not supported (silu)", what, act);
            goto fail;
        }
        if ((rc = olmo ? cfg_olmo(c, j, !strcmp(mt, "olmo3"), what)
                  : granite ? cfg_granite(c, j, what)
                  : exaone  ? cfg_exaone4(c, j, what)
                  : cpm     ? cfg_minicpm3(c, j, what)
                  : smol    ? cfg_smollm3(c, j, what)
                  : ernie   ? cfg_ernie(c, j, what)
                            : parse_sliding(c, j, mt, what)))
            goto fail;
        if ((rc = cfg_moe(c, j, mt, what))) goto fail;
    }
    /* Gemma, SmolLM3 and ERNIE 4.5 tie the LM head to the embeddings unless told otherwise */
    int tie_def = gemma || gemma2 || gemma3 || smol || ernie || cpm || youtu;
    if ((rc = cfg_get_bool(j, "tie_word_embeddings", &c->tie_word_embeddings, tie_def, what)))
        goto fail;
    int attention_bias = 0;
    if ((rc = cfg_get_bool(j, "attention_bias", &attention_bias, glm4 || seed, what)) || /* their classes': true */
        (rc = cfg_get_bool(j, "mlp_bias", &c->mlp_bias, 0, what)))
        goto fail;
    /* Qwen2 always has q/k/v biases and no o_proj bias; Ministral 3 and Mixtral never have any
     * (their configs have no attention_bias); Llama's (and Qwen3's) attention_bias covers all four. */
    int nobias = ministral3 || !strcmp(mt, "mixtral"), qwen2moe = !strcmp(mt, "qwen2_moe");
    if (qwen2moe && (rc = cfg_get_bool(j, "qkv_bias", &attention_bias, 1, what))) goto fail; /* its own key */
    c->qkv_bias = qwen ? 1 : nobias ? 0 : attention_bias;
    c->o_bias = qwen || qwen2moe || glm || glm4 || solar || nobias ? 0 : attention_bias; /* q/k/v biases only */
    if (ernie && (rc = cfg_get_bool(j, "use_bias", &c->mlp_bias, 0, what))) goto fail; /* ERNIE: every projection */
    if (ernie) c->qkv_bias = c->o_bias = c->mlp_bias;
    /* Seed-OSS: attention_bias on q/k/v, attention_out_bias on o_proj (its dropouts are training-time
     * noise rlc never adds: RL needs the deterministic model's log-probs) */
    if (seed && (rc = cfg_get_bool(j, "attention_out_bias", &c->o_bias, 0, what))) goto fail;
    if ((rc = parse_rope(c, j, what)) || (rc = parse_eos(c, j, what))) goto fail;
    if (c->mla && (rc = cfg_mla_finish(c, what))) goto fail;
    if ((ministral3 || mistral4) && (rc = cfg_ministral3(c, j, what))) goto fail;
    if (dsa && (rc = cfg_dsa(c, j, what))) goto fail;
    const char *dt = NULL;
    if ((rc = rlc_json_get_str(j, "dtype", &dt, 0, what)) < 0) goto fail;
    if (!dt && (rc = rlc_json_get_str(j, "torch_dtype", &dt, 0, what)) < 0) goto fail;
    snprintf(c->dtype, sizeof c->dtype, "%s", dt ? dt : "float32");
    if ((rc = parse_head(c, j, what)) || (rc = cfg_quant(c, j, what))) goto fail;
    if ((rc = check_rope_outputs(c, what))) goto fail;
    return 0;
fail:
    rlc_config_free(c);
    return rc;
}

int rlc_config_load(rlc_model_config_t *c, const char *path) {
    cJSON *j = rlc_json_load_file_lit(path);
    if (!j) {
        memset(c, 0, sizeof *c);
        return RLC_EFMT;
    }
    return rlc_config_from_json(c, j, path);
}

void rlc_config_free(rlc_model_config_t *c) {
    cJSON_Delete(c->json);
    c->json = NULL;
    free(c->layer_slides);
    c->layer_slides = NULL;
    free(c->layer_rope);
    c->layer_rope = NULL;
    free(c->layer_moe);
    c->layer_moe = NULL;
}

/* yarn's blend of the plain frequencies (extrapolation) and the ones divided by factor
 * (interpolation) over a ramp between the correction dimensions of beta_fast and beta_slow
 * rotations, in fp32 as transformers computes it. */
static void yarn_inv_freq(const rlc_model_config_t *c, float *inv) {
    int D = c->rotary_dim;
    double base = c->rope_theta, orig = c->rope_original_max_pos;
    double low = D * log(orig / (c->rope_beta_fast * 2 * M_PI)) / (2 * log(base));
    double high = D * log(orig / (c->rope_beta_slow * 2 * M_PI)) / (2 * log(base));
    if (c->rope_truncate) low = floor(low), high = ceil(high);
    if (low < 0) low = 0;
    if (high > D - 1) high = D - 1;
    if (low == high) high += 0.001;
    for (int i = 0; i < D / 2; i++) {
        float pos = powf((float)base, (float)(2 * i) / (float)D);
        float extra = 1.0f / pos, inter = 1.0f / ((float)c->rope_factor * pos);
        float ramp = ((float)i - (float)low) / (float)(high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        float keep = 1.0f - ramp; /* the share of extrapolation */
        inv[i] = inter * (1.0f - keep) + extra * keep;
    }
}

/* Default RoPE: 1 / base ** (arange(0, D, 2).float() / D), in float32 as transformers. */
static void default_inv_freq(double base, int D, float *inv) {
    for (int i = 0; i < D / 2; i++) inv[i] = 1.0f / powf((float)base, (float)(2 * i) / (float)D);
}

void rlc_config_inv_freq(const rlc_model_config_t *c, float *inv) {
    int D = c->rotary_dim;
    default_inv_freq(c->rope_theta, D, inv);
    if (c->rope_type == RLC_ROPE_LINEAR) {
        for (int i = 0; i < D / 2; i++) inv[i] = (float)(inv[i] / c->rope_factor);
    } else if (c->rope_type == RLC_ROPE_LLAMA3) {
        double old = c->rope_original_max_pos, lf = c->rope_low_freq_factor, hf = c->rope_high_freq_factor;
        double low_wavelen = old / lf, high_wavelen = old / hf;
        for (int i = 0; i < D / 2; i++) {
            float f = inv[i];
            float wavelen = (float)(2.0 * M_PI) / f;
            float scaled = wavelen > (float)low_wavelen ? (float)(f / c->rope_factor) : f;
            if (!(wavelen < (float)high_wavelen) && !(wavelen > (float)low_wavelen)) {
                float smooth = ((float)old / wavelen - (float)lf) / ((float)hf - (float)lf);
                scaled = (1.0f - smooth) * scaled / (float)c->rope_factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
    } else if (c->rope_type == RLC_ROPE_YARN) {
        yarn_inv_freq(c, inv);
    } else if (c->rope_type == RLC_ROPE_LONGROPE) { /* 1 / (ext * base ** (2i / D)), fp32 as transformers */
        for (int i = 0; i < D / 2; i++)
            inv[i] = 1.0f / (c->rope_short_factor[i] * powf((float)c->rope_theta, (float)(2 * i) / (float)D));
    }
}

void rlc_config_inv_freq_local(const rlc_model_config_t *c, float *inv) {
    default_inv_freq(c->rope_local_theta, c->rotary_dim, inv);
}

float rlc_config_attn_scale(const rlc_model_config_t *c) {
    if (c->attn_scale > 0) return c->attn_scale;
    return 1.0f / sqrtf((float)c->head_dim);
}

float rlc_config_rope_mscale(const rlc_model_config_t *c) {
    return c->rope_type == RLC_ROPE_YARN || c->rope_type == RLC_ROPE_LONGROPE ? (float)c->rope_attn_factor : 1.0f;
}

size_t rlc_config_num_params(const rlc_model_config_t *c) {
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size, D = (size_t)c->head_dim;
    size_t Hq = (size_t)c->num_heads, Hk = (size_t)c->num_kv_heads, V = (size_t)c->vocab_size;
    size_t qkv = (Hq + 2 * Hk) * D, attn = qkv * C;
    if (c->mla) { /* the first projection, the norms, q_b_proj, kv_b_proj (config.h) */
        size_t R = (size_t)c->q_lora_rank, K = (size_t)c->kv_lora_rank, qk = (size_t)(c->qk_nope_dim + c->qk_rope_dim);
        attn = (size_t)rlc_config_mla_a(c) * C + (R ? R + Hq * qk * R : 0) + K +
               Hq * (size_t)(c->qk_nope_dim + c->v_head_dim) * K;
    }
    size_t layer = C + attn + (c->qkv_bias ? qkv : 0) + C * (size_t)rlc_config_o_width(c) + (c->o_bias ? C : 0) + C +
                   2 * F * C +
                   (c->mlp_bias ? 2 * F : 0) + C * F + (c->mlp_bias ? C : 0) +
                   (c->qk_norm ? (c->qk_norm_full ? (Hq + Hk) * D : 2 * D) : 0) + (c->post_norms ? 2 * C : 0) -
                   (c->post_only ? 2 * C : 0);
    size_t n = V * C + (size_t)c->num_layers * layer + C;
    for (int l = 0; l < c->num_layers; l++) /* a sparse layer's router and experts replace its MLP */
        if (rlc_config_layer_moe(c, l))
            n += (size_t)c->num_experts * C * (1 + 3 * (size_t)c->moe_intermediate_size) -
                 (3 * F * C + (c->mlp_bias ? 2 * F + C : 0)) +
                 (size_t)c->moe_shared_gated * C + 3 * C * (size_t)c->moe_shared_size + /* shared, its gate */
                 (c->moe_biased && !c->moe_no_bias ? (size_t)c->num_experts : 0);      /* GLM's router bias */
    if (c->head == RLC_HEAD_LM && !c->tie_word_embeddings) n += V * C;
    return n;
}
