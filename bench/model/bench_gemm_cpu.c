/* The CPU backend's two matmul paths on decode-like shapes: OpenBLAS sgemm (training) and
 * the row-invariant GEMM the rollout engine uses (kernels/cpu/gemm_rows.c). Prints one JSON
 * line per shape with GFLOP/s of each. */
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "kernels/backend.h"

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    rlc_backend_t *be;
    if (rlc_backend_create(&be, "cpu", 0, threads)) return 1;
    /* M = 7 and 28: decode steps whose batch is not a multiple of 8 (a rollout's batch
     * shrinks as sequences finish) */
    const int shapes[][3] = {{32, 512, 768},  {32, 512, 2816}, {32, 1408, 512}, {32, 512, 32000},
                             {1, 512, 2816},  {7, 512, 2816},  {28, 512, 2816}, {256, 512, 2816}};
    for (int s = 0; s < 8; s++) {
        int M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *x = calloc((size_t)M * K, 4), *w = calloc((size_t)N * K, 4), *o = calloc((size_t)M * N, 4);
        if (!x || !w || !o) return 1;
        for (int i = 0; i < M * K; i++) x[i] = 0.01f * (float)(i % 7);
        for (int i = 0; i < N * K; i++) w[i] = 0.01f * (float)(i % 5);
        double gf[2];
        for (int mode = 0; mode < 2; mode++) {
            be->row_invariant = mode;
            int reps = (int)(2e9 / (2.0 * M * K * N)) + 3;
            be->matmul_fwd(be, o, x, w, NULL, M, K, N);
            double t0 = rlc_now();
            for (int r = 0; r < reps; r++) be->matmul_fwd(be, o, x, w, NULL, M, K, N);
            gf[mode] = 2.0 * M * K * N * reps / (rlc_now() - t0) / 1e9;
        }
        printf("{\"bench\":\"matmul_cpu\",\"M\":%d,\"K\":%d,\"N\":%d,\"threads\":%d,\"sgemm_gflops\":%.1f,"
               "\"rows_gflops\":%.1f}\n",
               M, K, N, be->threads, gf[0], gf[1]);
        free(x);
        free(w);
        free(o);
    }
    rlc_backend_destroy(be);
    return 0;
}
