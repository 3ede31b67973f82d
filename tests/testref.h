/* The transformers reference of a fixture model (models/<name>.ref/ref.safetensors, written
 * by scripts/make_fixtures.py): the packed batch it was computed on (ids, cu_seqlens) and
 * its tensors (log-probs, entropies, gradients, loss curves) by name. One loader for the
 * parity tests of every backend. */
#pragma once
#include "testutil.h"

#include "core/safetensors.h"

typedef struct {
    rlc_st_t st;
    int32_t *ids, *cu;
    int N, nseq;
} ref_t;

/* A reference tensor as fp32 (malloc'd); *n (may be NULL) its element count. */
static inline float *ref_f32(ref_t *r, const char *name, size_t *n) {
    const rlc_st_tensor_t *t = rlc_st_find(&r->st, name);
    if (!t) fail_msg("reference lacks %s", name);
    float *p = malloc(t->numel * sizeof(float) + 4);
    assert_int_equal(rlc_st_to_f32(t, p), 0);
    if (n) *n = t->numel;
    return p;
}

static inline void load_ref(ref_t *r, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.ref/ref.safetensors", name);
    assert_int_equal(rlc_st_open(&r->st, fixture(rel)), 0);
    const rlc_st_tensor_t *ids = rlc_st_find(&r->st, "ids"), *cu = rlc_st_find(&r->st, "cu_seqlens");
    assert_non_null(ids);
    assert_non_null(cu);
    r->N = (int)ids->numel;
    r->nseq = (int)cu->numel - 1;
    r->ids = malloc(ids->nbytes);
    r->cu = malloc(cu->nbytes);
    memcpy(r->ids, ids->data, ids->nbytes);
    memcpy(r->cu, cu->data, cu->nbytes);
}

static inline void free_ref(ref_t *r) {
    free(r->ids);
    free(r->cu);
    rlc_st_close(&r->st);
}
