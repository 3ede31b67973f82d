/* The backend's mem_info op (memory report, KV cache sizing): cudaMemGetInfo on the
 * backend's device. Exports: cu_mem_info. */
#include "kernels/cuda/meminfo.cuh"

namespace RLC_CU_NS {

int cu_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = *total_bytes = 0;
    cu_impl *im = IM(be);
    cudaError_t e = cudaSetDevice(im->device);
    if (e == cudaSuccess) e = cudaMemGetInfo(free_bytes, total_bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return rlc_errc(RLC_ERR, "cuda: cannot read the free memory of device %d: %s", im->device,
                        cudaGetErrorString(e));
    }
    return 0;
}

} // namespace RLC_CU_NS
