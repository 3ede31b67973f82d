/* The rollout/trainer gap (docs/training.md, "Rollout and trainer agree"): statistics of the
 * difference between the training forward's log-probs and the engine's for the sampled
 * tokens, and the importance-sampling corrections built on it (TIS: truncated weights; MIS:
 * masking), per token or per sequence. Pure functions on host arrays. */
#include <math.h>
#include <string.h>

#include "core/err.h"
#include "rl/algo.h"

void rl_gap_add(rl_gap_t *g, const float *train, const float *engine, const float *mask, const int32_t *cu,
                int n_seq) {
    for (int i = 0; i < n_seq; i++) {
        double seq = 0;
        int any = 0;
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) {
            if (mask && mask[t] == 0) continue;
            double d = (double)train[t] - (double)engine[t], a = fabs(d);
            g->n_tok += 1;
            g->abs_sum += a;
            if (a > g->abs_max) g->abs_max = a;
            g->k3_sum += expm1(d) - d; /* KL(engine || trainer), tokens drawn from the engine */
            seq += d;
            any = 1;
        }
        if (any) g->n_seq += 1, g->seq_sum += seq, g->seq_abs_sum += fabs(seq);
    }
}

static const char *const IS_NAMES[RL_IS_COUNT] = {"none", "tis", "mis"};

int rl_is_parse(const char *name) {
    for (int i = 0; name && i < RL_IS_COUNT; i++)
        if (!strcmp(name, IS_NAMES[i])) return i;
    return -1;
}

const char *rl_is_name(int mode) { return mode >= 0 && mode < RL_IS_COUNT ? IS_NAMES[mode] : "?"; }

/* The weight of one ratio: TIS min(rho, C); MIS 1 inside [1/C, C], else 0. *hit: capped or masked. */
static float is_weight(int mode, double log_rho, double C, int *hit) {
    double rho = exp(log_rho > 50 ? 50 : log_rho < -50 ? -50 : log_rho);
    if (mode == RL_IS_TIS) {
        *hit = rho > C;
        return (float)(rho > C ? C : rho);
    }
    *hit = rho > C || rho < 1.0 / C;
    return *hit ? 0.0f : 1.0f;
}

long rl_is_weights(int mode, int seq_level, double C, const float *behav, const float *engine, const float *mask,
                   const int32_t *cu, int n_seq, float *w) {
    long hits = 0;
    for (int i = 0; i < n_seq; i++) {
        double s = 0;
        for (int32_t t = cu[i]; t < cu[i + 1] && seq_level; t++)
            if (!mask || mask[t] != 0) s += (double)behav[t] - (double)engine[t];
        int hs = 0;
        float ws = seq_level ? is_weight(mode, s, C, &hs) : 1.0f;
        for (int32_t t = cu[i]; t < cu[i + 1]; t++) {
            int hit = 0;
            if (mode == RL_IS_NONE || (mask && mask[t] == 0)) {
                w[t] = 1.0f;
                continue;
            }
            w[t] = seq_level ? ws : is_weight(mode, (double)behav[t] - (double)engine[t], C, &hit);
            hits += seq_level ? hs : hit;
        }
    }
    return hits;
}
