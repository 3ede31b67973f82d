/* Small containers and UTF-8 helpers used across tokenizer/: an int32 vector, a string ->
 * id hash map with its own key arena, UTF-8 validation and the character classes that
 * Hugging Face's added-token matching and Jinja's trim rely on. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "tokenizer/tok_internal.h"

int tok_ivec_push(tok_ivec_t *a, int32_t x) {
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 64;
        int32_t *v = rlc_realloc(a->v, (size_t)nc * sizeof *v);
        if (!v) return RLC_ENOMEM;
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

int tok_ivec_append(tok_ivec_t *a, const int32_t *x, int n) {
    if (n <= 0) return 0;
    if (a->n + n > a->cap) {
        int nc = a->cap ? a->cap : 64;
        while (nc < a->n + n) nc *= 2;
        int32_t *v = rlc_realloc(a->v, (size_t)nc * sizeof *v);
        if (!v) return RLC_ENOMEM;
        a->v = v;
        a->cap = nc;
    }
    memcpy(a->v + a->n, x, (size_t)n * sizeof *x);
    a->n += n;
    return 0;
}

size_t tok_utf8_invalid_at(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
        else return i;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        /* overlong 3/4-byte forms, surrogates, > U+10FFFF */
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += k + 1;
    }
    return (size_t)-1;
}

int tok_utf8_next(const char *str, size_t n, int32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    if (c < 0x80 || n < 2) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
        return 2;
    }
    if (c < 0xF0 || n < 4) {
        if (n < 3) {
            *cp = (int32_t)c;
            return 1;
        }
        *cp = (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F));
        return 3;
    }
    *cp = (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F));
    return 4;
}

int tok_utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode White_Space (Rust regex \s). */
int tok_cp_is_space(int32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int tok_cp_is_pyspace(int32_t cp) { return tok_cp_is_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

static int cp_is_space_pred(int32_t cp, const void *ctx) {
    (void)ctx;
    return tok_cp_is_space(cp);
}

void tok_utf8_trim(const char *s, size_t *a, size_t *b, int left, int right, int (*strip)(int32_t, const void *),
                   const void *ctx) {
    if (!strip) strip = cp_is_space_pred;
    size_t i = *a, e = *b;
    while (left && i < e) {
        int32_t cp;
        int k = tok_utf8_next(s + i, e - i, &cp);
        if (!strip(cp, ctx)) break;
        i += (size_t)k;
    }
    while (right && e > i) {
        size_t q = e - 1;
        while (q > i && ((unsigned char)s[q] & 0xC0) == 0x80 && e - q < 4) q--;
        int32_t cp;
        tok_utf8_next(s + q, e - q, &cp);
        if (!strip(cp, ctx)) break;
        e = q;
    }
    *a = i, *b = e;
}

/* Rust regex \w: alphabetic, marks, decimal digits, connector punctuation, joiners. */
int tok_cp_is_word(int32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC: return 1;
    default: return 0;
    }
}

cJSON *tok_load_opt_json(const char *dir, const char *name, int *rc) {
    char *p = fs_join(dir, name);
    *rc = 0;
    if (!p) {
        *rc = RLC_ENOMEM;
        return NULL;
    }
    cJSON *j = NULL;
    if (fs_exists(p)) {
        j = rlc_json_load_file(p);
        if (!j) *rc = rlc_err_ctx(RLC_EFMT, "tokenizer");
        else if (!cJSON_IsObject(j)) {
            *rc = rlc_errc(RLC_EFMT, "%s: not a JSON object", p);
            cJSON_Delete(j);
            j = NULL;
        }
    }
    free(p);
    return j;
}
