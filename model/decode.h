/* Inference path of the model for the rollout engine: a paged KV cache (fixed-size pages
 * in one pool per layer) and a step that runs any mix of prefill chunks and single-token
 * decodes in one packed batch, returning logits only for the rows that will be sampled.
 * Owns: the KV pool and the step workspace. Page bookkeeping (block tables, free lists,
 * sharing) belongs to gen/. */
#pragma once
#include <stdint.h>

#include "model/model.h"

typedef struct {
    int num_pages, page_size, num_layers, kv_width; /* kv_width = Hk * D */
    void *k, *v;                                    /* ACT [L][num_pages * page_size][kv_width] */
} rlc_kv_cache_t;

/* Bytes of K+V one page takes across all layers (for budgeting). */
size_t rlc_kv_page_bytes(const rlc_model_t *m, int page_size);
int rlc_kv_cache_init(rlc_kv_cache_t *kv, rlc_model_t *m, int num_pages, int page_size);
void rlc_kv_cache_free(rlc_kv_cache_t *kv, rlc_model_t *m);
/* Copy the first `ntokens` slots of page src to page dst in every layer (copy-on-write). */
void rlc_kv_copy_page(rlc_kv_cache_t *kv, rlc_model_t *m, int dst, int src, int ntokens);

typedef struct {
    int n_tokens, nseq;
    const int32_t *ids, *pos, *slots; /* [N]: token, position, cache slot to store its K/V */
    const int32_t *cu_q;              /* [nseq+1]: the sequence's new tokens */
    const int32_t *ctx_len;           /* [nseq]: cached tokens including the new ones */
    const int32_t *block_table;       /* [nseq * max_pages] */
    int max_pages, max_ctx;
    int n_out;
    const int32_t *out_rows; /* [n_out]: token rows whose next-token logits are wanted */
    int out; /* what the rows give: RLC_STEP_OUT_DEFAULT (0) or one of the others below */
} rlc_step_batch_t;

/* A step's output rows: DEFAULT = the model's own head (an LM's logits; a score-head model's
 * values; a head-less trunk's hidden states), SCORE = the score head's values (a causal LM
 * with a value head), HIDDEN = the final hidden states. */
enum { RLC_STEP_OUT_DEFAULT = 0, RLC_STEP_OUT_SCORE = 1, RLC_STEP_OUT_HIDDEN = 2 };

/* Run one step. *logits receives a device pointer to [n_out, W] fp32 outputs, valid until
 * the next call: the LM head's logits (W = vocab), score-head values (W = labels), or final
 * hidden states (W = hidden), as b->out asks; W = rlc_model_step_width(m, b->out). */
int rlc_model_step(rlc_model_t *m, rlc_kv_cache_t *kv, const rlc_step_batch_t *b, const float **logits);
/* The floats per output row for an output kind; 0 when the model cannot give it (no score
 * head for SCORE). */
int rlc_model_step_width(const rlc_model_t *m, int out);
/* Pure decode steps (one new token and one sampled row per sequence) run as graphs on
 * backends that have them (CUDA): padded to a bucket of sequences, captured on the second
 * step of a bucket, then replayed with one launch. Counters for tests and logs. */
typedef struct {
    long captures, launches, stale;
} rlc_step_graph_stats_t;
rlc_step_graph_stats_t rlc_model_step_graph_stats(const rlc_model_t *m);
/* Device bytes of the step workspace for n_tokens tokens, n_out sampled rows and nseq
 * sequences of up to max_pages pages (for sizing the KV cache around it). */
size_t rlc_model_step_bytes(const rlc_model_t *m, int n_tokens, int n_out, int nseq, int max_pages);
/* Release the step workspace (also done by rlc_model_free). */
void rlc_model_step_free(rlc_model_t *m);
