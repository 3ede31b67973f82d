/* The op vtable: model and engine code call every op through an rlc_backend_t and never
 * contain device #ifdefs. The CPU backend (kernels/cpu, fp32) is the reference; the CUDA
 * backend (kernels/cuda, bf16 storage, fp32 accumulation) implements the same contract.
 *
 * Buffers are typed by kind, and each backend picks the element type of a kind:
 *   PARAM  weights                     cpu: f32   cuda: bf16
 *   GRAD   parameter gradients          cpu: f32   cuda: f32
 *   ACT    activations / act. grads     cpu: f32   cuda: bf16
 *   F32    statistics, losses, optimizer state, master weights: always f32
 *   I32    token ids, positions, offsets: always int32
 * Pointers passed to ops are "device" pointers from be->alloc (host memory on the CPU).
 *
 * Token layout is varlen ("packed"): a batch is N tokens, sequence s occupying rows
 * [cu_seqlens[s], cu_seqlens[s+1]) of every [N, ...] activation; attention never crosses
 * sequences. The fused projections follow llm.c: q,k,v weights are stored contiguously
 * (one [(Hq+2Hk)·D, C] matrix, so one matmul yields qkv [N, (Hq+2Hk)·D]); gate,up likewise
 * ([2F, C] → gu [N, 2F]).
 *
 * Accumulation rules (the model relies on them): parameter-gradient outputs always
 * accumulate (+=) so micro-batches add up; rmsnorm_bwd accumulates into dinp (that is the
 * residual stream's gradient); every other activation-gradient output is overwritten.
 *
 * Compute ops return void; a failure inside one (a CUDA error) is recorded and reported
 * by be->check(). Memory ops return 0 or a negative RLC_E* code with a message.
 *
 * An op is found by one name everywhere: its vtable slot `foo`, kernels/cpu/<family>.c
 * (cpu_foo) and kernels/cuda/<family>.cu (cu_foo) with the same family name (rmsnorm,
 * embedding, elementwise, attention, decode, lmhead, matmul, rope, swiglu, sample, adamw,
 * meminfo, gemm_rows).
 *
 * Adding an op:
 *   1. the slot below, with its exact contract (shapes, =/+= rule, what the output means);
 *   2. the CPU reference in kernels/cpu/<family>.c, declared in cpu/cpu_ops.h and wired in
 *      cpu_backend.c, with a finite-difference or hand-computed test in
 *      tests/kernels/test_cpu_ops.c (a gradient op: against finite differences);
 *   3. the CUDA kernel in kernels/cuda/<family>.cu (its .cuh lists the exports), wired in
 *      cuda_backend.cu, with a parity test against the CPU op in tests/gpu/test_cuda_ops.c
 *      (run on the CPU emulator in CI, on a GPU by scripts/gpu_check.sh);
 *   4. callers in model/ use be->foo only, never a device #ifdef.
 * Every slot is required except those marked OPTIONAL (NULL allowed; callers check):
 * mem_info and the four graph_* ops. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum { RLC_BUF_PARAM = 0, RLC_BUF_GRAD, RLC_BUF_ACT, RLC_BUF_F32, RLC_BUF_I32, RLC_BUF_KINDS } rlc_buf_kind_t;

typedef struct rlc_backend rlc_backend_t;

/* Routing with a correction bias (moe_route_biased_*): E experts, K picks among the experts of
 * the TG best of G equal groups, a group ranked by the sum of its two best (or, group_max, by its
 * best: DeepSeek-V2's group_limited_greedy); scores sigmoid(logits) (GLM-4.5, dots.llm1,
 * DeepSeek-V3) or softmax(logits) (softmax: ERNIE 4.5, DeepSeek-V2); under norm the picked scores
 * are divided by their sum + 1e-20 (sigmoid) or max(their sum, norm_min) (softmax); then times
 * scale. */
typedef struct {
    int E, K, G, TG, norm, softmax;
    float scale, norm_min;
    int group_max;
} rlc_moe_route_t;

/* Per-row sampling parameters. The definition is exact so every backend draws the same
 * token from the same logits, whatever else is in the batch:
 *   temperature == 0: greedy (argmax, lowest id on ties).
 *   otherwise z = logits / T, p = softmax(z); the kept set is every token with
 *     z >= the k-th largest z (top_k > 0; ties at the boundary are kept, as in HF),
 *     p >= min_p * max(p) (min_p > 0), and p >= tau, where tau is the largest value such
 *     that the mass of {p >= tau} is >= top_p (top_p < 1);
 *   the token is argmax over the kept set of z_i + g_i, Gumbel noise
 *     g_i = -log(-log(u_i)), u_i = uniform from Philox4x32-10 with key = seed and
 *     counter = (i / 4, counter_lo, counter_hi, 0), word i % 4, mapped to (0, 1) as
 *     ((w >> 8) + 0.5) / 2^24. (Equivalently argmax exp(z_i - max z) / (-log u_i), which
 *     needs one log per entry; the CPU computes it that way.)
 * counter is the index of the token within its sequence, so a sequence's samples do not
 * depend on batch composition. */
typedef struct rlc_sample_params {
    float temperature, top_p, min_p;
    int top_k;
    uint64_t seed, counter;
    /* 1 + a token to return instead of drawing one (0: draw): its log-prob is computed with
     * exactly the arithmetic of a drawn token's, which is how a training forward reproduces
     * the engine's log-probs bit for bit (exact_on_policy). */
    int32_t force1;
} rlc_sample_params_t;

struct rlc_backend {
    const char *name; /* "cpu" or "cuda" */
    int is_gpu;
    int threads;                  /* CPU threads used by the host side */
    size_t esize[RLC_BUF_KINDS];  /* bytes per element of each kind */
    char device_desc[128];        /* "CPU (2 threads)", "NVIDIA H100 80GB HBM3 (sm_90)" */
    /* Set (by the model's inference step) while the rollout engine runs: matmul_fwd and
     * logits must then compute every output row independently of the other rows, in a fixed
     * order, so a sequence's tokens do not depend on the batch it shares (the other ops of
     * the step — embedding, norms, rope, swiglu, kv_store, paged_attention, gather_rows,
     * sample — are per row or per sequence anyway). CPU: kernels/cpu/gemm_rows.c. CUDA:
     * kernels/cuda/gemm_rows_tc.cu (tensor cores, K order fixed by IC alone; the default) or
     * gemm_rows.cu (SIMT) with RLC_CUDA_ROWINV=simt; RLC_CUDA_ROW_INVARIANT=0 ignores the
     * flag and keeps cuBLASLt (docs/cuda.md). */
    int row_invariant;
    /* Set by the model around the ops of its forward, backward and inference step (0
     * otherwise): every RMSNorm op (rmsnorm_fwd, residual_rmsnorm_fwd, rmsnorm_bwd,
     * qk_norm_fwd, qk_norm_bwd) scales by (norm_offset + w) in fp32 instead of w. Gemma's
     * norms are 1 + w; the weight gradient is the same either way. */
    float norm_offset;
    /* A hint between a training forward's lmhead_fwd and the lmhead_bwd of the same batch
     * (set by the model around those two calls, 0 otherwise): lmhead_keep = 1 asks
     * lmhead_fwd to keep the logits it computes, and it sets lmhead_kept to a fresh nonzero
     * id when it did (0 when it did not: too large, or a backend that never keeps);
     * lmhead_use = that id asks lmhead_bwd to use them instead of recomputing. Any other
     * lmhead_fwd or lmhead_bwd call drops what was kept. lmhead_keep_max: the most bytes
     * of logits the backend keeps (0: it never keeps); the CPU keeps up to 512 MiB, outside
     * the tracked buffers (the training memory report names it). */
    int lmhead_keep;
    size_t lmhead_keep_max;
    unsigned lmhead_kept, lmhead_use;
    void *impl;
    /* Live-buffer accounting installed by rlc_backend_create (rlc_backend_track): alloc and
     * free then keep a table of every buffer's name and size for the memory report. */
    struct rlc_memtrack *track;

    void (*destroy)(rlc_backend_t *be);
    /* First error recorded by a compute op since the last call (0 if none); clears it. */
    int (*check)(rlc_backend_t *be);
    void (*sync)(rlc_backend_t *be);
    /* OPTIONAL. Free and total memory of the device (cudaMemGetInfo; MemAvailable / MemTotal
     * of /proc/meminfo on the CPU). 0, or a negative error when it cannot tell. */
    int (*mem_info)(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes);

    /* ---- memory ---- name is used in the out-of-memory message. */
    void *(*alloc)(rlc_backend_t *be, const char *name, size_t n, rlc_buf_kind_t kind);
    void (*free)(rlc_backend_t *be, void *p);
    /* Host <-> device copies; the host side is float for PARAM/GRAD/ACT/F32, int32 for I32. */
    int (*upload)(rlc_backend_t *be, void *dst, rlc_buf_kind_t kind, const void *src, size_t n);
    int (*download)(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n);
    void (*zero)(rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n);
    void (*copy)(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n);

    /* ---- elementwise / reductions ---- */
    /* out = a + b (kind ACT or F32 or GRAD; out may alias a or b). */
    void (*add)(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n);
    void (*scale)(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s);
    /* Sum of squares of x, accumulated in double; result written on the host. */
    void (*sumsq)(rlc_backend_t *be, double *out_host, const void *x, rlc_buf_kind_t kind, size_t n);
    /* dst[m, :] = src[rows[m], :] for m < M (ACT, row width C). */
    void (*gather_rows)(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C);
    /* Column blocks between strided rows (ACT; MLA's assembly of its heads): for n < N, h < H,
     * j < W, dst[n·dld + h·dhs + j] = src[n·sld + h·shs + j] (shs = 0 broadcasts one block to H
     * places); with sum, dst[n·dld + j] = the sum over h of src[n·sld + h·shs + j] instead (in
     * fp32 in h order, rounded once; dhs unused). dst and src do not overlap. */
    void (*head_copy)(rlc_backend_t *be, void *dst, int dld, int dhs, const void *src, int sld, int shs, int N, int H,
                      int W, int sum);
    /* x = cap·tanh(x / cap) in place (F32; cap > 0): the soft-capping of generation's logits. */
    void (*softcap)(rlc_backend_t *be, float *x, size_t n, float cap);
    /* ACT <-> F32 conversions. */
    void (*act_to_f32)(rlc_backend_t *be, float *dst, const void *src, size_t n);
    void (*f32_to_act)(rlc_backend_t *be, void *dst, const float *src, size_t n);

    /* ---- transformer ops ---- */
    /* out[N,C] = wte[ids[n], :]. */
    void (*embedding_fwd)(rlc_backend_t *be, void *out, const int32_t *ids, const void *wte, int N, int C);
    /* dwte[ids[n], :] += dout[n, :] (deterministic order). */
    void (*embedding_bwd)(rlc_backend_t *be, void *dwte, const void *dout, const int32_t *ids, int N, int C);

    /* out = x * rsqrt(mean(x^2) + eps) * w (w + norm_offset, see above); rstd[N] saved. */
    void (*rmsnorm_fwd)(rlc_backend_t *be, void *out, float *rstd, const void *inp, const void *w, int N, int C,
                        float eps);
    /* resid = a + b, then out = rmsnorm(resid) (the residual add fused with the next norm). */
    void (*residual_rmsnorm_fwd)(rlc_backend_t *be, void *resid, void *out, float *rstd, const void *a,
                                 const void *b, const void *w, int N, int C, float eps);
    /* dinp += ..., dw += ... */
    void (*rmsnorm_bwd)(rlc_backend_t *be, void *dinp, void *dw, const void *dout, const void *inp, const void *w,
                        const float *rstd, int N, int C);

    /* Qwen3's per-head RMSNorm of queries and keys, in place on the first Hq + Hk heads of each
     * row of qkv (row stride ld elements, head size D): y = x * rsqrt(mean(x^2) + eps) * w
     * with w = wq[D] for the Hq query heads and wk[D] for the Hk key heads. raw [N, Hq+Hk, D]
     * and rstd [N, Hq+Hk] (both NULL at inference) keep the input and the scale for backward.
     * OLMo's norms over the whole q (or k) projection are this op with one head of Hq·D (or
     * Hk·D) and no heads of the other kind (Hk = 0 or Hq = 0: its weight is not read, nor its
     * gradient written). */
    void (*qk_norm_fwd)(rlc_backend_t *be, void *qkv, void *raw, float *rstd, const void *wq, const void *wk, int N,
                        int Hq, int Hk, int D, int ld, float eps);
    /* Backward, in place on dqkv's query and key heads (the gradient after the norm becomes
     * the gradient before it); dwq, dwk += (deterministic order). */
    void (*qk_norm_bwd)(rlc_backend_t *be, void *dqkv, void *dwq, void *dwk, const void *raw, const void *wq,
                        const void *wk, const float *rstd, int N, int Hq, int Hk, int D, int ld);

    /* RoPE in place on the first H heads of each row of x (row stride `ld` elements, head size
     * D) over each head's first R dims (R = D, or fewer under a partial rotary factor; the rest
     * pass through): pair i < R/2 turns by pos[n] * inv_freq[i] and is multiplied by mscale
     * (yarn's and LongRoPE's attention factor, which transformers multiplies into cos and sin;
     * 1 otherwise). The pair is (x_i, x_{i+R/2}) (rotate-half), or (x_{2i}, x_{2i+1}) when
     * interleaved (ERNIE 4.5, GLM-4's GPT-J style). bwd applies the transpose. */
    void (*rope_fwd)(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D,
                     int R, float mscale, int ld, int interleaved);
    void (*rope_bwd)(rlc_backend_t *be, void *dx, const int32_t *pos, const float *inv_freq, int N, int H, int D,
                     int R, float mscale, int ld, int interleaved);

    /* Causal GQA attention over packed qkv [N, (Hq+2Hk)·D] → out [N, Hq·D]; lse [N, Hq]
     * (log-sum-exp of scaled scores) saved for backward. Query head h uses kv head
     * h / (Hq/Hk). max_seqlen bounds cu_seqlens gaps (for launch geometry). window > 0:
     * sliding-window attention, the query at position t sees keys t-window < j <= t (its
     * last `window` keys, itself included, as transformers masks them); 0: every j <= t.
     * The score of query q and key k is s = scale·(q·k), soft-capped when softcap > 0 (Gemma 2's
     * attn_logit_softcapping): s = softcap·tanh(scale·(q·k) / softcap); lse is over those s. */
    void (*attention_fwd)(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens,
                          int nseq, int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap,
                          int window);
    /* dqkv [N, (Hq+2Hk)·D] written (=). */
    void (*attention_bwd)(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                          const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq,
                          int Hk, int D, float scale, float softcap, int window);

    /* out[N,F] = silu(gu[:, :F]) * gu[:, F:]. */
    void (*swiglu_fwd)(rlc_backend_t *be, void *out, const void *gu, int N, int F);
    /* dgu [N, 2F] written (=). */
    void (*swiglu_bwd)(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);
    /* GeGLU (Gemma): out[N,F] = gelu_tanh(gu[:, :F]) * gu[:, F:] with PyTorch's tanh form
     * gelu_tanh(g) = g/2 (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))); bwd writes dgu (=). */
    void (*geglu_fwd)(rlc_backend_t *be, void *out, const void *gu, int N, int F);
    void (*geglu_bwd)(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);

    /* ---- mixture of experts (Qwen3-MoE, Mixtral, OLMoE, Qwen2-MoE, GLM-4.5) ----
     * Routing of N tokens over E experts, K per token: p = softmax(logits[n, :]) in fp32
     * (probs [N,E], kept for backward); the K largest in descending order (ties: the lower
     * expert first) → idx [N,K]; their probabilities → w [N,K], divided by their sum when
     * norm (norm_topk_prob). E <= RLC_MOE_MAX_EXPERTS, K <= RLC_MOE_MAX_TOPK. */
    void (*moe_route_fwd)(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E,
                          int K, int norm);
    /* The gradient of the logits (ACT [N,E], =) from that of the weights dw [N,K]. */
    void (*moe_route_bwd)(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                          const int32_t *idx, int N, int E, int K, int norm);
    /* Routing with a correction bias (rlc_moe_route_t r): scores s = sigmoid or softmax of the
     * logits (F32 [N,E], kept for backward; scores may alias logits); the K largest s + bias[e]
     * (F32 [E], or NULL: none; ties: the lower expert first) → idx, among the experts of the TG
     * best of G equal groups, a group ranked by the sum of its two best s + bias, or its best under
     * r->group_max (ties: the lower group); w = the picked s, renormalised under r->norm, times
     * r->scale. E/G >= 2 (1 under group_max), K <= TG·E/G. */
    void (*moe_route_biased_fwd)(rlc_backend_t *be, float *scores, float *w, int32_t *idx, const float *logits,
                                 const float *bias, int N, const rlc_moe_route_t *r);
    /* Its backward: the logits' gradient (F32 [N,E], =; under sigmoid nonzero at the picks
     * only; dlogits may alias scores) from that of the weights dw [N,K]. */
    void (*moe_route_biased_bwd)(rlc_backend_t *be, float *dlogits, const float *dw, const float *scores,
                                 const float *w, const int32_t *idx, int N, const rlc_moe_route_t *r);
    /* out[n] (ACT [N,C], =) = Σ_k w[n,k] · y[inv[n·K+k]], summed in fp32 in k order and rounded
     * once (w NULL: every weight 1). y holds the experts' output rows [N·K, C]. */
    void (*moe_combine_fwd)(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N,
                            int K, int C);
    /* Its backward: dy[inv[n·K+k]] = w[n,k] · dout[n] (ACT [N·K, C], =) and, when dw is not
     * NULL, dw[n,k] = dout[n] · y[inv[n·K+k]] (F32 [N,K], =). */
    void (*moe_combine_bwd)(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                            const int32_t *inv, int N, int K, int C);
    /* A gated shared expert (Qwen2-MoE): out[n] (ACT [N,C]) += sigmoid(z[n]) · y[n], in fp32,
     * rounded once (z ACT [N]: the gate's logit). bwd: dy[n] = sigmoid(z[n]) · dout[n] (=) and
     * dz[n] = sigmoid'(z[n]) · (dout[n] · y[n]) (=; dz may alias z and dy may alias y: each
     * row reads z[n] first, each element y before dy). */
    void (*moe_gate_add_fwd)(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C);
    void (*moe_gate_add_bwd)(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z,
                             int N, int C);

    /* out[N,OC] = inp[N,IC] · w[OC,IC]^T (+ bias[OC]). */
    void (*matmul_fwd)(rlc_backend_t *be, void *out, const void *inp, const void *w, const void *bias, int N, int IC,
                       int OC);
    /* dinp (=, skipped if NULL), dw (+=), dbias (+=, skipped if NULL). */
    void (*matmul_bwd)(rlc_backend_t *be, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
                       const void *w, int N, int IC, int OC);

    /* Fused LM head, chunked over tokens so [N, V] logits never exist at once.
     * z = inv_temp · (h · w^T), or inv_temp · softcap·tanh((h · w^T) / softcap) when softcap > 0
     * (Gemma 2's final_logit_softcapping); for each n with target[n] >= 0:
     *   logp[n] = log_softmax(z)[target[n]],  entropy[n] = -Σ p log p  (NULL to skip);
     * rows with target < 0 get logp = entropy = 0. */
    void (*lmhead_fwd)(rlc_backend_t *be, float *logp, float *entropy, const void *h, const void *w,
                       const int32_t *targets, int N, int C, int V, float inv_temp, float softcap);
    /* Backward of L = Σ_n dlogp[n]·logp[n] + dent[n]·entropy[n] (dent may be NULL):
     * dh (=) and dw (+=). Recomputes the logits (unless kept: lmhead_use above); optionally
     * also writes logp/entropy. */
    void (*lmhead_bwd)(rlc_backend_t *be, void *dh, void *dw, float *logp, float *entropy, const float *dlogp,
                       const float *dent, const void *h, const void *w, const int32_t *targets, int N, int C, int V,
                       float inv_temp, float softcap);
    /* Full logits for M rows (generation): out[M, V] (f32) = h · w^T. */
    void (*logits)(rlc_backend_t *be, float *out, const void *h, const void *w, int M, int C, int V);

    /* ---- decoding (rollout engine) ----
     * The KV cache of one layer is [num_slots, Hk, D] (ACT) for K and for V; a slot is
     * page * page_size + offset. kv_store copies the (post-RoPE) k and v of each row of qkv
     * into its slot. */
    void (*kv_store)(rlc_backend_t *be, void *k_cache, void *v_cache, const void *qkv, const int32_t *slots, int N,
                     int Hq, int Hk, int D);
    /* Attention of new query tokens against the paged cache (chunked prefill and decode in
     * one op). Sequence s has q tokens [cu_q[s], cu_q[s+1]) and ctx_len[s] cached tokens
     * including them (already stored); its j-th query sits at position
     * ctx_len[s] - (cu_q[s+1]-cu_q[s]) + j and attends to cache positions <= that, found
     * through block_table[s * max_pages + position / page_size]. q is read from qkv rows
     * (as in attention_fwd); out [N, Hq·D]. max_ctx bounds ctx_len (launch geometry). window
     * as in attention_fwd: a query at position p then reads cache positions > p - window only;
     * softcap as in attention_fwd. */
    void (*paged_attention)(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                            const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                            int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                            int max_ctx, int window);
    /* Sample one token per row of logits [M, V] (f32, device). Results go to the host:
     * tokens[M], logp[M] = log_softmax(logits/T)[token] (T = 1 when greedy). See
     * rlc_sample_params_t for the exact, batch-independent definition. */
    void (*sample)(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits,
                   const struct rlc_sample_params *params, int M, int V);

    /* ---- graphs: OPTIONAL, all four or none (NULL where unsupported: the CPU) ----
     * Ops issued between graph_begin and graph_end are recorded, not run, into a graph that
     * graph_launch replays: kernel arguments (pointers, sizes) are frozen at capture, buffer
     * contents are read at each replay. No memory op that syncs may be recorded. graph_end
     * returns 0 and the graph, or a negative error (nothing ran; run the ops eagerly).
     * graph_launch returns 0, 1 when the backend's own workspaces were reallocated since
     * the capture (the graph is stale: free it and capture again), or a negative error. */
    int (*graph_begin)(rlc_backend_t *be);
    int (*graph_end)(rlc_backend_t *be, void **graph);
    int (*graph_launch)(rlc_backend_t *be, void *graph);
    void (*graph_free)(rlc_backend_t *be, void *graph);

    /* ---- optimizer ---- AdamW with decoupled weight decay and bias correction:
     *   g = grad·grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
     *   p -= lr (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd p).
     * `master` holds fp32 weights where PARAM is not f32 (NULL on the CPU); the PARAM copy is
     * then written with stochastic rounding keyed by `seed`. */
    void (*adamw)(rlc_backend_t *be, void *param, float *master, const void *grad, float *m, float *v, size_t n,
                  float lr, float b1, float b2, float eps, float wd, int step, float grad_scale, uint32_t seed);
};

/* name: "cpu", "cuda", "cuda:N" (GPU N) or "auto" (cuda when compiled in and a device is
 * present). threads <= 0: all available cores; more than RLC_MAX_THREADS is an error.
 * device: GPU ordinal for "cuda"/"auto". */
#define RLC_MAX_THREADS 1024
/* The largest expert count and top-k the MoE ops take (Qwen3-MoE: 128 and 8; DeepSeek-class
 * configs beyond them are refused when the config is read). */
#define RLC_MOE_MAX_EXPERTS 512
#define RLC_MOE_MAX_TOPK 32
int rlc_backend_create(rlc_backend_t **out, const char *name, int device, int threads);
void rlc_backend_destroy(rlc_backend_t *be);
/* The CPU: its model name (/proc/cpuinfo, "unknown CPU" when it cannot tell) into model, and
 * the instruction-set path the CPU kernels take ("avx512", "avx2" or "portable": the best
 * this machine has, capped by RLC_CPU_ISA). */
const char *rlc_cpu_info(char *model, size_t cap);
/* 1 if the CUDA backend was compiled in. */
int rlc_backend_cuda_compiled(void);
/* Number of CUDA devices usable now (0 without a GPU or driver, or when not compiled). */
int rlc_backend_cuda_devices(char *desc, size_t desc_len);

/* ---- memory accounting ----
 * Install the accounting wrapper on a backend made by a backend's own create function
 * (rlc_backend_create does it already; calling it twice is harmless). */
int rlc_backend_track(rlc_backend_t *be);
/* be->mem_info, or an error where the backend has none. */
int rlc_backend_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes);
/* Bytes held in live buffers allocated through be->alloc (0 when not tracked). */
size_t rlc_backend_mem_used(const rlc_backend_t *be);
/* Print (INFO) the live buffers grouped by name, largest first, with MiB and count, then
 * the total and the device's free / total memory. */
void rlc_backend_mem_report(rlc_backend_t *be, const char *title);
