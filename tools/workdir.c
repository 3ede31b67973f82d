/* The directories tool processes work in: $TMPDIR/rlc-<kind>-<pid>-XXXXXX, the pid of the
 * rlc process that made them in the name, so that what a killed run left behind (it cannot
 * remove its own) is removed by the next run that uses tools. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "tools/sandbox.h"

static const char *tmp_root(void) {
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

int rlc_tool_mkdtemp(const char *kind, char *dir, size_t cap) {
    int n = snprintf(dir, cap, "%s/rlc-%s-%ld-XXXXXX", tmp_root(), kind, (long)getpid());
    if (n < 0 || (size_t)n >= cap || !mkdtemp(dir)) {
        if (cap) dir[0] = 0;
        return -1;
    }
    return 0;
}

/* The pid in "rlc-<kind>-<pid>-XXXXXX" for kind tool or pyfork; 0 for any other name. */
static long owner_pid(const char *name) {
    const char *kinds[] = {"rlc-tool-", "rlc-pyfork-"};
    for (int k = 0; k < 2; k++) {
        size_t m = strlen(kinds[k]);
        if (strncmp(name, kinds[k], m)) continue;
        char *end;
        long pid = strtol(name + m, &end, 10);
        return pid > 0 && end[0] == '-' && strlen(end + 1) == 6 ? pid : 0;
    }
    return 0;
}

int rlc_tool_sweep_stale(double min_age_s) {
    const char *root = tmp_root();
    DIR *d = opendir(root);
    if (!d) return 0;
    int removed = 0;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        long pid = owner_pid(e->d_name);
        if (!pid || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its owner runs (or is not ours to ask) */
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", root, e->d_name) >= (int)sizeof path) continue;
        /* ours, a directory, untouched for a while (a process of another PID namespace
         * sharing this directory cannot be asked) */
        if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || difftime(now, st.st_mtime) < min_age_s)
            continue;
        if (!fs_rm_rf(path)) removed++;
    }
    closedir(d);
    if (removed) LOG_INFO("removed %d tool directories left in %s by runs that were killed", removed, root);
    return removed;
}
