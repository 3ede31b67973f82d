/* Mixture-of-experts routing and combination (the reference the CUDA kernels are checked
 * against): softmax → top-k → optional renormalisation per token, its backward, the
 * weighted sum of each token's K expert rows with its backward, and a shared expert's
 * sigmoid-gated add (Qwen2-MoE) with its backward. One token per iteration,
 * fp32 throughout, so each token's result depends on its own row only (batch invariance). */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_moe_route_fwd(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E,
                       int K, int norm) {
    const float *z = logits;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *zr = z + (size_t)n * E;
        float *p = probs + (size_t)n * E, mx = -INFINITY, sum = 0;
        for (int e = 0; e < E; e++) mx = zr[e] > mx ? zr[e] : mx;
        for (int e = 0; e < E; e++) sum += p[e] = expf(zr[e] - mx);
        float inv = 1.0f / sum;
        for (int e = 0; e < E; e++) p[e] *= inv;
        /* selection: the k-th pick is the largest probability not yet taken, lower expert on ties */
        unsigned char taken[RLC_MOE_MAX_EXPERTS] = {0};
        float s = 0;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++)
                if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
            taken[best] = 1;
            idx[(size_t)n * K + k] = best;
            w[(size_t)n * K + k] = p[best];
            s += p[best];
        }
        if (norm)
            for (int k = 0; k < K; k++) w[(size_t)n * K + k] /= s;
    }
}

/* With s_k the picked probabilities and S their sum: w_k = s_k / S (norm) or s_k, so
 * ds_k = (dw_k - Σ_j dw_j w_j) / S or dw_k; then through the softmax dz_e = p_e (dp_e - Σ_k s_k ds_k),
 * where dp_e is ds_k for the picked expert e = idx_k and 0 elsewhere. */
void cpu_moe_route_bwd(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                       const int32_t *idx, int N, int E, int K, int norm) {
    float *dz = dlogits;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * E, *dwr = dw + (size_t)n * K, *wr = w + (size_t)n * K;
        const int32_t *ir = idx + (size_t)n * K;
        float ds[RLC_MOE_MAX_TOPK], S = 0, dot = 0, sds = 0;
        for (int k = 0; k < K; k++) S += p[ir[k]], dot += dwr[k] * wr[k];
        for (int k = 0; k < K; k++) {
            ds[k] = norm ? (dwr[k] - dot) / S : dwr[k];
            sds += p[ir[k]] * ds[k];
        }
        float *d = dz + (size_t)n * E;
        for (int e = 0; e < E; e++) d[e] = -p[e] * sds;
        for (int k = 0; k < K; k++) d[ir[k]] += p[ir[k]] * ds[k];
    }
}

void cpu_moe_combine_fwd(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N, int K,
                         int C) {
    float *o = out;
    const float *yr = y;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *on = o + (size_t)n * C;
        for (int c = 0; c < C; c++) on[c] = 0;
        for (int k = 0; k < K; k++) {
            const float *src = yr + (size_t)inv[(size_t)n * K + k] * C;
            float wk = w ? w[(size_t)n * K + k] : 1.0f;
            for (int c = 0; c < C; c++) on[c] += wk * src[c];
        }
    }
}

void cpu_moe_combine_bwd(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                         const int32_t *inv, int N, int K, int C) {
    float *d = dy;
    const float *g = dout, *yr = y;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *gn = g + (size_t)n * C;
        for (int k = 0; k < K; k++) {
            size_t r = (size_t)inv[(size_t)n * K + k];
            float wk = w ? w[(size_t)n * K + k] : 1.0f, dot = 0;
            const float *src = yr + r * C;
            float *dst = d + r * C;
            for (int c = 0; c < C; c++) {
                dst[c] = wk * gn[c];
                dot += gn[c] * src[c];
            }
            if (dw) dw[(size_t)n * K + k] = dot;
        }
    }
}

static float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

void cpu_moe_gate_add_fwd(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C) {
    float *o = out;
    const float *yr = y, *zr = z;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float g = sigm(zr[n]);
        for (int c = 0; c < C; c++) o[(size_t)n * C + c] += g * yr[(size_t)n * C + c];
    }
}

void cpu_moe_gate_add_bwd(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z, int N,
                          int C) {
    float *d = dy, *dzr = dz;
    const float *g0 = dout, *yr = y, *zr = z;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float g = sigm(zr[n]), dot = 0;
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)n * C + c;
            dot += g0[i] * yr[i]; /* y read before dy is written: dy may alias y */
            d[i] = g * g0[i];
        }
        dzr[n] = g * (1.0f - g) * dot;
    }
}
