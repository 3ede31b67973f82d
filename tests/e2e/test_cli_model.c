/* The model-facing commands end to end through the rlc binary: logprobs against the
 * transformers reference, generate's log-probs against logprobs, eval's records and
 * summary agreeing with each other, and one-line errors with a non-zero exit. */
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"

static char out[1 << 20];

static cJSON *run_json(const char *fmt, const char *arg) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, rlc_bin(), arg);
    assert_int_equal(test_run_stdout(out, sizeof out, "%s", cmd), 0);
    cJSON *j = cJSON_Parse(out);
    if (!j) fail_msg("not JSON: %.300s", out);
    return j;
}

static void test_logprobs_vs_reference(void **s) {
    (void)s;
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, fixture("models/qwen2-tiny.ref/ref.safetensors")), 0);
    const rlc_st_tensor_t *ids = rlc_st_find(&st, "ids");
    const int32_t *iv = ids->data;
    float ref[64];
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "logp"), ref), 0);
    char idstr[512] = "";
    for (int i = 0; i < 9; i++) sprintf(idstr + strlen(idstr), "%d ", iv[i]); /* sequence 0 */
    char fmt[512];
    snprintf(fmt, sizeof fmt, "%%s logprobs --model %s --json --ids \"%%s\"", fixture("models/qwen2-tiny"));
    cJSON *j = run_json(fmt, idstr);
    cJSON *toks = cJSON_GetObjectItem(j, "tokens");
    assert_int_equal(cJSON_GetArraySize(toks), 8);
    for (int i = 0; i < 8; i++) {
        double lp = cJSON_GetObjectItem(cJSON_GetArrayItem(toks, i), "logprob")->valuedouble;
        assert_true(fabs(lp - ref[i]) < 1e-4); /* position i+1 given the prefix = ref row i */
    }
    cJSON_Delete(j);
    rlc_st_close(&st);
    test_expect_cli_error("out of range (vocab size 512)", "%s logprobs --model %s --ids \"1 2 600\"", rlc_bin(),
                 fixture("models/qwen2-tiny"));
    test_expect_cli_error("does not exist", "%s logprobs --model /nonexistent --ids \"1 2\"", rlc_bin());
    test_expect_cli_error("exactly one of", "%s logprobs --model %s", rlc_bin(), fixture("models/qwen2-tiny"));
    test_expect_cli_error("unknown option '--bogus'", "%s logprobs --bogus", rlc_bin());
}

static void test_generate_logprobs_agree(void **s) {
    (void)s;
    char fmt[512];
    snprintf(fmt, sizeof fmt,
             "%%s generate --model %s --prompt \"%%s\" --chat -n 3 --max-new-tokens 12 --seed 4 --temperature 0.8 "
             "--json",
             fixture("models/qwen2-tiny"));
    cJSON *j = run_json(fmt, "What is 12 + 35?");
    cJSON *comps = cJSON_GetObjectItem(j, "completions");
    assert_int_equal(cJSON_GetArraySize(comps), 3);
    /* the prompt ids, as generate rendered them */
    char tfmt[512];
    snprintf(tfmt, sizeof tfmt, "%%s tokenize --tokenizer %s --json --chat '%%s'", fixture("models/qwen2-tiny"));
    cJSON *tk = run_json(tfmt, "[{\"role\": \"user\", \"content\": \"What is 12 + 35?\"}]");
    cJSON *pids = tk;
    assert_true(cJSON_IsArray(pids));
    int np = cJSON_GetArraySize(pids);
    assert_int_equal(np, cJSON_GetObjectItem(j, "prompt_tokens")->valueint);
    for (int c = 0; c < 3; c++) {
        cJSON *comp = cJSON_GetArrayItem(comps, c);
        cJSON *ids = cJSON_GetObjectItem(comp, "ids"), *lps = cJSON_GetObjectItem(comp, "logprobs");
        char all[4096] = "";
        for (int i = 0; i < np; i++) sprintf(all + strlen(all), "%d ", cJSON_GetArrayItem(pids, i)->valueint);
        for (int i = 0; i < cJSON_GetArraySize(ids); i++)
            sprintf(all + strlen(all), "%d ", cJSON_GetArrayItem(ids, i)->valueint);
        char lfmt[512];
        snprintf(lfmt, sizeof lfmt, "%%s logprobs --model %s --temperature 0.8 --json --ids \"%%s\"",
                 fixture("models/qwen2-tiny"));
        cJSON *lj = run_json(lfmt, all);
        cJSON *toks = cJSON_GetObjectItem(lj, "tokens");
        for (int i = 0; i < cJSON_GetArraySize(ids); i++) {
            double a = cJSON_GetArrayItem(lps, i)->valuedouble;
            double b = cJSON_GetObjectItem(cJSON_GetArrayItem(toks, np - 1 + i), "logprob")->valuedouble;
            if (fabs(a - b) > 1e-4) fail_msg("sample %d token %d: generate %.6f vs logprobs %.6f", c, i, a, b);
        }
        cJSON_Delete(lj);
    }
    cJSON_Delete(tk);
    cJSON_Delete(j);
    test_expect_cli_error("at least 1", "%s generate --model %s --prompt hi -n 0", rlc_bin(), fixture("models/qwen2-tiny"));
    test_expect_cli_error("temperature must be >= 0", "%s generate --model %s --prompt hi --temperature -1", rlc_bin(),
                 fixture("models/qwen2-tiny"));
}

/* --prompts rows: messages whose content is a list of text parts give what the same text
 * as a string gives; ids that are not integers are refused, naming the line. */
static void test_generate_prompt_rows(void **s) {
    (void)s;
    char *d = test_tmpdir(), *f = fs_join(d, "p.jsonl");
    const char *rows = "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"What is\"}, "
                       "{\"type\": \"text\", \"text\": \"2 + 2?\"}]}]}\n"
                       "{\"messages\": [{\"role\": \"user\", \"content\": \"What is\\n2 + 2?\"}]}\n";
    assert_int_equal(fs_write_atomic(f, rows, strlen(rows)), 0);
    assert_int_equal(test_run_stdout(out, sizeof out, "%s generate --model %s --prompts %s --max-new-tokens 6 "
                                     "--temperature 0 --json", rlc_bin(), fixture("models/qwen2-tiny"), f), 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = 0;
    cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(nl + 1);
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(cJSON_GetObjectItem(a, "prompt_tokens")->valueint, cJSON_GetObjectItem(b, "prompt_tokens")->valueint);
    cJSON *ia = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "completions"), 0), "ids");
    cJSON *ib = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "completions"), 0), "ids");
    assert_true(cJSON_GetArraySize(ia) > 0);
    assert_true(cJSON_Compare(ia, ib, 1));
    cJSON_Delete(a), cJSON_Delete(b);
    const char *bad[][2] = {{"{\"ids\": [1, 2.5]}\n", "'.5]' is not a token id"},
                            {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}]}]}\n",
                             "a content part is not text"}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fs_write_atomic(f, bad[i][0], strlen(bad[i][0])), 0);
        test_expect_cli_error(bad[i][1], "%s generate --model %s --prompts %s --max-new-tokens 2", rlc_bin(),
                              fixture("models/qwen2-tiny"), f);
    }
    remove(f);
    rmdir(d);
    free(f), free(d);
}

static void test_eval(void **s) {
    (void)s;
    char *d = test_tmpdir();
    char *rec = fs_join(d, "r.jsonl");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s eval --model %s --data %s --samples 3 --max-new-tokens 8 --temperature 1 --out %s > /dev/null 2>&1",
             rlc_bin(), fixture("models/qwen2-tiny"), fixture("math/math500_sample.jsonl"), rec);
    char log[8192];
    if (test_run(log, sizeof log, "%s", cmd)) fail_msg("%s failed: %s", cmd, log);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, rec), 0);
    cJSON *row;
    int items = 0, correct = 0, samples = 0;
    while (rlc_jsonl_next(&r, &row) > 0) {
        items++;
        cJSON *comps = cJSON_GetObjectItem(row, "completions");
        assert_int_equal(cJSON_GetArraySize(comps), 3);
        int c = 0;
        for (cJSON *x = comps->child; x; x = x->next) {
            samples++;
            c += cJSON_IsTrue(cJSON_GetObjectItem(x, "correct"));
        }
        assert_int_equal(cJSON_GetObjectItem(row, "correct")->valueint, c);
        correct += c;
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    assert_int_equal(items, 12);
    char sp[1024];
    snprintf(sp, sizeof sp, "%s.summary.json", rec);
    cJSON *sum = rlc_json_load_file(sp);
    assert_non_null(sum);
    assert_int_equal(cJSON_GetObjectItem(sum, "items")->valueint, 12);
    assert_true(fabs(cJSON_GetObjectItem(sum, "pass@1")->valuedouble - (double)correct / samples) < 1e-9);
    assert_non_null(cJSON_GetObjectItem(sum, "maj@3"));
    assert_non_null(cJSON_GetObjectItem(sum, "by_subject"));
    cJSON_Delete(sum);
    /* malformed lines: reported with their line numbers and skipped, or fatal with --strict */
    char *rec2 = fs_join(d, "m.jsonl");
    char buf[8192];
    snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --max-new-tokens 4 --out %s", rlc_bin(),
             fixture("models/qwen2-tiny"), fixture("math/malformed.jsonl"), rec2);
    assert_int_equal(test_run(buf, sizeof buf, "%s", cmd), 0);
    assert_non_null(strstr(buf, "malformed.jsonl:2:"));
    assert_non_null(strstr(buf, "skipped"));
    test_expect_cli_error("malformed.jsonl:2:", "%s --strict", cmd);
    test_expect_cli_error("unknown prompt template 'nope'", "%s eval --model %s --data %s --out %s --template nope", rlc_bin(),
                 fixture("models/qwen2-tiny"), fixture("math/math500_sample.jsonl"), rec2);
    fs_rm_rf(d);
    free(rec), free(rec2), free(d);
}

static void test_info(void **s) {
    (void)s;
    cJSON *j = run_json("%s info --json%s", "");
    assert_string_equal(cJSON_GetObjectItem(j, "version")->valuestring, "0.1.0");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "backends")));
    const cJSON *isa = cJSON_GetObjectItem(j, "cpu_isa"), *model = cJSON_GetObjectItem(j, "cpu_model");
    assert_true(cJSON_IsString(isa) && cJSON_IsString(model) && model->valuestring[0]);
    assert_true(!strcmp(isa->valuestring, "avx512") || !strcmp(isa->valuestring, "avx2") ||
                !strcmp(isa->valuestring, "portable"));
    cJSON_Delete(j);
    /* RLC_CPU_ISA lowers the path */
    j = run_json("RLC_CPU_ISA=portable %s info --json%s", "");
    assert_string_equal(cJSON_GetObjectItem(j, "cpu_isa")->valuestring, "portable");
    cJSON_Delete(j);
    /* --model: a checkpoint's summary without loading it */
    j = run_json("%s info --json --model %s", fixture("models/phi3-longrope"));
#define JN(k) cJSON_GetObjectItem(j, k)->valuedouble
#define JS(k) cJSON_GetObjectItem(j, k)->valuestring
    assert_string_equal(JS("model_type"), "phi3");
    assert_true(JN("layers") == 2 && JN("heads") == 4 && JN("kv_heads") == 2 && JN("head_dim") == 16);
    assert_true(JN("context") == 32 && JN("max_position_embeddings") == 128 && JN("rotary_dim") == 12);
    assert_string_equal(JS("rope"), "longrope");
    assert_string_equal(JS("weights_format"), "safetensors");
    assert_string_equal(JS("tokenizer"), "none");
    cJSON_Delete(j);
    j = run_json("%s info --json --model %s", fixture("models/gemma3-mm")); /* a multimodal Gemma 3 */
    assert_string_equal(JS("model_type"), "gemma3_text");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "multimodal")));
    assert_true(JN("rope_theta") == 1e6 && JN("rope_local_theta") == 1e4 && JN("vocab") == 300);
    cJSON_Delete(j);
    j = run_json("%s info --json --model %s", fixture("models/llama-bias-bin"));
    assert_string_equal(JS("weights_format"), "pytorch");
    assert_true(JN("weight_files") == 2 && JN("tensors") == 35);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tensor_dtypes"), "F16")->valuedouble == 35);
    cJSON_Delete(j);
    j = run_json("%s info --json --model %s", fixture("models/qwen2-sliding"));
    assert_string_equal(JS("sliding"), "window 6 in 1 of 2 layers");
    cJSON_Delete(j);
    j = run_json("%s info --json --model %s", fixture("models/qwen2-tiny"));
    assert_true(JN("parameters") == 119360 && JN("tokenizer_vocab") == 512);
    assert_string_equal(JS("tokenizer"), "bpe");
    cJSON_Delete(j);
    /* a mixture of experts: two sparse layers of 8 experts (width 32, 2 per token) around a dense one */
    j = run_json("%s info --json --model %s", fixture("models/qwen3moe-tiny"));
    assert_true(JN("experts") == 8 && JN("experts_per_token") == 2 && JN("expert_ffn") == 32);
    assert_true(JN("sparse_layers") == 2);
    assert_true(JN("parameters") == 187936 && JN("active_parameters") == 187936 - 2 * 6 * 3 * 32 * 64);
    assert_string_equal(JS("routing"), "softmax");
    cJSON_Delete(j);
    /* GLM-4.5: sigmoid routing within groups, a shared expert (2 x 16 wide) */
    j = run_json("%s info --json --model %s", fixture("models/glm4moe-tiny"));
    assert_string_equal(JS("routing"),
                        "sigmoid scores with a correction bias, the best 2 of 4 expert groups, weights x2.5");
    assert_true(JN("shared_expert_ffn") == 32 && JN("parameters") == 111424 &&
                JN("active_parameters") == 111424 - 2 * 5 * 3 * 16 * 48);
    cJSON_Delete(j);
#undef JN
#undef JS
    assert_int_equal(test_run_stdout(out, sizeof out, "%s info --model %s", rlc_bin(), fixture("models/qwen2-tiny")), 0);
    assert_non_null(strstr(out, "shape: 2 layers, hidden 64, 4 heads (2 kv, head_dim 16)"));
    test_expect_cli_error("does not exist", "%s info --model /nonexistent", rlc_bin());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logprobs_vs_reference),
        cmocka_unit_test(test_generate_logprobs_agree), cmocka_unit_test(test_generate_prompt_rows),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
