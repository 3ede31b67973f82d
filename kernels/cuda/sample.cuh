/* Token sampling (greedy / temperature / top-k / top-p / min-p, Gumbel-max with Philox).
 * Exports: cu_sample (vtable signature). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_sample(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits, const rlc_sample_params_t *params,
               int M, int V);
} // namespace RLC_CU_NS
