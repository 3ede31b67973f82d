/* Private to core/parquet*.c: the Thrift compact-protocol reader and the parquet metadata
 * it decodes (parquet_meta.c), used by the page decoder and record assembly (parquet.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* A bounded reader over Thrift compact-protocol bytes; `bad` is set by any overrun. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} pq_thrift_t;

/* Bounds on what one row group may claim, so a damaged or hostile file cannot make the
 * reader allocate without limit (pyarrow writes at most 1Mi rows per group by default). */
enum { PQ_MAX_GROUP_ROWS = 1 << 24, PQ_MAX_CHUNK_VALUES = 1 << 25 };

/* Parquet enums used here (parquet.thrift). */
enum { PQ_BOOLEAN = 0, PQ_INT32, PQ_INT64, PQ_INT96, PQ_FLOAT, PQ_DOUBLE, PQ_BYTE_ARRAY, PQ_FIXED };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum { PQ_CONV_MAP = 1, PQ_CONV_MAP_KEY_VALUE = 2, PQ_CONV_LIST = 3 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };

typedef struct {
    char *name;
    int type;     /* PQ_* physical type; -1 for a group */
    int rep;      /* PQ_REQUIRED / OPTIONAL / REPEATED */
    int nchild;   /* children (groups) */
    int conv;     /* converted type, -1 none */
    int logical;  /* LogicalType union field id (1 STRING, 2 MAP, 3 LIST, ...), 0 none */
    int type_len; /* FIXED_LEN_BYTE_ARRAY: the values' length in bytes */
    int scale;    /* DECIMAL: digits after the point */
} pq_node_t;

/* LogicalType ids and converted types read for values. */
enum { PQ_LOGICAL_DECIMAL = 5, PQ_LOGICAL_UUID = 14, PQ_LOGICAL_FLOAT16 = 15, PQ_CONV_DECIMAL = 5 };

typedef struct {
    int type, codec;
    int64_t num_values, data_off, dict_off, size; /* size: total_compressed_size */
} pq_chunk_t;

typedef struct {
    pq_chunk_t *cols;
    int ncols;
    int64_t num_rows;
} pq_group_t;

typedef struct {
    pq_node_t *nodes; /* the schema, depth first; nodes[0] is the root */
    int nnodes;
    int64_t num_rows;
    pq_group_t *groups;
    int ngroups;
} pq_meta_t;

typedef struct {
    int type; /* PQ_PAGE_* */
    int32_t uncompressed, compressed;
    int32_t num_values, encoding, def_encoding, rep_encoding; /* data pages (v1 and v2) */
    int32_t def_len, rep_len, v2_compressed;                 /* v2 only */
} pq_page_t;

/* An unsigned LEB128 varint at p[*i] (at most max_bytes bytes, within n): 0 with *v, *i past
 * it; -1 when it overruns (parquet_meta.c). */
int pq_uvar(const uint8_t *p, size_t n, size_t *i, int max_bytes, uint64_t *v);

/* `bytes` (at most 8) little-endian bytes at p. */
static inline uint64_t pq_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int b = 0; b < bytes; b++) v |= (uint64_t)p[b] << (8 * b);
    return v;
}

/* The file metadata from its footer bytes (meta, n). Errors name `path`. */
int pq_meta_parse(const uint8_t *meta, size_t n, const char *path, pq_meta_t *m);
void pq_meta_free(pq_meta_t *m);
/* A page header at p (at most n bytes): *used receives its length. */
int pq_page_parse(const uint8_t *p, size_t n, pq_page_t *h, size_t *used);

/* One decoded value: BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY or INT96 bytes, or an integer
 * (BOOLEAN, INT32, INT64), or a float. */
typedef struct {
    const uint8_t *s; /* BYTE_ARRAY bytes */
    uint32_t len;
    int64_t i; /* BOOLEAN, INT32, INT64 */
    double d;  /* FLOAT, DOUBLE */
} pq_val_t;

/* A column chunk decoded: n triples (rep[k], def[k]); the nvals values of the triples whose
 * def is the maximum, in order (parquet_pages.c). */
typedef struct {
    int32_t *rep, *def;
    pq_val_t *vals, *dict;
    int64_t n, nvals, ndict, cap;
    uint8_t **bufs; /* decompressed pages the values point into */
    int nbufs;
} pq_col_t;

/* A page's bytes s[0..n) decompressed by `codec` (parquet's CompressionCodec: snappy, gzip,
 * brotli, lz4 (Hadoop-framed or raw), zstd, lz4_raw) to exactly dn bytes (*out malloc'd). */
int pq_decompress(int codec, const uint8_t *s, size_t n, size_t dn, uint8_t **out, const char *path);

/* type_len: a FIXED_LEN_BYTE_ARRAY column's value length (its values then have s and len;
 * INT96 values are their 12 bytes). */
int pq_read_chunk(const uint8_t *f, size_t fn, const pq_chunk_t *ch, int type_len, int max_rep, int max_def,
                  pq_col_t *c, const char *path);
void pq_col_free(pq_col_t *c);
