/* Run-directory rules: containment, the lock, fresh vs resume vs overwrite (see rundir.h). */
#include "rl/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "rl/ckpt.h"
#include "rl/keys.h"

/* The absolute, symlink-free form of path, which may not exist yet: the real path of its
 * nearest existing ancestor with the rest appended. malloc'd; NULL on failure. */
static char *abs_path(const char *path) {
    char *p = rlc_strdup(path), *tail = NULL;
    if (!p) return NULL;
    for (;;) {
        char real[PATH_MAX];
        if (realpath(p[0] ? p : ".", real)) {
            size_t n = strlen(real) + (tail ? strlen(tail) + 2 : 1);
            char *out = rlc_malloc(n);
            if (out) snprintf(out, n, "%s%s%s", real, tail && strcmp(real, "/") ? "/" : "", tail ? tail : "");
            free(p);
            free(tail);
            return out;
        }
        char *slash = strrchr(p, '/');
        const char *last = slash ? slash + 1 : p;
        size_t n = strlen(last) + (tail ? strlen(tail) + 2 : 1);
        char *nt = rlc_malloc(n);
        if (!nt) break;
        snprintf(nt, n, "%s%s%s", last, tail ? "/" : "", tail ? tail : "");
        free(tail);
        tail = nt;
        if (slash == p) p[1] = 0; /* "/x" -> "/" */
        else if (slash) *slash = 0;
        else p[0] = 0; /* a relative name: the current directory */
    }
    free(p);
    free(tail);
    return NULL;
}

/* 1 when a equals b or lies inside it (both absolute). */
static int is_within(const char *a, const char *b) {
    size_t n = strlen(b);
    if (n == 1 && b[0] == '/') return 1;
    return !strncmp(a, b, n) && (a[n] == 0 || a[n] == '/');
}

static int check_outside_models(const char *run_dir, const char *const *models, int n_models) {
    char *run = abs_path(run_dir);
    if (!run) return rlc_errc(RLC_EIO, "cannot resolve the run directory %s", run_dir);
    int rc = 0;
    for (int i = 0; i < n_models && !rc; i++) {
        if (!models[i] || !models[i][0] || !fs_is_dir(models[i])) continue;
        char *m = abs_path(models[i]);
        if (!m) rc = rlc_errc(RLC_EIO, "cannot resolve the model directory %s", models[i]);
        else if (is_within(run, m))
            rc = rlc_errc(RLC_EINVAL, "run directory %s is %s the model directory %s; the run would overwrite the "
                                      "model's files (choose a --run-dir outside it)",
                          run_dir, strcmp(run, m) ? "inside" : "", models[i]);
        free(m);
    }
    free(run);
    return rc;
}

static int lock_dir(rl_rundir_t *rd, const char *run_dir) {
    char *lp = fs_join(run_dir, ".rlc.lock");
    if (!lp) return RLC_ENOMEM;
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = rlc_err_errno("cannot create the lock file %s", lp);
        free(lp);
        return rc;
    }
    free(lp);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        close(fd);
        long pid = atol(buf);
        if (pid > 0)
            return rlc_errc(RLC_EINVAL, "%s is in use by another rlc process (pid %ld); wait for it to finish or "
                                        "choose another --run-dir", run_dir, pid);
        return rlc_errc(RLC_EINVAL, "%s is in use by another rlc process; choose another --run-dir", run_dir);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        close(fd);
        return rlc_err_errno("cannot write the lock file in %s", run_dir);
    }
    rd->fd = fd;
    return 0;
}

/* The files of an earlier run in run_dir (0 = none). */
static int holds_run(const char *run_dir) {
    static const char *const marks[] = {"config.json", "metrics.jsonl", "checkpoints"};
    int found = 0;
    for (int i = 0; i < 3; i++) {
        char *p = fs_join(run_dir, marks[i]);
        if (p && fs_exists(p)) found = 1;
        free(p);
    }
    return found;
}

static int clear_run(const char *run_dir) {
    static const char *const files[] = {"config.json",   "metrics.jsonl", "samples.jsonl",
                                        "config_history.jsonl", "checkpoints", NULL};
    int rc = 0;
    for (int i = 0; files[i] && !rc; i++) {
        char *p = fs_join(run_dir, files[i]);
        if (!p) return RLC_ENOMEM;
        if (fs_exists(p)) rc = fs_rm_rf(p);
        free(p);
    }
    if (!rc) LOG_WARN("--overwrite: removed the earlier run in %s", run_dir);
    return rc;
}

int rl_rundir_claim(rl_rundir_t *rd, const char *run_dir, const char *const *models, int n_models, int resume,
                    int overwrite) {
    rd->fd = -1;
    int rc = check_outside_models(run_dir, models, n_models);
    if (!rc) rc = fs_mkdir_p(run_dir);
    if (!rc) rc = lock_dir(rd, run_dir);
    if (!rc && !resume && holds_run(run_dir)) {
        if (overwrite) rc = clear_run(run_dir);
        else
            rc = rlc_errc(RLC_EINVAL, "%s already holds a run (config.json, metrics.jsonl or checkpoints/): continue it "
                                      "with --resume %s, start over with --overwrite, or start a new run from its "
                                      "weights in another directory (--model %s --run-dir NEW)",
                          run_dir, run_dir, run_dir);
    }
    if (rc) rl_rundir_release(rd);
    return rc;
}

void rl_rundir_release(rl_rundir_t *rd) {
    if (rd->fd >= 0) close(rd->fd); /* closing releases the flock */
    rd->fd = -1;
}

int rl_rundir_resume_point(const char *run_dir, char **dir, long *step) {
    *dir = NULL;
    int rc = rl_ckpt_latest(run_dir, 1, dir, step);
    if (rc == 2)
        return rlc_errc(RLC_EFMT, "every checkpoint in %s/checkpoints is damaged (see the warnings above); nothing to "
                                  "resume from",
                        run_dir);
    if (rc == 1) LOG_WARN("%s has no checkpoint yet; starting from step 0", run_dir);
    return rc;
}

/* 1 when dir/config.json is a model's (it names a model type or architectures). */
static int is_model_dir(const char *dir) {
    char *cp = fs_join(dir, "config.json"), *text = NULL;
    size_t n;
    int yes = 0;
    if (cp && fs_is_dir(dir) && fs_exists(cp) && !fs_read_all(cp, &text, &n)) {
        cJSON *j = cJSON_ParseWithLength(text, n);
        yes = j && (cJSON_GetObjectItemCaseSensitive(j, "model_type") ||
                    cJSON_GetObjectItemCaseSensitive(j, "architectures"));
        cJSON_Delete(j);
    }
    free(cp);
    free(text);
    return yes;
}

/* The checkpoint of one step of run (verified), or an error naming it. */
static int resolve_step(const char *run, long step, char **dir) {
    char name[48];
    snprintf(name, sizeof name, "checkpoints/step-%06ld", step);
    char *p = fs_join(run, name);
    if (!p) return RLC_ENOMEM;
    int rc = 0;
    if (!fs_is_dir(p)) rc = rlc_errc(RLC_EINVAL, "%s has no checkpoint of step %ld", run, step);
    else if ((rc = rl_ckpt_verify(p, 1))) rc = rlc_err_ctx(rc, "checkpoint of step %ld of %s is damaged", step, run);
    if (rc) free(p);
    else *dir = p;
    return rc;
}

/* The run of a path inside it: RUN/checkpoints[/latest|/step-N] -> RUN (malloc'd) and the
 * step named (-1 = the newest); NULL when the path is no such thing. */
static char *run_of(const char *spec, long *step) {
    char *s = rlc_strdup(spec);
    if (!s) return NULL;
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
    *step = -1;
    char *slash = strrchr(s, '/');
    const char *last = slash ? slash + 1 : s;
    long v = -1;
    int is_step = !strncmp(last, "step-", 5) && last[5] && strspn(last + 5, "0123456789") == strlen(last + 5);
    if (is_step) v = atol(last + 5);
    if (!strcmp(last, "latest") || is_step) {
        if (is_step) *step = v;
        if (!slash) goto none;
        *slash = 0;
        slash = strrchr(s, '/');
        last = slash ? slash + 1 : s;
    }
    if (strcmp(last, "checkpoints")) goto none;
    if (slash) *slash = 0;
    else strcpy(s, ".");
    return s;
none:
    free(s);
    return NULL;
}

int rl_model_resolve(const char *spec, const char *what, char **dir, long *step) {
    *dir = NULL;
    *step = -1;
    if (!spec || !spec[0]) return rlc_errc(RLC_EINVAL, "%s: no model directory given", what);
    if (is_model_dir(spec)) { /* a model directory, possibly a step-N checkpoint: as it is */
        long st;
        char *run = run_of(spec, &st);
        int rc = 0;
        if (run && st >= 0) rc = resolve_step(run, st, dir); /* a checkpoint must verify */
        else *dir = rlc_strdup(spec);
        free(run);
        if (!rc && !*dir) rc = RLC_ENOMEM;
        if (!rc && st >= 0) *step = st;
        if (!rc && st >= 0) LOG_INFO("%s: %s (step %ld)", what, *dir, st);
        else if (!rc) LOG_INFO("%s: %s", what, *dir);
        return rc;
    }
    const char *at = strrchr(spec, '@');
    long st = -1;
    char *run = NULL;
    if (at && at[1] && strspn(at + 1, "0123456789") == strlen(at + 1)) { /* RUN@STEP */
        run = rlc_malloc((size_t)(at - spec) + 1);
        if (!run) return RLC_ENOMEM;
        memcpy(run, spec, (size_t)(at - spec));
        run[at - spec] = 0;
        st = atol(at + 1);
    } else if (!(run = run_of(spec, &st))) {
        char *ck = fs_join(spec, "checkpoints");
        int is_run = ck && fs_is_dir(ck);
        free(ck);
        if (!is_run) {
            if (!fs_exists(spec)) return rlc_errc(RLC_EINVAL, "%s: %s does not exist", what, spec);
            return rlc_errc(RLC_EINVAL, "%s: %s is neither a model directory (config.json with a model_type), a run "
                                        "directory (with checkpoints/), nor a checkpoint (RUN@STEP, "
                                        "RUN/checkpoints/latest)",
                            what, spec);
        }
        run = rlc_strdup(spec);
        if (!run) return RLC_ENOMEM;
    }
    int rc;
    if (st >= 0) {
        rc = resolve_step(run, st, dir);
    } else {
        rc = rl_ckpt_latest(run, 1, dir, &st);
        if (rc == 1) rc = rlc_errc(RLC_EINVAL, "%s: %s is a run directory with no complete checkpoint yet", what, run);
        else if (rc == 2) rc = rlc_errc(RLC_EINVAL, "%s: every checkpoint of the run %s is damaged", what, run);
    }
    if (!rc) {
        *step = st;
        LOG_INFO("%s: %s (step %ld of the run %s)", what, *dir, st, run);
    }
    free(run);
    return rc;
}

int rl_keys_resolve_models(const rl_keytab_t *t, void *obj, const char *const *keys, int n) {
    for (int k = 0; k < n; k++) {
        int i = rl_keys_find(t, keys[k]);
        if (i < 0 || t->keys[i].type != RL_CFG_STR) return rlc_errc(RLC_EINVAL, "%s: not a path key", keys[k]);
        char **field = (char **)((char *)obj + t->keys[i].offset);
        if (!*field || !(*field)[0]) continue;
        char *dir = NULL;
        long st;
        int rc = rl_model_resolve(*field, t->keys[i].name, &dir, &st);
        if (rc) return rc;
        free(*field);
        *field = dir;
    }
    return 0;
}
