/* Small byte-string helpers shared across modules (no allocation, no locale). */
#pragma once
#include <stddef.h>

/* The last occurrence of the NUL-terminated pattern inside [s, end), or NULL. */
const char *rlc_last_in(const char *s, const char *end, const char *pat);
