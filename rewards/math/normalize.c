/* String normalization of answers (the union of the Hendrycks MATH, Qwen2.5-Math and DAPO
 * rules, SPECS.md): a fixed sequence of linear passes, each reading one buffer and writing
 * the next, so the cost is O(length) whatever the input. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rewards/math/internal.h"
#include "rewards/math/math.h"

void mbuf_init(mbuf_t *b, size_t limit) {
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void mbuf_free(mbuf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int mbuf_reserve(mbuf_t *b, size_t extra) {
    if (b->failed) return -1;
    size_t need = b->len + extra + 1;
    if (need > b->limit) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap) return 0;
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < need) nc *= 2;
    char *p = realloc(b->p, nc);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = nc;
    return 0;
}

void mbuf_putn(mbuf_t *b, const char *s, size_t n) {
    if (mbuf_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void mbuf_putc(mbuf_t *b, char c) { mbuf_putn(b, &c, 1); }
void mbuf_puts(mbuf_t *b, const char *s) { mbuf_putn(b, s, strlen(s)); }

static void mbuf_reset(mbuf_t *b) {
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

static int is_alpha(char c) { return isalpha((unsigned char)c) != 0; }
static int is_digit(char c) { return isdigit((unsigned char)c) != 0; }
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int name_is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

static int name_in(const char *s, size_t n, const char *const *list) {
    for (; *list; list++)
        if (name_is(s, n, *list)) return 1;
    return 0;
}

/* Index just after the group that starts at s[i] == '{' (escapes honoured), or n. */
static size_t skip_group(const char *s, size_t n, size_t i) {
    int depth = 0;
    for (; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '{') depth++;
        else if (s[i] == '}' && --depth == 0) return i + 1;
    }
    return n;
}

/* "^\circ", "^{\circ}", "^\degree" at s[i] == '^': the index after it, or 0. */
static size_t degree_at(const char *s, size_t n, size_t i) {
    size_t j = i + 1;
    int brace = 0;
    if (j < n && s[j] == '{') brace = 1, j++;
    while (j < n && s[j] == ' ') j++;
    size_t nm = 0;
    if (j >= n || s[j] != '\\') return 0;
    while (j + 1 + nm < n && is_alpha(s[j + 1 + nm])) nm++;
    if (!name_is(s + j + 1, nm, "circ") && !name_is(s + j + 1, nm, "degree")) return 0;
    j += 1 + nm;
    while (j < n && s[j] == ' ') j++;
    if (brace && (j >= n || s[j] != '}')) return 0;
    return j + brace;
}

/* A few unicode math symbols models like to emit, at s[i] (a byte >= 0x80), as LaTeX.
 * Returns the index after it (the byte copied as is when unknown). */
static size_t unicode_at(const char *s, size_t n, size_t i, mbuf_t *o, int *flags) {
    static const struct {
        const char *utf8, *latex;
    } uni[] = {{"\xc2\xb0", ""},          {"\xe2\x88\x92", "-"},       {"\xc3\x97", "\\times "},
               {"\xc2\xb7", "\\cdot "},   {"\xc3\xb7", "\\div "},      {"\xcf\x80", "\\pi "},
               {"\xe2\x88\x9a", "\\sqrt"}, {"\xe2\x88\x9e", "\\infty "}, {"\xe2\x89\xa4", "\\leq "},
               {"\xe2\x89\xa5", "\\geq "}, {"\xe2\x89\xa0", "\\neq "},  {"\xc2\xb1", "\\pm "},
               {"\xc2\xa0", " "},         {"\xe2\x80\x93", "-"},       {"\xe2\x8b\x85", "\\cdot "},
               {"\xe2\x80\xa6", "..."}};
    for (size_t k = 0; k < sizeof uni / sizeof uni[0]; k++) {
        size_t l = strlen(uni[k].utf8);
        if (i + l <= n && !memcmp(s + i, uni[k].utf8, l)) {
            if (k == 0) *flags |= MNORM_DEGREE;
            mbuf_puts(o, uni[k].latex);
            return i + l;
        }
    }
    mbuf_putc(o, s[i]);
    return i + 1;
}

/* A control symbol "\x" (x not a letter) at s[i]: spacing dropped, \$ and math delimiters
 * dropped, \% noted; others kept. Returns the index after it. */
static size_t control_symbol(const char *s, size_t n, size_t i, mbuf_t *o, int *flags) {
    char d = s[i + 1];
    i += 2;
    if (d == '!' || d == ',' || d == ';' || d == ':' || d == ' ' || d == '>') {
        if (d == '!') /* "11,\! 111": a thousands separator typeset tight */
            while (i < n && s[i] == ' ') i++;
        return i;
    }
    if (d == '$' || d == '(' || d == ')' || d == '[' || d == ']') return i; /* \$ and math delimiters */
    if (d == '%') {
        *flags |= MNORM_PERCENT;
        return i;
    }
    mbuf_putc(o, '\\');
    mbuf_putc(o, d);
    return i;
}

/* The spelling a command word is rewritten to, or NULL to keep it. */
static const char *command_rewrite(const char *nm, size_t nl) {
    static const char *const textlike[] = {"text", "textbf", "textit", "textrm", "textsf", "texttt", "textnormal",
                                           "mathrm", "mathbf", "mathit", "mathsf", "mbox", "hbox", "textup",
                                           "boldsymbol", "bf", NULL};
    static const char *const ellipsis[] = {"ldots", "cdots", "dots", "dotsc", "dotsb", NULL};
    if (name_is(nm, nl, "dfrac") || name_is(nm, nl, "tfrac") || name_is(nm, nl, "cfrac")) return "\\frac";
    if (name_is(nm, nl, "dbinom") || name_is(nm, nl, "tbinom")) return "\\binom";
    if (name_is(nm, nl, "le") || name_is(nm, nl, "leqslant") || name_is(nm, nl, "leqq")) return "\\leq";
    if (name_is(nm, nl, "ge") || name_is(nm, nl, "geqslant") || name_is(nm, nl, "geqq")) return "\\geq";
    if (name_is(nm, nl, "ne")) return "\\neq";
    if (name_is(nm, nl, "lt")) return "<";
    if (name_is(nm, nl, "gt")) return ">";
    if (name_is(nm, nl, "infinity")) return "\\infty";
    if (name_is(nm, nl, "emptyset") || name_is(nm, nl, "varnothing")) return "\\emptyset";
    if (name_in(nm, nl, textlike)) return "\\text";
    if (name_in(nm, nl, ellipsis)) return "...";
    return NULL;
}

/* A command word "\name" at s[i]: dropped (sizing, spacing, \left), rewritten, or kept.
 * Returns the index after what it consumed. */
static size_t command_word(const char *s, size_t n, size_t i, mbuf_t *o, int *flags) {
    static const char *const drop[] = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
                                       "biggl", "biggr", "Biggl", "Biggr", "displaystyle", "textstyle",
                                       "scriptstyle", "limits", "quad", "qquad", "nonumber", "middle",
                                       /* geometry marks on names: "\angle ABC = 30" labels ABC */
                                       "angle", "measuredangle", "triangle", "overline", "overrightarrow",
                                       "overleftrightarrow", "vec", "widehat", NULL};
    size_t b = i + 1, e = b;
    while (e < n && is_alpha(s[e])) e++;
    const char *nm = s + b;
    size_t nl = e - b;
    i = e;
    if (name_in(nm, nl, drop)) {
        if ((name_is(nm, nl, "left") || name_is(nm, nl, "right")) && i < n && s[i] == '.') i++;
        return i;
    }
    if (nl > 4 && (!memcmp(nm, "qquad", 5) || !memcmp(nm, "quad", 4))) /* "\quadx_{2}": spacing glued to a name */
        return b + (nm[1] == 'q' ? 5 : 4);
    if (name_is(nm, nl, "circ") || name_is(nm, nl, "degree")) {
        *flags |= MNORM_DEGREE;
        return i;
    }
    if (name_is(nm, nl, "hspace") || name_is(nm, nl, "vspace") || name_is(nm, nl, "phantom")) {
        while (i < n && s[i] == ' ') i++;
        return i < n && s[i] == '{' ? skip_group(s, n, i) : i;
    }
    if (name_is(nm, nl, "operatorname") || name_is(nm, nl, "mathop")) {
        while (i < n && s[i] == ' ') i++;
        if (i >= n || s[i] != '{') return i;
        size_t g = skip_group(s, n, i);
        mbuf_putc(o, '\\');
        for (size_t k = i + 1; k + 1 < g; k++)
            if (is_alpha(s[k])) mbuf_putc(o, s[k]);
        mbuf_putc(o, ' ');
        return g;
    }
    const char *rep = command_rewrite(nm, nl);
    if (rep) {
        mbuf_puts(o, rep);
    } else {
        mbuf_putc(o, '\\');
        mbuf_putn(o, nm, nl);
    }
    /* keep a separator so "\pi r" does not become "\pir" */
    if (i < n && is_alpha(s[i])) mbuf_putc(o, ' ');
    return i;
}

/* "{,}" or "{, }" (a thousands separator in braces) at s[i] == '{': the index after it, or 0. */
static size_t thousands_group(const char *s, size_t n, size_t i) {
    if (i + 2 >= n || s[i + 1] != ',') return 0;
    size_t j = i + 2;
    while (j < n && s[j] == ' ') j++;
    return j < n && s[j] == '}' ? j + 1 : 0;
}

/* Pass 1: command-level rewrites, $ and percent and degree removal, unicode to LaTeX. */
static void pass_commands(const char *s, size_t n, mbuf_t *o, int *flags) {
    for (size_t i = 0; i < n;) {
        char c = s[i];
        size_t j;
        if (c == '$') {
            i++;
        } else if (c == '%') {
            *flags |= MNORM_PERCENT;
            i++;
        } else if (is_space(c)) {
            if (o->len && o->p[o->len - 1] != ' ') mbuf_putc(o, ' ');
            i++;
        } else if (c == '{' && (j = thousands_group(s, n, i)) != 0) {
            i = j; /* 1{,}000, 14{, }916 */
        } else if (c == '^' && (j = degree_at(s, n, i)) != 0) {
            *flags |= MNORM_DEGREE;
            i = j;
        } else if ((unsigned char)c >= 0x80) {
            i = unicode_at(s, n, i, o, flags);
        } else if (c == '!' && i + 1 < n && s[i + 1] == '=') { /* "x != 3" */
            mbuf_puts(o, "\\neq ");
            i += 2;
        } else if (c != '\\') {
            mbuf_putc(o, c);
            i++;
        } else {
            /* "\\frac" in text escaped twice (JSON, Python source): one backslash; "\\"
             * before anything else is a matrix row break */
            if (i + 2 < n && s[i + 1] == '\\' && is_alpha(s[i + 2])) i++;
            if (i + 1 >= n) i++;
            else if (!is_alpha(s[i + 1])) i = control_symbol(s, n, i, o, flags);
            else i = command_word(s, n, i, o, flags);
        }
    }
}

static void trim(const char **b, const char **e) {
    while (*b < *e && is_space(**b)) (*b)++;
    while (*e > *b && is_space((*e)[-1])) (*e)--;
}

static int only_unit_text(const char *b, const char *e) {
    int letters = 0;
    for (const char *p = b; p < e; p++) {
        if (is_alpha(*p)) letters++;
        else if (!(is_space(*p) || *p == '.' || *p == '^' || *p == '-' || *p == '/' || is_digit(*p))) return 0;
    }
    return letters > 0;
}

/* Pass 2: \text{...} groups: a trailing unit after a value is dropped, "or"/"and" become
 * commas, anything else is unwrapped. */
static void pass_text(const char *s, size_t n, mbuf_t *o, int *flags) {
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && i + 5 <= n && !memcmp(s + i, "\\text", 5) && (i + 5 == n || !is_alpha(s[i + 5]))) {
            size_t j = i + 5;
            while (j < n && s[j] == ' ') j++;
            if (j >= n || s[j] != '{') { /* "\text x": drop the command, keep the rest */
                i = j;
                continue;
            }
            size_t g = skip_group(s, n, j);
            const char *cb = s + j + 1, *ce = s + (g > j + 1 ? g - 1 : j + 1);
            if (ce < cb) ce = cb;
            trim(&cb, &ce);
            /* what follows: optional ^2 / ^{2} / ^3, then only spaces or '.' */
            size_t k = g;
            if (k < n && s[k] == '^') {
                k++;
                if (k < n && s[k] == '{') k = skip_group(s, n, k);
                else if (k < n) k++;
            }
            while (k < n && (s[k] == ' ' || s[k] == '.')) k++;
            size_t before = o->len;
            while (before && o->p[before - 1] == ' ') before--;
            char prev = before ? o->p[before - 1] : 0;
            int value_before = prev && (is_digit(prev) || prev == ')' || prev == '}' || prev == ']' || is_alpha(prev));
            if (k >= n && value_before && only_unit_text(cb, ce)) {
                *flags |= MNORM_UNIT;
                o->len = before;
                if (o->p) o->p[o->len] = 0;
                i = n;
                continue;
            }
            if (name_is(cb, (size_t)(ce - cb), "or") || name_is(cb, (size_t)(ce - cb), "and") ||
                name_is(cb, (size_t)(ce - cb), ",")) {
                mbuf_putc(o, ',');
                i = g;
                continue;
            }
            mbuf_putn(o, cb, (size_t)(ce - cb));
            i = g;
            continue;
        }
        mbuf_putc(o, s[i++]);
    }
}

static const char *const units[] = {
    "units", "unit", "sq", "square", "cubic", "cm", "mm", "km", "m", "meters", "meter", "metres", "inches",
    "inch", "in", "feet", "foot", "ft", "yards", "yard", "miles", "mile", "mph", "dollars", "dollar", "cents",
    "cent", "degrees", "degree", "hours", "hour", "minutes", "minute", "seconds", "second", "days", "day",
    "weeks", "years", "year", "kg", "g", "grams", "pounds", "lbs", "ounces", "liters", "litres", "ml", "gallons",
    "people", "students", "apples", "pages", "points", "ways", "times", "percent", "sq.", "radians", NULL};

int math_unit_word(const char *s, size_t n) { return name_in(s, n, units); }

/* Pass 3: unit words written without \text ("5 cm", "12 square units") at the end. */
static void pass_units(const char *s, size_t n, mbuf_t *o, int *flags) {
    const char *b = s, *e = s + n;
    trim(&b, &e);
    /* strip word by word from the end while the words are units and a value precedes */
    for (int guard = 0; guard < 4; guard++) {
        const char *w = e;
        while (w > b && (is_alpha(w[-1]) || w[-1] == '.')) w--;
        if (w == e || w == b || w[-1] != ' ') break;
        if (!name_in(w, (size_t)(e - w), units)) break;
        const char *v = w - 1;
        while (v > b && v[-1] == ' ') v--;
        if (v == b) break;
        char prev = v[-1];
        if (!(is_digit(prev) || prev == '}' || prev == ')' || is_alpha(prev))) break;
        if (name_is(w, (size_t)(e - w), "percent")) *flags |= MNORM_PERCENT;
        else *flags |= MNORM_UNIT;
        e = v;
    }
    /* "18 cookies", "3 red marbles": a plain number followed only by words (GSM8K answers
     * in a sentence); words that are math ("3 pi", "2 or 3") are kept */
    static const char *const keep[] = {"pi", "or", "and", "sqrt", "sin", "cos", "tan", "log", "ln", "exp", "inf",
                                       "infty", "mod", "to", "i", NULL};
    const char *p = b;
    int digits = 0;
    while (p < e && (is_digit(*p) || *p == '.' || *p == ',' || *p == '-' || *p == '+' || *p == '/'))
        digits += is_digit(*p++);
    if (digits && p < e && *p == ' ') {
        const char *q = p;
        int words = 0, ok = 1;
        while (ok && q < e) {
            while (q < e && *q == ' ') q++;
            const char *ws = q;
            while (q < e && is_alpha(*q)) q++;
            if (q == ws || (q < e && *q != ' ' && *q != '.') || q - ws < 2 || name_in(ws, (size_t)(q - ws), keep)) ok = 0;
            while (q < e && *q == '.') q++;
            words++;
        }
        if (ok && words) {
            *flags |= MNORM_UNIT;
            e = p;
        }
    }
    mbuf_putn(o, b, (size_t)(e - b));
}

/* "4 4/9" at s[i] == ' ' (after the integer 4 in o): a mixed number, written as the
 * parser reads mixed numbers, "4\frac{4}{9}" (a proper fraction of integers only). Returns
 * the index just after it, or 0. */
static size_t mixed_number(const char *s, size_t n, size_t i, const mbuf_t *o) {
    size_t k = o->len;
    while (k && is_digit(o->p[k - 1])) k--;
    if (k == o->len || (k && (o->p[k - 1] == '.' || o->p[k - 1] == '/' || is_alpha(o->p[k - 1])))) return 0;
    size_t a = i + 1, b = a;
    while (b < n && is_digit(s[b])) b++;
    if (b == a || b >= n || s[b] != '/') return 0;
    size_t c = b + 1, d = c;
    while (d < n && is_digit(s[d])) d++;
    if (d == c || (d < n && (s[d] == '.' || is_alpha(s[d]) || s[d] == '/'))) return 0;
    if (b - a > 9 || d - c > 9) return 0;
    if (strtol(s + a, NULL, 10) >= strtol(s + c, NULL, 10)) return 0;
    return d;
}

/* "or" / "and" glued between two items: "(11,7)or(7,11)". */
static int glued_conjunction(const char *s, size_t n, size_t i, const mbuf_t *o, size_t *len) {
    if (!o->len || !(o->p[o->len - 1] == ')' || o->p[o->len - 1] == ']')) return 0;
    size_t w = !strncmp(s + i, "or", 2) ? 2 : !strncmp(s + i, "and", 3) ? 3 : 0;
    if (!w || i + w >= n || !(s[i + w] == '(' || s[i + w] == '[')) return 0;
    *len = w;
    return 1;
}

/* Pass 4: drop spaces, keeping one only where a command word meets a letter; the words
 * "or" / "and" between items become commas ("x = 1 or x = 2"); mixed numbers. */
static void pass_spaces(const char *s, size_t n, mbuf_t *o, int *flags) {
    for (size_t i = 0; i < n; i++) {
        size_t w;
        if (s[i] == ' ' && o->len >= 2 && o->p[o->len - 1] == ',' && is_digit(o->p[o->len - 2]) && i + 1 < n &&
            is_digit(s[i + 1]))
            *flags |= MNORM_SPACED_COMMA; /* "32, 349" lists two numbers; "32,349" is one */
        if (s[i] == ' ' && o->len && ((i + 3 < n && !memcmp(s + i, " or ", 4)) || (i + 4 < n && !memcmp(s + i, " and ", 5)))) {
            if (o->p[o->len - 1] != ',') mbuf_putc(o, ','); /* "1, 2, and 3": one comma */
            i += s[i + 1] == 'o' ? 3 : 4;
            continue;
        }
        if (glued_conjunction(s, n, i, o, &w)) {
            mbuf_putc(o, ',');
            i += w - 1;
            continue;
        }
        if (s[i] != ' ') {
            mbuf_putc(o, s[i]);
            continue;
        }
        size_t m = mixed_number(s, n, i, o);
        if (m) {
            const char *slash = memchr(s + i + 1, '/', m - i - 1);
            mbuf_puts(o, "\\frac{");
            mbuf_putn(o, s + i + 1, (size_t)(slash - s - i - 1));
            mbuf_puts(o, "}{");
            mbuf_putn(o, slash + 1, (size_t)(s + m - slash - 1));
            mbuf_putc(o, '}');
            i = m - 1;
            continue;
        }
        if (!o->len || i + 1 >= n || !is_alpha(s[i + 1]) || !is_alpha(o->p[o->len - 1])) continue;
        size_t k = o->len;
        while (k && is_alpha(o->p[k - 1])) k--;
        if (k && o->p[k - 1] == '\\') mbuf_putc(o, ' ');
    }
}

/* Copy one macro argument starting at s[*i] as a braced group: "{..}" as is, a command
 * word as "{\name}", otherwise one character. */
static void brace_arg(const char *s, size_t n, size_t *i, mbuf_t *o) {
    size_t j = *i;
    while (j < n && s[j] == ' ') j++;
    if (j >= n) {
        *i = j;
        return;
    }
    if (s[j] == '{') {
        size_t g = skip_group(s, n, j);
        mbuf_putn(o, s + j, g - j);
        *i = g;
        return;
    }
    mbuf_putc(o, '{');
    if (s[j] == '\\') {
        size_t e = j + 1;
        while (e < n && is_alpha(s[e])) e++;
        if (e == j + 1 && e < n) e++;
        mbuf_putn(o, s + j, e - j);
        j = e;
    } else {
        mbuf_putc(o, s[j++]);
    }
    mbuf_putc(o, '}');
    *i = j;
}

/* Pass 5: \frac12 -> \frac{1}{2}, \sqrt2 -> \sqrt{2}, \binom52 -> \binom{5}{2}, also inside
 * other arguments (\frac{\sqrt2}2). Braced arguments are not copied but walked through, with
 * a small stack remembering which closing brace still owes further arguments. */
#define ARG_STACK 64
typedef struct {
    int depth, owed;
} argpend_t;

/* Emit the remaining `owed` arguments that start at s[*i]; stops at the first braced one
 * (pushed on the stack, resumed at its closing brace). */
static void pending_args(const char *s, size_t n, size_t *i, mbuf_t *o, int owed, int depth, argpend_t *st, int *sp) {
    while (owed > 0) {
        size_t j = *i;
        while (j < n && s[j] == ' ') j++;
        *i = j;
        if (j >= n) return;
        if (s[j] == '{') {
            if (*sp < ARG_STACK) st[(*sp)++] = (argpend_t){depth + 1, owed - 1};
            return;
        }
        brace_arg(s, n, i, o);
        owed--;
    }
}

static void pass_args(const char *s, size_t n, mbuf_t *o) {
    argpend_t st[ARG_STACK];
    int sp = 0, depth = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && is_alpha(s[i + 1])) {
            size_t e = i + 1;
            while (e < n && is_alpha(s[e])) e++;
            const char *nm = s + i + 1;
            size_t nl = e - i - 1;
            int nargs = name_is(nm, nl, "frac") || name_is(nm, nl, "binom") ? 2 : name_is(nm, nl, "sqrt") ? 1 : 0;
            mbuf_putn(o, s + i, e - i);
            i = e;
            if (nargs == 1 && i < n && s[i] == '[') { /* \sqrt[3]{x}: copy the index */
                size_t k = i;
                while (k < n && s[k] != ']') k++;
                if (k < n) k++;
                mbuf_putn(o, s + i, k - i);
                i = k;
            }
            pending_args(s, n, &i, o, nargs, depth, st, &sp);
            continue;
        }
        if (c == '\\' && i + 1 < n) { /* \{ \} and friends are not groups */
            mbuf_putn(o, s + i, 2);
            i += 2;
            continue;
        }
        mbuf_putc(o, c);
        i++;
        if (c == '{') depth++;
        else if (c == '}') {
            if (sp && st[sp - 1].depth == depth) {
                int owed = st[--sp].owed;
                depth--;
                pending_args(s, n, &i, o, owed, depth, st, &sp);
                continue;
            }
            depth--;
        }
    }
}

/* "1011_2" / "2A_{16}" -> "1011" / "2A": a numeral's base subscript (the question fixes
 * the base; the digits are the answer). */
static int strip_base(const char **pb, const char **pe) {
    const char *b = *pb, *e = *pe;
    const char *u = memchr(b, '_', (size_t)(e - b));
    if (!u || u == b) return 0;
    for (const char *p = b; p < u; p++)
        if (!(is_digit(*p) || (*p >= 'A' && *p <= 'F'))) return 0;
    if (!is_digit(*b)) return 0;
    const char *q = u + 1;
    int brace = q < e && *q == '{';
    if (brace) q++;
    const char *d = q;
    while (q < e && is_digit(*q)) q++;
    if (q == d || (brace && (q >= e || *q != '}'))) return 0;
    if (q + brace != e) return 0;
    *pe = u;
    return 1;
}

/* "x\in[1,2]" -> "[1,2]", and with `eq_too` "x=3" -> "3", when the left side is a short
 * variable name (the parser reads "x = 3" itself; the text fallback needs this). */
static void strip_lhs(const char **pb, const char **pe, int eq_too) {
    const char *b = *pb, *e = *pe;
    const char *eq = NULL;
    size_t eqlen = 0;
    int depth = 0;
    for (const char *p = b; p < e; p++) {
        if (*p == '(' || *p == '[' || *p == '{') depth++;
        else if (*p == ')' || *p == ']' || *p == '}') depth--;
        else if (*p == ',' && depth == 0) return; /* a list: handled element-wise by the parser */
        else if (*p == '<' || *p == '>') return;
        else if (*p == '=') {
            if (eq || !eq_too) return;
            eq = p, eqlen = 1;
        } else if (*p == '\\' && e - p >= 3 && !memcmp(p, "\\in", 3) && (e - p == 3 || !is_alpha(p[3]))) {
            if (eq) return;
            eq = p, eqlen = 3;
        }
    }
    if (!eq || eq == b || eq + eqlen >= e) return;
    const char *l = b, *le = eq;
    /* short variable: one or two letters, or a letter with a subscript, or \greek */
    size_t ln = (size_t)(le - l);
    int ok = 0;
    if (ln <= 2 && is_alpha(l[0]) && (ln == 1 || is_alpha(l[1]))) ok = 1;
    else if (ln >= 3 && is_alpha(l[0]) && l[1] == '_') {
        ok = 1;
        for (const char *p = l + 2; p < le; p++)
            if (!(is_alpha(*p) || is_digit(*p) || *p == '{' || *p == '}')) ok = 0;
    } else if (l[0] == '\\') {
        ok = 1;
        for (const char *p = l + 1; p < le; p++)
            if (!is_alpha(*p)) ok = 0;
        if (ok && (name_is(l + 1, ln - 1, "pi") || name_is(l + 1, ln - 1, "infty"))) ok = 0;
    }
    if (ok) *pb = eq + eqlen;
}

/* "1,234,567.5" (the whole answer) -> "1234567.5" */
static int is_thousands(const char *b, const char *e) {
    const char *p = b;
    if (p < e && *p == '-') p++;
    int lead = 0;
    if (p < e && *p == '0') return 0; /* "0,111" is a decimal comma, "004,004" a list */
    while (p < e && is_digit(*p)) p++, lead++;
    if (lead < 1 || lead > 3 || p >= e || *p != ',') return 0;
    while (p < e && *p == ',') {
        p++;
        for (int k = 0; k < 3; k++, p++)
            if (p >= e || !is_digit(*p)) return 0;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e) return 0;
        while (p < e && is_digit(*p)) p++;
    }
    return p == e;
}

/* Pass 6: whole-answer rewrites: \boxed{X} -> X, outer \text, "x=" prefixes, thousands
 * separators, leading '=', trailing punctuation. */
static void pass_whole(const char *s, size_t n, mbuf_t *o, int mode, int flags) {
    const char *b = s, *e = s + n;
    for (int round = 0; round < 4; round++) {
        const char *ob = b, *oe = e;
        trim(&b, &e);
        /* a final period, not an ellipsis ("1, 2, 3, ..." keeps its dots) */
        while (e > b && ((e[-1] == '.' && !(e - b >= 2 && e[-2] == '.')) || e[-1] == ';' ||
                         (e[-1] == ',' && e - b > 1)))
            e--;
        if (e - b >= 2 && e[-1] == '\\' && e[-2] == '\\') e -= 2;
        if (e - b > 7 && !memcmp(b, "\\boxed{", 7) && skip_group(b, (size_t)(e - b), 6) == (size_t)(e - b))
            b += 7, e--;
        while (b < e && *b == '=') b++;
        strip_lhs(&b, &e, mode & MNORM_STRIP_LHS);
        strip_base(&b, &e);
        if (b == ob && e == oe) break;
    }
    if (!(flags & MNORM_SPACED_COMMA) && is_thousands(b, e)) {
        for (const char *p = b; p < e; p++)
            if (*p != ',') mbuf_putc(o, *p);
        return;
    }
    mbuf_putn(o, b, (size_t)(e - b));
}

int math_normalize_buf(const char *in, size_t n, mbuf_t *out, int *flags, int mode) {
    int fl = 0;
    mbuf_t a, b;
    size_t limit = 4 * n + 256;
    mbuf_init(&a, limit);
    mbuf_init(&b, limit);
    mbuf_putc(&a, 0), a.len = 0; /* allocate, so empty results are valid strings */
    mbuf_putc(&b, 0), b.len = 0;
    pass_commands(in, n, &a, &fl);
    pass_text(a.p, a.len, &b, &fl);
    mbuf_reset(&a);
    pass_units(b.p, b.len, &a, &fl);
    mbuf_reset(&b);
    pass_spaces(a.p, a.len, &b, &fl);
    mbuf_reset(&a);
    pass_args(b.p, b.len, &a);
    mbuf_reset(&b);
    pass_whole(a.p, a.len, &b, mode, fl);
    int failed = a.failed || b.failed;
    mbuf_reset(out);
    if (!failed) mbuf_putn(out, b.p ? b.p : "", b.len);
    mbuf_free(&a);
    mbuf_free(&b);
    if (flags) *flags = fl;
    return failed || out->failed ? -1 : 0;
}

int math_normalize(const char *in, char *out, size_t cap) {
    if (!in || !out || !cap) return rlc_errc(RLC_EINVAL, "math_normalize: NULL argument");
    mbuf_t o;
    mbuf_init(&o, 4 * strlen(in) + 256);
    int rc = math_normalize_buf(in, strlen(in), &o, NULL, MNORM_STRIP_LHS);
    if (rc) {
        mbuf_free(&o);
        out[0] = 0;
        return rlc_errc(RLC_ENOMEM, "math_normalize: out of memory");
    }
    if (o.len + 1 > cap) {
        mbuf_free(&o);
        out[0] = 0;
        return rlc_errc(RLC_ERANGE, "math_normalize: result of %zu bytes exceeds %zu", o.len, cap - 1);
    }
    memcpy(out, o.p ? o.p : "", o.len + 1);
    if (!o.p) out[0] = 0;
    mbuf_free(&o);
    return 0;
}
