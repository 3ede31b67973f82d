/* CPU emulation of the small CUDA subset the rlc kernels use, so that the CUDA backend's
 * kernels and launchers run (slowly) and get parity-tested on machines without a GPU: each
 * block's threads are ucontext fibers that switch at __syncthreads and warp shuffles.
 * Test-only (RLC_CUDA_EMU); never part of the rlc binary. See docs/cuda.md. */
#pragma once
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "core/half.h"

/* ---- qualifiers and built-in types ---- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
/* Blocks run one after another, so a function-static array is exactly one block's
 * shared memory. */
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct __nv_bfloat16 {
    uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 h) { return rlc_bf16_to_f32(h.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{rlc_f32_to_bf16(f)}; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorIllegalState = 401,
    cudaErrorStreamCaptureInvalidated = 901,
    cudaErrorLaunchFailure = 719,
} cudaError_t;
typedef void *cudaStream_t;
typedef enum { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault } cudaMemcpyKind;
typedef enum {
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
} cudaDeviceAttr;
typedef enum { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 } cudaFuncAttribute;
/* The subset of cudaFuncGetAttributes' answer the launchers read. */
struct cudaFuncAttributes {
    size_t sharedSizeBytes; /* static __shared__ bytes of the kernel */
    int maxThreadsPerBlock;
    int maxDynamicSharedSizeBytes;
};
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor, multiProcessorCount;
    size_t sharedMemPerBlockOptin;
};

namespace rlc_emu {

enum { F_RUN, F_BAR_BLOCK, F_BAR_WARP, F_DONE };
constexpr size_t kStack = 128 * 1024;
constexpr size_t kSmemDefault = 48 * 1024, kSmemOptin = 227 * 1024;
constexpr size_t kMemLimit = (size_t)8 << 30; /* emulated device capacity */

struct fiber_t {
    ucontext_t ctx;
    void *sp; /* saved stack pointer (x86-64 fast switch) */
    int state;
    dim3 tid;
    int lane, warp;
};

struct state_t {
    dim3 blockIdx, blockDim, gridDim;
    std::vector<fiber_t> fibers;
    std::vector<char *> stacks;
    ucontext_t sched;
    void *sched_sp = nullptr;
    fiber_t *cur = nullptr;
    std::function<void()> body;
    void *dyn_smem = nullptr;
    uint64_t shfl[32][32];
    cudaError_t last = cudaSuccess;
    std::map<const void *, int> max_dyn; /* cudaFuncAttributeMaxDynamicSharedMemorySize */
    std::map<void *, size_t> allocs;
    size_t used = 0;
    unsigned round = 0;
    /* stream capture: launches and async memory ops are recorded here instead of run; a
     * synchronous call while capturing invalidates the capture, as on a GPU */
    std::vector<std::function<void()>> *capture = nullptr;
    bool capture_bad = false;
    ~state_t() { /* the fibers' stacks, kept from block to block */
        for (char *p : stacks) free(p);
    }
};
inline state_t &S() {
    static state_t s;
    return s;
}

/* Static __shared__ bytes per kernel. A function-static array is invisible to the launch
 * (it is not a parameter), so each kernel that declares some registers their size next to
 * its definition (RLC_STATIC_SMEM); cudaFuncGetAttributes reports it and every launch checks
 * static + dynamic bytes the way the driver does. */
inline std::map<const void *, size_t> &static_smem() {
    static std::map<const void *, size_t> m;
    return m;
}
struct smem_reg {
    smem_reg(const void *k, size_t bytes) { static_smem()[k] = bytes; }
};
inline size_t static_smem_of(const void *k) {
    auto it = static_smem().find(k);
    return it == static_smem().end() ? 0 : it->second;
}

[[noreturn]] inline void die(const char *what) {
    fprintf(stderr, "cuda-emu: %s (block %u,%u,%u thread %u)\n", what, S().blockIdx.x, S().blockIdx.y, S().blockIdx.z,
            S().cur ? S().cur->tid.x : 0u);
    abort();
}

#if defined(__x86_64__)
/* A fiber switch without the signal-mask system call of swapcontext (the emulator spends
 * most of its time switching): save the callee-saved registers on the current stack, swap
 * stack pointers, restore. Weak, since every translation unit including this defines it. */
extern "C" void rlc_emu_switch(void **save_sp, void *new_sp);
asm(".text\n.weak rlc_emu_switch\n.type rlc_emu_switch,@function\nrlc_emu_switch:\n"
    "pushq %rbp\npushq %rbx\npushq %r12\npushq %r13\npushq %r14\npushq %r15\n"
    "movq %rsp, (%rdi)\nmovq %rsi, %rsp\n"
    "popq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbx\npopq %rbp\nret\n");
#define RLC_EMU_FAST_SWITCH 1
#endif

inline void yield_as(int st) {
    state_t &s = S();
    s.cur->state = st;
#ifdef RLC_EMU_FAST_SWITCH
    rlc_emu_switch(&s.cur->sp, s.sched_sp);
#else
    swapcontext(&s.cur->ctx, &s.sched);
#endif
}

inline void fiber_entry() {
    S().body();
    S().cur->state = F_DONE;
#ifdef RLC_EMU_FAST_SWITCH
    rlc_emu_switch(&S().cur->sp, S().sched_sp); /* never resumed */
    abort();
#endif
    /* ucontext: uc_link returns to the scheduler */
}

/* Run every thread of the current block to completion. Between barriers the fibers run in
 * alternating forward/reverse order, so a missing __syncthreads usually shows up as a
 * wrong result instead of passing by luck. */
inline void run_block() {
    state_t &s = S();
    int n = (int)(s.blockDim.x * s.blockDim.y * s.blockDim.z);
    while ((int)s.stacks.size() < n) s.stacks.push_back((char *)malloc(kStack));
    s.fibers.resize(n);
    for (int t = 0; t < n; t++) {
        fiber_t &f = s.fibers[t];
        f.tid = dim3(t % s.blockDim.x, (t / s.blockDim.x) % s.blockDim.y, t / (s.blockDim.x * s.blockDim.y));
        f.lane = t % 32;
        f.warp = t / 32;
        f.state = F_RUN;
#ifdef RLC_EMU_FAST_SWITCH
        /* a fresh stack that "returns" into fiber_entry with the ABI's call alignment */
        uintptr_t top = ((uintptr_t)(s.stacks[t] + kStack)) & ~(uintptr_t)15;
        void **sp = (void **)top;
        *--sp = nullptr;                   /* fiber_entry's return address: never used */
        *--sp = (void *)&fiber_entry;      /* popped by the switch's ret */
        for (int r = 0; r < 6; r++) *--sp = nullptr; /* rbp rbx r12 r13 r14 r15 */
        f.sp = sp;
#else
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = s.stacks[t];
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = &s.sched;
        makecontext(&f.ctx, fiber_entry, 0);
#endif
    }
    for (;;) {
        bool rev = (s.round++ & 1) != 0;
        for (int i = 0; i < n; i++) {
            fiber_t &f = s.fibers[rev ? n - 1 - i : i];
            if (f.state != F_RUN) continue;
            s.cur = &f;
#ifdef RLC_EMU_FAST_SWITCH
            rlc_emu_switch(&s.sched_sp, f.sp);
#else
            swapcontext(&s.sched, &f.ctx);
#endif
        }
        s.cur = nullptr;
        int done = 0, atb = 0;
        for (auto &f : s.fibers) done += f.state == F_DONE, atb += f.state == F_BAR_BLOCK;
        if (done == n) return;
        bool released = false;
        for (int w = 0; w * 32 < n; w++) {
            int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, atw = 0, dn = 0;
            for (int t = lo; t < hi; t++) atw += s.fibers[t].state == F_BAR_WARP, dn += s.fibers[t].state == F_DONE;
            if (atw == 0) continue;
            if (dn) die("warp shuffle/sync with exited lanes");
            if (atw == hi - lo) {
                for (int t = lo; t < hi; t++) s.fibers[t].state = F_RUN;
                released = true;
            }
        }
        if (released) continue;
        if (atb > 0 && atb + done == n) {
            for (auto &f : s.fibers)
                if (f.state == F_BAR_BLOCK) f.state = F_RUN;
            continue;
        }
        die("deadlock: threads wait at different barriers (divergent __syncthreads or shuffle)");
    }
}

/* Run host code that stands in for a device operation (the emulated cuBLASLt GEMM): now,
 * or at each replay when a capture is recording. */
template <class F> inline void host_op(F fn) {
    if (S().capture)
        S().capture->push_back(fn);
    else
        fn();
}
/* A call that synchronizes: not allowed while capturing. */
inline bool sync_call() {
    if (!S().capture) return true;
    S().capture_bad = true;
    return false;
}

template <class F> inline cudaError_t launch(const void *kfn, dim3 g, dim3 b, size_t smem, F body) {
    state_t &s = S();
    if (s.capture) {
        s.capture->push_back([=]() { launch(kfn, g, b, smem, body); });
        return cudaSuccess;
    }
    size_t nt = (size_t)b.x * b.y * b.z;
    if (nt == 0 || nt > 1024 || g.x == 0 || g.y == 0 || g.z == 0 || g.y > 65535 || g.z > 65535) {
        fprintf(stderr, "cuda-emu: bad launch grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
        return s.last = cudaErrorInvalidConfiguration;
    }
    /* the driver's rule: static + dynamic within 48 KiB, or, after the opt-in
     * (cudaFuncAttributeMaxDynamicSharedMemorySize = D), dynamic <= D and static + D within
     * the device's opt-in maximum (cudaFuncSetAttribute checked the latter) */
    size_t stat = static_smem_of(kfn);
    auto it = s.max_dyn.find(kfn);
    bool over = it == s.max_dyn.end() ? stat + smem > kSmemDefault : smem > (size_t)it->second;
    if (over) {
        fprintf(stderr, "cuda-emu: %zu static + %zu dynamic bytes of shared memory over the kernel's limit %zu\n", stat,
                smem, it == s.max_dyn.end() ? kSmemDefault : stat + (size_t)it->second);
        return s.last = cudaErrorInvalidValue;
    }
    /* Shared memory starts as NaN bytes so reads of never-written smem show up. */
    std::vector<unsigned char> dynbuf(smem + 256);
    unsigned char *dyn_base = (unsigned char *)(((uintptr_t)dynbuf.data() + 127) & ~(uintptr_t)127);
    s.body = [&]() { body(); };
    s.gridDim = g;
    s.blockDim = b;
    for (unsigned z = 0; z < g.z; z++)
        for (unsigned y = 0; y < g.y; y++)
            for (unsigned x = 0; x < g.x; x++) {
                memset(dyn_base, 0xff, smem + 16);
                s.dyn_smem = dyn_base;
                s.blockIdx = dim3(x, y, z);
                run_block();
            }
    s.body = nullptr;
    return cudaSuccess;
}

inline void warp_bar() { yield_as(F_BAR_WARP); }
inline int lane() { return S().cur->lane; }
inline uint64_t &slot(int ln) { return S().shfl[S().cur->warp][ln]; }

template <class T> inline T exchange(T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t b = 0;
    memcpy(&b, &v, sizeof(T));
    slot(lane()) = b;
    warp_bar();
    uint64_t r = slot(src);
    warp_bar();
    T o;
    memcpy(&o, &r, sizeof(T));
    return o;
}

} // namespace rlc_emu

#define threadIdx (rlc_emu::S().cur->tid)
#define blockIdx (rlc_emu::S().blockIdx)
#define blockDim (rlc_emu::S().blockDim)
#define gridDim (rlc_emu::S().gridDim)

inline void __syncthreads() { rlc_emu::yield_as(rlc_emu::F_BAR_BLOCK); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    if (mask != 0xffffffffu) rlc_emu::die("partial-mask __syncwarp is not emulated");
    rlc_emu::warp_bar();
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lm, int width = 32) {
    if (mask != 0xffffffffu || width != 32) rlc_emu::die("partial shuffles are not emulated");
    return rlc_emu::exchange(v, (rlc_emu::lane() ^ lm) & 31);
}
template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    if (mask != 0xffffffffu || width != 32) rlc_emu::die("partial shuffles are not emulated");
    return rlc_emu::exchange(v, src & 31);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    if (mask != 0xffffffffu || width != 32) rlc_emu::die("partial shuffles are not emulated");
    int src = rlc_emu::lane() + (int)d;
    return rlc_emu::exchange(v, src < 32 ? src : rlc_emu::lane());
}
/* One OS thread runs every fiber, so atomics are plain read-modify-writes. */
inline int atomicOr(int *p, int v) {
    int o = *p;
    *p = o | v;
    return o;
}
inline int atomicAdd(int *p, int v) {
    int o = *p;
    *p = o + v;
    return o;
}

inline unsigned atomicAdd(unsigned *p, unsigned v) {
    unsigned o = *p;
    *p = o + v;
    return o;
}
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
    unsigned long long o = *p;
    *p = o + v;
    return o;
}

#define RLC_LAUNCH(kern, grid, block, smem, stream, ...)                                                                \
    do {                                                                                                               \
        (void)(stream);                                                                                                \
        rlc_emu::launch((const void *)(kern), dim3(grid), dim3(block), (size_t)(smem), [=]() { kern(__VA_ARGS__); }); \
    } while (0)
#define RLC_DYN_SMEM(T, name) T *name = (T *)rlc_emu::S().dyn_smem
#define RLC_SMEM_CAT2(a, b) a##b
#define RLC_SMEM_CAT(a, b) RLC_SMEM_CAT2(a, b)
/* RLC_STATIC_SMEM(bytes, kernel): the kernel's static __shared__ total, for the emulator's
 * launch checks (on a GPU the driver knows it; the macro is empty there). */
#define RLC_STATIC_SMEM(bytes, ...)                                                                                    \
    static const rlc_emu::smem_reg RLC_SMEM_CAT(rlc_smem_reg_, __LINE__)((const void *)(__VA_ARGS__), (bytes))


/* ---- nvcuda::wmma (bf16 16x16x16 with fp32 accumulators), warp-collective in spirit: each
 * lane loads whole A/B tiles, but owns (computes and stores) only the accumulator elements
 * e with e % 32 == lane, so a read of another lane's store without __syncwarp goes stale
 * here as it may on a GPU. Pointers must be 256-bit aligned and ldm a multiple of 16 bytes,
 * as the hardware requires. */
namespace nvcuda {
namespace wmma {
struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };
template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
    /* elementwise loops over x[0, num_elements) touch every element in every lane; only the
     * lane's own accumulator elements are ever stored, as on a GPU where each lane holds its
     * part (the same part for fragments of one type) */
    enum { num_elements = 256 };
    float x[256];
};
inline void check_ptr(const void *p, unsigned ldm, size_t esize) {
    if ((uintptr_t)p % 32) rlc_emu::die("wmma: pointer not 256-bit aligned");
    if ((ldm * esize) % 16) rlc_emu::die("wmma: ldm not a multiple of 16 bytes");
}
template <class U, class T, class L> inline void fill_fragment(fragment<U, 16, 16, 16, T, L> &f, float v) {
    for (int i = 0; i < 256; i++) f.x[i] = v;
}
/* A and B: x[r * 16 + c] is element (r, c) of the 16x16 operand. */
template <class U> inline void load_matrix_sync(fragment<U, 16, 16, 16, __nv_bfloat16, row_major> &f,
                                                const __nv_bfloat16 *p, unsigned ldm) {
    check_ptr(p, ldm, 2);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = __bfloat162float(p[(size_t)r * ldm + c]);
}
template <class U> inline void load_matrix_sync(fragment<U, 16, 16, 16, __nv_bfloat16, col_major> &f,
                                                const __nv_bfloat16 *p, unsigned ldm) {
    check_ptr(p, ldm, 2);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = __bfloat162float(p[(size_t)c * ldm + r]);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p, unsigned ldm, layout_t l) {
    check_ptr(p, ldm, 4);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = l == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
}
template <class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
                     const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LA> &a,
                     const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LB> &b,
                     const fragment<accumulator, 16, 16, 16, float> &c) {
    int ln = rlc_emu::lane();
    for (int e = ln; e < 256; e += 32) {
        int r = e / 16, col = e % 16;
        float acc = c.x[e];
        for (int k = 0; k < 16; k++) acc += a.x[r * 16 + k] * b.x[k * 16 + col];
        d.x[e] = acc;
    }
}
inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm, layout_t l) {
    check_ptr(p, ldm, 4);
    for (int e = rlc_emu::lane(); e < 256; e += 32) {
        int r = e / 16, c = e % 16;
        if (l == mem_row_major)
            p[(size_t)r * ldm + c] = f.x[e];
        else
            p[(size_t)c * ldm + r] = f.x[e];
    }
}
} // namespace wmma
} // namespace nvcuda

/* ---- runtime API ---- */
inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorIllegalState: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    default: return "unspecified launch failure";
    }
}
inline cudaError_t cudaGetLastError() {
    cudaError_t e = rlc_emu::S().last;
    rlc_emu::S().last = cudaSuccess;
    return e;
}
inline cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d != 0) return cudaErrorInvalidValue;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CUDA emulator on CPU");
    p->totalGlobalMem = rlc_emu::kMemLimit;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 4;
    p->sharedMemPerBlockOptin = rlc_emu::kSmemOptin;
    return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d) {
    (void)d;
    *v = a == cudaDevAttrMultiProcessorCount ? 4 : (int)rlc_emu::kSmemOptin;
    return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t *fr, size_t *total) {
    *total = rlc_emu::kMemLimit;
    *fr = rlc_emu::kMemLimit - rlc_emu::S().used;
    return cudaSuccess;
}
inline cudaError_t cudaMalloc(void **p, size_t n) {
    rlc_emu::state_t &s = rlc_emu::S();
    *p = nullptr;
    if (!rlc_emu::sync_call()) return cudaErrorStreamCaptureInvalidated;
    if (n > rlc_emu::kMemLimit - s.used) return cudaErrorMemoryAllocation;
    size_t sz = (n + 255) / 256 * 256;
    void *q = aligned_alloc(256, sz ? sz : 256);
    if (!q) return cudaErrorMemoryAllocation;
    memset(q, 0xff, sz ? sz : 256); /* uninitialised device memory reads as NaN */
    s.allocs[q] = n;
    s.used += n;
    *p = q;
    return cudaSuccess;
}
inline cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    if (!rlc_emu::sync_call()) return cudaErrorStreamCaptureInvalidated;
    rlc_emu::state_t &s = rlc_emu::S();
    auto it = s.allocs.find(p);
    if (it == s.allocs.end()) return cudaErrorInvalidValue;
    s.used -= it->second;
    s.allocs.erase(it);
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void **p, size_t n) {
    *p = malloc(n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) {
    if (n) rlc_emu::host_op([=]() { memmove(d, s, n); });
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) {
    if (n) rlc_emu::host_op([=]() { memset(d, v, n); });
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *d, int v, size_t n) {
    if (n) memset(d, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = (cudaStream_t)&rlc_emu::S();
    return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
    return rlc_emu::sync_call() ? cudaSuccess : cudaErrorStreamCaptureInvalidated;
}
inline cudaError_t cudaDeviceSynchronize() {
    return rlc_emu::sync_call() ? cudaSuccess : cudaErrorStreamCaptureInvalidated;
}

/* ---- graphs: a recorded list of operations, replayed in order ---- */
struct rlc_emu_graph {
    std::vector<std::function<void()>> ops;
};
typedef rlc_emu_graph *cudaGraph_t;
typedef rlc_emu_graph *cudaGraphExec_t;
typedef enum {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
} cudaStreamCaptureMode;
inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
    rlc_emu::state_t &s = rlc_emu::S();
    if (s.capture) return cudaErrorIllegalState;
    s.capture = new std::vector<std::function<void()>>();
    s.capture_bad = false;
    return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g) {
    rlc_emu::state_t &s = rlc_emu::S();
    *g = nullptr;
    if (!s.capture) return cudaErrorIllegalState;
    bool bad = s.capture_bad;
    if (!bad) *g = new rlc_emu_graph{std::move(*s.capture)};
    delete s.capture;
    s.capture = nullptr;
    s.capture_bad = false;
    return bad ? cudaErrorStreamCaptureInvalidated : cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long) {
    *x = new rlc_emu_graph(*g);
    return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t) {
    if (rlc_emu::S().capture) return cudaErrorIllegalState;
    for (auto &op : x->ops) op();
    return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    delete g;
    return cudaSuccess;
}
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) {
    delete x;
    return cudaSuccess;
}
template <class K> inline cudaError_t cudaFuncSetAttribute(K kern, cudaFuncAttribute, int v) {
    if (v < 0 || (size_t)v + rlc_emu::static_smem_of((const void *)kern) > rlc_emu::kSmemOptin)
        return rlc_emu::S().last = cudaErrorInvalidValue;
    rlc_emu::S().max_dyn[(const void *)kern] = v;
    return cudaSuccess;
}
template <class K> inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, K kern) {
    const void *k = (const void *)kern;
    a->sharedSizeBytes = rlc_emu::static_smem_of(k);
    a->maxThreadsPerBlock = 1024;
    auto it = rlc_emu::S().max_dyn.find(k);
    a->maxDynamicSharedSizeBytes =
        it != rlc_emu::S().max_dyn.end() ? it->second : (int)(rlc_emu::kSmemDefault - a->sharedSizeBytes);
    return cudaSuccess;
}

#include "kernels/cuda/emu_cublaslt.h"
