/* Evaluation summaries: per-item pass rates and majority votes accumulated into overall and
 * per-subject / per-level means, plus unbiased pass@k at powers of two up to K. */
#include "rewards/evalsum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

double rlc_pass_at_k(int n, int c, int k) {
    if (k < 1 || n < 1 || k > n || c < 0 || c > n) return NAN;
    if (n - c < k) return 1.0;
    /* C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i) */
    double p = 1.0;
    for (int i = n - c + 1; i <= n; i++) p *= 1.0 - (double)k / (double)i;
    return 1.0 - p;
}

#define MAX_KS 16

typedef struct {
    char key[64];
    long items;
    double pass1, maj;
} group_t;

typedef struct {
    group_t *g;
    int n, cap;
} groups_t;

struct rlc_evalsum {
    int K;
    int ks[MAX_KS], nks;
    double passk_sum[MAX_KS];
    long passk_items[MAX_KS];
    long items, samples;
    double pass1_sum, maj_sum;
    long tokens;
    double seconds;
    groups_t subj, level;
};

int rlc_evalsum_new(int k_samples, rlc_evalsum_t **out) {
    *out = NULL;
    if (k_samples < 1) return rlc_errc(RLC_EINVAL, "eval summary: samples per item must be >= 1 (got %d)", k_samples);
    rlc_evalsum_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    s->K = k_samples;
    for (int k = 1; k < k_samples && s->nks < MAX_KS - 1; k *= 2) s->ks[s->nks++] = k;
    s->ks[s->nks++] = k_samples;
    *out = s;
    return 0;
}

static int group_add(groups_t *gs, const char *key, double pass1, double maj) {
    int i = 0;
    while (i < gs->n && strcmp(gs->g[i].key, key)) i++;
    if (i == gs->n) {
        if (gs->n == gs->cap) {
            int nc = gs->cap ? gs->cap * 2 : 8;
            group_t *g = rlc_realloc(gs->g, sizeof *g * (size_t)nc);
            if (!g) return RLC_ENOMEM;
            gs->g = g;
            gs->cap = nc;
        }
        memset(&gs->g[i], 0, sizeof gs->g[i]);
        snprintf(gs->g[i].key, sizeof gs->g[i].key, "%s", key);
        gs->n++;
    }
    gs->g[i].items++;
    gs->g[i].pass1 += pass1;
    gs->g[i].maj += maj;
    return 0;
}

/* A metadata field as a group key: strings as they are, integral numbers as integers. */
static int meta_key(const cJSON *meta, const char *k1, const char *k2, char *buf, size_t cap) {
    const cJSON *v = meta ? cJSON_GetObjectItemCaseSensitive(meta, k1) : NULL;
    if (!v && k2 && meta) v = cJSON_GetObjectItemCaseSensitive(meta, k2);
    if (cJSON_IsString(v) && v->valuestring[0]) {
        snprintf(buf, cap, "%s", v->valuestring);
        return 1;
    }
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble == floor(v->valuedouble)) snprintf(buf, cap, "%lld", (long long)v->valuedouble);
        else snprintf(buf, cap, "%g", v->valuedouble);
        return 1;
    }
    return 0;
}

int rlc_evalsum_add(rlc_evalsum_t *s, const cJSON *meta, int n, const int *correct, const char *const *answers,
                    const math_opts_t *o, cJSON **item_out) {
    if (item_out) *item_out = NULL;
    if (n < 1 || !correct) return rlc_errc(RLC_EINVAL, "eval summary: an item needs at least one sample");
    int c = 0;
    for (int i = 0; i < n; i++) c += correct[i] != 0;
    double pass1 = (double)c / n;
    int win = answers ? math_majority(answers, n, o, NULL) : -1;
    double maj = win >= 0 && correct[win] ? 1.0 : 0.0;
    s->items++;
    s->samples += n;
    s->pass1_sum += pass1;
    s->maj_sum += maj;
    for (int j = 0; j < s->nks; j++)
        if (s->ks[j] <= n) {
            s->passk_sum[j] += rlc_pass_at_k(n, c, s->ks[j]);
            s->passk_items[j]++;
        }
    char key[64];
    int rc = 0;
    if (meta_key(meta, "subject", "type", key, sizeof key)) rc = group_add(&s->subj, key, pass1, maj);
    if (!rc && meta_key(meta, "level", NULL, key, sizeof key)) rc = group_add(&s->level, key, pass1, maj);
    if (rc) return rc;
    if (item_out) {
        cJSON *it = cJSON_CreateObject();
        if (!it) return RLC_ENOMEM;
        cJSON_AddNumberToObject(it, "n", n);
        cJSON_AddNumberToObject(it, "correct", c);
        cJSON_AddNumberToObject(it, "pass@1", pass1);
        if (win >= 0) cJSON_AddStringToObject(it, "maj_answer", answers[win]);
        else cJSON_AddNullToObject(it, "maj_answer");
        cJSON_AddBoolToObject(it, "maj_correct", maj > 0);
        *item_out = it;
    }
    return 0;
}

void rlc_evalsum_add_usage(rlc_evalsum_t *s, long tokens, double seconds) {
    s->tokens += tokens;
    s->seconds += seconds;
}

static cJSON *groups_json(const groups_t *gs, int K) {
    cJSON *o = cJSON_CreateObject();
    char mk[32];
    snprintf(mk, sizeof mk, "maj@%d", K);
    for (int i = 0; o && i < gs->n; i++) {
        cJSON *g = cJSON_CreateObject();
        if (!g) break;
        cJSON_AddNumberToObject(g, "items", (double)gs->g[i].items);
        cJSON_AddNumberToObject(g, "pass@1", gs->g[i].pass1 / (double)gs->g[i].items);
        cJSON_AddNumberToObject(g, mk, gs->g[i].maj / (double)gs->g[i].items);
        cJSON_AddItemToObject(o, gs->g[i].key, g);
    }
    return o;
}

cJSON *rlc_evalsum_json(const rlc_evalsum_t *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    double items = s->items ? (double)s->items : 1.0;
    cJSON_AddNumberToObject(o, "items", (double)s->items);
    cJSON_AddNumberToObject(o, "samples", s->K);
    cJSON_AddNumberToObject(o, "pass@1", s->pass1_sum / items);
    char key[32];
    for (int j = 0; j < s->nks; j++) {
        if (s->ks[j] == 1 || !s->passk_items[j]) continue; /* pass@1 is the mean above */
        snprintf(key, sizeof key, "pass@%d", s->ks[j]);
        cJSON_AddNumberToObject(o, key, s->passk_sum[j] / (double)s->passk_items[j]);
    }
    snprintf(key, sizeof key, "maj@%d", s->K);
    cJSON_AddNumberToObject(o, key, s->maj_sum / items);
    if (s->subj.n) cJSON_AddItemToObject(o, "by_subject", groups_json(&s->subj, s->K));
    if (s->level.n) cJSON_AddItemToObject(o, "by_level", groups_json(&s->level, s->K));
    cJSON_AddNumberToObject(o, "tokens", (double)s->tokens);
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddNumberToObject(o, "tokens_per_second", s->seconds > 0 ? (double)s->tokens / s->seconds : 0);
    return o;
}

void rlc_evalsum_free(rlc_evalsum_t *s) {
    if (!s) return;
    free(s->subj.g);
    free(s->level.g);
    free(s);
}
