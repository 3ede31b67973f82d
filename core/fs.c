/* File-system helpers; every write that replaces a user-visible file goes through the
 * atomic writer so a crash never leaves a half-written output. */
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

int fs_read_all(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    if (len) *len = 0;
    if (fs_is_dir(path)) return rlc_errc(RLC_EINVAL, "%s is a directory, not a file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return rlc_err_errno("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rlc_err_errno("cannot seek %s", path);
    }
    long n = ftell(f);
    if (n < 0) {
        fclose(f);
        return rlc_err_errno("cannot size %s", path);
    }
    rewind(f);
    char *b = rlc_malloc((size_t)n + 1);
    if (!b) {
        fclose(f);
        return RLC_ENOMEM;
    }
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return rlc_errc(RLC_EIO, "short read on %s", path);
    }
    fclose(f);
    b[n] = 0;
    *buf = b;
    if (len) *len = (size_t)n;
    return 0;
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_exists_in(const char *dir, const char *name) {
    char *p = fs_join(dir, name);
    int have = p && fs_exists(p);
    free(p);
    return have;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_mkdir_p(const char *path) {
    char *p = rlc_strdup(path);
    if (!p) return RLC_ENOMEM;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == 0) {
            char c = p[i];
            p[i] = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int rc = rlc_err_errno("cannot create directory %s", p);
                free(p);
                return rc;
            }
            p[i] = c;
        }
    }
    free(p);
    if (!fs_is_dir(path)) return rlc_errc(RLC_EIO, "%s exists and is not a directory", path);
    return 0;
}

int fs_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : rlc_err_errno("cannot stat %s", path);
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return rlc_err_errno("cannot open directory %s", path);
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *sub = fs_join(path, e->d_name);
            if (!sub) {
                rc = RLC_ENOMEM;
                break;
            }
            rc = fs_rm_rf(sub);
            free(sub);
        }
        closedir(d);
        if (rc) return rc;
        if (rmdir(path) != 0) return rlc_err_errno("cannot remove %s", path);
        return 0;
    }
    if (unlink(path) != 0) return rlc_err_errno("cannot remove %s", path);
    return 0;
}

int fs_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return rlc_err_errno("cannot open directory %s", dir);
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : rlc_err_errno("fsync %s", dir);
    close(fd);
    return rc;
}

char *fs_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    int slash = na > 0 && a[na - 1] != '/';
    char *p = rlc_malloc(na + nb + 2);
    if (!p) return NULL;
    memcpy(p, a, na);
    if (slash) p[na++] = '/';
    memcpy(p + na, b, nb + 1);
    return p;
}

char *fs_dirname(const char *path) {
    const char *s = strrchr(path, '/');
    if (!s) return rlc_strdup(".");
    if (s == path) return rlc_strdup("/");
    size_t n = (size_t)(s - path);
    char *p = rlc_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, path, n);
    p[n] = 0;
    return p;
}

int fs_atomic_open(fs_atomic_t *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->path = rlc_strdup(path);
    a->tmp = rlc_malloc(strlen(path) + 32);
    if (!a->path || !a->tmp) {
        free(a->path);
        free(a->tmp);
        return RLC_ENOMEM;
    }
    sprintf(a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        int rc = rlc_err_errno("cannot create %s", a->tmp);
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return rc;
    }
    return 0;
}

int fs_atomic_write(fs_atomic_t *a, const void *data, size_t n) {
    if (a->failed) return RLC_EIO;
    if (n && fwrite(data, 1, n, a->f) != n) {
        a->failed = 1;
        return rlc_err_errno("write to %s failed", a->tmp);
    }
    return 0;
}

void fs_atomic_abort(fs_atomic_t *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

int fs_atomic_commit(fs_atomic_t *a) {
    int rc = 0;
    if (a->failed) rc = RLC_EIO;
    if (!rc && fflush(a->f) != 0) rc = rlc_err_errno("write to %s failed", a->tmp);
    if (!rc && fsync(fileno(a->f)) != 0) rc = rlc_err_errno("fsync %s failed", a->tmp);
    if (fclose(a->f) != 0 && !rc) rc = rlc_err_errno("close %s failed", a->tmp);
    a->f = NULL;
    if (!rc && rename(a->tmp, a->path) != 0) rc = rlc_err_errno("cannot rename %s to %s", a->tmp, a->path);
    if (rc) {
        fs_atomic_abort(a);
        return rc;
    }
    char *dir = fs_dirname(a->path);
    if (dir) {
        rc = fs_fsync_dir(dir);
        free(dir);
    }
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t n) {
    fs_atomic_t a;
    int rc = fs_atomic_open(&a, path);
    if (rc) return rc;
    if ((rc = fs_atomic_write(&a, data, n))) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a);
}

int fs_copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb");
    if (!in) return rlc_err_errno("cannot open %s", src);
    fs_atomic_t a;
    int rc = fs_atomic_open(&a, dst);
    if (rc) {
        fclose(in);
        return rc;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if ((rc = fs_atomic_write(&a, buf, n))) break;
    if (!rc && ferror(in)) rc = rlc_err_errno("read %s failed", src);
    fclose(in);
    if (rc) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a);
}
