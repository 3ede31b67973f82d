/* Backend selection: "cpu", "cuda" or "auto". The only place that knows which backends
 * were compiled in. */
#include "kernels/backend.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "kernels/cpu/cpu_backend.h"
/* RLC_KERNELS_CUDA is set by kernels/CMakeLists.txt when rlc_kernels_cuda is linked. */
#if defined(RLC_KERNELS_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

int rlc_backend_cuda_compiled(void) {
#if defined(RLC_KERNELS_CUDA)
    return 1;
#else
    return 0;
#endif
}

int rlc_backend_cuda_devices(char *desc, size_t desc_len) {
#if defined(RLC_KERNELS_CUDA)
    return rlc_cuda_device_count(desc, desc_len);
#else
    if (desc && desc_len) snprintf(desc, desc_len, "CUDA backend not compiled");
    return 0;
#endif
}

int rlc_backend_create(rlc_backend_t **out, const char *name, int device, int threads) {
    *out = NULL;
    if (!name || !strcmp(name, "cpu")) return rlc_cpu_backend_create(out, threads);
    if (!strcmp(name, "auto")) {
        if (rlc_backend_cuda_devices(NULL, 0) > 0) return rlc_backend_create(out, "cuda", device, threads);
        return rlc_cpu_backend_create(out, threads);
    }
    if (!strcmp(name, "cuda")) {
#if defined(RLC_KERNELS_CUDA)
        return rlc_cuda_backend_create(out, device, threads);
#else
        (void)device;
        return rlc_errc(RLC_EUNSUP, "this rlc was built without the CUDA backend (rebuild with nvcc available)");
#endif
    }
    return rlc_errc(RLC_EINVAL, "unknown device '%s' (expected cpu, cuda or auto)", name);
}

void rlc_backend_destroy(rlc_backend_t *be) {
    if (be) be->destroy(be);
}
