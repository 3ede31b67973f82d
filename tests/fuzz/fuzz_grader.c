/* Fuzz target: the math grader (extraction, normalization, parsing, equivalence, majority)
 * and the Countdown verifier on arbitrary bytes. The input is split at the first newline
 * into a gold answer and a prediction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "rewards/math/math.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0; /* C strings: anything after an embedded NUL is ignored */
    char *nl = strchr(buf, '\n');
    const char *gold = buf, *pred = "";
    if (nl) {
        *nl = 0;
        pred = nl + 1;
    }
    char ans[256], list[256], norm[1024], ex[64], tiny[8];
    math_src_t src;
    if (math_extract_read(pred, MATH_EXTRACT_GOLD, ans, sizeof ans, list, sizeof list, &src) <= 0) ans[0] = 0;
    (void)math_extract_read(pred, MATH_EXTRACT_MARKERS, tiny, sizeof tiny, NULL, 0, NULL); /* a tiny output */
    (void)math_normalize(gold, norm, sizeof norm);
    math_opts_t o;
    math_opts_default(&o);
    int a = math_equal(gold, pred, &o);
    int g = math_grade(gold, pred, MATH_EXTRACT_DEFAULT, &o, ex, sizeof ex);
    if (g != math_grade(gold, pred, MATH_EXTRACT_DEFAULT, &o, ex, sizeof ex)) abort();
    if (a != math_equal(gold, pred, &o)) abort(); /* grading must be deterministic */
    (void)math_equal(gold, ans, &o);
    (void)math_equal(pred, pred, &o);
    o.percent = 1;
    o.chains = 0;
    (void)math_equal(pred, gold, &o);
    o.percent_strict = 1;
    (void)math_grade(pred, gold, MATH_EXTRACT_GOLD, &o, NULL, 0);
    const char *votes[4] = {gold, pred, ans, gold};
    (void)math_majority(votes, 4, NULL, NULL);
    long nums[4] = {3, 7, 25, 50};
    char why[64];
    (void)data_countdown_check(pred, nums, 4, 54, why, sizeof why);
    free(buf);
    return 0;
}
