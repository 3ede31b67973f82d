/* Shared by the model config tests (test_model_moe.c, test_model_mla.c): a copy of a fixture
 * model under dir with one config.json key replaced. */
#pragma once
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"

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
