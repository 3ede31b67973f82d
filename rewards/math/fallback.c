/* The extraction fallbacks for a text with no answer marker (math-verify's convention): the
 * text itself when it is a bare answer, else the rightmost of its last math span and its
 * last number. Every scan is linear: a search for a closing delimiter that fails is
 * remembered, so many unclosed openers cannot make it quadratic. */
#include <ctype.h>
#include <string.h>

#include "core/err.h"
#include "rewards/math/internal.h"
#include "rewards/math/xt.h"

static int is_digit(char c) { return isdigit((unsigned char)c) != 0; }
static int is_alpha(char c) { return isalpha((unsigned char)c) != 0; }
static int is_space(char c) { return isspace((unsigned char)c) != 0; }

static int word_is(const char *b, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - b) == n && !strncasecmp(b, lit, n);
}

/* Words that are math, not prose: functions, constants, connectors between answers. */
static int math_word(const char *b, const char *e) {
    static const char *const w[] = {"and", "or",  "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln",
                                    "exp", "lim", "max", "min", "gcd", "lcm", "mod", "pi",  "inf", "sqrt",
                                    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", NULL};
    for (const char *const *p = w; *p; p++)
        if (word_is(b, e, *p)) return 1;
    return 0;
}

/* Commands whose braced argument is text: its words do not make the answer a sentence. */
static int text_command(const char *b, const char *e) {
    static const char *const w[] = {"text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mbox", "textnormal",
                                    "operatorname", "mathit", "mathsf", "texttt", NULL};
    for (const char *const *p = w; *p; p++)
        if ((size_t)(e - b) == strlen(*p) && !memcmp(b, *p, (size_t)(e - b))) return 1;
    return 0;
}

static const char *skip_braces(const char *p, const char *e) {
    int depth = 0;
    for (; p < e; p++) {
        if (*p == '\\' && p + 1 < e) {
            p++;
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth <= 0) return p + 1;
    }
    return e;
}

int xt_is_bare(const char *b, const char *e) {
    while (b < e && is_space(*b)) b++;
    while (e > b && is_space(e[-1])) e--;
    if (b == e) return 0;
    /* a text wrapped whole in one pair of delimiters is its content */
    if (e - b >= 2 && *b == '$' && e[-1] == '$') {
        const char *ib = b, *ie = e;
        while (ib < ie && *ib == '$') ib++;
        while (ie > ib && ie[-1] == '$') ie--;
        if (!memchr(ib, '$', (size_t)(ie - ib))) return xt_is_bare(ib, ie);
        return 0;
    }
    int prev = 0; /* the previous token, if only spaces follow it: 1 a unit word, 2 another word */
    for (const char *p = b; p < e;) {
        char c = *p;
        if (c == '$') return 0;
        if (c == '\\' && p + 1 < e) {
            char d = p[1];
            if (d == '(' || d == '[') return 0;
            const char *q = p + 1;
            while (q < e && is_alpha(*q)) q++;
            if (q == p + 1) q = p + 2; /* a control symbol */
            else if ((q - p == 6 && !memcmp(p + 1, "boxed", 5)) || (q - p == 5 && !memcmp(p + 1, "fbox", 4)))
                return 0; /* a box no rule could read (empty, unclosed) holds no answer */
            else if (text_command(p + 1, q)) {
                while (q < e && *q == ' ') q++;
                if (q < e && *q == '{') q = skip_braces(q, e);
            }
            prev = 0;
            p = q;
            continue;
        }
        if (is_alpha(c)) {
            const char *q = p;
            while (q < e && is_alpha(*q)) q++;
            int word = q - p >= 2 && !math_word(p, q) && !(q < e && (*q == '(' || *q == '_'));
            int kind = !word ? 0 : math_unit_word(p, (size_t)(q - p)) ? 1 : 2;
            /* two words in a row make a sentence; two unit words ("square units") do not */
            if (kind && prev && !(kind == 1 && prev == 1)) return 0;
            prev = kind;
            p = q;
            continue;
        }
        if (!(c == ' ' || c == '\t')) prev = 0;
        p++;
    }
    return 1;
}

const char *xt_percent_after(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p < e && *p == '%') return p + 1;
    if (e - p >= 2 && p[0] == '\\' && p[1] == '%') return p + 2;
    static const char *const w[] = {"percentage", "percent", "pct", NULL};
    for (const char *const *k = w; *k; k++) {
        size_t n = strlen(*k);
        if ((size_t)(e - p) >= n && !strncasecmp(p, *k, n) && (p + n == e || !is_alpha(p[n]))) return p + n;
    }
    return NULL;
}

/* Is [b, e) what may stand between two answers of one group: ",", "and", "or", spaces? */
static int span_connector(const char *b, const char *e) {
    if (e - b > 24) return 0;
    for (const char *p = b; p < e;) {
        if (is_space(*p) || *p == ',') {
            p++;
            continue;
        }
        if (e - p >= 3 && !strncasecmp(p, "and", 3) && (p + 3 == e || !is_alpha(p[3]))) {
            p += 3;
            continue;
        }
        if (e - p >= 2 && !strncasecmp(p, "or", 2) && (p + 2 == e || !is_alpha(p[2]))) {
            p += 2;
            continue;
        }
        return 0;
    }
    return 1;
}

/* The first `pat` in [p, e) not escaped by a backslash, stopping at a newline when
 * `one_line`; on failure *stop is where the search gave up. */
static const char *find_close(const char *p, const char *e, const char *pat, int one_line, const char **stop) {
    size_t m = strlen(pat);
    *stop = e;
    for (; p + m <= e; p++) {
        if (*p == '\n' && one_line) {
            *stop = p;
            return NULL;
        }
        if (*p == '\\' && pat[0] != '\\') {
            p++;
            continue;
        }
        if (!memcmp(p, pat, m)) return p;
    }
    return NULL;
}

typedef struct {
    const char *fail_until[4]; /* an opener of this kind before here has no closer */
} span_memo_t;

/* The span that opens at p, if any: content in [*cb, *ce), end of the closer in *after. */
static int span_at(const char *b, const char *p, const char *e, span_memo_t *m, const char **cb, const char **ce,
                   const char **after) {
    static const struct {
        const char *open, *close;
        int one_line;
    } kinds[] = {{"$$", "$$", 0}, {"\\[", "\\]", 0}, {"\\(", "\\)", 1}, {"$", "$", 1}};
    for (int k = 0; k < 4; k++) {
        size_t lo = strlen(kinds[k].open);
        if ((size_t)(e - p) < lo || memcmp(p, kinds[k].open, lo)) continue;
        if (k == 3 && p > b && is_digit(p[-1])) return 0; /* "1,000.99$": a currency sign */
        if (p < m->fail_until[k]) return 0;
        const char *stop;
        const char *q = find_close(p + lo, e, kinds[k].close, kinds[k].one_line, &stop);
        if (!q) {
            m->fail_until[k] = stop;
            return 0;
        }
        *cb = p + lo;
        *ce = q;
        *after = q + strlen(kinds[k].close);
        return 1;
    }
    return 0;
}

int xt_last_span(const char *b, const char *e, pieces_t *out) {
    out->n = 0;
    span_memo_t memo = {{0}};
    const char *prev_end = NULL;
    for (const char *p = b; p < e;) {
        if (*p != '$' && !(*p == '\\' && p + 1 < e && (p[1] == '(' || p[1] == '['))) {
            p += *p == '\\' && p + 1 < e ? 2 : 1; /* \$ is a dollar sign, not a delimiter */
            continue;
        }
        const char *cb, *ce, *after;
        if (!span_at(b, p, e, &memo, &cb, &ce, &after)) {
            p += (*p == '$' && p + 1 < e && p[1] == '$') || *p == '\\' ? 2 : 1;
            continue;
        }
        const char *tb = cb, *te = ce;
        while (tb < te && is_space(*tb)) tb++;
        if (tb == te) { /* an empty span is no answer */
            p = after;
            continue;
        }
        const char *pe = xt_percent_after(after, e);
        piece_t pc = {cb, ce, PIECE_TEXT, pe != NULL};
        int joined = out->n > 0 && span_connector(prev_end, p);
        if (!joined) out->n = 0;
        if (out->n == XT_GROUP_MAX) {
            memmove(out->item, out->item + 1, sizeof(piece_t) * (XT_GROUP_MAX - 1));
            out->n--;
        }
        out->item[out->n++] = pc;
        prev_end = pe ? pe : after;
        p = prev_end;
    }
    return out->n > 0;
}

/* May a number start right after c (the character before it)? Not after letters, digits,
 * subscripts, exponents or commands: "x2", "a_1", "2^3", "AZYUK2A" hold no answer. */
static int number_may_follow(const char *b, const char *p) {
    if (p == b) return 1;
    unsigned char c = (unsigned char)p[-1];
    if (c >= 0x80) return 1; /* a currency sign or other symbol in UTF-8 */
    return strchr(" \t\n\r=$(:,*~[", c) != NULL && c != 0;
}

/* "\frac{12}{5}" around the digits ending at `ne`: widen [*nb, *ne) to it. */
static void widen_frac(const char *b, const char **nb, const char **ne, const char *e) {
    const char *p = *nb;
    if (p - b < 2 || p[-1] != '{' || p[-2] != '}' || *ne >= e || **ne != '}') return;
    const char *q = p - 2;
    while (q > b && is_digit(q[-1])) q--;
    if (q == p - 2 || q - b < 1 || q[-1] != '{') return;
    q--;
    static const char *const fr[] = {"\\frac", "\\dfrac", "\\tfrac", NULL};
    for (const char *const *f = fr; *f; f++) {
        size_t n = strlen(*f);
        if ((size_t)(q - b) >= n && !memcmp(q - n, *f, n)) {
            *nb = q - n;
            *ne += 1;
            return;
        }
    }
}

int xt_last_number(const char *b, const char *e, piece_t *out) {
    const char *q = e;
    while (q > b) {
        while (q > b && !is_digit(q[-1])) q--;
        if (q == b) return 0;
        const char *ne = q, *nb = q;
        while (nb > b) {
            char c = nb[-1];
            if (is_digit(c)) nb--;
            else if ((c == '.' || c == ',' || c == '/') && nb - 1 > b && is_digit(nb[-2])) nb--;
            else if (c == ' ' && nb - 1 > b && is_digit(nb[-2]) && ne - nb >= 3 && is_digit(nb[0]) && is_digit(nb[1]) &&
                     is_digit(nb[2]) && (nb + 3 == ne || !is_digit(nb[3])))
                nb--; /* "1 000": a space between groups of three */
            else break;
        }
        if (nb > b && nb[-1] == '.' && (nb - 1 == b || !is_digit(nb[-2]))) nb--; /* ".4" */
        widen_frac(b, &nb, &ne, e);
        if (nb > b && nb[-1] == '-' && number_may_follow(b, nb - 1)) nb--;
        if (!number_may_follow(b, nb)) {
            q = nb;
            continue;
        }
        const char *pe = xt_percent_after(ne, e);
        *out = (piece_t){nb, ne, PIECE_NUMBER, pe != NULL};
        return 1;
    }
    return 0;
}

int xt_fallback(const char *b, const char *e, int spans, int numbers, pieces_t *out) {
    pieces_t sp = {.n = 0};
    piece_t num;
    int hs = spans && xt_last_span(b, e, &sp), hn = numbers && xt_last_number(b, e, &num);
    if (!hs && !hn) return 0;
    /* the one that ends later wins; a number inside the last span ends before its closer */
    if (hs && (!hn || sp.item[sp.n - 1].e >= num.e)) {
        *out = sp;
        return 1;
    }
    out->n = 1;
    out->item[0] = num;
    return 1;
}

/* A number token as written -> its plain form: thousands separators dropped, a decimal
 * comma made a point ("2,74" -> 2.74, "0,111" -> 0.111), of a list "1,2,3" the last item. */
static size_t clean_number(const char *b, const char *e, char *o, size_t cap) {
    size_t n = 0;
    int neg = b < e && *b == '-';
    if (neg) b++;
    int seps = 0, commas = 0, dot = 0, thousands = b < e && *b != '0';
    const char *last_sep = NULL;
    int lead = 0;
    for (const char *p = b; p < e && is_digit(*p); p++) lead++;
    for (const char *p = b; p < e; p++) {
        if (*p == ',' || *p == ' ') {
            seps++, commas += *p == ',', last_sep = p;
            int k = 0;
            while (p + 1 + k < e && is_digit(p[1 + k])) k++;
            if (k != 3) thousands = 0;
        } else if (*p == '.') {
            dot = 1;
        } else if (*p == '/') {
            break;
        }
    }
    if (lead > 3) thousands = 0;
    const char *from = b;
    char comma_as = 0; /* what a separator becomes; 0: dropped */
    if (seps && !thousands) {
        /* one comma: a decimal comma when it reads as one ("2,74", "0,5"); "3,5" stays a list */
        int frac = 0;
        while (last_sep + 1 + frac < e && is_digit(last_sep[1 + frac])) frac++;
        if (seps == 1 && commas == 1 && !dot && (frac >= 2 || (lead == 1 && *b == '0'))) comma_as = '.';
        else if (seps == 1 && commas == 1 && !dot) comma_as = ',';
        else from = last_sep + 1, neg = 0;
    }
    if (neg && n + 1 < cap) o[n++] = '-';
    for (const char *p = from; p < e && n + 1 < cap; p++) {
        if (*p == ',' || *p == ' ') {
            if (comma_as) o[n++] = comma_as;
            continue;
        }
        o[n++] = *p;
    }
    o[n] = 0;
    return n;
}

int xt_emit(const piece_t *pc, char *out, size_t cap) {
    const char *b = pc->b, *e = pc->e;
    char num[160];
    if (pc->kind == PIECE_NUMBER && (size_t)(e - b) < sizeof num && !(e - b > 5 && memchr(b, '\\', (size_t)(e - b)))) {
        size_t n = clean_number(b, e, num, sizeof num);
        b = num, e = num + n;
    }
    for (int changed = 1; changed && b < e;) {
        changed = 0;
        while (b < e && is_space(*b)) b++;
        while (e > b && is_space(e[-1])) e--;
        /* markdown bold around the answer, trailing sentence punctuation, $...$, \(...\) */
        if (e - b >= 2 && b[0] == '*' && b[1] == '*') b += 2, changed = 1;
        if (e - b >= 2 && e[-1] == '*' && e[-2] == '*') e -= 2, changed = 1;
        /* a final period or colon; not an escaped one, not an ellipsis ("1, 2, 3, ...") */
        if (e > b && (e[-1] == '.' || e[-1] == ':' || e[-1] == ';') && !(e - b >= 2 && (e[-2] == '\\' || e[-2] == '.')))
            e--, changed = 1;
        if (e - b >= 2 && b[0] == '$' && e[-1] == '$') b++, e--, changed = 1;
        if (e - b >= 4 && b[0] == '\\' && (b[1] == '(' || b[1] == '[') && e[-2] == '\\' &&
            (e[-1] == ')' || e[-1] == ']'))
            b += 2, e -= 2, changed = 1;
    }
    size_t n = (size_t)(e - b), extra = pc->pct ? 2 : 0;
    if (n + extra + 1 > cap) {
        if (cap) out[0] = 0;
        return rlc_errc(RLC_ERANGE, "math: extracted answer of %zu bytes exceeds %zu", n + extra, cap ? cap - 1 : 0);
    }
    memcpy(out, b, n);
    if (extra) memcpy(out + n, "\\%", 2);
    out[n + extra] = 0;
    return 1;
}
