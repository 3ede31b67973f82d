/* SwiGLU: out[n, f] = silu(g) * u with g = gu[n, f], u = gu[n, F + f]; backward writes
 * dg = dout * u * sig * (1 + g (1 - sig)) and du = dout * silu(g). GeGLU (Gemma) the same
 * with gelu_tanh(g) = g/2 (1 + tanh(k (g + 0.044715 g^3))), k = sqrt(2/pi). fp32 math, bf16
 * storage. Exports: cu_swiglu_fwd, cu_swiglu_bwd, cu_geglu_fwd, cu_geglu_bwd. */
#include "kernels/cuda/swiglu.cuh"

namespace RLC_CU_NS {

__global__ void swiglu_fwd_k(bf16 *out, const bf16 *gu, int N, int F) {
    size_t total = (size_t)N * F;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / F, f = t % F;
        const bf16 *row = gu + n * 2 * F;
        float g = __bfloat162float(row[f]), u = __bfloat162float(row[F + f]);
        float sig = 1.0f / (1.0f + expf(-g));
        out[t] = __float2bfloat16_rn(g * sig * u);
    }
}

__global__ void swiglu_bwd_k(bf16 *dgu, const bf16 *dout, const bf16 *gu, int N, int F) {
    size_t total = (size_t)N * F;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / F, f = t % F;
        const bf16 *row = gu + n * 2 * F;
        bf16 *drow = dgu + n * 2 * F;
        float g = __bfloat162float(row[f]), u = __bfloat162float(row[F + f]), dy = __bfloat162float(dout[t]);
        float sig = 1.0f / (1.0f + expf(-g));
        drow[f] = __float2bfloat16_rn(dy * u * sig * (1.0f + g * (1.0f - sig)));
        drow[F + f] = __float2bfloat16_rn(dy * g * sig);
    }
}

#define GELU_K 0.7978845608028654f
#define GELU_C 0.044715f

__global__ void geglu_fwd_k(bf16 *out, const bf16 *gu, int N, int F) {
    size_t total = (size_t)N * F;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / F, f = t % F;
        const bf16 *row = gu + n * 2 * F;
        float g = __bfloat162float(row[f]), u = __bfloat162float(row[F + f]);
        float th = tanhf(GELU_K * (g + GELU_C * g * g * g));
        out[t] = __float2bfloat16_rn(0.5f * g * (1.0f + th) * u);
    }
}

__global__ void geglu_bwd_k(bf16 *dgu, const bf16 *dout, const bf16 *gu, int N, int F) {
    size_t total = (size_t)N * F;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / F, f = t % F;
        const bf16 *row = gu + n * 2 * F;
        bf16 *drow = dgu + n * 2 * F;
        float g = __bfloat162float(row[f]), u = __bfloat162float(row[F + f]), dy = __bfloat162float(dout[t]);
        float th = tanhf(GELU_K * (g + GELU_C * g * g * g));
        float dgelu = 0.5f * (1.0f + th) + 0.5f * g * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * GELU_C * g * g);
        drow[f] = __float2bfloat16_rn(dy * u * dgelu);
        drow[F + f] = __float2bfloat16_rn(dy * 0.5f * g * (1.0f + th));
    }
}

void cu_swiglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    cu_impl *im = IM(be);
    if (N <= 0 || F <= 0) return;
    RLC_LAUNCH(swiglu_fwd_k, grid_for((size_t)N * F, 256), 256, 0, im->stream, (bf16 *)out, (const bf16 *)gu, N, F);
    LAUNCH_CHECK(im);
}

void cu_swiglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    cu_impl *im = IM(be);
    if (N <= 0 || F <= 0) return;
    RLC_LAUNCH(swiglu_bwd_k, grid_for((size_t)N * F, 256), 256, 0, im->stream, (bf16 *)dgu, (const bf16 *)dout,
               (const bf16 *)gu, N, F);
    LAUNCH_CHECK(im);
}

void cu_geglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    cu_impl *im = IM(be);
    if (N <= 0 || F <= 0) return;
    RLC_LAUNCH(geglu_fwd_k, grid_for((size_t)N * F, 256), 256, 0, im->stream, (bf16 *)out, (const bf16 *)gu, N, F);
    LAUNCH_CHECK(im);
}

void cu_geglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    cu_impl *im = IM(be);
    if (N <= 0 || F <= 0) return;
    RLC_LAUNCH(geglu_bwd_k, grid_for((size_t)N * F, 256), 256, 0, im->stream, (bf16 *)dgu, (const bf16 *)dout,
               (const bf16 *)gu, N, F);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
