/* Private to gen/: the engine's sequences, requests and state, shared by the scheduler
 * (engine.c: pages, requests; step.c: the step) and the sequences' token/text bookkeeping
 * (seq.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "gen/engine.h"

typedef struct {
    int req, sample, finished;
    int32_t *toks;
    int n_toks, cap_toks, n_prompt, n_cached;
    /* KV pages, one table per KV group (group-major, stride cap_pages: SEQ_PAGE); -1 where a
     * sliding group released a page out of its window (or none is held). n_pages: the table
     * length; win_lo: the pages below it were already checked for release. */
    int32_t *pages;
    int n_pages, cap_pages, win_lo;
    float *logp;        /* per generated position */
    int cap_gen;
    uint8_t *trainable; /* per generated position */
    char *text;
    size_t text_len, text_cap;
    int n_sampled, n_tool_calls, stop_index;
    int tool_pending; /* a tool marker fired this step (its index), answered at the step's end; -1 none */
    gen_finish_t finish;
    uint64_t seed;
    long order;
} seq_t;

typedef struct {
    gen_params_t p;
    void *tag;
    int n, spawned, n_done, live;
    int *seqs; /* index of each sample's sequence in e->seqs */
    gen_output_t *outs;
    /* owned copies of the parameter arrays */
    int32_t *stop_ids, *score_pos;
    char **stops, **markers;
    /* per tool marker: the special token whose text it is (Llama 3's <|eom_id|>), or -1;
     * such a marker fires when that token is sampled, never on text */
    int32_t *marker_ids;
    int n_special_markers;
} request_t;

struct gen_engine {
    rlc_model_t *m;
    const tok_t *tok;
    gen_engine_cfg_t cfg;
    rlc_kv_cache_t kv;
    int *refcnt, *free_list, n_free;
    seq_t **seqs;
    int n_seqs, cap_seqs;
    request_t *reqs;
    int n_reqs, cap_reqs;
    int32_t eos[16];
    int n_eos;
    int width; /* rlc_model_step_width: floats per output row */
    float *h_scores; /* score rows of a step, on the host */
    size_t cap_h_scores;
    long order;
    gen_stats_t st;
    /* step scratch (host) */
    int32_t *b_ids, *b_pos, *b_slots, *b_cu, *b_ctx, *b_bt, *b_rows, *s_tok;
    float *s_logp;
    rlc_sample_params_t *s_par;
    int *sel, *sel_take, *out_seq;
    int cap_b, cap_s, cap_bt;
};

/* Page j of KV group g of sequence s. */
#define SEQ_PAGE(s, g, j) ((s)->pages[(size_t)(g) * (size_t)(s)->cap_pages + (size_t)(j)])

/* engine.c: grow *p (elements of `elem` bytes) to hold `need`; 0 or RLC_ENOMEM. */
int gen_grow(void **p, int *cap, int need, size_t elem);
/* engine.c, pages: new pages and copy-on-write copies needed to store positions
 * [n_cached, n_cached + take); making them private and present; a sequence's pages all
 * released (it recomputes from scratch when scheduled again). */
int gen_pages_needed(const gen_engine_t *e, const seq_t *s, int take);
int gen_prepare_pages(gen_engine_t *e, seq_t *s, int take);
void gen_drop_pages(gen_engine_t *e, seq_t *s);
/* Room for n pages in every group's table (new entries -1). */
int gen_reserve_pages(gen_engine_t *e, seq_t *s, int n);
/* s shares src's pages [0, n) in every group (references taken; released ones stay -1). */
int gen_share_pages(gen_engine_t *e, seq_t *s, const seq_t *src, int n);
/* Release the pages of s's sliding groups that every later query's window has passed
 * (positions below n_cached - window: a margin of one for forks, which recompute the last
 * prefix token). */
void gen_release_window(gen_engine_t *e, seq_t *s);

/* seq.c */
seq_t *seq_new(gen_engine_t *e, int req, int sample, const int32_t *toks, int n, int n_prompt);
void seq_free(seq_t *s);
int seq_append_token(seq_t *s, int32_t t, float lp, int trainable);
int seq_append_text(seq_t *s, const char *b, size_t n);
int seq_build_output(gen_engine_t *e, seq_t *s);
int seq_finish(gen_engine_t *e, seq_t *s, gen_finish_t why);
/* After a token was appended: text, stop ids and strings, length, tool pauses. */
int seq_after_token(gen_engine_t *e, seq_t *s, int32_t t, int sampled);
/* A tool's answer to the pause at marker k: out == NULL means the marker was no call (nothing
 * appended, not counted; at a special-token marker the sequence then ends as at EOS); else
 * the text is appended as untrainable tokens. Then the length check. */
int seq_tool_result(gen_engine_t *e, seq_t *s, int k, char *out, size_t out_len);
/* Answer every pending tool call of this step in one batch (cfg.tool_batch_fn). */
int seq_resolve_tools(gen_engine_t *e);
