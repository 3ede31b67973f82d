/* The `none` transport: one process is the whole world, so every reduction is the identity,
 * a broadcast or barrier does nothing and an all-gather is a copy. The single-process
 * training path runs through it unchanged. */
#include <string.h>

#include "dist/transport.h"

static int none_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n) {
    (void)c, (void)be, (void)buf, (void)kind, (void)n;
    return 0;
}
static int none_win(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a, size_t b) {
    (void)c, (void)be, (void)p, (void)kind, (void)n, (void)a, (void)b;
    return 0;
}
static int none_f64(dist_comm_t *c, double *x, size_t n, dist_op_t op) {
    (void)c, (void)x, (void)n, (void)op;
    return 0;
}
static int none_i64(dist_comm_t *c, int64_t *x, size_t n, dist_op_t op) {
    (void)c, (void)x, (void)n, (void)op;
    return 0;
}
static int none_bcast(dist_comm_t *c, void *buf, size_t bytes, int root) {
    (void)c, (void)buf, (void)bytes, (void)root;
    return 0;
}
static int none_allgather(dist_comm_t *c, const void *send, size_t bytes, void *recv) {
    (void)c;
    if (bytes && recv != send) memmove(recv, send, bytes);
    return 0;
}
static int none_barrier(dist_comm_t *c) {
    (void)c;
    return 0;
}
static void none_destroy(dist_comm_t *c, int ok) { (void)c, (void)ok; }

void dist_transport_none(dist_comm_t *c) {
    *c = (dist_comm_t){.transport = "none", .rank = 0, .world = 1, .local_rank = 0, .local_world = 1,
                       .kind = DIST_NONE, .allreduce_dev = none_dev, .allreduce_f64 = none_f64,
                       .allreduce_i64 = none_i64, .bcast = none_bcast, .allgather = none_allgather,
                       .barrier = none_barrier, .reduce_scatter_dev = none_win, .allgather_dev = none_win,
                       .threads_ok = 1,
                       .destroy = none_destroy};
}
