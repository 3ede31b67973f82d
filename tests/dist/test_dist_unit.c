/* dist/ without MPI: the group-splitting arithmetic, launch detection from a fake
 * environment, device and thread placement, and the `none` transport (every collective the
 * identity, agreement passing errors through, replica checks on one rank). */
#include "testutil.h"

#include "core/err.h"
#include "dist/dist.h"

/* ---------------------------------------------------------------- dist_split */

static void test_split_covers_in_order(void **s) {
    (void)s;
    for (int world = 1; world <= 9; world++)
        for (long n = 0; n <= 40; n++) {
            long next = 0, smallest = n + 1, largest = -1;
            for (int r = 0; r < world; r++) {
                long lo, hi;
                dist_split(n, r, world, &lo, &hi);
                /* contiguous, in rank order, disjoint, covering [0, n) */
                assert_int_equal(lo, next);
                assert_true(hi >= lo);
                next = hi;
                if (hi - lo < smallest) smallest = hi - lo;
                if (hi - lo > largest) largest = hi - lo;
                /* the first n % world ranks hold one more */
                assert_int_equal(hi - lo, n / world + (r < n % world));
            }
            assert_int_equal(next, n);
            assert_true(largest - smallest <= 1);
        }
}

static void test_split_examples(void **s) {
    (void)s;
    long lo, hi;
    dist_split(5, 0, 2, &lo, &hi); /* 5 groups over 2 ranks: 3 + 2 */
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 3);
    dist_split(5, 1, 2, &lo, &hi);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 5);
    dist_split(1, 1, 2, &lo, &hi); /* fewer groups than ranks: rank 1 idles */
    assert_int_equal(hi - lo, 0);
    dist_split(7, 3, 2, &lo, &hi); /* out of range: nothing */
    assert_int_equal(hi - lo, 0);
    dist_split(7, 0, 0, &lo, &hi);
    assert_int_equal(hi - lo, 0);
}

/* ---------------------------------------------------------------- launch detection */

static const char *const *g_env;

static const char *fake_getenv(const char *name) {
    for (int i = 0; g_env && g_env[i]; i += 2)
        if (!strcmp(g_env[i], name)) return g_env[i + 1];
    return NULL;
}

static void test_launch_detect(void **s) {
    (void)s;
    dist_launch_t l;
    g_env = NULL;
    dist_launch_detect(&l, fake_getenv);
    assert_null(l.source);
    assert_int_equal(l.world, -1);

    const char *ompi[] = {"OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_RANK", "3", "OMPI_COMM_WORLD_LOCAL_RANK", "1",
                          "OMPI_COMM_WORLD_LOCAL_SIZE", "2", NULL};
    g_env = ompi;
    dist_launch_detect(&l, fake_getenv);
    assert_string_equal(l.source, "OMPI_COMM_WORLD_SIZE");
    assert_int_equal(l.world, 4);
    assert_int_equal(l.rank, 3);
    assert_int_equal(l.local_rank, 1);
    assert_int_equal(l.local_world, 2);

    const char *hydra[] = {"PMI_SIZE", "8", "PMI_RANK", "5", "MPI_LOCALRANKID", "1", NULL};
    g_env = hydra;
    dist_launch_detect(&l, fake_getenv);
    assert_string_equal(l.source, "PMI_SIZE");
    assert_int_equal(l.world, 8);
    assert_int_equal(l.rank, 5);
    assert_int_equal(l.local_rank, 1);
    assert_int_equal(l.local_world, -1);

    /* srun: a job step */
    const char *srun[] = {"SLURM_NTASKS", "16", "SLURM_STEP_ID", "0", "SLURM_PROCID", "9", "SLURM_LOCALID", "1",
                          "SLURM_STEP_NUM_TASKS", "16", NULL};
    g_env = srun;
    dist_launch_detect(&l, fake_getenv);
    assert_string_equal(l.source, "SLURM_NTASKS");
    assert_int_equal(l.world, 16);
    assert_int_equal(l.rank, 9);
    assert_int_equal(l.local_rank, 1);

    /* an sbatch script running one process: SLURM_NTASKS alone is not a parallel launch */
    const char *sbatch[] = {"SLURM_NTASKS", "16", "SLURM_PROCID", "0", NULL};
    g_env = sbatch;
    dist_launch_detect(&l, fake_getenv);
    assert_null(l.source);

    /* garbage is ignored */
    const char *bad[] = {"OMPI_COMM_WORLD_SIZE", "two", NULL};
    g_env = bad;
    dist_launch_detect(&l, fake_getenv);
    assert_null(l.source);
    g_env = NULL;
}

static void test_kind_parse(void **s) {
    (void)s;
    assert_int_equal(dist_kind_parse("auto"), DIST_AUTO);
    assert_int_equal(dist_kind_parse(NULL), DIST_AUTO);
    assert_int_equal(dist_kind_parse("NONE"), DIST_NONE);
    assert_int_equal(dist_kind_parse("mpi"), DIST_MPI);
    assert_int_equal(dist_kind_parse("nccl"), DIST_NCCL);
    assert_int_equal(dist_kind_parse("gloo"), -1);
    assert_string_equal(dist_kind_name(DIST_NCCL), "nccl");
}

/* ---------------------------------------------------------------- placement */

static void test_placement(void **s) {
    (void)s;
    dist_comm_t c;
    dist_none_init(&c);
    assert_int_equal(dist_device_ordinal(&c, "auto", 8), 0);
    c.world = 8, c.rank = 5, c.local_rank = 1, c.local_world = 4;
    assert_int_equal(dist_device_ordinal(&c, "auto", 4), 1);
    assert_int_equal(dist_device_ordinal(&c, "cuda", 4), 1);
    assert_int_equal(dist_device_ordinal(&c, "cuda:3", 4), 0); /* explicit: the name decides */
    assert_int_equal(dist_device_ordinal(&c, "cuda", 1), 0);   /* one visible GPU per rank (srun) */
    c.local_rank = 3;
    assert_int_equal(dist_device_ordinal(&c, "cuda", 2), 1);
    /* threads: explicit wins; bound ranks keep their cores; else the node's cores shared */
    assert_int_equal(dist_threads(&c, 6, 2, 16), 6);
    assert_int_equal(dist_threads(&c, 0, 2, 16), 2);
    assert_int_equal(dist_threads(&c, 0, 16, 16), 4);
    assert_int_equal(dist_threads(&c, 0, 2, 2), 1); /* 4 ranks on 2 cores: one each */
    dist_none_init(&c);
    assert_int_equal(dist_threads(&c, 0, 16, 16), 0); /* one rank: the backend's default */
}

/* ---------------------------------------------------------------- the none transport */

static void test_none_collectives(void **s) {
    (void)s;
    dist_comm_t c;
    dist_none_init(&c);
    assert_string_equal(c.transport, "none");
    assert_int_equal(c.world, 1);
    assert_int_equal(c.rank, 0);
    double d[3] = {1.5, -2, 3};
    assert_int_equal(dist_allreduce_f64(&c, d, 3, DIST_SUM), 0);
    assert_true(d[0] == 1.5 && d[1] == -2 && d[2] == 3);
    assert_int_equal(dist_allreduce_f64(&c, d, 3, DIST_MAX), 0);
    assert_true(d[1] == -2);
    int64_t i[2] = {7, -9};
    assert_int_equal(dist_allreduce_i64(&c, i, 2, DIST_MIN), 0);
    assert_true(i[0] == 7 && i[1] == -9);
    char buf[8] = "abc";
    assert_int_equal(dist_bcast(&c, buf, sizeof buf, 0), 0);
    assert_string_equal(buf, "abc");
    assert_int_not_equal(dist_bcast(&c, buf, sizeof buf, 1), 0); /* no rank 1 */
    int x = 42, y = 0;
    assert_int_equal(dist_allgather(&c, &x, sizeof x, &y), 0);
    assert_int_equal(y, 42);
    assert_int_equal(dist_barrier(&c), 0);
    char *all = NULL;
    size_t lens[1];
    assert_int_equal(dist_allgatherv(&c, "hello", 5, &all, lens), 0);
    assert_int_equal(lens[0], 5);
    assert_memory_equal(all, "hello", 5);
    free(all);
    assert_int_equal(dist_allgatherv(&c, NULL, 0, &all, lens), 0);
    assert_int_equal(lens[0], 0);
    free(all);
    /* agreement with one rank passes the result through unchanged */
    assert_int_equal(dist_agree(&c, 0), 0);
    rlc_errc(RLC_EIO, "disk on fire");
    assert_int_equal(dist_agree(&c, RLC_EIO), RLC_EIO);
    assert_string_equal(rlc_errmsg(), "disk on fire");
    assert_int_equal(dist_agree_signal(&c, 15), 15);
    assert_int_equal(dist_verify_same_text(&c, "anything", "configuration"), 0);
}

static void test_none_device_buffers(void **s) {
    (void)s;
    rlc_backend_t *be;
    assert_int_equal(rlc_backend_create(&be, "cpu", 0, 1), 0);
    dist_comm_t c;
    dist_none_init(&c);
    assert_int_equal(dist_attach_backend(&c, be), 0);
    float *g = be->alloc(be, "grads", 5, RLC_BUF_GRAD);
    float h[5] = {1, 2, 3, 4, 5};
    assert_int_equal(be->upload(be, g, RLC_BUF_GRAD, h, 5), 0);
    assert_int_equal(dist_allreduce_dev(&c, be, g, RLC_BUF_GRAD, 5), 0);
    float back[5];
    assert_int_equal(be->download(be, back, g, RLC_BUF_GRAD, 5), 0);
    assert_memory_equal(back, h, sizeof h);
    /* hashing reads the values: the same values hash the same, one bit changes it */
    uint64_t h1, h2, h3;
    assert_int_equal(dist_hash_buffer(be, g, RLC_BUF_GRAD, 5, &h1), 0);
    assert_int_equal(dist_verify_replicas(&c, be, g, RLC_BUF_GRAD, 5, "grads", &h2), 0);
    assert_true(h1 == h2);
    h[4] = nextafterf(5.0f, 6.0f);
    assert_int_equal(be->upload(be, g, RLC_BUF_GRAD, h, 5), 0);
    assert_int_equal(dist_hash_buffer(be, g, RLC_BUF_GRAD, 5, &h3), 0);
    assert_true(h3 != h1);
    be->free(be, g);
    rlc_backend_destroy(be);
}

/* dist_open without a launcher gives the none transport; none under a parallel launch is
 * refused (every copy would write the same run directory). */
static void test_open(void **s) {
    (void)s;
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("SLURM_STEP_ID");
    dist_comm_t *c = NULL;
    assert_int_equal(dist_open(&c, "auto"), 0);
    assert_string_equal(c->transport, "none");
    dist_close(c, 0);
    assert_int_equal(dist_open(&c, "none"), 0);
    dist_close(c, RLC_EIO); /* one rank: nothing to abort */
    assert_int_not_equal(dist_open(&c, "gloo"), 0);
    assert_non_null(strstr(rlc_errmsg(), "auto, none, mpi or nccl"));
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    assert_int_not_equal(dist_open(&c, "none"), 0);
    assert_non_null(strstr(rlc_errmsg(), "rank 1 of 2"));
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("OMPI_COMM_WORLD_RANK");
    if (!dist_mpi_compiled()) { /* the message says how to get MPI */
        assert_int_not_equal(dist_open(&c, "mpi"), 0);
        assert_non_null(strstr(rlc_errmsg(), "without MPI"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_covers_in_order), cmocka_unit_test(test_split_examples),
        cmocka_unit_test(test_launch_detect),         cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_placement),             cmocka_unit_test(test_none_collectives),
        cmocka_unit_test(test_none_device_buffers),   cmocka_unit_test(test_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
