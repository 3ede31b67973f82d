/* The CUDA backend's entry points: create fills the vtable of kernels/backend.h with the ops
 * of kernels/cuda/ (bf16 PARAM/ACT, fp32 GRAD/F32, fp32 accumulation everywhere).
 * Exports: rlc_cuda_backend_create, rlc_cuda_device_count. */
#pragma once
#include <stddef.h>

#include "kernels/backend.h"

#ifdef RLC_CUDA_EMU /* the CPU-emulated build used by tests gets its own symbol names */
#define rlc_cuda_backend_create rlc_cuda_emu_backend_create
#define rlc_cuda_device_count rlc_cuda_emu_device_count
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Fills *out with a CUDA backend on GPU `device`; `threads` is recorded for host-side work.
 * Returns 0, or a negative RLC_E* code with a clear message when no driver/GPU is usable. */
int rlc_cuda_backend_create(rlc_backend_t **out, int device, int threads);
/* Number of CUDA devices (0 without a driver or GPU; never fails). When desc is not NULL it
 * receives device 0's description, e.g. "NVIDIA H100 80GB HBM3 (sm_90), 79.1 GiB". */
int rlc_cuda_device_count(char *desc, size_t desc_len);

#ifdef __cplusplus
}
#endif
