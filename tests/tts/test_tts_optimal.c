/* The compute-optimal analysis (tts/optimal.c) on a hand-made table: quantile bins by
 * difficulty (easiest first, ties by index), per-bin accuracies, the winner of each bin
 * (ties: the method listed first), the compute-optimal accuracy and tokens, methods not run
 * at a budget left out, the reports' content, and bad bin counts refused. */
#include "testutil.h"

#include "tts/optimal.h"

/* 4 problems, methods A B C, budgets N = 1, 4. */
static const char *METHODS[3] = {"A", "B", "C"};
static const int NS[2] = {1, 4};
static const double DIFF[4] = {0.9, 0.1, 0.5, 0.7};
/* [(m * 2 + k) * 4 + p] */
static const signed char CORRECT[24] = {
    1, 0, 0, 1,     -1, -1, -1, -1, /* A: N=1, N=4 (not run) */
    1, 1, 0, 0,     1, 1, 1, 0,     /* B */
    1, 0, 0, 1,     -1, -1, -1, -1, /* C = A at N=1 */
};
static const long TOKENS[24] = {10, 10, 10, 10, 0, 0, 0, 0, 20, 20, 20, 20, 80, 80, 80, 80, 5, 5, 5, 5, 0, 0, 0, 0};

static tts_co_in_t input(int bins) {
    return (tts_co_in_t){3, 2, 4, bins, METHODS, NS, CORRECT, TOKENS, DIFF, "pass rate"};
}

static void test_two_bins(void **s) {
    (void)s;
    tts_co_in_t in = input(2);
    tts_co_out_t o;
    assert_int_equal(tts_compute_optimal(&in, &o), 0);
    /* bins: {p0 0.9, p3 0.7} and {p2 0.5, p1 0.1} */
    assert_int_equal(o.bin_of[0], 0), assert_int_equal(o.bin_of[3], 0);
    assert_int_equal(o.bin_of[2], 1), assert_int_equal(o.bin_of[1], 1);
    assert_float_equal(o.bin_lo[0], 0.7, 1e-12), assert_float_equal(o.bin_hi[1], 0.5, 1e-12);
    /* N = 1: A 1.0 / 0.0, B 0.5 / 0.5, C = A (A wins its tie) */
    assert_float_equal(o.acc[(0 * 2 + 0) * 2 + 0], 1.0, 1e-12);
    assert_float_equal(o.acc[(1 * 2 + 0) * 2 + 1], 0.5, 1e-12);
    assert_int_equal(o.winner[0 * 2 + 0], 0);
    assert_int_equal(o.winner[0 * 2 + 1], 1);
    assert_float_equal(o.opt_acc[0], 0.75, 1e-12);
    assert_float_equal(o.opt_tok[0], 20 + 40, 1e-9);
    assert_float_equal(o.all_acc[0 * 2 + 0], 0.5, 1e-12);
    assert_float_equal(o.all_acc[1 * 2 + 0], 0.5, 1e-12);
    /* N = 4: only B ran */
    assert_true(isnan(o.all_acc[0 * 2 + 1]));
    assert_int_equal(o.winner[1 * 2 + 0], 1), assert_int_equal(o.winner[1 * 2 + 1], 1);
    assert_float_equal(o.opt_acc[1], 0.75, 1e-12);
    assert_float_equal(o.opt_tok[1], 320, 1e-9);
    char *md = tts_co_markdown(&in, &o), *svg = tts_co_svg(&in, &o);
    assert_non_null(md), assert_non_null(svg);
    assert_non_null(strstr(md, "| 1 | 0.5000 | 0.5000 | 0.5000 | 0.7500 | 60 |"));
    assert_non_null(strstr(md, "| 1 | A 1.00 | B 0.50 |"));
    assert_non_null(strstr(md, "| 4 | – | 0.7500 | – | 0.7500 | 320 |"));
    assert_non_null(strstr(svg, "compute-optimal"));
    cJSON *j = tts_co_json(&in, &o);
    const cJSON *b1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "budgets"), 0);
    const cJSON *ch = cJSON_GetObjectItem(cJSON_GetObjectItem(b1, "compute_optimal"), "choice");
    assert_string_equal(cJSON_GetArrayItem(ch, 0)->valuestring, "A");
    assert_string_equal(cJSON_GetArrayItem(ch, 1)->valuestring, "B");
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "budgets"), 1), "methods"), "A"));
    cJSON_Delete(j);
    free(md), free(svg);
    tts_co_out_free(&o);
}

static void test_uneven_bins(void **s) {
    (void)s;
    tts_co_in_t in = input(3); /* ranks 0..3 -> bins 0 0 1 2 */
    tts_co_out_t o;
    assert_int_equal(tts_compute_optimal(&in, &o), 0);
    assert_int_equal(o.bin_size[0], 2), assert_int_equal(o.bin_size[1], 1), assert_int_equal(o.bin_size[2], 1);
    assert_int_equal(o.bin_of[2], 1), assert_int_equal(o.bin_of[1], 2);
    /* N = 1, bin 2 = {p1}: only B right there */
    assert_int_equal(o.winner[0 * 3 + 2], 1);
    tts_co_out_free(&o);
    in = input(5);
    assert_int_not_equal(tts_compute_optimal(&in, &o), 0);
    in = input(0);
    assert_int_not_equal(tts_compute_optimal(&in, &o), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_two_bins), cmocka_unit_test(test_uneven_bins)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
