/* The "countdown" reward: the boxed (or <answer>) expression must reach the target using
 * each given number at most once; checked exactly by data/'s verifier. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "data/synth.h"
#include "rewards/builtin.h"
#include "rewards/math/math.h"

typedef struct {
    double correct, wrong, format_score;
    int flags;
} cd_state_t;

static int cd_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                    float *const *tok_out, rlc_metrics_t *metrics) {
    (void)ctx;
    (void)tok_out;
    cd_state_t *s = self->state;
    char expr[MATH_MAX_ANSWER + 1];
    for (int i = 0; i < n; i++) {
        const cJSON *nums = r[i].meta ? cJSON_GetObjectItemCaseSensitive(r[i].meta, "numbers") : NULL;
        const cJSON *tgt = r[i].meta ? cJSON_GetObjectItemCaseSensitive(r[i].meta, "target") : NULL;
        if (!cJSON_IsArray(nums) || !cJSON_IsNumber(tgt))
            return rlc_errc(RLC_EINVAL, "rollout %d: countdown needs metadata \"numbers\" (array) and \"target\"", i);
        long v[64];
        int k = 0;
        for (const cJSON *c = nums->child; c && k < 64; c = c->next) {
            if (!cJSON_IsNumber(c)) return rlc_errc(RLC_EINVAL, "rollout %d: countdown \"numbers\" must be numbers", i);
            v[k++] = (long)c->valuedouble;
        }
        int found = math_extract_answer(r[i].completion, expr, sizeof expr, s->flags) > 0 && expr[0];
        int ok = found && data_countdown_check(expr, v, k, (long)tgt->valuedouble, NULL, 0);
        out[i] = (float)(ok ? s->correct : found ? s->format_score : s->wrong);
        if (metrics) {
            int rc = rlc_metrics_add(metrics, "accuracy", ok);
            if (!rc) rc = rlc_metrics_add(metrics, "extracted_rate", found);
            if (rc) return rc;
        }
    }
    return 0;
}

static void cd_destroy(rlc_reward_t *self) { free(self->state); }

int rlc_reward_countdown_create(rlc_reward_t *r, const cJSON *o) {
    static const char *const keys[] = {"correct", "wrong", "format_score", "extract", NULL};
    const char *what = "reward countdown options";
    cd_state_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    r->state = s;
    r->score = cd_score;
    r->destroy = cd_destroy;
    s->correct = 1.0;
    s->flags = MATH_EXTRACT_BOXED | MATH_EXTRACT_ANSWER_TAG;
    int has_fs = 1, rc = 0;
    if (o) {
        if ((rc = rlc_json_check_keys(o, keys, what)) || (rc = rlc_json_get_num(o, "correct", &s->correct, 0, what)) < 0 ||
            (rc = rlc_json_get_num(o, "wrong", &s->wrong, 0, what)) < 0 ||
            (has_fs = rc = rlc_json_get_num(o, "format_score", &s->format_score, 0, what)) < 0 ||
            (rc = rlc_reward_parse_extract(cJSON_GetObjectItemCaseSensitive(o, "extract"), &s->flags, what)) < 0)
            return rc;
    }
    if (has_fs == 1) s->format_score = s->wrong;
    if (!s->flags) return rlc_errc(RLC_EINVAL, "%s: \"extract\" enables no rule", what);
    return 0;
}
