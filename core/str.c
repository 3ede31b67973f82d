/* Small byte-string helpers (see str.h). */
#include "core/str.h"

#include <string.h>

const char *rlc_last_in(const char *s, const char *end, const char *pat) {
    size_t m = strlen(pat);
    if (!m || end < s || (size_t)(end - s) < m) return NULL;
    for (const char *p = end - m; p >= s; p--)
        if (*p == pat[0] && !memcmp(p, pat, m)) return p;
    return NULL;
}

int rlc_is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}
