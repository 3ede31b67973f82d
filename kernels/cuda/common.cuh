/* Shared by every CUDA op file: the backend's private state (stream, cuBLASLt handle,
 * workspaces, sticky error), CUDA_CHECK/CUBLAS_CHECK, bf16 helpers, block reductions.
 * Compiled by nvcc, or by a host C++ compiler against emu.h (RLC_CUDA_EMU) for tests. */
#pragma once
#ifdef RLC_CUDA_EMU
#include "kernels/cuda/emu.h"
#define RLC_CU_NS rlc_cu_emu
#define RLC_UNROLL
#else
#define RLC_UNROLL _Pragma("unroll")
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#define RLC_CU_NS rlc_cu
#define RLC_LAUNCH(kern, grid, block, smem, stream, ...) kern<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define RLC_DYN_SMEM(T, name)                                                                                          \
    extern __shared__ __align__(128) unsigned char rlc_dyn_smem_[];                                                     \
    T *name = (T *)rlc_dyn_smem_
#define RLC_STATIC_SMEM(bytes, ...) static_assert(true, "the driver knows a kernel's static shared memory")
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern "C" {
#include "core/err.h"
#include "core/log.h"
}
#include "core/half.h"
#include "core/philox.h"
#include "kernels/backend.h"

namespace RLC_CU_NS {

typedef __nv_bfloat16 bf16;

/* ---- element access: kernels are written once for float and bf16 storage ---- */
__device__ __forceinline__ float ldf(const float *p) { return *p; }
__device__ __forceinline__ float ldf(const bf16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void stf(float *p, float v) { *p = v; }
__device__ __forceinline__ void stf(bf16 *p, float v) { *p = __float2bfloat16_rn(v); }
/* Round a float to the nearest bf16 value, kept as float. */
__device__ __forceinline__ float round_bf(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

/* Gemma 2's soft-capping, as transformers computes it: cap·tanh(x / cap) (cap > 0), and its
 * slope d/dx from the capped value s: 1 - (s/cap)^2 (1 without capping, cap <= 0). */
__device__ __forceinline__ float softcap_val(float x, float cap) { return cap * tanhf(x / cap); }
__device__ __forceinline__ float softcap_slope(float s, float cap) {
    if (!(cap > 0.f)) return 1.f;
    float t = s / cap;
    return 1.f - t * t;
}
/* Attention's score of a raw query-key dot product: scale·dot, soft-capped when cap > 0. */
__device__ __forceinline__ float att_score(float dot, float scale, float cap) {
    float s = dot * scale;
    return cap > 0.f ? softcap_val(s, cap) : s;
}

/* ---- reductions (full warps only; block sizes are multiples of 32) ---- */
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* Sum over the block; every thread gets the same value (each sums the per-warp partials in
 * the same order, so the result is deterministic). `sh` holds >= 32 floats. */
__device__ __forceinline__ float block_sum(float v, float *sh) {
    int nw = (int)(blockDim.x / 32), w = (int)(threadIdx.x / 32), l = (int)(threadIdx.x % 32);
    v = warp_sum(v);
    __syncthreads(); /* sh may still be read by a previous call */
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = 0.f;
    for (int i = 0; i < nw; i++) t += sh[i];
    return t;
}

/* Max over the block, same contract as block_sum. */
__device__ __forceinline__ float block_max(float v, float *sh) {
    int nw = (int)(blockDim.x / 32), w = (int)(threadIdx.x / 32), l = (int)(threadIdx.x % 32);
    v = warp_max(v);
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = sh[0];
    for (int i = 1; i < nw; i++) t = fmaxf(t, sh[i]);
    return t;
}

/* Kernel-detected bad input, OR-ed into a device word and reported by be->check(). */
enum {
    FLAG_BAD_TOKEN = 1,   /* embedding: negative token id */
    FLAG_BAD_SEQLENS = 2, /* attention: cu_seqlens not monotone, beyond N or max_seqlen */
    FLAG_BAD_TARGET = 4,  /* lmhead: target >= V */
    FLAG_BAD_PAGED = 8,   /* paged attention: bad cu_q / ctx_len / block table entry */
};

struct gemm_entry; /* matmul.cu: cached cuBLASLt descriptors + algorithm per shape */

struct cu_impl {
    int device;
    cudaStream_t stream;
    int sm_count;
    size_t smem_optin; /* largest dynamic shared memory per block after opt-in */
    /* sticky error: the first failure since the last check() */
    int err;
    char errmsg[320];
    int *d_flag;      /* device word of FLAG_* bits */
    double *d_red;    /* sumsq partials + result */
    void *scratch;    /* op workspace, grown on demand */
    size_t scratch_size;
    float *stage;     /* host staging for bf16 <-> f32 uploads/downloads */
    size_t stage_n;
    size_t allocated; /* bytes handed out by alloc */
    size_t lmhead_chunk; /* tokens per LM-head chunk; 0 = from the memory budget */
    size_t lmhead_budget;
    int attn_simple; /* RLC_CUDA_ATTN=simple: fp32 attention kernels even where tensor cores apply */
    int row_invariant; /* honour be->row_invariant (gemm_rows.cu); RLC_CUDA_ROW_INVARIANT=0 clears it */
    int rowinv;        /* which row-invariant kernel: ROWINV_* of gemm_rows_tc.cuh (RLC_CUDA_ROWINV) */
    unsigned scratch_epoch; /* bumped when the op workspace moves: graphs captured before are stale */
    cublasLtHandle_t lt; /* the emulator's stand-in in the emulation build (emu_cublaslt.h) */
    void *lt_ws;
    size_t lt_ws_size;
    gemm_entry *gemm_cache;
    int gemm_cached;
};

static inline cu_impl *IM(rlc_backend_t *be) { return (cu_impl *)be->impl; }

/* Record a failure (kept only if none is pending). */
void cu_fail(cu_impl *im, int code, const char *fmt, ...) RLC_PRINTF(3, 4);
void cu_fail_cuda(cu_impl *im, cudaError_t e, const char *call, const char *file, int line);

#define CUDA_CHECK(im, call)                                                                                           \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) RLC_CU_NS::cu_fail_cuda((im), e_, #call, __FILE__, __LINE__);                           \
    } while (0)
/* After every kernel launch: configuration errors surface here, faults at the next sync. */
#define LAUNCH_CHECK(im) CUDA_CHECK(im, cudaGetLastError())
#define CUBLAS_CHECK(im, call)                                                                                         \
    do {                                                                                                               \
        cublasStatus_t s_ = (call);                                                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                               \
            RLC_CU_NS::cu_fail((im), RLC_ERR, "cuBLASLt: %s failed: %s (%s:%d)", #call, cublasLtGetStatusString(s_),   \
                               __FILE__, __LINE__);                                                                    \
    } while (0)

/* The op workspace, at least `bytes` large (stream-ordered reuse: ops on the one stream never
 * overlap). NULL after recording an error. */
void *cu_scratch(cu_impl *im, size_t bytes, const char *who);
/* Allow `bytes` of dynamic shared memory for `kern`; 0 ok, else records an error. The
 * limits apply to static + dynamic bytes: up to 48 KiB needs nothing; above, the kernel must
 * opt in (cudaFuncAttributeMaxDynamicSharedMemorySize) and static + dynamic must fit the
 * device's opt-in maximum. The static size comes from cudaFuncGetAttributes. */
template <class K> static inline int smem_allow(cu_impl *im, K kern, size_t bytes, const char *who) {
    cudaFuncAttributes fa;
    memset(&fa, 0, sizeof fa);
    CUDA_CHECK(im, cudaFuncGetAttributes(&fa, kern));
    if (im->err) return -1;
    size_t stat = fa.sharedSizeBytes;
    if (stat + bytes <= 48 * 1024) return 0;
    if (stat + bytes > im->smem_optin) {
        cu_fail(im, RLC_EUNSUP,
                "%s: needs %zu bytes of shared memory per block (%zu static + %zu dynamic), the device allows %zu",
                who, stat + bytes, stat, bytes, im->smem_optin);
        return -1;
    }
    CUDA_CHECK(im, cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    return im->err ? -1 : 0;
}

static inline unsigned cdiv(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }
/* Grid for a grid-stride elementwise loop over n items. */
static inline unsigned grid_for(size_t n, int threads) {
    size_t g = (n + (size_t)threads - 1) / (size_t)threads;
    if (g > 65535u * 8u) g = 65535u * 8u;
    return g ? (unsigned)g : 1u;
}

} // namespace RLC_CU_NS
