/* Multi-head latent attention configs and checkpoints (DeepSeek-V2/V3, Kimi K2, Moonlight,
 * GLM-4.7-Flash, MiniCPM3, Mistral 4, Youtu, Sarvam, DeepSeek-V3.2, GLM-5): each family's keys and
 * defaults, the head layout rlc runs it with, the attention scale under yarn, the parameter count against the table a model builds, `rlc info`, and every
 * bad value or mismatched checkpoint as a clear error. The numerics (log-probs, gradients, AdamW,
 * decoding, the engine, the CUDA emulator) are in test_model_parity, test_exact, test_engine and
 * test_cuda_emu_model with the dsv3-tiny, moonlight-tiny and glm47flash-tiny fixtures. */
#include "testutil.h"

#include <math.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/edit_config.h"

static rlc_backend_t *be;
static char *g_dir;

static const char BASE[] = "\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 24, "
                           "\"num_hidden_layers\": 4, \"num_attention_heads\": 2";

static int parse(rlc_model_config_t *c, const char *extra) {
    char j[1024];
    snprintf(j, sizeof j, "{%s, %s}", BASE, extra);
    cJSON *p = cJSON_Parse(j);
    assert_non_null(p);
    return rlc_config_from_json(c, p, "cfg");
}

/* A random model of the config: its table must have the count the config gives. */
static void params_agree(const char *extra) {
    char j[1024];
    snprintf(j, sizeof j, "{%s, %s}", BASE, extra);
    cJSON *p = cJSON_Parse(j);
    assert_non_null(p);
    rlc_model_t *m;
    if (rlc_model_create(&m, p, be, 1, 0.02f)) fail_msg("%s: %s", extra, rlc_errmsg());
    assert_int_equal(m->n_params, rlc_config_num_params(&m->cfg));
    rlc_model_free(m);
    cJSON_Delete(p);
}

static void test_deepseek_defaults(void **s) {
    (void)s;
    rlc_model_config_t c;
    /* DeepseekV3Config's: query rank 1536, latent 512, rope 64, nope 128, values 128 */
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v3\""), 0);
    assert_true(c.mla && c.q_lora_rank == 1536 && c.kv_lora_rank == 512 && c.qk_rope_dim == 64);
    assert_true(c.qk_nope_dim == 128 && c.v_head_dim == 128 && c.rope_interleaved && c.rms_norm_eps == 1e-6f);
    assert_true(c.head_dim == 192 && c.rotary_dim == 64 && c.num_kv_heads == 2 && !c.qk_norm);
    assert_true(fabsf(c.attn_scale - 1.0f / sqrtf(192.0f)) < 1e-9f);
    assert_true(c.num_experts == 256 && c.experts_per_tok == 8 && c.moe_intermediate_size == 2048);
    assert_true(c.moe_groups == 8 && c.moe_topk_groups == 4 && c.moe_scale == 2.5f && c.moe_norm_topk);
    assert_true(c.moe_biased && !c.moe_softmax && c.moe_shared_size == 2048 && c.mtp_layers == 1);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l >= 3);
    assert_int_equal(rlc_config_mla_a(&c), 1536 + 512 + 64);
    assert_int_equal(rlc_config_o_width(&c), 2 * 128);
    rlc_config_free(&c);
    /* Kimi K2 names itself kimi_k2 and is read as DeepSeek-V3 */
    assert_int_equal(parse(&c, "\"model_type\": \"kimi_k2\", \"q_lora_rank\": null, \"v_head_dim\": 256, "
                               "\"rope_interleave\": false"),
                     0);
    assert_true(c.mla && c.q_lora_rank == 0 && c.head_dim == 256 && !c.rope_interleaved);
    assert_int_equal(rlc_config_mla_qw(&c), 2 * 192); /* q_proj */
    rlc_config_free(&c);
    /* yarn: the rope's attention factor from mscale / mscale_all_dim, and the scale times
     * mscale_all_dim's factor squared (DeepSeek-V3's: 40 x 4096, both mscales 1) */
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v3\", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 40, "
                               "\"original_max_position_embeddings\": 4096, \"mscale\": 1.0, \"mscale_all_dim\": 1.0, "
                               "\"beta_fast\": 32, \"beta_slow\": 1}, \"max_position_embeddings\": 163840"),
                     0);
    double m = 0.1 * log(40.0) + 1.0;
    assert_true(fabs(c.attn_scale - pow(192.0, -0.5) * m * m) < 1e-7);
    assert_true(rlc_config_rope_mscale(&c) == 1.0f && c.rotary_dim == 64 && c.head_dim == 192);
    rlc_config_free(&c);
    params_agree("\"model_type\": \"deepseek_v3\", \"q_lora_rank\": 12, \"kv_lora_rank\": 10, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 6, \"v_head_dim\": 8, \"n_routed_experts\": 4, \"n_group\": 2, "
                 "\"topk_group\": 1, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 6, "
                 "\"first_k_dense_replace\": 1, \"num_key_value_heads\": 2");
    params_agree("\"model_type\": \"deepseek_v3\", \"q_lora_rank\": null, \"kv_lora_rank\": 10, "
                 "\"qk_rope_head_dim\": 4, \"qk_nope_head_dim\": 5, \"v_head_dim\": 12, \"n_routed_experts\": 4, "
                 "\"n_group\": 1, \"topk_group\": 1, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 6");
}

static void test_deepseek_v2(void **s) {
    (void)s;
    rlc_model_config_t c;
    /* DeepseekV2Config's: V3's attention, rope always on pairs; 64 experts of 1407, two shared, every
     * layer sparse, softmax scores without a bias, greedy (no groups), not renormalised */
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 6, \"rope_interleave\": false"),
                     0);
    assert_true(c.mla && c.q_lora_rank == 1536 && c.head_dim == 192 && c.rope_interleaved);
    assert_true(c.num_experts == 64 && c.experts_per_tok == 6 && c.moe_intermediate_size == 1407);
    assert_true(c.moe_shared_size == 2 * 1407 && c.moe_softmax && c.moe_no_bias && c.moe_group_max);
    assert_true(c.moe_groups == 1 && c.moe_topk_groups == 1 && !c.moe_norm_topk && c.moe_scale == 1.0f);
    assert_true(c.mtp_layers == 0);
    for (int l = 0; l < 4; l++) assert_true(rlc_config_layer_moe(&c, l));
    rlc_config_free(&c);
    /* group_limited_greedy: 160 experts in 8 groups (DeepSeek-V2), groups of one expert allowed */
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 6, \"n_routed_experts\": 160, "
                               "\"topk_method\": \"group_limited_greedy\", \"n_group\": 8, \"topk_group\": 3, "
                               "\"routed_scaling_factor\": 16.0, \"first_k_dense_replace\": 1"),
                     0);
    assert_true(c.moe_groups == 8 && c.moe_topk_groups == 3 && c.moe_scale == 16.0f && !rlc_config_layer_moe(&c, 0));
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"n_routed_experts\": 8, "
                               "\"topk_method\": \"group_limited_greedy\", \"n_group\": 8, \"topk_group\": 4"),
                     0);
    rlc_config_free(&c);
    params_agree("\"model_type\": \"deepseek_v2\", \"q_lora_rank\": null, \"kv_lora_rank\": 10, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 6, \"v_head_dim\": 8, \"n_routed_experts\": 4, \"num_experts_per_tok\": 2, "
                 "\"moe_intermediate_size\": 6, \"n_shared_experts\": 1");
}

/* MiniCPM3Config's: query rank 768, latent 256, nope 64, rope 32, values hidden / heads, rotate-half
 * rope; Granite-like multipliers; tied, eps 1e-5; dense. */
static void test_minicpm3(void **s) {
    (void)s;
    rlc_model_config_t c;
    assert_int_equal(parse(&c, "\"model_type\": \"minicpm3\", \"rope_interleave\": true"), 0);
    assert_true(c.mla && c.q_lora_rank == 768 && c.kv_lora_rank == 256 && c.qk_nope_dim == 64);
    assert_true(c.qk_rope_dim == 32 && c.v_head_dim == 16 && c.head_dim == 96 && !c.rope_interleaved);
    assert_true(c.embed_scale == 12.0f && fabsf(c.residual_scale - 1.4f / 2.0f) < 1e-7f);
    assert_true(c.logit_scale == 32.0f / 256.0f && c.tie_word_embeddings && c.rms_norm_eps == 1e-5f && !c.layer_moe);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"minicpm3\", \"scale_depth\": null, \"dim_model_base\": null, "
                               "\"v_head_dim\": null"),
                     0);
    assert_true(c.residual_scale == 1.0f && c.logit_scale == 1.0f && c.v_head_dim == 16);
    rlc_config_free(&c);
    params_agree("\"model_type\": \"minicpm3\", \"q_lora_rank\": 8, \"kv_lora_rank\": 6, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 4, \"num_key_value_heads\": 2");
}

static void test_glm_lite_defaults(void **s) {
    (void)s;
    rlc_model_config_t c;
    /* Glm4MoeLiteConfig's: query rank 768, nope 192, values 256, 64 experts, 4 each, width 1536,
     * scaled by 1.8, eps 1e-5, layer 0 dense (first_k_dense_replace is not its key) */
    assert_int_equal(parse(&c, "\"model_type\": \"glm4_moe_lite\", \"first_k_dense_replace\": 3"), 0);
    assert_true(c.mla && c.q_lora_rank == 768 && c.kv_lora_rank == 512 && c.qk_nope_dim == 192);
    assert_true(c.v_head_dim == 256 && c.head_dim == 256 && c.rms_norm_eps == 1e-5f && c.mtp_layers == 0);
    assert_true(c.num_experts == 64 && c.experts_per_tok == 4 && c.moe_intermediate_size == 1536);
    assert_true(c.moe_scale == 1.8f && c.moe_groups == 1);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l >= 1);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"glm4_moe_lite\", "
                               "\"mlp_layer_types\": [\"sparse\", \"dense\", \"sparse\", \"dense\"]"),
                     0);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l % 2 == 0);
    rlc_config_free(&c);
}

/* Mistral4Config's: query rank 1024, latent 256, nope 64, rope 64 (its partial_rotary_factor of
 * head_dim 128), values 128; yarn x128 over 8192 with Llama 4's scaling when no rope is given; 128
 * experts, 4 each, softmax scores without a bias in groups ranked by their two best, renormalised;
 * every layer sparse. YoutuConfig's: DeepSeek-V3's attention, dense, tied. SarvamMLAConfig's:
 * DeepSeek-V3's routing with q_proj, 128 experts, no groups, layer 0 dense; its legacy
 * deepseek_yarn rope type and head_dim read as transformers converts them. */
static void test_mistral4_youtu_sarvam(void **s) {
    (void)s;
    rlc_model_config_t c;
    assert_int_equal(parse(&c, "\"model_type\": \"mistral4\", \"max_position_embeddings\": 1048576"), 0);
    assert_true(c.mla && c.q_lora_rank == 1024 && c.kv_lora_rank == 256 && c.qk_nope_dim == 64);
    assert_true(c.qk_rope_dim == 64 && c.v_head_dim == 128 && c.head_dim == 128 && c.rotary_dim == 64);
    assert_true(c.rope_interleaved && c.rope_type == RLC_ROPE_YARN && c.rope_factor == 128.0);
    assert_true(c.max_context == 8192 && c.context_why && !c.tie_word_embeddings);
    double m = 0.1 * log(128.0) + 1.0;
    assert_true(fabs(c.attn_scale - pow(128.0, -0.5) * m * m) < 1e-7);
    assert_true(c.num_experts == 128 && c.experts_per_tok == 4 && c.moe_intermediate_size == 2048);
    assert_true(c.moe_softmax && c.moe_no_bias && !c.moe_group_max && c.moe_norm_topk && c.moe_scale == 1.0f);
    assert_true(c.moe_shared_size == 2048 && c.moe_groups == 1);
    for (int l = 0; l < 4; l++) assert_true(rlc_config_layer_moe(&c, l));
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"mistral4\", \"qk_nope_head_dim\": 32, \"rope_parameters\": "
                               "{\"rope_type\": \"default\", \"rope_theta\": 10000, "
                               "\"partial_rotary_factor\": 0.6666666666666666}"),
                     0);
    assert_true(c.rotary_dim == 64 && c.head_dim == 128 && c.rope_type == RLC_ROPE_DEFAULT && c.max_context == 4096);
    rlc_config_free(&c);
    /* the text model of a Mistral 3 multimodal checkpoint */
    cJSON *w = cJSON_Parse("{\"model_type\": \"mistral3\", \"text_config\": {\"model_type\": \"mistral4\", "
                           "\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 24, "
                           "\"num_hidden_layers\": 2, \"num_attention_heads\": 2}}");
    assert_int_equal(rlc_config_from_json(&c, w, "cfg"), 0);
    assert_true(c.multimodal && c.mla && !strcmp(c.model_type, "mistral4") && c.num_experts == 128);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"youtu\""), 0);
    assert_true(c.mla && c.q_lora_rank == 1536 && c.kv_lora_rank == 512 && c.qk_nope_dim == 128 && c.head_dim == 192);
    assert_true(c.rope_interleaved && c.tie_word_embeddings && !c.layer_moe && c.rms_norm_eps == 1e-6f);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"sarvam_mla\", \"head_dim\": 192, \"q_head_dim\": 192, "
                               "\"rope_scaling\": {\"type\": \"deepseek_yarn\", \"factor\": 40, "
                               "\"original_max_position_embeddings\": 4096, \"mscale\": 1.0, \"mscale_all_dim\": 1.0}"),
                     0);
    assert_true(c.mla && c.q_lora_rank == 0 && c.head_dim == 192 && c.rope_type == RLC_ROPE_YARN);
    assert_true(c.num_experts == 128 && c.experts_per_tok == 8 && c.moe_groups == 1 && c.moe_scale == 2.5f);
    assert_true(c.moe_biased && !c.moe_softmax && !c.moe_no_bias && c.mtp_layers == 0);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l >= 1);
    rlc_config_free(&c);
    params_agree("\"model_type\": \"mistral4\", \"q_lora_rank\": 8, \"kv_lora_rank\": 6, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 2, \"v_head_dim\": 10, \"n_routed_experts\": 4, \"n_group\": 2, "
                 "\"topk_group\": 1, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 6, "
                 "\"first_k_dense_replace\": 1, \"num_key_value_heads\": 2");
    params_agree("\"model_type\": \"youtu\", \"q_lora_rank\": null, \"kv_lora_rank\": 6, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 4, \"v_head_dim\": 6, \"num_key_value_heads\": 2");
    params_agree("\"model_type\": \"sarvam_mla\", \"kv_lora_rank\": 6, \"qk_rope_head_dim\": 4, "
                 "\"qk_nope_head_dim\": 4, \"v_head_dim\": 6, \"num_key_value_heads\": 2, \"n_routed_experts\": 4, "
                 "\"num_experts_per_tok\": 2, \"moe_intermediate_size\": 6");
}

static void test_bad_configs(void **s) {
    (void)s;
    const char *bad[][2] = {
        {"\"model_type\": \"deepseek_v3\", \"num_key_value_heads\": 1", "must equal num_attention_heads (2)"},
        {"\"model_type\": \"deepseek_v3\", \"attention_bias\": true", "attention_bias and mlp_bias are not supported"},
        {"\"model_type\": \"deepseek_v3\", \"q_lora_rank\": 0", "q_lora_rank (or null)"},
        {"\"model_type\": \"deepseek_v3\", \"qk_rope_head_dim\": 7", "an even qk_rope_head_dim"},
        {"\"model_type\": \"deepseek_v3\", \"kv_lora_rank\": -4", "kv_lora_rank"},
        {"\"model_type\": \"deepseek_v3\", \"qk_nope_head_dim\": -1", "qk_nope_head_dim not negative"},
        {"\"model_type\": \"deepseek_v3\", \"v_head_dim\": 2000", "head dims above 1024"},
        {"\"model_type\": \"deepseek_v3\", \"kv_lora_rank\": 100000", "MLA ranks above 65536"},
        {"\"model_type\": \"deepseek_v3\", \"q_lora_rank\": \"x\"", "q_lora_rank"},
        {"\"model_type\": \"deepseek_v3\", \"partial_rotary_factor\": 0.5", "glm4_moe, mistral4 and minimax_m2 only"},
        {"\"model_type\": \"deepseek_v3\", \"n_routed_experts\": 12", "n_group = 8 must divide the 12 experts"},
        {"\"model_type\": \"deepseek_v3\", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 1e300, "
         "\"mscale_all_dim\": 1e300}", "attention scale"},
        {"\"model_type\": \"deepseek_v2\"", "num_experts_per_tok and n_shared_experts are required"},
        {"\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"topk_method\": \"noaux_tc\"",
         "topk_method 'noaux_tc' is not supported"},
        {"\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"topk_method\": \"group_limited_greedy\"",
         "group_limited_greedy needs n_group and topk_group"},
        {"\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"norm_topk_prob\": true",
         "norm_topk_prob true is not supported for deepseek_v2"},
        {"\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"moe_layer_freq\": 2", "moe_layer_freq = 2"},
        {"\"model_type\": \"deepseek_v2\", \"num_experts_per_tok\": 2, \"mlp_bias\": true", "mlp_bias are not"},
        {"\"model_type\": \"glm4_moe_lite\", \"mlp_layer_types\": [\"dense\"]", "one type per layer (4)"},
        {"\"model_type\": \"mistral4\", \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 2, "
         "\"partial_rotary_factor\": 0.25}", "RoPE over 32 of the 64 rope dims is not supported"},
        {"\"model_type\": \"mistral4\", \"n_routed_experts\": 6, \"n_group\": 4", "n_group = 4 must divide"},
        {"\"model_type\": \"deepseek_v3\", \"rope_scaling\": {\"type\": \"deepseek_yarn\", \"factor\": 4}",
         "rope type 'deepseek_yarn' is not supported"},
        {"\"model_type\": \"minicpm3\", \"scale_emb\": 0", "must give positive scales"},
        {"\"model_type\": \"minicpm3\", \"dim_model_base\": -2", "must give positive scales"},
        {"\"model_type\": \"glm4_moe_lite\", \"mlp_layer_types\": [\"dense\", \"moe\", \"dense\", \"dense\"]",
         "mlp_layer_types[1] 'moe' must be dense or sparse"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rlc_model_config_t c;
        assert_true(parse(&c, bad[i][0]) < 0);
        if (!strstr(rlc_errmsg(), bad[i][1])) fail_msg("%s: %s", bad[i][0], rlc_errmsg());
    }
}

/* config.json of a copy of fixture name with key set to the JSON text val */
static char *edited(const char *name, const char *key, const char *val) {
    return edited_fixture(g_dir, name, key, val);
}

/* A config that does not match the file's MLA tensors is refused by name. */
static void test_mismatched_checkpoints(void **s) {
    (void)s;
    const char *cases[][4] = {
        {"dsv3-tiny", "kv_lora_rank", "16",
         "'model.layers.0.self_attn.kv_a_proj_with_mqa.weight' has shape [28,48] but config.json implies [24,48]"},
        {"dsv3-tiny", "q_lora_rank", "null", "missing tensor 'model.layers.0.self_attn.q_proj.weight'"},
        {"dsv3-tiny", "v_head_dim", "12",
         "'model.layers.0.self_attn.kv_b_proj.weight' has shape [112,20] but config.json implies [96,20]"},
        {"moonlight-tiny", "q_lora_rank", "8", "missing tensor 'model.layers.0.self_attn.q_a_proj.weight'"},
        {"glm47flash-tiny", "mlp_layer_types", "[\"dense\", \"dense\", \"dense\"]",
         "missing tensor 'model.layers.1.mlp.gate_proj.weight'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = edited(cases[i][0], cases[i][1], cases[i][2]);
        rlc_model_t *m = NULL;
        assert_true(rlc_model_load(&m, d, be) < 0);
        assert_null(m);
        if (!strstr(rlc_errmsg(), cases[i][3])) fail_msg("%s %s: %s", cases[i][0], cases[i][1], rlc_errmsg());
        free(d);
    }
}

/* The engine's KV cache holds MLA's latent rows: kv_lora_rank + qk_rope_head_dim values a token
 * and layer, no separate V rows (against 2 x heads x head_dim expanded). */
static void test_latent_cache(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/dsv3-tiny"), be), 0);
    assert_int_equal(rlc_kv_width(&m->cfg), 20 + 8);
    assert_int_equal(rlc_kv_page_bytes(m, 16), (size_t)3 * 16 * 28 * be->esize[RLC_BUF_ACT]);
    rlc_kv_cache_t kv;
    assert_int_equal(rlc_kv_cache_init(&kv, m, 4, 16), 0);
    assert_ptr_equal(kv.k, kv.v);
    rlc_kv_cache_free(&kv, m);
    rlc_model_free(m);
}

/* `rlc info` names the attention and its shape. */
static void test_info(void **s) {
    (void)s;
    char out[4096];
    assert_int_equal(test_run(out, sizeof out, "'%s' info --model '%s'", rlc_bin(), fixture("models/moonlight-tiny")),
                     0);
    if (!strstr(out, "attention: multi-head latent (no query bottleneck, key/value latent 16 + a shared rope key of 8, "
                     "per head 8 + 8 query/key dims and 24 value dims"))
        fail_msg("info: %s", out);
    assert_int_equal(test_run(out, sizeof out, "'%s' info --model '%s'", rlc_bin(), fixture("models/dsv3-tiny")), 0);
    if (!strstr(out, "(query rank 24, key/value latent 20") || !strstr(out, "head_dim 20") ||
        !strstr(out, "the KV cache holds the latent and rope key: 28 values a token and layer)"))
        fail_msg("info: %s", out);
    assert_int_equal(test_run(out, sizeof out, "'%s' info --model '%s'", rlc_bin(), fixture("models/mistral4-tiny")),
                     0);
    if (!strstr(out, "softmax scores, the best 2 of 4 expert groups by their two best, weights x1.5") ||
        !strstr(out, "context: 64 tokens (the original context of its Llama-4 attention scaling)"))
        fail_msg("info: %s", out);
}

/* DeepSeek-V3.2: DeepSeek-V3's defaults, rope on pairs, its context index_topk (dense within it);
 * the indexer's tensors are not parameters but every save carries them from the source
 * checkpoint, bytes unchanged (after a save from a save too), and a missing source is an error. */
static void test_dsa(void **s) {
    (void)s;
    rlc_model_config_t c;
    assert_int_equal(parse(&c, "\"model_type\": \"deepseek_v32\", \"max_position_embeddings\": 163840"), 0);
    assert_true(c.mla && c.q_lora_rank == 1536 && c.rope_interleaved && c.max_context == 2048 && c.num_experts == 256);
    assert_true(c.moe_groups == 8 && c.moe_topk_groups == 4 && c.moe_scale == 2.5f);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l >= 3);
    rlc_config_free(&c);
    /* GLM-5 (glm_moe_dsa): the same attention with GlmMoeDsaConfig's defaults */
    assert_int_equal(parse(&c, "\"model_type\": \"glm_moe_dsa\", \"max_position_embeddings\": 202752, "
                               "\"indexer_types\": [\"full\", \"full\", \"shared\", \"full\"]"),
                     0);
    assert_true(c.mla && c.q_lora_rank == 2048 && c.qk_nope_dim == 192 && c.v_head_dim == 256 && c.head_dim == 256);
    assert_true(c.rope_interleaved && c.max_context == 2048 && c.moe_groups == 1 && c.rms_norm_eps == 1e-5f);
    for (int l = 0; l < 4; l++) assert_int_equal(rlc_config_layer_moe(&c, l), l >= 3);
    rlc_config_free(&c);
    assert_true(parse(&c, "\"model_type\": \"deepseek_v32\", \"q_lora_rank\": null") < 0);
    assert_non_null(strstr(rlc_errmsg(), "deepseek_v32 needs a q_lora_rank"));
    assert_true(parse(&c, "\"model_type\": \"deepseek_v32\", \"index_topk\": 0") < 0);
    assert_non_null(strstr(rlc_errmsg(), "index_topk = 0 must be positive"));
    rlc_model_t *m, *m2;
    assert_int_equal(rlc_model_load(&m, fixture("models/dsv32-tiny"), be), 0);
    assert_int_equal(m->cfg.max_context, 32);
    assert_null(rlc_model_param(m, "model.layers.0.self_attn.indexer.wk.weight"));
    char *d = fs_join(g_dir, "dsv32-saved"), *d2 = fs_join(g_dir, "dsv32-again");
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    assert_int_equal(rlc_model_load(&m2, d, be), 0);
    assert_int_equal(rlc_model_save(m2, d2, NULL), 0);
    rlc_st_t a, b, e;
    assert_int_equal(rlc_st_open(&a, fixture("models/dsv32-tiny")), 0);
    assert_int_equal(rlc_st_open(&b, d), 0);
    assert_int_equal(rlc_st_open(&e, d2), 0);
    int n = 0;
    for (int i = 0; i < a.n; i++) {
        if (!strstr(a.t[i].name, ".indexer.")) continue;
        const rlc_st_tensor_t *x = rlc_st_find(&b, a.t[i].name), *y = rlc_st_find(&e, a.t[i].name);
        assert_true(x && y && x->nbytes == a.t[i].nbytes && y->nbytes == a.t[i].nbytes);
        assert_memory_equal(x->data, a.t[i].data, a.t[i].nbytes);
        assert_memory_equal(y->data, a.t[i].data, a.t[i].nbytes);
        n++;
    }
    assert_int_equal(n, 15); /* 5 a layer: wq_b, wk, k_norm's weight and bias, weights_proj */
    assert_int_equal(b.n, a.n);
    rlc_st_close(&a), rlc_st_close(&b), rlc_st_close(&e);
    rlc_model_free(m2);
    fs_rm_rf(d); /* m2's source is gone: its save cannot carry the indexer */
    assert_int_equal(rlc_model_load(&m2, d2, be), 0);
    fs_rm_rf(d2);
    assert_true(rlc_model_save(m2, d, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "the tensors it carries are read from"));
    rlc_model_free(m2);
    rlc_model_free(m);
    /* beyond index_topk the model is refused, naming why */
    char out[4096], ids[200] = "";
    for (int i = 0; i < 40; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%d ", 3 + i);
    assert_true(test_run(out, sizeof out, "'%s' logprobs --model '%s' --ids '%s'", rlc_bin(),
                         fixture("models/dsv32-tiny"), ids) != 0);
    if (!strstr(out, "top-k of its sparse attention")) fail_msg("40 tokens: %s", out);
    free(d), free(d2);
}

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    return rlc_backend_create(&be, "cpu", 0, 2);
}
static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    fs_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepseek_defaults), cmocka_unit_test(test_deepseek_v2),
        cmocka_unit_test(test_glm_lite_defaults), cmocka_unit_test(test_minicpm3),
        cmocka_unit_test(test_bad_configs),       cmocka_unit_test(test_mismatched_checkpoints),
        cmocka_unit_test(test_latent_cache), cmocka_unit_test(test_info),
        cmocka_unit_test(test_mistral4_youtu_sarvam), cmocka_unit_test(test_dsa),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
