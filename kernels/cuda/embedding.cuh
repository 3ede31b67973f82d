/* Token embedding lookup and its deterministic backward.
 * Exports: cu_embedding_fwd, cu_embedding_bwd (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_embedding_fwd(rlc_backend_t *be, void *out, const int32_t *ids, const void *wte, int N, int C);
void cu_embedding_bwd(rlc_backend_t *be, void *dwte, const void *dout, const int32_t *ids, int N, int C);
} // namespace RLC_CU_NS
