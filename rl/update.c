/* Stage: the update of a step. Advantages (GRPO, Dr.GRPO, RLOO, REINFORCE++ from the
 * sequence rewards of the global batch; PPO from the critic's values by GAE, whitened over
 * the global batch), reference and old log-probs, then the optimizer updates (mini-batches
 * x ppo_epochs): the clipped-surrogate policy loss with global aggregation denominators and
 * the critic's clipped value loss, gradients summed over ranks, AdamW. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/step.h"

/* One optimizer update over sequences [s0, s1) of b: micro-batched forward/backward of the
 * per-token loss, then AdamW. old_logp NULL in b means "on-policy": ratio 1 exactly. */
typedef struct {
    const rl_loss_cfg_t *lc;
    const rl_oreal_loss_cfg_t *oreal; /* OREAL's loss instead of the clipped surrogate (weights in b->rew_tok) */
    int agg_mode, max_resp_len, on_policy, want_entropy;
    micro_t micro;
    float inv_temp;
    int exact;               /* exact_on_policy: the policy's forward through the engine's kernels */
    float temperature;
    rl_gap_t *gap;           /* non-NULL: the engine/trainer gap from this update's forward */
    int is_mode, is_seq;     /* importance-sampling correction (is_correction, is_level) */
    int seq_ratio;           /* ratio_level: sequence (GSPO) */
    double is_cap;
    long *is_hits;           /* tokens capped or masked */
} update_cfg_t;

static int policy_update(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, seqbuf_t *b, int s0, int s1,
                         const update_cfg_t *u, float lr, uint32_t seed, rl_loss_stats_t *st, double *gnorm,
                         long *tokens) {
    int maxn = sb_max_micro_tokens(b, s0, s1, &u->micro);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1) * sizeof(float); /* a rank may own no sequence of an update */
    float *lp = rlc_malloc(cap), *ent = rlc_malloc(cap), *w = rlc_malloc(cap), *dl = rlc_malloc(cap);
    float *de = rlc_malloc(cap), *iw = rlc_malloc(cap), *old_seq = rlc_malloc(cap);
    int32_t *cu = rlc_malloc((size_t)(u->micro.seqs + 1) * sizeof *cu);
    int rc = (!lp || !ent || !w || !dl || !de || !iw || !old_seq || !cu) ? RLC_ENOMEM : 0;
    /* global denominators over the whole update: every micro-batch of every rank */
    rl_agg_count_t g = {0};
    for (int s = s0, e; s < s1 && !rc; s = e) {
        e = micro_end(b, s, s1, &u->micro);
        rlc_batch_t v = sb_view(b, s, e, cu);
        rl_agg_count_add(&g, b->mask + b->cu[s], v.cu_seqlens, v.nseq);
    }
    rc = dist_agree(comm, rc);
    if (!rc && comm->world > 1) {
        double gs[3] = {g.n_tokens, g.n_seq_valid, g.n_seq};
        rc = dist_allreduce_f64(comm, gs, 3, DIST_SUM);
        g.n_tokens = gs[0], g.n_seq_valid = gs[1], g.n_seq = gs[2];
    }
    if (rc) goto out;
    rc = rl_grad_begin(opt, sb_count_micro(b, s0, s1, &u->micro));
    for (int s = s0, e; s < s1 && !rc; s = e) {
        e = micro_end(b, s, s1, &u->micro);
        rlc_batch_t v = sb_view(b, s, e, cu);
        int base = b->cu[s], n = v.n_tokens;
        rlc_fwd_opts_t fo = {.inv_temp = u->inv_temp, .train = 1, .head = RLC_HEAD_LM, .exact = u->exact,
                             .temperature = u->temperature};
        if ((rc = rlc_model_forward(m, &v, &fo, lp, u->want_entropy ? ent : NULL, NULL))) break;
        const float *old = u->on_policy ? lp : b->old_logp + base, *isw = NULL;
        if (u->seq_ratio && !u->on_policy) { /* GSPO: every token sees its sequence's ratio (1 on policy) */
            rl_seq_ratio_old(lp, old, b->mask + base, v.cu_seqlens, v.nseq, old_seq);
            old = old_seq;
        }
        if (u->gap) rl_gap_add(u->gap, lp, b->eng_logp + base, b->mask + base, v.cu_seqlens, v.nseq);
        if (u->is_mode && u->on_policy) { /* the behaviour policy is this forward: ρ = exp(lp − engine) */
            *u->is_hits += rl_is_weights(u->is_mode, u->is_seq, u->is_cap, lp, b->eng_logp + base, b->mask + base,
                                         v.cu_seqlens, v.nseq, iw);
            isw = iw;
        } else if (u->is_mode) {
            isw = b->is_w + base;
        }
        if (u->oreal) {
            rc = rl_oreal_token_loss(u->oreal, (size_t)n, lp, u->lc->kl_coef > 0 ? b->ref_logp + base : NULL,
                                     b->adv + base, b->rew_tok + base, b->mask + base, dl, st);
        } else {
            rc = rl_agg_weights(u->agg_mode, b->mask + base, v.cu_seqlens, v.nseq, &g, u->max_resp_len, w);
            if (!rc)
                rc = rl_token_loss_is(u->lc, (size_t)n, lp, old, u->lc->kl_coef > 0 ? b->ref_logp + base : NULL,
                                      b->adv + base, u->want_entropy ? ent : NULL, b->mask + base, w, isw, dl,
                                      u->lc->entropy_coef != 0 ? de : NULL, st);
        }
        if (rc) break;
        rc = rlc_model_backward(m, &v, &fo, dl, u->lc->entropy_coef != 0 ? de : NULL, NULL, NULL, NULL);
        *tokens += n;
    }
    rc = rl_reduce_and_step(comm, m, opt, rc, lr, seed, gnorm);
out:
    free(lp), free(ent), free(w), free(dl), free(de), free(iw), free(old_seq), free(cu);
    return rc;
}

/* The gap statistics and IS hits of every rank into the step's metrics. Collective. */
static int gap_metrics(dist_comm_t *comm, rl_gap_t *g, long hits, rl_step_metrics_t *mt) {
    double v[7] = {g->n_tok, g->abs_sum, g->k3_sum, g->n_seq, g->seq_abs_sum, (double)hits, 0}, mx = g->abs_max;
    int rc = comm->world > 1 ? dist_allreduce_f64(comm, v, 7, DIST_SUM) : 0;
    if (!rc && comm->world > 1) rc = dist_allreduce_f64(comm, &mx, 1, DIST_MAX);
    if (rc || !(v[0] > 0)) return rc;
    mt->gap_mean = v[1] / v[0];
    mt->gap_max = mx;
    mt->gap_kl = v[2] / v[0];
    mt->gap_seq = v[3] > 0 ? v[4] / v[3] : NAN;
    mt->is_frac = v[5] / v[0];
    return 0;
}

/* MRT's GRPO variant: A = r - J_-1 (the prompt forced to answer) where it was computed.
 * Collective. */
static int termination_baseline(rl_ctx_t *c, const rollout_t *R, const float *rew_glob, float *adv) {
    int G = (int)c->cfg->group_size, N = R->n_glob * G;
    float *base = rlc_malloc((size_t)(N ? N : 1) * sizeof *base);
    int rc = dist_agree(c->comm, base ? 0 : RLC_ENOMEM);
    if (!rc) rc = rl_gather_seq_values(c->comm, R, G, R->term_base, base);
    for (int k = 0; k < N && !rc; k++)
        if (!isnan(base[k])) adv[k] = (float)((double)rew_glob[k] - (double)base[k]);
    free(base);
    return rc;
}

/* Sequence-level advantages of this rank's sequences, computed over the global batch so
 * that batch statistics (REINFORCE++'s mean and whitening) are those of all ranks. rew_glob
 * holds the global batch's rewards. Collective (enter with an agreed rc; the result is this
 * rank's own). */
static int compute_advantages(rl_ctx_t *c, const rollout_t *R, const seqbuf_t *b, const float *rew_glob,
                              float *adv_seq) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size, n = R->n_groups * G, N = R->n_glob * G;
    float *adv = rlc_malloc((size_t)N * sizeof *adv), *len_loc = NULL, *len_glob = NULL;
    int *lens = NULL, rc = adv ? 0 : RLC_ENOMEM, rpp = cfg->algo == RL_ADV_REINFORCEPP;
    if (rpp) { /* whitening over tokens: every sequence's trainable-token count */
        len_loc = rlc_malloc((size_t)(n ? n : 1) * sizeof *len_loc);
        len_glob = rlc_malloc((size_t)(N ? N : 1) * sizeof *len_glob);
        lens = rlc_malloc((size_t)(N ? N : 1) * sizeof *lens);
        if (!len_loc || !len_glob || !lens) rc = RLC_ENOMEM;
        for (int i = 0; i < n && !rc; i++) {
            double s = 0;
            for (int t = b->cu[i]; t < b->cu[i + 1]; t++) s += b->mask[t];
            len_loc[i] = (float)s;
        }
        rc = dist_agree(c->comm, rc);
        if (!rc) rc = rl_gather_seq_values(c->comm, R, G, len_loc, len_glob);
        for (int k = 0; k < N && !rc; k++) lens[k] = (int)len_glob[k];
    }
    int raw = rpp && R->dense_any; /* whitened later, with the dense terms, over tokens */
    if (!rc && raw && G >= 2) {
        rc = rl_adv_drgrpo(rew_glob, N, G, adv);
    } else if (!rc && raw) {
        double m = 0;
        for (int k = 0; k < N; k++) m += rew_glob[k];
        for (int k = 0; k < N; k++) adv[k] = (float)((double)rew_glob[k] - (N ? m / N : 0));
    } else if (!rc) {
        switch (cfg->algo) {
        case RL_ADV_GRPO: rc = rl_adv_grpo(rew_glob, N, G, cfg->adv_std_sample, (float)cfg->adv_eps, adv); break;
        case RL_ADV_DRGRPO: rc = rl_adv_drgrpo(rew_glob, N, G, adv); break;
        case RL_ADV_RLOO: rc = rl_adv_rloo(rew_glob, N, G, adv); break;
        case RL_ADV_REINFORCEPP: rc = rl_adv_reinforcepp(rew_glob, N, G, lens, (float)cfg->adv_eps, adv); break;
        default: rc = rlc_errc(RLC_EINVAL, "no sequence-level advantage for this algorithm");
        }
    }
    if (!rc && c->cfg->mrt_alpha > 0 && !strcmp(cfg->mrt_baseline, "termination")) rc = termination_baseline(c, R, rew_glob, adv);
    for (int j = 0; j < R->n_groups && !rc; j++)
        memcpy(adv_seq + (size_t)j * G, adv + (size_t)R->groups[j].kidx * G, (size_t)G * sizeof *adv);
    free(adv), free(len_loc), free(len_glob), free(lens);
    return rc;
}

/* rl_whiten over the tokens of every rank (mean and population std of the global batch). */
static int whiten_global(dist_comm_t *comm, float *x, const float *mask, size_t n, float eps) {
    if (comm->world == 1) {
        rl_whiten(x, mask, n, 1, eps);
        return 0;
    }
    double v[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) v[0] += x[i], v[1] += 1;
    int rc = dist_allreduce_f64(comm, v, 2, DIST_SUM);
    if (rc || v[1] == 0) return rc;
    double mean = v[0] / v[1], ss = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    if ((rc = dist_allreduce_f64(comm, &ss, 1, DIST_SUM))) return rc;
    double sd = sqrt(ss / v[1]);
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) x[i] = (float)(((double)x[i] - mean) / (sd + (double)eps));
    return 0;
}

/* PPO: values from the critic, the sequence reward on the last trainable row, GAE, and
 * advantages whitened over the global batch. Collective; rc agreed. */
static int ppo_advantages(rl_ctx_t *c, const rollout_t *R, seqbuf_t *b, const micro_t *mb) {
    const rl_config_t *cfg = c->cfg;
    int rc = sb_forward(c->critic, b, mb, 1.0f, RLC_HEAD_SCORE, b->values);
    for (int s = 0; s < b->nseq && !rc; s++) {
        int last = -1;
        for (int t = b->cu[s]; t < b->cu[s + 1]; t++) {
            if (b->mask[t] == 0) b->values[t] = 0;
            if (b->mask[t] > 0) last = t;
        }
        if (last >= 0) b->rew_tok[last] += R->reward[s]; /* beside any dense terms */
    }
    if (!rc)
        rc = rl_adv_gae(b->rew_tok, b->values, b->mask, b->cu, b->nseq, (float)cfg->gamma, (float)cfg->lam, b->adv,
                        b->ret);
    rc = dist_agree(c->comm, rc);
    if (!rc) rc = whiten_global(c->comm, b->adv, b->mask, (size_t)b->ntok, 1e-8f);
    return rc;
}

int rl_score_update(rl_ctx_t *c, seqbuf_t *b, int s0, int s1, const micro_t *mb, float lr, uint32_t seed,
                    rl_score_grad_fn grad, void *user) {
    int maxn = sb_max_micro_tokens(b, s0, s1, mb);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1);
    float *v = rlc_malloc(cap * sizeof(float)), *dv = rlc_malloc(cap * sizeof(float));
    int32_t *cu = rlc_malloc((size_t)(mb->seqs + 1) * sizeof *cu);
    int rc = dist_agree(c->comm, !v || !dv || !cu ? RLC_ENOMEM : 0);
    if (!rc) {
        rc = rl_grad_begin(c->copt, sb_count_micro(b, s0, s1, mb));
        for (int s = s0, e; s < s1 && !rc; s = e) {
            e = micro_end(b, s, s1, mb);
            rlc_batch_t bv = sb_view(b, s, e, cu);
            rlc_fwd_opts_t fo = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_SCORE};
            if ((rc = rlc_model_forward(c->critic, &bv, &fo, NULL, NULL, v))) break;
            grad(user, b, s, e, b->cu[s], v, dv, bv.n_tokens);
            rc = rlc_model_backward(c->critic, &bv, &fo, NULL, NULL, dv, NULL, NULL);
        }
        rc = rl_reduce_and_step(c->comm, c->critic, c->copt, rc, lr, seed, NULL);
    }
    free(v), free(dv), free(cu);
    return rc;
}

/* The critic's clipped value loss against the GAE returns, token-mean over the global batch
 * (ntok tokens): per micro-batch the loss sums and the value gradient. */
typedef struct {
    const rl_config_t *cfg;
    double ntok, sum, nclip;
    float *loss;
    uint8_t *clip;
} critic_loss_t;

static void critic_grad(void *user, const seqbuf_t *b, int s, int e, int base, const float *v, float *dv, int n) {
    (void)s, (void)e;
    critic_loss_t *L = user;
    rl_value_loss(v, b->values + base, b->ret + base, (size_t)n, (float)L->cfg->value_clip, L->loss, dv, L->clip);
    for (int t = 0; t < n; t++) {
        float m = b->mask[base + t];
        L->sum += m * L->loss[t];
        L->nclip += m * L->clip[t];
        dv[t] *= (float)(m / L->ntok);
    }
}

/* Critic update: clipped value loss against the GAE returns, token-mean over the global
 * batch; the critic's gradients are summed over ranks like the policy's. Collective. */
static int critic_update(rl_ctx_t *c, seqbuf_t *b, int s0, int s1, const micro_t *mb, float lr, uint32_t seed,
                         double *vloss, double *vclip) {
    int maxn = sb_max_micro_tokens(b, s0, s1, mb);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1);
    critic_loss_t L = {.cfg = c->cfg, .loss = rlc_malloc(cap * sizeof(float)), .clip = rlc_malloc(cap)};
    int rc = dist_agree(c->comm, !L.loss || !L.clip ? RLC_ENOMEM : 0);
    for (int t = b->cu[s0]; t < b->cu[s1]; t++) L.ntok += b->mask[t];
    if (!rc) rc = dist_allreduce_f64(c->comm, &L.ntok, 1, DIST_SUM); /* the global token count */
    *vloss = *vclip = 0;
    if (!rc && L.ntok > 0) { /* the same on every rank */
        rc = rl_score_update(c, b, s0, s1, mb, lr, seed, critic_grad, &L);
        double sv[2] = {L.sum, L.nclip};
        if (!rc) rc = dist_allreduce_f64(c->comm, sv, 2, DIST_SUM);
        *vloss = sv[0] / L.ntok;
        *vclip = sv[1] / L.ntok;
    }
    free(L.loss), free(L.clip);
    return rc;
}

/* Local indices [*a, *b) of this rank's sequences whose global index lies in [s0, s1). */
static void local_range(const rollout_t *R, int G, long s0, long s1, int *a, int *b) {
    int n = R->n_groups * G, i = 0;
    while (i < n && (long)R->groups[i / G].kidx * G + i % G < s0) i++;
    *a = i;
    while (i < n && (long)R->groups[i / G].kidx * G + i % G < s1) i++;
    *b = i;
}

/* The loss statistics of every rank (sums; the ratio extremes by max and min). */
static int reduce_loss_stats(dist_comm_t *comm, rl_loss_stats_t *ls, long *tokens) {
    if (comm->world == 1) return 0;
    double v[12] = {ls->loss,      ls->pg,       ls->kl,        ls->ent,    ls->n_tok,  ls->clip_high,
                    ls->clip_low,  ls->clip_dual, ls->ratio_sum, ls->kl_tok, ls->ent_tok, (double)*tokens};
    double mx[2] = {ls->ratio_max, -ls->ratio_min};
    int rc = dist_allreduce_f64(comm, v, 12, DIST_SUM);
    if (!rc) rc = dist_allreduce_f64(comm, mx, 2, DIST_MAX);
    if (rc) return rc;
    ls->loss = v[0], ls->pg = v[1], ls->kl = v[2], ls->ent = v[3], ls->n_tok = v[4], ls->clip_high = v[5];
    ls->clip_low = v[6], ls->clip_dual = v[7], ls->ratio_sum = v[8], ls->kl_tok = v[9], ls->ent_tok = v[10];
    *tokens = (long)v[11];
    ls->ratio_max = mx[0], ls->ratio_min = -mx[1];
    return 0;
}

/* The step's loss statistics as per-update averages (stats are summed over every update). */
static void loss_metrics(const rl_loss_stats_t *ls, int nup, rl_step_metrics_t *mt) {
    mt->loss = ls->loss / nup;
    mt->pg_loss = ls->pg / nup;
    mt->kl = ls->n_tok > 0 ? ls->kl_tok / ls->n_tok : NAN;
    mt->entropy = ls->n_tok > 0 ? ls->ent_tok / ls->n_tok : NAN;
    mt->clip_frac = ls->n_tok > 0 ? (ls->clip_high + ls->clip_low + ls->clip_dual) / ls->n_tok : NAN;
    mt->clip_frac_high = ls->n_tok > 0 ? ls->clip_high / ls->n_tok : NAN;
    mt->clip_frac_low = ls->n_tok > 0 ? ls->clip_low / ls->n_tok : NAN;
    mt->ratio_mean = ls->n_tok > 0 ? ls->ratio_sum / ls->n_tok : NAN;
    mt->ratio_max = ls->ratio_max;
}

/* Per-token advantages in b->adv (and PPO's values and returns). Collective; rc agreed. */
static int step_advantages(rl_ctx_t *c, const rollout_t *R, seqbuf_t *b, const float *rew_glob, const micro_t *mb) {
    const rl_config_t *cfg = c->cfg;
    int n = R->n_groups * (int)cfg->group_size;
    if (cfg->mask_truncated) {
        uint8_t *tr = rlc_calloc((size_t)(n ? n : 1), 1);
        for (int g = 0, k = 0; tr && g < R->n_groups; g++)
            for (int i = 0; i < cfg->group_size; i++, k++)
                tr[k] = gen_output(c->eng, R->groups[g].req, i)->finish == GEN_FINISH_LENGTH;
        if (tr) rl_mask_truncated(b->mask, b->cu, n, tr);
        free(tr);
    }
    if (cfg->algo == RL_ADV_GAE) return ppo_advantages(c, R, b, mb);
    float *adv_seq = rlc_malloc((size_t)(n ? n : 1) * sizeof *adv_seq);
    int rc = dist_agree(c->comm, adv_seq ? 0 : RLC_ENOMEM);
    if (!rc) rc = compute_advantages(c, R, b, rew_glob, adv_seq);
    if (!rc) rl_adv_to_tokens(adv_seq, b->cu, n, b->mask, b->adv);
    free(adv_seq);
    if (!rc && R->dense_any) { /* the return-to-go of the dense terms (docs/training.md) */
        rc = rl_adv_dense(cfg->algo, b->rew_tok, b->mask, b->cu, b->r0, n, (int)cfg->group_size, b->adv);
        rc = dist_agree(c->comm, rc);
        if (!rc && cfg->algo == RL_ADV_REINFORCEPP)
            rc = whiten_global(c->comm, b->adv, b->mask, (size_t)b->ntok, (float)cfg->adv_eps);
    }
    return rc;
}

int rl_update(rl_ctx_t *c, rollout_t *R, seqbuf_t *b, const float *rew_glob, long step, float lr,
              rl_step_metrics_t *mt) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    int G = (int)cfg->group_size;
    long N = (long)R->n_glob * G;
    micro_t micro = {(int)cfg->micro_batch, cfg->micro_tokens};
    float inv_temp = cfg->temperature > 0 ? (float)(1.0 / cfg->temperature) : 1.0f;
    rl_loss_cfg_t lc = {.clip = {(float)cfg->clip_low, (float)cfg->clip_high, (float)cfg->dual_clip},
                        .kl_coef = (float)cfg->kl_coef, .kl_kind = cfg->kl_estimator,
                        .entropy_coef = (float)cfg->entropy_coef};
    rl_loss_stats_t ls;
    rl_loss_stats_init(&ls);
    int oreal = cfg->algo == RL_ADV_OREAL;
    rl_oreal_loss_cfg_t oc;
    int rc = oreal ? rl_oreal_prepare(c, R, b, step, lr, &oc) : step_advantages(c, R, b, rew_glob, &micro);
    /* OREAL's first steps train only its token reward model: the policy is left exactly as it is */
    int frozen = oreal && step < cfg->oreal_rm_warmup_steps;
    if (!rc && cfg->kl_coef > 0 && !frozen) rc = sb_forward(c->ref, b, &micro, inv_temp, RLC_HEAD_LM, b->ref_logp);
    long mini = cfg->mini_batch > 0 ? cfg->mini_batch : N;
    int updates = (int)(((N + mini - 1) / mini) * cfg->ppo_epochs);
    int on_policy = updates == 1 || oreal; /* OREAL's ratio is 1 by construction */
    int engine_behav = !strcmp(cfg->behavior_logprobs, "engine") && !oreal, is_mode = rl_is_parse(cfg->is_correction);
    int is_seq = !strcmp(cfg->is_level, "sequence");
    rl_gap_t gap = {0};
    long is_hits = 0;
    if (!rc && engine_behav) { /* the ratio against the sampler's own log-probs: nothing to recompute */
        memcpy(b->old_logp, b->eng_logp, (size_t)b->ntok * sizeof *b->old_logp);
        on_policy = 0;
    } else if (!rc && !on_policy) {
        rlc_fwd_opts_t fo = {.inv_temp = inv_temp, .head = RLC_HEAD_LM, .exact = cfg->exact_on_policy,
                             .temperature = (float)cfg->temperature};
        rc = sb_forward_opts(c->policy, b, &micro, &fo, b->old_logp);
        if (!rc) rl_gap_add(&gap, b->old_logp, b->eng_logp, b->mask, b->cu, b->nseq);
        if (!rc && is_mode)
            is_hits = rl_is_weights(is_mode, is_seq, cfg->is_cap, b->old_logp, b->eng_logp, b->mask, b->cu, b->nseq,
                                    b->is_w);
    }
    rc = dist_agree(comm, rc);
    /* without a recompute pass, the gap comes from the first update's forward (same weights) */
    update_cfg_t u = {.lc = &lc, .oreal = oreal ? &oc : NULL, .agg_mode = cfg->loss_agg,
                      .max_resp_len = (int)cfg->max_new_tokens, .micro = micro, .on_policy = on_policy,
                      .want_entropy = !oreal, .inv_temp = inv_temp, .exact = cfg->exact_on_policy,
                      .temperature = (float)cfg->temperature, .gap = on_policy || engine_behav ? &gap : NULL,
                      .is_mode = is_mode, .is_seq = is_seq, .is_cap = cfg->is_cap,
                      .seq_ratio = !strcmp(cfg->ratio_level, "sequence"),
                      .is_hits = &is_hits};
    long tokens = 0;
    double vl_sum = 0, vc_sum = 0, gnorm = NAN;
    int nup = 0;
    /* the updates walk the global batch; each rank trains on its sequences inside it */
    for (long ep = 0; ep < cfg->ppo_epochs && !rc && !frozen; ep++)
        for (long s0 = 0; s0 < N && !rc; s0 += mini) {
            long s1 = s0 + mini < N ? s0 + mini : N;
            int a0, a1;
            local_range(R, G, s0, s1, &a0, &a1);
            uint32_t seed = (uint32_t)rl_mix64((uint64_t)cfg->seed, (uint64_t)(step * 1000 + nup));
            if (cfg->algo == RL_ADV_GAE) {
                double vl, vc;
                rc = critic_update(c, b, a0, a1, &micro, (float)cfg->critic_lr, seed, &vl, &vc);
                vl_sum += vl;
                vc_sum += vc;
            }
            if (!rc) rc = policy_update(comm, c->policy, c->opt, b, a0, a1, &u, lr, seed, &ls, &gnorm, &tokens);
            u.gap = NULL;
            nup++;
        }
    if (!rc) rc = reduce_loss_stats(comm, &ls, &tokens);
    if (!rc) rc = gap_metrics(comm, &gap, is_hits, mt);
    if (rc == RLC_ENONFINITE) rlc_err_ctx(rc, "step %ld (lower the learning rate or enable max_grad_norm)", step + 1);
    mt->tokens_train = tokens;
    mt->grad_norm = gnorm;
    if (nup) {
        loss_metrics(&ls, nup, mt);
        if (oreal) /* no entropy term and no clip: leave them out rather than log zeros */
            mt->entropy = mt->clip_frac = mt->clip_frac_high = mt->clip_frac_low = NAN;
        if (cfg->algo == RL_ADV_GAE) {
            mt->value_loss = vl_sum / nup;
            mt->value_clip_frac = vc_sum / nup;
        }
    }
    return rc;
}
