/* Linear layers in PyTorch's layout (w is [OC, IC]) through OpenBLAS sgemm. */
#include <cblas.h>
#include <omp.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_matmul_fwd(rlc_backend_t *be, void *out, const void *inp, const void *w, const void *bias, int N, int IC,
                    int OC) {
    float *o = out;
    const float *b = bias;
    if (be->row_invariant) {
        cpu_gemm_rows(be, o, inp, w, b, N, IC, OC);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, o, OC);
    if (b) {
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
        for (int n = 0; n < N; n++) {
            float *row = o + (size_t)n * OC;
            for (int j = 0; j < OC; j++) row[j] += b[j];
        }
    }
}

void cpu_matmul_bwd(rlc_backend_t *be, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
                    const void *w, int N, int IC, int OC) {
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (dbias) {
        float *db = dbias;
        const float *d = dout;
#pragma omp parallel num_threads(CPU_THREADS(be))
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int j0 = (int)((long)OC * t / nt), j1 = (int)((long)OC * (t + 1) / nt);
            for (int n = 0; n < N; n++) {
                const float *row = d + (size_t)n * OC;
                for (int j = j0; j < j1; j++) db[j] += row[j];
            }
        }
    }
}
