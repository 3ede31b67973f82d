/* Run by test_dist_mpi under `mpirun -np N`: every collective of the MPI transport on known
 * values, error agreement when one rank fails, and the replica checks catching one flipped
 * bit. Prints "dist_collectives: ok (N ranks)" on rank 0 and exits 0, or prints what failed
 * (with the rank) and exits 1. Not a cmocka test: each rank is one process of the job. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "dist/dist.h"

static int g_fail;
static int g_rank;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s (%s)\n", g_rank, __FILE__, \
                    __LINE__, #cond, rlc_errmsg());                                      \
            g_fail = 1;                                                                  \
        }                                                                                \
    } while (0)

/* Sharded collectives: reduce-scatter and all-gather, whole, bucketed and as a window kept
 * apart from the buffer; every form leaves each rank its part of the global shards. */
static void check_sharded(dist_comm_t *c, rlc_backend_t *be) {
    int W = c->world, r = c->rank;
    /* n = 1000 and 1001 (uneven shards at 3 ranks), whole and in buckets of 97 elements; the
     * shards cover [0, n) exactly once */
    for (size_t nn = 1000; nn <= 1001; nn++) {
        size_t cover = 0, prev = 0, mlo, mhi;
        for (int k = 0; k < W; k++) {
            size_t lo, hi;
            dist_shard(nn, k, W, &lo, &hi);
            CHECK(lo == prev && hi >= lo && hi - lo <= nn / (size_t)W + 1);
            cover += hi - lo, prev = hi;
        }
        CHECK(cover == nn && prev == nn);
        dist_shard(nn, r, W, &mlo, &mhi);
        for (int bucketed = 0; bucketed < 2; bucketed++) {
            size_t bk = bucketed ? 97 : 0;
            float *x = be->alloc(be, "shards", nn, RLC_BUF_GRAD), *hx = malloc(nn * sizeof *hx);
            for (size_t i = 0; i < nn; i++) hx[i] = (float)(r + 1) * (float)i + 0.5f;
            CHECK(be->upload(be, x, RLC_BUF_GRAD, hx, nn) == 0);
            CHECK(dist_reduce_scatter_buckets(c, be, x, RLC_BUF_GRAD, nn, bk) == 0);
            CHECK(be->download(be, hx, x, RLC_BUF_GRAD, nn) == 0);
            for (size_t i = mlo; i < mhi; i++) CHECK(hx[i] == (float)(W * (W + 1) / 2) * (float)i + 0.5f * (float)W);
            /* all-gather: every rank's shard holds 1000·owner + i; afterwards everyone has all */
            for (int k = 0; k < W; k++) {
                size_t lo, hi;
                dist_shard(nn, k, W, &lo, &hi);
                for (size_t i = lo; i < hi; i++) hx[i] = k == r ? 1000.0f * (float)k + (float)i : -1.0f;
            }
            CHECK(be->upload(be, x, RLC_BUF_GRAD, hx, nn) == 0);
            CHECK(dist_allgather_buckets(c, be, x, RLC_BUF_GRAD, nn, bk) == 0);
            CHECK(be->download(be, hx, x, RLC_BUF_GRAD, nn) == 0);
            for (int k = 0; k < W; k++) {
                size_t lo, hi;
                dist_shard(nn, k, W, &lo, &hi);
                for (size_t i = lo; i < hi; i++) CHECK(hx[i] == 1000.0f * (float)k + (float)i);
            }
            be->free(be, x);
            free(hx);
        }
        /* a window [a, b) held in a buffer of its own (a staged layer): each rank's part of
         * the window gets the sum, and nothing outside the window moves */
        size_t a = nn / 3 + 1, b = nn - nn / 5, w = b - a;
        float *x = be->alloc(be, "window", w, RLC_BUF_GRAD), *hx = malloc(w * sizeof *hx);
        for (size_t i = 0; i < w; i++) hx[i] = (float)(r + 1) * (float)(a + i);
        CHECK(be->upload(be, x, RLC_BUF_GRAD, hx, w) == 0);
        CHECK(dist_reduce_scatter_win(c, be, x, RLC_BUF_GRAD, nn, a, b) == 0);
        CHECK(be->download(be, hx, x, RLC_BUF_GRAD, w) == 0);
        for (size_t i = a; i < b; i++) {
            float want = i >= mlo && i < mhi ? (float)(W * (W + 1) / 2) * (float)i : (float)(r + 1) * (float)i;
            if (W == 1 || (i >= mlo && i < mhi)) CHECK(hx[i - a] == want);
        }
        CHECK(dist_reduce_scatter_win(c, be, x, RLC_BUF_GRAD, nn, b, a) != 0); /* a bad window is refused */
        be->free(be, x);
        free(hx);
    }
}

int main(void) {
    dist_comm_t *c = NULL;
    if (dist_open(&c, "mpi")) {
        fprintf(stderr, "dist_open: %s\n", rlc_errmsg());
        return 1;
    }
    g_rank = c->rank;
    int W = c->world, r = c->rank;
    CHECK(!strcmp(c->transport, "mpi"));
    CHECK(c->local_rank >= 0 && c->local_rank < c->local_world);

    /* host reductions: sum, max, min over doubles and int64 */
    double d[3] = {r + 1.0, -r, 0.5 * r};
    CHECK(dist_allreduce_f64(c, d, 3, DIST_SUM) == 0);
    CHECK(d[0] == W * (W + 1) / 2.0 && d[1] == -(W * (W - 1) / 2.0) && d[2] == 0.25 * W * (W - 1));
    double mx = r, mn = r;
    CHECK(dist_allreduce_f64(c, &mx, 1, DIST_MAX) == 0 && mx == W - 1);
    CHECK(dist_allreduce_f64(c, &mn, 1, DIST_MIN) == 0 && mn == 0);
    int64_t big[2] = {(int64_t)1 << 40, r};
    CHECK(dist_allreduce_i64(c, big, 2, DIST_SUM) == 0 && big[0] == W * ((int64_t)1 << 40));
    int64_t im = -r;
    CHECK(dist_allreduce_i64(c, &im, 1, DIST_MIN) == 0 && im == -(W - 1));

    /* broadcast from the last rank, all-gather, variable all-gather, barrier */
    char msg[32] = "";
    if (r == W - 1) snprintf(msg, sizeof msg, "from %d", r);
    CHECK(dist_bcast(c, msg, sizeof msg, W - 1) == 0);
    char want[32];
    snprintf(want, sizeof want, "from %d", W - 1);
    CHECK(!strcmp(msg, want));
    int *all = calloc((size_t)W, sizeof *all), mine = 100 + r;
    CHECK(dist_allgather(c, &mine, sizeof mine, all) == 0);
    for (int k = 0; k < W; k++) CHECK(all[k] == 100 + k);
    free(all);
    char text[16], *cat = NULL;
    size_t *lens = calloc((size_t)W, sizeof *lens);
    snprintf(text, sizeof text, "%.*s", r + 1, "abcdefghij"); /* rank r sends r+1 letters */
    CHECK(dist_allgatherv(c, text, strlen(text), &cat, lens) == 0);
    size_t off = 0;
    for (int k = 0; k < W; k++) {
        CHECK(lens[k] == (size_t)k + 1);
        CHECK(!memcmp(cat + off, "abcdefghij", lens[k]));
        off += lens[k];
    }
    free(cat);
    free(lens);
    CHECK(dist_barrier(c) == 0);

    /* backend buffers (host memory on the CPU backend): an in-place float sum */
    rlc_backend_t *be = NULL;
    CHECK(rlc_backend_create(&be, "cpu", 0, 1) == 0);
    CHECK(dist_attach_backend(c, be) == 0);
    size_t n = 1000;
    float *g = be->alloc(be, "grads", n, RLC_BUF_GRAD), *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = (float)(r + 1) * (float)i;
    CHECK(be->upload(be, g, RLC_BUF_GRAD, h, n) == 0);
    CHECK(dist_allreduce_dev(c, be, g, RLC_BUF_GRAD, n) == 0);
    CHECK(be->download(be, h, g, RLC_BUF_GRAD, n) == 0);
    for (size_t i = 0; i < n; i++) CHECK(h[i] == (float)(W * (W + 1) / 2) * (float)i);

    check_sharded(c, be);

    /* replicas: identical buffers pass; one changed bit on the last rank is caught by all */
    uint64_t hash = 0;
    CHECK(dist_verify_replicas(c, be, g, RLC_BUF_GRAD, n, "the test buffer", &hash) == 0 && hash != 0);
    if (r == W - 1) {
        h[7] = nextafterf(h[7], INFINITY);
        CHECK(be->upload(be, g, RLC_BUF_GRAD, h, n) == 0);
    }
    int rc = dist_verify_replicas(c, be, g, RLC_BUF_GRAD, n, "the test buffer", NULL);
    CHECK(rc != 0 && strstr(rlc_errmsg(), "differ between ranks") && c->error_agreed);
    c->error_agreed = 0;
    CHECK(dist_verify_same_text(c, "lr: 0.1\nseed: 1\n", "configuration") == 0);
    rc = dist_verify_same_text(c, r == W - 1 ? "lr: 0.1\nseed: 2\n" : "lr: 0.1\nseed: 1\n", "configuration");
    CHECK(rc != 0 && strstr(rlc_errmsg(), "seed: 1 vs seed: 2"));
    c->error_agreed = 0;
    be->free(be, g);
    free(h);
    rlc_backend_destroy(be);

    /* agreement: nobody failed; then the last rank fails and every rank gets its message */
    CHECK(dist_agree(c, 0) == 0 && !c->error_agreed);
    rc = r == W - 1 ? rlc_errc(RLC_EIO, "cannot open data.jsonl") : 0;
    rc = dist_agree(c, rc);
    snprintf(want, sizeof want, "rank %d: ", W - 1);
    CHECK(rc == RLC_EIO && c->error_agreed && !strncmp(rlc_errmsg(), want, strlen(want)) &&
          strstr(rlc_errmsg(), "cannot open data.jsonl"));
    c->error_agreed = 0;
    /* all fail: rank 0's message, without a rank prefix */
    rc = dist_agree(c, rlc_errc(RLC_EINVAL, "bad value %d", r));
    CHECK(rc == RLC_EINVAL && !strcmp(rlc_errmsg(), "bad value 0"));
    c->error_agreed = 0;
    CHECK(dist_agree_signal(c, r == 0 ? 15 : 0) == 15);
    CHECK(dist_agree_signal(c, 0) == 0);

    /* every rank's verdict, so no rank reports success while another failed */
    int64_t failed = g_fail;
    dist_allreduce_i64(c, &failed, 1, DIST_MAX);
    if (!failed && r == 0) printf("dist_collectives: ok (%d ranks)\n", W);
    dist_close(c, 0);
    return failed ? 1 : 0;
}
