/* safetensors reader (mmap, validated) and atomic writer. */
#include "core/safetensors.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/json.h"
#include "core/str.h"
#include "core/torch_bin.h"

#define MAX_HEADER (100u << 20)

static const char *DT_NAMES[RLC_DT_COUNT] = {"F32", "F16", "BF16", "F64",     "I64",     "I32",    "I16",
                                             "I8",  "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0"};
static const size_t DT_SIZES[RLC_DT_COUNT] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1, 1, 1, 1};

const char *rlc_dtype_name(rlc_dtype_t dt) { return (unsigned)dt < RLC_DT_COUNT ? DT_NAMES[dt] : "?"; }
size_t rlc_dtype_size(rlc_dtype_t dt) { return (unsigned)dt < RLC_DT_COUNT ? DT_SIZES[dt] : 0; }
int rlc_dtype_parse(const char *name) {
    for (int i = 0; i < RLC_DT_COUNT; i++)
        if (!strcmp(name, DT_NAMES[i])) return i;
    return -1;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const rlc_st_tensor_t *)a)->name, ((const rlc_st_tensor_t *)b)->name);
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} span_t;

static int cmp_span(const void *a, const void *b) {
    const span_t *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static void free_tensors(rlc_st_tensor_t *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].name);
    free(t);
}

/* A JSON number that is a non-negative integer representable exactly. */
static int get_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* One header entry (not __metadata__) into *x and its byte span *sp: 0 or an error. */
static int parse_entry(const cJSON *e, const char *what, const unsigned char *data, size_t data_size,
                       rlc_st_tensor_t *x, span_t *sp) {
    const char *name = e->string ? e->string : "";
    if (!cJSON_IsObject(e)) return rlc_errc(RLC_EFMT, "%s: entry '%s' is not an object", what, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' lacks dtype, shape or data_offsets", what, name);
    int dt = rlc_dtype_parse(jd->valuestring);
    if (dt < 0)
        return rlc_errc(RLC_EUNSUP,
                        "%s: tensor '%s' has dtype '%s', which rlc does not read (weights are F32, BF16, F16, F64 "
                        "or FP8: dequantize an integer or FP4 checkpoint first)",
                        what, name, jd->valuestring);
    x->dtype = (rlc_dtype_t)dt;
    x->ndim = cJSON_GetArraySize(js);
    if (x->ndim > RLC_ST_MAXDIM)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' has %d dimensions (max %d)", what, name, x->ndim, RLC_ST_MAXDIM);
    uint64_t numel = 1;
    int d = 0;
    for (const cJSON *s = js->child; s; s = s->next, d++) {
        uint64_t v;
        if (get_u64(s, &v) || v > (1ull << 40))
            return rlc_errc(RLC_EFMT, "%s: tensor '%s' has an invalid shape", what, name);
        x->shape[d] = (int64_t)v;
        if (v && numel > (UINT64_MAX / 16) / v)
            return rlc_errc(RLC_EFMT, "%s: tensor '%s' shape overflows", what, name);
        numel *= v;
    }
    uint64_t ob, oe;
    if (get_u64(jo->child, &ob) || get_u64(jo->child->next, &oe) || ob > oe)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' has invalid data_offsets", what, name);
    if (oe > data_size)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' offset %llu beyond file end (data is %zu bytes)", what, name,
                        (unsigned long long)oe, data_size);
    uint64_t nbytes = numel * DT_SIZES[dt];
    if (oe - ob != nbytes)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' occupies %llu bytes but its shape and dtype need %llu", what,
                        name, (unsigned long long)(oe - ob), (unsigned long long)nbytes);
    x->numel = (size_t)numel;
    x->nbytes = (size_t)nbytes;
    x->data = data + ob;
    x->name = rlc_strdup(name);
    if (!x->name) return RLC_ENOMEM;
    *sp = (span_t){.begin = ob, .end = oe, .name = x->name};
    return 0;
}

int rlc_st_sort_unique(rlc_st_tensor_t *t, int n, const char *what) {
    qsort(t, (size_t)n, sizeof *t, cmp_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(t[i].name, t[i - 1].name)) return rlc_errc(RLC_EFMT, "%s: duplicate tensor '%s'", what, t[i].name);
    return 0;
}

/* No two tensors share bytes or a name (sorts sp by offset and t by name). */
static int check_disjoint(rlc_st_tensor_t *t, span_t *sp, int n, const char *what) {
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    for (int i = 1; i < n; i++)
        if (sp[i].begin < sp[i - 1].end)
            return rlc_errc(RLC_EFMT, "%s: tensors '%s' and '%s' overlap", what, sp[i - 1].name, sp[i].name);
    return rlc_st_sort_unique(t, n, what);
}

int rlc_st_parse(const void *buf, size_t size, const char *what, rlc_st_tensor_t **out, int *n_out,
                 cJSON **metadata) {
    *out = NULL;
    *n_out = 0;
    if (metadata) *metadata = NULL;
    const unsigned char *b = buf;
    if (size < 8) return rlc_errc(RLC_EFMT, "%s: truncated safetensors file (%zu bytes)", what, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    if (hlen > size - 8)
        return rlc_errc(RLC_EFMT, "%s: header length %llu beyond file end (%zu bytes)", what,
                        (unsigned long long)hlen, size);
    if (hlen > MAX_HEADER || hlen < 2)
        return rlc_errc(RLC_EFMT, "%s: implausible header length %llu", what, (unsigned long long)hlen);
    const char *htext = (const char *)b + 8;
    if (htext[0] != '{') return rlc_errc(RLC_EFMT, "%s: header does not start with '{'", what);
    /* The header may be padded with spaces; cJSON needs the exact text. */
    cJSON *h = rlc_json_parse(htext, (size_t)hlen, what);
    if (!h) return RLC_EFMT;
    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return rlc_errc(RLC_EFMT, "%s: header is not a JSON object", what);
    }
    size_t data_size = size - 8 - (size_t)hlen;
    const unsigned char *data = b + 8 + hlen;
    int cap = cJSON_GetArraySize(h);
    rlc_st_tensor_t *t = rlc_calloc((size_t)cap + 1, sizeof *t);
    span_t *sp = rlc_calloc((size_t)cap + 1, sizeof *sp);
    int n = 0, rc = (t && sp) ? 0 : RLC_ENOMEM;
    for (cJSON *e = h->child; e && !rc; e = e->next) {
        if (e->string && !strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) rc = rlc_errc(RLC_EFMT, "%s: __metadata__ is not an object", what);
            else if (metadata && !*metadata) *metadata = cJSON_Duplicate(e, 1);
            continue;
        }
        rc = parse_entry(e, what, data, data_size, &t[n], &sp[n]);
        if (!rc) n++;
    }
    if (!rc) rc = check_disjoint(t, sp, n, what);
    free(sp);
    cJSON_Delete(h);
    if (rc) {
        free_tensors(t, n);
        if (metadata && *metadata) {
            cJSON_Delete(*metadata);
            *metadata = NULL;
        }
        return rc;
    }
    *out = t;
    *n_out = n;
    return 0;
}

static int map_file(const char *path, void **map, size_t *size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rlc_err_errno("cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return rlc_err_errno("cannot stat %s", path);
    }
    *size = (size_t)st.st_size;
    *map = NULL;
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return rlc_err_errno("cannot map %s", path);
        }
        *map = m;
    }
    close(fd);
    return 0;
}

static int add_file(rlc_st_t *st, const char *path) {
    void *m = NULL;
    size_t size = 0;
    int rc = map_file(path, &m, &size);
    if (rc) return rc;
    void *nf = rlc_realloc(st->files, (size_t)(st->nfiles + 1) * sizeof *st->files);
    if (!nf) {
        if (m) munmap(m, size);
        return RLC_ENOMEM;
    }
    st->files = nf;
    int fi = st->nfiles++;
    st->files[fi].map = m;
    st->files[fi].size = size;
    st->files[fi].path = rlc_strdup(path);
    rlc_st_tensor_t *t;
    int n;
    cJSON *meta = NULL;
    if (rlc_ends_with(path, ".bin") || rlc_ends_with(path, ".pt") || rlc_ends_with(path, ".pth"))
        rc = rlc_torch_parse(m, size, path, &t, &n); /* PyTorch's torch.save zip */
    else
        rc = rlc_st_parse(m, size, path, &t, &n, st->metadata ? NULL : &meta);
    if (rc) return rc;
    if (meta) st->metadata = meta;
    rlc_st_tensor_t *all = rlc_realloc(st->t, (size_t)(st->n + n + 1) * sizeof *all);
    if (!all) {
        free_tensors(t, n);
        return RLC_ENOMEM;
    }
    st->t = all;
    for (int i = 0; i < n; i++) {
        t[i].file = fi;
        st->t[st->n + i] = t[i];
    }
    st->n += n;
    free(t);
    return 0;
}

static int open_index(rlc_st_t *st, const char *index_path) {
    cJSON *j = rlc_json_load_file(index_path);
    if (!j) return RLC_EFMT;
    int rc = 0;
    char *dir = fs_dirname(index_path);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    if (!cJSON_IsObject(wm)) {
        rc = rlc_errc(RLC_EFMT, "%s: missing 'weight_map' object", index_path);
        goto out;
    }
    /* Open each distinct shard once, in order of first appearance. */
    for (const cJSON *e = wm->child; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..")) {
            rc = rlc_errc(RLC_EFMT, "%s: bad shard name for '%s'", index_path, e->string);
            break;
        }
        char *p = fs_join(dir, e->valuestring);
        if (!p) {
            rc = RLC_ENOMEM;
            break;
        }
        int seen = 0;
        for (int i = 0; i < st->nfiles; i++)
            if (!strcmp(st->files[i].path, p)) seen = 1;
        if (!seen) rc = add_file(st, p);
        free(p);
    }
    if (rc) goto out;
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
    for (int i = 1; i < st->n; i++)
        if (!strcmp(st->t[i].name, st->t[i - 1].name)) {
            rc = rlc_errc(RLC_EFMT, "%s: tensor '%s' appears in two shards", index_path, st->t[i].name);
            goto out;
        }
    /* Every weight_map entry must exist in the shard it names. */
    for (const cJSON *e = wm->child; e; e = e->next) {
        const rlc_st_tensor_t *x = rlc_st_find(st, e->string);
        if (!x) {
            rc = rlc_errc(RLC_EFMT, "%s: tensor '%s' listed in weight_map is missing from %s", index_path, e->string,
                          e->valuestring);
            goto out;
        }
        const char *fp = st->files[x->file].path;
        size_t lf = strlen(fp), ln = strlen(e->valuestring);
        if (lf < ln || strcmp(fp + lf - ln, e->valuestring)) {
            rc = rlc_errc(RLC_EFMT, "%s: tensor '%s' is not in the shard %s", index_path, e->string, e->valuestring);
            goto out;
        }
    }
out:
    free(dir);
    cJSON_Delete(j);
    return rc;
}

int rlc_st_open(rlc_st_t *st, const char *path) {
    memset(st, 0, sizeof *st);
    int rc;
    if (fs_is_dir(path)) {
        /* as transformers picks: safetensors first, then PyTorch's pickled weights */
        static const char *const names[] = {"model.safetensors.index.json", "model.safetensors",
                                            "pytorch_model.bin.index.json", "pytorch_model.bin"};
        rc = 1;
        for (int i = 0; i < 4 && rc == 1; i++) {
            char *p = fs_join(path, names[i]);
            if (!p) rc = RLC_ENOMEM;
            else if (fs_exists(p)) rc = i % 2 ? add_file(st, p) : open_index(st, p);
            free(p);
        }
        if (rc == 1)
            rc = rlc_errc(RLC_EIO, "%s: no model weights (model.safetensors, pytorch_model.bin, or their "
                                   ".index.json)", path);
    } else {
        size_t n = strlen(path);
        if (n > 5 && !strcmp(path + n - 5, ".json"))
            rc = open_index(st, path);
        else
            rc = add_file(st, path);
        if (!rc) qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
    }
    if (rc) rlc_st_close(st);
    return rc;
}

void rlc_st_close(rlc_st_t *st) {
    for (int i = 0; i < st->nfiles; i++) {
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    free(st->files);
    free_tensors(st->t, st->n);
    cJSON_Delete(st->metadata);
    memset(st, 0, sizeof *st);
}

int rlc_st_rename_prefix(rlc_st_t *st, const char *from, const char *to, const char *what) {
    size_t nf = strlen(from), nt = strlen(to);
    int renamed = 0;
    for (int i = 0; i < st->n; i++) {
        const char *nm = st->t[i].name;
        if (strncmp(nm, from, nf)) continue;
        char *r = malloc(nt + strlen(nm + nf) + 1);
        if (!r) return rlc_errc(RLC_ENOMEM, "%s: out of memory renaming tensors", what);
        memcpy(r, to, nt);
        strcpy(r + nt, nm + nf);
        free(st->t[i].name);
        st->t[i].name = r;
        renamed++;
    }
    int rc = renamed ? rlc_st_sort_unique(st->t, st->n, what) : 0;
    return rc ? rc : renamed;
}

int rlc_st_unstack(rlc_st_t *st, const char *name, int nparts, char *const *names, const int64_t *rows,
                   const char *what) {
    const rlc_st_tensor_t *f = rlc_st_find(st, name);
    if (!f) return rlc_errc(RLC_EFMT, "%s: no tensor '%s'", what, name);
    int64_t cols = f->ndim >= 2 ? f->shape[f->ndim - 1] : 0, total = 0;
    if (cols <= 0 || nparts < 1) return rlc_errc(RLC_EFMT, "%s: tensor '%s' cannot be split into rows", what, name);
    for (int k = 0; k < nparts; k++) {
        if (rows[k] <= 0 || rows[k] > (int64_t)(f->numel / (size_t)cols)) total = -1;
        if (total >= 0) total += rows[k];
    }
    if (total < 0 || (size_t)total * (size_t)cols != f->numel)
        return rlc_errc(RLC_EFMT, "%s: tensor '%s' has %zu values, not the %d parts' rows of %lld", what, name,
                        f->numel, nparts, (long long)cols);
    size_t idx = (size_t)(f - st->t), esz = rlc_dtype_size(f->dtype), off = 0;
    rlc_st_tensor_t *t = realloc(st->t, ((size_t)st->n + (size_t)nparts - 1) * sizeof *t);
    if (!t) return rlc_errc(RLC_ENOMEM, "%s: out of memory splitting '%s'", what, name);
    st->t = t;
    rlc_st_tensor_t src = t[idx];
    for (int k = 0; k < nparts; k++) {
        rlc_st_tensor_t *d = k ? &t[st->n + k - 1] : &t[idx];
        *d = src;
        d->name = NULL;
        d->ndim = 2;
        d->shape[0] = rows[k];
        d->shape[1] = cols;
        d->numel = (size_t)rows[k] * (size_t)cols;
        d->nbytes = d->numel * esz;
        d->data = (const char *)src.data + off;
        off += d->nbytes;
    }
    st->n += nparts - 1; /* every slot now holds a tensor (names NULL until set: freeing them is safe) */
    free(src.name);
    for (int k = 0; k < nparts; k++) {
        char *nm = strdup(names[k]);
        if (!nm) return rlc_errc(RLC_ENOMEM, "%s: out of memory splitting '%s'", what, name);
        (k ? &t[st->n - nparts + k] : &t[idx])->name = nm;
    }
    return rlc_st_sort_unique(st->t, st->n, what);
}

const rlc_st_tensor_t *rlc_st_find(const rlc_st_t *st, const char *name) {
    size_t lo = 0, hi = (size_t)st->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return &st->t[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* float8_e4m3fn: bias 7, no infinities, S.1111.111 NaN; float8_e5m2: an fp16's top byte;
 * float8_e8m0fnu: 2^(b - 127), 0xFF NaN. */
static float f8_e4m3(unsigned char b) {
    int e = (b >> 3) & 15, m = b & 7;
    if (e == 15 && m == 7) return NAN;
    float v = e ? ldexpf(1.0f + (float)m / 8.0f, e - 7) : ldexpf((float)m / 8.0f, -6);
    return b & 0x80 ? -v : v;
}
static float f8_value(rlc_dtype_t dt, unsigned char b) {
    return dt == RLC_DT_F8_E4M3   ? f8_e4m3(b)
           : dt == RLC_DT_F8_E5M2 ? rlc_f16_to_f32((uint16_t)(b << 8))
           : b == 255             ? NAN
                                  : ldexpf(1.0f, (int)b - 127);
}

int rlc_st_to_f32(const rlc_st_tensor_t *t, float *dst) {
    const unsigned char *s = t->data;
    switch (t->dtype) {
    case RLC_DT_F8_E4M3:
    case RLC_DT_F8_E5M2:
    case RLC_DT_F8_E8M0:
        for (size_t i = 0; i < t->numel; i++) dst[i] = f8_value(t->dtype, s[i]);
        return 0;
    case RLC_DT_F32:
        memcpy(dst, s, t->numel * 4);
        return 0;
    case RLC_DT_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = rlc_bf16_to_f32(h);
        }
        return 0;
    case RLC_DT_F16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = rlc_f16_to_f32(h);
        }
        return 0;
    case RLC_DT_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return rlc_errc(RLC_EUNSUP, "tensor '%s': dtype %s is not a floating type", t->name,
                        rlc_dtype_name(t->dtype));
    }
}

/* ---- writer ---- */

static int cmp_wt(const void *a, const void *b) {
    return strcmp((*(const rlc_st_wtensor_t *const *)a)->name, (*(const rlc_st_wtensor_t *const *)b)->name);
}

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *fmt, ...) RLC_PRINTF(2, 3);
static void sb_put(sbuf_t *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
}

/* JSON string escaping for tensor names and metadata. */
static void sb_str(sbuf_t *b, const char *s) {
    sb_put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_put(b, "\\%c", c);
        else if (c < 0x20)
            sb_put(b, "\\u%04x", c);
        else
            sb_put(b, "%c", c);
    }
    sb_put(b, "\"");
}

int rlc_st_write(const char *path, const rlc_st_wtensor_t *t, int n, const char *const *meta) {
    const rlc_st_wtensor_t **order = rlc_malloc((size_t)(n + 1) * sizeof *order);
    if (!order) return RLC_ENOMEM;
    for (int i = 0; i < n; i++) order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, cmp_wt);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if ((unsigned)order[i]->dtype >= RLC_DT_COUNT || (!order[i]->f32 && !order[i]->raw && !order[i]->fill))
            rc = rlc_errc(RLC_EINVAL, "%s: tensor '%s' has no data or a bad dtype", path, order[i]->name);
        else if (!order[i]->raw && order[i]->dtype != RLC_DT_F32 && order[i]->dtype != RLC_DT_BF16 &&
                 order[i]->dtype != RLC_DT_F16)
            rc = rlc_errc(RLC_EINVAL, "%s: cannot convert fp32 to %s", path, rlc_dtype_name(order[i]->dtype));
        else if (i && !strcmp(order[i]->name, order[i - 1]->name))
            rc = rlc_errc(RLC_EINVAL, "%s: duplicate tensor '%s'", path, order[i]->name);
        if (rc) {
            free(order);
            return rc;
        }
    }
    sbuf_t h = {0};
    sb_put(&h, "{");
    if (meta && meta[0]) {
        sb_put(&h, "\"__metadata__\":{");
        for (int i = 0; meta[i] && meta[i + 1]; i += 2) {
            if (i) sb_put(&h, ",");
            sb_str(&h, meta[i]);
            sb_put(&h, ":");
            sb_str(&h, meta[i + 1]);
        }
        sb_put(&h, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const rlc_st_wtensor_t *x = order[i];
        uint64_t numel = 1;
        for (int d = 0; d < x->ndim; d++) numel *= (uint64_t)x->shape[d];
        uint64_t nb = numel * rlc_dtype_size(x->dtype);
        if (i || (meta && meta[0])) sb_put(&h, ",");
        sb_str(&h, x->name);
        sb_put(&h, ":{\"dtype\":\"%s\",\"shape\":[", rlc_dtype_name(x->dtype));
        for (int d = 0; d < x->ndim; d++) sb_put(&h, "%s%lld", d ? "," : "", (long long)x->shape[d]);
        sb_put(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    sb_put(&h, "}");
    while (!h.oom && h.n % 8) sb_put(&h, " ");
    if (h.oom) {
        free(h.s);
        free(order);
        return rlc_errc(RLC_ENOMEM, "out of memory writing %s", path);
    }
    fs_atomic_t a;
    rc = fs_atomic_open(&a, path);
    if (rc) {
        free(h.s);
        free(order);
        return rc;
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    rc = fs_atomic_write(&a, lenb, 8);
    if (!rc) rc = fs_atomic_write(&a, h.s, h.n);
    enum { CH = 16384 };
    uint16_t *cv = NULL;
    float *filled = NULL; /* one tensor at a time for tensors given by a fill callback */
    size_t filled_cap = 0;
    for (int i = 0; i < n && !rc; i++) {
        const rlc_st_wtensor_t *x = order[i];
        size_t numel = 1;
        for (int d = 0; d < x->ndim; d++) numel *= (size_t)x->shape[d];
        const float *src = x->f32;
        if (!x->raw && !src) {
            if (numel > filled_cap) {
                free(filled);
                filled_cap = 0;
                if (!(filled = rlc_malloc((numel ? numel : 1) * sizeof *filled))) {
                    rc = RLC_ENOMEM;
                    break;
                }
                filled_cap = numel;
            }
            if ((rc = x->fill(x->user, filled))) break;
            src = filled;
        }
        if (x->raw || x->dtype == RLC_DT_F32) {
            rc = fs_atomic_write(&a, x->raw ? x->raw : (const void *)src, numel * rlc_dtype_size(x->dtype));
            continue;
        }
        if (!cv && !(cv = rlc_malloc(CH * sizeof *cv))) {
            rc = RLC_ENOMEM;
            break;
        }
        for (size_t s = 0; s < numel && !rc; s += CH) {
            size_t m = numel - s < CH ? numel - s : CH;
            for (size_t k = 0; k < m; k++)
                cv[k] = x->dtype == RLC_DT_BF16 ? rlc_f32_to_bf16(src[s + k]) : rlc_f32_to_f16(src[s + k]);
            rc = fs_atomic_write(&a, cv, m * 2);
        }
    }
    free(filled);
    free(cv);
    free(h.s);
    free(order);
    if (rc) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a);
}
