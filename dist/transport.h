/* Internal to dist/: the transport constructors behind dist_open. Each fills a dist_comm_t
 * vtable (dist.h); comm.c chooses among them. */
#pragma once
#include "dist/dist.h"

/* The one-process transport, in caller-owned storage. */
void dist_transport_none(dist_comm_t *c);
/* A device-memory all-reduce that an MPI communicator hands its GPU buffers to. */
typedef struct dist_dev_reducer {
    const char *name;
    int (*allreduce)(struct dist_dev_reducer *r, void *buf, size_t n); /* f32 sum */
    /* dist_comm_t's windowed sharded collectives on device memory (p at element a of n);
     * esize 4 (f32) or 2 (bf16). No call synchronises the backend: the caller did. */
    int (*reduce_scatter)(struct dist_dev_reducer *r, void *p, size_t n, size_t a, size_t b);
    int (*allgather)(struct dist_dev_reducer *r, void *p, size_t n, size_t a, size_t b, size_t esize);
    void (*destroy)(struct dist_dev_reducer *r);
} dist_dev_reducer_t;

#if defined(RLC_DIST_HAVE_MPI)
/* MPI_COMM_WORLD (initialising MPI unless the host program already did); kind is the
 * dist_kind_t asked for, which decides what attach does with a GPU backend. */
int dist_transport_mpi(dist_comm_t **out, int kind);
#endif
#if defined(RLC_DIST_HAVE_NCCL)
/* NCCL on the current CUDA device, bootstrapped with c's broadcast (collective: every rank
 * calls it; failures are agreed, so either every rank has a reducer or none has). */
int dist_nccl_reducer_create(dist_comm_t *c, rlc_backend_t *be, dist_dev_reducer_t **out);
#endif
