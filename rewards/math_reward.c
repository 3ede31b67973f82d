/* The "math" outcome reward: extract the final answer from each completion and grade it
 * against the gold answer in the rollout's metadata (SPECS.md "Outcome reward"). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "rewards/builtin.h"
#include "rewards/math/math.h"

typedef struct {
    double correct, wrong, no_answer;
    int flags, after_think, truncated_wrong, require_think_close;
    char answer_key[64];
    math_opts_t mo;
} math_state_t;

int rlc_reward_gold(const rlc_rollout_t *r, int index, const char *key, char *buf, size_t cap) {
    const cJSON *v = r->meta ? cJSON_GetObjectItemCaseSensitive(r->meta, key) : NULL;
    if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) + 1 > cap)
            return rlc_errc(RLC_ERANGE, "rollout %d: gold answer longer than %zu bytes", index, cap - 1);
        memcpy(buf, v->valuestring, strlen(v->valuestring) + 1);
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d) snprintf(buf, cap, "%lld", (long long)d);
        else snprintf(buf, cap, "%.17g", d);
        return 0;
    }
    return rlc_errc(RLC_EINVAL, "rollout %d: metadata has no %s field '%s' for the gold answer", index,
                    v ? "text" : "", key);
}

const char *rlc_reward_answer_part(const char *completion, int after_think) {
    if (!after_think) return completion;
    const char *last = NULL;
    for (const char *p = strstr(completion, "</think>"); p; p = strstr(p + 1, "</think>")) last = p;
    return last ? last + 8 : completion;
}

/* "extract": "boxed,gsm8k" or ["boxed", "gsm8k"] */
int rlc_reward_parse_extract(const cJSON *v, int *flags, const char *what) {
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v)) return math_extract_flags_from_str(v->valuestring, flags);
    if (!cJSON_IsArray(v)) return rlc_errc(RLC_EINVAL, "%s: \"extract\" must be a string or an array of strings", what);
    int f = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        int one;
        if (!cJSON_IsString(c)) return rlc_errc(RLC_EINVAL, "%s: \"extract\" entries must be strings", what);
        int rc = math_extract_flags_from_str(c->valuestring, &one);
        if (rc) return rc;
        f |= one;
    }
    *flags = f;
    return 0;
}

/* The rollout opened a <think> block (in its completion, or its prompt ends inside one, as
 * R1-style generation prompts do) and never closed it. */
static int think_open(const rlc_rollout_t *r) {
    if (strstr(r->completion, "</think>")) return 0;
    if (strstr(r->completion, "<think>")) return 1;
    const char *p = r->prompt, *last = NULL;
    for (const char *q = p ? strstr(p, "<think>") : NULL; q; q = strstr(q + 1, "<think>")) last = q;
    return last && !strstr(last, "</think>");
}

static int math_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                      float *const *tok_out, rlc_metrics_t *metrics) {
    (void)ctx;
    (void)tok_out;
    math_state_t *s = self->state;
    char gold[MATH_MAX_ANSWER + 1], ans[MATH_MAX_ANSWER + 1];
    for (int i = 0; i < n; i++) {
        int rc = rlc_reward_gold(&r[i], i, s->answer_key, gold, sizeof gold);
        if (rc) return rc;
        /* the gold is read like the completion (a worked solution works too) */
        int ok = math_grade(gold, rlc_reward_answer_part(r[i].completion, s->after_think), s->flags, &s->mo, ans,
                            sizeof ans);
        int found = ans[0] != 0;
        if (s->truncated_wrong && r[i].finish == RLC_FINISH_LENGTH) ok = 0;
        if (s->after_think && s->require_think_close && think_open(&r[i]))
            ok = found = 0; /* still thinking when it stopped: unfinished, whatever it boxed */
        out[i] = (float)(ok ? s->correct : found ? s->wrong : s->no_answer);
        if (metrics) {
            rc = rlc_metrics_add(metrics, "accuracy", ok);
            if (!rc) rc = rlc_metrics_add(metrics, "extracted_rate", found);
            if (rc) return rc;
        }
    }
    return 0;
}

static void math_destroy(rlc_reward_t *self) { free(self->state); }

int rlc_reward_math_create(rlc_reward_t *r, const cJSON *o) {
    static const char *const keys[] = {"correct", "wrong",   "no_answer",   "answer_key", "extract",         "percent",
                                       "percent_strict", "chains", "rel_tol", "after_think", "truncated_wrong",
                                       "require_think_close", NULL};
    const char *what = "reward math options";
    math_state_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    r->state = s;
    r->score = math_score;
    r->destroy = math_destroy;
    s->correct = 1.0;
    s->wrong = 0.0;
    s->flags = MATH_EXTRACT_MARKERS; /* a training reward wants a stated answer, not a guessed last number */
    snprintf(s->answer_key, sizeof s->answer_key, "answer");
    math_opts_default(&s->mo);
    if (!o) {
        s->no_answer = s->wrong;
        return 0;
    }
    int rc = rlc_json_check_keys(o, keys, what);
    if (rc) return rc;
    const char *key = NULL;
    int has_na;
    if ((rc = rlc_json_get_num(o, "correct", &s->correct, 0, what)) < 0 ||
        (rc = rlc_json_get_num(o, "wrong", &s->wrong, 0, what)) < 0 ||
        (has_na = rc = rlc_json_get_num(o, "no_answer", &s->no_answer, 0, what)) < 0 ||
        (rc = rlc_json_get_str(o, "answer_key", &key, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "percent", &s->mo.percent, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "percent_strict", &s->mo.percent_strict, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "chains", &s->mo.chains, 0, what)) < 0 ||
        (rc = rlc_json_get_num(o, "rel_tol", &s->mo.rel_tol, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "after_think", &s->after_think, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "truncated_wrong", &s->truncated_wrong, 0, what)) < 0 ||
        (rc = rlc_json_get_bool(o, "require_think_close", &s->require_think_close, 0, what)) < 0 ||
        (rc = rlc_reward_parse_extract(cJSON_GetObjectItemCaseSensitive(o, "extract"), &s->flags, what)) < 0)
        return rc;
    if (has_na == 1) s->no_answer = s->wrong;
    if (key) {
        if (!key[0] || strlen(key) >= sizeof s->answer_key) return rlc_errc(RLC_EINVAL, "%s: bad answer_key", what);
        snprintf(s->answer_key, sizeof s->answer_key, "%s", key);
    }
    if (!(s->mo.rel_tol >= 0 && s->mo.rel_tol < 1)) return rlc_errc(RLC_EINVAL, "%s: rel_tol must be in [0, 1)", what);
    if (!s->flags) return rlc_errc(RLC_EINVAL, "%s: \"extract\" enables no rule", what);
    return 0;
}
