/* Row-invariant matmul on tensor cores (WMMA bf16 m16n16k16, fp32 accumulator fragments):
 * out[N,OC] = inp[N,IC] · w[OC,IC]^T (+ bias), the alternative to gemm_rows.cu's SIMT kernel
 * behind RLC_CUDA_ROWINV=tc. Every output element is computed in one order fixed by IC alone:
 *
 *   K is cut into nk = ceil(IC/16) chunks of 16 (the last zero-padded past IC), and the chunks
 *   into S = cu_rowinv_splits(IC) segments, segment s = chunks [s·nk/S, (s+1)·nk/S).
 *   P_s = one WMMA accumulation chain over the chunks of segment s in increasing order,
 *   starting from a zero fragment: acc = mma(A_chunk, B_chunk, acc).
 *   out[n, o] = (((P_0 + P_1) + P_2) + ... + P_{S-1}) [+ bias[o]], in fp32, rounded once.
 *
 * Why that makes a row's bits independent of the batch: an MMA's result for element (i, j) is
 * a function of row i of A, column j of B and accumulator element (i, j) only — the tensor
 * core computes one dot product per output element, and nothing of the other rows or columns
 * enters it. Row i of A is input row n (or zeros), column j of B is weight row o (or zeros),
 * and the accumulator element is the previous step of the same element's chain, so by
 * induction every P_s[n, o] depends on input row n, weight row o and IC only; so do the fixed
 * fp32 sum over s and the bias added after it. Rows past N, columns past OC and the K tail
 * past IC enter as zeros staged in shared memory, and affect only their own (discarded)
 * outputs. What varies with N and the device — the tile a row falls into, its position in
 * the tile, the grid, the launch shape, vector vs scalar staging loads (weight views into
 * the parameter buffer may be only 2-byte aligned) — changes which thread does the work and
 * how the data arrives, never that arithmetic. S depends on IC alone, never on N.
 *
 * Two launch shapes compute it (chosen per call from N, OC and the SM count; both give the
 * same bits, which the tests check):
 *   split  (small N): a block owns a 16·FM × 16 output tile and has S warps, warp s computes
 *          P_s over its own segment (its own staging, only __syncwarp in its K loop), and the
 *          block adds the partials through shared memory in the order s = 0, 1, ... . At N = 1
 *          the weights are read once by OC/16 · S independent warps.
 *   tile   (large N): a block owns a 64 × 64 tile, 4 warps of 32 × 32 (2 × 2 fragments) share
 *          the staged input and weight tiles, the K loop walks all chunks in order and folds
 *          the running partial into the total at each segment boundary (elementwise on
 *          fragments of one type: T = P_0, then T = T + P_s).
 * Staging: global -> registers (16-byte loads, or eight 2-byte loads where alignment or IC
 * forbids) -> shared memory, the next stage's loads issued before the current stage's MMAs.
 * Exports: cu_gemm_rows_tc, cu_rowinv_splits. */
#include "kernels/cuda/gemm_rows_tc.cuh"

#ifndef RLC_CUDA_EMU
#include <mma.h>
#endif

namespace RLC_CU_NS {

namespace wmma = nvcuda::wmma;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> gt_fa;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> gt_fb; /* B = W^T, W rows in smem */
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> gt_fc;

/* Segments have at least GT_SEG_CHUNKS chunks (128 elements) and there are at most
 * GT_MAX_SPLIT of them (one warp each in the split shape). Changing either changes the bits
 * of every row-invariant result (not their invariance). */
enum { GT_SEG_CHUNKS = 8, GT_MAX_SPLIT = 16 };

__host__ __device__ __forceinline__ int gt_nsplit(int nk) {
    const int s = nk / GT_SEG_CHUNKS;
    return s < 1 ? 1 : s > GT_MAX_SPLIT ? GT_MAX_SPLIT : s;
}
/* First chunk of segment s (s = S gives nk). */
__host__ __device__ __forceinline__ int gt_seg(int s, int nk, int S) { return (int)((long long)s * nk / S); }

int cu_rowinv_splits(int IC) { return gt_nsplit((IC + 15) / 16); }

#ifdef RLC_CUDA_EMU
struct alignas(16) gt_u4 {
    uint32_t x, y, z, w;
};
#else
typedef uint4 gt_u4;
#endif

/* Elements k .. k+7 of a row (zeros at and past kend, or for a missing row). VEC: one 16-byte
 * load, valid when the row and k are 16-byte aligned and kend % 8 == 0 (all 8 or none). */
template <bool VEC> __device__ __forceinline__ gt_u4 gt_load8(const bf16 *row, int k, int kend) {
    gt_u4 v;
    v.x = v.y = v.z = v.w = 0u;
    if (!row || k >= kend) return v;
    if constexpr (VEC) {
        v = *(const gt_u4 *)(row + k);
    } else {
        const uint16_t *p = (const uint16_t *)(row + k);
        uint32_t h[8];
RLC_UNROLL
        for (int j = 0; j < 8; j++) h[j] = k + j < kend ? (uint32_t)p[j] : 0u;
        v.x = h[0] | h[1] << 16;
        v.y = h[2] | h[3] << 16;
        v.z = h[4] | h[5] << 16;
        v.w = h[6] | h[7] << 16;
    }
    return v;
}

/* One stage of a K loop: RA rows of the input tile, then RB rows of the weight tile, the 16·KC
 * elements from k0 of each, as 8-element vectors spread over the T threads sharing the stage
 * (thread t takes vectors t, t + T, ...: consecutive threads read consecutive 16 bytes of a
 * row). Rows past N or OC and elements past kend are staged as zeros. load() issues the global
 * reads into registers, store() writes them to shared memory (rows of LDS elements). */
template <int RA, int RB, int KC, int T, bool VEC> struct gt_stage {
    enum { G = 2 * KC, NV = (RA + RB) * G / T, LDS = 16 * KC + 8 };
    static_assert((RA + RB) * G % T == 0, "a stage's vectors must spread evenly over the threads");
    gt_u4 v[NV];
    __device__ __forceinline__ void load(const bf16 *A, int arows, const bf16 *B, int brows, int IC, int k0, int kend,
                                         int t) {
RLC_UNROLL
        for (int i = 0; i < NV; i++) {
            const int idx = t + i * T, r = idx / G, k = k0 + 8 * (idx % G);
            const bf16 *row = r < RA ? (r < arows ? A + (size_t)r * IC : nullptr)
                                     : (r - RA < brows ? B + (size_t)(r - RA) * IC : nullptr);
            v[i] = gt_load8<VEC>(row, k, kend);
        }
    }
    __device__ __forceinline__ void store(bf16 *sA, bf16 *sB, int t) const {
RLC_UNROLL
        for (int i = 0; i < NV; i++) {
            const int idx = t + i * T, r = idx / G;
            bf16 *dst = (r < RA ? sA + r * LDS : sB + (r - RA) * LDS) + 8 * (idx % G);
            *(gt_u4 *)dst = v[i];
        }
    }
};

/* acc[i][j] += A-rows i · B-rows j over chunk kk of a staged window (one link of each chain). */
template <int FM, int FN, int LDS>
__device__ __forceinline__ void gt_mma(gt_fc (&acc)[FM][FN], const bf16 *sA, const bf16 *sB, int kk) {
    gt_fa a[FM];
    gt_fb b[FN];
RLC_UNROLL
    for (int i = 0; i < FM; i++) wmma::load_matrix_sync(a[i], sA + i * 16 * LDS + kk * 16, LDS);
RLC_UNROLL
    for (int j = 0; j < FN; j++) wmma::load_matrix_sync(b[j], sB + j * 16 * LDS + kk * 16, LDS);
RLC_UNROLL
    for (int i = 0; i < FM; i++)
RLC_UNROLL
        for (int j = 0; j < FN; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
}

/* End of segment s: T = P (s = 0) or T = T + P. Fragments of one type map elements alike, so
 * this is the elementwise sum of the two tiles. */
template <int FM, int FN> __device__ __forceinline__ void gt_fold(gt_fc (&T)[FM][FN], const gt_fc (&P)[FM][FN], int s) {
RLC_UNROLL
    for (int i = 0; i < FM; i++)
RLC_UNROLL
        for (int j = 0; j < FN; j++)
RLC_UNROLL
            for (int e = 0; e < (int)T[i][j].num_elements; e++)
                T[i][j].x[e] = s ? T[i][j].x[e] + P[i][j].x[e] : P[i][j].x[e];
}

template <class OutT> __device__ __forceinline__ void gt_out(OutT *out, const bf16 *bias, int n, int o, int OC, float t) {
    if (bias) t += __bfloat162float(bias[o]);
    stf(out + (size_t)n * OC + o, t);
}

/* ---------------------------------------------------------------- split shape */

template <int FM, int KC> struct gt_split_cfg {
    enum {
        BM = 16 * FM,
        BN = 16,
        LDS = 16 * KC + 8,
        STAGE = (BM + BN) * LDS * 2,
        PART = BM * BN * 4,
        WS = ((STAGE > PART ? STAGE : PART) + 127) / 128 * 128 /* shared memory per warp */
    };
};

/* Block = S warps on one BM × 16 tile; warp s computes P_s (staging window of KC chunks),
 * then the block sums the partials in segment order. Tile = blockIdx.x: row tile fastest. */
template <int FM, int KC, bool VEC, class OutT>
__global__ void __launch_bounds__(32 * GT_MAX_SPLIT)
    gt_split_k(OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC, int OC, int ntm) {
    typedef gt_split_cfg<FM, KC> C;
    RLC_DYN_SMEM(unsigned char, sm);
    const int S = (int)(blockDim.x / 32), g = (int)(threadIdx.x / 32), lane = (int)(threadIdx.x % 32);
    const int n0 = (int)(blockIdx.x % (unsigned)ntm) * C::BM, o0 = (int)(blockIdx.x / (unsigned)ntm) * C::BN;
    const int nk = (IC + 15) / 16, cs = gt_seg(g, nk, S), ce = gt_seg(g + 1, nk, S);
    const int kend = 16 * ce < IC ? 16 * ce : IC;
    bf16 *sA = (bf16 *)(sm + (size_t)g * C::WS), *sB = sA + C::BM * C::LDS;
    const bf16 *A = inp + (size_t)n0 * IC, *B = w + (size_t)o0 * IC;
    gt_fc acc[FM][1];
RLC_UNROLL
    for (int i = 0; i < FM; i++) wmma::fill_fragment(acc[i][0], 0.f);
    gt_stage<C::BM, C::BN, KC, 32, VEC> st;
    st.load(A, N - n0, B, OC - o0, IC, 16 * cs, kend, lane); /* every segment has >= 1 chunk */
    for (int c = cs; c < ce; c += KC) {
        st.store(sA, sB, lane);
        __syncwarp();
        if (c + KC < ce) st.load(A, N - n0, B, OC - o0, IC, 16 * (c + KC), kend, lane);
RLC_UNROLL
        for (int kk = 0; kk < KC; kk++)
            if (c + kk < ce) gt_mma<FM, 1, C::LDS>(acc, sA, sB, kk);
        __syncwarp(); /* every lane's fragment loads are done before the next store */
    }
    float *P = (float *)(sm + (size_t)g * C::WS); /* the warp's staging is free now */
RLC_UNROLL
    for (int i = 0; i < FM; i++) wmma::store_matrix_sync(P + i * 16 * C::BN, acc[i][0], C::BN, wmma::mem_row_major);
    __syncthreads();
    for (int e = (int)threadIdx.x; e < C::BM * C::BN; e += (int)blockDim.x) {
        const int n = n0 + e / C::BN, o = o0 + e % C::BN;
        if (n >= N || o >= OC) continue;
        float t = ((const float *)sm)[e];
        for (int s = 1; s < S; s++) t += ((const float *)(sm + (size_t)s * C::WS))[e];
        gt_out(out, bias, n, o, OC, t);
    }
}

/* ---------------------------------------------------------------- tile shape */

template <int WM, int WN, int FM, int FN, int KC> struct gt_tile_cfg {
    enum {
        BM = 16 * FM * WM,
        BN = 16 * FN * WN,
        T = 32 * WM * WN,
        LDS = 16 * KC + 8,
        STAGE = (BM + BN) * LDS * 2,
        EPI = BM * BN * 4, /* the output tile in fp32, per warp region, after the K loop */
        SMEM = STAGE > EPI ? STAGE : EPI
    };
};

/* Block = WM × WN warps on one BM × BN tile, each warp FM × FN fragments; one K loop over all
 * chunks, the partial folded into the total at each segment boundary. */
template <int WM, int WN, int FM, int FN, int KC, bool VEC, class OutT>
__global__ void __launch_bounds__(32 * WM * WN)
    gt_tile_k(OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC, int OC, int ntm) {
    typedef gt_tile_cfg<WM, WN, FM, FN, KC> C;
    RLC_DYN_SMEM(unsigned char, sm);
    const int tid = (int)threadIdx.x, warp = tid / 32, lane = tid % 32, wm = warp % WM, wn = warp / WM;
    const int n0 = (int)(blockIdx.x % (unsigned)ntm) * C::BM, o0 = (int)(blockIdx.x / (unsigned)ntm) * C::BN;
    const int nk = (IC + 15) / 16, S = gt_nsplit(nk);
    bf16 *sA = (bf16 *)sm, *sB = sA + C::BM * C::LDS;
    const bf16 *A = inp + (size_t)n0 * IC, *B = w + (size_t)o0 * IC;
    const bf16 *wA = sA + wm * FM * 16 * C::LDS, *wB = sB + wn * FN * 16 * C::LDS;
    gt_fc T[FM][FN], P[FM][FN];
RLC_UNROLL
    for (int i = 0; i < FM; i++)
RLC_UNROLL
        for (int j = 0; j < FN; j++) {
            wmma::fill_fragment(T[i][j], 0.f);
            wmma::fill_fragment(P[i][j], 0.f);
        }
    int s = 0, next = gt_seg(1, nk, S); /* current segment, first chunk of the next one */
    gt_stage<C::BM, C::BN, KC, C::T, VEC> st;
    st.load(A, N - n0, B, OC - o0, IC, 0, IC, tid);
    for (int c = 0; c < nk; c += KC) {
        st.store(sA, sB, tid);
        __syncthreads();
        if (c + KC < nk) st.load(A, N - n0, B, OC - o0, IC, 16 * (c + KC), IC, tid);
RLC_UNROLL
        for (int kk = 0; kk < KC; kk++) {
            const int q = c + kk;
            if (q >= nk) break;
            if (q == next) { /* segment boundary: fold, start the next chain from zero */
                gt_fold<FM, FN>(T, P, s);
                s++;
                next = gt_seg(s + 1, nk, S);
RLC_UNROLL
                for (int i = 0; i < FM; i++)
RLC_UNROLL
                    for (int j = 0; j < FN; j++) wmma::fill_fragment(P[i][j], 0.f);
            }
            gt_mma<FM, FN, C::LDS>(P, wA, wB, kk);
        }
        __syncthreads(); /* the stage is read before the next store overwrites it */
    }
    gt_fold<FM, FN>(T, P, s);
    constexpr int EW = 16 * FN, EH = 16 * FM;
    float *E = (float *)sm + (size_t)warp * EH * EW; /* staging is free after the last barrier */
RLC_UNROLL
    for (int i = 0; i < FM; i++)
RLC_UNROLL
        for (int j = 0; j < FN; j++)
            wmma::store_matrix_sync(E + i * 16 * EW + j * 16, T[i][j], EW, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < EH * EW; e += 32) {
        const int n = n0 + wm * EH + e / EW, o = o0 + wn * EW + e % EW;
        if (n < N && o < OC) gt_out(out, bias, n, o, OC, E[e]);
    }
}

/* ---------------------------------------------------------------- launch */

typedef gt_tile_cfg<2, 2, 2, 2, 2> gt_tile64; /* 64 × 64 tiles, 4 warps of 32 × 32 */

template <bool VEC, class OutT>
static void gt_tile(cu_impl *im, OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC, int OC) {
    const int ntm = (int)cdiv((size_t)N, gt_tile64::BM);
    const unsigned blocks = (unsigned)ntm * cdiv((size_t)OC, gt_tile64::BN);
    const size_t smem = gt_tile64::SMEM;
    if (smem_allow(im, gt_tile_k<2, 2, 2, 2, 2, VEC, OutT>, smem, "row-invariant matmul (tc)")) return;
    RLC_LAUNCH((gt_tile_k<2, 2, 2, 2, 2, VEC, OutT>), blocks, gt_tile64::T, smem, im->stream, out, inp, w, bias, N, IC,
               OC, ntm);
    LAUNCH_CHECK(im);
}

/* false: the S warps' shared memory does not fit the device (the caller takes the tile
 * shape, same bits). */
template <int FM, int KC, bool VEC, class OutT>
static bool gt_split(cu_impl *im, OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC,
                     int OC) {
    typedef gt_split_cfg<FM, KC> C;
    const int S = cu_rowinv_splits(IC);
    const size_t smem = (size_t)S * C::WS;
    if (smem > im->smem_optin) return false;
    const int ntm = (int)cdiv((size_t)N, C::BM);
    const unsigned blocks = (unsigned)ntm * cdiv((size_t)OC, C::BN);
    /* one opt-in value per kernel whatever S (launches of other IC never flip it) */
    const size_t most = (size_t)GT_MAX_SPLIT * C::WS;
    if (smem_allow(im, gt_split_k<FM, KC, VEC, OutT>, most <= im->smem_optin ? most : smem, "row-invariant matmul (tc)"))
        return true;
    RLC_LAUNCH((gt_split_k<FM, KC, VEC, OutT>), blocks, 32 * S, smem, im->stream, out, inp, w, bias, N, IC, OC, ntm);
    LAUNCH_CHECK(im);
    return true;
}

template <bool VEC, class OutT>
static void gt_dispatch(cu_impl *im, OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC,
                        int OC) {
    /* The shape only decides who computes what (see the top of the file). Tiles of 64 × 64
     * share each staged tile among 4 warps, which pays once N is large and the grid still
     * fills the device; otherwise split warps over K, 16 weight rows per block. The staging
     * window shrinks as the row tile grows, to keep S warps' shared memory moderate. */
    bool tile = im->rowinv == ROWINV_TC_TILE;
    if (im->rowinv == ROWINV_TC) {
        const long long tiles = (long long)cdiv((size_t)N, gt_tile64::BM) * cdiv((size_t)OC, gt_tile64::BN);
        tile = N > 32 && tiles >= 2LL * (im->sm_count > 0 ? im->sm_count : 1);
    }
    if (!tile) {
        const bool done = N <= 16   ? gt_split<1, 8, VEC>(im, out, inp, w, bias, N, IC, OC)
                          : N <= 32 ? gt_split<2, 4, VEC>(im, out, inp, w, bias, N, IC, OC)
                                    : gt_split<4, 2, VEC>(im, out, inp, w, bias, N, IC, OC);
        if (done) return;
    }
    gt_tile<VEC>(im, out, inp, w, bias, N, IC, OC);
}

template <class OutT>
static void gt_run(cu_impl *im, OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC, int OC) {
    if (IC % 8 == 0 && (uintptr_t)inp % 16 == 0 && (uintptr_t)w % 16 == 0)
        gt_dispatch<true>(im, out, inp, w, bias, N, IC, OC);
    else
        gt_dispatch<false>(im, out, inp, w, bias, N, IC, OC);
}

void cu_gemm_rows_tc(cu_impl *im, void *out, bool out_f32, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                     int IC, int OC) {
    if (out_f32)
        gt_run(im, (float *)out, inp, w, bias, N, IC, OC);
    else
        gt_run(im, (bf16 *)out, inp, w, bias, N, IC, OC);
}

} // namespace RLC_CU_NS
