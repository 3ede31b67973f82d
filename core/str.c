/* Small byte-string helpers (see str.h). */
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rlc_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

const char *rlc_last_in(const char *s, const char *end, const char *pat) {
    size_t m = strlen(pat);
    if (!m || end < s || (size_t)(end - s) < m) return NULL;
    for (const char *p = end - m; p >= s; p--)
        if (*p == pat[0] && !memcmp(p, pat, m)) return p;
    return NULL;
}

int rlc_is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

int rlc_parse_day(const char *s, struct tm *out) {
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int d = 0, m = 0, y = 0, n = 0;
    char mon[4] = "";
    int iso = sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && !s[n] && n == 10;
    if (!iso) {
        if (sscanf(s, "%2d %3s %4d%n", &d, mon, &y, &n) != 3 || s[n]) return -1;
        for (m = 1; m <= 12 && strcmp(mon, months[m - 1]);) m++;
    }
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm); /* fills the weekday and the day of the year */
    if (t == (time_t)-1 || !gmtime_r(&t, out) || out->tm_mday != d) return -1; /* 31 Feb: no such day */
    return 0;
}

int rlc_cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

const char *rlc_sorted_repeat(const char **v, size_t n) {
    if (n < 2) return NULL;
    qsort(v, n, sizeof *v, rlc_cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i - 1], v[i])) return v[i];
    return NULL;
}
