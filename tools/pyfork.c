/* The python tool's fork servers (docs/tools.md "Fork server"): an interpreter started once in
 * the sandbox (pyfork_server.py) forks a child per call, so a call costs a fork instead of an
 * interpreter's start-up (~2 ms against ~50 ms on the development machine). One server serves
 * one call at a time; a pool of up to `workers` servers, started as the calls need them,
 * serves the batch's worker threads. A server that cannot start disables the pool: every call
 * then runs the one-interpreter-per-call way (rlc_python_run), which is also tool_python_mode
 * = exec. A server that stops answering is killed (its PID namespace with it) and replaced. */
#include "tools/pyfork.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "tools/sandbox.h"


enum { HDR = 32, ANS = 16, START_S = 60 }; /* start-up: preloaded modules may take seconds */

typedef struct {
    int sock;   /* -1: no server */
    pid_t pid;  /* the sandbox child (init of the server's PID namespace when there is one) */
    int busy;
    char dir[512];
} server_t;

struct rlc_pyfork {
    char *python;
    char *filter_hex;
    char *preload; /* "" or module names */
    server_t *s;
    int cap;
    int disabled; /* a server failed to start: the exec way from now on */
    pthread_mutex_t mu;
};

rlc_pyfork_t *rlc_pyfork_create(const char *python, const char *preload, int max_servers) {
    const void *prog;
    size_t plen = rlc_sandbox_filter(&prog);
    if (!plen) return NULL; /* no seccomp program to give the children: the exec way */
    rlc_pyfork_t *p = rlc_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->python = rlc_strdup(python);
    p->preload = rlc_strdup(preload ? preload : "");
    p->filter_hex = rlc_malloc(2 * plen + 1);
    p->s = rlc_calloc((size_t)max_servers, sizeof *p->s);
    if (!p->python || !p->preload || !p->filter_hex || !p->s) {
        rlc_pyfork_free(p);
        return NULL;
    }
    for (size_t i = 0; i < plen; i++) snprintf(p->filter_hex + 2 * i, 3, "%02x", ((const unsigned char *)prog)[i]);
    p->cap = max_servers;
    for (int i = 0; i < max_servers; i++) p->s[i].sock = -1;
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

static void server_stop(server_t *s) {
    if (s->sock >= 0) close(s->sock); /* EOF: the server exits */
    if (s->pid > 0) {
        kill(-s->pid, SIGKILL);
        kill(s->pid, SIGKILL);
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (s->dir[0]) rlc_sandbox_rmdir(s->dir);
    s->sock = -1;
    s->pid = 0;
    s->dir[0] = 0;
}

void rlc_pyfork_free(rlc_pyfork_t *p) {
    if (!p) return;
    for (int i = 0; p->s && i < p->cap; i++) server_stop(&p->s[i]);
    if (p->s) pthread_mutex_destroy(&p->mu);
    free(p->s);
    free(p->python);
    free(p->preload);
    free(p->filter_hex);
    free(p);
}

/* Read exactly n bytes by the deadline: 0, or -1 (EOF, error, late). */
static int read_exact(int fd, char *buf, size_t n, double deadline) {
    size_t got = 0;
    while (got < n) {
        double left = deadline - rlc_now();
        if (left <= 0) return -1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Start a server in s (which has none): 0, or -1 with *why set. */
static int server_start(rlc_pyfork_t *p, server_t *s, char *why, size_t why_len) {
    int sv[2] = {-1, -1}, out[2] = {-1, -1};
    if (rlc_tool_mkdtemp("pyfork", s->dir, sizeof s->dir)) {
        snprintf(why, why_len, "has no directory (%s)", strerror(errno));
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(out, O_CLOEXEC)) {
        snprintf(why, why_len, "has no socket or pipe (%s)", strerror(errno));
        for (int i = 0; i < 2; i++)
            if (sv[i] >= 0) close(sv[i]);
        server_stop(s);
        return -1;
    }
    const char *args[] = {"-s", "-c", (const char *)rlc_pyfork_server_py, p->filter_hex, p->preload, NULL};
    rlc_sandbox_spec_t sp = {.python = p->python, .dir = s->dir, .args = args, .out_fd = out[1], .keep_fd = sv[1],
                             .cpu_s = 0, .seccomp = 0};
    s->pid = rlc_sandbox_spawn(&sp);
    close(sv[1]);
    close(out[1]);
    s->sock = sv[0];
    char ans[ANS + 1] = "";
    int ok = s->pid > 0 && read_exact(s->sock, ans, ANS, rlc_now() + START_S) == 0 && !strncmp(ans, "ready", 5);
    if (!ok) { /* what the server said on its way down, if anything */
        char msg[256] = "";
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        ssize_t k = s->pid > 0 ? read(out[0], msg, sizeof msg - 1) : -1;
        msg[k > 0 ? k : 0] = 0;
        char *last = strrchr(msg, '\n');
        while (last && last > msg && !last[1]) *last = 0, last = strrchr(msg, '\n');
        snprintf(why, why_len, "did not start%s%s", k > 0 ? ": " : "", k > 0 ? (last ? last + 1 : msg) : "");
        server_stop(s);
    }
    close(out[0]);
    return ok ? 0 : -1;
}

/* A free server, started if need be; NULL when the pool is disabled. */
static server_t *acquire(rlc_pyfork_t *p) {
    pthread_mutex_lock(&p->mu);
    server_t *s = NULL;
    for (int i = 0; !p->disabled && i < p->cap && !s; i++)
        if (!p->s[i].busy && p->s[i].sock >= 0) s = &p->s[i];
    for (int i = 0; !p->disabled && i < p->cap && !s; i++)
        if (!p->s[i].busy) s = &p->s[i];
    if (s) s->busy = 1;
    pthread_mutex_unlock(&p->mu);
    if (s && s->sock >= 0) { /* an idle server never writes: readable means it is gone */
        struct pollfd pf = {.fd = s->sock, .events = POLLIN};
        if (poll(&pf, 1, 0) != 0) server_stop(s);
    }
    if (!s || s->sock >= 0) return s;
    char why[320];
    if (server_start(p, s, why, sizeof why) == 0) return s;
    pthread_mutex_lock(&p->mu);
    if (!p->disabled)
        LOG_WARN("python tool: the fork server %s; every call starts its own interpreter from now on", why);
    p->disabled = 1;
    s->busy = 0;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void release(rlc_pyfork_t *p, server_t *s) {
    pthread_mutex_lock(&p->mu);
    s->busy = 0;
    pthread_mutex_unlock(&p->mu);
}

/* The request: the header carrying the pipe's write end, then the code. */
static int send_request(int sock, int pipe_w, const char *code, size_t n, double timeout_s) {
    char hdr[HDR];
    memset(hdr, ' ', sizeof hdr);
    char head[HDR + 1];
    int k = snprintf(head, sizeof head, "R %ld %zu", (long)(timeout_s * 1000 + 0.5), n);
    memcpy(hdr, head, (size_t)k);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = hdr, .iov_len = HDR};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pipe_w, sizeof(int));
    if (sendmsg(sock, &m, MSG_NOSIGNAL) != HDR) return -1;
    for (size_t off = 0; off < n;) {
        ssize_t w = send(sock, code + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The server's verdict as a wait status; -1 when it did not answer in time. */
static int read_verdict(int sock, double deadline, int *timed_out) {
    char ans[ANS + 1] = "";
    if (read_exact(sock, ans, ANS, deadline)) return -1;
    int v = 0;
    if (ans[0] == 'T') {
        *timed_out = 1;
        return 9; /* killed */
    }
    if (sscanf(ans + 1, "%d", &v) != 1 || v < 0 || v > 255) return -1;
    return ans[0] == 'E' ? v << 8 : ans[0] == 'S' ? (v & 0x7f) : -1;
}

char *rlc_pyfork_run(rlc_pyfork_t *p, const char *code, double timeout_s, size_t max_out, rlc_tool_status_t *st) {
    *st = RLC_TOOL_ERROR;
    server_t *s = p ? acquire(p) : NULL;
    if (!s) return NULL;
    int pfd[2];
    char *buf = malloc(max_out + 1), *out = NULL;
    if (!buf || pipe2(pfd, O_CLOEXEC)) {
        free(buf);
        release(p, s);
        return rlc_strdup("error: cannot start the sandbox");
    }
    /* the server kills the call at timeout_s; past this grace it is itself stuck */
    double deadline = rlc_now() + timeout_s + 5;
    int sent = send_request(s->sock, pfd[1], code, strlen(code), timeout_s) == 0;
    if (!sent) { /* the server went away since the idle check: nothing ran, try a new one once */
        char why[320];
        server_stop(s);
        sent = server_start(p, s, why, sizeof why) == 0 &&
               send_request(s->sock, pfd[1], code, strlen(code), timeout_s) == 0;
    }
    close(pfd[1]);
    int timed_out = 0, cut = 0, status = -1;
    size_t n = 0;
    if (sent) {
        int late = 0;
        n = rlc_sandbox_drain(pfd[0], -1, deadline, buf, max_out, &late, &cut);
        close(pfd[0]); /* after a cut, a call still writing dies of SIGPIPE */
        if (!late) status = read_verdict(s->sock, deadline, &timed_out);
        /* a cut call ends as under exec: an error with its output truncated (one that went on
         * computing without writing ran until the server's timeout) */
        if (cut) timed_out = 0;
    } else {
        close(pfd[0]);
    }
    if (status < 0) { /* the server died or hangs: replace it */
        server_stop(s);
        out = rlc_strdup("error: the python tool's server stopped; the call was lost");
    } else {
        out = rlc_sandbox_result_text(buf, n, timed_out, cut, status, timeout_s);
        *st = timed_out ? RLC_TOOL_TIMEOUT : (!cut && WIFEXITED(status) && WEXITSTATUS(status) == 0) ? RLC_TOOL_OK : RLC_TOOL_ERROR;
    }
    free(buf);
    release(p, s);
    return out;
}
