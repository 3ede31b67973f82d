/* Backend selection: "cpu", "cuda" or "auto" (the only place that knows which backends
 * were compiled in), and the memory accounting every backend gets: a wrapper around
 * alloc/free that keeps a table of live buffers for the start-up memory report. */
#include "kernels/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "kernels/cpu/cpu_backend.h"
/* RLC_KERNELS_CUDA is set by kernels/CMakeLists.txt when rlc_kernels_cuda is linked. */
#if defined(RLC_KERNELS_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

int rlc_backend_cuda_compiled(void) {
#if defined(RLC_KERNELS_CUDA)
    return 1;
#else
    return 0;
#endif
}

int rlc_backend_cuda_devices(char *desc, size_t desc_len) {
#if defined(RLC_KERNELS_CUDA)
    return rlc_cuda_device_count(desc, desc_len);
#else
    if (desc && desc_len) snprintf(desc, desc_len, "CUDA backend not compiled");
    return 0;
#endif
}

static int create_untracked(rlc_backend_t **out, const char *name, int device, int threads) {
    *out = NULL;
    if (!name || !strcmp(name, "cpu")) return rlc_cpu_backend_create(out, threads);
    if (!strcmp(name, "auto")) {
        if (rlc_backend_cuda_devices(NULL, 0) > 0) return create_untracked(out, "cuda", device, threads);
        return rlc_cpu_backend_create(out, threads);
    }
    if (!strncmp(name, "cuda:", 5)) { /* cuda:N picks the GPU */
        char *end = NULL;
        long d = strtol(name + 5, &end, 10);
        if (!name[5] || *end || d < 0 || d > 1023)
            return rlc_errc(RLC_EINVAL, "bad device '%s' (expected cuda:N with N a GPU number)", name);
        return create_untracked(out, "cuda", (int)d, threads);
    }
    if (!strcmp(name, "cuda")) {
#if defined(RLC_KERNELS_CUDA)
        return rlc_cuda_backend_create(out, device, threads);
#else
        (void)device;
        return rlc_errc(RLC_EUNSUP, "this rlc was built without the CUDA backend (rebuild with nvcc available)");
#endif
    }
    return rlc_errc(RLC_EINVAL, "unknown device '%s' (expected cpu, cuda, cuda:N or auto)", name);
}

int rlc_backend_create(rlc_backend_t **out, const char *name, int device, int threads) {
    *out = NULL;
    if (threads > RLC_MAX_THREADS) /* OpenMP cannot start that many (libgomp crashes trying) */
        return rlc_errc(RLC_EINVAL, "threads = %d: at most %d (0 = all cores)", threads, RLC_MAX_THREADS);
    int rc = create_untracked(out, name, device, threads);
    if (rc) return rc;
    if ((rc = rlc_backend_track(*out))) {
        rlc_backend_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- memory accounting ---- */

typedef struct {
    void *p;
    size_t bytes;
    char name[48];
} live_buf_t;

struct rlc_memtrack {
    void *(*alloc)(rlc_backend_t *, const char *, size_t, rlc_buf_kind_t);
    void (*free)(rlc_backend_t *, void *);
    void (*destroy)(rlc_backend_t *);
    live_buf_t *bufs;
    int n, cap;
    size_t used;
};

static void *tracked_alloc(rlc_backend_t *be, const char *name, size_t n, rlc_buf_kind_t kind) {
    struct rlc_memtrack *t = be->track;
    void *p = t->alloc(be, name, n, kind);
    if (!p) return NULL;
    if (t->n == t->cap) {
        int nc = t->cap ? 2 * t->cap : 64;
        live_buf_t *nb = realloc(t->bufs, (size_t)nc * sizeof *nb);
        if (!nb) { /* keep the buffer; it is just not listed */
            LOG_WARN("memory accounting: out of host memory; '%s' is not listed", name ? name : "?");
            return p;
        }
        t->bufs = nb;
        t->cap = nc;
    }
    live_buf_t *b = &t->bufs[t->n++];
    b->p = p;
    b->bytes = (unsigned)kind < RLC_BUF_KINDS ? n * be->esize[kind] : 0;
    snprintf(b->name, sizeof b->name, "%s", name ? name : "?");
    t->used += b->bytes;
    return p;
}

static void tracked_free(rlc_backend_t *be, void *p) {
    struct rlc_memtrack *t = be->track;
    if (!p) return;
    for (int i = t->n - 1; i >= 0; i--)
        if (t->bufs[i].p == p) {
            t->used -= t->bufs[i].bytes;
            t->bufs[i] = t->bufs[--t->n];
            break;
        }
    t->free(be, p);
}

static void tracked_destroy(rlc_backend_t *be) {
    struct rlc_memtrack *t = be->track;
    be->track = NULL;
    void (*destroy)(rlc_backend_t *) = t->destroy;
    free(t->bufs);
    free(t);
    destroy(be);
}

int rlc_backend_track(rlc_backend_t *be) {
    if (be->track) return 0;
    struct rlc_memtrack *t = calloc(1, sizeof *t);
    if (!t) return rlc_errc(RLC_ENOMEM, "out of host memory");
    t->alloc = be->alloc;
    t->free = be->free;
    t->destroy = be->destroy;
    be->track = t;
    be->alloc = tracked_alloc;
    be->free = tracked_free;
    be->destroy = tracked_destroy;
    return 0;
}

size_t rlc_backend_mem_used(const rlc_backend_t *be) { return be->track ? be->track->used : 0; }

int rlc_backend_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = *total_bytes = 0;
    if (!be->mem_info) return rlc_errc(RLC_EUNSUP, "backend %s cannot tell its free memory", be->name);
    return be->mem_info(be, free_bytes, total_bytes);
}

typedef struct {
    const char *name;
    size_t bytes;
    int count;
} buf_group_t;

static int by_bytes_desc(const void *a, const void *b) {
    const buf_group_t *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : strcmp(x->name, y->name);
}

void rlc_backend_mem_report(rlc_backend_t *be, const char *title) {
    const double MiB = 1048576.0;
    struct rlc_memtrack *t = be->track;
    size_t fr = 0, tot = 0;
    int have_info = rlc_backend_mem_info(be, &fr, &tot) == 0;
    LOG_INFO("%s on %s: %.1f MiB in %d buffers%s", title, be->device_desc, rlc_backend_mem_used(be) / MiB,
             t ? t->n : 0, t ? "" : " (not tracked)");
    /* Same-named buffers (the parameters of two models, say) are listed as one line. */
    buf_group_t *g = t && t->n ? malloc((size_t)t->n * sizeof *g) : NULL;
    int ng = 0;
    for (int i = 0; g && i < t->n; i++) {
        int k = 0;
        while (k < ng && strcmp(g[k].name, t->bufs[i].name)) k++;
        if (k == ng) g[ng++] = (buf_group_t){t->bufs[i].name, 0, 0};
        g[k].bytes += t->bufs[i].bytes;
        g[k].count++;
    }
    if (g) qsort(g, (size_t)ng, sizeof *g, by_bytes_desc);
    for (int k = 0; k < ng; k++) {
        if (g[k].count > 1)
            LOG_INFO("  %-30s %10.1f MiB  (%d buffers)", g[k].name, g[k].bytes / MiB, g[k].count);
        else
            LOG_INFO("  %-30s %10.1f MiB", g[k].name, g[k].bytes / MiB);
    }
    free(g);
    if (have_info) LOG_INFO("  %-30s %10.1f MiB of %.1f MiB", "free now", fr / MiB, tot / MiB);
}

void rlc_backend_destroy(rlc_backend_t *be) {
    if (be) be->destroy(be);
}
