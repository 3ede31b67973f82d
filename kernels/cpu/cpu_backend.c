/* CPU backend object: memory and the vtable (the ops live one family per file, named as
 * their kernels/cuda/ counterparts). Device pointers are host pointers here, so
 * upload/download are copies. */
#include "kernels/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "kernels/cpu/cpu_ops.h"

/* A buffer kept across calls, grown (never shrunk) on demand. */
typedef struct {
    void *p;
    size_t cap;
} cpu_buf_t;

/* b->p with at least `bytes`, or NULL (the old buffer freed) when it cannot grow. */
static void *buf_grow(cpu_buf_t *b, size_t bytes) {
    if (b->cap >= bytes) return b->p;
    free(b->p);
    b->p = malloc(bytes);
    b->cap = b->p ? bytes : 0;
    return b->p;
}

/* The backend's private state (be->impl): buffers kept across calls, so a kernel that needs
 * tens of MiB per call does not map and fault in fresh pages every time, and the scratch
 * failure a kernel reports for the next check(). */
typedef struct {
    cpu_buf_t ws;
    cpu_buf_t kept; /* the LM head's kept logits (lmhead_keep in kernels/backend.h) */
    unsigned kept_id, next_id;
    int kept_n, kept_v;
    volatile int scratch_failed;
} cpu_state_t;

float *cpu_kept_buffer(rlc_backend_t *be, size_t floats) {
    cpu_state_t *st = be->impl;
    st->kept_id = 0;
    return buf_grow(&st->kept, floats * sizeof(float)); /* NULL: the caller recomputes instead */
}

unsigned cpu_kept_set(rlc_backend_t *be, int n, int v) {
    cpu_state_t *st = be->impl;
    if (++st->next_id == 0) st->next_id = 1;
    st->kept_id = st->next_id, st->kept_n = n, st->kept_v = v;
    return st->kept_id;
}

float *cpu_kept_take(rlc_backend_t *be, unsigned id, int n, int v) {
    cpu_state_t *st = be->impl;
    if (!id || st->kept_id != id || st->kept_n != n || st->kept_v != v) return NULL;
    return st->kept.p;
}

void cpu_kept_drop(rlc_backend_t *be) {
    cpu_state_t *st = be->impl;
    st->kept_id = 0;
}

void *cpu_workspace(rlc_backend_t *be, size_t bytes, const char *op) {
    cpu_state_t *st = be->impl;
    void *p = buf_grow(&st->ws, bytes);
    if (!p) cpu_scratch_failed(be, op);
    return p;
}

static void cpu_destroy(rlc_backend_t *be) {
    cpu_state_t *st = be->impl;
    free(st->ws.p), free(st->kept.p);
    free(st);
    free(be);
}

/* A kernel that could not get its scratch memory skips its work and says so here; the next
 * check() of its backend reports it (the ops have no return value, as on the GPU). */
void cpu_scratch_failed(rlc_backend_t *be, const char *op) {
    cpu_state_t *st = be->impl;
#pragma omp critical(rlc_cpu_scratch)
    {
        if (!st->scratch_failed) rlc_errc(RLC_ENOMEM, "out of host memory for %s's scratch buffers", op);
        st->scratch_failed = 1;
    }
}

static int cpu_check(rlc_backend_t *be) {
    cpu_state_t *st = be->impl;
    if (!st->scratch_failed) return 0;
    st->scratch_failed = 0;
    return RLC_ENOMEM;
}
static void cpu_sync(rlc_backend_t *be) { (void)be; }

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

int rlc_cpu_backend_create(rlc_backend_t **out, int threads) {
    *out = NULL;
    rlc_backend_t *be = rlc_calloc(1, sizeof *be);
    if (!be) return RLC_ENOMEM;
    if (threads <= 0) threads = omp_get_num_procs();
    be->name = "cpu";
    be->threads = threads;
    be->lmhead_keep_max = (size_t)512 << 20;
    if (!(be->impl = rlc_calloc(1, sizeof(cpu_state_t)))) {
        free(be);
        return RLC_ENOMEM;
    }
    for (int k = 0; k < RLC_BUF_KINDS; k++) be->esize[k] = 4;
    char model[64];
    cpu_model_name(model, sizeof model);
    snprintf(be->device_desc, sizeof be->device_desc, "CPU %s (%d thread%s, fp32, %s, OpenBLAS)", model, threads,
             threads == 1 ? "" : "s", cpu_isa_name(cpu_isa()));
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
    be->softcap = cpu_softcap;
    be->sumsq = cpu_sumsq;
    be->gather_rows = cpu_gather_rows;
    be->act_to_f32 = cpu_act_to_f32;
    be->f32_to_act = cpu_f32_to_act;
    be->head_copy = cpu_head_copy;
    be->moe_route_fwd = cpu_moe_route_fwd;
    be->moe_route_bwd = cpu_moe_route_bwd;
    be->moe_route_biased_fwd = cpu_moe_route_biased_fwd;
    be->moe_route_biased_bwd = cpu_moe_route_biased_bwd;
    be->moe_combine_fwd = cpu_moe_combine_fwd;
    be->moe_combine_bwd = cpu_moe_combine_bwd;
    be->moe_gate_add_fwd = cpu_moe_gate_add_fwd;
    be->moe_gate_add_bwd = cpu_moe_gate_add_bwd;
    be->embedding_fwd = cpu_embedding_fwd;
    be->embedding_bwd = cpu_embedding_bwd;
    be->rmsnorm_fwd = cpu_rmsnorm_fwd;
    be->residual_rmsnorm_fwd = cpu_residual_rmsnorm_fwd;
    be->rmsnorm_bwd = cpu_rmsnorm_bwd;
    be->qk_norm_fwd = cpu_qk_norm_fwd;
    be->qk_norm_bwd = cpu_qk_norm_bwd;
    be->rope_fwd = cpu_rope_fwd;
    be->rope_bwd = cpu_rope_bwd;
    be->attention_fwd = cpu_attention_fwd;
    be->attention_bwd = cpu_attention_bwd;
    be->swiglu_fwd = cpu_swiglu_fwd;
    be->swiglu_bwd = cpu_swiglu_bwd;
    be->geglu_fwd = cpu_geglu_fwd;
    be->geglu_bwd = cpu_geglu_bwd;
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
