/* The NCCL device reducer: once the CUDA backend exists, device all-reduces (the gradients)
 * run as ncclAllReduce in place on the GPU, while host arrays keep going over MPI. Bootstrap:
 * rank 0 makes the ncclUniqueId and broadcasts it over MPI; every rank then joins with its
 * rank and the world size on the GPU its backend selected (the current device).
 *
 * The backend's CUDA stream is private to kernels/cuda, so the reduction runs on a stream of
 * our own, fenced on both sides: the caller has synchronised the backend (the gradients are
 * complete; dist/comm.c, or rl/gradsync.c per layer), and we wait for the reduction before
 * returning. No call here touches the backend, so the gradient exchange's communication
 * thread may run them while the main thread queues the next layer's backward.
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

static int nccl_allreduce(dist_dev_reducer_t *r, void *buf, size_t n) {
    return reduce((nccl_reducer_t *)r, buf, n);
}

/* The sharded collectives as grouped per-owner operations over the window [a, b) (shards may
 * differ by one element, which ncclReduceScatter / ncclAllGather's equal counts do not
 * allow): ncclReduce of each rank's part to its owner, or ncclBroadcast of each part from
 * it, in one NCCL group. p is element a. */
static int shard_group(nccl_reducer_t *x, void *p, size_t n, size_t a, size_t b, size_t esize, int gather) {
    const dist_comm_t *c = x->comm;
    ncclDataType_t t = esize == 2 ? ncclBfloat16 : ncclFloat32;
    CUDA_CHECK(cudaSetDevice(x->device));
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < c->world; r++) {
        size_t lo, hi;
        dist_shard(n, r, c->world, &lo, &hi);
        if (lo < a) lo = a;
        if (hi > b) hi = b;
        if (lo >= hi) continue;
        void *q = (char *)p + (lo - a) * esize;
        if (gather) NCCL_CHECK(ncclBroadcast(q, q, hi - lo, t, r, x->nc, x->stream));
        else NCCL_CHECK(ncclReduce(q, q, hi - lo, t, ncclSum, r, x->nc, x->stream));
    }
    NCCL_CHECK(ncclGroupEnd());
    CUDA_CHECK(cudaStreamSynchronize(x->stream));
    return 0;
}

static int nccl_reduce_scatter(dist_dev_reducer_t *r, void *p, size_t n, size_t a, size_t b) {
    return shard_group((nccl_reducer_t *)r, p, n, a, b, 4, 0);
}

static int nccl_allgather(dist_dev_reducer_t *r, void *p, size_t n, size_t a, size_t b, size_t esize) {
    if (esize != 2 && esize != 4) return rlc_errc(RLC_EINVAL, "NCCL all-gather: element size %zu", esize);
    return shard_group((nccl_reducer_t *)r, p, n, a, b, esize, 1);
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
