/* End-to-end sanity of the algorithm layer on toy problems: a softmax over two logits as the
 * policy trained with GRPO advantages + the clipped loss + aggregation weights (the rewarded
 * token's probability must rise, whichever token is rewarded), the same with PPO epochs over
 * stale old log-probs, and a PPO value head whose clipped value loss falls on a regression. */
#include "testutil.h"

#include "core/philox.h"
#include "rl/algo.h"

typedef struct {
    double z[2]; /* logits */
} toy_policy_t;

static double p_of(const toy_policy_t *pi, int k) {
    double m = pi->z[0] > pi->z[1] ? pi->z[0] : pi->z[1];
    double e0 = exp(pi->z[0] - m), e1 = exp(pi->z[1] - m);
    return (k ? e1 : e0) / (e0 + e1);
}

/* One RL step: G samples of one token each, reward 1 for `good`, GRPO advantages, token-mean
 * weights, `epochs` passes of SGD on the clipped surrogate with old log-probs frozen. */
static void rl_step(toy_policy_t *pi, int good, int G, int epochs, double lr, rlc_rng_t *rng, int algo, float eps_high) {
    int tok[64];
    float r[64], adv[64], old[64], lp[64], w[64], mask[64], dl[64];
    int32_t cu[65];
    for (int i = 0; i < G; i++) {
        tok[i] = rlc_rng_unit(rng) < p_of(pi, 0) ? 0 : 1;
        r[i] = tok[i] == good ? 1.0f : 0.0f;
        old[i] = (float)log(p_of(pi, tok[i]));
        mask[i] = 1;
        cu[i] = i;
    }
    cu[G] = G;
    int rc = algo == RL_ADV_RLOO ? rl_adv_rloo(r, G, G, adv) : rl_adv_grpo(r, G, G, 1, 1e-6f, adv);
    assert_int_equal(rc, 0);
    rl_agg_count_t cnt = {0};
    rl_agg_count_add(&cnt, mask, cu, G);
    assert_int_equal(rl_agg_weights(RL_AGG_TOKEN_MEAN, mask, cu, G, &cnt, 1, w), 0);
    rl_loss_cfg_t cfg = {{eps_high > 1 ? 0.99f : 0.2f, eps_high, 0}, 0, RL_KL_K3, 0};
    for (int e = 0; e < epochs; e++) {
        for (int i = 0; i < G; i++) lp[i] = (float)log(p_of(pi, tok[i]));
        assert_int_equal(rl_token_loss(&cfg, (size_t)G, lp, old, NULL, adv, NULL, mask, w, dl, NULL, NULL), 0);
        /* d logp(k) / d z_j = [j == k] - p_j */
        double g[2] = {0, 0};
        for (int i = 0; i < G; i++)
            for (int j = 0; j < 2; j++) g[j] += dl[i] * ((j == tok[i]) - p_of(pi, j));
        pi->z[0] -= lr * g[0];
        pi->z[1] -= lr * g[1];
    }
}

static void run_toy(int good, int epochs, int algo) {
    toy_policy_t pi = {{0, 0}};
    rlc_rng_t rng;
    rlc_rng_init(&rng, 1234 + (uint64_t)good, 0);
    double p0 = p_of(&pi, good);
    for (int step = 0; step < 40; step++) rl_step(&pi, good, 8, epochs, 0.5, &rng, algo, 0.28f);
    double p1 = p_of(&pi, good);
    if (!(p1 > 0.9 && p1 > p0)) fail_msg("p(rewarded token %d) went %.3f -> %.3f", good, p0, p1);
}

static void test_pg_token0(void **s) {
    (void)s;
    run_toy(0, 1, RL_ADV_GRPO);
}

static void test_pg_token1(void **s) {
    (void)s;
    run_toy(1, 1, RL_ADV_GRPO);
}

static void test_pg_ppo_epochs_rloo(void **s) {
    (void)s;
    run_toy(0, 4, RL_ADV_RLOO);
}

/* With many epochs on one batch, the clip stops the ratio from running away: the rewarded
 * token's probability ratio ends near 1 + eps_high (plus one step's overshoot), while with the
 * clip effectively off the same updates drive it towards 2 (p -> 1). */
static double ratio_after_epochs(float eps_high) {
    toy_policy_t pi = {{0, 0}};
    rlc_rng_t a;
    rlc_rng_init(&a, 99, 0);
    double p_before = p_of(&pi, 0);
    rl_step(&pi, 0, 8, 200, 0.5, &a, RL_ADV_GRPO, eps_high);
    return p_of(&pi, 0) / p_before;
}

static void test_pg_clip_bounds_update(void **s) {
    (void)s;
    double clipped = ratio_after_epochs(0.28f), unclipped = ratio_after_epochs(100.0f);
    if (!(clipped > 1.2 && clipped < 1.28 + 0.06)) fail_msg("clipped ratio after 200 epochs: %.4f", clipped);
    if (!(unclipped > 1.9)) fail_msg("unclipped ratio after 200 epochs: %.4f", unclipped);
}

/* Value head V(x) = a·x + b regressed onto returns R = 2x + 1 with the clipped value loss and
 * PPO-style rounds (V_old frozen per round): the loss falls by two orders of magnitude. */
static void test_value_regression(void **s) {
    (void)s;
    enum { N = 16 };
    float x[N], R[N], v[N], vo[N], L[N], d[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)i / N * 2 - 1;
        R[i] = 2 * x[i] + 1;
    }
    double a = 0, b = 0, first = -1, last = 0;
    for (int round = 0; round < 60; round++) {
        for (int i = 0; i < N; i++) vo[i] = (float)(a * x[i] + b);
        for (int e = 0; e < 4; e++) {
            double loss = 0, ga = 0, gb = 0;
            for (int i = 0; i < N; i++) v[i] = (float)(a * x[i] + b);
            rl_value_loss(v, vo, R, N, 0.2f, L, d, NULL);
            for (int i = 0; i < N; i++) {
                loss += L[i] / N;
                ga += d[i] * x[i] / N;
                gb += d[i] / N;
            }
            if (first < 0) first = loss;
            last = loss;
            a -= 0.5 * ga;
            b -= 0.5 * gb;
        }
    }
    if (!(last < first * 0.01)) fail_msg("value loss %.4g -> %.4g", first, last);
    assert_true(fabs(a - 2) < 0.1 && fabs(b - 1) < 0.1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_token0),
        cmocka_unit_test(test_pg_token1),
        cmocka_unit_test(test_pg_ppo_epochs_rloo),
        cmocka_unit_test(test_pg_clip_bounds_update),
        cmocka_unit_test(test_value_regression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
