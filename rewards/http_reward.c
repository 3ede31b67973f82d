/* The "http" reward: scores by POSTing batches to a reward service (docs/tools.md "Rewards
 * over HTTP"). Request {"items": [{"prompt", "completion", "answer", "meta"}, ...]}, answer
 * {"rewards": [float, ...]} with optionally "token_rewards": [[float, ...], ...] (dense, one
 * per completion token). Batches of `batch_size` go out concurrently (up to `concurrency`),
 * each with timeouts and retries (net/http.c). When the service stays down, or answers with
 * the wrong number of rewards or malformed JSON, the step fails with that reason — unless
 * `on_error` is set, in which case every affected completion gets that value and
 * "http_fallbacks" counts them. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "net/http.h"
#include "rewards/builtin.h"

typedef struct {
    char url[1024];
    double timeout_s, on_error;
    int has_on_error, batch_size, max_retries, concurrency;
    char answer_key[64];
} http_state_t;

typedef struct {
    const http_state_t *s;
    const rlc_rollout_t *r;
    int lo, hi;
    float *out;
    float *const *tok_out;
    int rc, fallback;
    char err[512];
} batch_job_t;

static cJSON *batch_body(const batch_job_t *j) {
    cJSON *root = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(root, "items");
    char gold[4096];
    for (int i = j->lo; i < j->hi && items; i++) {
        const rlc_rollout_t *x = &j->r[i];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "prompt", x->prompt ? x->prompt : "");
        cJSON_AddStringToObject(it, "completion", x->completion ? x->completion : "");
        if (rlc_reward_gold(x, i, j->s->answer_key, gold, sizeof gold) == 0) cJSON_AddStringToObject(it, "answer", gold);
        else cJSON_AddNullToObject(it, "answer");
        if (x->meta) cJSON_AddItemToObject(it, "meta", cJSON_Duplicate(x->meta, 1));
        cJSON_AddItemToArray(items, it);
    }
    return root;
}

/* The answer of one batch into out / tok_out; 0, or an error text in j->err. */
static int read_answer(batch_job_t *j, const char *resp) {
    int n = j->hi - j->lo;
    cJSON *a = cJSON_Parse(resp);
    const cJSON *rw = a ? cJSON_GetObjectItemCaseSensitive(a, "rewards") : NULL;
    const cJSON *tr = a ? cJSON_GetObjectItemCaseSensitive(a, "token_rewards") : NULL;
    int rc = 0;
    if (!cJSON_IsArray(rw)) {
        snprintf(j->err, sizeof j->err, "the answer has no \"rewards\" array");
        rc = -1;
    } else if (cJSON_GetArraySize(rw) != n) {
        snprintf(j->err, sizeof j->err, "the service returned %d rewards for %d completions", cJSON_GetArraySize(rw), n);
        rc = -1;
    }
    float *vals = calloc((size_t)n, sizeof *vals);
    for (int i = 0; !rc && vals && i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(rw, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            snprintf(j->err, sizeof j->err, "reward %d is not a finite number", i);
            rc = -1;
        } else {
            vals[i] = (float)v->valuedouble;
        }
    }
    if (!rc && tr && (!cJSON_IsArray(tr) || cJSON_GetArraySize(tr) != n)) {
        snprintf(j->err, sizeof j->err, "\"token_rewards\" must hold one array per completion");
        rc = -1;
    }
    for (int i = 0; !rc && tr && j->tok_out && i < n; i++) { /* dense terms: one per completion token */
        const cJSON *row = cJSON_GetArrayItem(tr, i);
        const rlc_rollout_t *x = &j->r[j->lo + i];
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != x->n_tokens) {
            snprintf(j->err, sizeof j->err, "token_rewards[%d] has %d values for %d tokens", i,
                     cJSON_IsArray(row) ? cJSON_GetArraySize(row) : -1, x->n_tokens);
            rc = -1;
            break;
        }
        int t = 0;
        for (const cJSON *v = row->child; v; v = v->next, t++)
            if (cJSON_IsNumber(v) && (!x->trainable || x->trainable[t])) j->tok_out[j->lo + i][t] += (float)v->valuedouble;
    }
    for (int i = 0; !rc && vals && i < n; i++) j->out[j->lo + i] = vals[i];
    free(vals);
    cJSON_Delete(a);
    return rc;
}

static void *run_batch(void *arg) {
    batch_job_t *j = arg;
    cJSON *body = batch_body(j);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    rlc_http_opts_t o;
    rlc_http_opts_default(&o);
    o.timeout_s = j->s->timeout_s;
    o.max_retries = j->s->max_retries;
    char *resp = NULL;
    long code = 0;
    if (!text) {
        snprintf(j->err, sizeof j->err, "out of memory");
        j->rc = RLC_ENOMEM;
    } else if (rlc_http_post_json(j->s->url, text, &o, &resp, NULL, &code)) {
        snprintf(j->err, sizeof j->err, "%s", rlc_errmsg());
        j->rc = RLC_EIO;
    } else if (read_answer(j, resp)) {
        j->rc = RLC_EFMT;
    }
    if (j->rc && j->s->has_on_error) { /* the configured fallback, counted */
        for (int i = j->lo; i < j->hi; i++) j->out[i] = (float)j->s->on_error;
        j->fallback = j->hi - j->lo;
        j->rc = 0;
    }
    free(text);
    free(resp);
    return NULL;
}

static int http_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                      float *const *tok_out, rlc_metrics_t *metrics) {
    (void)ctx;
    const http_state_t *s = self->state;
    int nb = (n + s->batch_size - 1) / s->batch_size, rc = 0;
    batch_job_t *jobs = calloc((size_t)(nb ? nb : 1), sizeof *jobs);
    pthread_t *th = calloc((size_t)(nb ? nb : 1), sizeof *th);
    if (!jobs || !th) rc = RLC_ENOMEM;
    for (int b = 0; b < nb && !rc; b++)
        jobs[b] = (batch_job_t){.s = s, .r = r, .lo = b * s->batch_size, .out = out, .tok_out = tok_out,
                                .hi = (b + 1) * s->batch_size < n ? (b + 1) * s->batch_size : n};
    for (int b0 = 0; b0 < nb && !rc; b0 += s->concurrency) { /* waves of `concurrency` batches */
        int b1 = b0 + s->concurrency < nb ? b0 + s->concurrency : nb, started = b0;
        for (int b = b0 + 1; b < b1; b++)
            if (pthread_create(&th[b], NULL, run_batch, &jobs[b]) == 0) started = b;
            else run_batch(&jobs[b]), th[b] = 0;
        run_batch(&jobs[b0]);
        for (int b = b0 + 1; b <= started; b++)
            if (th[b]) pthread_join(th[b], NULL);
    }
    int fallbacks = 0;
    for (int b = 0; b < nb && !rc; b++) {
        fallbacks += jobs[b].fallback;
        if (jobs[b].rc) rc = rlc_errc(jobs[b].rc, "reward http (%s): %s", s->url, jobs[b].err);
    }
    if (!rc && metrics) rc = rlc_metrics_add(metrics, "http_fallbacks", n ? (double)fallbacks / n : 0);
    free(jobs);
    free(th);
    return rc;
}

static void http_destroy(rlc_reward_t *self) { free(self->state); }

int rlc_reward_http_create(rlc_reward_t *r, const cJSON *o) {
    static const char *const keys[] = {"url", "timeout_s", "batch_size", "max_retries", "concurrency", "on_error",
                                       "answer_key", NULL};
    const char *what = "reward http options";
    if (!o) return rlc_errc(RLC_EINVAL, "%s: \"url\" is required", what);
    int rc = rlc_json_check_keys(o, keys, what);
    if (rc) return rc;
    http_state_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    r->state = s;
    r->score = http_score;
    r->destroy = http_destroy;
    s->timeout_s = 30;
    double bs = 64, mr = 2, cc = 4;
    const char *url = NULL, *key = NULL;
    snprintf(s->answer_key, sizeof s->answer_key, "answer");
    if ((rc = rlc_json_get_str(o, "url", &url, 1, what)) < 0 || (rc = rlc_json_get_num(o, "timeout_s", &s->timeout_s, 0, what)) < 0 ||
        (rc = rlc_json_get_num(o, "batch_size", &bs, 0, what)) < 0 || (rc = rlc_json_get_num(o, "max_retries", &mr, 0, what)) < 0 ||
        (rc = rlc_json_get_num(o, "concurrency", &cc, 0, what)) < 0 ||
        (rc = rlc_json_get_str(o, "answer_key", &key, 0, what)) < 0)
        return rc;
    int has = 0;
    if ((has = rlc_json_get_num(o, "on_error", &s->on_error, 0, what)) < 0) return has;
    s->has_on_error = has == 0;
    if (!url || strlen(url) >= sizeof s->url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
        return rlc_errc(RLC_EINVAL, "%s: \"url\" must be an http:// or https:// URL", what);
    snprintf(s->url, sizeof s->url, "%s", url);
    if (key) snprintf(s->answer_key, sizeof s->answer_key, "%s", key);
    if (!(s->timeout_s > 0 && s->timeout_s <= 3600)) return rlc_errc(RLC_EINVAL, "%s: timeout_s must be in (0, 3600]", what);
    if (!(bs >= 1 && bs <= 65536 && bs == floor(bs))) return rlc_errc(RLC_EINVAL, "%s: batch_size must be an integer in [1, 65536]", what);
    if (!(mr >= 0 && mr <= 10 && mr == floor(mr))) return rlc_errc(RLC_EINVAL, "%s: max_retries must be an integer in [0, 10]", what);
    if (!(cc >= 1 && cc <= 64 && cc == floor(cc))) return rlc_errc(RLC_EINVAL, "%s: concurrency must be an integer in [1, 64]", what);
    if (s->has_on_error && !isfinite(s->on_error)) return rlc_errc(RLC_EINVAL, "%s: on_error must be a finite number", what);
    s->batch_size = (int)bs, s->max_retries = (int)mr, s->concurrency = (int)cc;
    return 0;
}
