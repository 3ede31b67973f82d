/* Fused LM head: logits chunk by chunk, log-softmax, target log-prob, entropy, gradient.
 * Exports: cu_lmhead_fwd, cu_lmhead_bwd, cu_logits (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_lmhead_fwd(rlc_backend_t *be, float *logp, float *entropy, const void *h, const void *w,
                   const int32_t *targets, int N, int C, int V, float inv_temp, float softcap);
void cu_lmhead_bwd(rlc_backend_t *be, void *dh, void *dw, float *logp, float *entropy, const float *dlogp,
                   const float *dent, const void *h, const void *w, const int32_t *targets, int N, int C, int V,
                   float inv_temp, float softcap);
void cu_logits(rlc_backend_t *be, float *out, const void *h, const void *w, int M, int C, int V);
} // namespace RLC_CU_NS
