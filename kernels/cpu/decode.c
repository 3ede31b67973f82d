/* Decoding ops: gathering the rows that need logits, storing K/V into the paged cache, and
 * attention of new tokens over it (chunked prefill and single-token decode alike). Each
 * (token, head) is computed on its own, so a sequence's result never depends on what else
 * is in the batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_kv_store(rlc_backend_t *be, void *k_cache, void *v_cache, const void *qkv, const int32_t *slots, int N,
                  int Hq, int Hk, int D) {
    const float *x = qkv;
    float *kc = k_cache, *vc = v_cache;
    size_t ld = (size_t)(Hq + 2 * Hk) * D, kv = (size_t)Hk * D;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (N > 64)
    for (int n = 0; n < N; n++) {
        if (slots[n] < 0) continue;
        const float *row = x + (size_t)n * ld;
        memcpy(kc + (size_t)slots[n] * kv, row + (size_t)Hq * D, kv * sizeof(float));
        memcpy(vc + (size_t)slots[n] * kv, row + (size_t)(Hq + Hk) * D, kv * sizeof(float));
    }
}

void cpu_paged_attention(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                         const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                         int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, int max_ctx) {
    const float *x = qkv, *kc = k_cache, *vc = v_cache;
    float *o = out;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    const size_t kvw = (size_t)Hk * D;
    int *seq_of = malloc((size_t)(N > 0 ? N : 1) * sizeof *seq_of);
    if (!seq_of) return;
    for (int s = 0; s < nseq; s++)
        for (int n = cu_q[s]; n < cu_q[s + 1]; n++) seq_of[n] = s;
    /* One task per (token, kv head): each cached K/V row is read once for the whole group of
     * query heads sharing it. Per query head the arithmetic (and its order) is unchanged. */
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        int cap = max_ctx > 0 ? max_ctx : 1;
        float *sc = malloc(((size_t)cap + 2) * grp * sizeof *sc);
        float *mx = sc + (size_t)cap * grp, *inv = mx + grp; /* per query head of the group */
#pragma omp for schedule(dynamic, 4)
        for (long ng = 0; ng < (long)N * Hk; ng++) {
            int n = (int)(ng / Hk), g = (int)(ng % Hk), s = seq_of[n];
            int qlen = cu_q[s + 1] - cu_q[s];
            int pos = ctx_len[s] - qlen + (n - cu_q[s]);
            const int32_t *bt = block_table + (size_t)s * max_pages;
            const float *q0 = x + (size_t)n * ld + (size_t)g * grp * D;
            for (int h = 0; h < grp; h++) mx[h] = -INFINITY;
            for (int j = 0; j <= pos; j++) {
                size_t slot = (size_t)bt[j / page_size] * page_size + (size_t)(j % page_size);
                const float *k = kc + slot * kvw + (size_t)g * D;
                for (int h = 0; h < grp; h++) {
                    const float *q = q0 + (size_t)h * D;
                    float d = 0;
#pragma omp simd reduction(+ : d)
                    for (int i = 0; i < D; i++) d += q[i] * k[i];
                    float v = scale * d;
                    sc[(size_t)h * cap + j] = v;
                    if (v > mx[h]) mx[h] = v;
                }
            }
            for (int h = 0; h < grp; h++) {
                double sum = 0;
                float *row = sc + (size_t)h * cap;
                cpu_vexpf(row, row, pos + 1, mx[h]);
                for (int j = 0; j <= pos; j++) sum += row[j];
                inv[h] = (float)(1.0 / sum);
                memset(o + (size_t)n * Hq * D + (size_t)(g * grp + h) * D, 0, (size_t)D * sizeof(float));
            }
            for (int j = 0; j <= pos; j++) {
                size_t slot = (size_t)bt[j / page_size] * page_size + (size_t)(j % page_size);
                const float *v = vc + slot * kvw + (size_t)g * D;
                for (int h = 0; h < grp; h++) {
                    float *orow = o + (size_t)n * Hq * D + (size_t)(g * grp + h) * D;
                    float w = sc[(size_t)h * cap + j] * inv[h];
#pragma omp simd
                    for (int i = 0; i < D; i++) orow[i] += w * v[i];
                }
            }
        }
        free(sc);
    }
    free(seq_of);
}

void cpu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C) {
    (void)be;
    float *d = dst;
    const float *x = src;
    for (int m = 0; m < M; m++) memcpy(d + (size_t)m * C, x + (size_t)rows[m] * C, (size_t)C * sizeof(float));
}
