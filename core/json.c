/* JSON helpers over cJSON with positioned, named errors. */
#include "core/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/sbuf.h"
#include "core/str.h"

static void position(const char *text, const char *at, long *line, long *col) {
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* The first key that an object under v holds twice, or NULL (also when out of memory, which
 * only skips the check): the keys sorted, neighbours compared (a 152k-entry vocabulary takes
 * milliseconds). cJSON keeps both and reads the first, Python's json the last: such a file
 * means different things to the two, so it is refused. */
static const char *duplicate_key(const cJSON *v) {
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
        const char *d = duplicate_key(c);
        if (d) return d;
    }
    if (!cJSON_IsObject(v) || !v->child || !v->child->next) return NULL;
    int n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    const char **k = malloc((size_t)n * sizeof *k);
    if (!k) return NULL;
    int m = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (c->string) k[m++] = c->string;
    const char *d = rlc_sorted_repeat(k, (size_t)m);
    free(k);
    return d;
}

cJSON *rlc_json_parse(const char *text, size_t len, const char *what) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        long line, col;
        const char *at = end ? end : text;
        if (at < text || at > text + len) at = text;
        position(text, at, &line, &col);
        rlc_errc(RLC_EFMT, "%s: malformed JSON at line %ld col %ld", what, line, col);
        return NULL;
    }
    /* Reject trailing garbage after the value (cJSON stops at the end of the first value). */
    const char *p = end ? end : text + len;
    while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p < text + len && *p) {
        long line, col;
        position(text, p, &line, &col);
        cJSON_Delete(j);
        rlc_errc(RLC_EFMT, "%s: unexpected text after JSON value at line %ld col %ld", what, line, col);
        return NULL;
    }
    const char *dup = duplicate_key(j);
    if (dup) {
        rlc_errc(RLC_EFMT, "%s: key '%.60s' given twice in one object", what, dup);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int rlc_json_scan(const char *s, size_t n, size_t *starts, size_t *lens, int cap, int *nul) {
    int k = 0;
    *nul = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\' && i + 1 < n) {
                    if (s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4)) *nul = 1;
                    i++;
                }
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t b = i;
            while (i < n && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                             (s[i] >= '0' && s[i] <= '9')))
                i++;
            if (k < cap && starts) starts[k] = b, lens[k] = i - b;
            k++;
        } else {
            i++;
        }
    }
    return k;
}

/* Number items of the tree in document order (cJSON keeps members and elements in order). */
static void number_items(cJSON *j, cJSON **items, int cap, int *k) {
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j)) {
            if (*k < cap) items[*k] = j;
            (*k)++;
        }
        if (j->child) number_items(j->child, items, cap, k);
    }
}

void rlc_json_keep_literals(cJSON *root, const char *s, const size_t *starts, const size_t *lens, int cap,
                            int found) {
    if (!root || found > cap) return;
    cJSON **items = malloc(sizeof *items * (size_t)(found ? found : 1));
    int k = 0;
    if (items) number_items(root->child, items, found, &k);
    for (int i = 0; items && k == found && i < k; i++) {
        char *lit = malloc(lens[i] + 1);
        if (!lit) break;
        memcpy(lit, s + starts[i], lens[i]);
        lit[lens[i]] = 0;
        items[i]->valuestring = lit;
    }
    free(items);
}

cJSON *rlc_json_parse_lit(const char *text, size_t len, const char *what) {
    int nul, found = rlc_json_scan(text, len, NULL, NULL, 0, &nul);
    size_t *sp = malloc(sizeof *sp * 2 * (size_t)(found ? found : 1));
    if (!sp) {
        rlc_errc(RLC_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    rlc_json_scan(text, len, sp, sp + found, found, &nul);
    cJSON *j = rlc_json_parse(text, len, what);
    rlc_json_keep_literals(j, text, sp, sp + found, found, found);
    free(sp);
    return j;
}

cJSON *rlc_json_load_file_lit(const char *path) {
    char *buf;
    size_t n;
    if (fs_read_all(path, &buf, &n)) return NULL;
    cJSON *j = rlc_json_parse_lit(buf, n, path);
    free(buf);
    return j;
}

cJSON *rlc_json_load_file(const char *path) {
    char *buf;
    size_t n;
    if (fs_read_all(path, &buf, &n)) return NULL;
    cJSON *j = rlc_json_parse(buf, n, path);
    free(buf);
    return j;
}

static int absent(const char *key, int required, const char *what) {
    if (required) return rlc_errc(RLC_EINVAL, "%s: missing field '%s'", what, key);
    return 1;
}

int rlc_json_get_num(const cJSON *obj, const char *key, double *out, int required, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return absent(key, required, what);
    if (!cJSON_IsNumber(v)) return rlc_errc(RLC_EINVAL, "%s: field '%s' must be a number", what, key);
    *out = v->valuedouble;
    return 0;
}

int rlc_json_get_int(const cJSON *obj, const char *key, long long *out, int required, const char *what) {
    double d;
    int rc = rlc_json_get_num(obj, key, &d, required, what);
    if (rc) return rc;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
        return rlc_errc(RLC_EINVAL, "%s: field '%s' must be an integer", what, key);
    *out = (long long)d;
    return 0;
}

int rlc_json_get_bool(const cJSON *obj, const char *key, int *out, int required, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return absent(key, required, what);
    if (!cJSON_IsBool(v)) return rlc_errc(RLC_EINVAL, "%s: field '%s' must be true or false", what, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int rlc_json_get_str(const cJSON *obj, const char *key, const char **out, int required, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return absent(key, required, what);
    if (!cJSON_IsString(v)) return rlc_errc(RLC_EINVAL, "%s: field '%s' must be a string", what, key);
    *out = v->valuestring;
    return 0;
}

int rlc_json_check_keys(const cJSON *obj, const char *const *allowed, const char *what) {
    if (!cJSON_IsObject(obj)) return rlc_errc(RLC_EINVAL, "%s: expected a JSON object", what);
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (c->string && !strcmp(c->string, *a)) {
                ok = 1;
                break;
            }
        if (!ok) return rlc_errc(RLC_EINVAL, "%s: unknown key '%s'", what, c->string ? c->string : "?");
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid/truncated. */
static size_t utf8_len(const unsigned char *p, size_t left) {
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if (left < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

int rlc_utf8_is_text(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, L; i < n; i += L)
        if (!p[i] || !(L = utf8_len(p + i, n - i))) return 0;
    return 1;
}

cJSON *rlc_json_number_lit(double d, const char *lit) {
    cJSON *j = cJSON_CreateNumber(d);
    if (j && !(j->valuestring = strdup(lit))) cJSON_Delete(j), j = NULL;
    return j;
}

cJSON *rlc_json_float(double d, int single) {
    if (!isfinite(d)) return cJSON_CreateNull();
    char lit[40];
    snprintf(lit, sizeof lit, "%.17g", d);
    for (int prec = 1; prec < 17; prec++) { /* the shortest text that reads back the same */
        char t[40];
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d || (single && (float)strtod(t, NULL) == (float)d)) {
            memcpy(lit, t, sizeof t);
            break;
        }
    }
    return rlc_json_number_lit(single ? strtod(lit, NULL) : d, lit); /* a float's value is its literal's */
}

cJSON *rlc_json_bytes(const char *s, size_t n, long *nontext) {
    if (!rlc_utf8_is_text(s, n)) {
        (*nontext)++;
        return cJSON_CreateNull();
    }
    char *t = malloc(n + 1);
    if (!t) return NULL;
    if (n) memcpy(t, s, n);
    t[n] = 0;
    cJSON *j = cJSON_CreateString(t);
    free(t);
    return j;
}

cJSON *rlc_json_decimal(const uint8_t *bytes, size_t n, int be, int scale) {
    uint8_t mag[32]; /* big-endian magnitude */
    if (!n || n > sizeof mag || scale < 0 || scale > 76) return cJSON_CreateNull();
    for (size_t i = 0; i < n; i++) mag[i] = bytes[be ? i : n - 1 - i];
    int neg = mag[0] >> 7;
    if (neg) { /* two's complement: invert, add one */
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned x = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)x, carry = x >> 8;
        }
    }
    char dig[96]; /* decimal digits, least significant first (at most 78 for 32 bytes) */
    int nd = 0;
    for (int nonzero = 1; nonzero || nd <= scale;) {
        unsigned rem = 0;
        nonzero = 0;
        for (size_t i = 0; i < n; i++) { /* mag /= 10 */
            unsigned cur = rem << 8 | mag[i];
            mag[i] = (uint8_t)(cur / 10), rem = cur % 10;
            nonzero |= mag[i];
        }
        dig[nd++] = (char)('0' + rem);
    }
    char lit[100];
    int k = 0;
    if (neg) lit[k++] = '-';
    for (int i = nd - 1; i >= 0; i--) {
        lit[k++] = dig[i];
        if (i == scale && scale) lit[k++] = '.';
    }
    lit[k] = 0;
    return rlc_json_number_lit(strtod(lit, NULL), lit);
}

char *rlc_utf8_dup_valid(const char *s, size_t n) {
    char *o = rlc_malloc(3 * n + 1);
    if (!o) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < n) {
        size_t L = p[i] ? utf8_len(p + i, n - i) : 0;
        if (L) {
            memcpy(o + k, p + i, L);
            k += L;
            i += L;
        } else { /* U+FFFD for an invalid byte (and for NUL, which JSON strings cannot hold here) */
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    o[k] = 0;
    return o;
}

cJSON *rlc_json_add_text(cJSON *obj, const char *key, const char *s, size_t n) {
    char *v = rlc_utf8_dup_valid(s, n);
    if (!v) return NULL;
    cJSON *r = cJSON_AddStringToObject(obj, key, v);
    free(v);
    return r;
}

/* A number item that still holds the literal it was read as (valuestring; a later
 * cJSON_SetNumberValue leaves a stale one, which no longer reads as its value). */
static int literal_number(const cJSON *j) {
    return cJSON_IsNumber(j) && j->valuestring && strtod(j->valuestring, NULL) == j->valuedouble;
}

static int has_literals(const cJSON *j) {
    for (; j; j = j->next)
        if (literal_number(j) || has_literals(j->child)) return 1;
    return 0;
}

/* Number items printed as their literal (raw items), in a copy. */
static void literals_to_raw(cJSON *j) {
    for (; j; j = j->next) {
        if (literal_number(j)) j->type = (j->type & ~0xFF) | cJSON_Raw;
        literals_to_raw(j->child);
    }
}

char *rlc_json_print(const cJSON *obj, int pretty) {
    cJSON *copy = NULL;
    if (obj && (literal_number(obj) || has_literals(obj->child))) { /* 9007199254740993 stays exact */
        if ((copy = cJSON_Duplicate(obj, 1))) {
            if (literal_number(copy)) copy->type = (copy->type & ~0xFF) | cJSON_Raw;
            literals_to_raw(copy->child);
        }
    }
    const cJSON *o = copy ? copy : obj;
    char *s = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
    cJSON_Delete(copy);
    if (!s) rlc_errc(RLC_ENOMEM, "out of memory printing JSON");
    return s;
}

int rlc_json_write_line(fs_atomic_t *a, const cJSON *obj) {
    char *s = rlc_json_print(obj, 0);
    if (!s) return RLC_ENOMEM;
    int rc = fs_atomic_write(a, s, strlen(s));
    if (!rc) rc = fs_atomic_write(a, "\n", 1);
    free(s);
    return rc;
}

char *rlc_json_text(const cJSON *v) {
    if (cJSON_IsString(v)) return rlc_strdup(v->valuestring);
    if (cJSON_IsNumber(v) && v->valuestring) return rlc_strdup(v->valuestring); /* the literal as written */
    if (cJSON_IsNumber(v)) {
        char tmp[64];
        double d = v->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) < 9e15) snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        else snprintf(tmp, sizeof tmp, "%.17g", d);
        return rlc_strdup(tmp);
    }
    return NULL;
}

/* The parts' texts joined with "\n" (malloc'd), or NULL with *why set (or out of memory). */
static char *parts_text(const cJSON *parts, const char **why) {
    if (!parts->child) {
        *why = "a message's content is an empty list of parts";
        return NULL;
    }
    rlc_sbuf_t b = {0};
    for (const cJSON *p = parts->child; p; p = p->next) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
            *why = cJSON_IsString(type) && strcmp(type->valuestring, "text")
                       ? "a content part is not text (this model reads text only)"
                       : "a content part is not {\"type\": \"text\", \"text\": string}";
            free(rlc_sbuf_done(&b));
            return NULL;
        }
        if (p != parts->child) rlc_sbuf_add(&b, "\n", 1);
        rlc_sbuf_add(&b, text->valuestring, strlen(text->valuestring));
    }
    return rlc_sbuf_done(&b);
}

int rlc_json_flatten_content(cJSON *messages, const char **why) {
    *why = NULL;
    int arr = cJSON_IsArray(messages);
    if (!arr && !cJSON_IsObject(messages)) {
        *why = "not an array of messages";
        return 1;
    }
    for (cJSON *m = arr ? messages->child : messages; m; m = arr ? m->next : NULL) {
        if (!cJSON_IsObject(m)) {
            *why = "a message is not an object";
            return 1;
        }
        cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsArray(c)) continue;
        char *s = parts_text(c, why);
        if (!s) return *why ? 1 : RLC_ENOMEM;
        cJSON *v = cJSON_CreateString(s);
        free(s);
        if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(m, "content", v)) {
            cJSON_Delete(v);
            return RLC_ENOMEM;
        }
    }
    return 0;
}
