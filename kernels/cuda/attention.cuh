/* Causal GQA flash-style attention over packed varlen qkv, forward and backward.
 * Exports: cu_attention_fwd, cu_attention_bwd (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                      int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window);
void cu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                      const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                      int D, float scale, float softcap, int window);
} // namespace RLC_CU_NS
