/* Private to model/: the exact on-policy forward (rlc_fwd_opts_t.exact). The training
 * forward then computes what the rollout engine computes, with its kernels: attention of each
 * token over a paged KV cache holding the batch's own K/V (the engine's paged attention,
 * fixed order per (token, head)), row-invariant matmuls, and the log-prob of each target from
 * logits of the row-invariant LM head through the sampler's arithmetic (a forced draw). The
 * engine's sampled log-probs and these are then equal bit for bit. */
#pragma once
#include "model/model.h"

typedef struct {
    void *kc, *vc;                   /* ACT [slots, rlc_kv_width] (MLA: vc = kc, the latent rows) */
    void *lq, *latt, *scr, *attc;    /* MLA: the latent attention's scratch, its [N, H·v] output */
    int32_t *slots, *ctx, *bt;       /* device: per token, per sequence, block tables */
    int page, max_pages;
} rlc_exact_t;

int rlc_exact_begin(rlc_model_t *m, const rlc_batch_t *b, rlc_exact_t *ex);
void rlc_exact_end(rlc_model_t *m, rlc_exact_t *ex);
/* Layer l's attention output (acts.att[l]) recomputed the engine's way from acts.qkv[l]. */
void rlc_exact_attention(rlc_model_t *m, const rlc_exact_t *ex, int l, int N, int nseq, int maxlen);
/* logp[N] (host) of the batch's targets from the final norm's output (acts.lnf), at the
 * sampling temperature T; rows whose target is < 0 get 0. */
int rlc_exact_logp(rlc_model_t *m, const rlc_batch_t *b, float T, float *logp);
