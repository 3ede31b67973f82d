/* The CPU model against Hugging Face transformers (fp32) on the fixture models:
 * per-token log-probs (T=1 and T=0.7) and entropies within 1e-4, every parameter gradient
 * within 1e-4 relative L2 (stored and recomputed activations), the score head's values and
 * gradients, and ten AdamW steps against torch.optim.AdamW's loss curve. */
#include "testref.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "model/optim.h"

static rlc_backend_t *be;

static rlc_model_t *load_model(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s", name);
    rlc_model_t *m;
    int rc = rlc_model_load(&m, fixture(rel), be);
    if (rc) fail_msg("load %s: %s", name, rlc_errmsg());
    return m;
}

/* Compare every parameter gradient of m with the reference's grad.<name>; a tensor no gradient
 * reaches (GLM-4.5's router bias, a buffer in transformers) must have an exactly zero one. */
static void check_grads(rlc_model_t *m, ref_t *r, const char *what) {
    for (int i = 0; i < m->n_info; i++) {
        const rlc_param_info_t *p = &m->info[i];
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        size_t n = p->numel;
        float *want = p->f32_off == RLC_NO_OFFSET ? ref_f32(r, key, &n) : calloc(n, sizeof(float));
        assert_int_equal(n, p->numel);
        float *got = malloc(n * sizeof(float));
        assert_int_equal(rlc_model_get_grad(m, p, got), 0);
        double e = rel_l2(got, want, n);
        if (e > 1e-4) fail_msg("%s: gradient of %s off by %.3g (relative L2)", what, p->name, e);
        free(got);
        free(want);
    }
}

static void causal_parity(const char *name) {
    rlc_model_t *m = load_model(name);
    ref_t r;
    load_ref(&r, name);
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    float *lp = calloc(r.N, 4), *ent = calloc(r.N, 4), *dlp = calloc(r.N, 4), *den = calloc(r.N, 4);
    float *want_lp = ref_f32(&r, "logp", NULL), *want_ent = ref_f32(&r, "entropy", NULL);
    float *want_lp7 = ref_f32(&r, "logp_t07", NULL), *want_loss = ref_f32(&r, "loss", NULL);
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .train = 1, .head = RLC_HEAD_LM};
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, ent, NULL), 0);
    double e1 = max_abs_diff(lp, want_lp, r.N), e2 = max_abs_diff(ent, want_ent, r.N);
    if (e1 > 1e-4 || e2 > 1e-4) fail_msg("%s: logp max err %.3g, entropy max err %.3g", name, e1, e2);
    /* L = mean(-logp) - 0.05 mean(H) over tokens that have a next token */
    int nv = r.N - r.nseq;
    double loss = 0;
    for (int i = 0; i < r.N; i++) {
        int last = 0;
        for (int s = 1; s <= r.nseq; s++) last |= (i == r.cu[s] - 1);
        if (last) continue;
        loss += -lp[i] / nv - 0.05 * ent[i] / nv;
        dlp[i] = -1.0f / nv;
        den[i] = -0.05f / nv;
    }
    assert_true(fabs(loss - want_loss[0]) < 1e-4);
    rlc_model_zero_grads(m);
    assert_int_equal(rlc_model_backward(m, &b, &o, dlp, den, NULL, NULL, NULL), 0);
    check_grads(m, &r, name);
    /* temperature */
    rlc_fwd_opts_t o7 = {.inv_temp = 1.0f / 0.7f, .head = RLC_HEAD_LM};
    assert_int_equal(rlc_model_forward(m, &b, &o7, lp, NULL, NULL), 0);
    e1 = max_abs_diff(lp, want_lp7, r.N);
    if (e1 > 1e-4) fail_msg("%s: logp at T=0.7 max err %.3g", name, e1);
    rlc_model_free(m);
    /* recomputed activations give the same gradients */
    m = load_model(name);
    m->recompute = 1;
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, ent, NULL), 0);
    assert_true(max_abs_diff(lp, want_lp, r.N) < 1e-4);
    rlc_model_zero_grads(m);
    assert_int_equal(rlc_model_backward(m, &b, &o, dlp, den, NULL, NULL, NULL), 0);
    check_grads(m, &r, "recompute");
    rlc_model_free(m);
    /* ten AdamW steps vs torch.optim.AdamW (lr 1e-2, betas .9/.95, wd .1 on matrices) */
    m = load_model(name);
    float *curve = ref_f32(&r, "adamw_losses", NULL);
    rlc_optim_t *opt;
    rlc_adamw_cfg_t ac = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    assert_int_equal(rlc_optim_create(&opt, m, &ac), 0);
    for (int i = 0; i < r.N; i++) den[i] = 0;
    for (int i = 0; i < r.N; i++) dlp[i] = dlp[i] != 0 ? -1.0f / nv : 0;
    for (int step = 0; step < 10; step++) {
        rlc_model_zero_grads(m);
        assert_int_equal(rlc_model_forward(m, &b, &o, NULL, NULL, NULL), 0);
        o.skip_head = 1; /* (forward above computed logp; backward recomputes it anyway) */
        assert_int_equal(rlc_model_backward(m, &b, &o, dlp, NULL, NULL, lp, NULL), 0);
        o.skip_head = 0;
        double l = 0;
        for (int i = 0; i < r.N; i++) l += -(double)lp[i] / nv;
        if (getenv("RLC_CURVE")) fprintf(stderr, "step %d %.7f %.7f\n", step, l, curve[step]);
        if (fabs(l - curve[step]) > 1e-4) fail_msg("%s: AdamW step %d loss %.6f vs torch %.6f", name, step, l, curve[step]);
        assert_int_equal(rlc_optim_step(opt, ac.lr, 0, NULL), 0);
    }
    rlc_optim_free(opt);
    rlc_model_free(m);
    free(curve), free(lp), free(ent), free(dlp), free(den), free(want_lp), free(want_ent), free(want_lp7),
        free(want_loss);
    free_ref(&r);
}

static void test_qwen2_tiny(void **s) {
    (void)s;
    causal_parity("qwen2-tiny");
}
static void test_qwen2_untied_sharded(void **s) {
    (void)s;
    causal_parity("qwen2-untied");
}
static void test_llama3_bf16(void **s) {
    (void)s;
    causal_parity("llama3-tiny");
}
static void test_llama_bias_f16(void **s) {
    (void)s;
    causal_parity("llama-bias");
}

/* yarn rope scaling: the blended frequencies and the attention factor (Qwen2.5's defaults;
 * and every knob given, on a Llama) */
static void test_qwen2_yarn(void **s) {
    (void)s;
    causal_parity("qwen2-yarn");
}
static void test_llama_yarn(void **s) {
    (void)s;
    causal_parity("llama-yarn");
}

/* Sliding-window attention past the window: Mistral (every layer, window 4) and Qwen2
 * (layer 1 only, window 6), sequences of 5 to 16 tokens. */
static void test_mistral_sliding(void **s) {
    (void)s;
    causal_parity("mistral-sliding");
}
static void test_qwen2_sliding(void **s) {
    (void)s;
    causal_parity("qwen2-sliding");
}

/* Phi-3 / Phi-4: fused qkv_proj and gate_up_proj, a partial rotary factor (0.5), a sliding
 * window in every layer, bf16 weights. */
static void test_phi3_tiny(void **s) {
    (void)s;
    causal_parity("phi3-tiny");
}
/* Phi-3.5 / Phi-4-mini: LongRoPE's short factors and attention factor, partial rotary 0.75. */
static void test_phi3_longrope(void **s) {
    (void)s;
    causal_parity("phi3-longrope");
}

/* Gemma 3 (text): (1 + w) norms, scaled embeddings, GeGLU, q/k norms, post-attention and
 * post-MLP norms, query_pre_attn_scalar, sliding layers with their own RoPE base, bf16 file. */
static void test_gemma3_tiny(void **s) {
    (void)s;
    causal_parity("gemma3-tiny");
}
/* Gemma 2: Gemma's norms, embeddings and GeGLU, post-norms, query_pre_attn_scalar, sliding
 * layers, and soft-capped attention scores and logits (caps 1.0 and 1.5: tanh bends). */
static void test_gemma2_tiny(void **s) {
    (void)s;
    causal_parity("gemma2-tiny");
}
/* Gemma (1): (1 + w) norms, scaled embeddings, GeGLU from the legacy hidden_act "gelu". */
static void test_gemma_tiny(void **s) {
    (void)s;
    causal_parity("gemma-tiny");
}

/* OLMo 2: no norms before the blocks, post-norms, q/k norms over the whole projections (GQA:
 * widths 64 and 32). OLMo 3: sliding layers on plain RoPE, the full one on yarn, bf16. */
static void test_olmo2_tiny(void **s) {
    (void)s;
    causal_parity("olmo2-tiny");
}
static void test_olmo3_tiny(void **s) {
    (void)s;
    causal_parity("olmo3-tiny");
}

/* Mixtures of experts. Qwen3-MoE: 8 experts, top-2 renormalised, a dense layer between two
 * sparse ones (mlp_only_layers). Mixtral: Mixtral's names, top-2 of 4, a sliding window, bf16.
 * OLMoE: top-3 of 6 not renormalised, q/k norms over the whole projections. The gradients
 * include the router's (through the softmax and the renormalisation) and every expert's. */
static void test_qwen3moe_tiny(void **s) {
    (void)s;
    causal_parity("qwen3moe-tiny");
}
static void test_mixtral_tiny(void **s) {
    (void)s;
    causal_parity("mixtral-tiny");
}
static void test_olmoe_tiny(void **s) {
    (void)s;
    causal_parity("olmoe-tiny");
}
/* Qwen2-MoE: top-3 of 6 not renormalised, a shared expert gated by a sigmoid beside them,
 * q/k/v biases, a dense layer, its own sliding rule (layer 0 a window of 6). */
static void test_qwen2moe_tiny(void **s) {
    (void)s;
    causal_parity("qwen2moe-tiny");
}
/* GLM-4.5: top-3 of 8 by sigmoid scores plus a correction bias within the best 2 of 4 groups,
 * renormalised and scaled; shared experts added ungated; a dense first layer; q/k/v biases,
 * per-head q/k norms and RoPE over half of each head. */
static void test_glm4moe_tiny(void **s) {
    (void)s;
    causal_parity("glm4moe-tiny");
}
/* dots.llm1: the same routing (top-2 of 6 within 2 of 3 groups, not renormalised), a shared
 * expert, a dense first layer; per-head q/k norms, all four attention biases, two sliding
 * layers, bf16. */
static void test_dots1_tiny(void **s) {
    (void)s;
    causal_parity("dots1-tiny");
}
/* ERNIE 4.5: RoPE on interleaved pairs, biases on every projection, tied embeddings. */
static void test_ernie45_tiny(void **s) {
    (void)s;
    causal_parity("ernie45-tiny");
}
/* ERNIE 4.5 MoE: top-2 of 6 by softmax scores plus a correction bias, a shared expert, a dense
 * first layer, interleaved RoPE, bf16. */
static void test_ernie45moe_tiny(void **s) {
    (void)s;
    causal_parity("ernie45moe-tiny");
}
/* GLM-4 (0414, Z1): fused gate|up, four norms a layer, q/k/v biases, interleaved RoPE over half
 * of each head. */
static void test_glm4_tiny(void **s) {
    (void)s;
    causal_parity("glm4-tiny");
}

/* DeepSeek-V3's multi-head latent attention: a query bottleneck, the key/value latent with a
 * shared rope key, values narrower than the queries and keys, yarn's mscale_all_dim in the
 * attention scale, interleaved rope; GLM-4.5's grouped routing. */
static void test_dsv3_tiny(void **s) {
    (void)s;
    causal_parity("dsv3-tiny");
}
/* Moonlight-style DeepSeek-V3: q_proj (no query bottleneck), values wider than q/k, rotate-half
 * rope, bf16. */
static void test_moonlight_tiny(void **s) {
    (void)s;
    causal_parity("moonlight-tiny");
}
/* DeepSeek-V2 (V2-Lite style): MLA with q_proj and rope on complex pairs; softmax routing
 * without a bias within the groups of highest best score, not renormalised. */
static void test_dsv2_tiny(void **s) {
    (void)s;
    causal_parity("dsv2-tiny");
}
/* MiniCPM3: MLA in a dense model with its embedding, residual and logit multipliers, LongRoPE's
 * short factors, tied, bf16. */
static void test_minicpm3_tiny(void **s) {
    (void)s;
    causal_parity("minicpm3-tiny");
}
/* Mistral 4: MLA with its rope as a partial factor of the q/k width, yarn with Llama 4's query
 * scaling; softmax routing without a bias within groups ranked by their two best, renormalised;
 * its experts stacked as transformers 5 saves them (gate_up_proj, down_proj). */
static void test_mistral4_tiny(void **s) {
    (void)s;
    causal_parity("mistral4-tiny");
}
/* Youtu-LLM: DeepSeek-V3's MLA in a dense Llama, tied, bf16. */
static void test_youtu_tiny(void **s) {
    (void)s;
    causal_parity("youtu-tiny");
}
/* Seed-OSS: q/k/v, o_proj (attention_out_bias) and MLP biases, bf16. */
static void test_seed_oss_tiny(void **s) {
    (void)s;
    causal_parity("seed-oss-tiny");
}
/* An FP8 checkpoint: every projection float8_e4m3fn with an fp32 scale per 16 x 32 block
 * (partial blocks at the edges), dequantized at load; the reference runs the dequantized values. */
static void test_qwen3_fp8(void **s) {
    (void)s;
    causal_parity("qwen3-fp8");
}
/* MiniMax-M2: Mixtral's experts routed by sigmoid scores plus the block's correction bias, OLMo's
 * q/k norms over the whole projections, rope over rotary_dim of each head. */
static void test_minimax_m2_tiny(void **s) {
    (void)s;
    causal_parity("minimax-m2-tiny");
}
/* DeepSeek-V3.2: DeepSeek-V3's MLA and routing; its sparse attention picks every key within
 * index_topk (32 here, longer than any sequence), so it is dense MLA; the indexer is carried. */
static void test_dsv32_tiny(void **s) {
    (void)s;
    causal_parity("dsv32-tiny");
}
/* EXAONE 4.0: norms after the blocks, per-head q/k norms, sliding layers with RoPE (window 4, past
 * it) and full ones without. */
static void test_exaone4_tiny(void **s) {
    (void)s;
    causal_parity("exaone4-tiny");
}
/* Solar Open: Llama's attention, GLM-4.5's experts in every layer, no dense MLP width, bf16. */
static void test_solar_open_tiny(void **s) {
    (void)s;
    causal_parity("solar-open-tiny");
}
/* GLM-4.7-Flash (glm4_moe_lite): MLA, its sparse layers by mlp_layer_types. */
static void test_glm47flash_tiny(void **s) {
    (void)s;
    causal_parity("glm47flash-tiny");
}

/* Granite 3.x: embedding, residual and attention multipliers and logits scaling, bf16. */
static void test_granite_tiny(void **s) {
    (void)s;
    causal_parity("granite-tiny");
}

/* SmolLM3: no RoPE in every fourth layer (NoPE), tied. */
static void test_smollm3_tiny(void **s) {
    (void)s;
    causal_parity("smollm3-tiny");
}

/* Ministral 3: yarn and the Llama-4 attention scaling (1 within the original context of 32). */
static void test_ministral3_tiny(void **s) {
    (void)s;
    causal_parity("ministral3-tiny");
}

/* A multimodal Gemma 3 checkpoint (Gemma3ForConditionalGeneration): its language model, under
 * the Hub's tensor names and under transformers 4.5x's, gives the multimodal model's text
 * log-probs; saved, it is a text-only Gemma3ForCausalLM that reloads to the same bits. */
static void test_gemma3_multimodal(void **s) {
    (void)s;
    ref_t r;
    load_ref(&r, "gemma3-mm");
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    float *want_lp = ref_f32(&r, "logp", NULL), *want_ent = ref_f32(&r, "entropy", NULL);
    float *lp = calloc(r.N, 4), *ent = calloc(r.N, 4), *lp2 = calloc(r.N, 4);
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    rlc_model_t *m = load_model("gemma3-mm");
    assert_true(m->cfg.multimodal);
    assert_string_equal(m->cfg.model_type, "gemma3_text");
    assert_int_equal(m->cfg.n_eos, 2); /* the multimodal config's top-level eos list */
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, ent, NULL), 0);
    double e1 = max_abs_diff(lp, want_lp, r.N), e2 = max_abs_diff(ent, want_ent, r.N);
    if (e1 > 1e-4 || e2 > 1e-4) fail_msg("gemma3-mm: logp max err %.3g, entropy max err %.3g", e1, e2);
    char *d = test_tmpdir(), path[512];
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    rlc_model_free(m);
    m = load_model("gemma3-mm-v4");
    assert_int_equal(rlc_model_forward(m, &b, &o, lp2, NULL, NULL), 0);
    assert_memory_equal(lp, lp2, (size_t)r.N * 4);
    rlc_model_free(m);
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    assert_false(m->cfg.multimodal);
    assert_int_equal(rlc_model_forward(m, &b, &o, lp2, NULL, NULL), 0);
    assert_memory_equal(lp, lp2, (size_t)r.N * 4);
    rlc_model_free(m);
    snprintf(path, sizeof path, "%s/config.json", d);
    cJSON *cfg = rlc_json_load_file(path);
    assert_non_null(cfg);
    assert_string_equal(cJSON_GetObjectItem(cfg, "model_type")->valuestring, "gemma3_text");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0)->valuestring,
                        "Gemma3ForCausalLM");
    assert_null(cJSON_GetObjectItem(cfg, "vision_config"));
    cJSON_Delete(cfg);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, d), 0);
    assert_non_null(rlc_st_find(&st, "model.layers.1.post_feedforward_layernorm.weight"));
    for (int i = 0; i < st.n; i++) assert_null(strstr(st.t[i].name, "vision"));
    rlc_st_close(&st);
    fs_rm_rf(d);
    free(d), free(lp), free(ent), free(lp2), free(want_lp), free(want_ent);
    free_ref(&r);
}

/* A multimodal Mistral 3 checkpoint (Mistral Small 3.1/3.2): its language model, the head
 * tied as Mistral3Config's top level says (its text_config says otherwise), gives the multimodal
 * model's text log-probs; saved, a MistralForCausalLM. */
static void test_mistral3_multimodal(void **s) {
    (void)s;
    ref_t r;
    load_ref(&r, "mistral3-mm");
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    float *want_lp = ref_f32(&r, "logp", NULL), *want_ent = ref_f32(&r, "entropy", NULL);
    float *lp = calloc(r.N, 4), *ent = calloc(r.N, 4);
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    rlc_model_t *m = load_model("mistral3-mm");
    assert_true(m->cfg.multimodal && m->cfg.tie_word_embeddings);
    assert_string_equal(m->cfg.model_type, "mistral");
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, ent, NULL), 0);
    double e1 = max_abs_diff(lp, want_lp, r.N), e2 = max_abs_diff(ent, want_ent, r.N);
    if (e1 > 1e-4 || e2 > 1e-4) fail_msg("mistral3-mm: logp max err %.3g, entropy max err %.3g", e1, e2);
    char *d = test_tmpdir(), path[512];
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    rlc_model_free(m);
    snprintf(path, sizeof path, "%s/config.json", d);
    cJSON *cfg = rlc_json_load_file(path);
    assert_non_null(cfg);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0)->valuestring,
                        "MistralForCausalLM");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")));
    cJSON_Delete(cfg);
    fs_rm_rf(d);
    free(d), free(lp), free(ent), free(want_lp), free(want_ent);
    free_ref(&r);
}

/* Qwen3: per-head q/k RMSNorm before RoPE, explicit head_dim (q width != hidden), bf16 file. */
static void test_qwen3_tiny(void **s) {
    (void)s;
    causal_parity("qwen3-tiny");
}

static void test_score_head(void **s) {
    (void)s;
    rlc_model_t *m = load_model("qwen2-score");
    assert_int_equal(m->score_labels, 1);
    ref_t r;
    load_ref(&r, "qwen2-score");
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    float *vals = calloc(r.N, 4), *want = ref_f32(&r, "values", NULL), *dv = ref_f32(&r, "dvalues", NULL);
    rlc_fwd_opts_t o = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_SCORE};
    assert_int_equal(rlc_model_forward(m, &b, &o, NULL, NULL, vals), 0);
    assert_true(max_abs_diff(vals, want, r.N) < 1e-4);
    rlc_model_zero_grads(m);
    assert_int_equal(rlc_model_backward(m, &b, &o, NULL, NULL, dv, NULL, NULL), 0);
    check_grads(m, &r, "score head");
    /* the LM head is absent on a token-classification model */
    rlc_fwd_opts_t lm = {.inv_temp = 1, .head = RLC_HEAD_LM};
    assert_true(rlc_model_forward(m, &b, &lm, vals, NULL, NULL) < 0);
    free(vals), free(want), free(dv);
    free_ref(&r);
    rlc_model_free(m);
}

static int setup(void **s) {
    (void)s;
    return rlc_backend_create(&be, "cpu", 0, 2);
}
static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2_tiny),     cmocka_unit_test(test_qwen2_untied_sharded),
        cmocka_unit_test(test_llama3_bf16),    cmocka_unit_test(test_llama_bias_f16),
        cmocka_unit_test(test_qwen3_tiny),
        cmocka_unit_test(test_qwen2_yarn),
        cmocka_unit_test(test_llama_yarn),
        cmocka_unit_test(test_mistral_sliding),
        cmocka_unit_test(test_qwen2_sliding),
        cmocka_unit_test(test_phi3_tiny),
        cmocka_unit_test(test_phi3_longrope),
        cmocka_unit_test(test_gemma3_tiny), cmocka_unit_test(test_gemma_tiny), cmocka_unit_test(test_gemma2_tiny),
        cmocka_unit_test(test_gemma3_multimodal), cmocka_unit_test(test_mistral3_multimodal),
        cmocka_unit_test(test_olmo2_tiny), cmocka_unit_test(test_olmo3_tiny),
        cmocka_unit_test(test_granite_tiny), cmocka_unit_test(test_smollm3_tiny),
        cmocka_unit_test(test_ministral3_tiny),
        cmocka_unit_test(test_qwen3moe_tiny), cmocka_unit_test(test_mixtral_tiny), cmocka_unit_test(test_olmoe_tiny),
        cmocka_unit_test(test_qwen2moe_tiny), cmocka_unit_test(test_glm4moe_tiny),
        cmocka_unit_test(test_dots1_tiny), cmocka_unit_test(test_ernie45_tiny),
        cmocka_unit_test(test_ernie45moe_tiny), cmocka_unit_test(test_glm4_tiny),
        cmocka_unit_test(test_dsv3_tiny), cmocka_unit_test(test_moonlight_tiny), cmocka_unit_test(test_glm47flash_tiny),
        cmocka_unit_test(test_dsv2_tiny), cmocka_unit_test(test_minicpm3_tiny),
        cmocka_unit_test(test_mistral4_tiny), cmocka_unit_test(test_youtu_tiny),
        cmocka_unit_test(test_seed_oss_tiny), cmocka_unit_test(test_qwen3_fp8), cmocka_unit_test(test_minimax_m2_tiny),
        cmocka_unit_test(test_dsv32_tiny), cmocka_unit_test(test_exaone4_tiny),
        cmocka_unit_test(test_solar_open_tiny),
        cmocka_unit_test(test_score_head),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
