/* Jinja filters (trim, tojson, length, lower, upper, replace, items, selectattr, rejectattr,
 * select, reject, map, join, first, last, default, string, int, float, list, capitalize,
 * title, unique, indent, safe, abs, dictsort, sort, min, max), tests (defined, none, string, number, mapping, iterable,
 * sequence, boolean, equalto, in, odd, even, ...) and the str / dict methods templates call. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tokenizer/jinja_value.h"
#include "tokenizer/tok_internal.h"

#define ERR(line, ...) rlc_errc(RLC_EINVAL, "chat template line %d: " __VA_ARGS__)

static jv_t *arg(const jargs_t *a, const char *name, int pos) {
    for (int i = 0; i < a->n; i++)
        if (a->kw && a->kw[i] && !strcmp(a->kw[i], name)) return a->args[i];
    return pos >= 0 && pos < a->n && !(a->kw && a->kw[pos]) ? a->args[pos] : NULL;
}

/* Whether code point cp is strippable: in chars (a string, when given), or white space as
 * Python's str.isspace has it. */
static int strippable(int32_t cp, const void *ctx) {
    const jv_t *chars = ctx;
    if (!(chars && chars->k == V_STR)) return tok_cp_is_pyspace(cp);
    for (size_t i = 0; i < chars->n;) {
        int32_t c;
        i += (size_t)tok_utf8_next(chars->s + i, chars->n - i, &c);
        if (c == cp) return 1;
    }
    return 0;
}

static jv_t *to_str(jpool_t *p, const jv_t *v) {
    if (v && v->k == V_STR) return (jv_t *)v;
    rlc_sbuf_t b = {0};
    jv_str_into(&b, v);
    return jv_from_sbuf(p, &b);
}

/* strip / lstrip / rstrip of white space (or of the characters in chars), by code point. */
static jv_t *strip(jpool_t *p, const jv_t *s, int left, int right, const jv_t *chars) {
    size_t a = 0, b = s->n;
    tok_utf8_trim(s->s, &a, &b, left, right, strippable, chars);
    return jv_str(p, s->s + a, b - a);
}

static jv_t *replace_all(jpool_t *p, const jv_t *s, const jv_t *from, const jv_t *to) {
    rlc_sbuf_t b = {0};
    for (size_t i = 0; i < s->n;) {
        if (from->n && i + from->n <= s->n && !memcmp(s->s + i, from->s, from->n)) {
            rlc_sbuf_add(&b, to->s, to->n);
            i += from->n;
        } else {
            rlc_sbuf_add(&b, s->s + i, 1);
            i++;
        }
    }
    return jv_from_sbuf(p, &b);
}

/* str.split(sep=None): on runs of white space, or on each occurrence of sep. */
static jv_t *split(jpool_t *p, const jv_t *s, const jv_t *sep) {
    jv_t *l = jv_new(p, V_LIST);
    if (!l) return NULL;
    if (!sep || sep->k != V_STR) {
        for (size_t i = 0; i < s->n;) {
            int32_t cp;
            int len;
            while (i < s->n && (len = tok_utf8_next(s->s + i, s->n - i, &cp), tok_cp_is_pyspace(cp))) i += (size_t)len;
            size_t a = i;
            while (i < s->n && (len = tok_utf8_next(s->s + i, s->n - i, &cp), !tok_cp_is_pyspace(cp))) i += (size_t)len;
            if (i > a && jv_push(p, l, jv_str(p, s->s + a, i - a))) return NULL;
        }
        return l;
    }
    size_t a = 0;
    for (size_t i = 0; sep->n && i + sep->n <= s->n;) {
        if (!memcmp(s->s + i, sep->s, sep->n)) {
            if (jv_push(p, l, jv_str(p, s->s + a, i - a))) return NULL;
            i += sep->n, a = i;
        } else {
            i++;
        }
    }
    return jv_push(p, l, jv_str(p, s->s + a, s->n - a)) ? NULL : l;
}

static jv_t *case_map(jpool_t *p, const jv_t *s, int mode) { /* 0 lower, 1 upper, 2 capitalize, 3 title */
    jv_t *r = jv_str(p, s->s, s->n);
    int start = 1;
    for (size_t i = 0; r && i < r->n; i++) {
        unsigned char c = (unsigned char)r->s[i];
        if (c >= 0x80) {
            start = 0;
            continue;
        }
        int up = mode == 1 || ((mode == 2 && i == 0) || (mode == 3 && start));
        r->s[i] = (char)(up ? toupper(c) : tolower(c));
        start = !isalnum(c);
    }
    return r;
}

/* Python's str.format with {} / {0} / {name} fields and {{ }} escapes (no format specs). */
static int str_format(jpool_t *p, const jv_t *self, const jargs_t *a, int line, jv_t **out) {
    rlc_sbuf_t b = {0};
    int next = 0, rc = 0;
    for (size_t i = 0; i < self->n && !rc; i++) {
        char c = self->s[i];
        if ((c == '{' || c == '}') && i + 1 < self->n && self->s[i + 1] == c) {
            rlc_sbuf_add(&b, &c, 1), i++;
            continue;
        }
        if (c == '}') rc = ERR(line, "format(): single '}' in the format string", line);
        if (c != '{') {
            rlc_sbuf_add(&b, &c, 1);
            continue;
        }
        size_t e = i + 1;
        while (e < self->n && self->s[e] != '}' && self->s[e] != '{') e++;
        if (rc || e == self->n || self->s[e] != '}') {
            rc = rc ? rc : ERR(line, "format(): unmatched '{' in the format string", line);
            break;
        }
        char name[64];
        size_t nl = e - i - 1;
        if (nl >= sizeof name || memchr(self->s + i + 1, ':', nl) || memchr(self->s + i + 1, '!', nl)) {
            rc = ERR(line, "format(): only {}, {N} and {name} fields are supported", line);
            break;
        }
        memcpy(name, self->s + i + 1, nl), name[nl] = 0;
        int pos = nl == 0 ? next++ : isdigit((unsigned char)name[0]) ? atoi(name) : -1;
        jv_t *v = pos >= 0 ? arg(a, "", pos) : arg(a, name, -1);
        if (!v) rc = ERR(line, "format(): no argument for field {%s}", line, name);
        else jv_str_into(&b, v);
        i = e;
    }
    if (rc) {
        free(b.s);
        return rc;
    }
    return (*out = jv_from_sbuf(p, &b)) ? 0 : RLC_ENOMEM;
}

int jinja_method(jpool_t *p, jv_t *self, const char *m, const jargs_t *a, int line, jv_t **out) {
    jv_t *x = arg(a, "", 0), *y = arg(a, "", 1);
    if (self->k == V_DICT) {
        if (!strcmp(m, "get")) {
            jv_t *v = jv_get_key(self, x);
            *out = v ? v : y ? y : jv_new(p, V_NONE);
            return *out ? 0 : RLC_ENOMEM;
        }
        jv_t *l = jv_new(p, V_LIST);
        for (int i = 0; l && i < self->len; i++) {
            jv_t *k = jv_key_at(p, self, i), *e = k;
            if (!strcmp(m, "values")) e = self->items[i];
            else if (!strcmp(m, "items") && (e = jv_new(p, V_LIST)) &&
                     ((e->tuple = 1, jv_push(p, e, k)) || jv_push(p, e, self->items[i])))
                return RLC_ENOMEM;
            if (jv_push(p, l, e)) return RLC_ENOMEM;
        }
        return (*out = l) ? 0 : RLC_ENOMEM;
    }
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip"))
        *out = strip(p, self, m[0] != 'r', m[0] != 'l', x);
    else if (!strcmp(m, "split")) *out = split(p, self, x);
    else if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        if (!x || x->k != V_STR) return ERR(line, "%s() takes a string", line, m);
        int ok = x->n <= self->n && !memcmp(m[0] == 's' ? self->s : self->s + self->n - x->n, x->s, x->n);
        *out = jv_bool(p, ok);
    } else if (!strcmp(m, "upper") || !strcmp(m, "lower") || !strcmp(m, "title") || !strcmp(m, "capitalize"))
        *out = case_map(p, self, m[0] == 'l' ? 0 : m[0] == 'u' ? 1 : m[0] == 'c' ? 2 : 3);
    else if (!strcmp(m, "replace")) {
        if (!x || !y || x->k != V_STR || y->k != V_STR) return ERR(line, "replace() takes two strings", line);
        *out = replace_all(p, self, x, y);
    } else if (!strcmp(m, "format")) {
        return str_format(p, self, a, line, out);
    } else if (!strcmp(m, "count") || !strcmp(m, "find")) {
        if (!x || x->k != V_STR) return ERR(line, "%s() takes a string", line, m);
        long long c = 0, first = -1;
        for (size_t i = 0; x->n && i + x->n <= self->n;) {
            if (!memcmp(self->s + i, x->s, x->n)) {
                if (first < 0) first = (long long)jv_cplen(self->s, i);
                c++, i += x->n;
            } else {
                i++;
            }
        }
        *out = jv_int(p, m[0] == 'c' ? c : first);
    } else {
        return ERR(line, "method '%s' is not supported", line, m);
    }
    return *out ? 0 : RLC_ENOMEM;
}

/* selectattr / rejectattr / select / reject: items kept by a test (or by truth). */
static int select_items(jpool_t *p, jv_t *v, const jargs_t *a, int by_attr, int keep, int line, jv_t **out) {
    if (!jv_truthy(v)) v = jv_new(p, V_LIST); /* Jinja yields nothing from an empty or false value (None) */
    else if (v->k == V_DICT || v->k == V_STR) { /* their keys, their characters */
        jargs_t none = {0};
        int rc = jinja_filter(p, "list", v, &none, line, &v);
        if (rc) return rc;
    }
    if (!v) return RLC_ENOMEM;
    if (v->k != V_LIST) return ERR(line, "select/reject filters need a sequence", line);
    jv_t *attr = by_attr ? arg(a, "", 0) : NULL;
    if (by_attr && (!attr || attr->k != V_STR)) return ERR(line, "selectattr/rejectattr need an attribute name", line);
    jv_t *test = arg(a, "", by_attr ? 1 : 0);
    int skip = by_attr ? 2 : 1; /* the test's own arguments follow (none: args may be NULL) */
    jargs_t rest = {NULL, NULL, 0};
    if (a->n > skip) rest = (jargs_t){a->args + skip, a->kw ? a->kw + skip : NULL, a->n - skip};
    jv_t *l = jv_new(p, V_LIST);
    for (int i = 0; l && i < v->len; i++) {
        jv_t *x = by_attr ? jv_get(v->items[i], attr->s) : v->items[i];
        int r;
        if (test) {
            if (test->k != V_STR) return ERR(line, "the test name must be a string", line);
            int rc = jinja_test(p, test->s, x, &rest, line, &r);
            if (rc) return rc;
        } else {
            r = jv_truthy(x);
        }
        if (r == keep && jv_push(p, l, v->items[i])) return RLC_ENOMEM;
    }
    if (l) l->gen = 1;
    return (*out = l) ? 0 : RLC_ENOMEM;
}

static int join(jpool_t *p, jv_t *v, jv_t *sep, jv_t **out) {
    rlc_sbuf_t b = {0};
    for (int i = 0; v && v->k == V_LIST && i < v->len; i++) {
        if (i && sep) jv_str_into(&b, sep);
        jv_str_into(&b, v->items[i]);
    }
    return (*out = jv_from_sbuf(p, &b)) ? 0 : RLC_ENOMEM;
}

static int tojson(jpool_t *p, jv_t *v, const jargs_t *a, int line, jv_t **out) {
    if (v && v->gen) return ERR(line, "tojson of a generator (map/select/reject give one; add |list)", line);
    jv_t *ind = arg(a, "indent", 0), *sk = arg(a, "sort_keys", -1);
    rlc_sbuf_t b = {0};
    int rc = jv_json(&b, v, ind && ind->k == V_INT ? (int)ind->i : -1, jv_truthy(sk));
    *out = jv_from_sbuf(p, &b);
    return rc ? rc : *out ? 0 : RLC_ENOMEM;
}

static long long length(const jv_t *v) {
    return !v ? 0 : v->k == V_STR ? (long long)jv_cplen(v->s, v->n) : (v->k == V_LIST || v->k == V_DICT) ? v->len : 0;
}

/* The value a sort compares for item x: x itself, its attribute, or (dictsort) its key or value. */
static jv_t *sort_key(jv_t *x, const jv_t *attr, int pair_index) {
    if (pair_index >= 0) return x->items[pair_index];
    return attr && attr->k == V_STR ? jv_get(x, attr->s) : x;
}

/* A stable sort of l's items in place (insertion: templates sort a handful of items). */
static int sort_list(jv_t *l, const jv_t *attr, int pair_index, int cs, int rev, int line) {
    for (int i = 1; i < l->len; i++) {
        jv_t *x = l->items[i];
        int j = i - 1, c = 0;
        while (j >= 0) {
            if (jv_order(sort_key(l->items[j], attr, pair_index), sort_key(x, attr, pair_index), cs, &c))
                return ERR(line, "sort: values that cannot be ordered", line);
            if (rev ? c >= 0 : c <= 0) break;
            l->items[j + 1] = l->items[j];
            j--;
        }
        l->items[j + 1] = x;
    }
    return 0;
}

/* dictsort, sort, min, max. */
static int filter_sort(jpool_t *p, const char *f, jv_t *v, const jargs_t *a, int line, jv_t **out) {
    int dict = f[0] == 'd', mm = !strcmp(f, "min") || !strcmp(f, "max");
    jv_t *cs = arg(a, "case_sensitive", dict ? 0 : mm ? 0 : 1), *by = dict ? arg(a, "by", 1) : NULL;
    jv_t *rev = arg(a, "reverse", dict ? 2 : mm ? -1 : 0), *attr = dict ? NULL : arg(a, "attribute", mm ? 1 : 2);
    jv_t *l = jv_new(p, V_LIST);
    if (!l) return RLC_ENOMEM;
    if (dict) {
        if (!v || v->k != V_DICT) return ERR(line, "dictsort needs a mapping", line);
        for (int i = 0; i < v->len; i++) {
            jv_t *e = jv_new(p, V_LIST);
            if (!e || (e->tuple = 1, jv_push(p, e, jv_key_at(p, v, i))) || jv_push(p, e, v->items[i]) ||
                jv_push(p, l, e))
                return RLC_ENOMEM;
        }
    } else {
        jargs_t none = {0};
        int rc = v && v->k == V_LIST ? (l = v, 0) : jinja_filter(p, "list", v, &none, line, &l);
        if (rc) return rc;
        jv_t *c = jv_new(p, V_LIST); /* a copy: sort must not reorder the caller's list */
        for (int i = 0; c && i < l->len; i++)
            if (jv_push(p, c, l->items[i])) return RLC_ENOMEM;
        if (!(l = c)) return RLC_ENOMEM;
    }
    int pair = dict ? (by && by->k == V_STR && !strcmp(by->s, "value") ? 1 : 0) : -1;
    int rc = sort_list(l, attr, pair, jv_truthy(cs), jv_truthy(rev) || !strcmp(f, "max"), line);
    if (rc) return rc;
    if (mm) return *out = l->len ? l->items[0] : jv_new(p, V_UNDEF), *out ? 0 : RLC_ENOMEM;
    return *out = l, 0;
}

static int filter_seq(jpool_t *p, const char *f, jv_t *v, const jargs_t *a, int line, jv_t **out) {
    if (!strcmp(f, "selectattr") || !strcmp(f, "rejectattr")) return select_items(p, v, a, 1, f[0] == 's', line, out);
    if (!strcmp(f, "select") || !strcmp(f, "reject")) return select_items(p, v, a, 0, f[0] == 's', line, out);
    if (!strcmp(f, "join")) return join(p, v, arg(a, "d", 0), out);
    if (!strcmp(f, "dictsort") || !strcmp(f, "sort") || !strcmp(f, "min") || !strcmp(f, "max"))
        return filter_sort(p, f, v, a, line, out);
    if (!strcmp(f, "map")) {
        jv_t *at = arg(a, "attribute", -1), *fl = arg(a, "", 0);
        jv_t *l = v && v->k == V_LIST ? jv_new(p, V_LIST) : NULL;
        if (!l) return ERR(line, "map needs a list", line);
        for (int i = 0; i < v->len; i++) {
            jv_t *x = v->items[i];
            if (at && at->k == V_STR) x = jv_get(x, at->s);
            else if (fl && fl->k == V_STR) {
                jargs_t none = {0};
                int rc = jinja_filter(p, fl->s, x, &none, line, &x);
                if (rc) return rc;
            }
            if (jv_push(p, l, x ? x : jv_new(p, V_UNDEF))) return RLC_ENOMEM;
        }
        l->gen = 1;
        return *out = l, 0;
    }
    if (!strcmp(f, "first") || !strcmp(f, "last")) {
        if (v && v->k == V_LIST) *out = v->len ? v->items[f[0] == 'f' ? 0 : v->len - 1] : NULL;
        else if (v && v->k == V_STR && v->n) {
            size_t b = f[0] == 'f' ? 0 : v->n - 1;
            while (f[0] != 'f' && b > 0 && ((unsigned char)v->s[b] & 0xC0) == 0x80) b--;
            *out = jv_str(p, v->s + b, jv_char_end(v->s, v->n, b) - b);
        }
        return 0;
    }
    if (!strcmp(f, "unique") || !strcmp(f, "list")) {
        jv_t *l = jv_new(p, V_LIST);
        if (!l) return RLC_ENOMEM;
        for (size_t b = 0, e; v && v->k == V_STR && b < v->n; b = e) { /* a string: its characters */
            e = jv_char_end(v->s, v->n, b);
            if (jv_push(p, l, jv_str(p, v->s + b, e - b))) return RLC_ENOMEM;
        }
        for (int i = 0; v && (v->k == V_LIST || v->k == V_DICT) && i < v->len; i++) {
            jv_t *x = v->k == V_DICT ? jv_key_at(p, v, i) : v->items[i];
            int dup = 0;
            for (int k = 0; f[0] == 'u' && k < l->len && !dup; k++) dup = jv_equal(l->items[k], x);
            if (!dup && jv_push(p, l, x)) return RLC_ENOMEM;
        }
        l->gen = f[0] == 'u';
        return *out = l, 0;
    }
    if (!strcmp(f, "items")) {
        if (!v || v->k != V_DICT) return ERR(line, "items needs a mapping", line);
        return jinja_method(p, v, "items", a, line, out);
    }
    return 1; /* not a sequence filter */
}

int jinja_filter(jpool_t *p, const char *f, jv_t *v, const jargs_t *a, int line, jv_t **out) {
    *out = NULL;
    int rc = filter_seq(p, f, v, a, line, out);
    if (rc <= 0) return rc;
    if (!strcmp(f, "tojson")) return tojson(p, v, a, line, out);
    if (!strcmp(f, "length") || !strcmp(f, "count")) {
        if (v && v->gen) return ERR(line, "length of a generator (map/select/reject give one; add |list)", line);
        return (*out = jv_int(p, length(v))) ? 0 : RLC_ENOMEM;
    }
    if (!strcmp(f, "default") || !strcmp(f, "d")) {
        jv_t *d = arg(a, "default_value", 0), *b = arg(a, "boolean", 1);
        *out = (!v || v->k == V_UNDEF || (jv_truthy(b) && !jv_truthy(v))) ? (d ? d : jv_str(p, "", 0)) : v;
        return *out ? 0 : RLC_ENOMEM;
    }
    if (!strcmp(f, "safe")) { /* MarkupSafe's Markup: what is added to it gets escaped */
        if (!v || v->k != V_STR || v->markup) return *out = v, 0;
        if (!(*out = jv_str(p, v->s, v->n))) return RLC_ENOMEM;
        return (*out)->markup = 1, 0;
    }
    if (!strcmp(f, "string")) return (*out = to_str(p, v)) ? 0 : RLC_ENOMEM;
    if (!strcmp(f, "int") || !strcmp(f, "float") || !strcmp(f, "abs")) {
        double d = !v ? 0 : v->k == V_FLOAT ? v->f : (v->k == V_INT || v->k == V_BOOL) ? (double)v->i
                 : v->k == V_STR ? strtod(v->s, NULL) : 0;
        if (f[0] == 'a') d = d < 0 ? -d : d;
        if (f[0] == 'i' || (f[0] == 'a' && v && v->k != V_FLOAT)) return (*out = jv_int(p, (long long)d)) ? 0 : RLC_ENOMEM;
        if ((*out = jv_new(p, V_FLOAT))) (*out)->f = d;
        return *out ? 0 : RLC_ENOMEM;
    }
    jv_t *s = to_str(p, v);
    if (!s) return RLC_ENOMEM;
    if (!strcmp(f, "trim")) *out = strip(p, s, 1, 1, arg(a, "chars", 0));
    else if (!strcmp(f, "lower")) *out = case_map(p, s, 0);
    else if (!strcmp(f, "upper")) *out = case_map(p, s, 1);
    else if (!strcmp(f, "capitalize")) *out = case_map(p, case_map(p, s, 0), 2);
    else if (!strcmp(f, "title")) *out = case_map(p, s, 3);
    else if (!strcmp(f, "replace")) {
        jv_t *x = arg(a, "old", 0), *y = arg(a, "new", 1);
        if (!x || !y || x->k != V_STR || y->k != V_STR) return ERR(line, "replace takes two strings", line);
        *out = replace_all(p, s, x, y);
    } else if (!strcmp(f, "indent")) {
        jv_t *w = arg(a, "width", 0), *first = arg(a, "first", 1);
        long long n = w && w->k == V_INT ? w->i : 4;
        rlc_sbuf_t b = {0};
        for (size_t i = 0; i < s->n; i++) {
            if (i == 0 ? jv_truthy(first) : s->s[i - 1] == '\n' && s->s[i] != '\n')
                for (long long k = 0; k < n; k++) rlc_sbuf_add(&b, " ", 1);
            rlc_sbuf_add(&b, s->s + i, 1);
        }
        *out = jv_from_sbuf(p, &b);
    } else {
        return ERR(line, "filter '%s' is not supported", line, f);
    }
    return *out ? 0 : RLC_ENOMEM;
}

int jinja_test(jpool_t *p, const char *t, jv_t *v, const jargs_t *a, int line, int *out) {
    (void)p;
    int k = v ? v->k : V_UNDEF;
    jv_t *x = arg(a, "", 0);
    if (!strcmp(t, "defined")) *out = k != V_UNDEF;
    else if (!strcmp(t, "undefined")) *out = k == V_UNDEF;
    else if (!strcmp(t, "none")) *out = k == V_NONE;
    else if (!strcmp(t, "string")) *out = k == V_STR;
    else if (!strcmp(t, "number")) *out = k == V_INT || k == V_FLOAT || k == V_BOOL; /* Python: bool is a number */
    else if (!strcmp(t, "integer")) *out = k == V_INT;
    else if (!strcmp(t, "float")) *out = k == V_FLOAT;
    else if (!strcmp(t, "boolean")) *out = k == V_BOOL;
    else if (!strcmp(t, "true") || !strcmp(t, "false")) *out = k == V_BOOL && v->i == (t[0] == 't');
    else if (!strcmp(t, "mapping")) *out = k == V_DICT;
    else if (!strcmp(t, "iterable")) *out = k == V_LIST || k == V_DICT || k == V_STR;
    else if (!strcmp(t, "sequence")) *out = k == V_LIST || k == V_DICT || k == V_STR;
    else if (!strcmp(t, "callable")) *out = k == V_FUNC;
    else if (!strcmp(t, "equalto") || !strcmp(t, "eq") || !strcmp(t, "==") || !strcmp(t, "sameas")) *out = jv_equal(v, x);
    else if (!strcmp(t, "ne") || !strcmp(t, "!=")) *out = !jv_equal(v, x);
    else if (!strcmp(t, "odd") || !strcmp(t, "even")) *out = k == V_INT && (((v->i % 2) != 0) == (t[0] == 'o'));
    else if (!strcmp(t, "divisibleby")) *out = k == V_INT && x && x->k == V_INT && x->i && v->i % x->i == 0;
    else if (!strcmp(t, "in")) {
        *out = 0;
        for (int i = 0; x && x->k == V_LIST && i < x->len && !*out; i++) *out = jv_equal(v, x->items[i]);
        if (x && x->k == V_STR && k == V_STR) *out = v->n <= x->n && (!v->n || memmem(x->s, x->n, v->s, v->n));
        if (x && x->k == V_DICT) *out = jv_get_key(x, v) != NULL;
    } else if (!strcmp(t, "lower") || !strcmp(t, "upper")) {
        *out = k == V_STR;
        for (size_t i = 0; *out && i < v->n; i++)
            if (t[0] == 'l' ? isupper((unsigned char)v->s[i]) : islower((unsigned char)v->s[i])) *out = 0;
    } else {
        return ERR(line, "test '%s' is not supported", line, t);
    }
    return 0;
}
