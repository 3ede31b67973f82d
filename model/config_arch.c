/* The config keys of the architecture families beyond the Llama core, as transformers 5 reads
 * them (see config_json.h): Gemma (1), Gemma 2, Gemma 3 (text, and multimodal checkpoints'
 * text models), OLMo 2 and OLMo 3, Granite, SmolLM3, Ministral 3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "model/config_json.h"

/* Two RoPE tables by layer type (Gemma 3, OLMo 3). transformers 5 keys rope_parameters by
 * layer type: the full_attention dict is the global rope (*rp is set to it; rope_scaling,
 * 4.x's spelling, applies to it too), the sliding_attention dict must be plain (default) and
 * gives the local base; else local_key (Gemma 3's rope_local_base_freq) or local_def. */
int cfg_layer_rope(rlc_model_config_t *c, const cJSON *j, const cJSON **rp, const char *local_key, double local_def,
                   const char *what) {
    double local = local_def;
    int rc = local_key ? cfg_get_num(j, local_key, &local, local_def, what) : 0;
    if (rc) return rc;
    const cJSON *full = cJSON_GetObjectItemCaseSensitive(*rp, "full_attention");
    const cJSON *slide = cJSON_GetObjectItemCaseSensitive(*rp, "sliding_attention");
    if (cJSON_IsObject(*rp) && (full || slide)) {
        if ((full && !cJSON_IsObject(full)) || (slide && !cJSON_IsObject(slide)))
            return rlc_errc(RLC_EINVAL, "%s: rope_parameters.full_attention / sliding_attention must be objects", what);
        const char *type = NULL;
        if (slide && ((rc = rlc_json_get_str(slide, "rope_type", &type, 0, what)) < 0 ||
                      (rc = cfg_get_num(slide, "rope_theta", &local, local, what))))
            return rc;
        if (type && strcmp(type, "default"))
            return rlc_errc(RLC_EUNSUP, "%s: rope type '%s' of the sliding layers is not supported (default)", what,
                            type);
        *rp = full;
    }
    if (!(local > 0) || !isfinite(local))
        return rlc_errc(RLC_EINVAL, "%s: the sliding layers' rope_theta = %g must be a positive number", what, local);
    c->rope_local_theta = local;
    return 0;
}

/* Sliding layers by type, as Gemma 3 and OLMo 3 configs give them: layer_types, else all but
 * every P-th (P from pattern_key, or def_pattern), with a window of sliding_window (4096 when
 * absent, none when null). */
static int layer_windows(rlc_model_config_t *c, const cJSON *j, const char *pattern_key, int def_pattern,
                         const char *what) {
    int rc, W = 4096, pattern = def_pattern, any = 0;
    if ((rc = c->layer_slides ? 0 : cfg_layer_types(c, j, &c->layer_slides, what)) < 0) return rc; /* (given) */
    if (rc == 1) { /* no layer_types: transformers' pattern (layer 0 slides unless the pattern is 1) */
        if (pattern_key && (rc = cfg_get_int(j, pattern_key, &pattern, 0, pattern, what))) return rc;
        if (pattern <= 0) return rlc_errc(RLC_EINVAL, "%s: sliding_window_pattern must be positive", what);
        c->slide_pattern = pattern;
        any = pattern > 1;
    } else {
        for (int l = 0; l < c->num_layers; l++) any |= c->layer_slides[l];
    }
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if (sw && cJSON_IsNull(sw)) return 0;
    if ((rc = cfg_get_int(j, "sliding_window", &W, 0, W, what))) return rc;
    if (W <= 0) return rlc_errc(RLC_EINVAL, "%s: sliding_window must be a positive number", what);
    if (any) c->sliding_window = W;
    return 0;
}

/* Soft-capping (Gemma 2, and Gemma 3 when its config sets it): final_logit_softcapping and
 * attn_logit_softcapping, def when absent, none when null. */
static int gemma_softcaps(rlc_model_config_t *c, const cJSON *j, double def_final, double def_attn,
                          const char *what) {
    const char *keys[2] = {"final_logit_softcapping", "attn_logit_softcapping"};
    double defs[2] = {def_final, def_attn};
    float *dst[2] = {&c->final_softcap, &c->attn_softcap};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        double cap = defs[i];
        if (v && cJSON_IsNull(v)) cap = 0;
        else if (v) {
            int rc = cfg_get_num(j, keys[i], &cap, 0, what);
            if (rc) return rc;
            if (!(cap > 0) || !isfinite((float)cap))
                return rlc_errc(RLC_EINVAL, "%s: %s = %g must be positive (or null)", what, keys[i], cap);
        }
        *dst[i] = (float)cap;
    }
    return 0;
}

/* Gemma (1), Gemma 2 and Gemma 3 text (version 1, 2, 3), as transformers 5 reads them: RMSNorm
 * by (1 + w), embeddings times sqrt(hidden_size) (rounded to fp32, as
 * torch.tensor(hidden_size ** 0.5)), the GeGLU MLP (Gemma's legacy hidden_act "gelu" is read as
 * gelu_pytorch_tanh; Gemma 2 and 3 read hidden_activation). Gemma 2 adds the post-attention and
 * post-MLP norms, query_pre_attn_scalar (256 when absent), soft-capped attention scores and
 * logits (50 and 30 when absent, none when null) and sliding layers: layer_types, else every
 * other layer from the first, with a window of sliding_window (4096 when absent, none when
 * null). Gemma 3 has no soft-capping unless its config sets it, q/k norms, and every layer but
 * each sliding_window_pattern-th (6) slides. Bidirectional attention is refused. */
int cfg_gemma(rlc_model_config_t *c, const cJSON *j, int version, const char *what) {
    const char *act = NULL, *key = version >= 2 ? "hidden_activation" : "hidden_act";
    int rc;
    if ((rc = rlc_json_get_str(j, key, &act, 0, what)) < 0) return rc;
    if (act && strcmp(act, "gelu_pytorch_tanh") && (version >= 2 || strcmp(act, "gelu")))
        return rlc_errc(RLC_EUNSUP, "%s: %s '%s' is not supported (gelu_pytorch_tanh)", what, key, act);
    c->act = RLC_ACT_GELU_TANH;
    c->norm_offset = 1.0f;
    c->embed_scale = (float)sqrt((double)c->hidden_size);
    c->embed_scale_round = 1;
    if (version < 2) return 0;
    c->post_norms = 1;
    c->qk_norm = version >= 3;
    if ((rc = version >= 3 ? gemma_softcaps(c, j, 0, 0, what) : gemma_softcaps(c, j, 30.0, 50.0, what))) return rc;
    int bidi = 0;
    if ((rc = cfg_get_bool(j, "use_bidirectional_attention", &bidi, 0, what))) return rc;
    if (bidi) return rlc_errc(RLC_EUNSUP, "%s: use_bidirectional_attention is not supported (causal models)", what);
    double q;
    if ((rc = cfg_get_num(j, "query_pre_attn_scalar", &q, 256, what))) return rc;
    c->attn_scale = (float)pow(q, -0.5);
    if (!(q > 0) || !(c->attn_scale > 0) || !isfinite(c->attn_scale))
        return rlc_errc(RLC_EINVAL, "%s: query_pre_attn_scalar must be positive", what);
    return version >= 3 ? layer_windows(c, j, "sliding_window_pattern", 6, what)
                        : layer_windows(c, j, NULL, 2, what);
}

/* OLMo 2: no norms before the blocks, a norm of each block's output before the residual add
 * (post_attention_layernorm, post_feedforward_layernorm), and q/k norms over the whole q and k
 * projections before RoPE. OLMo 3 adds sliding layers (layer_types, else 3 of every 4), with
 * their own default RoPE. */
int cfg_olmo(rlc_model_config_t *c, const cJSON *j, int olmo3, const char *what) {
    c->qk_norm = c->qk_norm_full = c->post_norms = c->post_only = 1;
    return olmo3 ? layer_windows(c, j, NULL, 4, what) : 0;
}

/* EXAONE 4.0: OLMo 2's layer (norms after the blocks only) with per-head q/k norms before RoPE;
 * sliding layers by layer_types, else sliding_window_pattern (an int P: every P-th layer full, 4
 * by default; or a string of L and G repeated over the layers), the full layers without RoPE
 * (NoPE); with sliding_window null, every layer full and rotary. */
int cfg_exaone4(rlc_model_config_t *c, const cJSON *j, const char *what) {
    c->qk_norm = c->post_norms = c->post_only = 1;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if (sw && cJSON_IsNull(sw)) return 0;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "sliding_window_pattern");
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "layer_types");
    size_t L = (size_t)(c->num_layers > 0 ? c->num_layers : 1), n = cJSON_IsString(pat) ? strlen(pat->valuestring) : 0;
    int rc;
    if (cJSON_IsString(pat) && (!lt || cJSON_IsNull(lt))) { /* "LLLG": the layers' kinds, repeated */
        if (!(c->layer_slides = calloc(L, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
        for (int l = 0; l < c->num_layers; l++) {
            char t = n ? pat->valuestring[l % n] : 0;
            if (t != 'L' && t != 'G')
                return rlc_errc(RLC_EINVAL, "%s: sliding_window_pattern '%s' must be of L and G", what,
                                pat->valuestring);
            c->layer_slides[l] = t == 'L';
        }
    }
    if ((rc = layer_windows(c, j, "sliding_window_pattern", 4, what))) return rc; /* layer_types, or the int */
    if (!(c->layer_rope = calloc(L, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    for (int l = 0; l < c->num_layers; l++) c->layer_rope[l] = rlc_config_layer_typed_sliding(c, l); /* full: NoPE */
    return 0;
}

/* Granite (3.x dense: GraniteForCausalLM), a Llama with four multipliers: the embeddings
 * (embedding_multiplier), each block's output before the residual add (residual_multiplier),
 * the attention scale (attention_multiplier, in place of 1/sqrt(head_dim)) and the logits
 * (divided by logits_scaling); 1 when absent. */
int cfg_granite(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const char *keys[4] = {"embedding_multiplier", "residual_multiplier", "attention_multiplier", "logits_scaling"};
    float *dst[4] = {&c->embed_scale, &c->residual_scale, &c->attn_scale, &c->logit_scale};
    for (int i = 0; i < 4; i++) {
        double v;
        int rc = cfg_get_num(j, keys[i], &v, 1.0, what);
        if (rc) return rc;
        *dst[i] = (float)v;
        if (!(*dst[i] > 0) || !isfinite(*dst[i]))
            return rlc_errc(RLC_EINVAL, "%s: %s = %g must be a positive number (in fp32)", what, keys[i], v);
    }
    return 0;
}

/* SmolLM3: a Llama (tied by default) whose NoPE layers skip RoPE: no_rope_layers (1: RoPE, 0:
 * none; one per layer), else every no_rope_layer_interval-th (4). With use_sliding_window and
 * a sliding_window, the layers layer_types names slide, else the NoPE ones, as transformers'
 * config derives its layer types. */
int cfg_smollm3(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const cJSON *nr = cJSON_GetObjectItemCaseSensitive(j, "no_rope_layers"), *e;
    int rc, any = 0, use = 0, W = 0;
    if (nr && !cJSON_IsNull(nr)) {
        if (!cJSON_IsArray(nr) || cJSON_GetArraySize(nr) != c->num_layers)
            return rlc_errc(RLC_EINVAL, "%s: no_rope_layers must list one 0 or 1 per layer (%d)", what, c->num_layers);
        if (!(c->layer_rope = calloc((size_t)c->num_layers, 1))) return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
        int l = 0;
        cJSON_ArrayForEach(e, nr) {
            if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1))
                return rlc_errc(RLC_EINVAL, "%s: no_rope_layers[%d] must be 0 or 1", what, l);
            c->layer_rope[l] = e->valuedouble == 1;
            any |= !c->layer_rope[l++];
        }
    } else {
        if ((rc = cfg_get_int(j, "no_rope_layer_interval", &c->nope_interval, 0, 4, what))) return rc;
        if (c->nope_interval <= 0) return rlc_errc(RLC_EINVAL, "%s: no_rope_layer_interval must be positive", what);
        any = c->nope_interval <= c->num_layers;
    }
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if ((rc = cfg_get_bool(j, "use_sliding_window", &use, 0, what))) return rc;
    if (!use || !sw || cJSON_IsNull(sw)) return 0;
    if ((rc = cfg_get_int(j, "sliding_window", &W, 0, 0, what))) return rc;
    if (W <= 0) return rlc_errc(RLC_EINVAL, "%s: sliding_window must be a positive number", what);
    if ((rc = cfg_layer_types(c, j, &c->layer_slides, what)) < 0) return rc;
    if (rc == 1) {
        c->slide_nope = 1;
    } else {
        any = 0;
        for (int l = 0; l < c->num_layers; l++) any |= c->layer_slides[l];
    }
    if (any) c->sliding_window = W;
    return 0;
}

/* Ministral3Config's rope when a config gives none: yarn ×16 over an original 16384, and the
 * Llama-4 attention scaling's beta 0.1. */
static const char MINISTRAL3_ROPE[] = "{\"rope_type\": \"yarn\", \"rope_theta\": 1000000.0, \"factor\": 16.0, "
                                      "\"original_max_position_embeddings\": 16384, \"beta_fast\": 32.0, "
                                      "\"beta_slow\": 1.0, \"mscale_all_dim\": 1.0, \"mscale\": 1.0, "
                                      "\"llama_4_scaling_beta\": 0.1}";
/* Mistral4Config's: yarn x128 over an original 8192, theta 10000, the same beta. */
static const char MISTRAL4_ROPE[] = "{\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 128.0, "
                                    "\"original_max_position_embeddings\": 8192, \"beta_fast\": 32.0, "
                                    "\"beta_slow\": 1.0, \"mscale_all_dim\": 1.0, \"mscale\": 1.0, "
                                    "\"llama_4_scaling_beta\": 0.1}";

/* ERNIE 4.5 (dense): interleaved RoPE pairs (its use_bias, a bias on every attention and MLP
 * projection but never the LM head, is read with the other biases); no sliding window. */
int cfg_ernie(rlc_model_config_t *c, const cJSON *j, const char *what) {
    c->rope_interleaved = 1;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if (sw && !cJSON_IsNull(sw)) return rlc_errc(RLC_EUNSUP, "%s: ERNIE 4.5 has no sliding window", what);
    return 0;
}

int cfg_ministral3_rope(cJSON *j, const char *what) {
    const char *mt = NULL;
    if (rlc_json_get_str(j, "model_type", &mt, 0, what) != 0 || (strcmp(mt, "ministral3") && strcmp(mt, "mistral4")))
        return 0;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    if ((rp && !cJSON_IsNull(rp)) || cJSON_GetObjectItemCaseSensitive(j, "rope_scaling")) return 0;
    const char *def = strcmp(mt, "mistral4") ? MINISTRAL3_ROPE : MISTRAL4_ROPE;
    cJSON_DeleteItemFromObjectCaseSensitive(j, "rope_parameters");
    cJSON *d = cJSON_Parse(def);
    if (!d || !cJSON_AddItemToObject(j, "rope_parameters", d)) {
        cJSON_Delete(d);
        return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    }
    return 0;
}

/* Ministral 3 (Mistral's Dec. 2025 models; Mistral 4's MLA alike): a Mistral (without biases) whose
 * queries are scaled by 1 + beta ln(1 + floor(position / original)) after RoPE (rope_parameters'
 * llama_4_scaling_beta and original_max_position_embeddings). Below the original context the factor is exactly 1,
 * so rlc runs sequences up to it (max_context) and refuses longer ones. */
int cfg_ministral3(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    double beta = 0, orig = 0;
    int rc;
    if (!cJSON_IsObject(rp)) return 0;
    if ((rc = cfg_get_num(rp, "llama_4_scaling_beta", &beta, 0, what))) return rc;
    if (beta == 0) return 0;
    if ((rc = cfg_get_num(rp, "original_max_position_embeddings", &orig, 0, what))) return rc;
    if (!(orig >= 1) || orig > 2147483647.0)
        return rlc_errc(RLC_EINVAL, "%s: llama_4_scaling_beta needs original_max_position_embeddings in the rope "
                                    "parameters", what);
    if ((int)orig < c->max_context) {
        c->max_context = (int)orig;
        c->context_why = "original context of its Llama-4 attention scaling"; /* which is 1 within it */
    }
    return 0;
}

/* Gemma3TextConfig's and Gemma2Config's defaults (transformers 5) of the keys rlc reads as
 * required or with another default: a multimodal checkpoint's text_config gives only what
 * differs from them (gemma-3-4b-it: hidden and intermediate sizes, layers, rope scaling,
 * window). They differ in the vocabulary and the context. */
enum { GEMMA_NDEF = 11 };
static const struct {
    const char *model_type;
    struct {
        const char *key;
        double v;
    } kv[GEMMA_NDEF];
} GEMMA_DEFAULTS[] = {
    {"gemma3_text",
     {{"vocab_size", 262208}, {"max_position_embeddings", 131072}, {"hidden_size", 2304}, {"intermediate_size", 9216},
      {"num_hidden_layers", 26}, {"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"head_dim", 256},
      {"pad_token_id", 0}, {"eos_token_id", 1}, {"bos_token_id", 2}}},
    {"gemma2",
     {{"vocab_size", 256000}, {"max_position_embeddings", 8192}, {"hidden_size", 2304}, {"intermediate_size", 9216},
      {"num_hidden_layers", 26}, {"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"head_dim", 256},
      {"pad_token_id", 0}, {"eos_token_id", 1}, {"bos_token_id", 2}}}};

/* Keys of a multimodal config's top level that hold for its text model (over text_config's:
 * the stop tokens generation uses, the tied head, the dtype). */
static const char *const MM_SHARED[] = {"eos_token_id", "bos_token_id", "pad_token_id", "dtype", "torch_dtype",
                                        "tie_word_embeddings"};

/* The multimodal wrappers whose language model rlc loads: their model_type, a text model type
 * they may hold (the first of a wrapper's: when text_config does not say) and the class rlc saves
 * it as. Both configs tie the head by default at the top level (Gemma3Config, Mistral3Config),
 * which is what transformers follows. */
static const struct {
    const char *wrapper, *text, *arch;
} MM_KINDS[] = {{"gemma3", "gemma3_text", "Gemma3ForCausalLM"},
                {"mistral3", "mistral", "MistralForCausalLM"},
                {"mistral3", "ministral3", "Ministral3ForCausalLM"},
                {"mistral3", "mistral4", "Mistral4ForCausalLM"}};

static int add_missing(cJSON *dst, const char *key, cJSON *val) {
    if (cJSON_GetObjectItemCaseSensitive(dst, key)) {
        cJSON_Delete(val);
        return 0;
    }
    return val && cJSON_AddItemToObject(dst, key, val) ? 0 : RLC_ENOMEM;
}

/* j becomes its text_config, with the top level's shared keys (tie_word_embeddings true when
 * the top level does not say) and the text model's type and class. */
static int unwrap_text(cJSON *j, int kind, const char *what) {
    cJSON *tc = cJSON_DetachItemFromObjectCaseSensitive(j, "text_config");
    if (!cJSON_IsObject(tc)) {
        cJSON_Delete(tc);
        return rlc_errc(RLC_EUNSUP, "%s: a multimodal %s checkpoint without a text_config object", what,
                        MM_KINDS[kind].wrapper);
    }
    int rc = 0;
    if (!cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings") && !cJSON_AddTrueToObject(j, "tie_word_embeddings"))
        rc = RLC_ENOMEM;
    for (size_t i = 0; i < sizeof MM_SHARED / sizeof *MM_SHARED && !rc; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, MM_SHARED[i]);
        if (!v) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(tc, MM_SHARED[i]); /* what the multimodal model runs */
        rc = add_missing(tc, MM_SHARED[i], cJSON_Duplicate(v, 1));
    }
    while (j->child) cJSON_Delete(cJSON_DetachItemViaPointer(j, j->child));
    while (tc->child && !rc) { /* moved with their keys (the key is copied before the old one is freed) */
        cJSON *it = cJSON_DetachItemViaPointer(tc, tc->child);
        if (!cJSON_AddItemToObject(j, it->string, it)) {
            cJSON_Delete(it);
            rc = RLC_ENOMEM;
        }
    }
    cJSON_Delete(tc);
    const char *mt = NULL;
    if (!rc && rlc_json_get_str(j, "model_type", &mt, 0, what) < 0) return RLC_EINVAL;
    if (rc || (!mt && !cJSON_AddStringToObject(j, "model_type", MM_KINDS[kind].text)))
        return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    int k = mt ? -1 : kind;
    for (int i = 0; mt && i < (int)(sizeof MM_KINDS / sizeof *MM_KINDS); i++)
        if (!strcmp(MM_KINDS[i].wrapper, MM_KINDS[kind].wrapper) && !strcmp(MM_KINDS[i].text, mt)) k = i;
    if (k < 0)
        return rlc_errc(RLC_EUNSUP, "%s: the text model of a %s checkpoint is '%s', which rlc does not read", what,
                        MM_KINDS[kind].wrapper, mt);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "architectures");
    cJSON *arch = cJSON_CreateStringArray((const char *const[]){MM_KINDS[k].arch}, 1);
    if (!arch || !cJSON_AddItemToObject(j, "architectures", arch)) {
        cJSON_Delete(arch);
        return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    }
    return 0;
}

int cfg_multimodal_text(cJSON *j, int *multimodal, const char *what) {
    *multimodal = 0;
    const char *mt = NULL;
    if (rlc_json_get_str(j, "model_type", &mt, 0, what) != 0) return 0; /* the caller reports it */
    for (int k = 0; k < (int)(sizeof MM_KINDS / sizeof *MM_KINDS); k++)
        if (!strcmp(mt, MM_KINDS[k].wrapper)) {
            int rc = unwrap_text(j, k, what);
            if (rc) return rc;
            *multimodal = 1;
            break;
        }
    if (rlc_json_get_str(j, "model_type", &mt, 0, what) != 0) return 0;
    for (size_t d = 0; d < sizeof GEMMA_DEFAULTS / sizeof *GEMMA_DEFAULTS; d++) {
        if (strcmp(mt, GEMMA_DEFAULTS[d].model_type)) continue;
        for (int i = 0; i < GEMMA_NDEF; i++)
            if (add_missing(j, GEMMA_DEFAULTS[d].kv[i].key, cJSON_CreateNumber(GEMMA_DEFAULTS[d].kv[i].v)))
                return rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
    }
    return 0;
}

/* Multi-head latent attention's keys, their classes' defaults (DeepseekV3Config's, DeepseekV2Config's,
 * YoutuConfig's and SarvamMLAConfig's the same but Sarvam's q_lora_rank, null; Kimi K2 is a
 * DeepSeek-V3 whose config names itself kimi_k2;
 * Glm4MoeLiteConfig's; MiniCPM3Config's; Mistral4Config's; DeepseekV32Config's as V3's, GlmMoeDsaConfig's),
 * q_lora_rank null: q_proj.
 * The keys and values have as many heads as the queries (transformers repeats nothing). */
static const struct {
    const char *mt;
    int q, kv, rope, nope, v; /* v -1: hidden / heads */
} MLA_DEFAULTS[] = {{"glm4_moe_lite", 768, 512, 64, 192, 256}, {"minicpm3", 768, 256, 32, 64, -1},
                    {"mistral4", 1024, 256, 64, 64, 128},      {"glm_moe_dsa", 2048, 512, 64, 192, 256},
                    {"sarvam_mla", 0, 512, 64, 128, 128},      {"", 1536, 512, 64, 128, 128}}; /* "": DeepSeek-V3's */

int cfg_mla(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what) {
    int cpm = !strcmp(mt, "minicpm3"), m4 = !strcmp(mt, "mistral4"), rc, k = 0;
    int dsa = !strcmp(mt, "glm_moe_dsa") || !strcmp(mt, "deepseek_v32");
    while (MLA_DEFAULTS[k].mt[0] && strcmp(mt, MLA_DEFAULTS[k].mt)) k++;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "q_lora_rank");
    c->q_lora_rank = MLA_DEFAULTS[k].q;
    if (q && cJSON_IsNull(q)) c->q_lora_rank = 0;
    else if ((rc = cfg_get_int(j, "q_lora_rank", &c->q_lora_rank, 0, c->q_lora_rank, what))) return rc;
    int v = MLA_DEFAULTS[k].v < 0 ? c->hidden_size / c->num_heads : MLA_DEFAULTS[k].v; /* MiniCPM3: null too */
    if ((rc = cfg_get_int(j, "kv_lora_rank", &c->kv_lora_rank, 0, MLA_DEFAULTS[k].kv, what)) ||
        (rc = cfg_get_int(j, "qk_rope_head_dim", &c->qk_rope_dim, 0, MLA_DEFAULTS[k].rope, what)) ||
        (rc = cfg_get_int(j, "qk_nope_head_dim", &c->qk_nope_dim, 0, MLA_DEFAULTS[k].nope, what)) ||
        (rc = cfg_get_int(j, "v_head_dim", &c->v_head_dim, 0, v, what)) ||
        (rc = cfg_get_bool(j, "rope_interleave", &c->rope_interleaved, 1, what)))
        return rc;
    if (!strcmp(mt, "deepseek_v2") || dsa) c->rope_interleaved = 1; /* always on pairs */
    if (dsa && !c->q_lora_rank) /* its attention class has no q_proj */
        return rlc_errc(RLC_EUNSUP, "%s: %s needs a q_lora_rank (its attention has no q_proj)", what, mt);
    if (cpm) c->rope_interleaved = 0;                       /* MiniCPM3's rotates halves */
    if ((q && !cJSON_IsNull(q) && c->q_lora_rank <= 0) || c->kv_lora_rank <= 0 || c->v_head_dim <= 0 ||
        c->qk_nope_dim < 0 || c->qk_rope_dim <= 0 || c->qk_rope_dim % 2)
        return rlc_errc(RLC_EINVAL, "%s: q_lora_rank (or null), kv_lora_rank, v_head_dim and an even qk_rope_head_dim "
                        "must be positive, qk_nope_head_dim not negative", what);
    if (c->q_lora_rank > 65536 || c->kv_lora_rank > 65536 || c->qk_nope_dim + c->qk_rope_dim > 1024 ||
        c->v_head_dim > 1024)
        return rlc_errc(RLC_EINVAL, "%s: MLA ranks above 65536 or head dims above 1024 are not supported", what);
    if (c->num_kv_heads != c->num_heads)
        return rlc_errc(RLC_EINVAL, "%s: num_key_value_heads (%d) must equal num_attention_heads (%d) in multi-head "
                        "latent attention", what, c->num_kv_heads, c->num_heads);
    c->mla = 1;
    /* the rope's dims, as transformers' configs set head_dim; Mistral 4's is the q/k width, its rope
     * running over head_dim x partial_rotary_factor (by default qk_rope_head_dim / head_dim) */
    c->head_dim = m4 ? c->qk_nope_dim + c->qk_rope_dim : c->qk_rope_dim;
    return 0;
}

/* MiniCPM3 (dense, with MLA): Granite's multipliers under its own keys: the embeddings times
 * scale_emb (12; rounded to the weights' dtype, as transformers), each block's output times
 * scale_depth / sqrt(layers) (scale_depth 1.4; null: sqrt(layers)), the final hidden states (so
 * the logits) divided by hidden_size / dim_model_base (256; null: hidden_size). */
int cfg_minicpm3(rlc_model_config_t *c, const cJSON *j, const char *what) {
    double emb, depth = sqrt((double)c->num_layers), base = c->hidden_size;
    int rc;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "scale_depth");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "dim_model_base");
    if ((rc = cfg_get_num(j, "scale_emb", &emb, 12, what)) ||
        (!(d && cJSON_IsNull(d)) && (rc = cfg_get_num(j, "scale_depth", &depth, 1.4, what))) ||
        (!(b && cJSON_IsNull(b)) && (rc = cfg_get_num(j, "dim_model_base", &base, 256, what))))
        return rc;
    c->embed_scale = (float)emb;
    c->embed_scale_round = 1;
    c->residual_scale = (float)(depth / sqrt((double)c->num_layers));
    c->logit_scale = (float)(c->hidden_size / base);
    float v[3] = {c->embed_scale, c->residual_scale, c->logit_scale};
    for (int i = 0; i < 3; i++)
        if (!(v[i] > 0) || !isfinite(v[i]))
            return rlc_errc(RLC_EINVAL, "%s: scale_emb, scale_depth and dim_model_base must give positive scales "
                            "(%g, %g, %g)", what, (double)v[0], (double)v[1], (double)v[2]);
    return 0;
}

int cfg_mla_finish(rlc_model_config_t *c, const char *what) {
    if (c->rotary_dim != c->qk_rope_dim)
        return rlc_errc(RLC_EUNSUP, "%s: RoPE over %d of the %d rope dims is not supported", what, c->rotary_dim,
                        c->qk_rope_dim);
    if (c->qkv_bias || c->o_bias || c->mlp_bias)
        return rlc_errc(RLC_EUNSUP, "%s: attention_bias and mlp_bias are not supported in multi-head latent attention",
                        what);
    int qk = c->qk_nope_dim + c->qk_rope_dim, D = qk > c->v_head_dim ? qk : c->v_head_dim;
    c->head_dim = (D + 1) / 2 * 2; /* padded with zeros */
    c->num_kv_heads = c->num_heads;
    double s = pow((double)qk, -0.5); /* transformers' yarn_apply_mscale */
    if (c->rope_type == RLC_ROPE_YARN && c->rope_mscale_all != 0) {
        double m = cfg_yarn_mscale(c->rope_factor, c->rope_mscale_all);
        s *= m * m;
    }
    c->attn_scale = (float)s;
    if (!(c->attn_scale > 0) || !isfinite(c->attn_scale))
        return rlc_errc(RLC_EINVAL, "%s: the rope parameters give an attention scale of %g in fp32", what, s);
    return 0;
}

/* quantization_config: an FP8 checkpoint (transformers' fp8: DeepSeek-V3, Qwen3-FP8, MiniMax-M2,
 * weight_scale_inv per block of weight_block_size; compressed-tensors' float-quantized: weight_scale
 * per tensor or channel) is read dequantized; other methods (GPTQ, AWQ, bitsandbytes, MXFP4...)
 * are refused by name. */
int cfg_quant(rlc_model_config_t *c, const cJSON *j, const char *what) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quantization_config");
    if (!q || cJSON_IsNull(q)) return 0;
    const char *m = NULL, *fmt = NULL;
    int rc;
    if (!cJSON_IsObject(q)) return rlc_errc(RLC_EINVAL, "%s: quantization_config must be an object", what);
    if ((rc = rlc_json_get_str(q, "quant_method", &m, 1, what)) ||
        (rc = rlc_json_get_str(q, "format", &fmt, 0, what)) < 0)
        return rc;
    int ct = !strcmp(m, "compressed-tensors");
    if (strcmp(m, "fp8") && !(ct && fmt && !strcmp(fmt, "float-quantized")))
        return rlc_errc(RLC_EUNSUP, "%s: quantization_config quant_method '%s'%s%s is not supported (rlc reads fp8 and "
                        "compressed-tensors float-quantized checkpoints; dequantize others first)", what, m,
                        fmt ? " format " : "", fmt ? fmt : "");
    c->fp8 = 1;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(q, "weight_block_size");
    if (!b || cJSON_IsNull(b)) return 0;
    int k = 0;
    for (const cJSON *e = cJSON_IsArray(b) ? b->child : NULL; e; e = e->next, k++) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : 0;
        if (k >= 2 || !(v >= 1 && v <= 65536) || v != (int)v) break;
        c->fp8_block[k] = (int)v;
    }
    if (k != 2 || cJSON_GetArraySize(b) != 2)
        return rlc_errc(RLC_EINVAL, "%s: quantization_config weight_block_size must be two integers in [1, 65536]",
                        what);
    return 0;
}

/* DeepSeek-V3.2's sparse attention (DSA): a lightning indexer (self_attn.indexer.*) picks, for each
 * query, the index_topk (2048) keys of highest index score among those it may see, and attention
 * runs over them alone. Within index_topk tokens it picks every key, so attention is DeepSeek-V3's
 * dense MLA there: rlc runs that, makes index_topk the model's context (longer sequences are
 * refused, as Ministral 3's beyond its original context) and carries the indexer's tensors,
 * untrained (transformers trains them by no gradient either), from the checkpoint into its saves. */
int cfg_dsa(rlc_model_config_t *c, const cJSON *j, const char *what) {
    int topk, rc;
    if ((rc = cfg_get_int(j, "index_topk", &topk, 0, 2048, what))) return rc;
    if (topk < 1) return rlc_errc(RLC_EINVAL, "%s: index_topk = %d must be positive", what, topk);
    if (topk < c->max_context) {
        c->max_context = topk;
        c->context_why = "top-k of its sparse attention (index_topk), within which it attends to every token";
    }
    return 0;
}
