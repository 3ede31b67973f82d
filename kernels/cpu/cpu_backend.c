/* CPU backend object: memory, elementwise ops, and the vtable. Device pointers are host
 * pointers here, so upload/download are copies. */
#include "kernels/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "kernels/cpu/cpu_ops.h"

static void cpu_destroy(rlc_backend_t *be) { free(be); }
static int cpu_check(rlc_backend_t *be) {
    (void)be;
    return 0;
}
static void cpu_sync(rlc_backend_t *be) { (void)be; }

/* A "MemAvailable:   123456 kB" line of /proc/meminfo, in bytes; 0 if absent. */
static size_t meminfo_field(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? (size_t)strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

static int cpu_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes) {
    (void)be;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return rlc_errc(RLC_EIO, "cannot read /proc/meminfo");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    *total_bytes = meminfo_field(buf, "MemTotal:");
    *free_bytes = meminfo_field(buf, "MemAvailable:");
    if (!*total_bytes) return rlc_errc(RLC_EFMT, "/proc/meminfo has no MemTotal line");
    return 0;
}

static void *cpu_alloc(rlc_backend_t *be, const char *name, size_t n, rlc_buf_kind_t kind) {
    size_t bytes = n * be->esize[kind];
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        rlc_errc(RLC_ENOMEM, "out of host memory allocating %s (%.1f MiB)", name, (double)bytes / 1048576.0);
        return NULL;
    }
    return p;
}

static void cpu_free(rlc_backend_t *be, void *p) {
    (void)be;
    free(p);
}

static int cpu_upload(rlc_backend_t *be, void *dst, rlc_buf_kind_t kind, const void *src, size_t n) {
    if (n) memcpy(dst, src, n * be->esize[kind]);
    return 0;
}

static int cpu_download(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n) {
    if (n) memcpy(dst, src, n * be->esize[kind]);
    return 0;
}

static void cpu_zero(rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n) {
    if (n) memset(p, 0, n * be->esize[kind]);
}

static void cpu_copy(rlc_backend_t *be, void *dst, const void *src, rlc_buf_kind_t kind, size_t n) {
    if (n && dst != src) memmove(dst, src, n * be->esize[kind]);
}

static void cpu_add(rlc_backend_t *be, void *out, const void *a, const void *b, rlc_buf_kind_t kind, size_t n) {
    (void)kind;
    float *o = out;
    const float *x = a, *y = b;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i];
}

static void cpu_scale(rlc_backend_t *be, void *x, rlc_buf_kind_t kind, size_t n, float s) {
    (void)kind;
    float *p = x;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) p[i] *= s;
}

static void cpu_sumsq(rlc_backend_t *be, double *out, const void *x, rlc_buf_kind_t kind, size_t n) {
    (void)kind;
    const float *p = x;
    /* Fixed partition into blocks summed in order: the result does not depend on the
     * thread count, which keeps resumed runs bit-identical. */
    enum { BLK = 1 << 14 };
    size_t nb = (n + BLK - 1) / BLK;
    double *part = malloc((nb ? nb : 1) * sizeof *part);
    if (!part) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)p[i] * p[i];
        *out = s;
        return;
    }
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t e = (b + 1) * BLK < n ? (b + 1) * BLK : n;
        double s = 0;
        for (size_t i = b * BLK; i < e; i++) s += (double)p[i] * p[i];
        part[b] = s;
    }
    double s = 0;
    for (size_t b = 0; b < nb; b++) s += part[b];
    free(part);
    *out = s;
}

static void cpu_gather_rows(rlc_backend_t *be, void *dst, const void *src, const int32_t *rows, int M, int C) {
    (void)be;
    float *d = dst;
    const float *x = src;
    for (int m = 0; m < M; m++) memcpy(d + (size_t)m * C, x + (size_t)rows[m] * C, (size_t)C * sizeof(float));
}

static void cpu_act_to_f32(rlc_backend_t *be, float *dst, const void *src, size_t n) {
    (void)be;
    if (n && (const void *)dst != src) memmove(dst, src, n * 4);
}

static void cpu_f32_to_act(rlc_backend_t *be, void *dst, const float *src, size_t n) {
    (void)be;
    if (n && dst != (const void *)src) memmove(dst, src, n * 4);
}

int rlc_cpu_backend_create(rlc_backend_t **out, int threads) {
    *out = NULL;
    rlc_backend_t *be = rlc_calloc(1, sizeof *be);
    if (!be) return RLC_ENOMEM;
    if (threads <= 0) threads = omp_get_num_procs();
    be->name = "cpu";
    be->threads = threads;
    for (int k = 0; k < RLC_BUF_KINDS; k++) be->esize[k] = 4;
    snprintf(be->device_desc, sizeof be->device_desc, "CPU (%d thread%s, fp32, OpenBLAS)", threads,
             threads == 1 ? "" : "s");
    openblas_set_num_threads(threads);
    be->destroy = cpu_destroy;
    be->check = cpu_check;
    be->sync = cpu_sync;
    be->mem_info = cpu_mem_info;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_upload;
    be->download = cpu_download;
    be->zero = cpu_zero;
    be->copy = cpu_copy;
    be->add = cpu_add;
    be->scale = cpu_scale;
    be->sumsq = cpu_sumsq;
    be->gather_rows = cpu_gather_rows;
    be->act_to_f32 = cpu_act_to_f32;
    be->f32_to_act = cpu_f32_to_act;
    be->embedding_fwd = cpu_embedding_fwd;
    be->embedding_bwd = cpu_embedding_bwd;
    be->rmsnorm_fwd = cpu_rmsnorm_fwd;
    be->residual_rmsnorm_fwd = cpu_residual_rmsnorm_fwd;
    be->rmsnorm_bwd = cpu_rmsnorm_bwd;
    be->rope_fwd = cpu_rope_fwd;
    be->rope_bwd = cpu_rope_bwd;
    be->attention_fwd = cpu_attention_fwd;
    be->attention_bwd = cpu_attention_bwd;
    be->swiglu_fwd = cpu_swiglu_fwd;
    be->swiglu_bwd = cpu_swiglu_bwd;
    be->matmul_fwd = cpu_matmul_fwd;
    be->matmul_bwd = cpu_matmul_bwd;
    be->lmhead_fwd = cpu_lmhead_fwd;
    be->lmhead_bwd = cpu_lmhead_bwd;
    be->logits = cpu_logits;
    be->kv_store = cpu_kv_store;
    be->paged_attention = cpu_paged_attention;
    be->sample = cpu_sample;
    be->adamw = cpu_adamw;
    *out = be;
    return 0;
}
