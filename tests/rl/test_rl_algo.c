/* rl/algo against hand-computed values: every advantage estimator, the clipped surrogate
 * (clip-higher, dual clip, clamp) and its gradient, KL k1/k2/k3, the four aggregation modes
 * (and their exactness when split into micro-batches), value loss, filters, overlong
 * shaping, LR schedules, OTC and OREAL formulas; gradients also by finite differences. */
#include "testutil.h"

#include "core/err.h"
#include "core/philox.h"
#include "rl/algo.h"

#define CLOSE(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static void expect(const float *got, const double *want, int n, double tol) {
    for (int i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol)) fail_msg("[%d] got %.9g want %.9g", i, got[i], want[i]);
}

/* Two groups of G = 4: [1,0,0,1] and [3,1,2,2]. */
static const float R[8] = {1, 0, 0, 1, 3, 1, 2, 2};

static void test_grpo(void **s) {
    (void)s;
    float a[8];
    assert_int_equal(rl_adv_grpo(R, 8, 4, 0, 1e-6f, a), 0);
    /* population std: 0.5 and sqrt(0.5) */
    double e1 = 0.5 / (0.5 + 1e-6), e2 = 1 / (sqrt(0.5) + 1e-6);
    double w_pop[8] = {e1, -e1, -e1, e1, e2, -e2, 0, 0};
    expect(a, w_pop, 8, 1e-6);
    assert_int_equal(rl_adv_grpo(R, 8, 4, 1, 1e-6f, a), 0);
    /* sample std: sqrt(1/3) and sqrt(2/3) */
    double s1 = 0.5 / (sqrt(1.0 / 3) + 1e-6), s2 = 1 / (sqrt(2.0 / 3) + 1e-6);
    double w_smp[8] = {s1, -s1, -s1, s1, s2, -s2, 0, 0};
    expect(a, w_smp, 8, 1e-6);
    CLOSE(a[0], 0.866024, 1e-5);
    /* all-equal group: zero advantages, not NaN */
    float z[4] = {0.7f, 0.7f, 0.7f, 0.7f}, az[4];
    assert_int_equal(rl_adv_grpo(z, 4, 4, 1, 1e-6f, az), 0);
    for (int i = 0; i < 4; i++) CLOSE(az[i], 0, 1e-6);
    /* not whole groups */
    assert_int_not_equal(rl_adv_grpo(R, 7, 4, 1, 1e-6f, a), 0);
    assert_non_null(strstr(rlc_errmsg(), "G = 4"));
}

static void test_drgrpo_rloo(void **s) {
    (void)s;
    float a[8];
    assert_int_equal(rl_adv_drgrpo(R, 8, 4, a), 0);
    double wd[8] = {0.5, -0.5, -0.5, 0.5, 1, -1, 0, 0};
    expect(a, wd, 8, 1e-7);
    assert_int_equal(rl_adv_rloo(R, 8, 4, a), 0);
    /* 1 - (1+0+0... others sum 1)/3 ; 3 - (1+2+2)/3 ; 1 - (3+2+2)/3 ; 2 - (3+1+2)/3 */
    double wr[8] = {2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3, 3 - 5.0 / 3, 1 - 7.0 / 3, 0, 0};
    expect(a, wr, 8, 1e-6);
    /* RLOO = G/(G-1) x Dr.GRPO */
    assert_int_not_equal(rl_adv_rloo(R, 8, 1, a), 0);
}

static void test_reinforcepp(void **s) {
    (void)s;
    float a[8];
    assert_int_equal(rl_adv_reinforcepp(R, 8, 0, NULL, 0, a), 0);
    /* r - 1.25, then divided by the population std sqrt(0.9375) */
    double sd = sqrt(0.9375);
    double w[8] = {-0.25 / sd, -1.25 / sd, -1.25 / sd, -0.25 / sd, 1.75 / sd, -0.25 / sd, 0.75 / sd, 0.75 / sd};
    expect(a, w, 8, 1e-6);
    /* group baseline then whitening: Dr.GRPO advantages scaled to unit std (their mean is 0) */
    assert_int_equal(rl_adv_reinforcepp(R, 8, 4, NULL, 0, a), 0);
    double sg = sqrt((4 * 0.25 + 2) / 8.0);
    double wg[8] = {0.5 / sg, -0.5 / sg, -0.5 / sg, 0.5 / sg, 1 / sg, -1 / sg, 0, 0};
    expect(a, wg, 8, 1e-6);
    /* token-weighted whitening: two sequences of rewards 1 and 0 with 3 and 1 tokens:
     * A = r - 0.5 = ±0.5; token mean 0.25, token std sqrt(0.1875) */
    float r2[2] = {1, 0}, a2[2];
    int lens[2] = {3, 1};
    assert_int_equal(rl_adv_reinforcepp(r2, 2, 0, lens, 0, a2), 0);
    double st = sqrt(0.1875);
    double w2[2] = {0.25 / st, -0.75 / st};
    expect(a2, w2, 2, 1e-6);
}

static void test_baseline_and_tokens(void **s) {
    (void)s;
    float r[3] = {1, 0, 1}, b[3] = {0.25f, 0.5f, 1}, a[3];
    assert_int_equal(rl_adv_baseline(r, b, 3, a), 0);
    double w[3] = {0.75, -0.5, 0};
    expect(a, w, 3, 1e-7);
    int32_t cu[4] = {0, 2, 2, 5};
    float mask[5] = {1, 1, 1, 0, 1}, tok[5];
    rl_adv_to_tokens(a, cu, 3, mask, tok);
    double wt[5] = {0.75, 0.75, 0, 0, 0};
    expect(tok, wt, 5, 1e-7);
    float seqa[3] = {1, 2, 3};
    rl_adv_to_tokens(seqa, cu, 3, mask, tok);
    double wt2[5] = {1, 1, 3, 0, 3};
    expect(tok, wt2, 5, 0);
}

static void test_gae(void **s) {
    (void)s;
    /* one sequence: rewards [0,0,1], values [0.5,0.6,0.7] */
    float rw[3] = {0, 0, 1}, v[3] = {0.5f, 0.6f, 0.7f}, A[3], ret[3];
    int32_t cu[2] = {0, 3};
    assert_int_equal(rl_adv_gae(rw, v, NULL, cu, 1, 1.0f, 0.95f, A, ret), 0);
    double wa[3] = {0.46575, 0.385, 0.3}, wr[3] = {0.96575, 0.985, 1.0};
    expect(A, wa, 3, 1e-6);
    expect(ret, wr, 3, 1e-6);
    assert_int_equal(rl_adv_gae(rw, v, NULL, cu, 1, 0.9f, 0.5f, A, ret), 0);
    double wa2[3] = {0.11425, 0.165, 0.3};
    expect(A, wa2, 3, 1e-6);
    /* a tool-output token (mask 0) in the middle is bridged over */
    float rw4[4] = {0, 0, 0, 1}, v4[4] = {0.5f, 9, 0.6f, 0.7f}, m4[4] = {1, 0, 1, 1}, A4[4], r4[4];
    int32_t cu4[2] = {0, 4};
    assert_int_equal(rl_adv_gae(rw4, v4, m4, cu4, 1, 1.0f, 0.95f, A4, r4), 0);
    double wa4[4] = {0.46575, 0, 0.385, 0.3};
    expect(A4, wa4, 4, 1e-6);
    CLOSE(r4[1], 9, 0);
    /* and a reward on it is credited to the trainable token before it */
    rw4[1] = 0.2f;
    assert_int_equal(rl_adv_gae(rw4, v4, m4, cu4, 1, 1.0f, 0.95f, A4, r4), 0);
    CLOSE(A4[0], 0.3 + 0.95 * 0.385, 1e-6);
    /* two sequences are independent: the second's values never leak into the first */
    float rw2[5] = {0, 1, 0, 0, 1}, v2[5] = {0.1f, 0.2f, 5, 5, 5}, A2[5], R2[5];
    int32_t cu2[3] = {0, 2, 5};
    assert_int_equal(rl_adv_gae(rw2, v2, NULL, cu2, 2, 1.0f, 1.0f, A2, R2), 0);
    CLOSE(A2[1], 0.8, 1e-6);
    CLOSE(A2[0], 0.9, 1e-6); /* λ = 1, γ = 1: return 1 - V */
    assert_int_not_equal(rl_adv_gae(rw, v, NULL, cu, 1, 1.5f, 0.95f, A, ret), 0);
}

static void test_whiten(void **s) {
    (void)s;
    float x[5] = {1, 2, 100, 3, 4}, m[5] = {1, 1, 0, 1, 1};
    rl_whiten(x, m, 5, 1, 0);
    double sd = sqrt(1.25);
    double w[5] = {-1.5 / sd, -0.5 / sd, 100, 0.5 / sd, 1.5 / sd};
    expect(x, w, 5, 1e-6);
    float y[4] = {1, 2, 3, 4};
    rl_whiten(y, NULL, 4, 0, 0); /* scale only, mean kept */
    double wy[4] = {2.5 - 1.5 / sd, 2.5 - 0.5 / sd, 2.5 + 0.5 / sd, 2.5 + 1.5 / sd};
    expect(y, wy, 4, 1e-6);
}

static void test_policy_loss(void **s) {
    (void)s;
    rl_clip_t c = {0.2f, 0.2f, 0};
    /* (log-ratio, A) cases */
    float lr[] = {logf(1.5f), logf(1.5f), logf(0.5f), logf(0.5f), logf(1.1f), 25.0f, logf(4.0f)};
    float A[] = {1, -1, -1, 1, 2, -1, -1};
    int n = 7;
    float old[7] = {0}, loss[7], d[7], ratio[7];
    uint8_t cl[7];
    rl_policy_loss(lr, old, A, (size_t)n, &c, loss, d, cl, ratio);
    double wl[7] = {-1.2, 1.5, 0.8, -0.5, -2.2, exp(20.0), 4.0};
    double wd[7] = {0, 1.5, 0, -0.5, -2.2, 0, 4.0};
    uint8_t wc[7] = {RL_CLIPPED_HIGH, 0, RL_CLIPPED_LOW, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (fabs(loss[i] - wl[i]) > 1e-5 * fmax(1, fabs(wl[i]))) fail_msg("loss[%d] %g want %g", i, loss[i], wl[i]);
        if (fabs(d[i] - wd[i]) > 1e-5) fail_msg("dloss[%d] %g want %g", i, d[i], wd[i]);
        assert_int_equal(cl[i], wc[i]);
    }
    CLOSE(ratio[0], 1.5, 1e-6);
    CLOSE(ratio[5], exp(20.0), exp(20.0) * 1e-6); /* clamped at 20 */
    /* dual clip c = 3 caps the A < 0 losses at -A*c = 3 */
    c.dual_clip = 3;
    rl_policy_loss(lr, old, A, (size_t)n, &c, loss, d, cl, NULL);
    CLOSE(loss[6], 3.0, 1e-6);
    CLOSE(d[6], 0, 0);
    assert_int_equal(cl[6], RL_CLIPPED_DUAL);
    CLOSE(loss[5], 3.0, 1e-6);
    CLOSE(loss[1], 1.5, 1e-6); /* below the cap: unchanged */
    assert_int_equal(cl[1], 0);
    /* clip-higher: eps_high 0.28 lets ratio 1.25 through for A > 0 */
    float l125 = logf(1.25f), a1 = 1, z = 0;
    rl_clip_t ch = {0.2f, 0.28f, 0};
    rl_policy_loss(&l125, &z, &a1, 1, &ch, loss, d, cl, NULL);
    CLOSE(loss[0], -1.25, 1e-6);
    CLOSE(d[0], -1.25, 1e-6);
    assert_int_equal(cl[0], 0);
    rl_policy_loss(&l125, &z, &a1, 1, &c, loss, d, cl, NULL);
    CLOSE(loss[0], -1.2, 1e-6);
    assert_int_equal(cl[0], RL_CLIPPED_HIGH);
}

static void test_kl(void **s) {
    (void)s;
    float lp[3] = {0.5f, -1.0f, 30.0f}, ref[3] = {0, 0, 0}, k[3], dk[3];
    rl_kl(RL_KL_K1, lp, ref, 3, k, dk);
    double w1[3] = {0.5, -1, 20}, g1[3] = {1, 1, 0};
    expect(k, w1, 3, 1e-6);
    expect(dk, g1, 3, 0);
    rl_kl(RL_KL_K2, lp, ref, 3, k, dk);
    double w2[3] = {0.125, 0.5, 200}, g2[3] = {0.5, -1, 0};
    expect(k, w2, 3, 1e-5);
    expect(dk, g2, 3, 1e-7);
    rl_kl(RL_KL_K3, lp, ref, 3, k, dk);
    double w3[3] = {0.1065306597, 0.7182818285, exp(-20.0) + 19}, g3[3] = {0.3934693403, -1.7182818285, 0};
    expect(k, w3, 3, 1e-6);
    expect(dk, g3, 3, 1e-6);
    /* k3 stays accurate (and non-negative) for tiny differences */
    float a = 1e-4f, b = 0;
    rl_kl(RL_KL_K3, &a, &b, 1, k, NULL);
    CLOSE(k[0], 0.5e-8, 1e-11);
    assert_int_equal(rl_kl_parse("low_var_kl"), RL_KL_K3);
    assert_int_equal(rl_kl_parse("k2"), RL_KL_K2);
    assert_int_equal(rl_kl_parse("k4"), -1);
}

/* loss [1,2 | 3,4,5 | 100] with the last sequence fully masked */
static void test_agg_values(void **s) {
    (void)s;
    float L[6] = {1, 2, 3, 4, 5, 100}, m[6] = {1, 1, 1, 1, 1, 0};
    int32_t cu[4] = {0, 2, 5, 6};
    CLOSE(rl_agg_value(RL_AGG_TOKEN_MEAN, L, m, cu, 3, 4), 3.0, 1e-12);
    CLOSE(rl_agg_value(RL_AGG_SEQ_MEAN_TOKEN_MEAN, L, m, cu, 3, 4), 2.75, 1e-12);
    CLOSE(rl_agg_value(RL_AGG_SEQ_MEAN_TOKEN_SUM, L, m, cu, 3, 4), 7.5, 1e-12);
    CLOSE(rl_agg_value(RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM, L, m, cu, 3, 4), 15.0 / 12, 1e-12);
    for (int mode = 0; mode < RL_AGG_COUNT; mode++) {
        rl_agg_count_t g = {0};
        rl_agg_count_add(&g, m, cu, 3);
        float w[6];
        assert_int_equal(rl_agg_weights(mode, m, cu, 3, &g, 4, w), 0);
        double tot = 0;
        for (int t = 0; t < 6; t++) tot += (double)w[t] * L[t];
        CLOSE(tot, rl_agg_value(mode, L, m, cu, 3, 4), 1e-6);
        CLOSE(w[5], 0, 0);
    }
    float w[6];
    rl_agg_count_t g = {0};
    assert_int_not_equal(rl_agg_weights(RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM, m, cu, 3, &g, 0, w), 0);
    assert_int_equal(rl_agg_parse("seq_mean_token_sum_norm"), RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM);
    assert_int_equal(rl_agg_parse("token-mean"), RL_AGG_TOKEN_MEAN);
    assert_int_equal(rl_agg_parse("mean"), -1);
}

/* A random batch split into micro-batches: weights from the global counts reproduce the
 * whole-batch aggregate exactly (the point of a global denominator). */
static void test_agg_microbatches(void **s) {
    (void)s;
    rlc_rng_t r;
    rlc_rng_init(&r, 7, 0);
    enum { NS = 12, MB = 4 };
    int32_t cu[NS + 1] = {0};
    for (int i = 0; i < NS; i++) cu[i + 1] = cu[i] + 1 + (int32_t)rlc_rng_below(&r, 9);
    int N = cu[NS];
    float *L = malloc(sizeof(float) * (size_t)N), *m = malloc(sizeof(float) * (size_t)N);
    for (int t = 0; t < N; t++) {
        L[t] = (float)(rlc_rng_unit(&r) * 4 - 2);
        m[t] = rlc_rng_unit(&r) < 0.8 ? 1.0f : 0.0f;
    }
    for (int t = cu[3]; t < cu[4]; t++) m[t] = 0; /* one fully masked sequence */
    for (int mode = 0; mode < RL_AGG_COUNT; mode++) {
        rl_agg_count_t g = {0};
        for (int b = 0; b < NS; b += MB) {
            int32_t lcu[MB + 1];
            for (int i = 0; i <= MB; i++) lcu[i] = cu[b + i] - cu[b];
            rl_agg_count_add(&g, m + cu[b], lcu, MB);
        }
        assert_true(g.n_seq == NS && g.n_seq_valid == NS - 1);
        double tot = 0;
        for (int b = 0; b < NS; b += MB) {
            int32_t lcu[MB + 1];
            for (int i = 0; i <= MB; i++) lcu[i] = cu[b + i] - cu[b];
            float w[128];
            assert_int_equal(rl_agg_weights(mode, m + cu[b], lcu, MB, &g, 10, w), 0);
            for (int t = 0; t < lcu[MB]; t++) tot += (double)w[t] * L[cu[b] + t];
        }
        double want = rl_agg_value(mode, L, m, cu, NS, 10);
        if (fabs(tot - want) > 1e-6 * fmax(1, fabs(want))) fail_msg("mode %d: %.9g vs %.9g", mode, tot, want);
    }
    free(L);
    free(m);
}

/* dlogp and dent from rl_token_loss match central differences of the summed loss. */
static void test_token_loss_fd(void **s) {
    (void)s;
    enum { N = 9 };
    rlc_rng_t r;
    rlc_rng_init(&r, 11, 0);
    float lp[N], old[N], ref[N], adv[N], ent[N], m[N], w[N], dl[N], de[N];
    for (int i = 0; i < N; i++) {
        old[i] = (float)(-1 - rlc_rng_unit(&r));
        /* keep ratios away from the clip edges so the loss is smooth at the point */
        double dr = (i % 3 == 0) ? 0.05 : (i % 3 == 1 ? 0.5 : -0.6);
        lp[i] = old[i] + (float)dr;
        ref[i] = old[i] + (float)(rlc_rng_unit(&r) - 0.5);
        adv[i] = (float)(rlc_rng_unit(&r) * 2 - 1);
        ent[i] = (float)rlc_rng_unit(&r);
        m[i] = i == 4 ? 0.0f : 1.0f;
        w[i] = m[i] * 0.125f;
    }
    for (int kind = 0; kind < RL_KL_COUNT; kind++) {
        rl_loss_cfg_t cfg = {{0.2f, 0.28f, 3}, 0.1f, kind, 0.01f};
        rl_loss_stats_t st;
        rl_loss_stats_init(&st);
        assert_int_equal(rl_token_loss(&cfg, N, lp, old, ref, adv, ent, m, w, dl, de, &st), 0);
        for (int i = 0; i < N; i++) {
            double h = 1e-3, lo, hi;
            float save = lp[i];
            rl_loss_stats_t a, b;
            float tmp[N], tmp2[N];
            rl_loss_stats_init(&a);
            rl_loss_stats_init(&b);
            lp[i] = save + (float)h;
            rl_token_loss(&cfg, N, lp, old, ref, adv, ent, m, w, tmp, tmp2, &a);
            hi = a.loss;
            lp[i] = save - (float)h;
            rl_token_loss(&cfg, N, lp, old, ref, adv, ent, m, w, tmp, tmp2, &b);
            lo = b.loss;
            lp[i] = save;
            double h_eff = ((double)(save + (float)h) - (double)(save - (float)h));
            double fd = (hi - lo) / h_eff;
            if (fabs(fd - dl[i]) > 2e-3 * fmax(1, fabs(fd))) fail_msg("k%d token %d: fd %g vs %g", kind + 1, i, fd, dl[i]);
            CLOSE(de[i], -0.01 * w[i], 1e-9);
        }
        /* stats: the masked token is not counted */
        CLOSE(st.n_tok, N - 1, 0);
    }
    /* argument checks */
    rl_loss_cfg_t cfg = {{0.2f, 0.2f, 0}, 0.1f, RL_KL_K3, 0};
    assert_int_not_equal(rl_token_loss(&cfg, N, lp, old, NULL, adv, NULL, m, w, dl, NULL, NULL), 0);
    assert_non_null(strstr(rlc_errmsg(), "reference"));
    cfg.kl_coef = 0;
    cfg.entropy_coef = 0.1f;
    assert_int_not_equal(rl_token_loss(&cfg, N, lp, old, NULL, adv, NULL, m, w, dl, NULL, NULL), 0);
    cfg.entropy_coef = 0;
    assert_int_equal(rl_token_loss(&cfg, N, lp, old, NULL, adv, NULL, m, w, dl, NULL, NULL), 0);
}

/* GSPO's objective, -mean_i min(s_i A_i, clip(s_i) A_i) with s_i = exp(mean over sequence i's
 * trainable tokens of logp - old): the value, computed directly in double. */
static double gspo_objective(const float *lp, const float *old, const float *adv, const float *m, const int32_t *cu,
                             int nseq, double el, double eh) {
    double J = 0;
    for (int i = 0; i < nseq; i++) {
        double d = 0, n = 0;
        for (int t = cu[i]; t < cu[i + 1]; t++)
            if (m[t] > 0) d += (double)lp[t] - old[t], n++;
        double sr = exp(d / n), A = adv[cu[i]], c = sr < 1 - el ? 1 - el : sr > 1 + eh ? 1 + eh : sr;
        J += fmin(sr * A, c * A);
    }
    return -J / nseq;
}

/* ratio_level: sequence (GSPO). rl_seq_ratio_old makes every token of a sequence (masked ones
 * too) see its sequence's ratio; with seq-mean-token-mean weights the token loss is GSPO's
 * objective and its dlogp that objective's gradient (finite differences), clipped sequences
 * giving zero gradient as a whole. */
static void test_gspo(void **s) {
    (void)s;
    enum { N = 10, S = 3 };
    int32_t cu[S + 1] = {0, 4, 7, 10};
    float lp[N], old[N], adv[N], m[N], w[N], dl[N], o2[N], ratio[N];
    const double dlr[S] = {0.002, -0.03, 0.3}; /* inside the clip; below 1 - eps (A < 0); above 1 + eps */
    const float A[S] = {0.7f, -1.2f, 0.9f};
    rlc_rng_t r;
    rlc_rng_init(&r, 5, 0);
    for (int i = 0; i < S; i++)
        for (int t = cu[i]; t < cu[i + 1]; t++) {
            old[t] = (float)(-1 - 3 * rlc_rng_unit(&r));
            lp[t] = old[t] + (float)(dlr[i] + 0.2 * (rlc_rng_unit(&r) - 0.5)); /* token log-ratios differ */
            adv[t] = A[i];
            m[t] = t == 5 ? 0.0f : 1.0f; /* a tool-output token inside sequence 1 */
        }
    rl_seq_ratio_old(lp, old, m, cu, S, o2);
    rl_clip_t c = {0.02f, 0.02f, 0};
    rl_policy_loss(lp, o2, adv, N, &c, NULL, NULL, NULL, ratio);
    for (int i = 0; i < S; i++) {
        double d = 0, n = 0;
        for (int t = cu[i]; t < cu[i + 1]; t++)
            if (m[t] > 0) d += (double)lp[t] - old[t], n++;
        for (int t = cu[i]; t < cu[i + 1]; t++) CLOSE(ratio[t], exp(d / n), 3e-6);
    }
    rl_agg_count_t g = {0};
    rl_agg_count_add(&g, m, cu, S);
    assert_int_equal(rl_agg_weights(RL_AGG_SEQ_MEAN_TOKEN_MEAN, m, cu, S, &g, 0, w), 0);
    rl_loss_cfg_t cfg = {c, 0, RL_KL_K3, 0};
    rl_loss_stats_t st;
    rl_loss_stats_init(&st);
    assert_int_equal(rl_token_loss(&cfg, N, lp, o2, NULL, adv, NULL, m, w, dl, NULL, &st), 0);
    CLOSE(st.loss, gspo_objective(lp, old, adv, m, cu, S, 0.02, 0.02), 1e-6);
    for (int t = 0; t < N; t++) {
        float save = lp[t];
        double h = 1e-3;
        lp[t] = save + (float)h;
        double hi = gspo_objective(lp, old, adv, m, cu, S, 0.02, 0.02);
        lp[t] = save - (float)h;
        double lo = gspo_objective(lp, old, adv, m, cu, S, 0.02, 0.02);
        lp[t] = save;
        double fd = (hi - lo) / ((double)(save + (float)h) - (double)(save - (float)h));
        if (fabs(fd - dl[t]) > 1e-4) fail_msg("token %d: finite difference %g vs dlogp %g", t, fd, dl[t]);
        if (t >= 4) CLOSE(dl[t], 0, 0); /* sequences 1 and 2 are clipped whole (and 5 is masked) */
    }
    assert_true(dl[0] != 0);
}

static void test_token_loss_stats(void **s) {
    (void)s;
    /* 3 tokens: ratio 1.5 with A=+1 (clipped high), ratio 0.5 with A=-1 (clipped low), ratio 4 with
     * A=-1 (dual) */
    float lp[3] = {logf(1.5f), logf(0.5f), logf(4.0f)}, old[3] = {0, 0, 0}, adv[3] = {1, -1, -1};
    float m[3] = {1, 1, 1}, w[3] = {1.0f / 3, 1.0f / 3, 1.0f / 3}, dl[3];
    rl_loss_cfg_t cfg = {{0.2f, 0.2f, 3}, 0, RL_KL_K3, 0};
    rl_loss_stats_t st;
    rl_loss_stats_init(&st);
    assert_int_equal(rl_token_loss(&cfg, 3, lp, old, NULL, adv, NULL, m, w, dl, NULL, &st), 0);
    CLOSE(st.clip_high, 1, 0);
    CLOSE(st.clip_low, 1, 0);
    CLOSE(st.clip_dual, 1, 0);
    CLOSE(st.pg, (-1.2 + 0.8 + 3.0) / 3, 1e-6);
    CLOSE(st.ratio_max, 4, 1e-6);
    CLOSE(st.ratio_min, 0.5, 1e-6);
    for (int i = 0; i < 3; i++) CLOSE(dl[i], 0, 0);
}

static void test_value_loss(void **s) {
    (void)s;
    float v[4] = {1.0f, 0.6f, 0.9f, 2.0f}, vo[4] = {0.5f, 1.0f, 1.0f, 2.0f}, R[4] = {0, 0, 0, 1};
    float L[4], d[4];
    uint8_t c[4];
    rl_value_loss(v, vo, R, 4, 0.2f, L, d, c);
    double wl[4] = {0.5, 0.32, 0.405, 0.5}, wd[4] = {1.0, 0, 0.9, 1.0};
    uint8_t wc[4] = {0, 1, 0, 0};
    expect(L, wl, 4, 1e-6);
    expect(d, wd, 4, 1e-6);
    for (int i = 0; i < 4; i++) assert_int_equal(c[i], wc[i]);
    rl_value_loss(v, vo, R, 4, 0, L, d, c);
    CLOSE(L[1], 0.18, 1e-6);
    CLOSE(d[1], 0.6, 1e-6);
}

static void test_filters(void **s) {
    (void)s;
    enum { G = 4, NG = 6 };
    float rw[NG * G] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0.5f, 0.2f, 0.5f, 0.5f};
    float corr[NG * G];
    for (int i = 0; i < NG * G; i++) corr[i] = rw[i] == 1.0f;
    float p[NG];
    rl_pass_rates(corr, NG, G, p);
    double wp[NG] = {1, 0, 0.25, 0.75, 0.5, 0};
    expect(p, wp, NG, 1e-7);
    long hist[G + 1] = {0};
    rl_pass_hist_add(p, NG, G, hist);
    long wh[G + 1] = {2, 1, 1, 1, 1};
    for (int k = 0; k <= G; k++) assert_int_equal(hist[k], wh[k]);

    uint8_t keep[NG];
    rl_filter_stats_t st = {0};
    rl_filter_cfg_t ds = {1, 0, 0.2f, 0.8f};
    assert_int_equal(rl_filter_groups(&ds, rw, NULL, NG, G, keep, &st), 4);
    uint8_t wk1[NG] = {0, 0, 1, 1, 1, 1};
    assert_memory_equal(keep, wk1, NG);
    assert_int_equal(st.zero_var, 2);
    rl_filter_cfg_t bal = {0, 1, 0.2f, 0.8f};
    memset(&st, 0, sizeof st);
    assert_int_equal(rl_filter_groups(&bal, rw, corr, NG, G, keep, &st), 3);
    uint8_t wk2[NG] = {0, 0, 1, 1, 1, 0};
    assert_memory_equal(keep, wk2, NG);
    assert_int_equal(st.out_of_window, 3);
    rl_filter_cfg_t narrow = {1, 1, 0.3f, 0.7f};
    memset(&st, 0, sizeof st);
    assert_int_equal(rl_filter_groups(&narrow, rw, corr, NG, G, keep, &st), 1);
    assert_int_equal(keep[4], 1);
    assert_true(st.seen == NG && st.kept == 1 && st.zero_var == 2 && st.out_of_window == 3);
    /* stats accumulate across refill rounds */
    rl_filter_groups(&narrow, rw, corr, NG, G, keep, &st);
    assert_true(st.seen == 2 * NG && st.kept == 2);
    assert_true(rl_filter_groups(&bal, rw, NULL, NG, G, keep, NULL) < 0);
}

static void test_overlong(void **s) {
    (void)s;
    int lens[5] = {15, 16, 18, 20, 21};
    double want[5] = {0, -0.2, -0.6, -1, -1};
    for (int i = 0; i < 5; i++) CLOSE(rl_overlong_penalty(lens[i], 20, 5), want[i], 1e-6);
    CLOSE(rl_overlong_penalty(20, 20, 0), 0, 0);
    CLOSE(rl_overlong_penalty(21, 20, 0), -1, 0);
    float r[5] = {1, 1, 1, 0, 0};
    rl_overlong_apply(r, lens, 5, 20, 5, 0.5f);
    double wr[5] = {1, 0.9, 0.7, -0.5, -0.5};
    expect(r, wr, 5, 1e-6);
    float m[6] = {1, 1, 1, 1, 1, 1};
    int32_t cu[3] = {0, 2, 6};
    uint8_t tr[2] = {0, 1};
    assert_int_equal(rl_mask_truncated(m, cu, 2, tr), 1);
    double wm[6] = {1, 1, 0, 0, 0, 0};
    expect(m, wm, 6, 0);
}

static void test_lr(void **s) {
    (void)s;
    double b = 1e-3;
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 0, 10, 110, 0), 1e-4, 1e-15);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 9, 10, 110, 0), 1e-3, 1e-15);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 10, 10, 110, 0), 1e-3, 1e-15);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 60, 10, 110, 0), 0.5e-3, 1e-12);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 60, 10, 110, 0.1), 0.55e-3, 1e-12);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 110, 10, 110, 0.1), 1e-4, 1e-12);
    CLOSE(rl_lr_at(RL_LR_COSINE, b, 500, 10, 110, 0.1), 1e-4, 1e-12);
    CLOSE(rl_lr_at(RL_LR_LINEAR, b, 35, 10, 110, 0), 0.75e-3, 1e-12);
    CLOSE(rl_lr_at(RL_LR_CONSTANT, b, 35, 10, 110, 0.5), 1e-3, 0);
    CLOSE(rl_lr_at(RL_LR_CONSTANT, b, 0, 0, 110, 0), 1e-3, 0);
    CLOSE(rl_lr_at(RL_LR_CONSTANT, b, 4, 10, 110, 0), 5e-4, 1e-15);
    assert_int_equal(rl_lr_parse("cosine"), RL_LR_COSINE);
    assert_int_equal(rl_lr_parse("exp"), -1);
}

static void test_otc(void **s) {
    (void)s;
    CLOSE(rl_otc_ppo(0, 1), 1, 1e-12);
    CLOSE(rl_otc_ppo(1, 1), 0.5, 1e-12);           /* cos(π/3) */
    CLOSE(rl_otc_ppo(2, 1), 0.30901699437, 1e-10); /* cos(2π/5) */
    CLOSE(rl_otc_grpo(0, 0, 1), 1, 0);
    CLOSE(rl_otc_grpo(1, 0, 1), 0.5, 1e-12);
    CLOSE(rl_otc_grpo(2, 2, 1), 1, 1e-12);               /* f = n: the optimum */
    CLOSE(rl_otc_grpo(4, 2, 1), sqrt(3) / 2, 1e-12);    /* f = 8/3 */
    CLOSE(rl_otc_grpo(1, 2, 1), sqrt(3) / 2, 1e-12);    /* f = 4/3 */
    CLOSE(rl_otc_grpo(0, 2, 1), 0, 1e-12);
    float r[6] = {1, 1, 0, 0, 0, 0}, corr[6] = {1, 1, 0, 0, 0, 0};
    int calls[6] = {2, 4, 1, 3, 0, 5};
    rl_otc_apply(r, calls, corr, 6, 3, 1, 1, 1);
    double w[6] = {1, sqrt(3) / 2, 0, 0, 0, 0};
    expect(r, w, 6, 1e-6);
    float r2[3] = {1, 1, 0}, c2[3] = {1, 1, 0};
    int k2[3] = {1, 0, 0};
    rl_otc_apply(r2, k2, c2, 3, 3, 0, 1, 2); /* OTC-PPO, alpha 2 */
    double w2[3] = {1.0, 2, 0};
    expect(r2, w2, 3, 1e-6);
}

static void test_oreal(void **s) {
    (void)s;
    float w[3] = {1, -3, 0.5f}, o[3];
    rl_oreal_weights(w, 3, 1, o);
    double sg1 = 1 / (1 + exp(-1.0)), sgm1 = 1 / (1 + exp(1.0)), sgh = 1 / (1 + exp(0.5));
    double wp[3] = {2 * sg1 - 1, 0, 0};
    expect(o, wp, 3, 1e-6);
    rl_oreal_weights(w, 3, 0, o);
    double wn[3] = {0, 1 - 2 * sgm1, 1 - 2 * sgh};
    expect(o, wn, 3, 1e-6);
    float dw[3];
    CLOSE(rl_oreal_rm_loss(w, 3, 1, dw), log(1 + exp(0.5)), 1e-9);
    CLOSE(dw[0], (sgh - 1) / 3, 1e-7);
    CLOSE(rl_oreal_rm_loss(w, 3, 0, dw), log(1 + exp(-0.5)), 1e-9);
    CLOSE(dw[2], sgh / 3, 1e-7);
}

static void test_names(void **s) {
    (void)s;
    assert_int_equal(rl_adv_parse("GRPO"), RL_ADV_GRPO);
    assert_int_equal(rl_adv_parse("dr_grpo"), RL_ADV_DRGRPO);
    assert_int_equal(rl_adv_parse("reinforce++"), RL_ADV_REINFORCEPP);
    assert_int_equal(rl_adv_parse("ppo"), RL_ADV_GAE);
    assert_int_equal(rl_adv_parse("a2c"), -1);
    for (int k = 0; k < RL_ADV_COUNT; k++) assert_int_equal(rl_adv_parse(rl_adv_name(k)), k);
    for (int k = 0; k < RL_AGG_COUNT; k++) assert_int_equal(rl_agg_parse(rl_agg_name(k)), k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpo),          cmocka_unit_test(test_drgrpo_rloo),
        cmocka_unit_test(test_reinforcepp),   cmocka_unit_test(test_baseline_and_tokens),
        cmocka_unit_test(test_gae),           cmocka_unit_test(test_whiten),
        cmocka_unit_test(test_policy_loss),   cmocka_unit_test(test_kl),
        cmocka_unit_test(test_agg_values),    cmocka_unit_test(test_agg_microbatches),
        cmocka_unit_test(test_token_loss_fd), cmocka_unit_test(test_token_loss_stats),
        cmocka_unit_test(test_gspo),
        cmocka_unit_test(test_value_loss),    cmocka_unit_test(test_filters),
        cmocka_unit_test(test_overlong),      cmocka_unit_test(test_lr),
        cmocka_unit_test(test_otc),           cmocka_unit_test(test_oreal),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
