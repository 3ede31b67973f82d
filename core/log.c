/* Leveled logging to stderr and the progress bar. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int g_level = RLC_LOG_INFO;
static char g_tag[32];

void rlc_log_set_level(int level) { g_level = level; }
int rlc_log_get_level(void) { return g_level; }
void rlc_log_set_tag(const char *tag) { snprintf(g_tag, sizeof g_tag, "%s", tag ? tag : ""); }

int rlc_log_parse_level(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error", "quiet"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, names[i])) return i;
    return -1;
}

void rlc_log(int level, const char *fmt, ...) {
    if (level < g_level) return;
    static const char *tag[] = {"debug", "info", "warning", "error"};
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (level == RLC_LOG_INFO)
        fprintf(stderr, "%s%s\n", g_tag, buf);
    else
        fprintf(stderr, "%srlc %s: %s\n", g_tag, tag[level < 4 ? level : 3], buf);
}

double rlc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_secs(char *out, size_t n, double s) {
    if (s < 0 || s > 1e7) {
        snprintf(out, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(out, n, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(rlc_progress_t *p, int final) {
    double el = rlc_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = (rate > 0 && p->total > 0) ? (double)(p->total - p->done) / rate : -1;
    char e1[32], e2[32];
    fmt_secs(e1, sizeof e1, el);
    fmt_secs(e2, sizeof e2, eta);
    if (p->tty) {
        char bar[31];
        int w = 30, fill = p->total > 0 ? (int)((double)w * (double)p->done / (double)p->total) : 0;
        if (fill > w) fill = w;
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %s<%s %.1f/s %s", p->label, bar, p->done, p->total,
                e1, e2, rate, p->extra);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s %ld/%ld %s %.1f/s %s\n", p->label, p->done, p->total, e1, rate, p->extra);
    }
    fflush(stderr);
    p->drawn = 1;
}

void rlc_progress_begin(rlc_progress_t *p, const char *label, long total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->t0 = p->last_draw = rlc_now();
    p->tty = isatty(STDERR_FILENO);
    p->enabled = g_level <= RLC_LOG_INFO;
}

void rlc_progress_update(rlc_progress_t *p, long done, const char *extra) {
    if (!p->enabled) return;
    p->done = done;
    if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
    double now = rlc_now();
    double gap = p->tty ? 0.1 : RLC_PROGRESS_PLAIN_SEC;
    if (now - p->last_draw >= gap) {
        p->last_draw = now;
        draw(p, 0);
    }
}

void rlc_progress_end(rlc_progress_t *p) {
    if (!p->enabled) return;
    /* Plain logs only get a final line if the work was long enough to report progress. */
    if (p->tty || p->drawn) draw(p, 1);
}
