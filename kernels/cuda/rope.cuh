/* Rotary position embedding (rotate-half), in place.
 * Exports: cu_rope_fwd, cu_rope_bwd (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_rope_fwd(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved);
void cu_rope_bwd(rlc_backend_t *be, void *dx, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved);
} // namespace RLC_CU_NS
