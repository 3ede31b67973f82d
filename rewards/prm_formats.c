/* Process reward models whose head is not one linear layer over the policy's tokens:
 *  - qwen (Qwen2.5-Math-PRM, Qwen2ForProcessRewardModel): the chat template with the system
 *    prompt "Please reason step by step, and put your final answer within \boxed{}.", the
 *    problem as the user turn and the steps joined by "<extra_0>" (one after each) as the
 *    assistant turn; a two-layer MLP head (score.0: Linear C→C, ReLU, score.2: Linear C→2);
 *    step k's score = softmax(head(h))[1] at the k-th "<extra_0>".
 *  - skywork (Skywork-o1-Open-PRM, Qwen2ForPrmModel): BOS + problem + "\n", then each step
 *    (the completion split at "\n", blank pieces dropped) tokenized alone and followed by the
 *    "\n" token; a value head (v_head.summary: Linear C→1); step k's score = sigmoid(head(h))
 *    at the "\n" that ends step k.
 * Both read their own tokenizer; the trunk is loaded as an RLC_HEAD_NONE model, the head
 * tensors are read from the same safetensors and applied on the host in fp32 to the hidden
 * rows the model returns (rlc_model_hidden). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "rewards/prm_formats.h"
#include "rewards/steps.h"

static const char QWEN_SYSTEM[] = "Please reason step by step, and put your final answer within \\boxed{}.";
static const char QWEN_SEP[] = "<extra_0>";

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

int rlc_prm_open_head(rlc_prm_t *p) {
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
        if (!(rc = read_head(p, &st, "score.0.weight", C, C, &p->w1)) && !(rc = read_head(p, &st, "score.0.bias", C, 0, &p->b1)) &&
            !(rc = read_head(p, &st, "score.2.weight", 2, C, &p->w2)))
            rc = read_head(p, &st, "score.2.bias", 2, 0, &p->b2);
    } else {
        p->head_out = 1;
        if (!(rc = read_head(p, &st, "v_head.summary.weight", 1, C, &p->w2)))
            rc = read_head(p, &st, "v_head.summary.bias", 1, 0, &p->b2);
    }
    rlc_st_close(&st);
    if (!rc && (rc = tok_load(&p->tok, p->dir))) rlc_err_ctx(rc, "%s %s (%s): its tokenizer", p->what, p->dir, fmt);
    if (!rc && p->format == RLC_PRM_QWEN) {
        int32_t *ids = NULL;
        int n = 0;
        rc = tok_encode(p->tok, QWEN_SEP, strlen(QWEN_SEP), 0, &ids, &n);
        if (!rc && n == 1) p->sep = ids[0];
        else if (!rc) rc = rlc_errc(RLC_EINVAL, "%s %s (qwen): \"%s\" is not a single token of its tokenizer", p->what, p->dir, QWEN_SEP);
        free(ids);
    }
    return rc;
}

/* The head on one hidden row: the step's score. */
static float head_score(const rlc_prm_t *p, const float *h) {
    int C = p->m->cfg.hidden_size;
    if (p->head_out == 1) {
        double v = p->b2[0];
        for (int c = 0; c < C; c++) v += (double)p->w2[c] * h[c];
        return (float)(1.0 / (1.0 + exp(-v)));
    }
    double l[2] = {p->b2[0], p->b2[1]};
    for (int r = 0; r < C; r++) {
        const float *w = p->w1 + (size_t)r * C;
        double a = p->b1[r];
        for (int c = 0; c < C; c++) a += (double)w[c] * h[c];
        if (a <= 0) continue; /* ReLU */
        l[0] += (double)p->w2[r] * a;
        l[1] += (double)p->w2[(size_t)C + r] * a;
    }
    return (float)(1.0 / (1.0 + exp(l[0] - l[1]))); /* softmax(l)[1] */
}

/* Scores at rows[ns] of the PRM's ids. */
static int score_rows(rlc_prm_t *p, const int32_t *ids, int n, const int32_t *rows, int ns, float *sc) {
    int C = p->m->cfg.hidden_size, cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    float *h = malloc(sizeof(float) * (size_t)ns * C);
    if (!h) return RLC_ENOMEM;
    int rc = rlc_batch_check(p->m, &b);
    if (rc) rlc_err_ctx(rc, "%s %s", p->what, p->dir);
    if (!rc) rc = rlc_model_hidden(p->m, &b, rows, ns, h);
    for (int k = 0; k < ns && !rc; k++) sc[k] = head_score(p, h + (size_t)k * C);
    free(h);
    return rc;
}

/* A growing byte buffer. */
typedef struct {
    char *s;
    size_t n, cap;
} buf_t;

static int put(buf_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = 2 * (b->n + n + 1);
        char *q = realloc(b->s, cap);
        if (!q) return RLC_ENOMEM;
        b->s = q, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

static int put_valid(buf_t *b, const char *s, size_t n) {
    char *v = rlc_utf8_dup_valid(s, n);
    if (!v) return RLC_ENOMEM;
    int rc = put(b, v, strlen(v));
    free(v);
    return rc;
}

static int qwen_score(rlc_prm_t *p, const char *question, const char *text, size_t len, float **steps, int *n_steps,
                      long *read) {
    int ns = rlc_split_steps(text, len, NULL, NULL, 0), rc = 0, n = 0, m = 0;
    *n_steps = ns;
    if (!ns) return 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    buf_t b = {0};
    int32_t *ids = NULL, *rows = malloc(sizeof(int32_t) * (size_t)ns);
    float *sc = malloc(sizeof(float) * (size_t)ns);
    if (!st || !en || !rows || !sc) rc = RLC_ENOMEM;
    if (!rc) rlc_split_steps(text, len, st, en, ns);
    static const char a0[] = "<|im_start|>system\n", a1[] = "<|im_end|>\n<|im_start|>user\n",
                      a2[] = "<|im_end|>\n<|im_start|>assistant\n", a3[] = "<|im_end|>\n";
    if (!rc) rc = put(&b, a0, strlen(a0));
    if (!rc) rc = put(&b, QWEN_SYSTEM, strlen(QWEN_SYSTEM));
    if (!rc) rc = put(&b, a1, strlen(a1));
    if (!rc) rc = put_valid(&b, question, strlen(question));
    if (!rc) rc = put(&b, a2, strlen(a2));
    for (int k = 0; k < ns && !rc; k++)
        if (!(rc = put_valid(&b, text + st[k], en[k] - st[k]))) rc = put(&b, QWEN_SEP, strlen(QWEN_SEP));
    if (!rc) rc = put(&b, a3, strlen(a3));
    if (!rc) rc = tok_encode(p->tok, b.s, b.n, 0, &ids, &n);
    for (int t = 0; t < n && !rc; t++)
        if (ids[t] == p->sep) {
            if (m == ns) break;
            rows[m++] = t;
        }
    if (!rc && m != ns)
        rc = rlc_errc(RLC_EINVAL, "%s %s (qwen): found %d step separators for %d steps (a step's text holds \"%s\"?)",
                      p->what, p->dir, m, ns, QWEN_SEP);
    if (!rc) rc = score_rows(p, ids, n, rows, ns, sc);
    if (!rc) *read = n;
    free(st), free(en), free(b.s), free(ids), free(rows);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}

/* Append the ids of a text (no special tokens added). */
static int append_ids(const rlc_prm_t *p, const char *s, size_t n, int32_t **ids, int *len, int *cap) {
    int32_t *t = NULL;
    int k = 0, rc = tok_encode(p->tok, s, n, 0, &t, &k);
    if (!rc && *len + k + 1 > *cap) {
        int c = 2 * (*len + k + 1);
        int32_t *q = realloc(*ids, sizeof(int32_t) * (size_t)c);
        if (!q) rc = RLC_ENOMEM;
        else *ids = q, *cap = c;
    }
    if (!rc && k) memcpy(*ids + *len, t, sizeof(int32_t) * (size_t)k);
    if (!rc) *len += k;
    free(t);
    return rc;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int skywork_score(rlc_prm_t *p, const char *question, const char *text, size_t len, float **steps,
                         int *n_steps, long *read) {
    int ns = rlc_prm_steps(RLC_PRM_SKYWORK, text, len, NULL, NULL, 0), rc = 0, n = 0, cap = 64, nl_n = 0;
    *n_steps = ns;
    if (!ns) return 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap), *rows = malloc(sizeof(int32_t) * (size_t)ns), *nl = NULL;
    float *sc = malloc(sizeof(float) * (size_t)ns);
    char *q = rlc_utf8_dup_valid(question, strlen(question));
    if (!st || !en || !ids || !rows || !sc || !q) rc = RLC_ENOMEM;
    if (!rc) rlc_prm_steps(RLC_PRM_SKYWORK, text, len, st, en, ns);
    if (!rc) rc = tok_encode(p->tok, "\n", 1, 0, &nl, &nl_n);
    if (!rc && nl_n < 1) rc = rlc_errc(RLC_EINVAL, "%s %s (skywork): its tokenizer has no \"\\n\" token", p->what, p->dir);
    if (!rc && tok_bos_id(p->tok) >= 0) ids[n++] = tok_bos_id(p->tok);
    if (!rc && !(rc = append_ids(p, q, strlen(q), &ids, &n, &cap))) rc = append_ids(p, "\n", 1, &ids, &n, &cap);
    for (int k = 0; k < ns && !rc; k++) {
        char *v = rlc_utf8_dup_valid(text + st[k], en[k] - st[k]);
        rc = v ? append_ids(p, v, strlen(v), &ids, &n, &cap) : RLC_ENOMEM;
        free(v);
        if (!rc) { /* the step's end: the "\n" token (append_ids left room for it) */
            ids[n] = nl[nl_n - 1];
            rows[k] = n++;
        }
    }
    if (!rc) rc = score_rows(p, ids, n, rows, ns, sc);
    if (!rc) *read = n;
    free(st), free(en), free(ids), free(rows), free(nl), free(q);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}

int rlc_prm_head_score(rlc_prm_t *p, const char *question, const char *text, size_t len, float **steps, int *n_steps,
                       long *read) {
    return p->format == RLC_PRM_QWEN ? qwen_score(p, question, text, len, steps, n_steps, read)
                                     : skywork_score(p, question, text, len, steps, n_steps, read);
}

int rlc_prm_steps(int format, const char *text, size_t len, size_t *starts, size_t *ends, int cap) {
    if (format != RLC_PRM_SKYWORK) return rlc_split_steps(text, len, starts, ends, cap);
    int ns = 0;
    for (size_t i = 0, s = 0; i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        if (!blank(text + s, i - s)) {
            if (ns < cap && starts) starts[ns] = s;
            if (ns < cap && ends) ends[ns] = i;
            ns++;
        }
        s = i + 1;
    }
    return ns;
}
