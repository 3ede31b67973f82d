/* Elementwise ops and whole-buffer reductions on the CPU: add, scale, soft-capping, the sum of squares
 * (the gradient norm; a fixed block partition keeps it independent of the thread count),
 * the ACT <-> F32 conversions (copies: ACT is f32 here) and the strided head copies of MLA. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_add(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n) {
    (void)kind;
    float *o = out;
    const float *x = a, *y = b;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i];
}

void cpu_scale(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s) {
    (void)kind;
    float *p = x;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) p[i] *= s;
}

/* cpu_softcap_mul with mul = 1 */
void cpu_softcap(rlc_backend_t *be, float *x, size_t n, float cap) { cpu_softcap_mul(be, x, n, cap, 1.0f); }

void cpu_softcap_mul(rlc_backend_t *be, float *x, size_t n, float cap, float mul) {
    enum { BLK = 4096 }; /* any split gives the same bits: cpu_vsoftcap is elementwise */
    long nb = (long)((n + BLK - 1) / BLK);
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (nb > 16)
    for (long b = 0; b < nb; b++) {
        size_t i = (size_t)b * BLK, m = n - i < BLK ? n - i : BLK;
        cpu_vsoftcap(x + i, x + i, m, cap, mul);
    }
}

void cpu_sumsq(rlc_backend_t *be, double *out, const void *x, rlc_buf_kind_t kind, size_t n) {
    (void)kind;
    const float *p = x;
    /* Fixed partition into blocks summed in order: the result does not depend on the
     * thread count, which keeps resumed runs bit-identical. */
    enum { BLK = 1 << 14 };
    size_t nb = (n + BLK - 1) / BLK;
    double *part = malloc((nb ? nb : 1) * sizeof *part);
    if (!part) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)p[i] * p[i];
        *out = s;
        return;
    }
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t e = (b + 1) * BLK < n ? (b + 1) * BLK : n;
        double s = 0;
        for (size_t i = b * BLK; i < e; i++) s += (double)p[i] * p[i];
        part[b] = s;
    }
    double s = 0;
    for (size_t b = 0; b < nb; b++) s += part[b];
    free(part);
    *out = s;
}

void cpu_act_to_f32(rlc_backend_t *be, float *dst, const void *src, size_t n) {
    (void)be;
    if (n && (const void *)dst != src) memmove(dst, src, n * 4);
}

void cpu_f32_to_act(rlc_backend_t *be, void *dst, const float *src, size_t n) {
    (void)be;
    if (n && dst != (const void *)src) memmove(dst, src, n * 4);
}

void cpu_head_copy(rlc_backend_t *be, void *dst, int dld, int dhs, const void *src, int sld, int shs, int N, int H,
                   int W, int sum) {
    float *d = dst;
    const float *s = src;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if ((size_t)N * H * W > 65536)
    for (int n = 0; n < N; n++) {
        float *dr = d + (size_t)n * dld;
        const float *sr = s + (size_t)n * sld;
        if (!sum) {
            for (int h = 0; h < H; h++) memcpy(dr + (size_t)h * dhs, sr + (size_t)h * shs, (size_t)W * sizeof(float));
            continue;
        }
        for (int j = 0; j < W; j++) {
            float acc = 0;
            for (int h = 0; h < H; h++) acc += sr[(size_t)h * shs + j];
            dr[j] = acc;
        }
    }
}
