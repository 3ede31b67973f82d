/* Causal GQA attention over packed varlen qkv, exact softmax in fp32. Forward saves the
 * log-sum-exp per (token, head); backward recomputes probabilities from it (the same
 * contract the flash-style CUDA kernels follow). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

static inline float dotf(const float *a, const float *b, int D) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < D; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy(float *y, float a, const float *x, int D) {
#pragma omp simd
    for (int i = 0; i < D; i++) y[i] += a * x[i];
}

void cpu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                       int max_seqlen, int N, int Hq, int Hk, int D, float scale) {
    const float *x = qkv;
    float *o = out;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    int *start = malloc((size_t)(N > 0 ? N : 1) * sizeof *start);
    if (!start) return;
    for (int s = 0; s < nseq; s++)
        for (int n = cu_seqlens[s]; n < cu_seqlens[s + 1]; n++) start[n] = cu_seqlens[s];
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        float *sc = malloc((size_t)(max_seqlen > 0 ? max_seqlen : 1) * sizeof *sc);
#pragma omp for schedule(dynamic, 16)
        for (long nh = 0; nh < (long)N * Hq; nh++) {
            int n = (int)(nh / Hq), h = (int)(nh % Hq), g = h / grp;
            const float *q = x + (size_t)n * ld + (size_t)h * D;
            const float *kb = x + (size_t)Hq * D + (size_t)g * D;
            const float *vb = x + (size_t)(Hq + Hk) * D + (size_t)g * D;
            int s0 = start[n], L = n - s0 + 1;
            float mx = -INFINITY;
            for (int j = 0; j < L; j++) {
                sc[j] = scale * dotf(q, kb + (size_t)(s0 + j) * ld, D);
                if (sc[j] > mx) mx = sc[j];
            }
            double sum = 0;
            cpu_vexpf(sc, sc, L, mx);
            for (int j = 0; j < L; j++) sum += sc[j];
            float inv = (float)(1.0 / sum);
            float *orow = o + (size_t)n * Hq * D + (size_t)h * D;
            memset(orow, 0, (size_t)D * sizeof(float));
            for (int j = 0; j < L; j++) axpy(orow, sc[j] * inv, vb + (size_t)(s0 + j) * ld, D);
            lse[(size_t)n * Hq + h] = mx + (float)log(sum);
        }
        free(sc);
    }
    free(start);
}

void cpu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                       const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                       int D, float scale) {
    (void)N;
    (void)out; /* D_t is recomputed from P and dP, see below */
    const float *x = qkv, *dO = dout;
    float *dx = dqkv;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    /* One task per (sequence, kv head): it owns dk/dv of that head and dq of its query
     * group, so nothing is shared between threads and the result is deterministic. */
    /* One task per (sequence, kv head): it owns dk/dv of that head and dq of its query
     * group, so nothing is shared between threads and the result is deterministic.
     * D_t = sum_j P_tj dP_tj is formed from the same P and dP used for dS (rather than as
     * dO.O): then sum_j dS_tj vanishes to rounding, which keeps small gradients that rely
     * on that cancellation (e.g. k_proj.bias) accurate. */
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        float *pr = malloc((size_t)(max_seqlen > 0 ? max_seqlen : 1) * 2 * sizeof *pr);
        float *dp = pr + (max_seqlen > 0 ? max_seqlen : 1);
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < nseq * Hk; task++) {
            int s = task / Hk, g = task % Hk;
            int s0 = cu_seqlens[s], L = cu_seqlens[s + 1] - s0;
            const float *kb = x + (size_t)Hq * D + (size_t)g * D;
            const float *vb = x + (size_t)(Hq + Hk) * D + (size_t)g * D;
            float *dkb = dx + (size_t)Hq * D + (size_t)g * D;
            float *dvb = dx + (size_t)(Hq + Hk) * D + (size_t)g * D;
            for (int j = 0; j < L; j++) {
                memset(dkb + (size_t)(s0 + j) * ld, 0, (size_t)D * sizeof(float));
                memset(dvb + (size_t)(s0 + j) * ld, 0, (size_t)D * sizeof(float));
            }
            for (int h = g * grp; h < (g + 1) * grp; h++) {
                for (int t = 0; t < L; t++) {
                    int n = s0 + t;
                    const float *q = x + (size_t)n * ld + (size_t)h * D;
                    const float *dor = dO + (size_t)n * Hq * D + (size_t)h * D;
                    float *dq = dx + (size_t)n * ld + (size_t)h * D;
                    float l = lse[(size_t)n * Hq + h];
                    double dd = 0;
                    for (int j = 0; j <= t; j++) {
                        const float *k = kb + (size_t)(s0 + j) * ld, *v = vb + (size_t)(s0 + j) * ld;
                        pr[j] = expf(scale * dotf(q, k, D) - l);
                        dp[j] = dotf(dor, v, D);
                        dd += (double)pr[j] * dp[j];
                    }
                    memset(dq, 0, (size_t)D * sizeof(float));
                    for (int j = 0; j <= t; j++) {
                        const float *k = kb + (size_t)(s0 + j) * ld;
                        float ds = pr[j] * (float)(dp[j] - dd);
                        axpy(dq, scale * ds, k, D);
                        axpy(dkb + (size_t)(s0 + j) * ld, scale * ds, q, D);
                        axpy(dvb + (size_t)(s0 + j) * ld, pr[j], dor, D);
                    }
                }
            }
        }
        free(pr);
    }
}
