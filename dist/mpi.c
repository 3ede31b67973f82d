/* The MPI transport: a duplicate of MPI_COMM_WORLD, reductions in place (MPI_IN_PLACE) on
 * host memory. Backend buffers are host memory on the CPU backend and are reduced directly;
 * on a GPU they go to the NCCL reducer attached at dist_attach_backend (the `nccl`
 * transport), or without one are staged through host memory in chunks (slow, but correct).
 * Counts above INT_MAX go in chunks because MPI counts are int. MPI errors are fatal to the
 * job (MPI_ERRORS_ARE_FATAL), so a broken peer ends everyone rather than hanging. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "dist/transport.h"

typedef struct {
    MPI_Comm world;
    int initialized_here;    /* we called MPI_Init, so we finalize */
    dist_dev_reducer_t *dev; /* NCCL on a GPU backend, else NULL */
} mpi_impl_t;

#define COMM(c) (((mpi_impl_t *)(c)->impl)->world)
#define CHUNK ((size_t)1 << 28) /* elements per MPI call (< INT_MAX) */

static int mpi_fail(int e, const char *what) {
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(e, s, &n) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", e);
    return rlc_errc(RLC_EIO, "MPI %s failed: %s", what, s);
}

static MPI_Op op_of(dist_op_t op) { return op == DIST_MAX ? MPI_MAX : op == DIST_MIN ? MPI_MIN : MPI_SUM; }

static int reduce(dist_comm_t *c, void *x, size_t n, MPI_Datatype t, size_t esize, MPI_Op op) {
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        int e = MPI_Allreduce(MPI_IN_PLACE, (char *)x + off * esize, (int)k, t, op, COMM(c));
        if (e != MPI_SUCCESS) return mpi_fail(e, "all-reduce");
    }
    return 0;
}

static int mpi_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n) {
    if (be->esize[kind] != sizeof(float))
        return rlc_errc(RLC_EINVAL, "dist: device all-reduce needs an f32 buffer (GRAD or F32)");
    if (!be->is_gpu) return reduce(c, buf, n, MPI_FLOAT, sizeof(float), MPI_SUM);
    mpi_impl_t *im = c->impl;
    if (im->dev) return im->dev->allreduce(im->dev, buf, n);
    /* A GPU buffer without NCCL: through the host, a chunk at a time. */
    size_t chunk = n < ((size_t)1 << 24) ? n : ((size_t)1 << 24);
    float *h = rlc_malloc((chunk ? chunk : 1) * sizeof *h);
    if (!h) return RLC_ENOMEM;
    int rc = 0;
    /* A local failure still joins every chunk's reduction (the other ranks are in it) and
     * is reported afterwards, for the caller's dist_agree to spread. */
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        void *p = (char *)buf + off * sizeof(float);
        int e = rc ? rc : be->download(be, h, p, kind, k);
        if (e) memset(h, 0, k * sizeof *h);
        int e2 = reduce(c, h, k, MPI_FLOAT, sizeof(float), MPI_SUM);
        if (!e && !e2) e = be->upload(be, p, kind, h, k);
        if (!rc) rc = e ? e : e2;
    }
    free(h);
    return rc;
}

/* The sharded collectives as one pass over the ranks' parts of the window [a, b) (dist_shard
 * of n), in chunks: MPI_Reduce to the part's owner (sum), or MPI_Bcast from it. p is element
 * a. A GPU buffer goes through the host (the backend converts to f32 on the way). A local
 * failure still joins every exchange and is returned afterwards, for the caller's dist_agree. */
static int shard_pass(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a, size_t b,
                      int gather) {
    size_t es = be->esize[kind], chunk = be->is_gpu ? ((size_t)1 << 24) : CHUNK;
    if (!be->is_gpu && es != sizeof(float))
        return rlc_errc(RLC_EINVAL, "dist: sharded collectives need f32 buffers on the CPU");
    size_t w = b - a;
    float *h = be->is_gpu ? rlc_malloc((w < chunk ? (w ? w : 1) : chunk) * sizeof *h) : NULL;
    if (be->is_gpu && !h) return RLC_ENOMEM;
    int rc = 0;
    for (int r = 0; r < c->world; r++) {
        size_t lo, hi;
        dist_shard(n, r, c->world, &lo, &hi);
        if (lo < a) lo = a;
        if (hi > b) hi = b;
        for (size_t off = lo; off < hi; off += chunk) {
            size_t k = hi - off < chunk ? hi - off : chunk;
            void *q = (char *)p + (off - a) * es, *x = h ? (void *)h : q;
            int mine = c->rank == r, e = 0;
            if (h && (!gather || mine)) { /* stage what this rank sends */
                e = rc ? rc : be->download(be, h, q, kind, k);
                if (e) memset(h, 0, k * sizeof *h);
            }
            int me = gather ? MPI_Bcast(x, (int)k, MPI_FLOAT, r, COMM(c))
                            : MPI_Reduce(mine ? MPI_IN_PLACE : x, x, (int)k, MPI_FLOAT, MPI_SUM, r, COMM(c));
            if (me != MPI_SUCCESS) e = mpi_fail(me, gather ? "all-gather (broadcast)" : "reduce-scatter (reduce)");
            if (!e && h && (gather || mine)) e = be->upload(be, q, kind, h, k);
            if (!rc) rc = e;
        }
    }
    free(h);
    return rc;
}

static int mpi_reduce_scatter(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                              size_t b) {
    if (be->esize[kind] != sizeof(float))
        return rlc_errc(RLC_EINVAL, "dist: reduce-scatter needs an f32 buffer (GRAD or F32)");
    mpi_impl_t *im = c->impl;
    if (be->is_gpu && im->dev) return im->dev->reduce_scatter(im->dev, p, n, a, b);
    return shard_pass(c, be, p, kind, n, a, b, 0);
}

static int mpi_allgather_dev(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                             size_t b) {
    mpi_impl_t *im = c->impl;
    if (be->is_gpu && im->dev) return im->dev->allgather(im->dev, p, n, a, b, be->esize[kind]);
    return shard_pass(c, be, p, kind, n, a, b, 1);
}

static int mpi_f64(dist_comm_t *c, double *x, size_t n, dist_op_t op) {
    return reduce(c, x, n, MPI_DOUBLE, sizeof(double), op_of(op));
}

static int mpi_i64(dist_comm_t *c, int64_t *x, size_t n, dist_op_t op) {
    return reduce(c, x, n, MPI_INT64_T, sizeof(int64_t), op_of(op));
}

static int mpi_bcast(dist_comm_t *c, void *buf, size_t bytes, int root) {
    if (bytes > INT_MAX) return rlc_errc(RLC_ERANGE, "dist: broadcast of %zu bytes is too large", bytes);
    int e = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, COMM(c));
    return e == MPI_SUCCESS ? 0 : mpi_fail(e, "broadcast");
}

static int mpi_allgather(dist_comm_t *c, const void *send, size_t bytes, void *recv) {
    if (bytes > INT_MAX / (size_t)c->world)
        return rlc_errc(RLC_ERANGE, "dist: all-gather of %zu bytes is too large", bytes);
    int e = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, COMM(c));
    return e == MPI_SUCCESS ? 0 : mpi_fail(e, "all-gather");
}

static int mpi_barrier(dist_comm_t *c) {
    int e = MPI_Barrier(COMM(c));
    return e == MPI_SUCCESS ? 0 : mpi_fail(e, "barrier");
}

/* A GPU backend: NCCL when asked for (nccl) or available (auto); else host staging. */
static int mpi_attach(dist_comm_t *c, rlc_backend_t *be) {
    mpi_impl_t *im = c->impl;
    if (!be->is_gpu) {
        if (c->kind == DIST_NCCL)
            return rlc_errc(RLC_EINVAL, "dist = nccl needs the CUDA backend (device is %s; use dist = mpi on CPUs)",
                            be->name);
        return 0;
    }
    if (im->dev || (c->kind != DIST_NCCL && c->kind != DIST_AUTO)) return 0;
#if defined(RLC_DIST_HAVE_NCCL)
    int rc = dist_nccl_reducer_create(c, be, &im->dev);
    if (!rc) c->transport = "nccl";
    return rc;
#else
    if (c->kind == DIST_NCCL)
        return rlc_errc(RLC_EUNSUP, "dist = nccl: this rlc was built without NCCL (install NCCL where CMake finds "
                                    "it beside CUDA and rebuild)");
    return 0;
#endif
}

static void mpi_destroy(dist_comm_t *c, int ok) {
    mpi_impl_t *im = c->impl;
    if (!ok && c->world > 1) MPI_Abort(im->world, 1); /* does not return */
    if (im->dev) im->dev->destroy(im->dev);
    MPI_Comm_free(&im->world);
    int fin = 0;
    MPI_Finalized(&fin);
    if (im->initialized_here && !fin) MPI_Finalize();
    free(im);
    free(c);
}

int dist_transport_mpi(dist_comm_t **out, int kind) {
    *out = NULL;
    int init = 0, e;
    MPI_Initialized(&init);
    mpi_impl_t *im = rlc_calloc(1, sizeof *im);
    dist_comm_t *c = rlc_calloc(1, sizeof *c);
    if (!im || !c) {
        free(im);
        free(c);
        return RLC_ENOMEM;
    }
    if (!init) {
        /* One thread at a time calls MPI: the main thread, or the gradient exchange's
         * communication thread while the main thread computes (rl/gradsync.c); OpenMP
         * workers never do. */
        int provided = 0;
        if ((e = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided)) != MPI_SUCCESS) {
            free(im);
            free(c);
            return mpi_fail(e, "initialisation");
        }
        im->initialized_here = 1;
    }
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    c->threads_ok = level >= MPI_THREAD_SERIALIZED;
    MPI_Comm node;
    if ((e = MPI_Comm_dup(MPI_COMM_WORLD, &im->world)) != MPI_SUCCESS ||
        (e = MPI_Comm_rank(im->world, &c->rank)) != MPI_SUCCESS ||
        (e = MPI_Comm_size(im->world, &c->world)) != MPI_SUCCESS ||
        (e = MPI_Comm_split_type(im->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node)) != MPI_SUCCESS) {
        if (im->initialized_here) MPI_Finalize();
        free(im);
        free(c);
        return mpi_fail(e, "communicator setup");
    }
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_world);
    MPI_Comm_free(&node);
    c->transport = "mpi";
    c->kind = kind;
    c->impl = im;
    c->allreduce_dev = mpi_dev;
    c->allreduce_f64 = mpi_f64;
    c->allreduce_i64 = mpi_i64;
    c->bcast = mpi_bcast;
    c->allgather = mpi_allgather;
    c->barrier = mpi_barrier;
    c->reduce_scatter_dev = mpi_reduce_scatter;
    c->allgather_dev = mpi_allgather_dev;
    c->attach = mpi_attach;
    c->destroy = mpi_destroy;
    *out = c;
    return 0;
}
