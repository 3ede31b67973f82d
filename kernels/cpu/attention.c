/* Causal GQA attention (training forward/backward) and paged decode attention on the CPU:
 * the portable build of attention_impl.h and the dispatch to the AVX2 / AVX-512 builds
 * (attention_avx2.c, attention_avx512.c) by kernels/cpu/isa.c's choice. */
#define ATTN_ISA portable
#include "kernels/cpu/attention_impl.h"

#define ATTN_PROTOS(sfx)                                                                                               \
    void attention_fwd_##sfx(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens,     \
                             int nseq, int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap,       \
                             int window);                                                                              \
    void attention_bwd_##sfx(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const float *lse,       \
                             const int32_t *cu_seqlens, int nseq, int max_seqlen, int Hq, int Hk, int D, float scale,  \
                             float softcap, int window);                                                               \
    void paged_attention_##sfx(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache,                     \
                               const void *v_cache, const int32_t *cu_q, const int32_t *ctx_len,                       \
                               const int32_t *block_table, int max_pages, int page_size, int nseq, int N, int Hq,      \
                               int Hk, int D, float scale, float softcap, int max_ctx, int window)
#ifdef RLC_ATTN_VEC
ATTN_PROTOS(avx2);
ATTN_PROTOS(avx512);
#endif

static const cpu_attn_impl_t impls[] = {
    {attention_fwd_portable, attention_bwd_portable, paged_attention_portable},
#ifdef RLC_ATTN_VEC
    {attention_fwd_avx2, attention_bwd_avx2, paged_attention_avx2},
    {attention_fwd_avx512, attention_bwd_avx512, paged_attention_avx512},
#endif
};

const cpu_attn_impl_t *cpu_attn_impl(int isa) {
    if (isa > cpu_isa_supported()) isa = cpu_isa_supported();
    int n = (int)(sizeof impls / sizeof impls[0]);
    return &impls[isa < n ? isa : n - 1];
}

void cpu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                       int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window) {
    cpu_attn_impl(cpu_isa())->fwd(be, out, lse, qkv, cu_seqlens, nseq, max_seqlen, N, Hq, Hk, D, scale, softcap,
                                  window);
}

void cpu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                       const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                       int D, float scale, float softcap, int window) {
    (void)N;
    (void)out; /* D_t is recomputed from P and dP (attention_impl.h) */
    cpu_attn_impl(cpu_isa())->bwd(be, dqkv, dout, qkv, lse, cu_seqlens, nseq, max_seqlen, Hq, Hk, D, scale, softcap,
                                  window);
}

void cpu_paged_attention(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                         const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                         int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                         int max_ctx, int window) {
    cpu_attn_impl(cpu_isa())->paged(be, out, qkv, k_cache, v_cache, cu_q, ctx_len, block_table, max_pages, page_size,
                                    nseq, N, Hq, Hk, D, scale, softcap, max_ctx, window);
}
