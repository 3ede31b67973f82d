/* Shared by the model config and checkpoint tests (test_model_moe.c, test_model_mla.c,
 * test_model_quant.c): a copy of a fixture model under dir with one config.json key replaced, and
 * a directory's weights with one tensor replaced, added, left out or reshaped. */
#pragma once
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"

/* dir/name, a copy of fixture models/name whose config.json has key set to the JSON text val
 * (owned by the caller). */
static inline char *edited_fixture(const char *dir, const char *name, const char *key, const char *val) {
    char rel[128], out[512];
    snprintf(rel, sizeof rel, "models/%s", name);
    char *d = fs_join(dir, name);
    assert_int_equal(test_run(out, sizeof out, "rm -rf '%s' && cp -r '%s' '%s'", d, fixture(rel), d), 0);
    char *p = fs_join(d, "config.json");
    cJSON *j = rlc_json_load_file(p);
    assert_non_null(j);
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    cJSON_AddItemToObject(j, key, cJSON_Parse(val));
    char *t = cJSON_Print(j);
    assert_int_equal(fs_write_atomic(p, t, strlen(t)), 0);
    free(t), free(p);
    cJSON_Delete(j);
    return d;
}

/* d's weights rewritten: tensor `name` replaced by x (its name set; added when absent), given its
 * dims reversed (x NULL, reverse), or left out (x NULL). */
static inline void rewrite_tensor(const char *d, const char *name, const rlc_st_wtensor_t *x, int reverse) {
    char *path = fs_join(d, "model.safetensors"), *tmp = fs_join(d, "orig.safetensors");
    assert_int_equal(rename(path, tmp), 0);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, tmp), 0);
    rlc_st_wtensor_t *w = calloc((size_t)st.n + 1, sizeof *w);
    int n = 0, found = 0;
    for (int i = 0; i < st.n; i++) {
        const rlc_st_tensor_t *t = &st.t[i];
        int hit = !strcmp(t->name, name);
        found |= hit;
        if (hit && x) w[n] = *x, w[n++].name = t->name;
        if (hit && (x || !reverse)) continue;
        w[n] = (rlc_st_wtensor_t){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .raw = t->data};
        for (int k = 0; k < t->ndim; k++) w[n].shape[k] = hit ? t->shape[t->ndim - 1 - k] : t->shape[k];
        n++;
    }
    if (!found && x) w[n] = *x, w[n++].name = name;
    assert_int_equal(rlc_st_write(path, w, n, NULL), 0);
    rlc_st_close(&st);
    assert_int_equal(remove(tmp), 0);
    free(w), free(path), free(tmp);
}
