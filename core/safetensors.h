/* safetensors: a validating mmap reader (single file, or a sharded checkpoint through
 * model.safetensors.index.json) and an atomic writer. Every offset, size and dtype in a
 * header is checked before any tensor is touched, so a corrupt file gives an error, not
 * a crash. Owns: the mappings of the files it opened. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum {
    RLC_DT_F32 = 0,
    RLC_DT_F16,
    RLC_DT_BF16,
    RLC_DT_F64,
    RLC_DT_I64,
    RLC_DT_I32,
    RLC_DT_I16,
    RLC_DT_I8,
    RLC_DT_U8,
    RLC_DT_BOOL,
    RLC_DT_F8_E4M3, /* float8_e4m3fn: FP8 checkpoints' weights (model/fp8.c scales them) */
    RLC_DT_F8_E5M2,
    RLC_DT_F8_E8M0, /* float8_e8m0fnu: a power of two, MX-style block scales */
    RLC_DT_COUNT
} rlc_dtype_t;

#define RLC_ST_MAXDIM 8

const char *rlc_dtype_name(rlc_dtype_t dt); /* "F32", "BF16", ... */
size_t rlc_dtype_size(rlc_dtype_t dt);
/* Returns -1 if the name is unknown. */
int rlc_dtype_parse(const char *name);

typedef struct {
    char *name;
    rlc_dtype_t dtype;
    int ndim;
    int64_t shape[RLC_ST_MAXDIM];
    size_t numel, nbytes;
    const void *data; /* inside the mapping; may be unaligned */
    int file;         /* index of the shard */
} rlc_st_tensor_t;

typedef struct {
    int nfiles;
    struct {
        void *map;
        size_t size;
        char *path;
    } *files;
    int n;
    rlc_st_tensor_t *t; /* sorted by name */
    cJSON *metadata;    /* "__metadata__" of the first shard, or NULL */
} rlc_st_t;

/* `path`: a .safetensors file, a model.safetensors.index.json, or a directory holding
 * either (the index wins when both exist). */
int rlc_st_open(rlc_st_t *st, const char *path);
void rlc_st_close(rlc_st_t *st);
const rlc_st_tensor_t *rlc_st_find(const rlc_st_t *st, const char *name);
/* Rename every tensor whose name starts with `from` to `to` + the rest (a checkpoint whose
 * tensors sit under a wrapper's prefix); the number renamed, or an error when two names then
 * coincide. */
int rlc_st_rename_prefix(rlc_st_t *st, const char *from, const char *to, const char *what);
/* Replace tensor `name` (2-D or more: its last dim the columns, the others flattened into rows)
 * by nparts 2-D views of consecutive rows, part k named names[k] with rows[k] rows (their sum:
 * all the rows), then sort: a stacked tensor (transformers 5's fused experts) read as its parts. */
int rlc_st_unstack(rlc_st_t *st, const char *name, int nparts, char *const *names, const int64_t *rows,
                   const char *what);
/* Sort t by name; a name given twice is an error naming it (what: the file). */
int rlc_st_sort_unique(rlc_st_tensor_t *t, int n, const char *what);
/* Convert a floating tensor (F32/F16/BF16/F64, the FP8 kinds unscaled) to fp32; `dst` holds
 * t->numel floats. */
int rlc_st_to_f32(const rlc_st_tensor_t *t, float *dst);
/* Parse and validate one safetensors image held in memory (used by the reader and the
 * fuzz target). On success fills tensors (data pointers into buf) and metadata. */
int rlc_st_parse(const void *buf, size_t size, const char *what, rlc_st_tensor_t **out, int *n_out,
                 cJSON **metadata);

/* Writer. A tensor is given as fp32 (`f32`, converted to `dtype`), as raw bytes already in
 * `dtype` (`raw`), or by a `fill` callback that writes its fp32 values into a buffer of
 * numel floats when the writer reaches it (so a model on a GPU is saved one tensor at a
 * time, never whole on the host). Tensors are written sorted by name, so writing the same
 * set twice gives identical bytes. */
typedef struct {
    const char *name;
    rlc_dtype_t dtype;
    int ndim;
    int64_t shape[RLC_ST_MAXDIM];
    const float *f32;
    const void *raw;
    int (*fill)(void *user, float *dst); /* returns 0 or a negative error (aborts the write) */
    void *user;
} rlc_st_wtensor_t;

/* meta: NULL or a NULL-terminated list of key, value strings for "__metadata__". */
int rlc_st_write(const char *path, const rlc_st_wtensor_t *t, int n, const char *const *meta);
