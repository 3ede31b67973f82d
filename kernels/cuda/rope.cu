/* RoPE in place on the first H heads of each row, over each head's first R dims (R < D under
 * a partial rotary factor; the rest pass through): for i < R/2, the pair (x[i], x[i+R/2])
 * (rotate-half) or (x[2i], x[2i+1]) (interleaved: ERNIE 4.5) turns by angle pos[n] * inv_freq[i],
 * cos and sin times mscale (the attention factor of yarn / LongRoPE, else 1) (the caller folds
 * llama3/linear scaling into inv_freq); backward turns by the opposite angle. Angles and sin/cos in fp32
 * with full-precision sincosf, as transformers computes them.
 * Exports: cu_rope_fwd, cu_rope_bwd. */
#include "kernels/cuda/rope.cuh"

namespace RLC_CU_NS {

/* One thread per (row, head, pair); dir = +1 forward, -1 backward. */
__global__ void rope_k(bf16 *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R, float mscale,
                       int ld, int interleaved, float dir) {
    int half = R / 2, stride = interleaved ? 2 : 1, off = interleaved ? 1 : half;
    size_t total = (size_t)N * H * half;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(t % half);
        size_t nh = t / half;
        int h = (int)(nh % H);
        size_t n = nh / H;
        float s, c;
        sincosf((float)pos[n] * inv_freq[i], &s, &c);
        c *= mscale;
        s = dir * (s * mscale);
        bf16 *p = x + n * (size_t)ld + (size_t)h * D;
        bf16 *pa = p + (size_t)i * stride, *pb = pa + off;
        float x1 = __bfloat162float(*pa), x2 = __bfloat162float(*pb);
        *pa = __float2bfloat16_rn(x1 * c - x2 * s);
        *pb = __float2bfloat16_rn(x2 * c + x1 * s);
    }
}

static void rope(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved, float dir) {
    cu_impl *im = IM(be);
    if (N <= 0 || H <= 0 || D <= 0 || R <= 0) return;
    if (D % 2 || R % 2 || R > D || ld < H * D) {
        cu_fail(im, RLC_EINVAL, "rope: head size %d and rotary dims %d must be even (%d <= %d), row stride %d >= %d x %d",
                D, R, R, D, ld, H, D);
        return;
    }
    size_t total = (size_t)N * H * (R / 2);
    RLC_LAUNCH(rope_k, grid_for(total, 256), 256, 0, im->stream, (bf16 *)x, pos, inv_freq, N, H, D, R, mscale, ld,
               interleaved, dir);
    LAUNCH_CHECK(im);
}

void cu_rope_fwd(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved) {
    rope(be, x, pos, inv_freq, N, H, D, R, mscale, ld, interleaved, 1.f);
}
void cu_rope_bwd(rlc_backend_t *be, void *dx, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved) {
    rope(be, dx, pos, inv_freq, N, H, D, R, mscale, ld, interleaved, -1.f);
}

} // namespace RLC_CU_NS
