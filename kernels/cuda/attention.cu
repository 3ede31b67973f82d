/* Causal GQA attention, flash style: no T x T matrix ever exists. Query and key tiles live in
 * shared memory (bf16 inputs, fp32 scores and accumulators); the forward keeps an online
 * softmax per query row and saves lse = log-sum-exp of the scaled scores. The backward
 * recomputes P = exp(s - lse) tile by tile, with delta = rowsum(dO * O), and is deterministic
 * without atomics: one kernel owns a query tile and accumulates dQ over key tiles, another
 * owns a key tile of one kv head and accumulates dK, dV over every query tile of every query
 * head in its group. Two implementations of that one algorithm: tensor cores (WMMA, 64-row
 * tiles) for head sizes 64 and 128, and plain fp32 FMAs (32-row tiles) for any even head size
 * up to 256. Query head h reads kv head h / (Hq / Hk). Under a sliding window (win > 0) the
 * query at position q sees keys q - win < k <= q: tiles wholly outside it are skipped, the
 * rest masked (att_sees). Scores are soft-capped when cap > 0 (att_score, common.cuh).
 * Exports: cu_attention_fwd, cu_attention_bwd. */
#include "kernels/cuda/attention.cuh"

#ifndef RLC_CUDA_EMU
#include <mma.h>
#endif

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

/* Copy `rows` rows of D values from global (row stride ld) into smem (row stride ds,
 * default D + 2); rows at or beyond `valid` become zeros, so masked products never meet NaN
 * garbage. */
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, size_t ld, int rows, int valid, int D,
                                          int ds = 0) {
    if (!ds) ds = D + 2;
    for (int i = threadIdx.x; i < rows * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        dst[r * ds + d] = r < valid ? src[(size_t)r * ld + d] : __float2bfloat16_rn(0.f);
    }
}

/* Whether the query at position q sees the key at position k (causal, within the window). */
__device__ __forceinline__ bool att_sees(int q, int k, int win) { return k <= q && (win <= 0 || q - k < win); }

/* The first tile (of size T) holding a key the query tile starting at q0 sees. */
__device__ __forceinline__ int first_tile(int q0, int win, int T) {
    return win > 0 && q0 >= win ? (q0 - win + 1) / T : 0;
}

/* One past the last query a key tile starting at k0 (T keys) is seen by, at most L. */
__device__ __forceinline__ int query_end(int k0, int T, int win, int L) {
    return win > 0 && k0 + T - 1 + win < L ? k0 + T - 1 + win : L;
}

__device__ __forceinline__ float dot_bf(const bf16 *a, const bf16 *b, int D) {
    float acc = 0.f;
    for (int d = 0; d < D; d++) acc += __bfloat162float(a[d]) * __bfloat162float(b[d]);
    return acc;
}

/* grid (query tile, query head, sequence) */
__global__ void __launch_bounds__(ATT_THREADS)
    attn_fwd_k(bf16 *out, float *lse, const bf16 *qkv, const int32_t *cu, int N, int max_seqlen, int Hq, int Hk, int D,
               float scale, float cap, int win, int *flag) {
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
    for (int kt = first_tile(q0, win, BC); kt < nkt; kt++) {
        int k0 = kt * BC, nk = L - k0 < BC ? L - k0 : BC;
        __syncthreads(); /* the previous tile's K, V, S are no longer read */
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, BC, nk, D);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, BC, nk, D);
        __syncthreads();
        for (int i = threadIdx.x; i < BR * BC; i += blockDim.x) {
            int r = i / BC, c = i % BC;
            float s = -INFINITY;
            if (r < nq && att_sees(q0 + r, k0 + c, win)) s = att_score(dot_bf(Qs + r * DP, Ks + c * DP, D), scale, cap);
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
              int N, int max_seqlen, int Hq, int Hk, int D, float scale, float cap, int win, int *flag) {
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
    for (int kt = first_tile(q0, win, BC); kt < nkt; kt++) {
        int k0 = kt * BC, nk = L - k0 < BC ? L - k0 : BC;
        __syncthreads();
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, BC, nk, D);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, BC, nk, D);
        __syncthreads();
        for (int i = threadIdx.x; i < BR * BC; i += blockDim.x) {
            int r = i / BC, c = i % BC;
            float ds = 0.f;
            if (r < nq && att_sees(q0 + r, k0 + c, win)) {
                float sc = att_score(dot_bf(Qs + r * DP, Ks + c * DP, D), scale, cap), p = expf(sc - lse_s[r]);
                ds = p * (dot_bf(dOs + r * DP, Vs + c * DP, D) - dl_s[r]) * softcap_slope(sc, cap);
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
               int N, int max_seqlen, int Hq, int Hk, int D, float scale, float cap, int win, int *flag) {
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
        for (int q0 = k0 - k0 % BR, qe = query_end(k0, BC, win, L); q0 < qe; q0 += BR) {
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
                if (r < nq && att_sees(q0 + r, k0 + c, win)) {
                    float sc = att_score(dot_bf(Qs + r * DP, Ks + c * DP, D), scale, cap);
                    p = expf(sc - lse_s[r]);
                    ds = p * (dot_bf(dOs + r * DP, Vs + c * DP, D) - dl_s[r]) * softcap_slope(sc, cap);
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


/* ================= tensor-core path (WMMA bf16 16x16x16, fp32 accumulate) =================
 * For D in {64, 128}. A block holds 64 queries (forward, dQ) or 64 keys (dK/dV); each of its
 * 4 warps owns 16 of those rows. Score tiles go through shared memory between the matrix
 * products (the WMMA fragment layout is opaque), so the softmax is plain per-row code: two
 * lanes per row, 32 columns each. Same algorithm and masking as the fp32 kernels above. */

namespace wmma = nvcuda::wmma;
enum { TQ = 64, TK = 64, TC_THREADS = 128, SSTR = TK + 4, PSTR = TK + 8 };
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> frag_bt; /* B = X^T, X row-major */
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> frag_b;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_c;

/* C[16 x 64] (fp32, ldc) = A[16 x D] * B[64 x D]^T, A and B bf16 rows in shared memory. */
template <int D> __device__ __forceinline__ void mm_abt(float *C, const bf16 *A, const bf16 *B) {
    const int DS = D + 8;
    frag_a a[D / 16];
RLC_UNROLL
    for (int k = 0; k < D / 16; k++) wmma::load_matrix_sync(a[k], A + k * 16, DS);
RLC_UNROLL
    for (int n = 0; n < TK / 16; n++) {
        frag_c c;
        wmma::fill_fragment(c, 0.f);
RLC_UNROLL
        for (int k = 0; k < D / 16; k++) {
            frag_bt b;
            wmma::load_matrix_sync(b, B + n * 16 * DS + k * 16, DS);
            wmma::mma_sync(c, a[k], b, c);
        }
        wmma::store_matrix_sync(C + n * 16, c, SSTR, wmma::mem_row_major);
    }
}

/* acc[j] += P[16 x 64] * X[64 x D] (column block j), P bf16 (stride PSTR), X bf16 rows. */
template <int D> __device__ __forceinline__ void mm_pv(frag_c *acc, const bf16 *P, const bf16 *X) {
    const int DS = D + 8;
RLC_UNROLL
    for (int k = 0; k < TK / 16; k++) {
        frag_a a;
        wmma::load_matrix_sync(a, P + k * 16, PSTR);
RLC_UNROLL
        for (int j = 0; j < D / 16; j++) {
            frag_b b;
            wmma::load_matrix_sync(b, X + k * 16 * DS + j * 16, DS);
            wmma::mma_sync(acc[j], a, b, acc[j]);
        }
    }
}

template <int D> static size_t tc_fwd_smem() {
    return (size_t)3 * TQ * (D + 8) * 2 + 4 * 16 * PSTR * 2 + 4 * 16 * SSTR * 4 + 4 * 16 * (D + 4) * 4 + 3 * TQ * 4;
}
template <int D> static size_t tc_dq_smem() {
    return (size_t)4 * TQ * (D + 8) * 2 + 4 * 16 * PSTR * 2 + 2 * 4 * 16 * SSTR * 4 + 4 * 16 * (D + 4) * 4 + 2 * TQ * 4;
}
template <int D> static size_t tc_dkv_smem() {
    return (size_t)4 * TQ * (D + 8) * 2 + 2 * 4 * 16 * PSTR * 2 + 2 * 4 * 16 * SSTR * 4 + 4 * 16 * (D + 4) * 4 +
           2 * TQ * 4;
}

/* grid (query tile of 64, query head, sequence) */
template <int D>
__global__ void __launch_bounds__(TC_THREADS)
    attn_fwd_tc_k(bf16 *out, float *lse, const bf16 *qkv, const int32_t *cu, int N, int max_seqlen, int Hq, int Hk,
                  float scale, float cap, int win, int *flag) {
    const int DS = D + 8, OS = D + 4;
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int q0 = blockIdx.x * TQ, h = blockIdx.y;
    if (q0 >= L) return;
    int kh = h / (Hq / Hk), w = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t W = (size_t)(Hq + 2 * Hk) * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Qs = (bf16 *)sm, *Ks = Qs + TQ * DS, *Vs = Ks + TK * DS, *P = Vs + TK * DS + w * 16 * PSTR;
    float *S = (float *)(Vs + TK * DS + 4 * 16 * PSTR) + w * 16 * SSTR;
    float *O = (float *)(Vs + TK * DS + 4 * 16 * PSTR) + 4 * 16 * SSTR + w * 16 * OS;
    float *ms = (float *)(Vs + TK * DS + 4 * 16 * PSTR) + 4 * 16 * SSTR + 4 * 16 * OS, *ls = ms + TQ, *as = ls + TQ;
    const bf16 *base = qkv + (size_t)start * W;
    int nq = L - q0 < TQ ? L - q0 : TQ;

    load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, TQ, nq, D, DS);
    for (int i = lane; i < 16 * OS; i += 32) O[i] = 0.f;
    if (threadIdx.x < TQ) {
        ms[threadIdx.x] = -INFINITY;
        ls[threadIdx.x] = 0.f;
    }
    const int r = lane >> 1, cb = (lane & 1) * 32, row = w * 16 + r, qp = q0 + row;
    int nkt = (q0 + nq - 1) / TK + 1;
    for (int kt = first_tile(q0, win, TK); kt < nkt; kt++) {
        int k0 = kt * TK, nk = L - k0 < TK ? L - k0 : TK;
        __syncthreads();
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, TK, nk, D, DS);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, TK, nk, D, DS);
        __syncthreads();
        mm_abt<D>(S, Qs + w * 16 * DS, Ks);
        __syncwarp();
        float mx = -INFINITY;
        for (int c = cb; c < cb + 32; c++) {
            float v = (qp < L && att_sees(qp, k0 + c, win)) ? att_score(S[r * SSTR + c], scale, cap) : -INFINITY;
            S[r * SSTR + c] = v;
            mx = fmaxf(mx, v);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mo = ms[row], mn = fmaxf(mo, mx), sum = 0.f;
        for (int c = cb; c < cb + 32; c++) {
            /* P V multiplies bf16 probabilities; the row sum (and so lse) stays exact fp32, as
             * in FlashAttention-2 */
            float pv = mn == -INFINITY ? 0.f : expf(S[r * SSTR + c] - mn);
            P[r * PSTR + c] = __float2bfloat16_rn(pv);
            sum += pv;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        float alpha = mn == -INFINITY ? 1.f : expf(mo - mn);
        __syncwarp(); /* both lanes of a row have read ms[row] */
        if ((lane & 1) == 0) {
            ls[row] = ls[row] * alpha + sum;
            ms[row] = mn;
            as[row] = alpha;
        }
        __syncwarp();
        for (int i = lane; i < 16 * D; i += 32) O[(i / D) * OS + i % D] *= as[w * 16 + i / D];
        __syncwarp();
        frag_c acc[D / 16];
RLC_UNROLL
        for (int j = 0; j < D / 16; j++) wmma::load_matrix_sync(acc[j], O + j * 16, OS, wmma::mem_row_major);
        mm_pv<D>(acc, P, Vs);
RLC_UNROLL
        for (int j = 0; j < D / 16; j++) wmma::store_matrix_sync(O + j * 16, acc[j], OS, wmma::mem_row_major);
        __syncwarp();
    }
    for (int i = lane; i < 16 * D; i += 32) {
        int rr = i / D, d = i % D, rw = w * 16 + rr;
        if (rw < nq)
            out[(size_t)(start + q0 + rw) * Hq * D + (size_t)h * D + d] = __float2bfloat16_rn(O[rr * OS + d] / ls[rw]);
    }
    if (lane < 16 && w * 16 + lane < nq)
        lse[(size_t)(start + q0 + w * 16 + lane) * Hq + h] = ms[w * 16 + lane] + logf(ls[w * 16 + lane]);
}

/* dQ for one (query tile of 64, query head, sequence). */
template <int D>
__global__ void __launch_bounds__(TC_THREADS)
    attn_dq_tc_k(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *delta,
                 const int32_t *cu, int N, int max_seqlen, int Hq, int Hk, float scale, float cap, int win,
                 int *flag) {
    const int DS = D + 8, OS = D + 4;
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int q0 = blockIdx.x * TQ, h = blockIdx.y;
    if (q0 >= L) return;
    int kh = h / (Hq / Hk), w = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t W = (size_t)(Hq + 2 * Hk) * D, WO = (size_t)Hq * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Qs = (bf16 *)sm, *dOs = Qs + TQ * DS, *Ks = dOs + TQ * DS, *Vs = Ks + TK * DS;
    bf16 *P = Vs + TK * DS + w * 16 * PSTR;
    float *fb = (float *)(Vs + TK * DS + 4 * 16 * PSTR);
    float *S = fb + w * 16 * SSTR, *dP = fb + 4 * 16 * SSTR + w * 16 * SSTR;
    float *Stg = fb + 8 * 16 * SSTR + w * 16 * OS, *lse_s = fb + 8 * 16 * SSTR + 4 * 16 * OS, *dl_s = lse_s + TQ;
    const bf16 *base = qkv + (size_t)start * W;
    int nq = L - q0 < TQ ? L - q0 : TQ;

    load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, TQ, nq, D, DS);
    load_tile(dOs, dout + (size_t)(start + q0) * WO + (size_t)h * D, WO, TQ, nq, D, DS);
    if (threadIdx.x < TQ) {
        bool ok = (int)threadIdx.x < nq;
        size_t rw = (size_t)(start + q0 + threadIdx.x) * Hq + h;
        lse_s[threadIdx.x] = ok ? lse[rw] : 0.f;
        dl_s[threadIdx.x] = ok ? delta[rw] : 0.f;
    }
    frag_c dq[D / 16];
RLC_UNROLL
    for (int j = 0; j < D / 16; j++) wmma::fill_fragment(dq[j], 0.f);
    const int r = lane >> 1, cb = (lane & 1) * 32, row = w * 16 + r, qp = q0 + row;
    int nkt = (q0 + nq - 1) / TK + 1;
    for (int kt = first_tile(q0, win, TK); kt < nkt; kt++) {
        int k0 = kt * TK, nk = L - k0 < TK ? L - k0 : TK;
        __syncthreads();
        load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, TK, nk, D, DS);
        load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, TK, nk, D, DS);
        __syncthreads();
        mm_abt<D>(S, Qs + w * 16 * DS, Ks);
        mm_abt<D>(dP, dOs + w * 16 * DS, Vs);
        __syncwarp();
        for (int c = cb; c < cb + 32; c++) {
            float ds = 0.f;
            if (qp < L && att_sees(qp, k0 + c, win)) {
                float sc = att_score(S[r * SSTR + c], scale, cap), p = expf(sc - lse_s[row]);
                ds = p * (dP[r * SSTR + c] - dl_s[row]) * softcap_slope(sc, cap);
            }
            P[r * PSTR + c] = __float2bfloat16_rn(ds);
        }
        __syncwarp();
        mm_pv<D>(dq, P, Ks);
    }
RLC_UNROLL
    for (int j = 0; j < D / 16; j++) wmma::store_matrix_sync(Stg + j * 16, dq[j], OS, wmma::mem_row_major);
    __syncwarp();
    for (int i = lane; i < 16 * D; i += 32) {
        int rr = i / D, d = i % D, rw = w * 16 + rr;
        if (rw < nq)
            dqkv[(size_t)(start + q0 + rw) * W + (size_t)h * D + d] = __float2bfloat16_rn(scale * Stg[rr * OS + d]);
    }
}

/* Write a warp's 16 x D accumulator rows (times s) as bf16 rows of stride ld, at most `valid`
 * rows, through the warp's staging tile. The array is taken by reference so that, inlined, it
 * stays in registers. */
template <int D>
__device__ __forceinline__ void tc_store_rows(frag_c (&acc)[D / 16], float *Stg, bf16 *dst, size_t ld, int valid,
                                              float s) {
    const int OS = D + 4, lane = threadIdx.x % 32;
    dst += (size_t)(threadIdx.x / 32) * 16 * ld;
RLC_UNROLL
    for (int j = 0; j < D / 16; j++) wmma::store_matrix_sync(Stg + j * 16, acc[j], OS, wmma::mem_row_major);
    __syncwarp();
    for (int i = lane; i < 16 * D; i += 32)
        if (i / D < valid) dst[(size_t)(i / D) * ld + i % D] = __float2bfloat16_rn(s * Stg[(i / D) * OS + i % D]);
    __syncwarp();
}

/* dK, dV for one (key tile of 64, kv head, sequence), over every query head of the group and
 * every query tile at or after the key tile. Warp w owns keys k0 + 16w .. k0 + 16w + 15 and
 * works on transposed tiles: S^T = K Q^T, dP^T = V dO^T, dV += P^T dO, dK += dS^T Q. */
template <int D>
__global__ void __launch_bounds__(TC_THREADS)
    attn_dkv_tc_k(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *delta,
                  const int32_t *cu, int N, int max_seqlen, int Hq, int Hk, float scale, float cap, int win,
                  int *flag) {
    const int DS = D + 8, OS = D + 4;
    int start, L;
    if (!seq_range(cu, blockIdx.z, N, max_seqlen, &start, &L, flag)) return;
    int k0 = blockIdx.x * TK, kh = blockIdx.y;
    if (k0 >= L) return;
    int G = Hq / Hk, w = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t W = (size_t)(Hq + 2 * Hk) * D, WO = (size_t)Hq * D;
    RLC_DYN_SMEM(unsigned char, sm);
    bf16 *Ks = (bf16 *)sm, *Vs = Ks + TK * DS, *Qs = Vs + TK * DS, *dOs = Qs + TQ * DS;
    bf16 *Pt = dOs + TQ * DS + w * 16 * PSTR, *dSt = dOs + TQ * DS + 4 * 16 * PSTR + w * 16 * PSTR;
    float *fb = (float *)(dOs + TQ * DS + 8 * 16 * PSTR);
    float *St = fb + w * 16 * SSTR, *dPt = fb + 4 * 16 * SSTR + w * 16 * SSTR;
    float *Stg = fb + 8 * 16 * SSTR + w * 16 * OS, *lse_s = fb + 8 * 16 * SSTR + 4 * 16 * OS, *dl_s = lse_s + TQ;
    const bf16 *base = qkv + (size_t)start * W;
    int nk = L - k0 < TK ? L - k0 : TK;

    load_tile(Ks, base + (size_t)k0 * W + (size_t)(Hq + kh) * D, W, TK, nk, D, DS);
    load_tile(Vs, base + (size_t)k0 * W + (size_t)(Hq + Hk + kh) * D, W, TK, nk, D, DS);
    frag_c dk[D / 16], dv[D / 16];
RLC_UNROLL
    for (int j = 0; j < D / 16; j++) {
        wmma::fill_fragment(dk[j], 0.f);
        wmma::fill_fragment(dv[j], 0.f);
    }
    const int r = lane >> 1, cb = (lane & 1) * 32, kp = k0 + w * 16 + r;
    for (int g = 0; g < G; g++) {
        int h = kh * G + g;
        for (int q0 = k0 - k0 % TQ, qe = query_end(k0, TK, win, L); q0 < qe; q0 += TQ) {
            int nq = L - q0 < TQ ? L - q0 : TQ;
            __syncthreads();
            load_tile(Qs, base + (size_t)q0 * W + (size_t)h * D, W, TQ, nq, D, DS);
            load_tile(dOs, dout + (size_t)(start + q0) * WO + (size_t)h * D, WO, TQ, nq, D, DS);
            if (threadIdx.x < TQ) {
                bool ok = (int)threadIdx.x < nq;
                size_t rw = (size_t)(start + q0 + threadIdx.x) * Hq + h;
                lse_s[threadIdx.x] = ok ? lse[rw] : 0.f;
                dl_s[threadIdx.x] = ok ? delta[rw] : 0.f;
            }
            __syncthreads();
            mm_abt<D>(St, Ks + w * 16 * DS, Qs);
            mm_abt<D>(dPt, Vs + w * 16 * DS, dOs);
            __syncwarp();
            for (int c = cb; c < cb + 32; c++) {
                float p = 0.f, ds = 0.f;
                if (c < nq && att_sees(q0 + c, kp, win)) { /* also excludes keys at or beyond L */
                    float sc = att_score(St[r * SSTR + c], scale, cap);
                    p = expf(sc - lse_s[c]);
                    ds = p * (dPt[r * SSTR + c] - dl_s[c]) * softcap_slope(sc, cap);
                }
                Pt[r * PSTR + c] = __float2bfloat16_rn(p);
                dSt[r * PSTR + c] = __float2bfloat16_rn(ds);
            }
            __syncwarp();
            mm_pv<D>(dv, Pt, dOs);
            mm_pv<D>(dk, dSt, Qs);
        }
    }
    tc_store_rows<D>(dk, Stg, dqkv + (size_t)(start + k0) * W + (size_t)(Hq + kh) * D, W, nk - w * 16, scale);
    tc_store_rows<D>(dv, Stg, dqkv + (size_t)(start + k0) * W + (size_t)(Hq + Hk + kh) * D, W, nk - w * 16, 1.f);
}

template <int D>
static void tc_fwd(cu_impl *im, void *out, float *lse, const void *qkv, const int32_t *cu, int nseq, int max_seqlen,
                   int N, int Hq, int Hk, float scale, float cap, int win) {
    size_t smem = tc_fwd_smem<D>();
    if (smem_allow(im, attn_fwd_tc_k<D>, smem, "attention")) return;
    dim3 grid(cdiv(max_seqlen, TQ), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_fwd_tc_k<D>, grid, TC_THREADS, smem, im->stream, (bf16 *)out, lse, (const bf16 *)qkv, cu, N,
               max_seqlen, Hq, Hk, scale, cap, win, im->d_flag);
    LAUNCH_CHECK(im);
}

template <int D>
static void tc_bwd(cu_impl *im, void *dqkv, const void *dout, const void *qkv, const float *lse, const float *delta,
                   const int32_t *cu, int nseq, int max_seqlen, int N, int Hq, int Hk, float scale, float cap,
                   int win) {
    size_t s1 = tc_dq_smem<D>(), s2 = tc_dkv_smem<D>();
    if (smem_allow(im, attn_dq_tc_k<D>, s1, "attention backward")) return;
    if (smem_allow(im, attn_dkv_tc_k<D>, s2, "attention backward")) return;
    dim3 gq(cdiv(max_seqlen, TQ), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_dq_tc_k<D>, gq, TC_THREADS, s1, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv,
               lse, delta, cu, N, max_seqlen, Hq, Hk, scale, cap, win, im->d_flag);
    LAUNCH_CHECK(im);
    dim3 gk(cdiv(max_seqlen, TK), (unsigned)Hk, (unsigned)nseq);
    RLC_LAUNCH(attn_dkv_tc_k<D>, gk, TC_THREADS, s2, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv,
               lse, delta, cu, N, max_seqlen, Hq, Hk, scale, cap, win, im->d_flag);
    LAUNCH_CHECK(im);
}

/* The tensor-core kernels take head sizes 64 and 128 unless RLC_CUDA_ATTN=simple. */
static bool use_tc(cu_impl *im, int D) { return !im->attn_simple && (D == 64 || D == 128); }

/* Shape checks shared by forward and backward; 0 ok. */
static int attn_check(cu_impl *im, const char *who, int nseq, int Hq, int Hk, int D) {
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
    return 0;
}

void cu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                      int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    size_t smem = fwd_smem(D);
    if (attn_check(im, "attention", nseq, Hq, Hk, D)) return;
    /* Rows outside every sequence (if cu_seqlens[nseq] < N) read as zeros, never garbage. */
    CUDA_CHECK(im, cudaMemsetAsync(out, 0, (size_t)N * Hq * D * sizeof(bf16), im->stream));
    CUDA_CHECK(im, cudaMemsetAsync(lse, 0, (size_t)N * Hq * sizeof(float), im->stream));
    if (nseq <= 0 || max_seqlen <= 0) return;
    if (use_tc(im, D)) {
        if (D == 64)
            tc_fwd<64>(im, out, lse, qkv, cu_seqlens, nseq, max_seqlen, N, Hq, Hk, scale, softcap, window);
        else
            tc_fwd<128>(im, out, lse, qkv, cu_seqlens, nseq, max_seqlen, N, Hq, Hk, scale, softcap, window);
        return;
    }
    if (smem_allow(im, attn_fwd_k, smem, "attention")) return;
    dim3 grid(cdiv(max_seqlen, BR), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_fwd_k, grid, ATT_THREADS, smem, im->stream, (bf16 *)out, lse, (const bf16 *)qkv, cu_seqlens, N,
               max_seqlen, Hq, Hk, D, scale, softcap, window, im->d_flag);
    LAUNCH_CHECK(im);
}

void cu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                      const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                      int D, float scale, float softcap, int window) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    size_t s1 = dq_smem(D), s2 = dkv_smem(D);
    if (attn_check(im, "attention backward", nseq, Hq, Hk, D)) return;
    CUDA_CHECK(im, cudaMemsetAsync(dqkv, 0, (size_t)N * (Hq + 2 * Hk) * D * sizeof(bf16), im->stream));
    if (nseq <= 0 || max_seqlen <= 0) return;
    float *delta = (float *)cu_scratch(im, (size_t)N * Hq * sizeof(float), "attention backward");
    if (!delta) return;
    size_t rows = (size_t)N * Hq;
    RLC_LAUNCH(attn_delta_k, cdiv(rows, 8), 256, 0, im->stream, delta, (const bf16 *)dout, (const bf16 *)out, N, Hq,
               D);
    LAUNCH_CHECK(im);
    if (use_tc(im, D)) {
        if (D == 64)
            tc_bwd<64>(im, dqkv, dout, qkv, lse, delta, cu_seqlens, nseq, max_seqlen, N, Hq, Hk, scale, softcap,
                       window);
        else
            tc_bwd<128>(im, dqkv, dout, qkv, lse, delta, cu_seqlens, nseq, max_seqlen, N, Hq, Hk, scale, softcap,
                        window);
        return;
    }
    if (smem_allow(im, attn_dq_k, s1, "attention backward")) return;
    if (smem_allow(im, attn_dkv_k, s2, "attention backward")) return;
    dim3 gq(cdiv(max_seqlen, BR), (unsigned)Hq, (unsigned)nseq);
    RLC_LAUNCH(attn_dq_k, gq, ATT_THREADS, s1, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
               delta, cu_seqlens, N, max_seqlen, Hq, Hk, D, scale, softcap, window, im->d_flag);
    LAUNCH_CHECK(im);
    dim3 gk(cdiv(max_seqlen, BC), (unsigned)Hk, (unsigned)nseq);
    RLC_LAUNCH(attn_dkv_k, gk, ATT_THREADS, s2, im->stream, (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
               delta, cu_seqlens, N, max_seqlen, Hq, Hk, D, scale, softcap, window, im->d_flag);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
