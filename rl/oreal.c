/* OREAL (Lyu et al. 2025; SPECS.md "Token-level reward model", docs/training.md "OREAL"):
 * the step's preparation before the policy updates. Rewards are ±1 correctness, advantages
 * RLOO over the group; a token reward model (the policy's architecture with a 1-logit head,
 * held in c->critic) scores every completion token, its detached scores give the token
 * weights (p_t = sigmoid(cumsum(s)_t / t)), and it is trained online on the step's samples
 * with BCE(mean_t s_t, correct), summed and divided by the global number of sequences. The
 * policy's loss itself is rl_oreal_token_loss (rl/algo.c), run by rl_update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rl/step.h"

/* keep_pairs: one random correct and one random wrong sample per group keep their tokens;
 * the others' masks are zeroed (the group's seed decides, so every rank and a resumed run
 * pick the same). */
static void keep_pairs(const rollout_t *R, const uint8_t *lab, int G, seqbuf_t *b) {
    for (int g = 0; g < R->n_groups; g++) {
        int pick[2] = {-1, -1}, seen[2] = {0, 0};
        uint64_t h = R->groups[g].seed ^ 0x6f7265616cull;
        for (int i = 0; i < G; i++) { /* reservoir sampling of one of each kind */
            int k = lab[g * G + i];
            h = rl_mix64(h, (uint64_t)i);
            if (h % (uint64_t)(++seen[k]) == 0) pick[k] = i;
        }
        for (int i = 0; i < G; i++) {
            if (i == pick[0] || i == pick[1]) continue;
            int s = g * G + i;
            for (int t = b->cu[s]; t < b->cu[s + 1]; t++) b->mask[t] = 0;
        }
    }
}

/* The trainable rows' values of sequence s gathered into v (returns their count); x holds
 * rows from `off` on (x[0] is row off). */
static int gather_rows(const seqbuf_t *b, int s, const float *x, int off, float *v) {
    int T = 0;
    for (int t = b->cu[s]; t < b->cu[s + 1]; t++)
        if (b->mask[t] > 0) v[T++] = x[t - off];
    return T;
}

static void scatter_rows(const seqbuf_t *b, int s, const float *v, float *x, int off) {
    int T = 0;
    for (int t = b->cu[s]; t < b->cu[s + 1]; t++) x[t - off] = b->mask[t] > 0 ? v[T++] : 0;
}

/* Token weights from the reward model's scores (b->values) into b->rew_tok, and the
 * prequential accuracy (scores taken before the model trains on these samples). */
static void token_weights(const uint8_t *lab, seqbuf_t *b, float *v, float *w, double acc[2]) {
    for (int s = 0; s < b->nseq; s++) {
        int pos = lab[s], T = gather_rows(b, s, b->values, 0, v);
        if (!T) continue;
        rl_oreal_weights(v, T, pos, w);
        scatter_rows(b, s, w, b->rew_tok, 0);
        double m = 0;
        for (int t = 0; t < T; t++) m += v[t];
        acc[0] += (m > 0) == pos;
        acc[1] += 1;
    }
}

/* The token reward model's loss: BCE(mean_t s_t, label) per sequence over n sequences. */
typedef struct {
    const uint8_t *lab;
    double n, loss;
    float *sv, *g;
} rm_loss_t;

static void rm_grad(void *user, const seqbuf_t *b, int s, int e, int base, const float *v, float *dv, int n) {
    rm_loss_t *L = user;
    memset(dv, 0, (size_t)n * sizeof *dv);
    for (int q = s; q < e; q++) {
        int T = gather_rows(b, q, v, base, L->sv);
        if (!T) continue;
        L->loss += rl_oreal_rm_loss(L->sv, T, L->lab[q], L->g);
        for (int t = 0; t < T; t++) L->g[t] = (float)(L->g[t] / L->n);
        scatter_rows(b, q, L->g, dv, base);
    }
}

/* One update of the token reward model: BCE(mean_t s_t, label) per sequence, summed and
 * divided by the global number of sequences that have trainable tokens. Collective. */
static int rm_update(rl_ctx_t *c, const uint8_t *lab, seqbuf_t *b, float lr, uint32_t seed, double *loss_out) {
    micro_t mb = {(int)c->cfg->micro_batch, c->cfg->micro_tokens};
    int maxn = sb_max_micro_tokens(b, 0, b->nseq, &mb);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1);
    rm_loss_t L = {.lab = lab, .sv = rlc_malloc(cap * sizeof(float)), .g = rlc_malloc(cap * sizeof(float))};
    int rc = dist_agree(c->comm, !L.sv || !L.g ? RLC_ENOMEM : 0);
    rl_agg_count_t cnt = {0}; /* its n_seq_valid: the sequences with a trainable token */
    rl_agg_count_add(&cnt, b->mask, b->cu, b->nseq);
    L.n = cnt.n_seq_valid;
    if (!rc) rc = dist_allreduce_f64(c->comm, &L.n, 1, DIST_SUM);
    if (!rc && L.n > 0) {
        rc = rl_score_update(c, b, 0, b->nseq, &mb, lr, seed, rm_grad, &L);
        if (!rc) rc = dist_allreduce_f64(c->comm, &L.loss, 1, DIST_SUM);
    }
    *loss_out = L.n > 0 ? L.loss / L.n : NAN;
    free(L.sv), free(L.g);
    return rc;
}

/* ±1 correctness of the global batch, RLOO advantages, this rank's share on its tokens. */
static int oreal_advantages(rl_ctx_t *c, const rollout_t *R, const uint8_t *lab, seqbuf_t *b) {
    int G = (int)c->cfg->group_size, n = R->n_groups * G, N = R->n_glob * G;
    float *r = rlc_malloc((size_t)(n ? n : 1) * sizeof *r), *rg = rlc_malloc((size_t)(N ? N : 1) * sizeof *rg);
    float *a = rlc_malloc((size_t)(N ? N : 1) * sizeof *a), *al = rlc_malloc((size_t)(n ? n : 1) * sizeof *al);
    int rc = dist_agree(c->comm, r && rg && a && al ? 0 : RLC_ENOMEM);
    for (int k = 0; k < n && !rc; k++) r[k] = lab[k] ? 1.0f : -1.0f;
    if (!rc) rc = rl_gather_seq_values(c->comm, R, G, r, rg);
    if (!rc) rc = rl_adv_rloo(rg, N, G, a);
    for (int j = 0; j < R->n_groups && !rc; j++)
        memcpy(al + (size_t)j * G, a + (size_t)R->groups[j].kidx * G, (size_t)G * sizeof *a);
    if (!rc) rl_adv_to_tokens(al, b->cu, n, b->mask, b->adv);
    free(r), free(rg), free(a), free(al);
    return rc;
}

int rl_oreal_prepare(rl_ctx_t *c, rollout_t *R, seqbuf_t *b, long step, float lr, rl_oreal_loss_cfg_t *lc) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size;
    micro_t mb = {(int)cfg->micro_batch, cfg->micro_tokens};
    /* labels: correct and finished (a completion cut by the length limit counts as wrong) */
    uint8_t *lab = rlc_malloc((size_t)(b->nseq ? b->nseq : 1));
    int rc = lab ? 0 : RLC_ENOMEM;
    for (int k = 0; k < b->nseq && lab; k++)
        lab[k] = R->correct[k] > 0.5f && gen_output(c->eng, R->groups[k / G].req, k % G)->finish != GEN_FINISH_LENGTH;
    if (!rc && cfg->oreal_keep_pairs) keep_pairs(R, lab, G, b);
    rc = dist_agree(c->comm, rc);
    if (!rc) rc = oreal_advantages(c, R, lab, b);
    if (!rc) rc = sb_forward(c->critic, b, &mb, 1.0f, RLC_HEAD_SCORE, b->values);
    int maxl = 1;
    for (int s = 0; s < b->nseq; s++)
        if (b->cu[s + 1] - b->cu[s] > maxl) maxl = b->cu[s + 1] - b->cu[s];
    float *v = rlc_malloc((size_t)maxl * sizeof *v), *w = rlc_malloc((size_t)maxl * sizeof *w);
    if (!v || !w) rc = rc ? rc : RLC_ENOMEM;
    double st[6] = {0, 0, 0, 0, 0, 0}; /* right, judged, pos tokens, neg tokens, all tokens, correct samples */
    if (!rc) {
        memset(b->rew_tok, 0, (size_t)b->ntok * sizeof *b->rew_tok);
        token_weights(lab, b, v, w, st);
        for (int s = 0; s < b->nseq; s++)
            for (int t = b->cu[s]; t < b->cu[s + 1]; t++) {
                if (b->mask[t] <= 0) continue;
                st[2] += b->adv[t] > 0, st[3] += b->adv[t] < 0, st[4] += 1;
            }
        for (int k = 0; k < b->nseq; k++) st[5] += lab[k];
    }
    free(v), free(w);
    rc = dist_agree(c->comm, rc);
    if (!rc) rc = dist_allreduce_f64(c->comm, st, 6, DIST_SUM);
    double rm_loss = NAN;
    /* the reward model follows the policy's schedule, scaled to its own rate */
    float rm_lr = (float)(lr * (cfg->oreal_rm_lr / cfg->lr));
    uint32_t seed = (uint32_t)rl_mix64((uint64_t)cfg->seed ^ 0x726dull, (uint64_t)step);
    if (!rc) rc = rm_update(c, lab, b, rm_lr, seed, &rm_loss);
    free(lab);
    if (!rc) {
        rlc_metrics_add(&R->rmetrics, "oreal/rm_loss", rm_loss);
        if (st[1] > 0) rlc_metrics_add(&R->rmetrics, "oreal/rm_acc", st[0] / st[1]);
        if (st[1] > 0) rlc_metrics_add(&R->rmetrics, "oreal/correct_frac", st[5] / st[1]);
        rlc_metrics_add(&R->rmetrics, "oreal/rm_lr", rm_lr);
    }
    *lc = (rl_oreal_loss_cfg_t){.n_pos = st[2], .n_neg = st[3], .n_tok = st[4],
                                .pos_weight = (float)cfg->oreal_pos_weight, .neg_weight = (float)cfg->oreal_neg_weight,
                                .kl_coef = (float)cfg->kl_coef, .kl_kind = cfg->kl_estimator};
    return rc;
}
