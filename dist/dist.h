/* Data parallelism across processes: N ranks each hold a full copy of the model and train on
 * a disjoint share of every step's prompt groups; gradients are summed across ranks so every
 * rank takes the identical optimizer step. This header is the whole module's interface:
 *
 *   dist_comm_t     the communicator: rank, world size and a vtable of collectives, with
 *                   three transports: none (one process; every op a no-op or a copy), mpi
 *                   (host buffers, MPI_Allreduce in place; the CPU backend), nccl (device
 *                   buffers of the CUDA backend; bootstrapped over MPI by broadcasting rank
 *                   0's ncclUniqueId, host arrays still go over MPI)
 *   dist_open       pick the transport from a `dist` setting (auto|none|mpi|nccl) and the
 *                   launcher's environment (mpirun, mpiexec, srun)
 *   dist_agree      error agreement: a failure on any rank becomes every rank's failure,
 *                   carrying the first failing rank's message, so no rank waits forever
 *   dist_split      the share of n items (prompt groups, examples) that a rank owns
 *   dist_verify_replicas  check that every rank holds bit-identical weights
 *
 * Collectives must be entered by every rank in the same order. A function that may fail on
 * one rank must call dist_agree before its next collective (see docs/distributed.md).
 * Owns: the communicator, and MPI's initialisation when this module started it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

typedef enum { DIST_SUM = 0, DIST_MAX, DIST_MIN } dist_op_t;
typedef enum { DIST_AUTO = 0, DIST_NONE, DIST_MPI, DIST_NCCL } dist_kind_t;

typedef struct dist_comm dist_comm_t;
struct dist_comm {
    const char *transport;       /* "none", "mpi" or "nccl" */
    int rank, world;             /* this process, number of processes */
    int local_rank, local_world; /* within this node (the GPU a rank drives) */
    int threads_ok;              /* a second thread may make the calls while the main thread makes none */
    int kind;                    /* the dist_kind_t asked for (auto resolved at attach) */
    int error_agreed;            /* the current error went through dist_agree (rank 0 reports it) */
    void *impl;
    /* Sum of n elements of a backend buffer of `kind` (GRAD or F32: always f32) in place:
     * host memory on the CPU backend, device memory on a GPU. */
    int (*allreduce_dev)(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n);
    /* Small host arrays, in place. */
    int (*allreduce_f64)(dist_comm_t *c, double *x, size_t n, dist_op_t op);
    int (*allreduce_i64)(dist_comm_t *c, int64_t *x, size_t n, dist_op_t op);
    /* `bytes` bytes of buf on rank `root` to every rank. */
    int (*bcast)(dist_comm_t *c, void *buf, size_t bytes, int root);
    /* recv[r·bytes .. (r+1)·bytes) = rank r's send (recv holds world·bytes). */
    int (*allgather)(dist_comm_t *c, const void *send, size_t bytes, void *recv);
    int (*barrier)(dist_comm_t *c);
    /* Sharded collectives over the window [a, b) of a backend buffer of n elements split into
     * the ranks' shards (dist_shard(n): contiguous, sizes differing by at most one); p points at
     * element a (the window may live apart from the rest of the buffer). Rank r's part of the
     * window is [max(a, lo_r), min(b, hi_r)). reduce_scatter_dev: afterwards each rank's part
     * holds the sum over ranks (f32 kinds: GRAD or F32; the rest of the window is unspecified).
     * allgather_dev: every rank's part to every rank (any kind; PARAM may be bf16 on a GPU).
     * In place. A device buffer must be complete (the caller synchronised the backend): the
     * transports make no backend call but host staging, so a communication thread may call
     * them while the main thread computes. */
    int (*reduce_scatter_dev)(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                              size_t b);
    int (*allgather_dev)(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                         size_t b);
    /* Called once the model's backend exists (collective): the NCCL transport binds to the
     * backend's GPU here. NULL: nothing to do. */
    int (*attach)(dist_comm_t *c, rlc_backend_t *be);
    /* ok = 0 after an error that not every rank knows of: end the whole job (MPI_Abort)
     * rather than let the other ranks wait in a collective. */
    void (*destroy)(dist_comm_t *c, int ok);
};

/* ---------------------------------------------------------------- what was built */

/* 1 when the MPI transport was compiled in (CMake found MPI). */
int dist_mpi_compiled(void);
/* 1 when the NCCL transport was compiled in (CUDA, NCCL and MPI were found). */
int dist_nccl_compiled(void);
/* "auto", "none", "mpi", "nccl" -> dist_kind_t; -1 if unknown. */
int dist_kind_parse(const char *s);
const char *dist_kind_name(int kind);

/* ---------------------------------------------------------------- launch */

typedef struct {
    int world, rank, local_rank, local_world; /* -1 where the launcher does not say */
    const char *source; /* "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS" or NULL (no launcher) */
} dist_launch_t;

/* What the environment says about a parallel launch: Open MPI's mpirun
 * (OMPI_COMM_WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_SIZE), MPICH/Intel Hydra (PMI_SIZE, PMI_RANK,
 * MPI_LOCALRANKID, MPI_LOCALNRANKS) or Slurm's srun (SLURM_NTASKS with SLURM_STEP_ID set,
 * SLURM_PROCID, SLURM_LOCALID). getenv_fn NULL uses getenv (tests pass their own). */
void dist_launch_detect(dist_launch_t *l, const char *(*getenv_fn)(const char *name));

/* ---------------------------------------------------------------- communicators */

/* The communicator for a `dist` setting (NULL = "auto"):
 *   auto  MPI when the environment shows a parallel launch of more than one process, else none
 *   none  one process (an error under a parallel launch: N copies would share one run_dir)
 *   mpi   MPI even for a single process
 *   nccl  MPI now; device collectives go over NCCL once a CUDA backend is attached
 * auto also upgrades to NCCL at attach when the backend is a GPU and NCCL was built.
 * Asking for MPI in a build without it is an error that says how to get it. */
int dist_open(dist_comm_t **out, const char *kind);
/* The one-process communicator in caller-owned storage (never fails; nothing to close). */
void dist_none_init(dist_comm_t *c);
/* Finish: rc is the command's result. After an error the other ranks do not know of
 * (rc != 0 and !c->error_agreed, world > 1) the job is aborted so nobody hangs. NULL ok. */
void dist_close(dist_comm_t *c, int rc);
/* Bind to the model's backend once it exists (collective; NCCL setup on a GPU). */
int dist_attach_backend(dist_comm_t *c, rlc_backend_t *be);

/* The GPU ordinal rank should use for `device` ("auto", "cuda", "cuda:N", "cpu"): with
 * several ranks and no explicit cuda:N, the rank's local rank (modulo the GPUs visible, for
 * launchers that hand each rank one GPU through CUDA_VISIBLE_DEVICES); else 0. */
int dist_device_ordinal(const dist_comm_t *c, const char *device, int n_gpus);
/* CPU threads per rank: `threads` when > 0; else, when the launcher bound this rank to some
 * cores (avail < online), those; else the node's cores shared among its ranks (0 with one
 * rank: the backend's own default). */
int dist_threads(const dist_comm_t *c, int threads, int avail, int online);
/* dist_threads with this process's affinity mask and the node's online cores. */
int dist_cpu_threads(const dist_comm_t *c, int threads);
/* Ranks other than 0 log warnings and errors only, each line tagged "[rank r]". */
void dist_quiet_followers(const dist_comm_t *c);

/* ---------------------------------------------------------------- collectives */

/* Error agreement (collective). Every rank passes its own rc; if any rank failed, every rank
 * returns the code of the lowest failing rank with its message as "rank r: message", and
 * c->error_agreed is set. With one rank: rc unchanged. */
int dist_agree(dist_comm_t *c, int rc);
/* The largest signal number pending on any rank (collective); 0 when none. */
int dist_agree_signal(dist_comm_t *c, int sig);

/* The device collectives first synchronise a GPU backend and check it (a failed kernel is
 * reported after joining the exchange, for the caller's dist_agree to spread). */
int dist_allreduce_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n);
/* The same without touching the backend (a communication thread's call; see reduce_scatter_dev). */
int dist_allreduce_ready(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n);
int dist_allreduce_f64(dist_comm_t *c, double *x, size_t n, dist_op_t op);
int dist_allreduce_i64(dist_comm_t *c, int64_t *x, size_t n, dist_op_t op);
int dist_bcast(dist_comm_t *c, void *buf, size_t bytes, int root);
int dist_allgather(dist_comm_t *c, const void *send, size_t bytes, void *recv);
int dist_barrier(dist_comm_t *c);
int dist_allgather_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n);
/* The windowed forms: [a, b) of an n-element buffer sharded by dist_shard(n), p at element a
 * (see reduce_scatter_dev). */
int dist_reduce_scatter_win(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                            size_t b);
int dist_allgather_win(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a, size_t b);
/* The same over [0, n) in buckets (windows) of at most `bucket` elements, one after another,
 * each rank's part of a bucket being its part of the global shards (bucket 0 = one bucket). */
int dist_reduce_scatter_buckets(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n,
                                size_t bucket);
int dist_allgather_buckets(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n, size_t bucket);
/* Variable-size all-gather of byte strings: *all (malloc'd) holds rank 0's bytes, then rank
 * 1's, ...; lens[world] receives each rank's length. */
int dist_allgatherv(dist_comm_t *c, const void *mine, size_t len, char **all, size_t *lens);

/* ---------------------------------------------------------------- splitting and checks */

/* Rank `rank`'s share [lo, hi) of n items split into `world` contiguous parts whose sizes
 * differ by at most one (the first n % world ranks get one more). */
void dist_split(long n, int rank, int world, long *lo, long *hi);
/* The same for buffer elements: rank's shard [*lo, *hi) of n. */
void dist_shard(size_t n, int rank, int world, size_t *lo, size_t *hi);

/* FNV-1a 64 of n elements of a backend buffer as host f32 (the value each element has). */
int dist_hash_buffer(rlc_backend_t *be, const void *buf, rlc_buf_kind_t kind, size_t n, uint64_t *hash);
/* Collective: all ranks hash their copy of the buffer; an error naming the first rank whose
 * copy differs from rank 0's ("what" names it in the message). *hash (may be NULL) gets
 * rank 0's hash. */
int dist_verify_replicas(dist_comm_t *c, rlc_backend_t *be, const void *buf, rlc_buf_kind_t kind, size_t n,
                         const char *what, uint64_t *hash);
/* Collective: every rank passes a text (a resolved config); an error naming the first rank
 * whose text differs from rank 0's, with the first differing line of each. */
int dist_verify_same_text(dist_comm_t *c, const char *text, const char *what);
