/* Error reporting: functions that can fail return int (0 ok, negative RLC_E* code) and
 * leave a one-line message in a thread-local buffer; callers add context with rlc_err_ctx
 * and the CLI prints the final message. Owns: the thread-local error buffer. */
#pragma once
#include <stddef.h>

enum {
    RLC_OK = 0,
    RLC_ERR = -1,     /* generic failure */
    RLC_EIO = -2,     /* file system / OS call failed */
    RLC_EFMT = -3,    /* malformed input file or data */
    RLC_EINVAL = -4,  /* invalid argument / configuration */
    RLC_ENOMEM = -5,  /* allocation failed */
    RLC_ERANGE = -6,  /* value out of range (token id, index, length) */
    RLC_EUNSUP = -7,  /* valid but unsupported (dtype, architecture) */
    RLC_EINTR = -8,   /* interrupted by a signal */
    RLC_ENONFINITE = -9, /* a loss or gradient became NaN or infinite (a diverging run) */
};

#if defined(__GNUC__)
#define RLC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RLC_PRINTF(a, b)
#endif

/* Set the message and return RLC_EINVAL-style generic code RLC_ERR. */
int rlc_err(const char *fmt, ...) RLC_PRINTF(1, 2);
/* Set the message and return `code`. */
int rlc_errc(int code, const char *fmt, ...) RLC_PRINTF(2, 3);
/* Prepend "context: " to the current message; returns `code` unchanged. */
int rlc_err_ctx(int code, const char *fmt, ...) RLC_PRINTF(2, 3);
/* Set the message from errno: "<what>: <strerror>", returns RLC_EIO. */
int rlc_err_errno(const char *fmt, ...) RLC_PRINTF(1, 2);
const char *rlc_errmsg(void);
void rlc_err_clear(void);

/* Allocation helpers that set the error message on failure. */
void *rlc_malloc(size_t n);
void *rlc_calloc(size_t n, size_t size);
void *rlc_realloc(void *p, size_t n);
char *rlc_strdup(const char *s);
