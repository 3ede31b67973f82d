/* The engine's step (gen_step): which sequences run and how many tokens each (token budget,
 * free KV pages, preemption by recompute of the youngest), packing them into the model's
 * step batch, score rows, then one sampled token per finished chunk through the backend
 * (leaders spawn their siblings first), and the step's tool calls answered together. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/philox.h"
#include "gen/engine_internal.h"

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
        if (gen_share_pages(e, s, leader, leader->n_pages)) return RLC_ENOMEM;
        s->n_cached = leader->n_cached;
        s->win_lo = leader->win_lo;
        r->seqs[i] = e->n_seqs - 1;
    }
    r->spawned = r->n;
    return 0;
}

/* Host scratch of a step: tokens rows (slots: one array per KV group), seqs sequences, bt
 * block-table entries per group. */
static int ensure_scratch(gen_engine_t *e, int tokens, int seqs, int bt) {
    size_t G = (size_t)e->kv.n_groups;
    if (tokens > e->cap_b) {
        int n = tokens;
        void *a[] = {&e->b_ids, &e->b_pos, &e->b_slots};
        for (int i = 0; i < 3; i++) {
            void *q = rlc_realloc(*(void **)a[i], (i == 2 ? G : 1) * (size_t)n * sizeof(int32_t));
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
        if (!(e->b_bt = rlc_realloc(e->b_bt, G * (size_t)bt * sizeof(int32_t)))) return RLC_ENOMEM;
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
        if (s && s->finished && s->n_pages) gen_drop_pages(e, s);
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
        gen_drop_pages(e, e->seqs[victim]);
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
        int need = gen_pages_needed(e, s, take);
        if (need > e->n_free) reclaim(e, need, nsel, idx, s->order);
        if (need > e->n_free) {
            if (nsel == 0 && gen_pages_needed(e, s, 1) <= e->n_free) {
                take = 1; /* make progress with a single token */
                need = gen_pages_needed(e, s, 1);
            } else {
                continue; /* waits for pages */
            }
        }
        if ((rc = gen_prepare_pages(e, s, take))) break;
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
    int t = 0, o = 0, G = e->kv.n_groups;
    e->b_cu[0] = 0;
    for (int i = 0; i < nsel; i++) {
        seq_t *s = e->seqs[e->sel[i]];
        int take = e->sel_take[i], P = e->kv.page_size;
        for (int j = 0; j < take; j++, t++) {
            int pos = s->n_cached + j;
            e->b_ids[t] = s->toks[pos];
            e->b_pos[t] = pos;
            for (int g = 0; g < G; g++) e->b_slots[(size_t)g * ntok + t] = SEQ_PAGE(s, g, pos / P) * P + pos % P;
        }
        e->b_cu[i + 1] = t;
        e->b_ctx[i] = s->n_cached + take;
        for (int g = 0; g < G; g++) /* a page released out of a window is never read: any valid one stands in */
            for (int j = 0; j < max_pages; j++) {
                int32_t pg = j < s->n_pages ? SEQ_PAGE(s, g, j) : -1;
                e->b_bt[((size_t)g * nsel + i) * max_pages + j] = pg >= 0 ? pg : 0;
            }
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
        gen_release_window(e, s);
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
