/* Arrow IPC files (the stream format Hugging Face datasets' save_to_disk and cache write,
 * and the ARROW1 file format) as rows of JSON objects (core/arrow_ipc.h). The flatbuffer
 * metadata is read with bounds on every access; buffers compressed with LZ4 frames or zstd
 * (Feather v2, pandas' to_feather) are inflated per batch; dictionary batches (categorical
 * columns, deltas too) are kept as arrays of values the columns' indices pick from; each row
 * is built by random access into its columns. */
#include <lz4frame.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/half.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/arrow_ipc.h"

#include <zstd.h>

/* ---- flatbuffers: every read bounded by the buffer */

typedef struct {
    const uint8_t *b;
    size_t n;
    int bad;
} fb_t;

static uint64_t rd(fb_t *f, size_t at, int bytes) {
    if (at > f->n || (size_t)bytes > f->n - at) {
        f->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)f->b[at + i] << (8 * i);
    return v;
}

/* The absolute position of field `id` of the table at t, or 0 when absent. */
static size_t fb_field(fb_t *f, size_t t, int id) {
    if (!t) return 0;
    int64_t vt = (int64_t)t - (int32_t)rd(f, t, 4);
    if (vt < 0 || f->bad) return f->bad = 1, 0;
    uint16_t vsize = (uint16_t)rd(f, (size_t)vt, 2);
    if (4 + 2 * (size_t)id + 2 > vsize) return 0;
    uint16_t off = (uint16_t)rd(f, (size_t)vt + 4 + 2 * (size_t)id, 2);
    return off ? t + off : 0;
}

/* Follows the offset at field `id` (a table, vector or string); 0 when absent. */
static size_t fb_ref(fb_t *f, size_t t, int id) {
    size_t p = fb_field(f, t, id);
    if (!p) return 0;
    size_t r = p + (uint32_t)rd(f, p, 4);
    if (r >= f->n) return f->bad = 1, 0;
    return r;
}

static int64_t fb_int(fb_t *f, size_t t, int id, int bytes, int64_t def) {
    size_t p = fb_field(f, t, id);
    if (!p) return def;
    uint64_t v = rd(f, p, bytes);
    if (bytes == 8) return (int64_t)v;
    uint64_t sign = (uint64_t)1 << (8 * bytes - 1);
    return (int64_t)((v ^ sign) - sign);
}

/* A vector at field id: its element count, *at its first element. */
static uint32_t fb_vec(fb_t *f, size_t t, int id, size_t *at) {
    size_t v = fb_ref(f, t, id);
    *at = v + 4;
    uint32_t len = v ? (uint32_t)rd(f, v, 4) : 0;
    if (v && len > f->n) f->bad = 1;
    return f->bad ? 0 : len;
}

/* ---- the schema */

enum { A_NULL = 1, A_INT, A_FLOAT, A_BINARY, A_UTF8, A_BOOL, A_DECIMAL, A_DATE, A_TIME, A_TIMESTAMP, A_INTERVAL,
       A_LIST, A_STRUCT, A_UNION, A_FIXEDBIN, A_FIXEDLIST, A_MAP, A_DURATION, A_LARGEBIN, A_LARGEUTF8, A_LARGELIST };

typedef struct ar_field {
    char *name;
    int type, bits, is_signed, prec, list_size, dict, scale; /* bits: of an integer (a date or time's too) */
    int64_t dict_id;                 /* dict: the dictionary its indices point into */
    int index_bits, index_signed;    /* dict: the indices' integer type */
    int nchild;
    struct ar_field *child;
} ar_field_t;

/* 1 when two of the n fields share a name (each becomes a key of one JSON object), or when
 * out of memory checking. */
static int names_repeat(const ar_field_t *f, int n) {
    if (n < 2) return 0;
    const char **v = malloc(sizeof *v * (size_t)n);
    if (!v) return 1;
    for (int i = 0; i < n; i++) v[i] = f[i].name;
    int rep = rlc_sorted_repeat(v, (size_t)n) != NULL;
    free(v);
    return rep;
}

static void field_free(ar_field_t *a) {
    for (int i = 0; i < a->nchild; i++) field_free(&a->child[i]);
    free(a->child);
    free(a->name);
}

/* Types whose values are little-endian integers of f->bits bits. */
static int is_integral(int t) {
    return t == A_INT || t == A_DATE || t == A_TIME || t == A_TIMESTAMP || t == A_DURATION;
}

static int read_field(fb_t *f, size_t t, ar_field_t *a, int depth) {
    memset(a, 0, sizeof *a);
    if (depth > 32) return -1;
    size_t s = fb_ref(f, t, 0);
    uint32_t ln = s ? (uint32_t)rd(f, s, 4) : 0;
    if (f->bad || (s && ln > f->n - s - 4)) return -1;
    if (!(a->name = malloc(ln + 1))) return -1;
    if (ln) memcpy(a->name, f->b + s + 4, ln);
    a->name[ln] = 0;
    a->type = (int)fb_int(f, t, 2, 1, 0);
    size_t ty = fb_ref(f, t, 3);
    if (a->type == A_INT) a->bits = (int)fb_int(f, ty, 0, 4, 0), a->is_signed = (int)fb_int(f, ty, 1, 1, 0);
    if (a->type == A_FLOAT) a->prec = (int)fb_int(f, ty, 0, 2, 0);
    if (a->type == A_FIXEDLIST) a->list_size = (int)fb_int(f, ty, 0, 4, 0);
    if (a->type == A_FIXEDBIN) a->list_size = (int)fb_int(f, ty, 0, 4, 0);
    if (a->type == A_DECIMAL) a->bits = (int)fb_int(f, ty, 2, 4, 128), a->scale = (int)fb_int(f, ty, 1, 4, 0);
    /* dates, times, timestamps and durations read as the integers they hold, as from parquet */
    if (a->type == A_DATE) a->bits = fb_int(f, ty, 0, 2, 1) ? 64 : 32, a->is_signed = 1; /* unit: DAY or MILLI */
    if (a->type == A_TIME) a->bits = (int)fb_int(f, ty, 1, 4, 32), a->is_signed = 1;
    if (a->type == A_TIMESTAMP || a->type == A_DURATION) a->bits = 64, a->is_signed = 1;
    size_t de = fb_ref(f, t, 4); /* DictionaryEncoding {id, indexType, ...} */
    a->dict = de != 0;
    if (de) {
        size_t it = fb_ref(f, de, 1);
        a->dict_id = fb_int(f, de, 0, 8, 0);
        a->index_bits = it ? (int)fb_int(f, it, 0, 4, 0) : 32, a->index_signed = it ? (int)fb_int(f, it, 1, 1, 0) : 1;
        if (a->index_bits != 8 && a->index_bits != 16 && a->index_bits != 32 && a->index_bits != 64) return -1;
    }
    size_t at;
    uint32_t nc = fb_vec(f, t, 5, &at);
    if (f->bad || nc > 4096) return -1;
    if (nc && !(a->child = calloc(nc, sizeof *a->child))) return -1;
    for (uint32_t i = 0; i < nc; i++) {
        size_t c = at + 4 * i;
        a->nchild++;
        if (read_field(f, c + (uint32_t)rd(f, c, 4), &a->child[i], depth + 1)) return -1;
    }
    if ((is_integral(a->type) && a->bits != 8 && a->bits != 16 && a->bits != 32 && a->bits != 64) || a->list_size < 0 ||
        (a->type == A_DECIMAL && (a->bits < 32 || a->bits > 256 || a->bits % 32)) ||
        ((a->type == A_LIST || a->type == A_LARGELIST || a->type == A_FIXEDLIST || a->type == A_MAP) && nc != 1) ||
        (a->type == A_STRUCT && names_repeat(a->child, a->nchild)))
        return -1;
    return f->bad ? -1 : 0;
}

/* ---- a record batch's columns */

enum { AR_MAX_BATCH_ROWS = 1 << 24 };

typedef struct ar_col {
    const ar_field_t *f;
    int64_t len;
    const uint8_t *valid;    /* NULL: no nulls */
    const uint8_t *b1, *b2;  /* values or offsets; the bytes of binary values */
    size_t n1, n2;
    struct ar_col *child;
    int skip;                /* a type not read: the field is left out */
} ar_col_t;

/* A dictionary's values (dictionary batches, deltas appended), by id. */
typedef struct {
    int64_t id;
    cJSON **v;
    int64_t n, cap;
} ar_dict_t;

/* The most one compressed buffer, and all of a batch's, may inflate to: a bound on memory
 * whatever a file claims (a batch of pandas' to_feather holds 64Ki rows). */
enum { AR_MAX_BUFFER = 1 << 30 };
#define AR_MAX_INFLATED ((size_t)2 << 30)

typedef struct {
    fb_t *f;
    size_t nodes, bufs; /* positions of the FieldNode and Buffer vectors */
    uint32_t nnodes, nbufs, ni, bi;
    const uint8_t *body;
    size_t body_n;
    long nontext;
    int codec;           /* -1: buffers as they are; 0: LZ4 frames; 1: zstd */
    uint8_t **own;       /* inflated buffers, freed with the batch */
    int nown;
    size_t inflated;     /* their bytes */
    const ar_dict_t *dicts;
    int ndicts;
} ar_batch_t;

/* One LZ4 frame at s[0..n) to exactly dn bytes. */
static int unlz4_frame(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    LZ4F_dctx *ctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) return -1;
    size_t i = 0, o = 0, r = 1;
    while (r && i < n) {
        size_t sn = n - i, dl = dn - o;
        r = LZ4F_decompress(ctx, d + o, &dl, s + i, &sn, NULL);
        if (LZ4F_isError(r) || (!sn && !dl)) break;
        i += sn, o += dl;
    }
    LZ4F_freeDecompressionContext(ctx);
    return r == 0 && o == dn ? 0 : -1;
}

/* A compressed batch's buffer: its uncompressed length (-1: stored as it is), then the
 * compressed bytes; *p and *n become the inflated bytes, which the batch keeps. */
static int inflate_buf(ar_batch_t *b, const uint8_t **p, size_t *n) {
    if (*n < 8) return -1;
    fb_t h = {*p, 8, 0};
    int64_t ul = (int64_t)rd(&h, 0, 8);
    if (ul == -1) {
        *p += 8, *n -= 8;
        return 0;
    }
    if (ul < 0 || ul > AR_MAX_BUFFER || (size_t)ul > AR_MAX_INFLATED - b->inflated) return -1;
    b->inflated += (size_t)ul;
    uint8_t *d = malloc(ul ? (size_t)ul : 1), **no = d ? realloc(b->own, sizeof *no * (size_t)(b->nown + 1)) : NULL;
    if (!no) {
        free(d);
        return -1;
    }
    b->own = no, b->own[b->nown++] = d;
    int bad = b->codec ? ZSTD_decompress(d, (size_t)ul, *p + 8, *n - 8) != (size_t)ul
                       : unlz4_frame(*p + 8, *n - 8, d, (size_t)ul);
    *p = d, *n = (size_t)ul;
    return bad ? -1 : 0;
}

static void col_free(ar_col_t *c) {
    if (!c->child) return;
    for (int i = 0; i < c->f->nchild; i++) col_free(&c->child[i]);
    free(c->child);
}

/* The next buffer of the batch: its bytes within the body. */
static int next_buf(ar_batch_t *b, const uint8_t **p, size_t *n) {
    if (b->bi >= b->nbufs) return -1;
    size_t at = b->bufs + 16 * (size_t)b->bi;
    int64_t off = (int64_t)rd(b->f, at, 8), len = (int64_t)rd(b->f, at + 8, 8);
    b->bi++;
    if (b->f->bad || off < 0 || len < 0 || (uint64_t)off > b->body_n || (uint64_t)len > b->body_n - (uint64_t)off)
        return -1;
    *p = len ? b->body + off : NULL, *n = (size_t)len;
    return len && b->codec >= 0 ? inflate_buf(b, p, n) : 0;
}

/* 0 when c's buffers (and children) hold its claimed length: a batch's size is then backed
 * by its bytes, whatever its header says (only null-typed columns need none). */
static int backed(const ar_col_t *c) {
    const ar_field_t *f = c->f;
    uint64_t len = (uint64_t)c->len, w = 0;
    if (c->skip || !len || f->type == A_NULL) return 0;
    if (is_integral(f->type) || f->type == A_DECIMAL) w = (uint64_t)f->bits / 8;
    if (f->type == A_FIXEDBIN) w = (uint64_t)f->list_size;
    if (f->type == A_FLOAT) w = f->prec == 0 ? 2 : f->prec == 1 ? 4 : 8;
    if (w) return c->n1 / w >= len ? 0 : -1;
    if (f->type == A_BOOL) return c->n1 >= (len + 7) / 8 ? 0 : -1;
    if (f->type == A_BINARY || f->type == A_UTF8 || f->type == A_LIST || f->type == A_MAP)
        return c->n1 / 4 >= len + 1 ? 0 : -1;
    if (f->type == A_LARGEBIN || f->type == A_LARGEUTF8 || f->type == A_LARGELIST)
        return c->n1 / 8 >= len + 1 ? 0 : -1;
    if (f->type == A_FIXEDLIST)
        return f->list_size && (uint64_t)c->child[0].len / (uint64_t)f->list_size < len ? -1 : 0;
    for (int i = 0; i < f->nchild; i++) /* a struct */
        if ((uint64_t)c->child[i].len < len) return -1;
    return 0;
}

/* Binds field f to its node and buffers (depth first, as the batch lists them). */
static int bind_col(ar_batch_t *b, const ar_field_t *f, ar_col_t *c) {
    memset(c, 0, sizeof *c);
    c->f = f;
    if (b->ni >= b->nnodes || f->type == A_UNION) return -1;
    c->len = (int64_t)rd(b->f, b->nodes + 16 * (size_t)b->ni, 8);
    b->ni++;
    if (c->len < 0 || c->len > ((int64_t)1 << 40)) return -1;
    int nb = f->type == A_NULL ? 0 : 1, rc = 0;
    const uint8_t *vp = NULL;
    size_t vn = 0;
    if (nb && next_buf(b, &vp, &vn)) return -1;
    if (vn && vn * 8 < (uint64_t)c->len) return -1;
    c->valid = vn ? vp : NULL;
    if (f->dict) /* the indices; the values are in the dictionary batches */
        return !next_buf(b, &c->b1, &c->n1) && c->n1 / (size_t)(f->index_bits / 8) >= (uint64_t)c->len ? 0 : -1;
    int t = f->type;
    if (t != A_NULL && t != A_STRUCT && t != A_FIXEDLIST && next_buf(b, &c->b1, &c->n1)) return -1;
    if ((t == A_BINARY || t == A_UTF8 || t == A_LARGEBIN || t == A_LARGEUTF8) && next_buf(b, &c->b2, &c->n2)) return -1;
    c->skip = t == A_INTERVAL || t > A_LARGELIST || (t == A_FLOAT && (f->prec < 0 || f->prec > 2)) ||
              (t == A_FIXEDBIN && !f->list_size);
    if (f->nchild && !(c->child = calloc((size_t)f->nchild, sizeof *c->child))) return -1;
    for (int i = 0; i < f->nchild && !rc; i++) rc = bind_col(b, &f->child[i], &c->child[i]);
    return rc ? rc : backed(c);
}

/* Element [lo, hi) of a list's offsets at row i (32- or 64-bit offsets). */
static int offsets(const ar_col_t *c, int64_t i, int wide, int64_t *lo, int64_t *hi) {
    size_t w = wide ? 8 : 4;
    if ((uint64_t)(i + 2) > c->n1 / w) return -1;
    fb_t f = {c->b1, c->n1, 0};
    uint64_t a = rd(&f, (size_t)i * w, (int)w), z = rd(&f, (size_t)(i + 1) * w, (int)w);
    *lo = wide ? (int64_t)a : (int32_t)a, *hi = wide ? (int64_t)z : (int32_t)z;
    return *lo < 0 || *hi < *lo ? -1 : 0;
}

static cJSON *value(ar_batch_t *b, const ar_col_t *c, int64_t i);

static cJSON *leaf_value(ar_batch_t *b, const ar_col_t *c, int64_t i) {
    const ar_field_t *f = c->f;
    char lit[40];
    fb_t fb = {c->b1, c->n1, 0};
    if (f->type == A_BOOL) return (uint64_t)i / 8 < c->n1 ? cJSON_CreateBool((c->b1[i / 8] >> (i % 8)) & 1) : NULL;
    if (f->type == A_DECIMAL || f->type == A_FIXEDBIN) {
        size_t w = f->type == A_DECIMAL ? (size_t)f->bits / 8 : (size_t)f->list_size;
        if ((uint64_t)i >= c->n1 / w) return NULL;
        const uint8_t *p = c->b1 + (size_t)i * w;
        if (f->type == A_DECIMAL) return rlc_json_decimal(p, w, 0, f->scale);
        return rlc_json_bytes((const char *)p, w, &b->nontext);
    }
    if (is_integral(f->type)) {
        int w = f->bits / 8;
        uint64_t v = rd(&fb, (size_t)i * (size_t)w, w), sign = (uint64_t)1 << (f->bits - 1);
        if (fb.bad) return NULL;
        if (f->is_signed && w < 8) v = (v ^ sign) - sign;
        if (f->is_signed) snprintf(lit, sizeof lit, "%lld", (long long)v);
        else snprintf(lit, sizeof lit, "%llu", (unsigned long long)v);
        return rlc_json_number_lit(f->is_signed ? (double)(int64_t)v : (double)v, lit);
    }
    if (f->type == A_FLOAT) {
        double d;
        int single = 0;
        if (f->prec == 2) {
            uint64_t v = rd(&fb, (size_t)i * 8, 8);
            memcpy(&d, &v, 8);
        } else if (f->prec == 1) {
            uint32_t v = (uint32_t)rd(&fb, (size_t)i * 4, 4);
            float x;
            memcpy(&x, &v, 4);
            d = x;
            single = 1;
        } else { /* half, exactly */
            d = rlc_f16_to_f32((uint16_t)rd(&fb, (size_t)i * 2, 2));
        }
        return fb.bad ? NULL : rlc_json_float(d, single);
    }
    int64_t lo, hi; /* binary and text */
    if (offsets(c, i, f->type == A_LARGEBIN || f->type == A_LARGEUTF8, &lo, &hi) || (uint64_t)hi > c->n2) return NULL;
    return rlc_json_bytes(c->b2 ? (const char *)c->b2 + lo : "", (size_t)(hi - lo), &b->nontext); /* "": no bytes */
}

/* Row i of a dictionary-encoded column: a copy of the value its index picks. */
static cJSON *dict_value(ar_batch_t *b, const ar_col_t *c, int64_t i) {
    const ar_field_t *f = c->f;
    int w = f->index_bits / 8;
    fb_t fb = {c->b1, c->n1, 0};
    uint64_t v = rd(&fb, (size_t)i * (size_t)w, w), sign = (uint64_t)1 << (f->index_bits - 1);
    int64_t k = f->index_signed && w < 8 ? (int64_t)((v ^ sign) - sign) : (int64_t)v;
    for (int d = 0; !fb.bad && d < b->ndicts; d++)
        if (b->dicts[d].id == f->dict_id)
            return k >= 0 && k < b->dicts[d].n ? cJSON_Duplicate(b->dicts[d].v[k], 1) : NULL;
    return NULL; /* no dictionary with that id (yet) */
}

/* Row i of column c as JSON (NULL: damaged data or no memory). */
static cJSON *value(ar_batch_t *b, const ar_col_t *c, int64_t i) {
    const ar_field_t *f = c->f;
    if (i < 0 || i >= c->len) return NULL;
    if (f->type == A_NULL || (c->valid && !((c->valid[i / 8] >> (i % 8)) & 1))) return cJSON_CreateNull();
    if (f->dict) return dict_value(b, c, i);
    if (f->type == A_STRUCT) {
        cJSON *o = cJSON_CreateObject();
        for (int k = 0; o && k < f->nchild; k++) {
            if (c->child[k].skip) continue;
            cJSON *v = value(b, &c->child[k], i);
            if (!v) cJSON_Delete(o), o = NULL;
            else cJSON_AddItemToObject(o, f->child[k].name, v);
        }
        return o;
    }
    if (f->type == A_LIST || f->type == A_LARGELIST || f->type == A_MAP || f->type == A_FIXEDLIST) {
        int64_t lo = i * f->list_size, hi = lo + f->list_size;
        if (f->type != A_FIXEDLIST && offsets(c, i, f->type == A_LARGELIST, &lo, &hi)) return NULL;
        if (c->child[0].skip) return cJSON_CreateNull();
        cJSON *a = cJSON_CreateArray();
        for (int64_t k = lo; a && k < hi; k++) {
            cJSON *v = value(b, &c->child[0], k);
            if (!v) cJSON_Delete(a), a = NULL;
            else cJSON_AddItemToArray(a, v);
        }
        return a;
    }
    return leaf_value(b, c, i);
}

/* ---- messages */

typedef struct {
    ar_field_t *fields;
    int nfields, have_schema;
    const char *path;
    long nontext;
    int skipped_warned;
    ar_dict_t *dicts;
    int ndicts;
} ar_reader_t;

static int read_schema(ar_reader_t *r, fb_t *f, size_t schema) {
    size_t at;
    uint32_t n = fb_vec(f, schema, 1, &at);
    if (f->bad || n > 65536 || r->have_schema) return -1;
    r->have_schema = 1;
    if (n && !(r->fields = calloc(n, sizeof *r->fields))) return -1;
    for (uint32_t i = 0; i < n; i++) {
        size_t c = at + 4 * i;
        r->nfields++;
        if (read_field(f, c + (uint32_t)rd(f, c, 4), &r->fields[i], 0)) return -1;
    }
    if (names_repeat(r->fields, r->nfields))
        return rlc_errc(RLC_EFMT, "%s: two columns with the same name (each is a key of a row)", r->path);
    return 0;
}

/* A RecordBatch table's nodes, buffers and compression, with its row count in *length. */
static int batch_open(ar_reader_t *r, fb_t *f, size_t rb, const uint8_t *body, size_t body_n, ar_batch_t *b,
                      int64_t *length) {
    *b = (ar_batch_t){.f = f, .body = body, .body_n = body_n, .codec = -1, .dicts = r->dicts, .ndicts = r->ndicts};
    size_t comp = fb_ref(f, rb, 3); /* BodyCompression {codec: LZ4_FRAME | ZSTD, method: BUFFER} */
    if (comp) b->codec = (int)fb_int(f, comp, 0, 1, 0);
    if (comp && (b->codec > 1 || fb_int(f, comp, 1, 1, 0)))
        return rlc_errc(RLC_EUNSUP, "%s: a record batch compressed in a way not read (LZ4 frames and zstd are)",
                        r->path);
    *length = fb_int(f, rb, 0, 8, 0);
    b->nnodes = fb_vec(f, rb, 1, &b->nodes);
    b->nbufs = fb_vec(f, rb, 2, &b->bufs);
    if (f->bad || !rb || *length < 0 || (uint64_t)b->nnodes * 16 > f->n || (uint64_t)b->nbufs * 16 > f->n)
        return rlc_errc(RLC_EFMT, "%s: a damaged record batch", r->path);
    if (*length > AR_MAX_BATCH_ROWS) /* a bound on memory whatever the file claims */
        return rlc_errc(RLC_EUNSUP, "%s: a record batch of %lld rows, more than rlc reads (%d)", r->path,
                        (long long)*length, AR_MAX_BATCH_ROWS);
    return 0;
}

static void batch_close(ar_batch_t *b) {
    for (int i = 0; i < b->nown; i++) free(b->own[i]);
    free(b->own);
    b->own = NULL, b->nown = 0;
}

static const ar_field_t *dict_field(const ar_field_t *f, int n, int64_t id) {
    for (int i = 0; i < n; i++) {
        if (f[i].dict && f[i].dict_id == id) return &f[i];
        const ar_field_t *c = dict_field(f[i].child, f[i].nchild, id);
        if (c) return c;
    }
    return NULL;
}

/* A DictionaryBatch {id, data, isDelta}: its values replace (or, a delta, extend) the
 * dictionary with that id. */
static int read_dict_batch(ar_reader_t *r, fb_t *f, size_t db, const uint8_t *body, size_t body_n) {
    if (!r->have_schema) return rlc_errc(RLC_EFMT, "%s: a dictionary batch before the schema", r->path);
    int64_t id = fb_int(f, db, 0, 8, 0), length;
    int delta = (int)fb_int(f, db, 2, 1, 0);
    const ar_field_t *fd = dict_field(r->fields, r->nfields, id);
    if (!fd) return rlc_errc(RLC_EFMT, "%s: a dictionary batch for no column", r->path);
    ar_field_t vf = *fd; /* the values' type: the field without its encoding */
    vf.dict = 0;
    ar_batch_t b;
    int rc = batch_open(r, f, fb_ref(f, db, 1), body, body_n, &b, &length);
    ar_dict_t *d = NULL;
    for (int k = 0; !rc && k < r->ndicts && !d; k++)
        if (r->dicts[k].id == id) d = &r->dicts[k];
    if (!rc && !d) {
        ar_dict_t *nd = realloc(r->dicts, sizeof *nd * (size_t)(r->ndicts + 1));
        if (!nd) rc = RLC_ENOMEM;
        else r->dicts = nd, d = &r->dicts[r->ndicts++], *d = (ar_dict_t){.id = id};
    }
    if (d && !delta) {
        for (int64_t k = 0; k < d->n; k++) cJSON_Delete(d->v[k]);
        d->n = 0;
    }
    if (!rc && d->n + length > AR_MAX_BATCH_ROWS)
        rc = rlc_errc(RLC_EUNSUP, "%s: a dictionary of more than %d values", r->path, AR_MAX_BATCH_ROWS);
    if (!rc && d->n + length > d->cap) {
        cJSON **nv = realloc(d->v, sizeof *nv * (size_t)(d->n + length + 1));
        if (!nv) rc = RLC_ENOMEM;
        else d->v = nv, d->cap = d->n + length + 1;
    }
    b.dicts = r->dicts, b.ndicts = r->ndicts; /* as they are now (a nested encoding reads them) */
    ar_col_t col = {0};
    if (!rc && (bind_col(&b, &vf, &col) || col.len < length))
        rc = rlc_errc(RLC_EFMT, "%s: a damaged dictionary batch", r->path);
    for (int64_t i = 0; !rc && i < length; i++)
        if (!(d->v[d->n] = value(&b, &col, i))) rc = rlc_errc(RLC_EFMT, "%s: damaged values in a dictionary", r->path);
        else d->n++;
    col_free(&col);
    r->nontext += b.nontext;
    batch_close(&b);
    return rc;
}

static int read_batch(ar_reader_t *r, fb_t *f, size_t rb, const uint8_t *body, size_t body_n, cJSON *out) {
    if (!r->have_schema) return rlc_errc(RLC_EFMT, "%s: a record batch before the schema", r->path);
    ar_batch_t b;
    int64_t length;
    int rc = batch_open(r, f, rb, body, body_n, &b, &length);
    ar_col_t *cols = rc ? NULL : calloc((size_t)(r->nfields ? r->nfields : 1), sizeof *cols);
    if (!rc && !cols) rc = RLC_ENOMEM;
    for (int k = 0; !rc && k < r->nfields; k++)
        if (bind_col(&b, &r->fields[k], &cols[k]) || cols[k].len < length)
            rc = rlc_errc(RLC_EFMT, "%s: column %s does not match its record batch (or has a type not read: unions)",
                          r->path, r->fields[k].name);
    for (int k = 0; !rc && k < r->nfields && !r->skipped_warned; k++)
        if (cols[k].skip) {
            LOG_WARN("%s: column %s is not read (intervals and unknown types are not)", r->path,
                     r->fields[k].name);
            r->skipped_warned = 1;
        }
    for (int64_t i = 0; !rc && i < length; i++) {
        cJSON *row = cJSON_CreateObject();
        for (int k = 0; row && k < r->nfields; k++) {
            if (cols[k].skip) continue;
            cJSON *v = value(&b, &cols[k], i);
            if (!v) cJSON_Delete(row), row = NULL;
            else cJSON_AddItemToObject(row, r->fields[k].name, v);
        }
        if (!row)
            rc = rlc_errc(RLC_EFMT, "%s: damaged values in row %lld of a record batch", r->path, (long long)i + 1);
        else cJSON_AddItemToArray(out, row);
    }
    for (int k = 0; cols && k < r->nfields; k++) col_free(&cols[k]);
    free(cols);
    r->nontext += b.nontext;
    batch_close(&b);
    return rc;
}

/* The messages from pos to end: a schema, then record batches, up to the end-of-stream mark
 * (required when need_eos: a stream has no footer to vouch that it is whole). */
static int read_messages(ar_reader_t *r, const uint8_t *d, size_t pos, size_t end, int need_eos, cJSON *out) {
    int rc = 0, eos = 0;
    while (!rc && pos + 4 <= end) {
        fb_t whole = {d, end, 0};
        uint32_t w = (uint32_t)rd(&whole, pos, 4), ml = w;
        pos += 4;
        if (w == 0xFFFFFFFFu) { /* the continuation mark, then the length */
            if (pos + 4 > end) break;
            ml = (uint32_t)rd(&whole, pos, 4);
            pos += 4;
        }
        if (!ml) { /* end of stream */
            eos = 1;
            break;
        }
        if (ml > end - pos) return rlc_errc(RLC_EFMT, "%s: a message overruns the file (truncated?)", r->path);
        fb_t f = {d + pos, ml, 0};
        size_t msg = (uint32_t)rd(&f, 0, 4);
        int htype = (int)fb_int(&f, msg, 1, 1, 0);
        size_t header = fb_ref(&f, msg, 2);
        int64_t body_len = fb_int(&f, msg, 3, 8, 0);
        pos += ml;
        if (f.bad || !header || body_len < 0 || (uint64_t)body_len > end - pos)
            return rlc_errc(RLC_EFMT, "%s: a damaged message", r->path);
        if (htype == 1 && (rc = read_schema(r, &f, header)) == -1)
            rc = rlc_errc(RLC_EFMT, "%s: a damaged schema", r->path);
        else if (htype == 2) rc = read_dict_batch(r, &f, header, d + pos, (size_t)body_len);
        else if (htype == 3) rc = read_batch(r, &f, header, d + pos, (size_t)body_len, out);
        pos += (size_t)body_len;
    }
    if (!rc && need_eos && !eos)
        rc = rlc_errc(RLC_EFMT, "%s: an Arrow stream without its end mark (truncated?)", r->path);
    return rc;
}

int rlc_arrow_is(const uint8_t *head, size_t n) {
    static const uint8_t cont[4] = {0xff, 0xff, 0xff, 0xff};
    return (n >= 8 && !memcmp(head, "ARROW1", 6)) || (n >= 8 && !memcmp(head, cont, 4));
}

int rlc_arrow_read(const char *path, cJSON **rows) {
    *rows = NULL;
    char *buf;
    size_t n;
    int rc = fs_read_all(path, &buf, &n);
    if (rc) return rc;
    const uint8_t *d = (const uint8_t *)buf;
    size_t pos = 0, end = n;
    if (n >= 8 && !memcmp(d, "ARROW1", 6)) { /* the file format: magic, stream, footer, length, magic */
        fb_t whole = {d, n, 0};
        uint32_t foot = n >= 16 ? (uint32_t)rd(&whole, n - 10, 4) : 0;
        if (n < 16 || memcmp(d + n - 6, "ARROW1", 6) || foot > n - 16) {
            free(buf);
            return rlc_errc(RLC_EFMT, "%s: an Arrow file without its footer (truncated?)", path);
        }
        pos = 8, end = n - 10 - foot;
    }
    ar_reader_t r = {.path = path};
    cJSON *out = cJSON_CreateArray();
    rc = out ? read_messages(&r, d, pos, end, pos == 0, out) : RLC_ENOMEM;
    if (!rc && !r.have_schema) rc = rlc_errc(RLC_EFMT, "%s: an Arrow stream without a schema", path);
    if (!rc && r.nontext)
        LOG_WARN("%s: %ld value(s) are not text (binary, or holding a NUL) and read as null", path, r.nontext);
    for (int i = 0; i < r.nfields; i++) field_free(&r.fields[i]);
    free(r.fields);
    for (int i = 0; i < r.ndicts; i++) {
        for (int64_t k = 0; k < r.dicts[i].n; k++) cJSON_Delete(r.dicts[i].v[k]);
        free(r.dicts[i].v);
    }
    free(r.dicts);
    free(buf);
    if (rc) {
        cJSON_Delete(out);
        return rc;
    }
    *rows = out;
    return 0;
}
