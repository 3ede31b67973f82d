/* The row reader of every data file rlc reads (declared in core/json.h): JSON Lines, one
 * JSON array of objects, either of them gzip-compressed, or parquet (core/parquet.c).
 * Numbers keep their literal text. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/arrow_ipc.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/parquet.h"
#include "core/str.h"

/* The error of a gzip file zlib cannot read, with zlib's reason. */
static int gz_error(gzFile g, const char *path) {
    int zerr;
    const char *m = gzerror(g, &zerr);
    size_t pl = strlen(path); /* zlib's message may start with the path again */
    if (m && !strncmp(m, path, pl) && m[pl] == ':') m += pl + 1 + (m[pl + 1] == ' ');
    return rlc_errc(RLC_EFMT, "%s: not a readable gzip file (zlib: %s)", path, m && *m ? m : "error");
}

static size_t gz_limit = (size_t)2 << 30;

size_t rlc_jsonl_gz_limit(size_t bytes) {
    size_t was = gz_limit;
    gz_limit = bytes;
    return was;
}

/* The error of gzip text larger than gz_limit (a "zip bomb", or an array meant to stream):
 * line 0 stands for a JSON array. */
static int gz_too_big(const char *path, long line) {
    if (line)
        return rlc_errc(RLC_EFMT, "%s: line %ld decompresses to more than %zu MiB; refusing to hold it in memory",
                        path, line, gz_limit >> 20);
    return rlc_errc(RLC_EFMT,
                    "%s: its JSON array decompresses to more than %zu MiB; refusing to hold it in memory "
                    "(JSONL, one row a line, is read as a stream)",
                    path, gz_limit >> 20);
}

/* The rest of gzip stream g, decompressed (*out malloc'd, NUL-terminated), at most gz_limit
 * bytes. Concatenated members are read as gzip(1) reads them; a stream that ends early is an
 * error. */
static int gunzip_all(gzFile g, const char *path, char **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : RLC_ENOMEM;
    while (!rc) {
        if (len == cap) {
            size_t ncap = cap > gz_limit / 2 ? gz_limit + 1 : 2 * cap;
            char *nb = len > gz_limit ? NULL : realloc(buf, ncap + 1);
            if (!nb) {
                rc = len > gz_limit ? gz_too_big(path, 0) : RLC_ENOMEM;
                break;
            }
            buf = nb, cap = ncap;
        }
        int want = cap - len < (1u << 30) ? (int)(cap - len) : 1 << 30;
        int got = gzread(g, buf + len, (unsigned)want);
        int zerr = Z_OK;
        if (got == 0) gzerror(g, &zerr);
        if (got < 0 || zerr != Z_OK) rc = gz_error(g, path); /* Z_BUF_ERROR at the end: truncated */
        else if (got == 0) break;
        else len += (size_t)got;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

/* The offset of the first byte that is not a UTF-8 BOM or whitespace. */
static size_t first_content(const char *s, size_t n) {
    size_t i = n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i;
}

/* Reads the text in memory as one JSON array when it starts with '['. */
static void start_array(rlc_jsonl_t *r) {
    size_t k = first_content(r->text, r->text_len);
    if (k < r->text_len && r->text[k] == '[') r->array = 1, r->pos = k + 1;
}

/* A gzip file, opened once: JSONL is streamed line by line, as plain JSONL; a text that
 * starts with '[' (one JSON array) is read whole. */
static int open_gz(rlc_jsonl_t *r, const char *path) {
    gzFile g = gzopen(path, "rb");
    if (!g) return rlc_err_errno("cannot open %s", path);
    char head[4096];
    int got = gzread(g, head, sizeof head);
    int rc = got < 0 ? gz_error(g, path) : 0;
    size_t at = got > 0 ? first_content(head, (size_t)got) : 0;
    int array = !rc && at < (size_t)got && head[at] == '[';
    if (!rc && gzrewind(g)) rc = gz_error(g, path);
    if (!rc && array) rc = gunzip_all(g, path, &r->text, &r->text_len);
    if (!rc && array) start_array(r);
    if (!rc && !array) r->gz = g;
    else gzclose(g);
    return rc;
}

/* A CSV or TSV file (gzip-compressed when gz), parsed whole into rows. */
static int open_csv(rlc_jsonl_t *r, const char *path, int gz) {
    char *text = NULL;
    size_t n = 0;
    int rc;
    if (gz) {
        gzFile g = gzopen(path, "rb");
        if (!g) return rlc_err_errno("cannot open %s", path);
        rc = gunzip_all(g, path, &text, &n);
        gzclose(g);
    } else {
        rc = fs_read_all(path, &text, &n);
    }
    if (!rc && memchr(text, 0, n))
        rc = rlc_errc(RLC_EFMT, "%s: binary content, not CSV text", path);
    if (!rc) rc = rlc_csv_parse(text, n, (char)rlc_csv_delim(path), path, &r->rows, &r->row_lines);
    free(text);
    return rc;
}

/* Opens one file of rows (its kind told by its first bytes, or a *.csv / *.tsv name) into
 * r's per-file state. */
static int open_one(rlc_jsonl_t *r, const char *path) {
    r->path = rlc_strdup(path);
    if (!r->path) return RLC_ENOMEM;
    FILE *f = fopen(path, "rb");
    if (!f) return rlc_err_errno("cannot open %s", path);
    unsigned char head[4096];
    size_t got = fread(head, 1, sizeof head, f);
    int gz = got >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    size_t at = first_content((const char *)head, got);
    int rc = 0;
    if (rlc_parquet_is(head, got) || rlc_arrow_is(head, got)) {
        fclose(f);
        rc = rlc_parquet_is(head, got) ? rlc_parquet_read(path, &r->rows) : rlc_arrow_read(path, &r->rows);
    } else if (rlc_csv_delim(path)) {
        fclose(f);
        rc = open_csv(r, path, gz);
    } else if (gz) {
        fclose(f);
        rc = open_gz(r, path);
    } else if (at < got && head[at] == '[') { /* one JSON array: the whole text in memory */
        fclose(f);
        rc = fs_read_all(path, &r->text, &r->text_len);
        if (!rc) start_array(r);
    } else if (memchr(head, 0, got)) { /* JSON text holds no NUL byte */
        fclose(f);
        rc = rlc_errc(RLC_EFMT, "%s: binary content, not a data file (JSONL, JSON, CSV, parquet, Arrow or gzip)", path);
    } else {
        rewind(f);
        r->f = f;
    }
    return rc;
}

/* Frees the per-file state, keeping a directory's file list. */
static void close_one(rlc_jsonl_t *r) {
    if (r->f) fclose(r->f);
    if (r->gz) gzclose(r->gz);
    free(r->line);
    free(r->path);
    free(r->text);
    cJSON_Delete(r->rows);
    free(r->row_lines);
    char **files = r->files;
    int nfiles = r->nfiles, fi = r->fi;
    memset(r, 0, sizeof *r);
    r->files = files, r->nfiles = nfiles, r->fi = fi;
}

/* 2 for a columnar shard (*.parquet, *.arrow, *.feather, *.arrows), 1 for another data
 * file, 0 for the rest. */
static int data_file_kind(const char *name) {
    static const char *const ext[] = {".parquet", ".arrow", ".feather", ".arrows", /* columnar first */
                                      ".jsonl",   ".json",  ".ndjson",  ".gz",     ".csv", ".tsv"};
    if (name[0] == '.') return 0; /* hidden: so a name is never the bare extension */
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (rlc_ends_with(name, ext[i])) return i < 4 ? 2 : 1;
    return 0;
}

/* A directory's data files, by name (its shards in order). */
/* A Hugging Face DatasetDict (save_to_disk of several splits) is no data set itself: the
 * error names its splits and the directory to give instead. 0 for any other directory. */
static int dataset_dict(const char *dir) {
    char *p = fs_join(dir, "dataset_dict.json");
    cJSON *j = p && fs_exists(p) ? rlc_json_load_file(p) : NULL;
    free(p);
    if (!j) return 0;
    char splits[200] = "";
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "splits");
    for (const cJSON *e = cJSON_IsArray(sp) ? sp->child : NULL; e; e = e->next)
        if (cJSON_IsString(e) && strlen(splits) + strlen(e->valuestring) + 3 < sizeof splits)
            snprintf(splits + strlen(splits), sizeof splits - strlen(splits), "%s%s", splits[0] ? ", " : "",
                     e->valuestring);
    const cJSON *first = cJSON_IsArray(sp) && cJSON_IsString(sp->child) ? sp->child : NULL;
    int rc = rlc_errc(RLC_EINVAL, "%s is a Hugging Face DatasetDict (splits: %s): give one split's directory, e.g. "
                                  "%s/%s",
                      dir, splits[0] ? splits : "none listed", dir, first ? first->valuestring : "train");
    cJSON_Delete(j);
    return rc;
}

static int list_dir(rlc_jsonl_t *r, const char *dir) {
    int dd = dataset_dict(dir);
    if (dd) return dd;
    DIR *d = opendir(dir);
    if (!d) return rlc_err_errno("cannot open %s", dir);
    int rc = 0, cap = 0, columnar = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        int kind = data_file_kind(e->d_name);
        if (!kind || kind < columnar) continue;
        char *p = fs_join(dir, e->d_name);
        if (p && fs_is_dir(p)) {
            free(p);
            continue;
        }
        if (r->nfiles == cap) {
            cap = cap ? 2 * cap : 16;
            char **nf = realloc(r->files, sizeof *nf * (size_t)cap);
            if (!nf) rc = RLC_ENOMEM;
            else r->files = nf;
        }
        if (!p) rc = RLC_ENOMEM;
        if (!rc && kind > columnar) { /* columnar shards: the JSON files beside them are metadata */
            for (int i = 0; i < r->nfiles; i++) free(r->files[i]);
            r->nfiles = 0, columnar = kind;
        }
        if (rc) free(p);
        else r->files[r->nfiles++] = p;
    }
    closedir(d);
    if (!rc && !r->nfiles)
        rc = rlc_errc(RLC_EINVAL, "%s: a directory with no data files (*.jsonl, *.json, *.ndjson, *.gz, *.parquet, "
                                  "*.arrow, *.feather, *.csv, *.tsv)",
                      dir);
    if (!rc) qsort(r->files, (size_t)r->nfiles, sizeof *r->files, rlc_cmp_str);
    return rc;
}

int rlc_jsonl_open(rlc_jsonl_t *r, const char *path) {
    memset(r, 0, sizeof *r);
    int rc = fs_is_dir(path) ? list_dir(r, path) : 0;
    if (!rc) rc = open_one(r, r->files ? r->files[0] : path);
    if (rc) rlc_jsonl_close(r);
    return rc;
}

/* One row's text (a line, or an array element) to an object; errors name PATH:N. */
static int parse_row(const rlc_jsonl_t *r, const char *s, size_t len, cJSON **out) {
    if (memchr(s, 0, len)) return rlc_errc(RLC_EFMT, "%s:%ld: NUL byte in line", r->path, r->lineno);
    enum { CAP = 256 };
    size_t starts[CAP], lens[CAP];
    int nul, found = rlc_json_scan(s, len, starts, lens, CAP, &nul);
    if (nul)
        return rlc_errc(RLC_EFMT, "%s:%ld: a string holds \\u0000 (a NUL character, which would cut its text)",
                        r->path, r->lineno);
    char what[512];
    snprintf(what, sizeof what, "%s:%ld", r->path, r->lineno);
    cJSON *j = rlc_json_parse(s, len, what);
    if (!j) return RLC_EFMT;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rlc_errc(RLC_EFMT, "%s:%ld: expected a JSON object", r->path, r->lineno);
    }
    rlc_json_keep_literals(j, s, starts, lens, CAP, found);
    *out = j;
    return 1;
}

/* The end of the JSON value starting at s[i] (strings and nesting skipped): the offset of the
 * ',' or ']' that closes it at the top level, or n when the text ends first. */
static size_t element_end(const char *s, size_t i, size_t n) {
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || (c == ']' && depth > 0)) {
            depth--;
        } else if (depth == 0 && (c == ',' || c == ']')) {
            return i;
        }
    }
    return n;
}

/* The next element of a top-level array; its 1-based index stands for the line number. A
 * trailing comma before the ']' is accepted. */
static int next_element(rlc_jsonl_t *r, cJSON **out) {
    const char *s = r->text;
    size_t n = r->text_len;
    if (r->array == 2) return 0;
    size_t i = r->pos + first_content(s + r->pos, n - r->pos);
    if (i < n && s[i] == ']') {
        r->array = 2;
        i++;
        i += first_content(s + i, n - i);
        return i < n ? rlc_errc(RLC_EFMT, "%s: text after the closing ']' of the JSON array", r->path) : 0;
    }
    r->lineno++;
    if (i >= n) {
        r->array = 2;
        return rlc_errc(RLC_EFMT, "%s: the JSON array is not closed (no ']')", r->path);
    }
    size_t end = element_end(s, i, n), len = end - i;
    while (len && (s[i + len - 1] == ' ' || s[i + len - 1] == '\n' || s[i + len - 1] == '\r' || s[i + len - 1] == '\t'))
        len--;
    r->pos = end < n && s[end] == ',' ? end + 1 : end;
    if (!len) return rlc_errc(RLC_EFMT, "%s:%ld: an empty element in the JSON array", r->path, r->lineno);
    return parse_row(r, s + i, len, out);
}

/* The next line of the text held in memory (a decompressed JSONL file). */
static ssize_t text_line(rlc_jsonl_t *r) {
    if (r->pos >= r->text_len) return -1;
    const char *s = r->text + r->pos, *e = memchr(s, '\n', r->text_len - r->pos);
    size_t len = e ? (size_t)(e - s) + 1 : r->text_len - r->pos;
    if (len + 1 > r->cap) {
        char *nl = realloc(r->line, len + 1);
        if (!nl) return -2;
        r->line = nl, r->cap = len + 1;
    }
    memcpy(r->line, s, len);
    r->line[len] = 0;
    r->pos += len;
    return (ssize_t)len;
}

static int next_in_file(rlc_jsonl_t *r, cJSON **out);

/* The next line of a gzip-compressed JSONL file (getline's contract: -1 at the end, -2 out
 * of memory, -3 damaged data, -4 a line longer than gz_limit). */
static ssize_t gz_line(rlc_jsonl_t *r) {
    size_t len = 0;
    for (;;) {
        if (r->cap - len < 2) {
            if (len > gz_limit) return -4;
            size_t cap = r->cap ? 2 * r->cap : 256;
            char *nl = realloc(r->line, cap);
            if (!nl) return -2;
            r->line = nl, r->cap = cap;
        }
        int want = r->cap - len < (1u << 30) ? (int)(r->cap - len) : 1 << 30;
        if (!gzgets(r->gz, r->line + len, want)) {
            int zerr;
            gzerror(r->gz, &zerr);
            if (zerr != Z_OK) return -3; /* Z_BUF_ERROR: the stream ends early (truncated) */
            return len ? (ssize_t)len : -1;
        }
        len += strlen(r->line + len);
        if (len && r->line[len - 1] == '\n') return (ssize_t)len;
    }
}

int rlc_jsonl_next(rlc_jsonl_t *r, cJSON **out) {
    for (;;) {
        int rc = next_in_file(r, out);
        if (rc || !r->files || r->fi + 1 >= r->nfiles) return rc;
        close_one(r); /* the directory's next file */
        r->fi++;
        if ((rc = open_one(r, r->files[r->fi]))) return rc;
    }
}

static int next_in_file(rlc_jsonl_t *r, cJSON **out) {
    *out = NULL;
    if (!r->path) return 0; /* a file of a directory that failed to open */
    if (r->rows) { /* a parquet file's rows */
        if (!r->rows->child) return 0;
        r->lineno++;
        *out = cJSON_DetachItemViaPointer(r->rows, r->rows->child);
        if (r->row_lines) r->lineno = r->row_lines[r->row_i++];
        if (!cJSON_IsString(*out)) return 1;
        int rc = rlc_errc(RLC_EFMT, "%s:%ld: %s", r->path, r->lineno, (*out)->valuestring); /* a malformed record */
        cJSON_Delete(*out);
        *out = NULL;
        return rc;
    }
    if (r->array) return next_element(r, out);
    for (;;) {
        ssize_t n = r->f ? getline(&r->line, &r->cap, r->f) : r->gz ? gz_line(r) : text_line(r);
        if (n == -2) return RLC_ENOMEM;
        if (n == -3 || n == -4) { /* reported once; the file then ends */
            gzclose(r->gz);
            r->gz = NULL;
            if (n == -4) return gz_too_big(r->path, r->lineno + 1);
            return rlc_errc(RLC_EIO, "%s: damaged or truncated gzip data after line %ld", r->path, r->lineno);
        }
        if (n < 0) {
            if (r->f && ferror(r->f)) return rlc_err_errno("read %s failed", r->path);
            return 0;
        }
        r->lineno++;
        size_t len = (size_t)n;
        while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) len--;
        size_t i = 0;
        while (i < len && (r->line[i] == ' ' || r->line[i] == '\t')) i++;
        if (i == len) continue; /* blank line */
        return parse_row(r, r->line, len, out);
    }
}

void rlc_jsonl_close(rlc_jsonl_t *r) {
    close_one(r);
    for (int i = 0; i < r->nfiles; i++) free(r->files[i]);
    free(r->files);
    memset(r, 0, sizeof *r);
}
