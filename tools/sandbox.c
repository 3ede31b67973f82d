/* The python tool's sandbox (docs/tools.md "Sandbox"). With tool_python_mode = exec every
 * call runs main.py (through the runner, `python -I -c <pyfork_server.py> --run`, as
 * `python -I main.py` would) in a fresh empty directory, in a child that, before exec,
 *   - gets its own process group, stdin from /dev/null, stdout+stderr into one pipe;
 *   - enters new namespaces where the kernel allows: network (no interfaces: no network),
 *     mount (the whole filesystem remounted read-only but its directory), PID (it is init
 *     of its own tree, so killing it kills every process it made); unprivileged callers
 *     first enter a user namespace to be allowed these;
 *   - sets rlimits: CPU seconds, 2 GiB address space, 16 MiB files, 64 open files, no core;
 *   - installs a seccomp filter (x86-64): no new processes (fork, vfork, clone without
 *     CLONE_THREAD, clone3), no IPv4/IPv6 sockets; threads stay allowed.
 * The parent reads at most max_out bytes, kills the whole tree at the wall-clock timeout or
 * when the output runs past its cap, and removes the directory. Every step that the kernel
 * refuses is skipped (the rest still apply). The fork servers (pyfork.c, the default mode)
 * are started by the same spawn, without the CPU limit and the filter, which their children
 * set for themselves. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __x86_64__
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#include "core/err.h"
#include "core/log.h"
#include "tools/sandbox.h"
#include "tools/tool.h"

#ifdef __x86_64__
/* No new processes, no internet sockets; threads allowed. The fork server's children install
 * the same program (rlc_sandbox_filter). */
/* jump offsets count instructions after the jump: keep them in step with the layout */
static const struct sock_filter FILTER[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 8, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 7, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 7, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 6, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* clone: allowed for threads only */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS), /* clone3: glibc falls back to clone */
    /* socket: no AF_INET / AF_INET6 */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2 /* AF_INET */, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 10 /* AF_INET6 */, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

size_t rlc_sandbox_filter(const void **prog) {
    *prog = FILTER;
    return sizeof FILTER;
}

static int install_seccomp(void) {
    struct sock_fprog prog = {.len = (unsigned short)(sizeof FILTER / sizeof FILTER[0]),
                              .filter = (struct sock_filter *)FILTER};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) ? -1 : 0;
}
#else
size_t rlc_sandbox_filter(const void **prog) {
    *prog = NULL;
    return 0;
}
static int install_seccomp(void) { return -1; }
#endif

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Read-only everywhere but dir (the mount namespace must be ours). */
static int readonly_but(const char *dir) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return -1;
    if (mount(dir, dir, NULL, MS_BIND, NULL)) return -1;
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY}, rw = {.attr_clr = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro)) return -1;
    return syscall(SYS_mount_setattr, AT_FDCWD, dir, 0, &rw, sizeof rw) ? -1 : 0;
}

typedef struct {
    const rlc_sandbox_spec_t *spec;
    char uid_map[64], gid_map[64];
} child_args_t;

/* In the child, up to exec: never returns. Only system calls (the parent may have threads). */
static void child_run(const child_args_t *a) {
    const rlc_sandbox_spec_t *s = a->spec;
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    dup2(s->out_fd, 1);
    dup2(s->out_fd, 2);
    if (s->keep_fd >= 0) dup2(s->keep_fd, 3);
    syscall(SYS_close_range, s->keep_fd >= 0 ? 4 : 3, ~0U, 0);
    if (geteuid() != 0 && unshare(CLONE_NEWUSER) == 0) {
        write_file("/proc/self/setgroups", "deny");
        write_file("/proc/self/uid_map", a->uid_map);
        write_file("/proc/self/gid_map", a->gid_map);
    }
    unshare(CLONE_NEWNET);
    if (unshare(CLONE_NEWNS) == 0) readonly_but(s->dir);
    if (unshare(CLONE_NEWPID) == 0) {
        pid_t init = fork(); /* the first child in the new namespace is its init */
        if (init < 0) _exit(126);
        if (init > 0) {
            int st = 0;
            while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
            }
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the tree dies with its parent */
    }
    if (chdir(s->dir)) _exit(126);
    struct rlimit l;
    if (s->cpu_s > 0) {
        rlim_t cpu = (rlim_t)s->cpu_s;
        l = (struct rlimit){cpu, cpu + 1};
        setrlimit(RLIMIT_CPU, &l);
    }
    l = (struct rlimit){(rlim_t)2 << 30, (rlim_t)2 << 30};
    setrlimit(RLIMIT_AS, &l);
    l = (struct rlimit){16 << 20, 16 << 20};
    setrlimit(RLIMIT_FSIZE, &l);
    l = (struct rlimit){64, 64};
    setrlimit(RLIMIT_NOFILE, &l);
    l = (struct rlimit){0, 0};
    setrlimit(RLIMIT_CORE, &l);
    if (s->seccomp && install_seccomp()) _exit(125);
    char *argv[8] = {(char *)s->python};
    for (int i = 0; i < 6 && s->args[i]; i++) argv[i + 1] = (char *)s->args[i];
    char home[600];
    snprintf(home, sizeof home, "HOME=%s", s->dir);
    /* the whole environment: so the interpreter runs with -s rather than -I (-I ignores every
     * PYTHON* variable), which lets PYTHONHASHSEED fix str hashing (set order, say) from run
     * to run; PYTHONSAFEPATH keeps the directory out of sys.path (Python >= 3.11, as -I) */
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home, "LANG=C.UTF-8", "PYTHONIOENCODING=utf-8",
                    "PYTHONHASHSEED=0", "PYTHONSAFEPATH=1", "PYTHONNOUSERSITE=1",
                    "PYTHONDONTWRITEBYTECODE=1", "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", NULL};
    execve(s->python, argv, envp);
    _exit(127);
}

pid_t rlc_sandbox_spawn(const rlc_sandbox_spec_t *spec) {
    child_args_t a = {.spec = spec};
    snprintf(a.uid_map, sizeof a.uid_map, "0 %u 1", (unsigned)geteuid());
    snprintf(a.gid_map, sizeof a.gid_map, "0 %u 1", (unsigned)getegid());
    pid_t pid = fork();
    if (pid == 0) child_run(&a);
    return pid;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void rlc_sandbox_rmdir(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

size_t rlc_sandbox_drain(int fd, pid_t pid, double deadline, char *buf, size_t cap, int *timed_out, int *cut) {
    size_t n = 0;
    for (;;) {
        double left = deadline - rlc_now();
        if (left <= 0) {
            *timed_out = 1;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return n; /* EOF: the tree closed its output */
        n += (size_t)k;
        if (n == cap) {
            *cut = 1;
            break;
        }
    }
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    return n;
}

char *rlc_sandbox_result_text(char *buf, size_t n, int timed_out, int cut, int status, double timeout_s) {
    char note[128] = "";
    if (timed_out) snprintf(note, sizeof note, "\nerror: timed out after %g s (killed)", timeout_s);
    else if (cut) snprintf(note, sizeof note, "\n[output truncated]");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 125) snprintf(note, sizeof note, "error: sandbox setup failed");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) snprintf(note, sizeof note, "error: cannot start python");
    else if (WIFSIGNALED(status)) snprintf(note, sizeof note, "\nerror: killed by signal %d", WTERMSIG(status));
    size_t ln = strlen(note);
    char *out = malloc(n + ln + 1);
    if (!out) return NULL;
    memcpy(out, buf, n);
    memcpy(out + n, note, ln + 1);
    return out;
}

char *rlc_python_run(const char *python, const char *code, double timeout_s, size_t max_out, rlc_tool_status_t *st) {
    *st = RLC_TOOL_ERROR;
    char dir[512], file[600];
    if (rlc_tool_mkdtemp("tool", dir, sizeof dir)) return rlc_strdup("error: cannot create the sandbox directory");
    snprintf(file, sizeof file, "%s/main.py", dir);
    FILE *f = fopen(file, "w");
    int ok = f && fputs(code, f) >= 0;
    if (f && fclose(f)) ok = 0;
    int pfd[2] = {-1, -1};
    char *buf = malloc(max_out + 1);
    pid_t pid = -1;
    char *out = NULL;
    if (ok && buf && pipe2(pfd, O_CLOEXEC) == 0) {
        const char *args[] = {"-s", "-c", (const char *)rlc_pyfork_server_py, "--run", NULL};
        rlc_sandbox_spec_t sp = {.python = python, .dir = dir, .args = args, .out_fd = pfd[1], .keep_fd = -1,
                                 .cpu_s = (double)(rlim_t)timeout_s + 1, .seccomp = 1};
        pid = rlc_sandbox_spawn(&sp);
        close(pfd[1]);
    }
    if (pid > 0) {
        int timed_out = 0, cut = 0, status = 0;
        size_t n = rlc_sandbox_drain(pfd[0], pid, rlc_now() + timeout_s, buf, max_out, &timed_out, &cut);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        out = rlc_sandbox_result_text(buf, n, timed_out, cut, status, timeout_s);
        *st = timed_out ? RLC_TOOL_TIMEOUT : (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? RLC_TOOL_OK : RLC_TOOL_ERROR;
    } else {
        out = rlc_strdup("error: cannot start the sandbox");
    }
    if (pfd[0] >= 0) close(pfd[0]);
    free(buf);
    rlc_sandbox_rmdir(dir);
    return out;
}

char *rlc_python_resolve(const char *name) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' -I -c 'import sys; print(sys.executable)' 2>/dev/null", name);
    if (strchr(name, '\'')) return NULL;
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char line[512] = "";
    char *got = fgets(line, sizeof line, p);
    int rc = pclose(p);
    if (!got || rc != 0) return NULL;
    line[strcspn(line, "\n")] = 0;
    return line[0] == '/' ? rlc_strdup(line) : NULL;
}
