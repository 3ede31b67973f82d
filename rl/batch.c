/* Stage: the packed batch. Sequences of a step packed end to end (cu_seqlens, no padding),
 * their grouping into micro-batches (a sequence budget and an optional token budget), the
 * activation reservation made at start-up, and the no-gradient forward over a whole batch
 * (old / reference log-probs, critic values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/step.h"

void sb_free(seqbuf_t *b) {
    free(b->ids), free(b->cu), free(b->r0), free(b->mask), free(b->adv), free(b->old_logp), free(b->ref_logp);
    free(b->values), free(b->rew_tok), free(b->ret), free(b->eng_logp), free(b->is_w);
    memset(b, 0, sizeof *b);
}

static int sb_reserve(seqbuf_t *b, int ntok, int nseq) {
    if (ntok > b->cap_tok) {
        int c = b->cap_tok ? b->cap_tok : 1024;
        while (c < ntok) c *= 2;
        float **f[] = {&b->mask, &b->adv, &b->old_logp, &b->ref_logp, &b->values, &b->rew_tok, &b->ret,
                       &b->eng_logp, &b->is_w};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            float *q = rlc_realloc(*f[i], (size_t)c * sizeof(float));
            if (!q) return RLC_ENOMEM;
            *f[i] = q;
        }
        int32_t *q = rlc_realloc(b->ids, (size_t)c * sizeof *q);
        if (!q) return RLC_ENOMEM;
        b->ids = q;
        b->cap_tok = c;
    }
    if (nseq + 1 > b->cap_seq) {
        int c = b->cap_seq ? b->cap_seq : 64;
        while (c < nseq + 1) c *= 2;
        int32_t *q = rlc_realloc(b->cu, (size_t)c * sizeof *q);
        if (!q) return RLC_ENOMEM;
        b->cu = q;
        if (!(q = rlc_realloc(b->r0, (size_t)c * sizeof *q))) return RLC_ENOMEM;
        b->r0 = q;
        b->cap_seq = c;
    }
    return 0;
}

/* Append prompt + completion; trainable[i] (NULL = all) marks completion tokens trained. */
int sb_add(seqbuf_t *b, const int32_t *prompt, int np, const int32_t *comp, int nc, const uint8_t *trainable) {
    int n = np + nc;
    int rc = sb_reserve(b, b->ntok + n, b->nseq + 1);
    if (rc) return rc;
    if (!b->nseq) b->cu[0] = 0;
    int32_t *ids = b->ids + b->ntok;
    memcpy(ids, prompt, (size_t)np * sizeof *ids);
    memcpy(ids + np, comp, (size_t)nc * sizeof *ids);
    for (int t = 0; t < n; t++) {
        int next = t + 1; /* the token row t predicts */
        float m = 0;
        if (next >= np && next < n) m = (!trainable || trainable[next - np]) ? 1.0f : 0.0f;
        b->mask[b->ntok + t] = m;
        b->adv[b->ntok + t] = b->old_logp[b->ntok + t] = b->ref_logp[b->ntok + t] = 0;
        b->values[b->ntok + t] = b->rew_tok[b->ntok + t] = b->ret[b->ntok + t] = b->eng_logp[b->ntok + t] = 0;
        b->is_w[b->ntok + t] = 1;
    }
    b->r0[b->nseq] = b->ntok + (np > 0 ? np - 1 : 0);
    b->ntok += n;
    b->cu[++b->nseq] = b->ntok;
    return 0;
}

/* A view of sequences [s0, s1) as a model batch (cu rebased into `cu_local`). */
rlc_batch_t sb_view(const seqbuf_t *b, int s0, int s1, int32_t *cu_local) {
    for (int s = s0; s <= s1; s++) cu_local[s - s0] = b->cu[s] - b->cu[s0];
    rlc_batch_t v = {.n_tokens = b->cu[s1] - b->cu[s0], .nseq = s1 - s0, .ids = b->ids + b->cu[s0],
                     .cu_seqlens = cu_local};
    return v;
}

/* End of the micro-batch starting at sequence s (< s1). */
int micro_end(const seqbuf_t *b, int s, int s1, const micro_t *mb) {
    int e = s + 1;
    while (e < s1 && e - s < mb->seqs && (mb->tokens <= 0 || b->cu[e + 1] - b->cu[s] <= mb->tokens)) e++;
    return e;
}

int sb_count_micro(const seqbuf_t *b, int s0, int s1, const micro_t *mb) {
    int n = 0;
    for (int s = s0; s < s1; s = micro_end(b, s, s1, mb)) n++;
    return n;
}

/* Tokens in the largest micro-batch of sequences [s0, s1). */
int sb_max_micro_tokens(const seqbuf_t *b, int s0, int s1, const micro_t *mb) {
    int maxn = 0;
    for (int s = s0, e; s < s1; s = e) {
        e = micro_end(b, s, s1, mb);
        if (b->cu[e] - b->cu[s] > maxn) maxn = b->cu[e] - b->cu[s];
    }
    return maxn;
}

/* The largest micro-batch possible with sequences of up to seq_len tokens. */
static long micro_max_tokens(const micro_t *mb, int seq_len) {
    long by_seqs = (long)mb->seqs * seq_len;
    if (mb->tokens <= 0) return by_seqs;
    long by_tokens = mb->tokens > seq_len ? mb->tokens : seq_len;
    return by_tokens < by_seqs ? by_tokens : by_seqs;
}

/* Reserve the activations of the largest possible micro-batch (sequences of up to seq_len
 * tokens) up front, so a batch that cannot fit fails now rather than hours in. */
int reserve_acts(rlc_model_t *m, const micro_t *mb, int seq_len, int train) {
    long want = micro_max_tokens(mb, seq_len);
    int rc = want > (1L << 30) ? rlc_errc(RLC_ENOMEM, "%ld tokens per micro-batch is too many", want)
                               : rlc_model_reserve(m, (int)want, train);
    if (rc)
        return rlc_err_ctx(rc, "micro-batches of %ld tokens (up to %d sequences of %d) do not fit (lower micro_batch "
                               "or micro_tokens, the length limits, or set recompute)",
                           want, mb->seqs, seq_len);
    return 0;
}

/* The start-up memory report: every buffer, free memory, and the largest micro-batch that
 * would fit beside what is allocated now. */
void report_memory(rlc_model_t *m, const micro_t *mb, int seq_len) {
    rlc_backend_t *be = m->be;
    rlc_backend_mem_report(be, "memory");
    size_t fr = 0, tot = 0;
    if (rlc_backend_mem_info(be, &fr, &tot)) return;
    /* A GPU's free memory already excludes the reservation; on the CPU the reserved pages
     * count only once touched. */
    size_t budget = fr + (be->is_gpu ? rlc_model_act_bytes(m, m->acts.cap_tokens, 1) : 0);
    int most = rlc_model_max_tokens(m, (size_t)((double)budget * 0.95), 1);
    char how[96];
    if (mb->tokens > 0)
        snprintf(how, sizeof how, "micro_tokens %ld, sequences of up to %d", mb->tokens, seq_len);
    else
        snprintf(how, sizeof how, "%d sequences x %d", mb->seqs, seq_len);
    LOG_INFO("activations reserved for %d tokens (%s); the largest micro-batch that fits is about %d tokens%s",
             m->acts.cap_tokens, how, most,
             be->is_gpu ? " (the KV cache takes most free memory; kv_cache_mb trades it for activations)" : "");
    /* kept LM-head logits live outside the tracked buffers (kernels/backend.h) */
    double kept = (double)m->acts.cap_tokens * m->cfg.vocab_size * sizeof(float);
    if (be->lmhead_keep_max && kept > (double)be->lmhead_keep_max) kept = (double)be->lmhead_keep_max;
    if (be->lmhead_keep_max && m->acts.train)
        LOG_INFO("  and, not in the table, up to %.1f MiB of LM-head logits kept from each forward for its backward",
                 kept / 1048576.0);
}

/* Forward (no gradient) over sequences in micro-batches: per-row log-probs (LM head) or
 * values (score head) into out (global rows). */
int sb_forward_opts(rlc_model_t *m, const seqbuf_t *b, const micro_t *mb, const rlc_fwd_opts_t *fo, float *out) {
    int32_t *cu = rlc_malloc((size_t)(mb->seqs + 1) * sizeof *cu);
    if (!cu) return RLC_ENOMEM;
    int rc = 0;
    for (int s0 = 0, s1; s0 < b->nseq && !rc; s0 = s1) {
        s1 = micro_end(b, s0, b->nseq, mb);
        rlc_batch_t v = sb_view(b, s0, s1, cu);
        float *dst = out + b->cu[s0];
        rc = fo->head == RLC_HEAD_LM ? rlc_model_forward(m, &v, fo, dst, NULL, NULL)
                                     : rlc_model_forward(m, &v, fo, NULL, NULL, dst);
    }
    free(cu);
    return rc;
}

int sb_forward(rlc_model_t *m, const seqbuf_t *b, const micro_t *mb, float inv_temp, int head, float *out) {
    rlc_fwd_opts_t fo = {.inv_temp = inv_temp, .head = head};
    return sb_forward_opts(m, b, mb, &fo, out);
}

uint64_t rl_mix64(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
