/* Small byte-string helpers shared across modules (no allocation, no locale). */
#pragma once
#include <stddef.h>

/* The last occurrence of the NUL-terminated pattern inside [s, end), or NULL. */
const char *rlc_last_in(const char *s, const char *end, const char *pat);
/* 1 when s ends with suffix (case-sensitive). */
int rlc_ends_with(const char *s, const char *suffix);
/* qsort comparator for an array of C strings (char *), by strcmp. */
int rlc_cmp_str(const void *a, const void *b);
/* A string that occurs twice among v[0..n), or NULL; sorts v in place (n log n, so a
 * 152k-key object or a schema of any width is checked quickly). */
const char *rlc_sorted_repeat(const char **v, size_t n);
/* 1 when s[0..n) holds only ASCII white space (space, \t, \n, \r, \v, \f) or is empty. */
int rlc_is_blank(const char *s, size_t n);
/* A calendar day written "26 Jul 2024" (Llama's date_string; English month names) or
 * "2024-07-26", into *out (midnight; weekday and day of the year filled): 0, or -1. */
struct tm;
int rlc_parse_day(const char *s, struct tm *out);
