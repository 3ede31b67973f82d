/* Logging with levels (to stderr) and a TTY-aware progress bar. The log level and the line
 * tag are the only process-wide mutable settings (set once at start-up, read everywhere). */
#pragma once
#include "core/err.h"

enum { RLC_LOG_DEBUG = 0, RLC_LOG_INFO = 1, RLC_LOG_WARN = 2, RLC_LOG_ERROR = 3, RLC_LOG_QUIET = 4 };

void rlc_log_set_level(int level);
int rlc_log_get_level(void);
/* A tag printed before every log line ("[rank 1] " for data-parallel ranks other than 0);
 * NULL or "" for none. Copied (at most 31 bytes). */
void rlc_log_set_tag(const char *tag);
/* Parse "debug|info|warn|error|quiet"; returns -1 if unknown. */
int rlc_log_parse_level(const char *s);
void rlc_log(int level, const char *fmt, ...) RLC_PRINTF(2, 3);

#define LOG_DEBUG(...) rlc_log(RLC_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) rlc_log(RLC_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) rlc_log(RLC_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) rlc_log(RLC_LOG_ERROR, __VA_ARGS__)

/* Wall-clock seconds from a monotonic clock. */
double rlc_now(void);

/* Progress bar on stderr. On a TTY it redraws one line in place (at most ~10 times a
 * second); otherwise it prints a plain line at most every `RLC_PROGRESS_PLAIN_SEC` seconds
 * and a final line, so CI logs stay short. Disabled when the log level is above INFO. */
#define RLC_PROGRESS_PLAIN_SEC 30.0
typedef struct {
    char label[48];
    long total, done;
    double t0, last_draw;
    int tty, enabled, drawn;
    char extra[96];
} rlc_progress_t;

void rlc_progress_begin(rlc_progress_t *p, const char *label, long total);
/* `extra` (may be NULL) is shown after the counts, e.g. "reward 0.41". */
void rlc_progress_update(rlc_progress_t *p, long done, const char *extra);
void rlc_progress_end(rlc_progress_t *p);
