/* Row-invariant matmul for generation: out[N,OC] = inp[N,IC] · w[OC,IC]^T (+ bias), bf16 in,
 * fp32 accumulation, bf16 or fp32 out, every output element summed in one fixed order that
 * depends on IC alone — never on N, the batch composition, a row's position or the launch
 * geometry — so a sequence's tokens are bit-identical whatever batch it shares (the CUDA
 * counterpart of kernels/cpu/gemm_rows.c). Used by matmul_fwd and logits while
 * be->row_invariant is set with RLC_CUDA_ROWINV=simt (the tensor-core alternative, the
 * default, is gemm_rows_tc.cu), unless RLC_CUDA_ROW_INVARIANT=0.
 * Exports: cu_gemm_rows, cu_row_invariant. */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {

/* out is float [N, OC] when out_f32, else bf16; bias (bf16 [OC]) may be NULL. N, OC and IC
 * are >= 1 (cu_gemm_rowinv checks them). Any pointer alignment (16-byte vector loads where
 * alignment allows; the summation order is the same either way). */
void cu_gemm_rows(cu_impl *im, void *out, bool out_f32, const bf16 *inp, const bf16 *w, const bf16 *bias, int N,
                  int IC, int OC);

/* Whether matmul_fwd / logits must take the row-invariant path now. */
static inline bool cu_row_invariant(rlc_backend_t *be) { return be->row_invariant && IM(be)->row_invariant; }

} // namespace RLC_CU_NS
