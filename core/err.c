/* Thread-local error message buffer and allocation helpers that report failures. */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBUF 1024
static _Thread_local char g_err[ERRBUF];

static void vset(const char *fmt, va_list ap) {
    vsnprintf(g_err, ERRBUF, fmt, ap);
    /* one line: the CLI prints exactly one line per error */
    for (char *p = g_err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

/* Append to g_err at *pos; long messages are cut at ERRBUF, fine for a one-line error. */
static void put(size_t *pos, const char *s) {
    while (*s && *pos < ERRBUF - 1) g_err[(*pos)++] = *s++;
    g_err[*pos] = 0;
}

int rlc_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(fmt, ap);
    va_end(ap);
    return RLC_ERR;
}

int rlc_errc(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(fmt, ap);
    va_end(ap);
    return code;
}

int rlc_err_ctx(int code, const char *fmt, ...) {
    char prev[ERRBUF], ctx[ERRBUF];
    snprintf(prev, sizeof prev, "%s", g_err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    size_t pos = 0;
    put(&pos, ctx);
    if (prev[0]) {
        put(&pos, ": ");
        put(&pos, prev);
    }
    return code;
}

int rlc_err_errno(const char *fmt, ...) {
    int e = errno;
    char what[ERRBUF / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t pos = 0;
    put(&pos, what);
    put(&pos, ": ");
    put(&pos, strerror(e));
    return RLC_EIO;
}

const char *rlc_errmsg(void) { return g_err[0] ? g_err : "unknown error"; }
void rlc_err_clear(void) { g_err[0] = 0; }

void *rlc_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) rlc_errc(RLC_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *rlc_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) rlc_errc(RLC_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *rlc_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) rlc_errc(RLC_ENOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

char *rlc_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = rlc_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
