/* Private to tokenizer/jinja_eval.c and jinja_filters.c: Jinja values (Python's None, bool,
 * int, float, str, list, dict, plus Jinja's undefined, namespaces and callables), allocated
 * from the render's pool and freed with it. */
#pragma once
#include <stddef.h>

#include "core/sbuf.h"
#include "tokenizer/jinja_internal.h"

enum { V_UNDEF = 0, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_FUNC };
/* Python dicts may have int keys ({0: 0, 512: 128}, Seed-OSS's template): such a key is stored
 * as this byte and its digits, so it never equals the string "0"; use the jv_*_key functions. */
#define JV_INTKEY '\x01'

typedef struct jv jv_t;
struct jv {
    int k;
    long long i;     /* BOOL, INT */
    double f;        /* FLOAT */
    char *s;         /* STR (NUL-terminated), FUNC name */
    size_t n;        /* STR bytes */
    jv_t **items;    /* LIST items, DICT values */
    char **keys;     /* DICT keys (insertion order): a str key's text, or JV_INTKEY + an int key's digits */
    int len, cap;
    int ns;          /* DICT: a namespace() (attributes may be set) */
    int tuple;       /* LIST: a tuple (repr with parentheses: dict items) */
    int gen;         /* LIST: a generator (what map/select/reject/unique return in Jinja: no len, no JSON) */
    int markup;      /* STR: MarkupSafe's Markup (|safe): a plain string added to it is HTML-escaped */
    jv_t *self;      /* FUNC: the bound object of a method */
    const js_t *macro; /* FUNC: a template macro */
};

typedef struct {
    void **ptrs;
    int n, cap;
    int rc;          /* first allocation failure */
} jpool_t;

void *jp_alloc(jpool_t *p, size_t n);
jv_t *jv_new(jpool_t *p, int k);
jv_t *jv_str(jpool_t *p, const char *s, size_t n);
jv_t *jv_int(jpool_t *p, long long i);
jv_t *jv_bool(jpool_t *p, int b);
int jv_push(jpool_t *p, jv_t *list, jv_t *v);
int jv_set(jpool_t *p, jv_t *dict, const char *key, jv_t *v);
jv_t *jv_get(const jv_t *dict, const char *key); /* NULL when absent */
/* Keys as values: a str or an int (a bool counts as an int, as in Python) key; anything else
 * is refused (set: RLC_EINVAL, get: NULL). jv_key_at: key i of a dict as a str or int value. */
int jv_set_key(jpool_t *p, jv_t *dict, const jv_t *key, jv_t *v);
jv_t *jv_get_key(const jv_t *dict, const jv_t *key);
jv_t *jv_key_at(jpool_t *p, const jv_t *dict, int i);
int jv_truthy(const jv_t *v);
int jv_equal(const jv_t *a, const jv_t *b);
/* Python's order of two values into *res (-1, 0, 1): numbers (bool, int, float) by value,
 * strings by code point (UTF-8 bytes), lower-cased first unless case_sensitive (Jinja's sort
 * filters); 1 when they cannot be ordered. */
int jv_order(const jv_t *x, const jv_t *y, int case_sensitive, int *res);
/* Python str(v) appended to b (undefined: nothing). */
void jv_str_into(rlc_sbuf_t *b, const jv_t *v);
/* json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys) appended to b. */
int jv_json(rlc_sbuf_t *b, const jv_t *v, int indent, int sort_keys);
/* Code points in a UTF-8 string. */
size_t jv_cplen(const char *s, size_t n);
/* The offset just past the character that starts at byte i of s[0..n). */
size_t jv_char_end(const char *s, size_t n, size_t i);
/* markupsafe.escape(s) appended to b: & < > ' " as &amp; &lt; &gt; &#39; &#34;. */
void jv_html_escape_into(rlc_sbuf_t *b, const char *s, size_t n);
/* A string value of b's text; b is consumed (its buffer freed). NULL on allocation failure. */
jv_t *jv_from_sbuf(jpool_t *p, rlc_sbuf_t *b);

/* Filters and tests (jinja_filters.c): the result of name(v, args...) into *out; an unknown
 * name is an error naming the line. */
typedef struct {
    jv_t **args;
    char **kw;
    int n;
} jargs_t;
int jinja_filter(jpool_t *p, const char *name, jv_t *v, const jargs_t *a, int line, jv_t **out);
int jinja_test(jpool_t *p, const char *name, jv_t *v, const jargs_t *a, int line, int *out);
/* A method of a str or dict value (x.strip(), x.get(k), ...). */
int jinja_method(jpool_t *p, jv_t *self, const char *name, const jargs_t *a, int line, jv_t **out);
