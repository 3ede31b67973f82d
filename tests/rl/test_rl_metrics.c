/* rl/metrics: metrics.jsonl lines carry the fields the issue asks for (NaN ones left out),
 * a torn tail from a crash is repaired on open, resume truncation keeps steps <= the
 * checkpoint, samples.jsonl lines, and the exact one-line step log. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "rl/algo.h"
#include "rl/metrics.h"

static char *g_dir;

static void sample_metrics(rl_step_metrics_t *m, long step) {
    rl_step_metrics_init(m);
    m->step = step;
    m->reward_mean = 0.41;
    m->reward_std = 0.22;
    m->acc = 0.38;
    m->kl = 0.0021;
    m->entropy = 0.81;
    m->clip_frac = 0.03;
    m->grad_norm = 0.72;
    m->lr = 1e-6;
    m->t_total = 31.2;
    m->tok_per_s = 812;
}

static void test_step_line(void **s) {
    (void)s;
    rl_step_metrics_t m;
    sample_metrics(&m, 12);
    char buf[256];
    rl_step_line(&m, buf, sizeof buf);
    assert_string_equal(buf, "step 12 | reward 0.41\xC2\xB1"
                             "0.22 | acc 0.38 | kl 0.0021 | ent 0.81 | clip 0.03 | gnorm 0.72 | lr 1e-6 | 31.2 s | "
                             "812 tok/s");
    m.kept_frac = 0.75;
    m.kl = NAN; /* no reference model */
    m.lr = 2.5e-7;
    m.value_loss = 0.0123;
    rl_step_line(&m, buf, sizeof buf);
    assert_string_equal(buf, "step 12 | reward 0.41\xC2\xB1"
                             "0.22 | acc 0.38 | kept 0.75 | ent 0.81 | clip 0.03 | vloss 0.0123 | gnorm 0.72 | "
                             "lr 2.5e-7 | 31.2 s | 812 tok/s");
    /* a tiny buffer truncates cleanly */
    char small[10];
    rl_step_line(&m, small, sizeof small);
    assert_string_equal(small, "step 12 |");
    rl_step_metrics_init(&m);
    m.step = 3;
    rl_step_line(&m, buf, sizeof buf);
    assert_string_equal(buf, "step 3");
}

static void test_metrics_jsonl(void **s) {
    (void)s;
    char *p = fs_join(g_dir, "metrics.jsonl");
    rl_jsonl_writer_t w;
    assert_int_equal(rl_jsonl_writer_open(&w, p), 0);
    long hist[5] = {2, 1, 0, 3, 2};
    for (long step = 1; step <= 4; step++) {
        rl_step_metrics_t m;
        sample_metrics(&m, step);
        m.pass_hist = hist;
        m.n_hist = 5;
        m.kept_frac = 0.5;
        m.tokens_gen = 1000 * step;
        m.t_rollout = 1.5;
        m.t_train = 2.5;
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddNumberToObject(extra, "custom", 7);
        cJSON_AddNumberToObject(extra, "acc", 99); /* cannot shadow a standard field */
        m.extra = extra;
        assert_int_equal(rl_metrics_put(&w, &m), 0);
        cJSON_Delete(extra);
    }
    rl_jsonl_writer_close(&w);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, p), 0);
    cJSON *o;
    int n = 0;
    while (rlc_jsonl_next(&r, &o) == 1) {
        n++;
        const char *keys[] = {"step",  "reward_mean", "reward_std", "acc",     "kept_frac", "pass_hist", "kl",
                              "entropy", "clip_frac", "grad_norm",  "lr",      "tokens_gen", "t_rollout", "t_train",
                              "t_total", "tok_per_s", "custom"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!cJSON_GetObjectItemCaseSensitive(o, keys[k])) fail_msg("line %d lacks %s", n, keys[k]);
        assert_null(cJSON_GetObjectItemCaseSensitive(o, "value_loss")); /* NaN: omitted */
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "step")->valueint, n);
        assert_true(cJSON_GetObjectItemCaseSensitive(o, "acc")->valuedouble == 0.38);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "pass_hist")), 5);
        cJSON_Delete(o);
    }
    rlc_jsonl_close(&r);
    assert_int_equal(n, 4);

    /* a crash mid-line: the torn tail is dropped on open, appends stay line-aligned */
    char out[256];
    assert_int_equal(test_run(out, sizeof out, "printf '{\"step\": 5, \"rew' >> '%s'", p), 0);
    assert_int_equal(rl_jsonl_writer_open(&w, p), 0);
    rl_step_metrics_t m;
    sample_metrics(&m, 5);
    assert_int_equal(rl_metrics_put(&w, &m), 0);
    rl_jsonl_writer_close(&w);
    assert_int_equal(test_run(out, sizeof out, "wc -l < '%s'", p), 0);
    assert_int_equal(atoi(out), 5);

    /* resume from a checkpoint at step 2: later lines go */
    assert_int_equal(rl_jsonl_truncate_steps(p, 2), 3);
    assert_int_equal(test_run(out, sizeof out, "wc -l < '%s'", p), 0);
    assert_int_equal(atoi(out), 2);
    assert_int_equal(rl_jsonl_truncate_steps(p, 2), 0);
    char *missing = fs_join(g_dir, "none.jsonl");
    assert_int_equal(rl_jsonl_truncate_steps(missing, 2), 0);
    free(missing);
    free(p);
}

static void test_samples(void **s) {
    (void)s;
    char *p = fs_join(g_dir, "samples.jsonl");
    rl_jsonl_writer_t w;
    assert_int_equal(rl_jsonl_writer_open(&w, p), 0);
    w.fsync_each = 0;
    rl_sample_t smp = {.step = 3, .index = 5, .prompt = "What is 2+2?", .completion = "It is \\boxed{4}.\n\"ok\"",
                       .answer = "4", .reward = 1, .correct = 1, .n_tokens = 9, .truncated = 0};
    assert_int_equal(rl_samples_put(&w, &smp), 0);
    smp.correct = -1;
    smp.answer = NULL;
    assert_int_equal(rl_samples_put(&w, &smp), 0);
    rl_jsonl_writer_close(&w);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, p), 0);
    cJSON *o;
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "completion")->valuestring, smp.completion);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "correct")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "answer")->valuestring, "4");
    cJSON_Delete(o);
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "correct"));
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "answer"));
    cJSON_Delete(o);
    assert_int_equal(rlc_jsonl_next(&r, &o), 0);
    rlc_jsonl_close(&r);
    /* unwritable path: a clear error */
    assert_int_not_equal(rl_jsonl_writer_open(&w, "/nonexistent-dir/x.jsonl"), 0);
    assert_non_null(strstr(rlc_errmsg(), "/nonexistent-dir/x.jsonl"));
    free(p);
}

/* Loss statistics of two micro-batches (one update) become the step's loss metrics. */
static void test_from_loss_stats(void **s) {
    (void)s;
    float lp[4] = {logf(1.5f), logf(0.5f), 0, logf(1.1f)}, old[4] = {0}, adv[4] = {1, -1, 1, 1};
    float ref[4] = {0.5f, 0, 0, 0}, ent[4] = {1, 2, 3, 4}, m[4] = {1, 1, 0, 1}, w[4] = {0.3f, 0.3f, 0, 0.3f};
    float dl[4], de[4];
    rl_loss_cfg_t cfg = {{0.2f, 0.2f, 0}, 0.1f, RL_KL_K1, 0};
    rl_loss_stats_t st;
    rl_loss_stats_init(&st);
    assert_int_equal(rl_token_loss(&cfg, 2, lp, old, ref, adv, ent, m, w, dl, de, &st), 0);
    assert_int_equal(rl_token_loss(&cfg, 2, lp + 2, old + 2, ref + 2, adv + 2, ent + 2, m + 2, w + 2, dl, de, &st), 0);
    rl_step_metrics_t mt;
    rl_step_metrics_init(&mt);
    rl_step_metrics_add_loss(&mt, &st, 1, 1);
    /* trainable tokens 0, 1, 3: clipped high, clipped low, unclipped */
    assert_true(fabs(mt.clip_frac - 2.0 / 3) < 1e-9 && fabs(mt.clip_frac_high - 1.0 / 3) < 1e-9);
    assert_true(fabs(mt.entropy - 7.0 / 3) < 1e-9);
    assert_true(fabs(mt.kl - (log(1.5) - 0.5 + log(0.5) + log(1.1)) / 3) < 1e-6);
    assert_true(fabs(mt.pg_loss - 0.3 * (-1.2 + 0.8 - 1.1)) < 1e-6);
    assert_true(fabs(mt.ratio_mean - (1.5 + 0.5 + 1.1) / 3) < 1e-6);
    rl_step_metrics_add_loss(&mt, &st, 2, 0);
    assert_true(isnan(mt.kl));
    assert_true(fabs(mt.pg_loss - 0.15 * (-1.2 + 0.8 - 1.1)) < 1e-6);
}

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    return 0;
}

static int teardown(void **s) {
    (void)s;
    fs_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_line),
        cmocka_unit_test(test_metrics_jsonl),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_from_loss_stats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
