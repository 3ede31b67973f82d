/* The rollout/trainer gap and its corrections (rl/gap.c) against hand-made batches: gap
 * statistics where the two log-probs differ by known amounts; TIS and MIS weights, per token
 * and per sequence; the importance weight scaling only the policy-gradient term of the loss. */
#include "testutil.h"

#include "core/err.h"
#include "rl/algo.h"

/* Two sequences: rows 0-2 (row 1 masked) and rows 3-4. d = train - engine = [0.1, (9), -0.2 | 0.5, 0]. */
static const float TRAIN[5] = {-1.0f, -2.0f, -0.5f, -0.25f, -3.0f};
static const float ENG[5] = {-1.1f, 7.0f, -0.3f, -0.75f, -3.0f};
static const float MASK[5] = {1, 0, 1, 1, 1};
static const int32_t CU[3] = {0, 3, 5};

static void test_gap(void **s) {
    (void)s;
    rl_gap_t g = {0};
    rl_gap_add(&g, TRAIN, ENG, MASK, CU, 2);
    double d[4] = {(double)TRAIN[0] - ENG[0], (double)TRAIN[2] - ENG[2], (double)TRAIN[3] - ENG[3], 0};
    assert_true(g.n_tok == 4);
    assert_true(fabs(g.abs_sum - (fabs(d[0]) + fabs(d[1]) + fabs(d[2]))) < 1e-9);
    assert_true(fabs(g.abs_max - 0.5) < 1e-7);
    double k3 = 0;
    for (int i = 0; i < 4; i++) k3 += exp(d[i]) - 1 - d[i];
    assert_true(fabs(g.k3_sum - k3) < 1e-9);
    assert_true(g.n_seq == 2);
    assert_true(fabs(g.seq_sum - (d[0] + d[1] + d[2])) < 1e-9);
    assert_true(fabs(g.seq_abs_sum - (fabs(d[0] + d[1]) + fabs(d[2]))) < 1e-9);
    /* identical log-probs: a gap of exactly 0 */
    rl_gap_t z = {0};
    rl_gap_add(&z, TRAIN, TRAIN, NULL, CU, 2);
    assert_true(z.n_tok == 5 && z.abs_sum == 0 && z.abs_max == 0 && z.k3_sum == 0 && z.seq_abs_sum == 0);
}

static void test_is_weights(void **s) {
    (void)s;
    /* behaviour - engine per token: [log 3, (masked), log 0.25 | log 1.5, log 0.6] */
    const float beh[5] = {(float)log(3.0), 0, (float)log(0.25), (float)log(1.5), (float)log(0.6)};
    const float eng[5] = {0, 0, 0, 0, 0};
    float w[5];
    /* TIS, token, C = 2: min(rho, 2) */
    assert_int_equal(rl_is_weights(RL_IS_TIS, 0, 2.0, beh, eng, MASK, CU, 2, w), 1);
    const double tis[5] = {2, 1, 0.25, 1.5, 0.6};
    for (int t = 0; t < 5; t++) assert_true(fabs(w[t] - tis[t]) < 1e-6);
    /* MIS, token, C = 2: 0 outside [0.5, 2] */
    assert_int_equal(rl_is_weights(RL_IS_MIS, 0, 2.0, beh, eng, MASK, CU, 2, w), 2);
    const double mis[5] = {0, 1, 0, 1, 1};
    for (int t = 0; t < 5; t++) assert_true(w[t] == mis[t]);
    /* sequence level: rho_0 = 3 * 0.25 = 0.75, rho_1 = 1.5 * 0.6 = 0.9 -> inside: TIS weights
     * are the ratios themselves, MIS keeps both */
    assert_int_equal(rl_is_weights(RL_IS_TIS, 1, 2.0, beh, eng, MASK, CU, 2, w), 0);
    const double tseq[5] = {0.75, 1, 0.75, 0.9, 0.9};
    for (int t = 0; t < 5; t++) assert_true(fabs(w[t] - tseq[t]) < 1e-6);
    /* C = 1.2: sequence 0 (0.75 < 1/1.2) is masked whole, sequence 1 (0.9) kept */
    assert_int_equal(rl_is_weights(RL_IS_MIS, 1, 1.2, beh, eng, MASK, CU, 2, w), 2);
    const double mseq[5] = {0, 1, 0, 1, 1};
    for (int t = 0; t < 5; t++) assert_true(w[t] == mseq[t]);
    assert_int_equal(rl_is_weights(RL_IS_NONE, 0, 2.0, beh, eng, MASK, CU, 2, w), 0);
    for (int t = 0; t < 5; t++) assert_true(w[t] == 1);
    assert_int_equal(rl_is_parse("tis"), RL_IS_TIS);
    assert_int_equal(rl_is_parse("mis"), RL_IS_MIS);
    assert_int_equal(rl_is_parse("none"), RL_IS_NONE);
    assert_int_equal(rl_is_parse("TIS?"), -1);
}

/* The weight multiplies the surrogate term and its gradient, not the KL. */
static void test_loss_weight(void **s) {
    (void)s;
    rl_loss_cfg_t c = {.clip = {0.2f, 0.2f, 0}, .kl_coef = 0.1f, .kl_kind = RL_KL_K3};
    const float lp[2] = {-1.0f, -2.0f}, old[2] = {-1.1f, -1.9f}, ref[2] = {-0.9f, -2.2f}, adv[2] = {1.0f, -1.0f};
    const float m[2] = {1, 1}, w[2] = {0.5f, 0.5f}, isw[2] = {0.25f, 0.0f};
    float d1[2], d0[2], dk[2];
    rl_loss_stats_t s1, s0;
    rl_loss_stats_init(&s1), rl_loss_stats_init(&s0);
    assert_int_equal(rl_token_loss_is(&c, 2, lp, old, ref, adv, NULL, m, w, NULL, d1, NULL, &s1), 0);
    assert_int_equal(rl_token_loss_is(&c, 2, lp, old, ref, adv, NULL, m, w, isw, d0, NULL, &s0), 0);
    rl_loss_cfg_t nokl = c;
    nokl.kl_coef = 0;
    float dpg[2];
    assert_int_equal(rl_token_loss_is(&nokl, 2, lp, old, ref, adv, NULL, m, w, NULL, dpg, NULL, NULL), 0);
    for (int t = 0; t < 2; t++) {
        dk[t] = d1[t] - dpg[t]; /* the KL part */
        assert_true(fabs(d0[t] - (isw[t] * dpg[t] + dk[t])) < 1e-7);
    }
    assert_true(fabs(s0.kl - s1.kl) < 1e-12);
    /* the reported surrogate is the weighted one: Σ_t is_w·(w·L_t), L_t from one token at a time */
    double want = 0;
    for (int t = 0; t < 2; t++) {
        rl_loss_stats_t one;
        rl_loss_stats_init(&one);
        float dd;
        assert_int_equal(rl_token_loss_is(&c, 1, lp + t, old + t, ref + t, adv + t, NULL, m + t, w + t, NULL, &dd, NULL,
                                          &one),
                         0);
        want += isw[t] * one.pg;
    }
    assert_true(s1.pg != 0);
    assert_true(fabs(s0.pg - want) < 1e-9);
    /* NULL weights are exactly the unweighted loss (bit for bit) */
    float du[2];
    assert_int_equal(rl_token_loss(&c, 2, lp, old, ref, adv, NULL, m, w, du, NULL, NULL), 0);
    assert_memory_equal(du, d1, sizeof du);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gap), cmocka_unit_test(test_is_weights),
                                       cmocka_unit_test(test_loss_weight)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
