/* Answer extraction: finds the final answer in a text, whether a model's solution, a worked
 * gold solution or a bare answer. The order (docs/rewards.md "Extraction"):
 *   1. <answer>...</answer> (its content is read by the rules below, or taken whole);
 *   2. the last complete \boxed{} / \fbox{} and the last "final answer" sentence: whichever
 *      is written later wins ("\boxed{255} ... The final answer is $10,455$" gives 10,455);
 *   3. GSM8K "#### n";  4. "the answer is ...", "Answer: ..." sentences;
 *   5. fallbacks: the text itself when it is a bare answer; else the rightmost of the last
 *      math span ($...$, \(...\), \[...\], $$...$$) and the last number; else (WHOLE) the text.
 * A marker's sentence that is not a bare answer ("The volume of $ABCD$ is 120") gives its
 * rightmost math span or number. Several \boxed{} answers (or spans) written as one group
 * ("\boxed{1}, \boxed{2} and \boxed{3}") are also returned as a list. Every scan is linear in
 * the text; retries over earlier \boxed occurrences are capped. */
#include <ctype.h>
#include <string.h>

#include "core/err.h"
#include "core/str.h"
#include "rewards/math/math.h"
#include "rewards/math/xt.h"

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

/* Given p at '{', return the matching '}' before end, or NULL. Escaped braces do not count. */
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

/* The box that starts at b ("\boxed" or "\fbox"): its content, and the end of the box. */
static int box_content(const char *b, const char *end, piece_t *pc, const char **box_end) {
    const char *p = b + (b[1] == 'b' ? 6 : 5);
    if (p < end && *p == '{') {
        const char *q = match_brace(p, end);
        if (!q) return 0;
        const char *cb = p + 1;
        while (cb < q && isspace((unsigned char)*cb)) cb++;
        if (cb == q) return 0; /* an empty \boxed{} is no answer */
        *pc = (piece_t){p + 1, q, PIECE_TEXT, 0};
        *box_end = q + 1;
        return 1;
    }
    if (p < end && *p == ' ') { /* "\boxed 5": up to the next '$' or space */
        while (p < end && *p == ' ') p++;
        const char *q = p;
        while (q < end && *q != '$' && !isspace((unsigned char)*q)) q++;
        if (q == p) return 0;
        *pc = (piece_t){p, q, PIECE_TEXT, 0};
        *box_end = q;
        return 1;
    }
    return 0;
}

static const char *last_box(const char *s, const char *lim) {
    const char *b1 = rlc_last_in(s, lim, "\\boxed"), *b2 = rlc_last_in(s, lim, "\\fbox");
    return b1 > b2 ? b1 : b2;
}

/* What may stand between two boxed answers of one group: a short run with no sentence
 * punctuation or line break (", ", " and ", "} \quad \text{and} \quad \boxed", "$ or $",
 * " for part (a) and "). */
static int box_connector(const char *b, const char *e) {
    if (e < b || e - b > 48) return 0;
    for (const char *p = b; p < e; p++)
        if (strchr(".;!?\n", *p)) return 0;
    return 1;
}

/* The last complete box of [s, end) and the boxes grouped with it; *at = its start. */
static int find_boxed(const char *s, const char *end, pieces_t *g, const char **at) {
    const char *lim = end, *b = NULL, *bend;
    piece_t last;
    int found = 0;
    for (int tries = 0; tries < MAX_BOX_TRIES && !found; tries++) {
        b = last_box(s, lim);
        if (!b) return 0;
        found = box_content(b, end, &last, &bend);
        lim = b; /* unmatched (truncated generation) or empty: try the previous one */
    }
    if (!found) return 0;
    *at = b;
    piece_t items[XT_GROUP_MAX];
    int n = 0;
    items[XT_GROUP_MAX - 1 - n++] = last;
    for (const char *cur = b; n < XT_GROUP_MAX;) {
        const char *pb = last_box(s, cur), *pend;
        piece_t pc;
        if (!pb || !box_content(pb, cur, &pc, &pend) || !box_connector(pend, cur)) break;
        items[XT_GROUP_MAX - 1 - n++] = pc;
        cur = pb;
    }
    g->n = n;
    memcpy(g->item, items + XT_GROUP_MAX - n, sizeof(piece_t) * (size_t)n);
    return 1;
}

/* ", since", ", because", ", which" at q == ',': a clause after the answer (not ", and",
 * ", or", ", x = 2"). */
static int clause_after(const char *q, const char *end) {
    const char *w = q + 1;
    while (w < end && *w == ' ') w++;
    const char *we = w;
    while (we < end && islower((unsigned char)*we)) we++;
    if (we - w < 2 || (we < end && isalpha((unsigned char)*we))) return 0;
    static const char *const keep[] = {"and", "or", "so", "then", NULL}; /* "1, 2, and 3"; "so" may lead an answer */
    for (const char *const *k = keep; *k; k++)
        if ((size_t)(we - w) == strlen(*k) && !memcmp(w, *k, (size_t)(we - w))) return 0;
    return we < end && *we == ' ';
}

/* End of the sentence that starts at p: end of line, ". " / "." at the end or a clause
 * (", since ...") outside $...$ (Minerva's "The final answer is $5$. I hope it is
 * correct."; "The answer is 5, since 2+3=5"). */
static const char *sentence_end(const char *p, const char *end) {
    int in_math = 0;
    for (const char *q = p; q < end; q++) {
        if (*q == '\n') return q;
        if (*q == '\\' && q + 1 < end) {
            q++;
            continue;
        }
        if (*q == '$') in_math = !in_math;
        if (in_math) continue;
        if (*q == '.' && (q + 1 == end || q[1] == ' ' || q[1] == '\n') &&
            !(q > p && isdigit((unsigned char)q[-1]) && q + 1 < end && isdigit((unsigned char)q[1])))
            return q;
        if (*q == ',' && q > p && clause_after(q, end)) return q;
    }
    return end;
}

/* The answer in the sentence after a marker: the sentence when it is a bare answer, else
 * its rightmost math span or number, else the sentence as written. */
static int read_sentence(const char *b, const char *e, pieces_t *out) {
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (b == e) return 0;
    if (!xt_is_bare(b, e) && xt_fallback(b, e, 1, 1, out)) return 1;
    out->n = 1;
    out->item[0] = (piece_t){b, e, PIECE_TEXT, 0};
    return 1;
}

/* The sentence's answer from p on; a heading ("**Final Answer**") may put it on the next line. */
static int answer_from(const char *p, const char *end, pieces_t *out) {
    for (int line = 0; line < 2; line++) {
        while (p < end && (*p == ' ' || *p == ':' || *p == '*' || *p == '\t')) p++;
        if (end - p >= 3 && !strncasecmp(p, "is", 2) && !isalpha((unsigned char)p[2])) {
            p += 2;
            while (p < end && (*p == ' ' || *p == ':' || *p == '*' || *p == '\t')) p++;
        }
        const char *q = sentence_end(p, end);
        if (read_sentence(p, q, out)) return 1;
        if (q >= end || *q != '\n') break;
        p = q + 1;
    }
    return 0;
}

/* The answer of the sentence after the last `pat` (case-insensitive) in [s, end). */
static int after_marker(const char *s, const char *end, const char *pat, pieces_t *out) {
    const char *h = last_ci(s, (size_t)(end - s), pat);
    return h && answer_from(h + strlen(pat), end, out);
}

/* Where the answer of a "final answer" marker starts: after "final answer:", "final answer
 * is", a "**Final Answer**" heading, or the first " is " of the same sentence within 100
 * bytes ("Final answer to part (b) is 7"); NULL when the words are only part of a sentence. */
static const char *final_answer_start(const char *m, const char *end) {
    const char *p = m + 12;
    while (p < end && (*p == ' ' || *p == '*' || *p == '\t')) p++;
    if (p == end || *p == ':' || *p == '\n') return p;
    if (end - p >= 2 && !strncasecmp(p, "is", 2) && (p + 2 == end || !isalpha((unsigned char)p[2]))) return p;
    const char *lim = sentence_end(p, end);
    if (lim - p > 100) lim = p + 100;
    for (const char *q = p; q + 4 <= lim; q++)
        if (q[0] == ' ' && !strncasecmp(q + 1, "is", 2) && (q[3] == ' ' || q[3] == ':')) return q + 3;
    return NULL;
}

/* The last "final answer" marker whose sentence holds an answer (earlier ones are tried
 * when the last is only part of a sentence, up to a cap). */
static int final_answer(const char *s, const char *end, pieces_t *out, const char **at) {
    const char *lim = end;
    for (int tries = 0; tries < MAX_BOX_TRIES; tries++) {
        const char *m = last_ci(s, (size_t)(lim - s), "final answer");
        if (!m) return 0;
        const char *p = final_answer_start(m, end);
        if (p && answer_from(p, end, out)) {
            *at = m;
            return 1;
        }
        lim = m + 11; /* the next search ends before this marker's last letter */
    }
    return 0;
}

typedef struct {
    pieces_t pc;
    math_src_t src;
} reading_t;

static int read_text(const char *s, const char *end, int flags, reading_t *r, int depth);

static int read_answer_tag(const char *s, const char *end, int flags, reading_t *r, int depth) {
    const char *open = rlc_last_in(s, end, "<answer>");
    if (!open || depth > 0) return 0;
    const char *b = open + 8;
    const char *close = strstr(b, "</answer>");
    if (!close || close > end) return 0;
    /* the tag holds the answer: read it by the other rules, or take it whole */
    int inner = (flags & ~MATH_EXTRACT_ANSWER_TAG) | MATH_EXTRACT_BARE | MATH_EXTRACT_WHOLE;
    if (!read_text(b, close, inner, r, depth + 1)) return 0;
    r->src = MATH_SRC_ANSWER_TAG;
    return 1;
}

/* Rules 2-4 of the header; 1 when one fired. */
static int read_markers(const char *s, const char *end, int flags, reading_t *r) {
    pieces_t box, fin;
    const char *box_at = NULL, *fin_at = NULL;
    int hb = (flags & MATH_EXTRACT_BOXED) && find_boxed(s, end, &box, &box_at);
    int hf = (flags & MATH_EXTRACT_FINAL_ANSWER) && final_answer(s, end, &fin, &fin_at);
    if (hb || hf) {
        int use_box = hb && (!hf || box_at > fin_at);
        r->pc = use_box ? box : fin;
        r->src = use_box ? MATH_SRC_BOXED : MATH_SRC_FINAL_ANSWER;
        return 1;
    }
    if (flags & MATH_EXTRACT_GSM8K) {
        const char *h = rlc_last_in(s, end, "####");
        if (h) {
            const char *p = h + 4, *q = p;
            while (q < end && *q != '\n') q++;
            while (p < q && isspace((unsigned char)*p)) p++;
            if (p < q) {
                r->pc.n = 1;
                r->pc.item[0] = (piece_t){p, q, PIECE_TEXT, 0};
                r->src = MATH_SRC_GSM8K;
                return 1;
            }
        }
    }
    if ((flags & MATH_EXTRACT_FINAL_ANSWER) && after_marker(s, end, "the answer is", &r->pc)) {
        r->src = MATH_SRC_FINAL_ANSWER;
        return 1;
    }
    if ((flags & MATH_EXTRACT_ANSWER_LINE) && after_marker(s, end, "answer:", &r->pc)) {
        r->src = MATH_SRC_ANSWER_LINE;
        return 1;
    }
    return 0;
}

static int read_text(const char *s, const char *end, int flags, reading_t *r, int depth) {
    r->pc.n = 0;
    r->src = MATH_SRC_NONE;
    if ((flags & MATH_EXTRACT_ANSWER_TAG) && read_answer_tag(s, end, flags, r, depth)) return 1;
    if (read_markers(s, end, flags, r)) return 1;
    const char *b = s, *e = end;
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (b == e) return 0;
    if ((flags & MATH_EXTRACT_BARE) && xt_is_bare(b, e)) {
        r->pc.n = 1;
        r->pc.item[0] = (piece_t){b, e, PIECE_TEXT, 0};
        r->src = MATH_SRC_BARE;
        return 1;
    }
    if (xt_fallback(b, e, flags & MATH_EXTRACT_MATH_SPAN, flags & MATH_EXTRACT_LAST_NUMBER, &r->pc)) {
        const piece_t *last = &r->pc.item[r->pc.n - 1];
        r->src = last->kind == PIECE_NUMBER ? MATH_SRC_LAST_NUMBER : MATH_SRC_MATH_SPAN;
        return 1;
    }
    if (flags & MATH_EXTRACT_WHOLE) {
        r->pc.n = 1;
        r->pc.item[0] = (piece_t){b, e, PIECE_TEXT, 0};
        r->src = MATH_SRC_WHOLE;
        return 1;
    }
    return 0;
}

/* The group joined by ", " into out. */
static int emit_group(const pieces_t *g, char *out, size_t cap) {
    size_t n = 0;
    for (int i = 0; i < g->n; i++) {
        if (i) {
            if (n + 3 > cap) return rlc_errc(RLC_ERANGE, "math: extracted answer list exceeds %zu bytes", cap - 1);
            memcpy(out + n, ", ", 3);
            n += 2;
        }
        int rc = xt_emit(&g->item[i], out + n, cap - n);
        if (rc < 0) {
            out[0] = 0;
            return rc;
        }
        n += strlen(out + n);
    }
    return 1;
}

int math_extract_read(const char *text, int flags, char *out, size_t cap, char *list, size_t list_cap,
                      math_src_t *src) {
    if (src) *src = MATH_SRC_NONE;
    if (list && list_cap) list[0] = 0;
    if (!text || !out || cap == 0) return rlc_errc(RLC_EINVAL, "math_extract_answer: NULL argument");
    out[0] = 0;
    reading_t r;
    if (!read_text(text, text + strlen(text), flags, &r, 0)) return 0;
    int rc = xt_emit(&r.pc.item[r.pc.n - 1], out, cap);
    if (rc < 0) return rc;
    if (list && list_cap && r.pc.n > 1 && (rc = emit_group(&r.pc, list, list_cap)) < 0) {
        out[0] = 0;
        return rc;
    }
    if (src) *src = r.src;
    return 1;
}

int math_extract_answer_ex(const char *solution, char *out, size_t cap, int flags, math_src_t *src) {
    return math_extract_read(solution, flags, out, cap, NULL, 0, src);
}

int math_extract_answer(const char *solution, char *out, size_t cap, int flags) {
    return math_extract_read(solution, flags, out, cap, NULL, 0, NULL);
}

static const struct {
    const char *name;
    int flag;
} RULES[] = {{"boxed", MATH_EXTRACT_BOXED},
             {"answer_tag", MATH_EXTRACT_ANSWER_TAG},
             {"gsm8k", MATH_EXTRACT_GSM8K},
             {"final_answer", MATH_EXTRACT_FINAL_ANSWER},
             {"answer_line", MATH_EXTRACT_ANSWER_LINE},
             {"bare", MATH_EXTRACT_BARE},
             {"math_span", MATH_EXTRACT_MATH_SPAN},
             {"last_number", MATH_EXTRACT_LAST_NUMBER},
             {"whole", MATH_EXTRACT_WHOLE},
             {"markers", MATH_EXTRACT_MARKERS},
             {"default", MATH_EXTRACT_DEFAULT},
             {"none", 0}};

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
                            "answer_line, bare, math_span, last_number, whole, markers, default, none)",
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
