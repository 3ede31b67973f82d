/* Rendering a parsed template: scopes (each iteration of a for loop gets its own, starting
 * from the outer values, so a plain `set` inside neither carries to the next iteration nor
 * leaks out, as in Jinja; namespace() attributes do), the
 * expression evaluator with Python's operators, loop variables, break/continue, and the
 * global functions real chat templates call (namespace, raise_exception, strftime_now, range). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "tokenizer/jinja_value.h"

typedef struct {
    jpool_t pool;
    rlc_sbuf_t out;
    jv_t **scopes;
    int ns, cap;
    int brk, cont;
    const struct tm *today; /* strftime_now's date when pinned; NULL: the clock */
} ev_t;

#define ERR(line, ...) rlc_errc(RLC_EINVAL, "chat template line %d: " __VA_ARGS__)

static int push_scope(ev_t *E) {
    if (E->ns == E->cap) {
        int nc = E->cap ? E->cap * 2 : 16;
        jv_t **s = realloc(E->scopes, (size_t)nc * sizeof *s);
        if (!s) return RLC_ENOMEM;
        E->scopes = s, E->cap = nc;
    }
    jv_t *d = jv_new(&E->pool, V_DICT);
    if (!d) return RLC_ENOMEM;
    E->scopes[E->ns++] = d;
    return 0;
}

static jv_t *lookup(ev_t *E, const char *name) {
    for (int i = E->ns - 1; i >= 0; i--) {
        jv_t *v = jv_get(E->scopes[i], name);
        if (v) return v;
    }
    return NULL;
}

/* cJSON → value (numbers without a fraction become ints). */
static jv_t *from_json(jpool_t *p, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return jv_new(p, V_NONE);
    if (cJSON_IsBool(j)) return jv_bool(p, cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == (double)(long long)d && d > -9e15 && d < 9e15) return jv_int(p, (long long)d);
        jv_t *v = jv_new(p, V_FLOAT);
        if (v) v->f = d;
        return v;
    }
    if (cJSON_IsString(j)) return jv_str(p, j->valuestring, strlen(j->valuestring));
    jv_t *v = jv_new(p, cJSON_IsArray(j) ? V_LIST : V_DICT);
    for (const cJSON *c = j->child; v && c; c = c->next) {
        jv_t *x = from_json(p, c);
        if (v->k == V_LIST ? jv_push(p, v, x) : jv_set(p, v, c->string ? c->string : "", x)) return NULL;
    }
    return v;
}

static int eval(ev_t *E, const jx_t *x, jv_t **out);

static int eval_args(ev_t *E, const jx_t *x, jargs_t *a) {
    a->n = x->nargs, a->kw = x->kw;
    a->args = x->nargs ? jp_alloc(&E->pool, (size_t)x->nargs * sizeof *a->args) : NULL;
    if (x->nargs && !a->args) return RLC_ENOMEM;
    for (int i = 0; i < x->nargs; i++) {
        int rc = eval(E, x->args[i], &a->args[i]);
        if (rc) return rc;
    }
    return 0;
}

static jv_t *kwarg(const jargs_t *a, const char *name, int pos) {
    for (int i = 0; i < a->n; i++)
        if (a->kw && a->kw[i] && !strcmp(a->kw[i], name)) return a->args[i];
    return pos >= 0 && pos < a->n && !(a->kw && a->kw[pos]) ? a->args[pos] : NULL;
}

static int exec_body(ev_t *E, const jbody_t *b);

/* A body rendered into a string value of its own (a macro call, a {% set %} block). */
static int render_body(ev_t *E, const jbody_t *b, jv_t **out) {
    rlc_sbuf_t keep = E->out;
    memset(&E->out, 0, sizeof E->out);
    int rc = exec_body(E, b);
    jv_t *v = jv_from_sbuf(&E->pool, &E->out);
    E->out = keep;
    if (rc) return rc;
    return (*out = v) ? 0 : RLC_ENOMEM;
}

/* A macro call: its parameters bound (positional, then by name, then defaults) in a scope of
 * its own, its body rendered into a string. */
static int call_macro(ev_t *E, const js_t *m, const jargs_t *a, int line, jv_t **out) {
    int base = E->ns, rc = push_scope(E), pos = 0;
    jv_t *sc = rc ? NULL : E->scopes[E->ns - 1];
    for (int i = 0; !rc && i < a->n; i++) {
        const char *name = a->kw && a->kw[i] ? a->kw[i] : pos < m->nnames ? m->names[pos++] : NULL;
        if (!name) rc = ERR(line, "too many arguments for macro '%s'", line, m->attr);
        else rc = jv_set(&E->pool, sc, name, a->args[i]);
    }
    for (int k = 0; !rc && k < m->nnames; k++) {
        if (jv_get(sc, m->names[k])) continue;
        jv_t *v = NULL;
        if (m->defaults[k] && (rc = eval(E, m->defaults[k], &v))) break;
        rc = jv_set(&E->pool, sc, m->names[k], v ? v : jv_new(&E->pool, V_UNDEF));
    }
    if (!rc) rc = render_body(E, &m->body, out);
    E->ns = base;
    return rc;
}

/* Global functions, bound methods and macros. */
static int call(ev_t *E, jv_t *f, const jargs_t *a, int line, jv_t **out) {
    jpool_t *p = &E->pool;
    if (!f || f->k != V_FUNC) return ERR(line, "calling something that is not a function", line);
    if (f->macro) return call_macro(E, f->macro, a, line, out);
    if (f->self) return jinja_method(p, f->self, f->s, a, line, out);
    if (!strcmp(f->s, "namespace") || !strcmp(f->s, "dict")) {
        jv_t *d = jv_new(p, V_DICT);
        if (!d) return RLC_ENOMEM;
        d->ns = f->s[0] == 'n';
        for (int i = 0; i < a->n; i++)
            if (a->kw && a->kw[i] && jv_set(p, d, a->kw[i], a->args[i])) return RLC_ENOMEM;
        *out = d;
        return 0;
    }
    if (!strcmp(f->s, "raise_exception")) {
        rlc_sbuf_t m = {0};
        if (a->n) jv_str_into(&m, a->args[0]);
        char *t = rlc_sbuf_done(&m);
        int rc = rlc_errc(RLC_EINVAL, "chat template: %s", t ? t : "raise_exception");
        free(t);
        return rc;
    }
    if (!strcmp(f->s, "strftime_now")) {
        jv_t *fmt = kwarg(a, "format", 0);
        char buf[128] = "";
        time_t now = time(NULL);
        struct tm tmv;
        const struct tm *when = E->today ? E->today : localtime_r(&now, &tmv);
        if (fmt && fmt->k == V_STR && when) strftime(buf, sizeof buf, fmt->s, when);
        return (*out = jv_str(p, buf, strlen(buf))) ? 0 : RLC_ENOMEM;
    }
    if (!strcmp(f->s, "range")) {
        long long lo = 0, hi = 0, st = 1;
        for (int i = 0; i < a->n; i++)
            if (a->args[i]->k != V_INT) return ERR(line, "range() takes integers", line);
        if (a->n == 1) hi = a->args[0]->i;
        else if (a->n >= 2) lo = a->args[0]->i, hi = a->args[1]->i;
        if (a->n == 3) st = a->args[2]->i;
        if (!st || a->n < 1 || a->n > 3) return ERR(line, "bad range()", line);
        if ((hi - lo) / st > 100000) return ERR(line, "range() of more than 100000 items", line);
        jv_t *l = jv_new(p, V_LIST);
        for (long long i = lo; l && (st > 0 ? i < hi : i > hi); i += st)
            if (jv_push(p, l, jv_int(p, i))) return RLC_ENOMEM;
        return (*out = l) ? 0 : RLC_ENOMEM;
    }
    return ERR(line, "function '%s' is not supported", line, f->s);
}

static long long norm_index(long long i, long long n) { return i < 0 ? i + n : i; }

/* x[i] for lists, dicts and strings (a missing item is undefined). */
static int index_of(ev_t *E, jv_t *o, jv_t *k, jv_t **out) {
    *out = NULL;
    if (!o) return 0;
    if (o->gen) return rlc_errc(RLC_EINVAL, "chat template: indexing a generator (map/select/reject give one; add |list)");
    if (o->k == V_DICT) *out = jv_get_key(o, k);
    else if (o->k == V_LIST && k && k->k == V_INT) {
        long long i = norm_index(k->i, o->len);
        if (i >= 0 && i < o->len) *out = o->items[i];
    } else if (o->k == V_STR && k && k->k == V_INT) { /* by code point */
        long long n = (long long)jv_cplen(o->s, o->n), i = norm_index(k->i, n), c = 0;
        for (size_t b = 0; b < o->n && i >= 0 && i < n; b++) {
            if (((unsigned char)o->s[b] & 0xC0) == 0x80) continue;
            if (c++ == i) {
                *out = jv_str(&E->pool, o->s + b, jv_char_end(o->s, o->n, b) - b);
                break;
            }
        }
    }
    return 0;
}

/* Python's slice [lo:hi:step] of a list or string (strings by code point). */
static int slice_of(ev_t *E, jv_t *o, jv_t *lo, jv_t *hi, jv_t *stp, int line, jv_t **out) {
    if (!o || (o->k != V_LIST && o->k != V_STR)) return ERR(line, "slicing something that is not a list or string", line);
    long long n = o->k == V_LIST ? o->len : (long long)jv_cplen(o->s, o->n);
    long long st = stp && stp->k == V_INT ? stp->i : 1;
    if (!st) return ERR(line, "slice step cannot be zero", line);
    long long a, b, lim_lo = st > 0 ? 0 : -1, lim_hi = st > 0 ? n : n - 1;
    a = lo && lo->k == V_INT ? lo->i : st > 0 ? 0 : n - 1;
    b = hi && hi->k == V_INT ? hi->i : st > 0 ? n : -1;
    if (lo && lo->k == V_INT && a < 0) a += n;
    if (hi && hi->k == V_INT && b < 0) b += n;
    a = a < lim_lo ? lim_lo : a > lim_hi ? lim_hi : a;
    b = b < lim_lo ? lim_lo : b > lim_hi ? lim_hi : b;
    size_t *cp = NULL; /* a string's code point offsets */
    if (o->k == V_STR) {
        if (!(cp = jp_alloc(&E->pool, (size_t)(n + 1) * sizeof *cp))) return RLC_ENOMEM;
        long long c = 0;
        for (size_t k = 0; k < o->n; k++)
            if (((unsigned char)o->s[k] & 0xC0) != 0x80) cp[c++] = k;
        cp[n] = o->n;
    }
    jv_t *l = o->k == V_LIST ? jv_new(&E->pool, V_LIST) : NULL;
    rlc_sbuf_t sb = {0};
    for (long long i = a; st > 0 ? i < b : i > b; i += st) {
        if (l && jv_push(&E->pool, l, o->items[i])) return RLC_ENOMEM;
        if (cp) rlc_sbuf_add(&sb, o->s + cp[i], cp[i + 1] - cp[i]);
    }
    if (o->k == V_LIST) return (*out = l) ? 0 : RLC_ENOMEM;
    return (*out = jv_from_sbuf(&E->pool, &sb)) ? 0 : RLC_ENOMEM;
}

static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", NULL};
static const char *const STR_METHODS[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper",
                                          "lower", "replace", "title", "capitalize", "count", "find", "format", NULL};

static int in_list(const char *const *l, const char *s) {
    for (; *l; l++)
        if (!strcmp(*l, s)) return 1;
    return 0;
}

/* x.attr: a dict's item (its methods first, as Python attributes come before items) or a
 * string's method. */
static int attr_of(ev_t *E, jv_t *o, const char *name, jv_t **out) {
    *out = NULL;
    if (!o) return 0;
    if ((o->k == V_DICT && !o->ns && in_list(DICT_METHODS, name)) || (o->k == V_STR && in_list(STR_METHODS, name))) {
        jv_t *f = jv_new(&E->pool, V_FUNC);
        if (!f) return RLC_ENOMEM;
        f->self = o, f->s = (char *)name;
        *out = f;
        return 0;
    }
    if (o->k == V_DICT) *out = jv_get(o, name);
    return 0;
}

static int arith(ev_t *E, int op, jv_t *a, jv_t *b, int line, jv_t **out);

static int compare(int op, jv_t *a, jv_t *b, int line, int *res) {
    if (op == OP_EQ || op == OP_NE) return *res = jv_equal(a, b) == (op == OP_EQ), 0;
    if (op == OP_IN || op == OP_NOTIN) {
        int in = 0;
        if (b && b->k == V_STR && a && a->k == V_STR) in = a->n <= b->n && (a->n == 0 || memmem(b->s, b->n, a->s, a->n));
        else if (b && b->k == V_LIST)
            for (int i = 0; i < b->len && !in; i++) in = jv_equal(a, b->items[i]);
        else if (b && b->k == V_DICT) in = jv_get_key(b, a) != NULL;
        else if (b && b->k != V_UNDEF) return ERR(line, "'in' needs a string, list or dict on the right", line);
        return *res = in == (op == OP_IN), 0;
    }
    int c;
    if (jv_order(a, b, 1, &c)) return ERR(line, "cannot order these values", line);
    *res = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
    return 0;
}

static int eval_bin(ev_t *E, const jx_t *x, jv_t **out) {
    jv_t *a, *b;
    int rc = eval(E, x->a, &a);
    if (rc) return rc;
    if (x->kind == E_AND || x->kind == E_OR) { /* Python returns the deciding operand */
        if (jv_truthy(a) == (x->kind == E_OR)) return *out = a, 0;
        return eval(E, x->b, out);
    }
    if ((rc = eval(E, x->b, &b))) return rc;
    if (x->op >= OP_EQ) {
        int r = 0;
        if ((rc = compare(x->op, a, b, x->line, &r))) return rc;
        return (*out = jv_bool(&E->pool, r)) ? 0 : RLC_ENOMEM;
    }
    return arith(E, x->op, a, b, x->line, out);
}

static int arith(ev_t *E, int op, jv_t *a, jv_t *b, int line, jv_t **out) {
    jpool_t *p = &E->pool;
    if ((op == OP_CONCAT || op == OP_ADD) && (a && a->k == V_STR ? a->n : 0) + (b && b->k == V_STR ? b->n : 0) > (1u << 26))
        return ERR(line, "a string longer than 64 MiB", line);
    if (op == OP_CONCAT) {
        rlc_sbuf_t s = {0};
        jv_str_into(&s, a), jv_str_into(&s, b);
        return (*out = jv_from_sbuf(p, &s)) ? 0 : RLC_ENOMEM;
    }
    if (op == OP_ADD && a && b && a->k == V_STR && b->k == V_STR && a->markup != b->markup) {
        /* Markup + str (either way round): the plain string is HTML-escaped, the sum is Markup */
        rlc_sbuf_t s = {0};
        if (a->markup) rlc_sbuf_add(&s, a->s, a->n);
        else jv_html_escape_into(&s, a->s, a->n);
        if (b->markup) rlc_sbuf_add(&s, b->s, b->n);
        else jv_html_escape_into(&s, b->s, b->n);
        if (!(*out = jv_from_sbuf(p, &s))) return RLC_ENOMEM;
        return (*out)->markup = 1, 0;
    }
    if (op == OP_ADD && a && b && a->k == V_STR && b->k == V_STR) {
        jv_t *r = jv_new(p, V_STR);
        if (!r || !(r->s = jp_alloc(p, a->n + b->n + 1))) return RLC_ENOMEM;
        memcpy(r->s, a->s, a->n), memcpy(r->s + a->n, b->s, b->n);
        r->n = a->n + b->n;
        r->markup = a->markup; /* Markup + Markup stays Markup */
        return *out = r, 0;
    }
    if (op == OP_ADD && a && b && a->k == V_LIST && b->k == V_LIST) {
        jv_t *l = jv_new(p, V_LIST);
        for (int i = 0; l && i < a->len + b->len; i++)
            if (jv_push(p, l, i < a->len ? a->items[i] : b->items[i - a->len])) return RLC_ENOMEM;
        return (*out = l) ? 0 : RLC_ENOMEM;
    }
    int num_a = a && (a->k == V_INT || a->k == V_BOOL || a->k == V_FLOAT), num_b = b && (b->k == V_INT || b->k == V_BOOL || b->k == V_FLOAT);
    if (!num_a || !num_b) return ERR(line, "unsupported operand types for an arithmetic operator", line);
    int ints = a->k != V_FLOAT && b->k != V_FLOAT && op != OP_DIV && (op != OP_POW || b->i >= 0);
    if (ints && op == OP_POW) {
        long long r = 1;
        for (long long e = 0; e < b->i && e < 4096; e++) r *= a->i;
        return (*out = jv_int(p, r)) ? 0 : RLC_ENOMEM;
    }
    if (ints) {
        long long x = a->i, y = b->i, r;
        if ((op == OP_FLOORDIV || op == OP_MOD) && !y) return ERR(line, "division by zero", line);
        r = op == OP_ADD ? x + y : op == OP_SUB ? x - y : op == OP_MUL ? x * y
            : op == OP_FLOORDIV ? (x / y - ((x % y) && ((x < 0) != (y < 0)))) : ((x % y) + y) % y;
        return (*out = jv_int(p, r)) ? 0 : RLC_ENOMEM;
    }
    double x = a->k == V_FLOAT ? a->f : (double)a->i, y = b->k == V_FLOAT ? b->f : (double)b->i, r;
    if ((op == OP_DIV || op == OP_FLOORDIV || op == OP_MOD) && y == 0) return ERR(line, "division by zero", line);
    r = op == OP_ADD ? x + y : op == OP_SUB ? x - y : op == OP_MUL ? x * y : op == OP_DIV ? x / y : op == OP_POW ? __builtin_pow(x, y)
        : op == OP_FLOORDIV ? __builtin_floor(x / y) : x - y * __builtin_floor(x / y);
    jv_t *v = jv_new(p, V_FLOAT);
    if (v) v->f = r;
    return (*out = v) ? 0 : RLC_ENOMEM;
}

static int eval_lit(ev_t *E, const jx_t *x, jv_t **out) {
    jpool_t *p = &E->pool;
    switch (x->kind) {
    case E_LIT_STR: *out = jv_str(p, x->s, x->sn); break;
    case E_LIT_INT: *out = jv_int(p, x->i); break;
    case E_LIT_BOOL: *out = jv_bool(p, (int)x->i); break;
    case E_LIT_NONE: *out = jv_new(p, V_NONE); break;
    default:
        if ((*out = jv_new(p, V_FLOAT))) (*out)->f = x->f;
    }
    return *out ? 0 : RLC_ENOMEM;
}

static int eval_display(ev_t *E, const jx_t *x, jv_t **out) {
    jv_t *c = jv_new(&E->pool, x->kind == E_LIST ? V_LIST : V_DICT), *v, *k;
    if (!c) return RLC_ENOMEM;
    c->tuple = x->kind == E_LIST && x->negated;
    for (int i = 0; i < x->nargs; i++) {
        int rc = eval(E, x->args[i], &k);
        if (rc) return rc;
        if (x->kind == E_LIST) {
            if (jv_push(&E->pool, c, k)) return RLC_ENOMEM;
            continue;
        }
        if ((rc = eval(E, x->args[++i], &v))) return rc;
        if ((rc = jv_set_key(&E->pool, c, k, v)))
            return rc == RLC_EINVAL ? ERR(x->line, "dict keys must be strings or integers", x->line) : rc;
    }
    return *out = c, 0;
}

static int eval(ev_t *E, const jx_t *x, jv_t **out) {
    jv_t *o = NULL, *k = NULL, *h = NULL;
    jargs_t a;
    int rc = 0;
    *out = NULL;
    switch (x->kind) {
    case E_NAME:
        if (!(*out = lookup(E, x->s)) && (!strcmp(x->s, "namespace") || !strcmp(x->s, "raise_exception") ||
                                          !strcmp(x->s, "strftime_now") || !strcmp(x->s, "range") || !strcmp(x->s, "dict"))) {
            if ((*out = jv_new(&E->pool, V_FUNC))) (*out)->s = x->s;
            else rc = RLC_ENOMEM;
        }
        return rc;
    case E_ATTR: return (rc = eval(E, x->a, &o)) ? rc : attr_of(E, o, x->s, out);
    case E_INDEX: return (rc = eval(E, x->a, &o)) || (rc = eval(E, x->b, &k)) ? rc : index_of(E, o, k, out);
    case E_SLICE: {
        jv_t *st = NULL;
        if ((rc = eval(E, x->a, &o)) || (x->b && (rc = eval(E, x->b, &k))) || (x->c && (rc = eval(E, x->c, &h))) ||
            (x->nargs && (rc = eval(E, x->args[0], &st))))
            return rc;
        return slice_of(E, o, k, h, st, x->line, out);
    }
    case E_CALL: return (rc = eval(E, x->a, &o)) || (rc = eval_args(E, x, &a)) ? rc : call(E, o, &a, x->line, out);
    case E_FILTER:
        return (rc = eval(E, x->a, &o)) || (rc = eval_args(E, x, &a)) ? rc : jinja_filter(&E->pool, x->s, o, &a, x->line, out);
    case E_TEST: {
        int r;
        if ((rc = eval(E, x->a, &o)) || (rc = eval_args(E, x, &a)) || (rc = jinja_test(&E->pool, x->s, o, &a, x->line, &r)))
            return rc;
        return (*out = jv_bool(&E->pool, r != x->negated)) ? 0 : RLC_ENOMEM;
    }
    case E_NOT: return (rc = eval(E, x->a, &o)) ? rc : (*out = jv_bool(&E->pool, !jv_truthy(o))) ? 0 : RLC_ENOMEM;
    case E_NEG:
        if ((rc = eval(E, x->a, &o))) return rc;
        if ((k = jv_int(&E->pool, 0)) == NULL) return RLC_ENOMEM;
        return arith(E, OP_SUB, k, o, x->line, out);
    case E_BIN:
    case E_AND:
    case E_OR: return eval_bin(E, x, out);
    case E_COND:
        if ((rc = eval(E, x->b, &o))) return rc;
        if (jv_truthy(o)) return eval(E, x->a, out);
        return x->c ? eval(E, x->c, out) : 0; /* no else: undefined */
    case E_LIST:
    case E_DICT: return eval_display(E, x, out);
    default: return eval_lit(E, x, out);
    }
}

/* The items a for loop walks: a list's items, a dict's keys, a string's characters. */
static int loop_items(ev_t *E, jv_t *it, int line, jv_t **out) {
    if (!it || it->k == V_UNDEF || it->k == V_NONE) return ERR(line, "looping over an undefined value", line);
    if (it->k == V_LIST) return *out = it, 0;
    jv_t *l = jv_new(&E->pool, V_LIST);
    if (!l) return RLC_ENOMEM;
    if (it->k == V_DICT)
        for (int i = 0; i < it->len; i++)
            if (jv_push(&E->pool, l, jv_key_at(&E->pool, it, i))) return RLC_ENOMEM;
    if (it->k == V_STR)
        for (size_t b = 0, e; b < it->n; b = e) {
            e = jv_char_end(it->s, it->n, b);
            if (jv_push(&E->pool, l, jv_str(&E->pool, it->s + b, e - b))) return RLC_ENOMEM;
        }
    if (it->k != V_DICT && it->k != V_STR) return ERR(line, "looping over something that is not iterable", line);
    return *out = l, 0;
}

static int bind_targets(ev_t *E, const js_t *s, jv_t *scope, jv_t *item) {
    if (s->nnames == 1) return jv_set(&E->pool, scope, s->names[0], item);
    if (!item || item->k != V_LIST || item->len != s->nnames)
        return ERR(s->line, "cannot unpack the loop item into %d names", s->line, s->nnames);
    for (int k = 0; k < s->nnames; k++)
        if (jv_set(&E->pool, scope, s->names[k], item->items[k])) return RLC_ENOMEM;
    return 0;
}

static int exec_for(ev_t *E, const js_t *s) {
    jv_t *it = NULL, *all = NULL;
    int rc = eval(E, s->e, &it);
    if (!rc) rc = loop_items(E, it, s->line, &all);
    if (rc) return rc;
    jv_t *items = all;
    if (s->filter) { /* "for x in xs if cond": filtered before the loop counts */
        if (!(items = jv_new(&E->pool, V_LIST)) || push_scope(E)) return RLC_ENOMEM;
        for (int i = 0; i < all->len && !rc; i++) {
            jv_t *c;
            if (!(rc = bind_targets(E, s, E->scopes[E->ns - 1], all->items[i])) && !(rc = eval(E, s->filter, &c)) &&
                jv_truthy(c))
                rc = jv_push(&E->pool, items, all->items[i]);
        }
        E->ns--;
        if (rc) return rc;
    }
    int n = items->len, base = E->ns;
    for (int i = 0; i < n && !rc; i++) {
        if ((rc = push_scope(E))) break; /* each iteration starts from the outer values, as in Jinja */
        jv_t *sc = E->scopes[E->ns - 1], *loop = jv_new(&E->pool, V_DICT);
        jpool_t *p = &E->pool;
        if (!loop || jv_set(p, loop, "index", jv_int(p, i + 1)) || jv_set(p, loop, "index0", jv_int(p, i)) ||
            jv_set(p, loop, "first", jv_bool(p, i == 0)) || jv_set(p, loop, "last", jv_bool(p, i == n - 1)) ||
            jv_set(p, loop, "length", jv_int(p, n)) || jv_set(p, loop, "revindex", jv_int(p, n - i)) ||
            jv_set(p, loop, "revindex0", jv_int(p, n - i - 1)) ||
            (i > 0 && jv_set(p, loop, "previtem", items->items[i - 1])) ||
            (i + 1 < n && jv_set(p, loop, "nextitem", items->items[i + 1])) || jv_set(p, sc, "loop", loop))
            rc = RLC_ENOMEM;
        if (!rc) rc = bind_targets(E, s, sc, items->items[i]);
        if (!rc) rc = exec_body(E, &s->body);
        E->ns = base;
        E->cont = 0;
        if (E->brk) {
            E->brk = 0;
            break;
        }
    }
    if (!rc && !n) rc = exec_body(E, &s->els);
    return rc;
}

static int exec_set(ev_t *E, const js_t *s) {
    jv_t *v;
    int rc;
    if (s->kind == S_SETBLOCK) { /* the body's rendering becomes the value */
        if ((rc = render_body(E, &s->body, &v))) return rc;
    } else if ((rc = eval(E, s->e, &v))) {
        return rc;
    }
    if (!v && !(v = jv_new(&E->pool, V_UNDEF))) return RLC_ENOMEM;
    if (s->attr) {
        jv_t *ns = lookup(E, s->names[0]);
        if (!ns || ns->k != V_DICT || !ns->ns)
            return ERR(s->line, "'%s.%s = ...' needs a namespace()", s->line, s->names[0], s->attr);
        return jv_set(&E->pool, ns, s->attr, v);
    }
    return jv_set(&E->pool, E->scopes[E->ns - 1], s->names[0], v);
}

static int exec_body(ev_t *E, const jbody_t *b) {
    int rc = 0;
    for (int i = 0; i < b->n && !rc && !E->brk && !E->cont; i++) {
        const js_t *s = b->v[i];
        jv_t *v;
        switch (s->kind) {
        case S_TEXT: rlc_sbuf_add(&E->out, s->text, s->tn); break;
        case S_OUT:
            if (!(rc = eval(E, s->e, &v))) jv_str_into(&E->out, v);
            if (!rc && E->out.len > (1u << 27)) rc = ERR(s->line, "the rendering grew past 128 MiB", s->line);
            break;
        case S_IF:
            for (int k = 0; k < s->nbr; k++) {
                if (s->conds[k]) {
                    if ((rc = eval(E, s->conds[k], &v))) break;
                    if (!jv_truthy(v)) continue;
                }
                rc = exec_body(E, &s->bodies[k]);
                break;
            }
            break;
        case S_FOR: rc = exec_for(E, s); break;
        case S_SET:
        case S_SETBLOCK: rc = exec_set(E, s); break;
        case S_MACRO: { /* defined where it stands, in the current scope */
            jv_t *f = jv_new(&E->pool, V_FUNC);
            if (!f) rc = RLC_ENOMEM;
            else f->macro = s, f->s = s->attr, rc = jv_set(&E->pool, E->scopes[E->ns - 1], s->attr, f);
            break;
        }
        case S_BREAK: E->brk = 1; break;
        case S_CONTINUE: E->cont = 1; break;
        default: rc = ERR(s->line, "statement not supported", s->line);
        }
        if (!rc && E->pool.rc) rc = E->pool.rc;
    }
    return rc;
}

int jinja_render(const jinja_t *j, const cJSON *ctx, char **out) { return jinja_render_at(j, ctx, NULL, out); }

int jinja_render_at(const jinja_t *j, const cJSON *ctx, const struct tm *today, char **out) {
    *out = NULL;
    ev_t E = {0};
    E.today = today;
    int rc = push_scope(&E);
    if (!rc) {
        jv_t *g = from_json(&E.pool, ctx);
        if (!g || g->k != V_DICT) rc = g ? rlc_errc(RLC_EINVAL, "chat template: the variables must be an object") : RLC_ENOMEM;
        else E.scopes[0] = g;
    }
    if (!rc && (rc = push_scope(&E)) == 0) rc = exec_body(&E, &j->top);
    char *t = rlc_sbuf_done(&E.out);
    if (!rc && !t) rc = RLC_ENOMEM;
    if (rc) free(t);
    else *out = t;
    for (int i = 0; i < E.pool.n; i++) free(E.pool.ptrs[i]);
    free(E.pool.ptrs);
    free(E.scopes);
    return rc;
}
