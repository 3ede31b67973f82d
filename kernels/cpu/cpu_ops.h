/* Internal: the CPU op implementations, one file per family (named as the family's
 * kernels/cuda/ file), wired into the vtable by cpu_backend.c. Signatures follow kernels/backend.h exactly (pointers are host fp32). */
#pragma once
#include "kernels/backend.h"

/* The instruction-set path (kernels/cpu/isa.c): the best the machine has, capped by
 * RLC_CPU_ISA=avx512|avx2|portable. */
enum { CPU_ISA_PORTABLE = 0, CPU_ISA_AVX2 = 1, CPU_ISA_AVX512 = 2 };
int cpu_isa(void);
/* The best path this CPU and OS support, whatever RLC_CPU_ISA says. */
int cpu_isa_supported(void);
const char *cpu_isa_name(int isa);
/* /proc/cpuinfo's "model name" ("unknown CPU" when it cannot tell). */
void cpu_model_name(char *out, size_t cap);

/* A kernel whose scratch allocation failed calls this and skips its work; be->check()
 * then returns RLC_ENOMEM (the message names op). */
void cpu_scratch_failed(rlc_backend_t *be, const char *op);
/* The backend's workspace, at least `bytes` long, kept across calls (one caller at a time);
 * NULL, after cpu_scratch_failed(be, op), when it cannot grow. */
void *cpu_workspace(rlc_backend_t *be, size_t bytes, const char *op);
/* The LM head's kept logits (be->lmhead_keep / lmhead_use): a buffer of `floats` for a
 * forward to keep its logits in (drops what was kept; NULL when it cannot be had), the id
 * that marks them kept for an [n, v] block, the block for that id (NULL when something else
 * was kept or dropped since), and dropping it. */
float *cpu_kept_buffer(rlc_backend_t *be, size_t floats);
unsigned cpu_kept_set(rlc_backend_t *be, int n, int v);
float *cpu_kept_take(rlc_backend_t *be, unsigned id, int n, int v);
void cpu_kept_drop(rlc_backend_t *be);

/* Threads for OpenMP regions of this backend. */
#define CPU_THREADS(be) ((be)->threads > 0 ? (be)->threads : 1)

int cpu_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes);
void cpu_add(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n);
void cpu_scale(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s);
void cpu_sumsq(rlc_backend_t *be, double *out, const void *x, rlc_buf_kind_t kind, size_t n);
void cpu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C);
void cpu_softcap(rlc_backend_t *be, float *x, size_t n, float cap);
/* x = (cap·tanh(x / cap))·mul in place, over the backend's threads (cpu_vsoftcap). */
void cpu_softcap_mul(rlc_backend_t *be, float *x, size_t n, float cap, float mul);
void cpu_act_to_f32(rlc_backend_t *be, float *dst, const void *src, size_t n);
void cpu_f32_to_act(rlc_backend_t *be, void *dst, const float *src, size_t n);
void cpu_head_copy(rlc_backend_t *be, void *dst, int dld, int dhs, const void *src, int sld, int shs, int N,
                   int H, int W, int sum);
void cpu_moe_route_fwd(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E,
                       int K, int norm);
void cpu_moe_route_bwd(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                       const int32_t *idx, int N, int E, int K, int norm);
void cpu_moe_route_biased_fwd(rlc_backend_t *be, float *scores, float *w, int32_t *idx, const float *logits,
                              const float *bias, int N, const rlc_moe_route_t *r);
void cpu_moe_route_biased_bwd(rlc_backend_t *be, float *dlogits, const float *dw, const float *scores, const float *w,
                              const int32_t *idx, int N, const rlc_moe_route_t *r);
void cpu_moe_combine_fwd(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N, int K,
                         int C);
void cpu_moe_combine_bwd(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                         const int32_t *inv, int N, int K, int C);
void cpu_moe_gate_add_fwd(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C);
void cpu_moe_gate_add_bwd(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z, int N,
                          int C);
void cpu_embedding_fwd(rlc_backend_t *be, void *out, const int32_t *ids, const void *wte, int N, int C);
void cpu_embedding_bwd(rlc_backend_t *be, void *dwte, const void *dout, const int32_t *ids, int N, int C);
void cpu_rmsnorm_fwd(rlc_backend_t *be, void *out, float *rstd, const void *inp, const void *w, int N, int C, float eps);
void cpu_residual_rmsnorm_fwd(rlc_backend_t *be, void *resid, void *out, float *rstd, const void *a, const void *b,
                              const void *w, int N, int C, float eps);
void cpu_rmsnorm_bwd(rlc_backend_t *be, void *dinp, void *dw, const void *dout, const void *inp, const void *w,
                     const float *rstd, int N, int C);
void cpu_qk_norm_fwd(rlc_backend_t *be, void *qkv, void *raw, float *rstd, const void *wq, const void *wk, int N,
                     int Hq, int Hk, int D, int ld, float eps);
void cpu_qk_norm_bwd(rlc_backend_t *be, void *dqkv, void *dwq, void *dwk, const void *raw, const void *wq,
                     const void *wk, const float *rstd, int N, int Hq, int Hk, int D, int ld);
void cpu_rope_fwd(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                  float mscale, int ld, int interleaved);
void cpu_rope_bwd(rlc_backend_t *be, void *dx, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                  float mscale, int ld, int interleaved);
void cpu_attention_fwd(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                       int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window);
void cpu_attention_bwd(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                       const float *lse, const int32_t *cu_seqlens, int nseq, int max_seqlen, int N, int Hq, int Hk,
                       int D, float scale, float softcap, int window);
void cpu_swiglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F);
void cpu_swiglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);
void cpu_geglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F);
void cpu_geglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F);
void cpu_gemm_rows(rlc_backend_t *be, float *out, const float *x, const float *w, const float *bias, int M, int K,
                   int N);
/* The attention kernels of one instruction-set path (tests; isa is lowered to what this
 * machine supports). The arguments are those of the ops minus the unused ones. */
typedef struct {
    void (*fwd)(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window);
    void (*bwd)(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const float *lse,
                const int32_t *cu_seqlens, int nseq, int max_seqlen, int Hq, int Hk, int D, float scale, float softcap,
                int window);
    void (*paged)(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                  const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                  int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap, int max_ctx,
                  int window);
} cpu_attn_impl_t;
const cpu_attn_impl_t *cpu_attn_impl(int isa);
/* The same on a given path (tests): isa is lowered to what this machine supports. */
void cpu_gemm_rows_isa(rlc_backend_t *be, int isa, float *out, const float *x, const float *w, const float *bias,
                       int M, int K, int N);
void cpu_matmul_fwd(rlc_backend_t *be, void *out, const void *inp, const void *w, const void *bias, int N, int IC,
                    int OC);
void cpu_matmul_bwd(rlc_backend_t *be, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
                    const void *w, int N, int IC, int OC);
void cpu_lmhead_fwd(rlc_backend_t *be, float *logp, float *entropy, const void *h, const void *w,
                    const int32_t *targets, int N, int C, int V, float inv_temp, float softcap);
void cpu_lmhead_bwd(rlc_backend_t *be, void *dh, void *dw, float *logp, float *entropy, const float *dlogp,
                    const float *dent, const void *h, const void *w, const int32_t *targets, int N, int C, int V,
                    float inv_temp, float softcap);
void cpu_logits(rlc_backend_t *be, float *out, const void *h, const void *w, int M, int C, int V);
void cpu_kv_store(rlc_backend_t *be, void *k_cache, void *v_cache, const void *qkv, const int32_t *slots, int N,
                  int Hq, int Hk, int D);
void cpu_paged_attention(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                         const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                         int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                         int max_ctx, int window);
void cpu_sample(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits, const rlc_sample_params_t *params,
                int M, int V);
/* y[i] = exp(x[i] - shift) (y may alias x), vectorised where the machine allows. */
void cpu_vexpf(float *y, const float *x, int n, float shift);
/* y[i] = (cap·tanh(x[i] / cap))·mul (y may alias x; cap > 0), vectorised where the machine
 * allows: the soft-capping of Gemma 2's scores and logits, as transformers computes it (mul:
 * a scale after it, 1 for none), and tanh itself with cap = mul = 1 (exact: x / 1 and 1·t
 * round to themselves). Each element is the same function of its value alone, so a value's
 * result does not depend on the row or batch it is in. */
void cpu_vsoftcap(float *y, const float *x, size_t n, float cap, float mul);
/* The soft-capping's slope d(cap·tanh(x / cap))/dx, from the capped value s: 1 - (s/cap)^2. */
static inline float cpu_softcap_slope(float s, float cap) {
    float t = s / cap;
    return 1.0f - t * t;
}
/* 0 when the AVX2 Philox used by the sampler equals rlc_philox4x32 bit for bit, 1 when the
 * vector path is not available here, -1 on a mismatch (tests). */
int cpu_philox8_selfcheck(void);
void cpu_adamw(rlc_backend_t *be, void *param, float *master, const void *grad, float *m, float *v, size_t n, float lr,
               float b1, float b2, float eps, float wd, int step, float grad_scale, uint32_t seed);
