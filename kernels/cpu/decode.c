/* Decoding ops: gathering the rows that need logits and storing K/V into the paged cache.
 * Attention of new tokens over the cache (chunked prefill and single-token decode alike) is
 * with the other attention kernels (attention_impl.h). */
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

void cpu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C) {
    (void)be;
    float *d = dst;
    const float *x = src;
    for (int m = 0; m < M; m++) memcpy(d + (size_t)m * C, x + (size_t)rows[m] * C, (size_t)C * sizeof(float));
}
