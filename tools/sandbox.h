/* The sandbox's parts (sandbox.c), shared by the one-interpreter-per-call python tool and
 * its fork server (pyfork.c). Private to tools/. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    const char *python;     /* the interpreter (a real path) */
    const char *dir;        /* its working directory: the one writable place */
    const char *const *args; /* after the interpreter, NULL-terminated (at most 6) */
    int out_fd;             /* becomes stdout and stderr */
    int keep_fd;            /* -1, or a descriptor the child gets as fd 3 */
    double cpu_s;           /* RLIMIT_CPU seconds; 0: none (a long-lived server) */
    int seccomp;            /* install the no-new-processes filter before exec */
} rlc_sandbox_spec_t;

/* Fork a child into the sandbox (docs/tools.md "Sandbox": namespaces where allowed, rlimits,
 * optionally the filter) and exec the interpreter. Returns the child's pid (its process group;
 * with a PID namespace, the namespace dies with it), or -1. */
pid_t rlc_sandbox_spawn(const rlc_sandbox_spec_t *spec);
/* The seccomp program (struct sock_filter[]) and its size in bytes; 0 where there is none. */
size_t rlc_sandbox_filter(const void **prog);
/* Read fd until EOF, the deadline (*timed_out) or cap bytes (*cut); on either, kill pid's group
 * when pid > 0. Returns the bytes read. */
size_t rlc_sandbox_drain(int fd, pid_t pid, double deadline, char *buf, size_t cap, int *timed_out, int *cut);
/* buf[0, n) with a note on how the run ended (status as waitpid gives it); malloc'd. */
char *rlc_sandbox_result_text(char *buf, size_t n, int timed_out, int cut, int status, double timeout_s);
/* The runner (pyfork_server.py, embedded, NUL-terminated): `python -I -c <it> --run` runs
 * main.py of the current directory as the fork server's children run their code. */
extern const unsigned char rlc_pyfork_server_py[];
/* Remove a directory tree (what a call wrote). */
void rlc_sandbox_rmdir(const char *dir);
/* workdir.c: a fresh directory $TMPDIR/rlc-<kind>-<pid>-XXXXXX into dir: 0, or -1 (dir ""). */
int rlc_tool_mkdtemp(const char *kind, char *dir, size_t cap);
/* Remove the rlc-tool-* / rlc-pyfork-* directories of $TMPDIR whose owner process is gone,
 * that belong to this user and were not modified for min_age_s seconds; returns how many. */
int rlc_tool_sweep_stale(double min_age_s);
