/* A growing malloc'd text buffer for reports (markdown, SVG): printf-style appends; on an
 * allocation failure it remembers the failure and rlc_sbuf_done returns NULL. */
#pragma once
#include <stddef.h>

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} rlc_sbuf_t;

void rlc_sbuf_printf(rlc_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n bytes of s, as they are. */
void rlc_sbuf_add(rlc_sbuf_t *b, const char *s, size_t n);
/* The text (the caller frees it), or NULL after a failure (the buffer is freed). An empty
 * buffer gives "". */
char *rlc_sbuf_done(rlc_sbuf_t *b);
