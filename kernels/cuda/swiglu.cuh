/* SwiGLU and GeGLU on the fused gate|up projection.
 * Exports: cu_swiglu_fwd, cu_swiglu_bwd, cu_geglu_fwd, cu_geglu_bwd (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_swiglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F);
void cu_swiglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);
void cu_geglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F);
void cu_geglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);
} // namespace RLC_CU_NS
