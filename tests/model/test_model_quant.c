/* FP8 checkpoints (model/fp8.c): the qwen3-fp8 fixture's projections dequantized per block
 * (partial blocks included) as q x s; per-tensor, per-channel and e8m0 scales; a save in bf16
 * without scales or quantization_config that loads again; and every bad input (a missing or
 * misshapen scale, a NaN byte, an unsupported quantization method, a bad block size) as one
 * clear error. transformers' agreement (log-probs, gradients, AdamW, greedy) is
 * test_model_parity's qwen3-fp8 case. */
#include "testutil.h"

#include <math.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/edit_config.h"
#include "model/model.h"

static rlc_backend_t *be;
static char *g_dir;

static const char *W = "model.layers.0.mlp.gate_proj.weight"; /* [150, 64] in 16 x 32 blocks: 10 x 2 */

/* The fixture's FP8 bytes of W as floats (unscaled) and its [10, 2] block scales. */
static void fixture_fp8(float *q, float *sc) {
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, fixture("models/qwen3-fp8")), 0);
    const rlc_st_tensor_t *t = rlc_st_find(&st, W);
    const rlc_st_tensor_t *s = rlc_st_find(&st, "model.layers.0.mlp.gate_proj.weight_scale_inv");
    assert_true(t && s && t->dtype == RLC_DT_F8_E4M3 && s->numel == 20);
    assert_int_equal(rlc_st_to_f32(t, q), 0);
    assert_int_equal(rlc_st_to_f32(s, sc), 0);
    rlc_st_close(&st);
}

static float *param(rlc_model_t *m, const char *name) {
    const rlc_param_info_t *p = rlc_model_param(m, name);
    assert_non_null(p);
    float *v = malloc(p->numel * sizeof *v);
    assert_int_equal(rlc_model_get_param(m, p, v), 0);
    return v;
}

/* Each weight is q x s of its block: rows of 16, columns of 32, the last row of blocks 6 rows
 * tall (150 = 9 x 16 + 6). */
static void test_blocks(void **s) {
    (void)s;
    float q[150 * 64], sc[20];
    fixture_fp8(q, sc);
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen3-fp8"), be), 0);
    assert_true(m->cfg.fp8 && m->cfg.fp8_block[0] == 16 && m->cfg.fp8_block[1] == 32);
    float *w = param(m, W);
    for (int i = 0; i < 150; i++)
        for (int j = 0; j < 64; j++)
            if (w[i * 64 + j] != q[i * 64 + j] * sc[(i / 16) * 2 + j / 32]) fail_msg("w[%d][%d]", i, j);
    free(w);
    rlc_model_free(m);
}

/* Per-tensor [1], per-channel [150, 1] and e8m0 [10, 2] scales (the last from u8 bytes too). */
static void test_scale_kinds(void **s) {
    (void)s;
    float q[150 * 64], sc[20], one = 0.25f, chan[150];
    unsigned char e8[20];
    fixture_fp8(q, sc);
    for (int i = 0; i < 150; i++) chan[i] = 0.01f * (float)(i + 1);
    for (int i = 0; i < 20; i++) e8[i] = (unsigned char)(120 + i % 5);
    rlc_st_wtensor_t kinds[4] = {
        {.dtype = RLC_DT_F32, .ndim = 1, .shape = {1}, .f32 = &one},
        {.dtype = RLC_DT_BF16, .ndim = 2, .shape = {150, 1}, .f32 = chan},
        {.dtype = RLC_DT_F8_E8M0, .ndim = 2, .shape = {10, 2}, .raw = e8},
        {.dtype = RLC_DT_U8, .ndim = 2, .shape = {10, 2}, .raw = e8},
    };
    for (int k = 0; k < 4; k++) {
        char *d = edited_fixture(g_dir, "qwen3-fp8", "dtype", "\"bfloat16\"");
        rewrite_tensor(d, "model.layers.0.mlp.gate_proj.weight_scale_inv", &kinds[k], 0);
        rlc_model_t *m;
        if (rlc_model_load(&m, d, be)) fail_msg("kind %d: %s", k, rlc_errmsg());
        float *w = param(m, W);
        for (int i = 0; i < 150; i++)
            for (int j = 0; j < 64; j++) {
                float sv = k == 0 ? one : k == 1 ? rlc_bf16_to_f32(rlc_f32_to_bf16(chan[i]))
                                                 : ldexpf(1.0f, e8[(i / 16) * 2 + j / 32] - 127);
                if (w[i * 64 + j] != q[i * 64 + j] * sv) fail_msg("kind %d: w[%d][%d]", k, i, j);
            }
        free(w);
        rlc_model_free(m);
        free(d);
    }
}

/* A save writes the dequantized weights in bf16, no scale tensor and no quantization_config;
 * it loads again with the same log-probs up to that rounding. */
static void test_save(void **s) {
    (void)s;
    rlc_model_t *m, *m2;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen3-fp8"), be), 0);
    char *d = fs_join(g_dir, "saved");
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, d), 0);
    assert_int_equal(rlc_st_find(&st, W)->dtype, RLC_DT_BF16);
    for (int i = 0; i < st.n; i++) assert_false(rlc_fp8_is_scale(st.t[i].name));
    rlc_st_close(&st);
    char *cp = fs_join(d, "config.json");
    cJSON *j = rlc_json_load_file(cp);
    assert_non_null(j);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "quantization_config"));
    cJSON_Delete(j);
    assert_int_equal(rlc_model_load(&m2, d, be), 0);
    assert_false(m2->cfg.fp8);
    int32_t ids[8] = {5, 17, 99, 23, 44, 8, 150, 201}, cu[2] = {0, 8};
    rlc_batch_t b = {.n_tokens = 8, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    float a[8], c[8];
    assert_int_equal(rlc_model_forward(m, &b, &o, a, NULL, NULL), 0);
    assert_int_equal(rlc_model_forward(m2, &b, &o, c, NULL, NULL), 0);
    for (int i = 1; i < 8; i++) assert_true(fabsf(a[i] - c[i]) < 0.05f);
    rlc_model_free(m);
    rlc_model_free(m2);
    free(cp), free(d);
}

/* Stacked experts in FP8 (gate_up_proj [8, 32, 48] with scales [8, 2, 2] in 16 x 32 blocks): the
 * scales split per expert and per half as the weight; a block straddling an expert's gate and up
 * rows is refused. */
static void test_stacked_fp8(void **s) {
    (void)s;
    static unsigned char q[8 * 32 * 48];
    float sc[8 * 2 * 2];
    for (int i = 0; i < 8 * 32 * 48; i++) q[i] = (unsigned char)(0x38 + (i / (32 * 48)) % 4); /* 1, 1.125, ... */
    for (int i = 0; i < 32; i++) sc[i] = 0.01f * (float)(i + 1);
    const char *gu = "model.layers.1.mlp.experts.gate_up_proj";
    rlc_st_wtensor_t w8 = {.dtype = RLC_DT_F8_E4M3, .ndim = 3, .shape = {8, 32, 48}, .raw = q};
    rlc_st_wtensor_t ws = {.dtype = RLC_DT_F32, .ndim = 3, .shape = {8, 2, 2}, .f32 = sc};
    const char *blocks[] = {"{\"quant_method\": \"fp8\", \"weight_block_size\": [16, 32]}",
                            "{\"quant_method\": \"fp8\", \"weight_block_size\": [24, 32]}"};
    for (int k = 0; k < 2; k++) {
        char *d = edited_fixture(g_dir, "mistral4-tiny", "quantization_config", blocks[k]);
        rewrite_tensor(d, gu, &w8, 0);
        rewrite_tensor(d, "model.layers.1.mlp.experts.gate_up_proj_scale_inv", &ws, 0);
        rlc_model_t *m = NULL;
        if (k) { /* 24-row blocks: the second covers gate rows 0-15's end and up's start */
            assert_true(rlc_model_load(&m, d, be) < 0);
            assert_non_null(strstr(rlc_errmsg(), "has blocks that straddle each expert's gate and up rows"));
            free(d);
            continue;
        }
        if (rlc_model_load(&m, d, be)) fail_msg("%s", rlc_errmsg());
        assert_true(m->experts_fused && m->cfg.fp8);
        for (int e = 0; e < 8; e++)
            for (int h = 0; h < 2; h++) {
                char nm[96];
                snprintf(nm, sizeof nm, "model.layers.1.mlp.experts.%d.%s.weight", e, h ? "up_proj" : "gate_proj");
                float *v = param(m, nm), qv = 1.0f + 0.125f * (float)(e % 4);
                for (int i = 0; i < 16 * 48; i++)
                    if (v[i] != qv * sc[e * 4 + h * 2 + (i % 48) / 32]) fail_msg("%s[%d] = %g", nm, i, (double)v[i]);
                free(v);
            }
        char *sd = fs_join(g_dir, "stacked-fp8-saved"); /* saved stacked, in bf16, without scales */
        assert_int_equal(rlc_model_save(m, sd, NULL), 0);
        rlc_st_t st;
        assert_int_equal(rlc_st_open(&st, sd), 0);
        assert_int_equal(rlc_st_find(&st, gu)->dtype, RLC_DT_BF16);
        for (int i = 0; i < st.n; i++) assert_false(rlc_fp8_is_scale(st.t[i].name));
        rlc_st_close(&st);
        free(sd);
        rlc_model_free(m);
        free(d);
    }
}

/* `rlc info` names the quantization. */
static void test_info(void **s) {
    (void)s;
    char out[4096];
    assert_int_equal(test_run(out, sizeof out, "'%s' info --model '%s'", rlc_bin(), fixture("models/qwen3-fp8")), 0);
    if (!strstr(out, "quantization: fp8, blocks of 16 x 32 (dequantized as rlc loads it; saved in bf16)") ||
        !strstr(out, "F8_E4M3 14"))
        fail_msg("info: %s", out);
}

static void test_bad(void **s) {
    (void)s;
    unsigned char nan_q[150 * 64];
    memset(nan_q, 0x38, sizeof nan_q);
    nan_q[77] = 0x7F;
    float sc[20] = {0};
    rlc_st_wtensor_t bad_shape = {.dtype = RLC_DT_F32, .ndim = 2, .shape = {2, 10}, .f32 = sc};
    rlc_st_wtensor_t nan_w = {.dtype = RLC_DT_F8_E4M3, .ndim = 2, .shape = {150, 64}, .raw = nan_q};
    const char *sn = "model.layers.0.mlp.gate_proj.weight_scale_inv";
    struct {
        const char *tensor;
        rlc_st_wtensor_t *x;
        const char *err;
    } cases[] = {
        {sn, NULL, "FP8 tensor 'model.layers.0.mlp.gate_proj.weight' has no scale"},
        {sn, &bad_shape,
         "scale 'model.layers.0.mlp.gate_proj.weight_scale_inv' (20 values) does not tile the [150,64]"},
        {W, &nan_w, "tensor 'model.layers.0.mlp.gate_proj.weight' contains NaN or Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = edited_fixture(g_dir, "qwen3-fp8", "dtype", "\"bfloat16\"");
        rewrite_tensor(d, cases[i].tensor, cases[i].x, 0);
        rlc_model_t *m = NULL;
        assert_true(rlc_model_load(&m, d, be) < 0);
        assert_null(m);
        if (!strstr(rlc_errmsg(), cases[i].err)) fail_msg("case %zu: %s", i, rlc_errmsg());
        free(d);
    }
    const char *cfgs[][2] = {
        {"{\"quant_method\": \"gptq\", \"bits\": 4}", "quant_method 'gptq' is not supported"},
        {"{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\"}",
         "quant_method 'compressed-tensors' format pack-quantized is not supported"},
        {"{\"quant_method\": \"fp8\", \"weight_block_size\": [128]}", "weight_block_size must be two integers"},
        {"{\"quant_method\": \"fp8\", \"weight_block_size\": [0, 128]}", "weight_block_size must be two integers"},
        {"[1]", "quantization_config must be an object"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        char *d = edited_fixture(g_dir, "qwen3-fp8", "quantization_config", cfgs[i][0]);
        rlc_model_t *m = NULL;
        assert_true(rlc_model_load(&m, d, be) < 0);
        if (!strstr(rlc_errmsg(), cfgs[i][1])) fail_msg("config %zu: %s", i, rlc_errmsg());
        free(d);
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
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_scale_kinds),
        cmocka_unit_test(test_save),
        cmocka_unit_test(test_stacked_fp8),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
