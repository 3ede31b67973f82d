/* Datasets: JSONL problem sets with per-profile field mapping (MATH-500, AIME in both
 * spellings, GSM8K, custom keys), rows with a stable id and JSON metadata, and a seeded
 * iterator that shuffles, shards by rank and resumes exactly from a saved cursor.
 * Depends only on core/. Owns: rows, their strings and metadata. */
#pragma once
#include <cjson/cJSON.h>
#include <stdint.h>

/* A chat message; same layout as tokenizer/'s tok_msg_t so arrays can be handed over. */
typedef struct {
    const char *role;
    const char *content;
} data_msg_t;

typedef struct {
    char *id;       /* stable: the profile's id field, else "<file basename>:<line>" */
    char *problem;  /* question text (a chat prompt's: its last user message) */
    /* The prompt as chat messages, when the data gives it so (verl's "prompt": [{"role",
     * "content"}, ...]): rendered with the chat template as they are; else NULL. Owned. */
    cJSON *messages;
    char *answer;   /* gold answer (GSM8K: the text after "####", commas removed) */
    char *solution; /* reference solution or NULL */
    cJSON *meta;    /* owned; always holds "id" and "answer", plus "subject", "level", task fields */
    long line;      /* 1-based source line, 0 for generated rows */
    /* The prompt as token ids, once data_encode_all (data/encode.h) has run; else NULL. */
    int32_t *prompt_ids;
    int n_prompt_ids;
    const char *format; /* the template's answer format (static string) */
} data_row_t;

typedef struct {
    data_row_t *rows;
    int n, cap;
} data_set_t;

typedef struct {
    const char *profile;      /* "math500", "aime", "gsm8k", "custom" or "auto" (NULL = auto) */
    const char *prompt_key;   /* overrides the profile's field names (custom needs both) */
    const char *answer_key;
    const char *id_key;
    const char *solution_key;
    int strict;               /* 1: the first malformed line is a fatal error; 0: warn and skip */
    long limit;               /* keep at most this many rows (0 = all) */
    char *fields;             /* if set: the first row's field names, comma-separated (rlc data) */
    size_t fields_cap;
} data_load_opts_t;

/* Load a JSONL file. A field name may be a dotted path into nested objects
 * ("reward_model.ground_truth"); the prompt field may hold text or chat messages. Malformed
 * lines (bad JSON, not an object, missing or non-text problem/answer, messages without a
 * user turn) are reported as "<path>:<line>: ..." (LOG_WARN) and skipped, counted in
 * *n_skipped (may be NULL), or fatal when o->strict. A file with no usable row is an error. */
int data_load_jsonl(const char *path, const data_load_opts_t *o, data_set_t *out, long *n_skipped);

/* How skipped rows are reported, one policy for every reader (loading, encoding, SFT,
 * rlc grade): data_bad_row warns "<where: reason>; row skipped" for the first
 * DATA_BAD_SHOWN and counts every one; data_bad_total then says how many were skipped in
 * all when some went unshown. */
enum { DATA_BAD_SHOWN = 5 };
void data_bad_row(long *count, const char *where_reason);
void data_bad_total(const char *path, long count);

/* Names of the built-in profiles, NULL-terminated. */
extern const char *const data_profiles[];
/* Chat messages from JSON: a non-empty array of {"role": string, "content": string} objects
 * with at least one user turn. Returns the content of the last user message (borrowed from
 * arr), or NULL with why set (a short reason). */
const char *data_messages_check(const cJSON *arr, const char **why);

/* Append a row (takes copies of the strings; meta is deep-copied, may be NULL). */
int data_set_add(data_set_t *ds, const char *id, const char *problem, const char *answer, const char *solution,
                 const cJSON *meta);
/* Release one row's strings, metadata and prompt ids (the row is zeroed). */
void data_row_free(data_row_t *r);
/* Drop rows whose problem text also occurs in `other` (held-out sets that must be unseen). */
int data_set_exclude(data_set_t *ds, const data_set_t *other, long *removed);
/* Put `pre` and a blank line before every row's problem (a tool description, say), and
 * before the first user message of a chat prompt; before the rows are encoded. */
int data_set_prefix_problems(data_set_t *ds, const char *pre);
/* Write rows as JSONL {"id","problem","answer","solution", ...meta} (a chat prompt as
 * "prompt": its messages, instead of "problem"); atomic. */
int data_set_write_jsonl(const data_set_t *ds, const char *path);
void data_set_free(data_set_t *ds);

/* ---- iteration: shuffle per epoch (Philox keyed by seed and epoch), shard by rank ---- */
typedef struct {
    long epoch, pos; /* pos counts this rank's rows already returned in the epoch */
} data_cursor_t;

typedef struct {
    const data_set_t *ds;
    uint64_t seed;
    int shuffle, rank, world;
    long per_rank; /* rows each rank sees per epoch: n / world (the remainder is skipped) */
    long epoch, pos;
    uint32_t *perm; /* the global order of the current epoch */
} data_iter_t;

/* Rank r of `world` takes positions r, r + world, r + 2*world, ... of the epoch's global
 * order, so for any world size the ranks together see the same sequence as one process. */
int data_iter_init(data_iter_t *it, const data_set_t *ds, uint64_t seed, int shuffle, int rank, int world);
/* Next row; wraps into the next epoch (reshuffled). Never NULL after a successful init. */
const data_row_t *data_iter_next(data_iter_t *it);
data_cursor_t data_iter_cursor(const data_iter_t *it);
/* Continue from a saved cursor (validated against the dataset). */
int data_iter_seek(data_iter_t *it, data_cursor_t c);
void data_iter_free(data_iter_t *it);

/* {"epoch": e, "pos": p, "rows": n} for trainer state, and back (checks "rows" == n_rows). */
cJSON *data_cursor_json(data_cursor_t c, long n_rows);
int data_cursor_from_json(const cJSON *j, long n_rows, data_cursor_t *out);
