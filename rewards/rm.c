/* Reward models as scorers (see rm.h): an outcome reward model's score of a whole
 * completion, and a process reward model's scores of its steps, generic (a 1-label score
 * head read at each step's last token, one forward pass) or Math-Shepherd (an LM reading
 * "<question> <step> ки\n..." whose P("+") over {"+","-"} after each tag scores the step). */
#include "rewards/rm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "rewards/prm_formats.h"
#include "rewards/steps.h"

int rlc_orm_open(rlc_orm_t *o, const char *what, const char *dir, rlc_backend_t *be) {
    memset(o, 0, sizeof *o);
    o->what = what;
    int rc = rlc_model_load(&o->m, dir, be);
    if (!rc && o->m->score_labels != 1)
        rc = rlc_errc(RLC_EINVAL, "%s %s: needs a score head with 1 label (it has %d)", what, dir, o->m->score_labels);
    return rc;
}

void rlc_orm_close(rlc_orm_t *o) {
    if (o->m) rlc_model_free(o->m);
    o->m = NULL;
}

int rlc_orm_score(rlc_orm_t *o, const int32_t *prompt, int plen, const int32_t *comp, int clen, float *score,
                  long *read) {
    int n = plen + clen;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!ids || !v) {
        free(ids), free(v);
        return rlc_errc(RLC_ENOMEM, "out of memory");
    }
    memcpy(ids, prompt, sizeof(int32_t) * (size_t)plen);
    memcpy(ids + plen, comp, sizeof(int32_t) * (size_t)clen);
    int cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    int rc = rlc_batch_check(o->m, &b);
    if (rc) rlc_err_ctx(rc, "%s (it must share the policy's tokenizer)", o->what);
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_SCORE};
    if (!rc) rc = rlc_model_forward(o->m, &b, &fo, NULL, NULL, v);
    if (!rc) {
        *score = v[n - 1];
        if (read) *read = n;
    }
    free(ids), free(v);
    return rc;
}

static double sigm(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

const char *rlc_prm_format_name(int fmt) {
    static const char *names[] = {"generic", "math-shepherd", "qwen", "skywork"};
    return fmt >= 0 && fmt <= RLC_PRM_SKYWORK ? names[fmt] : "generic";
}

int rlc_prm_format_parse(const char *s, int *fmt) {
    if (!strcmp(s, "generic")) *fmt = RLC_PRM_GENERIC;
    else if (!strcmp(s, "math-shepherd")) *fmt = RLC_PRM_SHEPHERD;
    else if (!strcmp(s, "qwen") || !strcmp(s, "qwen-prm")) *fmt = RLC_PRM_QWEN;
    else if (!strcmp(s, "skywork")) *fmt = RLC_PRM_SKYWORK;
    else return rlc_errc(RLC_EINVAL, "--prm-format must be generic, math-shepherd, qwen or skywork (got '%s')", s);
    return 0;
}

/* The id of a text that must be one token of the PRM's tokenizer (no special tokens added). */
static int prm_single_token(const rlc_prm_t *p, const char *text, int32_t *id) {
    int32_t *ids = NULL;
    int n = 0;
    int rc = tok_encode(p->tok, text, strlen(text), 0, &ids, &n);
    if (!rc && n == 1 && ids[0] >= 0 && ids[0] < p->m->cfg.vocab_size) *id = ids[0];
    else rc = RLC_EINVAL;
    free(ids);
    if (rc)
        rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): \"%s\" is not a single token of the PRM's tokenizer", p->what,
                 p->dir, text);
    return rc;
}

int rlc_prm_open(rlc_prm_t *p, const char *what, const char *dir, int format, rlc_backend_t *be) {
    memset(p, 0, sizeof *p);
    p->what = what;
    p->dir = dir;
    p->format = format;
    int rc = rlc_model_load(&p->m, dir, be);
    if (rc) return rlc_err_ctx(rc, "%s %s", what, dir);
    if (format == RLC_PRM_QWEN || format == RLC_PRM_SKYWORK) return rlc_prm_open_head(p);
    if (format == RLC_PRM_GENERIC) {
        if (p->m->score_labels != 1)
            return rlc_errc(RLC_EINVAL, "%s %s (generic): needs a score head with 1 label (it has %d)", what, dir,
                            p->m->score_labels);
        return 0;
    }
    if (p->m->cfg.head != RLC_HEAD_LM)
        return rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): needs a language-model head (it has a score head)", what,
                        dir);
    if ((rc = tok_load(&p->tok, dir))) return rlc_err_ctx(rc, "%s %s (math-shepherd): its tokenizer", what, dir);
    if ((rc = prm_single_token(p, "+", &p->plus)) || (rc = prm_single_token(p, "-", &p->minus))) return rc;
    return 0;
}

void rlc_prm_close(rlc_prm_t *p) {
    free(p->w1), free(p->b1), free(p->w2), free(p->b2);
    p->w1 = p->b1 = p->w2 = p->b2 = NULL;
    if (p->m) rlc_model_free(p->m);
    if (p->tok) tok_free(p->tok);
    p->m = NULL;
    p->tok = NULL;
}

int rlc_token_text(const tok_t *tok, const int32_t *ids, int n, int with_special, char **text, size_t *len,
                   size_t *ends) {
    size_t cap = 64, L = 0;
    char *s = text ? malloc(cap) : NULL;
    if (text && !s) return RLC_ENOMEM;
    for (int t = 0; t < n; t++) {
        const char *b = NULL;
        size_t bl = 0;
        if (ids[t] >= 0 && ids[t] < tok_vocab_size(tok) && (with_special || !tok_is_special(tok, ids[t]))) {
            int rc = tok_token_bytes(tok, ids[t], &b, &bl);
            if (rc) {
                free(s);
                return rc;
            }
        }
        if (s && L + bl + 1 > cap) {
            cap = 2 * (L + bl + 1);
            char *q = realloc(s, cap);
            if (!q) {
                free(s);
                return RLC_ENOMEM;
            }
            s = q;
        }
        if (s && bl) memcpy(s + L, b, bl);
        L += bl;
        ends[t] = L;
    }
    if (s) s[L] = 0;
    if (text) *text = s;
    if (len) *len = L;
    return 0;
}

/* Step scores of one completion. text/len: the completion as the concatenated texts of its
 * tokens (special tokens omitted); tok_end: per completion token, the offset past it. */
static int prm_generic_score(rlc_prm_t *p, const int32_t *prompt, int plen, const int32_t *comp, int clen,
                             const char *text, size_t len, const size_t *tok_end, float **steps, int *n_steps,
                             long *read) {
    int ns = rlc_split_steps(text, len, NULL, NULL, 0);
    *n_steps = ns;
    *read = 0;
    if (ns == 0) return 0;
    size_t *ends = malloc(sizeof(size_t) * (size_t)ns);
    int *pos = malloc(sizeof(int) * (size_t)ns), n = plen + clen, rc = 0;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)n);
    float *v = malloc(sizeof(float) * (size_t)n), *sc = malloc(sizeof(float) * (size_t)ns);
    if (!ends || !pos || !seq || !v || !sc) rc = RLC_ENOMEM;
    if (!rc) {
        rlc_split_steps(text, len, NULL, ends, ns);
        rlc_step_token_pos(tok_end, clen, ends, ns, pos);
        memcpy(seq, prompt, sizeof(int32_t) * (size_t)plen);
        memcpy(seq + plen, comp, sizeof(int32_t) * (size_t)clen);
        int cu[2] = {0, n};
        rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = seq, .cu_seqlens = cu};
        if ((rc = rlc_batch_check(p->m, &b))) rlc_err_ctx(rc, "%s (generic: it must share the policy's tokenizer)", p->what);
        rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_SCORE};
        if (!rc) rc = rlc_model_forward(p->m, &b, &fo, NULL, NULL, v);
        for (int k = 0; k < ns && !rc; k++) sc[k] = (float)sigm(v[plen + (pos[k] >= 0 ? pos[k] : clen - 1)]);
        *read = n;
    }
    free(ends), free(pos), free(seq), free(v);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}

/* Math-Shepherd: "<question> <step 1> ки\n<step 2> ки\n...<step K> ки", tokenized with the
 * PRM's tokenizer; step k's score is P("+") / (P("+") + P("-")) of the next-token
 * distribution at the token that completes its tag. */
static int prm_shepherd_score(rlc_prm_t *p, const char *question, const char *text, size_t len, float **steps,
                              int *n_steps, long *read) {
    static const char tag[] = " \xd0\xba\xd0\xb8"; /* " ки" */
    int ns = rlc_split_steps(text, len, NULL, NULL, 0);
    *n_steps = ns;
    *read = 0;
    if (ns == 0) return 0;
    int rc = 0, n1 = 0, n0 = 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    size_t *tag_end = malloc(sizeof(size_t) * (size_t)ns), jl = 0, jcap = 0;
    int *pos = malloc(sizeof(int) * (size_t)ns);
    float *sc = malloc(sizeof(float) * (size_t)ns), *lp_plus = NULL, *lp_minus = NULL;
    char *joined = NULL, *q = rlc_utf8_dup_valid(question, strlen(question)), *tt = NULL;
    int32_t *ids1 = NULL, *ids0 = NULL, *tgt = NULL;
    size_t *tend = NULL;
    if (!st || !en || !tag_end || !pos || !sc || !q) rc = RLC_ENOMEM;
    if (!rc) {
        rlc_split_steps(text, len, st, en, ns);
        jcap = strlen(q) + 2 + len * 3 + (size_t)ns * (sizeof tag + 1) + 1; /* U+FFFD: 3 bytes per bad byte */
        if (!(joined = malloc(jcap))) rc = RLC_ENOMEM;
    }
    if (!rc) {
        jl = (size_t)snprintf(joined, jcap, "%s ", q);
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
    }
    /* ids with the tokenizer's special tokens (what the PRM reads) and without (to align
     * token texts with byte offsets); the first is the second after a prefix (BOS). */
    if (!rc) rc = tok_encode(p->tok, joined, jl, 1, &ids1, &n1);
    if (!rc) rc = tok_encode(p->tok, joined, jl, 0, &ids0, &n0);
    int pre = -1;
    for (int k = 0; !rc && k + n0 <= n1 && pre < 0; k++)
        if (!memcmp(ids1 + k, ids0, sizeof(int32_t) * (size_t)n0)) pre = k;
    size_t tl = 0;
    if (!rc && !(tend = malloc(sizeof(size_t) * (size_t)(n0 ? n0 : 1)))) rc = RLC_ENOMEM;
    if (!rc) rc = rlc_token_text(p->tok, ids0, n0, 1, &tt, &tl, tend);
    /* a sentencepiece tokenizer's token texts carry the dummy prefix's leading space */
    size_t shift = !rc && tl == jl + 1 && tt[0] == ' ' ? 1 : 0;
    if (!rc && (pre < 0 || tl != jl + shift || memcmp(tt + shift, joined, jl)))
        rc = rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): cannot align its tokens with the text", p->what, p->dir);
    if (!rc) {
        for (int k = 0; k < ns; k++) tag_end[k] += shift;
        rlc_step_token_pos(tend, n0, tag_end, ns, pos);
        for (int k = 0; k < ns && !rc; k++)
            if (pos[k] < 0 || tend[pos[k]] != tag_end[k])
                rc = rlc_errc(RLC_EINVAL, "%s %s (math-shepherd): the step tag \" ки\" merges with the text after it "
                                          "in its tokenizer", p->what, p->dir);
    }
    if (!rc && (!(tgt = malloc(sizeof(int32_t) * (size_t)n1)) || !(lp_plus = malloc(sizeof(float) * (size_t)n1)) ||
                !(lp_minus = malloc(sizeof(float) * (size_t)n1))))
        rc = RLC_ENOMEM;
    int cu[2] = {0, n1};
    rlc_batch_t b = {.n_tokens = n1, .nseq = 1, .ids = ids1, .cu_seqlens = cu, .targets = tgt};
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int t = 0; t < n1; t++) tgt[t] = -1;
        for (int k = 0; k < ns; k++) tgt[pre + pos[k]] = pass ? p->minus : p->plus;
        if ((rc = rlc_batch_check(p->m, &b))) rlc_err_ctx(rc, "%s %s", p->what, p->dir);
        if (!rc) rc = rlc_model_forward(p->m, &b, &fo, pass ? lp_minus : lp_plus, NULL, NULL);
    }
    for (int k = 0; k < ns && !rc; k++) {
        int t = pre + pos[k];
        sc[k] = (float)sigm((double)lp_plus[t] - (double)lp_minus[t]);
    }
    if (!rc) *read = n1;
    free(st), free(en), free(tag_end), free(pos), free(joined), free(q), free(tt), free(ids1), free(ids0), free(tgt),
        free(tend), free(lp_plus), free(lp_minus);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}


int rlc_prm_score(rlc_prm_t *p, const tok_t *policy_tok, const char *question, const int32_t *prompt, int plen,
                  const int32_t *comp, int clen, float **steps, int *n_steps, long *read) {
    *steps = NULL;
    *n_steps = 0;
    *read = 0;
    size_t *tend = malloc(sizeof(size_t) * (size_t)(clen ? clen : 1)), tl = 0;
    char *tt = NULL;
    int rc = tend ? rlc_token_text(policy_tok, comp, clen, 0, &tt, &tl, tend) : RLC_ENOMEM;
    if (!rc && p->format == RLC_PRM_GENERIC)
        rc = prm_generic_score(p, prompt, plen, comp, clen, tt, tl, tend, steps, n_steps, read);
    else if (!rc && (p->format == RLC_PRM_QWEN || p->format == RLC_PRM_SKYWORK))
        rc = rlc_prm_head_score(p, question, tt, tl, steps, n_steps, read);
    else if (!rc)
        rc = prm_shepherd_score(p, question, tt, tl, steps, n_steps, read);
    free(tend);
    free(tt);
    return rc;
}
