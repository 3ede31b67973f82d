/* Reward models as scorers (see rm.h): an outcome reward model's score of a whole
 * completion, and a process reward model's scores of its steps: the format's input layout
 * (prm_formats.c), one forward pass to the final hidden states at the step rows, and the
 * format's head applied there on the host. */
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

int rlc_prm_open(rlc_prm_t *p, const char *what, const char *dir, int format, rlc_backend_t *be) {
    memset(p, 0, sizeof *p);
    p->what = what;
    p->dir = dir;
    p->format = format;
    int rc = rlc_model_load(&p->m, dir, be);
    if (rc) return rlc_err_ctx(rc, "%s %s", what, dir);
    return rlc_prm_open_head(p);
}

void rlc_prm_close(rlc_prm_t *p) {
    free(p->w1), free(p->b1), free(p->w2), free(p->b2), free(p->act);
    p->w1 = p->b1 = p->w2 = p->b2 = p->act = NULL;
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

int rlc_prm_score(rlc_prm_t *p, const tok_t *policy_tok, const char *question, const int32_t *prompt, int plen,
                  const int32_t *comp, int clen, float **steps, int *n_steps, long *read) {
    *steps = NULL;
    *n_steps = 0;
    *read = 0;
    int32_t *ids = NULL, *rows = NULL;
    int n = 0, ns = 0, C = p->m->cfg.hidden_size;
    int rc = rlc_prm_layout(p, policy_tok, question, prompt, plen, comp, clen, &ids, &n, &rows, &ns);
    float *h = NULL, *sc = NULL;
    if (!rc && ns) {
        h = malloc(sizeof(float) * (size_t)ns * C);
        sc = malloc(sizeof(float) * (size_t)ns);
        if (!h || !sc) rc = RLC_ENOMEM;
        int cu[2] = {0, n};
        rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
        if (!rc && (rc = rlc_batch_check(p->m, &b)))
            rlc_err_ctx(rc, "%s %s%s", p->what, p->dir ? p->dir : "",
                        p->format == RLC_PRM_GENERIC ? " (generic: it must share the policy's tokenizer)" : "");
        if (!rc) rc = rlc_model_hidden(p->m, &b, rows, ns, h);
        for (int k = 0; k < ns && !rc; k++) sc[k] = rlc_prm_row_score(p, h + (size_t)k * C);
        if (!rc) *read = n;
    }
    free(ids), free(rows), free(h);
    if (rc) {
        free(sc);
        return rc;
    }
    *steps = sc;
    *n_steps = ns;
    return 0;
}
