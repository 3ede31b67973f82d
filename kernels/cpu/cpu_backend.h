/* The CPU reference backend: plain fp32 C with OpenMP and OpenBLAS sgemm. Every kind of
 * buffer is fp32 (int32 for I32) in host memory. */
#pragma once
#include "kernels/backend.h"

int rlc_cpu_backend_create(rlc_backend_t **out, int threads);
