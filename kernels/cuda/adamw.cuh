/* AdamW with fp32 master weights and stochastic rounding to bf16.
 * Exports: cu_adamw (vtable signature). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_adamw(rlc_backend_t *be, void *param, float *master, const void *grad, float *m, float *v, size_t n, float lr,
              float b1, float b2, float eps, float wd, int step, float grad_scale, uint32_t seed);
} // namespace RLC_CU_NS
