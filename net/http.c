/* HTTP POST of JSON over libcurl (net/http.h). One easy handle per request (the calls come
 * from worker threads); curl_global_init runs once, before any thread uses libcurl. */
#include "net/http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/err.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_inflight, g_max_inflight = 16;

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void rlc_http_opts_default(rlc_http_opts_t *o) {
    o->timeout_s = 10;
    o->connect_s = 5;
    o->max_retries = 2;
    o->backoff_s = 0.2;
    o->max_response = (size_t)8 << 20;
}

void rlc_http_set_max_inflight(int n) {
    pthread_mutex_lock(&g_mu);
    g_max_inflight = n < 1 ? 1 : n;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

typedef struct {
    char *p;
    size_t n, cap, max;
    int over;
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user) {
    sink_t *s = user;
    size_t k = size * nmemb;
    if (s->n + k > s->max) {
        s->over = 1;
        return 0; /* aborts the transfer */
    }
    if (s->n + k + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->n + k + 1) nc *= 2;
        char *q = realloc(s->p, nc);
        if (!q) return 0;
        s->p = q;
        s->cap = nc;
    }
    memcpy(s->p + s->n, ptr, k);
    s->n += k;
    s->p[s->n] = 0;
    return k;
}

static void sleep_s(double s) {
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* One attempt: 0 done (2xx), 1 worth retrying (timeout, connection, 5xx), -1 final error. */
static int attempt(const char *url, const char *body, const rlc_http_opts_t *o, sink_t *s, long *status, char *why,
                   size_t why_cap) {
    CURL *h = curl_easy_init();
    if (!h) return snprintf(why, why_cap, "curl_easy_init failed"), -1;
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)((o->connect_s < o->timeout_s ? o->connect_s : o->timeout_s) * 1000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    s->n = 0;
    s->over = 0;
    CURLcode c = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (s->over) return snprintf(why, why_cap, "the answer is over %zu bytes", s->max), -1;
    if (c != CURLE_OK) {
        snprintf(why, why_cap, "%s", err[0] ? err : curl_easy_strerror(c));
        return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_COULDNT_CONNECT || c == CURLE_GOT_NOTHING ||
                       c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_PARTIAL_FILE
                   ? 1
                   : -1;
    }
    if (*status >= 200 && *status < 300) return 0;
    snprintf(why, why_cap, "HTTP %ld", *status);
    return *status >= 500 ? 1 : -1;
}

int rlc_http_post_json(const char *url, const char *body, const rlc_http_opts_t *o, char **resp, size_t *resp_len,
                       long *status) {
    *resp = NULL;
    if (resp_len) *resp_len = 0;
    pthread_once(&g_once, global_init);
    pthread_mutex_lock(&g_mu);
    while (g_inflight >= g_max_inflight) pthread_cond_wait(&g_cv, &g_mu);
    g_inflight++;
    pthread_mutex_unlock(&g_mu);
    sink_t s = {.max = o->max_response};
    char why[CURL_ERROR_SIZE + 64] = "";
    int r = -1, tries = 0;
    double wait = o->backoff_s;
    for (; tries <= o->max_retries; tries++) {
        if (tries) sleep_s(wait), wait *= 2;
        if ((r = attempt(url, body, o, &s, status, why, sizeof why)) <= 0) break;
    }
    pthread_mutex_lock(&g_mu);
    g_inflight--;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    if (r != 0) {
        free(s.p);
        return rlc_errc(RLC_EIO, "POST %s: %s (after %d attempt%s)", url, why, tries > o->max_retries ? tries : tries + 1,
                        (tries > o->max_retries ? tries : tries + 1) == 1 ? "" : "s");
    }
    if (!s.p && !(s.p = calloc(1, 1))) return RLC_ENOMEM;
    *resp = s.p;
    if (resp_len) *resp_len = s.n;
    return 0;
}
