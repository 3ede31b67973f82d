/* OREAL's policy loss (rl_oreal_token_loss) on a hand-built batch: a positive sample
 * (behaviour cloning weighted by w+ and its advantage, over the positive token count) and a
 * negative one (policy gradient weighted by w-, over the negative token count, x 0.5), the
 * token weights from known reward-model scores s_t, the k3 KL; its gradient by finite
 * differences; and the reward model's BCE gradient by finite differences. */
#include "testutil.h"

#include "core/err.h"
#include "rl/algo.h"

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Two samples of a group of G = 2, one correct, one wrong: RLOO on ±1 gives A = +2, -2.
 * Positive: s = [2, 0] -> p = [sig(2), sig(1)], w+ = 2p - 1. Negative: s = [-1, 1, -3] ->
 * p = [sig(-1), sig(0), sig(-1)], w- = 1 - 2p (0 at p = 0.5). */
static void test_hand_batch(void **st) {
    (void)st;
    const float s_pos[2] = {2, 0}, s_neg[3] = {-1, 1, -3};
    float w[5];
    rl_oreal_weights(s_pos, 2, 1, w);
    rl_oreal_weights(s_neg, 3, 0, w + 2);
    double wp[2] = {2 * sigm(2) - 1, 2 * sigm(1) - 1}, wn[3] = {1 - 2 * sigm(-1), 0, 1 - 2 * sigm(-1)};
    for (int t = 0; t < 2; t++) assert_true(fabs(w[t] - wp[t]) < 1e-6);
    for (int t = 0; t < 3; t++) assert_true(fabs(w[2 + t] - wn[t]) < 1e-6);
    const float r[2] = {1, -1};
    float a2[2];
    assert_int_equal(rl_adv_rloo(r, 2, 2, a2), 0);
    assert_true(a2[0] == 2 && a2[1] == -2);
    const float adv[5] = {2, 2, -2, -2, -2}, mask[5] = {1, 1, 1, 1, 1};
    const float logp[5] = {-0.5f, -1.0f, -2.0f, -0.25f, -1.5f}, ref[5] = {-0.4f, -1.2f, -2.0f, -0.5f, -1.0f};
    rl_oreal_loss_cfg_t c = {.n_pos = 2, .n_neg = 3, .n_tok = 5, .pos_weight = 1.0f, .neg_weight = 0.5f,
                             .kl_coef = 0.01f, .kl_kind = RL_KL_K3};
    float d[5];
    rl_loss_stats_t ls;
    rl_loss_stats_init(&ls);
    assert_int_equal(rl_oreal_token_loss(&c, 5, logp, ref, adv, w, mask, d, &ls), 0);
    double want_pg = 0, want_kl = 0, want_d[5];
    for (int t = 0; t < 5; t++) {
        double dd = (double)logp[t] - ref[t], k3 = exp(-dd) + dd - 1, dk3 = 1 - exp(-dd);
        want_kl += k3 / 5;
        if (t < 2) { /* -logp * w * A / n_pos */
            want_pg += -logp[t] * w[t] * 2.0 / 2;
            want_d[t] = -w[t] * 2.0 / 2 + 0.01 * dk3 / 5;
        } else { /* -A * w / n_neg * 0.5 */
            want_pg += 2.0 * w[t] / 3 * 0.5;
            want_d[t] = 2.0 * w[t] / 3 * 0.5 + 0.01 * dk3 / 5;
        }
    }
    assert_true(fabs(ls.pg - want_pg) < 1e-6);
    assert_true(fabs(ls.kl - want_kl) < 1e-6);
    assert_true(fabs(ls.loss - (want_pg + 0.01 * want_kl)) < 1e-6);
    assert_true(ls.n_tok == 5);
    for (int t = 0; t < 5; t++)
        if (fabs(d[t] - want_d[t]) > 1e-6) fail_msg("dlogp[%d] = %g, want %g", t, d[t], want_d[t]);
    /* a masked token contributes nothing; kl_coef > 0 without ref log-probs is refused */
    const float m2[5] = {1, 0, 1, 1, 1};
    assert_int_equal(rl_oreal_token_loss(&c, 5, logp, ref, adv, w, m2, d, NULL), 0);
    assert_true(d[1] == 0);
    assert_int_not_equal(rl_oreal_token_loss(&c, 5, logp, NULL, adv, w, mask, d, NULL), 0);
}

/* The gradient by central differences of the loss's differentiable form: positive tokens
 * -logp·w·A/n_pos, negative tokens -exp(logp - logp0)·A·w/n_neg·0.5 (logp0 fixed), plus the KL. */
static double full_loss(const rl_oreal_loss_cfg_t *c, const double *lp, const float *lp0, const float *ref,
                        const float *adv, const float *w, int n) {
    double L = 0;
    for (int t = 0; t < n; t++) {
        double dd = lp[t] - ref[t];
        L += c->kl_coef * (exp(-dd) + dd - 1) / c->n_tok;
        if (adv[t] > 0) L += -lp[t] * w[t] * adv[t] / c->n_pos * c->pos_weight;
        else L += -exp(lp[t] - lp0[t]) * adv[t] * w[t] / c->n_neg * c->neg_weight;
    }
    return L;
}

static void test_gradient_fd(void **st) {
    (void)st;
    const float adv[4] = {1.5f, 1.5f, -0.5f, -0.5f}, w[4] = {0.3f, 0.9f, 0.6f, 0.1f}, mask[4] = {1, 1, 1, 1};
    const float lp[4] = {-0.7f, -1.3f, -0.2f, -2.2f}, ref[4] = {-0.6f, -1.0f, -0.9f, -2.0f};
    rl_oreal_loss_cfg_t c = {.n_pos = 2, .n_neg = 2, .n_tok = 4, .pos_weight = 1.0f, .neg_weight = 0.5f,
                             .kl_coef = 0.05f, .kl_kind = RL_KL_K3};
    float d[4];
    assert_int_equal(rl_oreal_token_loss(&c, 4, lp, ref, adv, w, mask, d, NULL), 0);
    for (int t = 0; t < 4; t++) {
        double x[4], h = 1e-5;
        for (int k = 0; k < 4; k++) x[k] = lp[k];
        x[t] += h;
        double up = full_loss(&c, x, lp, ref, adv, w, 4);
        x[t] -= 2 * h;
        double dn = full_loss(&c, x, lp, ref, adv, w, 4);
        double fd = (up - dn) / (2 * h);
        if (fabs(fd - d[t]) > 1e-6) fail_msg("token %d: analytic %g, finite differences %g", t, d[t], fd);
    }
}

/* The reward model's loss BCE_with_logits(mean s, y) against finite differences in each s_t. */
static void test_rm_loss_fd(void **st) {
    (void)st;
    const float s[4] = {0.3f, -1.2f, 2.0f, 0.4f};
    for (int y = 0; y <= 1; y++) {
        float g[4];
        rl_oreal_rm_loss(s, 4, y, g);
        for (int t = 0; t < 4; t++) {
            float x[4];
            memcpy(x, s, sizeof x);
            double h = 1e-3;
            x[t] = (float)(s[t] + h);
            double up = rl_oreal_rm_loss(x, 4, y, NULL);
            x[t] = (float)(s[t] - h);
            double dn = rl_oreal_rm_loss(x, 4, y, NULL);
            double fd = (up - dn) / (2 * h);
            if (fabs(fd - g[t]) > 1e-5) fail_msg("y=%d s[%d]: analytic %g, fd %g", y, t, g[t], fd);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hand_batch), cmocka_unit_test(test_gradient_fd),
                                       cmocka_unit_test(test_rm_loss_fd)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
