/* Reasoning steps of a completion (split at "\n\n"), the token that ends each step, and the
 * aggregation of per-step scores (see steps.h). */
#include "rewards/steps.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/str.h"

static const char *const agg_names[] = {"last", "min", "prod", "mean"};

int rlc_step_agg_from_name(const char *name, rlc_step_agg_t *agg) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, agg_names[i])) {
            *agg = (rlc_step_agg_t)i;
            return 0;
        }
    return rlc_errc(RLC_EINVAL, "--prm-agg must be last, min, prod or mean (got '%s')", name ? name : "");
}

const char *rlc_step_agg_name(rlc_step_agg_t agg) { return agg >= 0 && agg < 4 ? agg_names[agg] : "?"; }

double rlc_step_aggregate(const float *scores, int n, rlc_step_agg_t agg) {
    if (n < 1) return 0;
    double v = agg == RLC_STEP_AGG_PROD ? 1 : agg == RLC_STEP_AGG_MIN ? scores[0] : 0;
    for (int i = 0; i < n; i++) {
        if (agg == RLC_STEP_AGG_PROD) v *= scores[i];
        else if (agg == RLC_STEP_AGG_MIN) v = scores[i] < v ? scores[i] : v;
        else v += scores[i];
    }
    if (agg == RLC_STEP_AGG_LAST) return scores[n - 1];
    return agg == RLC_STEP_AGG_MEAN ? v / n : v;
}

int rlc_split_steps(const char *text, size_t len, size_t *starts, size_t *ends, int cap) {
    int n = 0;
    size_t a = 0;
    for (;;) {
        size_t b = a;
        while (b + 1 < len && !(text[b] == '\n' && text[b + 1] == '\n')) b++;
        int last = b + 1 >= len; /* no separator left: the rest is the last piece */
        if (last) b = len;
        if (!rlc_is_blank(text + a, b - a)) {
            if (n < cap) {
                if (starts) starts[n] = a;
                ends[n] = b;
            }
            n++;
        }
        if (last) break;
        a = b + 2;
    }
    return n;
}

void rlc_step_token_pos(const size_t *tok_end, int n_tok, const size_t *ends, int n_ends, int *pos) {
    int t = 0;
    for (int k = 0; k < n_ends; k++) {
        while (t < n_tok && tok_end[t] < ends[k]) t++;
        pos[k] = t < n_tok ? t : -1;
    }
}

/* Does paragraph text [a, b) begin (after blanks) with one of the markers as a whole word? */
static int starts_with_marker(const char *s, size_t a, size_t b, const char *const *markers, int n) {
    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')) a++;
    for (int i = 0; i < n; i++) {
        size_t L = strlen(markers[i]);
        if (!L || L > b - a || memcmp(s + a, markers[i], L)) continue;
        unsigned char next = a + L < b ? (unsigned char)s[a + L] : ' ';
        int word = (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9');
        if (!word) return 1;
    }
    return 0;
}

int rlc_split_episodes(const char *text, size_t len, const char *const *markers, int n_markers, int gap, int merge,
                       int max_episodes, size_t *ends, size_t *next, int cap) {
    int np = rlc_split_steps(text, len, NULL, NULL, 0);
    if (np == 0) return 0;
    size_t *ps = rlc_malloc((size_t)np * sizeof *ps), *pe = rlc_malloc((size_t)np * sizeof *pe);
    int *first = rlc_malloc((size_t)(np + 1) * sizeof *first); /* first paragraph of each raw episode */
    if (!ps || !pe || !first) {
        free(ps), free(pe), free(first);
        return RLC_ENOMEM;
    }
    rlc_split_steps(text, len, ps, pe, np);
    int E = 1, last_cut = 0;
    first[0] = 0;
    for (int p = 1; p < np; p++)
        if (p - last_cut > gap && starts_with_marker(text, ps[p], pe[p], markers, n_markers)) first[E++] = last_cut = p;
    first[E] = np;
    int f = merge > 1 ? merge : 1;
    while (max_episodes > 0 && (E + f - 1) / f > max_episodes) f++;
    int n = (E + f - 1) / f;
    for (int j = 0; j < n && j < cap; j++) {
        int hi = (j + 1) * f < E ? (j + 1) * f : E; /* raw episodes [j·f, hi) */
        ends[j] = pe[first[hi] - 1];
        next[j] = hi < E ? ps[first[hi]] : len;
    }
    free(ps), free(pe), free(first);
    return n;
}
