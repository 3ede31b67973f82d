/* Tools end to end: `rlc tool` (each tool, a whole call in each format, bad usage), and a
 * training run with tools and OTC on the tiny fixture model (its metrics carry the tool
 * fields; bad tool keys fail before any compute). */
#include "testutil.h"

#include "core/fs.h"

static void test_cli_tool(void **state) {
    (void)state;
    char out[8192];
    assert_int_equal(test_run(out, sizeof out, "%s tool calculator --expr '3^40 - 1'", rlc_bin()), 0);
    assert_string_equal(out, "12157665459056928800\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --code 'print(sum(range(101)))'", rlc_bin()), 0);
    assert_string_equal(out, "5050\n");
    /* a tool's own failure: exit 2, its text printed */
    assert_int_equal(test_run(out, sizeof out, "%s tool python --timeout 1 --code 'while True: pass'", rlc_bin()), 2);
    assert_non_null(strstr(out, "timed out"));
    assert_int_equal(test_run(out, sizeof out, "%s tool calculator --expr '1/0'", rlc_bin()), 2);
    assert_non_null(strstr(out, "division by zero"));
    /* whole calls, as a rollout answers them */
    assert_int_equal(test_run(out, sizeof out,
                              "%s tool --format hermes --call '<tool_call>{\"name\": \"calculator\", \"arguments\": "
                              "{\"expression\": \"6*7\"}}</tool_call>'",
                              rlc_bin()),
                     0);
    assert_non_null(strstr(out, "<tool_response>\n42\n</tool_response>"));
    assert_int_equal(test_run(out, sizeof out, "%s tool --format code --call 'x\n```python\nprint(9)\n```'", rlc_bin()), 0);
    assert_non_null(strstr(out, "```output\n9\n```"));
    assert_int_equal(test_run(out, sizeof out, "%s tool --format hermes --call '<tool_call>{oops</tool_call>'", rlc_bin()), 2);
    assert_non_null(strstr(out, "not a JSON object"));
    /* usage errors: one line, exit 1 */
    assert_int_equal(test_run(out, sizeof out, "%s tool shell --input ls", rlc_bin()), 1);
    assert_non_null(strstr(out, "unknown tool 'shell'"));
    assert_int_equal(test_run(out, sizeof out, "%s tool python", rlc_bin()), 1);
    assert_int_equal(test_run(out, sizeof out, "%s tool --help", rlc_bin()), 0);
    assert_non_null(strstr(out, "--call"));
}

static void test_train_with_tools(void **state) {
    (void)state;
    char *dir = test_tmpdir(), *data = fs_join(dir, "data.jsonl"), *run = fs_join(dir, "run");
    test_write_sum_problems(data, 12);
    char out[16384];
    const char *common = "--template raw --group-size 4 --prompts-per-step 2 --micro-batch 4 --max-new-tokens 10 "
                         "--threads 2 --seed 3 --kl-coef 0 --total-steps 2 --save-every 1";
    int rc = test_run(out, sizeof out,
                      "%s train --model %s --data %s --run-dir %s %s --tools calculator,python --tool-format hermes "
                      "--otc grpo",
                      rlc_bin(), fixture("models/qwen2-tiny"), data, run, common);
    if (rc) fail_msg("rlc train with tools: %s", out);
    char *metrics = fs_join(run, "metrics.jsonl"), *text = NULL;
    size_t n;
    assert_int_equal(fs_read_all(metrics, &text, &n), 0);
    assert_non_null(strstr(text, "\"tool_calls_mean\""));
    assert_non_null(strstr(text, "\"tool_errors\""));
    free(text);
    free(metrics);
    /* tool_prompt: the tools' description before every problem */
    char *run3 = fs_join(dir, "run3");
    rc = test_run(out, sizeof out,
                  "%s train --model %s --data %s --run-dir %s %s --tools python --tool-format code --tool-prompt "
                  "--total-steps 1",
                  rlc_bin(), fixture("models/qwen2-tiny"), data, run3, common);
    if (rc) fail_msg("rlc train --tool-prompt: %s", out);
    char *samples = fs_join(run3, "samples.jsonl");
    assert_int_equal(fs_read_all(samples, &text, &n), 0);
    assert_non_null(strstr(text, "\"prompt\":\"You may run Python: write a ```python block"));
    free(text), free(samples), free(run3);
    /* bad tool keys: refused before any compute */
    char *run2 = fs_join(dir, "run2");
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --otc grpo", rlc_bin(),
                  fixture("models/qwen2-tiny"), data, run2, common);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "no tools are enabled"));
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --tools calculator --tool-format xml",
                  rlc_bin(), fixture("models/qwen2-tiny"), data, run2, common);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "unknown tool format 'xml'"));
    fs_rm_rf(dir);
    free(run2), free(run), free(data), free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cli_tool), cmocka_unit_test(test_train_with_tools)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
