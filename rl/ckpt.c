/* Checkpoint directories: crash-safe writes (temp dir, fsync, rename, fsync parent), a
 * manifest with sizes and hashes so a loader can tell a complete checkpoint from a damaged
 * one, and keep-last-K pruning after the new one is durable. */
#include "rl/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "core/str.h"
#include "rl/ckpt_internal.h"

#define STATE_JSON "trainer_state.json"
#define STATE_ST "trainer_state.safetensors"
#define STATE_FORMAT "rlc-trainer-state"

/* ---------------------------------------------------------------- train state */

int rl_train_state_set_rng(rl_train_state_t *st, const char *name, const rlc_rng_t *r) {
    if (!name || !name[0] || strlen(name) >= sizeof st->rng_name[0])
        return rlc_errc(RLC_EINVAL, "RNG stream name must have 1..%zu characters", sizeof st->rng_name[0] - 1);
    for (int i = 0; i < st->n_rng; i++)
        if (!strcmp(st->rng_name[i], name)) {
            st->rng[i] = *r;
            return 0;
        }
    if (st->n_rng >= RL_CKPT_MAX_RNG) return rlc_errc(RLC_EINVAL, "more than %d RNG streams", RL_CKPT_MAX_RNG);
    snprintf(st->rng_name[st->n_rng], sizeof st->rng_name[0], "%s", name);
    st->rng[st->n_rng++] = *r;
    return 0;
}

const rlc_rng_t *rl_train_state_rng(const rl_train_state_t *st, const char *name) {
    for (int i = 0; i < st->n_rng; i++)
        if (!strcmp(st->rng_name[i], name)) return &st->rng[i];
    return NULL;
}

void rl_train_state_free(rl_train_state_t *st) {
    cJSON_Delete(st->extra);
    st->extra = NULL;
}

/* ---------------------------------------------------------------- helpers */

char *rl_ckpt_path(const char *run_dir, long step) {
    char name[48];
    snprintf(name, sizeof name, "checkpoints/step-%06ld", step);
    return fs_join(run_dir, name);
}

/* A word-at-a-time 64-bit hash: fast enough to re-check multi-GB checkpoints, and any
 * torn or truncated write changes it. Chunks are multiples of 8 bytes except the last. */
static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t hash_block(uint64_t h, const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h ^= w * 0x9E3779B97F4A7C15ull;
        h = rotl64(h, 29) * 0xBF58476D1CE4E5B9ull;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i);
        h ^= (w ^ (uint64_t)(n - i) << 56) * 0x94D049BB133111EBull;
        h = rotl64(h, 31) * 0xBF58476D1CE4E5B9ull;
    }
    return h;
}

static int hash_file(const char *path, uint64_t *out, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return rlc_err_errno("cannot open %s", path);
    size_t cap = 1 << 20;
    unsigned char *buf = rlc_malloc(cap);
    if (!buf) {
        fclose(f);
        return RLC_ENOMEM;
    }
    uint64_t h = 0x243F6A8885A308D3ull, total = 0;
    size_t n;
    while ((n = fread(buf, 1, cap, f)) > 0) {
        h = hash_block(h, buf, n);
        total += n;
    }
    int rc = ferror(f) ? rlc_err_errno("read %s failed", path) : 0;
    fclose(f);
    free(buf);
    h ^= total;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    *out = h;
    *size = total;
    return rc;
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rlc_err_errno("cannot open %s", path);
    int rc = fsync(fd) == 0 ? 0 : rlc_err_errno("fsync %s", path);
    close(fd);
    return rc;
}

/* Sorted names of a directory's entries (without . and ..). */
static int list_dir(const char *dir, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return rlc_err_errno("cannot open directory %s", dir);
    int cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = rlc_realloc(*names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = RLC_ENOMEM;
                break;
            }
            *names = nn;
        }
        if (!((*names)[*n] = rlc_strdup(e->d_name))) {
            rc = RLC_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (!rc && *n) qsort(*names, (size_t)*n, sizeof **names, rlc_cmp_str);
    return rc;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* "step-000123" -> 123; -1 for anything else (temp dirs, deleted dirs, files). */
static long parse_step_name(const char *s) {
    if (strncmp(s, "step-", 5)) return -1;
    const char *p = s + 5;
    if (!*p) return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000000L) return -1;
        v = v * 10 + (*p - '0');
    }
    char canon[48]; /* only names this code writes: "step-10" is not a checkpoint */
    snprintf(canon, sizeof canon, "step-%06ld", v);
    return strcmp(canon, s) ? -1 : v;
}

/* Manifest of every file under dir (one level of subdirectories), fsyncing each. */
static int build_manifest(const char *dir, const char *rel, cJSON *files) {
    char **names;
    int n, rc = list_dir(dir, &names, &n);
    if (rc) return rc;
    for (int i = 0; i < n && !rc; i++) {
        if (!rel[0] && !strcmp(names[i], STATE_JSON)) continue;
        char *path = fs_join(dir, names[i]);
        char relp[512];
        snprintf(relp, sizeof relp, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        if (!path) {
            rc = RLC_ENOMEM;
            break;
        }
        if (fs_is_dir(path)) {
            rc = rel[0] ? rlc_errc(RLC_EINVAL, "checkpoint: unexpected nested directory %s", path)
                        : build_manifest(path, relp, files);
            if (!rc) rc = fs_fsync_dir(path);
        } else {
            uint64_t h, size;
            rc = fsync_path(path);
            if (!rc) rc = hash_file(path, &h, &size);
            if (!rc) {
                char hex[24];
                snprintf(hex, sizeof hex, "%016" PRIx64, h);
                cJSON *e = cJSON_AddObjectToObject(files, relp);
                if (!e || !cJSON_AddNumberToObject(e, "size", (double)size) || !cJSON_AddStringToObject(e, "hash", hex))
                    rc = rlc_errc(RLC_ENOMEM, "out of memory building the checkpoint manifest");
            }
        }
        free(path);
    }
    free_names(names, n);
    return rc;
}

static int is_pid_gone(long pid) { return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

/* Remove step-N.tmp-<pid> / step-N.del-<pid> left by this process or by dead ones, and the
 * optimizer-shard staging directories of other steps (step-N.shards, of a save that failed). */
static void cleanup_leftovers(const char *root, long step) {
    char **names;
    int n;
    if (list_dir(root, &names, &n)) {
        rlc_err_clear();
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *sh = strstr(names[i], ".shards");
        if (sh && !sh[7] && !strncmp(names[i], "step-", 5) && strtol(names[i] + 5, NULL, 10) != step) {
            char *p = fs_join(root, names[i]);
            if (p && fs_rm_rf(p)) rlc_err_clear();
            free(p);
            continue;
        }
        const char *m = strstr(names[i], ".tmp-");
        if (!m) m = strstr(names[i], ".del-");
        if (!m || strncmp(names[i], "step-", 5)) continue;
        long pid = strtol(m + 5, NULL, 10);
        if (pid == (long)getpid() || is_pid_gone(pid)) {
            char *p = fs_join(root, names[i]);
            if (p && fs_rm_rf(p)) {
                LOG_WARN("checkpoint: cannot remove leftover %s: %s", p, rlc_errmsg());
                rlc_err_clear();
            }
            free(p);
        }
    }
    free_names(names, n);
}

/* Rename aside first so a crash mid-deletion never leaves a damaged dir under a valid name. */
static int remove_ckpt_dir(const char *root, const char *name) {
    char aside[600];
    snprintf(aside, sizeof aside, "%s/%s.del-%ld", root, name, (long)getpid());
    char *p = fs_join(root, name);
    if (!p) return RLC_ENOMEM;
    int rc = 0;
    fs_rm_rf(aside);
    if (rename(p, aside) != 0) rc = rlc_err_errno("cannot rename %s", p);
    free(p);
    if (!rc) rc = fs_fsync_dir(root);
    if (!rc) rc = fs_rm_rf(aside);
    return rc;
}


static cJSON *rng_to_json(const rlc_rng_t *r) {
    cJSON *o = cJSON_CreateObject();
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, r->seed);
    cJSON_AddStringToObject(o, "seed", b);
    snprintf(b, sizeof b, "%" PRIu64, r->stream);
    cJSON_AddStringToObject(o, "stream", b);
    snprintf(b, sizeof b, "%" PRIu64, r->counter);
    cJSON_AddStringToObject(o, "counter", b);
    cJSON *buf = cJSON_AddArrayToObject(o, "buf");
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(buf, cJSON_CreateNumber((double)r->buf[i]));
    cJSON_AddNumberToObject(o, "left", r->left);
    return o;
}

static int parse_u64(const cJSON *o, const char *key, uint64_t *out, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return rlc_errc(RLC_EFMT, "%s: '%s' missing or not a string", what, key);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v->valuestring, &end, 10);
    if (errno || end == v->valuestring || *end) return rlc_errc(RLC_EFMT, "%s: '%s' is not an integer", what, key);
    *out = (uint64_t)x;
    return 0;
}

static int rng_from_json(const cJSON *o, rlc_rng_t *r, const char *what) {
    int rc = parse_u64(o, "seed", &r->seed, what);
    if (!rc) rc = parse_u64(o, "stream", &r->stream, what);
    if (!rc) rc = parse_u64(o, "counter", &r->counter, what);
    if (rc) return rc;
    const cJSON *buf = cJSON_GetObjectItemCaseSensitive(o, "buf");
    long long left;
    if (!cJSON_IsArray(buf) || cJSON_GetArraySize(buf) != 4)
        return rlc_errc(RLC_EFMT, "%s: RNG 'buf' must hold 4 numbers", what);
    for (int i = 0; i < 4; i++) {
        const cJSON *x = cJSON_GetArrayItem(buf, i);
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 4294967295.0)
            return rlc_errc(RLC_EFMT, "%s: RNG 'buf' must hold 32-bit numbers", what);
        r->buf[i] = (uint32_t)x->valuedouble;
    }
    if ((rc = rlc_json_get_int(o, "left", &left, 1, what))) return rc;
    if (left < 0 || left > 4) return rlc_errc(RLC_EFMT, "%s: RNG 'left' out of range", what);
    r->left = (int)left;
    return 0;
}

/* ---------------------------------------------------------------- save */

static cJSON *state_json(const rl_train_state_t *st) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "format", STATE_FORMAT);
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "step", (double)st->step);
    cJSON_AddNumberToObject(j, "data_epoch", (double)st->data_epoch);
    cJSON_AddNumberToObject(j, "data_cursor", (double)st->data_cursor);
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, st->seed);
    cJSON_AddStringToObject(j, "seed", b);
    cJSON_AddNumberToObject(j, "lr", st->lr);
    cJSON *rng = cJSON_AddObjectToObject(j, "rng");
    for (int i = 0; i < st->n_rng && rng; i++) cJSON_AddItemToObject(rng, st->rng_name[i], rng_to_json(&st->rng[i]));
    if (st->extra) cJSON_AddItemToObject(j, "extra", cJSON_Duplicate(st->extra, 1));
    return j;
}

static int check_models(const rl_ckpt_model_t *models, int n_models) {
    if (n_models < 1 || n_models > 8) return rlc_errc(RLC_EINVAL, "checkpoint: 1..8 models expected (got %d)", n_models);
    for (int k = 0; k < n_models; k++) {
        if (!models[k].model) return rlc_errc(RLC_EINVAL, "checkpoint: model %d is NULL", k);
        const char *n = models[k].name;
        if (n && n[0] &&
            (strchr(n, '/') || n[0] == '.' || strlen(n) > 40 || !strcmp(n, "policy") || !strcmp(n, "checkpoints")))
            return rlc_errc(RLC_EINVAL, "checkpoint: bad model name '%s'", n);
        for (int j = 0; j < k; j++)
            if (!strcmp(rl_ckpt_model_key(&models[j]), rl_ckpt_model_key(&models[k])))
                return rlc_errc(RLC_EINVAL, "checkpoint: two models named '%s'", rl_ckpt_model_key(&models[k]));
    }
    return 0;
}

static int prune(const char *root, long keep_step, int keep_last) {
    char **names;
    int n, rc = list_dir(root, &names, &n);
    if (rc) return rc;
    long *steps = rlc_calloc((size_t)n + 1, sizeof *steps);
    if (!steps) {
        free_names(names, n);
        return RLC_ENOMEM;
    }
    int ns = 0;
    for (int i = 0; i < n; i++) {
        long s = parse_step_name(names[i]);
        char *p = s >= 0 ? fs_join(root, names[i]) : NULL;
        /* Only complete checkpoints count and get deleted; a damaged one is left for a human. */
        if (p && fs_is_dir(p) && (s == keep_step || rl_ckpt_verify(p, 0) == 0)) steps[ns++] = s;
        rlc_err_clear();
        free(p);
    }
    /* newest first */
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            long t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    /* The new checkpoint plus the newest keep_last - 1 others survive. */
    int slots = keep_last - 1;
    for (int i = 0; i < ns && !rc; i++) {
        if (steps[i] == keep_step) continue;
        if (slots > 0) {
            slots--;
            continue;
        }
        char name[48];
        snprintf(name, sizeof name, "step-%06ld", steps[i]);
        rc = remove_ckpt_dir(root, name);
    }
    free(steps);
    free_names(names, n);
    return rc;
}

int rl_ckpt_save(const char *run_dir, const rl_train_state_t *st, const rl_ckpt_model_t *models, int n_models,
                 const char *dtype, int keep_last, char **out_dir) {
    if (out_dir) *out_dir = NULL;
    if (dtype && !dtype[0]) dtype = NULL;
    if (st->step < 0) return rlc_errc(RLC_EINVAL, "checkpoint: negative step %ld", st->step);
    int rc = check_models(models, n_models);
    if (rc) return rc;
    char *root = fs_join(run_dir, "checkpoints");
    char *final = rl_ckpt_path(run_dir, st->step);
    char *tmp = final ? rlc_malloc(strlen(final) + 32) : NULL;
    char *aside = final ? rlc_malloc(strlen(final) + 32) : NULL;
    char *stage = rl_ckpt_shard_stage_dir(run_dir, st->step);
    cJSON *j = state_json(st);
    st_list_t *L = rlc_calloc(1, sizeof *L);
    if (!root || !final || !tmp || !aside || !stage || !j || !L) {
        rc = RLC_ENOMEM;
        goto out;
    }
    sprintf(tmp, "%s.tmp-%ld", final, (long)getpid());
    sprintf(aside, "%s.del-%ld", final, (long)getpid());
    if ((rc = fs_mkdir_p(root))) goto out;
    cleanup_leftovers(root, st->step);
    if ((rc = fs_rm_rf(tmp)) || (rc = fs_mkdir_p(tmp))) goto out;

    cJSON *jmodels = cJSON_AddObjectToObject(j, "models");
    if (!jmodels) {
        rc = RLC_ENOMEM;
        goto out;
    }
    if ((rc = rl_ckpt_save_models(tmp, stage, models, n_models, dtype, jmodels, L))) goto out;
    {
        char *p = fs_join(tmp, STATE_ST);
        static const char *const meta[] = {"format", STATE_FORMAT, NULL};
        rc = p ? rlc_st_write(p, L->t, L->n, meta) : RLC_ENOMEM;
        free(p);
        if (rc) goto out;
    }
    for (int i = 0; i < L->nbuf; i++) free(L->bufs[i]), L->bufs[i] = NULL;
    L->nbuf = 0;
    {
        cJSON *files = cJSON_AddObjectToObject(j, "files");
        if (!files) {
            rc = RLC_ENOMEM;
            goto out;
        }
        if ((rc = build_manifest(tmp, "", files))) goto out;
        char *txt = rlc_json_print(j, 1);
        char *p = fs_join(tmp, STATE_JSON);
        rc = txt && p ? fs_write_atomic(p, txt, strlen(txt)) : RLC_ENOMEM;
        free(txt);
        free(p);
        if (rc) goto out;
    }
    if ((rc = fs_fsync_dir(tmp))) goto out;
    /* Publish: the directory appears under its final name only when complete. */
    if (fs_exists(final)) {
        fs_rm_rf(aside);
        if (rename(final, aside) != 0) {
            rc = rlc_err_errno("cannot move the old %s aside", final);
            goto out;
        }
    }
    if (rename(tmp, final) != 0) {
        rc = rlc_err_errno("cannot rename %s to %s", tmp, final);
        goto out;
    }
    if ((rc = fs_fsync_dir(root))) goto out;
    fs_rm_rf(aside);
    {
        char line[64], *p = fs_join(root, "latest");
        int n = snprintf(line, sizeof line, "step-%06ld\n", st->step);
        rc = p ? fs_write_atomic(p, line, (size_t)n) : RLC_ENOMEM;
        free(p);
        if (rc) goto out;
    }
    /* Tokenizer files are copied from src_dir on every save: a model loaded from a checkpoint
     * of this run must not point at one keep-last-K may delete. */
    for (int k = 0; k < n_models; k++) {
        rlc_model_t *m = models[k].model;
        size_t rl = strlen(root);
        if (m->src_dir && !strncmp(m->src_dir, root, rl) && m->src_dir[rl] == '/') {
            int top = !models[k].name || !models[k].name[0];
            char *nd = top ? rlc_strdup(final) : fs_join(final, models[k].name);
            if (nd) {
                free(m->src_dir);
                m->src_dir = nd;
            }
        }
    }
    if (keep_last > 0 && (rc = prune(root, st->step, keep_last))) {
        rc = rlc_err_ctx(rc, "checkpoint saved but pruning old ones failed");
        goto out;
    }
    if (out_dir) {
        *out_dir = final;
        final = NULL;
    }
out:
    if (rc && tmp && fs_exists(tmp)) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", rlc_errmsg());
        fs_rm_rf(tmp);
        rlc_errc(rc, "%s", keep);
    }
    if (rc) rc = rlc_err_ctx(rc, "checkpoint step %ld", st->step);
    if (stage && fs_exists(stage)) fs_rm_rf(stage); /* the ranks' shards, moved in or not */
    free(stage);
    if (L)
        for (int i = 0; i < L->nbuf; i++) free(L->bufs[i]);
    free(L);
    cJSON_Delete(j);
    free(root);
    free(final);
    free(tmp);
    free(aside);
    return rc;
}

/* ---------------------------------------------------------------- verify and find */

static int load_state_json(const char *dir, cJSON **out) {
    *out = NULL;
    char *p = fs_join(dir, STATE_JSON);
    if (!p) return RLC_ENOMEM;
    if (!fs_exists(p)) {
        free(p);
        return rlc_errc(RLC_EFMT, "%s: no %s (incomplete checkpoint)", dir, STATE_JSON);
    }
    cJSON *j = rlc_json_load_file(p);
    free(p);
    if (!j) return RLC_EFMT;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, STATE_FORMAT)) {
        cJSON_Delete(j);
        return rlc_errc(RLC_EFMT, "%s: %s is not an rlc trainer state", dir, STATE_JSON);
    }
    *out = j;
    return 0;
}

int rl_ckpt_verify(const char *ckpt_dir, int full) {
    cJSON *j;
    int rc = load_state_json(ckpt_dir, &j);
    if (rc) return rc;
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    static const char *const required[] = {"config.json", "model.safetensors", STATE_ST};
    if (!cJSON_IsObject(files)) rc = rlc_errc(RLC_EFMT, "%s: %s has no file manifest", ckpt_dir, STATE_JSON);
    for (int i = 0; i < 3 && !rc; i++)
        if (!cJSON_GetObjectItemCaseSensitive(files, required[i]))
            rc = rlc_errc(RLC_EFMT, "%s: manifest lacks %s", ckpt_dir, required[i]);
    for (const cJSON *e = files ? files->child : NULL; e && !rc; e = e->next) {
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
        const cJSON *hs = cJSON_GetObjectItemCaseSensitive(e, "hash");
        if (!cJSON_IsNumber(sz) || !cJSON_IsString(hs) || strstr(e->string, "..")) {
            rc = rlc_errc(RLC_EFMT, "%s: bad manifest entry '%s'", ckpt_dir, e->string);
            break;
        }
        char *p = fs_join(ckpt_dir, e->string);
        if (!p) {
            rc = RLC_ENOMEM;
            break;
        }
        struct stat sb;
        if (stat(p, &sb) != 0)
            rc = rlc_errc(RLC_EFMT, "%s: %s is missing", ckpt_dir, e->string);
        else if ((double)sb.st_size != sz->valuedouble)
            rc = rlc_errc(RLC_EFMT, "%s: %s has %lld bytes, the manifest says %.0f", ckpt_dir, e->string,
                          (long long)sb.st_size, sz->valuedouble);
        else if (full) {
            uint64_t h, size;
            char hex[24];
            rc = hash_file(p, &h, &size);
            snprintf(hex, sizeof hex, "%016" PRIx64, h);
            if (!rc && strcmp(hex, hs->valuestring))
                rc = rlc_errc(RLC_EFMT, "%s: %s content does not match its hash (corrupt)", ckpt_dir, e->string);
        }
        free(p);
    }
    cJSON_Delete(j);
    return rc;
}

int rl_ckpt_latest(const char *run_dir, int full, char **dir, long *step) {
    *dir = NULL;
    char *root = fs_join(run_dir, "checkpoints");
    if (!root) return RLC_ENOMEM;
    if (!fs_is_dir(root)) {
        free(root);
        rlc_errc(RLC_EINVAL, "%s has no checkpoints", run_dir);
        return 1;
    }
    char **names;
    int n, rc = list_dir(root, &names, &n);
    if (rc) {
        free(root);
        return rc;
    }
    long best = -1;
    for (;;) {
        /* the newest not yet rejected */
        long cand = -1;
        for (int i = 0; i < n; i++) {
            long s = parse_step_name(names[i]);
            if (s > cand && (best < 0 || s < best)) cand = s;
        }
        if (cand < 0) break;
        best = cand;
        char name[48];
        snprintf(name, sizeof name, "step-%06ld", cand);
        char *p = fs_join(root, name);
        if (!p) {
            rc = RLC_ENOMEM;
            break;
        }
        if (fs_is_dir(p) && rl_ckpt_verify(p, full) == 0) {
            *dir = p;
            *step = cand;
            break;
        }
        LOG_WARN("checkpoint %s skipped: %s", p, rlc_errmsg());
        free(p);
    }
    free_names(names, n);
    free(root);
    if (rc) return rc;
    if (!*dir) {
        rlc_errc(RLC_EINVAL, "%s has no complete checkpoint", run_dir);
        return best >= 0 ? 2 : 1; /* 2: there were checkpoints, none verified */
    }
    return 0;
}

/* ---------------------------------------------------------------- load */

int rl_ckpt_load_state(const char *ckpt_dir, rl_train_state_t *st, const rl_ckpt_model_t *models, int n_models) {
    memset(st, 0, sizeof *st);
    int rc = check_models(models, n_models);
    if (rc) return rc;
    if ((rc = rl_ckpt_verify(ckpt_dir, 0))) return rc;
    cJSON *j;
    if ((rc = load_state_json(ckpt_dir, &j))) return rc;
    char what[600];
    snprintf(what, sizeof what, "%s/%s", ckpt_dir, STATE_JSON);
    rlc_st_t sf;
    int st_open = 0;
    if ((rc = rl_ckpt_get_long(j, "step", &st->step, what)) || (rc = rl_ckpt_get_long(j, "data_epoch", &st->data_epoch, what)) ||
        (rc = rl_ckpt_get_long(j, "data_cursor", &st->data_cursor, what)) || (rc = parse_u64(j, "seed", &st->seed, what)) ||
        (rc = rlc_json_get_num(j, "lr", &st->lr, 1, what)))
        goto out;
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(j, "rng");
    for (const cJSON *e = rng ? rng->child : NULL; e; e = e->next) {
        rlc_rng_t r;
        if ((rc = rng_from_json(e, &r, what)) || (rc = rl_train_state_set_rng(st, e->string, &r))) goto out;
    }
    cJSON *extra = cJSON_DetachItemFromObjectCaseSensitive(j, "extra");
    st->extra = extra;
    char *sp = fs_join(ckpt_dir, STATE_ST);
    rc = sp ? rlc_st_open(&sf, sp) : RLC_ENOMEM;
    free(sp);
    if (rc) goto out;
    st_open = 1;
    const cJSON *jmodels = cJSON_GetObjectItemCaseSensitive(j, "models");
    for (int k = 0; k < n_models && !rc; k++) {
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(jmodels, rl_ckpt_model_key(&models[k]));
        if (!jm) rc = rlc_errc(RLC_EFMT, "%s: no state for model '%s'", what, rl_ckpt_model_key(&models[k]));
        else rc = rl_ckpt_load_model(ckpt_dir, what, &sf, jm, &models[k]);
    }
out:
    if (st_open) rlc_st_close(&sf);
    cJSON_Delete(j);
    if (rc) {
        rl_train_state_free(st);
        rc = rlc_err_ctx(rc, "resuming from %s", ckpt_dir);
    }
    return rc;
}
