/* Inference path of the model for the rollout engine: a paged KV cache (fixed-size pages
 * in one pool, model/kv_cache.c) and a step that runs any mix of prefill chunks and
 * single-token decodes in one packed batch, returning logits only for the rows that will be
 * sampled. Owns: the KV pool and the step workspace. Page bookkeeping (block tables, free
 * lists, sharing) belongs to gen/. */
#pragma once
#include <stdint.h>

#include "model/model.h"

/* The KV cache: one pool of num_pages pages of page_size tokens. Layers come in groups
 * (model/kv_cache.c); a page belongs to one group at a time and holds the K and V of that
 * group's layers (up to group_layers of them) for page_size positions, and each sequence
 * has one block table per group. A model whose layers all attend alike has one group of
 * all its layers; a model that mixes full and sliding-window layers (Gemma 2 and 3, OLMo 3)
 * has groups of each kind, so a sliding group's pages can be released once they fall out of
 * its window (group_window > 0) while the full groups keep theirs. */
#define RLC_KV_MAX_GROUPS 32
typedef struct {
    int num_pages, page_size, num_layers, kv_width; /* kv_width = rlc_kv_width */
    int n_groups, group_layers;
    int *layer_group, *layer_slot; /* [L] (owned): a layer's group, and its slot within a page */
    int group_window[RLC_KV_MAX_GROUPS]; /* the window of a group's layers (0: full attention) */
    void *k, *v; /* ACT [group_layers][num_pages * page_size][kv_width] (MLA: v = k) */
} rlc_kv_cache_t;

/* The layer groups of a model's KV cache: their count (at most RLC_KV_MAX_GROUPS), the layer
 * slots a page holds, and (where the arrays are not NULL) each layer's group and slot and each
 * group's window. One group of all layers when every layer attends alike or when release is 0
 * (RLC_KV_KEEP_WINDOW=1 asks rlc_kv_cache_init for that: sliding layers then keep every page,
 * a debugging aid); else the full layers and the sliding ones in groups of equal size. */
int rlc_kv_groups(const rlc_model_config_t *c, int release, int *group_layers, int *layer_group, int *layer_slot,
                  int *group_window);
/* 0 when RLC_KV_KEEP_WINDOW asks sliding layers to keep their pages, else 1. */
int rlc_kv_release_default(void);
/* Bytes of K+V one page takes (its group's layers; for budgeting). */
size_t rlc_kv_page_bytes(const rlc_model_t *m, int page_size);
int rlc_kv_cache_init(rlc_kv_cache_t *kv, rlc_model_t *m, int num_pages, int page_size);
void rlc_kv_cache_free(rlc_kv_cache_t *kv, rlc_model_t *m);
/* Copy the first `ntokens` slots of page src to page dst (copy-on-write; every layer slot). */
void rlc_kv_copy_page(rlc_kv_cache_t *kv, rlc_model_t *m, int dst, int src, int ntokens);
/* A cache row's width per layer: Hk·D, or MLA's latent row (then the V cache is the K cache). */
static inline int rlc_kv_width(const rlc_model_config_t *c) {
    return c->mla ? rlc_config_mla_latent(c) : c->num_kv_heads * c->head_dim;
}
/* The caches a layer has: K and V, or MLA's latent rows alone (the V cache is the K cache). */
static inline int rlc_kv_planes(const rlc_model_config_t *c) { return c->mla ? 1 : 2; }
/* Layer l's K (or V) cache: [num_pages * page_size][kv_width] rows, page p's at p * page_size. */
static inline void *rlc_kv_layer(const rlc_kv_cache_t *kv, const rlc_model_t *m, void *base, int l) {
    size_t per_slot = (size_t)kv->num_pages * kv->page_size * kv->kv_width;
    return (char *)base + (size_t)kv->layer_slot[l] * per_slot * m->be->esize[RLC_BUF_ACT];
}

/* slots and block_table hold one array per KV group (kv->n_groups), group after group: a
 * group's slots [N], then the next's; a group's tables [nseq * max_pages], then the next's
 * (entries of pages released out of a window may be any valid page: they are not read). */
typedef struct {
    int n_tokens, nseq;
    const int32_t *ids, *pos;   /* [N]: token, position */
    const int32_t *slots;       /* [G][N]: the cache slot (page * page_size + offset) to store its K/V */
    const int32_t *cu_q;        /* [nseq+1]: the sequence's new tokens */
    const int32_t *ctx_len;     /* [nseq]: cached tokens including the new ones */
    const int32_t *block_table; /* [G][nseq * max_pages] */
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
 * sequences of up to max_pages pages per group (for sizing the KV cache around it). */
size_t rlc_model_step_bytes(const rlc_model_t *m, int n_tokens, int n_out, int nseq, int max_pages);
/* Release the step workspace (also done by rlc_model_free). */
void rlc_model_step_free(rlc_model_t *m);
