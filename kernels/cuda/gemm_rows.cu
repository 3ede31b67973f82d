/* Row-invariant matmul (SIMT, no tensor cores): one warp computes a tile of R rows × C
 * columns, each lane reading 16-byte chunks (8 bf16) of the C weight rows and the R input
 * rows, so a weight chunk loaded once serves R rows from registers. The summation order of
 * out[n, o] is fixed by IC alone:
 *   lane l (0..31) keeps one fp32 sum s_l, fmaf over k = 8q + j for chunks q ≡ l (mod 32) in
 *   increasing q, j = 0..7 within a chunk; then, for IC % 8 != 0, lane l < IC % 8 adds
 *   k = 8·⌊IC/8⌋ + l; then the butterfly s += shfl_xor(s, 16, 8, 4, 2, 1); then + bias[o].
 * R, C, the grid and whether loads are vector or scalar (alignment) vary with the call but
 * never touch that order: no split-K, no atomics, no cross-row reduction. The price is SIMT
 * fp32 FMA throughput: fine while decode is weight-bandwidth bound (small N), several times
 * slower than cuBLASLt's tensor cores for large prefill chunks.
 * Exports: cu_gemm_rows. */
#include "kernels/cuda/gemm_rows.cuh"

#include <string.h>

namespace RLC_CU_NS {

enum { GR_WARPS = 4, GR_THREADS = GR_WARPS * 32 };

#ifdef RLC_CUDA_EMU
struct alignas(16) gr_u32x4 {
    uint32_t x, y, z, w;
};
__device__ __forceinline__ float gr_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
#else
typedef uint4 gr_u32x4;
__device__ __forceinline__ float gr_bits(uint32_t u) { return __uint_as_float(u); }
#endif

/* Two bf16 packed in a little-endian word: element 2i in the low half. Exact conversions. */
__device__ __forceinline__ void gr_unpack(float *f, uint32_t u) {
    f[0] = gr_bits(u << 16);
    f[1] = gr_bits(u & 0xffff0000u);
}

/* The 8 elements of a chunk as floats (the same values whichever load is used). */
template <bool VEC> __device__ __forceinline__ void gr_load8(float *f, const bf16 *p) {
    if (VEC) {
        gr_u32x4 v = *(const gr_u32x4 *)p;
        gr_unpack(f, v.x);
        gr_unpack(f + 2, v.y);
        gr_unpack(f + 4, v.z);
        gr_unpack(f + 6, v.w);
    } else {
RLC_UNROLL
        for (int j = 0; j < 8; j++) f[j] = __bfloat162float(p[j]);
    }
}

__device__ __forceinline__ void gr_store(float *p, float v) { *p = v; }
__device__ __forceinline__ void gr_store(bf16 *p, float v) { *p = __float2bfloat16_rn(v); }

__host__ __device__ constexpr int gr_log2(int n) { return n > 1 ? 1 + gr_log2(n / 2) : 0; }

/* Butterfly sums of NV (a power of two <= 32) values at once, with half the values handed to
 * the partner at each of the first log2(NV) levels: NV - 1 + 5 - log2(NV) shuffles instead
 * of 5 NV. Every value still gets the tree of warp_sum — level o adds the partial of lane
 * l ^ o to that of lane l, for o = 16, 8, 4, 2, 1 — and IEEE addition is commutative, so
 * the bits are warp_sum's whatever NV is. On return v[0] of lane l is the total of value
 * l >> (5 - log2(NV)). */
template <int NV, int O = 16> __device__ __forceinline__ void gr_reduce(float *v, int lane) {
    if constexpr (NV > 1) {
        constexpr int H = NV / 2;
        const bool up = (lane & O) != 0;
RLC_UNROLL
        for (int i = 0; i < H; i++) {
            const float keep = up ? v[i + H] : v[i], send = up ? v[i] : v[i + H];
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, O);
        }
        if constexpr (O > 1) gr_reduce<H, O / 2>(v, lane);
    } else {
        v[0] += __shfl_xor_sync(0xffffffffu, v[0], O);
        if constexpr (O > 1) gr_reduce<1, O / 2>(v, lane);
    }
}

/* Warp items it = tile + ntiles * group: consecutive warps share a column group (its weight
 * rows stay hot in L1/L2) and walk the row tiles. */
template <int R, int C, bool VEC, class OutT>
__global__ void __launch_bounds__(GR_THREADS)
    gemm_rows_k(OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC, int OC, int ntiles,
                long long nitems) {
    const int lane = (int)(threadIdx.x % 32);
    const int nq = IC / 8, tail = IC - 8 * nq;
    for (long long it = (long long)blockIdx.x * GR_WARPS + threadIdx.x / 32; it < nitems;
         it += (long long)gridDim.x * GR_WARPS) {
        const int n0 = (int)(it % ntiles) * R, o0 = (int)(it / ntiles) * C;
        const bf16 *xr[R], *wr[C];
RLC_UNROLL
        for (int r = 0; r < R; r++) /* rows past N repeat the last row; never stored */
            xr[r] = inp + (size_t)(n0 + r < N ? n0 + r : N - 1) * IC;
RLC_UNROLL
        for (int c = 0; c < C; c++) wr[c] = w + (size_t)(o0 + c < OC ? o0 + c : OC - 1) * IC;
        float acc[R][C];
RLC_UNROLL
        for (int r = 0; r < R; r++)
RLC_UNROLL
            for (int c = 0; c < C; c++) acc[r][c] = 0.f;
#ifndef RLC_CUDA_EMU /* more loads in flight where registers allow (the order of the sums is unchanged) */
#pragma unroll(R * C <= 4 ? 4 : R * C <= 8 ? 2 : 1)
#endif
        for (int q = lane; q < nq; q += 32) {
            float wv[C][8];
RLC_UNROLL
            for (int c = 0; c < C; c++) gr_load8<VEC>(wv[c], wr[c] + 8 * q);
RLC_UNROLL
            for (int r = 0; r < R; r++) {
                float xv[8];
                gr_load8<VEC>(xv, xr[r] + 8 * q);
RLC_UNROLL
                for (int c = 0; c < C; c++)
RLC_UNROLL
                    for (int j = 0; j < 8; j++) acc[r][c] = fmaf(xv[j], wv[c][j], acc[r][c]);
            }
        }
        if (lane < tail) {
            const int k = 8 * nq + lane;
RLC_UNROLL
            for (int r = 0; r < R; r++) {
                float x = __bfloat162float(xr[r][k]);
RLC_UNROLL
                for (int c = 0; c < C; c++) acc[r][c] = fmaf(x, __bfloat162float(wr[c][k]), acc[r][c]);
            }
        }
        float v[R * C];
RLC_UNROLL
        for (int r = 0; r < R; r++)
RLC_UNROLL
            for (int c = 0; c < C; c++) v[r * C + c] = acc[r][c];
        gr_reduce<R * C>(v, lane);
        constexpr int SH = 5 - gr_log2(R * C); /* 2^SH lanes hold each total; the first stores */
        const int idx = lane >> SH, n = n0 + idx / C, o = o0 + idx % C;
        if ((lane & ((1 << SH) - 1)) == 0 && n < N && o < OC) {
            float t = v[0];
            if (bias) t += __bfloat162float(bias[o]);
            gr_store(out + (size_t)n * OC + o, t);
        }
    }
}

template <int R, int C, class OutT>
static void gr_launch(cu_impl *im, OutT *out, bool vec, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                      int IC, int OC) {
    const int ntiles = (N + R - 1) / R;
    const long long nitems = (long long)ntiles * ((OC + C - 1) / C);
    long long blocks = (nitems + GR_WARPS - 1) / GR_WARPS;
    if (blocks > 65535LL * 8) blocks = 65535LL * 8; /* the warps loop over the rest */
    if (vec)
        RLC_LAUNCH((gemm_rows_k<R, C, true, OutT>), (unsigned)blocks, GR_THREADS, 0, im->stream, out, inp, w, bias, N,
                   IC, OC, ntiles, nitems);
    else
        RLC_LAUNCH((gemm_rows_k<R, C, false, OutT>), (unsigned)blocks, GR_THREADS, 0, im->stream, out, inp, w, bias,
                   N, IC, OC, ntiles, nitems);
    LAUNCH_CHECK(im);
}

template <int R, class OutT>
static void gr_pick_c(cu_impl *im, int C, OutT *out, bool vec, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                      int IC, int OC) {
    if (C == 4)
        gr_launch<R, 4>(im, out, vec, inp, w, bias, N, IC, OC);
    else if (C == 2)
        gr_launch<R, 2>(im, out, vec, inp, w, bias, N, IC, OC);
    else
        gr_launch<R, 1>(im, out, vec, inp, w, bias, N, IC, OC);
}

template <class OutT>
static void gr_dispatch(cu_impl *im, OutT *out, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC,
                        int OC) {
    /* Rows per tile: each weight chunk is reused R times from registers, so at most
     * ceil(N/R) passes read the weights. Columns per warp: as many (up to 4, amortizing the
     * input loads) as still leave ~16 warps per SM to keep the memory system busy. Neither
     * changes any sum. */
    const int R = N >= 5 ? 8 : N >= 3 ? 4 : N;
    const long long tiles = (N + R - 1) / R, target = 16LL * (im->sm_count > 0 ? im->sm_count : 1);
    int C = 4;
    while (C > 1 && tiles * ((OC + C - 1) / C) < target) C >>= 1;
    const bool vec = IC % 8 == 0 && (uintptr_t)inp % 16 == 0 && (uintptr_t)w % 16 == 0;
    switch (R) {
    case 1: gr_pick_c<1>(im, C, out, vec, inp, w, bias, N, IC, OC); break;
    case 2: gr_pick_c<2>(im, C, out, vec, inp, w, bias, N, IC, OC); break;
    case 4: gr_pick_c<4>(im, C, out, vec, inp, w, bias, N, IC, OC); break;
    default: gr_pick_c<8>(im, C, out, vec, inp, w, bias, N, IC, OC); break;
    }
}

void cu_gemm_rows(cu_impl *im, void *out, bool out_f32, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                  int IC, int OC) {
    if (out_f32)
        gr_dispatch(im, (float *)out, inp, w, bias, N, IC, OC);
    else
        gr_dispatch(im, (bf16 *)out, inp, w, bias, N, IC, OC);
}

} // namespace RLC_CU_NS
