/* Answer extraction: finds the final answer in a model's solution text (\boxed{} with brace
 * matching, <answer> tags, GSM8K "####", "final answer is", "Answer:" lines, last number).
 * Every scan is linear in the text; retries over earlier \boxed occurrences are capped. */
#include <ctype.h>
#include <string.h>

#include "core/err.h"
#include "rewards/math/math.h"

#define MAX_BOX_TRIES 16

/* Case-insensitive search for the last occurrence of `pat` in [s, s+n). */
static const char *last_ci(const char *s, size_t n, const char *pat) {
    size_t m = strlen(pat);
    if (m == 0 || m > n) return NULL;
    for (size_t i = n - m + 1; i-- > 0;) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)s[i + k]) == tolower((unsigned char)pat[k])) k++;
        if (k == m) return s + i;
    }
    return NULL;
}

/* Last occurrence of `pat` (case-sensitive) strictly before `end`. */
static const char *last_before(const char *s, const char *end, const char *pat) {
    size_t m = strlen(pat);
    if ((size_t)(end - s) < m) return NULL;
    for (const char *p = end - m; p >= s; p--)
        if (*p == pat[0] && !memcmp(p, pat, m)) return p;
    return NULL;
}

/* Copy [b, e) trimmed and cleaned into out. Returns 1, or RLC_ERANGE when too long. */
static int emit(const char *b, const char *e, char *out, size_t cap) {
    for (int changed = 1; changed && b < e;) {
        changed = 0;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        /* markdown bold around the answer, trailing sentence punctuation, $...$ */
        if (e - b >= 2 && b[0] == '*' && b[1] == '*') b += 2, changed = 1;
        if (e - b >= 2 && e[-1] == '*' && e[-2] == '*') e -= 2, changed = 1;
        if (e > b && (e[-1] == '.' || e[-1] == ':' || e[-1] == ';') && !(e - b >= 2 && e[-2] == '\\')) {
            /* keep "\." and digits like "5." only when it is the whole answer */
            e--, changed = 1;
        }
        if (e - b >= 2 && b[0] == '$' && e[-1] == '$') b++, e--, changed = 1;
        if (e - b >= 4 && b[0] == '\\' && (b[1] == '(' || b[1] == '[') && e[-2] == '\\' &&
            (e[-1] == ')' || e[-1] == ']'))
            b += 2, e -= 2, changed = 1;
    }
    size_t n = (size_t)(e - b);
    if (n + 1 > cap) {
        if (cap) out[0] = 0;
        return rlc_errc(RLC_ERANGE, "math: extracted answer of %zu bytes exceeds %zu", n, cap ? cap - 1 : 0);
    }
    memcpy(out, b, n);
    out[n] = 0;
    return 1;
}

/* Given p at '{', return the matching '}' or NULL. Escaped braces (\{ \}) do not count. */
static const char *match_brace(const char *p, const char *end) {
    int depth = 0;
    for (; p < end; p++) {
        if (*p == '\\') {
            if (p + 1 < end) p++;
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p;
    }
    return NULL;
}

/* The content of the last complete \boxed{...} or \fbox{...} in [s, end). */
static int find_boxed(const char *s, const char *end, char *out, size_t cap) {
    const char *lim = end;
    for (int tries = 0; tries < MAX_BOX_TRIES; tries++) {
        const char *b1 = last_before(s, lim, "\\boxed"), *b2 = last_before(s, lim, "\\fbox");
        const char *b = b1 > b2 ? b1 : b2;
        if (!b) return 0;
        const char *p = b + (b == b1 ? 6 : 5);
        if (p < end && *p == '{') {
            const char *q = match_brace(p, end);
            const char *cb = p + 1;
            while (cb < q && isspace((unsigned char)*cb)) cb++;
            if (q && cb < q) return emit(p + 1, q, out, cap); /* an empty \boxed{} is no answer */
        } else if (p < end && *p == ' ') {
            /* "\boxed 5" (no braces): up to the next '$' or whitespace */
            while (p < end && *p == ' ') p++;
            const char *q = p;
            while (q < end && *q != '$' && !isspace((unsigned char)*q)) q++;
            if (q > p) return emit(p, q, out, cap);
        }
        lim = b; /* unmatched (truncated generation) or empty: try the previous one */
    }
    return 0;
}

/* End of the "answer sentence" that starts at p: end of line, or ". " / "." at end
 * outside $...$ (Minerva's "The final answer is $5$. I hope it is correct."). */
static const char *sentence_end(const char *p, const char *end) {
    int in_math = 0;
    for (const char *q = p; q < end; q++) {
        if (*q == '\n') return q;
        if (*q == '\\' && q + 1 < end) {
            q++;
            continue;
        }
        if (*q == '$') in_math = !in_math;
        if (!in_math && *q == '.' && (q + 1 == end || q[1] == ' ' || q[1] == '\n') &&
            !(q > p && isdigit((unsigned char)q[-1]) && q + 1 < end && isdigit((unsigned char)q[1])))
            return q;
    }
    return end;
}

static int after_marker(const char *s, const char *end, const char *const *pats, char *out, size_t cap) {
    const char *best = NULL;
    size_t best_len = 0;
    for (const char *const *pt = pats; *pt; pt++) {
        const char *h = last_ci(s, (size_t)(end - s), *pt);
        if (h && (!best || h > best)) best = h, best_len = strlen(*pt);
    }
    if (!best) return 0;
    const char *p = best + best_len;
    while (p < end && (*p == ' ' || *p == ':' || *p == '*' || *p == '\t')) p++;
    const char *q = sentence_end(p, end);
    if (q <= p) return 0;
    return emit(p, q, out, cap);
}

static int is_num_char(char c) { return isdigit((unsigned char)c); }

/* The last number (with optional sign, thousands commas, decimals, or a/b fraction). */
static int last_number(const char *s, const char *end, char *out, size_t cap) {
    const char *q = end;
    while (q > s && !is_num_char(q[-1])) q--;
    if (q == s) return 0;
    const char *e = q, *b = q;
    /* walk back over digits, '.', ',' followed by 3 digits, and one '/' */
    while (b > s) {
        char c = b[-1];
        if (is_num_char(c) || c == '.') b--;
        else if (c == ',' && e - b >= 3 && b - 1 > s && is_num_char(b[-2])) b--;
        else if (c == '/' && b - 1 > s && is_num_char(b[-2])) b--;
        else break;
    }
    while (b < e && (*b == '.' || *b == ',' || *b == '/')) b++;
    if (b > s && b[-1] == '-') b--;
    char tmp[128];
    size_t n = 0;
    for (const char *p = b; p < e && n + 1 < sizeof tmp; p++)
        if (*p != ',') tmp[n++] = *p;
    tmp[n] = 0;
    return emit(tmp, tmp + n, out, cap);
}

int math_extract_answer_ex(const char *solution, char *out, size_t cap, int flags, math_src_t *src) {
    if (src) *src = MATH_SRC_NONE;
    if (!solution || !out || cap == 0) return rlc_errc(RLC_EINVAL, "math_extract_answer: NULL argument");
    out[0] = 0;
    const char *s = solution, *end = solution + strlen(solution);
    int rc;
    if (flags & MATH_EXTRACT_ANSWER_TAG) {
        const char *open = last_before(s, end, "<answer>");
        if (open) {
            const char *b = open + 8;
            const char *close = strstr(b, "</answer>");
            if (close) {
                if ((flags & MATH_EXTRACT_BOXED) && (rc = find_boxed(b, close, out, cap)) != 0) {
                    if (src && rc > 0) *src = MATH_SRC_ANSWER_TAG;
                    return rc;
                }
                if ((rc = emit(b, close, out, cap)) != 0) {
                    if (src && rc > 0) *src = MATH_SRC_ANSWER_TAG;
                    return rc;
                }
            }
        }
    }
    if ((flags & MATH_EXTRACT_BOXED) && (rc = find_boxed(s, end, out, cap)) != 0) {
        if (src && rc > 0) *src = MATH_SRC_BOXED;
        return rc;
    }
    if (flags & MATH_EXTRACT_GSM8K) {
        const char *h = last_before(s, end, "####");
        if (h) {
            const char *p = h + 4, *q = p;
            while (q < end && *q != '\n') q++;
            if ((rc = emit(p, q, out, cap)) != 0) {
                if (src && rc > 0) *src = MATH_SRC_GSM8K;
                return rc;
            }
        }
    }
    if (flags & MATH_EXTRACT_FINAL_ANSWER) {
        static const char *const pats[] = {"final answer is", "final answer:", "the answer is", NULL};
        if ((rc = after_marker(s, end, pats, out, cap)) != 0) {
            if (src && rc > 0) *src = MATH_SRC_FINAL_ANSWER;
            return rc;
        }
    }
    if (flags & MATH_EXTRACT_ANSWER_LINE) {
        static const char *const pats[] = {"answer:", NULL};
        if ((rc = after_marker(s, end, pats, out, cap)) != 0) {
            if (src && rc > 0) *src = MATH_SRC_ANSWER_LINE;
            return rc;
        }
    }
    if (flags & MATH_EXTRACT_LAST_NUMBER) {
        if ((rc = last_number(s, end, out, cap)) != 0) {
            if (src && rc > 0) *src = MATH_SRC_LAST_NUMBER;
            return rc;
        }
    }
    out[0] = 0;
    return 0;
}

int math_extract_answer(const char *solution, char *out, size_t cap, int flags) {
    return math_extract_answer_ex(solution, out, cap, flags, NULL);
}

static const struct {
    const char *name;
    int flag;
} RULES[] = {{"boxed", MATH_EXTRACT_BOXED},          {"answer_tag", MATH_EXTRACT_ANSWER_TAG},
             {"gsm8k", MATH_EXTRACT_GSM8K},          {"final_answer", MATH_EXTRACT_FINAL_ANSWER},
             {"answer_line", MATH_EXTRACT_ANSWER_LINE}, {"last_number", MATH_EXTRACT_LAST_NUMBER},
             {"default", MATH_EXTRACT_DEFAULT},      {"none", 0}};

int math_extract_flags_from_str(const char *csv, int *flags) {
    if (!csv || !flags) return rlc_errc(RLC_EINVAL, "extraction rules: NULL argument");
    int f = 0;
    const char *p = csv;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        size_t n = (size_t)(e - p);
        size_t k = 0;
        while (k < sizeof RULES / sizeof RULES[0] && !(strlen(RULES[k].name) == n && !memcmp(RULES[k].name, p, n))) k++;
        if (k == sizeof RULES / sizeof RULES[0])
            return rlc_errc(RLC_EINVAL,
                            "unknown answer extraction rule '%.*s' (boxed, answer_tag, gsm8k, final_answer, "
                            "answer_line, last_number, default, none)",
                            (int)n, p);
        f |= RULES[k].flag;
        p = e;
    }
    *flags = f;
    return 0;
}

int math_extract_flags_for_format(const char *format) {
    if (format && !strcmp(format, "answer_line")) return MATH_EXTRACT_ANSWER_LINE | MATH_EXTRACT_BOXED;
    if (format && !strcmp(format, "think")) return MATH_EXTRACT_BOXED | MATH_EXTRACT_ANSWER_TAG;
    if (format && !strcmp(format, "boxed")) return MATH_EXTRACT_BOXED;
    return MATH_EXTRACT_DEFAULT;
}
