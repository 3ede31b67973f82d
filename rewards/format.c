/* The "format" reward: did the completion state its answer in the form the prompt asked
 * for (\boxed{}, a final "Answer:" line, R1's <think>...</think> then a boxed answer, or an
 * <answer> tag)? Independent of correctness; usually combined with "math" at a small weight. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "rewards/builtin.h"
#include "rewards/math/math.h"

typedef enum { REQ_BOXED, REQ_ANSWER_LINE, REQ_THINK, REQ_ANSWER_TAG } req_t;

typedef struct {
    req_t req;
    double ok, bad;
} format_state_t;

static int count(const char *s, const char *pat) {
    int n = 0;
    for (const char *p = strstr(s, pat); p; p = strstr(p + 1, pat)) n++;
    return n;
}

static int has_answer(const char *s, int flags) {
    char buf[MATH_MAX_ANSWER + 1];
    return math_extract_answer(s, buf, sizeof buf, flags) > 0 && buf[0];
}

/* DAPO: the last non-empty line is "Answer: <something>". */
static int last_line_answer(const char *s) {
    const char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) e--;
    const char *b = e;
    while (b > s && b[-1] != '\n') b--;
    while (b < e && (isspace((unsigned char)*b) || *b == '*')) b++;
    if (e - b < 7 || strncasecmp(b, "answer", 6)) return 0;
    b += 6;
    while (b < e && (*b == ' ' || *b == '*')) b++;
    if (b >= e || *b != ':') return 0;
    b++;
    while (b < e && (isspace((unsigned char)*b) || *b == '*' || *b == '$')) b++;
    return b < e;
}

int rlc_format_ok(const char *completion, const char *require, int *ok) {
    format_state_t s = {0};
    if (!strcmp(require, "boxed")) s.req = REQ_BOXED;
    else if (!strcmp(require, "answer_line")) s.req = REQ_ANSWER_LINE;
    else if (!strcmp(require, "think")) s.req = REQ_THINK;
    else if (!strcmp(require, "answer_tag")) s.req = REQ_ANSWER_TAG;
    else return rlc_errc(RLC_EINVAL, "format: unknown requirement '%s' (boxed, answer_line, think, answer_tag)", require);
    const char *c = completion;
    switch (s.req) {
    case REQ_BOXED: *ok = has_answer(c, MATH_EXTRACT_BOXED); break;
    case REQ_ANSWER_LINE: *ok = last_line_answer(c); break;
    case REQ_ANSWER_TAG: *ok = count(c, "<answer>") == 1 && count(c, "</answer>") == 1 && has_answer(c, MATH_EXTRACT_ANSWER_TAG); break;
    case REQ_THINK: {
        /* the prompt usually opens <think>; the completion closes it once, then answers */
        const char *close = strstr(c, "</think>"), *open = strstr(c, "<think>");
        *ok = count(c, "</think>") == 1 && count(c, "<think>") <= 1 && (!open || open < close) &&
              has_answer(close + 8, MATH_EXTRACT_BOXED | MATH_EXTRACT_ANSWER_TAG);
        break;
    }
    }
    return 0;
}

static const char *req_name(req_t r) {
    return r == REQ_BOXED ? "boxed" : r == REQ_ANSWER_LINE ? "answer_line" : r == REQ_THINK ? "think" : "answer_tag";
}

static int format_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                        float *const *tok_out, rlc_metrics_t *metrics) {
    (void)ctx;
    (void)tok_out;
    format_state_t *s = self->state;
    for (int i = 0; i < n; i++) {
        int ok = 0, rc = rlc_format_ok(r[i].completion, req_name(s->req), &ok);
        if (rc) return rc;
        out[i] = (float)(ok ? s->ok : s->bad);
        if (metrics && (rc = rlc_metrics_add(metrics, "format_ok", ok))) return rc;
    }
    return 0;
}

static void format_destroy(rlc_reward_t *self) { free(self->state); }

int rlc_reward_format_create(rlc_reward_t *r, const cJSON *o) {
    static const char *const keys[] = {"require", "ok", "bad", NULL};
    const char *what = "reward format options";
    format_state_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return RLC_ENOMEM;
    r->state = s;
    r->score = format_score;
    r->destroy = format_destroy;
    s->req = REQ_BOXED;
    s->ok = 1.0;
    s->bad = 0.0;
    if (!o) return 0;
    int rc = rlc_json_check_keys(o, keys, what);
    const char *req = NULL;
    if (rc || (rc = rlc_json_get_str(o, "require", &req, 0, what)) < 0 ||
        (rc = rlc_json_get_num(o, "ok", &s->ok, 0, what)) < 0 || (rc = rlc_json_get_num(o, "bad", &s->bad, 0, what)) < 0)
        return rc;
    if (req) {
        int ok;
        if ((rc = rlc_format_ok("", req, &ok))) return rc;
        s->req = !strcmp(req, "boxed") ? REQ_BOXED : !strcmp(req, "answer_line") ? REQ_ANSWER_LINE
                 : !strcmp(req, "think")                                   ? REQ_THINK
                                                                            : REQ_ANSWER_TAG;
    }
    return 0;
}
