/* Rollout engine implementation: page pool (refcounts, copy-on-write), requests, forks and
 * outputs. The step scheduler (token budget, preemption by recompute, packing, sampling
 * through the backend) is step.c; a sequence's own bookkeeping (text, stops, tool pauses,
 * outputs) is seq.c. */
#include "gen/engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/philox.h"

const char *gen_finish_name(gen_finish_t f) {
    switch (f) {
    case GEN_FINISH_EOS: return "eos";
    case GEN_FINISH_STOP: return "stop";
    case GEN_FINISH_LENGTH: return "length";
    case GEN_FINISH_SCORED: return "scored";
    default: return "none";
    }
}

void gen_params_default(gen_params_t *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->max_new_tokens = 256;
    p->n = 1;
    p->max_tool_calls = 4;
}

/* ---------------- pages ---------------- */

static int page_alloc(gen_engine_t *e) {
    if (!e->n_free) return -1;
    int p = e->free_list[--e->n_free];
    e->refcnt[p] = 1;
    e->st.pages_allocated++;
    return p;
}

static void page_unref(gen_engine_t *e, int p) {
    if (--e->refcnt[p] == 0) e->free_list[e->n_free++] = p;
}

void gen_drop_pages(gen_engine_t *e, seq_t *s) {
    for (int g = 0; g < e->kv.n_groups; g++)
        for (int j = 0; j < s->n_pages; j++)
            if (SEQ_PAGE(s, g, j) >= 0) page_unref(e, SEQ_PAGE(s, g, j)), SEQ_PAGE(s, g, j) = -1;
    s->n_pages = 0;
    s->n_cached = 0;
    s->win_lo = 0;
}

int gen_grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = rlc_realloc(*p, (size_t)nc * elem);
    if (!q) return RLC_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

int gen_reserve_pages(gen_engine_t *e, seq_t *s, int n) {
    if (n <= s->cap_pages) return 0;
    int G = e->kv.n_groups, nc = s->cap_pages ? s->cap_pages : 16;
    while (nc < n) nc *= 2;
    int32_t *p = rlc_malloc((size_t)G * nc * sizeof *p);
    if (!p) return RLC_ENOMEM;
    for (size_t i = 0; i < (size_t)G * nc; i++) p[i] = -1;
    for (int g = 0; g < G; g++)
        if (s->n_pages) memcpy(p + (size_t)g * nc, s->pages + (size_t)g * s->cap_pages, (size_t)s->n_pages * sizeof *p);
    free(s->pages);
    s->pages = p;
    s->cap_pages = nc;
    return 0;
}

int gen_share_pages(gen_engine_t *e, seq_t *s, const seq_t *src, int n) {
    if (gen_reserve_pages(e, s, n + 1)) return RLC_ENOMEM;
    for (int g = 0; g < e->kv.n_groups; g++)
        for (int j = 0; j < n; j++) {
            int32_t p = SEQ_PAGE(src, g, j);
            SEQ_PAGE(s, g, j) = p;
            if (p >= 0) e->refcnt[p]++;
        }
    s->n_pages = n;
    return 0;
}

void gen_release_window(gen_engine_t *e, seq_t *s) {
    int P = e->kv.page_size, lowest = -1; /* the lowest page end among the sliding groups */
    for (int g = 0; g < e->kv.n_groups; g++) {
        int W = e->kv.group_window[g];
        if (!W) continue;
        /* pages wholly before the window of a query at n_cached - 1 (a fork from the whole
         * sequence recomputes its last token) and so of every later one */
        int end = s->n_cached - W > 0 ? (s->n_cached - W) / P : 0;
        if (end > s->n_pages) end = s->n_pages;
        for (int j = s->win_lo; j < end; j++)
            if (SEQ_PAGE(s, g, j) >= 0) {
                page_unref(e, SEQ_PAGE(s, g, j));
                SEQ_PAGE(s, g, j) = -1;
                e->st.pages_released++;
            }
        if (lowest < 0 || end < lowest) lowest = end;
    }
    if (lowest > s->win_lo) s->win_lo = lowest;
}

/* New pages and copy-on-write copies needed to store positions [n_cached, n_cached+take). */
int gen_pages_needed(const gen_engine_t *e, const seq_t *s, int take) {
    int P = e->kv.page_size, need = 0;
    int first = s->n_cached / P, last = (s->n_cached + take - 1) / P;
    for (int g = 0; g < e->kv.n_groups; g++)
        for (int j = first; j <= last; j++)
            if (j >= s->n_pages || SEQ_PAGE(s, g, j) < 0 || e->refcnt[SEQ_PAGE(s, g, j)] > 1) need++;
    return need;
}

/* Make pages for positions [n_cached, n_cached+take) private and present, in every group. */
int gen_prepare_pages(gen_engine_t *e, seq_t *s, int take) {
    int P = e->kv.page_size;
    int first = s->n_cached / P, last = (s->n_cached + take - 1) / P;
    if (gen_reserve_pages(e, s, last + 1)) return RLC_ENOMEM;
    if (last + 1 > s->n_pages) s->n_pages = last + 1; /* new entries are -1 until filled (dropped alike) */
    for (int g = 0; g < e->kv.n_groups; g++)
        for (int j = first; j <= last; j++) {
            int32_t old = SEQ_PAGE(s, g, j);
            if (old >= 0 && e->refcnt[old] == 1) continue;
            int p = page_alloc(e);
            if (p < 0) return rlc_errc(RLC_ENOMEM, "KV pages exhausted");
            if (old >= 0) { /* shared: copy-on-write */
                int valid = s->n_cached - j * P; /* slots of this page already holding K/V */
                if (valid > 0) rlc_kv_copy_page(&e->kv, e->m, p, old, valid);
                page_unref(e, old);
                e->st.cow_copies++;
            }
            SEQ_PAGE(s, g, j) = p;
        }
    return 0;
}

/* ---------------- engine ---------------- */

/* The default KV cache: 256 MiB on the CPU; on a GPU, 90% of the memory still free once the
 * step workspace of a full step is set aside (vLLM's gpu_memory_utilization idea, applied
 * to what the model and training buffers left). */
static size_t kv_auto_budget(const gen_engine_t *e) {
    const size_t dflt = (size_t)256 << 20;
    rlc_backend_t *be = e->m->be;
    size_t fr = 0, tot = 0;
    if (!be->is_gpu || rlc_backend_mem_info(be, &fr, &tot)) return dflt;
    int pages_per_seq = (e->m->cfg.max_context + e->cfg.page_size - 1) / e->cfg.page_size;
    size_t ws = rlc_model_step_bytes(e->m, e->cfg.max_batch_tokens, e->cfg.max_seqs, e->cfg.max_seqs, pages_per_seq);
    size_t usable = fr > ws ? (size_t)((double)(fr - ws) * 0.9) : 0;
    return usable > dflt ? usable : dflt;
}

void gen_warn_vocab(const rlc_model_t *m, const tok_t *tok) {
    int tv = tok ? tok_vocab_size(tok) : 0;
    if (tok && m->cfg.vocab_size > tv)
        LOG_WARN("the model's embedding has %d rows but its tokenizer knows %d tokens: ids %d..%d can be sampled but "
                 "not decoded",
                 m->cfg.vocab_size, tv, tv, m->cfg.vocab_size - 1);
}

int gen_engine_create(gen_engine_t **out, rlc_model_t *m, const tok_t *tok, const gen_engine_cfg_t *cfg) {
    *out = NULL;
    if (m->cfg.head == RLC_HEAD_LM) gen_warn_vocab(m, tok);
    gen_engine_t *e = rlc_calloc(1, sizeof *e);
    if (!e) return RLC_ENOMEM;
    e->m = m;
    e->tok = tok;
    if (cfg) e->cfg = *cfg;
    e->width = rlc_model_step_width(m, e->cfg.step_out);
    if (e->cfg.page_size <= 0) e->cfg.page_size = 16;
    if (e->cfg.max_batch_tokens <= 0) e->cfg.max_batch_tokens = 512;
    if (e->cfg.max_seqs <= 0) e->cfg.max_seqs = 256;
    int pages = e->cfg.num_pages;
    if (pages <= 0) {
        size_t budget = e->cfg.kv_budget_bytes ? e->cfg.kv_budget_bytes : kv_auto_budget(e);
        pages = (int)(budget / rlc_kv_page_bytes(m, e->cfg.page_size));
    }
    int rc = 0;
    if (e->width <= 0) rc = rlc_errc(RLC_EINVAL, "the model has no score head for the engine's score requests");
    if (!rc && pages < 2) rc = rlc_errc(RLC_EINVAL, "the KV budget holds %d pages; at least 2 are needed", pages);
    if (!rc) rc = rlc_kv_cache_init(&e->kv, m, pages, e->cfg.page_size);
    if (!rc) {
        e->refcnt = rlc_calloc((size_t)pages, sizeof *e->refcnt);
        e->free_list = rlc_malloc((size_t)pages * sizeof *e->free_list);
        if (!e->refcnt || !e->free_list) rc = RLC_ENOMEM;
    }
    if (rc) {
        gen_engine_free(e);
        return rc;
    }
    if (m->be->is_gpu || rlc_log_get_level() <= RLC_LOG_DEBUG)
        LOG_INFO("KV cache: %d pages x %d tokens = %ld tokens (%.1f MiB%s)%s", pages, e->cfg.page_size,
                 (long)pages * e->cfg.page_size, pages * (double)rlc_kv_page_bytes(m, e->cfg.page_size) / 1048576.0,
                 e->cfg.num_pages > 0 || e->cfg.kv_budget_bytes ? "" : ", sized automatically",
                 e->kv.n_groups > 1 ? "; its layers in groups of full and sliding-window attention, each page holding "
                                      "one group's, the sliding groups' released out of their window"
                                    : "");
    /* hand out low page numbers first */
    for (int i = 0; i < pages; i++) e->free_list[i] = pages - 1 - i;
    e->n_free = pages;
    e->st.pages_total = pages;
    /* EOS ids: the tokenizer's (generation_config + eos token) or else the model config's */
    if (tok) {
        const int32_t *ids;
        int n = tok_eos_ids(tok, &ids);
        for (int i = 0; i < n && e->n_eos < 16; i++) e->eos[e->n_eos++] = ids[i];
    }
    for (int i = 0; i < m->cfg.n_eos && e->n_eos < 16; i++) {
        int dup = 0;
        for (int k = 0; k < e->n_eos; k++) dup |= e->eos[k] == m->cfg.eos_token_ids[i];
        if (!dup) e->eos[e->n_eos++] = m->cfg.eos_token_ids[i];
    }
    *out = e;
    return 0;
}

static void free_request(request_t *r) {
    if (r->outs)
        for (int i = 0; i < r->n; i++) {
            free(r->outs[i].tokens);
            free(r->outs[i].logp);
            free(r->outs[i].trainable);
            free(r->outs[i].text);
            free(r->outs[i].scores);
        }
    free(r->outs);
    free(r->seqs);
    free(r->stop_ids);
    free(r->score_pos);
    if (r->stops)
        for (int i = 0; i < r->p.n_stop_strings; i++) free(r->stops[i]);
    if (r->markers)
        for (int i = 0; i < r->p.n_tool_markers; i++) free(r->markers[i]);
    free(r->stops);
    free(r->markers);
    free(r->marker_ids);
    memset(r, 0, sizeof *r);
}

void gen_engine_free(gen_engine_t *e) {
    if (!e) return;
    for (int i = 0; i < e->n_seqs; i++) seq_free(e->seqs[i]);
    free(e->seqs);
    for (int i = 0; i < e->n_reqs; i++) free_request(&e->reqs[i]);
    free(e->reqs);
    rlc_kv_cache_free(&e->kv, e->m);
    free(e->refcnt);
    free(e->free_list);
    free(e->b_ids), free(e->b_pos), free(e->b_slots), free(e->b_cu), free(e->b_ctx), free(e->b_bt);
    free(e->b_rows), free(e->s_tok), free(e->s_logp), free(e->s_par), free(e->sel), free(e->sel_take);
    free(e->out_seq);
    free(e->h_scores);
    free(e);
}

static char **dup_strs(const char *const *s, int n) {
    char **o = rlc_calloc((size_t)(n ? n : 1), sizeof *o);
    if (!o) return NULL;
    for (int i = 0; i < n; i++)
        if (!(o[i] = rlc_strdup(s[i]))) return o; /* caller frees on error via free_request */
    return o;
}

/* A score-only request's positions for a sequence of n tokens whose first computed position
 * is `first`. */
static int check_score(const gen_params_t *p, int n, int first) {
    if (!p->score_only) return 0;
    if (p->n != 1) return rlc_errc(RLC_EINVAL, "a score-only request has n = 1 (got %d)", p->n);
    if (p->n_score_pos < 0 || (p->n_score_pos && !p->score_pos))
        return rlc_errc(RLC_EINVAL, "score-only request: missing positions");
    if (p->n_stop_strings || p->n_tool_markers) return rlc_errc(RLC_EINVAL, "a score-only request samples nothing");
    for (int i = 0; i < p->n_score_pos; i++)
        if (p->score_pos[i] < first || p->score_pos[i] >= n || (i && p->score_pos[i] <= p->score_pos[i - 1]))
            return rlc_errc(RLC_EINVAL, "score position %d: outside %d..%d or not increasing", p->score_pos[i], first,
                            n - 1);
    return 0;
}

static int check_params(const gen_engine_t *e, const gen_params_t *p) {
    if (p->score_only) return 0; /* checked by check_score with the sequence's length */
    if (e->m->cfg.head != RLC_HEAD_LM || e->cfg.step_out != RLC_STEP_OUT_DEFAULT)
        return rlc_errc(RLC_EINVAL, "generation needs a model with an LM head (this one only scores)");
    if (p->n < 1) return rlc_errc(RLC_EINVAL, "n (samples per prompt) must be at least 1, got %d", p->n);
    if (!(p->temperature >= 0)) return rlc_errc(RLC_EINVAL, "temperature must be >= 0, got %g", p->temperature);
    if (!(p->top_p > 0 && p->top_p <= 1)) return rlc_errc(RLC_EINVAL, "top_p must be in (0, 1], got %g", p->top_p);
    if (!(p->min_p >= 0 && p->min_p < 1)) return rlc_errc(RLC_EINVAL, "min_p must be in [0, 1), got %g", p->min_p);
    if (p->top_k < 0) return rlc_errc(RLC_EINVAL, "top_k must be >= 0");
    if (p->max_new_tokens < 1) return rlc_errc(RLC_EINVAL, "max_new_tokens must be at least 1");
    if ((p->n_stop_strings || p->n_tool_markers) && !e->tok)
        return rlc_errc(RLC_EINVAL, "stop strings and tool markers need a tokenizer");
    if (p->n_tool_markers && !e->cfg.tool_fn && !e->cfg.tool_batch_fn)
        return rlc_errc(RLC_EINVAL, "tool markers given but no tool callback");
    for (int i = 0; i < p->n_stop_strings; i++)
        if (!p->stop_strings[i] || !p->stop_strings[i][0]) return rlc_errc(RLC_EINVAL, "empty stop string");
    for (int i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] < 0 || p->stop_ids[i] >= e->m->cfg.vocab_size)
            return rlc_errc(RLC_ERANGE, "stop id %d out of range", p->stop_ids[i]);
    return 0;
}

static int new_request(gen_engine_t *e, const gen_params_t *p, void *tag) {
    if (gen_grow((void **)&e->reqs, &e->cap_reqs, e->n_reqs + 1, sizeof *e->reqs)) return RLC_ENOMEM;
    request_t *r = &e->reqs[e->n_reqs];
    memset(r, 0, sizeof *r);
    r->p = *p;
    r->tag = tag;
    r->n = p->n;
    r->live = 1;
    r->seqs = rlc_malloc((size_t)p->n * sizeof *r->seqs);
    r->outs = rlc_calloc((size_t)p->n, sizeof *r->outs);
    r->stop_ids = rlc_malloc((size_t)(p->n_stop_ids ? p->n_stop_ids : 1) * sizeof *r->stop_ids);
    r->stops = dup_strs(p->stop_strings, p->n_stop_strings);
    r->markers = dup_strs(p->tool_markers, p->n_tool_markers);
    r->marker_ids = rlc_malloc((size_t)(p->n_tool_markers ? p->n_tool_markers : 1) * sizeof *r->marker_ids);
    if (!r->seqs || !r->outs || !r->stop_ids || !r->stops || !r->markers || !r->marker_ids) {
        free_request(r);
        return RLC_ENOMEM;
    }
    for (int k = 0; k < p->n_tool_markers; k++) { /* a marker that is one special token's text */
        int32_t id = e->tok ? tok_token_to_id(e->tok, p->tool_markers[k]) : -1;
        int special = id >= 0 && id < e->m->cfg.vocab_size && tok_is_special(e->tok, id);
        r->marker_ids[k] = special ? id : -1;
        r->n_special_markers += special;
    }
    for (int i = 0; i < p->n; i++) r->seqs[i] = -1;
    if (p->n_stop_ids) memcpy(r->stop_ids, p->stop_ids, (size_t)p->n_stop_ids * sizeof *r->stop_ids);
    r->p.stop_ids = r->stop_ids;
    if (p->score_only) {
        int k = p->n_score_pos;
        r->score_pos = rlc_malloc((size_t)(k ? k : 1) * sizeof *r->score_pos);
        r->outs[0].scores = rlc_malloc((size_t)(k ? k : 1) * (size_t)e->width * sizeof(float));
        if (!r->score_pos || !r->outs[0].scores) {
            free_request(r);
            return RLC_ENOMEM;
        }
        if (k) memcpy(r->score_pos, p->score_pos, (size_t)k * sizeof *r->score_pos);
        r->p.score_pos = r->score_pos;
        r->outs[0].n_scores = k;
        r->outs[0].score_width = e->width;
    }
    r->p.stop_strings = (const char *const *)r->stops;
    r->p.tool_markers = (const char *const *)r->markers;
    return e->n_reqs++;
}

/* The most pages a sequence of `total` tokens holds at once: every position's page in a
 * full-attention group; in a sliding group its window and the longest step chunk. */
static long pages_at_most(const gen_engine_t *e, long total) {
    long P = e->kv.page_size, all = (total + P - 1) / P, n = 0;
    for (int g = 0; g < e->kv.n_groups; g++) {
        long W = e->kv.group_window[g], win = W ? (W + e->cfg.max_batch_tokens + P - 1) / P + 1 : all;
        n += win < all ? win : all;
    }
    return n;
}

static int check_fits(const gen_engine_t *e, int n_prompt, const gen_params_t *p) {
    int ctx = e->m->cfg.max_context;
    if (n_prompt >= ctx + (p->score_only != 0))
        return rlc_errc(RLC_ERANGE, "prompt of %d tokens does not fit the model's context (%d)", n_prompt, ctx);
    long total = (long)n_prompt + (p->score_only ? 0 : p->max_new_tokens);
    if (total > ctx) total = ctx;
    long pages = pages_at_most(e, total);
    if (pages > e->kv.num_pages)
        return rlc_errc(RLC_ENOMEM,
                        "a sequence of %ld tokens needs %ld KV pages but the budget holds %d (raise the KV budget)",
                        total, pages, e->kv.num_pages);
    return 0;
}

int gen_submit(gen_engine_t *e, const int32_t *prompt, int n_prompt, const gen_params_t *p, void *tag) {
    int rc = check_params(e, p);
    if (rc) return rc;
    if (n_prompt < 1) return rlc_errc(RLC_EINVAL, "empty prompt");
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= e->m->cfg.vocab_size)
            return rlc_errc(RLC_ERANGE, "prompt token %d at position %d is out of range (vocab size %d)", prompt[i],
                            i, e->m->cfg.vocab_size);
    if ((rc = check_fits(e, n_prompt, p)) || (rc = check_score(p, n_prompt, 0))) return rc;
    int req = new_request(e, p, tag);
    if (req < 0) return req;
    seq_t *s = seq_new(e, req, 0, prompt, n_prompt, n_prompt);
    if (!s) return RLC_ENOMEM;
    s->seed = rlc_splitmix64(p->seed ^ 0x6a09e667f3bcc909ull);
    e->reqs[req].seqs[0] = e->n_seqs - 1;
    e->reqs[req].spawned = 1;
    return req;
}

static seq_t *find_seq(const gen_engine_t *e, int req, int sample) {
    if (req < 0 || req >= e->n_reqs || !e->reqs[req].live) return NULL;
    const request_t *r = &e->reqs[req];
    if (sample < 0 || sample >= r->n || r->seqs[sample] < 0) return NULL;
    return e->seqs[r->seqs[sample]];
}

int gen_fork(gen_engine_t *e, int req, int sample, int prefix_len, const int32_t *extra, int n_extra,
             const gen_params_t *p, void *tag) {
    seq_t *src = find_seq(e, req, sample);
    if (!src) return rlc_errc(RLC_EINVAL, "fork: no sequence %d/%d", req, sample);
    if (prefix_len < 1 || prefix_len > src->n_toks)
        return rlc_errc(RLC_EINVAL, "fork: prefix length %d outside 1..%d", prefix_len, src->n_toks);
    if (n_extra < 0 || (n_extra > 0 && !extra)) return rlc_errc(RLC_EINVAL, "fork: missing appended tokens");
    for (int i = 0; i < n_extra; i++)
        if (extra[i] < 0 || extra[i] >= e->m->cfg.vocab_size)
            return rlc_errc(RLC_ERANGE, "fork: appended token %d is out of range (vocab size %d)", extra[i],
                            e->m->cfg.vocab_size);
    int rc = check_params(e, p), n = prefix_len + n_extra;
    if (!rc) rc = check_fits(e, n, p);
    if (!rc) rc = check_score(p, n, prefix_len - 1);
    if (rc) return rc;
    int32_t *toks = rlc_malloc((size_t)n * sizeof *toks);
    if (!toks) return RLC_ENOMEM;
    memcpy(toks, src->toks, (size_t)prefix_len * sizeof *toks);
    if (n_extra) memcpy(toks + prefix_len, extra, (size_t)n_extra * sizeof *toks);
    int nr = new_request(e, p, tag);
    seq_t *s = nr < 0 ? NULL : seq_new(e, nr, 0, toks, n, n);
    free(toks);
    if (nr < 0) return nr;
    if (!s) return RLC_ENOMEM;
    src = find_seq(e, req, sample); /* e->reqs and e->seqs may have moved */
    s->seed = rlc_splitmix64(p->seed ^ 0x6a09e667f3bcc909ull);
    /* share the pages of the cached part; the last prefix token is recomputed for logits */
    int cached = src->n_cached < prefix_len - 1 ? src->n_cached : prefix_len - 1;
    int P = e->kv.page_size, np = (cached + P - 1) / P;
    for (int g = 0; g < e->kv.n_groups && np; g++) { /* a sliding group must still hold the fork's window */
        int W = e->kv.group_window[g], from = W && cached - W + 1 > 0 ? (cached - W + 1) / P : 0;
        for (int j = from; j < np; j++)
            if (SEQ_PAGE(src, g, j) < 0) cached = np = 0; /* released already: recompute the prefix */
    }
    if (gen_share_pages(e, s, src, np)) return RLC_ENOMEM;
    s->n_cached = cached;
    e->reqs[nr].seqs[0] = e->n_seqs - 1;
    e->reqs[nr].spawned = 1;
    return nr;
}


int gen_run(gen_engine_t *e, rlc_progress_t *progress) {
    long total = 0;
    for (int i = 0; i < e->n_reqs; i++)
        if (e->reqs[i].live) total += e->reqs[i].n;
    for (;;) {
        int left = gen_step(e);
        if (left < 0) return left;
        if (progress) {
            long done = 0;
            for (int i = 0; i < e->n_reqs; i++)
                if (e->reqs[i].live) done += e->reqs[i].n_done;
            char extra[64];
            snprintf(extra, sizeof extra, "%ld tok", e->st.sampled_tokens);
            progress->total = total;
            rlc_progress_update(progress, done, extra);
        }
        if (left == 0) return 0;
    }
}

const gen_output_t *gen_output(const gen_engine_t *e, int req, int sample) {
    if (req < 0 || req >= e->n_reqs || !e->reqs[req].live) return NULL;
    const request_t *r = &e->reqs[req];
    if (sample < 0 || sample >= r->n || r->seqs[sample] < 0 || !e->seqs[r->seqs[sample]]->finished) return NULL;
    return &r->outs[sample];
}

int gen_request_done(const gen_engine_t *e, int req) {
    if (req < 0 || req >= e->n_reqs || !e->reqs[req].live) return 0;
    return e->reqs[req].n_done == e->reqs[req].n;
}

const tok_t *gen_tokenizer(const gen_engine_t *e) { return e->tok; }

int gen_sequence(const gen_engine_t *e, int req, int sample, const int32_t **ids, int *n, int *n_prompt) {
    seq_t *s = find_seq(e, req, sample);
    if (!s) return rlc_errc(RLC_EINVAL, "no sequence %d/%d", req, sample);
    *ids = s->toks;
    *n = s->n_toks;
    if (n_prompt) *n_prompt = s->n_prompt;
    return 0;
}

void gen_release(gen_engine_t *e, int req) {
    if (req < 0 || req >= e->n_reqs || !e->reqs[req].live) return;
    request_t *r = &e->reqs[req];
    for (int i = 0; i < r->n; i++) {
        int si = r->seqs[i];
        if (si < 0 || !e->seqs[si]) continue;
        gen_drop_pages(e, e->seqs[si]);
        seq_free(e->seqs[si]);
        e->seqs[si] = NULL;
    }
    free_request(r);
    /* r->live is now 0 */
}

void gen_stats(const gen_engine_t *e, gen_stats_t *s) {
    *s = e->st;
    s->pages_free = e->n_free;
}
