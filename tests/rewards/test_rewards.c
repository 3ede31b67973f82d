/* Reward interface tests: creation from config (defaults, options, unknown keys/kinds),
 * the math, format and countdown rewards on rollout views, the weighted combiner with dense
 * per-token terms, metrics, and the evaluation summary arithmetic (pass@k, maj@K). */
#include <math.h>

#include "core/err.h"
#include "core/log.h"
#include "rewards/builtin.h"
#include "rewards/evalsum.h"
#include "rewards/reward.h"
#include "testutil.h"

static cJSON *meta_answer(const char *ans) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "answer", ans);
    return m;
}

static rlc_rollout_t ro(const char *completion, const cJSON *meta) {
    rlc_rollout_t r;
    memset(&r, 0, sizeof r);
    r.prompt = "Q";
    r.completion = completion;
    r.meta = meta;
    return r;
}

static rlc_reward_t *make(const char *json) {
    rlc_reward_t *r = NULL;
    int rc = rlc_reward_create_str(json, &r);
    if (rc) fprintf(stderr, "create(%s): %s\n", json, rlc_errmsg());
    assert_int_equal(rc, 0);
    return r;
}

static void test_math_reward(void **state) {
    (void)state;
    cJSON *m = meta_answer("\\frac{1}{2}");
    rlc_rollout_t b[4] = {ro("so \\boxed{0.5}", m), ro("so \\boxed{2}", m), ro("no idea", m), ro("#### 1/2", m)};
    rlc_reward_t *r = make("{\"name\": \"math\"}");
    assert_string_equal(r->kind, "math");
    float out[4];
    rlc_metrics_t ms = {0};
    assert_int_equal(rlc_reward_score(r, NULL, b, 4, out, NULL, &ms), 0);
    assert_true(out[0] == 1.0f && out[1] == 0.0f && out[2] == 0.0f && out[3] == 1.0f);
    double v;
    assert_int_equal(rlc_metrics_get(&ms, "accuracy", &v), 0);
    assert_true(fabs(v - 0.5) < 1e-12);
    assert_int_equal(rlc_metrics_get(&ms, "extracted_rate", &v), 0);
    assert_true(fabs(v - 0.75) < 1e-12);
    assert_int_equal(rlc_metrics_get(&ms, "nope", &v), 1);
    rlc_reward_free(r);
    /* ±1 rewards, boxed-only extraction, a separate value for "no answer" */
    r = make("{\"name\": \"math\", \"options\": {\"correct\": 1, \"wrong\": -1, \"no_answer\": -2, \"extract\": [\"boxed\"]}}");
    assert_int_equal(rlc_reward_score(r, NULL, b, 4, out, NULL, NULL), 0);
    assert_true(out[0] == 1.0f && out[1] == -1.0f && out[2] == -2.0f && out[3] == -2.0f);
    rlc_reward_free(r);
    /* truncated completions can be forced wrong; answers after </think> only */
    r = make("{\"name\": \"math\", \"options\": {\"truncated_wrong\": true, \"after_think\": true}}");
    rlc_rollout_t t[2] = {ro("\\boxed{0.5}", m), ro("<think>\\boxed{0.5}</think> so \\boxed{3}", m)};
    t[0].finish = RLC_FINISH_LENGTH;
    assert_int_equal(rlc_reward_score(r, NULL, t, 2, out, NULL, NULL), 0);
    assert_true(out[0] == 0.0f && out[1] == 0.0f);
    rlc_reward_free(r);
    /* a thinking model that never closed </think> is unfinished, even with a right box inside */
    r = make("{\"name\": \"math\", \"options\": {\"after_think\": true, \"require_think_close\": true, "
             "\"no_answer\": -1}}");
    rlc_rollout_t th[4] = {ro("<think>so \\boxed{0.5}", m), ro("<think>hmm</think> \\boxed{0.5}", m),
                           ro("\\boxed{0.5}", m), ro("so \\boxed{0.5}", m)};
    th[3].prompt = "<｜User｜>q<｜Assistant｜><think>\n"; /* R1: the prompt opens the block */
    assert_int_equal(rlc_reward_score(r, NULL, th, 4, out, NULL, NULL), 0);
    assert_true(out[0] == -1.0f && out[1] == 1.0f && out[2] == 1.0f && out[3] == -1.0f);
    rlc_reward_free(r);
    r = make("{\"name\": \"math\", \"options\": {\"after_think\": true}}"); /* without it: graded as a whole */
    assert_int_equal(rlc_reward_score(r, NULL, th, 1, out, NULL, NULL), 0);
    assert_true(out[0] == 1.0f);
    rlc_reward_free(r);
    /* gold answers may be numbers (AIME) and under another key */
    cJSON *m2 = cJSON_CreateObject();
    cJSON_AddNumberToObject(m2, "gold", 204);
    r = make("{\"name\": \"math\", \"options\": {\"answer_key\": \"gold\"}}");
    rlc_rollout_t u = ro("\\boxed{204}", m2);
    assert_int_equal(rlc_reward_score(r, NULL, &u, 1, out, NULL, NULL), 0);
    assert_true(out[0] == 1.0f);
    /* a rollout without its gold answer is an error naming it */
    rlc_rollout_t nog = ro("\\boxed{1}", m);
    assert_true(rlc_reward_score(r, NULL, &nog, 1, out, NULL, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "gold"));
    rlc_reward_free(r);
    cJSON_Delete(m2);
    cJSON_Delete(m);
    rlc_metrics_free(&ms);
}

static void test_config_errors(void **state) {
    (void)state;
    rlc_reward_t *r;
    assert_true(rlc_reward_create_str("{\"name\": \"mathh\"}", &r) < 0);
    assert_non_null(strstr(rlc_errmsg(), "unknown reward 'mathh'"));
    assert_null(r);
    assert_true(rlc_reward_create_str("{\"name\": \"math\", \"wieght\": 1}", &r) < 0);
    assert_non_null(strstr(rlc_errmsg(), "wieght"));
    assert_true(rlc_reward_create_str("{\"name\": \"math\", \"options\": {\"corect\": 1}}", &r) < 0);
    assert_non_null(strstr(rlc_errmsg(), "corect"));
    assert_true(rlc_reward_create_str("{\"name\": \"math\", \"options\": {\"extract\": \"boxd\"}}", &r) < 0);
    assert_true(rlc_reward_create_str("{\"name\": \"format\", \"options\": {\"require\": \"xml\"}}", &r) < 0);
    assert_true(rlc_reward_create_str("{\"name\": \"math\", \"options\": [1]}", &r) < 0);
    assert_true(rlc_reward_create_str("[]", &r) < 0);
    assert_true(rlc_reward_create_str("[{\"name\": \"math\"}, {\"name\": \"nope\"}]", &r) < 0);
    assert_non_null(strstr(rlc_errmsg(), "[1]"));
    assert_true(rlc_reward_create_str("{\"weight\": 1}", &r) < 0);
    assert_true(rlc_reward_create_str("{bad json", &r) < 0);
    assert_true(rlc_reward_create_str("{\"name\": \"math\", \"weight\": \"x\"}", &r) < 0);
    /* every registered kind is constructible with defaults, but http, which needs its url,
     * and prm, which needs its model */
    for (const rlc_reward_kind_t *k = rlc_reward_kinds; k->kind; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", k->kind);
        int http = !strcmp(k->kind, "http");
        if (http || !strcmp(k->kind, "prm")) {
            assert_true(rlc_reward_create(c, &r) < 0);
            assert_non_null(strstr(rlc_errmsg(), http ? "url" : "model"));
            cJSON_Delete(c);
            continue;
        }
        assert_int_equal(rlc_reward_create(c, &r), 0);
        rlc_reward_free(r);
        cJSON_Delete(c);
    }
}

static void test_format(void **state) {
    (void)state;
    struct {
        const char *req, *text;
        int ok;
    } cases[] = {
        {"boxed", "x \\boxed{3}", 1},
        {"boxed", "x = 3", 0},
        {"boxed", "\\boxed{}", 0},
        {"answer_line", "steps\nAnswer: 42\n", 1},
        {"answer_line", "Answer: 42\nmore text", 0},
        {"answer_line", "steps\nAnswer:", 0},
        {"think", "reasoning</think> so \\boxed{2}", 1},
        {"think", "<think>reasoning</think> so \\boxed{2}", 1},
        {"think", "reasoning \\boxed{2}</think>", 0},
        {"think", "a</think>b</think>\\boxed{2}", 0},
        {"think", "no tags \\boxed{2}", 0},
        {"answer_tag", "<think>x</think><answer>5</answer>", 1},
        {"answer_tag", "<answer></answer>", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ok = -1;
        assert_int_equal(rlc_format_ok(cases[i].text, cases[i].req, &ok), 0);
        if (ok != cases[i].ok) fprintf(stderr, "format %s on [%s]: got %d\n", cases[i].req, cases[i].text, ok);
        assert_int_equal(ok, cases[i].ok);
    }
    rlc_reward_t *r = make("{\"name\": \"format\", \"options\": {\"require\": \"answer_line\", \"ok\": 0.5, \"bad\": -0.5}}");
    rlc_rollout_t b[2] = {ro("x\nAnswer: 3", NULL), ro("x", NULL)};
    float out[2];
    rlc_metrics_t ms = {0};
    assert_int_equal(rlc_reward_score(r, NULL, b, 2, out, NULL, &ms), 0);
    assert_true(out[0] == 0.5f && out[1] == -0.5f);
    double v;
    assert_int_equal(rlc_metrics_get(&ms, "format_ok", &v), 0);
    assert_true(fabs(v - 0.5) < 1e-12);
    rlc_reward_free(r);
    rlc_metrics_free(&ms);
}

static void test_countdown_reward(void **state) {
    (void)state;
    cJSON *m = cJSON_Parse("{\"numbers\": [3, 7, 25, 50], \"target\": 54}");
    rlc_rollout_t b[5] = {ro("\\boxed{(25 - 7) * 3}", m), ro("\\boxed{(25 - 7) \\times 3 = 54}", m),
                          ro("\\boxed{50 + 3}", m), ro("\\boxed{25+25+3+1}", m), ro("I give up", m)};
    rlc_reward_t *r = make("{\"name\": \"countdown\", \"options\": {\"format_score\": 0.1}}");
    float out[5];
    assert_int_equal(rlc_reward_score(r, NULL, b, 5, out, NULL, NULL), 0);
    assert_true(out[0] == 1.0f && out[1] == 1.0f);
    assert_true(fabsf(out[2] - 0.1f) < 1e-6f && fabsf(out[3] - 0.1f) < 1e-6f);
    assert_true(out[4] == 0.0f);
    cJSON *bad = cJSON_Parse("{\"answer\": \"3\"}");
    rlc_rollout_t nb = ro("\\boxed{3}", bad);
    assert_true(rlc_reward_score(r, NULL, &nb, 1, out, NULL, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "numbers"));
    rlc_reward_free(r);
    cJSON_Delete(m);
    cJSON_Delete(bad);
}

/* A test-only reward kind is not registrable (no global state); instead check the combiner
 * with the built-ins and dense per-token output plumbing. */
static void test_combined(void **state) {
    (void)state;
    rlc_reward_t *r = make("[{\"name\": \"math\", \"weight\": 1.0},"
                           " {\"name\": \"fmt\", \"kind\": \"format\", \"weight\": 0.25, \"options\": {\"bad\": -1}}]");
    assert_string_equal(r->kind, "sum");
    assert_string_equal(r->name, "math+fmt");
    cJSON *m = meta_answer("6");
    int32_t toks[3] = {1, 2, 3};
    rlc_rollout_t b[3] = {ro("\\boxed{6}", m), ro("\\boxed{7}", m), ro("6", m)};
    for (int i = 0; i < 3; i++) b[i].tokens = toks, b[i].n_tokens = 3;
    float out[3], t0[3] = {0}, t1[3] = {0}, t2[3] = {0};
    float *tok[3] = {t0, t1, t2};
    rlc_metrics_t ms = {0};
    assert_int_equal(rlc_reward_score(r, NULL, b, 3, out, tok, &ms), 0);
    assert_true(fabsf(out[0] - 1.25f) < 1e-6f);
    assert_true(fabsf(out[1] - 0.25f) < 1e-6f);
    assert_true(fabsf(out[2] + 0.25f) < 1e-6f); /* no boxed: math 0, format -1 * 0.25 */
    for (int i = 0; i < 3; i++) assert_true(t0[i] == 0 && t1[i] == 0 && t2[i] == 0); /* no dense terms here */
    double v;
    assert_int_equal(rlc_metrics_get(&ms, "reward/math", &v), 0);
    assert_true(fabs(v - 1.0 / 3) < 1e-9);
    assert_int_equal(rlc_metrics_get(&ms, "reward/fmt", &v), 0);
    assert_true(fabs(v - (1 + 1 - 1) / 3.0) < 1e-9);
    assert_int_equal(rlc_metrics_get(&ms, "format_ok", &v), 0);
    cJSON *j = rlc_metrics_json(&ms);
    assert_non_null(cJSON_GetObjectItem(j, "accuracy"));
    cJSON_Delete(j);
    /* merge adds counts */
    rlc_metrics_t m2 = {0};
    rlc_metrics_add(&m2, "accuracy", 1.0);
    assert_int_equal(rlc_metrics_merge(&m2, &ms), 0);
    assert_int_equal(rlc_metrics_get(&m2, "accuracy", &v), 0);
    assert_true(fabs(v - 2.0 / 4) < 1e-9); /* (1 + 1 + 0 + 0) / 4 */
    rlc_metrics_free(&m2);
    rlc_metrics_free(&ms);
    /* argument validation */
    rlc_rollout_t nul = ro(NULL, m);
    assert_true(rlc_reward_score(r, NULL, &nul, 1, out, NULL, NULL) < 0);
    assert_true(rlc_reward_score(r, NULL, NULL, 2, out, NULL, NULL) < 0);
    assert_int_equal(rlc_reward_score(r, NULL, NULL, 0, NULL, NULL, NULL), 0);
    rlc_reward_free(r);
    cJSON_Delete(m);
}

static double binom(int n, int k) {
    double v = 1;
    for (int i = 1; i <= k; i++) v = v * (n - k + i) / i;
    return v;
}

static void test_pass_at_k(void **state) {
    (void)state;
    /* hand-computed: n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5 */
    assert_true(fabs(rlc_pass_at_k(4, 1, 2) - 0.5) < 1e-12);
    /* n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7 */
    assert_true(fabs(rlc_pass_at_k(5, 2, 2) - 0.7) < 1e-12);
    assert_true(fabs(rlc_pass_at_k(10, 3, 1) - 0.3) < 1e-12); /* pass@1 = c/n */
    assert_true(rlc_pass_at_k(4, 0, 2) == 0.0);
    assert_true(rlc_pass_at_k(4, 3, 2) == 1.0); /* n - c < k */
    assert_true(isnan(rlc_pass_at_k(4, 1, 5)));
    assert_true(isnan(rlc_pass_at_k(4, 5, 1)));
    /* the product form equals the binomial ratio */
    for (int n = 1; n <= 20; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++) {
                double want = n - c < k ? 1.0 : 1.0 - binom(n - c, k) / binom(n, k);
                assert_true(fabs(rlc_pass_at_k(n, c, k) - want) < 1e-9);
            }
}

static void test_evalsum(void **state) {
    (void)state;
    rlc_evalsum_t *s;
    assert_true(rlc_evalsum_new(0, &s) < 0);
    assert_int_equal(rlc_evalsum_new(4, &s), 0);
    cJSON *ma = cJSON_Parse("{\"subject\": \"Algebra\", \"level\": 2}");
    cJSON *mb = cJSON_Parse("{\"type\": \"Geometry\", \"level\": \"Level 5\"}");
    /* item 1: correct answer 1/2 in 1 of 4 samples; the majority (3 of 4 say 3) is wrong */
    int c1[4] = {0, 1, 0, 0};
    const char *a1[4] = {"3", "0.5", "3", "3"};
    cJSON *it = NULL;
    assert_int_equal(rlc_evalsum_add(s, ma, 4, c1, a1, NULL, &it), 0);
    assert_string_equal(cJSON_GetObjectItem(it, "maj_answer")->valuestring, "3");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(it, "maj_correct")));
    cJSON_Delete(it);
    /* item 2: 3 of 4 correct, majority right (\frac12 = 0.5 = 1/2 cluster) */
    int c2[4] = {1, 1, 0, 1};
    const char *a2[4] = {"\\frac12", "0.5", "7", "1/2"};
    assert_int_equal(rlc_evalsum_add(s, mb, 4, c2, a2, NULL, NULL), 0);
    /* item 3: no metadata, all wrong, nobody answered */
    int c3[4] = {0, 0, 0, 0};
    const char *a3[4] = {NULL, "", NULL, ""};
    assert_int_equal(rlc_evalsum_add(s, NULL, 4, c3, a3, NULL, NULL), 0);
    rlc_evalsum_add_usage(s, 1200, 2.0);
    cJSON *j = rlc_evalsum_json(s);
    char *txt = cJSON_PrintUnformatted(j);
    fprintf(stderr, "summary: %s\n", txt);
    free(txt);
    assert_int_equal(cJSON_GetObjectItem(j, "items")->valueint, 3);
    /* pass@1 = mean(1/4, 3/4, 0) = 1/3 */
    assert_true(fabs(cJSON_GetObjectItem(j, "pass@1")->valuedouble - 1.0 / 3) < 1e-12);
    /* pass@2 = mean(1 - C(3,2)/C(4,2), 1 - C(1,2)/C(4,2) = 1, 0) = (0.5 + 1 + 0) / 3 */
    assert_true(fabs(cJSON_GetObjectItem(j, "pass@2")->valuedouble - 0.5) < 1e-12);
    /* pass@4 = mean(1, 1, 0) */
    assert_true(fabs(cJSON_GetObjectItem(j, "pass@4")->valuedouble - 2.0 / 3) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(j, "maj@4")->valuedouble - 1.0 / 3) < 1e-12);
    cJSON *subj = cJSON_GetObjectItem(j, "by_subject");
    assert_true(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(subj, "Algebra"), "pass@1")->valuedouble - 0.25) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(subj, "Geometry"), "maj@4")->valuedouble - 1.0) < 1e-12);
    cJSON *lvl = cJSON_GetObjectItem(j, "by_level");
    assert_non_null(cJSON_GetObjectItem(lvl, "2"));
    assert_non_null(cJSON_GetObjectItem(lvl, "Level 5"));
    assert_true(fabs(cJSON_GetObjectItem(j, "tokens_per_second")->valuedouble - 600) < 1e-9);
    cJSON_Delete(j);
    /* items with fewer samples than k do not enter pass@k */
    int c4[1] = {1};
    assert_int_equal(rlc_evalsum_add(s, NULL, 1, c4, NULL, NULL, NULL), 0);
    j = rlc_evalsum_json(s);
    assert_true(fabs(cJSON_GetObjectItem(j, "pass@2")->valuedouble - 0.5) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(j, "pass@1")->valuedouble - (1.0 / 4 + 3.0 / 4 + 0 + 1) / 4) < 1e-12);
    cJSON_Delete(j);
    assert_true(rlc_evalsum_add(s, NULL, 0, c4, NULL, NULL, NULL) < 0);
    rlc_evalsum_free(s);
    cJSON_Delete(ma);
    cJSON_Delete(mb);
}

int main(void) {
    rlc_log_set_level(RLC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math_reward), cmocka_unit_test(test_config_errors), cmocka_unit_test(test_format),
        cmocka_unit_test(test_countdown_reward), cmocka_unit_test(test_combined), cmocka_unit_test(test_pass_at_k),
        cmocka_unit_test(test_evalsum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
