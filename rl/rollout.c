/* Stage: the rollout of a step. Submit prompt groups to the engine (each rank its share of
 * whole groups, seeded by their global slot), generate, grade and score every completion,
 * filter the groups (dynamic sampling, balanced filtering) and refill until the step has
 * prompts_per_step groups or the round cap is reached; then pack the kept sequences for the
 * update, reduce the rollout statistics over ranks, and log samples. With several ranks the
 * keep flags are gathered so every rank makes the same keep/refill decisions over the
 * global round, in global order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "rl/step.h"
#include "data/encode.h"
#include "rewards/eval.h"

void rl_rollout_free(rl_ctx_t *c, rollout_t *r) {
    for (int i = 0; i < r->n_groups; i++) {
        gen_release(c->eng, r->groups[i].req);
        free(r->groups[i].prompt);
        free(r->groups[i].prompt_text);
    }
    for (int k = 0; r->dense && k < r->n_groups * (int)c->cfg->group_size; k++) free(r->dense[k]);
    free(r->groups);
    free(r->reward);
    free(r->correct);
    free(r->dense);
    free(r->term_base);
    rlc_metrics_free(&r->rmetrics);
    memset(r, 0, sizeof *r);
}

/* Named reward metrics summed over ranks (merged in rank order, so every rank gets the same). */
static int reduce_reward_metrics(dist_comm_t *comm, rlc_metrics_t *ms) {
    if (comm->world == 1) return 0;
    size_t rec = sizeof ms->m[0], len = (size_t)ms->n * rec;
    char *all = NULL;
    size_t *lens = rlc_calloc((size_t)comm->world, sizeof *lens);
    int rc = dist_agree(comm, lens ? 0 : RLC_ENOMEM);
    if (!rc) rc = dist_allgatherv(comm, ms->m, len, &all, lens);
    rlc_metrics_t sum = {0};
    size_t off = 0;
    for (int r = 0; r < comm->world && !rc; r++) {
        rlc_metrics_t part = {.m = (rlc_metric_t *)(all + off), .n = (int)(lens[r] / rec)};
        rc = rlc_metrics_merge(&sum, &part);
        off += lens[r];
    }
    free(all);
    free(lens);
    if (!rc) {
        rlc_metrics_free(ms);
        *ms = sum;
    } else {
        rlc_metrics_free(&sum);
    }
    return dist_agree(comm, rc);
}

/* The rollout statistics summed over ranks. */
static int reduce_rollout_stats(dist_comm_t *comm, rollout_t *R, int G) {
    if (comm->world == 1) return 0;
    int nh = G <= 64 ? G + 1 : 0;
    int64_t v[7 + 65 + 1] = {R->tokens_gen, R->seen_groups, R->n_scored, R->fst.seen, R->fst.kept, R->fst.zero_var,
                         R->fst.out_of_window};
    for (int i = 0; i < nh; i++) v[7 + i] = R->hist[i];
    v[7 + 65] = R->dense_any; /* past the histogram's bins */
    double d[2] = {R->acc_sum, R->reward_sum};
    int rc = dist_allreduce_i64(comm, v, 7 + 65 + 1, DIST_SUM);
    if (!rc) rc = dist_allreduce_f64(comm, d, 2, DIST_SUM);
    if (rc) return rc;
    R->tokens_gen = v[0], R->seen_groups = v[1], R->n_scored = v[2];
    R->fst.seen = v[3], R->fst.kept = v[4], R->fst.zero_var = v[5], R->fst.out_of_window = v[6];
    for (int i = 0; i < nh; i++) R->hist[i] = v[7 + i];
    R->acc_sum = d[0], R->reward_sum = d[1];
    R->dense_any = v[7 + 65] > 0;
    return reduce_reward_metrics(comm, &R->rmetrics);
}

/* One generation round's scratch: `want` group slots and their samples. */
typedef struct {
    group_t *g;
    float *rw, *cr, *base;
    float **tok; /* per sample: dense reward terms per completion token (NULL when all zero) */
    rlc_rollout_t *ro;
    uint8_t *keep, *keep_all;
    int *lens;
    char *ext;
} round_t;

static int round_alloc(round_t *r, int want, int G, int W) {
    memset(r, 0, sizeof *r);
    r->g = rlc_calloc((size_t)want, sizeof *r->g);
    r->rw = rlc_calloc((size_t)want * G, sizeof(float));
    r->cr = rlc_calloc((size_t)want * G, sizeof(float));
    r->ro = rlc_calloc((size_t)want * G, sizeof *r->ro);
    r->keep = rlc_calloc((size_t)want, 1);
    r->keep_all = rlc_calloc((size_t)want * W, 1);
    r->lens = rlc_calloc((size_t)want * G, sizeof(int));
    r->ext = rlc_malloc(MATH_MAX_ANSWER);
    r->tok = rlc_calloc((size_t)want * G, sizeof *r->tok);
    r->base = rlc_malloc((size_t)want * G * sizeof *r->base);
    return r->g && r->rw && r->cr && r->ro && r->keep && r->keep_all && r->lens && r->ext && r->tok && r->base
               ? 0
               : RLC_ENOMEM;
}

/* Frees the scratch; a failed round leaves its groups in r->g. */
static void round_free(rl_ctx_t *c, round_t *r, int want) {
    for (int k = 0; r->tok && k < want * (int)c->cfg->group_size; k++) free(r->tok[k]);
    free(r->tok), free(r->base);
    for (int g = 0; g < want && r->g; g++) {
        if (r->g[g].prompt_text || r->g[g].prompt) {
            if (r->g[g].row) gen_release(c->eng, r->g[g].req);
            free(r->g[g].prompt);
            free(r->g[g].prompt_text);
        }
    }
    free(r->g), free(r->rw), free(r->cr), free(r->ro), free(r->keep), free(r->keep_all), free(r->lens), free(r->ext);
}

/* Submit this rank's share [lo, hi) of the round's `take` groups; every rank walks the data
 * order over the whole round. */
static int round_submit(rl_ctx_t *c, long step, const rollout_t *R, round_t *rd, int take, long lo, long hi,
                        gen_params_t *gp) {
    const rl_config_t *cfg = c->cfg;
    int rc = 0;
    for (int g = 0; g < take && !rc; g++) {
        const data_row_t *row = data_iter_next(&c->it);
        if (g < lo || g >= hi) continue;
        group_t *q = &rd->g[g - lo];
        memset(q, 0, sizeof *q);
        q->row = row;
        /* encoded and checked against max_prompt_len once, before step 1 (data_encode_all) */
        q->n_prompt = row->n_prompt_ids;
        q->prompt = rlc_malloc((size_t)(q->n_prompt ? q->n_prompt : 1) * sizeof *q->prompt);
        if (!q->prompt) rc = RLC_ENOMEM;
        else memcpy(q->prompt, row->prompt_ids, (size_t)q->n_prompt * sizeof *q->prompt);
        if (!rc && g == lo) c->extract_flags = math_extract_flags_for_format(row->format);
        if (!rc) {
            /* the global slot g, never the rank: N ranks sample what one process would */
            gp->seed = q->seed =
                rl_mix64(rl_mix64((uint64_t)cfg->seed, (uint64_t)step), (uint64_t)(R->rounds * 100003 + g));
            q->req = gen_submit(c->eng, q->prompt, q->n_prompt, gp, NULL);
            if (q->req < 0) rc = q->req;
        }
        if (!rc) {
            size_t tl;
            rc = tok_decode(c->tok, q->prompt, q->n_prompt, 0, &q->prompt_text, &tl);
        }
    }
    return rc;
}

/* Run the engine over the submitted groups, with a bar within the step on a terminal
 * (plain logs only get it for long rounds). */
static int round_generate(rl_ctx_t *c, long step, long n_samples) {
    char label[48];
    snprintf(label, sizeof label, "step %ld rollout", step + 1);
    rlc_progress_t pg;
    rlc_progress_begin(&pg, label, n_samples);
    int rc = gen_run(c->eng, &pg);
    if (!pg.tty)
        rlc_progress_end(&pg);
    else if (pg.drawn)
        fprintf(stderr, "\r\033[K"); /* the step line replaces the bar */
    return rc;
}

/* Zeroed dense-term buffers for the round's n samples (rd->ro must be filled). */
static int round_dense_alloc(round_t *rd, int n) {
    for (int k = 0; k < n; k++) {
        free(rd->tok[k]);
        rd->tok[k] = rlc_calloc((size_t)(rd->ro[k].n_tokens ? rd->ro[k].n_tokens : 1), sizeof(float));
        if (!rd->tok[k]) return RLC_ENOMEM;
    }
    return 0;
}

/* Free the buffers that stayed all zero; the dense total of each sample into the metrics. */
static void round_dense_drop_empty(round_t *rd, int n, rlc_metrics_t *ms) {
    for (int k = 0; k < n; k++) {
        double sum = 0;
        int any = 0;
        for (int t = 0; t < rd->ro[k].n_tokens; t++) sum += rd->tok[k][t], any |= rd->tok[k][t] != 0;
        if (any) rlc_metrics_add(ms, "reward/dense_sum", sum);
        if (!any) free(rd->tok[k]), rd->tok[k] = NULL;
    }
}

/* Grade and score this rank's `mine` groups of the round (rewards into rd->rw, correctness
 * into rd->cr), then overlong shaping. */
static int round_score(rl_ctx_t *c, long step, rollout_t *R, round_t *rd, int mine) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size;
    for (int g = 0; g < mine; g++)
        for (int i = 0; i < G; i++) {
            const gen_output_t *out = gen_output(c->eng, rd->g[g].req, i);
            rlc_rollout_t *x = &rd->ro[g * G + i];
            x->prompt = rd->g[g].prompt_text;
            x->completion = out->text;
            x->tokens = out->tokens;
            x->n_tokens = out->n_tokens;
            x->trainable = out->trainable;
            x->finish = out->finish == GEN_FINISH_LENGTH ? RLC_FINISH_LENGTH : RLC_FINISH_STOP;
            x->n_tool_calls = out->n_tool_calls;
            x->group = g;
            x->meta = rd->g[g].row->meta;
            rd->lens[g * G + i] = out->n_tokens;
            rd->cr[g * G + i] =
                (float)rlc_grade_row(rd->g[g].row, out->text, c->extract_flags, NULL, rd->ext, MATH_MAX_ANSWER);
            R->tokens_gen += out->n_tokens;
        }
    if (mine <= 0) return 0;
    rlc_reward_ctx_t rctx = {.tokenizer = c->tok, .engine = c->eng, .sample = rl_reward_sample, .policy = c->policy,
                             .step = step, .seed = rl_mix64((uint64_t)cfg->seed, (uint64_t)step)};
    int rc = round_dense_alloc(rd, mine * G);
    if (!rc) rc = rlc_reward_score(c->reward, &rctx, rd->ro, mine * G, rd->rw, rd->tok, &R->rmetrics);
    for (int k = 0; k < mine * G; k++) rd->base[k] = NAN;
    if (!rc && cfg->mrt_alpha > 0) rc = rl_mrt_score(c, &rctx, rd->g, rd->ro, mine, rd->tok, rd->base, &R->rmetrics);
    if (!rc) round_dense_drop_empty(rd, mine * G, &R->rmetrics);
    if (!rc && c->tools) rc = rl_tools_score(c, rd->g, rd->ro, rd->rw, rd->cr, mine, &R->rmetrics);
    if (!rc && cfg->overlong_buffer > 0) {
        int Lmax = (int)(cfg->overlong_max_len > 0 ? cfg->overlong_max_len : cfg->max_new_tokens);
        rl_overlong_apply(rd->rw, rd->lens, mine * G, Lmax, (int)cfg->overlong_buffer, (float)cfg->overlong_penalty);
    }
    return rc;
}

/* The round's statistics (pass-rate histogram, accuracy, reward sums) and this rank's keep
 * verdicts in rd->keep. */
static int round_filter(rl_ctx_t *c, rollout_t *R, round_t *rd, int mine, int want) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size;
    float *p = rlc_malloc((size_t)(mine > 0 ? mine : 1) * sizeof(float));
    if (!p) return RLC_ENOMEM;
    rl_pass_rates(rd->cr, mine, G, p);
    if (G <= 64) rl_pass_hist_add(p, mine, G, R->hist);
    free(p);
    for (int k = 0; k < mine * G; k++) {
        R->acc_sum += rd->cr[k];
        R->reward_sum += rd->rw[k];
    }
    R->n_scored += mine * G;
    R->seen_groups += mine;
    memset(rd->keep, 0, (size_t)want);
    rl_filter_cfg_t fc = {.dynamic_sampling = cfg->dynamic_sampling, .balanced = cfg->balanced_filter,
                          .p_low = (float)cfg->pass_low, .p_high = (float)cfg->pass_high};
    if (cfg->algo == RL_ADV_OREAL) { /* OREAL trains on prompts with both correct and wrong samples only */
        float lo = 0.5f / (float)G, hi = 1 - lo;
        fc.p_low = fc.balanced && fc.p_low > lo ? fc.p_low : lo;
        fc.p_high = fc.balanced && fc.p_high < hi ? fc.p_high : hi;
        fc.balanced = 1;
    }
    rl_filter_groups(&fc, rd->rw, rd->cr, mine, G, rd->keep, &R->fst);
    return 0;
}

/* Every rank learns every group's verdict (rd->keep_all) and keeps the same first ones, in
 * global order; this rank moves its kept groups into R and releases the others. */
static void round_keep(rl_ctx_t *c, rollout_t *R, round_t *rd, int take, long lo, int want) {
    int G = (int)c->cfg->group_size, W = c->comm->world;
    for (int r = 0; r < W; r++) {
        long rlo, rhi;
        dist_split(take, r, W, &rlo, &rhi);
        for (long g = rlo; g < rhi; g++) {
            int kept = rd->keep_all[(size_t)r * want + (size_t)(g - rlo)] && R->n_glob < want;
            int kidx = kept ? R->n_glob++ : -1;
            if (r != c->comm->rank) continue;
            group_t *q = &rd->g[g - lo];
            if (kept) {
                int k = R->n_groups++;
                R->groups[k] = *q;
                R->groups[k].kidx = kidx;
                memcpy(R->reward + (size_t)k * G, rd->rw + (size_t)(g - lo) * G, (size_t)G * sizeof(float));
                memcpy(R->correct + (size_t)k * G, rd->cr + (size_t)(g - lo) * G, (size_t)G * sizeof(float));
                memcpy(R->term_base + (size_t)k * G, rd->base + (size_t)(g - lo) * G, (size_t)G * sizeof(float));
                for (int i = 0; i < G; i++) {
                    float **t = &rd->tok[(size_t)(g - lo) * G + i];
                    R->dense_any |= *t != NULL;
                    R->dense[(size_t)k * G + i] = *t, *t = NULL;
                }
            } else {
                for (int i = 0; i < G; i++) free(rd->tok[(size_t)(g - lo) * G + i]), rd->tok[(size_t)(g - lo) * G + i] = NULL;
                gen_release(c->eng, q->req);
                free(q->prompt);
                free(q->prompt_text);
            }
            memset(q, 0, sizeof *q);
        }
    }
}

int rl_rollout(rl_ctx_t *c, long step, rollout_t *R) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    int G = (int)cfg->group_size, want = (int)cfg->prompts_per_step, W = comm->world;
    memset(R, 0, sizeof *R);
    R->groups = rlc_calloc((size_t)want, sizeof *R->groups);
    R->reward = rlc_calloc((size_t)want * G, sizeof(float));
    R->correct = rlc_calloc((size_t)want * G, sizeof(float));
    R->dense = rlc_calloc((size_t)want * G, sizeof *R->dense);
    R->term_base = rlc_calloc((size_t)want * G, sizeof *R->term_base);
    round_t rd;
    int rc = round_alloc(&rd, want, G, W);
    if (!R->groups || !R->reward || !R->correct || !R->dense || !R->term_base) rc = RLC_ENOMEM;
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = G;
    gp.temperature = (float)cfg->temperature;
    gp.top_p = (float)cfg->top_p;
    gp.top_k = (int)cfg->top_k;
    gp.max_new_tokens = (int)cfg->max_new_tokens;
    if (c->tools) {
        gp.tool_markers = c->tool_markers;
        gp.n_tool_markers = c->n_tool_markers;
        gp.max_tool_calls = (int)cfg->max_tool_calls;
    }
    rc = dist_agree(comm, rc);
    while (!rc && R->n_glob < want && R->rounds < cfg->max_gen_rounds) {
        int take = want - R->n_glob;
        R->rounds++;
        long lo, hi;
        dist_split(take, comm->rank, W, &lo, &hi);
        int mine = (int)(hi - lo);
        rc = round_submit(c, step, R, &rd, take, lo, hi, &gp);
        if (!rc && mine > 0) rc = round_generate(c, step, (long)mine * G);
        if (!rc) rc = round_score(c, step, R, &rd, mine);
        if (!rc) rc = round_filter(c, R, &rd, mine, want);
        if ((rc = dist_agree(comm, rc))) break;
        if ((rc = dist_allgather(comm, rd.keep, (size_t)want, rd.keep_all))) break;
        round_keep(c, R, &rd, take, lo, want);
    }
    round_free(c, &rd, want);
    if (!rc) rc = dist_agree(comm, reduce_rollout_stats(comm, R, G));
    if (!rc && c->otc_n) rc = rl_tools_sync(c); /* every rank the same per-question n */
    return rc;
}

/* Per-sequence values of the global batch (the kept groups of every rank, in global order)
 * from each rank's own: global[kidx·G + i] = local[j·G + i]. Each slot has one writer and
 * zeros elsewhere, so the sum over ranks is exact. With one rank, a copy. Collective. */
int rl_gather_seq_values(dist_comm_t *comm, const rollout_t *R, int G, const float *local, float *global) {
    size_t n = (size_t)R->n_glob * G;
    if (comm->world == 1) {
        memcpy(global, local, n * sizeof *global);
        return 0;
    }
    double *d = rlc_calloc(n ? n : 1, sizeof *d);
    int rc = dist_agree(comm, d ? 0 : RLC_ENOMEM);
    if (rc) {
        free(d);
        return rc;
    }
    for (int j = 0; j < R->n_groups; j++)
        for (int i = 0; i < G; i++) d[(size_t)R->groups[j].kidx * G + i] = local[(size_t)j * G + i];
    rc = dist_allreduce_f64(comm, d, n, DIST_SUM);
    for (size_t k = 0; k < n && !rc; k++) global[k] = (float)d[k];
    free(d);
    return rc;
}

int rl_rollout_pack(rl_ctx_t *c, const rollout_t *R, seqbuf_t *b, float **rew_glob, rl_step_metrics_t *mt) {
    dist_comm_t *comm = c->comm;
    int G = (int)c->cfg->group_size, rc = 0;
    long N = (long)R->n_glob * G; /* the step's sequences, over all ranks */
    mt->gen_rounds = R->rounds;
    mt->kept_frac = R->seen_groups ? (double)R->n_glob / (double)R->seen_groups : 0;
    mt->pass_hist = R->hist;
    mt->n_hist = G <= 64 ? G + 1 : 0;
    mt->tokens_gen = R->tokens_gen;
    mt->acc = R->n_scored ? R->acc_sum / (double)R->n_scored : NAN;
    /* reward statistics over what was generated this step */
    mt->reward_mean = R->n_scored ? R->reward_sum / (double)R->n_scored : NAN;
    double var = 0, lsum = 0, lmax = 0, trunc = 0;
    b->nseq = b->ntok = 0;
    for (int g = 0; g < R->n_groups && !rc; g++)
        for (int i = 0; i < G && !rc; i++) {
            const gen_output_t *out = gen_output(c->eng, R->groups[g].req, i);
            rc = sb_add(b, R->groups[g].prompt, R->groups[g].n_prompt, out->tokens, out->n_tokens, out->trainable);
            const float *d = R->dense[(size_t)g * G + i];
            for (int k = 0; d && !rc && k < out->n_tokens; k++) b->rew_tok[b->r0[b->nseq - 1] + k] += d[k];
            for (int k = 0; !rc && k < out->n_tokens; k++) b->eng_logp[b->r0[b->nseq - 1] + k] = out->logp[k];
            lsum += out->n_tokens;
            if (out->n_tokens > lmax) lmax = out->n_tokens;
            trunc += out->finish == GEN_FINISH_LENGTH;
        }
    float *rg = rlc_realloc(*rew_glob, (size_t)(N ? N : 1) * sizeof **rew_glob);
    if (rg) *rew_glob = rg;
    else if (!rc) rc = RLC_ENOMEM;
    rc = dist_agree(comm, rc);
    if (!rc) rc = rl_gather_seq_values(comm, R, G, R->reward, *rew_glob);
    if (!rc && comm->world > 1) {
        double sums[2] = {lsum, trunc};
        rc = dist_allreduce_f64(comm, sums, 2, DIST_SUM);
        if (!rc) rc = dist_allreduce_f64(comm, &lmax, 1, DIST_MAX);
        lsum = sums[0], trunc = sums[1];
    }
    for (long k = 0; k < N && !rc; k++)
        var += ((*rew_glob)[k] - mt->reward_mean) * ((*rew_glob)[k] - mt->reward_mean);
    mt->reward_std = N > 1 ? sqrt(var / (N - 1)) : NAN;
    mt->resp_len_mean = N ? lsum / N : NAN;
    mt->resp_len_max = lmax;
    mt->truncated_frac = N ? trunc / N : NAN;
    return rc;
}

/* The first log_samples kept groups of the step (sample 0 of each). With several ranks the
 * owners send theirs to rank 0, which writes them in global order. Collective (enter with an
 * agreed rc); write errors are ignored, as a sample log is best effort. */
int rl_log_samples(rl_ctx_t *c, const rollout_t *R, long step) {
    int G = (int)c->cfg->group_size;
    dist_comm_t *comm = c->comm;
    cJSON *mine = cJSON_CreateArray();
    int rc = mine ? 0 : RLC_ENOMEM;
    for (int g = 0; g < R->n_groups && !rc; g++) {
        if (R->groups[g].kidx >= c->cfg->log_samples) continue;
        const gen_output_t *out = gen_output(c->eng, R->groups[g].req, 0);
        if (!out) continue;
        char *prompt = rlc_utf8_dup_valid(R->groups[g].prompt_text, strlen(R->groups[g].prompt_text));
        char *comp = rlc_utf8_dup_valid(out->text, out->text_len);
        cJSON *o = cJSON_CreateObject();
        if (prompt && comp && o) {
            cJSON_AddNumberToObject(o, "k", R->groups[g].kidx);
            cJSON_AddStringToObject(o, "prompt", prompt);
            cJSON_AddStringToObject(o, "completion", comp);
            cJSON_AddStringToObject(o, "answer", R->groups[g].row->answer ? R->groups[g].row->answer : "");
            cJSON_AddNumberToObject(o, "reward", R->reward[(size_t)g * G]);
            cJSON_AddBoolToObject(o, "correct", R->correct[(size_t)g * G] > 0.5f);
            cJSON_AddNumberToObject(o, "n_tokens", out->n_tokens);
            cJSON_AddBoolToObject(o, "truncated", out->finish == GEN_FINISH_LENGTH);
            cJSON_AddItemToArray(mine, o);
        } else {
            cJSON_Delete(o);
        }
        free(prompt);
        free(comp);
    }
    char *text = NULL, *all = NULL;
    size_t *lens = NULL;
    if (comm->world > 1) {
        text = rc ? NULL : cJSON_PrintUnformatted(mine);
        lens = rlc_calloc((size_t)comm->world, sizeof *lens);
        if (!text || !lens) rc = rc ? rc : RLC_ENOMEM;
        rc = dist_agree(comm, rc);
        if (!rc) rc = dist_allgatherv(comm, text, strlen(text), &all, lens);
    }
    cJSON *rows = mine; /* with one rank, ours are all there is */
    if (!rc && comm->world > 1 && c->rank0) {
        rows = cJSON_CreateArray();
        size_t off = 0;
        for (int r = 0; r < comm->world && rows; r++) {
            cJSON *part = cJSON_ParseWithLength(all + off, lens[r]);
            off += lens[r];
            while (part && cJSON_GetArraySize(part) > 0) cJSON_AddItemToArray(rows, cJSON_DetachItemFromArray(part, 0));
            cJSON_Delete(part);
        }
    }
    if (!rc && c->rank0 && rows) {
        /* in global order: the owners' runs interleave across refill rounds */
        int nr = cJSON_GetArraySize(rows);
        for (int k = 0; k < c->cfg->log_samples; k++)
            for (int i = 0; i < nr; i++) {
                const cJSON *o = cJSON_GetArrayItem(rows, i);
                if ((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "k")) != k) continue;
                rl_sample_t s = {.step = step, .index = (long)k * G,
                                 .prompt = cJSON_GetStringValue(cJSON_GetObjectItem(o, "prompt")),
                                 .completion = cJSON_GetStringValue(cJSON_GetObjectItem(o, "completion")),
                                 .answer = cJSON_GetStringValue(cJSON_GetObjectItem(o, "answer")),
                                 .reward = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "reward")),
                                 .correct = cJSON_IsTrue(cJSON_GetObjectItem(o, "correct")),
                                 .n_tokens = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "n_tokens")),
                                 .truncated = cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated"))};
                rl_samples_put(&c->samples, &s);
                if (c->tb.f) { /* best effort, like the sample log */
                    char tag[32], *md = NULL;
                    snprintf(tag, sizeof tag, "samples/%d", k);
                    size_t need = strlen(s.prompt ? s.prompt : "") + strlen(s.completion ? s.completion : "") + 160;
                    if ((md = malloc(need)))
                        snprintf(md, need, "**reward %g** (answer %s)\n\n%s\n\n    %s", s.reward, s.answer ? s.answer : "",
                                 s.prompt ? s.prompt : "", s.completion ? s.completion : "");
                    if (md) rl_tb_text(&c->tb, step, 0, tag, md);
                    free(md);
                }
            }
    }
    if (rows != mine) cJSON_Delete(rows);
    cJSON_Delete(mine);
    free(text), free(all), free(lens);
    return rc;
}

