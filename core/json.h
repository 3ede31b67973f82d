/* JSON on top of cJSON: parsing with line:column errors, typed field getters that name
 * the field in their errors, a JSONL reader that reports line numbers, and a check for
 * unknown keys (rlc's own config files reject typos instead of ignoring them). */
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Parse `len` bytes; on error returns NULL and sets "<what>: malformed JSON at line L col C"
 * (or names the trailing text, or a key that one object holds twice). */
cJSON *rlc_json_parse(const char *text, size_t len, const char *what);
cJSON *rlc_json_load_file(const char *path);
/* The same, with every number keeping its literal text (valuestring, as the row reader gives
 * them): rlc_json_print writes 50.0 back as 50.0, not 50, which Python would read as an int
 * (transformers' typed configs refuse an int where a float is declared). */
cJSON *rlc_json_parse_lit(const char *text, size_t len, const char *what);
cJSON *rlc_json_load_file_lit(const char *path);
/* One pass over a JSON text: the number of number literals, their spans in document order
 * (into starts/lens when not NULL, up to cap), and *nul = whether a string holds the escape
 * \u0000 (a NUL that would cut a C string). */
int rlc_json_scan(const char *s, size_t n, size_t *starts, size_t *lens, int cap, int *nul);
/* Give the number items under root, in document order, the literals rlc_json_scan found
 * (nothing when found > cap or the counts disagree; cJSON frees them with the items), so
 * "0.1" or 9007199254740993 reach graders, records and rewritten files as written. */
void rlc_json_keep_literals(cJSON *root, const char *s, const size_t *starts, const size_t *lens, int cap, int found);

/* Getters: return 0 on success; RLC_EINVAL with "<what>: field 'key' ..." when the key is
 * present with the wrong type; when absent return 1 (and leave *out) unless `required`,
 * in which case it is an error. */
int rlc_json_get_int(const cJSON *obj, const char *key, long long *out, int required, const char *what);
int rlc_json_get_num(const cJSON *obj, const char *key, double *out, int required, const char *what);
int rlc_json_get_bool(const cJSON *obj, const char *key, int *out, int required, const char *what);
/* *out points into the cJSON tree (valid while obj lives). */
int rlc_json_get_str(const cJSON *obj, const char *key, const char **out, int required, const char *what);

/* Fail with "<what>: unknown key 'k'" if obj has a key not in `allowed` (NULL-terminated). */
int rlc_json_check_keys(const cJSON *obj, const char *const *allowed, const char *what);

/* A NUL-terminated, valid UTF-8 copy of n bytes: invalid or truncated sequences become
 * U+FFFD (generated text can end inside a multi-byte character). Caller frees. */
char *rlc_utf8_dup_valid(const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8 holding no NUL (text a JSON string can carry whole). */
int rlc_utf8_is_text(const char *s, size_t n);

/* Values built from binary columns (parquet, Arrow), as the JSONL reader would give them:
 * a number carrying its literal text (valuestring; rlc_json_text and rlc_json_print use it);
 * a float with the shortest literal that reads back as d (as a float when single, whose
 * value is then the literal's, so 0.001f is 0.001 however it is read or printed), null
 * when d is not finite; a string of the n bytes at s when they are text, else null with
 * *nontext counted. NULL only when out of memory. */
cJSON *rlc_json_number_lit(double d, const char *lit);
cJSON *rlc_json_float(double d, int single);
cJSON *rlc_json_bytes(const char *s, size_t n, long *nontext);
/* A decimal: the two's-complement integer in n bytes (big-endian when be, else little-endian)
 * divided by 10^scale, as a number with its exact literal ("-0.05"); null when n > 32 or
 * the scale is outside 0..76. NULL only when out of memory. */
cJSON *rlc_json_decimal(const uint8_t *bytes, size_t n, int be, int scale);
/* cJSON_AddStringToObject with rlc_utf8_dup_valid applied first. */
cJSON *rlc_json_add_text(cJSON *obj, const char *key, const char *s, size_t n);
/* A value as text (malloc'd): a string as it is, a number as written in the JSONL source
 * when the reader kept its literal, else as an integer when integral (an AIME "answer":
 * 204) or %.17g; NULL for anything else (or out of memory). */
char *rlc_json_text(const cJSON *v);

/* Chat messages whose "content" is a list of parts (OpenAI's and TRL's
 * [{"type": "text", "text": "..."}], extra keys such as a null "image" allowed) get that
 * content as one string: the texts joined with "\n", as vLLM gives templates that read text.
 * In place, over an array of messages or one message object; 0, or 1 with *why set (not an
 * array of objects, a part that is not text, an empty list), or RLC_ENOMEM. String contents
 * and other fields are left as they are. */
int rlc_json_flatten_content(cJSON *messages, const char **why);

/* Print compactly into a malloc'd string (caller frees), deterministic key order = insertion. */
char *rlc_json_print(const cJSON *obj, int pretty);

/* Append obj as one compact JSON line to an atomic writer (core/fs.h). */
struct fs_atomic_s;
int rlc_json_write_line(struct fs_atomic_s *a, const cJSON *obj);

/* Row reader (core/jsonl.c): JSON Lines (one object per non-blank line), or one JSON array
 * of objects (the file's first character is '['; an element's 1-based index stands for its
 * line number in messages), either of them gzip-compressed (recognised by its magic bytes,
 * whatever the name), or a parquet file (core/parquet.h; a row's 1-based index is its line).
 * A directory stands for its data files (*.jsonl, *.json, *.ndjson, *.gz, *.parquet, *.arrow,
 * *.feather, *.arrows) read in name order, as a dataset's shards (only its columnar ones when it holds
 * such: save_to_disk's JSON files beside them are metadata); path and lineno then follow the
 * current file. An Arrow IPC file (core/arrow_ipc.h) reads as parquet does; a *.csv or
 * *.tsv file (core/csv.h; gzip-compressed too) by its header, a record's first line its line.
 * A number keeps its literal text in its item's valuestring (rlc_json_text returns it), and
 * a string holding \u0000 makes the row malformed (it would silently cut the text). */
typedef struct {
    FILE *f;  /* JSONL streamed from the file; NULL when the text is held in memory */
    void *gz; /* gzip-compressed JSONL, streamed (a zlib gzFile) */
    char *path;
    char *line;
    size_t cap;
    long lineno;
    char *text; /* the whole text: a JSON array, or a decompressed file */
    size_t text_len, pos;
    int array; /* 1: reading a top-level array's elements, 2: it ended */
    cJSON *rows; /* a parquet, Arrow or CSV file's rows, not yet returned */
    long *row_lines, row_i; /* CSV: the line each row starts on (rows then may hold error strings) */
    char **files; /* a directory's data files, read one after another; path is the current one */
    int nfiles, fi;
} rlc_jsonl_t;

int rlc_jsonl_open(rlc_jsonl_t *r, const char *path);
/* Returns 1 with *out set (caller deletes), 0 at EOF, negative on I/O or parse error with
 * "<path>:<line>: ..." in the message; after a parse error reading may continue. */
int rlc_jsonl_next(rlc_jsonl_t *r, cJSON **out);
void rlc_jsonl_close(rlc_jsonl_t *r);
/* The most text a gzip-compressed JSON array, or one line of gzip JSONL, may decompress to
 * (2 GiB): past it reading ends with an error instead of exhausting memory (a "zip bomb").
 * Returns the previous bound; tests lower it. */
size_t rlc_jsonl_gz_limit(size_t bytes);
