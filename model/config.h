/* Transformer configuration read from a Hugging Face config.json (Qwen2/2.5, Qwen3, Llama 3.x,
 * Mistral, TinyLlama, Phi-3/Phi-4, Gemma and Gemma 3 text keys; both the transformers-4 `rope_theta`/`rope_scaling`
 * and the transformers-5 `rope_parameters` spellings; rope default, linear, llama3, yarn and,
 * for Phi-3, longrope). The parsed JSON is kept so a saved checkpoint carries every key the
 * user's config had. */
#pragma once
#include <cjson/cJSON.h>

typedef enum { RLC_ROPE_DEFAULT = 0, RLC_ROPE_LINEAR, RLC_ROPE_LLAMA3, RLC_ROPE_YARN, RLC_ROPE_LONGROPE } rlc_rope_type_t;
/* RLC_HEAD_NONE: the trunk only, for reward models whose head is not one linear layer
 * (Qwen2ForProcessRewardModel's MLP, Skywork's value head): rewards/rm.c reads those heads
 * itself and applies them to rlc_model_hidden's rows. */
typedef enum { RLC_HEAD_LM = 0, RLC_HEAD_SCORE, RLC_HEAD_NONE } rlc_head_kind_t;
/* The gated MLP's activation: silu(gate) * up (SwiGLU), or gelu_pytorch_tanh(gate) * up
 * (GeGLU: Gemma's gelu_pytorch_tanh, and its legacy "gelu", which transformers reads as it). */
typedef enum { RLC_ACT_SILU = 0, RLC_ACT_GELU_TANH } rlc_act_t;

typedef struct {
    char model_type[32];
    int vocab_size, hidden_size, intermediate_size, num_layers;
    int num_heads, num_kv_heads, head_dim;
    int max_position_embeddings;
    /* The longest sequence rlc runs: max_position_embeddings, or (context_why set) the original
     * context within which rlc computes what transformers does: LongRoPE's, where it uses the
     * short factors; Ministral 3's Llama-4 attention scaling's, below which it scales nothing.
     * A longer sequence is an error (rlc_batch_check), generation stops there. */
    int max_context;
    const char *context_why;
    /* Sliding-window attention (Mistral v0.1, Qwen2/Qwen3 with use_sliding_window, transformers-5
     * layer_types): in a layer that slides, a query sees its last sliding_window keys, itself
     * included (0: no layer slides). The layers that slide: those layer_slides[l] marks when
     * the config lists layer types (owned, else NULL), else under Gemma 3's slide_pattern P
     * (0: none) all but every P-th, else those from slide_from on. Use rlc_config_layer_window. */
    int sliding_window, slide_from, slide_pattern;
    /* SmolLM3: layers without RoPE (NoPE): those layer_rope[l] = 0 marks (owned, from
     * no_rope_layers), else every nope_interval-th (0: every layer turns); with
     * use_sliding_window and no layer_types, the NoPE layers are the sliding ones (slide_nope). */
    unsigned char *layer_rope;
    int nope_interval, slide_nope;
    unsigned char *layer_slides;
    float rms_norm_eps;
    double rope_theta;
    rlc_rope_type_t rope_type;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    /* yarn: the correction range's rotations, whether it is rounded outwards; yarn and
     * longrope: the factor transformers multiplies cos and sin by (rlc_config_rope_mscale) */
    double rope_beta_fast, rope_beta_slow, rope_attn_factor;
    int rope_truncate;
    /* longrope (Phi-3.5, Phi-4-mini): the short factors, rotary_dim / 2 of them */
    float rope_short_factor[512];
    int tie_word_embeddings;
    int qkv_bias, o_bias, mlp_bias;
    int qk_norm; /* Qwen3: per-head RMSNorm of queries and keys before RoPE (q_norm, k_norm) */
    /* Phi-3 / Phi-4: q|k|v and gate|up stored fused (self_attn.qkv_proj, mlp.gate_up_proj) */
    int fused_proj;
    /* gate|up stored fused (mlp.gate_up_proj): Phi-3 and GLM-4 */
    int fused_mlp;
    /* GLM-4's names for the post-norm layout: post_self_attn_layernorm after attention,
     * post_attention_layernorm before the MLP, post_mlp_layernorm after it */
    int glm4_norms;
    /* RoPE turns each head's first rotary_dim dims (head_dim, or head_dim x Phi-3's
     * partial_rotary_factor); inv_freq has rotary_dim / 2 entries */
    int rotary_dim;
    /* Gemma: every RMSNorm multiplies by (norm_offset + w) with norm_offset 1 (0 elsewhere);
     * the embedding rows are multiplied by embed_scale (sqrt(hidden_size), rounded to the
     * weights' dtype when embed_scale_round; Granite's embedding_multiplier; 0: none); Gemma 3
     * (post_norms) also normalizes each block's output before the residual add
     * (post_attention_layernorm, post_feedforward_layernorm; its pre-MLP norm is
     * pre_feedforward_layernorm); attn_scale is the softmax scale when set (Gemma 3:
     * query_pre_attn_scalar^-1/2, Granite: attention_multiplier; 0: 1/sqrt(head_dim));
     * sliding layers turn with their own RoPE base rope_local_theta (0: the global table).
     * Granite also scales each block's output by residual_scale before the residual add and
     * divides the logits by logit_scale (0: neither). Gemma 2 soft-caps the attention scores
     * (attn_softcap: s = cap·tanh(s / cap)) and the logits (final_softcap), 0: none. */
    rlc_act_t act;
    float norm_offset, embed_scale, attn_scale, residual_scale, logit_scale;
    float attn_softcap, final_softcap;
    int embed_scale_round;
    /* read from a multimodal checkpoint (Gemma 3, Mistral 3): the language model's tensors sit
     * under language_model.model. (or model.language_model.); the config is its text_config */
    int multimodal;
    int post_norms;
    /* OLMo 2/3: no norms before the blocks (post_norms only: input_layernorm and the pre-MLP
     * norm are absent), and q/k norms over the whole q and k projections (weights [Hq·D],
     * [Hk·D]) instead of per head */
    int post_only, qk_norm_full;
    double rope_local_theta;
    /* Architecture's main head: a causal LM, or a score head (sequence/token classification:
     * reward and value models); num_labels is the width of the score head. */
    rlc_head_kind_t head;
    /* Mixture of experts (Qwen3-MoE, Mixtral, OLMoE, Qwen2-MoE, GLM-4.5): the MLP of a sparse layer (layer_moe[l],
     * owned; NULL: none) is a router (mlp.gate [num_experts, C]) that sends each token to the
     * experts_per_tok experts of largest softmax probability, each a SwiGLU MLP of width
     * moe_intermediate_size, and sums their outputs weighted by those probabilities (divided
     * by their sum when moe_norm_topk). moe_naming: 0 for Qwen's and OLMoE's tensor names
     * (mlp.experts.e.gate_proj), 1 for Mixtral's (block_sparse_moe.experts.e.w1, w3, w2). */
    int num_experts, experts_per_tok, moe_intermediate_size, moe_norm_topk, moe_naming;
    /* A shared expert of this width (0: none) beside the routed ones, its output added to
     * theirs: Qwen2-MoE's (mlp.shared_expert) times sigmoid(mlp.shared_expert_gate · x)
     * (moe_shared_gated); GLM-4.5's (mlp.shared_experts, n_shared_experts of them as one) plainly */
    int moe_shared_size, moe_shared_gated;
    /* Routing with a correction bias (moe_biased: GLM-4.5, dots.llm1, ERNIE 4.5; else the
     * plain softmax top-k): fp32 logits, scores s = sigmoid(logits), or softmax(logits) under
     * moe_softmax (ERNIE); the picks are the K largest s + the router's correction bias within
     * the moe_topk_groups best of moe_groups equal expert groups (ranked by the sum of their
     * two best); the weights are the picked s, divided by their sum under moe_norm_topk (ERNIE:
     * by max(sum, moe_norm_min)), times moe_scale (routed_scaling_factor). */
    int moe_biased, moe_softmax, moe_groups, moe_topk_groups;
    float moe_scale, moe_norm_min;
    /* DeepSeek-V2 routes through the same op without a correction bias (moe_no_bias), its groups
     * ranked by their best score (moe_group_max) */
    int moe_no_bias, moe_group_max;
    /* layers after the last that checkpoints carry for multi-token prediction (GLM-4.5's
     * num_nextn_predict_layers): not loaded, as transformers does not */
    int mtp_layers;
    /* RoPE turns the pairs (x_2i, x_2i+1) of each head (ERNIE 4.5) instead of (x_i, x_i+R/2) */
    int rope_interleaved;
    /* Multi-head latent attention (DeepSeek-V3, Kimi K2, Moonlight, GLM-4.7-Flash): queries from
     * q_proj, or through a rank-q_lora_rank bottleneck (q_a_proj, its norm q_a_layernorm, q_b_proj);
     * keys and values from one latent per token (kv_a_proj_with_mqa: kv_lora_rank dims, normed by
     * kv_a_layernorm and expanded by kv_b_proj into each head's qk_nope_dim key and v_head_dim value
     * dims, then qk_rope_dim dims of a RoPE key every head shares). Both bottleneck norms take eps
     * 1e-6 (their classes' default). rlc runs it as plain attention over num_heads heads of head_dim
     * = max(qk_nope_dim + qk_rope_dim, v_head_dim) (num_kv_heads = num_heads, zero-padded), each head
     * laid out [rope dims, nope dims] (rotary_dim = qk_rope_dim), so the attention kernels and the
     * KV cache serve it unchanged (model/mla.c). attn_scale: qk^-1/2 times yarn's mscale_all_dim
     * factor squared. */
    int mla, q_lora_rank, kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim;
    double rope_mscale_all; /* yarn's mscale_all_dim (0: none) */
    unsigned char *layer_moe;
    /* An FP8 checkpoint (quantization_config: quant_method fp8, or compressed-tensors'
     * float-quantized): its FP8 weights are dequantized at load by their scales (model/fp8.c);
     * fp8_block: weight_block_size [rows, cols] (0: none given) */
    int fp8, fp8_block[2];
    int num_labels, score_bias;
    int bos_token_id;
    int eos_token_ids[8], n_eos;
    char dtype[16]; /* "float32", "bfloat16", "float16" as declared */
    cJSON *json;    /* owned: the full config.json */
} rlc_model_config_t;

/* The most layers a config may declare. */
#define RLC_MAX_LAYERS 4096

/* Parse and validate; errors name the file and the key. */
int rlc_config_load(rlc_model_config_t *c, const char *config_json_path);
int rlc_config_from_json(rlc_model_config_t *c, cJSON *json /* takes ownership */, const char *what);
void rlc_config_free(rlc_model_config_t *c);
/* The attention window of layer `layer` (backend.h's window argument): sliding_window if the
 * layer slides, else 0. */
int rlc_config_layer_window(const rlc_model_config_t *c, int layer);
/* 1 when the config's layer types (layer_types, or Gemma 3's / OLMo 3's pattern) call layer
 * `layer` sliding_attention, whatever its window: such a layer takes the local RoPE when the
 * config has one (rope_local_theta). */
int rlc_config_layer_typed_sliding(const rlc_model_config_t *c, int layer);
/* 1 when layer `layer` applies RoPE (0 in SmolLM3's NoPE layers). */
int rlc_config_layer_rope(const rlc_model_config_t *c, int layer);
/* rlc_config_rope_mscale for layer `layer`: 1 in a layer on the local RoPE (plain rope). */
float rlc_config_layer_rope_mscale(const rlc_model_config_t *c, int layer);
/* fp32 inverse frequencies [rotary_dim/2] as transformers computes them (incl. scaling). */
void rlc_config_inv_freq(const rlc_model_config_t *c, float *inv_freq);
/* Gemma 3's sliding layers: default RoPE with base rope_local_theta (fp32 as transformers). */
void rlc_config_inv_freq_local(const rlc_model_config_t *c, float *inv_freq);
/* The softmax scale of attention: 1/sqrt(head_dim), or the config's (attn_scale). */
float rlc_config_attn_scale(const rlc_model_config_t *c);
/* The factor RoPE multiplies cos and sin by (the rotated q and k dims): yarn's and LongRoPE's
 * attention factor, as transformers applies it; 1 for the other rope types. */
float rlc_config_rope_mscale(const rlc_model_config_t *c);
/* 1 when layer `layer`'s MLP is a mixture of experts. */
int rlc_config_layer_moe(const rlc_model_config_t *c, int layer);
/* The widest MLP activation per token: intermediate_size, or a sparse layer's
 * experts_per_tok x moe_intermediate_size when larger (activation planning). */
int rlc_config_mlp_width(const rlc_model_config_t *c);
/* The width of attention's output projection's input: num_heads x head_dim, or under MLA
 * num_heads x v_head_dim (the heads' zero padding left out). */
static inline int rlc_config_o_width(const rlc_model_config_t *c) {
    return c->num_heads * (c->mla ? c->v_head_dim : c->head_dim);
}
/* MLA: the width of the first attention projection (the queries' first projection, then
 * kv_a_proj_with_mqa's latent and rope key), and of the queries' part of it. */
static inline int rlc_config_mla_qw(const rlc_model_config_t *c) {
    return c->q_lora_rank ? c->q_lora_rank : c->num_heads * (c->qk_nope_dim + c->qk_rope_dim);
}
static inline int rlc_config_mla_a(const rlc_model_config_t *c) {
    return rlc_config_mla_qw(c) + c->kv_lora_rank + c->qk_rope_dim;
}
/* MLA's latent KV cache row per token and layer (model/mla_cache.c): kv_lora_rank + qk_rope_dim
 * (0 without MLA). */
static inline int rlc_config_mla_latent(const rlc_model_config_t *c) {
    return c->mla ? c->kv_lora_rank + c->qk_rope_dim : 0;
}
/* Parameters of the trunk + heads (elements). */
size_t rlc_config_num_params(const rlc_model_config_t *c);
