/* String -> int32 map (core/strmap.h): open addressing over 64-bit hashes, keys copied into
 * one growing buffer of the map's own. */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* See core/strmap.h. */
uint64_t rlc_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    return h ? h : 1;
}

int rlc_strmap_init(rlc_strmap_t *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    m->cap = cap;
    m->hash = rlc_calloc(cap, sizeof *m->hash);
    m->koff = rlc_malloc(cap * sizeof *m->koff);
    m->klen = rlc_malloc(cap * sizeof *m->klen);
    m->val = rlc_malloc(cap * sizeof *m->val);
    m->kcap = expected * 8 + 256;
    m->keys = rlc_malloc(m->kcap);
    if (!m->hash || !m->koff || !m->klen || !m->val || !m->keys) {
        rlc_strmap_free(m);
        return RLC_ENOMEM;
    }
    return 0;
}

void rlc_strmap_free(rlc_strmap_t *m) {
    free(m->hash);
    free(m->koff);
    free(m->klen);
    free(m->val);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static int grow(rlc_strmap_t *m) {
    rlc_strmap_t g = *m;
    size_t cap = m->cap * 2;
    g.hash = rlc_calloc(cap, sizeof *g.hash);
    g.koff = rlc_malloc(cap * sizeof *g.koff);
    g.klen = rlc_malloc(cap * sizeof *g.klen);
    g.val = rlc_malloc(cap * sizeof *g.val);
    if (!g.hash || !g.koff || !g.klen || !g.val) {
        free(g.hash), free(g.koff), free(g.klen), free(g.val);
        return RLC_ENOMEM;
    }
    g.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hash[i]) continue;
        size_t j = m->hash[i] & (cap - 1);
        while (g.hash[j]) j = (j + 1) & (cap - 1);
        g.hash[j] = m->hash[i];
        g.koff[j] = m->koff[i];
        g.klen[j] = m->klen[i];
        g.val[j] = m->val[i];
    }
    free(m->hash), free(m->koff), free(m->klen), free(m->val);
    m->hash = g.hash, m->koff = g.koff, m->klen = g.klen, m->val = g.val, m->cap = cap;
    return 0;
}

int rlc_strmap_put(rlc_strmap_t *m, const char *k, size_t n, int32_t v) {
    if (n > UINT32_MAX) return rlc_errc(RLC_ERANGE, "string map: a key of %zu bytes is too long", n);
    uint64_t h = rlc_hash_bytes(k, n);
    size_t j = h & (m->cap - 1);
    while (m->hash[j]) {
        if (m->hash[j] == h && m->klen[j] == n && !memcmp(m->keys + m->koff[j], k, n)) {
            m->val[j] = v;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if ((m->n + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc) return rc;
        return rlc_strmap_put(m, k, n, v);
    }
    if (m->kused + n > m->kcap) {
        size_t nc = m->kcap * 2;
        while (nc < m->kused + n) nc *= 2;
        if (nc > UINT32_MAX) return rlc_errc(RLC_ERANGE, "string map: its keys exceed 4 GiB");
        char *nk = rlc_realloc(m->keys, nc);
        if (!nk) return RLC_ENOMEM;
        m->keys = nk;
        m->kcap = nc;
    }
    memcpy(m->keys + m->kused, k, n);
    m->hash[j] = h;
    m->koff[j] = (uint32_t)m->kused;
    m->klen[j] = (uint32_t)n;
    m->val[j] = v;
    m->kused += n;
    m->n++;
    return 0;
}

int32_t rlc_strmap_get(const rlc_strmap_t *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint64_t h = rlc_hash_bytes(k, n);
    size_t j = h & (m->cap - 1);
    while (m->hash[j]) {
        if (m->hash[j] == h && m->klen[j] == n && !memcmp(m->keys + m->koff[j], k, n)) return m->val[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}
