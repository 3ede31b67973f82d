/* MRT progress bonus (Qu et al. 2025; SPECS.md "MRT progress bonus", docs/rewards.md): for
 * each chosen sample of a round, its completion is split into episodes; the rollout is forked
 * in the engine after every episode (the prefix's KV pages are shared, not recomputed), the
 * forced-termination text is appended, K short answers are sampled and scored with the step's
 * reward; J_j is their mean, J_{-1} that of the prompt alone forced to answer, and
 * α·(J_j − J_{j−1}) is added at the last token of episode j as a dense reward term. Also the
 * reward sampling hook that lets any reward ask the engine for more samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rewards/rm.h"
#include "rewards/steps.h"
#include "rl/step.h"

#define MRT_STOP_TEXT                                                                                                  \
    "Time is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop thinking and formulate a " \
    "final answer based on what I already have.\n"

const char *rl_mrt_termination(const rl_config_t *cfg, const char *format) {
    if (cfg->mrt_termination && cfg->mrt_termination[0]) return cfg->mrt_termination;
    if (format && !strcmp(format, "think")) return MRT_STOP_TEXT "</think>\n\nThe final answer is $\\boxed{";
    if (format && !strcmp(format, "answer_line")) return MRT_STOP_TEXT "\nAnswer: ";
    return MRT_STOP_TEXT "\nThe final answer is $\\boxed{";
}

/* One forced-termination branch: K answers after `prefix` (the completion's text through an
 * episode; "" for the prompt alone) and the termination text. */
typedef struct {
    int sample; /* index into the round's samples; -1 - g for group g's prompt branch */
    int req;
    char *prefix;
    double J;
} branch_t;

typedef struct {
    branch_t *b;
    int n, cap;
} branches_t;

static void branches_free(rl_ctx_t *c, branches_t *bs) {
    for (int i = 0; i < bs->n; i++) {
        gen_release(c->eng, bs->b[i].req);
        free(bs->b[i].prefix);
    }
    free(bs->b);
}

/* Fork sample `sample` of request `req` after prefix_len tokens, append `text`'s tokens and
 * record the branch (taking `prefix`). */
static int add_branch(rl_ctx_t *c, branches_t *bs, int req, int sample, int prefix_len, const char *text,
                      gen_params_t *gp, int who, char *prefix) {
    int32_t *ids = NULL;
    int n = 0, rc = prefix ? tok_encode(c->tok, text, strlen(text), 0, &ids, &n) : RLC_ENOMEM;
    if (!rc && bs->n == bs->cap) {
        int nc = bs->cap ? 2 * bs->cap : 64;
        branch_t *nb = rlc_realloc(bs->b, (size_t)nc * sizeof *nb);
        if (!nb) rc = RLC_ENOMEM;
        else bs->b = nb, bs->cap = nc;
    }
    int r = rc ? rc : gen_fork(c->eng, req, sample, prefix_len, ids, n, gp, NULL);
    free(ids);
    if (r < 0) {
        free(prefix);
        return r;
    }
    bs->b[bs->n++] = (branch_t){.sample = who, .req = r, .prefix = prefix, .J = 0};
    return 0;
}

/* The branches of one sample: a fork after each episode. pos[j] receives the token that ends
 * episode j (-1: none). Returns the number of episodes or an error. */
static int sample_branches(rl_ctx_t *c, branches_t *bs, const group_t *g, int i, int who, const rlc_rollout_t *x,
                           const char *term, gen_params_t *gp, int *pos) {
    const rl_config_t *cfg = c->cfg;
    int cap = (int)cfg->mrt_max_episodes, n = x->n_tokens, rc = 0;
    size_t text_len = strlen(x->completion);
    size_t *ends = rlc_malloc((size_t)cap * sizeof *ends), *next = rlc_malloc((size_t)cap * sizeof *next);
    size_t *tend = rlc_malloc((size_t)(n ? n : 1) * sizeof *tend);
    const char *marks[64];
    int nm = 0;
    char *mk = rlc_strdup(cfg->mrt_markers);
    for (char *s = mk, *save = NULL, *w; mk && (w = strtok_r(s, "|", &save)) && nm < 64; s = NULL) marks[nm++] = w;
    if (!ends || !next || !tend || !mk) rc = RLC_ENOMEM;
    if (!rc) rc = rlc_token_text(c->tok, x->tokens, n, 0, NULL, NULL, tend);
    int E = rc ? rc
               : rlc_split_episodes(x->completion, text_len, marks, nm, (int)cfg->mrt_gap, (int)cfg->mrt_merge, cap,
                                    ends, next, cap);
    if (E > 0) rlc_step_token_pos(tend, n, ends, E, pos);
    int n_text = n; /* trailing tokens without text (EOS) never enter a prefix */
    while (n_text > 0 && tend[n_text - 1] == (n_text > 1 ? tend[n_text - 2] : 0)) n_text--;
    for (int j = 0; j < E && E > 0; j++) {
        size_t P = next[j];
        int k = 0; /* the longest run of whole tokens inside the prefix; the rest is re-encoded */
        while (k < n_text && tend[k] <= P) k++;
        size_t from = k ? tend[k - 1] : 0;
        int sep = j == E - 1 && !(P >= 2 && x->completion[P - 1] == '\n' && x->completion[P - 2] == '\n');
        size_t tl = (P - from) + 2 + strlen(term) + 1;
        char *tail = rlc_malloc(tl), *prefix = rlc_malloc(P + 3);
        if (!tail || !prefix) {
            free(tail), free(prefix);
            E = RLC_ENOMEM;
            break;
        }
        snprintf(tail, tl, "%.*s%s%s", (int)(P - from), x->completion + from, sep ? "\n\n" : "", term);
        snprintf(prefix, P + 3, "%.*s%s", (int)P, x->completion, sep ? "\n\n" : "");
        gp->seed = rl_mix64(g->seed ^ 0x4d52545full, (uint64_t)(i + 1) * 4096 + (uint64_t)j + 1);
        int r = add_branch(c, bs, g->req, i, g->n_prompt + k, tail, gp, who, prefix);
        free(tail);
        if (r) {
            E = r;
            break;
        }
    }
    free(ends), free(next), free(tend), free(mk);
    return E;
}

/* Score every branch's K answers with the step's reward (prefix + termination + answer,
 * graded as text); J = their mean. */
static int score_branches(rl_ctx_t *c, const rlc_reward_ctx_t *rctx, branches_t *bs, const group_t *g, int G,
                          long *tokens) {
    int K = (int)c->cfg->mrt_samples, n = bs->n * K, rc = 0;
    rlc_rollout_t *ro = rlc_calloc((size_t)(n ? n : 1), sizeof *ro);
    char **texts = rlc_calloc((size_t)(n ? n : 1), sizeof *texts);
    float *val = rlc_calloc((size_t)(n ? n : 1), sizeof *val);
    if (!ro || !texts || !val) rc = RLC_ENOMEM;
    for (int b = 0; b < bs->n && !rc; b++) {
        const branch_t *br = &bs->b[b];
        const group_t *q = &g[br->sample >= 0 ? br->sample / G : -1 - br->sample];
        const char *term = rl_mrt_termination(c->cfg, q->row->format);
        for (int k = 0; k < K && !rc; k++) {
            const gen_output_t *o = gen_output(c->eng, br->req, k);
            size_t L = strlen(br->prefix) + strlen(term) + o->text_len + 1;
            char *t = texts[b * K + k] = rlc_malloc(L);
            if (!t) {
                rc = RLC_ENOMEM;
                break;
            }
            snprintf(t, L, "%s%s%s", br->prefix, term, o->text);
            ro[b * K + k] = (rlc_rollout_t){.prompt = q->prompt_text, .completion = t, .tokens = o->tokens,
                                            .n_tokens = o->n_tokens, .finish = o->finish == GEN_FINISH_LENGTH
                                                                                  ? RLC_FINISH_LENGTH
                                                                                  : RLC_FINISH_STOP,
                                            .group = b, .meta = q->row->meta};
            *tokens += o->n_tokens;
        }
    }
    if (!rc && n) rc = rlc_reward_score(c->reward, rctx, ro, n, val, NULL, NULL);
    for (int b = 0; b < bs->n && !rc; b++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += val[b * K + k];
        bs->b[b].J = s / K;
    }
    for (int i = 0; i < n && texts; i++) free(texts[i]);
    free(ro), free(texts), free(val);
    return rc;
}

/* Is sample (global slot seed, index i) one of the share mrt_fraction that gets the bonus? */
static int chosen(const rl_config_t *cfg, uint64_t seed, int i) {
    if (cfg->mrt_fraction >= 1) return 1;
    uint64_t h = rl_mix64(seed ^ 0x6672616cull, (uint64_t)i);
    return (double)(h >> 11) * 0x1.0p-53 < cfg->mrt_fraction;
}

/* Progress of each chosen sample's episodes into its dense terms, and the metrics. */
static int apply_progress(rl_ctx_t *c, const branches_t *bs, int G, const int *first, const int *n_ep,
                          int *const *pos, float *const *tok, int n_samples, rlc_metrics_t *ms) {
    double alpha = c->cfg->mrt_alpha;
    for (int k = 0; k < n_samples; k++) {
        if (first[k] < 0) continue;
        const branch_t *pb = NULL; /* the group's prompt branch */
        for (int b = 0; b < bs->n && !pb; b++)
            if (bs->b[b].sample == -1 - k / G) pb = &bs->b[b];
        if (!pb) return rlc_errc(RLC_EINVAL, "MRT: no prompt branch for group %d", k / G);
        double prev = pb->J;
        rlc_metrics_add(ms, "mrt/episodes", n_ep[k]);
        for (int j = 0; j < n_ep[k]; j++) {
            double J = bs->b[first[k] + j].J, p = J - prev;
            if (pos[k][j] >= 0) tok[k][pos[k][j]] += (float)(alpha * p);
            rlc_metrics_add(ms, "mrt/progress", p);
            rlc_metrics_add(ms, "mrt/progress_neg", p < -0.1);
            rlc_metrics_add(ms, "mrt/progress_zero", fabs(p) <= 0.1);
            rlc_metrics_add(ms, "mrt/progress_pos", p > 0.1);
            if (j == 0) rlc_metrics_add(ms, "mrt/J_first", J);
            if (j == n_ep[k] - 1) rlc_metrics_add(ms, "mrt/J_last", J);
            prev = J;
        }
        rlc_metrics_add(ms, "mrt/J_prompt", pb->J);
    }
    return 0;
}

int rl_mrt_score(rl_ctx_t *c, const rlc_reward_ctx_t *rctx, const group_t *g, const rlc_rollout_t *ro, int mine,
                 float *const *tok, float *base, rlc_metrics_t *ms) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size, n = mine * G, cap = (int)cfg->mrt_max_episodes, rc = 0;
    int term_base = !strcmp(cfg->mrt_baseline, "termination");
    double t0 = rlc_now();
    branches_t bs = {0};
    int *first = rlc_malloc((size_t)(n ? n : 1) * sizeof *first), *n_ep = rlc_calloc((size_t)(n ? n : 1), sizeof *n_ep);
    int **pos = rlc_calloc((size_t)(n ? n : 1), sizeof *pos);
    if (!first || !n_ep || !pos) rc = RLC_ENOMEM;
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = (int)cfg->mrt_samples;
    gp.temperature = (float)cfg->mrt_temperature;
    gp.top_p = (float)cfg->mrt_top_p;
    gp.max_new_tokens = (int)cfg->mrt_answer_tokens;
    for (int q = 0; q < mine && !rc; q++) {
        int any = term_base;
        for (int i = 0; i < G; i++) any |= (first[q * G + i] = chosen(cfg, g[q].seed, i) ? 0 : -1) == 0;
        if (!any) continue;
        gp.seed = rl_mix64(g[q].seed ^ 0x4d52545full, 0);
        rc = add_branch(c, &bs, g[q].req, 0, g[q].n_prompt, rl_mrt_termination(cfg, g[q].row->format), &gp, -1 - q,
                        rlc_strdup(""));
        for (int i = 0; i < G && !rc; i++) {
            int k = q * G + i;
            if (first[k] < 0) continue;
            if (!(pos[k] = rlc_malloc((size_t)cap * sizeof **pos))) rc = RLC_ENOMEM;
            first[k] = bs.n;
            int E = rc ? rc
                       : sample_branches(c, &bs, &g[q], i, k, &ro[k],
                                         rl_mrt_termination(cfg, g[q].row->format), &gp, pos[k]);
            if (E < 0) rc = E;
            else n_ep[k] = E;
        }
    }
    long tokens = 0;
    if (!rc && bs.n) rc = gen_run(c->eng, NULL);
    if (!rc) rc = score_branches(c, rctx, &bs, g, G, &tokens);
    if (!rc) rc = apply_progress(c, &bs, G, first, n_ep, pos, tok, n, ms);
    for (int b = 0; b < bs.n && !rc && base; b++)
        if (bs.b[b].sample < 0)
            for (int i = 0; i < G; i++) base[(-1 - bs.b[b].sample) * G + i] = (float)bs.b[b].J;
    if (!rc && bs.n) {
        rlc_metrics_add(ms, "mrt/tokens", (double)tokens);
        rlc_metrics_add(ms, "t_mrt", rlc_now() - t0);
    }
    branches_free(c, &bs);
    for (int k = 0; k < n && pos; k++) free(pos[k]);
    free(first), free(n_ep), free(pos);
    return rc;
}

/* ------------------------------------------------------------------ the reward sampling hook */

int rl_reward_sample(void *engine, const char *const *prompts, int n_prompts, int k, double temperature,
                     int max_new_tokens, uint64_t seed, char **out) {
    gen_engine_t *e = engine;
    const tok_t *tok = gen_tokenizer(e);
    if (!tok) return rlc_errc(RLC_EINVAL, "reward sampling: the engine has no tokenizer");
    int *req = rlc_malloc((size_t)(n_prompts ? n_prompts : 1) * sizeof *req), rc = req ? 0 : RLC_ENOMEM;
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = k;
    gp.temperature = (float)temperature;
    gp.max_new_tokens = max_new_tokens;
    int made = 0;
    for (int i = 0; i < n_prompts && !rc; i++) {
        int32_t *ids = NULL;
        int n = 0;
        rc = tok_encode(tok, prompts[i], strlen(prompts[i]), 0, &ids, &n);
        gp.seed = rl_mix64(seed, (uint64_t)i);
        if (!rc) rc = req[i] = gen_submit(e, ids, n, &gp, NULL);
        if (rc >= 0) rc = 0, made++;
        free(ids);
    }
    if (!rc) rc = gen_run(e, NULL);
    for (int i = 0; i < n_prompts * k; i++) out[i] = NULL;
    for (int i = 0; i < n_prompts && !rc; i++)
        for (int j = 0; j < k && !rc; j++) {
            const gen_output_t *o = gen_output(e, req[i], j);
            if (!(out[i * k + j] = rlc_strdup(o ? o->text : ""))) rc = RLC_ENOMEM;
        }
    for (int i = 0; i < made; i++) gen_release(e, req[i]);
    if (rc)
        for (int i = 0; i < n_prompts * k; i++) free(out[i]), out[i] = NULL;
    free(req);
    return rc;
}
