/* Grader throughput, single-threaded: gradings per second (read both sides + compare) on typical
 * GSM8K/MATH-style solutions and on the grading table, against math-verify (PyPI) on the
 * same table when python3 with math_verify is available. Prints JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/philox.h"
#include "rewards/math/math.h"
#include "table.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    char gold[64], sol[256];
} pair_t;

/* Typical outcome-reward inputs: a short solution ending in a boxed answer that is an
 * integer, a fraction, a decimal or a radical, right about two thirds of the time. */
static void make_typical(pair_t *p, int n) {
    rlc_rng_t r;
    rlc_rng_init(&r, 1, 0);
    for (int i = 0; i < n; i++) {
        int a = 1 + (int)rlc_rng_below(&r, 999), b = 2 + (int)rlc_rng_below(&r, 30);
        int right = rlc_rng_below(&r, 3) != 0;
        int kind = (int)rlc_rng_below(&r, 4);
        const char *lead = "We add the parts and simplify, so the answer is";
        switch (kind) {
        case 0:
            snprintf(p[i].gold, sizeof p[i].gold, "%d", a);
            snprintf(p[i].sol, sizeof p[i].sol, "%s $\\boxed{%d}$.", lead, right ? a : a + 1);
            break;
        case 1:
            snprintf(p[i].gold, sizeof p[i].gold, "\\frac{%d}{%d}", a, b);
            snprintf(p[i].sol, sizeof p[i].sol, "%s $\\boxed{\\dfrac{%d}{%d}}$.", lead, right ? 2 * a : a, 2 * b);
            break;
        case 2:
            snprintf(p[i].gold, sizeof p[i].gold, "%d.5", a);
            snprintf(p[i].sol, sizeof p[i].sol, "%s $\\boxed{\\frac{%d}{2}}$.", lead, right ? 2 * a + 1 : 2 * a + 3);
            break;
        default:
            snprintf(p[i].gold, sizeof p[i].gold, "%d\\sqrt{%d}", a % 9 + 2, b);
            snprintf(p[i].sol, sizeof p[i].sol, "%s $\\boxed{\\sqrt{%d}}$.", lead,
                     (a % 9 + 2) * (a % 9 + 2) * (right ? b : b + 1));
            break;
        }
    }
}

static double run_typical(const pair_t *p, int n, double secs, int *correct) {
    long k = 0;
    int ok = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < n; i++, k++) {
            int c = math_grade(p[i].gold, p[i].sol, MATH_EXTRACT_DEFAULT, NULL, NULL, 0);
            if (k < n) ok += c;
        }
        t = now_s() - t0;
    } while (t < secs);
    *correct = ok;
    return (double)k / t;
}

static double run_table(const grade_case_t *c, int n, double secs) {
    long k = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < n; i++, k++)
            (void)math_grade(c[i].gold, c[i].pred, MATH_EXTRACT_DEFAULT | MATH_EXTRACT_WHOLE, NULL, NULL, 0);
        t = now_s() - t0;
    } while (t < secs);
    return (double)k / t;
}

/* math-verify's rate from scripts/compare_math_verify.py --bench, or -1 when unavailable. */
static double run_peer(const char *src, double secs) {
    const char *py = getenv("RLC_PEER_PYTHON");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/scripts/compare_math_verify.py --bench %g 2>/dev/null", py ? py : "python3", src,
             secs);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char line[512] = "";
    double rate = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"gradings_per_s\":");
        if (p) rate = atof(p + 17);
    }
    pclose(f);
    return rate;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    const char *src = getenv("RLC_SRC") ? getenv("RLC_SRC") : RLC_SRC_DIR;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/math/grading_table.tsv", src);
    grade_case_t *cases;
    int n = grade_cases_load(path, &cases);
    if (n <= 0) {
        fprintf(stderr, "bench_grader: cannot read %s\n", path);
        return 1;
    }
    enum { NT = 4096 };
    pair_t *typ = malloc(sizeof *typ * NT);
    make_typical(typ, NT);
    int correct;
    double typical = run_typical(typ, NT, secs, &correct);
    printf("{\"bench\":\"grader_typical\",\"ours\":%.0f,\"peer\":null,\"unit\":\"gradings/s\",\"items\":%d,"
           "\"correct\":%d,\"threads\":1}\n",
           typical, NT, correct);
    fflush(stdout);
    /* ours, peer, ours again: the machine is shared, so interleave and average ours */
    double t1 = run_table(cases, n, secs / 2);
    double peer = getenv("RLC_NO_PEER") ? -1 : run_peer(src, secs);
    double t2 = run_table(cases, n, secs / 2);
    if (peer > 0)
        printf("{\"bench\":\"grader_table\",\"ours\":%.0f,\"peer\":%.1f,\"unit\":\"gradings/s\",\"cases\":%d,"
               "\"peer_name\":\"math-verify (python)\",\"threads\":1}\n",
               (t1 + t2) / 2, peer, n);
    else
        printf("{\"bench\":\"grader_table\",\"ours\":%.0f,\"peer\":null,\"unit\":\"gradings/s\",\"cases\":%d,"
               "\"note\":\"math-verify not importable (set RLC_PEER_PYTHON)\",\"threads\":1}\n",
               (t1 + t2) / 2, n);
    grade_cases_free(cases, n);
    free(typ);
    return 0;
}
