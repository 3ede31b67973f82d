/* RL algorithm math (advantages, clipped surrogate, KL, aggregation, filters, shaping,
 * schedules, OTC and OREAL formulas) on host arrays. Everything is computed in double and
 * stored as float so results do not depend on summation order more than necessary. */
#include "rl/algo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

/* ---------------------------------------------------------------- names */

static int lookup(const char *name, const char *const *names, int n) {
    if (!name) return -1;
    for (int i = 0; i < n; i++)
        if (names[i] && !strcasecmp(name, names[i])) return i;
    return -1;
}

static const char *const ADV_NAMES[RL_ADV_COUNT] = {"grpo", "drgrpo", "rloo", "reinforce++", "ppo", "oreal"};

int rl_adv_parse(const char *name) {
    int k = lookup(name, ADV_NAMES, RL_ADV_COUNT);
    if (k >= 0) return k;
    static const char *const alias[] = {"dr_grpo", "dr-grpo", "reinforce_pp", "reinforcepp", "gae"};
    static const int to[] = {RL_ADV_DRGRPO, RL_ADV_DRGRPO, RL_ADV_REINFORCEPP, RL_ADV_REINFORCEPP, RL_ADV_GAE};
    k = lookup(name, alias, 5);
    return k < 0 ? -1 : to[k];
}

const char *rl_adv_name(int kind) { return kind >= 0 && kind < RL_ADV_COUNT ? ADV_NAMES[kind] : "?"; }

static const char *const KL_NAMES[RL_KL_COUNT] = {"k1", "k2", "k3"};

int rl_kl_parse(const char *name) {
    int k = lookup(name, KL_NAMES, RL_KL_COUNT);
    if (k >= 0) return k;
    static const char *const alias[] = {"kl", "mse", "low_var_kl"};
    return lookup(name, alias, 3);
}

const char *rl_kl_name(int kind) { return kind >= 0 && kind < RL_KL_COUNT ? KL_NAMES[kind] : "?"; }

static const char *const AGG_NAMES[RL_AGG_COUNT] = {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                                                    "seq-mean-token-sum-norm"};

int rl_agg_parse(const char *name) {
    if (!name) return -1;
    char buf[64];
    size_t n = strlen(name);
    if (n >= sizeof buf) return -1;
    for (size_t i = 0; i <= n; i++) buf[i] = name[i] == '_' ? '-' : name[i];
    return lookup(buf, AGG_NAMES, RL_AGG_COUNT);
}

const char *rl_agg_name(int mode) { return mode >= 0 && mode < RL_AGG_COUNT ? AGG_NAMES[mode] : "?"; }

static const char *const LR_NAMES[RL_LR_COUNT] = {"constant", "linear", "cosine"};

int rl_lr_parse(const char *name) { return lookup(name, LR_NAMES, RL_LR_COUNT); }
const char *rl_lr_name(int kind) { return kind >= 0 && kind < RL_LR_COUNT ? LR_NAMES[kind] : "?"; }

/* ---------------------------------------------------------------- advantages */

static int check_groups(int n_seq, int G, const char *what) {
    if (G < 1 || n_seq < 0 || n_seq % G != 0)
        return rlc_errc(RLC_EINVAL, "%s: %d sequences do not form whole groups of G = %d", what, n_seq, G);
    return 0;
}

static double group_mean(const float *r, int G) {
    double s = 0;
    for (int i = 0; i < G; i++) s += r[i];
    return s / G;
}

int rl_adv_grpo(const float *r, int n_seq, int G, int sample_std, float eps, float *adv) {
    int rc = check_groups(n_seq, G, "GRPO advantages");
    if (rc) return rc;
    for (int g = 0; g < n_seq; g += G) {
        double mean = group_mean(r + g, G), ss = 0;
        for (int i = 0; i < G; i++) ss += ((double)r[g + i] - mean) * ((double)r[g + i] - mean);
        int dof = sample_std ? G - 1 : G;
        double sd = dof > 0 ? sqrt(ss / dof) : 0.0;
        for (int i = 0; i < G; i++) adv[g + i] = (float)(((double)r[g + i] - mean) / (sd + (double)eps));
    }
    return 0;
}

int rl_adv_drgrpo(const float *r, int n_seq, int G, float *adv) {
    int rc = check_groups(n_seq, G, "Dr.GRPO advantages");
    if (rc) return rc;
    for (int g = 0; g < n_seq; g += G) {
        double mean = group_mean(r + g, G);
        for (int i = 0; i < G; i++) adv[g + i] = (float)((double)r[g + i] - mean);
    }
    return 0;
}

int rl_adv_rloo(const float *r, int n_seq, int G, float *adv) {
    int rc = check_groups(n_seq, G, "RLOO advantages");
    if (rc) return rc;
    if (G < 2) return rlc_errc(RLC_EINVAL, "RLOO advantages need G >= 2 (got %d)", G);
    for (int g = 0; g < n_seq; g += G) {
        double s = group_mean(r + g, G) * G;
        for (int i = 0; i < G; i++) adv[g + i] = (float)((double)r[g + i] - (s - (double)r[g + i]) / (G - 1));
    }
    return 0;
}

int rl_adv_reinforcepp(const float *r, int n_seq, int G, const int *lens, float eps, float *adv) {
    if (n_seq < 1) return rlc_errc(RLC_EINVAL, "REINFORCE++ advantages: empty batch");
    if (G >= 2) {
        int rc = rl_adv_drgrpo(r, n_seq, G, adv);
        if (rc) return rc;
    } else {
        double mean = 0;
        for (int i = 0; i < n_seq; i++) mean += r[i];
        mean /= n_seq;
        for (int i = 0; i < n_seq; i++) adv[i] = (float)((double)r[i] - mean);
    }
    double sw = 0, s = 0, ss = 0;
    for (int i = 0; i < n_seq; i++) {
        double w = lens ? (double)(lens[i] > 0 ? lens[i] : 0) : 1.0;
        sw += w;
        s += w * adv[i];
    }
    if (sw <= 0) {
        for (int i = 0; i < n_seq; i++) adv[i] = 0;
        return 0;
    }
    double mean = s / sw;
    for (int i = 0; i < n_seq; i++) {
        double w = lens ? (double)(lens[i] > 0 ? lens[i] : 0) : 1.0;
        ss += w * ((double)adv[i] - mean) * ((double)adv[i] - mean);
    }
    double sd = sqrt(ss / sw);
    for (int i = 0; i < n_seq; i++) adv[i] = (float)(((double)adv[i] - mean) / (sd + (double)eps));
    return 0;
}

int rl_adv_baseline(const float *r, const float *baseline, int n_seq, float *adv) {
    if (n_seq < 0 || (n_seq > 0 && (!r || !baseline)))
        return rlc_errc(RLC_EINVAL, "baseline advantages: missing rewards or baselines");
    for (int i = 0; i < n_seq; i++) adv[i] = (float)((double)r[i] - (double)baseline[i]);
    return 0;
}

void rl_adv_to_tokens(const float *adv_seq, const int32_t *cu, int n_seq, const float *mask, float *adv_tok) {
    for (int i = 0; i < n_seq; i++)
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) adv_tok[t] = (mask && mask[t] == 0) ? 0.0f : adv_seq[i];
}

/* Return-to-go of one sequence's dense terms over rows [a, e), masked rows' terms moved to
 * the previous trainable row; out[k] for position k = row - a. */
static void dense_rtg(const float *d, const float *mask, int32_t a, int32_t e, double *out) {
    double carry = 0, pending = 0;
    for (int32_t t = e - 1; t >= a; t--) {
        if (mask && mask[t] == 0) {
            pending += d[t];
        } else {
            carry += (double)d[t] + pending;
            pending = 0;
        }
        out[t - a] = carry;
    }
}

int rl_adv_dense(int kind, const float *dense, const float *mask, const int32_t *cu, const int32_t *r0, int n_seq,
                 int G, float *adv) {
    if (kind != RL_ADV_GRPO && kind != RL_ADV_DRGRPO && kind != RL_ADV_RLOO && kind != RL_ADV_REINFORCEPP)
        return rlc_errc(RLC_EINVAL, "dense advantages: %s takes dense terms as per-token rewards", rl_adv_name(kind));
    int g = G >= 1 ? G : 1;
    if (n_seq < 0 || n_seq % g) return rlc_errc(RLC_EINVAL, "dense advantages: %d sequences in groups of %d", n_seq, g);
    if (kind == RL_ADV_RLOO && G < 2) return rlc_errc(RLC_EINVAL, "dense advantages: RLOO needs groups of 2 or more");
    int32_t maxl = 0;
    for (int i = 0; i < n_seq; i++) {
        int32_t a = r0 ? r0[i] : cu[i];
        if (a < cu[i] || cu[i + 1] < a) return rlc_errc(RLC_EINVAL, "dense advantages: response start outside sequence %d", i);
        if (cu[i + 1] - a > maxl) maxl = cu[i + 1] - a;
    }
    double *R = rlc_malloc((size_t)(maxl ? maxl : 1) * (size_t)g * sizeof *R);
    double *sum = rlc_malloc((size_t)(maxl ? maxl : 1) * sizeof *sum);
    if (!R || !sum) {
        free(R), free(sum);
        return RLC_ENOMEM;
    }
    for (int g0 = 0; g0 < n_seq; g0 += g) {
        memset(sum, 0, (size_t)maxl * sizeof *sum);
        for (int j = 0; j < g; j++) {
            int i = g0 + j;
            int32_t a = r0 ? r0[i] : cu[i], L = cu[i + 1] - a;
            dense_rtg(dense, mask, a, cu[i + 1], R + (size_t)j * maxl);
            for (int32_t k = 0; k < L; k++) sum[k] += R[(size_t)j * maxl + k];
        }
        for (int j = 0; j < g; j++) {
            int i = g0 + j;
            int32_t a = r0 ? r0[i] : cu[i];
            for (int32_t t = a; t < cu[i + 1]; t++) {
                if (mask && mask[t] == 0) continue;
                double own = R[(size_t)j * maxl + (t - a)], b = 0;
                if (G >= 2) b = kind == RL_ADV_RLOO ? (sum[t - a] - own) / (G - 1) : sum[t - a] / G;
                adv[t] = (float)((double)adv[t] + own - b);
            }
        }
    }
    free(R), free(sum);
    return 0;
}

int rl_adv_gae(const float *rew_tok, const float *values, const float *mask, const int32_t *cu, int n_seq,
               float gamma, float lam, float *adv, float *ret) {
    if (!(gamma >= 0 && gamma <= 1) || !(lam >= 0 && lam <= 1))
        return rlc_errc(RLC_EINVAL, "GAE: gamma and lambda must lie in [0, 1] (got %g, %g)", gamma, lam);
    for (int i = 0; i < n_seq; i++) {
        if (cu[i + 1] < cu[i]) return rlc_errc(RLC_EINVAL, "GAE: sequence %d has negative length", i);
        double next_v = 0, last = 0, pending = 0;
        for (int32_t t = cu[i + 1] - 1; t >= cu[i]; t--) {
            if (mask && mask[t] == 0) {
                pending += rew_tok[t];
                adv[t] = 0;
                ret[t] = values[t];
                continue;
            }
            double delta = (double)rew_tok[t] + pending + gamma * next_v - (double)values[t];
            pending = 0;
            last = delta + (double)gamma * lam * last;
            adv[t] = (float)last;
            ret[t] = (float)(last + (double)values[t]);
            next_v = values[t];
        }
    }
    return 0;
}

void rl_whiten(float *x, const float *mask, size_t n, int shift_mean, float eps) {
    double s = 0, c = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i] != 0) s += x[i], c += 1;
    if (c == 0) return;
    double mean = s / c, ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i] != 0) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    double sd = sqrt(ss / c);
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i] != 0) {
            double y = ((double)x[i] - mean) / (sd + (double)eps);
            x[i] = (float)(shift_mean ? y : y + mean);
        }
}

/* ---------------------------------------------------------------- policy loss */

typedef struct {
    double loss, dloss, ratio;
    uint8_t clip;
} pg_tok_t;

static inline pg_tok_t pg_token(double logp, double old_logp, double A, const rl_clip_t *c) {
    pg_tok_t o = {0, 0, 0, 0};
    double lr = logp - old_logp;
    int sat = 0;
    if (lr > 20) lr = 20, sat = 1;
    if (lr < -20) lr = -20, sat = 1;
    if (lr != lr) sat = 1; /* NaN propagates into the loss; no gradient */
    double ratio = exp(lr);
    double lo = 1.0 - (double)c->eps_low, hi = 1.0 + (double)c->eps_high;
    double rc = ratio < lo ? lo : ratio > hi ? hi : ratio;
    double s1 = -A * ratio, s2 = -A * rc;
    o.ratio = ratio;
    if (s2 > s1) {
        o.loss = s2;
        o.clip = A > 0 ? RL_CLIPPED_HIGH : RL_CLIPPED_LOW;
    } else {
        o.loss = s1;
        o.dloss = sat ? 0.0 : -A * ratio;
    }
    if (c->dual_clip > 1 && A < 0) {
        double cap = -A * (double)c->dual_clip;
        if (o.loss > cap) {
            o.loss = cap;
            o.dloss = 0;
            o.clip = RL_CLIPPED_DUAL;
        }
    }
    return o;
}

void rl_policy_loss(const float *logp, const float *old_logp, const float *adv, size_t n, const rl_clip_t *c,
                    float *loss, float *dloss, uint8_t *clip, float *ratio_out) {
    for (size_t t = 0; t < n; t++) {
        pg_tok_t o = pg_token(logp[t], old_logp[t], adv[t], c);
        if (loss) loss[t] = (float)o.loss;
        if (dloss) dloss[t] = (float)o.dloss;
        if (clip) clip[t] = o.clip;
        if (ratio_out) ratio_out[t] = (float)o.ratio;
    }
}

void rl_seq_ratio_old(const float *logp, const float *old_logp, const float *mask, const int32_t *cu, int n_seq,
                      float *old_out) {
    for (int i = 0; i < n_seq; i++) {
        double sum = 0, n = 0;
        for (int t = cu[i]; t < cu[i + 1]; t++)
            if (!mask || mask[t] > 0) sum += (double)logp[t] - (double)old_logp[t], n += 1;
        double d = n > 0 ? sum / n : 0;
        for (int t = cu[i]; t < cu[i + 1]; t++) old_out[t] = (float)((double)logp[t] - d);
    }
}

/* ---------------------------------------------------------------- KL */

static inline void kl_token(int kind, double logp, double ref, double *k, double *dk) {
    double d = logp - ref;
    int sat = 0;
    if (d > 20) d = 20, sat = 1;
    if (d < -20) d = -20, sat = 1;
    switch (kind) {
    case RL_KL_K1:
        *k = d;
        *dk = 1;
        break;
    case RL_KL_K2:
        *k = 0.5 * d * d;
        *dk = d;
        break;
    default: {
        /* expm1 keeps k3 accurate for tiny d, where exp(-d) + d - 1 cancels. */
        double e = expm1(-d);
        *k = e + d;
        *dk = -e; /* 1 - exp(-d) */
        break;
    }
    }
    if (sat) *dk = 0;
}

void rl_kl(int kind, const float *logp, const float *ref_logp, size_t n, float *kl, float *dkl) {
    for (size_t t = 0; t < n; t++) {
        double k, dk;
        kl_token(kind, logp[t], ref_logp[t], &k, &dk);
        if (kl) kl[t] = (float)k;
        if (dkl) dkl[t] = (float)dk;
    }
}

/* ---------------------------------------------------------------- aggregation */

static double seq_tokens(const float *mask, const int32_t *cu, int i) {
    if (!mask) return (double)(cu[i + 1] - cu[i]);
    double s = 0;
    for (int32_t t = cu[i]; t < cu[i + 1]; t++) s += mask[t];
    return s;
}

void rl_agg_count_add(rl_agg_count_t *g, const float *mask, const int32_t *cu, int n_seq) {
    for (int i = 0; i < n_seq; i++) {
        double T = seq_tokens(mask, cu, i);
        g->n_tokens += T;
        g->n_seq_valid += T > 0;
        g->n_seq += 1;
    }
}

int rl_agg_weights(int mode, const float *mask, const int32_t *cu, int n_seq, const rl_agg_count_t *g,
                   int max_response_len, float *w) {
    if (mode < 0 || mode >= RL_AGG_COUNT) return rlc_errc(RLC_EINVAL, "unknown loss aggregation mode %d", mode);
    if (mode == RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM && max_response_len <= 0)
        return rlc_errc(RLC_EINVAL, "seq-mean-token-sum-norm needs max_response_len > 0 (got %d)", max_response_len);
    for (int i = 0; i < n_seq; i++) {
        double scale = 0;
        switch (mode) {
        case RL_AGG_TOKEN_MEAN:
            scale = g->n_tokens > 0 ? 1.0 / g->n_tokens : 0;
            break;
        case RL_AGG_SEQ_MEAN_TOKEN_MEAN: {
            double T = seq_tokens(mask, cu, i);
            scale = (T > 0 && g->n_seq_valid > 0) ? 1.0 / (T * g->n_seq_valid) : 0;
            break;
        }
        case RL_AGG_SEQ_MEAN_TOKEN_SUM:
            scale = g->n_seq_valid > 0 ? 1.0 / g->n_seq_valid : 0;
            break;
        default:
            scale = g->n_seq > 0 ? 1.0 / (g->n_seq * (double)max_response_len) : 0;
            break;
        }
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) w[t] = (float)(scale * (mask ? mask[t] : 1.0f));
    }
    return 0;
}

double rl_agg_value(int mode, const float *loss, const float *mask, const int32_t *cu, int n_seq,
                    int max_response_len) {
    double num = 0, nseq_valid = 0, ntok = 0, seqsum = 0;
    for (int i = 0; i < n_seq; i++) {
        double s = 0, T = 0;
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) {
            double m = mask ? mask[t] : 1.0;
            s += m * loss[t];
            T += m;
        }
        num += s;
        ntok += T;
        if (T > 0) {
            nseq_valid += 1;
            seqsum += mode == RL_AGG_SEQ_MEAN_TOKEN_MEAN ? s / T : s;
        }
    }
    switch (mode) {
    case RL_AGG_TOKEN_MEAN:
        return ntok > 0 ? num / ntok : 0;
    case RL_AGG_SEQ_MEAN_TOKEN_MEAN:
    case RL_AGG_SEQ_MEAN_TOKEN_SUM:
        return nseq_valid > 0 ? seqsum / nseq_valid : 0;
    default:
        return n_seq > 0 && max_response_len > 0 ? num / ((double)n_seq * max_response_len) : 0;
    }
}

/* ---------------------------------------------------------------- total per-token loss */

void rl_loss_stats_init(rl_loss_stats_t *s) {
    memset(s, 0, sizeof *s);
    s->ratio_max = -INFINITY;
    s->ratio_min = INFINITY;
}

int rl_token_loss(const rl_loss_cfg_t *cfg, size_t n, const float *logp, const float *old_logp,
                  const float *ref_logp, const float *adv, const float *entropy, const float *mask, const float *w,
                  float *dlogp, float *dent, rl_loss_stats_t *st) {
    return rl_token_loss_is(cfg, n, logp, old_logp, ref_logp, adv, entropy, mask, w, NULL, dlogp, dent, st);
}

int rl_token_loss_is(const rl_loss_cfg_t *cfg, size_t n, const float *logp, const float *old_logp,
                     const float *ref_logp, const float *adv, const float *entropy, const float *mask, const float *w,
                     const float *is_w, float *dlogp, float *dent, rl_loss_stats_t *st) {
    if (!logp || !old_logp || !adv || !w || !dlogp)
        return rlc_errc(RLC_EINVAL, "policy loss: logp, old_logp, advantages, weights and dlogp are required");
    if (cfg->kl_coef != 0 && !ref_logp)
        return rlc_errc(RLC_EINVAL, "policy loss: kl_coef = %g needs reference log-probs", cfg->kl_coef);
    if (cfg->entropy_coef != 0 && (!entropy || !dent))
        return rlc_errc(RLC_EINVAL, "policy loss: entropy_coef = %g needs the entropy and a dentropy buffer",
                        cfg->entropy_coef);
    if (cfg->kl_kind < 0 || cfg->kl_kind >= RL_KL_COUNT)
        return rlc_errc(RLC_EINVAL, "policy loss: unknown KL estimator %d", cfg->kl_kind);
    double beta = cfg->kl_coef, bent = cfg->entropy_coef;
    for (size_t t = 0; t < n; t++) {
        pg_tok_t o = pg_token(logp[t], old_logp[t], adv[t], &cfg->clip);
        double k = 0, dk = 0, h = entropy ? entropy[t] : 0.0;
        if (ref_logp) kl_token(cfg->kl_kind, logp[t], ref_logp[t], &k, &dk);
        double wt = w[t], iw = is_w ? is_w[t] : 1.0;
        dlogp[t] = (float)(wt * (iw * o.dloss + beta * dk));
        if (dent) dent[t] = (float)(-bent * wt);
        if (!st) continue;
        st->loss += wt * (iw * o.loss + beta * k - bent * h);
        st->pg += wt * iw * o.loss;
        st->kl += wt * k;
        st->ent += wt * h;
        double m = mask ? mask[t] : 1.0;
        if (m > 0) {
            st->n_tok += 1;
            st->clip_high += (o.clip & RL_CLIPPED_HIGH) != 0;
            st->clip_low += (o.clip & RL_CLIPPED_LOW) != 0;
            st->clip_dual += (o.clip & RL_CLIPPED_DUAL) != 0;
            st->ratio_sum += o.ratio;
            if (o.ratio > st->ratio_max) st->ratio_max = o.ratio;
            if (o.ratio < st->ratio_min) st->ratio_min = o.ratio;
            st->kl_tok += k;
            st->ent_tok += h;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- value loss */

void rl_value_loss(const float *v, const float *v_old, const float *ret, size_t n, float clip, float *loss,
                   float *dloss, uint8_t *clipped) {
    for (size_t t = 0; t < n; t++) {
        double V = v[t], R = ret[t];
        double e1 = V - R, l1 = 0.5 * e1 * e1, l = l1, g = e1;
        uint8_t c = 0;
        if (clip > 0) {
            double d = V - (double)v_old[t];
            int inside = d >= -clip && d <= clip;
            double vc = (double)v_old[t] + (d < -clip ? -(double)clip : d > clip ? (double)clip : d);
            double e2 = vc - R, l2 = 0.5 * e2 * e2;
            if (l2 > l1) {
                l = l2;
                g = inside ? e2 : 0.0;
                c = 1;
            }
        }
        if (loss) loss[t] = (float)l;
        if (dloss) dloss[t] = (float)g;
        if (clipped) clipped[t] = c;
    }
}

/* ---------------------------------------------------------------- filtering and shaping */

void rl_pass_rates(const float *correct, int n_groups, int G, float *p) {
    for (int g = 0; g < n_groups; g++) {
        int k = 0;
        for (int i = 0; i < G; i++) k += correct[g * G + i] > 0.5f;
        p[g] = (float)k / (float)G;
    }
}

void rl_pass_hist_add(const float *p, int n_groups, int G, long *hist) {
    for (int g = 0; g < n_groups; g++) {
        long k = lround((double)p[g] * G);
        if (k < 0) k = 0;
        if (k > G) k = G;
        hist[k]++;
    }
}

int rl_filter_groups(const rl_filter_cfg_t *cfg, const float *rewards, const float *correct, int n_groups, int G,
                     uint8_t *keep, rl_filter_stats_t *st) {
    if (G < 1 || n_groups < 0) return rlc_errc(RLC_EINVAL, "group filter: bad shape (%d groups of %d)", n_groups, G);
    if (cfg->balanced && !correct)
        return rlc_errc(RLC_EINVAL, "balanced difficulty filter needs per-sample correctness");
    int kept = 0;
    for (int g = 0; g < n_groups; g++) {
        const float *r = rewards + (size_t)g * G;
        int zv = 1;
        for (int i = 1; i < G; i++)
            if (r[i] != r[0]) zv = 0;
        int out = 0;
        if (cfg->balanced) {
            int k = 0;
            for (int i = 0; i < G; i++) k += correct[(size_t)g * G + i] > 0.5f;
            double p = (double)k / G;
            out = p < (double)cfg->p_low - 1e-6 || p > (double)cfg->p_high + 1e-6;
        }
        int drop_zv = cfg->dynamic_sampling && zv;
        keep[g] = !drop_zv && !out;
        kept += keep[g];
        if (st) {
            st->seen++;
            st->kept += keep[g];
            if (drop_zv)
                st->zero_var++;
            else if (out)
                st->out_of_window++;
        }
    }
    return kept;
}

float rl_overlong_penalty(int len, int L_max, int L_buf) {
    if (L_buf <= 0) return len > L_max ? -1.0f : 0.0f;
    int free_len = L_max - L_buf;
    if (len <= free_len) return 0.0f;
    if (len > L_max) return -1.0f;
    return (float)((double)(free_len - len) / L_buf);
}

void rl_overlong_apply(float *rewards, const int *lens, int n_seq, int L_max, int L_buf, float factor) {
    for (int i = 0; i < n_seq; i++) rewards[i] += factor * rl_overlong_penalty(lens[i], L_max, L_buf);
}

int rl_mask_truncated(float *mask, const int32_t *cu, int n_seq, const uint8_t *truncated) {
    int k = 0;
    for (int i = 0; i < n_seq; i++) {
        if (!truncated[i]) continue;
        k++;
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) mask[t] = 0;
    }
    return k;
}

/* ---------------------------------------------------------------- LR schedule */

double rl_lr_at(int sched, double base, long step, long warmup, long total, double min_ratio) {
    if (step < 0) step = 0;
    if (warmup > 0 && step < warmup) return base * (double)(step + 1) / (double)warmup;
    if (sched == RL_LR_CONSTANT) return base;
    long span = total - (warmup > 0 ? warmup : 0);
    double q = span > 0 ? (double)(step - (warmup > 0 ? warmup : 0)) / (double)span : 1.0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    double f = sched == RL_LR_LINEAR ? 1.0 - q : 0.5 * (1.0 + cos(M_PI * q));
    return base * (min_ratio + (1.0 - min_ratio) * f);
}

/* ---------------------------------------------------------------- OTC */

double rl_otc_ppo(int m, double c) {
    if (m < 0) m = 0;
    double den = 2.0 * m + c;
    return den > 0 ? cos((double)m * M_PI / den) : 1.0;
}

double rl_otc_grpo(int m, int n, double c) {
    if (m < 0) m = 0;
    if (n < 0) n = 0;
    if (n == 0) return m == 0 ? 1.0 : rl_otc_ppo(m, c);
    double f = 2.0 * n * m / (double)(m + n);
    return sin(f * M_PI / (2.0 * n));
}

void rl_otc_apply(float *rewards, const int *calls, const float *correct, int n_seq, int G, int grpo, double c,
                  double alpha) {
    if (G < 1) return;
    for (int g = 0; g + G <= n_seq; g += G) {
        int n = -1;
        for (int i = g; i < g + G; i++)
            if (correct[i] > 0.5f && (n < 0 || calls[i] < n)) n = calls[i];
        if (n < 0) continue; /* no correct member: everyone keeps r */
        for (int i = g; i < g + G; i++) {
            if (!(correct[i] > 0.5f)) continue;
            double rt = grpo ? rl_otc_grpo(calls[i], n, c) : rl_otc_ppo(calls[i], c);
            rewards[i] = (float)(alpha * rt * rewards[i]);
        }
    }
}

void rl_otc_group(float *rewards, const int *calls, const float *correct, int G, int grpo, double c, double alpha,
                  int *n_best, float *factor) {
    for (int i = 0; i < G; i++)
        if (correct[i] > 0.5f && (*n_best < 0 || calls[i] < *n_best)) *n_best = calls[i];
    for (int i = 0; i < G; i++) {
        double rt = 1.0;
        if (correct[i] > 0.5f) {
            rt = grpo ? rl_otc_grpo(calls[i], *n_best, c) : rl_otc_ppo(calls[i], c);
            rewards[i] = (float)(alpha * rt * rewards[i]);
        }
        if (factor) factor[i] = (float)rt;
    }
}

/* ---------------------------------------------------------------- OREAL */

void rl_oreal_weights(const float *w, int T, int positive, float *out) {
    double s = 0;
    for (int t = 0; t < T; t++) {
        s += w[t];
        double p = 1.0 / (1.0 + exp(-s / (t + 1)));
        double v = positive ? 2 * p - 1 : 1 - 2 * p;
        out[t] = (float)(v > 0 ? v : 0);
    }
}

double rl_oreal_rm_loss(const float *w, int T, int label, float *dw) {
    if (T <= 0) return 0;
    double s = 0;
    for (int t = 0; t < T; t++) s += w[t];
    double x = s / T, y = label ? 1.0 : 0.0;
    double loss = (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
    double g = (1.0 / (1.0 + exp(-x)) - y) / T;
    if (dw)
        for (int t = 0; t < T; t++) dw[t] = (float)g;
    return loss;
}

int rl_oreal_token_loss(const rl_oreal_loss_cfg_t *cfg, size_t n, const float *logp, const float *ref_logp,
                        const float *adv, const float *w, const float *mask, float *dlogp, rl_loss_stats_t *st) {
    if (cfg->kl_coef > 0 && !ref_logp) return rlc_errc(RLC_EINVAL, "OREAL loss: kl_coef > 0 needs reference log-probs");
    for (size_t t = 0; t < n; t++) {
        dlogp[t] = 0;
        if (mask[t] == 0) continue;
        double a = adv[t], pg = 0, g = 0;
        if (a > 0 && cfg->n_pos > 0) { /* -logp·w·A: its value at logp, gradient -w·A */
            double c = (double)w[t] * a / cfg->n_pos * cfg->pos_weight;
            pg = -(double)logp[t] * c, g = -c;
        } else if (a < 0 && cfg->n_neg > 0) { /* -exp(logp - sg(logp))·A·w: value -A·w, gradient the same */
            double c = (double)w[t] * a / cfg->n_neg * cfg->neg_weight;
            pg = -c, g = -c;
        }
        double kl = 0, dkl = 0;
        if (cfg->kl_coef > 0 && cfg->n_tok > 0) {
            float k, dk;
            rl_kl(cfg->kl_kind, &logp[t], &ref_logp[t], 1, &k, &dk);
            kl = k, dkl = dk;
            g += cfg->kl_coef * dkl / cfg->n_tok;
        }
        dlogp[t] = (float)g;
        if (st) {
            st->pg += pg;
            st->kl += cfg->n_tok > 0 ? kl / cfg->n_tok : 0;
            st->loss += pg + (cfg->n_tok > 0 ? cfg->kl_coef * kl / cfg->n_tok : 0);
            st->n_tok += 1;
            st->kl_tok += kl;
            st->ratio_sum += 1; /* the ratio is 1 by construction */
            if (st->ratio_max < 1) st->ratio_max = 1;
            if (st->ratio_min > 1) st->ratio_min = 1;
        }
    }
    return 0;
}
