/* Grading a text against a gold: both are read by the same extraction rules (a gold may be a
 * worked solution), a prediction written as a group of answers is tried as a list, then the
 * answers are compared (math_equal). Majority voting over extracted answers. */
#include <stdlib.h>
#include <string.h>

#include "rewards/math/math.h"

int math_grade(const char *gold, const char *solution, int flags, const math_opts_t *o, char *extracted,
               size_t cap) {
    if (extracted && cap) extracted[0] = 0;
    if (!gold || !solution) return 0;
    enum { N = MATH_MAX_ANSWER + 1 };
    char *buf = malloc(4 * (size_t)N);
    if (!buf) return 0;
    char *g = buf, *glist = buf + N, *p = buf + 2 * N, *plist = buf + 3 * N;
    int ok = 0;
    if (math_extract_read(gold, MATH_EXTRACT_GOLD, g, N, glist, N, NULL) > 0 &&
        math_extract_read(solution, flags, p, N, plist, N, NULL) > 0) {
        /* a gold written as several boxed answers is the list of them */
        const char *gans = glist[0] ? glist : g, *shown = p;
        ok = math_equal(gans, p, o);
        if (!ok && plist[0] && math_equal(gans, plist, o)) ok = 1, shown = plist;
        if (extracted && cap) {
            size_t n = strlen(shown);
            if (n >= cap) n = cap - 1;
            memcpy(extracted, shown, n);
            extracted[n] = 0;
        }
    }
    free(buf);
    return ok;
}

int math_majority(const char *const *answers, int n, const math_opts_t *o, int *count) {
    if (count) *count = 0;
    if (!answers || n <= 0) return -1;
    if (n > 4096) n = 4096;
    int *rep = malloc(sizeof(int) * (size_t)n * 2); /* cluster representative, cluster size */
    if (!rep) return -1;
    int *size = rep + n, nc = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i] || !answers[i][0]) continue;
        int k = 0;
        while (k < nc && !math_equal(answers[rep[k]], answers[i], o)) k++;
        if (k == nc) rep[nc] = i, size[nc++] = 0;
        size[k]++;
    }
    int best = -1, bs = 0;
    for (int k = 0; k < nc; k++)
        if (size[k] > bs) best = rep[k], bs = size[k];
    free(rep);
    if (count) *count = bs;
    return best;
}
