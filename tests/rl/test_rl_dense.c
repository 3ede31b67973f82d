/* Dense per-token reward terms in the advantages, against hand-computed values for every
 * estimator: GRPO / Dr.GRPO / REINFORCE++ (positional group-mean baseline), RLOO (the
 * others' mean), G = 1 (no baseline), tool-output rows (their term moves to the previous
 * trainable row, they get nothing), the rows layout with a prompt before the response, and
 * PPO, where dense terms are GAE's per-token rewards. */
#include "testutil.h"

#include "core/err.h"
#include "rl/algo.h"

static void expect(const float *got, const double *want, int n, double tol) {
    for (int i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol)) fail_msg("[%d] got %.9g want %.9g", i, got[i], want[i]);
}

/* Group of 2: sequence 0 has 4 response tokens, sequence 1 has 3.
 * d0 = [0,1,0,2] -> R0 = [3,3,2,2]; d1 = [1,0,0] -> R1 = [1,0,0] (0 past its end). */
static const float D[7] = {0, 1, 0, 2, 1, 0, 0};
static const int32_t CU[3] = {0, 4, 7};

static void test_group_mean(void **s) {
    (void)s;
    /* b = [2, 1.5, 1, 1]; A0 += [1, 1.5, 1, 1]; A1 += [-1, -1.5, -1] */
    const double want[7] = {1, 1.5, 1, 1, -1, -1.5, -1};
    int kinds[3] = {RL_ADV_GRPO, RL_ADV_DRGRPO, RL_ADV_REINFORCEPP};
    for (int k = 0; k < 3; k++) {
        float a[7] = {0};
        assert_int_equal(rl_adv_dense(kinds[k], D, NULL, CU, NULL, 2, 2, a), 0);
        expect(a, want, 7, 1e-6);
    }
}

static void test_rloo(void **s) {
    (void)s;
    /* b0 = R1 = [1,0,0,0]; b1 = R0 = [3,3,2] */
    const double want[7] = {2, 3, 2, 2, -2, -3, -2};
    float a[7] = {0};
    assert_int_equal(rl_adv_dense(RL_ADV_RLOO, D, NULL, CU, NULL, 2, 2, a), 0);
    expect(a, want, 7, 1e-6);
    assert_int_not_equal(rl_adv_dense(RL_ADV_RLOO, D, NULL, CU, NULL, 2, 1, a), 0);
}

static void test_single(void **s) {
    (void)s;
    /* G = 1: the return-to-go itself */
    const double want[7] = {3, 3, 2, 2, 1, 0, 0};
    float a[7] = {0};
    assert_int_equal(rl_adv_dense(RL_ADV_REINFORCEPP, D, NULL, CU, NULL, 2, 1, a), 0);
    expect(a, want, 7, 1e-6);
}

/* With the sequence part: GRPO on rewards [1, 0] (population std) gives [1, -1] per
 * sequence; the dense part adds on top. */
static void test_with_sequence_part(void **s) {
    (void)s;
    const float r[2] = {1, 0};
    float sa[2], a[7];
    assert_int_equal(rl_adv_grpo(r, 2, 2, 0, 0.0f, sa), 0);
    rl_adv_to_tokens(sa, CU, 2, NULL, a);
    assert_int_equal(rl_adv_dense(RL_ADV_GRPO, D, NULL, CU, NULL, 2, 2, a), 0);
    const double want[7] = {2, 2.5, 2, 2, -2, -2.5, -2};
    expect(a, want, 7, 1e-6);
}

/* A tool-output row (mask 0) in sequence 0 carries a term of 5: it moves to row 1.
 * d0 = [0,0,5,1], mask0 = [1,1,0,1] -> R0 = [6,6,1,1]; d1 = [1,0,0] -> R1 = [1,0,0].
 * b = [3.5, 3, 0.5, 0.5]: A0 = [2.5, 3, (masked: untouched), 0.5], A1 = [-2.5, -3, -0.5]. */
static void test_tool_rows(void **s) {
    (void)s;
    const float d[7] = {0, 0, 5, 1, 1, 0, 0};
    const float m[7] = {1, 1, 0, 1, 1, 1, 1};
    float a[7] = {0, 0, 0, 0, 0, 0, 0};
    a[2] = 0.25f; /* a masked row keeps whatever it holds */
    assert_int_equal(rl_adv_dense(RL_ADV_GRPO, d, m, CU, NULL, 2, 2, a), 0);
    const double want[7] = {2.5, 3, 0.25, 0.5, -2.5, -3, -0.5};
    expect(a, want, 7, 1e-6);
}

/* Rows layout: 2 prompt rows before each response; positions count from r0. The same
 * numbers as test_group_mean, shifted. */
static void test_rows_layout(void **s) {
    (void)s;
    const float d[11] = {9, 9, 0, 1, 0, 2, 9, 9, 1, 0, 0};
    const float m[11] = {0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    const int32_t cu[3] = {0, 6, 11}, r0[2] = {2, 8};
    float a[11] = {0};
    assert_int_equal(rl_adv_dense(RL_ADV_GRPO, d, m, cu, r0, 2, 2, a), 0);
    const double want[11] = {0, 0, 1, 1.5, 1, 1, 0, 0, -1, -1.5, -1};
    expect(a, want, 11, 1e-6);
    const int32_t bad[2] = {7, 8};
    assert_int_not_equal(rl_adv_dense(RL_ADV_GRPO, d, m, cu, bad, 2, 2, a), 0);
    assert_int_not_equal(rl_adv_dense(RL_ADV_GAE, d, m, cu, r0, 2, 2, a), 0);
}

/* PPO: dense terms are GAE's per-token rewards, with the sequence reward (1) added on the
 * last token. γ = λ = 1, V = 0: A_t = the return-to-go [0+1+0+1, 1+0+1, 0+1] = [2, 2, 1]. */
static void test_ppo(void **s) {
    (void)s;
    const float rew[3] = {0, 1, 1}, v[3] = {0, 0, 0};
    const int32_t cu[2] = {0, 3};
    float A[3], ret[3];
    assert_int_equal(rl_adv_gae(rew, v, NULL, cu, 1, 1.0f, 1.0f, A, ret), 0);
    const double want[3] = {2, 2, 1};
    expect(A, want, 3, 1e-6);
    expect(ret, want, 3, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_mean), cmocka_unit_test(test_rloo),  cmocka_unit_test(test_single),
        cmocka_unit_test(test_with_sequence_part), cmocka_unit_test(test_tool_rows),
        cmocka_unit_test(test_rows_layout), cmocka_unit_test(test_ppo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
