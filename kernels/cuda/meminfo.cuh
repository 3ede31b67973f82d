/* The backend's mem_info op: free and total memory of its device (cudaMemGetInfo).
 * Exports: cu_mem_info. */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
int cu_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes);
} // namespace RLC_CU_NS
