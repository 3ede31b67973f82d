/* Elementwise ops and whole-buffer reductions: add, scale, soft-capping, sum of squares (the
 * gradient norm, accumulated in double in a fixed order so it is deterministic), ACT <-> f32
 * casts, MLA's strided head copies.
 * Exports: cu_add, cu_scale, cu_softcap, cu_sumsq, cu_act_to_f32, cu_f32_to_act, cu_head_copy. */
#include "kernels/cuda/elementwise.cuh"

namespace RLC_CU_NS {

#define GRID_STRIDE(i, n)                                                                                              \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

template <class T> __global__ void add_k(T *out, const T *a, const T *b, size_t n) {
    GRID_STRIDE(i, n) stf(out + i, ldf(a + i) + ldf(b + i));
}
template <class T> __global__ void scale_k(T *x, size_t n, float s) {
    GRID_STRIDE(i, n) stf(x + i, ldf(x + i) * s);
}
__global__ void softcap_k(float *x, size_t n, float cap) {
    GRID_STRIDE(i, n) x[i] = softcap_val(x[i], cap);
}
template <class S, class D> __global__ void cast_k(D *dst, const S *src, size_t n) {
    GRID_STRIDE(i, n) stf(dst + i, ldf(src + i));
}
/* One element (n, h, j) a thread: a plain copy (bf16 bits move unchanged). */
__global__ void head_copy_k(bf16 *dst, int dld, int dhs, const bf16 *src, int sld, int shs, int H, int W, size_t n) {
    GRID_STRIDE(i, n) {
        size_t j = i % (size_t)W, r = i / (size_t)W, h = r % (size_t)H, t = r / (size_t)H;
        dst[t * (size_t)dld + h * (size_t)dhs + j] = src[t * (size_t)sld + h * (size_t)shs + j];
    }
}
/* One output (n, j) a thread: the fp32 sum over the heads in h order, rounded once. */
__global__ void head_sum_k(bf16 *dst, int dld, const bf16 *src, int sld, int shs, int H, int W, size_t n) {
    GRID_STRIDE(i, n) {
        size_t j = i % (size_t)W, t = i / (size_t)W;
        float acc = 0;
        for (int h = 0; h < H; h++) acc += ldf(src + t * (size_t)sld + (size_t)h * shs + j);
        stf(dst + t * (size_t)dld + j, acc);
    }
}

enum { RED_BLOCKS = 1024, RED_THREADS = 256 };

__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/* Stage 1: each block writes the double sum of squares of its grid-stride share. */
template <class T> __global__ void sumsq_k(double *part, const T *x, size_t n) {
    __shared__ double sh[RED_THREADS / 32];
    double acc = 0;
    GRID_STRIDE(i, n) {
        double v = (double)ldf(x + i);
        acc += v * v;
    }
    acc = warp_sum_d(acc);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (int w = 0; w < RED_THREADS / 32; w++) t += sh[w];
        part[blockIdx.x] = t;
    }
}
RLC_STATIC_SMEM(RED_THREADS / 32 * sizeof(double), sumsq_k<float>);
RLC_STATIC_SMEM(RED_THREADS / 32 * sizeof(double), sumsq_k<bf16>);
/* Stage 2: one thread adds the block partials in order. */
__global__ void sumsq_final_k(double *part, int nb) {
    if (threadIdx.x == 0) {
        double t = 0;
        for (int b = 0; b < nb; b++) t += part[b];
        part[RED_BLOCKS] = t;
    }
}

static bool is_bf16(rlc_buf_kind_t k) { return k == RLC_BUF_ACT || k == RLC_BUF_PARAM; }
static bool is_f32(rlc_buf_kind_t k) { return k == RLC_BUF_GRAD || k == RLC_BUF_F32; }

void cu_add(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    unsigned g = grid_for(n, 256);
    if (is_bf16(kind)) {
        RLC_LAUNCH(add_k<bf16>, g, 256, 0, im->stream, (bf16 *)out, (const bf16 *)a, (const bf16 *)b, n);
    } else if (is_f32(kind)) {
        RLC_LAUNCH(add_k<float>, g, 256, 0, im->stream, (float *)out, (const float *)a, (const float *)b, n);
    } else {
        cu_fail(im, RLC_EINVAL, "add: unsupported buffer kind %d", (int)kind);
        return;
    }
    LAUNCH_CHECK(im);
}

void cu_scale(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    unsigned g = grid_for(n, 256);
    if (is_bf16(kind)) {
        RLC_LAUNCH(scale_k<bf16>, g, 256, 0, im->stream, (bf16 *)x, n, s);
    } else if (is_f32(kind)) {
        RLC_LAUNCH(scale_k<float>, g, 256, 0, im->stream, (float *)x, n, s);
    } else {
        cu_fail(im, RLC_EINVAL, "scale: unsupported buffer kind %d", (int)kind);
        return;
    }
    LAUNCH_CHECK(im);
}

void cu_softcap(rlc_backend_t *be, float *x, size_t n, float cap) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    RLC_LAUNCH(softcap_k, grid_for(n, 256), 256, 0, im->stream, x, n, cap);
    LAUNCH_CHECK(im);
}

void cu_sumsq(rlc_backend_t *be, double *out_host, const void *x, rlc_buf_kind_t kind, size_t n) {
    cu_impl *im = IM(be);
    *out_host = 0;
    if (n == 0) return;
    /* The block count depends on n only, so the summation order (and the result) does too. */
    unsigned nb = grid_for(n, RED_THREADS);
    if (nb > RED_BLOCKS) nb = RED_BLOCKS;
    if (is_bf16(kind)) {
        RLC_LAUNCH(sumsq_k<bf16>, nb, RED_THREADS, 0, im->stream, im->d_red, (const bf16 *)x, n);
    } else if (is_f32(kind)) {
        RLC_LAUNCH(sumsq_k<float>, nb, RED_THREADS, 0, im->stream, im->d_red, (const float *)x, n);
    } else {
        cu_fail(im, RLC_EINVAL, "sumsq: unsupported buffer kind %d", (int)kind);
        *out_host = NAN;
        return;
    }
    LAUNCH_CHECK(im);
    RLC_LAUNCH(sumsq_final_k, 1, 32, 0, im->stream, im->d_red, (int)nb);
    LAUNCH_CHECK(im);
    CUDA_CHECK(im, cudaMemcpyAsync(out_host, im->d_red + RED_BLOCKS, sizeof(double), cudaMemcpyDeviceToHost,
                                   im->stream));
    CUDA_CHECK(im, cudaStreamSynchronize(im->stream));
    if (im->err) *out_host = NAN;
}

void cu_act_to_f32(rlc_backend_t *be, float *dst, const void *src, size_t n) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    RLC_LAUNCH((cast_k<bf16, float>), grid_for(n, 256), 256, 0, im->stream, dst, (const bf16 *)src, n);
    LAUNCH_CHECK(im);
}

void cu_f32_to_act(rlc_backend_t *be, void *dst, const float *src, size_t n) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    RLC_LAUNCH((cast_k<float, bf16>), grid_for(n, 256), 256, 0, im->stream, (bf16 *)dst, src, n);
    LAUNCH_CHECK(im);
}

void cu_head_copy(rlc_backend_t *be, void *dst, int dld, int dhs, const void *src, int sld, int shs, int N, int H,
                  int W, int sum) {
    cu_impl *im = IM(be);
    size_t n = (size_t)N * (sum ? 1 : H) * W;
    if (n == 0) return;
    if (sum)
        RLC_LAUNCH(head_sum_k, grid_for(n, 256), 256, 0, im->stream, (bf16 *)dst, dld, (const bf16 *)src, sld, shs, H,
                   W, n);
    else
        RLC_LAUNCH(head_copy_k, grid_for(n, 256), 256, 0, im->stream, (bf16 *)dst, dld, dhs, (const bf16 *)src, sld,
                   shs, H, W, n);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
