/* Helpers shared by the tokenizer tests (test_tokenizer.c, test_chat.c). */
#pragma once
#include "core/err.h"
#include "core/fs.h"
#include "testutil.h"
#include "tokenizer/tok.h"

static inline tok_t *load(const char *rel) {
    tok_t *t = NULL;
    int rc = tok_load(&t, fixture(rel));
    if (rc) fprintf(stderr, "load %s: %s\n", rel, rlc_errmsg());
    assert_int_equal(rc, 0);
    return t;
}

static inline int json_ids(const cJSON *a, int32_t **out) {
    int n = cJSON_GetArraySize(a);
    *out = malloc(sizeof(int32_t) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) (*out)[i] = (int32_t)cJSON_GetArrayItem(a, i)->valuedouble;
    return n;
}

static inline int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, sizeof *a * (size_t)na));
}

static inline void write_file(const char *dir, const char *name, const char *body) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(fs_write_atomic(p, body, strlen(body)), 0);
}
