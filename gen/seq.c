/* Sequences of the rollout engine: tokens with their log-probs and trainable flags, the
 * decoded text, stop ids / stop strings / length, the tool pause hook, and the output a
 * finished sequence leaves behind. The scheduler is engine.c. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "gen/engine_internal.h"

seq_t *seq_new(gen_engine_t *e, int req, int sample, const int32_t *toks, int n, int n_prompt) {
    if (gen_grow((void **)&e->seqs, &e->cap_seqs, e->n_seqs + 1, sizeof *e->seqs)) return NULL;
    seq_t *s = rlc_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->req = req;
    s->sample = sample;
    s->stop_index = -1;
    s->tool_pending = -1;
    s->order = e->order++;
    if (gen_grow((void **)&s->toks, &s->cap_toks, n + 64, sizeof *s->toks)) {
        free(s);
        return NULL;
    }
    memcpy(s->toks, toks, (size_t)n * sizeof *toks);
    s->n_toks = n;
    s->n_prompt = n_prompt;
    e->seqs[e->n_seqs++] = s;
    return s;
}

void seq_free(seq_t *s) {
    if (!s) return;
    free(s->toks);
    free(s->pages);
    free(s->logp);
    free(s->trainable);
    free(s->text);
    free(s);
}

int seq_append_token(seq_t *s, int32_t t, float lp, int trainable) {
    int g = s->n_toks - s->n_prompt; /* generated position */
    if (gen_grow((void **)&s->toks, &s->cap_toks, s->n_toks + 1, sizeof *s->toks)) return RLC_ENOMEM;
    if (g + 1 > s->cap_gen) {
        int nc = s->cap_gen ? s->cap_gen * 2 : 64;
        float *l = rlc_realloc(s->logp, (size_t)nc * sizeof *l);
        if (!l) return RLC_ENOMEM;
        s->logp = l;
        uint8_t *tr = rlc_realloc(s->trainable, (size_t)nc);
        if (!tr) return RLC_ENOMEM;
        s->trainable = tr;
        s->cap_gen = nc;
    }
    s->toks[s->n_toks++] = t;
    s->logp[g] = lp;
    s->trainable[g] = (uint8_t)trainable;
    return 0;
}

int seq_append_text(seq_t *s, const char *b, size_t n) {
    if (s->text_len + n + 1 > s->text_cap) {
        size_t nc = s->text_cap ? s->text_cap : 256;
        while (nc < s->text_len + n + 1) nc *= 2;
        char *t = rlc_realloc(s->text, nc);
        if (!t) return RLC_ENOMEM;
        s->text = t;
        s->text_cap = nc;
    }
    memcpy(s->text + s->text_len, b, n);
    s->text_len += n;
    s->text[s->text_len] = 0;
    return 0;
}

/* Index of the first string of `strs` ending within the last `tail` bytes of the text
 * (so it overlaps the newly appended bytes), or -1. */
static int seq_find_suffix(const seq_t *s, char *const *strs, int n, size_t tail, const int32_t *skip) {
    for (int i = 0; i < n; i++) {
        if (skip && skip[i] >= 0) continue; /* a special-token marker fires on its token only */
        size_t L = strlen(strs[i]);
        if (!L || L > s->text_len) continue;
        size_t from = s->text_len > tail + L - 1 ? s->text_len - tail - L + 1 : 0;
        if (memmem(s->text + from, s->text_len - from, strs[i], L)) return i;
    }
    return -1;
}

int seq_build_output(gen_engine_t *e, seq_t *s) {
    request_t *r = &e->reqs[s->req];
    gen_output_t *o = &r->outs[s->sample];
    int g = s->n_toks - s->n_prompt;
    o->n_tokens = g;
    o->tokens = rlc_malloc((size_t)(g ? g : 1) * sizeof *o->tokens);
    o->logp = rlc_malloc((size_t)(g ? g : 1) * sizeof *o->logp);
    o->trainable = rlc_malloc((size_t)(g ? g : 1));
    o->text = rlc_malloc(s->text_len + 1);
    if (!o->tokens || !o->logp || !o->trainable || !o->text) return RLC_ENOMEM;
    memcpy(o->tokens, s->toks + s->n_prompt, (size_t)g * sizeof *o->tokens);
    if (g) {
        memcpy(o->logp, s->logp, (size_t)g * sizeof *o->logp);
        memcpy(o->trainable, s->trainable, (size_t)g);
    }
    if (s->text_len) memcpy(o->text, s->text, s->text_len);
    o->text[s->text_len] = 0;
    o->text_len = s->text_len;
    o->finish = s->finish;
    o->stop_index = s->stop_index;
    o->n_tool_calls = s->n_tool_calls;
    return 0;
}

int seq_finish(gen_engine_t *e, seq_t *s, gen_finish_t why) {
    s->finished = 1;
    s->finish = why;
    request_t *r = &e->reqs[s->req];
    r->n_done++;
    return seq_build_output(e, s);
}

static int seq_check_length(gen_engine_t *e, seq_t *s);

/* The tool marker that is the special token t (Llama 3's <|eom_id|> / <|eot_id|>), when
 * calls remain: its index, else -1. */
static int special_marker(const request_t *r, const seq_t *s, int32_t t) {
    if (!r->n_special_markers || s->n_tool_calls >= r->p.max_tool_calls) return -1;
    for (int k = 0; k < r->p.n_tool_markers; k++)
        if (r->marker_ids[k] == t) return k;
    return -1;
}

/* The text a token adds: none for special tokens, except in a request with special-token
 * markers, where the format reads them (Llama 3's <|python_tag|>, the marker itself) —
 * only the end of the text (EOS) stays silent. */
static int seq_token_text(gen_engine_t *e, seq_t *s, int32_t t, int keep_special) {
    /* Ids beyond the tokenizer's vocabulary exist when the embedding is padded (Qwen2.5:
     * 151936 rows, 151665 tokens); they contribute no text, as in transformers' decode. */
    if (!e->tok || t >= tok_vocab_size(e->tok) || (tok_is_special(e->tok, t) && !keep_special)) return 0;
    const char *b;
    size_t len;
    int rc = tok_token_bytes(e->tok, t, &b, &len);
    return rc ? rc : seq_append_text(s, b, len);
}

/* The tool call closed by marker k: paused for the step's batch, or answered now. */
static int seq_tool_pause(gen_engine_t *e, seq_t *s, int k) {
    if (e->cfg.tool_batch_fn) {
        s->tool_pending = k; /* answered with the step's other calls (seq_resolve_tools) */
        return 0;
    }
    request_t *r = &e->reqs[s->req];
    gen_tool_call_t call = {.request = s->req, .sample = s->sample, .marker = k, .text = s->text,
                            .text_len = s->text_len, .tag = r->tag};
    char *out = NULL;
    size_t out_len = 0;
    int rc = e->cfg.tool_fn(e->cfg.tool_user, &call, &out, &out_len);
    if (rc) return rlc_err_ctx(rc, "tool call");
    return seq_tool_result(e, s, k, out, out_len);
}

/* After a sampled or appended token: stops, tools, length. */
int seq_after_token(gen_engine_t *e, seq_t *s, int32_t t, int sampled) {
    request_t *r = &e->reqs[s->req];
    const gen_params_t *p = &r->p;
    int is_eos = 0;
    if (!p->ignore_eos)
        for (int i = 0; i < e->n_eos; i++) is_eos |= t == e->eos[i];
    for (int i = 0; i < p->n_stop_ids; i++) is_eos |= t == p->stop_ids[i];
    int sk = sampled ? special_marker(r, s, t) : -1;
    if (sampled && is_eos && sk < 0) return seq_finish(e, s, GEN_FINISH_EOS);
    size_t before = s->text_len;
    int rc = seq_token_text(e, s, t, sk >= 0 || (r->n_special_markers && !is_eos));
    if (rc) return rc;
    size_t added = s->text_len - before;
    if (added && p->n_stop_strings) {
        int k = seq_find_suffix(s, r->stops, p->n_stop_strings, added, NULL);
        if (k >= 0) {
            s->stop_index = k;
            return seq_finish(e, s, GEN_FINISH_STOP);
        }
    }
    if (sk >= 0) return seq_tool_pause(e, s, sk);
    if (added && p->n_tool_markers && s->n_tool_calls < p->max_tool_calls) {
        int k = seq_find_suffix(s, r->markers, p->n_tool_markers, added, r->marker_ids);
        if (k >= 0) return seq_tool_pause(e, s, k);
    }
    return seq_check_length(e, s);
}

int seq_tool_result(gen_engine_t *e, seq_t *s, int k, char *out, size_t out_len) {
    int rc = 0;
    const request_t *r = &e->reqs[s->req];
    if (!out && r->marker_ids[k] >= 0) { /* the turn ended without a call: the end of the text */
        size_t L = strlen(r->markers[k]);
        s->text_len -= L <= s->text_len ? L : s->text_len;
        s->text[s->text_len] = 0;
        return seq_finish(e, s, GEN_FINISH_EOS);
    }
    if (out) {
        s->n_tool_calls++;
        /* a tool may answer any bytes (a cut multi-byte character, an echo of the model's own
         * invalid UTF-8): invalid sequences and NULs become U+FFFD, as Python decodes with
         * errors="replace", rather than failing the step */
        char *clean = out_len ? rlc_utf8_dup_valid(out, out_len) : NULL;
        if (out_len && !clean) rc = RLC_ENOMEM;
        if (clean) {
            size_t cl = strlen(clean);
            int32_t *ids = NULL;
            int n = 0;
            rc = tok_encode(e->tok, clean, cl, 0, &ids, &n);
            if (!rc) rc = seq_append_text(s, clean, cl);
            for (int i = 0; !rc && i < n; i++) rc = seq_append_token(s, ids[i], 0.0f, 0);
            free(ids);
        }
        free(clean);
        free(out);
    }
    return rc ? rc : seq_check_length(e, s);
}

int seq_resolve_tools(gen_engine_t *e) {
    int n = 0;
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i] && !e->seqs[i]->finished && e->seqs[i]->tool_pending >= 0) n++;
    if (!n) return 0;
    gen_tool_call_t *calls = calloc((size_t)n, sizeof *calls);
    char **outs = calloc((size_t)n, sizeof *outs);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    seq_t **who = calloc((size_t)n, sizeof *who);
    int rc = calls && outs && lens && who ? 0 : RLC_ENOMEM;
    for (int i = 0, k = 0; !rc && i < e->n_seqs; i++) {
        seq_t *s = e->seqs[i];
        if (!s || s->finished || s->tool_pending < 0) continue;
        who[k] = s;
        calls[k++] = (gen_tool_call_t){.request = s->req, .sample = s->sample, .marker = s->tool_pending,
                                       .text = s->text, .text_len = s->text_len, .tag = e->reqs[s->req].tag};
    }
    if (!rc && (rc = e->cfg.tool_batch_fn(e->cfg.tool_user, calls, n, outs, lens))) rc = rlc_err_ctx(rc, "tool calls");
    for (int k = 0; k < n && who; k++) {
        if (!who[k]) continue;
        int marker = who[k]->tool_pending;
        who[k]->tool_pending = -1;
        if (!rc) rc = seq_tool_result(e, who[k], marker, outs[k], lens[k]);
        else free(outs ? outs[k] : NULL);
    }
    free(calls), free(outs), free(lens), free(who);
    return rc;
}

/* The length limits, after a token or a tool's output. */
static int seq_check_length(gen_engine_t *e, seq_t *s) {
    const gen_params_t *p = &e->reqs[s->req].p;
    int gen = s->n_toks - s->n_prompt;
    if (gen >= p->max_new_tokens || s->n_toks >= e->m->cfg.max_context)
        return seq_finish(e, s, GEN_FINISH_LENGTH);
    return 0;
}

