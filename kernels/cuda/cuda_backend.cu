/* The CUDA backend object: device selection, memory (plain cudaMalloc per buffer, never
 * managed memory; out-of-memory names the buffer and the size), host <-> device copies with
 * bf16 conversion, the sticky error reported by check(), and the vtable wiring.
 * Exports: rlc_cuda_backend_create, rlc_cuda_device_count; internally cu_fail,
 * cu_fail_cuda, cu_scratch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/decode.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/gemm_rows_tc.cuh"
#include "kernels/cuda/graph.cuh"
#include "kernels/cuda/lmhead.cuh"
#include "kernels/cuda/lt_loader.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/meminfo.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/sample.cuh"
#include "kernels/cuda/swiglu.cuh"

namespace RLC_CU_NS {

static const size_t STAGE_ELEMS = (size_t)1 << 20;
static const size_t LT_WORKSPACE = (size_t)32 << 20; /* cuBLASLt's recommendation for Hopper */
static const double MiB = 1048576.0;

void cu_fail(cu_impl *im, int code, const char *fmt, ...) {
    if (im->err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->errmsg, sizeof im->errmsg, fmt, ap);
    va_end(ap);
    im->err = code ? code : RLC_ERR;
}

void cu_fail_cuda(cu_impl *im, cudaError_t e, const char *call, const char *file, int line) {
    const char *b = strrchr(file, '/');
    cu_fail(im, e == cudaErrorMemoryAllocation ? RLC_ENOMEM : RLC_ERR, "CUDA error: %s (%s at %s:%d)",
            cudaGetErrorString(e), call, b ? b + 1 : file, line);
}

static void oom_message(const char *what, size_t bytes) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) fr = tot = 0;
    (void)cudaGetLastError();
    rlc_errc(RLC_ENOMEM, "cuda: out of memory allocating %s: %.1f MiB requested, %.1f MiB free of %.1f MiB", what,
             bytes / MiB, fr / MiB, tot / MiB);
}

void *cu_scratch(cu_impl *im, size_t bytes, const char *who) {
    if (im->err) return NULL;
    if (bytes <= im->scratch_size) return im->scratch;
    size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    if (im->scratch) { /* cudaFree waits for the kernels still using the old buffer */
        CUDA_CHECK(im, cudaFree(im->scratch));
        im->scratch = NULL;
        im->scratch_size = 0;
    }
    void *p = NULL;
    if (cudaMalloc(&p, want) != cudaSuccess) {
        char what[96];
        snprintf(what, sizeof what, "the %s workspace", who);
        oom_message(what, want);
        cu_fail(im, RLC_ENOMEM, "%s", rlc_errmsg());
        return NULL;
    }
    LOG_DEBUG("cuda: op workspace grown to %.1f MiB (%s)", want / MiB, who);
    im->scratch = p;
    im->scratch_size = want;
    im->scratch_epoch++; /* graphs captured with the old workspace are stale */
    return p;
}

/* ---- backend object ---- */

static size_t esize_of(rlc_backend_t *be, rlc_buf_kind_t kind) {
    return (unsigned)kind < RLC_BUF_KINDS ? be->esize[kind] : 0;
}

static bool kind_bf16(rlc_buf_kind_t k) { return k == RLC_BUF_PARAM || k == RLC_BUF_ACT; }

static void be_destroy(rlc_backend_t *be) {
    if (!be) return;
    cu_impl *im = IM(be);
    if (im) {
        cudaSetDevice(im->device);
        if (im->stream) cudaStreamSynchronize(im->stream);
        cu_gemm_cache_free(im);
        if (im->lt_ws) cudaFree(im->lt_ws);
        if (im->lt) cublasLtDestroy(im->lt);
        if (im->scratch) cudaFree(im->scratch);
        if (im->d_flag) cudaFree(im->d_flag);
        if (im->d_red) cudaFree(im->d_red);
        if (im->stage) cudaFreeHost(im->stage);
        if (im->stream) cudaStreamDestroy(im->stream);
        (void)cudaGetLastError();
        free(im);
    }
    free(be);
}

static const char *flag_message(int f) {
    if (f & FLAG_BAD_SEQLENS)
        return "attention: bad cu_seqlens (not increasing, beyond N tokens, or a sequence longer than max_seqlen)";
    if (f & FLAG_BAD_PAGED)
        return "paged attention: bad cu_q / ctx_len (query past the context) or a negative block table entry";
    if (f & FLAG_BAD_TARGET) return "lmhead: target token id >= vocabulary size";
    return "embedding: negative token id";
}

/* Waits for the stream, so faults of asynchronous kernels surface here; call it once per
 * step rather than after every op. */
static int be_check(rlc_backend_t *be) {
    cu_impl *im = IM(be);
    CUDA_CHECK(im, cudaStreamSynchronize(im->stream));
    if (!im->err) {
        int f = 0;
        CUDA_CHECK(im, cudaMemcpyAsync(&f, im->d_flag, sizeof f, cudaMemcpyDeviceToHost, im->stream));
        CUDA_CHECK(im, cudaStreamSynchronize(im->stream));
        if (!im->err && f) {
            CUDA_CHECK(im, cudaMemsetAsync(im->d_flag, 0, sizeof(int), im->stream));
            cu_fail(im, RLC_ERANGE, "cuda: %s", flag_message(f));
        }
    }
    if (!im->err) return 0;
    int rc = rlc_errc(im->err, "%s", im->errmsg);
    im->err = 0;
    im->errmsg[0] = 0;
    return rc;
}

static void be_sync(rlc_backend_t *be) { CUDA_CHECK(IM(be), cudaStreamSynchronize(IM(be)->stream)); }

static void *be_alloc(rlc_backend_t *be, const char *name, size_t n, rlc_buf_kind_t kind) {
    size_t es = esize_of(be, kind);
    if (!es) {
        rlc_errc(RLC_EINVAL, "cuda: alloc %s: bad buffer kind %d", name ? name : "?", (int)kind);
        return NULL;
    }
    if (n > ((size_t)1 << 60) / es) {
        rlc_errc(RLC_ENOMEM, "cuda: alloc %s: %zu elements is too large", name ? name : "?", n);
        return NULL;
    }
    size_t bytes = n * es;
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 256) != cudaSuccess) {
        char what[160];
        snprintf(what, sizeof what, "buffer '%s'", name ? name : "?");
        oom_message(what, bytes);
        return NULL;
    }
    LOG_DEBUG("cuda: alloc %s %.1f MiB", name ? name : "?", bytes / MiB);
    return p;
}

static void be_free(rlc_backend_t *be, void *p) {
    if (p) CUDA_CHECK(IM(be), cudaFree(p));
}

static int copy_fail(const char *what, cudaError_t e) {
    (void)cudaGetLastError();
    return rlc_errc(RLC_ERR, "cuda: %s failed: %s", what, cudaGetErrorString(e));
}

static int be_upload(rlc_backend_t *be, void *dst, rlc_buf_kind_t kind, const void *src, size_t n) {
    cu_impl *im = IM(be);
    size_t es = esize_of(be, kind);
    if (!es) return rlc_errc(RLC_EINVAL, "cuda: upload: bad buffer kind %d", (int)kind);
    if (n == 0) return 0;
    cudaError_t e;
    if (!kind_bf16(kind)) {
        e = cudaMemcpyAsync(dst, src, n * es, cudaMemcpyHostToDevice, im->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(im->stream);
        return e == cudaSuccess ? 0 : copy_fail("upload", e);
    }
    /* bf16: convert on the host (round to nearest even) through the pinned staging buffer */
    const float *s = (const float *)src;
    uint16_t *st = (uint16_t *)im->stage;
    for (size_t off = 0; off < n; off += STAGE_ELEMS) {
        size_t k = n - off < STAGE_ELEMS ? n - off : STAGE_ELEMS;
        for (size_t i = 0; i < k; i++) st[i] = rlc_f32_to_bf16(s[off + i]);
        e = cudaMemcpyAsync((uint16_t *)dst + off, st, k * 2, cudaMemcpyHostToDevice, im->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(im->stream);
        if (e != cudaSuccess) return copy_fail("upload", e);
    }
    return 0;
}

static int be_download(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n) {
    cu_impl *im = IM(be);
    size_t es = esize_of(be, kind);
    if (!es) return rlc_errc(RLC_EINVAL, "cuda: download: bad buffer kind %d", (int)kind);
    if (n == 0) return 0;
    cudaError_t e;
    if (!kind_bf16(kind)) {
        e = cudaMemcpyAsync(dst, src, n * es, cudaMemcpyDeviceToHost, im->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(im->stream);
        return e == cudaSuccess ? 0 : copy_fail("download", e);
    }
    float *d = (float *)dst;
    uint16_t *st = (uint16_t *)im->stage;
    for (size_t off = 0; off < n; off += STAGE_ELEMS) {
        size_t k = n - off < STAGE_ELEMS ? n - off : STAGE_ELEMS;
        e = cudaMemcpyAsync(st, (const uint16_t *)src + off, k * 2, cudaMemcpyDeviceToHost, im->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(im->stream);
        if (e != cudaSuccess) return copy_fail("download", e);
        for (size_t i = 0; i < k; i++) d[off + i] = rlc_bf16_to_f32(st[i]);
    }
    return 0;
}

static void be_zero(rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n) {
    cu_impl *im = IM(be);
    if (n) CUDA_CHECK(im, cudaMemsetAsync(p, 0, n * esize_of(be, kind), im->stream));
}

static void be_copy(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n) {
    cu_impl *im = IM(be);
    if (n && dst != src)
        CUDA_CHECK(im, cudaMemcpyAsync(dst, src, n * esize_of(be, kind), cudaMemcpyDeviceToDevice, im->stream));
}

static size_t env_size(const char *name, size_t dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    return (end && *end == 0) ? (size_t)v : dflt;
}

/* The environment overrides (docs/cuda.md). */
static void read_settings(cu_impl *im) {
    im->lmhead_chunk = env_size("RLC_CUDA_LMHEAD_CHUNK", 0);
    im->lmhead_budget = env_size("RLC_CUDA_LMHEAD_MB", 512) << 20;
    if (im->lmhead_budget == 0) im->lmhead_budget = (size_t)512 << 20;
    const char *attn = getenv("RLC_CUDA_ATTN");
    im->attn_simple = attn && !strcmp(attn, "simple");
    const char *ri = getenv("RLC_CUDA_ROW_INVARIANT"); /* "0": throughput over batch invariance */
    im->row_invariant = !(ri && !strcmp(ri, "0"));
    /* Which row-invariant kernel (docs/cuda.md): tensor cores by default. Fixed for the
     * backend's life — the two kernels sum in different orders, so switching between them
     * (say, by batch size) would change a sequence's bits with its neighbours. */
    const char *rk = getenv("RLC_CUDA_ROWINV");
    im->rowinv = ROWINV_TC;
    if (rk && *rk) {
        if (!strcmp(rk, "simt"))
            im->rowinv = ROWINV_SIMT;
        else if (!strcmp(rk, "tc-split"))
            im->rowinv = ROWINV_TC_SPLIT;
        else if (!strcmp(rk, "tc-tile"))
            im->rowinv = ROWINV_TC_TILE;
        else if (strcmp(rk, "tc"))
            LOG_WARN("cuda: RLC_CUDA_ROWINV=%s is not simt, tc, tc-split or tc-tile; using tc", rk);
    }
}

/* The stream, scratch buffers and cuBLASLt handle: NULL, or what could not be made (and
 * *bytes its size). */
static const char *alloc_resources(cu_impl *im, size_t *bytes_out) {
    const char *what = NULL;
    size_t bytes = 0;
    if (cudaStreamCreate(&im->stream) != cudaSuccess) {
        what = "the stream";
    } else if (cudaMalloc((void **)&im->d_flag, bytes = sizeof(int)) != cudaSuccess) {
        what = "the error flag";
    } else if (cudaMalloc((void **)&im->d_red, bytes = 1025 * sizeof(double)) != cudaSuccess) {
        what = "the reduction buffer";
    } else if (cudaMallocHost((void **)&im->stage, bytes = STAGE_ELEMS * sizeof(float)) != cudaSuccess) {
        what = "the pinned staging buffer";
    } else if (cublasLtCreate(&im->lt) != CUBLAS_STATUS_SUCCESS) {
        what = "the cuBLASLt handle";
    } else if (cudaMalloc(&im->lt_ws, bytes = LT_WORKSPACE) != cudaSuccess) {
        what = "the cuBLASLt workspace";
    }
    im->lt_ws_size = im->lt_ws ? LT_WORKSPACE : 0;
    if (!what && cudaMemset(im->d_flag, 0, sizeof(int)) != cudaSuccess) what = "the error flag";
    *bytes_out = bytes;
    return what;
}

/* The CUDA ops; RLC_CUDA_GRAPHS=0 leaves the graph hooks out. */
static void set_ops(rlc_backend_t *be) {
    be->destroy = be_destroy;
    be->check = be_check;
    be->sync = be_sync;
    be->mem_info = cu_mem_info;
    const char *graphs = getenv("RLC_CUDA_GRAPHS");
    if (!graphs || strcmp(graphs, "0")) { /* RLC_CUDA_GRAPHS=0: every step eager */
        be->graph_begin = cu_graph_begin;
        be->graph_end = cu_graph_end;
        be->graph_launch = cu_graph_launch;
        be->graph_free = cu_graph_free;
    }
    be->alloc = be_alloc;
    be->free = be_free;
    be->upload = be_upload;
    be->download = be_download;
    be->zero = be_zero;
    be->copy = be_copy;
    be->add = cu_add;
    be->scale = cu_scale;
    be->softcap = cu_softcap;
    be->sumsq = cu_sumsq;
    be->gather_rows = cu_gather_rows;
    be->act_to_f32 = cu_act_to_f32;
    be->f32_to_act = cu_f32_to_act;
    be->head_copy = cu_head_copy;
    be->moe_route_fwd = cu_moe_route_fwd;
    be->moe_route_bwd = cu_moe_route_bwd;
    be->moe_route_biased_fwd = cu_moe_route_biased_fwd;
    be->moe_route_biased_bwd = cu_moe_route_biased_bwd;
    be->moe_combine_fwd = cu_moe_combine_fwd;
    be->moe_combine_bwd = cu_moe_combine_bwd;
    be->moe_gate_add_fwd = cu_moe_gate_add_fwd;
    be->moe_gate_add_bwd = cu_moe_gate_add_bwd;
    be->embedding_fwd = cu_embedding_fwd;
    be->embedding_bwd = cu_embedding_bwd;
    be->rmsnorm_fwd = cu_rmsnorm_fwd;
    be->residual_rmsnorm_fwd = cu_residual_rmsnorm_fwd;
    be->rmsnorm_bwd = cu_rmsnorm_bwd;
    be->qk_norm_fwd = cu_qk_norm_fwd;
    be->qk_norm_bwd = cu_qk_norm_bwd;
    be->rope_fwd = cu_rope_fwd;
    be->rope_bwd = cu_rope_bwd;
    be->attention_fwd = cu_attention_fwd;
    be->attention_bwd = cu_attention_bwd;
    be->swiglu_fwd = cu_swiglu_fwd;
    be->swiglu_bwd = cu_swiglu_bwd;
    be->geglu_fwd = cu_geglu_fwd;
    be->geglu_bwd = cu_geglu_bwd;
    be->matmul_fwd = cu_matmul_fwd;
    be->matmul_bwd = cu_matmul_bwd;
    be->lmhead_fwd = cu_lmhead_fwd;
    be->lmhead_bwd = cu_lmhead_bwd;
    be->logits = cu_logits;
    be->kv_store = cu_kv_store;
    be->paged_attention = cu_paged_attention;
    be->sample = cu_sample;
    be->adamw = cu_adamw;
}

static int create(rlc_backend_t **out, int device, int threads) {
    *out = NULL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return rlc_errc(RLC_EUNSUP, "cuda: no usable CUDA driver or GPU (%s)", cudaGetErrorString(e));
    }
    if (n <= 0) return rlc_errc(RLC_EUNSUP, "cuda: no CUDA device found");
    if (device < 0 || device >= n)
        return rlc_errc(RLC_EINVAL, "cuda: device %d does not exist (%d device%s found)", device, n, n == 1 ? "" : "s");
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
        (void)cudaGetLastError();
        return rlc_errc(RLC_EUNSUP, "cuda: cannot use device %d (%s)", device, cudaGetErrorString(e));
    }
    if (prop.major < 8)
        return rlc_errc(RLC_EUNSUP, "cuda: %s is sm_%d%d; the CUDA backend needs sm_80 or newer (bf16)", prop.name,
                        prop.major, prop.minor);

    if (rlc_lt_load()) return rlc_errc(RLC_EUNSUP, "cuda: %s", rlc_lt_load_error());

    rlc_backend_t *be = (rlc_backend_t *)calloc(1, sizeof *be);
    cu_impl *im = (cu_impl *)calloc(1, sizeof *im);
    if (!be || !im) {
        free(be);
        free(im);
        return rlc_errc(RLC_ENOMEM, "cuda: out of host memory");
    }
    be->impl = im;
    im->device = device;
    im->sm_count = prop.multiProcessorCount;
    im->smem_optin = prop.sharedMemPerBlockOptin;
    read_settings(im);
    size_t bytes = 0;
    const char *what = alloc_resources(im, &bytes);
    if (what) {
        char w[96];
        snprintf(w, sizeof w, "%s", what);
        oom_message(w, bytes);
        int rc = rlc_err_ctx(RLC_ENOMEM, "cuda: creating the backend on device %d", device);
        be_destroy(be);
        return rc;
    }

    be->name = "cuda";
    be->is_gpu = 1;
    be->threads = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    be->esize[RLC_BUF_PARAM] = 2;
    be->esize[RLC_BUF_GRAD] = 4;
    be->esize[RLC_BUF_ACT] = 2;
    be->esize[RLC_BUF_F32] = 4;
    be->esize[RLC_BUF_I32] = 4;
    snprintf(be->device_desc, sizeof be->device_desc, "%.100s (sm_%d%d)", prop.name, prop.major, prop.minor);

    set_ops(be);
    *out = be;
    LOG_DEBUG("cuda: backend on %s, %d SMs, %zu KiB shared memory per block", be->device_desc, im->sm_count,
              im->smem_optin / 1024);
    return 0;
}

} // namespace RLC_CU_NS

extern "C" int rlc_cuda_backend_create(rlc_backend_t **out, int device, int threads) {
    return RLC_CU_NS::create(out, device, threads);
}

extern "C" int rlc_cuda_device_count(char *desc, size_t desc_len) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        n = 0;
    }
    if (desc && desc_len) desc[0] = 0;
    if (n > 0 && desc && desc_len) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
            snprintf(desc, desc_len, "%.200s (sm_%d%d), %.1f GiB", p.name, p.major, p.minor,
                     p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
        else
            (void)cudaGetLastError();
    }
    return n;
}
