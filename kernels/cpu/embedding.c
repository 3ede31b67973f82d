/* Token embedding lookup and its gradient (scatter-add, deterministic). */
#include <omp.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_embedding_fwd(rlc_backend_t *be, void *out, const int32_t *ids, const void *wte, int N, int C) {
    float *o = out;
    const float *w = wte;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) memcpy(o + (size_t)n * C, w + (size_t)ids[n] * C, (size_t)C * sizeof(float));
}

void cpu_embedding_bwd(rlc_backend_t *be, void *dwte, const void *dout, const int32_t *ids, int N, int C) {
    float *dw = dwte;
    const float *d = dout;
    /* Parallel over columns, every thread walks the tokens in order: no races, and the
     * summation order of repeated ids is fixed. */
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int c0 = (int)((long)C * t / nt), c1 = (int)((long)C * (t + 1) / nt);
        for (int n = 0; n < N; n++) {
            float *row = dw + (size_t)ids[n] * C;
            const float *src = d + (size_t)n * C;
            for (int c = c0; c < c1; c++) row[c] += src[c];
        }
    }
}
