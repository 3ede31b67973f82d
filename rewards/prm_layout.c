/* The input each process reward model format reads for a completion (prm_formats.c lists
 * them): its token ids and the rows whose final hidden states score the steps. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/str.h"
#include "rewards/prm_formats.h"
#include "rewards/steps.h"

static const char QWEN_SYSTEM[] = "Please reason step by step, and put your final answer within \\boxed{}.";

/* A growing int32 list. */
typedef struct {
    int32_t *v;
    int n, cap;
} ids_t;

static int ids_put(ids_t *a, const int32_t *x, int n) {
    if (a->n + n + 1 > a->cap) {
        int cap = 2 * (a->n + n + 1);
        int32_t *q = realloc(a->v, sizeof(int32_t) * (size_t)cap);
        if (!q) return RLC_ENOMEM;
        a->v = q, a->cap = cap;
    }
    if (n) memcpy(a->v + a->n, x, sizeof(int32_t) * (size_t)n);
    a->n += n;
    return 0;
}

/* Append the PRM tokenizer's ids of a text (invalid UTF-8 made valid; no special tokens
 * added, special tokens in the text recognised). */
static int put_text(const rlc_prm_t *p, ids_t *a, const char *s, size_t n) {
    char *v = rlc_utf8_dup_valid(s, n);
    int32_t *t = NULL;
    int k = 0, rc = v ? tok_encode(p->tok, v, strlen(v), 0, &t, &k) : RLC_ENOMEM;
    if (!rc) rc = ids_put(a, t, k);
    free(v), free(t);
    return rc;
}

static int generic_layout(const int32_t *prompt, int plen, const int32_t *comp, int clen, const size_t *tend,
                          const char *text, size_t tl, ids_t *ids, ids_t *rows) {
    int ns = rlc_split_steps(text, tl, NULL, NULL, 0), rc = 0;
    if (!ns) return 0;
    size_t *ends = malloc(sizeof(size_t) * (size_t)ns);
    int *pos = malloc(sizeof(int) * (size_t)ns);
    if (!ends || !pos) rc = RLC_ENOMEM;
    if (!rc) {
        rlc_split_steps(text, tl, NULL, ends, ns);
        rlc_step_token_pos(tend, clen, ends, ns, pos);
        if (!(rc = ids_put(ids, prompt, plen))) rc = ids_put(ids, comp, clen);
    }
    for (int k = 0; k < ns && !rc; k++) {
        int32_t r = plen + (pos[k] >= 0 ? pos[k] : clen - 1);
        rc = ids_put(rows, &r, 1);
    }
    free(ends), free(pos);
    return rc;
}

static int qwen_layout(const rlc_prm_t *p, const char *question, const char *text, size_t tl, ids_t *ids, ids_t *rows) {
    int ns = rlc_split_steps(text, tl, NULL, NULL, 0), rc = 0;
    if (!ns) return 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    if (!st || !en) rc = RLC_ENOMEM;
    if (!rc) rlc_split_steps(text, tl, st, en, ns);
    /* special tokens split the text, so the pieces between them tokenize independently */
    static const char a0[] = "<|im_start|>system\n", a1[] = "<|im_end|>\n<|im_start|>user\n",
                      a2[] = "<|im_end|>\n<|im_start|>assistant\n", a3[] = "<|im_end|>\n";
    size_t ql = strlen(question), hl = rc ? 0 : sizeof a0 + sizeof QWEN_SYSTEM + sizeof a1 + ql + sizeof a2 + en[0] - st[0];
    char *head = rc ? NULL : malloc(hl);
    if (!rc && !head) rc = RLC_ENOMEM;
    if (!rc) { /* the header and the first step: the first step shares a piece with "assistant\n" */
        int m = snprintf(head, hl, "%s%s%s%s%s", a0, QWEN_SYSTEM, a1, question, a2);
        memcpy(head + m, text + st[0], en[0] - st[0]);
        rc = put_text(p, ids, head, (size_t)m + en[0] - st[0]);
    }
    for (int k = 0; k < ns && !rc; k++) {
        if (k && (rc = put_text(p, ids, text + st[k], en[k] - st[k]))) break;
        int32_t r = ids->n;
        if (!(rc = ids_put(ids, &p->sep, 1))) rc = ids_put(rows, &r, 1);
    }
    if (!rc) rc = put_text(p, ids, a3, strlen(a3));
    for (int t = 0, k = 0; t < ids->n && !rc; t++) /* a step holding "<extra_0>" would shift the rows */
        if (ids->v[t] == p->sep && (k >= rows->n || rows->v[k++] != t))
            rc = rlc_errc(RLC_EINVAL, "%s %s (qwen): a step's text holds \"%s\"", p->what, p->dir, RLC_QWEN_PRM_SEP);
    free(st), free(en), free(head);
    return rc;
}

static int skywork_layout(const rlc_prm_t *p, const char *question, const char *text, size_t tl, ids_t *ids,
                          ids_t *rows) {
    int ns = rlc_prm_steps(RLC_PRM_SKYWORK, text, tl, NULL, NULL, 0), rc = 0, nl_n = 0;
    if (!ns) return 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns), ql = strlen(question);
    char *q = malloc(ql + 2);
    int32_t *nl = NULL, bos = tok_bos_id(p->tok);
    if (!st || !en || !q) rc = RLC_ENOMEM;
    if (!rc) rlc_prm_steps(RLC_PRM_SKYWORK, text, tl, st, en, ns);
    if (!rc) rc = tok_encode(p->tok, "\n", 1, 0, &nl, &nl_n);
    if (!rc && nl_n < 1) rc = rlc_errc(RLC_EINVAL, "%s %s (skywork): its tokenizer has no \"\\n\" token", p->what, p->dir);
    if (!rc && bos >= 0) rc = ids_put(ids, &bos, 1);
    if (!rc) {
        memcpy(q, question, ql);
        q[ql] = '\n';
        rc = put_text(p, ids, q, ql + 1);
    }
    for (int k = 0; k < ns && !rc; k++) {
        if ((rc = put_text(p, ids, text + st[k], en[k] - st[k]))) break;
        int32_t r = ids->n;
        if (!(rc = ids_put(ids, &nl[nl_n - 1], 1))) rc = ids_put(rows, &r, 1);
    }
    free(st), free(en), free(q), free(nl);
    return rc;
}

/* Math-Shepherd: the joined text tokenized as a whole, with special tokens (BOS) and without
 * (to align token texts with byte offsets); the first is the second after a prefix. */
static int shepherd_layout(const rlc_prm_t *p, const char *question, const char *text, size_t tl, ids_t *ids,
                           ids_t *rows) {
    static const char tag[] = " \xd0\xba\xd0\xb8"; /* " ки" */
    int ns = rlc_split_steps(text, tl, NULL, NULL, 0), rc = 0, n1 = 0, n0 = 0;
    if (!ns) return 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    size_t *tag_end = malloc(sizeof(size_t) * (size_t)ns), jl = 0, jcap = 0, *tend = NULL, ttl = 0;
    int *pos = malloc(sizeof(int) * (size_t)ns);
    char *joined = NULL, *q = rlc_utf8_dup_valid(question, strlen(question)), *tt = NULL;
    int32_t *ids1 = NULL, *ids0 = NULL;
    if (!st || !en || !tag_end || !pos || !q) rc = RLC_ENOMEM;
    if (!rc) {
        rlc_split_steps(text, tl, st, en, ns);
        jcap = strlen(q) + 2 + tl * 3 + (size_t)ns * (sizeof tag + 1) + 1; /* U+FFFD: 3 bytes per bad byte */
        if (!(joined = malloc(jcap))) rc = RLC_ENOMEM;
    }
    if (!rc) jl = (size_t)snprintf(joined, jcap, "%s ", q);
    for (int k = 0; k < ns && !rc; k++) {
        char *step = rlc_utf8_dup_valid(text + st[k], en[k] - st[k]);
        if (!step) {
            rc = RLC_ENOMEM;
            break;
        }
        jl += (size_t)snprintf(joined + jl, jcap - jl, "%s%s", step, tag);
        tag_end[k] = jl;
        if (k + 1 < ns) joined[jl++] = '\n', joined[jl] = 0;
        free(step);
    }
    if (!rc) rc = tok_encode(p->tok, joined, jl, 1, &ids1, &n1);
    if (!rc) rc = tok_encode(p->tok, joined, jl, 0, &ids0, &n0);
    int pre = -1;
    for (int k = 0; !rc && k + n0 <= n1 && pre < 0; k++)
        if (!memcmp(ids1 + k, ids0, sizeof(int32_t) * (size_t)n0)) pre = k;
    if (!rc && !(tend = malloc(sizeof(size_t) * (size_t)(n0 ? n0 : 1)))) rc = RLC_ENOMEM;
    if (!rc) rc = rlc_token_text(p->tok, ids0, n0, 1, &tt, &ttl, tend);
    /* a sentencepiece tokenizer's token texts carry the dummy prefix's leading space */
    size_t shift = !rc && ttl == jl + 1 && tt[0] == ' ' ? 1 : 0;
    if (!rc && (pre < 0 || ttl != jl + shift || memcmp(tt + shift, joined, jl)))
        rc = rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): cannot align its tokens with the text", p->what, p->dir);
    if (!rc) {
        for (int k = 0; k < ns; k++) tag_end[k] += shift;
        rlc_step_token_pos(tend, n0, tag_end, ns, pos);
        for (int k = 0; k < ns && !rc; k++)
            if (pos[k] < 0 || tend[pos[k]] != tag_end[k])
                rc = rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): the step tag \" ки\" merges with the text after it "
                                          "in its tokenizer", p->what, p->dir);
    }
    if (!rc) rc = ids_put(ids, ids1, n1);
    for (int k = 0; k < ns && !rc; k++) {
        int32_t r = pre + pos[k];
        rc = ids_put(rows, &r, 1);
    }
    free(st), free(en), free(tag_end), free(pos), free(joined), free(q), free(tt), free(ids1), free(ids0), free(tend);
    return rc;
}

int rlc_prm_layout(const rlc_prm_t *p, const tok_t *policy_tok, const char *question, const int32_t *prompt, int plen,
                   const int32_t *comp, int clen, int32_t **ids, int *n, int32_t **rows, int *ns) {
    *ids = *rows = NULL;
    *n = *ns = 0;
    size_t *tend = malloc(sizeof(size_t) * (size_t)(clen ? clen : 1)), tl = 0;
    char *text = NULL;
    ids_t a = {0}, r = {0};
    int rc = tend ? rlc_token_text(policy_tok, comp, clen, 0, &text, &tl, tend) : RLC_ENOMEM;
    if (!rc) switch (p->format) {
        case RLC_PRM_GENERIC: rc = generic_layout(prompt, plen, comp, clen, tend, text, tl, &a, &r); break;
        case RLC_PRM_SHEPHERD: rc = shepherd_layout(p, question, text, tl, &a, &r); break;
        case RLC_PRM_QWEN: rc = qwen_layout(p, question, text, tl, &a, &r); break;
        default: rc = skywork_layout(p, question, text, tl, &a, &r); break;
        }
    free(tend), free(text);
    if (rc) {
        free(a.v), free(r.v);
        return rc;
    }
    *ids = a.v, *n = a.n, *rows = r.v, *ns = r.n;
    return 0;
}

int rlc_prm_steps(int format, const char *text, size_t len, size_t *starts, size_t *ends, int cap) {
    if (format != RLC_PRM_SKYWORK) return rlc_split_steps(text, len, starts, ends, cap);
    int ns = 0;
    for (size_t i = 0, s = 0; i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        if (!rlc_is_blank(text + s, i - s)) { /* a line (no \n inside) */
            if (ns < cap && starts) starts[ns] = s;
            if (ns < cap && ends) ends[ns] = i;
            ns++;
        }
        s = i + 1;
    }
    return ns;
}
