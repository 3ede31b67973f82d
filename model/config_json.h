/* The config.json readers model/config.c and model/config_arch.c (the architecture families
 * beyond the Llama core) share, internal to model/: typed getters that default absent (or
 * null) keys and name the key in errors. */
#pragma once
#include <cjson/cJSON.h>

#include "model/config.h"

/* An int at key (def when absent; required: absence is an error); a finite number (def when
 * absent); cfg_need_num: a number that must be present; a bool (def when absent). */
int cfg_get_int(const cJSON *j, const char *key, int *out, int required, int def, const char *what);
int cfg_get_num(const cJSON *j, const char *key, double *out, double def, const char *what);
int cfg_need_num(const cJSON *j, const char *key, double *out, const char *what);
int cfg_get_bool(const cJSON *j, const char *key, int *out, int def, const char *what);
/* layer_types, if given: one known type per layer; *slides (allocated) marks the
 * sliding_attention ones. 1 when absent. */
int cfg_layer_types(const rlc_model_config_t *c, const cJSON *j, unsigned char **slides, const char *what);

/* yarn's mscale: 0.1·m·ln(scale) + 1 (1 when scale <= 1). */
double cfg_yarn_mscale(double scale, double m);
/* Multi-head latent attention (deepseek_v3, kimi_k2, glm4_moe_lite): cfg_mla before the rope
 * (head_dim becomes qk_rope_head_dim, as their configs read it), cfg_mla_finish after it
 * (head_dim, kv heads and the attention scale rlc runs it with). */
int cfg_mla(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what);
int cfg_mla_finish(rlc_model_config_t *c, const char *what);
/* MiniCPM3's multipliers (scale_emb, scale_depth, dim_model_base) as Granite's. */
int cfg_minicpm3(rlc_model_config_t *c, const cJSON *j, const char *what);
/* model/config_arch.c: the keys of Gemma (version 1), Gemma 2 and Gemma 3 (norm offset,
 * embedding scale, GeGLU, post norms, query_pre_attn_scalar, soft-capping, sliding pattern),
 * after the common ones. */
int cfg_gemma(rlc_model_config_t *c, const cJSON *j, int version, const char *what);
/* A multimodal config (model_type gemma3, mistral3) is replaced by its text_config (with the
 * top level's token ids, tied head and dtype, the text model's type and class: what rlc saves;
 * *multimodal = 1); a gemma3_text or gemma2 config gains its config class's defaults for
 * absent keys.
 * Other configs pass unchanged. */
int cfg_multimodal_text(cJSON *j, int *multimodal, const char *what);
/* model/config_arch.c: OLMo 2 and OLMo 3's keys; Granite's multipliers. */
int cfg_granite(rlc_model_config_t *c, const cJSON *j, const char *what);
/* Ministral 3: the default rope_parameters added to a config that has none (before parsing);
 * then the context its attention scaling leaves exact (after the rope). */
int cfg_ministral3_rope(cJSON *j, const char *what);
int cfg_ministral3(rlc_model_config_t *c, const cJSON *j, const char *what);
/* SmolLM3's NoPE layers and its sliding windows. */
int cfg_smollm3(rlc_model_config_t *c, const cJSON *j, const char *what);
int cfg_olmo(rlc_model_config_t *c, const cJSON *j, int olmo3, const char *what);
/* ERNIE 4.5: interleaved RoPE. */
int cfg_ernie(rlc_model_config_t *c, const cJSON *j, const char *what);
/* RoPE by layer type (Gemma 3, OLMo 3): *rp (the config's rope_parameters) becomes the global
 * dict; sets c->rope_local_theta (from the sliding dict, else local_key, else local_def). */
int cfg_layer_rope(rlc_model_config_t *c, const cJSON *j, const cJSON **rp, const char *local_key, double local_def,
                   const char *what);
/* model/config_moe.c: Qwen3-MoE's, Mixtral's and OLMoE's expert keys (nothing for the others). */
int cfg_moe(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what);
/* Qwen2-MoE's and dots.llm1's sliding layers: those layer_types names, else their configs' own
 * rules over max_window_layers: Qwen2-MoE's every other layer from the first below it (under
 * use_sliding_window), dots.llm1's every layer from it on (62 when absent); no window when
 * sliding_window is null. */
int cfg_moe_sliding(rlc_model_config_t *c, const cJSON *j, const char *mt, const char *what);
/* quantization_config: FP8 (c->fp8, fp8_block) or refused. */
int cfg_quant(rlc_model_config_t *c, const cJSON *j, const char *what);
/* DeepSeek-V3.2's sparse attention: its context capped at index_topk (dense within it). */
int cfg_dsa(rlc_model_config_t *c, const cJSON *j, const char *what);
/* EXAONE 4.0: post-norms, per-head q/k norms, sliding layers with RoPE and full ones without. */
int cfg_exaone4(rlc_model_config_t *c, const cJSON *j, const char *what);
