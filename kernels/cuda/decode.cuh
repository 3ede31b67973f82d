/* Decoding ops of the rollout engine: row gather, KV-cache store, paged attention.
 * Exports: cu_gather_rows, cu_kv_store, cu_paged_attention (vtable signatures). */
#pragma once
#include "kernels/cuda/common.cuh"

namespace RLC_CU_NS {
void cu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C);
void cu_kv_store(rlc_backend_t *be, void *k_cache, void *v_cache, const void *qkv, const int32_t *slots, int N, int Hq,
                 int Hk, int D);
void cu_paged_attention(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                        const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                        int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                        int max_ctx, int window);
} // namespace RLC_CU_NS
