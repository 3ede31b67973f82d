/* Row-invariant matmul on tensor cores: the same contract as gemm_rows.cuh (out[N,OC] =
 * inp[N,IC] · w[OC,IC]^T (+ bias), bf16 in, fp32 accumulation, bf16 or fp32 out, every output
 * element's bits a function of its own input row, the weights and IC alone), computed with
 * WMMA bf16 m16n16k16 fragments instead of SIMT FMAs. Chosen over gemm_rows.cu by
 * RLC_CUDA_ROWINV=tc (docs/cuda.md, "Batch invariance in generation").
 * Exports: cu_gemm_rows_tc, cu_rowinv_splits, cu_gemm_rowinv. */
#pragma once
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm_rows.cuh"

namespace RLC_CU_NS {

/* Values of cu_impl::rowinv (RLC_CUDA_ROWINV). The two tc modes force one of the kernel's two
 * launch shapes (both give the same bits; for tests and tuning), "tc" picks per call. */
enum { ROWINV_SIMT = 0, ROWINV_TC = 1, ROWINV_TC_SPLIT = 2, ROWINV_TC_TILE = 3 };

/* out is float [N, OC] when out_f32, else bf16; bias (bf16 [OC]) may be NULL. N, OC and IC
 * are >= 1 (cu_gemm_rowinv checks them); any pointer alignment. */
void cu_gemm_rows_tc(cu_impl *im, void *out, bool out_f32, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                     int IC, int OC);

/* How many K segments the tc kernel sums separately (then adds in segment order): a
 * function of IC alone (see gemm_rows_tc.cu). */
int cu_rowinv_splits(int IC);

/* The row-invariant matmul the backend was created with (RLC_CUDA_ROWINV); empty shapes
 * are no-ops and IC < 1 is an error, for both kernels. */
static inline void cu_gemm_rowinv(cu_impl *im, void *out, bool out_f32, const bf16 *inp, const bf16 *w,
                                  const bf16 *bias, int N, int IC, int OC) {
    if (N <= 0 || OC <= 0 || im->err) return;
    if (IC <= 0) {
        cu_fail(im, RLC_EINVAL, "row-invariant matmul: IC must be positive (got %d)", IC);
        return;
    }
    if (im->rowinv != ROWINV_SIMT)
        cu_gemm_rows_tc(im, out, out_f32, inp, w, bias, N, IC, OC);
    else
        cu_gemm_rows(im, out, out_f32, inp, w, bias, N, IC, OC);
}

} // namespace RLC_CU_NS
