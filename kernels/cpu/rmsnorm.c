/* RMSNorm forward (plain and fused with the residual add) and backward, as in
 * transformers' Qwen2RMSNorm/LlamaRMSNorm: y = x * rsqrt(mean(x^2) + eps) * w; and Qwen3's
 * per-head form on the query and key heads of the qkv rows. The weight is w + be->norm_offset
 * (Gemma's 1 + w), formed in fp32. */
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
    float *o = out, off = be->norm_offset;
    const float *x = inp, *g = w;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *orow = o + (size_t)n * C;
        float r = row_rstd(xr, C, eps);
        rstd[n] = r;
        for (int c = 0; c < C; c++) orow[c] = (g[c] + off) * (xr[c] * r);
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
    float *dx = dinp, *dg = dw, off = be->norm_offset;
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
            for (int c = 0; c < C; c++) dot += (double)(g[c] + off) * dyr[c] * xr[c];
            float k = (float)(dot * (double)r * r * r / C);
            for (int c = 0; c < C; c++) dxr[c] += r * (g[c] + off) * dyr[c] - k * xr[c];
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

void cpu_qk_norm_fwd(rlc_backend_t *be, void *qkv, void *raw, float *rstd, const void *wq, const void *wk, int N,
                     int Hq, int Hk, int D, int ld, float eps) {
    float *q = qkv, *xr = raw, off = be->norm_offset;
    const float *gq = wq, *gk = wk;
    int H = Hq + Hk;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            float *x = q + (size_t)n * ld + (size_t)h * D;
            const float *g = h < Hq ? gq : gk;
            float r = row_rstd(x, D, eps);
            if (raw) {
                float *keep = xr + ((size_t)n * H + h) * D;
                for (int d = 0; d < D; d++) keep[d] = x[d];
            }
            if (rstd) rstd[(size_t)n * H + h] = r;
            for (int d = 0; d < D; d++) x[d] = (g[d] + off) * (x[d] * r);
        }
}

void cpu_qk_norm_bwd(rlc_backend_t *be, void *dqkv, void *dwq, void *dwk, const void *raw, const void *wq,
                     const void *wk, const float *rstd, int N, int Hq, int Hk, int D, int ld) {
    float *dq = dqkv, *dgq = dwq, *dgk = dwk, off = be->norm_offset;
    const float *xr = raw, *gq = wq, *gk = wk;
    int H = Hq + Hk;
    /* the weight gradients first, from the incoming gradient (by columns, rows in order) */
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int d = 0; d < D; d++) {
        float aq = 0, ak = 0;
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++) {
                float v = dq[(size_t)n * ld + (size_t)h * D + d] * xr[((size_t)n * H + h) * D + d] * rstd[(size_t)n * H + h];
                if (h < Hq) aq += v;
                else ak += v;
            }
        if (Hq) dgq[d] += aq;
        if (Hk) dgk[d] += ak;
    }
    /* then dx = r*(g*dy) - r^3/D * x * sum(g*dy*x), in place */
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            float *dy = dq + (size_t)n * ld + (size_t)h * D;
            const float *x = xr + ((size_t)n * H + h) * D, *g = h < Hq ? gq : gk;
            float r = rstd[(size_t)n * H + h];
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)(g[d] + off) * dy[d] * x[d];
            float k = (float)(dot * (double)r * r * r / D);
            for (int d = 0; d < D; d++) dy[d] = r * (g[d] + off) * dy[d] - k * x[d];
        }
}
