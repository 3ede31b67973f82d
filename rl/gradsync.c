/* The gradient exchange (rl/gradsync.h): regions, buckets, the communication thread and the
 * stage-2 staging slots. Only the main thread calls the backend (zeroing and folding slots);
 * the communication thread only runs exchanges (MPI on host memory, or NCCL on its own
 * stream), and only while the main thread makes no MPI call (MPI_THREAD_SERIALIZED). */
#include "rl/gradsync.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

enum { SLOT_EMBED, SLOT_TAIL, SLOT_L0, SLOT_L1, NSLOT };

typedef struct {
    size_t a, b; /* parameter offsets */
    void *p;     /* where element a lives */
} win_t;

struct rl_gradsync {
    dist_comm_t *comm;
    rlc_model_t *m;
    rlc_backend_t *be;
    rl_gradsync_cfg_t cfg;
    size_t n, es;
    int R;         /* regions: 0 the embedding, 1 + l layer l, R - 1 the head and final norm */
    int early;     /* the embedding's gradient is written from the start (an LM head tied to it) */
    size_t *start; /* R + 1 boundaries, ascending */
    /* stage 2 */
    void *block, *slot[NSLOT], *shard;
    int slot_region[NSLOT]; /* the region a slot holds (-1: none) */
    int *region_end;        /* per region: the queue index after its last window (0: not sent) */
    /* this update */
    int n_micro, rounds, rounds_max, front, in_round, started, threaded;
    long passes, fault_at; /* backward passes so far; RLC_FAULT_BACKWARD (tests): fail at that pass */
    int rc;
    char msg[512];
    /* the queue of windows in the order every rank sends them; done <= sent */
    win_t *q;
    int sent, done, quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* The first failure of either thread, with its message (rlc_errmsg is per thread). */
static void note_error(rl_gradsync_t *g, int rc) {
    if (!rc) return;
    if (g->threaded) pthread_mutex_lock(&g->mu);
    if (!g->rc) {
        g->rc = rc;
        snprintf(g->msg, sizeof g->msg, "%s", rlc_errmsg());
    }
    if (g->threaded) pthread_mutex_unlock(&g->mu);
}

static int run_window(rl_gradsync_t *g, const win_t *w) {
    if (g->cfg.stage >= 2) return dist_reduce_scatter_win(g->comm, g->be, w->p, RLC_BUF_GRAD, g->n, w->a, w->b);
    return dist_allreduce_ready(g->comm, g->be, w->p, RLC_BUF_GRAD, w->b - w->a);
}

static void *comm_main(void *arg) {
    rl_gradsync_t *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->done == g->sent && !g->quit) pthread_cond_wait(&g->cv, &g->mu);
        if (g->done == g->sent) break; /* asked to quit, nothing left */
        win_t w = g->q[g->done];
        pthread_mutex_unlock(&g->mu);
        note_error(g, run_window(g, &w)); /* a failure still joins the rest: the other ranks are in them */
        pthread_mutex_lock(&g->mu);
        g->done++;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void wait_done(rl_gradsync_t *g, int upto) {
    if (!g->threaded) return; /* inline: everything sent is done */
    pthread_mutex_lock(&g->mu);
    while (g->done < upto) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void enqueue(rl_gradsync_t *g, const win_t *w) {
    if (!g->threaded) {
        note_error(g, run_window(g, w));
        g->q[g->sent++] = *w, g->done++;
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->q[g->sent++] = *w;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int staged(const rl_gradsync_t *g) { return g->cfg.stage >= 2; }
static size_t region_len(const rl_gradsync_t *g, int r) { return g->start[r + 1] - g->start[r]; }
/* The embedding has a slot of its own only when a tied head writes it from the start; else
 * it takes the head's slot, whose exchange is long done when backward reaches it. */
static int slot_of(const rl_gradsync_t *g, int r) {
    return r == 0 ? (g->early ? SLOT_EMBED : SLOT_TAIL) : r == g->R - 1 ? SLOT_TAIL : SLOT_L0 + ((r - 1) & 1);
}
/* Where region r's gradients live. */
static char *region_mem(const rl_gradsync_t *g, int r) {
    return staged(g) ? (char *)g->slot[slot_of(g, r)] : (char *)g->m->grads + g->start[r] * g->es;
}

/* The region containing parameter offset off. */
static int region_of(const rl_gradsync_t *g, size_t off) {
    int lo = 0, hi = g->R - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (g->start[mid] <= off) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static void *staged_ptr(void *ctx, size_t off) {
    rl_gradsync_t *g = ctx;
    int r = region_of(g, off);
    return region_mem(g, r) + (off - g->start[r]) * g->es;
}

static void send_region(rl_gradsync_t *g, int r) {
    size_t a = g->start[r], b = g->start[r + 1], B = g->cfg.bucket ? g->cfg.bucket : b - a;
    char *mem = region_mem(g, r);
    for (size_t x = a; x < b; x += B) {
        win_t w = {x, b - x < B ? b : x + B, mem + (x - a) * g->es};
        enqueue(g, &w);
    }
    g->region_end[r] = g->sent;
}

/* Stage 2: once a slot's exchange is done, its owner adds its part into the shard. */
static void release_slot(rl_gradsync_t *g, int s) {
    int r = g->slot_region[s];
    if (r < 0) return;
    if (g->region_end[r]) {
        wait_done(g, g->region_end[r]);
        size_t x0 = g->start[r] > g->cfg.lo ? g->start[r] : g->cfg.lo;
        size_t x1 = g->start[r + 1] < g->cfg.hi ? g->start[r + 1] : g->cfg.hi;
        if (x0 < x1) {
            char *sh = (char *)g->shard + (x0 - g->cfg.lo) * g->es;
            g->be->add(g->be, sh, sh, (char *)g->slot[s] + (x0 - g->start[r]) * g->es, RLC_BUF_GRAD, x1 - x0);
        }
    }
    g->slot_region[s] = -1;
}

/* Stage 2: region r's slot emptied, zeroed and assigned to r (before backward writes r). */
static void prep(rl_gradsync_t *g, int r) {
    int s = slot_of(g, r);
    if (g->slot_region[s] == r) return;
    release_slot(g, s);
    g->be->zero(g->be, g->slot[s], RLC_BUF_GRAD, region_len(g, r));
    g->slot_region[s] = r;
}

/* Send every region from the front down to region t (stage 2: preparing those that backward
 * never reached, so they send zeros). */
static void send_down_to(rl_gradsync_t *g, int t) {
    for (int x = g->front - 1; x >= t; x--) {
        if (staged(g)) prep(g, x);
        send_region(g, x);
    }
    if (t < g->front) g->front = t;
}

/* All sent exchanges done; stage 2: every slot folded into the shard and freed. */
static void drain(rl_gradsync_t *g) {
    wait_done(g, g->sent);
    if (staged(g))
        for (int s = 0; s < NSLOT; s++) release_slot(g, s);
    if (g->threaded) pthread_mutex_lock(&g->mu);
    g->sent = g->done = 0; /* the thread is idle: done == sent */
    if (g->threaded) pthread_mutex_unlock(&g->mu);
    memset(g->region_end, 0, (size_t)g->R * sizeof *g->region_end);
}

static void hook_begin(void *ctx) {
    rl_gradsync_t *g = ctx;
    g->rounds++;
    if (++g->passes == g->fault_at)
        note_error(g, rlc_errc(RLC_EIO, "injected failure in backward pass %ld (RLC_FAULT_BACKWARD)", g->passes));
    g->front = g->R;
    g->in_round = 1;
    if (!staged(g)) {
        if (g->rounds > g->n_micro)
            note_error(g, rlc_errc(RLC_EINVAL, "gradient exchange: backward pass %d of %d announced", g->rounds,
                                   g->n_micro));
        return;
    }
    drain(g);
    prep(g, g->R - 1);
    if (g->early) prep(g, 0);
}

static void hook_ready(void *ctx, size_t lo) {
    rl_gradsync_t *g = ctx;
    if (!g->in_round) return;
    if (!staged(g) && g->rounds != g->n_micro) return; /* stage 0/1: only the last backward's sums are sent */
    int t = region_of(g, lo);
    if (g->be->is_gpu) { /* the region's kernels are complete before anyone reads it */
        g->be->sync(g->be);
        note_error(g, g->be->check(g->be));
    }
    send_down_to(g, t);
    if (staged(g) && t > 0) prep(g, t - 1); /* the next region's slot, before backward writes it */
    if (t == 0) g->in_round = 0;
}

void *rl_gradsync_shard(const rl_gradsync_t *g) { return g && staged(g) ? g->shard : NULL; }

static int setup_regions(rl_gradsync_t *g) {
    rlc_model_t *m = g->m;
    int L = m->cfg.num_layers;
    g->R = L + 2;
    g->start = rlc_calloc((size_t)g->R + 1, sizeof *g->start);
    g->region_end = rlc_calloc((size_t)g->R, sizeof *g->region_end);
    if (!g->start || !g->region_end) return RLC_ENOMEM;
    for (int l = 0; l < L; l++) g->start[1 + l] = m->layer[l].start;
    g->start[g->R - 1] = m->off_norm;
    g->start[g->R] = g->n;
    size_t qcap = 0, B = g->cfg.bucket;
    for (int r = 0; r < g->R; r++) {
        if (g->start[r + 1] <= g->start[r])
            return rlc_errc(RLC_EINVAL, "gradient exchange: parameter region %d is empty or out of order", r);
        qcap += B ? (region_len(g, r) + B - 1) / B : 1;
    }
    g->q = rlc_calloc(qcap, sizeof *g->q); /* one update's windows: every region once */
    return g->q ? 0 : RLC_ENOMEM;
}

/* Stage 2: the slots (embedding, head + norm, two layers) and the shard replace the flat buffer. */
static int setup_staging(rl_gradsync_t *g) {
    rlc_model_t *m = g->m;
    rlc_backend_t *be = g->be;
    size_t E = region_len(g, 0), T = region_len(g, g->R - 1), Lmax = 0;
    for (int r = 1; r < g->R - 1; r++)
        if (region_len(g, r) > Lmax) Lmax = region_len(g, r);
    g->early = m->off_lm_head == m->off_embed;
    size_t head = g->early ? T : (E > T ? E : T); /* the head's slot (and the embedding's, untied) */
    size_t total = (g->early ? E : 0) + head + 2 * Lmax, S = g->cfg.hi - g->cfg.lo;
    g->block = be->alloc(be, "gradients (staged per layer)", total, RLC_BUF_GRAD);
    g->shard = be->alloc(be, "gradient shard", S ? S : 1, RLC_BUF_GRAD);
    if (!g->block || !g->shard) return RLC_ENOMEM;
    size_t e0 = g->early ? E : 0;
    g->slot[SLOT_EMBED] = g->early ? g->block : NULL;
    g->slot[SLOT_TAIL] = (char *)g->block + e0 * g->es;
    g->slot[SLOT_L0] = (char *)g->block + (e0 + head) * g->es;
    g->slot[SLOT_L1] = (char *)g->block + (e0 + head + Lmax) * g->es;
    for (int s = 0; s < NSLOT; s++) g->slot_region[s] = -1;
    if (m->grads) be->free(be, m->grads); /* a flat buffer from an earlier training forward */
    m->grads = g->block;
    m->grad_elems = total;
    m->grad_ptr = staged_ptr;
    be->zero(be, g->block, RLC_BUF_GRAD, total);
    return 0;
}

int rl_gradsync_create(dist_comm_t *comm, rlc_model_t *m, const rl_gradsync_cfg_t *cfg, rl_gradsync_t **out) {
    *out = NULL;
    if (m->grad_ctx) return rlc_errc(RLC_EINVAL, "gradient exchange: the model already has one");
    rl_gradsync_t *g = rlc_calloc(1, sizeof *g);
    if (!g) return RLC_ENOMEM;
    g->comm = comm, g->m = m, g->be = m->be, g->cfg = *cfg;
    g->n = m->n_params, g->es = m->be->esize[RLC_BUF_GRAD];
    const char *f = getenv("RLC_FAULT_BACKWARD");
    g->fault_at = f ? atol(f) : 0;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    m->grad_ctx = g; /* so rl_gradsync_free can undo a partial setup */
    int rc = setup_regions(g);
    if (!rc && staged(g)) rc = setup_staging(g);
    if (rc) {
        rl_gradsync_free(g);
        return rc;
    }
    m->grad_begin = hook_begin;
    m->grad_ready = hook_ready;
    *out = g;
    return 0;
}

void rl_gradsync_free(void *p) {
    rl_gradsync_t *g = p;
    if (!g) return;
    if (g->threaded) {
        pthread_mutex_lock(&g->mu);
        g->quit = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->th, NULL);
    }
    rlc_model_t *m = g->m;
    if (m->grad_ctx == g) {
        m->grad_begin = NULL, m->grad_ready = NULL, m->grad_ptr = NULL, m->grad_ctx = NULL;
        if (g->block && m->grads == g->block) m->grads = NULL, m->grad_elems = 0;
    }
    if (g->block) g->be->free(g->be, g->block);
    if (g->shard) g->be->free(g->be, g->shard);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->start), free(g->region_end), free(g->q), free(g);
}

/* The thread, at the first update (the NCCL transport is attached by then). */
static void start(rl_gradsync_t *g) {
    g->started = 1;
    const char *why = !g->cfg.overlap          ? "overlap_comm is off"
                      : !g->comm->threads_ok   ? "MPI has no MPI_THREAD_SERIALIZED"
                      : g->be->is_gpu && strcmp(g->comm->transport, "nccl") ? "GPU buffers staged through the host"
                                                                           : NULL;
    if (!why && pthread_create(&g->th, NULL, comm_main, g) != 0) why = "the thread could not start";
    g->threaded = !why;
    double mb = (double)g->cfg.bucket * (double)g->es / (1 << 20);
    if (why) LOG_INFO("gradient exchange: after each layer's backward, inline (%s); buckets of %.1f MiB", why, mb);
    else LOG_INFO("gradient exchange: overlapped with backward on a communication thread; buckets of %.1f MiB", mb);
}

int rl_gradsync_begin(rl_gradsync_t *g, int n_micro) {
    if (!g->started) start(g);
    drain(g);
    g->n_micro = n_micro, g->rounds = 0, g->front = g->R, g->in_round = 0, g->rc = 0;
    if (!staged(g)) {
        rlc_model_zero_grads(g->m);
        return 0;
    }
    g->be->zero(g->be, g->shard, RLC_BUF_GRAD, g->cfg.hi - g->cfg.lo);
    int64_t mx = n_micro;
    int rc = dist_allreduce_i64(g->comm, &mx, 1, DIST_MAX);
    g->rounds_max = (int)mx;
    return rc;
}

int rl_gradsync_finish(rl_gradsync_t *g, int rc) {
    if (!staged(g)) {
        if (g->front > 0) { /* the last backward did not send everything (no micro-batch, or a failure) */
            g->in_round = 1, g->rounds = g->n_micro;
            hook_ready(g, 0);
        }
    } else {
        if (g->in_round) hook_ready(g, 0);
        while (g->rounds < g->rounds_max) { /* this rank had fewer micro-batches: zeros */
            hook_begin(g);
            hook_ready(g, 0);
        }
    }
    drain(g);
    if (!rc && g->rc) rc = rlc_errc(g->rc, "%s", g->msg);
    return rc;
}
