/* The tokenizer.json normalizers, applied in order to text before pre-tokenization and to
 * normalized added tokens at load: NFC/NFD/NFKC/NFKD (utf8proc), Prepend, Replace (a literal
 * pattern), Lowercase (utf8proc's per-code-point lower case), Strip (Unicode white space). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "tokenizer/tok_internal.h"

/* One step from (src, n) into a new malloc'd buffer. */
static int norm_step(const tok_norm_t *st, const char *src, size_t n, char **out, size_t *outn) {
    if (st->kind == NORM_UNICODE) {
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)n, &dst,
                                          (utf8proc_option_t)st->opts);
        if (r < 0) return rlc_errc(RLC_EINVAL, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
        *out = (char *)dst, *outn = (size_t)r;
        return 0;
    }
    size_t cap = st->kind == NORM_PREPEND ? n + st->an + 1
                 : st->kind == NORM_REPLACE && st->bn > st->an ? n / (st->an ? st->an : 1) * st->bn + n + 1
                 : n * 4 / 3 + 8; /* lower case can grow a few code points by a byte */
    char *o = rlc_malloc(cap), *p = o;
    if (!o) return RLC_ENOMEM;
    size_t i = 0, end = n;
    switch (st->kind) {
    case NORM_PREPEND: /* HF: only a non-empty string gets the prefix */
        if (n) memcpy(p, st->a, st->an), p += st->an;
        memcpy(p, src, n), p += n;
        break;
    case NORM_REPLACE:
        while (i < n) {
            if (st->an && i + st->an <= n && !memcmp(src + i, st->a, st->an)) {
                memcpy(p, st->b, st->bn), p += st->bn, i += st->an;
            } else {
                *p++ = src[i++];
            }
        }
        break;
    case NORM_LOWERCASE:
        while (i < n) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)src + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k <= 0) k = 1, cp = (unsigned char)src[i];
            if ((size_t)(p - o) + 8 > cap) { /* grow */
                size_t used = (size_t)(p - o);
                char *no = rlc_realloc(o, cap * 2);
                if (!no) return free(o), RLC_ENOMEM;
                o = no, p = o + used, cap *= 2;
            }
            if (cp == 0x130) { /* the one unconditional multi-character lower case: İ -> i + U+0307 */
                p += utf8proc_encode_char(0x69, (utf8proc_uint8_t *)p);
                p += utf8proc_encode_char(0x307, (utf8proc_uint8_t *)p);
            } else {
                p += utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)p);
            }
            i += (size_t)k;
        }
        break;
    case NORM_STRIP:
        tok_utf8_trim(src, &i, &end, st->left, st->right, NULL, NULL);
        memcpy(p, src + i, end - i), p += end - i;
        break;
    default: free(o); return rlc_errc(RLC_EINVAL, "tokenizer: unknown normalizer step %d", st->kind);
    }
    *out = o, *outn = (size_t)(p - o);
    return 0;
}

int tok_normalize(const tok_t *t, const char *s, size_t n, char **out, size_t *outn) {
    char *cur = NULL;
    size_t curn = n;
    const char *src = s;
    for (int i = 0; i < t->n_norm; i++) {
        char *next = NULL;
        size_t nn = 0;
        int rc = norm_step(&t->norm[i], src, curn, &next, &nn);
        free(cur);
        if (rc) return rc;
        cur = next, curn = nn, src = cur;
    }
    *out = cur;
    *outn = curn;
    return 0;
}
