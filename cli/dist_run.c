/* Rank-aware start and finish of the training commands: see dist_run.h. */
#include "cli/dist_run.h"

#include <signal.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/signal.h"

/* This process's rank: the communicator's, else the launcher's, else 0. */
static int env_rank(void) {
    dist_launch_t l;
    dist_launch_detect(&l, NULL);
    return l.world > 1 && l.rank > 0 ? l.rank : 0;
}

static void print_error(int rank, const char *prefix) {
    if (rank > 0) fprintf(stderr, "[rank %d] ", rank);
    fprintf(stderr, "rlc: %s%s\n", prefix, rlc_errmsg());
}

void cli_dist_early(void) {
    int r = env_rank();
    if (r == 0) return;
    if (rlc_log_get_level() < RLC_LOG_WARN) rlc_log_set_level(RLC_LOG_WARN);
    char tag[32];
    snprintf(tag, sizeof tag, "[rank %d] ", r);
    rlc_log_set_tag(tag);
}

int cli_dist_fail(void) {
    print_error(env_rank(), "error: ");
    return 1;
}

int cli_dist_open(const char *kind, dist_comm_t **out) {
    int rc = dist_open(out, kind);
    if (rc) return cli_dist_fail();
    dist_quiet_followers(*out);
    return 0;
}

int cli_dist_finish(dist_comm_t *c, int rc) {
    int rank = c ? c->rank : env_rank();
    int report = rc && (rank == 0 || !c || !c->error_agreed);
    if (report) print_error(rank, rc == RLC_EINTR ? "" : "error: ");
    fflush(stdout);
    dist_close(c, rc);
    if (rc == RLC_EINTR) { /* 128 + the signal, as shells and schedulers expect (SIGINT 130, SIGTERM 143) */
        int sig = rl_signal_pending();
        return 128 + (sig > 0 && sig < 64 ? sig : SIGINT);
    }
    return rc == 0 ? 0 : 1;
}
