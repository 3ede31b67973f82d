/* Decoding ops: gather of rows (the positions whose logits are needed), storing each new
 * token's k and v into its cache slot, and attention of new tokens (chunked prefill or
 * single-token decode) over the paged KV cache. Paged attention walks the context in chunks
 * of 128 positions (slots looked up through the block table) with an online softmax in fp32,
 * so each token's result depends only on its own sequence. A block serves one token and one
 * kv head with its whole group of query heads (K/V read once per group); groups larger than
 * 16 use one block per query head. Under a sliding window (win > 0) the walk starts at the
 * first position the token sees, pos - win + 1. Scores are soft-capped when cap > 0
 * (att_score, common.cuh).
 * Exports: cu_gather_rows, cu_kv_store, cu_paged_attention. */
#include "kernels/cuda/decode.cuh"

namespace RLC_CU_NS {

enum { PA_THREADS = 128 };

__global__ void gather_rows_k(bf16 *dst, const bf16 *src, const int32_t *rows, int C) {
    int m = blockIdx.x;
    const bf16 *s = src + (size_t)rows[m] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dst[(size_t)m * C + c] = s[c];
}

__global__ void kv_store_k(bf16 *kc, bf16 *vc, const bf16 *qkv, const int32_t *slots, int Hq, int Hk, int D) {
    int n = blockIdx.x, slot = slots[n];
    if (slot < 0) return;
    size_t kv = (size_t)Hk * D;
    const bf16 *row = qkv + (size_t)n * (Hq + 2 * Hk) * D;
    for (size_t i = threadIdx.x; i < kv; i += blockDim.x) {
        kc[(size_t)slot * kv + i] = row[(size_t)Hq * D + i];
        vc[(size_t)slot * kv + i] = row[(size_t)(Hq + Hk) * D + i];
    }
}

/* Token n's sequence s (the last with cu_q[s] <= n) and its position in that sequence's
 * context. 0 when the block has nothing to do: n lies outside every sequence (its output
 * stays as it is), or the position is outside the cache (flagged as bad input). */
__device__ __forceinline__ bool pa_locate(int n, const int32_t *cu_q, const int32_t *ctx_len, int nseq, int cap,
                                          int *flag, int *s_out, int *pos_out) {
    int lo = 0, hi = nseq;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (cu_q[mid] <= n) lo = mid; else hi = mid;
    }
    int s = lo;
    if (n < cu_q[s] || n >= cu_q[s + 1]) return false;
    int pos = ctx_len[s] - (cu_q[s + 1] - cu_q[s]) + (n - cu_q[s]);
    if (pos < 0 || pos >= cap) {
        if (threadIdx.x == 0) atomicOr(flag, FLAG_BAD_PAGED);
        return false;
    }
    *s_out = s;
    *pos_out = pos;
    return true;
}

/* The first context position the token at position pos sees. */
__device__ __forceinline__ int pa_first(int pos, int win) { return win > 0 && pos >= win ? pos - win + 1 : 0; }

/* grid (token, query head) */
__global__ void __launch_bounds__(PA_THREADS)
    paged_attn_k(bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc, const int32_t *cu_q,
                 const int32_t *ctx_len, const int32_t *bt, int max_pages, int page_size, int nseq, int Hq, int Hk,
                 int D, float scale, float cap, int win, int *flag) {
    __shared__ float sh[32];
    __shared__ float pr[PA_THREADS];
    __shared__ long long slot_s[PA_THREADS];
    RLC_DYN_SMEM(float, sm);
    float *q = sm, *o = sm + D;
    int n = blockIdx.x, h = blockIdx.y, g = h / (Hq / Hk);
    int s, pos;
    if (!pa_locate(n, cu_q, ctx_len, nseq, max_pages * page_size, flag, &s, &pos)) return;
    size_t kvw = (size_t)Hk * D;
    const bf16 *qr = qkv + (size_t)n * (Hq + 2 * Hk) * D + (size_t)h * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        q[d] = __bfloat162float(qr[d]);
        o[d] = 0.f;
    }
    const int32_t *tab = bt + (size_t)s * max_pages;
    float m = -INFINITY, l = 0.f;
    for (int j0 = pa_first(pos, win); j0 <= pos; j0 += PA_THREADS) {
        __syncthreads(); /* q ready; the previous chunk's pr / slot_s no longer read */
        int j = j0 + threadIdx.x;
        float sc = -INFINITY;
        long long slot = -1;
        if (j <= pos) {
            int page = tab[j / page_size];
            if (page < 0) {
                atomicOr(flag, FLAG_BAD_PAGED);
            } else {
                slot = (long long)page * page_size + j % page_size;
                const bf16 *k = kc + (size_t)slot * kvw + (size_t)g * D;
                float acc = 0.f;
                for (int d = 0; d < D; d++) acc += q[d] * __bfloat162float(k[d]);
                sc = att_score(acc, scale, cap);
            }
        }
        float mn = fmaxf(m, block_max(sc, sh));
        float p = sc == -INFINITY ? 0.f : expf(sc - mn);
        float alpha = m == -INFINITY ? 0.f : expf(m - mn);
        float ps = block_sum(p, sh);
        pr[threadIdx.x] = p;
        slot_s[threadIdx.x] = slot;
        __syncthreads();
        int nc = pos - j0 + 1 < PA_THREADS ? pos - j0 + 1 : PA_THREADS;
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            float acc = o[d] * alpha;
            for (int c = 0; c < nc; c++)
                if (slot_s[c] >= 0) acc += pr[c] * __bfloat162float(vc[(size_t)slot_s[c] * kvw + (size_t)g * D + d]);
            o[d] = acc;
        }
        l = l * alpha + ps;
        m = mn;
    }
    bf16 *orow = out + (size_t)n * Hq * D + (size_t)h * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) orow[d] = __float2bfloat16_rn(l > 0.f ? o[d] / l : 0.f);
}
RLC_STATIC_SMEM(32 * sizeof(float) + PA_THREADS * (sizeof(float) + sizeof(long long)), paged_attn_k);

/* The same attention with one block per (token, kv head) serving all G = Hq / Hk query heads
 * of the group, so each K/V row is read once per group instead of once per head (7x less
 * cache traffic for Qwen2.5's 14/2 heads). Per chunk of 128 positions: K and V rows are
 * staged in shared memory (coalesced), thread j scores position j for every head, one warp
 * per head updates that head's online softmax, then threads over (head, d) accumulate P V. */
enum { PA_MAXG = 16 };

__global__ void __launch_bounds__(PA_THREADS)
    paged_attn_gqa_k(bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc, const int32_t *cu_q,
                     const int32_t *ctx_len, const int32_t *bt, int max_pages, int page_size, int nseq, int Hq,
                     int Hk, int D, float scale, float cap, int win, int *flag) {
    __shared__ long long slot_s[PA_THREADS];
    __shared__ float m_s[PA_MAXG], l_s[PA_MAXG], a_s[PA_MAXG];
    const int G = Hq / Hk, g = blockIdx.y, n = blockIdx.x, KS = D + 2;
    RLC_DYN_SMEM(float, sm);
    float *q = sm, *o = q + G * D, *sc = o + G * D; /* q, o [G][D]; sc [G][PA_THREADS] */
    bf16 *ks = (bf16 *)(sc + G * PA_THREADS), *vs = ks + PA_THREADS * KS; /* [PA_THREADS][D (+2)] */
    int s, pos;
    if (!pa_locate(n, cu_q, ctx_len, nseq, max_pages * page_size, flag, &s, &pos)) return;
    size_t kvw = (size_t)Hk * D;
    const bf16 *qr = qkv + (size_t)n * (Hq + 2 * Hk) * D + (size_t)g * G * D;
    for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
        q[i] = __bfloat162float(qr[i]);
        o[i] = 0.f;
    }
    if ((int)threadIdx.x < G) {
        m_s[threadIdx.x] = -INFINITY;
        l_s[threadIdx.x] = 0.f;
    }
    const int32_t *tab = bt + (size_t)s * max_pages;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int j0 = pa_first(pos, win); j0 <= pos; j0 += PA_THREADS) {
        int nc = pos - j0 + 1 < PA_THREADS ? pos - j0 + 1 : PA_THREADS;
        __syncthreads(); /* the previous chunk's ks, vs, sc, slot_s are no longer read */
        {
            int j = j0 + threadIdx.x;
            long long slot = -1;
            if (j <= pos) {
                int page = tab[j / page_size];
                if (page < 0)
                    atomicOr(flag, FLAG_BAD_PAGED);
                else
                    slot = (long long)page * page_size + j % page_size;
            }
            slot_s[threadIdx.x] = slot;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < nc * D; i += blockDim.x) {
            int c = i / D, d = i % D;
            long long sl = slot_s[c];
            size_t off = (size_t)sl * kvw + (size_t)g * D + d;
            ks[c * KS + d] = sl >= 0 ? kc[off] : __float2bfloat16_rn(0.f);
            vs[c * D + d] = sl >= 0 ? vc[off] : __float2bfloat16_rn(0.f);
        }
        __syncthreads();
        {
            int c = threadIdx.x;
            float acc[PA_MAXG];
RLC_UNROLL
            for (int hh = 0; hh < PA_MAXG; hh++) acc[hh] = 0.f;
            if (c < nc && slot_s[c] >= 0)
                for (int d = 0; d < D; d++) {
                    float kd = __bfloat162float(ks[c * KS + d]);
RLC_UNROLL
                    for (int hh = 0; hh < PA_MAXG; hh++)
                        if (hh < G) acc[hh] += q[hh * D + d] * kd;
                }
            bool ok = c < nc && slot_s[c] >= 0;
RLC_UNROLL
            for (int hh = 0; hh < PA_MAXG; hh++)
                if (hh < G) sc[hh * PA_THREADS + c] = ok ? att_score(acc[hh], scale, cap) : -INFINITY;
        }
        __syncthreads();
        for (int hh = warp; hh < G; hh += PA_THREADS / 32) { /* one warp per head */
            float *row = sc + hh * PA_THREADS, mx = -INFINITY;
            for (int c = lane; c < PA_THREADS; c += 32) mx = fmaxf(mx, row[c]);
            mx = warp_max(mx);
            float mo = m_s[hh], mn = fmaxf(mo, mx), sum = 0.f;
            for (int c = lane; c < PA_THREADS; c += 32) {
                float p = row[c] == -INFINITY ? 0.f : expf(row[c] - mn);
                row[c] = p;
                sum += p;
            }
            sum = warp_sum(sum);
            __syncwarp(); /* every lane has read m_s[hh] */
            if (lane == 0) {
                float alpha = mo == -INFINITY ? 0.f : expf(mo - mn);
                l_s[hh] = l_s[hh] * alpha + sum;
                m_s[hh] = mn;
                a_s[hh] = alpha;
            }
        }
        __syncthreads();
        for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
            int hh = i / D, d = i % D;
            const float *p = sc + hh * PA_THREADS;
            float acc = o[i] * a_s[hh];
            for (int c = 0; c < nc; c++) acc += p[c] * __bfloat162float(vs[c * D + d]);
            o[i] = acc;
        }
    }
    __syncthreads();
    bf16 *orow = out + (size_t)n * Hq * D + (size_t)g * G * D;
    for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
        float l = l_s[i / D];
        orow[i] = __float2bfloat16_rn(l > 0.f ? o[i] / l : 0.f);
    }
}
RLC_STATIC_SMEM(PA_THREADS * sizeof(long long) + 3 * PA_MAXG * sizeof(float), paged_attn_gqa_k);

void cu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C) {
    cu_impl *im = IM(be);
    if (M <= 0 || C <= 0) return;
    RLC_LAUNCH(gather_rows_k, M, 256, 0, im->stream, (bf16 *)dst, (const bf16 *)src, rows, C);
    LAUNCH_CHECK(im);
}

void cu_kv_store(rlc_backend_t *be, void *k_cache, void *v_cache, const void *qkv, const int32_t *slots, int N, int Hq,
                 int Hk, int D) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    RLC_LAUNCH(kv_store_k, N, 256, 0, im->stream, (bf16 *)k_cache, (bf16 *)v_cache, (const bf16 *)qkv, slots, Hq, Hk,
               D);
    LAUNCH_CHECK(im);
}

void cu_paged_attention(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                        const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                        int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                        int max_ctx, int window) {
    cu_impl *im = IM(be);
    (void)max_ctx; /* the context is walked in chunks: no per-context launch geometry */
    if (N <= 0) return;
    if (Hq <= 0 || Hk <= 0 || Hq % Hk || D <= 0 || page_size <= 0 || max_pages <= 0) {
        cu_fail(im, RLC_EINVAL, "paged attention: bad shape (Hq %d, Hk %d, D %d, page size %d, max pages %d)", Hq, Hk,
                D, page_size, max_pages);
        return;
    }
    if (Hq > 65535) {
        cu_fail(im, RLC_EUNSUP, "paged attention: %d heads exceed the launch grid", Hq);
        return;
    }
    CUDA_CHECK(im, cudaMemsetAsync(out, 0, (size_t)N * Hq * D * sizeof(bf16), im->stream));
    if (nseq <= 0) return;
    int G = Hq / Hk;
    size_t gsmem = (size_t)(2 * G * D + G * PA_THREADS) * sizeof(float) + (size_t)PA_THREADS * (2 * D + 2) * 2;
    /* the group kernel stages a chunk's K/V rows in shared memory: wide heads (MLA's latent rows,
     * 576 wide) take the one-block-per-head kernel, which reads them from global memory */
    if (G <= PA_MAXG && Hk <= 65535 && gsmem + 4096 <= im->smem_optin) {
        size_t smem = gsmem;
        if (smem_allow(im, paged_attn_gqa_k, smem, "paged attention")) return;
        dim3 grid((unsigned)N, (unsigned)Hk);
        RLC_LAUNCH(paged_attn_gqa_k, grid, PA_THREADS, smem, im->stream, (bf16 *)out, (const bf16 *)qkv,
                   (const bf16 *)k_cache, (const bf16 *)v_cache, cu_q, ctx_len, block_table, max_pages, page_size, nseq,
                   Hq, Hk, D, scale, softcap, window, im->d_flag);
        LAUNCH_CHECK(im);
        return;
    }
    size_t smem = (size_t)2 * D * sizeof(float);
    if (smem_allow(im, paged_attn_k, smem, "paged attention")) return;
    dim3 grid((unsigned)N, (unsigned)Hq);
    RLC_LAUNCH(paged_attn_k, grid, PA_THREADS, smem, im->stream, (bf16 *)out, (const bf16 *)qkv, (const bf16 *)k_cache,
               (const bf16 *)v_cache, cu_q, ctx_len, block_table, max_pages, page_size, nseq, Hq, Hk, D, scale,
               softcap, window, im->d_flag);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
