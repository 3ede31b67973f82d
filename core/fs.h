/* File-system helpers: whole-file reads, atomic writes (temp file, fsync, rename, fsync of
 * the directory), mkdir -p, recursive removal, path joins. */
#pragma once
#include <stddef.h>
#include <stdio.h>

/* Read a whole file; *buf is NUL-terminated (not counted in *len). Caller frees. */
int fs_read_all(const char *path, char **buf, size_t *len);
int fs_exists(const char *path);
/* Whether dir/name exists (0 also when the path cannot be built). */
int fs_exists_in(const char *dir, const char *name);
int fs_is_dir(const char *path);
int fs_mkdir_p(const char *path);
int fs_rm_rf(const char *path);
int fs_fsync_dir(const char *dir);
/* malloc'd "a/b" (no doubled slash). Returns NULL on allocation failure. */
char *fs_join(const char *a, const char *b);
/* malloc'd directory part of a path ("." when none). */
char *fs_dirname(const char *path);
/* Byte-exact copy, atomic at the destination. */
int fs_copy_file(const char *src, const char *dst);

/* Atomic writer: data goes to "<path>.tmp.<pid>"; commit fsyncs and renames over path;
 * abort (or a crash) leaves the previous file untouched. */
typedef struct fs_atomic_s {
    FILE *f;
    char *path, *tmp;
    int failed;
} fs_atomic_t;

int fs_atomic_open(fs_atomic_t *a, const char *path);
int fs_atomic_write(fs_atomic_t *a, const void *data, size_t n);
int fs_atomic_commit(fs_atomic_t *a);
void fs_atomic_abort(fs_atomic_t *a);
/* One-shot convenience. */
int fs_write_atomic(const char *path, const void *data, size_t n);
