/* Mixture-of-experts routing (softmax, top-k, renormalisation) and the weighted combination
 * of each token's expert rows, with their backwards.
 * Exports: cu_moe_route_fwd, cu_moe_route_bwd, cu_moe_route_biased_fwd, cu_moe_route_biased_bwd, cu_moe_combine_fwd,
 * cu_moe_combine_bwd
 * (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_moe_route_fwd(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E, int K,
                      int norm);
void cu_moe_route_bwd(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                      const int32_t *idx, int N, int E, int K, int norm);
void cu_moe_route_biased_fwd(rlc_backend_t *be, float *scores, float *w, int32_t *idx, const float *logits,
                             const float *bias, int N, const rlc_moe_route_t *r);
void cu_moe_route_biased_bwd(rlc_backend_t *be, float *dlogits, const float *dw, const float *scores, const float *w,
                             const int32_t *idx, int N, const rlc_moe_route_t *r);
void cu_moe_combine_fwd(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N, int K,
                        int C);
void cu_moe_gate_add_fwd(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C);
void cu_moe_gate_add_bwd(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z, int N,
                         int C);
void cu_moe_combine_bwd(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                        const int32_t *inv, int N, int K, int C);
} // namespace RLC_CU_NS
