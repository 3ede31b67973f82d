/* Process reward model formats: each builds its own input for a completion (its token ids and
 * the rows whose final hidden states score the steps) and has a head applied on the host:
 *  - generic: prompt + completion in the policy's ids; step k's row = the token completing it
 *    (rewards/steps.h); head = the 1-label score head, sigmoid.
 *  - math-shepherd: "<question> <step 1> ки\n<step 2> ки\n...<step K> ки" in its own tokenizer
 *    (with its special tokens, e.g. BOS); row = the token completing tag k; head = the LM
 *    head's rows of "-" and "+", score = P(+) / (P(+) + P(-)) = sigmoid(l+ - l-).
 *  - qwen (Qwen2.5-Math-PRM, Qwen2ForProcessRewardModel): the chat rendering with the system
 *    prompt "Please reason step by step, and put your final answer within \boxed{}.", the
 *    problem as the user turn and the steps joined by "<extra_0>" (one after each) as the
 *    assistant turn; row = the k-th "<extra_0>"; head = score.0 (Linear C->C), ReLU, score.2
 *    (Linear C->2), softmax[1].
 *  - skywork (Skywork-o1-Open-PRM, Qwen2ForPrmModel): BOS + problem + "\n", then each step (the
 *    completion's non-blank lines) tokenized alone and followed by the "\n" token; row = that
 *    "\n"; head = v_head.summary (Linear C->1), sigmoid.
 * qwen and skywork trunks load as RLC_HEAD_NONE models and their head tensors are read from
 * the same safetensors; the generic and math-shepherd heads are copied from the model. */
#include "rewards/prm_formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "rewards/steps.h"


/* ---------------- heads ---------------- */

/* A head tensor of the given shape (cols = 0: a vector), as malloc'd fp32. */
static int read_head(rlc_prm_t *p, const rlc_st_t *st, const char *name, int rows, int cols, float **out) {
    const rlc_st_tensor_t *t = rlc_st_find(st, name);
    if (!t)
        return rlc_errc(RLC_EFMT, "%s %s (%s): missing tensor '%s'", p->what, p->dir, rlc_prm_format_name(p->format),
                        name);
    int ok = cols ? t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols : t->ndim == 1 && t->shape[0] == rows;
    if (!ok)
        return rlc_errc(RLC_EFMT, "%s %s: tensor '%s' has the wrong shape (expected [%d%s%d])", p->what, p->dir, name,
                        rows, cols ? "," : "", cols ? cols : 0);
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1);
    float *b = malloc(sizeof(float) * n);
    if (!b) return RLC_ENOMEM;
    int rc = rlc_st_to_f32(t, b);
    for (size_t i = 0; i < n && !rc; i++)
        if (!isfinite(b[i])) rc = rlc_errc(RLC_EFMT, "%s %s: tensor '%s' contains NaN or Inf", p->what, p->dir, name);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Rows `rows[n]` of a [*, C] parameter of the loaded model into dst[n * C]. */
static int param_rows(const rlc_model_t *m, const char *name, const int32_t *rows, int n, float *dst) {
    const rlc_param_info_t *pi = rlc_model_param(m, name);
    if (!pi) return rlc_errc(RLC_EINVAL, "the model has no parameter '%s'", name);
    rlc_backend_t *be = m->be;
    size_t C = pi->ndim == 2 ? (size_t)pi->shape[1] : pi->numel;
    for (int i = 0; i < n; i++) {
        const char *src = (const char *)m->params + (pi->offset + (size_t)rows[i] * C) * be->esize[RLC_BUF_PARAM];
        int rc = be->download(be, dst + (size_t)i * C, src, RLC_BUF_PARAM, C);
        if (rc) return rc;
    }
    return 0;
}

/* The id of a text that must be one token of the PRM's tokenizer (no special tokens added). */
static int single_token(const rlc_prm_t *p, const char *text, int32_t *id) {
    int32_t *ids = NULL;
    int n = 0;
    int rc = tok_encode(p->tok, text, strlen(text), 0, &ids, &n);
    if (!rc && n == 1 && ids[0] >= 0 && ids[0] < p->m->cfg.vocab_size) *id = ids[0];
    else rc = RLC_EINVAL;
    free(ids);
    if (rc)
        rlc_errc(RLC_EINVAL, "%s %s (%s): \"%s\" is not a single token of the PRM's tokenizer", p->what, p->dir,
                 rlc_prm_format_name(p->format), text);
    return rc;
}

static int open_generic(rlc_prm_t *p) {
    int C = p->m->cfg.hidden_size;
    if (p->m->score_labels != 1)
        return rlc_errc(RLC_EINVAL, "%s %s (generic): needs a score head with 1 label (it has %d)", p->what, p->dir,
                        p->m->score_labels);
    p->head_out = 1;
    p->w2 = malloc(sizeof(float) * (size_t)C);
    p->b2 = calloc(1, sizeof(float));
    if (!p->w2 || !p->b2) return RLC_ENOMEM;
    int32_t r0 = 0;
    int rc = param_rows(p->m, "score.weight", &r0, 1, p->w2);
    if (!rc && rlc_model_param(p->m, "score.bias")) rc = param_rows(p->m, "score.bias", &r0, 1, p->b2);
    return rc;
}

static int open_shepherd(rlc_prm_t *p) {
    if (p->m->cfg.head != RLC_HEAD_LM)
        return rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): needs a language-model head (it has a score head)", p->what,
                        p->dir);
    int rc = tok_load(&p->tok, p->dir);
    if (rc) return rlc_err_ctx(rc, "%s %s (math-shepherd): its tokenizer", p->what, p->dir);
    tok_set_model_vocab(p->tok, p->m->cfg.vocab_size);
    if ((rc = single_token(p, "+", &p->plus)) || (rc = single_token(p, "-", &p->minus))) return rc;
    int C = p->m->cfg.hidden_size;
    int32_t rows[2] = {p->minus, p->plus}; /* l0 = "-", l1 = "+" */
    p->head_out = 2;
    p->w2 = malloc(sizeof(float) * 2 * (size_t)C);
    p->b2 = calloc(2, sizeof(float));
    if (!p->w2 || !p->b2) return RLC_ENOMEM;
    const char *lm = rlc_model_param(p->m, "lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
    return param_rows(p->m, lm, rows, 2, p->w2);
}

static int open_trunk_head(rlc_prm_t *p) {
    const char *fmt = rlc_prm_format_name(p->format);
    if (p->m->cfg.head != RLC_HEAD_NONE)
        return rlc_errc(RLC_EINVAL, "%s %s (%s): expects a %s checkpoint (config.json architectures)", p->what, p->dir,
                        fmt, p->format == RLC_PRM_QWEN ? "Qwen2ForProcessRewardModel" : "Qwen2ForPrmModel");
    int C = p->m->cfg.hidden_size, rc;
    rlc_st_t st;
    memset(&st, 0, sizeof st);
    if ((rc = rlc_st_open(&st, p->dir))) return rlc_err_ctx(rc, "%s %s", p->what, p->dir);
    if (p->format == RLC_PRM_QWEN) {
        p->head_out = 2;
        if (!(rc = read_head(p, &st, "score.0.weight", C, C, &p->w1)) &&
            !(rc = read_head(p, &st, "score.0.bias", C, 0, &p->b1)) && !(rc = read_head(p, &st, "score.2.weight", 2, C, &p->w2)))
            rc = read_head(p, &st, "score.2.bias", 2, 0, &p->b2);
        if (!rc && !(p->act = malloc(sizeof(float) * (size_t)C))) rc = RLC_ENOMEM;
    } else {
        p->head_out = 1;
        if (!(rc = read_head(p, &st, "v_head.summary.weight", 1, C, &p->w2)))
            rc = read_head(p, &st, "v_head.summary.bias", 1, 0, &p->b2);
    }
    rlc_st_close(&st);
    if (!rc && (rc = tok_load(&p->tok, p->dir))) rlc_err_ctx(rc, "%s %s (%s): its tokenizer", p->what, p->dir, fmt);
    if (!rc) tok_set_model_vocab(p->tok, p->m->cfg.vocab_size);
    if (!rc && p->format == RLC_PRM_QWEN) rc = single_token(p, RLC_QWEN_PRM_SEP, &p->sep);
    return rc;
}

int rlc_prm_open_head(rlc_prm_t *p) {
    switch (p->format) {
    case RLC_PRM_GENERIC: return open_generic(p);
    case RLC_PRM_SHEPHERD: return open_shepherd(p);
    default: return open_trunk_head(p);
    }
}

float rlc_prm_row_score(const rlc_prm_t *p, const float *h) {
    int C = p->m->cfg.hidden_size;
    const float *x = h;
    if (p->w1) { /* qwen's hidden layer, ReLU */
        for (int r = 0; r < C; r++) {
            const float *w = p->w1 + (size_t)r * C;
            double a = p->b1[r];
            for (int c = 0; c < C; c++) a += (double)w[c] * h[c];
            p->act[r] = a > 0 ? (float)a : 0.0f;
        }
        x = p->act;
    }
    double l[2] = {p->b2[0], p->head_out == 2 ? p->b2[1] : 0};
    for (int o = 0; o < p->head_out; o++)
        for (int c = 0; c < C; c++) l[o] += (double)p->w2[(size_t)o * C + c] * x[c];
    double z = p->head_out == 1 ? l[0] : l[1] - l[0];
    return (float)(z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)));
}
