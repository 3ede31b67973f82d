/* JSONL problem sets: profile field mapping, malformed-line policy, row storage, and the
 * shuffling / sharding iterator with an exact-resume cursor. */
#include "data/dataset.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/philox.h"
#include "core/str.h"

typedef struct {
    const char *name;
    const char *prompt[5], *answer[6], *id[4], *solution[3];
} profile_t;

#define NKEYS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Field spellings per profile, first present wins. "auto" accepts all of them. */
static const profile_t PROFILES[] = {
    {"math500", {"problem"}, {"answer"}, {"unique_id", "id"}, {"solution"}},
    {"aime", {"problem", "Problem", "Question", "question"}, {"answer", "Answer"}, {"id", "ID"},
     {"solution", "Solution"}},
    {"gsm8k", {"question"}, {"answer"}, {"id"}, {NULL}},
    {"verl", {"prompt"}, {"reward_model.ground_truth"}, {"extra_info.index", "id"}, {NULL}},
    {"custom", {NULL}, {NULL}, {"id"}, {NULL}},
    {"auto",
     {"problem", "Problem", "question", "Question", "prompt"},
     /* no answer field but a solution (TRL's NuminaMath-style data): the solution is the gold,
      * whose final answer the grader reads as it reads a completion's */
     {"answer", "Answer", "final_answer", "reward_model.ground_truth", "solution"},
     {"unique_id", "id", "ID"},
     {"solution", "Solution"}},
};

const char *const data_profiles[] = {"math500", "aime", "gsm8k", "verl", "custom", "auto", NULL};

static const profile_t *find_profile(const char *name) {
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++)
        if (!strcmp(PROFILES[i].name, name)) return &PROFILES[i];
    return NULL;
}

/* obj's value at key: the key itself, or else a dotted path through nested objects. */
static const cJSON *lookup(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v || !strchr(key, '.')) return v;
    char part[256];
    for (const char *p = key; obj && *p;) {
        size_t n = strcspn(p, ".");
        if (!n || n >= sizeof part) return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, part) : NULL;
        p += n + (p[n] == '.');
    }
    return obj;
}

/* First key of `keys` present in obj (or the override when given). */
static const cJSON *field(const cJSON *obj, const char *override, const char *const *keys, int nkeys,
                          const char **which) {
    if (override) {
        *which = override;
        return lookup(obj, override);
    }
    for (int i = 0; i < nkeys && keys[i]; i++) {
        const cJSON *v = lookup(obj, keys[i]);
        if (v && !cJSON_IsNull(v)) {
            *which = keys[i];
            return v;
        }
    }
    *which = keys[0] ? keys[0] : "?";
    return NULL;
}

static char *trim_dup(const char *b, const char *e) {
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    char *s = rlc_malloc((size_t)(e - b) + 1);
    if (!s) return NULL;
    memcpy(s, b, (size_t)(e - b));
    s[e - b] = 0;
    return s;
}

static int grow(data_set_t *ds) {
    if (ds->n < ds->cap) return 0;
    int nc = ds->cap ? ds->cap * 2 : 64;
    data_row_t *r = rlc_realloc(ds->rows, sizeof *r * (size_t)nc);
    if (!r) return RLC_ENOMEM;
    ds->rows = r;
    ds->cap = nc;
    return 0;
}

void data_row_free(data_row_t *r) {
    free(r->prompt_ids);
    free(r->id);
    free(r->problem);
    free(r->answer);
    free(r->solution);
    cJSON_Delete(r->meta);
    cJSON_Delete(r->messages);
    memset(r, 0, sizeof *r);
}

int data_set_add(data_set_t *ds, const char *id, const char *problem, const char *answer, const char *solution,
                 const cJSON *meta) {
    if (!id || !problem || !answer) return rlc_errc(RLC_EINVAL, "data_set_add: id, problem and answer are required");
    if (grow(ds)) return RLC_ENOMEM;
    data_row_t r = {0};
    r.id = rlc_strdup(id);
    r.problem = rlc_strdup(problem);
    r.answer = rlc_strdup(answer);
    r.solution = solution ? rlc_strdup(solution) : NULL;
    r.meta = meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateObject();
    if (!r.id || !r.problem || !r.answer || (solution && !r.solution) || !r.meta) {
        data_row_free(&r);
        return rlc_errc(RLC_ENOMEM, "out of memory adding a dataset row");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r.meta, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(r.meta, "answer");
    if (!cJSON_AddStringToObject(r.meta, "id", id) || !cJSON_AddStringToObject(r.meta, "answer", answer)) {
        data_row_free(&r);
        return rlc_errc(RLC_ENOMEM, "out of memory adding a dataset row");
    }
    ds->rows[ds->n++] = r;
    return 0;
}

const char *data_messages_check(const cJSON *arr, const char **why) {
    const char *last = NULL;
    *why = "not a non-empty array of messages";
    if (!cJSON_IsArray(arr) || !arr->child) return NULL;
    for (const cJSON *m = arr->child; m; m = m->next) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role"), *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role) || !cJSON_IsString(c)) {
            *why = "a message is not {\"role\": string, \"content\": string}";
            return NULL;
        }
        if (!strcmp(role->valuestring, "user")) last = c->valuestring;
    }
    *why = last && last[0] ? NULL : "no user message with text";
    return *why ? NULL : last;
}

/* One JSON object -> a row. Returns 0, 1 (malformed: message set), or a negative error. */
static int row_from_json(const cJSON *obj, const profile_t *pf, const data_load_opts_t *o, const char *path,
                         const char *base, long line, data_set_t *ds) {
    const char *pk, *ak, *ik, *sk;
    const cJSON *pv = field(obj, o->prompt_key, pf->prompt, NKEYS(pf->prompt), &pk);
    const cJSON *av = field(obj, o->answer_key, pf->answer, NKEYS(pf->answer), &ak);
    const cJSON *iv = field(obj, o->id_key, pf->id, NKEYS(pf->id), &ik);
    const cJSON *sv = field(obj, o->solution_key, pf->solution, NKEYS(pf->solution), &sk);
    const char *problem = pv && cJSON_IsString(pv) ? pv->valuestring : NULL, *why = NULL;
    cJSON *msgs = NULL; /* a chat prompt, its content parts joined */
    if (cJSON_IsArray(pv)) {
        int f = (msgs = cJSON_Duplicate(pv, 1)) ? rlc_json_flatten_content(msgs, &why) : RLC_ENOMEM;
        if (f || !(problem = data_messages_check(msgs, &why))) {
            cJSON_Delete(msgs);
            if (f < 0) return rlc_errc(f, "out of memory loading %s", path);
            rlc_errc(RLC_EFMT, "%s:%ld: chat prompt in field '%s': %s", path, line, pk, why);
            return 1;
        }
    }
    if (!problem || !problem[0]) {
        rlc_errc(RLC_EFMT, "%s:%ld: %s text field '%s' (profile %s)", path, line, pv ? "non-text or empty" : "missing",
                 pk, pf->name);
        return 1;
    }
    char *ans = av ? rlc_json_text(av) : NULL;
    if (!ans) {
        cJSON_Delete(msgs);
        rlc_errc(RLC_EFMT, "%s:%ld: %s answer field '%s' (profile %s)", path, line, av ? "non-text" : "missing", ak,
                 pf->name);
        return 1;
    }
    char *sol = sv && cJSON_IsString(sv) ? rlc_strdup(sv->valuestring) : NULL;
    /* GSM8K: the answer field is the worked solution ending in "#### 42" */
    const char *hash = rlc_last_in(ans, ans + strlen(ans), "####"); /* the last: what follows it is the answer */
    if (hash && (!strcmp(pf->name, "gsm8k") || (!strcmp(pf->name, "auto") && !strcmp(ak, "answer")))) {
        char *g = trim_dup(hash + 4, ans + strlen(ans));
        char *s = trim_dup(ans, hash);
        if (!g || !s) {
            free(g), free(s), free(ans), free(sol);
            cJSON_Delete(msgs);
            return RLC_ENOMEM;
        }
        size_t k = 0;
        for (char *p = g; *p; p++)
            if (*p != ',') g[k++] = *p;
        g[k] = 0;
        free(ans);
        ans = g;
        if (!sol) sol = s;
        else free(s);
    }
    if (!ans[0]) {
        free(ans), free(sol);
        cJSON_Delete(msgs);
        rlc_errc(RLC_EFMT, "%s:%ld: empty answer in field '%s'", path, line, ak);
        return 1;
    }
    char *id = iv ? rlc_json_text(iv) : NULL;
    if (!id) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s:%ld", base, line);
        id = rlc_strdup(tmp);
    }
    cJSON *meta = cJSON_Duplicate(obj, 1);
    int rc = 0;
    if (!id || !meta) rc = rlc_errc(RLC_ENOMEM, "out of memory loading %s", path);
    if (!rc) {
        /* the long texts live in the row, not twice in the metadata */
        cJSON_DeleteItemFromObjectCaseSensitive(meta, pk);
        if (sv) cJSON_DeleteItemFromObjectCaseSensitive(meta, sk);
        cJSON_DeleteItemFromObjectCaseSensitive(meta, ak);
        rc = data_set_add(ds, id, problem, ans, sol, meta);
        if (!rc) ds->rows[ds->n - 1].line = line;
        if (!rc) {
            ds->rows[ds->n - 1].messages = msgs;
            msgs = NULL;
        }
    }
    cJSON_Delete(msgs);
    cJSON_Delete(meta);
    free(id), free(ans), free(sol);
    return rc;
}

/* A row's field names, comma-separated, an object's members as dotted paths (the form
 * --prompt-key takes), within cap (cut with "..."). 1 once the buffer is full. */
static int field_names(const cJSON *obj, const char *prefix, char *buf, size_t cap) {
    for (const cJSON *e = obj->child; e && e->string; e = e->next) {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", e->string);
        if (cJSON_IsObject(e) && e->child && *prefix == 0) {
            if (field_names(e, path, buf, cap)) return 1;
            continue;
        }
        size_t n = strlen(buf), l = strlen(path);
        if (n + l + 6 >= cap) {
            snprintf(buf + n, cap - n, "%s...", n ? ", " : "");
            return 1;
        }
        snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", path);
    }
    return 0;
}

void data_bad_row(long *count, const char *where_reason) {
    if ((*count)++ < DATA_BAD_SHOWN) LOG_WARN("%s; row skipped", where_reason);
}

void data_bad_total(const char *path, long count) {
    if (count > DATA_BAD_SHOWN)
        LOG_WARN("%s: %ld bad row(s) skipped in all (the first %d shown)", path, count, (int)DATA_BAD_SHOWN);
}

int data_load_jsonl(const char *path, const data_load_opts_t *opts, data_set_t *out, long *n_skipped) {
    data_load_opts_t def = {0};
    const data_load_opts_t *o = opts ? opts : &def;
    memset(out, 0, sizeof *out);
    if (n_skipped) *n_skipped = 0;
    const char *pname = o->profile ? o->profile : "auto";
    const profile_t *pf = find_profile(pname);
    if (!pf)
        return rlc_errc(RLC_EINVAL, "unknown dataset profile '%s' (math500, aime, gsm8k, verl, custom, auto)", pname);
    if (!strcmp(pname, "custom") && (!o->prompt_key || !o->answer_key))
        return rlc_errc(RLC_EINVAL, "profile custom needs --prompt-key and --answer-key");
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    long skipped = 0;
    char fields[240] = ""; /* the first row's fields, to name when no row is usable */
    for (;;) {
        if (o->limit > 0 && out->n >= o->limit) break;
        cJSON *obj = NULL;
        rc = rlc_jsonl_next(&r, &obj);
        if (rc == 0) break;
        if (rc < 0) {
            if (rc == RLC_EIO || o->strict || !r.lineno) goto fail; /* the file itself, not one of its rows */
            data_bad_row(&skipped, rlc_errmsg());
            continue;
        }
        const char *base = strrchr(r.path, '/'); /* the current file (a directory's shard) */
        rc = row_from_json(obj, pf, o, r.path, base ? base + 1 : r.path, r.lineno, out);
        if (!fields[0] && cJSON_IsObject(obj)) field_names(obj, "", fields, sizeof fields);
        cJSON_Delete(obj);
        if (rc < 0) goto fail;
        if (rc == 1) {
            if (o->strict) {
                rc = RLC_EFMT;
                goto fail;
            }
            data_bad_row(&skipped, rlc_errmsg());
        }
    }
    rlc_jsonl_close(&r);
    if (n_skipped) *n_skipped = skipped;
    if (o->fields && o->fields_cap) snprintf(o->fields, o->fields_cap, "%s", fields);
    if (skipped)
        LOG_WARN("%s: %ld malformed line%s skipped%s, %d rows loaded", path, skipped, skipped == 1 ? "" : "s",
                 skipped > DATA_BAD_SHOWN ? " (the first shown)" : "", out->n);
    if (out->n == 0) {
        data_set_free(out);
        if (fields[0])
            return rlc_errc(RLC_EFMT, "%s: no usable rows (profile %s); its first row has the fields %s: name the "
                                      "problem and answer with --profile custom --prompt-key K --answer-key K",
                            path, pname, fields);
        return rlc_errc(RLC_EFMT, "%s: no usable rows (profile %s)", path, pname);
    }
    return 0;
fail:
    rlc_jsonl_close(&r);
    data_set_free(out);
    return rc;
}

void data_set_free(data_set_t *ds) {
    for (int i = 0; i < ds->n; i++) data_row_free(&ds->rows[i]);
    free(ds->rows);
    memset(ds, 0, sizeof *ds);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* pre + "\n\n" + text, malloc'd. */
static char *prefixed(const char *pre, const char *text) {
    size_t lp = strlen(pre), lq = strlen(text);
    char *q = rlc_malloc(lp + lq + 3);
    if (!q) return NULL;
    memcpy(q, pre, lp);
    memcpy(q + lp, "\n\n", 2);
    memcpy(q + lp + 2, text, lq + 1);
    return q;
}

int data_set_prefix_problems(data_set_t *ds, const char *pre) {
    for (int i = 0; i < ds->n; i++) {
        data_row_t *r = &ds->rows[i];
        char *q = prefixed(pre, r->problem);
        if (!q) return RLC_ENOMEM;
        free(r->problem);
        r->problem = q;
        cJSON *m = r->messages ? r->messages->child : NULL; /* the first user turn of a chat prompt */
        while (m && strcmp(cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring, "user")) m = m->next;
        if (!m) continue;
        char *c = prefixed(pre, cJSON_GetObjectItemCaseSensitive(m, "content")->valuestring);
        if (!c || !cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(c))) {
            free(c);
            return RLC_ENOMEM;
        }
        free(c);
    }
    return 0;
}

int data_set_exclude(data_set_t *ds, const data_set_t *other, long *removed) {
    if (removed) *removed = 0;
    size_t cap = 16;
    while (cap < (size_t)other->n * 2 + 1) cap *= 2;
    int *tab = rlc_malloc(cap * sizeof *tab);
    if (!tab) return RLC_ENOMEM;
    for (size_t i = 0; i < cap; i++) tab[i] = -1;
    for (int i = 0; i < other->n; i++) {
        size_t h = (size_t)fnv1a(other->rows[i].problem) & (cap - 1);
        while (tab[h] >= 0) h = (h + 1) & (cap - 1);
        tab[h] = i;
    }
    int k = 0;
    long rm = 0;
    for (int i = 0; i < ds->n; i++) {
        size_t h = (size_t)fnv1a(ds->rows[i].problem) & (cap - 1);
        int hit = 0;
        while (tab[h] >= 0 && !hit) {
            hit = !strcmp(other->rows[tab[h]].problem, ds->rows[i].problem);
            h = (h + 1) & (cap - 1);
        }
        if (hit) {
            data_row_free(&ds->rows[i]);
            rm++;
        } else {
            ds->rows[k++] = ds->rows[i];
        }
    }
    ds->n = k;
    free(tab);
    if (removed) *removed = rm;
    return 0;
}

/* 1 when the auto profile reads key as a problem, answer, id or solution field: metadata
 * under such a name is not written back, so the row reads back as it was. */
static int auto_field(const char *key) {
    const profile_t *a = find_profile("auto");
    const char *const *lists[] = {a->prompt, a->answer, a->id, a->solution};
    const int lens[] = {NKEYS(a->prompt), NKEYS(a->answer), NKEYS(a->id), NKEYS(a->solution)};
    for (int l = 0; l < 4; l++)
        for (int i = 0; i < lens[l] && lists[l][i]; i++)
            if (!strcmp(key, lists[l][i])) return 1;
    return 0;
}

int data_set_write_jsonl(const data_set_t *ds, const char *path) {
    fs_atomic_t a;
    int rc = fs_atomic_open(&a, path);
    if (rc) return rc;
    for (int i = 0; i < ds->n && !rc; i++) {
        const data_row_t *r = &ds->rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            rc = rlc_errc(RLC_ENOMEM, "out of memory writing %s", path);
            break;
        }
        cJSON_AddStringToObject(o, "id", r->id);
        if (r->messages) cJSON_AddItemToObject(o, "prompt", cJSON_Duplicate(r->messages, 1));
        else cJSON_AddStringToObject(o, "problem", r->problem);
        /* an answer holding "####" (read by a profile that keeps it) as final_answer, which
         * auto reads as it is: under "answer" it would be cut at the "####" */
        cJSON_AddStringToObject(o, strstr(r->answer, "####") ? "final_answer" : "answer", r->answer);
        if (r->solution) cJSON_AddStringToObject(o, "solution", r->solution);
        for (const cJSON *c = r->meta ? r->meta->child : NULL; c; c = c->next)
            if (c->string && !auto_field(c->string)) cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, 1));
        rc = rlc_json_write_line(&a, o);
        cJSON_Delete(o);
    }
    if (rc) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a);
}

/* ---- iterator ---- */

static void make_perm(data_iter_t *it) {
    uint32_t n = (uint32_t)it->ds->n;
    for (uint32_t i = 0; i < n; i++) it->perm[i] = i;
    if (!it->shuffle) return;
    rlc_rng_t r;
    rlc_rng_init(&r, it->seed, 0x64617461ULL << 32 | (uint64_t)(uint32_t)it->epoch);
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = rlc_rng_below(&r, i);
        uint32_t t = it->perm[i - 1];
        it->perm[i - 1] = it->perm[j];
        it->perm[j] = t;
    }
}

int data_iter_init(data_iter_t *it, const data_set_t *ds, uint64_t seed, int shuffle, int rank, int world) {
    memset(it, 0, sizeof *it);
    if (!ds || ds->n <= 0) return rlc_errc(RLC_EINVAL, "data iterator: empty dataset");
    if (world < 1 || rank < 0 || rank >= world)
        return rlc_errc(RLC_EINVAL, "data iterator: rank %d out of range for world size %d", rank, world);
    if (ds->n < world)
        return rlc_errc(RLC_EINVAL, "data iterator: %d rows cannot be sharded over %d ranks", ds->n, world);
    it->ds = ds;
    it->seed = seed;
    it->shuffle = shuffle;
    it->rank = rank;
    it->world = world;
    it->per_rank = ds->n / world;
    it->perm = rlc_malloc(sizeof *it->perm * (size_t)ds->n);
    if (!it->perm) return RLC_ENOMEM;
    make_perm(it);
    return 0;
}

const data_row_t *data_iter_next(data_iter_t *it) {
    if (!it->perm) return NULL;
    if (it->pos >= it->per_rank) {
        it->epoch++;
        it->pos = 0;
        make_perm(it);
    }
    long g = it->pos * it->world + it->rank;
    it->pos++;
    return &it->ds->rows[it->perm[g]];
}

data_cursor_t data_iter_cursor(const data_iter_t *it) {
    data_cursor_t c = {it->epoch, it->pos};
    return c;
}

int data_iter_seek(data_iter_t *it, data_cursor_t c) {
    if (!it->perm) return rlc_errc(RLC_EINVAL, "data iterator: not initialized");
    if (c.epoch < 0 || c.pos < 0 || c.pos > it->per_rank)
        return rlc_errc(RLC_EINVAL, "data cursor (epoch %ld, pos %ld) out of range for %ld rows per rank", c.epoch,
                        c.pos, it->per_rank);
    if (c.epoch != it->epoch) {
        it->epoch = c.epoch;
        make_perm(it);
    }
    it->pos = c.pos;
    return 0;
}

void data_iter_free(data_iter_t *it) {
    free(it->perm);
    memset(it, 0, sizeof *it);
}

cJSON *data_cursor_json(data_cursor_t c, long n_rows) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "epoch", (double)c.epoch);
    cJSON_AddNumberToObject(j, "pos", (double)c.pos);
    cJSON_AddNumberToObject(j, "rows", (double)n_rows);
    return j;
}

int data_cursor_from_json(const cJSON *j, long n_rows, data_cursor_t *out) {
    long long e, p, n;
    int rc;
    if ((rc = rlc_json_get_int(j, "epoch", &e, 1, "data cursor")) ||
        (rc = rlc_json_get_int(j, "pos", &p, 1, "data cursor")) ||
        (rc = rlc_json_get_int(j, "rows", &n, 1, "data cursor")))
        return rc;
    if (n != n_rows)
        return rlc_errc(RLC_EINVAL, "data cursor was saved for %lld rows but the dataset has %ld (different data?)", n,
                        n_rows);
    out->epoch = (long)e;
    out->pos = (long)p;
    return 0;
}
