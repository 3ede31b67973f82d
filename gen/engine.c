/* Rollout engine implementation: page pool (refcounts, copy-on-write), requests, the step
 * scheduler (token budget, preemption by recompute) and sampling through the backend. A
 * sequence's own bookkeeping (text, stops, tool pauses, outputs) is seq.c. */
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

static void seq_drop_pages(gen_engine_t *e, seq_t *s) {
    for (int i = 0; i < s->n_pages; i++) page_unref(e, s->pages[i]);
    s->n_pages = 0;
    s->n_cached = 0;
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

/* New pages and copy-on-write copies needed to store positions [n_cached, n_cached+take). */
static int pages_needed(const gen_engine_t *e, const seq_t *s, int take) {
    int P = e->kv.page_size, need = 0;
    int first = s->n_cached / P, last = (s->n_cached + take - 1) / P;
    for (int j = first; j <= last; j++) {
        if (j >= s->n_pages)
            need++;
        else if (e->refcnt[s->pages[j]] > 1)
            need++;
    }
    return need;
}

/* Make pages for positions [n_cached, n_cached+take) private and present. */
static int prepare_pages(gen_engine_t *e, seq_t *s, int take) {
    int P = e->kv.page_size;
    int first = s->n_cached / P, last = (s->n_cached + take - 1) / P;
    if (gen_grow((void **)&s->pages, &s->cap_pages, last + 1, sizeof *s->pages)) return RLC_ENOMEM;
    for (int j = first; j <= last; j++) {
        if (j >= s->n_pages) {
            int p = page_alloc(e);
            if (p < 0) return rlc_errc(RLC_ENOMEM, "KV pages exhausted");
            s->pages[s->n_pages++] = p;
        } else if (e->refcnt[s->pages[j]] > 1) {
            int p = page_alloc(e);
            if (p < 0) return rlc_errc(RLC_ENOMEM, "KV pages exhausted");
            int valid = s->n_cached - j * P; /* slots of this page already holding K/V */
            if (valid > 0) rlc_kv_copy_page(&e->kv, e->m, p, s->pages[j], valid);
            page_unref(e, s->pages[j]);
            s->pages[j] = p;
            e->st.cow_copies++;
        }
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
    int pages_per_seq = (e->m->cfg.max_position_embeddings + e->cfg.page_size - 1) / e->cfg.page_size;
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
        LOG_INFO("KV cache: %d pages x %d tokens = %ld tokens (%.1f MiB%s)", pages, e->cfg.page_size,
                 (long)pages * e->cfg.page_size, pages * (double)rlc_kv_page_bytes(m, e->cfg.page_size) / 1048576.0,
                 e->cfg.num_pages > 0 || e->cfg.kv_budget_bytes ? "" : ", sized automatically");
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
    if (!r->seqs || !r->outs || !r->stop_ids || !r->stops || !r->markers) {
        free_request(r);
        return RLC_ENOMEM;
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

static int check_fits(const gen_engine_t *e, int n_prompt, const gen_params_t *p) {
    int ctx = e->m->cfg.max_position_embeddings;
    if (n_prompt >= ctx + (p->score_only != 0))
        return rlc_errc(RLC_ERANGE, "prompt of %d tokens does not fit the model's context (%d)", n_prompt, ctx);
    long total = (long)n_prompt + (p->score_only ? 0 : p->max_new_tokens);
    if (total > ctx) total = ctx;
    long pages = (total + e->kv.page_size - 1) / e->kv.page_size;
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
    int np = (cached + e->kv.page_size - 1) / e->kv.page_size;
    if (gen_grow((void **)&s->pages, &s->cap_pages, np + 1, sizeof *s->pages)) return RLC_ENOMEM;
    for (int i = 0; i < np; i++) {
        s->pages[i] = src->pages[i];
        e->refcnt[src->pages[i]]++;
    }
    s->n_pages = np;
    s->n_cached = cached;
    e->reqs[nr].seqs[0] = e->n_seqs - 1;
    e->reqs[nr].spawned = 1;
    return nr;
}

/* Siblings 1..n-1 of a request, sharing the leader's pages (called once the leader's
 * prompt is cached). */
static int spawn_siblings(gen_engine_t *e, seq_t *leader) {
    request_t *r = &e->reqs[leader->req];
    int req = leader->req;
    for (int i = 1; i < r->n; i++) {
        seq_t *s = seq_new(e, req, i, leader->toks, leader->n_toks, leader->n_prompt);
        if (!s) return RLC_ENOMEM;
        r = &e->reqs[req];
        leader = e->seqs[r->seqs[0]];
        s->seed = rlc_splitmix64(r->p.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(i + 1)) ^ 0x6a09e667f3bcc909ull);
        s->order = leader->order;
        if (gen_grow((void **)&s->pages, &s->cap_pages, leader->n_pages + 1, sizeof *s->pages)) return RLC_ENOMEM;
        for (int k = 0; k < leader->n_pages; k++) {
            s->pages[k] = leader->pages[k];
            e->refcnt[leader->pages[k]]++;
        }
        s->n_pages = leader->n_pages;
        s->n_cached = leader->n_cached;
        r->seqs[i] = e->n_seqs - 1;
    }
    r->spawned = r->n;
    return 0;
}

static int ensure_scratch(gen_engine_t *e, int tokens, int seqs, int bt) {
    if (tokens > e->cap_b) {
        int n = tokens;
        void *a[] = {&e->b_ids, &e->b_pos, &e->b_slots};
        for (int i = 0; i < 3; i++) {
            void *q = rlc_realloc(*(void **)a[i], (size_t)n * sizeof(int32_t));
            if (!q) return RLC_ENOMEM;
            *(void **)a[i] = q;
        }
        e->cap_b = n;
    }
    if (seqs > e->cap_s) {
        int n = seqs;
        if (!(e->b_cu = rlc_realloc(e->b_cu, (size_t)(n + 1) * sizeof(int32_t))) ||
            !(e->b_ctx = rlc_realloc(e->b_ctx, (size_t)n * sizeof(int32_t))) ||
            !(e->b_rows = rlc_realloc(e->b_rows, (size_t)n * sizeof(int32_t))) ||
            !(e->s_tok = rlc_realloc(e->s_tok, (size_t)n * sizeof(int32_t))) ||
            !(e->s_logp = rlc_realloc(e->s_logp, (size_t)n * sizeof(float))) ||
            !(e->s_par = rlc_realloc(e->s_par, (size_t)n * sizeof(rlc_sample_params_t))) ||
            !(e->sel = rlc_realloc(e->sel, (size_t)n * sizeof(int))) ||
            !(e->sel_take = rlc_realloc(e->sel_take, (size_t)n * sizeof(int))) ||
            !(e->out_seq = rlc_realloc(e->out_seq, (size_t)n * sizeof(int))))
            return RLC_ENOMEM;
        e->cap_s = n;
    }
    if (bt > e->cap_bt) {
        if (!(e->b_bt = rlc_realloc(e->b_bt, (size_t)bt * sizeof(int32_t)))) return RLC_ENOMEM;
        e->cap_bt = bt;
    }
    return 0;
}

static int is_selected(const gen_engine_t *e, int nsel, int idx) {
    for (int i = 0; i < nsel; i++)
        if (e->sel[i] == idx) return 1;
    return 0;
}

/* Free pages for `need`: first from finished-but-unreleased sequences, then by preempting
 * the youngest unselected active sequence younger than `who`. */
static void reclaim(gen_engine_t *e, int need, int nsel, int who, long who_order) {
    for (int i = 0; i < e->n_seqs && e->n_free < need; i++) {
        seq_t *s = e->seqs[i];
        if (s && s->finished && s->n_pages) seq_drop_pages(e, s);
    }
    while (e->n_free < need) {
        int victim = -1;
        for (int i = 0; i < e->n_seqs; i++) {
            seq_t *s = e->seqs[i];
            if (!s || s->finished || !s->n_pages || i == who || s->order < who_order || is_selected(e, nsel, i))
                continue;
            if (victim < 0 || s->order > e->seqs[victim]->order) victim = i;
        }
        if (victim < 0) return;
        seq_drop_pages(e, e->seqs[victim]);
        e->st.preemptions++;
    }
}

/* The active sequences in scheduling order (oldest first; equal orders by sample), malloc'd
 * into *out; returns their count (0: none) or RLC_ENOMEM. */
static int step_order(gen_engine_t *e, int **out) {
    int n_active = 0;
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i] && !e->seqs[i]->finished) n_active++;
    *out = NULL;
    if (!n_active) return 0;
    int *order = rlc_malloc((size_t)n_active * sizeof *order);
    if (!order) return RLC_ENOMEM;
    int k = 0;
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i] && !e->seqs[i]->finished) order[k++] = i;
    for (int i = 1; i < n_active; i++) { /* insertion sort by (order, sample) */
        int x = order[i], j = i - 1;
        while (j >= 0 && (e->seqs[order[j]]->order > e->seqs[x]->order ||
                          (e->seqs[order[j]]->order == e->seqs[x]->order &&
                           e->seqs[order[j]]->sample > e->seqs[x]->sample))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
    *out = order;
    return n_active;
}

/* Choose the step's sequences and how many uncached tokens each runs, within the token
 * budget and the free pages (reclaiming younger sequences' pages when needed): e->sel,
 * e->sel_take; *nsel and *ntok. */
static int step_select(gen_engine_t *e, const int *order, int n_active, int *nsel_out, int *ntok_out) {
    int nsel = 0, ntok = 0, budget = e->cfg.max_batch_tokens, rc = 0;
    for (int oi = 0; oi < n_active && nsel < e->cfg.max_seqs && budget > 0; oi++) {
        int idx = order[oi];
        seq_t *s = e->seqs[idx];
        int unc = s->n_toks - s->n_cached;
        if (unc <= 0) continue;
        int take = unc < budget ? unc : budget;
        int need = pages_needed(e, s, take);
        if (need > e->n_free) reclaim(e, need, nsel, idx, s->order);
        if (need > e->n_free) {
            if (nsel == 0 && pages_needed(e, s, 1) <= e->n_free) {
                take = 1; /* make progress with a single token */
                need = pages_needed(e, s, 1);
            } else {
                continue; /* waits for pages */
            }
        }
        if ((rc = prepare_pages(e, s, take))) break;
        e->sel[nsel] = idx;
        e->sel_take[nsel] = take;
        nsel++;
        ntok += take;
        budget -= take;
    }
    *nsel_out = nsel;
    *ntok_out = ntok;
    return rc;
}

/* Sampled rows of selected sequence i: a finished chunk samples once, a leader that
 * completes its prompt samples n times (once per sibling); 0 for a partial chunk. */
static int out_reps(const gen_engine_t *e, int i) {
    const seq_t *s = e->seqs[e->sel[i]];
    const request_t *r = &e->reqs[s->req];
    if (r->p.score_only || s->n_cached + e->sel_take[i] != s->n_toks) return 0;
    return (s->sample == 0 && r->spawned < r->n) ? r->n : 1;
}

/* Score rows of selected sequence i (a score-only request's positions in this chunk):
 * positions[*first .. *first + return). */
static int score_rows(const gen_engine_t *e, int i, int *first) {
    const seq_t *s = e->seqs[e->sel[i]];
    const gen_params_t *p = &e->reqs[s->req].p;
    int k = 0, n = 0, lo = s->n_cached, hi = s->n_cached + e->sel_take[i];
    if (!p->score_only) return 0;
    while (k < p->n_score_pos && p->score_pos[k] < lo) k++;
    *first = k;
    while (k + n < p->n_score_pos && p->score_pos[k + n] < hi) n++;
    return n;
}

/* Pack the selected chunks into the model's step batch: *n_out sampled rows, then
 * *n_score_p score rows. */
static int step_pack(gen_engine_t *e, int nsel, int ntok, rlc_step_batch_t *sb, int *n_out_p, int *n_score_p) {
    int max_pages = 1, max_ctx = 1, n_out = 0, n_score = 0, f;
    for (int i = 0; i < nsel; i++) {
        seq_t *s = e->seqs[e->sel[i]];
        if (s->n_pages > max_pages) max_pages = s->n_pages;
        if (s->n_cached + e->sel_take[i] > max_ctx) max_ctx = s->n_cached + e->sel_take[i];
        n_out += out_reps(e, i);
        n_score += score_rows(e, i, &f);
    }
    int rows = n_out + n_score;
    int rc = ensure_scratch(e, ntok, rows > nsel ? rows : nsel, nsel * max_pages);
    if (rc) return rc;
    int t = 0, o = 0;
    e->b_cu[0] = 0;
    for (int i = 0; i < nsel; i++) {
        seq_t *s = e->seqs[e->sel[i]];
        int take = e->sel_take[i], P = e->kv.page_size;
        for (int j = 0; j < take; j++, t++) {
            int pos = s->n_cached + j;
            e->b_ids[t] = s->toks[pos];
            e->b_pos[t] = pos;
            e->b_slots[t] = s->pages[pos / P] * P + pos % P;
        }
        e->b_cu[i + 1] = t;
        e->b_ctx[i] = s->n_cached + take;
        for (int j = 0; j < max_pages; j++) e->b_bt[i * max_pages + j] = j < s->n_pages ? s->pages[j] : 0;
        for (int rep = out_reps(e, i); rep > 0; rep--) {
            e->b_rows[o] = t - 1;
            e->out_seq[o] = e->sel[i];
            o++;
        }
    }
    for (int i = 0, row0 = 0; i < nsel; row0 = e->b_cu[++i]) { /* score rows after the sampled ones */
        int k, n = score_rows(e, i, &k);
        const seq_t *s = e->seqs[e->sel[i]];
        for (int j = 0; j < n; j++) e->b_rows[o++] = row0 + e->reqs[s->req].p.score_pos[k + j] - s->n_cached;
    }
    *sb = (rlc_step_batch_t){.n_tokens = ntok, .nseq = nsel, .ids = e->b_ids, .pos = e->b_pos, .slots = e->b_slots,
                             .cu_q = e->b_cu, .ctx_len = e->b_ctx, .block_table = e->b_bt, .max_pages = max_pages,
                             .max_ctx = max_ctx, .n_out = rows, .out_rows = e->b_rows, .out = e->cfg.step_out};
    if (!rows) { /* only partial prefill chunks this step: still run, asking for one row */
        sb->n_out = 1;
        e->b_rows[0] = 0;
    }
    *n_out_p = n_out;
    *n_score_p = n_score;
    return 0;
}

/* The score rows of a step (after the n_out sampled rows) into their requests' outputs;
 * then score-only sequences whose tokens are all cached (after this step) finish. */
static int step_scores(gen_engine_t *e, const float *out, int n_out, int n_score, int nsel) {
    rlc_backend_t *be = e->m->be;
    size_t W = (size_t)e->width, need = (size_t)n_score * W;
    if (n_score) {
        if (need > e->cap_h_scores) {
            float *h = rlc_realloc(e->h_scores, need * sizeof *h);
            if (!h) return RLC_ENOMEM;
            e->h_scores = h;
            e->cap_h_scores = need;
        }
        int rc = be->download(be, e->h_scores, out + (size_t)n_out * W, RLC_BUF_F32, need);
        if (rc) return rc;
    }
    for (int i = 0, q = 0; i < nsel; i++) {
        int k, n = score_rows(e, i, &k);
        seq_t *s = e->seqs[e->sel[i]];
        request_t *r = &e->reqs[s->req];
        for (int j = 0; j < n; j++, q++) memcpy(r->outs[0].scores + (size_t)(k + j) * W, e->h_scores + (size_t)q * W, W * sizeof(float));
    }
    return 0;
}

/* After the model step: leaders spawn their siblings, then one token is sampled per out row
 * and appended (stops, tools). */
static int step_sample(gen_engine_t *e, const float *logits, int n_out) {
    int rc, o2 = 0;
    while (o2 < n_out) { /* leaders that completed their prompt spawn their siblings now (sharing pages) */
        seq_t *s = e->seqs[e->out_seq[o2]];
        request_t *r = &e->reqs[s->req];
        if (s->sample == 0 && r->spawned < r->n) {
            int first = o2;
            if ((rc = spawn_siblings(e, s))) return rc;
            r = &e->reqs[e->seqs[e->out_seq[first]]->req];
            for (int i = 0; i < r->n; i++) e->out_seq[first + i] = r->seqs[i];
            o2 += r->n;
        } else {
            o2++;
        }
    }
    for (int i = 0; i < n_out; i++) {
        seq_t *s = e->seqs[e->out_seq[i]];
        const gen_params_t *p = &e->reqs[s->req].p;
        e->s_par[i] = (rlc_sample_params_t){.temperature = p->temperature, .top_p = p->top_p, .min_p = p->min_p,
                                            .top_k = p->top_k, .seed = s->seed,
                                            .counter = (uint64_t)(s->n_toks - s->n_prompt)};
    }
    rlc_backend_t *be = e->m->be;
    be->sample(be, e->s_tok, e->s_logp, logits, e->s_par, n_out, e->m->cfg.vocab_size);
    if ((rc = be->check(be))) return rc;
    for (int i = 0; i < n_out && !rc; i++) {
        seq_t *s = e->seqs[e->out_seq[i]];
        s->n_sampled++;
        rc = seq_append_token(s, e->s_tok[i], e->s_logp[i], 1);
        if (!rc) rc = seq_after_token(e, s, e->s_tok[i], 1);
        e->st.sampled_tokens++;
    }
    if (!rc && e->cfg.tool_batch_fn) rc = seq_resolve_tools(e); /* the step's tool calls, together */
    return rc;
}

int gen_step(gen_engine_t *e) {
    double t0 = rlc_now();
    int *order = NULL, n_active = step_order(e, &order);
    if (n_active <= 0) return n_active;
    int rc = ensure_scratch(e, e->cfg.max_batch_tokens, n_active > e->cfg.max_seqs ? n_active : e->cfg.max_seqs, 0);
    int nsel = 0, ntok = 0, n_out = 0, n_score = 0;
    if (!rc) rc = step_select(e, order, n_active, &nsel, &ntok);
    free(order);
    if (rc) return rc;
    if (!nsel) return rlc_errc(RLC_ENOMEM, "no sequence could be scheduled (KV budget too small)");
    rlc_step_batch_t sb;
    if ((rc = step_pack(e, nsel, ntok, &sb, &n_out, &n_score))) return rc;
    const float *logits = NULL;
    if ((rc = rlc_model_step(e->m, &e->kv, &sb, &logits))) return rc;
    if ((rc = step_scores(e, logits, n_out, n_score, nsel))) return rc;
    for (int i = 0; i < nsel && !rc; i++) {
        seq_t *s = e->seqs[e->sel[i]];
        if (e->sel_take[i] > 1 || s->n_toks - s->n_cached > 1)
            e->st.prefill_tokens += e->sel_take[i];
        else
            e->st.decode_tokens += 1;
        s->n_cached += e->sel_take[i];
        if (e->reqs[s->req].p.score_only && s->n_cached == s->n_toks) rc = seq_finish(e, s, GEN_FINISH_SCORED);
    }
    if (rc) return rc;
    if (n_out && (rc = step_sample(e, logits, n_out))) return rc;
    e->st.steps++;
    e->st.seconds += rlc_now() - t0;
    int left = 0;
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i] && !e->seqs[i]->finished) left++;
    /* requests whose leader has not spawned yet count their future siblings */
    for (int i = 0; i < e->n_reqs; i++)
        if (e->reqs[i].live && e->reqs[i].spawned < e->reqs[i].n) left += e->reqs[i].n - e->reqs[i].spawned;
    return left;
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
        seq_drop_pages(e, e->seqs[si]);
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
