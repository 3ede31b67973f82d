/* HTTP POST of JSON with libcurl, as the http tool and the http reward use it: connect and
 * total timeouts, retries with exponential backoff on timeouts, connection failures and 5xx
 * answers, and a process-wide cap on requests in flight. */
#pragma once
#include <stddef.h>

typedef struct {
    double timeout_s;   /* whole request (10) */
    double connect_s;   /* connection (min(timeout, 5)) */
    int max_retries;    /* after the first try (2) */
    double backoff_s;   /* first retry delay, doubled each time (0.2) */
    size_t max_response; /* bytes kept (8 MiB); more is an error */
} rlc_http_opts_t;

void rlc_http_opts_default(rlc_http_opts_t *o);
/* Cap on concurrent requests in this process (default 16). */
void rlc_http_set_max_inflight(int n);

/* POST body (JSON) to url. Returns 0 with *resp (malloc'd, NUL-terminated) and *status (the
 * HTTP code, 2xx), or a negative error whose message says what failed after the retries
 * (timeout, connection refused, HTTP 500, ...). 4xx answers are not retried. */
int rlc_http_post_json(const char *url, const char *body, const rlc_http_opts_t *o, char **resp, size_t *resp_len,
                       long *status);
