/* The tokenizer.json normalizers as utf8proc option sets (NFC/NFD/NFKC/NFKD, in order),
 * applied to text before pre-tokenization and to normalized added tokens at load. */
#include <stdlib.h>
#include <utf8proc.h>

#include "core/err.h"
#include "tokenizer/tok_internal.h"

int tok_normalize(const tok_t *t, const char *s, size_t n, char **out, size_t *outn) {
    char *cur = NULL;
    size_t curn = n;
    const char *src = s;
    for (int i = 0; i < t->n_norm; i++) {
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)curn, &dst,
                                          (utf8proc_option_t)t->nfc_opts[i]);
        free(cur);
        if (r < 0) return rlc_errc(RLC_EINVAL, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
        cur = (char *)dst;
        curn = (size_t)r;
        src = cur;
    }
    *out = cur;
    *outn = curn;
    return 0;
}
