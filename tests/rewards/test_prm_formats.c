/* The qwen (Qwen2.5-Math-PRM) and skywork (Skywork PRM) process-reward formats against
 * transformers: per-step scores of tiny checkpoints with the published layouts (built by
 * scripts/make_prm_fixtures.py: config with custom-code fields, MLP / value heads, their
 * tokenizers) equal the reference within 1e-4, through rlc_prm_score with the policy's
 * token ids; the step lists match each format's split; wrong checkpoints are refused. */
#include "testutil.h"

#include "core/err.h"
#include "core/json.h"
#include "rewards/prm_formats.h"
#include "rewards/rm.h"

static rlc_backend_t *be;
static tok_t *policy_tok;

static int setup(void **s) {
    (void)s;
    return rlc_backend_create(&be, "cpu", 0, 2) || tok_load(&policy_tok, fixture("models/qwen2-tiny")) ? -1 : 0;
}

static int teardown(void **s) {
    (void)s;
    tok_free(policy_tok);
    rlc_backend_destroy(be);
    return 0;
}

static void check_format(const char *name, int format) {
    char dir[256], ref[256];
    snprintf(dir, sizeof dir, "%s", fixture(name));
    snprintf(ref, sizeof ref, "%s.ref/prm.json", dir);
    rlc_prm_t p;
    if (rlc_prm_open(&p, "--prm", dir, format, be)) fail_msg("open %s: %s", name, rlc_errmsg());
    cJSON *j = rlc_json_load_file(ref);
    assert_non_null(j);
    int cases = 0, total_steps = 0;
    int32_t prompt[1] = {5};
    for (const cJSON *c = cJSON_GetObjectItem(j, "cases")->child; c; c = c->next, cases++) {
        const char *q = cJSON_GetObjectItem(c, "question")->valuestring;
        const char *sol = cJSON_GetObjectItem(c, "solution")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "scores");
        int32_t *ids = NULL;
        int n = 0;
        assert_int_equal(tok_encode(policy_tok, sol, strlen(sol), 0, &ids, &n), 0);
        float *sc = NULL;
        int ns = -1;
        long read = -1;
        if (rlc_prm_score(&p, policy_tok, q, prompt, 1, ids, n, &sc, &ns, &read)) fail_msg("%s: %s", name, rlc_errmsg());
        assert_int_equal(ns, cJSON_GetArraySize(want));
        assert_int_equal(ns, rlc_prm_steps(format, sol, strlen(sol), NULL, NULL, 0));
        assert_true(ns ? read > 0 : read == 0);
        int k = 0;
        for (const cJSON *w = want->child; w; w = w->next, k++) {
            if (fabs(sc[k] - w->valuedouble) > 1e-4)
                fail_msg("%s case %d step %d: %.6f vs transformers %.6f", name, cases, k, sc[k], w->valuedouble);
        }
        total_steps += ns;
        free(sc);
        free(ids);
    }
    assert_true(cases >= 4 && total_steps >= 6);
    cJSON_Delete(j);
    rlc_prm_close(&p);
}

static void test_qwen(void **s) {
    (void)s;
    check_format("models/qwen-prm-tiny", RLC_PRM_QWEN);
}

static void test_skywork(void **s) {
    (void)s;
    check_format("models/skywork-prm-tiny", RLC_PRM_SKYWORK);
}

static void test_refused(void **s) {
    (void)s;
    rlc_prm_t p;
    /* a causal LM is not a qwen PRM; a qwen PRM is not a skywork one (no v_head) */
    assert_int_not_equal(rlc_prm_open(&p, "--prm", fixture("models/qwen2-tiny"), RLC_PRM_QWEN, be), 0);
    assert_non_null(strstr(rlc_errmsg(), "Qwen2ForProcessRewardModel"));
    rlc_prm_close(&p);
    assert_int_not_equal(rlc_prm_open(&p, "--prm", fixture("models/qwen-prm-tiny"), RLC_PRM_SKYWORK, be), 0);
    assert_non_null(strstr(rlc_errmsg(), "v_head.summary.weight"));
    rlc_prm_close(&p);
    /* a generic PRM needs a linear score head; the qwen checkpoint has none */
    assert_int_not_equal(rlc_prm_open(&p, "--prm", fixture("models/qwen-prm-tiny"), RLC_PRM_GENERIC, be), 0);
    rlc_prm_close(&p);
    int f;
    assert_int_equal(rlc_prm_format_parse("qwen", &f), 0);
    assert_int_equal(f, RLC_PRM_QWEN);
    assert_int_equal(rlc_prm_format_parse("skywork", &f), 0);
    assert_int_equal(f, RLC_PRM_SKYWORK);
    assert_int_not_equal(rlc_prm_format_parse("bogus", &f), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_qwen), cmocka_unit_test(test_skywork),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
