/* The vocabulary table: per id, the raw bytes it contributes to decoded text and its
 * flags (present, special, added), filled by the loaders and read by decode, chat
 * rendering and callers. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tokenizer/tok_internal.h"

int tok_set_token(tok_t *t, int32_t id, const char *bytes, size_t n, int flags) {
    if (id < 0) return rlc_errc(RLC_EFMT, "tokenizer: negative token id %d", id);
    if (id >= t->vocab_size) {
        int nv = id + 1;
        size_t *bo = rlc_realloc(t->boff, (size_t)nv * sizeof *bo);
        if (!bo) return RLC_ENOMEM;
        t->boff = bo;
        uint32_t *bl = rlc_realloc(t->blen, (size_t)nv * sizeof *bl);
        if (!bl) return RLC_ENOMEM;
        t->blen = bl;
        uint8_t *fl = rlc_realloc(t->flags, (size_t)nv);
        if (!fl) return RLC_ENOMEM;
        t->flags = fl;
        for (int i = t->vocab_size; i < nv; i++) t->boff[i] = 0, t->blen[i] = 0, t->flags[i] = 0;
        t->vocab_size = nv;
    }
    size_t used = t->blob_used;
    if (used + n + 1 > t->blob_cap) {
        size_t nc = t->blob_cap ? t->blob_cap * 2 : 65536;
        while (nc < used + n + 1) nc *= 2;
        char *nb = rlc_realloc(t->blob, nc);
        if (!nb) return RLC_ENOMEM;
        t->blob = nb;
        t->blob_cap = nc;
    }
    memcpy(t->blob + used, bytes, n);
    t->blob[used + n] = 0;
    t->boff[id] = used;
    t->blen[id] = (uint32_t)n;
    t->flags[id] = (uint8_t)flags;
    t->blob_used = used + n + 1;
    return 0;
}

int tok_vocab_size(const tok_t *t) { return t->vocab_size; }

int tok_is_special(const tok_t *t, int32_t id) {
    return id >= 0 && id < t->vocab_size && (t->flags[id] & TOKF_SPECIAL) ? 1 : 0;
}
int tok_token_bytes(const tok_t *t, int32_t id, const char **bytes, size_t *len) {
    if (id < 0 || id >= t->vocab_size || !(t->flags[id] & TOKF_PRESENT)) {
        *bytes = "";
        *len = 0;
        return rlc_errc(RLC_ERANGE, "token id %d is out of range (vocab size %d)", id, t->vocab_size);
    }
    *bytes = t->blob + t->boff[id];
    *len = t->blen[id];
    return 0;
}
