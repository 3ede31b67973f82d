/* Mixture-of-experts configs and checkpoints: each family's keys and defaults (both spellings
 * of the expert count, Qwen3-MoE's sparse-layer rules, Mixtral's and OLMoE's fixed choices),
 * the parameter count, and every bad value or mismatched checkpoint as a clear error. The
 * numerics (log-probs, gradients, training, decoding) are in test_model_parity, test_exact,
 * test_engine and the CUDA tests. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "model/edit_config.h"
#include "model/optim.h"

static rlc_backend_t *be;
static char *g_dir;

static int parse(rlc_model_config_t *c, const char *extra) {
    char j[1024];
    snprintf(j, sizeof j,
             "{\"vocab_size\": 64, \"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 4, "
             "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, %s}",
             extra);
    cJSON *p = cJSON_Parse(j);
    assert_non_null(p);
    return rlc_config_from_json(c, p, "cfg");
}

static void test_family_defaults(void **s) {
    (void)s;
    rlc_model_config_t c, d;
    /* Qwen3-MoE: 128 experts, 8 each, width 768, not renormalised, every layer sparse */
    assert_int_equal(parse(&c, "\"model_type\": \"qwen3_moe\""), 0);
    assert_true(c.num_experts == 128 && c.experts_per_tok == 8 && c.moe_intermediate_size == 768);
    assert_true(!c.moe_norm_topk && c.qk_norm && !c.qk_norm_full && !c.moe_naming && c.rms_norm_eps == 1e-6f);
    for (int l = 0; l < 4; l++) assert_true(rlc_config_layer_moe(&c, l));
    assert_int_equal(rlc_config_mlp_width(&c), 8 * 768);
    assert_int_equal(rlc_config_layer_window(&c, 0), 0);
    rlc_config_free(&c);
    /* decoder_sparse_step 2: layers 1 and 3; mlp_only_layers takes 3 out; the other spelling */
    assert_int_equal(parse(&c, "\"model_type\": \"qwen3_moe\", \"decoder_sparse_step\": 2, \"mlp_only_layers\": [3], "
                               "\"num_local_experts\": 6, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 4, "
                               "\"norm_topk_prob\": true, \"use_sliding_window\": true, \"sliding_window\": 9"),
                     0);
    assert_true(!rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 1) && !rlc_config_layer_moe(&c, 2) &&
                !rlc_config_layer_moe(&c, 3));
    assert_true(c.num_experts == 6 && c.experts_per_tok == 2 && c.moe_norm_topk);
    assert_int_equal(rlc_config_mlp_width(&c), 24); /* the dense layers are wider than 2 x 4 */
    assert_true(rlc_config_layer_window(&c, 0) == 9 && rlc_config_layer_window(&c, 3) == 9); /* every layer */
    /* one sparse layer: router 6x16 and 6 experts of 3 x 4 x 16, in place of a 3 x 24 x 16 MLP */
    assert_int_equal(parse(&d, "\"model_type\": \"qwen3\""), 0);
    assert_int_equal(rlc_config_num_params(&c), rlc_config_num_params(&d) + 6 * 16 + 6 * 3 * 4 * 16 - 3 * 24 * 16);
    rlc_config_free(&d);
    rlc_config_free(&c);
    /* Mixtral: 8 experts, top-2 renormalised, its names, no attention biases, theta 1e6, eps
     * 1e-5, no window unless given; the expert width is intermediate_size */
    assert_int_equal(parse(&c, "\"model_type\": \"mixtral\", \"attention_bias\": true, \"norm_topk_prob\": false"), 0);
    assert_true(c.num_experts == 8 && c.experts_per_tok == 2 && c.moe_norm_topk && c.moe_naming);
    assert_true(c.moe_intermediate_size == 24 && !c.qkv_bias && !c.o_bias && c.rope_theta == 1e6);
    assert_true(c.rms_norm_eps == 1e-5f && rlc_config_layer_window(&c, 0) == 0 && !c.qk_norm);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"mixtral\", \"sliding_window\": 4096"), 0);
    assert_int_equal(rlc_config_layer_window(&c, 2), 4096);
    rlc_config_free(&c);
    /* OLMoE: 64 experts, 8 each, not renormalised, q/k norms over the whole projections */
    assert_int_equal(parse(&c, "\"model_type\": \"olmoe\", \"num_experts\": 16"), 0);
    assert_true(c.num_experts == 16 && c.experts_per_tok == 8 && !c.moe_norm_topk && c.qk_norm && c.qk_norm_full);
    assert_true(!c.post_norms && !c.post_only && c.rms_norm_eps == 1e-5f);
    rlc_config_free(&c);
    /* Qwen2-MoE: 60 experts, 4 each, width 1408, a shared expert of 5632, q/k/v biases (its
     * qkv_bias key), and under use_sliding_window every other layer from the first below
     * max_window_layers */
    assert_int_equal(parse(&c, "\"model_type\": \"qwen2_moe\", \"use_sliding_window\": true, \"sliding_window\": 7, "
                               "\"max_window_layers\": 3"),
                     0);
    assert_true(c.num_experts == 60 && c.experts_per_tok == 4 && c.moe_intermediate_size == 1408);
    assert_true(c.moe_shared_size == 5632 && c.qkv_bias && !c.o_bias && !c.moe_norm_topk && !c.qk_norm);
    assert_true(rlc_config_layer_window(&c, 0) == 7 && rlc_config_layer_window(&c, 1) == 0 &&
                rlc_config_layer_window(&c, 2) == 7 && rlc_config_layer_window(&c, 3) == 0);
    assert_int_equal(rlc_config_mlp_width(&c), 4 * 1408 + 5632);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"qwen2_moe\", \"qkv_bias\": false, \"sliding_window\": 7"), 0);
    assert_true(!c.qkv_bias && rlc_config_layer_window(&c, 0) == 0); /* no window without use_sliding_window */
    rlc_config_free(&c);
    /* GLM-4.5: 128 experts, 8 each, width 1408, one shared expert of that width added ungated,
     * sigmoid routing without groups, renormalised, scale 1, layer 0 dense, q/k/v biases only,
     * RoPE over half of each head, eps 1e-5, one MTP layer */
    assert_int_equal(parse(&c, "\"model_type\": \"glm4_moe\", \"attention_bias\": true, \"head_dim\": 8"), 0);
    assert_true(c.num_experts == 128 && c.experts_per_tok == 8 && c.moe_intermediate_size == 1408);
    assert_true(c.moe_biased && c.moe_groups == 1 && c.moe_topk_groups == 1 && c.moe_scale == 1.0f);
    assert_true(c.moe_shared_size == 1408 && !c.moe_shared_gated && c.moe_norm_topk && c.mtp_layers == 1);
    assert_true(c.qkv_bias && !c.o_bias && !c.qk_norm && c.rotary_dim == 4 && c.rms_norm_eps == 1e-5f);
    assert_true(!rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 1) && rlc_config_layer_moe(&c, 3));
    rlc_config_free(&c);
    /* DeepSeek-V3-like groups and scale, two shared experts, three dense layers, q/k norms, the
     * other spelling of the expert count and of the MTP layers, a full rotary */
    assert_int_equal(parse(&c, "\"model_type\": \"glm4_moe\", \"num_local_experts\": 16, \"n_group\": 4, "
                               "\"topk_group\": 2, \"num_experts_per_tok\": 6, \"routed_scaling_factor\": 2.5, "
                               "\"n_shared_experts\": 2, \"moe_intermediate_size\": 4, \"first_k_dense_replace\": 3, "
                               "\"use_qk_norm\": true, \"num_mtp_layers\": 0, \"norm_topk_prob\": false, "
                               "\"rope_parameters\": {\"rope_theta\": 1e6, \"partial_rotary_factor\": 1.0}"),
                     0);
    assert_true(c.num_experts == 16 && c.moe_groups == 4 && c.moe_topk_groups == 2 && c.moe_scale == 2.5f);
    assert_true(c.moe_shared_size == 8 && c.qk_norm && !c.qk_norm_full && !c.mtp_layers && !c.moe_norm_topk);
    assert_true(!rlc_config_layer_moe(&c, 2) && rlc_config_layer_moe(&c, 3) && c.rotary_dim == c.head_dim);
    /* its sparse layer: router 16x16, bias 16, 16 experts and a shared one of 3 x 4 x 16 / 3 x 8 x 16 */
    assert_int_equal(parse(&d, "\"model_type\": \"glm4_moe\", \"first_k_dense_replace\": 4, \"use_qk_norm\": true, "
                               "\"rope_parameters\": {\"rope_theta\": 1e6, \"partial_rotary_factor\": 1.0}"),
                     0);
    assert_int_equal(rlc_config_num_params(&c),
                     rlc_config_num_params(&d) + 16 * 16 + 16 + 16 * 3 * 4 * 16 + 3 * 8 * 16 - 3 * 24 * 16);
    rlc_config_free(&d);
    rlc_config_free(&c);
    /* dots.llm1: its counts given (no defaults), layer 0 sparse, not renormalised, q/k norms and
     * all four biases, full rotary; with sliding_window (4096 when absent) every layer from
     * max_window_layers on slides; layer_types wins; a null window is none */
    assert_int_equal(parse(&c, "\"model_type\": \"dots1\", \"n_routed_experts\": 8, \"num_experts_per_tok\": 2, "
                               "\"n_shared_experts\": 2, \"moe_intermediate_size\": 4, \"attention_bias\": true, "
                               "\"max_window_layers\": 2"),
                     0);
    assert_true(c.moe_biased && !c.moe_norm_topk && c.moe_shared_size == 8 && !c.moe_shared_gated && !c.mtp_layers);
    assert_true(c.qk_norm && !c.qk_norm_full && c.qkv_bias && c.o_bias && c.rotary_dim == c.head_dim);
    assert_true(rlc_config_layer_moe(&c, 0) && rlc_config_layer_window(&c, 1) == 0 &&
                rlc_config_layer_window(&c, 2) == 4096 && rlc_config_layer_window(&c, 3) == 4096);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"dots1\", \"n_routed_experts\": 8, \"num_experts_per_tok\": 2, "
                               "\"n_shared_experts\": 1, \"sliding_window\": 9, "
                               "\"layer_types\": [\"sliding_attention\", \"full_attention\", \"full_attention\", "
                               "\"full_attention\"]"),
                     0);
    assert_true(rlc_config_layer_window(&c, 0) == 9 && rlc_config_layer_window(&c, 1) == 0);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"dots1\", \"n_routed_experts\": 8, \"num_experts_per_tok\": 2, "
                               "\"n_shared_experts\": 1, \"sliding_window\": null, \"max_window_layers\": 0"),
                     0);
    assert_int_equal(rlc_config_layer_window(&c, 3), 0);
    rlc_config_free(&c);
    /* ERNIE 4.5 MoE: 64 experts, 6 each, width 1536, two shared experts, softmax scores plus a
     * bias, always renormalised (norm_min 1e-12), sparse from layer 1; the other spellings; the
     * sparse layers every interval-th from start to end; interleaved RoPE, head_dim hidden/heads */
    assert_int_equal(parse(&c, "\"model_type\": \"ernie4_5_moe\""), 0);
    assert_true(c.num_experts == 64 && c.experts_per_tok == 6 && c.moe_intermediate_size == 1536);
    assert_true(c.moe_biased && c.moe_softmax && c.moe_norm_topk && c.moe_norm_min == 1e-12f && c.moe_scale == 1.0f);
    assert_true(c.moe_shared_size == 2 * 1536 && !c.moe_shared_gated && c.rope_interleaved && c.head_dim == 8);
    assert_true(!rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 1) && rlc_config_layer_moe(&c, 3));
    rlc_config_free(&c);
    assert_int_equal(parse(&c, "\"model_type\": \"ernie4_5_moe\", \"num_experts\": 8, \"num_experts_per_tok\": 2, "
                               "\"moe_layer_start_index\": 0, \"moe_layer_end_index\": 2, \"moe_layer_interval\": 2, "
                               "\"moe_num_shared_experts\": 0"),
                     0);
    assert_true(c.num_experts == 8 && c.experts_per_tok == 2 && !c.moe_shared_size);
    assert_true(!rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 1) && !rlc_config_layer_moe(&c, 2) &&
                !rlc_config_layer_moe(&c, 3)); /* (l + 1) % 2 == 0 and l <= 2 */
    rlc_config_free(&c);
    /* MiniMax-M2: 256 experts of intermediate_size, 8 each, Mixtral's names, sigmoid scores plus a
     * correction bias, no groups, renormalised, unscaled; OLMo's q/k norms; head_dim 128, theta 5e6;
     * rope over rotary_dim of each head */
    assert_int_equal(parse(&c, "\"model_type\": \"minimax_m2\", \"rotary_dim\": 64"), 0);
    assert_true(c.num_experts == 256 && c.experts_per_tok == 8 && c.moe_intermediate_size == 24 && c.moe_naming);
    assert_true(c.moe_biased && !c.moe_softmax && c.moe_groups == 1 && c.moe_norm_topk && c.moe_scale == 1.0f);
    assert_true(c.qk_norm && c.qk_norm_full && c.head_dim == 128 && c.rotary_dim == 64 && c.rope_theta == 5e6);
    assert_true(!c.moe_shared_size && rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 3));
    rlc_config_free(&c);
    assert_true(parse(&c, "\"model_type\": \"minimax_m2\", \"rotary_dim\": 129") < 0);
    assert_non_null(strstr(rlc_errmsg(), "rotary_dim 129 is not in [0, 128]"));
    /* Solar Open: GLM-4.5's routing in every layer (no groups, scale 1, renormalised, a shared expert of
     * 1280), no intermediate_size, no q/k norms, head_dim 128, theta 1e6, eps 1e-5, no o_proj bias */
    assert_int_equal(parse(&c, "\"model_type\": \"solar_open\", \"attention_bias\": true"), 0);
    assert_true(c.num_experts == 128 && c.experts_per_tok == 8 && c.moe_intermediate_size == 1280 && c.moe_biased);
    assert_true(c.moe_groups == 1 && c.moe_scale == 1.0f && c.moe_norm_topk && c.moe_shared_size == 1280);
    assert_true(!c.qk_norm && c.head_dim == 128 && c.rope_theta == 1e6 && c.rms_norm_eps == 1e-5f);
    assert_true(c.rotary_dim == 128); /* full rotary (GLM-4.5's class turns half) */
    assert_true(c.qkv_bias && !c.o_bias && rlc_config_layer_moe(&c, 0) && rlc_config_layer_moe(&c, 3));
    rlc_config_free(&c);
    /* dense families have no experts */
    assert_int_equal(parse(&c, "\"model_type\": \"llama\", \"num_experts\": 8"), 0);
    assert_true(!c.layer_moe && !rlc_config_layer_moe(&c, 0) && rlc_config_mlp_width(&c) == 24);
    rlc_config_free(&c);
}

static void test_bad_configs(void **s) {
    (void)s;
    const char *bad[][2] = {
        {"\"model_type\": \"qwen3_moe\", \"num_experts_per_tok\": 200", "num_experts_per_tok = 200"},
        {"\"model_type\": \"qwen3_moe\", \"num_experts\": 0", "0 experts"},
        {"\"model_type\": \"qwen3_moe\", \"num_experts\": 1024", "1024 experts (rlc takes 1 to 512)"},
        {"\"model_type\": \"qwen3_moe\", \"num_experts\": 8, \"num_local_experts\": 4", "disagree"},
        {"\"model_type\": \"qwen3_moe\", \"decoder_sparse_step\": 0", "decoder_sparse_step must be positive"},
        {"\"model_type\": \"qwen3_moe\", \"mlp_only_layers\": [\"x\"]", "mlp_only_layers"},
        {"\"model_type\": \"qwen3_moe\", \"moe_intermediate_size\": -1", "moe_intermediate_size must be positive"},
        {"\"model_type\": \"mixtral\", \"num_local_experts\": 64, \"num_experts_per_tok\": 40", "between 1 and"},
        {"\"model_type\": \"olmoe\", \"clip_qkv\": 8.0", "clip_qkv is not supported"},
        {"\"model_type\": \"qwen2_moe\", \"shared_expert_intermediate_size\": 0", "shared_expert_intermediate_size"},
        {"\"model_type\": \"glm4_moe\", \"n_routed_experts\": 12, \"n_group\": 5", "n_group = 5 must divide"},
        {"\"model_type\": \"glm4_moe\", \"n_group\": 4, \"topk_group\": 5", "topk_group = 5"},
        {"\"model_type\": \"glm4_moe\", \"n_routed_experts\": 8, \"n_group\": 8, \"num_experts_per_tok\": 1",
         "a group needs at least 2"},
        {"\"model_type\": \"glm4_moe\", \"n_routed_experts\": 16, \"n_group\": 4, \"num_experts_per_tok\": 5",
         "exceeds the 4 experts of the topk_group groups"},
        {"\"model_type\": \"glm4_moe\", \"routed_scaling_factor\": 0", "routed_scaling_factor = 0"},
        {"\"model_type\": \"glm4_moe\", \"n_shared_experts\": -1", "must not be negative"},
        {"\"model_type\": \"glm4_moe\", \"n_routed_experts\": 8, \"num_local_experts\": 16", "disagree"},
        {"\"model_type\": \"glm4_moe\", \"partial_rotary_factor\": 0.2", "gives 1 rotary dims of 8"},
        {"\"model_type\": \"qwen3_moe\", \"partial_rotary_factor\": 0.5",
         "phi3, glm4, glm4_moe, mistral4 and minimax_m2 only"},
        {"\"model_type\": \"ernie4_5_moe\", \"use_bias\": true", "use_bias (biases on the shared experts)"},
        {"\"model_type\": \"ernie4_5_moe\", \"moe_layer_interval\": 0", "moe_layer_interval > 0"},
        {"\"model_type\": \"ernie4_5_moe\", \"moe_norm_min\": 0", "moe_norm_min = 0"},
        {"\"model_type\": \"ernie4_5_moe\", \"moe_k\": 4, \"num_experts_per_tok\": 2", "disagree"},
        {"\"model_type\": \"ernie4_5_moe\", \"sliding_window\": 64", "ERNIE 4.5 has no sliding window"},
        {"\"model_type\": \"dots1\", \"n_routed_experts\": 8, \"num_experts_per_tok\": 2",
         "n_routed_experts, num_experts_per_tok and n_shared_experts are required"},
        {"\"model_type\": \"dots1\", \"n_routed_experts\": 8, \"num_experts_per_tok\": 2, \"n_shared_experts\": 1, "
         "\"partial_rotary_factor\": 0.5", "phi3, glm4, glm4_moe, mistral4 and minimax_m2 only"},
        {"\"model_type\": \"mixtral\", \"hidden_act\": \"gelu\"", "hidden_act 'gelu' is not supported"},
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

/* A config that does not match the file's experts is refused by name, and nothing half-loaded
 * is left behind. */
static void test_mismatched_checkpoints(void **s) {
    (void)s;
    const char *cases[][4] = {
        {"mixtral-tiny", "num_local_experts", "5",
         "'model.layers.0.block_sparse_moe.gate.weight' has shape [4,48] but config.json implies [5,48]"},
        {"qwen3moe-tiny", "moe_intermediate_size", "16", "'model.layers.0.mlp.experts.0.gate_proj.weight' has shape"},
        {"qwen3moe-tiny", "mlp_only_layers", "[]", "missing tensor 'model.layers.1.mlp.gate.weight'"},
        {"olmoe-tiny", "model_type", "\"olmo2\"", "missing tensor"},
        {"glm4moe-tiny", "n_shared_experts", "1", "'model.layers.1.mlp.shared_experts.gate_proj.weight' has shape"},
        {"glm4moe-tiny", "first_k_dense_replace", "0", "missing tensor 'model.layers.0.mlp.gate.weight'"},
        {"dots1-tiny", "n_shared_experts", "2", "'model.layers.1.mlp.shared_experts.gate_proj.weight' has shape"},
        {"dots1-tiny", "n_group", "4", "n_group = 4 must divide the 6 experts"},
        {"ernie45moe-tiny", "moe_num_shared_experts", "2", "'model.layers.1.mlp.shared_experts.gate_proj.weight' has"},
        {"ernie45moe-tiny", "moe_layer_start_index", "0", "missing tensor 'model.layers.0.mlp.gate.weight'"},
        {"glm4moe-tiny", "model_type", "\"qwen2_moe\"", "partial_rotary_factor 0.5 is supported for phi3, glm4"},
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

/* GLM-4.5's router bias: no gradient reaches it, so AdamW steps (weight decay on) leave it bit
 * for bit while the router moves; a save writes it exactly. */
static void test_glm_router_bias(void **s) {
    (void)s;
    rlc_model_t *m = NULL;
    assert_int_equal(rlc_model_load(&m, fixture("models/glm4moe-tiny"), be), 0);
    const rlc_param_info_t *pb = rlc_model_param(m, "model.layers.1.mlp.gate.e_score_correction_bias");
    const rlc_param_info_t *pr = rlc_model_param(m, "model.layers.1.mlp.gate.weight");
    assert_non_null(pb);
    assert_non_null(pr);
    assert_true(pb->f32_off != RLC_NO_OFFSET && pr->f32_off == RLC_NO_OFFSET);
    float b0[8], b1[8], *r0 = malloc(pr->numel * 4), *r1 = malloc(pr->numel * 4);
    assert_int_equal(rlc_model_get_param(m, pb, b0), 0);
    assert_int_equal(rlc_model_get_param(m, pr, r0), 0);
    int32_t ids[12] = {5, 17, 99, 23, 44, 8, 150, 201, 3, 77, 66, 12}, cu[3] = {0, 7, 12};
    rlc_batch_t b = {.n_tokens = 12, .nseq = 2, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .train = 1, .head = RLC_HEAD_LM};
    float lp[12], dlp[12];
    for (int i = 0; i < 12; i++) dlp[i] = i == 6 || i == 11 ? 0 : -1.0f / 10;
    assert_int_equal(rlc_model_alloc_grads(m), 0);
    rlc_optim_t *opt;
    rlc_adamw_cfg_t ac = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    assert_int_equal(rlc_optim_create(&opt, m, &ac), 0);
    for (int step = 0; step < 3; step++) {
        rlc_model_zero_grads(m);
        assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), 0);
        assert_int_equal(rlc_model_backward(m, &b, &o, dlp, NULL, NULL, NULL, NULL), 0);
        assert_int_equal(rlc_optim_step(opt, ac.lr, 0, NULL), 0);
    }
    assert_int_equal(rlc_model_get_param(m, pb, b1), 0);
    assert_int_equal(rlc_model_get_param(m, pr, r1), 0);
    assert_memory_equal(b0, b1, sizeof b0);
    assert_memory_not_equal(r0, r1, pr->numel * 4);
    char *d = fs_join(g_dir, "glm-saved");
    assert_int_equal(rlc_model_save(m, d, "bfloat16"), 0); /* even a bf16 save keeps it in fp32 */
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, d), 0);
    const rlc_st_tensor_t *t = rlc_st_find(&st, pb->name);
    assert_non_null(t);
    assert_int_equal(t->dtype, RLC_DT_F32);
    assert_int_equal(rlc_st_to_f32(t, b1), 0);
    assert_memory_equal(b0, b1, sizeof b0);
    rlc_st_close(&st);
    rlc_optim_free(opt);
    rlc_model_free(m);
    free(r0), free(r1), free(d);
}

/* Two tensors (names n0, n1) in mtp.safetensors beside d's weights, an index naming both files. */
static void add_mtp_file(const char *d, const char *n0, const char *n1) {
    char *extra = fs_join(d, "mtp.safetensors"), *idx = fs_join(d, "model.safetensors.index.json");
    char *main_st = fs_join(d, "model.safetensors");
    float w[16] = {0};
    rlc_st_wtensor_t t[2] = {{.name = n0, .dtype = RLC_DT_F32, .ndim = 2, .shape = {4, 4}, .f32 = w},
                             {.name = n1, .dtype = RLC_DT_F32, .ndim = 1, .shape = {4}, .f32 = w}};
    assert_int_equal(rlc_st_write(extra, t, 2, NULL), 0);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, main_st), 0);
    cJSON *j = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(j, "weight_map");
    for (int i = 0; i < st.n; i++) cJSON_AddStringToObject(map, st.t[i].name, "model.safetensors");
    rlc_st_close(&st);
    for (int i = 0; i < 2; i++) cJSON_AddStringToObject(map, t[i].name, "mtp.safetensors");
    char *txt = cJSON_Print(j);
    assert_int_equal(fs_write_atomic(idx, txt, strlen(txt)), 0);
    free(txt), free(extra), free(idx), free(main_st);
    cJSON_Delete(j);
}

/* The multi-token-prediction layer a GLM-4.5 checkpoint carries after its last layer is left
 * out quietly (an info line); without num_nextn_predict_layers it is reported as unused. */
static void test_glm_mtp_layers(void **s) {
    (void)s;
    const char *glm0 = "model.layers.3.eh_proj.weight", *glm1 = "model.layers.3.enorm.weight";
    char out[4096], *d = edited("glm4moe-tiny", "num_nextn_predict_layers", "1");
    add_mtp_file(d, glm0, glm1);
    assert_int_equal(test_run(out, sizeof out, "'%s' logprobs --model '%s' --ids '5 6 7'", rlc_bin(), d), 0);
    if (!strstr(out, "2 tensor(s) of the multi-token-prediction layer(s) not loaded") || strstr(out, "not used"))
        fail_msg("MTP layer: %s", out);
    free(d);
    d = edited("glm4moe-tiny", "num_nextn_predict_layers", "0");
    add_mtp_file(d, glm0, glm1);
    assert_int_equal(test_run(out, sizeof out, "'%s' logprobs --model '%s' --ids '5 6 7'", rlc_bin(), d), 0);
    if (!strstr(out, "2 tensor(s) not used by the model (first: model.layers.3.")) fail_msg("no MTP layer: %s", out);
    free(d);
    /* ERNIE 4.5's MTP tensors are named so: transformers ignores any name with "mtp" */
    d = edited("ernie45moe-tiny", "num_nextn_predict_layers", "1");
    add_mtp_file(d, "model.mtp_block.0.mlp.up_proj.weight", "model.mtp_emb_norm.0.weight");
    assert_int_equal(test_run(out, sizeof out, "'%s' logprobs --model '%s' --ids '5 6 7'", rlc_bin(), d), 0);
    if (!strstr(out, "2 tensor(s) of the multi-token-prediction layer(s) not loaded") || strstr(out, "not used"))
        fail_msg("ERNIE's MTP layer: %s", out);
    free(d);
}

/* Two safetensors sets with the same tensors, bytes and shapes. */
static void same_weights(const char *a_dir, const char *b_dir) {
    rlc_st_t a, b;
    assert_int_equal(rlc_st_open(&a, a_dir), 0);
    assert_int_equal(rlc_st_open(&b, b_dir), 0);
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        assert_string_equal(a.t[i].name, b.t[i].name);
        assert_int_equal(a.t[i].ndim, b.t[i].ndim);
        assert_memory_equal(a.t[i].shape, b.t[i].shape, sizeof a.t[i].shape[0] * (size_t)a.t[i].ndim);
        assert_int_equal(a.t[i].nbytes, b.t[i].nbytes);
        assert_memory_equal(a.t[i].data, b.t[i].data, a.t[i].nbytes);
    }
    rlc_st_close(&a);
    rlc_st_close(&b);
}

/* transformers 5's stacked experts (Mistral 4's only layout): read as per-expert views and saved
 * stacked again, every tensor's bytes as the file's; a checkpoint with per-expert tensors loads
 * the same and is saved per expert; a new model is written stacked; a stacked tensor of the
 * wrong shape, or without its pair, is an error naming it. */
static void test_stacked_experts(void **s) {
    (void)s;
    const char *gu = "model.layers.1.mlp.experts.gate_up_proj", *dn = "model.layers.2.mlp.experts.down_proj";
    const char *e0 = "model.layers.1.mlp.experts.0.gate_proj.weight";
    int32_t ids[6] = {5, 17, 99, 23, 44, 8}, cu[2] = {0, 6};
    rlc_batch_t b = {.n_tokens = 6, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    float lp0[6], lp1[6];
    rlc_model_t *m = NULL, *m2 = NULL;
    assert_int_equal(rlc_model_load(&m, fixture("models/mistral4-tiny"), be), 0);
    assert_int_equal(m->experts_fused, 1);
    assert_non_null(rlc_model_param(m, e0));
    assert_int_equal(rlc_model_forward(m, &b, &o, lp0, NULL, NULL), 0);
    char *d = fs_join(g_dir, "m4-stacked"), *d2 = fs_join(g_dir, "m4-per-expert"), *d3 = fs_join(g_dir, "m4-again");
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    same_weights(fixture("models/mistral4-tiny"), d);
    m->experts_fused = 0; /* as a converter would write it: one tensor per expert projection */
    assert_int_equal(rlc_model_save(m, d2, NULL), 0);
    assert_int_equal(rlc_model_load(&m2, d2, be), 0);
    assert_int_equal(m2->experts_fused, 0);
    assert_int_equal(rlc_model_forward(m2, &b, &o, lp1, NULL, NULL), 0);
    assert_memory_equal(lp0, lp1, sizeof lp0);
    assert_int_equal(rlc_model_save(m2, d3, NULL), 0);
    same_weights(d2, d3);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, d3), 0);
    assert_non_null(rlc_st_find(&st, e0));
    assert_null(rlc_st_find(&st, gu));
    rlc_st_close(&st);
    rlc_model_free(m2);
    /* rlc init-model's path: a new Mistral 4 is stacked */
    assert_int_equal(rlc_model_create(&m2, m->cfg.json, be, 1, 0.02f), 0);
    assert_int_equal(m2->experts_fused, 1);
    rlc_model_free(m2);
    rlc_model_free(m);
    const char *bad[][3] = {{NULL, gu, "'model.layers.1.mlp.experts.gate_up_proj' must have shape [8,32,48]"},
                            {NULL, dn, "'model.layers.2.mlp.experts.down_proj' must have shape [8,48,16]"},
                            {dn, NULL, "'model.layers.2.mlp.experts.gate_up_proj' without "
                                       "'model.layers.2.mlp.experts.down_proj'"}};
    for (int i = 0; i < 3; i++) {
        char *x = edited("mistral4-tiny", "dtype", "\"float32\"");
        rewrite_tensor(x, bad[i][0] ? bad[i][0] : bad[i][1], NULL, !bad[i][0]); /* left out, or reshaped */
        m = NULL;
        assert_true(rlc_model_load(&m, x, be) < 0);
        assert_null(m);
        if (!strstr(rlc_errmsg(), bad[i][2])) fail_msg("case %d: %s", i, rlc_errmsg());
        free(x);
    }
    free(d), free(d2), free(d3);
    /* any family's experts may come stacked (Qwen3-MoE's per-expert names, Mixtral's w1/w3/w2 under
     * block_sparse_moe): read the same, saved stacked again */
    const char *fams[] = {"qwen3moe-tiny", "mixtral-tiny"};
    for (int f = 0; f < 2; f++) {
        char rel[64];
        snprintf(rel, sizeof rel, "models/%s", fams[f]);
        assert_int_equal(rlc_model_load(&m, fixture(rel), be), 0);
        assert_int_equal(m->experts_fused, 0);
        assert_int_equal(rlc_model_forward(m, &b, &o, lp0, NULL, NULL), 0);
        m->experts_fused = 1;
        d = fs_join(g_dir, "stacked");
        d2 = fs_join(g_dir, "stacked-again");
        assert_int_equal(rlc_model_save(m, d, NULL), 0);
        assert_int_equal(rlc_model_load(&m2, d, be), 0);
        assert_int_equal(m2->experts_fused, 1);
        assert_int_equal(rlc_model_forward(m2, &b, &o, lp1, NULL, NULL), 0);
        assert_memory_equal(lp0, lp1, sizeof lp0);
        assert_int_equal(rlc_model_save(m2, d2, NULL), 0);
        same_weights(d, d2);
        assert_int_equal(rlc_st_open(&st, d), 0);
        int l = 0;
        while (!rlc_config_layer_moe(&m->cfg, l)) l++;
        snprintf(rel, sizeof rel, "model.layers.%d.mlp.experts.gate_up_proj", l);
        const rlc_st_tensor_t *t = rlc_st_find(&st, rel);
        assert_true(t && t->ndim == 3 && t->shape[0] == m->cfg.num_experts);
        assert_int_equal(t->shape[1], 2 * m->cfg.moe_intermediate_size);
        assert_int_equal(t->shape[2], m->cfg.hidden_size);
        rlc_st_close(&st);
        rlc_model_free(m);
        rlc_model_free(m2);
        fs_rm_rf(d), fs_rm_rf(d2);
        free(d), free(d2);
    }
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
        cmocka_unit_test(test_family_defaults),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_mismatched_checkpoints),
        cmocka_unit_test(test_glm_router_bias),
        cmocka_unit_test(test_glm_mtp_layers),
        cmocka_unit_test(test_stacked_experts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
