/* Causal GQA attention, flash style: no T x T matrix ever exists. Tiles of 32 queries x 32
 * keys live in shared memory (bf16 inputs, fp32 scores and accumulators); the forward keeps
 * an online softmax per query row and saves lse = log-sum-exp of the scaled scores. The
 * backward recomputes P = exp(s - lse) tile by tile, with delta = rowsum(dO * O), and is
 * deterministic without atomics: one kernel owns a query tile and accumulates dQ over key
 * tiles, another owns a key tile of one kv head and accumulates dK, dV over every query
 * tile of every query head in its group. Plain fp32 FMAs (no tensor cores): simple first,
 * see docs/cuda.md. Query head h reads kv head h / (Hq / Hk).
 * Exports: cu_attention_fwd, cu_attention_bwd. */
#include "kernels/cuda/attention.cuh"

namespace RLC_CU_NS {

enum { BR = 32, BC = 32, ATT_THREADS = 128, ATT_WARPS = ATT_THREADS / 32, SP = BC + 1 };

/* Shared memory sizes; the kernels carve the same regions in the same order. */
static size_t fwd_smem(int D) {
    return (size_t)3 * BR * (D + 2) * sizeof(bf16) + (size_t)BR * SP * 4 + (size_t)BR * D * 4 + 3 * BR * 4;
}
static size_t dq_smem(int D) {
    return (size_t)4 * BR * (D + 2) * sizeof(bf16) + (size_t)BR * SP * 4 + (size_t)BR * D * 4 + 2 * BR * 4;
}
static size_t dkv_smem(int D) {
    return (size_t)4 * BR * (D + 2) * sizeof(bf16) + (size_t)2 * BR * SP * 4 + (size_t)2 * BC * D * 4 + 2 * BR * 4;
}

/* Sequence s occupies rows [start, start + len); false (and a flag) if cu_seqlens is bad. */
__device__ __forceinline__ bool seq_range(const int32_t *cu, int s, int N, int max_seqlen, int *start, int *len,
                                          int *flag) {
    int a = cu[s], b = cu[s + 1];
    if (a < 0 || b < a || b > N || b - a > max_seqlen) {
        if (threadIdx.x == 0 && blockIdx.x == 0) atomicOr(flag, FLAG_BAD_SEQLENS);
        return false;
    }
    *start = a;
    *len = b - a;
    return true;
}

/* Copy `rows` rows of D values from global (row stride ld) into smem (row stride D + 2);
 * rows at or beyond `valid` become zeros, so masked products never meet NaN garbage. */
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, size_t ld, int rows, int valid, int D) {
    for (int i = threadIdx.x; i < rows * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        dst[r * (D + 2) + d] = r < valid ? src[(size_t)r * ld + d] : __float2bfloat16_rn(0.f);
    }
}

__device__ __forceinline__ float dot_bf(const bf16 *a, const bf16 *b, int D) {
    float acc = 0.f;
    for (int d = 0; d < D; d++) acc += __bfloat162float(a[d]) * __bfloat162float(b[d]);
    return acc;
}

/* grid (query tile, query head, sequence) */
__global__ void __launch_bounds__(ATT_THREADS)
    attn_fwd_k(bf16 *out, float *lse, const bf16 *qkv, const int32_t *cu, int N, int max_seqlen, int Hq, int Hk, int D,
               float scale, int *flag) {
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int q0 = blockIdx.x * BR, h = blockIdx.y;
    if (q0 >= L) return;
    int kh = h / (Hq / Hk), DP = D + 2;
    size_t W = (size_t)(Hq + 2 * Hk) * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Qs = (bf16 *)sm, *Ks = Qs + BR * DP, *Vs = Ks + BC * DP;
    float *Ss = (float *)(Vs + BC * DP), *Os = Ss + BR * SP, *ms = Os + BR * D, *ls = ms + BR, *as = ls + BR;
    const bf16 *base = qkv + (size_t)start * W;
    int nq = L - q0 < BR ? L - q0 : BR; /* valid query rows in this tile */

    load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, BR, nq, D);
    for (int i = threadIdx.x; i < BR * D; i += blockDim.x) Os[i] = 0.f;
    if (threadIdx.x < BR) {
        ms[threadIdx.x] = -INFINITY;
        ls[threadIdx.x] = 0.f;
    }
    int nkt = (q0 + nq - 1) / BC + 1; /* key tiles up to the last query's position */
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int kt = 0; kt < nkt; kt++) {
        int k0 = kt * BC, nk = L - k0 < BC ? L - k0 : BC;
        __syncthreads(); /* the previous tile's K, V, S are no longer read */
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, BC, nk, D);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, BC, nk, D);
        __syncthreads();
        for (int i = threadIdx.x; i < BR * BC; i += blockDim.x) {
            int r = i / BC, c = i % BC;
            float s = -INFINITY;
            if (r < nq && k0 + c <= q0 + r) s = dot_bf(Qs + r * DP, Ks + c * DP, D) * scale;
            Ss[r * SP + c] = s;
        }
        __syncthreads();
        /* online softmax: one warp per row, one lane per key (BC == 32) */
        for (int r = warp; r < BR; r += ATT_WARPS) {
            float s = Ss[r * SP + lane];
            float mo = ms[r];
            float mn = fmaxf(mo, warp_max(s));
            float p = mn == -INFINITY ? 0.f : expf(s - mn);
            float alpha = mn == -INFINITY ? 1.f : expf(mo - mn);
            float rs = warp_sum(p);
            Ss[r * SP + lane] = p;
            __syncwarp(); /* every lane has read ms[r] before lane 0 overwrites it */
            if (lane == 0) {
                ls[r] = ls[r] * alpha + rs;
                ms[r] = mn;
                as[r] = alpha;
            }
        }
        __syncthreads();
        for (int i = threadIdx.x; i < BR * D; i += blockDim.x) {
            int r = i / D, d = i % D;
            float acc = Os[i] * as[r];
            for (int c = 0; c < BC; c++) acc += Ss[r * SP + c] * __bfloat162float(Vs[c * DP + d]);
            Os[i] = acc;
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nq * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        out[(size_t)(start + q0 + r) * Hq * D + (size_t)h * D + d] = __float2bfloat16_rn(Os[i] / ls[r]);
    }
    if ((int)threadIdx.x < nq) lse[(size_t)(start + q0 + threadIdx.x) * Hq + h] = ms[threadIdx.x] + logf(ls[threadIdx.x]);
}

/* delta[n, h] = sum_d dout[n, h, d] * out[n, h, d]; one warp per (n, h). */
__global__ void attn_delta_k(float *delta, const bf16 *dout, const bf16 *out, int N, int Hq, int D) {
    size_t idx = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (idx >= (size_t)N * Hq) return;
    const bf16 *a = dout + idx * D, *b = out + idx * D;
    float acc = 0.f;
    for (int d = threadIdx.x % 32; d < D; d += 32) acc += __bfloat162float(a[d]) * __bfloat162float(b[d]);
    acc = warp_sum(acc);
    if (threadIdx.x % 32 == 0) delta[idx] = acc;
}

/* dQ for one (query tile, query head, sequence): dS = P (dP - delta), dQ = scale * dS K. */
__global__ void __launch_bounds__(ATT_THREADS)
    attn_dq_k(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *delta, const int32_t *cu,
              int N, int max_seqlen, int Hq, int Hk, int D, float scale, int *flag) {
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int q0 = blockIdx.x * BR, h = blockIdx.y;
    if (q0 >= L) return;
    int kh = h / (Hq / Hk), DP = D + 2;
    size_t W = (size_t)(Hq + 2 * Hk) * D, WO = (size_t)Hq * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Qs = (bf16 *)sm, *dOs = Qs + BR * DP, *Ks = dOs + BR * DP, *Vs = Ks + BC * DP;
    float *Ss = (float *)(Vs + BC * DP), *dQs = Ss + BR * SP, *lse_s = dQs + BR * D, *dl_s = lse_s + BR;
    const bf16 *base = qkv + (size_t)start * W;
    int nq = L - q0 < BR ? L - q0 : BR;

    load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, BR, nq, D);
    load_tile(dOs, dout + (size_t)(start + q0) * WO + (size_t)h * D, WO, BR, nq, D);
    for (int i = threadIdx.x; i < BR * D; i += blockDim.x) dQs[i] = 0.f;
    if (threadIdx.x < BR) {
        bool ok = (int)threadIdx.x < nq;
        size_t row = (size_t)(start + q0 + threadIdx.x) * Hq + h;
        lse_s[threadIdx.x] = ok ? lse[row] : 0.f;
        dl_s[threadIdx.x] = ok ? delta[row] : 0.f;
    }
    int nkt = (q0 + nq - 1) / BC + 1;
    for (int kt = 0; kt < nkt; kt++) {
        int k0 = kt * BC, nk = L - k0 < BC ? L - k0 : BC;
        __syncthreads();
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, BC, nk, D);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, BC, nk, D);
        __syncthreads();
        for (int i = threadIdx.x; i < BR * BC; i += blockDim.x) {
            int r = i / BC, c = i % BC;
            float ds = 0.f;
            if (r < nq && k0 + c <= q0 + r) {
                float p = expf(dot_bf(Qs + r * DP, Ks + c * DP, D) * scale - lse_s[r]);
                ds = p * (dot_bf(dOs + r * DP, Vs + c * DP, D) - dl_s[r]);
            }
            Ss[r * SP + c] = ds;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < BR * D; i += blockDim.x) {
            int r = i / D, d = i % D;
            float acc = 0.f;
            for (int c = 0; c < BC; c++) acc += Ss[r * SP + c] * __bfloat162float(Ks[c * DP + d]);
            dQs[i] += acc;
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nq * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        dqkv[(size_t)(start + q0 + r) * W + (size_t)h * D + d] = __float2bfloat16_rn(scale * dQs[i]);
    }
}

/* dK, dV for one (key tile, kv head, sequence), summed over the query heads of the group
 * and every query tile at or after the key tile: dV = P^T dO, dK = scale * dS^T Q. */
__global__ void __launch_bounds__(ATT_THREADS)
    attn_dkv_k(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *delta, const int32_t *cu,
               int N, int max_seqlen, int Hq, int Hk, int D, float scale, int *flag) {
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int k0 = blockIdx.x * BC, kh = blockIdx.y;
    if (k0 >= L) return;
    int G = Hq / Hk, DP = D + 2;
    size_t W = (size_t)(Hq + 2 * Hk) * D, WO = (size_t)Hq * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Ks = (bf16 *)sm, *Vs = Ks + BC * DP, *Qs = Vs + BC * DP, *dOs = Qs + BR * DP;
    float *Ps = (float *)(dOs + BR * DP), *dSs = Ps + BR * SP, *dKs = dSs + BR * SP, *dVs = dKs + BC * D;
    float *lse_s = dVs + BC * D, *dl_s = lse_s + BR;
    const bf16 *base = qkv + (size_t)start * W;
    int nk = L - k0 < BC ? L - k0 : BC;

    load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, BC, nk, D);
    load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, BC, nk, D);
    for (int i = threadIdx.x; i < BC * D; i += blockDim.x) dKs[i] = dVs[i] = 0.f;
    for (int g = 0; g < G; g++) {
        int h = kh * G + g;
        for (int q0 = k0 - k0 % BR; q0 < L; q0 += BR) {
            int nq = L - q0 < BR ? L - q0 : BR;
            __syncthreads(); /* the previous query tile is no longer read */
            load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, BR, nq, D);
            load_tile(dOs, dout + (size_t)(start + q0) * WO + (size_t)h * D, WO, BR, nq, D);
            if (threadIdx.x < BR) {
                bool ok = (int)threadIdx.x < nq;
                size_t row = (size_t)(start + q0 + threadIdx.x) * Hq + h;
                lse_s[threadIdx.x] = ok ? lse[row] : 0.f;
                dl_s[threadIdx.x] = ok ? delta[row] : 0.f;
            }
            __syncthreads();
            for (int i = threadIdx.x; i < BR * BC; i += blockDim.x) {
                int r = i / BC, c = i % BC;
                float p = 0.f, ds = 0.f;
                if (r < nq && k0 + c <= q0 + r) {
                    p = expf(dot_bf(Qs + r * DP, Ks + c * DP, D) * scale - lse_s[r]);
                    ds = p * (dot_bf(dOs + r * DP, Vs + c * DP, D) - dl_s[r]);
                }
                Ps[r * SP + c] = p;
                dSs[r * SP + c] = ds;
            }
            __syncthreads();
            for (int i = threadIdx.x; i < BC * D; i += blockDim.x) {
                int c = i / D, d = i % D;
                float av = 0.f, ak = 0.f;
                for (int r = 0; r < BR; r++) {
                    av += Ps[r * SP + c] * __bfloat162float(dOs[r * DP + d]);
                    ak += dSs[r * SP + c] * __bfloat162float(Qs[r * DP + d]);
                }
                dVs[i] += av;
                dKs[i] += ak;
            }
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nk * D; i += blockDim.x) {
        int c = i / D, d = i % D;
        size_t row = (size_t)(start + k0 + c) * W;
        dqkv[row + (size_t)(Hq + kh) * D + d] = __float2bfloat16_rn(scale * dKs[i]);
        dqkv[row + (size_t)(Hq + Hk + kh) * D + d] = __float2bfloat16_rn(dVs[i]);
    }
}

/* Shape checks shared by forward and backward; 0 ok. */
static int attn_check(cu_impl *im, const char *who, int nseq, int Hq, int Hk, int D, size_t smem) {
    if (Hq <= 0 || Hk <= 0 || Hq % Hk) {
        cu_fail(im, RLC_EINVAL, "%s: %d query heads are not a multiple of %d kv heads", who, Hq, Hk);
        return -1;
    }
    if (D <= 0 || D % 2 || D > 256) {
        cu_fail(im, RLC_EUNSUP, "%s: head size %d unsupported (even, at most 256)", who, D);
        return -1;
    }
    if (nseq > 65535 || Hq > 65535) {
        cu_fail(im, RLC_EUNSUP, "%s: %d sequences / %d heads exceed the launch grid", who, nseq, Hq);
        return -1;
    }
    (void)smem;
    return 0;
}

void cu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                      int max_seqlen, int N, int Hq, int Hk, int D, float scale) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    size_t smem = fwd_smem(D);
    if (attn_check(im, "attention", nseq, Hq, Hk, D, smem)) return;
    /* Rows outside every sequence (if cu_seqlens[nseq] < N) read as zeros, never garbage. */
    CUDA_CHECK(im, cudaMemsetAsync(out, 0, (size_t)N * Hq * D * sizeof(bf16), im->stream));
    CUDA_CHECK(im, cudaMemsetAsync(lse, 0, (size_t)N * Hq * sizeof(float), im->stream));
    if (nseq <= 0 || max_seqlen <= 0) return;
    if (smem_allow(im, attn_fwd_k, smem, "attention")) return;
    dim3 grid(cdiv(max_seqlen, BR), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_fwd_k, grid, ATT_THREADS, smem, im->stream, (bf16 *)out, lse, (const bf16 *)qkv, cu_seqlens, N,
               max_seqlen, Hq, Hk, D, scale, im->d_flag);
    LAUNCH_CHECK(im);
}

void cu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                      const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                      int D, float scale) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    size_t s1 = dq_smem(D), s2 = dkv_smem(D);
    if (attn_check(im, "attention backward", nseq, Hq, Hk, D, s2)) return;
    CUDA_CHECK(im, cudaMemsetAsync(dqkv, 0, (size_t)N * (Hq + 2 * Hk) * D * sizeof(bf16), im->stream));
    if (nseq <= 0 || max_seqlen <= 0) return;
    if (smem_allow(im, attn_dq_k, s1, "attention backward")) return;
    if (smem_allow(im, attn_dkv_k, s2, "attention backward")) return;
    float *delta = (float *)cu_scratch(im, (size_t)N * Hq * sizeof(float), "attention backward");
    if (!delta) return;
    size_t rows = (size_t)N * Hq;
    RLC_LAUNCH(attn_delta_k, cdiv(rows, 8), 256, 0, im->stream, delta, (const bf16 *)dout, (const bf16 *)out, N, Hq,
               D);
    LAUNCH_CHECK(im);
    dim3 gq(cdiv(max_seqlen, BR), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_dq_k, gq, ATT_THREADS, s1, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
               delta, cu_seqlens, N, max_seqlen, Hq, Hk, D, scale, im->d_flag);
    LAUNCH_CHECK(im);
    dim3 gk(cdiv(max_seqlen, BC), (unsigned)Hk, (unsigned)nseq);
    RLC_LAUNCH(attn_dkv_k, gk, ATT_THREADS, s2, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
               delta, cu_seqlens, N, max_seqlen, Hq, Hk, D, scale, im->d_flag);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
