/* Jinja values: the pool, constructors, truth and equality as Python has them, str() and
 * repr(), and json.dumps's formatting (ensure_ascii=False; separators ", " and ": ", or ","
 * and ": " with an indent). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tokenizer/jinja_value.h"

void *jp_alloc(jpool_t *p, size_t n) {
    if (p->n == p->cap) {
        int nc = p->cap ? p->cap * 2 : 256;
        void **np = realloc(p->ptrs, (size_t)nc * sizeof *np);
        if (!np) {
            p->rc = RLC_ENOMEM;
            return NULL;
        }
        p->ptrs = np, p->cap = nc;
    }
    void *x = calloc(1, n ? n : 1);
    if (!x) {
        p->rc = RLC_ENOMEM;
        return NULL;
    }
    p->ptrs[p->n++] = x;
    return x;
}

jv_t *jv_new(jpool_t *p, int k) {
    jv_t *v = jp_alloc(p, sizeof *v);
    if (v) v->k = k;
    return v;
}

jv_t *jv_str(jpool_t *p, const char *s, size_t n) {
    jv_t *v = jv_new(p, V_STR);
    if (!v || !(v->s = jp_alloc(p, n + 1))) return NULL;
    if (n) memcpy(v->s, s, n);
    v->n = n;
    return v;
}

jv_t *jv_int(jpool_t *p, long long i) {
    jv_t *v = jv_new(p, V_INT);
    if (v) v->i = i;
    return v;
}

jv_t *jv_bool(jpool_t *p, int b) {
    jv_t *v = jv_new(p, V_BOOL);
    if (v) v->i = b != 0;
    return v;
}

static int grow(jpool_t *p, jv_t *c) {
    if (c->len < c->cap) return 0;
    int nc = c->cap ? c->cap * 2 : 8;
    jv_t **ni = jp_alloc(p, (size_t)nc * sizeof *ni);
    char **nk = c->k == V_DICT ? jp_alloc(p, (size_t)nc * sizeof *nk) : NULL;
    if (!ni || (c->k == V_DICT && !nk)) return RLC_ENOMEM;
    if (c->len) memcpy(ni, c->items, (size_t)c->len * sizeof *ni);
    if (nk && c->len) memcpy(nk, c->keys, (size_t)c->len * sizeof *nk);
    c->items = ni, c->cap = nc;
    if (nk) c->keys = nk;
    return 0;
}

int jv_push(jpool_t *p, jv_t *list, jv_t *v) {
    if (!v || grow(p, list)) return RLC_ENOMEM;
    list->items[list->len++] = v;
    return 0;
}

jv_t *jv_get(const jv_t *d, const char *key) {
    for (int i = 0; d && d->k == V_DICT && i < d->len; i++)
        if (!strcmp(d->keys[i], key)) return d->items[i];
    return NULL;
}

int jv_set(jpool_t *p, jv_t *d, const char *key, jv_t *v) {
    if (!v) return RLC_ENOMEM;
    for (int i = 0; i < d->len; i++)
        if (!strcmp(d->keys[i], key)) return d->items[i] = v, 0;
    if (grow(p, d)) return RLC_ENOMEM;
    size_t kn = strlen(key);
    char *k = jp_alloc(p, kn + 1);
    if (!k) return RLC_ENOMEM;
    memcpy(k, key, kn);
    d->keys[d->len] = k, d->items[d->len++] = v;
    return 0;
}

/* The stored form of a key value into buf (cap bytes): NULL when it cannot be a key. */
static const char *key_text(const jv_t *k, char *buf, size_t cap) {
    if (k && k->k == V_STR) return k->s;
    if (!k || (k->k != V_INT && k->k != V_BOOL)) return NULL;
    snprintf(buf, cap, "%c%lld", JV_INTKEY, k->i);
    return buf;
}

int jv_set_key(jpool_t *p, jv_t *d, const jv_t *key, jv_t *v) {
    char buf[32];
    const char *t = key_text(key, buf, sizeof buf);
    return t ? jv_set(p, d, t, v) : RLC_EINVAL;
}

jv_t *jv_get_key(const jv_t *d, const jv_t *key) {
    char buf[32];
    const char *t = key_text(key, buf, sizeof buf);
    return t ? jv_get(d, t) : NULL;
}

jv_t *jv_key_at(jpool_t *p, const jv_t *d, int i) {
    const char *k = d->keys[i];
    return k[0] == JV_INTKEY ? jv_int(p, strtoll(k + 1, NULL, 10)) : jv_str(p, k, strlen(k));
}

void jv_html_escape_into(rlc_sbuf_t *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *e = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : s[i] == '\'' ? "&#39;"
                      : s[i] == '"' ? "&#34;" : NULL;
        if (e) rlc_sbuf_add(b, e, strlen(e));
        else rlc_sbuf_add(b, s + i, 1);
    }
}

int jv_order(const jv_t *x, const jv_t *y, int cs, int *res) {
    int nx = x && (x->k == V_INT || x->k == V_BOOL || x->k == V_FLOAT);
    int ny = y && (y->k == V_INT || y->k == V_BOOL || y->k == V_FLOAT);
    if (nx && ny) {
        double a = x->k == V_FLOAT ? x->f : (double)x->i, b = y->k == V_FLOAT ? y->f : (double)y->i;
        return *res = (a > b) - (a < b), 0;
    }
    if (!x || !y || x->k != V_STR || y->k != V_STR) return 1;
    size_t n = x->n < y->n ? x->n : y->n;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)x->s[i], b = (unsigned char)y->s[i];
        if (!cs) a = (unsigned char)tolower(a), b = (unsigned char)tolower(b);
        if (a != b) return *res = a < b ? -1 : 1, 0;
    }
    return *res = (x->n > y->n) - (x->n < y->n), 0;
}

int jv_truthy(const jv_t *v) {
    if (!v) return 0;
    switch (v->k) {
    case V_BOOL:
    case V_INT: return v->i != 0;
    case V_FLOAT: return v->f != 0;
    case V_STR: return v->n > 0;
    case V_LIST:
    case V_DICT: return v->ns || v->len > 0;
    case V_FUNC: return 1;
    default: return 0;
    }
}

static int is_num(const jv_t *v) { return v && (v->k == V_INT || v->k == V_BOOL || v->k == V_FLOAT); }
static double num(const jv_t *v) { return v->k == V_FLOAT ? v->f : (double)v->i; }

int jv_equal(const jv_t *a, const jv_t *b) {
    int ka = a ? a->k : V_UNDEF, kb = b ? b->k : V_UNDEF;
    if (is_num(a) && is_num(b)) return num(a) == num(b);
    if (ka != kb) return 0;
    switch (ka) {
    case V_UNDEF:
    case V_NONE: return 1;
    case V_STR: return a->n == b->n && !memcmp(a->s, b->s, a->n);
    case V_LIST:
        if (a->len != b->len) return 0;
        for (int i = 0; i < a->len; i++)
            if (!jv_equal(a->items[i], b->items[i])) return 0;
        return 1;
    case V_DICT:
        if (a->len != b->len) return 0;
        for (int i = 0; i < a->len; i++)
            if (!jv_equal(a->items[i], jv_get(b, a->keys[i])) || !jv_get(b, a->keys[i])) return 0;
        return 1;
    default: return a == b;
    }
}

size_t jv_char_end(const char *s, size_t n, size_t i) {
    size_t e = i + 1;
    while (e < n && ((unsigned char)s[e] & 0xC0) == 0x80) e++;
    return e;
}

jv_t *jv_from_sbuf(jpool_t *p, rlc_sbuf_t *b) {
    size_t n = b->len;
    char *t = rlc_sbuf_done(b); /* "" when empty, NULL after a failure */
    jv_t *v = t ? jv_str(p, t, n) : NULL;
    free(t);
    return v;
}

size_t jv_cplen(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Python's repr of a float: the shortest digits that read back the same, with ".0" for an
 * integral value, "inf" / "nan" as Python spells them. */
static void float_repr(rlc_sbuf_t *b, double f) {
    if (isnan(f)) { rlc_sbuf_add(b, "nan", 3); return; }
    if (isinf(f)) {
        rlc_sbuf_add(b, f > 0 ? "inf" : "-inf", f > 0 ? 3 : 4);
        return;
    }
    char e[40], digits[24], out[64];
    int p = 1;
    for (; p <= 17; p++) { /* the fewest significant digits that read back exactly */
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    int nd = 0, neg = e[0] == '-';
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int x = atoi(q + 1), o = 0; /* value = d1.d2d3... * 10^x */
    if (neg) out[o++] = '-';
    if (x >= 16 || x < -4) { /* Python's repr: d.ddde+XX */
        out[o++] = digits[0];
        if (nd > 1) out[o++] = '.', memcpy(out + o, digits + 1, (size_t)nd - 1), o += nd - 1;
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) {
        out[o++] = '0', out[o++] = '.';
        for (int k = 0; k < -x - 1; k++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)nd), o += nd;
    } else {
        for (int k = 0; k <= x; k++) out[o++] = k < nd ? digits[k] : '0';
        out[o++] = '.';
        if (nd > x + 1) memcpy(out + o, digits + x + 1, (size_t)(nd - x - 1)), o += nd - x - 1;
        else out[o++] = '0';
    }
    rlc_sbuf_add(b, out, (size_t)o);
}

static void repr_str(rlc_sbuf_t *b, const char *s, size_t n) {
    int sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    rlc_sbuf_add(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') rlc_sbuf_add(b, "\\\\", 2);
        else if (c == (unsigned char)q) rlc_sbuf_printf(b, "\\%c", q);
        else if (c == '\n') rlc_sbuf_add(b, "\\n", 2);
        else if (c == '\t') rlc_sbuf_add(b, "\\t", 2);
        else if (c == '\r') rlc_sbuf_add(b, "\\r", 2);
        else if (c < 0x20 || c == 0x7f) rlc_sbuf_printf(b, "\\x%02x", c);
        else rlc_sbuf_add(b, s + i, 1);
    }
    rlc_sbuf_add(b, &q, 1);
}

static void repr(rlc_sbuf_t *b, const jv_t *v) {
    if (v && v->k == V_STR) { repr_str(b, v->s, v->n); return; }
    if (v && (v->k == V_LIST || (v->k == V_DICT && !v->ns))) {
        int d = v->k == V_DICT, t = v->tuple;
        rlc_sbuf_add(b, d ? "{" : t ? "(" : "[", 1);
        for (int i = 0; i < v->len; i++) {
            if (i) rlc_sbuf_add(b, ", ", 2);
            if (d && v->keys[i][0] == JV_INTKEY) rlc_sbuf_add(b, v->keys[i] + 1, strlen(v->keys[i] + 1));
            else if (d) repr_str(b, v->keys[i], strlen(v->keys[i]));
            if (d) rlc_sbuf_add(b, ": ", 2);
            repr(b, v->items[i]);
        }
        if (t && v->len == 1) rlc_sbuf_add(b, ",", 1);
        rlc_sbuf_add(b, d ? "}" : t ? ")" : "]", 1);
        return;
    }
    jv_str_into(b, v);
}

void jv_str_into(rlc_sbuf_t *b, const jv_t *v) {
    if (!v) return;
    switch (v->k) {
    case V_NONE: { rlc_sbuf_add(b, "None", 4); return; }
    case V_BOOL: rlc_sbuf_add(b, v->i ? "True" : "False", v->i ? 4 : 5); return;
    case V_INT: { rlc_sbuf_printf(b, "%lld", v->i); return; }
    case V_FLOAT: { float_repr(b, v->f); return; }
    case V_STR: { rlc_sbuf_add(b, v->s, v->n); return; }
    case V_LIST:
    case V_DICT:
        if (v->ns) { rlc_sbuf_add(b, "<Namespace>", 11); return; }
        { repr(b, v); return; }
    case V_FUNC: { rlc_sbuf_printf(b, "<function %s>", v->s ? v->s : "?"); return; }
    default: return;
    }
}

static void json_str(rlc_sbuf_t *b, const char *s, size_t n) {
    rlc_sbuf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') rlc_sbuf_add(b, "\\\"", 2);
        else if (c == '\\') rlc_sbuf_add(b, "\\\\", 2);
        else if (c == '\n') rlc_sbuf_add(b, "\\n", 2);
        else if (c == '\r') rlc_sbuf_add(b, "\\r", 2);
        else if (c == '\t') rlc_sbuf_add(b, "\\t", 2);
        else if (c == '\b') rlc_sbuf_add(b, "\\b", 2);
        else if (c == '\f') rlc_sbuf_add(b, "\\f", 2);
        else if (c < 0x20 || c == 0x7f) rlc_sbuf_printf(b, "\\u%04x", c);
        else rlc_sbuf_add(b, s + i, 1);
    }
    rlc_sbuf_add(b, "\"", 1);
}

static void newline(rlc_sbuf_t *b, int indent, int depth) {
    rlc_sbuf_add(b, "\n", 1);
    for (int i = 0; i < indent * depth; i++) rlc_sbuf_add(b, " ", 1);
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static int json_rec(rlc_sbuf_t *b, const jv_t *v, int indent, int sort, int depth) {
    if (!v || v->k == V_UNDEF || v->k == V_NONE) return rlc_sbuf_add(b, "null", 4), 0;
    if (v->k == V_BOOL) return rlc_sbuf_add(b, v->i ? "true" : "false", v->i ? 4 : 5), 0;
    if (v->k == V_INT) return rlc_sbuf_printf(b, "%lld", v->i), 0;
    if (v->k == V_FLOAT) {
        if (isnan(v->f) || isinf(v->f)) return rlc_sbuf_add(b, isnan(v->f) ? "NaN" : v->f > 0 ? "Infinity" : "-Infinity",
                                                             isnan(v->f) ? 3 : v->f > 0 ? 8 : 9), 0;
        return float_repr(b, v->f), 0;
    }
    if (v->k == V_STR) return json_str(b, v->s, v->n), 0;
    if (v->k != V_LIST && v->k != V_DICT) return rlc_errc(RLC_EINVAL, "chat template: tojson of a function");
    if (v->gen) return rlc_errc(RLC_EINVAL, "chat template: tojson of a generator (add |list)");
    int d = v->k == V_DICT;
    if (!v->len) return rlc_sbuf_add(b, d ? "{}" : "[]", 2), 0;
    rlc_sbuf_add(b, d ? "{" : "[", 1);
    char **order = NULL; /* sort_keys: indices by key */
    if (d && sort) {
        order = malloc((size_t)v->len * sizeof *order);
        if (!order) return RLC_ENOMEM;
        for (int i = 0; i < v->len; i++) order[i] = (char *)&v->keys[i];
        qsort(order, (size_t)v->len, sizeof *order, cmp_keys);
    }
    int rc = 0;
    for (int j = 0; j < v->len && !rc; j++) {
        int i = order ? (int)((char **)order[j] - v->keys) : j;
        if (j) rlc_sbuf_add(b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
        if (indent >= 0) newline(b, indent, depth + 1);
        const char *key = d ? v->keys[i] + (v->keys[i][0] == JV_INTKEY) : NULL; /* json.dumps: "0" for 0 */
        if (d) json_str(b, key, strlen(key)), rlc_sbuf_add(b, ": ", 2);
        rc = json_rec(b, v->items[i], indent, sort, depth + 1);
    }
    free(order);
    if (indent >= 0) newline(b, indent, depth);
    rlc_sbuf_add(b, d ? "}" : "]", 1);
    return rc;
}

int jv_json(rlc_sbuf_t *b, const jv_t *v, int indent, int sort_keys) { return json_rec(b, v, indent, sort_keys, 0); }
