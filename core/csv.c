/* CSV and TSV text as rows of JSON objects (core/csv.h), read as pandas' read_csv reads it
 * by default: the first record names the columns, quoted fields may hold delimiters,
 * doubled quotes and line breaks, blank lines are passed over, a missing field is null. A
 * column whose every value is a JSON number reads as numbers (each keeping its literal, so
 * its text is unchanged), any other as text (True/False too, which pandas would make
 * booleans: a gold answer must stay text); an empty field is null. */
#include "core/csv.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/sbuf.h"
#include "core/str.h"
#include "core/strmap.h"

/* One record's fields (copies, quotes undone). */
typedef struct {
    char **v;   /* NUL-terminated copies */
    int n, cap;
    long line;  /* the physical line the record starts on */
} rec_t;

static void rec_free(rec_t *r) {
    for (int i = 0; i < r->n; i++) free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static int rec_add(rec_t *r, const char *s, size_t n) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        char **nv = realloc(r->v, sizeof *nv * (size_t)cap);
        if (!nv) return RLC_ENOMEM;
        r->v = nv, r->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return RLC_ENOMEM;
    if (n) memcpy(c, s, n);
    c[n] = 0;
    r->v[r->n++] = c;
    return 0;
}

/* The record at t[*i]: its fields into r, *i past its line end, *line counting the lines it
 * spans. 1: a quoted field is not closed before the text ends. */
static int next_record(const char *t, size_t n, size_t *i, char delim, long *line, rec_t *r) {
    size_t k = *i;
    rlc_sbuf_t b = {0}; /* the field being read, reused for each */
    int rc = 0;
    for (;;) {
        b.len = 0;
        int quoted = k < n && t[k] == '"', closed = !quoted;
        if (quoted) k++;
        while (k < n) {
            char c = t[k];
            if (quoted && !closed) {
                if (c == '"' && k + 1 < n && t[k + 1] == '"') k++; /* "" is one quote */
                else if (c == '"') {
                    closed = 1, k++;
                    continue;
                }
                if (c == '\n') (*line)++;
            } else if (c == delim || c == '\n' || (c == '\r' && (k + 1 >= n || t[k + 1] == '\n'))) {
                break;
            }
            rlc_sbuf_add(&b, &c, 1), k++;
        }
        if (!closed) rc = 1;
        else if (b.failed) rc = RLC_ENOMEM;
        else rc = rec_add(r, b.s ? b.s : "", b.len);
        if (rc) break;
        if (k < n && t[k] == delim) {
            k++;
            continue;
        }
        if (k < n && t[k] == '\r') k++;
        if (k < n && t[k] == '\n') k++, (*line)++;
        break;
    }
    free(b.s);
    *i = k;
    return rc;
}

/* 1 when s is a JSON number literal. */
static int is_number(const char *s) {
    const char *p = s + (*s == '-');
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return 0;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == 0;
}

/* Column kinds from every record's values: 1 numbers, 0 text. */
static void column_kinds(rec_t *recs, long nrec, int ncol, int *kind) {
    for (int c = 0; c < ncol; c++) {
        int num = 1, any = 0;
        for (long k = 0; k < nrec && num; k++) {
            if (recs[k].n > ncol || c >= recs[k].n || !recs[k].v[c][0]) continue;
            any = 1;
            num &= is_number(recs[k].v[c]);
        }
        kind[c] = any && num;
    }
}

/* name's count in m, 0 when absent; and setting it. */
static int count_of(const rlc_strmap_t *m, const char *name) {
    int32_t v = rlc_strmap_get(m, name, strlen(name));
    return v < 0 ? 0 : v;
}
static int set_count(rlc_strmap_t *m, const char *name, int v) { return rlc_strmap_put(m, name, strlen(name), v); }

/* Column i's name made unique as pandas' C parser does it: while the name was seen (counts),
 * try "old.k" with the old name's count k, going on to k+1 while that name is somewhere in the
 * header as it stands (present); "a", "a", "a.1" -> "a", "a.2", "a.1". */
static int dedup_one(rec_t *h, int i, rlc_strmap_t *counts, rlc_strmap_t *present) {
    int cur = count_of(counts, h->v[i]), rc;
    if (!cur) return set_count(counts, h->v[i], 1);
    char *old = h->v[i], *col = NULL;
    while (cur > 0) {
        if ((rc = set_count(counts, old, cur + 1))) return free(col), rc;
        size_t l = strlen(old) + 24;
        free(col);
        if (!(col = malloc(l))) return RLC_ENOMEM;
        snprintf(col, l, "%s.%d", old, cur);
        cur = count_of(present, col) > 0 ? cur + 1 : count_of(counts, col);
    }
    if ((rc = set_count(present, old, count_of(present, old) - 1)) ||
        (rc = set_count(present, col, count_of(present, col) + 1)) || (rc = set_count(counts, col, cur + 1)))
        return free(col), rc;
    free(old);
    h->v[i] = col;
    return 0;
}

/* The header's names as pandas' read_csv makes them: an empty one is "Unnamed: i"; repeated
 * ones are renamed by dedup_one, named columns before unnamed ones (as pandas does, so given
 * names keep their form); linear in the header but for the renaming itself. */
static int header_names(rec_t *h) {
    rlc_strmap_t counts, present;
    int rc = rlc_strmap_init(&counts, (size_t)h->n);
    if (rc) return rc;
    if ((rc = rlc_strmap_init(&present, (size_t)h->n))) return rlc_strmap_free(&counts), rc;
    unsigned char *unnamed = rlc_calloc((size_t)h->n + 1, 1);
    if (!unnamed) rc = RLC_ENOMEM;
    for (int i = 0; !rc && i < h->n; i++) {
        char name[64];
        if (!h->v[i][0]) {
            snprintf(name, sizeof name, "Unnamed: %d", i);
            free(h->v[i]);
            if (!(h->v[i] = rlc_strdup(name))) rc = RLC_ENOMEM;
            unnamed[i] = 1;
        }
        if (!rc) rc = set_count(&present, h->v[i], count_of(&present, h->v[i]) + 1);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; !rc && i < h->n; i++)
            if (unnamed[i] == pass) rc = dedup_one(h, i, &counts, &present);
    rlc_strmap_free(&counts), rlc_strmap_free(&present);
    free(unnamed);
    return rc;
}

static cJSON *row_object(const rec_t *h, const rec_t *r, const int *kind) {
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; o && c < h->n; c++) {
        const char *s = c < r->n ? r->v[c] : "";
        cJSON *v = !*s ? cJSON_CreateNull() : kind[c] ? rlc_json_number_lit(strtod(s, NULL), s) : cJSON_CreateString(s);
        if (!v) cJSON_Delete(o), o = NULL;
        else cJSON_AddItemToObject(o, h->v[c], v);
    }
    return o;
}

/* A *.csv file's delimiter: ',' unless its header line has none but has ';' or a tab (as
 * spreadsheets in many locales write CSV). */
static char sniff(const char *t, size_t n, char delim) {
    if (delim != ',') return delim;
    int semi = 0, tab = 0;
    for (size_t i = 0; i < n && t[i] != '\n'; i++) {
        if (t[i] == ',') return ',';
        semi += t[i] == ';', tab += t[i] == '\t';
    }
    return tab > semi ? '\t' : semi ? ';' : ',';
}

int rlc_csv_parse(const char *text, size_t n, char delim, const char *path, cJSON **rows, long **lines) {
    *rows = NULL, *lines = NULL;
    size_t i = n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    delim = sniff(text + i, n - i, delim);
    long line = 1, nrec = 0, cap = 0;
    rec_t *recs = NULL;
    int rc = 0;
    while (!rc && i < n) {
        if (text[i] == '\n' || text[i] == '\r') { /* a blank line */
            line += text[i++] == '\n';
            continue;
        }
        if (nrec == cap) {
            cap = cap ? 2 * cap : 64;
            rec_t *nr = realloc(recs, sizeof *nr * (size_t)cap);
            if (!nr) {
                rc = RLC_ENOMEM;
                break;
            }
            recs = nr;
        }
        memset(&recs[nrec], 0, sizeof *recs);
        recs[nrec].line = line;
        rc = next_record(text, n, &i, delim, &line, &recs[nrec]);
        nrec++;
        if (rc == 1)
            rc = rlc_errc(RLC_EFMT, "%s:%ld: a quoted field is not closed before the file ends", path,
                          recs[nrec - 1].line);
    }
    int *kind = NULL;
    if (!rc && nrec) { /* the header's names, and the columns' kinds from the records after it */
        kind = calloc((size_t)recs[0].n, sizeof *kind);
        rc = kind ? header_names(&recs[0]) : RLC_ENOMEM;
        if (!rc) column_kinds(recs + 1, nrec - 1, recs[0].n, kind);
    }
    cJSON *out = rc ? NULL : cJSON_CreateArray();
    long *ln = rc ? NULL : malloc(sizeof *ln * (size_t)(nrec ? nrec : 1));
    if (!rc && (!out || !ln)) rc = RLC_ENOMEM;
    for (long k = 1; !rc && k < nrec; k++) {
        char why[96];
        snprintf(why, sizeof why, "a record of %d fields; the header has %d", recs[k].n, recs[0].n);
        cJSON *o = recs[k].n > recs[0].n ? cJSON_CreateString(why) : row_object(&recs[0], &recs[k], kind);
        if (!o) rc = RLC_ENOMEM;
        else cJSON_AddItemToArray(out, o), ln[k - 1] = recs[k].line;
    }
    for (long k = 0; k < nrec; k++) rec_free(&recs[k]);
    free(recs), free(kind);
    if (rc) {
        cJSON_Delete(out), free(ln);
        return rc;
    }
    *rows = out, *lines = ln;
    return 0;
}

int rlc_csv_delim(const char *path) {
    if (rlc_ends_with(path, ".csv") || rlc_ends_with(path, ".csv.gz")) return ',';
    if (rlc_ends_with(path, ".tsv") || rlc_ends_with(path, ".tsv.gz")) return '\t';
    return 0;
}
