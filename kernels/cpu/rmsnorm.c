/* RMSNorm forward (plain and fused with the residual add) and backward, as in
 * transformers' Qwen2RMSNorm/LlamaRMSNorm: y = x * rsqrt(mean(x^2) + eps) * w. */
#include <math.h>
#include <omp.h>

#include "kernels/cpu/cpu_ops.h"

static inline float row_rstd(const float *x, int C, float eps) {
    double ss = 0;
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    return (float)(1.0 / sqrt(ss / C + (double)eps));
}

void cpu_rmsnorm_fwd(rlc_backend_t *be, void *out, float *rstd, const void *inp, const void *w, int N, int C,
                     float eps) {
    float *o = out;
    const float *x = inp, *g = w;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *orow = o + (size_t)n * C;
        float r = row_rstd(xr, C, eps);
        rstd[n] = r;
        for (int c = 0; c < C; c++) orow[c] = g[c] * (xr[c] * r);
    }
}

void cpu_residual_rmsnorm_fwd(rlc_backend_t *be, void *resid, void *out, float *rstd, const void *a, const void *b,
                              const void *w, int N, int C, float eps) {
    float *res = resid;
    const float *pa = a, *pb = b;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (size_t i = 0; i < (size_t)N * C; i++) res[i] = pa[i] + pb[i];
    cpu_rmsnorm_fwd(be, out, rstd, resid, w, N, C, eps);
}

void cpu_rmsnorm_bwd(rlc_backend_t *be, void *dinp, void *dw, const void *dout, const void *inp, const void *w,
                     const float *rstd, int N, int C) {
    float *dx = dinp, *dg = dw;
    const float *dy = dout, *x = inp, *g = w;
    /* dx = r*(g*dy) - r^3/C * x * sum(g*dy*x); dw += sum_n dy * x * r.
     * dx rows in parallel; dw by columns over all rows in order (deterministic). */
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
            float *dxr = dx + (size_t)n * C;
            float r = rstd[n];
            double dot = 0;
            for (int c = 0; c < C; c++) dot += (double)g[c] * dyr[c] * xr[c];
            float k = (float)(dot * (double)r * r * r / C);
            for (int c = 0; c < C; c++) dxr[c] += r * g[c] * dyr[c] - k * xr[c];
        }
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int c0 = (int)((long)C * t / nt), c1 = (int)((long)C * (t + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
            float r = rstd[n];
            for (int c = c0; c < c1; c++) dg[c] += dyr[c] * xr[c] * r;
        }
    }
}
