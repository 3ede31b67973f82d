/* A small LaTeX-math parser: normalized answer text -> expression tree (numbers, variables,
 * \frac, \sqrt, powers, functions, implicit multiplication, tuples/intervals/sets/matrices,
 * relations, \pm, \cup). Recursive descent with an explicit depth cap, nodes from a fixed
 * pool: any input either parses within the caps or is rejected quickly. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/math/internal.h"
#include "rewards/math/math.h"

#define MAX_ITEMS 64

typedef struct {
    const char *s;
    size_t n, i;
    mtree_t *t;
    int depth;
    int fail;
    int mathy; /* the text has digits / operators / commands: letter runs may be products */
} P;

static int is_alpha(char c) { return isalpha((unsigned char)c) != 0; }
static int is_digit(char c) { return isdigit((unsigned char)c) != 0; }

static char peek(P *p) { return p->i < p->n ? p->s[p->i] : 0; }
static char peek2(P *p) { return p->i + 1 < p->n ? p->s[p->i + 1] : 0; }

static void skip_sp(P *p) {
    while (p->i < p->n && p->s[p->i] == ' ') p->i++;
}

/* Is the input at "\name" (followed by a non-letter)? */
static int at_cmd(P *p, const char *name) {
    size_t l = strlen(name);
    if (p->i + 1 + l > p->n || p->s[p->i] != '\\' || memcmp(p->s + p->i + 1, name, l)) return 0;
    return p->i + 1 + l == p->n || !is_alpha(p->s[p->i + 1 + l]);
}

static int eat_cmd(P *p, const char *name) {
    if (!at_cmd(p, name)) return 0;
    p->i += 1 + strlen(name);
    skip_sp(p);
    return 1;
}

static int eat(P *p, char c) {
    skip_sp(p);
    if (peek(p) != c) return 0;
    p->i++;
    return 1;
}

static int fail(P *p) {
    p->fail = 1;
    return -1;
}

static int new_node(P *p, int kind, int sub, const int *kids, int nk) {
    mtree_t *t = p->t;
    if (p->fail) return -1;
    if (t->n_nodes >= MTREE_MAX_NODES || t->n_kids + nk > MTREE_MAX_KIDS) return fail(p);
    int depth = 1;
    for (int j = 0; j < nk; j++) {
        if (kids[j] < 0) return fail(p);
        int d = t->nodes[kids[j]].depth + 1;
        if (d > depth) depth = d;
    }
    if (depth > MTREE_MAX_DEPTH) return fail(p);
    int id = t->n_nodes++;
    mnode_t *nd = &t->nodes[id];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->sub = (uint8_t)sub;
    nd->depth = (uint16_t)depth;
    nd->nk = nk;
    nd->k = t->n_kids;
    for (int j = 0; j < nk; j++) t->kids[t->n_kids++] = kids[j];
    return id;
}

static int node1(P *p, int kind, int sub, int a) { return new_node(p, kind, sub, &a, 1); }
static int node2(P *p, int kind, int sub, int a, int b) {
    int k[2] = {a, b};
    return new_node(p, kind, sub, k, 2);
}

static int var_node(P *p, const char *name, size_t len) {
    mtree_t *t = p->t;
    if (t->n_str + (int)len + 1 > MTREE_MAX_STR) return fail(p);
    int id = new_node(p, MN_VAR, 0, NULL, 0);
    if (id < 0) return -1;
    t->nodes[id].str = t->n_str;
    memcpy(t->str + t->n_str, name, len);
    t->n_str += (int)len;
    t->str[t->n_str++] = 0;
    return id;
}

static int num_node(P *p, double v, int64_t num, int64_t den, int decimal) {
    int id = new_node(p, MN_NUM, 0, NULL, 0);
    if (id < 0) return -1;
    mnode_t *nd = &p->t->nodes[id];
    nd->val = v;
    nd->num = num;
    nd->den = den;
    nd->aux = decimal;
    return id;
}

static int parse_expr(P *p);
static int parse_item(P *p);
static int parse_factor(P *p);
static int parse_term(P *p);

static int enter(P *p) {
    if (++p->depth > MTREE_MAX_DEPTH) return fail(p);
    return 0;
}
static void leave(P *p) { p->depth--; }

/* A decimal literal; exact as num/den while it fits in 18 significant digits. */
static int parse_number(P *p) {
    size_t b = p->i;
    int64_t num = 0, den = 1;
    int exact = 1, digits = 0, decimal = 0;
    while (p->i < p->n && (is_digit(p->s[p->i]) || (p->s[p->i] == '.' && !decimal && p->i + 1 < p->n &&
                                                     is_digit(p->s[p->i + 1])))) {
        char c = p->s[p->i++];
        if (c == '.') {
            decimal = 1;
            continue;
        }
        if (num == 0 && c == '0' && !decimal) continue; /* leading zeros */
        if (++digits > 18) exact = 0;
        if (exact) {
            num = num * 10 + (c - '0');
            if (decimal) den *= 10;
        }
    }
    /* scientific notation 1e-6 / 2.5E3 (never "2e" = 2 times e) */
    int expo = 0, has_exp = 0;
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        size_t j = p->i + 1;
        int sign = 1;
        if (j < p->n && (p->s[j] == '-' || p->s[j] == '+')) sign = p->s[j] == '-' ? -1 : 1, j++;
        if (j < p->n && is_digit(p->s[j])) {
            int e = 0;
            while (j < p->n && is_digit(p->s[j])) {
                if (e < 100000) e = e * 10 + (p->s[j] - '0');
                j++;
            }
            expo = sign * e;
            has_exp = 1;
            p->i = j;
        }
    }
    char tmp[64];
    size_t len = p->i - b;
    double v;
    if (len < sizeof tmp) {
        memcpy(tmp, p->s + b, len);
        tmp[len] = 0;
        v = strtod(tmp, NULL);
    } else {
        v = INFINITY; /* absurdly long literal: not evaluable, compared structurally */
        exact = 0;
    }
    if (has_exp && exact) {
        int64_t f = 1;
        int ok = expo >= -18 && expo <= 18;
        for (int k = 0; ok && k < (expo < 0 ? -expo : expo); k++) ok = !__builtin_mul_overflow(f, 10, &f);
        if (ok && expo >= 0) ok = !__builtin_mul_overflow(num, f, &num);
        else if (ok) ok = !__builtin_mul_overflow(den, f, &den);
        if (!ok) exact = 0;
    }
    if (exact) { /* reduce */
        int64_t a = num, c = den;
        while (c) {
            int64_t r = a % c;
            a = c;
            c = r;
        }
        if (a > 1) num /= a, den /= a;
    }
    int id = num_node(p, v, exact ? num : 0, exact ? den : 0, decimal);
    mtree_t *t = p->t;
    if (id >= 0 && !exact && t->n_str + (int)len + 1 <= MTREE_MAX_STR) {
        /* the literal itself, for exact comparison beyond int64 (rational.c); str is 1 + offset */
        t->nodes[id].str = t->n_str + 1;
        memcpy(t->str + t->n_str, p->s + b, len);
        t->n_str += (int)len;
        t->str[t->n_str++] = 0;
    }
    return id;
}

/* A braced argument {..} (required for \frac, \sqrt after normalization). */
static int parse_group(P *p) {
    skip_sp(p);
    if (!eat(p, '{')) return fail(p);
    int e = parse_item(p);
    if (!eat(p, '}')) return fail(p);
    return e;
}

typedef struct {
    const char *name;
    int fn;
} fn_name_t;

static const fn_name_t FUNCS[] = {
    {"sin", FN_SIN},     {"cos", FN_COS},       {"tan", FN_TAN},       {"cot", FN_COT},   {"sec", FN_SEC},
    {"csc", FN_CSC},     {"arcsin", FN_ASIN},   {"arccos", FN_ACOS},   {"arctan", FN_ATAN}, {"sinh", FN_SINH},
    {"cosh", FN_COSH},   {"tanh", FN_TANH},     {"ln", FN_LN},         {"log", FN_LOG},   {"exp", FN_EXP},
    {"arccot", FN_ARCCOT}, {"gcd", FN_GCD},     {"lcm", FN_LCM},       {NULL, 0},
};

static int lookup_fn(const char *s, size_t n) {
    for (const fn_name_t *f = FUNCS; f->name; f++)
        if (strlen(f->name) == n && !memcmp(f->name, s, n)) return f->fn;
    return 0;
}

static const char *const GREEK[] = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta",
                                    "theta", "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho",
                                    "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma",
                                    "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega", NULL};

/* Function application: \sin x, \sin(x), \sin^2 x, \log_2 8, \log_{10}(x). */
static int parse_func(P *p, int fn) {
    int base = -1, power = -1;
    skip_sp(p);
    if (fn == FN_LOG && peek(p) == '_') {
        p->i++;
        skip_sp(p);
        if (peek(p) == '{') base = parse_group(p);
        else if (is_digit(peek(p))) base = num_node(p, peek(p) - '0', peek(p) - '0', 1, 0), p->i++;
        else base = parse_factor(p);
        fn = FN_LOGB;
    }
    skip_sp(p);
    if (peek(p) == '^') {
        p->i++;
        skip_sp(p);
        if (peek(p) == '{') power = parse_group(p);
        else if (is_digit(peek(p))) power = num_node(p, peek(p) - '0', peek(p) - '0', 1, 0), p->i++;
        else return fail(p);
    }
    skip_sp(p);
    int arg;
    if (fn == FN_GCD || fn == FN_LCM) {
        if (!eat(p, '(')) return fail(p);
        int a = parse_expr(p);
        if (!eat(p, ',')) return fail(p);
        int b = parse_expr(p);
        if (!eat(p, ')')) return fail(p);
        arg = node2(p, MN_FUNC, fn, a, b);
    } else {
        if (peek(p) == '(' || peek(p) == '{') {
            char close = peek(p) == '(' ? ')' : '}';
            p->i++;
            arg = parse_expr(p);
            if (!eat(p, close)) return fail(p);
        } else {
            /* unparenthesized argument: the following factors up to an operator */
            arg = parse_factor(p);
            skip_sp(p);
            while (!p->fail && (is_digit(peek(p)) || is_alpha(peek(p)))) {
                int f = parse_factor(p);
                int k[2] = {arg, f};
                arg = new_node(p, MN_MUL, 0, k, 2);
                skip_sp(p);
            }
        }
        arg = fn == FN_LOGB ? node2(p, MN_FUNC, fn, arg, base) : node1(p, MN_FUNC, fn, arg);
    }
    if (power >= 0) arg = node2(p, MN_POW, 0, arg, power);
    return arg;
}

/* \begin{pmatrix} a & b \\ c & d \end{pmatrix} */
static int parse_matrix(P *p) {
    skip_sp(p);
    if (!eat(p, '{')) return fail(p);
    size_t b = p->i;
    while (p->i < p->n && is_alpha(p->s[p->i])) p->i++;
    size_t e = p->i;
    if (!eat(p, '}')) return fail(p);
    const char *nm = p->s + b;
    size_t nl = e - b;
    static const char *const envs[] = {"pmatrix", "bmatrix", "matrix", "Bmatrix", "vmatrix", "smallmatrix", "array", NULL};
    int ok = 0;
    for (const char *const *v = envs; *v; v++)
        if (strlen(*v) == nl && !memcmp(*v, nm, nl)) ok = 1;
    if (!ok) return fail(p);
    if (nl == 5 && peek(p) == '{') { /* array column spec */
        while (p->i < p->n && p->s[p->i] != '}') p->i++;
        p->i++;
    }
    int cells[MAX_ITEMS];
    int nc = 0, rows = 0, cols = -1, in_row = 0;
    for (;;) {
        skip_sp(p);
        if (at_cmd(p, "end")) break;
        if (nc >= MAX_ITEMS) return fail(p);
        cells[nc++] = parse_expr(p);
        if (p->fail) return -1;
        in_row++;
        skip_sp(p);
        if (eat(p, '&')) continue;
        if (peek(p) == '\\' && peek2(p) == '\\') {
            p->i += 2;
            if (cols >= 0 && in_row != cols) return fail(p);
            cols = in_row, in_row = 0, rows++;
            skip_sp(p);
            if (at_cmd(p, "end")) break;
            continue;
        }
        if (at_cmd(p, "end")) {
            if (cols >= 0 && in_row != cols) return fail(p);
            cols = in_row, in_row = 0, rows++;
            break;
        }
        return fail(p);
    }
    if (in_row) return fail(p);
    eat_cmd(p, "end");
    if (!eat(p, '{')) return fail(p);
    while (p->i < p->n && is_alpha(p->s[p->i])) p->i++;
    if (!eat(p, '}')) return fail(p);
    if (rows == 0 || cols <= 0) return fail(p);
    int id = new_node(p, MN_MATRIX, 0, cells, nc);
    if (id >= 0) p->t->nodes[id].aux = rows;
    return id;
}

/* Items separated by commas until `close1`/`close2` (not consumed). */
static int parse_items(P *p, int *items, int *n) {
    *n = 0;
    for (;;) {
        if (*n >= MAX_ITEMS) return fail(p);
        items[(*n)++] = parse_item(p);
        if (p->fail) return -1;
        if (!eat(p, ',') && !eat(p, ';')) break; /* (0;-2;6) */
    }
    return 0;
}

static int parse_bracketed(P *p, char open) {
    int open_kind = open == '(' ? BR_PAREN : BR_SQUARE;
    int items[MAX_ITEMS], n;
    skip_sp(p);
    if (parse_items(p, items, &n)) return -1;
    skip_sp(p);
    char c = peek(p);
    if (c != ')' && c != ']') return fail(p);
    p->i++;
    int close_kind = c == ')' ? BR_PAREN : BR_SQUARE;
    if (n == 1 && open_kind == close_kind) return items[0]; /* plain grouping */
    if (n == 1) return fail(p);                            /* "(3]" */
    return new_node(p, MN_TUPLE, open_kind << 4 | close_kind, items, n);
}

/* A run of letters: a known word, a variable, or (in mathy text) a product of variables. */
static int parse_letters(P *p) {
    size_t b = p->i;
    while (p->i < p->n && is_alpha(p->s[p->i])) p->i++;
    size_t len = p->i - b;
    const char *w = p->s + b;
    int fn = lookup_fn(w, len);
    if (fn) return parse_func(p, fn);
    if ((len == 4 && !memcmp(w, "sqrt", 4))) {
        skip_sp(p);
        if (!eat(p, '(')) return fail(p);
        int a = parse_expr(p);
        if (!eat(p, ')')) return fail(p);
        return node1(p, MN_FUNC, FN_SQRT, a);
    }
    if (len == 2 && !memcmp(w, "pi", 2)) return new_node(p, MN_PI, 0, NULL, 0);
    if ((len == 3 && !memcmp(w, "inf", 3)) || (len == 8 && !memcmp(w, "infinity", 8)))
        return new_node(p, MN_INF, 0, NULL, 0);
    if (len > 1 && (!p->mathy || len > 3)) return fail(p); /* a word: not math */
    /* one letter at a time: "yx^2" is y * x^2, the rest is implicit multiplication */
    p->i = b + 1;
    char name[40];
    size_t nl = 0;
    name[nl++] = w[0];
    if (peek(p) == '_') { /* subscript: x_1, a_{n+1} */
        size_t j = p->i + 1;
        if (j < p->n && p->s[j] == '{') {
            size_t e = j + 1;
            while (e < p->n && p->s[e] != '}' && e - j < 30) e++;
            if (e >= p->n || p->s[e] != '}') return fail(p);
            name[nl++] = '_';
            memcpy(name + nl, p->s + j + 1, e - j - 1);
            nl += e - j - 1;
            p->i = e + 1;
        } else if (j < p->n && (is_alpha(p->s[j]) || is_digit(p->s[j]))) {
            name[nl++] = '_';
            name[nl++] = p->s[j];
            p->i = j + 1;
        } else {
            return fail(p);
        }
    }
    if (nl == 1 && name[0] == 'e') return new_node(p, MN_E, 0, NULL, 0);
    return var_node(p, name, nl);
}

static int parse_command(P *p) {
    size_t b = p->i + 1, e = b;
    while (e < p->n && is_alpha(p->s[e])) e++;
    if (e == b) {
        /* control symbols: \{ starts a set */
        if (b < p->n && p->s[b] == '{') {
            p->i = b + 1;
            skip_sp(p);
            int items[MAX_ITEMS], n = 0;
            if (!(peek(p) == '\\' && peek2(p) == '}')) {
                if (parse_items(p, items, &n)) return -1;
            }
            skip_sp(p);
            if (!(peek(p) == '\\' && peek2(p) == '}')) return fail(p);
            p->i += 2;
            return new_node(p, MN_SET, 0, items, n);
        }
        return fail(p);
    }
    const char *nm = p->s + b;
    size_t nl = e - b;
    p->i = e;
    skip_sp(p);
#define IS(lit) (nl == sizeof(lit) - 1 && !memcmp(nm, lit, nl))
    if (IS("frac")) {
        int a = parse_group(p), c = parse_group(p);
        return node2(p, MN_MUL, 0, a, node1(p, MN_INV, 0, c));
    }
    if (IS("binom")) {
        int a = parse_group(p), c = parse_group(p);
        return node2(p, MN_FUNC, FN_BINOM, a, c);
    }
    if (IS("sqrt")) {
        int idx = -1;
        if (peek(p) == '[') {
            p->i++;
            idx = parse_expr(p);
            if (!eat(p, ']')) return fail(p);
        }
        int a = parse_group(p);
        return idx >= 0 ? node2(p, MN_FUNC, FN_ROOT, a, idx) : node1(p, MN_FUNC, FN_SQRT, a);
    }
    if (IS("pi")) return new_node(p, MN_PI, 0, NULL, 0);
    if (IS("infty")) return new_node(p, MN_INF, 0, NULL, 0);
    if (IS("emptyset")) return new_node(p, MN_SET, 0, NULL, 0);
    if (IS("lfloor") || IS("lceil")) {
        int fl = IS("lfloor");
        int a = parse_expr(p);
        if (!eat_cmd(p, fl ? "rfloor" : "rceil")) return fail(p);
        return node1(p, MN_FUNC, fl ? FN_FLOOR : FN_CEIL, a);
    }
    if (IS("lvert") || IS("vert")) {
        int a = parse_expr(p);
        if (!eat_cmd(p, "rvert") && !eat_cmd(p, "vert")) return fail(p);
        return node1(p, MN_FUNC, FN_ABS, a);
    }
    if (IS("begin")) return parse_matrix(p);
    int fn = lookup_fn(nm, nl);
    if (fn) return parse_func(p, fn);
    for (const char *const *g = GREEK; *g; g++)
        if (strlen(*g) == nl && !memcmp(*g, nm, nl)) {
            char name[16];
            name[0] = '\\';
            memcpy(name + 1, nm, nl);
            return var_node(p, name, nl + 1);
        }
#undef IS
    return fail(p); /* \mathbb, \ldots, unknown macros: not something we evaluate */
}

static int parse_primary(P *p) {
    if (enter(p)) return -1;
    skip_sp(p);
    char c = peek(p);
    int r;
    if (is_digit(c) || (c == '.' && is_digit(peek2(p)))) r = parse_number(p);
    else if (c == '.' && peek2(p) == '.') { /* "1, 2, 3, ...": the ellipsis is an item of its own */
        while (peek(p) == '.') p->i++;
        r = var_node(p, "...", 3);
    }
    else if (is_alpha(c)) r = parse_letters(p);
    else if (c == '\\') r = parse_command(p);
    else if (c == '(' || c == '[') {
        p->i++;
        r = parse_bracketed(p, c);
    } else if (c == '{') {
        p->i++;
        int items[MAX_ITEMS], n;
        if (parse_items(p, items, &n)) r = -1;
        else if (!eat(p, '}')) r = fail(p);
        else r = n == 1 ? items[0] : new_node(p, MN_LIST, 0, items, n);
    } else if (c == '|') {
        p->i++;
        int a = parse_expr(p);
        r = eat(p, '|') ? node1(p, MN_FUNC, FN_ABS, a) : fail(p);
    } else {
        r = fail(p);
    }
    leave(p);
    return p->fail ? -1 : r;
}

static int parse_postfix(P *p) {
    int a = parse_primary(p);
    for (int k = 0; k < 3 && !p->fail; k++) {
        skip_sp(p);
        if (peek(p) != '!') break;
        p->i++;
        a = node1(p, MN_FACT, 0, a);
    }
    return a;
}

/* An exponent: {expr}, a single digit (LaTeX: 2^10 is 2^1 0), or a signed factor. */
static int parse_exponent(P *p) {
    if (enter(p)) return -1;
    skip_sp(p);
    int r;
    char c = peek(p);
    if (c == '{') r = parse_group(p);
    else if (is_digit(c)) {
        p->i++;
        r = num_node(p, c - '0', c - '0', 1, 0);
    } else if (c == '-' || c == '+') {
        p->i++;
        int a = parse_exponent(p);
        r = c == '-' ? node1(p, MN_NEG, 0, a) : a;
    } else {
        r = parse_postfix(p);
        skip_sp(p);
        if (!p->fail && peek(p) == '^') {
            p->i++;
            r = node2(p, MN_POW, 0, r, parse_exponent(p));
        }
    }
    leave(p);
    return p->fail ? -1 : r;
}

/* factor := postfix ('^' exponent)? ; right-associative through parse_exponent */
static int parse_factor(P *p) {
    if (enter(p)) return -1;
    int a = parse_postfix(p);
    skip_sp(p);
    if (!p->fail && peek(p) == '^') {
        p->i++;
        int e = parse_exponent(p);
        a = node2(p, MN_POW, 0, a, e);
    }
    leave(p);
    return p->fail ? -1 : a;
}

/* A factor after an explicit operator may carry its own sign: 2 \cdot -3, x^{-1}. */
static int parse_signed_factor(P *p) {
    if (enter(p)) return -1;
    skip_sp(p);
    int r;
    if (peek(p) == '-') {
        p->i++;
        r = node1(p, MN_NEG, 0, parse_signed_factor(p));
    } else if (peek(p) == '+') {
        p->i++;
        r = parse_signed_factor(p);
    } else {
        r = parse_factor(p);
    }
    leave(p);
    return p->fail ? -1 : r;
}

/* Can the text at the cursor start a factor multiplied implicitly (2x, 2\sqrt3, x(x+1))? */
static int starts_implicit(P *p) {
    skip_sp(p);
    char c = peek(p);
    if (is_digit(c) || is_alpha(c) || c == '(' || c == '{') return 1;
    if (c != '\\') return 0;
    static const char *const ok[] = {"frac", "sqrt", "pi", "binom", "lfloor", "lceil", "infty", "sin", "cos",
                                     "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh",
                                     "tanh", "ln", "log", "exp", "begin", NULL};
    for (const char *const *k = ok; *k; k++)
        if (at_cmd(p, *k)) return 1;
    for (const char *const *g = GREEK; *g; g++)
        if (at_cmd(p, *g)) return 1;
    return 0;
}

static int is_int_literal(P *p, int id) {
    const mnode_t *nd = &p->t->nodes[id];
    return nd->kind == MN_NUM && nd->den == 1 && !nd->aux;
}

/* term := factor ((* | / | \cdot | \times | \div | implicit) factor)* */
static int parse_term(P *p) {
    if (enter(p)) return -1;
    int fs[MAX_ITEMS], n = 0;
    fs[n++] = parse_factor(p);
    while (!p->fail) {
        skip_sp(p);
        int inv = 0, f;
        if (peek(p) == '*' || eat_cmd(p, "cdot") || eat_cmd(p, "times")) {
            if (peek(p) == '*') p->i++;
            f = parse_signed_factor(p);
        } else if (peek(p) == '/' || eat_cmd(p, "div")) {
            if (peek(p) == '/') p->i++;
            f = parse_signed_factor(p);
            inv = 1;
        } else if (starts_implicit(p)) {
            /* mixed number 2\frac{1}{2} = 5/2 (integer then a fraction of integers) */
            int mixed = n == 1 && is_int_literal(p, fs[0]) && at_cmd(p, "frac");
            f = parse_factor(p);
            if (mixed && !p->fail) {
                const mnode_t *m = &p->t->nodes[f];
                if (m->kind == MN_MUL && m->nk == 2) {
                    int a = p->t->kids[m->k], b = p->t->kids[m->k + 1];
                    const mnode_t *bn = &p->t->nodes[b];
                    if (is_int_literal(p, a) && bn->kind == MN_INV && is_int_literal(p, p->t->kids[bn->k])) {
                        fs[0] = node2(p, MN_ADD, 0, fs[0], f);
                        continue;
                    }
                }
            }
        } else {
            break;
        }
        if (inv) f = node1(p, MN_INV, 0, f);
        if (n >= MAX_ITEMS) return fail(p);
        fs[n++] = f;
    }
    int r = n == 1 ? fs[0] : new_node(p, MN_MUL, 0, fs, n);
    leave(p);
    return p->fail ? -1 : r;
}

/* expr := [+|-|\pm] term ((+ | - | \pm | \mp) term)* */
static int parse_expr(P *p) {
    if (enter(p)) return -1;
    int ts[MAX_ITEMS], n = 0;
    skip_sp(p);
    int pm_lead = -1;
    if (eat_cmd(p, "pm")) pm_lead = 0;
    else if (eat_cmd(p, "mp")) pm_lead = 1;
    else if (peek(p) == '-') {
        p->i++;
        ts[n++] = node1(p, MN_NEG, 0, parse_term(p));
    } else if (peek(p) == '+') {
        p->i++;
    }
    if (pm_lead >= 0) ts[n++] = node1(p, MN_PM, pm_lead, parse_term(p));
    else if (n == 0) ts[n++] = parse_term(p);
    while (!p->fail) {
        skip_sp(p);
        int t;
        if (peek(p) == '+') {
            p->i++;
            t = parse_term(p);
        } else if (peek(p) == '-') {
            p->i++;
            t = node1(p, MN_NEG, 0, parse_term(p));
        } else if (at_cmd(p, "pm") || at_cmd(p, "mp")) {
            int mp = at_cmd(p, "mp");
            eat_cmd(p, mp ? "mp" : "pm");
            /* a ± b: the sum so far is a */
            int sum = n == 1 ? ts[0] : new_node(p, MN_ADD, 0, ts, n);
            ts[0] = node2(p, MN_PM, mp, sum, parse_term(p));
            n = 1;
            continue;
        } else {
            break;
        }
        if (n >= MAX_ITEMS) return fail(p);
        ts[n++] = t;
    }
    int r = n == 1 ? ts[0] : new_node(p, MN_ADD, 0, ts, n);
    leave(p);
    return p->fail ? -1 : r;
}

static int rel_op(P *p) {
    skip_sp(p);
    char c = peek(p);
    if (c == '=') return p->i++, REL_EQ;
    if (c == '<') {
        p->i++;
        if (peek(p) == '=') return p->i++, REL_LE;
        return REL_LT;
    }
    if (c == '>') {
        p->i++;
        if (peek(p) == '=') return p->i++, REL_GE;
        return REL_GT;
    }
    if (eat_cmd(p, "leq")) return REL_LE;
    if (eat_cmd(p, "geq")) return REL_GE;
    if (eat_cmd(p, "neq")) return REL_NE;
    if (eat_cmd(p, "approx") || eat_cmd(p, "simeq") || eat_cmd(p, "sim")) return REL_APPROX;
    return 0;
}

/* ratio := expr (':' expr)? -- "11:21" is the number 11/21 */
static int parse_ratio(P *p) {
    int a = parse_expr(p);
    skip_sp(p);
    if (p->fail || peek(p) != ':') return a;
    p->i++;
    int b = parse_expr(p);
    return node2(p, MN_MUL, 0, a, node1(p, MN_INV, 0, b));
}

/* rel := ratio (relop ratio)*: two or three sides with any operators (a < x <= b), or a chain
 * of '=' (x = 5+5+1 = 7 = 11). A trailing "\approx v" after a value is commentary and is
 * dropped ("1/3 \approx 0.33" is 1/3); "x \approx 11" alone stays a relation. */
static int parse_rel(P *p) {
    int k[MAX_ITEMS], ops[MAX_ITEMS], n = 0;
    k[n++] = parse_ratio(p);
    while (!p->fail) {
        int op = rel_op(p);
        if (!op) break;
        if (n >= MAX_ITEMS) return fail(p);
        ops[n - 1] = op;
        k[n++] = parse_ratio(p);
    }
    if (p->fail) return -1;
    while (n > 2 && ops[n - 2] == REL_APPROX) n--;
    if (n == 1) return k[0];
    if (n == 2) return node2(p, MN_REL, ops[0], k[0], k[1]);
    for (int j = 0; j < n - 1; j++)
        if ((n > 3 && ops[j] != REL_EQ) || ops[j] == REL_APPROX) return fail(p);
    return new_node(p, MN_REL, ops[0] | ops[1] << 4, k, n);
}

/* item := rel (\cup rel)* */
static int parse_item(P *p) {
    if (enter(p)) return -1;
    int us[MAX_ITEMS], n = 0;
    us[n++] = parse_rel(p);
    while (!p->fail && eat_cmd(p, "cup")) {
        if (n >= MAX_ITEMS) return fail(p);
        us[n++] = parse_rel(p);
    }
    int r = n == 1 ? us[0] : new_node(p, MN_UNION, 0, us, n);
    leave(p);
    return p->fail ? -1 : r;
}

/* Digits, operators or commands anywhere: short letter runs are then products (2xy). */
static int mathy(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (is_digit(s[i]) || strchr("+-*/^=\\()[]{}_|<>", s[i])) return 1;
    return 0;
}

int math_parse(const char *s, size_t n, mtree_t *t) {
    t->n_nodes = t->n_kids = t->n_str = 0;
    t->root = -1;
    if (n == 0 || n > MATH_MAX_ANSWER) return -1;
    P p = {.s = s, .n = n, .i = 0, .t = t, .depth = 0, .fail = 0, .mathy = mathy(s, n)};
    int items[MAX_ITEMS], k = 0;
    for (;;) {
        if (k >= MAX_ITEMS) return -1;
        items[k++] = parse_item(&p);
        if (p.fail) return -1;
        skip_sp(&p);
        if (eat(&p, ',') || eat(&p, ';')) continue;
        break;
    }
    skip_sp(&p);
    if (p.fail || p.i != p.n) return -1;
    t->root = k == 1 ? items[0] : new_node(&p, MN_LIST, 0, items, k);
    return p.fail || t->root < 0 ? -1 : 0;
}
