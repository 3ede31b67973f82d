/* Parquet metadata: a Thrift compact-protocol reader (only what parquet.thrift needs) and the
 * FileMetaData / PageHeader structures it decodes. Every read is bounded; unknown fields are
 * skipped, as Thrift readers do. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/parquet_internal.h"

enum { T_STOP = 0, T_TRUE, T_FALSE, T_BYTE, T_I16, T_I32, T_I64, T_DOUBLE, T_BINARY, T_LIST, T_SET, T_MAP, T_STRUCT };

int pq_uvar(const uint8_t *p, size_t n, size_t *i, int max_bytes, uint64_t *v) {
    *v = 0;
    for (int k = 0, sh = 0; k < max_bytes && sh < 64; k++, sh += 7) {
        if (*i >= n) return -1;
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

static uint64_t th_uvar(pq_thrift_t *t) {
    uint64_t v;
    size_t i = 0;
    int bad = pq_uvar(t->p, (size_t)(t->end - t->p), &i, 10, &v);
    t->p += i;
    if (bad) t->bad = 1;
    return bad ? 0 : v;
}

static int64_t th_svar(pq_thrift_t *t) {
    uint64_t u = th_uvar(t);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int32_t th_i32(pq_thrift_t *t) {
    int64_t v = th_svar(t);
    if (v < INT32_MIN || v > INT32_MAX) t->bad = 1;
    return t->bad ? 0 : (int32_t)v;
}

/* The next field's type (T_STOP at the end of a struct); *id is the running field id. */
static int th_field(pq_thrift_t *t, int *id) {
    if (t->p >= t->end) {
        t->bad = 1;
        return T_STOP;
    }
    uint8_t b = *t->p++;
    if (!b) return T_STOP;
    int d = b >> 4;
    *id = d ? *id + d : (int)th_svar(t);
    return b & 15;
}

/* A binary's bytes (not copied); NULL on overrun. */
static const uint8_t *th_bin(pq_thrift_t *t, size_t *n) {
    uint64_t len = th_uvar(t);
    if (t->bad || len > (uint64_t)(t->end - t->p)) {
        t->bad = 1;
        return NULL;
    }
    const uint8_t *p = t->p;
    t->p += len;
    *n = (size_t)len;
    return p;
}

/* A list header: the element count (bounded by the bytes left) and *et its element type. */
static int64_t th_list(pq_thrift_t *t, int *et) {
    if (t->p >= t->end) {
        t->bad = 1;
        return 0;
    }
    uint8_t b = *t->p++;
    uint64_t n = b >> 4;
    if (n == 15) n = th_uvar(t);
    *et = b & 15;
    if (n > (uint64_t)(t->end - t->p)) t->bad = 1; /* every element takes a byte at least */
    return t->bad ? 0 : (int64_t)n;
}

static void th_skip(pq_thrift_t *t, int type, int depth) {
    if (depth > 32) t->bad = 1;
    if (t->bad) return;
    size_t n;
    int et = 0, id = 0;
    switch (type) {
    case T_TRUE:
    case T_FALSE: return;
    case T_BYTE:
        if (t->p >= t->end) t->bad = 1;
        else t->p++;
        return;
    case T_I16:
    case T_I32:
    case T_I64: th_uvar(t); return;
    case T_DOUBLE:
        if (t->end - t->p < 8) t->bad = 1;
        else t->p += 8;
        return;
    case T_BINARY: th_bin(t, &n); return;
    case T_LIST:
    case T_SET:
        for (int64_t k = th_list(t, &et), i = 0; i < k && !t->bad; i++)
            th_skip(t, et == T_TRUE || et == T_FALSE ? T_BYTE : et, depth + 1); /* list bools are bytes */
        return;
    case T_MAP: {
        uint64_t k = th_uvar(t);
        if (!k || t->bad) return;
        if (t->p >= t->end || k > (uint64_t)(t->end - t->p)) {
            t->bad = 1;
            return;
        }
        uint8_t kv = *t->p++;
        for (uint64_t i = 0; i < k && !t->bad; i++) th_skip(t, kv >> 4, depth + 1), th_skip(t, kv & 15, depth + 1);
        return;
    }
    case T_STRUCT:
        for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) th_skip(t, ft, depth + 1);
        return;
    default: t->bad = 1;
    }
}

/* ---- SchemaElement, ColumnMetaData, RowGroup, FileMetaData */

/* LogicalType is a union: the id of its one field (a DECIMAL's scale into *scale). */
static int logical_kind(pq_thrift_t *t, int *scale) {
    int id = 0, kind = 0;
    for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) {
        kind = id;
        if (id != PQ_LOGICAL_DECIMAL || ft != T_STRUCT) {
            th_skip(t, ft, 1);
            continue;
        }
        int did = 0; /* DecimalType {1: scale, 2: precision} */
        for (int dt; !t->bad && (dt = th_field(t, &did)) != T_STOP;) {
            if (did == 1 && dt == T_I32) *scale = th_i32(t);
            else th_skip(t, dt, 2);
        }
    }
    return kind;
}

static void read_node(pq_thrift_t *t, pq_node_t *n) {
    int id = 0;
    n->type = -1;
    n->conv = -1;
    for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) {
        size_t len;
        const uint8_t *s;
        if (id == 1 && ft == T_I32) n->type = th_i32(t);
        else if (id == 2 && ft == T_I32) n->type_len = th_i32(t);
        else if (id == 3 && ft == T_I32) n->rep = th_i32(t);
        else if (id == 7 && ft == T_I32) n->scale = th_i32(t);
        else if (id == 4 && ft == T_BINARY && (s = th_bin(t, &len))) {
            free(n->name);
            n->name = malloc(len + 1);
            if (!n->name) t->bad = 1;
            else memcpy(n->name, s, len), n->name[len] = 0;
        } else if (id == 5 && ft == T_I32) n->nchild = th_i32(t);
        else if (id == 6 && ft == T_I32) n->conv = th_i32(t);
        else if (id == 10 && ft == T_STRUCT) n->logical = logical_kind(t, &n->scale);
        else th_skip(t, ft, 1);
    }
}

static void read_column_meta(pq_thrift_t *t, pq_chunk_t *c) {
    int id = 0;
    for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) {
        if (id == 1 && ft == T_I32) c->type = th_i32(t);
        else if (id == 4 && ft == T_I32) c->codec = th_i32(t);
        else if (id == 5 && ft == T_I64) c->num_values = th_svar(t);
        else if (id == 7 && ft == T_I64) c->size = th_svar(t);
        else if (id == 9 && ft == T_I64) c->data_off = th_svar(t);
        else if (id == 11 && ft == T_I64) c->dict_off = th_svar(t);
        else th_skip(t, ft, 1);
    }
}

static void read_group(pq_thrift_t *t, pq_group_t *g) {
    int id = 0, et = 0;
    for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) {
        if (id == 1 && ft == T_LIST && !g->cols) {
            int64_t n = th_list(t, &et);
            g->cols = calloc((size_t)(n ? n : 1), sizeof *g->cols);
            if (!g->cols || et != T_STRUCT) t->bad = 1;
            for (int64_t i = 0; i < n && !t->bad; i++, g->ncols++) { /* ColumnChunk */
                int cid = 0;
                for (int ct; !t->bad && (ct = th_field(t, &cid)) != T_STOP;) {
                    if (cid == 3 && ct == T_STRUCT) read_column_meta(t, &g->cols[i]);
                    else th_skip(t, ct, 2);
                }
            }
        } else if (id == 3 && ft == T_I64) {
            g->num_rows = th_svar(t);
        } else {
            th_skip(t, ft, 1);
        }
    }
}

int pq_meta_parse(const uint8_t *meta, size_t n, const char *path, pq_meta_t *m) {
    memset(m, 0, sizeof *m);
    pq_thrift_t t = {meta, meta + n, 0};
    int id = 0, et = 0;
    for (int ft; !t.bad && (ft = th_field(&t, &id)) != T_STOP;) {
        if (id == 2 && ft == T_LIST && !m->nodes) {
            int64_t k = th_list(&t, &et);
            m->nodes = calloc((size_t)(k ? k : 1), sizeof *m->nodes);
            if (!m->nodes || et != T_STRUCT) t.bad = 1;
            for (int64_t i = 0; i < k && !t.bad; i++, m->nnodes++) read_node(&t, &m->nodes[i]);
        } else if (id == 3 && ft == T_I64) {
            m->num_rows = th_svar(&t);
        } else if (id == 4 && ft == T_LIST && !m->groups) {
            int64_t k = th_list(&t, &et);
            m->groups = calloc((size_t)(k ? k : 1), sizeof *m->groups);
            if (!m->groups || et != T_STRUCT) t.bad = 1;
            for (int64_t i = 0; i < k && !t.bad; i++, m->ngroups++) read_group(&t, &m->groups[i]);
        } else {
            th_skip(&t, ft, 0);
        }
    }
    if (!t.bad && m->nnodes < 1) t.bad = 1;
    if (t.bad) {
        pq_meta_free(m);
        return rlc_errc(RLC_EFMT, "%s: damaged parquet metadata (footer)", path);
    }
    return 0;
}

void pq_meta_free(pq_meta_t *m) {
    for (int i = 0; i < m->nnodes; i++) free(m->nodes[i].name);
    free(m->nodes);
    for (int i = 0; i < m->ngroups; i++) free(m->groups[i].cols);
    free(m->groups);
    memset(m, 0, sizeof *m);
}

static void read_data_header(pq_thrift_t *t, pq_page_t *h, int v2) {
    int id = 0;
    for (int ft; !t->bad && (ft = th_field(t, &id)) != T_STOP;) {
        if (id == 1 && ft == T_I32) h->num_values = th_i32(t);
        else if (!v2 && id == 2 && ft == T_I32) h->encoding = th_i32(t);
        else if (!v2 && id == 3 && ft == T_I32) h->def_encoding = th_i32(t);
        else if (!v2 && id == 4 && ft == T_I32) h->rep_encoding = th_i32(t);
        else if (v2 && id == 4 && ft == T_I32) h->encoding = th_i32(t);
        else if (v2 && id == 5 && ft == T_I32) h->def_len = th_i32(t);
        else if (v2 && id == 6 && ft == T_I32) h->rep_len = th_i32(t);
        else if (v2 && id == 7 && (ft == T_TRUE || ft == T_FALSE)) h->v2_compressed = ft == T_TRUE;
        else th_skip(t, ft, 1);
    }
}

int pq_page_parse(const uint8_t *p, size_t n, pq_page_t *h, size_t *used) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->v2_compressed = 1;
    pq_thrift_t t = {p, p + n, 0};
    int id = 0;
    for (int ft; !t.bad && (ft = th_field(&t, &id)) != T_STOP;) {
        if (id == 1 && ft == T_I32) h->type = th_i32(&t);
        else if (id == 2 && ft == T_I32) h->uncompressed = th_i32(&t);
        else if (id == 3 && ft == T_I32) h->compressed = th_i32(&t);
        else if ((id == 5 || id == 8) && ft == T_STRUCT) read_data_header(&t, h, id == 8);
        else if (id == 7 && ft == T_STRUCT) read_data_header(&t, h, 0); /* num_values, encoding */
        else th_skip(&t, ft, 0);
    }
    if (t.bad || h->type < 0 || h->compressed < 0 || h->uncompressed < 0 || h->num_values < 0 || h->def_len < 0 ||
        h->rep_len < 0)
        return RLC_EFMT;
    *used = (size_t)(t.p - p);
    return 0;
}
