/* A string -> int32 map: open addressing over 64-bit hashes, keys copied into the map's own
 * buffer (the tokenizer's vocabulary, the CSV reader's header names). */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *hash; /* 0 = empty slot */
    uint32_t *koff, *klen;
    int32_t *val;
    size_t cap, n;
    char *keys;
    size_t kused, kcap;
} rlc_strmap_t;
/* 64-bit hash over 8-byte words (keys are short strings); never returns 0. */
uint64_t rlc_hash_bytes(const void *p, size_t n);
int rlc_strmap_init(rlc_strmap_t *m, size_t expected);
void rlc_strmap_free(rlc_strmap_t *m);
/* Insert or overwrite. */
int rlc_strmap_put(rlc_strmap_t *m, const char *k, size_t n, int32_t v);
/* -1 when absent. */
int32_t rlc_strmap_get(const rlc_strmap_t *m, const char *k, size_t n);
