/* RMSNorm: out = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps), one block per row, fp32
 * math on bf16 storage. The fused variant first forms resid = a + b (rounded to bf16, as it
 * is stored) and normalizes that. The weight gradient is reduced without atomics: each block
 * keeps a partial over its rows in shared memory, then a second kernel adds the partials in
 * block order. Qwen3's per-head form (cu_qk_norm_fwd/bwd) normalizes each query and key head
 * of the qkv rows in place, one block per (row, head) forward and the same partials backward.
 * Every norm scales by w + off in fp32 (off = be->norm_offset: Gemma's 1 + w).
 * Exports: cu_rmsnorm_fwd, cu_residual_rmsnorm_fwd, cu_rmsnorm_bwd, cu_colsum_add,
 * cu_qk_norm_fwd, cu_qk_norm_bwd. */
#include "kernels/cuda/rmsnorm.cuh"

namespace RLC_CU_NS {

enum { NORM_THREADS = 256, PART_ROWS_MAX = 256 };

template <bool RESID>
__global__ void rmsnorm_fwd_k(bf16 *resid, bf16 *out, float *rstd, const bf16 *a, const bf16 *b, const bf16 *w,
                              int C, float eps, float off) {
    __shared__ float sh[32];
    size_t row = (size_t)blockIdx.x * C;
    const bf16 *x = RESID ? resid + row : a + row;
    float ss = 0.f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v;
        if (RESID) {
            v = round_bf(__bfloat162float(a[row + c]) + __bfloat162float(b[row + c]));
            resid[row + c] = __float2bfloat16_rn(v);
        } else {
            v = __bfloat162float(x[c]);
        }
        ss += v * v;
    }
    ss = block_sum(ss, sh);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    /* Each thread re-reads only the columns it wrote itself, so no barrier is needed. */
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        out[row + c] = __float2bfloat16_rn(__bfloat162float(x[c]) * r * (__bfloat162float(w[c]) + off));
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}
RLC_STATIC_SMEM(32 * sizeof(float), rmsnorm_fwd_k<true>);
RLC_STATIC_SMEM(32 * sizeof(float), rmsnorm_fwd_k<false>);

/* Block b handles rows b, b+gridDim.x, ...: dinp += dx (bf16), part[b, :] = its dw partial.
 * dx = r*w*dy - x * r^3 * sum(dy*w*x) / C. */
__global__ void rmsnorm_bwd_k(bf16 *dinp, float *part, const bf16 *dout, const bf16 *inp, const bf16 *w,
                              const float *rstd, int N, int C, float off) {
    __shared__ float sh[32];
    RLC_DYN_SMEM(float, dwp);
    for (int c = threadIdx.x; c < C; c += blockDim.x) dwp[c] = 0.f;
    for (int n = blockIdx.x; n < N; n += gridDim.x) {
        size_t row = (size_t)n * C;
        float r = rstd[n];
        float dot = 0.f;
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            dot += __bfloat162float(dout[row + c]) * (__bfloat162float(w[c]) + off) * __bfloat162float(inp[row + c]);
        dot = block_sum(dot, sh);
        float k = r * r * r * dot / (float)C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float dy = __bfloat162float(dout[row + c]), x = __bfloat162float(inp[row + c]);
            float dx = r * (__bfloat162float(w[c]) + off) * dy - x * k;
            dinp[row + c] = __float2bfloat16_rn(__bfloat162float(dinp[row + c]) + dx);
            dwp[c] += dy * x * r;
        }
    }
    for (int c = threadIdx.x; c < C; c += blockDim.x) part[(size_t)blockIdx.x * C + c] = dwp[c];
}
RLC_STATIC_SMEM(32 * sizeof(float), rmsnorm_bwd_k);

/* dst[c] += sum_p part[p, c] for p = 0..P-1 in order. */
__global__ void partial_sum_k(float *dst, const float *part, int P, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.f;
    for (int p = 0; p < P; p++) acc += part[(size_t)p * C + c];
    dst[c] += acc;
}

/* Column sums of a bf16 [R, C] matrix: block (x, y) sums rows y, y+gridDim.y, ... of its
 * column slice into part[y, :]. */
__global__ void colsum_part_k(float *part, const bf16 *src, int R, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.f;
    for (int r = blockIdx.y; r < R; r += gridDim.y) acc += __bfloat162float(src[(size_t)r * C + c]);
    part[(size_t)blockIdx.y * C + c] = acc;
}

void cu_rmsnorm_fwd(rlc_backend_t *be, void *out, float *rstd, const void *inp, const void *w, int N, int C,
                    float eps) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    RLC_LAUNCH(rmsnorm_fwd_k<false>, N, NORM_THREADS, 0, im->stream, (bf16 *)NULL, (bf16 *)out, rstd,
               (const bf16 *)inp, (const bf16 *)NULL, (const bf16 *)w, C, eps, be->norm_offset);
    LAUNCH_CHECK(im);
}

void cu_residual_rmsnorm_fwd(rlc_backend_t *be, void *resid, void *out, float *rstd, const void *a, const void *b,
                             const void *w, int N, int C, float eps) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    RLC_LAUNCH(rmsnorm_fwd_k<true>, N, NORM_THREADS, 0, im->stream, (bf16 *)resid, (bf16 *)out, rstd,
               (const bf16 *)a, (const bf16 *)b, (const bf16 *)w, C, eps, be->norm_offset);
    LAUNCH_CHECK(im);
}

void cu_rmsnorm_bwd(rlc_backend_t *be, void *dinp, void *dw, const void *dout, const void *inp, const void *w,
                    const float *rstd, int N, int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    /* The partial count depends on N only, so the dw summation order is reproducible. */
    int P = N < PART_ROWS_MAX ? N : PART_ROWS_MAX;
    float *part = (float *)cu_scratch(im, (size_t)P * C * sizeof(float), "rmsnorm backward");
    if (!part) return;
    size_t smem = (size_t)C * sizeof(float);
    if (smem_allow(im, rmsnorm_bwd_k, smem, "rmsnorm backward")) return;
    RLC_LAUNCH(rmsnorm_bwd_k, P, NORM_THREADS, smem, im->stream, (bf16 *)dinp, part, (const bf16 *)dout,
               (const bf16 *)inp, (const bf16 *)w, rstd, N, C, be->norm_offset);
    LAUNCH_CHECK(im);
    RLC_LAUNCH(partial_sum_k, cdiv(C, 256), 256, 0, im->stream, (float *)dw, part, P, C);
    LAUNCH_CHECK(im);
}

void cu_colsum_add(cu_impl *im, float *dst, const bf16 *src, int R, int C) {
    if (R <= 0 || C <= 0) return;
    int P = R < PART_ROWS_MAX ? R : PART_ROWS_MAX;
    float *part = (float *)cu_scratch(im, (size_t)P * C * sizeof(float), "column sum");
    if (!part) return;
    dim3 grid(cdiv(C, 256), (unsigned)P);
    RLC_LAUNCH(colsum_part_k, grid, 256, 0, im->stream, part, src, R, C);
    LAUNCH_CHECK(im);
    RLC_LAUNCH(partial_sum_k, cdiv(C, 256), 256, 0, im->stream, dst, part, P, C);
    LAUNCH_CHECK(im);
}

/* Block (n, h): head h of row n of qkv, normalized in place; raw/rstd kept when non-NULL. */
__global__ void qk_norm_fwd_k(bf16 *qkv, bf16 *raw, float *rstd, const bf16 *wq, const bf16 *wk, int Hq, int H,
                              int D, int ld, float eps, float off) {
    __shared__ float sh[32];
    int n = blockIdx.x / H, h = blockIdx.x % H;
    bf16 *x = qkv + (size_t)n * ld + (size_t)h * D;
    const bf16 *w = h < Hq ? wq : wk;
    float ss = 0.f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float v = __bfloat162float(x[d]);
        ss += v * v;
    }
    ss = block_sum(ss, sh);
    float r = 1.0f / sqrtf(ss / (float)D + eps);
    for (int d = threadIdx.x; d < D; d += blockDim.x) { /* each thread rewrites only its own columns */
        bf16 v = x[d];
        if (raw) raw[(size_t)blockIdx.x * D + d] = v;
        x[d] = __float2bfloat16_rn(__bfloat162float(v) * r * (__bfloat162float(w[d]) + off));
    }
    if (rstd && threadIdx.x == 0) rstd[blockIdx.x] = r;
}
RLC_STATIC_SMEM(32 * sizeof(float), qk_norm_fwd_k);

/* Block b handles rows b, b+gridDim.x, ...: every head's dx in place, and part[b, 0:D] /
 * part[b, D:2D] the query / key weight-gradient partials of its rows. */
__global__ void qk_norm_bwd_k(bf16 *dqkv, float *part, const bf16 *raw, const bf16 *wq, const bf16 *wk,
                              const float *rstd, int N, int Hq, int H, int D, int ld, float off) {
    __shared__ float sh[32];
    RLC_DYN_SMEM(float, dwp); /* [2D]: thread t owns columns d = t (mod blockDim) of both halves */
    for (int d = threadIdx.x; d < D; d += blockDim.x) dwp[d] = dwp[D + d] = 0.f;
    for (int n = blockIdx.x; n < N; n += gridDim.x)
        for (int h = 0; h < H; h++) {
            bf16 *dy = dqkv + (size_t)n * ld + (size_t)h * D;
            const bf16 *x = raw + ((size_t)n * H + h) * D, *w = h < Hq ? wq : wk;
            float r = rstd[(size_t)n * H + h], dot = 0.f;
            for (int d = threadIdx.x; d < D; d += blockDim.x)
                dot += __bfloat162float(dy[d]) * (__bfloat162float(w[d]) + off) * __bfloat162float(x[d]);
            dot = block_sum(dot, sh);
            float k = r * r * r * dot / (float)D;
            float *acc = dwp + (h < Hq ? 0 : D);
            for (int d = threadIdx.x; d < D; d += blockDim.x) {
                float g = __bfloat162float(dy[d]), xv = __bfloat162float(x[d]);
                acc[d] += g * xv * r;
                dy[d] = __float2bfloat16_rn(r * (__bfloat162float(w[d]) + off) * g - xv * k);
            }
        }
    float *out = part + (size_t)blockIdx.x * 2 * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) out[d] = dwp[d], out[D + d] = dwp[D + d];
}
RLC_STATIC_SMEM(32 * sizeof(float), qk_norm_bwd_k);

/* dq[c] / dk[c] += the partials' sums, p = 0..P-1 in order (only for the kinds of heads
 * there are: has_q, has_k). */
__global__ void qk_partial_sum_k(float *dq, float *dk, const float *part, int P, int D, int has_q, int has_k) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= 2 * D || (c < D && !has_q) || (c >= D && !has_k)) return;
    float acc = 0.f;
    for (int p = 0; p < P; p++) acc += part[(size_t)p * 2 * D + c];
    if (c < D) dq[c] += acc;
    else dk[c - D] += acc;
}

void cu_qk_norm_fwd(rlc_backend_t *be, void *qkv, void *raw, float *rstd, const void *wq, const void *wk, int N, int Hq,
                    int Hk, int D, int ld, float eps) {
    cu_impl *im = IM(be);
    if (N <= 0 || D <= 0 || Hq + Hk <= 0) return;
    RLC_LAUNCH(qk_norm_fwd_k, N * (Hq + Hk), D < 128 ? 32 : 128, 0, im->stream, (bf16 *)qkv, (bf16 *)raw, rstd,
               (const bf16 *)wq, (const bf16 *)wk, Hq, Hq + Hk, D, ld, eps, be->norm_offset);
    LAUNCH_CHECK(im);
}

void cu_qk_norm_bwd(rlc_backend_t *be, void *dqkv, void *dwq, void *dwk, const void *raw, const void *wq,
                    const void *wk, const float *rstd, int N, int Hq, int Hk, int D, int ld) {
    cu_impl *im = IM(be);
    if (N <= 0 || D <= 0 || Hq + Hk <= 0) return;
    int P = N < PART_ROWS_MAX ? N : PART_ROWS_MAX; /* depends on N only: a reproducible order */
    float *part = (float *)cu_scratch(im, (size_t)P * 2 * D * sizeof(float), "qk-norm backward");
    if (!part) return;
    size_t smem = (size_t)2 * D * sizeof(float);
    if (smem_allow(im, qk_norm_bwd_k, smem, "qk-norm backward")) return;
    RLC_LAUNCH(qk_norm_bwd_k, P, 128, smem, im->stream, (bf16 *)dqkv, part, (const bf16 *)raw, (const bf16 *)wq,
               (const bf16 *)wk, rstd, N, Hq, Hq + Hk, D, ld, be->norm_offset);
    LAUNCH_CHECK(im);
    RLC_LAUNCH(qk_partial_sum_k, cdiv(2 * D, 256), 256, 0, im->stream, (float *)dwq, (float *)dwk, part, P, D, Hq > 0,
               Hk > 0);
    LAUNCH_CHECK(im);

}

} // namespace RLC_CU_NS
