/* `rlc tts` end to end on the tiny fixture model: a sweep over N = 1,2,4 with an outcome
 * reward model made by `rlc init-model` (the qwen2-score fixture's head fits, 1 label, but
 * its vocabulary of 256 cannot read qwen2-tiny's token ids: that is checked as an error);
 * the JSON summary agrees with its per-sample records; bad input gives one error line, a
 * non-zero exit and no output files. */
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"



static int exists(const char *p) { return access(p, F_OK) == 0; }

static void test_tts(void **s) {
    (void)s;
    char *d = test_tmpdir();
    char *data = fs_join(d, "d.jsonl"), *orm_cfg = fs_join(d, "orm.json"), *orm = fs_join(d, "orm");
    char *js = fs_join(d, "s.json"), *svg = fs_join(d, "p.svg");
    test_write_sum_problems(data, 4);
    /* the ORM: qwen2-tiny's architecture with a 1-label token-classification head */
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    assert_non_null(cfg);
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    char *txt = cJSON_Print(cfg);
    assert_int_equal(fs_write_atomic(orm_cfg, txt, strlen(txt)), 0);
    free(txt);
    cJSON_Delete(cfg);
    char log[8192];
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --seed 7", rlc_bin(), orm_cfg, orm))
        fail_msg("init-model: %s", log);
    const char *model = fixture("models/qwen2-tiny");
    if (test_run(log, sizeof log,
                 "%s tts --model %s --data %s --n 1,2,4 --max-new-tokens 12 --temperature 1 --seed 3 --orm %s "
                 "--out %s --plot %s",
                 rlc_bin(), model, data, orm, js, svg))
        fail_msg("tts: %s", log);
    assert_non_null(strstr(log, "| N | pass@N | majority@N | best-of-N | weighted maj@N | tokens | FLOPs |"));
    cJSON *j = rlc_json_load_file(js);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "problems")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(j, "n_max")->valueint, 4);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "orm")));
    double pp = cJSON_GetObjectItem(j, "policy_params")->valuedouble, op = cJSON_GetObjectItem(j, "orm_params")->valuedouble;
    assert_true(pp > 0 && op > 0);
    /* per-sample records: sums over the first N samples, first-sample accuracy, mean correctness */
    const cJSON *items = cJSON_GetObjectItem(j, "items");
    assert_int_equal(cJSON_GetArraySize(items), 4);
    long tok[3] = {0}, otok[3] = {0};
    const int ns[3] = {1, 2, 4};
    double first = 0, mean = 0;
    for (const cJSON *it = items->child; it; it = it->next) {
        const cJSON *ss = cJSON_GetObjectItem(it, "samples");
        int pl = cJSON_GetObjectItem(it, "prompt_tokens")->valueint;
        assert_int_equal(cJSON_GetArraySize(ss), 4);
        int i = 0;
        for (const cJSON *x = ss->child; x; x = x->next, i++) {
            int t = cJSON_GetObjectItem(x, "tokens")->valueint, c = cJSON_IsTrue(cJSON_GetObjectItem(x, "correct"));
            assert_true(t >= 1 && t <= 12);
            assert_true(cJSON_IsNumber(cJSON_GetObjectItem(x, "score")));
            for (int k = 0; k < 3; k++)
                if (i < ns[k]) tok[k] += t, otok[k] += pl + t;
            if (i == 0) first += c;
            mean += c;
        }
    }
    const cJSON *pts = cJSON_GetObjectItem(j, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 3);
    double prev = -1;
    for (int k = 0; k < 3; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        double pass = cJSON_GetObjectItem(p, "pass")->valuedouble;
        assert_int_equal(cJSON_GetObjectItem(p, "n")->valueint, ns[k]);
        assert_true(pass >= prev - 1e-12 && pass <= 1); /* pass@N non-decreasing in N */
        prev = pass;
        const char *acc[] = {"majority", "best_of_n", "weighted_majority"};
        for (int m = 0; m < 3; m++) {
            double v = cJSON_GetObjectItem(p, acc[m])->valuedouble;
            assert_true(v >= 0 && v <= 1);
            if (k == 0) assert_true(fabs(v - first / 4) < 1e-12); /* @1 all pick the first sample */
            if (k == 2) assert_true(v <= pass + 1e-12);           /* a pick is right only if some sample is */
        }
        if (k == 0) assert_true(fabs(pass - mean / 16) < 1e-12); /* pass@1 = mean correctness */
        assert_int_equal((long)cJSON_GetObjectItem(p, "tokens")->valuedouble, tok[k]);
        assert_int_equal((long)cJSON_GetObjectItem(p, "orm_tokens")->valuedouble, otok[k]);
        double fl = cJSON_GetObjectItem(p, "flops")->valuedouble;
        assert_true(fabs(fl - (2 * pp * tok[k] + 2 * op * otok[k])) < 1e-6 * fl);
    }
    cJSON_Delete(j);
    char *sv = NULL;
    size_t svn = 0;
    assert_int_equal(fs_read_all(svg, &sv, &svn), 0);
    assert_true(svn > 100 && !strncmp(sv, "<?xml", 5) && strstr(sv, "</svg>"));
    free(sv);
    /* without an ORM: no ORM columns */
    if (test_run(log, sizeof log, "%s tts --model %s --data %s --n 2 --max-new-tokens 4", rlc_bin(), model, data))
        fail_msg("tts: %s", log);
    assert_non_null(strstr(log, "| N | pass@N | majority@N | tokens | FLOPs |"));
    /* bad input: one line, non-zero exit, no output written */
    unlink(js), unlink(svg);
    char *bad = fs_join(d, "bad.jsonl");
    FILE *f = fopen(bad, "w");
    fprintf(f, "{\"problem\": \"Compute 1 + 1.\", \"answer\": \"2\"}\n{\"problem\": broken\n");
    fclose(f);
    const char *outs = "--out %s --plot %s";
    char o[2048];
    snprintf(o, sizeof o, outs, js, svg);
    test_expect_cli_error("bad.jsonl:2", "%s tts --model %s --data %s --strict --max-new-tokens 4 %s", rlc_bin(), model, bad, o);
    test_expect_cli_error("--n must be", "%s tts --model %s --data %s --n 0 %s", rlc_bin(), model, data, o);
    test_expect_cli_error("--n must be", "%s tts --model %s --data %s --n 4,2 %s", rlc_bin(), model, data, o);
    test_expect_cli_error("unknown option '--bogus'", "%s tts --model %s --data %s --bogus %s", rlc_bin(), model, data, o);
    test_expect_cli_error("does not exist", "%s tts --model %s/missing --data %s %s", rlc_bin(), d, data, o);
    test_expect_cli_error("1 label", "%s tts --model %s --data %s --orm %s --max-new-tokens 4 %s", rlc_bin(), model, data,
                 model, o);
    test_expect_cli_error("out of range (vocab size 256)", "%s tts --model %s --data %s --orm %s --max-new-tokens 4 %s",
                 rlc_bin(), model, data, fixture("models/qwen2-score"), o);
    assert_false(exists(js));
    assert_false(exists(svg));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(bad), free(data), free(orm_cfg), free(orm), free(js), free(svg), free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
