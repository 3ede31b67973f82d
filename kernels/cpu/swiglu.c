/* Gated MLP activations on the fused gate|up projection, gu = [g | u] per row: SwiGLU
 * out = silu(g) * u, and Gemma's GeGLU out = gelu_tanh(g) * u (PyTorch's tanh approximation,
 * gelu_pytorch_tanh). */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_swiglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    float *o = out;
    const float *x = gu;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = x + (size_t)n * 2 * F, *u = g + F;
        float *orow = o + (size_t)n * F;
        for (int i = 0; i < F; i++) orow[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void cpu_swiglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    float *d = dgu;
    const float *dy = dout, *x = gu;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = x + (size_t)n * 2 * F, *u = g + F, *dyr = dy + (size_t)n * F;
        float *dg = d + (size_t)n * 2 * F, *du = dg + F;
        for (int i = 0; i < F; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            float silu = g[i] * s;
            du[i] = dyr[i] * silu;
            dg[i] = dyr[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

void cpu_geglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    float *o = out;
    const float *x = gu;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = x + (size_t)n * 2 * F, *u = g + F;
        float *orow = o + (size_t)n * F;
        for (int i = 0; i < F; i++) {
            float v = g[i], t = tanhf(GELU_K * (v + GELU_C * v * v * v));
            orow[i] = 0.5f * v * (1.0f + t) * u[i];
        }
    }
}

void cpu_geglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    float *d = dgu;
    const float *dy = dout, *x = gu;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = x + (size_t)n * 2 * F, *u = g + F, *dyr = dy + (size_t)n * F;
        float *dg = d + (size_t)n * 2 * F, *du = dg + F;
        for (int i = 0; i < F; i++) {
            float v = g[i], t = tanhf(GELU_K * (v + GELU_C * v * v * v));
            float gelu = 0.5f * v * (1.0f + t);
            float dgelu = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
            du[i] = dyr[i] * gelu;
            dg[i] = dyr[i] * u[i] * dgelu;
        }
    }
}
