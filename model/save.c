/* Hugging Face save: config.json (the loaded keys, without a quantization_config), one
 * model.safetensors written atomically (each tensor fetched from the device as the writer
 * reaches it; stacked experts as they were read; tensors the model carries untrained, such as
 * DeepSeek-V3.2's indexer, read again from the source checkpoint), and the tokenizer files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/str.h"
#include "model/model.h"
#include "model/params_io.h"

static int parse_save_dtype(const char *s, rlc_dtype_t *out) {
    if (!strcmp(s, "float32") || !strcmp(s, "fp32")) *out = RLC_DT_F32;
    else if (!strcmp(s, "bfloat16") || !strcmp(s, "bf16")) *out = RLC_DT_BF16;
    else if (!strcmp(s, "float16") || !strcmp(s, "fp16")) *out = RLC_DT_F16;
    else return rlc_errc(RLC_EINVAL, "unknown save dtype '%s' (float32, bfloat16, float16)", s);
    return 0;
}

static const char *dtype_torch_name(rlc_dtype_t d) {
    return d == RLC_DT_BF16 ? "bfloat16" : d == RLC_DT_F16 ? "float16" : "float32";
}

static const char *const TOKENIZER_FILES[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "tokenizer.model", "generation_config.json", "vocab.json",
                                              "merges.txt", "added_tokens.json", "chat_template.jinja", NULL};

int rlc_model_copy_tokenizer_files(const char *src_dir, const char *dst_dir) {
    int rc = 0;
    for (int i = 0; TOKENIZER_FILES[i] && !rc; i++) {
        char *s = fs_join(src_dir, TOKENIZER_FILES[i]), *d = fs_join(dst_dir, TOKENIZER_FILES[i]);
        if (!s || !d) rc = RLC_ENOMEM;
        else if (fs_exists(s)) rc = fs_copy_file(s, d);
        free(s);
        free(d);
    }
    return rc;
}

typedef struct {
    const rlc_model_t *m;
    const rlc_param_info_t *p;
    const rlc_st_t *st; /* carried tensors: the source checkpoint p (a table entry of its own) is read from */
} save_src_t;

static int fill_param(void *user, float *dst) {
    const save_src_t *s = user;
    if (s->st) {
        const rlc_st_tensor_t *t;
        return rlc_params_read_tensor(s->m, s->st, s->m->src_dir, s->p, dst, &t);
    }
    return rlc_model_get_param(s->m, s->p, dst);
}

/* The families whose checkpoints hold tensors rlc carries (DeepSeek-V3.2's and GLM-5's indexer). */
static int carries(const rlc_model_config_t *c) {
    return !strcmp(c->model_type, "deepseek_v32") || !strcmp(c->model_type, "glm_moe_dsa");
}

int rlc_carried_tensor(const rlc_model_config_t *c, const char *name) {
    return carries(c) && strstr(name, ".self_attn.indexer.") != NULL;
}

static rlc_dtype_t save_dtype(rlc_dtype_t file, int forced, rlc_dtype_t force) {
    rlc_dtype_t d = forced ? force : file;
    if (rlc_fp8_dtype(d)) d = RLC_DT_BF16; /* dequantized FP8: bf16, as transformers' dequantizing loader */
    return d == RLC_DT_F32 || d == RLC_DT_BF16 || d == RLC_DT_F16 ? d : RLC_DT_F32;
}

/* The writer's entries for the parameter table: one per tensor, or a sparse layer's two stacked
 * expert tensors (fs) in place of its per-expert ones. */
static int add_params(rlc_model_t *m, rlc_st_wtensor_t *w, save_src_t *src, rlc_fused_src_t *fs, int forced,
                      rlc_dtype_t force) {
    int nw = 0, nfs = 0;
    for (int i = 0; i < m->n_info; i++) {
        const rlc_param_info_t *p = &m->info[i];
        int l = m->experts_fused ? rlc_experts_param_layer(m, p) : -1;
        if (l >= 0 && p->offset != m->layer[l].experts) continue; /* in its layer's stacked tensors */
        for (int k = 0; k < (l >= 0 ? 2 : 1); k++) {
            rlc_st_wtensor_t *t = &w[nw++];
            t->name = p->name;
            t->dtype = p->f32_off != RLC_NO_OFFSET ? RLC_DT_F32 : save_dtype(p->file_dtype, forced, force); /* kept */
            t->ndim = p->ndim;
            t->shape[0] = p->shape[0];
            t->shape[1] = p->shape[1];
            src[i] = (save_src_t){m, p, NULL};
            t->fill = fill_param;
            t->user = &src[i];
            if (l < 0) continue;
            rlc_fused_src_t *f = &fs[nfs++]; /* [E, 2I, C] gate|up, [E, C, I] down */
            rlc_experts_fused_tensor(m, l, k, f);
            int64_t I = m->cfg.moe_intermediate_size, C = m->cfg.hidden_size;
            t->name = f->name;
            t->ndim = 3;
            t->shape[0] = m->cfg.num_experts;
            t->shape[1] = k ? C : 2 * I;
            t->shape[2] = k ? I : C;
            t->fill = rlc_experts_fill;
            t->user = f;
        }
    }
    return nw;
}

/* The tensors the model carries from its source checkpoint (rlc_carried_tensor), read again from it
 * as the writer reaches them: entries w[0..) with their table entries ci and sources cs. */
static int add_carried(rlc_model_t *m, const rlc_st_t *st, rlc_st_wtensor_t *w, rlc_param_info_t *ci,
                       save_src_t *cs, int forced, rlc_dtype_t force) {
    int n = 0;
    for (int i = 0; i < st->n; i++) {
        const rlc_st_tensor_t *t = &st->t[i];
        if (!rlc_carried_tensor(&m->cfg, t->name) || rlc_fp8_is_scale(t->name)) continue;
        if (t->ndim < 1 || t->ndim > 2)
            return rlc_errc(RLC_EFMT, "%s: carried tensor '%s' has %d dimensions", m->src_dir, t->name, t->ndim);
        rlc_param_info_t *p = &ci[n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", t->name);
        p->ndim = t->ndim;
        p->shape[0] = t->shape[0];
        p->shape[1] = t->ndim == 2 ? t->shape[1] : 0;
        p->numel = t->numel;
        cs[n] = (save_src_t){m, p, st};
        w[n] = (rlc_st_wtensor_t){.name = p->name, .dtype = save_dtype(t->dtype, forced, force), .ndim = t->ndim,
                                  .fill = fill_param, .user = &cs[n]};
        memcpy(w[n].shape, t->shape, sizeof w[n].shape);
        n++;
    }
    return n;
}

/* config.json: the loaded keys without the quantization_config, the dtype updated when forced. */
static int write_config(const rlc_model_t *m, const char *dir, int forced, rlc_dtype_t main_dt) {
    cJSON *cfg = cJSON_Duplicate(m->cfg.json, 1);
    if (!cfg) return rlc_errc(RLC_ENOMEM, "out of memory saving config.json");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "quantization_config"); /* FP8 weights are saved dequantized */
    const char *key = cJSON_GetObjectItemCaseSensitive(cfg, "dtype")         ? "dtype"
                      : cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype") ? "torch_dtype"
                                                                             : NULL;
    if (!key)
        cJSON_AddStringToObject(cfg, "torch_dtype", dtype_torch_name(main_dt));
    else if (forced) /* in place, so the key order (and a re-save's bytes) stay stable */
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, cJSON_CreateString(dtype_torch_name(main_dt)));
    char *txt = rlc_json_print(cfg, 1);
    cJSON_Delete(cfg);
    if (!txt) return RLC_ENOMEM;
    char *cp = fs_join(dir, "config.json");
    int rc = cp ? fs_write_atomic(cp, txt, strlen(txt)) : RLC_ENOMEM;
    free(cp);
    free(txt);
    return rc;
}

int rlc_model_save(rlc_model_t *m, const char *dir, const char *dtype) {
    rlc_dtype_t force = RLC_DT_F32;
    int forced = 0, rc, carried = 0;
    if (dtype) {
        if ((rc = parse_save_dtype(dtype, &force))) return rc;
        forced = 1;
    }
    rlc_st_t st;
    memset(&st, 0, sizeof st);
    carried = m->src_dir && carries(&m->cfg); /* a model rlc created has none to carry */
    if (carried && (rc = rlc_params_open_weights(m, m->src_dir, &st, NULL)))
        return rlc_err_ctx(rc, "saving %s: the tensors it carries are read from %s", dir, m->src_dir);
    if ((rc = fs_mkdir_p(dir))) goto out;
    /* Tensors are downloaded (or read) one at a time as the writer reaches them. */
    size_t cap = (size_t)m->n_info + (size_t)st.n;
    rlc_st_wtensor_t *w = rlc_calloc(cap, sizeof *w);
    save_src_t *src = rlc_calloc(cap, sizeof *src);
    rlc_param_info_t *ci = st.n ? rlc_calloc((size_t)st.n, sizeof *ci) : NULL;
    rlc_fused_src_t *fs = m->experts_fused ? rlc_calloc(2 * (size_t)m->cfg.num_layers, sizeof *fs) : NULL;
    if (!w || !src || (st.n && !ci) || (m->experts_fused && !fs)) rc = RLC_ENOMEM;
    int nw = rc ? 0 : add_params(m, w, src, fs, forced, force);
    int nc = rc || !carried ? 0 : add_carried(m, &st, w + nw, ci, src + m->n_info, forced, force);
    if (nc < 0) rc = nc;
    char *path = NULL;
    if (!rc && !(path = fs_join(dir, "model.safetensors"))) rc = RLC_ENOMEM;
    static const char *const meta[] = {"format", "pt", NULL};
    if (!rc) rc = rlc_st_write(path, w, nw + nc, meta);
    free(path), free(src), free(w), free(fs), free(ci);
    if (rc) rc = rlc_err_ctx(rc, "saving %s", dir);
    if (!rc) rc = write_config(m, dir, forced, forced ? force : m->info[0].file_dtype);
    /* Tokenizer and generation files travel with the weights. */
    if (!rc && m->src_dir && strcmp(m->src_dir, dir)) rc = rlc_model_copy_tokenizer_files(m->src_dir, dir);
out:
    if (carried) rlc_st_close(&st);
    return rc;
}
