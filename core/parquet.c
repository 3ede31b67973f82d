/* Parquet files as rows of JSON objects (core/parquet.h): the footer's metadata
 * (parquet_meta.c), a plan of the schema's leaves (the JSON steps to each), every column
 * chunk decoded to (repetition, definition, value) triples (parquet_pages.c), then each
 * row's nested values assembled from the levels (structs become objects, lists arrays). */
#include "core/parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/json.h"
#include "core/log.h"
#include "core/parquet_internal.h"
#include "core/str.h"

/* ---- the schema's leaves and record assembly */

enum { STEP_FIELD, STEP_LIST };
typedef struct {
    int kind;
    const char *name; /* FIELD */
    int thr;          /* FIELD: def level at which it is present (0: required); LIST: non-empty */
    int rep;          /* LIST: its repetition level */
    int elem_thr;     /* LIST: def level at which an element is non-null (0: required) */
    cJSON *last;      /* LIST: the element last visited (the next triple is in the same list or a new one) */
} pq_step_t;

typedef struct {
    pq_step_t steps[32];
    int nsteps, max_rep, max_def, type, skip;
    int tlen, scale, decimal, logical; /* the leaf node's: FIXED length, DECIMAL, LogicalType id */
    long nontext;    /* byte-array values that are not text (binary, or holding NUL): read as null */
    char where[256]; /* the dotted column path, for messages */
} pq_leaf_t;

typedef struct {
    const pq_meta_t *m;
    pq_leaf_t *leaves;
    int nleaves, cap, next;
    const char *path;
} pq_plan_t;

static int is_list(const pq_node_t *n) { return n->conv == PQ_CONV_LIST || n->logical == 3; }
static int is_map(const pq_node_t *n) {
    return n->conv == PQ_CONV_MAP || n->conv == PQ_CONV_MAP_KEY_VALUE || n->logical == 2;
}

static int add_step(pq_leaf_t *l, pq_step_t s) {
    if (l->nsteps >= 32) return -1;
    l->steps[l->nsteps++] = s;
    return 0;
}

static int plan_node(pq_plan_t *p, pq_leaf_t cur, int depth);

/* A group's children; their names must differ (each becomes a key of one JSON object). */
static int plan_children(pq_plan_t *p, const pq_leaf_t *cur, int nchild, int depth) {
    int left = p->m->nnodes - p->next, cap = nchild < left ? nchild : left; /* a claim beyond the schema fails */
    const char **names = malloc(sizeof *names * (size_t)(cap > 0 ? cap : 1));
    if (!names) return RLC_ENOMEM;
    int rc = 0, n = 0;
    for (int k = 0; k < nchild && !rc; k++) {
        if (p->next < p->m->nnodes && p->m->nodes[p->next].name && n < cap) names[n++] = p->m->nodes[p->next].name;
        rc = plan_node(p, *cur, depth + 1);
    }
    const char *d = rc ? NULL : rlc_sorted_repeat(names, (size_t)n);
    if (d) rc = rlc_errc(RLC_EFMT, "%s: two columns named '%s' in one struct", p->path, d);
    free(names);
    return rc;
}

static int add_leaf(pq_plan_t *p, pq_leaf_t *cur, const pq_node_t *n) {
    if (p->nleaves == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        pq_leaf_t *l = realloc(p->leaves, sizeof *l * (size_t)cap);
        if (!l) return RLC_ENOMEM;
        p->leaves = l, p->cap = cap;
    }
    cur->type = n->type, cur->tlen = n->type_len, cur->scale = n->scale, cur->logical = n->logical;
    cur->decimal = n->logical == PQ_LOGICAL_DECIMAL || n->conv == PQ_CONV_DECIMAL;
    if (n->type > PQ_FIXED || n->type < 0 || (n->type == PQ_FIXED && n->type_len <= 0)) cur->skip = 1;
    p->leaves[p->nleaves++] = *cur;
    return 0;
}

/* The group or leaf a node stands for, after its own steps are in cur. */
static int plan_value(pq_plan_t *p, pq_leaf_t *cur, const pq_node_t *n, int depth) {
    return n->type < 0 ? plan_children(p, cur, n->nchild, depth) : add_leaf(p, cur, n);
}

/* n, the node just taken, is a LIST- or MAP-annotated group whose one child (next) is
 * repeated: a map reads as a list of its {key, value} entries, as Arrow's maps do. */
static int is_list_group(const pq_plan_t *p, const pq_node_t *n) {
    return n->type < 0 && (is_list(n) || is_map(n)) && n->nchild == 1 && p->next < p->m->nnodes &&
           p->m->nodes[p->next].rep == PQ_REPEATED;
}

/* A LIST-annotated group (its repeated child next in the schema): the elements. */
static int plan_list(pq_plan_t *p, pq_leaf_t *cur, int depth) {
    if (depth > 30) return rlc_errc(RLC_EFMT, "%s: a schema too deep", p->path);
    const pq_node_t *r = &p->m->nodes[p->next++];
    cur->max_def++, cur->max_rep++;
    if (add_step(cur, (pq_step_t){STEP_LIST, NULL, cur->max_def, cur->max_rep, 0, NULL}))
        return rlc_errc(RLC_EFMT, "%s: a schema too deep", p->path);
    size_t rl = r->name ? strlen(r->name) : 0;
    int two_level = r->type >= 0 || r->nchild != 1 || (r->name && !strcmp(r->name, "array")) ||
                    (rl > 6 && !strcmp(r->name + rl - 6, "_tuple"));
    if (two_level) return plan_value(p, cur, r, depth); /* the repeated node is the element */
    if (p->next >= p->m->nnodes) return rlc_errc(RLC_EFMT, "%s: a damaged schema", p->path);
    const pq_node_t *e = &p->m->nodes[p->next++]; /* three levels: list -> element */
    if (e->rep == PQ_OPTIONAL) cur->steps[cur->nsteps - 1].elem_thr = ++cur->max_def;
    if (e->rep == PQ_REPEATED) cur->skip = 1;
    if (is_list_group(p, e)) return plan_list(p, cur, depth + 1); /* a list of lists */
    return plan_value(p, cur, e, depth);
}

/* The subtree at p->next, with the steps that lead to it in cur; each leaf is appended. */
static int plan_node(pq_plan_t *p, pq_leaf_t cur, int depth) {
    if (p->next >= p->m->nnodes || depth > 30) return rlc_errc(RLC_EFMT, "%s: a damaged schema", p->path);
    const pq_node_t *n = &p->m->nodes[p->next++];
    size_t wl = strlen(cur.where);
    snprintf(cur.where + wl, sizeof cur.where - wl, "%s%s", wl ? "." : "", n->name ? n->name : "?");
    int bad = 0;
    if (n->rep == PQ_OPTIONAL || n->rep == PQ_REPEATED) cur.max_def++;
    bad |= add_step(&cur, (pq_step_t){STEP_FIELD, n->name ? n->name : "", n->rep == PQ_OPTIONAL ? cur.max_def : 0,
                                      0, 0, NULL});
    if (n->rep == PQ_REPEATED) { /* a bare repeated field: an array of its values */
        cur.max_rep++;
        bad |= add_step(&cur, (pq_step_t){STEP_LIST, NULL, cur.max_def, cur.max_rep, 0, NULL});
    }
    if (bad) return rlc_errc(RLC_EFMT, "%s: a schema too deep", p->path);
    if (n->rep != PQ_REPEATED && is_list_group(p, n)) return plan_list(p, &cur, depth);
    return plan_value(p, &cur, n, depth);
}

/* A leaf value as JSON: numbers keep an exact literal; byte arrays that are not text
 * (binary data such as images, or holding NUL, which would cut the text) become null,
 * counted in l->nontext. */
static cJSON *json_value(pq_leaf_t *l, const pq_val_t *v) {
    char lit[40];
    uint8_t be[8];
    if (l->decimal && (l->type == PQ_INT32 || l->type == PQ_INT64)) {
        for (int b = 0; b < 8; b++) be[b] = (uint8_t)((uint64_t)v->i >> (56 - 8 * b));
        return rlc_json_decimal(be, 8, 1, l->scale);
    }
    if (l->decimal && (l->type == PQ_FIXED || l->type == PQ_BYTE_ARRAY))
        return rlc_json_decimal(v->s, v->len, 1, l->scale);
    switch (l->type) {
    case PQ_BOOLEAN: return cJSON_CreateBool(v->i != 0);
    case PQ_INT32:
    case PQ_INT64: snprintf(lit, sizeof lit, "%lld", (long long)v->i); return rlc_json_number_lit((double)v->i, lit);
    case PQ_FLOAT:
    case PQ_DOUBLE: return rlc_json_float(v->d, l->type == PQ_FLOAT);
    case PQ_INT96: { /* a legacy timestamp: nanoseconds of the day, then the Julian day */
        int64_t day = (int64_t)pq_le(v->s + 8, 4) - 2440588, ns = (int64_t)pq_le(v->s, 8);
        if (day < -106000 || day > 106000 || ns < 0 || ns >= 86400000000000LL) /* beyond int64 ns, or damaged */
            return rlc_json_float((double)day * 864e11 + (double)ns, 0);
        snprintf(lit, sizeof lit, "%lld", (long long)(day * 86400000000000LL + ns));
        return rlc_json_number_lit((double)day * 864e11 + (double)ns, lit);
    }
    case PQ_FIXED:
        if (l->logical == PQ_LOGICAL_FLOAT16 && v->len == 2) /* exactly, as Arrow's half floats */
            return rlc_json_float(rlc_f16_to_f32((uint16_t)pq_le(v->s, 2)), 0);
        if (l->logical == PQ_LOGICAL_UUID && v->len == 16) {
            int k = 0;
            for (int b = 0; b < 16; b++) k += snprintf(lit + k, sizeof lit - (size_t)k, "%s%02x",
                                                       b == 4 || b == 6 || b == 8 || b == 10 ? "-" : "", v->s[b]);
            return cJSON_CreateString(lit);
        }
        return rlc_json_bytes((const char *)v->s, v->len, &l->nontext);
    default: return rlc_json_bytes((const char *)v->s, v->len, &l->nontext);
    }
}

/* A new slot for what step k of leaf l leads to: an object (a FIELD next), an array (a
 * LIST next) or the leaf's value. */
static cJSON *new_slot(pq_leaf_t *l, int k, const pq_val_t *v) {
    if (k + 1 >= l->nsteps) return v ? json_value(l, v) : cJSON_CreateNull();
    return l->steps[k + 1].kind == STEP_LIST ? cJSON_CreateArray() : cJSON_CreateObject();
}

/* Places one (rep, def, value) triple of leaf l into the row object `row`. */
static int place(pq_leaf_t *l, cJSON *row, int rep, int def, const pq_val_t *v) {
    cJSON *cur = row;
    for (int k = 0; k < l->nsteps; k++) {
        pq_step_t *s = &l->steps[k];
        cJSON *slot;
        if (s->kind == STEP_FIELD) {
            if (!cJSON_IsObject(cur)) return -1;
            slot = cJSON_GetObjectItemCaseSensitive(cur, s->name);
            if (s->thr && def < s->thr) {
                if (!slot && !cJSON_AddNullToObject(cur, s->name)) return -1;
                return 0;
            }
            if (!slot || cJSON_IsNull(slot)) {
                cJSON *n = new_slot(l, k, v);
                if (!n) return -1;
                /* (a null another column left: a damaged file's columns disagree; the key is
                 * kept, as ReplaceItemViaPointer would not) */
                if (slot) cJSON_ReplaceItemInObjectCaseSensitive(cur, s->name, n);
                else cJSON_AddItemToObject(cur, s->name, n);
                slot = n;
            }
        } else {
            if (!cJSON_IsArray(cur)) return -1;
            if (def < s->thr) return 0; /* an empty list */
            /* a new list starts at its first element; the same level repeated moves to the
             * next; a deeper repetition stays on the element (no index arithmetic, so long
             * lists cost no quadratic walks) */
            if (rep > s->rep && !s->last) return -1;
            slot = rep < s->rep ? cur->child : rep == s->rep ? (s->last ? s->last->next : NULL) : s->last;
            if (rep == s->rep && !s->last) return -1;
            if (!slot) {
                slot = s->elem_thr && def < s->elem_thr ? cJSON_CreateNull() : new_slot(l, k, v);
                if (!slot) return -1;
                cJSON_AddItemToArray(cur, slot);
            }
            s->last = slot;
            if (s->elem_thr && def < s->elem_thr) return 0;
        }
        cur = slot;
    }
    return 0;
}

/* Assembles a chunk's triples into rows[first .. first + nrows). */
static int assemble(pq_leaf_t *l, const pq_col_t *c, cJSON **rows, int64_t nrows, const char *path) {
    int64_t row = -1, vi = 0;
    for (int64_t k = 0; k < c->n; k++) {
        if (c->rep[k] == 0) row++;
        if (row < 0 || row >= nrows)
            return rlc_errc(RLC_EFMT, "%s: column %s holds more rows than its row group", path, l->where);
        const pq_val_t *v = c->def[k] == l->max_def ? &c->vals[vi++] : NULL;
        if (place(l, rows[row], c->rep[k], c->def[k], v))
            return rlc_errc(RLC_EFMT, "%s: column %s: values that do not fit its schema (row %lld)", path, l->where,
                            (long long)row + 1);
    }
    return 0;
}

/* One row group's rows appended to `out`. */
static int read_group(const uint8_t *f, size_t fn, const pq_group_t *g, pq_plan_t *plan, cJSON *out,
                      const char *path) {
    if (g->ncols != plan->nleaves)
        return rlc_errc(RLC_EFMT, "%s: a row group has %d columns, the schema %d", path, g->ncols, plan->nleaves);
    if (g->num_rows < 0) return rlc_errc(RLC_EFMT, "%s: bad row count", path);
    if (g->num_rows > PQ_MAX_GROUP_ROWS)
        return rlc_errc(RLC_EUNSUP, "%s: a row group of %lld rows, more than rlc reads (%d): write the file with "
                                    "smaller row groups",
                        path, (long long)g->num_rows, PQ_MAX_GROUP_ROWS);
    cJSON **rows = calloc((size_t)(g->num_rows ? g->num_rows : 1), sizeof *rows);
    if (!rows) return RLC_ENOMEM;
    int rc = 0;
    for (int64_t r = 0; r < g->num_rows && !rc; r++)
        if (!(rows[r] = cJSON_CreateObject())) rc = RLC_ENOMEM;
    for (int i = 0; i < g->ncols && !rc; i++) {
        pq_leaf_t *l = &plan->leaves[i];
        if (l->skip) continue;
        if (g->cols[i].type != l->type)
            rc = rlc_errc(RLC_EFMT, "%s: column %s: its chunk's type differs from the schema's", path, l->where);
        pq_col_t c;
        memset(&c, 0, sizeof c);
        if (!rc) rc = pq_read_chunk(f, fn, &g->cols[i], l->tlen, l->max_rep, l->max_def, &c, path);
        if (!rc) rc = assemble(l, &c, rows, g->num_rows, path);
        pq_col_free(&c);
    }
    for (int64_t r = 0; r < g->num_rows; r++) {
        if (!rc && rows[r]) cJSON_AddItemToArray(out, rows[r]);
        else cJSON_Delete(rows[r]);
    }
    free(rows);
    return rc;
}

int rlc_parquet_is(const uint8_t *head, size_t n) { return n >= 4 && !memcmp(head, "PAR1", 4); }

int rlc_parquet_read(const char *path, cJSON **rows) {
    *rows = NULL;
    char *buf;
    size_t n;
    int rc = fs_read_all(path, &buf, &n);
    if (rc) return rc;
    const uint8_t *f = (const uint8_t *)buf;
    if (n < 12 || memcmp(f, "PAR1", 4) || memcmp(f + n - 4, "PAR1", 4)) {
        int enc = n >= 4 && !memcmp(f + n - 4, "PARE", 4);
        free(buf);
        return rlc_errc(RLC_EFMT, "%s: not a parquet file (or truncated: no PAR1 footer)%s", path,
                        enc ? "; encrypted footers are not read" : "");
    }
    uint32_t ml = (uint32_t)pq_le(f + n - 8, 4);
    pq_meta_t m;
    if (ml > n - 12) rc = rlc_errc(RLC_EFMT, "%s: damaged parquet footer", path);
    if (!rc) rc = pq_meta_parse(f + n - 8 - ml, ml, path, &m);
    if (rc) {
        free(buf);
        return rc;
    }
    pq_plan_t plan = {&m, NULL, 0, 0, 1, path};
    pq_leaf_t root;
    memset(&root, 0, sizeof root);
    rc = plan_children(&plan, &root, m.nodes[0].nchild, 0);
    if (!rc && plan.next != m.nnodes) rc = rlc_errc(RLC_EFMT, "%s: a damaged schema", path);
    for (int i = 0; !rc && i < plan.nleaves; i++)
        if (plan.leaves[i].skip)
            LOG_WARN("%s: column %s is not read (an unknown physical type, or a list repeated without a level)", path,
                     plan.leaves[i].where);
    cJSON *out = rc ? NULL : cJSON_CreateArray();
    if (!rc && !out) rc = RLC_ENOMEM;
    for (int g = 0; !rc && g < m.ngroups; g++) rc = read_group(f, n, &m.groups[g], &plan, out, path);
    for (int i = 0; !rc && i < plan.nleaves; i++)
        if (plan.leaves[i].nontext)
            LOG_WARN("%s: column %s: %ld value(s) are not text (binary, or holding a NUL) and read as null", path,
                     plan.leaves[i].where, plan.leaves[i].nontext);
    free(plan.leaves);
    pq_meta_free(&m);
    free(buf);
    if (rc) {
        cJSON_Delete(out);
        return rc;
    }
    *rows = out;
    return 0;
}
