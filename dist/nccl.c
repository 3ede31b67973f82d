/* The NCCL device reducer: once the CUDA backend exists, device all-reduces (the gradients)
 * run as ncclAllReduce in place on the GPU, while host arrays keep going over MPI. Bootstrap:
 * rank 0 makes the ncclUniqueId and broadcasts it over MPI; every rank then joins with its
 * rank and the world size on the GPU its backend selected (the current device).
 *
 * The backend's CUDA stream is private to kernels/cuda, so the reduction runs on a stream of
 * our own, fenced on both sides: be->sync waits until the gradients are complete, and we wait
 * for the reduction before the optimizer's kernels are queued. This gives up overlapping the
 * reduction with backward, nothing else.
 *
 * Built where CUDA, NCCL and MPI are found; it has not yet run on a GPU (docs/distributed.md). */
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "dist/transport.h"

#define NCCL_CHECK(call)                                                                               \
    do {                                                                                               \
        ncclResult_t r_ = (call);                                                                      \
        if (r_ != ncclSuccess) return rlc_errc(RLC_EIO, "NCCL %s: %s", #call, ncclGetErrorString(r_)); \
    } while (0)
#define CUDA_CHECK(call)                                                                               \
    do {                                                                                               \
        cudaError_t e_ = (call);                                                                       \
        if (e_ != cudaSuccess) return rlc_errc(RLC_EIO, "CUDA %s: %s", #call, cudaGetErrorString(e_)); \
    } while (0)

typedef struct {
    dist_dev_reducer_t base;
    ncclComm_t nc;
    cudaStream_t stream;
    int device;
    const dist_comm_t *comm; /* rank and world for the shards */
} nccl_reducer_t;

static int reduce(nccl_reducer_t *x, void *buf, size_t n) {
    CUDA_CHECK(cudaSetDevice(x->device));
    NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, x->nc, x->stream));
    CUDA_CHECK(cudaStreamSynchronize(x->stream));
    return 0;
}

static int nccl_allreduce(dist_dev_reducer_t *r, rlc_backend_t *be, void *buf, size_t n) {
    nccl_reducer_t *x = (nccl_reducer_t *)r;
    be->sync(be); /* the gradients are complete on the backend's stream */
    /* A failed backward is reported after the collective, never instead of it: the other
     * ranks are already inside it, and the caller's dist_agree spreads the error. */
    int rc = be->check(be);
    int e = reduce(x, buf, n);
    return rc ? rc : e;
}

/* The sharded collectives as grouped per-owner operations (shards may differ by one element,
 * which ncclReduceScatter / ncclAllGather's equal counts do not allow): ncclReduce of each
 * shard to its owner, or ncclBroadcast of each shard from it, in one NCCL group. */
static int shard_group(nccl_reducer_t *x, const dist_comm_t *c, void *buf, size_t n, size_t esize, int gather) {
    ncclDataType_t t = esize == 2 ? ncclBfloat16 : ncclFloat32;
    CUDA_CHECK(cudaSetDevice(x->device));
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < c->world; r++) {
        size_t lo, hi;
        dist_shard(n, r, c->world, &lo, &hi);
        void *p = (char *)buf + lo * esize;
        if (gather) NCCL_CHECK(ncclBroadcast(p, p, hi - lo, t, r, x->nc, x->stream));
        else NCCL_CHECK(ncclReduce(p, p, hi - lo, t, ncclSum, r, x->nc, x->stream));
    }
    NCCL_CHECK(ncclGroupEnd());
    CUDA_CHECK(cudaStreamSynchronize(x->stream));
    return 0;
}

static int nccl_reduce_scatter(dist_dev_reducer_t *r, rlc_backend_t *be, void *buf, size_t n) {
    nccl_reducer_t *x = (nccl_reducer_t *)r;
    be->sync(be);
    int rc = be->check(be);
    int e = shard_group(x, x->comm, buf, n, 4, 0);
    return rc ? rc : e;
}

static int nccl_allgather(dist_dev_reducer_t *r, rlc_backend_t *be, void *buf, size_t n, size_t esize) {
    nccl_reducer_t *x = (nccl_reducer_t *)r;
    if (esize != 2 && esize != 4) return rlc_errc(RLC_EINVAL, "NCCL all-gather: element size %zu", esize);
    be->sync(be);
    int rc = be->check(be);
    int e = shard_group(x, x->comm, buf, n, esize, 1);
    return rc ? rc : e;
}

static void nccl_destroy(dist_dev_reducer_t *r) {
    if (!r) return;
    nccl_reducer_t *x = (nccl_reducer_t *)r;
    if (x->nc) ncclCommDestroy(x->nc);
    if (x->stream) cudaStreamDestroy(x->stream);
    free(x);
}

/* Everything that can fail locally, before any rank waits on another. */
static int local_setup(nccl_reducer_t *x) {
    CUDA_CHECK(cudaGetDevice(&x->device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&x->stream, cudaStreamNonBlocking));
    return 0;
}

static int unique_id(ncclUniqueId *id) {
    NCCL_CHECK(ncclGetUniqueId(id));
    return 0;
}

static int init_rank(nccl_reducer_t *x, const dist_comm_t *c, ncclUniqueId id) {
    NCCL_CHECK(ncclCommInitRank(&x->nc, c->world, id, c->rank));
    return 0;
}

int dist_nccl_reducer_create(dist_comm_t *c, rlc_backend_t *be, dist_dev_reducer_t **out) {
    (void)be; /* the backend made its GPU the current device when it was created */
    *out = NULL;
    nccl_reducer_t *x = rlc_calloc(1, sizeof *x);
    int rc = x ? local_setup(x) : RLC_ENOMEM;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (!rc && c->rank == 0) rc = unique_id(&id);
    /* agree before anyone blocks in the bootstrap: a rank that failed above never joins */
    rc = dist_agree(c, rc);
    if (!rc) rc = dist_bcast(c, &id, sizeof id, 0);
    if (!rc) rc = init_rank(x, c, id);
    rc = dist_agree(c, rc);
    if (rc) {
        nccl_destroy(x ? &x->base : NULL);
        return rlc_err_ctx(rc, "NCCL setup");
    }
    x->base.name = "nccl";
    x->comm = c;
    x->base.allreduce = nccl_allreduce;
    x->base.reduce_scatter = nccl_reduce_scatter;
    x->base.allgather = nccl_allgather;
    x->base.destroy = nccl_destroy;
    *out = &x->base;
    return 0;
}
