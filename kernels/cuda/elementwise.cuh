/* Elementwise ops and whole-buffer reductions.
 * Exports: cu_add, cu_scale, cu_sumsq, cu_act_to_f32, cu_f32_to_act, cu_head_copy (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_add(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n);
void cu_scale(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s);
void cu_softcap(rlc_backend_t *be, float *x, size_t n, float cap);
void cu_sumsq(rlc_backend_t *be, double *out_host, const void *x, rlc_buf_kind_t kind, size_t n);
void cu_act_to_f32(rlc_backend_t *be, float *dst, const void *src, size_t n);
void cu_f32_to_act(rlc_backend_t *be, void *dst, const float *src, size_t n);
void cu_head_copy(rlc_backend_t *be, void *dst, int dld, int dhs, const void *src, int sld, int shs, int N, int H,
                  int W, int sum);
} // namespace RLC_CU_NS
