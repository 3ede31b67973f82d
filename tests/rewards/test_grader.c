/* Math grader tests: the committed grading table (every row must agree), answer extraction,
 * normalization, options, majority voting, and bounded time on pathological inputs. */
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/philox.h"
#include "rewards/math/math.h"
#include "table.h"
#include "testutil.h"

static const char *answer_of(const char *pred, char *buf, size_t cap) {
    return math_extract_answer(pred, buf, cap, MATH_EXTRACT_DEFAULT) > 0 ? buf : pred;
}

/* How `rlc grade` grades a row: both columns read, the prediction whole as a last resort. */
static int grade_row(const char *gold, const char *pred, const math_opts_t *o) {
    char ex[MATH_MAX_ANSWER + 1];
    return math_grade(gold, pred, MATH_EXTRACT_DEFAULT | MATH_EXTRACT_WHOLE, o, ex, sizeof ex);
}

static void test_table(void **state) {
    (void)state;
    grade_case_t *c = NULL;
    int n = grade_cases_load(fixture("math/grading_table.tsv"), &c);
    assert_true(n >= 300);
    int yes = 0, no = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        int got = grade_row(c[i].gold, c[i].pred, NULL);
        if (got != c[i].expect) {
            wrong++;
            fprintf(stderr, "grading_table.tsv:%d: expected %s, got %s: gold [%s] pred [%s]\n", c[i].line,
                    c[i].expect ? "equal" : "different", got ? "equal" : "different", c[i].gold, c[i].pred);
        }
        /* grading is a pure function of its inputs */
        assert_int_equal(grade_row(c[i].gold, c[i].pred, NULL), got);
        c[i].expect ? yes++ : no++;
    }
    fprintf(stderr, "grading table: %d cases (%d equivalent, %d near-misses), %d disagreements\n", n, yes, no, wrong);
    assert_true(yes >= 100 && no >= 100);
    assert_int_equal(wrong, 0);
    grade_cases_free(c, n);
}

static void expect_extract(const char *text, int flags, int rc, const char *want) {
    char out[256];
    int got = math_extract_answer(text, out, sizeof out, flags);
    if (got != rc || (want && strcmp(out, want))) {
        fprintf(stderr, "extract(%s): rc %d out [%s], want rc %d [%s]\n", text, got, out, rc, want ? want : "");
        fail();
    }
}

static void test_extract(void **state) {
    (void)state;
    int D = MATH_EXTRACT_DEFAULT;
    expect_extract("so \\boxed{\\frac{1}{2}} done", D, 1, "\\frac{1}{2}");
    expect_extract("\\boxed{1} then \\boxed{2}", D, 1, "2");
    expect_extract("\\boxed{\\{1,2\\}}", D, 1, "\\{1,2\\}");           /* escaped braces */
    expect_extract("\\boxed{\\frac{a}{b}} and \\boxed{\\text{x", D, 1, "\\frac{a}{b}"); /* truncated last */
    expect_extract("\\fbox{7}", D, 1, "7");
    expect_extract("$\\boxed 5$", D, 1, "5");
    expect_extract("\\boxed{}", D, 0, "");
    expect_extract("\\boxed{}", D | MATH_EXTRACT_WHOLE, 1, "\\boxed{}");
    expect_extract("<answer>\\boxed{9}</answer>", D, 1, "9");
    expect_extract("<think>\\boxed{1}</think> <answer>42</answer>", D, 1, "42");
    expect_extract("3 + 4 = 7\n#### 7", D, 1, "7");
    expect_extract("The final answer is $\\frac{3}{4}$. I hope it is correct.", D, 1, "\\frac{3}{4}");
    expect_extract("So the answer is 12.5.", D, 1, "12.5");
    expect_extract("work\nAnswer: $x = 3$\n", D, 1, "x = 3");
    expect_extract("**Answer:** 17", D, 1, "17");
    expect_extract("it is 3, then 4, finally 1,234 apples", D, 1, "1234");
    expect_extract("it is 3, then 4, finally 1,234 apples", MATH_EXTRACT_MARKERS, 0, "");
    expect_extract("we get -2.5 as the value", MATH_EXTRACT_LAST_NUMBER, 1, "-2.5");
    expect_extract("ratio 3/4 wins", MATH_EXTRACT_LAST_NUMBER, 1, "3/4");
    expect_extract("no answer here", D, 0, "");
    expect_extract("no answer here", D | MATH_EXTRACT_WHOLE, 1, "no answer here");
    expect_extract("#### 5", MATH_EXTRACT_BOXED, 0, ""); /* rule disabled */
    /* which rule fired */
    char out[64];
    math_src_t src;
    assert_int_equal(math_extract_answer_ex("x\n#### 3", out, sizeof out, D, &src), 1);
    assert_int_equal(src, MATH_SRC_GSM8K);
    assert_int_equal(math_extract_answer_ex("\\boxed{3} Answer: 4", out, sizeof out, D, &src), 1);
    assert_int_equal(src, MATH_SRC_BOXED);
    /* too small an output buffer is an error, not a silent truncation */
    char small[4];
    assert_int_equal(math_extract_answer("\\boxed{12345}", small, sizeof small, D), RLC_ERANGE);
    assert_string_equal(small, "");
    assert_true(math_extract_answer(NULL, out, sizeof out, D) < 0);
    /* rule names */
    int f;
    assert_int_equal(math_extract_flags_from_str("boxed,gsm8k", &f), 0);
    assert_int_equal(f, MATH_EXTRACT_BOXED | MATH_EXTRACT_GSM8K);
    assert_int_equal(math_extract_flags_from_str("default", &f), 0);
    assert_int_equal(f, MATH_EXTRACT_DEFAULT);
    assert_true(math_extract_flags_from_str("boxd", &f) < 0);
    assert_non_null(strstr(rlc_errmsg(), "boxd"));
    assert_int_equal(math_extract_flags_for_format("answer_line") & MATH_EXTRACT_ANSWER_LINE, MATH_EXTRACT_ANSWER_LINE);
}

static void expect_norm(const char *in, const char *want) {
    char out[512];
    assert_int_equal(math_normalize(in, out, sizeof out), 0);
    if (strcmp(out, want)) {
        fprintf(stderr, "normalize(%s) = [%s], want [%s]\n", in, out, want);
        fail();
    }
}

static void test_normalize(void **state) {
    (void)state;
    expect_norm("\\dfrac{1}{2}", "\\frac{1}{2}");
    expect_norm("\\frac12", "\\frac{1}{2}");
    expect_norm("\\frac{\\sqrt2}2", "\\frac{\\sqrt{2}}{2}");
    expect_norm("\\sqrt2", "\\sqrt{2}");
    expect_norm("\\left( 1, 2 \\right)", "(1,2)");
    expect_norm("$x = 3$", "3");
    expect_norm("90^\\circ", "90");
    expect_norm("10\\%", "10");
    expect_norm("\\$1,000", "1000");
    expect_norm("5\\text{ cm}^2", "5");
    expect_norm("12 square units", "12");
    expect_norm("\\text{Monday}", "Monday");
    expect_norm("\\pi r", "\\pi r");
    expect_norm("x = 1 \\text{ or } x = 2", "x=1,x=2");
    expect_norm("\\boxed{7}.", "7");
    expect_norm("1011_2", "1011");
    expect_norm("\\operatorname{lcm}(2,3)", "\\lcm(2,3)");
    char small[3];
    assert_int_equal(math_normalize("123456", small, sizeof small), RLC_ERANGE);
}

static void test_options(void **state) {
    (void)state;
    math_opts_t o;
    math_opts_default(&o);
    assert_int_equal(math_equal("25", "0.25", &o), 0);
    o.percent = 1;
    assert_int_equal(math_equal("25\\%", "0.25", &o), 1);
    assert_int_equal(math_equal("0.25", "25", &o), 1);
    assert_int_equal(math_equal("0.25", "2.5", &o), 0);
    math_opts_default(&o);
    assert_int_equal(math_equal("\\sqrt{2}", "1.4142", &o), 0);
    o.rel_tol = 1e-4;
    assert_int_equal(math_equal("\\sqrt{2}", "1.4142", &o), 1);
    math_opts_default(&o);
    o.mc_letters = 0;
    assert_int_equal(math_equal("(B)", "B) 5", &o), 0);
    o.mc_letters = 1;
    assert_int_equal(math_equal("(B)", "B) 5", &o), 1);
    /* a different seed for the random points gives the same verdicts */
    math_opts_default(&o);
    o.seed = 12345;
    assert_int_equal(math_equal("(x+1)^2", "x^2+2x+1", &o), 1);
    assert_int_equal(math_equal("(x+1)^2", "x^2+2x", &o), 0);
    /* empty and NULL inputs never match */
    assert_int_equal(math_equal("", "", NULL), 0);
    assert_int_equal(math_equal("3", "", NULL), 0);
    assert_int_equal(math_equal(NULL, "3", NULL), 0);
    /* math_grade = extract + equal */
    char ex[64];
    assert_int_equal(math_grade("6", "so \\boxed{6}.", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 1);
    assert_string_equal(ex, "6");
    assert_int_equal(math_grade("6", "so 6.", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 0);
}

static void test_majority(void **state) {
    (void)state;
    const char *a[] = {"\\frac12", "3", "0.5", NULL, "", "1/2", "3"};
    int count;
    int w = math_majority(a, 7, NULL, &count);
    assert_int_equal(w, 0); /* 1/2 three times (first seen at 0) beats 3 twice */
    assert_int_equal(count, 3);
    const char *tie[] = {"2", "5", "5", "2"};
    assert_int_equal(math_majority(tie, 4, NULL, &count), 0); /* tie: the cluster seen first */
    assert_int_equal(count, 2);
    const char *none[] = {NULL, ""};
    assert_int_equal(math_majority(none, 2, NULL, &count), -1);
    assert_int_equal(count, 0);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char *repeat(const char *pre, const char *unit, int n, const char *mid, const char *unit2, int n2,
                    const char *post) {
    size_t len = strlen(pre) + strlen(unit) * (size_t)n + strlen(mid) + strlen(unit2) * (size_t)n2 + strlen(post) + 1;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "%s", pre);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s", unit);
    p += sprintf(p, "%s", mid);
    for (int i = 0; i < n2; i++) p += sprintf(p, "%s", unit2);
    sprintf(p, "%s", post);
    return s;
}

/* Every grading is bounded: hostile answers come back wrong (or unparseable) quickly. */
static void test_pathological(void **state) {
    (void)state;
    char *cases[12];
    int k = 0;
    cases[k++] = repeat("\\boxed{", "{", 10000, "1", "}", 10000, "}");
    cases[k++] = repeat("", "{", 10000, "1", "}", 10000, "");
    cases[k++] = repeat("", "(", 5000, "1", ")", 5000, "");
    cases[k++] = repeat("", "9^", 3000, "9", "", 0, "");
    cases[k++] = repeat("", "1+", 5000, "1", "", 0, "");
    cases[k++] = repeat("", "-", 5000, "1", "", 0, "");
    cases[k++] = repeat("", "\\sqrt{", 3000, "2", "}", 3000, "");
    cases[k++] = repeat("\\{", "x_1,", 60, "x_2", "", 0, "\\}");
    cases[k++] = repeat("", "\\frac{1}{", 2000, "2", "}", 2000, "");
    cases[k++] = repeat("", "x!", 1000, "", "", 0, "");
    cases[k++] = repeat("", "\\boxed{", 20000, "", "", 0, ""); /* 20000 unmatched \boxed{ */
    cases[k++] = repeat("(", "1,", 3000, "1", "", 0, ")");
    double worst = 0;
    for (int i = 0; i < k; i++) {
        double t0 = now_s();
        char buf[MATH_MAX_ANSWER + 1];
        const char *ans = answer_of(cases[i], buf, sizeof buf);
        int r1 = math_equal("1", ans, NULL);
        int r2 = math_equal(ans, "2", NULL);
        int r3 = math_equal(cases[i], cases[i], NULL); /* identical strings still compare */
        double dt = now_s() - t0;
        if (dt > worst) worst = dt;
        assert_int_equal(r2, 0);
        (void)r1;
        (void)r3;
    }
    assert_int_equal(math_equal("9^{9^{9^9}}", "9^{9^{9^{9}}}", NULL), 1); /* same tower, compared structurally */
    assert_int_equal(math_equal("9^{9^{9^9}}", "9^{9^{9^8}}", NULL), 0);
    assert_int_equal(math_equal("9^9^9^9", "1", NULL), 0); /* a double superscript is not LaTeX: unparseable */
    fprintf(stderr, "pathological inputs: slowest grading %.2f ms\n", worst * 1e3);
    assert_true(worst < 0.5); /* generous: typically well under 10 ms even under sanitizers */
    for (int i = 0; i < k; i++) free(cases[i]);
    /* random bytes: no crash, deterministic */
    rlc_rng_t r;
    rlc_rng_init(&r, 7, 0);
    char junk[300];
    for (int it = 0; it < 2000; it++) {
        int n = (int)rlc_rng_below(&r, sizeof junk - 1);
        for (int i = 0; i < n; i++) junk[i] = "0123456789+-*/^(){}[]\\,.=<>_ !fracsqrtpi{}x$%"[rlc_rng_below(&r, 46)];
        junk[n] = 0;
        int a = math_equal("\\frac{1}{2}", junk, NULL);
        assert_int_equal(a, math_equal("\\frac{1}{2}", junk, NULL));
    }
}

/* Integers and rationals compare exactly at any size (rational.c takes over where int64
 * overflows): neighbours of 2^63, powers of ten, long literals, fractions of them. */
static void test_exact_big(void **state) {
    (void)state;
    math_opts_t o;
    math_opts_default(&o);
    struct {
        const char *a, *b;
        int eq;
    } cases[] = {
        {"9223372036854775807", "9223372036854775806", 0},
        {"9223372036854775807", "9223372036854775807", 1},
        {"9007199254740993", "9007199254740992", 0},
        {"10^{20}", "100000000000000000001", 0},
        {"10^{20}", "100000000000000000000", 1},
        {"10^{20}", "1e20", 1},
        {"2^{100}", "1267650600228229401496703205376", 1},
        {"2^{100}", "1267650600228229401496703205377", 0},
        {"2^{-70}", "\\frac{1}{1180591620717411303424}", 1},
        {"\\frac{123456789012345678901234567890}{2}", "61728394506172839450617283945", 1},
        {"\\frac{123456789012345678901234567890}{2}", "61728394506172839450617283946", 0},
        {"-99999999999999999999", "-(10^{20} - 1)", 1},
        {"0.12345678901234567890123", "0.12345678901234567890124", 0},
        {"12345678901234567890123456789", "12345678901234567890123456789.0", 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int got = math_equal(cases[k].a, cases[k].b, &o);
        if (got != cases[k].eq) fail_msg("%s vs %s: %d, want %d", cases[k].a, cases[k].b, got, cases[k].eq);
        got = math_equal(cases[k].b, cases[k].a, &o);
        if (got != cases[k].eq) fail_msg("%s vs %s: %d, want %d", cases[k].b, cases[k].a, got, cases[k].eq);
    }
    o.percent = 1; /* off by a factor of 100, exactly */
    assert_int_equal(math_equal("12345678901234567890123", "1234567890123456789012300", &o), 1);
}

static void expect_read(const char *text, int flags, const char *want, const char *want_list, math_src_t want_src) {
    char out[256], list[256];
    math_src_t src;
    int rc = math_extract_read(text, flags, out, sizeof out, list, sizeof list, &src);
    if (rc != (want ? 1 : 0) || (want && strcmp(out, want)) || strcmp(list, want_list) || src != want_src) {
        fprintf(stderr, "read(%s): rc %d [%s] list [%s] src %d; want [%s] list [%s] src %d\n", text, rc, out, list,
                (int)src, want ? want : "(none)", want_list, (int)want_src);
        fail();
    }
}

/* The extraction order of docs/rewards.md, one rule at a time. */
static void test_extract_order(void **state) {
    (void)state;
    int D = MATH_EXTRACT_DEFAULT, G = MATH_EXTRACT_GOLD;
    /* fallbacks: bare text, then the rightmost of the last span and the last number */
    expect_read("x^2+1", D, "x^2+1", "", MATH_SRC_BARE);
    expect_read("18 dollars", D, "18 dollars", "", MATH_SRC_BARE);
    expect_read("Answer $ 9 $", D, "9", "", MATH_SRC_MATH_SPAN);
    expect_read("Answer \\[ \n 9 \n \\]", D, "9", "", MATH_SRC_MATH_SPAN);
    expect_read("so $x = 2$ and it costs 1,000.99\xe2\x82\xac", D, "1000.99", "", MATH_SRC_LAST_NUMBER);
    expect_read("Therefore $x \\geq 5$ is the solution.", D, "x \\geq 5", "", MATH_SRC_MATH_SPAN);
    expect_read("the roots are $1$ and $2$", D, "2", "1, 2", MATH_SRC_MATH_SPAN);
    expect_read("it rose by 12.5 percent overall", D, "12.5\\%", "", MATH_SRC_LAST_NUMBER);
    expect_read("we have 3,5 left and 0,25 of it", D, "0.25", "", MATH_SRC_LAST_NUMBER);
    expect_read("the value x2 is unknown", D, NULL, "", MATH_SRC_NONE);
    expect_read("the value x2 is unknown", G, "the value x2 is unknown", "", MATH_SRC_WHOLE);
    expect_read("so \\frac{12}{5} is it", D, "\\frac{12}{5}", "", MATH_SRC_LAST_NUMBER);
    /* a disabled fallback stays off */
    expect_read("Answer $ 9 $", MATH_EXTRACT_LAST_NUMBER, "9", "", MATH_SRC_LAST_NUMBER);
    expect_read("Answer $ x $", MATH_EXTRACT_LAST_NUMBER, NULL, "", MATH_SRC_NONE);
    /* markers: a later "final answer" beats an earlier box, a later box beats it in turn */
    expect_read("\\boxed{255} ... Final Answer: The final answer is $10,455$. I hope it is correct.", D, "10,455", "",
                MATH_SRC_FINAL_ANSWER);
    expect_read("The final answer is $3$. Checking again: \\boxed{4}", D, "4", "", MATH_SRC_BOXED);
    expect_read("Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", D, "120", "",
                MATH_SRC_FINAL_ANSWER);
    expect_read("**Final Answer**\n42", D, "42", "", MATH_SRC_FINAL_ANSWER);
    expect_read("To reach the final answer we add: 3 + 4. The answer is 7.", D, "7", "", MATH_SRC_FINAL_ANSWER);
    expect_read("a box beats a later answer line: \\boxed{5}\nAnswer: 6", D, "5", "", MATH_SRC_BOXED);
    /* groups of boxes */
    expect_read("\\boxed{1}, \\boxed{2} and \\boxed{3}", D, "3", "1, 2, 3", MATH_SRC_BOXED);
    expect_read("\\boxed{1}. Then \\boxed{2}", D, "2", "", MATH_SRC_BOXED);
    expect_read("<answer>The answer is $\\frac{1}{2}$</answer>", D, "\\frac{1}{2}", "", MATH_SRC_ANSWER_TAG);
    /* a list too long for its buffer is an error, not a truncation */
    char out[64], small[4];
    assert_int_equal(math_extract_read("\\boxed{1}, \\boxed{22}", D, out, sizeof out, small, sizeof small, NULL),
                     RLC_ERANGE);
}

/* Options that choose between conventions (docs/rewards.md "Equivalence"). */
static void test_conventions(void **state) {
    (void)state;
    math_opts_t o;
    math_opts_default(&o);
    assert_int_equal(math_equal("28\\%", "0.28", &o), 1);
    assert_int_equal(math_equal("28\\%", "\\frac{7}{25}", &o), 1);
    assert_int_equal(math_equal("0.28", "28", &o), 0);
    o.percent_strict = 1; /* the sign is notation only */
    assert_int_equal(math_equal("28\\%", "0.28", &o), 0);
    assert_int_equal(math_equal("28\\%", "28", &o), 1);
    math_opts_default(&o);
    assert_int_equal(math_equal("11", "x = 5+5+1 = 7 = 11", &o), 1);
    assert_int_equal(math_equal("4", "2+2=4", &o), 1);
    o.chains = 0; /* compared as written */
    assert_int_equal(math_equal("11", "x = 5+5+1 = 7 = 11", &o), 0);
    assert_int_equal(math_equal("4", "2+2=4", &o), 0);
    assert_int_equal(math_equal("x = 5+5+1 = 7 = 11", "x = 5+5+1 = 7 = 11", &o), 1);
    assert_int_equal(math_equal("x = 3", "3", &o), 1); /* a label is not a chain */
    /* math_grade reads the gold too, and tries a group of boxes as a list */
    char ex[128];
    assert_int_equal(math_grade("Thus $\\boxed{(1,2)}$.", "so \\boxed{(1, 2)}", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 1);
    assert_int_equal(math_grade("\\{1,2\\}", "\\boxed{2} and \\boxed{1}", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 1);
    assert_string_equal(ex, "2, 1");
    assert_int_equal(math_grade("1", "\\boxed{2} and \\boxed{1}", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 1);
    assert_string_equal(ex, "1");
    assert_int_equal(math_grade("3", "no number here", MATH_EXTRACT_DEFAULT, NULL, ex, sizeof ex), 0);
    assert_string_equal(ex, "");
}

int main(void) {
    rlc_log_set_level(RLC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),   cmocka_unit_test(test_extract),     cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_options), cmocka_unit_test(test_majority),    cmocka_unit_test(test_pathological),
        cmocka_unit_test(test_exact_big), cmocka_unit_test(test_extract_order), cmocka_unit_test(test_conventions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
