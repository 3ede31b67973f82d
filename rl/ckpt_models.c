/* The models' training state in a checkpoint (rl/ckpt.c does the directory): the weights
 * directory of each model, its optimizer state and fp32 master weights, saved and restored.
 *
 * Unsharded optimizers go into trainer_state.safetensors. Sharded ones (ZeRO stages 1-2;
 * docs/distributed.md "ZeRO") are saved per rank: each rank writes the AdamW moments (and
 * fp32 master weights) of its shard into RUN/checkpoints/step-N.shards/ as
 * "<model>.optim-RRRRR-of-WWWWW.safetensors", with its range and the layout in the file's
 * metadata; rank 0's save then moves them into the checkpoint beside the model, lists them in
 * trainer_state.json with their ranges, and the manifest covers them. A resume reads every
 * file into full arrays and keeps its own range, so any world size or stage resumes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "rl/ckpt_internal.h"

#define SHARD_FORMAT "rlc-optim-shard"

char *rl_ckpt_shard_stage_dir(const char *run_dir, long step) {
    char name[64];
    snprintf(name, sizeof name, "checkpoints/step-%06ld.shards", step);
    return fs_join(run_dir, name);
}

static void shard_name(char *buf, size_t cap, const char *key, int rank, int world) {
    snprintf(buf, cap, "%s.optim-%05d-of-%05d.safetensors", key, rank, world);
}

const char *rl_ckpt_model_key(const rl_ckpt_model_t *m) { return m->name && m->name[0] ? m->name : "policy"; }

/* One model's shard: its buffers downloaded, written with their range. */
static int write_one(const char *dir, const rl_ckpt_model_t *cm, long step) {
    const rlc_optim_t *o = cm->optim;
    rlc_backend_t *be = o->m->be;
    size_t S = o->hi - o->lo;
    int nb = o->master ? 3 : 2;
    float *h = rlc_malloc((size_t)nb * (S ? S : 1) * sizeof *h);
    if (!h) return RLC_ENOMEM;
    int rc = be->download(be, h, o->mom, RLC_BUF_F32, S);
    if (!rc) rc = be->download(be, h + S, o->var, RLC_BUF_F32, S);
    if (!rc && o->master) rc = be->download(be, h + 2 * S, o->master, RLC_BUF_F32, S);
    static const char *const names[] = {"exp_avg", "exp_avg_sq", "master"};
    rlc_st_wtensor_t t[3];
    for (int i = 0; i < nb; i++)
        t[i] = (rlc_st_wtensor_t){.name = names[i], .dtype = RLC_DT_F32, .ndim = 1, .shape = {(int64_t)S}, .f32 = h + i * S};
    char v[6][32], name[160];
    snprintf(v[0], sizeof v[0], "%zu", o->lo), snprintf(v[1], sizeof v[1], "%zu", o->hi);
    snprintf(v[2], sizeof v[2], "%zu", o->m->n_params), snprintf(v[3], sizeof v[3], "%d", o->shard_rank);
    snprintf(v[4], sizeof v[4], "%d", o->shards), snprintf(v[5], sizeof v[5], "%d", o->zero_stage);
    char st[32], os[32];
    snprintf(st, sizeof st, "%ld", step), snprintf(os, sizeof os, "%d", o->step);
    const char *meta[] = {"format", SHARD_FORMAT, "model", rl_ckpt_model_key(cm), "lo", v[0], "hi", v[1], "n_params", v[2],
                          "rank", v[3], "world", v[4], "zero_stage", v[5], "step", st, "optim_step", os, NULL};
    shard_name(name, sizeof name, rl_ckpt_model_key(cm), o->shard_rank, o->shards);
    char *path = fs_join(dir, name);
    if (!rc) rc = path ? rlc_st_write(path, t, nb, meta) : RLC_ENOMEM;
    free(path), free(h);
    return rc;
}

int rl_ckpt_write_shards(const char *run_dir, long step, const rl_ckpt_model_t *models, int n_models) {
    int any = 0;
    for (int k = 0; k < n_models; k++) any |= models[k].model && rlc_optim_sharded(models[k].optim);
    if (!any) return 0;
    char *dir = rl_ckpt_shard_stage_dir(run_dir, step);
    int rc = dir ? fs_mkdir_p(dir) : RLC_ENOMEM;
    for (int k = 0; k < n_models && !rc; k++)
        if (models[k].model && rlc_optim_sharded(models[k].optim)) rc = write_one(dir, &models[k], step);
    if (rc) rc = rlc_err_ctx(rc, "writing the optimizer shard of step %ld", step);
    free(dir);
    return rc;
}

/* A shard file's range from its metadata, checked against the layout it claims. */
static int shard_range(const rlc_st_t *f, const char *what, size_t n, int world, size_t *lo, size_t *hi) {
    const char *fmt = NULL, *s_lo = NULL, *s_hi = NULL, *s_n = NULL, *s_w = NULL;
    const cJSON *m = f->metadata;
    if (!m || rlc_json_get_str(m, "format", &fmt, 1, what) || strcmp(fmt, SHARD_FORMAT) ||
        rlc_json_get_str(m, "lo", &s_lo, 1, what) || rlc_json_get_str(m, "hi", &s_hi, 1, what) ||
        rlc_json_get_str(m, "n_params", &s_n, 1, what) || rlc_json_get_str(m, "world", &s_w, 1, what))
        return rlc_errc(RLC_EFMT, "%s: not an rlc optimizer shard (metadata missing)", what);
    *lo = strtoull(s_lo, NULL, 10), *hi = strtoull(s_hi, NULL, 10);
    if (strtoull(s_n, NULL, 10) != n || atoi(s_w) != world || *lo > *hi || *hi > n)
        return rlc_errc(RLC_EFMT, "%s: range [%s, %s) of %s parameters at world %s does not fit %zu parameters, %d ranks",
                        what, s_lo, s_hi, s_n, s_w, n, world);
    return 0;
}

static int shards_publish(const char *stage_dir, const char *dst_dir, const char *key, const rlc_optim_t *o,
                           cJSON *jm) {
    int W = o->shards, rc = 0;
    cJSON *js = cJSON_AddObjectToObject(jm, "optim_shards"), *files = js ? cJSON_AddArrayToObject(js, "files") : NULL;
    cJSON *ranges = js ? cJSON_AddArrayToObject(js, "ranges") : NULL;
    if (!files || !ranges || !cJSON_AddNumberToObject(js, "world", W) ||
        !cJSON_AddNumberToObject(js, "zero_stage", o->zero_stage) || !cJSON_AddBoolToObject(js, "master", o->master != NULL))
        return RLC_ENOMEM;
    size_t next = 0;
    for (int r = 0; r < W && !rc; r++) {
        char name[160];
        shard_name(name, sizeof name, key, r, W);
        char *src = fs_join(stage_dir, name), *dst = fs_join(dst_dir, name);
        rlc_st_t f;
        size_t lo = 0, hi = 0;
        rc = src && dst ? rlc_st_open(&f, src) : RLC_ENOMEM;
        if (!rc) {
            rc = shard_range(&f, src, o->m->n_params, W, &lo, &hi);
            rlc_st_close(&f);
        }
        if (!rc && lo != next) rc = rlc_errc(RLC_EFMT, "%s: starts at %zu, expected %zu", src, lo, next);
        if (!rc && rename(src, dst) != 0) rc = rlc_err_errno("cannot move %s into the checkpoint", src);
        cJSON *pair = rc ? NULL : cJSON_CreateArray();
        if (!rc && (!pair || !cJSON_AddItemToArray(ranges, pair) || !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)lo)) ||
                    !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)hi)) ||
                    !cJSON_AddItemToArray(files, cJSON_CreateString(name))))
            rc = RLC_ENOMEM;
        next = hi;
        free(src), free(dst);
    }
    if (!rc && next != o->m->n_params)
        rc = rlc_errc(RLC_EFMT, "optimizer shards of '%s' end at %zu of %zu parameters", key, next, o->m->n_params);
    return rc;
}

/* Tensors names[0..k) of the shard files listed in jm, each into full[i][n], one pass over
 * the files. */
static int shards_read(const char *ckpt_dir, const cJSON *jm, size_t n, const char *const *names, float *const *full,
                       int k) {
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(jm, "optim_shards");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(js, "files");
    const cJSON *jw = cJSON_GetObjectItemCaseSensitive(js, "world");
    if (!cJSON_IsArray(files) || !cJSON_IsNumber(jw) || cJSON_GetArraySize(files) != jw->valueint || jw->valueint < 1)
        return rlc_errc(RLC_EFMT, "%s: malformed optim_shards entry", ckpt_dir);
    size_t next = 0;
    int rc = 0;
    for (const cJSON *e = files->child; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/'))
            return rlc_errc(RLC_EFMT, "%s: bad shard file name in optim_shards", ckpt_dir);
        char *path = fs_join(ckpt_dir, e->valuestring);
        rlc_st_t f;
        size_t lo = 0, hi = 0;
        rc = path ? rlc_st_open(&f, path) : RLC_ENOMEM;
        if (!rc) {
            rc = shard_range(&f, path, n, jw->valueint, &lo, &hi);
            if (!rc && lo != next) rc = rlc_errc(RLC_EFMT, "%s: starts at %zu, expected %zu", path, lo, next);
            for (int i = 0; i < k && !rc; i++) {
                const rlc_st_tensor_t *t = rlc_st_find(&f, names[i]);
                if (!t || t->numel != hi - lo)
                    rc = rlc_errc(RLC_EFMT, "%s: tensor '%s' missing or not of %zu values", path, names[i], hi - lo);
                else rc = rlc_st_to_f32(t, full[i] + lo);
            }
            rlc_st_close(&f);
        }
        next = hi;
        free(path);
    }
    if (!rc && next != n) rc = rlc_errc(RLC_EFMT, "%s: the optimizer shards cover %zu of %zu parameters", ckpt_dir, next, n);
    return rc;
}

/* ---------------------------------------------------------------- the models */

static int saved_all_f32(const rlc_model_t *m, const char *dtype) {
    if (dtype) return !strcmp(dtype, "float32");
    for (int i = 0; i < m->n_info; i++)
        if (m->info[i].file_dtype == RLC_DT_BF16 || m->info[i].file_dtype == RLC_DT_F16) return 0;
    return 1;
}



static int add_tensor(st_list_t *L, const char *prefix, const char *name, float *data, size_t n) {
    if (L->n >= (int)(sizeof L->t / sizeof L->t[0])) return rlc_errc(RLC_EINVAL, "checkpoint: too many models");
    snprintf(L->names[L->n], sizeof L->names[0], "%s%s", prefix, name);
    rlc_st_wtensor_t *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    t->name = L->names[L->n - 1];
    t->dtype = RLC_DT_F32;
    t->ndim = 1;
    t->shape[0] = (int64_t)n;
    t->f32 = data;
    return 0;
}

/* Any tensor of the loaded weights file stored as float16 (which cannot hold every bf16). */
static int saved_f16(const rlc_model_t *m) {
    for (int i = 0; i < m->n_info; i++)
        if (m->info[i].file_dtype == RLC_DT_F16) return 1;
    return 0;
}

/* The optimizer state of one model: in trainer_state.safetensors, or (sharded) the ranks'
 * shard files moved in from the staging directory. */
static int save_optim(const char *tmp, const char *stage_dir, const rl_ckpt_model_t *cm, const char *dtype,
                      const char *prefix, cJSON *jm, st_list_t *L) {
    rlc_model_t *m = cm->model;
    rlc_optim_t *o = cm->optim;
    int sharded = rlc_optim_sharded(o), rc = 0;
    /* The fp32 truth of the weights: the optimizer's master copy where the backend stores
     * bf16 parameters (in the shards when sharded), else the parameters themselves when the
     * weights file is of lower precision. */
    int master = o->master || !saved_all_f32(m, dtype);
    cJSON_AddBoolToObject(jm, "master", master);
    cJSON_AddNumberToObject(jm, "optim_step", o->step);
    if (sharded && (rc = shards_publish(stage_dir, tmp, rl_ckpt_model_key(cm), o, jm))) return rc;
    if (!sharded) {
        float *mom = rlc_malloc(m->n_params * sizeof(float)), *var = rlc_malloc(m->n_params * sizeof(float));
        L->bufs[L->nbuf++] = mom;
        L->bufs[L->nbuf++] = var;
        if (!mom || !var) return RLC_ENOMEM;
        if ((rc = rlc_optim_get_state(o, mom, var))) return rc;
        if ((rc = add_tensor(L, prefix, "optim.exp_avg", mom, m->n_params))) return rc;
        if ((rc = add_tensor(L, prefix, "optim.exp_avg_sq", var, m->n_params))) return rc;
    }
    if (master && !(sharded && o->master)) {
        float *w = rlc_malloc(m->n_params * sizeof(float));
        L->bufs[L->nbuf++] = w;
        if (!w) return RLC_ENOMEM;
        rc = o->master ? rlc_optim_get_master(o, w) : m->be->download(m->be, w, m->params, RLC_BUF_PARAM, m->n_params);
        if (rc) return rc;
        if ((rc = add_tensor(L, prefix, "master", w, m->n_params))) return rc;
    }
    return 0;
}

int rl_ckpt_save_models(const char *tmp, const char *stage_dir, const rl_ckpt_model_t *models, int n_models,
                       const char *dtype, cJSON *jmodels, st_list_t *L) {
    for (int k = 0; k < n_models; k++) {
        const rl_ckpt_model_t *cm = &models[k];
        rlc_model_t *m = cm->model;
        int top = !cm->name || !cm->name[0];
        char *dir = top ? rlc_strdup(tmp) : fs_join(tmp, cm->name);
        if (!dir) return RLC_ENOMEM;
        int rc = rlc_model_save(m, dir, dtype);
        free(dir);
        if (rc) return rc;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s%s", top ? "" : cm->name, top ? "" : ".");
        cJSON *jm = cJSON_AddObjectToObject(jmodels, rl_ckpt_model_key(cm));
        if (!jm) return RLC_ENOMEM;
        cJSON_AddStringToObject(jm, "dir", top ? "" : cm->name);
        cJSON_AddNumberToObject(jm, "n_params", (double)m->n_params);
        cJSON_AddBoolToObject(jm, "optimizer", cm->optim != NULL);
        if (!cm->optim) {
            cJSON_AddBoolToObject(jm, "master", 0);
            continue;
        }
        if ((rc = save_optim(tmp, stage_dir, cm, dtype, prefix, jm, L))) return rc;
    }
    return 0;
}

int rl_ckpt_get_long(const cJSON *j, const char *key, long *out, const char *what) {
    long long v;
    int rc = rlc_json_get_int(j, key, &v, 1, what);
    if (!rc) *out = (long)v;
    return rc;
}

/* A saved full-size tensor "<prefix>name" of trainer_state.safetensors into a[n]: 1 when
 * found, 0 when absent, negative on error. */
static int read_full(const rlc_st_t *sf, const char *what, const char *prefix, const char *name, size_t n, float *a) {
    char tn[128];
    snprintf(tn, sizeof tn, "%s%s", prefix, name);
    const rlc_st_tensor_t *t = rlc_st_find(sf, tn);
    if (!t) return 0;
    if (t->numel != n) return rlc_errc(RLC_EFMT, "%s: %s has %zu values, expected %zu", what, tn, t->numel, n);
    int rc = rlc_st_to_f32(t, a);
    return rc ? rc : 1;
}

/* One model's optimizer state and fp32 master weights, from trainer_state.safetensors or
 * from the per-rank shard files listed in its entry. */
int rl_ckpt_load_model(const char *ckpt_dir, const char *what, const rlc_st_t *sf, const cJSON *jm,
                       const rl_ckpt_model_t *cm) {
    rlc_model_t *m = cm->model;
    long np;
    int rc = rl_ckpt_get_long(jm, "n_params", &np, what);
    if (rc) return rc;
    if ((size_t)np != m->n_params)
        return rlc_errc(RLC_EINVAL, "%s: model '%s' had %ld parameters, the loaded one has %zu", what, rl_ckpt_model_key(cm), np,
                        m->n_params);
    int top = !cm->name || !cm->name[0];
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s%s", top ? "" : cm->name, top ? "" : ".");
    const cJSON *jsh = cJSON_GetObjectItemCaseSensitive(jm, "optim_shards");
    const cJSON *jshm = cJSON_GetObjectItemCaseSensitive(jsh, "master");
    float *a = rlc_malloc(m->n_params * sizeof(float)), *b = rlc_malloc(m->n_params * sizeof(float));
    if (!a || !b) rc = RLC_ENOMEM;
    int found = rc ? rc : read_full(sf, what, prefix, "master", m->n_params, a);
    static const char *const master_name[] = {"master"}, *const moment_names[] = {"exp_avg", "exp_avg_sq"};
    float *const moments[] = {a, b};
    if (found == 0 && cJSON_IsTrue(jshm))
        found = (rc = shards_read(ckpt_dir, jm, m->n_params, master_name, &a, 1)) ? rc : 1;
    if (found < 0) rc = found;
    if (found > 0) {
        /* Where the backend keeps bf16 parameters beside an fp32 master, the weights file
         * already holds those parameters exactly (they were stochastically rounded, not
         * rounded to nearest from the master) unless it was saved as float16. */
        int keep_params = cm->optim && cm->optim->master && !saved_f16(m);
        if (!keep_params) rc = m->be->upload(m->be, m->params, RLC_BUF_PARAM, a, m->n_params);
        if (!rc && cm->optim && cm->optim->master) rc = rlc_optim_set_master(cm->optim, a);
    }
    if (!rc && cm->optim) {
        long ostep;
        if (jsh) {
            rc = shards_read(ckpt_dir, jm, m->n_params, moment_names, moments, 2);
        } else {
            int fa = read_full(sf, what, prefix, "optim.exp_avg", m->n_params, a);
            int fb = fa < 0 ? 0 : read_full(sf, what, prefix, "optim.exp_avg_sq", m->n_params, b);
            rc = fa < 0 ? fa : fb < 0 ? fb : 0;
            if (!rc && (!fa || !fb))
                rc = rlc_errc(RLC_EFMT, "%s: optimizer state of '%s' missing or of the wrong size", what, rl_ckpt_model_key(cm));
        }
        if (!rc) rc = rl_ckpt_get_long(jm, "optim_step", &ostep, what);
        if (!rc) rc = rlc_optim_set_state(cm->optim, a, b, (int)ostep);
    }
    free(a), free(b);
    return rc;
}
