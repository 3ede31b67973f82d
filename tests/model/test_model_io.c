/* Checkpoint I/O: save → load → save is byte-identical and gives the same log-probs;
 * dtype conversion on save; and every kind of bad checkpoint or batch is a clear error.
 * Memory: every buffer is accounted for and released, the activation plan's size is what
 * gets allocated, and the largest-batch estimate is the largest plan that fits. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/optim.h"

static rlc_backend_t *be;
static char *g_dir;

static char *sub(const char *name) { return fs_join(g_dir, name); }

static void copy_fixture(const char *name, const char *dst) {
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s", name);
    char out[512];
    assert_int_equal(test_run(out, sizeof out, "rm -rf '%s' && cp -r '%s' '%s'", dst, fixture(rel), dst), 0);
}

static int32_t IDS[] = {5, 17, 99, 3, 250, 7, 8, 9, 44, 100, 31};
static int32_t CU[] = {0, 6, 11};

static void logp_of(rlc_model_t *m, float *lp) {
    rlc_batch_t b = {.n_tokens = 11, .nseq = 2, .ids = IDS, .cu_seqlens = CU};
    rlc_fwd_opts_t o = {.inv_temp = 1};
    if (rlc_model_forward(m, &b, &o, lp, NULL, NULL)) fail_msg("%s", rlc_errmsg());
}

static void files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(fs_read_all(a, &x, &nx), 0);
    assert_int_equal(fs_read_all(b, &y, &ny), 0);
    if (nx != ny || memcmp(x, y, nx)) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

/* Every top-level number of the source config.json is saved as written (transformers reads
 * 50 as an int, and its typed configs refuse an int where a float is declared). */
static void literals_kept(const char *src_rel, const char *saved) {
    char *sp = fs_join(fixture(src_rel), "config.json");
    cJSON *a = rlc_json_load_file_lit(sp), *b = rlc_json_load_file_lit(saved);
    assert_non_null(a);
    assert_non_null(b);
    for (const cJSON *v = a->child; v; v = v->next) {
        if (!cJSON_IsNumber(v)) continue;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(b, v->string);
        if (!w || !w->valuestring || strcmp(v->valuestring, w->valuestring))
            fail_msg("%s: %s = %s saved as %s", src_rel, v->string, v->valuestring,
                     w && w->valuestring ? w->valuestring : "?");
    }
    cJSON_Delete(a), cJSON_Delete(b);
    free(sp);
}

static void test_save_load_save(void **s) {
    (void)s;
    const char *names[] = {"qwen2-tiny",  "llama3-tiny", "llama-bias", "qwen2-untied",
                           "qwen2-score", "qwen3-tiny",  "phi3-tiny",  "llama3-tiny-bin",
                           "gemma3-tiny", "gemma-tiny",  "gemma2-tiny", "olmo2-tiny", "olmo3-tiny", "granite-tiny",
                           "smollm3-tiny", "ministral3-tiny", "qwen3moe-tiny", "mixtral-tiny", "olmoe-tiny",
                           "qwen2moe-tiny", "glm4moe-tiny", "dots1-tiny",
                           "ernie45-tiny", "ernie45moe-tiny", "glm4-tiny", "dsv3-tiny", "moonlight-tiny",
                           "glm47flash-tiny", "dsv2-tiny", "minicpm3-tiny", "mistral4-tiny", "youtu-tiny",
                           "seed-oss-tiny", "minimax-m2-tiny", "dsv32-tiny",
                           "exaone4-tiny", "solar-open-tiny"};
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/%s", names[k]);
        rlc_model_t *m;
        assert_int_equal(rlc_model_load(&m, fixture(rel), be), 0);
        /* the count `rlc info` reports from config.json alone is the table's (score head aside) */
        size_t score = m->score_labels ? (size_t)m->score_labels * (m->cfg.hidden_size + m->cfg.score_bias) : 0;
        if (rlc_config_num_params(&m->cfg) + score != m->n_params)
            fail_msg("%s: config gives %zu parameters, the table %zu", names[k], rlc_config_num_params(&m->cfg) + score,
                     m->n_params);
        char *d1 = sub("s1"), *d2 = sub("s2");
        assert_int_equal(rlc_model_save(m, d1, NULL), 0);
        rlc_model_t *m2;
        assert_int_equal(rlc_model_load(&m2, d1, be), 0);
        assert_int_equal(rlc_model_save(m2, d2, NULL), 0);
        char *f1 = fs_join(d1, "model.safetensors"), *f2 = fs_join(d2, "model.safetensors");
        files_equal(f1, f2);
        free(f1), free(f2);
        f1 = fs_join(d1, "config.json"), f2 = fs_join(d2, "config.json");
        files_equal(f1, f2);
        literals_kept(rel, f1);
        free(f1), free(f2);
        if (m->cfg.head == RLC_HEAD_LM) {
            float a[11], b[11];
            logp_of(m, a);
            logp_of(m2, b);
            assert_memory_equal(a, b, sizeof a); /* same dtype round trip: exact */
            /* generation_config.json travels with the weights */
            char *g = fs_join(d1, "generation_config.json");
            assert_true(fs_exists(g));
            free(g);
        }
        rlc_model_free(m);
        rlc_model_free(m2);
        fs_rm_rf(d1);
        fs_rm_rf(d2);
        free(d1), free(d2);
    }
}

static void test_save_dtypes(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-tiny"), be), 0);
    float a[11], b[11];
    logp_of(m, a);
    char *d = sub("bf16");
    assert_int_equal(rlc_model_save(m, d, "bfloat16"), 0);
    rlc_model_t *m2;
    assert_int_equal(rlc_model_load(&m2, d, be), 0);
    assert_int_equal(m2->info[0].file_dtype, RLC_DT_BF16);
    logp_of(m2, b);
    assert_true(max_abs_diff(a, b, 11) < 0.05); /* bf16 rounding of the weights */
    assert_true(max_abs_diff(a, b, 11) > 0);
    char *cp = fs_join(d, "config.json");
    cJSON *j = rlc_json_load_file(cp);
    assert_string_equal(cJSON_GetObjectItem(j, "dtype")->valuestring, "bfloat16");
    cJSON_Delete(j);
    assert_true(rlc_model_save(m, d, "int8") < 0);
    assert_non_null(strstr(rlc_errmsg(), "unknown save dtype"));
    free(cp);
    free(d);
    rlc_model_free(m);
    rlc_model_free(m2);
}

static void test_value_head_roundtrip(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/llama3-tiny"), be), 0);
    assert_int_equal(rlc_model_add_score_head(m, 1, 3, 0.1f), 0);
    int32_t cu[2] = {0, 5};
    rlc_batch_t b = {.n_tokens = 5, .nseq = 1, .ids = IDS, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1, .head = RLC_HEAD_SCORE};
    float v1[5], v2[5], lp1[5], lp2[5];
    assert_int_equal(rlc_model_forward(m, &b, &o, NULL, NULL, v1), 0);
    rlc_fwd_opts_t ol = {.inv_temp = 1, .head = RLC_HEAD_LM};
    assert_int_equal(rlc_model_forward(m, &b, &ol, lp1, NULL, NULL), 0);
    char *d = sub("vh");
    assert_int_equal(rlc_model_save(m, d, NULL), 0);
    rlc_model_t *m2;
    assert_int_equal(rlc_model_load(&m2, d, be), 0);
    assert_int_equal(m2->score_labels, 1);
    assert_int_equal(rlc_model_forward(m2, &b, &o, NULL, NULL, v2), 0);
    assert_int_equal(rlc_model_forward(m2, &b, &ol, lp2, NULL, NULL), 0);
    assert_memory_equal(v1, v2, sizeof v1);
    assert_true(max_abs_diff(lp1, lp2, 5) < 1e-2); /* llama3-tiny is stored in bf16 */
    assert_true(fabs(v1[0]) > 0);
    rlc_model_free(m);
    rlc_model_free(m2);
    free(d);
}

/* Load must fail with a message containing `needle`. */
static void expect_load_error(const char *dir, const char *needle) {
    rlc_model_t *m = NULL;
    int rc = rlc_model_load(&m, dir, be);
    if (rc == 0) fail_msg("loading %s should fail (%s)", dir, needle);
    assert_null(m);
    if (!strstr(rlc_errmsg(), needle)) fail_msg("error '%s' lacks '%s'", rlc_errmsg(), needle);
}

/* config.json with key set to val (removed when val is NULL), or to the JSON text raw as
 * written (cJSON would print a literal such as 1e999 as null) */
static void edit_config_as(const char *dir, const char *key, cJSON *val, const char *raw) {
    char *p = fs_join(dir, "config.json");
    cJSON *j = rlc_json_load_file(p);
    assert_non_null(j);
    if (raw) val = cJSON_CreateString("@RAW@");
    if (val && cJSON_GetObjectItemCaseSensitive(j, key))
        cJSON_ReplaceItemInObjectCaseSensitive(j, key, val);
    else if (val)
        cJSON_AddItemToObject(j, key, val);
    else
        cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    char *t = cJSON_Print(j), *at = raw ? strstr(t, "\"@RAW@\"") : NULL;
    if (raw) {
        assert_non_null(at);
        char *u = malloc(strlen(t) + strlen(raw) + 1);
        sprintf(u, "%.*s%s%s", (int)(at - t), t, raw, at + 7);
        free(t);
        t = u;
    }
    assert_int_equal(fs_write_atomic(p, t, strlen(t)), 0);
    free(t);
    cJSON_Delete(j);
    free(p);
}

static void edit_config(const char *dir, const char *key, cJSON *val) { edit_config_as(dir, key, val, NULL); }

/* yarn written the transformers-4 way (rope_scaling with "type", rope_theta at the top) is
 * the same model as the transformers-5 rope_parameters of the fixture: the same bits. */
static void test_yarn_spellings(void **s) {
    (void)s;
    rlc_model_t *m;
    float lp1[11], lp2[11];
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-yarn"), be), 0);
    logp_of(m, lp1);
    rlc_model_free(m);
    char *d = sub("yarn4");
    copy_fixture("qwen2-yarn", d);
    edit_config(d, "rope_parameters", NULL);
    edit_config(d, "rope_scaling",
                cJSON_Parse("{\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32}"));
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    logp_of(m, lp2);
    assert_memory_equal(lp1, lp2, sizeof lp1);
    rlc_model_free(m);
    /* and the attention factor matters: a given one of 1 changes the log-probs */
    edit_config(d, "rope_scaling",
                cJSON_Parse("{\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32, "
                            "\"attention_factor\": 1.0}"));
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    logp_of(m, lp2);
    assert_true(max_abs_diff(lp1, lp2, 11) > 1e-3);
    rlc_model_free(m);
    fs_rm_rf(d);
    free(d);
}

/* The attention window of each of a 2-layer config's layers, as transformers 5 decides it;
 * "w0 w1" or the error code. */
static const char *sliding_of(const char *type, const char *extra) {
    static char out[32];
    char txt[512];
    snprintf(txt, sizeof txt,
             "{\"model_type\": \"%s\", \"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 8, "
             "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"max_position_embeddings\": 64%s%s}",
             type, *extra ? ", " : "", extra);
    rlc_model_config_t c;
    int rc = rlc_config_from_json(&c, cJSON_Parse(txt), "cfg");
    if (rc) return "error";
    snprintf(out, sizeof out, "%d %d", rlc_config_layer_window(&c, 0), rlc_config_layer_window(&c, 1));
    rlc_config_free(&c);
    return out;
}

/* Which layers slide, by model type and keys (transformers 5: MistralConfig defaults to 4096
 * and ignores layer_types; Qwen2/Qwen3 slide only with use_sliding_window, in the layers
 * layer_types names or from max_window_layers on; Llama never). */
static void test_sliding_config(void **s) {
    (void)s;
    const char *LT_FS = "\"layer_types\": [\"full_attention\", \"sliding_attention\"]";
    char buf[256];
    assert_string_equal(sliding_of("mistral", "\"sliding_window\": 4096"), "4096 4096"); /* Mistral v0.1 */
    assert_string_equal(sliding_of("mistral", ""), "4096 4096");
    assert_string_equal(sliding_of("mistral", "\"sliding_window\": null"), "0 0"); /* Mistral v0.2 on */
    snprintf(buf, sizeof buf, "\"sliding_window\": 8, %s", LT_FS);
    assert_string_equal(sliding_of("mistral", buf), "8 8");
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": true, \"sliding_window\": 8, "
                                            "\"max_window_layers\": 1"), "0 8");
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": true, \"sliding_window\": 8, "
                                            "\"max_window_layers\": 2"), "0 0");
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": true, \"max_window_layers\": 0"), "4096 4096");
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": true, \"sliding_window\": 8"), "0 0"); /* 28 */
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": false, \"sliding_window\": 8, "
                                            "\"max_window_layers\": 0"), "0 0");
    snprintf(buf, sizeof buf, "\"use_sliding_window\": true, \"sliding_window\": 8, %s", LT_FS);
    assert_string_equal(sliding_of("qwen2", buf), "0 8");
    snprintf(buf, sizeof buf, "\"use_sliding_window\": false, \"sliding_window\": 8, %s", LT_FS);
    assert_string_equal(sliding_of("qwen2", buf), "0 0");
    assert_string_equal(sliding_of("qwen3", "\"use_sliding_window\": true, \"sliding_window\": 5, \"layer_types\": "
                                            "[\"sliding_attention\", \"full_attention\"]"), "5 0");
    assert_string_equal(sliding_of("qwen2", "\"use_sliding_window\": true, \"sliding_window\": null, "
                                            "\"max_window_layers\": 0"), "0 0");
    assert_string_equal(sliding_of("llama", "\"sliding_window\": 8, \"use_sliding_window\": true"), "0 0");
    assert_string_equal(sliding_of("qwen2", "\"layer_types\": [\"full_attention\", \"chunked_attention\"]"), "error");
    assert_non_null(strstr(rlc_errmsg(), "layer type 'chunked_attention' is not supported"));
    assert_string_equal(sliding_of("qwen2", "\"layer_types\": [\"full_attention\"]"), "error");
    assert_non_null(strstr(rlc_errmsg(), "one type per layer (2)"));
    assert_string_equal(sliding_of("mistral", "\"sliding_window\": -3"), "error");
    assert_non_null(strstr(rlc_errmsg(), "sliding_window must be a positive number"));
    assert_string_equal(sliding_of("mistral", "\"sliding_window\": \"4096\""), "error");
    /* Gemma 3: every layer but each sliding_window_pattern-th (6) slides, 4096 by default (its
     * config's default of 4 kv heads would not divide these 2 heads) */
    const char *KV1 = "\"num_key_value_heads\": 1";
    assert_string_equal(sliding_of("gemma3_text", KV1), "4096 4096");
    snprintf(buf, sizeof buf, "%s, \"sliding_window\": 512, \"sliding_window_pattern\": 2", KV1);
    assert_string_equal(sliding_of("gemma3_text", buf), "512 0");
    snprintf(buf, sizeof buf, "%s, \"sliding_window\": null", KV1);
    assert_string_equal(sliding_of("gemma3_text", buf), "0 0");
    snprintf(buf, sizeof buf, "%s, \"sliding_window\": 8, \"sliding_window_pattern\": 1, %s", KV1, LT_FS);
    assert_string_equal(sliding_of("gemma3_text", buf), "0 8"); /* layer_types win */
    assert_string_equal(sliding_of("gemma", "\"sliding_window\": 8"), "0 0");
    /* OLMo 3: three of every four layers (layer_types first); OLMo 2 never */
    assert_string_equal(sliding_of("olmo3", ""), "4096 4096");
    assert_string_equal(sliding_of("olmo3", "\"sliding_window\": 16, \"layer_types\": [\"sliding_attention\", "
                                            "\"full_attention\"]"), "16 0");
    assert_string_equal(sliding_of("olmo2", "\"sliding_window\": 8"), "0 0");
    /* SmolLM3: only with use_sliding_window, in the layer_types, else the NoPE layers */
    assert_string_equal(sliding_of("smollm3", "\"sliding_window\": 8"), "0 0");
    assert_string_equal(sliding_of("smollm3", "\"use_sliding_window\": true, \"sliding_window\": 8, "
                                              "\"no_rope_layers\": [1, 0]"), "0 8");
    assert_string_equal(sliding_of("smollm3", "\"use_sliding_window\": true, \"sliding_window\": 8, "
                                              "\"no_rope_layer_interval\": 1"), "8 8");
    assert_string_equal(sliding_of("smollm3", "\"use_sliding_window\": true, \"sliding_window\": 8"), "0 0");
    snprintf(buf, sizeof buf, "\"use_sliding_window\": true, \"sliding_window\": 8, %s", LT_FS);
    assert_string_equal(sliding_of("smollm3", buf), "0 8");
    assert_string_equal(sliding_of("smollm3", "\"no_rope_layers\": [1, 2]"), "error");
    assert_string_equal(sliding_of("smollm3", "\"no_rope_layers\": [1]"), "error");
    snprintf(buf, sizeof buf, "%s, \"sliding_window_pattern\": 0", KV1);
    assert_string_equal(sliding_of("gemma3_text", buf), "error");
}

/* Gemma 3 as the Hub's configs spell it (transformers 4.x: rope_theta, rope_local_base_freq,
 * rope_scaling, sliding_window_pattern) is the fixture's transformers-5 config (rope_parameters
 * by layer type, layer_types): the same bits. What rlc does not run is refused by name, and
 * Granite's multipliers must be positive. */
static void test_arch_configs(void **s) {
    (void)s;
    rlc_model_t *m;
    float lp1[11], lp2[11];
    assert_int_equal(rlc_model_load(&m, fixture("models/gemma3-tiny"), be), 0);
    logp_of(m, lp1);
    rlc_model_free(m);
    char *d = sub("gemma4x");
    copy_fixture("gemma3-tiny", d);
    edit_config(d, "rope_parameters", NULL);
    edit_config(d, "layer_types", NULL);
    edit_config(d, "rope_theta", cJSON_CreateNumber(1e6));
    edit_config(d, "rope_local_base_freq", cJSON_CreateNumber(1e4));
    edit_config(d, "rope_scaling", cJSON_Parse("{\"rope_type\": \"linear\", \"factor\": 4.0}"));
    edit_config(d, "sliding_window_pattern", cJSON_CreateNumber(2)); /* layers 0 and 2 slide */
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    logp_of(m, lp2);
    assert_memory_equal(lp1, lp2, sizeof lp1);
    rlc_model_free(m);
    /* the sliding layers' own rope base matters */
    edit_config(d, "rope_local_base_freq", cJSON_CreateNumber(1e6));
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    logp_of(m, lp2);
    assert_true(max_abs_diff(lp1, lp2, 11) > 1e-3);
    rlc_model_free(m);
    /* gemma-3-4b-it's config: the text_config gives only what differs from Gemma3TextConfig */
    rlc_model_config_t c;
    const char *mm = "{\"model_type\": \"gemma3\", \"architectures\": [\"Gemma3ForConditionalGeneration\"], "
                     "\"eos_token_id\": [1, 106], \"text_config\": {\"hidden_size\": 2560, \"intermediate_size\": "
                     "10240, \"model_type\": \"gemma3_text\", \"num_hidden_layers\": 34, \"rope_scaling\": "
                     "{\"factor\": 8.0, \"rope_type\": \"linear\"}, \"sliding_window\": 1024}, "
                     "\"vision_config\": {\"model_type\": \"siglip_vision_model\"}}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(mm), "mm"), 0);
    assert_true(c.multimodal);
    assert_int_equal(c.vocab_size, 262208);
    assert_int_equal(c.num_heads, 8);
    assert_int_equal(c.num_kv_heads, 4);
    assert_int_equal(c.head_dim, 256);
    assert_int_equal(c.num_layers, 34);
    assert_int_equal(c.n_eos, 2);
    assert_int_equal(c.eos_token_ids[1], 106);
    assert_true(c.tie_word_embeddings && c.qk_norm && c.post_norms && c.act == RLC_ACT_GELU_TANH);
    assert_int_equal(rlc_config_layer_window(&c, 0), 1024);
    assert_int_equal(rlc_config_layer_window(&c, 5), 0); /* every sixth layer is global */
    assert_int_equal(c.rope_type, RLC_ROPE_LINEAR);
    assert_true(c.rope_factor == 8.0 && c.rope_theta == 1e6 && c.rope_local_theta == 1e4);
    assert_true(rlc_config_attn_scale(&c) == 0.0625f && c.embed_scale == sqrtf(2560.0f));
    assert_null(cJSON_GetObjectItem(c.json, "text_config"));
    rlc_config_free(&c);
    /* Gemma 2 with keys left out takes Gemma2Config's: caps 50 and 30, every other layer sliding
     * over 4096 from the first, head_dim 256 and its scalar; null turns a cap off */
    const char *g2 = "{\"model_type\": \"gemma2\", \"attn_logit_softcapping\": null}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(g2), "g2"), 0);
    assert_true(c.attn_softcap == 0 && c.final_softcap == 30.0f && c.post_norms && !c.qk_norm);
    assert_true(c.vocab_size == 256000 && c.head_dim == 256 && c.max_position_embeddings == 8192);
    assert_true(rlc_config_layer_window(&c, 0) == 4096 && rlc_config_layer_window(&c, 1) == 0 &&
                rlc_config_layer_window(&c, 24) == 4096 && c.tie_word_embeddings && c.rope_local_theta == 0);
    assert_true(rlc_config_attn_scale(&c) == 0.0625f && c.act == RLC_ACT_GELU_TANH && c.norm_offset == 1.0f);
    rlc_config_free(&c);
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse("{\"model_type\": \"gemma2\"}"), "g2"), 0);
    assert_true(c.attn_softcap == 50.0f && c.final_softcap == 30.0f);
    rlc_config_free(&c);
    /* Gemma 3 soft-caps only when its config says so */
    const char *g3 = "{\"model_type\": \"gemma3_text\", \"final_logit_softcapping\": 25.0}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(g3), "g3"), 0);
    assert_true(c.attn_softcap == 0 && c.final_softcap == 25.0f && c.qk_norm);
    rlc_config_free(&c);
    assert_true(rlc_config_from_json(&c, cJSON_Parse("{\"model_type\": \"gemma3\"}"), "mm") < 0);
    assert_non_null(strstr(rlc_errmsg(), "without a text_config"));
    const char *refused[][3] = {{"final_logit_softcapping", "-30.0", "final_logit_softcapping = -30 must be positive"},
                                {"attn_logit_softcapping", "\"50\"", "attn_logit_softcapping"},
                                {"use_bidirectional_attention", "true", "use_bidirectional_attention"},
                                {"hidden_activation", "\"gelu\"", "hidden_activation 'gelu' is not supported"},
                                {"model_type", "\"gemma4_text\"", "model_type 'gemma4_text' is not supported"},
                                {"query_pre_attn_scalar", "0", "query_pre_attn_scalar must be positive"}};
    for (int i = 0; i < 6; i++) {
        copy_fixture("gemma3-tiny", d);
        edit_config(d, refused[i][0], cJSON_Parse(refused[i][1]));
        assert_true(rlc_model_load(&m, d, be) < 0);
        if (!strstr(rlc_errmsg(), refused[i][2])) fail_msg("%s: %s", refused[i][0], rlc_errmsg());
    }
    /* Granite's multipliers must be positive numbers */
    copy_fixture("granite-tiny", d);
    edit_config(d, "logits_scaling", cJSON_CreateNumber(-8));
    assert_true(rlc_model_load(&m, d, be) < 0);
    assert_non_null(strstr(rlc_errmsg(), "logits_scaling = -8 must be a positive number"));
    /* Ministral 3 without rope parameters takes Ministral3Config's (yarn x16 over 16384, Llama-4
     * scaling), hence a context of 16384; as a multimodal checkpoint's text model too */
    const char *m3 = "{\"model_type\": \"ministral3\", \"vocab_size\": 16, \"hidden_size\": 8, "
                     "\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                     "\"max_position_embeddings\": 262144}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(m3), "m3"), 0);
    assert_true(c.rope_type == RLC_ROPE_YARN && c.rope_factor == 16 && c.rope_original_max_pos == 16384);
    assert_true(c.max_context == 16384 && c.rope_theta == 1e6 && !c.multimodal);
    rlc_config_free(&c);
    char mm3[512];
    snprintf(mm3, sizeof mm3, "{\"model_type\": \"mistral3\", \"text_config\": %s}", m3);
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(mm3), "mm3"), 0);
    assert_true(c.multimodal && !strcmp(c.model_type, "ministral3") && c.tie_word_embeddings);
    rlc_config_free(&c);
    assert_true(rlc_config_from_json(&c, cJSON_Parse("{\"model_type\": \"mistral3\", \"text_config\": "
                                                     "{\"model_type\": \"llama\"}}"), "mm3") < 0);
    assert_non_null(strstr(rlc_errmsg(), "is 'llama', which rlc does not read"));
    fs_rm_rf(d);
    free(d);
}

/* A sliding-window model runs past its window: up to it the log-probs are those of full
 * attention bit for bit, beyond it they differ (transformers parity: test_model_parity's
 * mistral-sliding and qwen2-sliding fixtures). */
/* ERNIE 4.5's config class defaults: head_dim 128 when absent (hidden / heads when null), theta
 * 500000, tied, eps 1e-5, interleaved RoPE; use_bias puts biases on all seven projections; a
 * sliding window is refused. */
static void test_ernie_config(void **s) {
    (void)s;
    const char *base = "{\"model_type\": \"ernie4_5\", \"vocab_size\": 64, \"hidden_size\": 32, "
                       "\"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4%s}";
    const char *extra[] = {"", ", \"head_dim\": null, \"use_bias\": true", ", \"sliding_window\": 8"};
    for (int k = 0; k < 3; k++) {
        char txt[512];
        snprintf(txt, sizeof txt, base, extra[k]);
        rlc_model_config_t c;
        int rc = rlc_config_from_json(&c, cJSON_Parse(txt), "ernie");
        if (k == 2) {
            assert_true(rc < 0 && strstr(rlc_errmsg(), "ERNIE 4.5 has no sliding window"));
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(c.head_dim, k ? 8 : 128);
        assert_true(c.rope_interleaved && c.rope_theta == 500000.0 && c.tie_word_embeddings && c.rms_norm_eps == 1e-5f);
        assert_true(c.qkv_bias == k && c.o_bias == k && c.mlp_bias == k && c.num_kv_heads == 4);
        rlc_config_free(&c);
    }
}

/* GLM-4's config class defaults: head_dim 128, eps 1.5625e-7, q/k/v biases (no o_proj bias),
 * interleaved RoPE over half of each head, fused gate|up and the four norms of a layer; Seed-OSS's. */
static void test_glm4_config(void **s) {
    (void)s;
    rlc_model_config_t c;
    const char *txt = "{\"model_type\": \"glm4\", \"vocab_size\": 64, \"hidden_size\": 32, "
                      "\"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(txt), "glm4"), 0);
    assert_true(c.head_dim == 128 && c.rotary_dim == 64 && c.rope_interleaved && c.rms_norm_eps == 1.5625e-7f);
    assert_true(c.qkv_bias && !c.o_bias && !c.mlp_bias && c.fused_mlp && !c.fused_proj && c.post_norms && c.glm4_norms);
    assert_true(!c.post_only && !c.tie_word_embeddings && c.num_kv_heads == 4);
    rlc_config_free(&c);
    /* Seed-OSS's: head_dim 128, q/k/v biases, attention_out_bias (false) for o_proj */
    txt = "{\"model_type\": \"seed_oss\", \"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 48, "
          "\"num_hidden_layers\": 2, \"num_attention_heads\": 4}";
    assert_int_equal(rlc_config_from_json(&c, cJSON_Parse(txt), "seed"), 0);
    assert_true(c.head_dim == 128 && c.qkv_bias && !c.o_bias && !c.mlp_bias && c.rms_norm_eps == 1e-6f);
    rlc_config_free(&c);
}

static void test_sliding_window(void **s) {
    (void)s;
    rlc_model_t *m;
    float lp1[11], lp2[11];
    int32_t cu1[2] = {0, 11};
    rlc_batch_t b = {.n_tokens = 11, .nseq = 1, .ids = IDS, .cu_seqlens = cu1};
    rlc_fwd_opts_t o = {.inv_temp = 1};
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-tiny"), be), 0);
    assert_int_equal(rlc_model_forward(m, &b, &o, lp1, NULL, NULL), 0);
    rlc_model_free(m);
    char *d = sub("sliding");
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "use_sliding_window", cJSON_CreateTrue()); /* transformers 5 keeps layer_types */
    edit_config(d, "sliding_window", cJSON_CreateNumber(6));
    edit_config_as(d, "layer_types", NULL, "[\"sliding_attention\", \"sliding_attention\"]");
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    assert_int_equal(rlc_model_forward(m, &b, &o, lp2, NULL, NULL), 0);
    assert_memory_equal(lp1, lp2, 6 * sizeof(float)); /* positions 0..5 see all their keys */
    for (int i = 6; i < 10; i++) assert_true(lp1[i] != lp2[i]);
    rlc_model_free(m);
    fs_rm_rf(d);
    free(d);
}

static void test_bad_checkpoints(void **s) {
    (void)s;
    char *d = sub("bad"), *st = NULL, *cfg = NULL;
    char out[256];
    st = fs_join(d, "model.safetensors");
    cfg = fs_join(d, "config.json");
    /* truncated safetensors */
    copy_fixture("qwen2-tiny", d);
    assert_int_equal(test_run(out, sizeof out, "truncate -s 100000 '%s'", st), 0);
    expect_load_error(d, "beyond file end");
    /* header length beyond the file */
    copy_fixture("qwen2-tiny", d);
    assert_int_equal(test_run(out, sizeof out, "printf '\\377\\377\\377\\000' | dd of='%s' bs=1 seek=0 conv=notrunc 2>/dev/null", st), 0);
    expect_load_error(d, "header length");
    /* shape mismatch between config and weights */
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "intermediate_size", cJSON_CreateNumber(128));
    expect_load_error(d, "mlp.gate_proj.weight' has shape [160,64] but config.json implies [128,64]");
    /* missing tensor: an untied config needs lm_head.weight */
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "tie_word_embeddings", cJSON_CreateFalse());
    expect_load_error(d, "missing tensor 'lm_head.weight'");
    /* malformed config.json */
    copy_fixture("qwen2-tiny", d);
    assert_int_equal(fs_write_atomic(cfg, "{\"model_type\": \"qwen2\",", 24), 0);
    expect_load_error(d, "malformed JSON at line 1");
    /* a layer count no model has (the fuzzer's 444444444 spent half a minute in per-layer loops) */
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "num_hidden_layers", cJSON_CreateNumber(444444444));
    expect_load_error(d, "num_hidden_layers = 444444444 is more than rlc takes (4096)");
    /* config value of the wrong type */
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "hidden_size", cJSON_CreateString("64"));
    expect_load_error(d, "field 'hidden_size' must be a number");
    /* unsupported model type / activation / head grouping */
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "model_type", cJSON_CreateString("gpt2"));
    expect_load_error(d, "model_type 'gpt2' is not supported");
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "hidden_act", cJSON_CreateString("gelu"));
    expect_load_error(d, "hidden_act 'gelu'");
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "num_key_value_heads", cJSON_CreateNumber(3));
    expect_load_error(d, "not a multiple");
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "vocab_size", cJSON_CreateNumber(-5));
    expect_load_error(d, "must be positive");
    /* rope scaling: an unknown type, and yarn with impossible values */
    const char *ropes[][2] = {
        {"{\"rope_type\": \"longrope\", \"factor\": 2}", "rope type 'longrope' is not supported"},
        {"{\"rope_type\": \"yarn\", \"factor\": -4, \"original_max_position_embeddings\": 32}",
         "yarn rope needs positive factor"},
        {"{\"rope_type\": \"yarn\", \"factor\": 4, \"original_max_position_embeddings\": 0}",
         "original_max_position_embeddings > 0"},
        {"{\"rope_type\": \"yarn\", \"factor\": 4, \"attention_factor\": 0}", "attention_factor must be a positive"},
        {"{\"rope_type\": \"yarn\", \"factor\": \"4\"}", "field 'factor' must be a number"},
        /* found by fuzz_model_config: yarn's correction range divides by log(rope_theta) */
        {"{\"rope_type\": \"yarn\", \"factor\": 4, \"rope_theta\": 1.0}", "yarn rope needs rope_theta > 1"},
        {"{\"rope_type\": \"yarn\", \"factor\": 1e999}", "field 'factor' must be a finite number"},
        {"{\"rope_type\": \"linear\", \"factor\": 1e999}", "rope factor must be a positive number"},
        {"{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": -1e999, \"high_freq_factor\": 4}",
         "field 'low_freq_factor' must be a finite number"},
        {"{\"rope_type\": \"default\", \"rope_theta\": 1e999}", "field 'rope_theta' must be a finite number"},
        {"{\"rope_type\": \"llama3\", \"factor\": 8.1e-60, \"low_freq_factor\": 2, \"high_freq_factor\": 4}",
         "the rope parameters give a non-finite frequency"},
        {"{\"rope_type\": \"yarn\", \"factor\": 8, \"mscale\": 0.8, \"mscale_all_dim\": 3e51}",
         "the rope parameters give an attention factor of 0 in fp32"},
    };
    for (size_t i = 0; i < sizeof ropes / sizeof ropes[0]; i++) {
        copy_fixture("qwen2-tiny", d);
        edit_config_as(d, "rope_parameters", NULL, ropes[i][0]); /* transformers 5 spelling */
        expect_load_error(d, ropes[i][1]);
    }
    /* Phi-3: LongRoPE's factor lists (su and yarn are its older spellings there); a partial
     * rotary factor, on phi3 only */
    const char *phi[][2] = {
        {"{\"rope_type\": \"longrope\", \"short_factor\": [1], \"long_factor\": [1]}",
         "longrope short_factor must list 4 numbers"}, /* head_dim 16, partial_rotary_factor 0.5 */
        {"{\"type\": \"su\", \"short_factor\": [1, 1, 1, 1], \"long_factor\": 2}",
         "longrope long_factor must list 4 numbers"},
        {"{\"rope_type\": \"yarn\", \"short_factor\": [1, 1, 1, -1], \"long_factor\": []}",
         "longrope short_factor[3] must be a positive number"},
        {"{\"rope_type\": \"llama3\", \"factor\": 8}", "rope type 'llama3' of a phi3 model is not supported"},
        {"{\"rope_type\": \"default\", \"partial_rotary_factor\": 0.35}", "gives 5 rotary dims of 16"},
        {"{\"rope_type\": \"default\", \"partial_rotary_factor\": 0}", "must be in (0, 1]"},
    };
    for (size_t i = 0; i < sizeof phi / sizeof phi[0]; i++) {
        copy_fixture("phi3-tiny", d);
        edit_config_as(d, "rope_parameters", NULL, phi[i][0]);
        expect_load_error(d, phi[i][1]);
    }
    copy_fixture("qwen2-tiny", d);
    edit_config(d, "partial_rotary_factor", cJSON_CreateNumber(0.5));
    expect_load_error(d, "partial_rotary_factor 0.5 is supported for phi3, glm4, glm4_moe, mistral4 and minimax_m2");
    /* unknown dtype inside the weights */
    copy_fixture("qwen2-tiny", d);
    assert_int_equal(test_run(out, sizeof out, "sed -i '0,/\"F32\"/s//\"Q4K\"/' '%s'", st), 0);
    expect_load_error(d, "has dtype 'Q4K', which rlc does not read");
    /* NaN in the weights (header intact, one float overwritten) */
    copy_fixture("qwen2-tiny", d);
    assert_int_equal(test_run(out, sizeof out, "printf '\\000\\000\\300\\177' | dd of='%s' bs=1 seek=$(( $(stat -c %%s '%s') - 8 )) conv=notrunc 2>/dev/null", st, st), 0);
    expect_load_error(d, "NaN or Inf");
    /* no weights at all / no directory */
    copy_fixture("qwen2-tiny", d);
    unlink(st);
    expect_load_error(d, "no model weights (model.safetensors, pytorch_model.bin");
    char *pt = fs_join(d, "pytorch_model.bin"); /* an older checkpoint's weights, damaged */
    assert_int_equal(fs_write_atomic(pt, "PK", 2), 0);
    free(pt);
    expect_load_error(d, "pytorch_model.bin: too short for a zip archive");
    expect_load_error("/nonexistent/model", "does not exist");
    fs_rm_rf(d);
    free(st), free(cfg), free(d);
}

/* PyTorch weights (pytorch_model.bin: bf16 Parameters in one file; fp16 in two shards with an
 * index) give the log-probs of the same weights in safetensors bit for bit; with both forms
 * present, safetensors is read (as transformers prefers it). */
/* LongRoPE: rlc runs its short factors, as transformers does up to the original context, and
 * stops there: max_context is that context, a longer sequence is an error naming it. */
static void test_longrope_context(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/phi3-longrope"), be), 0);
    assert_int_equal(m->cfg.max_context, 32);
    assert_int_equal(m->cfg.max_position_embeddings, 128);
    assert_true(fabsf(rlc_config_rope_mscale(&m->cfg) - sqrtf(1.4f)) < 1e-6f); /* sqrt(1 + ln 4 / ln 32) */
    int32_t ids[33], cu[2] = {0, 33};
    for (int i = 0; i < 33; i++) ids[i] = 3 + i;
    rlc_batch_t b = {.n_tokens = 33, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1};
    float lp[33];
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), RLC_EUNSUP);
    assert_non_null(strstr(rlc_errmsg(), "longer than the model's LongRoPE original context (32)"));
    cu[1] = b.n_tokens = 32;
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), 0);
    rlc_model_free(m);
    /* Ministral 3's Llama-4 attention scaling: exactly 1 within its original context, which is
     * then the model's context */
    assert_int_equal(rlc_model_load(&m, fixture("models/ministral3-tiny"), be), 0);
    assert_int_equal(m->cfg.max_context, 32);
    cu[1] = b.n_tokens = 33;
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), RLC_EUNSUP);
    assert_non_null(strstr(rlc_errmsg(), "original context of its Llama-4 attention scaling (32)"));
    rlc_model_free(m);
}

static void test_torch_weights(void **s) {
    (void)s;
    const char *pairs[][2] = {{"llama3-tiny", "llama3-tiny-bin"}, {"llama-bias", "llama-bias-bin"}};
    for (int i = 0; i < 2; i++) {
        float a[11], b[11];
        rlc_model_t *m;
        char rel[128];
        for (int k = 0; k < 2; k++) {
            snprintf(rel, sizeof rel, "models/%s", pairs[i][k]);
            if (rlc_model_load(&m, fixture(rel), be)) fail_msg("%s: %s", pairs[i][k], rlc_errmsg());
            logp_of(m, k ? b : a);
            rlc_model_free(m);
        }
        assert_memory_equal(a, b, sizeof a);
    }
    char *d = sub("both");
    copy_fixture("llama-bias-bin", d);
    char *st = fs_join(d, "model.safetensors"), *src = fs_join(fixture("models/llama-bias"), "model.safetensors");
    char *bin = fs_join(d, "pytorch_model-00001-of-00002.bin"), out[256];
    assert_int_equal(fs_write_atomic(bin, "PK", 2), 0); /* damaged: never read */
    rlc_model_t *m;
    assert_true(rlc_model_load(&m, d, be) < 0);
    assert_non_null(strstr(rlc_errmsg(), "pytorch_model-00001-of-00002.bin: too short for a zip archive"));
    assert_int_equal(test_run(out, sizeof out, "cp '%s' '%s'", src, st), 0);
    assert_int_equal(rlc_model_load(&m, d, be), 0);
    rlc_model_free(m);
    fs_rm_rf(d);
    free(d), free(st), free(src), free(bin);
}

static void test_bad_batches(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-tiny"), be), 0);
    float lp[11];
    rlc_fwd_opts_t o = {.inv_temp = 1};
    int32_t bad_ids[3] = {1, 512, 3}, cu3[2] = {0, 3};
    rlc_batch_t b = {.n_tokens = 3, .nseq = 1, .ids = bad_ids, .cu_seqlens = cu3};
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), RLC_ERANGE);
    assert_non_null(strstr(rlc_errmsg(), "token id 512 at position 1 is out of range (vocab size 512)"));
    int32_t neg[3] = {1, -1, 3};
    b.ids = neg;
    assert_int_equal(rlc_model_forward(m, &b, &o, lp, NULL, NULL), RLC_ERANGE);
    int32_t cu_bad[3] = {0, 4, 3};
    rlc_batch_t b2 = {.n_tokens = 3, .nseq = 2, .ids = IDS, .cu_seqlens = cu_bad};
    assert_true(rlc_model_forward(m, &b2, &o, lp, NULL, NULL) < 0);
    rlc_batch_t b3 = {.n_tokens = 11, .nseq = 2, .ids = IDS, .cu_seqlens = CU};
    float dl[11] = {0};
    assert_true(rlc_model_backward(m, &b3, &o, dl, NULL, NULL, NULL, NULL) < 0); /* no training forward */
    assert_non_null(strstr(rlc_errmsg(), "needs a training forward"));
    rlc_model_free(m);
}

/* Everything a training run allocates is listed by the accounting and freed again. */
static void test_memory_accounting(void **s) {
    (void)s;
    size_t base = rlc_backend_mem_used(be);
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-tiny"), be), 0);
    size_t after_load = rlc_backend_mem_used(be);
    /* parameters (fp32 on the CPU) + rope table */
    assert_true(after_load - base >= m->n_params * 4);
    assert_true(after_load - base <= m->n_params * 4 + 4096);
    rlc_adamw_cfg_t ac = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    rlc_optim_t *o;
    assert_int_equal(rlc_optim_create(&o, m, &ac), 0);
    size_t after_opt = rlc_backend_mem_used(be);
    /* gradients + both moments, no master copy where parameters are fp32 */
    assert_int_equal(after_opt - after_load, m->n_params * 4 * 3);
    assert_null(o->master);

    /* the reservation allocates exactly the plan (blocks round up by one element each) */
    size_t plan = rlc_model_act_bytes(m, 300, 1);
    assert_true(plan > rlc_model_act_bytes(m, 299, 1));
    assert_true(rlc_model_act_bytes(m, 300, 0) < plan); /* inference keeps no per-layer state */
    assert_int_equal(rlc_model_reserve(m, 300, 1), 0);
    size_t after_res = rlc_backend_mem_used(be);
    assert_true(after_res - after_opt >= plan && after_res - after_opt <= plan + 16);
    /* a smaller batch reuses the reservation */
    float lp[11];
    logp_of(m, lp);
    assert_int_equal(rlc_backend_mem_used(be), after_res);

    /* the estimate is the largest plan within the budget */
    size_t budget = 5u << 20;
    int most = rlc_model_max_tokens(m, budget, 1);
    assert_true(most > 0);
    assert_true(rlc_model_act_bytes(m, most, 1) <= budget);
    assert_true(rlc_model_act_bytes(m, most + 1, 1) > budget);

    size_t fr = 0, tot = 0;
    assert_int_equal(rlc_backend_mem_info(be, &fr, &tot), 0);
    assert_true(tot > 0 && fr <= tot);
    rlc_backend_mem_report(be, "test");

    rlc_kv_cache_t kv;
    assert_int_equal(rlc_kv_cache_init(&kv, m, 8, 16), 0);
    assert_int_equal(rlc_backend_mem_used(be) - after_res, 8 * rlc_kv_page_bytes(m, 16));
    rlc_kv_cache_free(&kv, m);
    rlc_optim_free(o);
    rlc_model_free(m);
    assert_int_equal(rlc_backend_mem_used(be), base);
}

/* Saving downloads one tensor at a time; a failure while writing leaves no file behind. */
static int fill_fails(void *user, float *dst) {
    (void)user;
    dst[0] = 1.0f;
    return rlc_errc(RLC_EIO, "device read failed");
}

static void test_streaming_save_failure(void **s) {
    (void)s;
    char *p = sub("partial.safetensors");
    float ok[4] = {1, 2, 3, 4};
    rlc_st_wtensor_t t[2] = {{.name = "a", .dtype = RLC_DT_BF16, .ndim = 1, .shape = {4}, .f32 = ok},
                             {.name = "b", .dtype = RLC_DT_F32, .ndim = 1, .shape = {3}, .fill = fill_fails}};
    assert_int_equal(rlc_st_write(p, t, 2, NULL), RLC_EIO);
    assert_false(fs_exists(p));
    free(p);
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
        cmocka_unit_test(test_save_load_save), cmocka_unit_test(test_save_dtypes),
        cmocka_unit_test(test_value_head_roundtrip), cmocka_unit_test(test_bad_checkpoints),
        cmocka_unit_test(test_bad_batches), cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test(test_streaming_save_failure), cmocka_unit_test(test_yarn_spellings),
        cmocka_unit_test(test_sliding_config), cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_arch_configs), cmocka_unit_test(test_ernie_config),
        cmocka_unit_test(test_glm4_config),
        cmocka_unit_test(test_torch_weights),   cmocka_unit_test(test_longrope_context),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
