/* SwiGLU on the fused gate|up projection: out = silu(g) * u with gu = [g | u] per row. */
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
