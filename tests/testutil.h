/* Shared helpers for cmocka tests: fixture paths, temp dirs, running the rlc binary,
 * array comparisons. Header-only so each test stays one executable. */
#pragma once
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
// clang-format off
#include <cmocka.h>
// clang-format on

/* $RLC_FIXTURES/<rel>, in one of 8 rotating static buffers (so a few calls can appear in
 * one expression). */
static inline const char *fixture(const char *rel) {
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ & 7];
    const char *root = getenv("RLC_FIXTURES");
    snprintf(b, 4096, "%s/%s", root ? root : "tests/fixtures", rel);
    return b;
}

/* A fresh temporary directory (mkdtemp), malloc'd path. */
static inline char *test_tmpdir(void) {
    char tmpl[] = "/tmp/rlc_test_XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

/* A JSONL file of n addition problems with answers and worked solutions (the training
 * tests' data); the same file for the same n. */
static inline void test_write_sum_problems(const char *path, int n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        int a = 10 + (i * 7) % 80, b = 3 + (i * 13) % 50;
        fprintf(f,
                "{\"problem\": \"Compute %d + %d.\", \"answer\": \"%d\", \"solution\": \"%d + %d = %d\\nThe answer "
                "is \\\\boxed{%d}.\"}\n",
                a, b, a + b, a, b, a + b, a + b);
    }
    fclose(f);
}

/* Run a shell command with `redirect` appended, capture its stdout into out (may be NULL);
 * return its exit status (128 + signal when killed). */
static inline int test_vrun(char *out, size_t cap, const char *redirect, const char *fmt, va_list ap) {
    char cmd[8192];
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    char full[8400];
    snprintf(full, sizeof full, "%s %s", cmd, redirect);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = 0;
    int c;
    while ((c = fgetc(p)) != EOF)
        if (out && n + 1 < cap) out[n++] = (char)c;
    if (out) out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Run a shell command, capture stdout+stderr into out (may be NULL); return exit status. */
static inline int test_run(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = test_vrun(out, cap, "2>&1", fmt, ap);
    va_end(ap);
    return rc;
}

/* The same with stdout alone captured (stderr discarded): for commands that print JSON. */
static inline int test_run_stdout(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = test_vrun(out, cap, "2>/dev/null", fmt, ap);
    va_end(ap);
    return rc;
}

static inline const char *rlc_bin(void) {
    const char *b = getenv("RLC_BIN");
    return b ? b : "./cli/rlc";
}

/* Run a command (printf-style) that must fail: a non-zero exit and exactly one stderr line
 * starting "rlc: error:" that contains needle (stdout is discarded). */
static inline void test_expect_cli_error(const char *needle, const char *fmt, ...) {
    static char err[1 << 16];
    va_list ap;
    va_start(ap, fmt);
    int st = test_vrun(err, sizeof err, "2>&1 >/dev/null", fmt, ap);
    va_end(ap);
    if (st == 0 || st >= 128) fail_msg("expected a failing exit (got %d): %s", st, err);
    const char *e = strstr(err, "rlc: error:");
    if (!e || !strstr(e, needle)) fail_msg("stderr '%s' lacks '%s'", err, needle);
    const char *nl = strchr(e, '\n');
    if (!(nl == NULL || nl[1] == 0)) fail_msg("more than one error line: %s", err);
}

/* max |a-b| */
static inline double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* ||a-b|| / max(||b||, tiny) */
static inline double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (num != num) return INFINITY;
    return sqrt(num) / (den > 1e-30 ? sqrt(den) : 1e-15);
}
