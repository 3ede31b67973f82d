/* The "prm" reward: a process reward model scores each reasoning step of a completion
 * (rewards/rm.h: the generic score-head format, math-shepherd, qwen and skywork, as `rlc tts` uses them).
 * dense false: the aggregate of the step scores (last, min, prod, mean) is the sequence
 * reward. dense true: each step's score minus the previous step's ("diff", so the terms add
 * up to the last step's score) or the score itself ("score") is put at the token that
 * completes the step, as a per-token reward term; a caller that takes no per-token terms
 * (grading, evaluation) gets their sum as the sequence reward. The model is loaded on the
 * first batch, on the policy's backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "model/model.h"
#include "rewards/builtin.h"
#include "rewards/prm_formats.h"
#include "rewards/rm.h"
#include "rewards/steps.h"

typedef struct {
    char *dir;
    int format, dense, diff, open;
    rlc_step_agg_t agg;
    rlc_prm_t prm;
} prm_state_t;

/* The dense terms of one completion from its step scores: at the token completing step k,
 * s_k - s_{k-1} (diff) or s_k. */
static int put_dense(const prm_state_t *s, const tok_t *tok, const rlc_rollout_t *r, const float *sc, int ns,
                     float *tok_out, double *sum) {
    size_t *tend = rlc_malloc((size_t)(r->n_tokens ? r->n_tokens : 1) * sizeof *tend), tl = 0;
    size_t *ends = rlc_malloc((size_t)(ns ? ns : 1) * sizeof *ends);
    int *pos = rlc_malloc((size_t)(ns ? ns : 1) * sizeof *pos);
    char *text = NULL;
    int rc = tend && ends && pos ? rlc_token_text(tok, r->tokens, r->n_tokens, 0, &text, &tl, tend) : RLC_ENOMEM;
    if (!rc && rlc_prm_steps(s->format, text, tl, NULL, ends, ns) != ns)
        rc = rlc_errc(RLC_EINVAL, "prm reward: the completion's steps changed between scoring and placing");
    if (!rc) rlc_step_token_pos(tend, r->n_tokens, ends, ns, pos);
    *sum = 0;
    for (int k = 0; k < ns && !rc; k++) {
        double d = s->diff ? sc[k] - (k ? sc[k - 1] : 0.0f) : sc[k];
        int t = pos[k] >= 0 ? pos[k] : r->n_tokens - 1;
        if (tok_out && t >= 0) tok_out[t] += (float)d;
        *sum += d;
    }
    free(tend), free(ends), free(pos), free(text);
    return rc;
}

static int prm_open(prm_state_t *s, const rlc_reward_ctx_t *ctx) {
    if (s->open) return 0;
    if (!ctx || !ctx->policy || !ctx->tokenizer)
        return rlc_errc(RLC_EINVAL, "prm reward: needs the policy (for its backend) and its tokenizer");
    rlc_backend_t *be = ((rlc_model_t *)ctx->policy)->be;
    int rc = rlc_prm_open(&s->prm, "prm reward model", s->dir, s->format, be);
    if (!rc) s->open = 1;
    return rc;
}

static int prm_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                     float *const *tok_out, rlc_metrics_t *metrics) {
    prm_state_t *s = self->state;
    int rc = prm_open(s, ctx);
    const tok_t *tok = ctx ? ctx->tokenizer : NULL;
    for (int i = 0; i < n && !rc; i++) {
        int32_t *pids = NULL;
        int np = 0, ns = 0;
        float *sc = NULL;
        long read = 0;
        const cJSON *q = r[i].meta ? cJSON_GetObjectItemCaseSensitive(r[i].meta, "problem") : NULL;
        const char *question = cJSON_IsString(q) ? q->valuestring : r[i].prompt;
        rc = tok_encode(tok, r[i].prompt, strlen(r[i].prompt), 0, &pids, &np);
        if (!rc) rc = rlc_prm_score(&s->prm, tok, question, pids, np, r[i].tokens, r[i].n_tokens, &sc, &ns, &read);
        double agg = rc ? 0 : rlc_step_aggregate(sc, ns, s->agg), sum = 0;
        if (!rc && s->dense) rc = put_dense(s, tok, &r[i], sc, ns, tok_out ? tok_out[i] : NULL, &sum);
        out[i] = (float)(s->dense ? (tok_out ? 0.0 : sum) : agg);
        if (!rc) rc = rlc_metrics_add(metrics, "prm/aggregate", agg);
        if (!rc) rc = rlc_metrics_add(metrics, "prm/steps", ns);
        free(pids), free(sc);
    }
    return rc;
}

static void prm_destroy(rlc_reward_t *self) {
    prm_state_t *s = self->state;
    if (!s) return;
    if (s->open) rlc_prm_close(&s->prm);
    free(s->dir);
    free(s);
}

int rlc_reward_prm_create(rlc_reward_t *r, const cJSON *o) {
    static const char *const keys[] = {"model", "format", "aggregate", "dense", "dense_mode", NULL};
    const char *what = "reward prm options";
    prm_state_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    r->state = s;
    r->score = prm_score;
    r->destroy = prm_destroy;
    s->diff = 1;
    const char *dir = NULL, *fmt = "generic", *agg = "last", *mode = "diff";
    int rc = o ? rlc_json_check_keys(o, keys, what) : 0;
    if (!rc && o &&
        ((rc = rlc_json_get_str(o, "model", &dir, 0, what)) < 0 || (rc = rlc_json_get_str(o, "format", &fmt, 0, what)) < 0 ||
         (rc = rlc_json_get_str(o, "aggregate", &agg, 0, what)) < 0 ||
         (rc = rlc_json_get_bool(o, "dense", &s->dense, 0, what)) < 0 ||
         (rc = rlc_json_get_str(o, "dense_mode", &mode, 0, what)) < 0))
        return rc;
    if (!dir || !dir[0]) return rlc_errc(RLC_EINVAL, "%s: \"model\" (the PRM's directory) is required", what);
    if ((rc = rlc_prm_format_parse(fmt, &s->format))) return rlc_err_ctx(rc, "%s: format", what);
    if ((rc = rlc_step_agg_from_name(agg, &s->agg))) return rlc_err_ctx(rc, "%s: aggregate", what);
    if (strcmp(mode, "diff") && strcmp(mode, "score"))
        return rlc_errc(RLC_EINVAL, "%s: dense_mode must be diff or score (got '%s')", what, mode);
    s->diff = !strcmp(mode, "diff");
    if (!(s->dir = rlc_strdup(dir))) return RLC_ENOMEM;
    return 0;
}
