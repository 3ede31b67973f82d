/* Reward plumbing: the metrics accumulator, the registry of built-in kinds, creation from a
 * JSON config, and the weighted-sum combiner that runs several rewards over one batch. */
#include "rewards/reward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "rewards/builtin.h"

/* ---- metrics ---- */

int rlc_metrics_add(rlc_metrics_t *ms, const char *name, double value) {
    if (!ms) return 0;
    for (int i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name)) {
            ms->m[i].sum += value;
            ms->m[i].count++;
            return 0;
        }
    if (ms->n == ms->cap) {
        int nc = ms->cap ? ms->cap * 2 : 16;
        rlc_metric_t *m = rlc_realloc(ms->m, sizeof *m * (size_t)nc);
        if (!m) return RLC_ENOMEM;
        ms->m = m;
        ms->cap = nc;
    }
    rlc_metric_t *m = &ms->m[ms->n++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->sum = value;
    m->count = 1;
    return 0;
}

int rlc_metrics_get(const rlc_metrics_t *ms, const char *name, double *out) {
    for (int i = 0; ms && i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name)) {
            *out = ms->m[i].count ? ms->m[i].sum / (double)ms->m[i].count : 0;
            return 0;
        }
    return 1;
}

int rlc_metrics_merge(rlc_metrics_t *a, const rlc_metrics_t *b) {
    for (int i = 0; b && i < b->n; i++) {
        int k = 0;
        while (k < a->n && strcmp(a->m[k].name, b->m[i].name)) k++;
        if (k == a->n) {
            if (rlc_metrics_add(a, b->m[i].name, 0)) return RLC_ENOMEM;
            a->m[k].count = 0;
        }
        a->m[k].sum += b->m[i].sum;
        a->m[k].count += b->m[i].count;
    }
    return 0;
}

cJSON *rlc_metrics_json(const rlc_metrics_t *ms) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && ms && i < ms->n; i++)
        cJSON_AddNumberToObject(o, ms->m[i].name, ms->m[i].count ? ms->m[i].sum / (double)ms->m[i].count : 0);
    return o;
}

void rlc_metrics_clear(rlc_metrics_t *ms) { ms->n = 0; }

void rlc_metrics_free(rlc_metrics_t *ms) {
    free(ms->m);
    memset(ms, 0, sizeof *ms);
}

/* ---- registry ---- */

const rlc_reward_kind_t rlc_reward_kinds[] = {
    {"math", rlc_reward_math_create, "1 if the extracted answer equals the gold answer (math grader), else 0"},
    {"format", rlc_reward_format_create, "1 if the completion has the required answer format, else 0"},
    {"countdown", rlc_reward_countdown_create, "1 if the boxed expression solves the Countdown task exactly"},
    {"http", rlc_reward_http_create, "rewards (and dense token rewards) from a service over HTTP"},
    {"prm", rlc_reward_prm_create, "a process reward model's step scores: their aggregate, or dense per step"},
    {NULL, NULL, NULL},
};

/* ---- weighted sum of several rewards ---- */
typedef struct {
    rlc_reward_t **parts;
    int n;
} sum_state_t;

static int sum_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                     float *const *tok_out, rlc_metrics_t *metrics) {
    sum_state_t *s = self->state;
    float *tmp = rlc_malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!tmp) return RLC_ENOMEM;
    for (int i = 0; i < n; i++) out[i] = 0;
    int rc = 0;
    for (int p = 0; p < s->n && !rc; p++) {
        rlc_reward_t *part = s->parts[p];
        /* dense terms: scale each part's per-token additions by its weight */
        float **tok = NULL;
        if (tok_out) {
            tok = rlc_calloc((size_t)(n ? n : 1), sizeof *tok);
            if (!tok) {
                rc = RLC_ENOMEM;
                break;
            }
            for (int i = 0; i < n && !rc; i++) {
                if (!tok_out[i]) continue;
                tok[i] = rlc_calloc((size_t)(r[i].n_tokens ? r[i].n_tokens : 1), sizeof(float));
                if (!tok[i]) rc = RLC_ENOMEM;
            }
        }
        if (!rc) rc = part->score(part, ctx, r, n, tmp, tok, metrics);
        if (rc) rlc_err_ctx(rc, "reward %s", part->name);
        for (int i = 0; i < n && !rc; i++) {
            out[i] += (float)part->weight * tmp[i];
            if (tok && tok[i])
                for (int t = 0; t < r[i].n_tokens; t++) tok_out[i][t] += (float)part->weight * tok[i][t];
        }
        if (!rc && metrics && n > 0) {
            char key[80];
            snprintf(key, sizeof key, "reward/%s", part->name);
            for (int i = 0; i < n && !rc; i++) rc = rlc_metrics_add(metrics, key, tmp[i]);
        }
        if (tok) {
            for (int i = 0; i < n; i++) free(tok[i]);
            free(tok);
        }
    }
    free(tmp);
    return rc;
}

static void sum_destroy(rlc_reward_t *self) {
    sum_state_t *s = self->state;
    if (!s) return;
    for (int i = 0; i < s->n; i++) rlc_reward_free(s->parts[i]);
    free(s->parts);
    free(s);
}

static int create_one(const cJSON *cfg, rlc_reward_t **out) {
    static const char *const keys[] = {"name", "kind", "weight", "options", NULL};
    *out = NULL;
    int rc = rlc_json_check_keys(cfg, keys, "reward config");
    if (rc) return rc;
    const char *name = NULL, *kind = NULL;
    double weight = 1.0;
    if ((rc = rlc_json_get_str(cfg, "name", &name, 0, "reward config")) < 0 ||
        (rc = rlc_json_get_str(cfg, "kind", &kind, 0, "reward config")) < 0 ||
        (rc = rlc_json_get_num(cfg, "weight", &weight, 0, "reward config")) < 0)
        return rc;
    if (!kind) kind = name;
    if (!kind) return rlc_errc(RLC_EINVAL, "reward config: needs \"name\" (or \"kind\")");
    if (!name) name = kind;
    if (!isfinite(weight)) return rlc_errc(RLC_EINVAL, "reward %s: weight must be finite", name);
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(cfg, "options");
    if (opts && !cJSON_IsNull(opts) && !cJSON_IsObject(opts))
        return rlc_errc(RLC_EINVAL, "reward %s: \"options\" must be an object", name);
    const rlc_reward_kind_t *k = rlc_reward_kinds;
    while (k->kind && strcmp(k->kind, kind)) k++;
    if (!k->kind) {
        char list[256] = "";
        for (const rlc_reward_kind_t *q = rlc_reward_kinds; q->kind; q++) {
            if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, q->kind, sizeof list - strlen(list) - 1);
        }
        return rlc_errc(RLC_EINVAL, "unknown reward '%s' (known: %s)", kind, list);
    }
    rlc_reward_t *r = rlc_calloc(1, sizeof *r);
    if (!r) return RLC_ENOMEM;
    r->kind = k->kind;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->weight = weight;
    rc = k->create(r, opts && cJSON_IsObject(opts) ? opts : NULL);
    if (rc) {
        rlc_err_ctx(rc, "reward %s", name);
        rlc_reward_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int rlc_reward_create(const cJSON *cfg, rlc_reward_t **out) {
    *out = NULL;
    if (!cfg) return rlc_errc(RLC_EINVAL, "reward config: missing");
    if (cJSON_IsObject(cfg)) return create_one(cfg, out);
    if (!cJSON_IsArray(cfg)) return rlc_errc(RLC_EINVAL, "reward config: expected an object or an array of objects");
    int n = cJSON_GetArraySize(cfg);
    if (n == 0) return rlc_errc(RLC_EINVAL, "reward config: empty array");
    sum_state_t *s = rlc_calloc(1, sizeof *s);
    rlc_reward_t *r = rlc_calloc(1, sizeof *r);
    if (s) s->parts = rlc_calloc((size_t)n, sizeof *s->parts);
    if (!s || !r || !s->parts) {
        if (s) free(s->parts);
        free(s);
        free(r);
        return RLC_ENOMEM;
    }
    r->kind = "sum";
    r->weight = 1.0;
    r->state = s;
    r->score = sum_score;
    r->destroy = sum_destroy;
    int rc = 0, i = 0;
    size_t nl = 0;
    for (const cJSON *c = cfg->child; c && !rc; c = c->next, i++) {
        rc = create_one(c, &s->parts[s->n]);
        if (rc) {
            rlc_err_ctx(rc, "reward config [%d]", i);
            break;
        }
        /* "math+format" */
        const char *pn = s->parts[s->n]->name;
        int w = snprintf(r->name + nl, sizeof r->name - nl, "%s%s", s->n ? "+" : "", pn);
        if (w > 0) nl = nl + (size_t)w < sizeof r->name ? nl + (size_t)w : sizeof r->name - 1;
        s->n++;
    }
    if (rc) {
        rlc_reward_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int rlc_reward_create_str(const char *json, rlc_reward_t **out) {
    *out = NULL;
    if (!json) return rlc_errc(RLC_EINVAL, "reward config: missing");
    cJSON *j = rlc_json_parse(json, strlen(json), "reward config");
    if (!j) return RLC_EINVAL;
    int rc = rlc_reward_create(j, out);
    cJSON_Delete(j);
    return rc;
}

void rlc_reward_free(rlc_reward_t *r) {
    if (!r) return;
    if (r->destroy) r->destroy(r);
    free(r);
}

int rlc_reward_score(rlc_reward_t *r, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *ro, int n, float *out,
                     float *const *tok_out, rlc_metrics_t *metrics) {
    if (!r || !r->score) return rlc_errc(RLC_EINVAL, "reward: not created");
    if (n < 0 || (n > 0 && (!ro || !out))) return rlc_errc(RLC_EINVAL, "reward %s: bad batch arguments", r->name);
    for (int i = 0; i < n; i++) {
        if (!ro[i].completion) return rlc_errc(RLC_EINVAL, "reward %s: rollout %d has no completion text", r->name, i);
        if (ro[i].n_tokens < 0 || (ro[i].n_tokens > 0 && !ro[i].tokens && tok_out))
            return rlc_errc(RLC_EINVAL, "reward %s: rollout %d has a bad token count", r->name, i);
    }
    rlc_reward_ctx_t empty = {0};
    int rc = r->score(r, ctx ? ctx : &empty, ro, n, out, tok_out, metrics);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        if (!isfinite(out[i])) return rlc_errc(RLC_ERANGE, "reward %s: non-finite reward for rollout %d", r->name, i);
    return 0;
}
