/* RMSNorm forward (optionally fused with the residual add) and backward.
 * Exports: cu_rmsnorm_fwd, cu_residual_rmsnorm_fwd, cu_rmsnorm_bwd (vtable signatures),
 * cu_colsum_add (deterministic column sums, also used by matmul's bias gradient),
 * cu_qk_norm_fwd, cu_qk_norm_bwd (Qwen3's per-head norm of queries and keys). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_rmsnorm_fwd(rlc_backend_t *be, void *out, float *rstd, const void *inp, const void *w, int N, int C, float eps);
void cu_residual_rmsnorm_fwd(rlc_backend_t *be, void *resid, void *out, float *rstd, const void *a, const void *b,
                             const void *w, int N, int C, float eps);
void cu_rmsnorm_bwd(rlc_backend_t *be, void *dinp, void *dw, const void *dout, const void *inp, const void *w,
                    const float *rstd, int N, int C);
void cu_qk_norm_fwd(rlc_backend_t *be, void *qkv, void *raw, float *rstd, const void *wq, const void *wk, int N, int Hq,
                    int Hk, int D, int ld, float eps);
void cu_qk_norm_bwd(rlc_backend_t *be, void *dqkv, void *dwq, void *dwk, const void *raw, const void *wq,
                    const void *wk, const float *rstd, int N, int Hq, int Hk, int D, int ld);
/* dst[c] += sum over rows r of src[r, c] (src bf16 [R, C]), in a fixed order. */
void cu_colsum_add(cu_impl *im, float *dst, const bf16 *src, int R, int C);
} // namespace RLC_CU_NS
