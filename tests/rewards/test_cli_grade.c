/* `rlc grade` end to end: a pair prints 1/0, a JSONL file is written back with "correct" and
 * "extracted", malformed lines are reported with their line number (skipped or fatal). */
#include "core/json.h"
#include "testutil.h"

static void test_pair(void **state) {
    (void)state;
    char out[4096];
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold '\\frac{1}{2}' --pred '0.5'", rlc_bin()), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold '\\frac{1}{2}' --pred 'so \\boxed{1/3}.'", rlc_bin()), 0);
    assert_string_equal(out, "0\n");
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 18 --pred 'She pays 18 dollars. #### 18'", rlc_bin()), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold=-2 --pred='x = -2'", rlc_bin()), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 25 --pred 0.25 --percent", rlc_bin()), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold '25\\%%' --pred 0.25 --percent-strict", rlc_bin()), 0);
    assert_string_equal(out, "0\n");
    /* a gold that is a worked solution is read too; --explain says how each side was read */
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 'so $x = \\boxed{7}$.' --pred 'Answer: $7$' --explain",
                              rlc_bin()),
                     0);
    assert_non_null(strstr(out, "1\n"));
    assert_non_null(strstr(out, "gold read as: 7 (boxed)"));
    assert_non_null(strstr(out, "prediction read as: 7 (answer_line)"));
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 11 --pred 'x = 5+5+1 = 7 = 11' --no-chains", rlc_bin()), 0);
    assert_string_equal(out, "0\n");
    /* errors: one line, non-zero exit */
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 1", rlc_bin()), 1);
    assert_non_null(strstr(out, "rlc: error:"));
    assert_int_equal(test_run(out, sizeof out, "%s grade --gold 1 --pred 1 --extract boxd", rlc_bin()), 1);
    assert_non_null(strstr(out, "boxd"));
    assert_int_equal(test_run(out, sizeof out, "%s grade --help", rlc_bin()), 0);
    assert_non_null(strstr(out, "--jsonl"));
}

static void test_jsonl(void **state) {
    (void)state;
    char *dir = test_tmpdir();
    char in[512], outp[512], out[8192];
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(outp, sizeof outp, "%s/out.jsonl", dir);
    FILE *f = fopen(in, "w");
    fputs("{\"gold\": \"\\\\frac{1}{2}\", \"pred\": \"The answer is \\\\boxed{0.5}.\", \"id\": 1}\n", f);
    fputs("{\"gold\": \"3\", \"pred\": \"4\"}\n", f);
    fputs("{\"gold\": \"3\", \"pred\": \n", f);   /* line 3: broken JSON */
    fputs("\n", f);                                /* blank lines are fine */
    fputs("{\"gold\": 204, \"pred\": \"204\"}\n", f); /* numbers are text too */
    fputs("{\"gold\": \"1\"}\n", f);               /* line 6: no pred */
    fclose(f);
    int rc = test_run(out, sizeof out, "%s grade --jsonl %s --out %s", rlc_bin(), in, outp);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, ":3:"));
    assert_non_null(strstr(out, ":6:"));
    assert_non_null(strstr(out, "2 malformed"));
    cJSON **rows = NULL;
    int n = 0;
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, outp), 0);
    cJSON *o;
    while (rlc_jsonl_next(&r, &o) == 1) {
        rows = realloc(rows, sizeof *rows * (size_t)(n + 1));
        rows[n++] = o;
    }
    rlc_jsonl_close(&r);
    assert_int_equal(n, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rows[0], "correct")));
    assert_string_equal(cJSON_GetObjectItem(rows[0], "extracted")->valuestring, "0.5");
    assert_int_equal(cJSON_GetObjectItem(rows[0], "id")->valueint, 1); /* other fields kept */
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(rows[1], "correct")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rows[2], "correct")));
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(rows);
    /* --strict: the first malformed line is fatal and the output file is not written */
    char strict_out[512];
    snprintf(strict_out, sizeof strict_out, "%s/strict.jsonl", dir);
    rc = test_run(out, sizeof out, "%s grade --jsonl %s --out %s --strict", rlc_bin(), in, strict_out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, ":3:"));
    assert_false(access(strict_out, F_OK) == 0);
    /* stdout mode */
    rc = test_run(out, sizeof out, "%s --log-level error grade --jsonl %s", rlc_bin(), in);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"correct\":true"));
    rc = test_run(out, sizeof out, "%s grade --jsonl %s/missing.jsonl", rlc_bin(), dir);
    assert_int_equal(rc, 1);
    test_run(NULL, 0, "rm -rf %s", dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pair), cmocka_unit_test(test_jsonl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
