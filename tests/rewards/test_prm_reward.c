/* The "prm" reward against hand-computed scores: a tiny generic PRM (qwen2-tiny's shape with
 * a 1-label score head, made here) reads prompt + completion; the step scores are the
 * sigmoid of its head at the tokens that complete each step, found by hand (the "." ids of a
 * crafted completion). Aggregate mode gives last/min/prod/mean of them; dense mode puts the
 * differences (or the scores) at those tokens; without per-token buffers the sum is the
 * sequence reward. Bad options are refused. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "model/model.h"
#include "rewards/reward.h"
#include "rewards/rm.h"
#include "rewards/steps.h"
#include "tokenizer/tok.h"

static char *g_dir, *g_prm;
static rlc_backend_t *g_be;
static rlc_model_t *g_policy;
static tok_t *g_tok;

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    g_prm = fs_join(g_dir, "prm");
    if (rlc_backend_create(&g_be, "cpu", 0, 2)) return 1;
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    rlc_model_t *m;
    if (rlc_model_create(&m, cfg, g_be, 5, 0.5f) || rlc_model_save(m, g_prm, "float32")) return 1;
    rlc_model_free(m);
    cJSON_Delete(cfg);
    if (rlc_model_load(&g_policy, fixture("models/qwen2-tiny"), g_be)) return 1;
    return tok_load(&g_tok, fixture("models/qwen2-tiny"));
}

static int teardown(void **s) {
    (void)s;
    tok_free(g_tok);
    rlc_model_free(g_policy);
    rlc_backend_destroy(g_be);
    fs_rm_rf(g_dir);
    free(g_dir), free(g_prm);
    return 0;
}

static const char *PROMPT = "Add 1 and 1.\n", *COMP = "It is 2.\n\nSo 2.\n\nDone.";

/* The PRM's step scores by hand: sigmoid of the head at the 3 "." tokens (id 13). */
static int hand_scores(const int32_t *p, int np, const int32_t *c, int nc, double sc[3], int pos[3]) {
    rlc_model_t *m;
    if (rlc_model_load(&m, g_prm, g_be)) fail_msg("%s", rlc_errmsg());
    int n = np + nc, k = 0, cu[2] = {0, n};
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    memcpy(ids, p, (size_t)np * sizeof *ids);
    memcpy(ids + np, c, (size_t)nc * sizeof *ids);
    float *v = calloc((size_t)n, sizeof *v);
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t fo = {.inv_temp = 1, .head = RLC_HEAD_SCORE};
    assert_int_equal(rlc_model_forward(m, &b, &fo, NULL, NULL, v), 0);
    for (int t = 0; t < nc; t++)
        if (c[t] == 13 && k < 3) pos[k] = t, sc[k] = 1.0 / (1.0 + exp(-(double)v[np + t])), k++;
    free(ids), free(v);
    rlc_model_free(m);
    return k;
}

static rlc_reward_t *make(const char *opts) {
    char js[1024];
    snprintf(js, sizeof js, "{\"kind\": \"prm\", \"options\": {\"model\": \"%s\"%s}}", g_prm, opts);
    rlc_reward_t *r;
    if (rlc_reward_create_str(js, &r)) fail_msg("%s", rlc_errmsg());
    return r;
}

static void test_prm_reward(void **s) {
    (void)s;
    int32_t *p, *c;
    int np, nc;
    assert_int_equal(tok_encode(g_tok, PROMPT, strlen(PROMPT), 0, &p, &np), 0);
    assert_int_equal(tok_encode(g_tok, COMP, strlen(COMP), 0, &c, &nc), 0);
    double sc[3];
    int pos[3];
    assert_int_equal(hand_scores(p, np, c, nc, sc, pos), 3);
    rlc_rollout_t ro = {.prompt = PROMPT, .completion = COMP, .tokens = c, .n_tokens = nc};
    rlc_reward_ctx_t ctx = {.tokenizer = g_tok, .policy = g_policy};
    const char *aggs[4] = {"last", "min", "prod", "mean"};
    double want[4] = {sc[2], fmin(sc[0], fmin(sc[1], sc[2])), sc[0] * sc[1] * sc[2], (sc[0] + sc[1] + sc[2]) / 3};
    for (int a = 0; a < 4; a++) {
        char o[64];
        snprintf(o, sizeof o, ", \"aggregate\": \"%s\"", aggs[a]);
        rlc_reward_t *r = make(o);
        float out;
        assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, NULL, NULL), 0);
        if (fabs(out - want[a]) > 1e-5) fail_msg("%s: %g, want %g", aggs[a], out, want[a]);
        rlc_reward_free(r);
    }
    /* dense, diff: s0, s1 - s0, s2 - s1 at the three "." tokens; sequence reward 0 */
    float *tok = calloc((size_t)nc, sizeof *tok), out = -1;
    rlc_reward_t *r = make(", \"dense\": true");
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, &tok, NULL), 0);
    assert_true(out == 0);
    double d[3] = {sc[0], sc[1] - sc[0], sc[2] - sc[1]};
    for (int t = 0, k = 0; t < nc; t++) {
        double w = (k < 3 && t == pos[k]) ? d[k++] : 0;
        if (fabs(tok[t] - w) > 1e-5) fail_msg("dense token %d: %g, want %g", t, tok[t], w);
    }
    /* no per-token buffers (grading): the sum of the terms, i.e. the last score */
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, NULL, NULL), 0);
    assert_true(fabs(out - sc[2]) < 1e-5);
    rlc_reward_free(r);
    /* dense, score; weighted inside a sum: each term scaled by the weight */
    memset(tok, 0, (size_t)nc * sizeof *tok);
    char js[1024];
    snprintf(js, sizeof js,
             "[{\"kind\": \"prm\", \"weight\": 0.5, \"options\": {\"model\": \"%s\", \"dense\": true, \"dense_mode\": "
             "\"score\"}}]",
             g_prm);
    assert_int_equal(rlc_reward_create_str(js, &r), 0);
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, &tok, NULL), 0);
    for (int k = 0; k < 3; k++) assert_true(fabs(tok[pos[k]] - 0.5 * sc[k]) < 1e-5);
    rlc_reward_free(r);
    /* no policy in the context: a clear error, not a crash */
    r = make("");
    rlc_reward_ctx_t bare = {0};
    assert_int_not_equal(rlc_reward_score(r, &bare, &ro, 1, &out, NULL, NULL), 0);
    assert_non_null(strstr(rlc_errmsg(), "policy"));
    rlc_reward_free(r);
    free(tok), free(p), free(c);
}

/* math-shepherd through the reward, with qwen2-tiny as the PRM (an LM whose tokenizer has
 * "+" and "-"; its scores mean nothing): each step scores in [0, 1], the aggregate is the
 * last score, and the dense differences add up to it at the step-ending tokens. */
static void test_shepherd(void **s) {
    (void)s;
    int32_t *c;
    int nc;
    assert_int_equal(tok_encode(g_tok, COMP, strlen(COMP), 0, &c, &nc), 0);
    rlc_rollout_t ro = {.prompt = PROMPT, .completion = COMP, .tokens = c, .n_tokens = nc};
    rlc_reward_ctx_t ctx = {.tokenizer = g_tok, .policy = g_policy};
    char js[1024];
    snprintf(js, sizeof js, "{\"kind\": \"prm\", \"options\": {\"model\": \"%s\", \"format\": \"math-shepherd\"}}",
             fixture("models/qwen2-tiny"));
    rlc_reward_t *r;
    assert_int_equal(rlc_reward_create_str(js, &r), 0);
    float last, sum = 0, out;
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &last, NULL, NULL), 0);
    assert_true(last > 0 && last < 1);
    rlc_reward_free(r);
    snprintf(js, sizeof js,
             "{\"kind\": \"prm\", \"options\": {\"model\": \"%s\", \"format\": \"math-shepherd\", \"dense\": true}}",
             fixture("models/qwen2-tiny"));
    assert_int_equal(rlc_reward_create_str(js, &r), 0);
    float *tok = calloc((size_t)nc, sizeof *tok);
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, &tok, NULL), 0);
    int nz = 0;
    for (int t = 0; t < nc; t++) sum += tok[t], nz += tok[t] != 0;
    assert_true(nz >= 1 && nz <= 3);
    assert_true(fabs(sum - last) < 1e-5);
    rlc_reward_free(r);
    free(tok), free(c);
}

/* skywork (steps are lines) through the dense reward: the scores of rlc_prm_score land, in
 * score mode, on the tokens that complete each line. */
static void test_skywork_dense(void **s) {
    (void)s;
    const char *comp = "It is 2.\nSo 2.\n\nDone.";
    int32_t *c;
    int nc;
    assert_int_equal(tok_encode(g_tok, comp, strlen(comp), 0, &c, &nc), 0);
    rlc_prm_t prm;
    if (rlc_prm_open(&prm, "prm", fixture("models/skywork-prm-tiny"), RLC_PRM_SKYWORK, g_be)) fail_msg("%s", rlc_errmsg());
    float *sc = NULL;
    int ns = 0;
    long read = 0;
    int32_t pr[1] = {5};
    assert_int_equal(rlc_prm_score(&prm, g_tok, PROMPT, pr, 1, c, nc, &sc, &ns, &read), 0);
    assert_int_equal(ns, 3);
    rlc_prm_close(&prm);
    char js[1024];
    snprintf(js, sizeof js,
             "{\"kind\": \"prm\", \"options\": {\"model\": \"%s\", \"format\": \"skywork\", \"dense\": true, "
             "\"dense_mode\": \"score\"}}",
             fixture("models/skywork-prm-tiny"));
    rlc_reward_t *r;
    assert_int_equal(rlc_reward_create_str(js, &r), 0);
    rlc_rollout_t ro = {.prompt = PROMPT, .completion = comp, .tokens = c, .n_tokens = nc};
    rlc_reward_ctx_t ctx = {.tokenizer = g_tok, .policy = g_policy};
    float *tok = calloc((size_t)nc, sizeof *tok), out;
    assert_int_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, &tok, NULL), 0);
    /* the token that completes each line's text ("It is 2.", "So 2.", "Done.") */
    size_t ends[3] = {8, 14, 21}, te[64];
    int pos[3];
    assert_true(nc < 64);
    assert_int_equal(rlc_token_text(g_tok, c, nc, 0, NULL, NULL, te), 0);
    rlc_step_token_pos(te, nc, ends, 3, pos);
    for (int t = 0, k = 0; t < nc; t++) {
        double w = (k < 3 && t == pos[k]) ? sc[k++] : 0;
        if (fabs(tok[t] - w) > 1e-5) fail_msg("dense token %d: %g, want %g", t, tok[t], w);
    }
    rlc_reward_free(r);
    free(tok), free(sc), free(c);
}

static void test_bad_options(void **s) {
    (void)s;
    const char *bad[] = {
        "{\"kind\": \"prm\"}",
        "{\"kind\": \"prm\", \"options\": {\"model\": \"x\", \"aggregate\": \"max\"}}",
        "{\"kind\": \"prm\", \"options\": {\"model\": \"x\", \"format\": \"qwen-7b\"}}",
        "{\"kind\": \"prm\", \"options\": {\"model\": \"x\", \"dense_mode\": \"sum\"}}",
        "{\"kind\": \"prm\", \"options\": {\"model\": \"x\", \"densee\": true}}",
    };
    for (int i = 0; i < 5; i++) {
        rlc_reward_t *r = NULL;
        if (!rlc_reward_create_str(bad[i], &r)) fail_msg("accepted: %s", bad[i]);
        assert_null(r);
    }
    /* a model directory that does not exist: a clear error on the first batch, not a crash */
    rlc_reward_t *r;
    char js[256];
    snprintf(js, sizeof js, "{\"kind\": \"prm\", \"options\": {\"model\": \"%s/none\"}}", g_dir);
    assert_int_equal(rlc_reward_create_str(js, &r), 0);
    rlc_rollout_t ro = {.prompt = PROMPT, .completion = COMP};
    rlc_reward_ctx_t ctx = {.tokenizer = g_tok, .policy = g_policy};
    float out;
    assert_int_not_equal(rlc_reward_score(r, &ctx, &ro, 1, &out, NULL, NULL), 0);
    assert_non_null(strstr(rlc_errmsg(), "none"));
    assert_null(strchr(rlc_errmsg(), '\n'));
    rlc_reward_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_prm_reward), cmocka_unit_test(test_shepherd), cmocka_unit_test(test_skywork_dense),
                                       cmocka_unit_test(test_bad_options)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
