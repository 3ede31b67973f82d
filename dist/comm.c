/* Choosing and closing a communicator, the checked wrappers around its vtable, and the
 * protocols built on the raw collectives: error agreement, variable-size all-gather, and the
 * replica checks (weights, configuration) that catch ranks that silently went apart. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "dist/transport.h"

int dist_mpi_compiled(void) {
#if defined(RLC_DIST_HAVE_MPI)
    return 1;
#else
    return 0;
#endif
}

int dist_nccl_compiled(void) {
#if defined(RLC_DIST_HAVE_NCCL)
    return 1;
#else
    return 0;
#endif
}

static const char *const KIND_NAMES[] = {"auto", "none", "mpi", "nccl"};

int dist_kind_parse(const char *s) {
    if (!s || !s[0]) return DIST_AUTO;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, KIND_NAMES[i])) return i;
    return -1;
}

const char *dist_kind_name(int kind) { return kind >= 0 && kind < 4 ? KIND_NAMES[kind] : "?"; }

/* ---------------------------------------------------------------- open / close */

void dist_none_init(dist_comm_t *c) { dist_transport_none(c); }

static void heap_none_destroy(dist_comm_t *c, int ok) {
    (void)ok;
    free(c);
}

int dist_open(dist_comm_t **out, const char *kind_name) {
    *out = NULL;
    int kind = dist_kind_parse(kind_name);
    if (kind < 0) return rlc_errc(RLC_EINVAL, "dist = '%s': choose auto, none, mpi or nccl", kind_name);
    dist_launch_t l;
    dist_launch_detect(&l, NULL);
    int parallel = l.world > 1;
    if (kind == DIST_NONE && parallel)
        return rlc_errc(RLC_EINVAL,
                        "dist = none, but this process is rank %d of %d (%s): every copy would write the same "
                        "run directory; use dist = auto or launch one process",
                        l.rank, l.world, l.source);
    if (kind == DIST_NONE || (kind == DIST_AUTO && !parallel)) {
        dist_comm_t *c = rlc_malloc(sizeof *c);
        if (!c) return RLC_ENOMEM;
        dist_transport_none(c);
        c->destroy = heap_none_destroy;
        *out = c;
        return 0;
    }
#if defined(RLC_DIST_HAVE_MPI)
    int rc = dist_transport_mpi(out, kind);
    if (!rc && parallel && (*out)->world != l.world) {
        LOG_WARN("%s says %d processes but MPI sees %d: is this rlc built against the MPI that launched it?",
                 l.source, l.world, (*out)->world);
    }
    return rc;
#else
    if (parallel)
        return rlc_errc(RLC_EUNSUP,
                        "launched as rank %d of %d (%s), but this rlc was built without MPI: install an MPI "
                        "(apt-get install libopenmpi-dev openmpi-bin; scripts/deps.sh does) and rebuild",
                        l.rank, l.world, l.source);
    return rlc_errc(RLC_EUNSUP, "dist = %s: this rlc was built without MPI (install libopenmpi-dev and rebuild)",
                    dist_kind_name(kind));
#endif
}

void dist_close(dist_comm_t *c, int rc) {
    if (!c) return;
    int ok = rc == 0 || c->error_agreed || c->world == 1;
    if (!ok)
        fprintf(stderr, "rlc: rank %d failed alone; ending the other %d rank%s of the job\n", c->rank, c->world - 1,
                c->world == 2 ? "" : "s");
    if (c->destroy) c->destroy(c, ok);
}

int dist_attach_backend(dist_comm_t *c, rlc_backend_t *be) {
    if (c->world > 1) {
        /* every rank must take the same path below (NCCL setup is collective) */
        int64_t g[2] = {be->is_gpu, -(int64_t)be->is_gpu};
        int rc = dist_allreduce_i64(c, g, 2, DIST_MAX);
        if (rc) return rc;
        if (g[0] != -g[1])
            return rlc_errc(RLC_EINVAL,
                            "some ranks run on a GPU and others on the CPU (set the same device everywhere)");
    }
    return c->attach ? c->attach(c, be) : 0;
}

/* ---------------------------------------------------------------- placement and logging */

int dist_device_ordinal(const dist_comm_t *c, const char *device, int n_gpus) {
    if (!device || strncasecmp(device, "cuda:", 5) == 0 || !strcmp(device, "cpu")) return 0;
    if (c->world <= 1 || c->local_rank <= 0 || n_gpus <= 1) return 0;
    return c->local_rank % n_gpus;
}

int dist_threads(const dist_comm_t *c, int threads, int avail, int online) {
    if (threads > 0) return threads;
    if (c->local_world <= 1) return 0;
    if (avail > 0 && avail < online) return avail; /* bound by the launcher: its cores are ours */
    int t = online / c->local_world;
    return t < 1 ? 1 : t;
}

int dist_cpu_threads(const dist_comm_t *c, int threads) {
    if (threads > 0 || c->local_world <= 1) return threads;
    cpu_set_t set;
    int avail = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    return dist_threads(c, threads, avail, (int)sysconf(_SC_NPROCESSORS_ONLN));
}

void dist_quiet_followers(const dist_comm_t *c) {
    if (c->world <= 1 || c->rank == 0) return;
    if (rlc_log_get_level() < RLC_LOG_WARN) rlc_log_set_level(RLC_LOG_WARN);
    char tag[32];
    snprintf(tag, sizeof tag, "[rank %d] ", c->rank);
    rlc_log_set_tag(tag);
}

/* ---------------------------------------------------------------- checked wrappers */

/* A GPU backend's pending work, finished and checked before its buffers are exchanged. */
static int dev_ready(rlc_backend_t *be) {
    if (!be->is_gpu) return 0;
    be->sync(be);
    return be->check(be);
}
static int join(int rc, int e) { return rc ? rc : e; }

int dist_allreduce_ready(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n) {
    return c->world > 1 && n ? c->allreduce_dev(c, be, buf, kind, n) : 0;
}
int dist_allreduce_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n) {
    if (c->world <= 1 || !n) return 0;
    int rc = dev_ready(be);
    return join(rc, c->allreduce_dev(c, be, buf, kind, n));
}
int dist_reduce_scatter_win(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a,
                            size_t b) {
    if (a > b || b > n) return rlc_errc(RLC_EINVAL, "dist: window [%zu, %zu) outside %zu elements", a, b, n);
    return c->world > 1 && b > a ? c->reduce_scatter_dev(c, be, p, kind, n, a, b) : 0;
}
int dist_allgather_win(dist_comm_t *c, rlc_backend_t *be, void *p, rlc_buf_kind_t kind, size_t n, size_t a, size_t b) {
    if (a > b || b > n) return rlc_errc(RLC_EINVAL, "dist: window [%zu, %zu) outside %zu elements", a, b, n);
    return c->world > 1 && b > a ? c->allgather_dev(c, be, p, kind, n, a, b) : 0;
}
int dist_allgather_dev(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n) {
    return dist_allgather_buckets(c, be, buf, kind, n, 0);
}

/* A bucketed collective: f on each window in turn; a failure still joins the remaining
 * buckets' exchanges (the other ranks are in them) and is returned afterwards. */
static int buckets(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n, size_t bucket,
                   int (*f)(dist_comm_t *, rlc_backend_t *, void *, rlc_buf_kind_t, size_t, size_t, size_t)) {
    if (c->world <= 1 || !n) return 0;
    if (!bucket || bucket > n) bucket = n;
    int rc = dev_ready(be);
    for (size_t off = 0; off < n; off += bucket) {
        size_t k = n - off < bucket ? n - off : bucket;
        rc = join(rc, f(c, be, (char *)buf + off * be->esize[kind], kind, n, off, off + k));
    }
    return rc;
}
int dist_reduce_scatter_buckets(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n,
                                size_t bucket) {
    return buckets(c, be, buf, kind, n, bucket, dist_reduce_scatter_win);
}
int dist_allgather_buckets(dist_comm_t *c, rlc_backend_t *be, void *buf, rlc_buf_kind_t kind, size_t n, size_t bucket) {
    return buckets(c, be, buf, kind, n, bucket, dist_allgather_win);
}
int dist_allreduce_f64(dist_comm_t *c, double *x, size_t n, dist_op_t op) {
    return c->world > 1 && n ? c->allreduce_f64(c, x, n, op) : 0;
}
int dist_allreduce_i64(dist_comm_t *c, int64_t *x, size_t n, dist_op_t op) {
    return c->world > 1 && n ? c->allreduce_i64(c, x, n, op) : 0;
}
int dist_bcast(dist_comm_t *c, void *buf, size_t bytes, int root) {
    if (root < 0 || root >= c->world) return rlc_errc(RLC_EINVAL, "dist: broadcast root %d of %d", root, c->world);
    return c->world > 1 && bytes ? c->bcast(c, buf, bytes, root) : 0;
}
int dist_allgather(dist_comm_t *c, const void *send, size_t bytes, void *recv) {
    if (c->world == 1) {
        if (bytes && recv != send) memmove(recv, send, bytes);
        return 0;
    }
    return c->allgather(c, send, bytes, recv);
}
int dist_barrier(dist_comm_t *c) { return c->world > 1 ? c->barrier(c) : 0; }

/* ---------------------------------------------------------------- protocols */

int dist_agree(dist_comm_t *c, int rc) {
    if (c->world <= 1) return rc;
    /* the common case costs one small reduction: is anyone failing? */
    int64_t any = rc != 0;
    int e = c->allreduce_i64(c, &any, 1, DIST_MAX);
    if (e) return e; /* (MPI errors abort the job before this) */
    if (!any) return 0;
    int64_t *all = calloc((size_t)c->world, sizeof *all);
    char msg[1024];
    if (!all) {
        /* cannot even learn who failed; still every rank fails */
        c->error_agreed = 1;
        return rc ? rc : rlc_errc(RLC_ENOMEM, "out of memory while learning which rank failed");
    }
    int64_t mine = rc;
    e = c->allgather(c, &mine, sizeof mine, all);
    int first = 0;
    while (first < c->world && all[first] == 0) first++;
    if (e || first == c->world) { /* cannot happen: someone said it failed */
        free(all);
        c->error_agreed = 1;
        return rc ? rc : RLC_ERR;
    }
    int code = (int)all[first], everyone = 1;
    for (int r = 0; r < c->world; r++) everyone &= all[r] != 0;
    free(all);
    if (c->rank == first) snprintf(msg, sizeof msg, "%s", rlc_errmsg());
    else msg[0] = 0;
    e = c->bcast(c, msg, sizeof msg, first);
    msg[sizeof msg - 1] = 0;
    c->error_agreed = 1;
    if (e) return e;
    /* name the rank unless all failed (then rank 0's message speaks for a common cause) */
    if (everyone) rlc_errc(code, "%s", msg);
    else rlc_errc(code, "rank %d: %s", first, msg);
    return code;
}

int dist_agree_signal(dist_comm_t *c, int sig) {
    if (c->world <= 1) return sig;
    int64_t s = sig;
    if (c->allreduce_i64(c, &s, 1, DIST_MAX)) return sig ? sig : 15; /* cannot agree: stop */
    return (int)s;
}

int dist_allgatherv(dist_comm_t *c, const void *mine, size_t len, char **all, size_t *lens) {
    *all = NULL;
    int W = c->world;
    uint64_t n = len;
    uint64_t *ns = calloc((size_t)W, sizeof *ns);
    if (!ns) return rlc_errc(RLC_ENOMEM, "out of memory");
    int rc = dist_allgather(c, &n, sizeof n, ns);
    size_t mx = 0, tot = 0;
    for (int r = 0; r < W && !rc; r++) {
        lens[r] = (size_t)ns[r];
        if (lens[r] > mx) mx = lens[r];
        tot += lens[r];
    }
    free(ns);
    if (rc) return rc;
    /* every rank pads to the longest so one fixed-size all-gather carries all of them */
    char *pad = calloc(mx ? mx : 1, 1), *buf = calloc((size_t)W * (mx ? mx : 1), 1), *out = malloc(tot ? tot : 1);
    if (!pad || !buf || !out) {
        free(pad), free(buf), free(out);
        return rlc_errc(RLC_ENOMEM, "out of memory gathering %zu bytes", (size_t)W * mx);
    }
    if (len) memcpy(pad, mine, len);
    rc = dist_allgather(c, pad, mx, buf);
    size_t off = 0;
    for (int r = 0; r < W && !rc; r++) {
        memcpy(out + off, buf + (size_t)r * mx, lens[r]);
        off += lens[r];
    }
    free(pad), free(buf);
    if (rc) {
        free(out);
        return rc;
    }
    *all = out;
    return 0;
}

/* ---------------------------------------------------------------- replica checks */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int dist_hash_buffer(rlc_backend_t *be, const void *buf, rlc_buf_kind_t kind, size_t n, uint64_t *hash) {
    size_t chunk = n < ((size_t)1 << 22) ? n : ((size_t)1 << 22), es = be->esize[kind];
    float *h = malloc((chunk ? chunk : 1) * sizeof *h);
    if (!h) return rlc_errc(RLC_ENOMEM, "out of memory hashing %zu values", n);
    uint64_t x = 0xcbf29ce484222325ull;
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = be->download(be, h, (const char *)buf + off * es, kind, k);
        if (!rc) x = fnv1a(x, h, k * sizeof *h);
    }
    free(h);
    if (!rc) *hash = x;
    return rc;
}

int dist_verify_replicas(dist_comm_t *c, rlc_backend_t *be, const void *buf, rlc_buf_kind_t kind, size_t n,
                         const char *what, uint64_t *hash) {
    uint64_t mine = 0;
    int rc = dist_agree(c, dist_hash_buffer(be, buf, kind, n, &mine));
    if (rc) return rc;
    if (hash) *hash = mine;
    if (c->world == 1) return 0;
    uint64_t *all = calloc((size_t)c->world, sizeof *all);
    rc = dist_agree(c, all ? 0 : rlc_errc(RLC_ENOMEM, "out of memory"));
    if (!rc) rc = dist_allgather(c, &mine, sizeof mine, all);
    if (!rc && hash) *hash = all[0];
    for (int r = 1; r < c->world && !rc; r++)
        if (all[r] != all[0])
            rc = rlc_errc(RLC_ERR,
                          "%s differ between ranks (rank 0 %016llx, rank %d %016llx): the replicas went apart (a "
                          "nondeterministic reduction, or ranks started from different files)",
                          what, (unsigned long long)all[0], r, (unsigned long long)all[r]);
    free(all);
    if (rc) c->error_agreed = 1; /* every rank saw the same hashes and reached the same verdict */
    return rc;
}

/* The first line where a and b differ (into out). */
static void first_diff_line(const char *a, const char *b, char *out, size_t cap) {
    const char *la = a, *lb = b;
    while (*la && *lb) {
        const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
        size_t na = ea ? (size_t)(ea - la) : strlen(la), nb = eb ? (size_t)(eb - lb) : strlen(lb);
        if (na != nb || memcmp(la, lb, na)) {
            /* a pretty-printed JSON line: drop the indentation and the trailing comma */
            while (na && (*la == ' ' || *la == '\t')) la++, na--;
            while (nb && (*lb == ' ' || *lb == '\t')) lb++, nb--;
            if (na && la[na - 1] == ',') na--;
            if (nb && lb[nb - 1] == ',') nb--;
            snprintf(out, cap, "%.*s vs %.*s", (int)(na < 200 ? na : 200), la, (int)(nb < 200 ? nb : 200), lb);
            for (char *p = out; *p; p++)
                if (*p == '\t') *p = ' ';
            return;
        }
        la += na + (ea != NULL);
        lb += nb + (eb != NULL);
    }
    snprintf(out, cap, "one is a prefix of the other");
}

int dist_verify_same_text(dist_comm_t *c, const char *text, const char *what) {
    if (c->world == 1) return 0;
    char *all = NULL;
    size_t *lens = calloc((size_t)c->world, sizeof *lens);
    int rc = dist_agree(c, lens ? 0 : rlc_errc(RLC_ENOMEM, "out of memory"));
    if (!rc) rc = dist_allgatherv(c, text, strlen(text), &all, lens);
    rc = dist_agree(c, rc);
    size_t off = lens && !rc ? lens[0] : 0;
    for (int r = 1; r < c->world && !rc; r++) {
        if (lens[r] != lens[0] || memcmp(all, all + off, lens[0])) {
            char *a = strndup(all, lens[0]), *b = strndup(all + off, lens[r]);
            char d[512] = "";
            if (a && b) first_diff_line(a, b, d, sizeof d);
            rc = rlc_errc(RLC_EINVAL, "the %s of rank %d differs from rank 0's: %s", what, r, d);
            free(a), free(b);
            c->error_agreed = 1; /* every rank compares the same texts */
        }
        off += lens[r];
    }
    free(all);
    free(lens);
    return rc;
}
