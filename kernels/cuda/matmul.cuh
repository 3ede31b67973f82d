/* Matmuls through cuBLASLt (bf16 in, fp32 compute, bias epilogue, algorithm cached per shape).
 * Exports: cu_matmul_fwd, cu_matmul_bwd (vtable signatures); internally cu_gemm (one
 * column-major GEMM, also used by the LM head) and cu_gemm_cache_free. */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {

enum gemm_dt { GEMM_BF16 = 0, GEMM_F32 = 1 };

/* Column-major D[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * D (+ bias[m] per row).
 * A is stored [k, m] when ta else [m, k] (leading dimension lda); B is [n, k] when tb else
 * [k, n]. A, B and bias are bf16; D is bf16 or f32 (dt). */
struct gemm_t {
    bool ta, tb;
    int m, n, k;
    const bf16 *A;
    int lda;
    const bf16 *B;
    int ldb;
    void *D;
    gemm_dt dt;
    int ldd;
    float alpha, beta;
    const bf16 *bias;
};
void cu_gemm(cu_impl *im, const gemm_t &g);
void cu_gemm_cache_free(cu_impl *im);

/* Row-major helpers: out[N,OC] = alpha * inp[N,IC] w[OC,IC]^T (+bias); dinp[N,IC] = dout w;
 * dw[OC,IC] += dout^T inp (f32). */
void mm_fwd(cu_impl *im, void *out, gemm_dt dt, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC,
            int OC, float alpha);
void mm_dinp(cu_impl *im, bf16 *dinp, const bf16 *dout, const bf16 *w, int N, int IC, int OC);
void mm_dw(cu_impl *im, float *dw, const bf16 *dout, const bf16 *inp, int N, int IC, int OC);

void cu_matmul_fwd(rlc_backend_t *be, void *out, const void *inp, const void *w, const void *bias, int N, int IC,
                   int OC);
void cu_matmul_bwd(rlc_backend_t *be, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
                   const void *w, int N, int IC, int OC);
} // namespace RLC_CU_NS
