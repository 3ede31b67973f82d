/* AdamW (decoupled weight decay, bias correction) on fp32 master weights, moments and
 * gradients; the bf16 parameter copy is written with stochastic rounding so that small
 * updates survive in expectation. The rounding bits come from Philox keyed by `seed` and
 * counted by element index, so a step is reproducible and independent of launch geometry.
 * Without a master buffer the bf16 parameter itself is the fp32 starting point.
 * Exports: cu_adamw. */
#include "kernels/cuda/adamw.cuh"

#include <math.h>

namespace RLC_CU_NS {

/* Round to bf16 by adding 16 random bits below the kept mantissa, then truncating: rounds
 * up with probability equal to the discarded fraction. Inf/NaN pass through. */
__device__ __forceinline__ bf16 bf16_stochastic(float x, uint32_t rnd) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u += rnd & 0xffffu;
    /* truncation of a finite value that carried into the exponent gives the next binade or inf,
     * both correct results of rounding away from zero */
    uint16_t hb = (uint16_t)(u >> 16);
    if ((u & 0x7fffffffu) > 0x7f800000u) hb |= 0x40; /* keep NaN quiet */
    bf16 r;
    memcpy(&r, &hb, 2);
    return r;
}

/* Same order of operations as the CPU reference (torch.optim.AdamW, foreach=False):
 * p *= 1 - lr*wd; m += (1-b1)(g - m); v = b2 v + (1-b2) g^2; p -= step_size m / (sqrt(v)/sqrt(bc2) + eps). */
__global__ void adamw_k(bf16 *param, float *master, const float *grad, float *m, float *v, size_t n, float b1,
                        float b2, float eps, float decay, float step_size, float bc2_sqrt, float grad_scale,
                        uint32_t seed) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = grad[i] * grad_scale;
        float p = master ? master[i] : __bfloat162float(param[i]);
        p *= decay;
        float mi = m[i] + (1.0f - b1) * (g - m[i]);
        float vi = v[i] * b2 + (1.0f - b2) * (g * g);
        m[i] = mi;
        v[i] = vi;
        p -= step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
        if (master) master[i] = p;
        rlc_philox_out_t r = rlc_philox4x32((uint32_t)i, (uint32_t)(i >> 32), 0x5eedu, 0u, seed, 0xADA3u);
        param[i] = bf16_stochastic(p, r.v[0]);
    }
}

void cu_adamw(rlc_backend_t *be, void *param, float *master, const void *grad, float *m, float *v, size_t n, float lr,
              float b1, float b2, float eps, float wd, int step, float grad_scale, uint32_t seed) {
    cu_impl *im = IM(be);
    if (n == 0) return;
    if (step < 1) {
        cu_fail(im, RLC_EINVAL, "adamw: step must be >= 1 (got %d)", step);
        return;
    }
    /* bias corrections in double, as torch computes them from Python floats */
    double bc1 = 1.0 - pow((double)b1, step), bc2 = 1.0 - pow((double)b2, step);
    float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2), decay = 1.0f - lr * wd;
    RLC_LAUNCH(adamw_k, grid_for(n, 256), 256, 0, im->stream, (bf16 *)param, master, (const float *)grad, m, v, n, b1,
               b2, eps, decay, step_size, bc2_sqrt, grad_scale, seed);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
