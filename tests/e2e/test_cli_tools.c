/* Tools end to end: `rlc tool` (each tool, a whole call in each format, bad usage), and a
 * training run with tools and OTC on the tiny fixture model (its metrics carry the tool
 * fields; bad tool keys fail before any compute). */
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"

static void test_cli_tool(void **state) {
    (void)state;
    char out[8192];
    assert_int_equal(test_run(out, sizeof out, "%s tool calculator --expr '3^40 - 1'", rlc_bin()), 0);
    assert_string_equal(out, "12157665459056928800\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --code 'print(sum(range(101)))'", rlc_bin()), 0);
    assert_string_equal(out, "5050\n");
    /* the two ways of running a call: a fork of the server's interpreter, or a fresh one */
    const char *probe = "import sys; print(\"socket\" in sys.modules)";
    assert_int_equal(test_run(out, sizeof out, "%s tool python --code '%s'", rlc_bin(), probe), 0);
    assert_string_equal(out, "True\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --python-mode exec --code '%s'", rlc_bin(), probe), 0);
    assert_string_equal(out, "False\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --python-mode vm --code 1", rlc_bin()), 1);
    assert_non_null(strstr(out, "tool_python_mode = 'vm': must be fork or exec"));
    /* modules the server imports before serving: already there when the call starts */
    const char *probe2 = "import sys; print(\"fractions\" in sys.modules)";
    assert_int_equal(test_run(out, sizeof out, "%s tool python --code '%s'", rlc_bin(), probe2), 0);
    assert_string_equal(out, "False\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --python-preload fractions,no_such_module --code '%s'",
                              rlc_bin(), probe2),
                     0);
    assert_string_equal(out, "True\n");
    assert_int_equal(test_run(out, sizeof out, "%s tool python --python-preload 'os;x' --code 1", rlc_bin()), 1);
    assert_non_null(strstr(out, "tool_python_preload = 'os;x'"));
    assert_int_equal(test_run(out, sizeof out, "%s tool python --max-output 8 --code 1", rlc_bin()), 1);
    assert_non_null(strstr(out, "tool_max_output_bytes = 8"));
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
    assert_int_equal(test_run(out, sizeof out,
                              "%s tool --format llama3 --call '<|python_tag|>print(6*7)<|eom_id|>'", rlc_bin()),
                     0);
    assert_non_null(strstr(out, "<|start_header_id|>ipython<|end_header_id|>\n\n\"42\"<|eot_id|>"));
    assert_int_equal(test_run(out, sizeof out, "%s tool --format llama3 --call 'It is 42.<|eot_id|>'", rlc_bin()), 2);
    assert_non_null(strstr(out, "does not end with a llama3 tool call"));
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
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --tools python --tool-python-mode vm",
                  rlc_bin(), fixture("models/qwen2-tiny"), data, run2, common);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "tool_python_mode = 'vm': must be fork or exec"));
    const char *bad[][2] = {{"--tools python --tool-prompt --tool-prompt-in system", "tool_prompt_in = 'system'"},
                            {"--tools python --tool-prompt --tool-prompt-in template", "needs a function-call tool_format"},
                            {"--tools calculator --tool-format hermes --tool-prompt --tool-prompt-in template",
                             "prompt template raw is no chat template"},
                            {"--tools calculator --tool-format hermes --tool-prompt --tool-prompt-in template "
                             "--template qwen-math-cot",
                             "chat template ignores `tools`"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), data, run2, common, bad[i][0]);
        assert_int_equal(rc, 1);
        if (!strstr(out, bad[i][1])) fail_msg("%s: %s", bad[i][0], out);
    }
    fs_rm_rf(dir);
    free(run2), free(run), free(data), free(dir);
}

static cJSON *read_json(const char *path) {
    char *text = NULL;
    size_t n;
    assert_int_equal(fs_read_all(path, &text, &n), 0);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* Every completion of eval records that called the python tool carries the tool's real answer
 * to the call it wrote: "print(a * b)" is followed by "```output\n<a*b>". Returns the calls. */
static int check_tool_answers(const char *records) {
    char *text = NULL;
    size_t n;
    assert_int_equal(fs_read_all(records, &text, &n), 0);
    int calls = 0, checked = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *r = cJSON_Parse(line);
        assert_non_null(r);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "completions")) {
            const cJSON *k = cJSON_GetObjectItem(c, "tool_calls");
            assert_non_null(k); /* present with --tools, even when 0 */
            calls += k->valueint;
            const char *t = cJSON_GetObjectItem(c, "text")->valuestring, *p = strstr(t, "```python\nprint(");
            long a, b, v;
            if (k->valueint && p && sscanf(p, "```python\nprint(%ld * %ld)\n```\n```output\n%ld", &a, &b, &v) == 3) {
                assert_int_equal(v, a * b);
                checked++;
            }
        }
        cJSON_Delete(r);
    }
    free(text);
    assert_true(checked > 0);
    return calls;
}

/* The JSON object in the file at path with key set to v. */
static void set_json_key(const char *path, const char *key, cJSON *v) {
    cJSON *o = rlc_json_load_file(path);
    assert_non_null(o);
    cJSON_DeleteItemFromObject(o, key);
    cJSON_AddItemToObject(o, key, v);
    char *js = cJSON_Print(o);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(js, f);
    fclose(f);
    free(js);
    cJSON_Delete(o);
}

/* rlc eval / generate --tools: a model warm-started (briefly) on traces that call the python
 * tool calls it during evaluation, and the real tool answers; bad tool flags fail at once. */
static void test_eval_with_tools(void **state) {
    (void)state;
    char *dir = test_tmpdir(), *tr = fs_join(dir, "traces.jsonl"), *ev = fs_join(dir, "ev.jsonl"),
         *sft = fs_join(dir, "sft"), *rec = fs_join(dir, "rec.jsonl"), *sum = fs_join(dir, "rec.jsonl.summary.json");
    FILE *f = fopen(tr, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++) {
        int a = 12 + i * 7 % 80, b = 3 + i * 13 % 50;
        fprintf(f,
                "{\"prompt\": \"Compute %d * %d.\", \"response\": \"```python\\nprint(%d * %d)\\n```\\n```output\\n%d"
                "\\n```\\nThe answer is \\\\boxed{%d}.\"}\n",
                a, b, a, b, a * b, a * b);
    }
    fclose(f);
    assert_non_null(f = fopen(ev, "w"));
    for (int i = 0; i < 3; i++) fprintf(f, "{\"problem\": \"Compute %d * %d.\", \"answer\": \"%d\"}\n", 21 + i * 11, 7 + i * 5, (21 + i * 11) * (7 + i * 5));
    fclose(f);
    char out[16384];
    int rc = test_run(out, sizeof out,
                      "%s sft --model %s --data %s --run-dir %s --template raw --steps 60 --batch-size 8 --micro-batch 8 "
                      "--lr 5e-3 --threads 2 --save-every 0 --mask-tool-output --tool-format code --quiet",
                      rlc_bin(), fixture("models/qwen2-tiny"), tr, sft);
    if (rc) fail_msg("sft: %s", out);
    char *ck = fs_join(sft, "checkpoints/step-000060");
    const char *common = "--template raw --temperature 0 --max-new-tokens 48 --threads 2";
    rc = test_run(out, sizeof out, "%s eval --model %s --data %s --out %s %s --tools python", rlc_bin(), ck, ev, rec,
                  common);
    if (rc) fail_msg("eval --tools: %s", out);
    assert_non_null(strstr(out, "tool calls per sample"));
    int calls = check_tool_answers(rec);
    assert_true(calls >= 1);
    cJSON *s = read_json(sum);
    assert_true(cJSON_GetObjectItem(s, "tool_calls_mean")->valuedouble == calls / 3.0);
    cJSON_Delete(s);
    /* without --tools nothing answers the call: no tool fields */
    rc = test_run(out, sizeof out, "%s eval --model %s --data %s --out %s %s", rlc_bin(), ck, ev, rec, common);
    if (rc) fail_msg("eval: %s", out);
    s = read_json(sum);
    assert_null(cJSON_GetObjectItem(s, "tool_calls_mean"));
    cJSON_Delete(s);
    /* --tool-prompt: the description before every problem, as in training */
    rc = test_run(out, sizeof out, "%s eval --model %s --data %s --out %s %s --tools python --tool-prompt", rlc_bin(),
                  ck, ev, rec, common);
    if (rc) fail_msg("eval --tool-prompt: %s", out);
    char *text = NULL;
    size_t n;
    assert_int_equal(fs_read_all(rec, &text, &n), 0);
    assert_non_null(strstr(text, "\"problem\":\"You may run Python: write a ```python block"));
    free(text);
    rc = test_run(out, sizeof out,
                  "%s generate --model %s --prompt 'Compute 25 * 4.' --temperature 0 --max-new-tokens 48 --threads 2 "
                  "--tools python",
                  rlc_bin(), ck);
    if (rc) fail_msg("generate --tools: %s", out);
    assert_non_null(strstr(out, ", 1 tool call) ==="));
    assert_non_null(strstr(out, "```output\n"));
    /* bad tool and chat flags: one line, exit 1 */
    const char *bad[][2] = {{"--tool-prompt", "give --tools too"},
                            {"--tools python --tool-prompt-in template", "give --tool-prompt too"},
                            {"--tools python --tool-prompt --tool-prompt-in system", "choose problem or template"},
                            {"--tools python --tool-prompt --tool-prompt-in template --template qwen-math-cot",
                             "needs a function-call tool_format"},
                            {"--tools calculator --tool-format hermes --tool-prompt --tool-prompt-in template "
                             "--template qwen-math-cot",
                             "chat template ignores `tools`"},
                            {"--tools calculator --tool-format hermes --tool-prompt --tool-prompt-in template --template boxed",
                             "no chat template"},
                            {"--chat-vars '[1]'", "must be a JSON object"},
                            {"--chat-date tomorrow", "chat date 'tomorrow': give a day as"},
                            {"--chat-vars '{}' --chat-template chatml", "--chat-vars needs the model's own template"},
                            {"--tools python --max-tool-calls 99", "max_tool_calls = 99"},
                            {"--tools shell", "unknown tool 'shell'"},
                            {"--tools python --tool-format xml", "unknown tool format 'xml'"},
                            {"--tools python --tool-python-mode spawn", "tool_python_mode = 'spawn'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = test_run(out, sizeof out, "%s eval --model %s --data %s --out %s %s %s", rlc_bin(), ck, ev, rec, common,
                      bad[i][0]);
        assert_int_equal(rc, 1);
        if (!strstr(out, bad[i][1])) fail_msg("%s: %s", bad[i][0], out);
    }
    /* --tool-prompt-in template with a template that renders tools (Qwen2.5's, put into a
     * copy of the checkpoint whose context holds its 510-token prompts), beside --chat-vars */
    char *qk = fs_join(dir, "qwen-template"), *cfgp = fs_join(qk, "tokenizer_config.json"), *jinja = NULL;
    assert_int_equal(test_run(out, sizeof out, "cp -r %s %s", ck, qk), 0);
    assert_int_equal(fs_read_all(fixture("tokenizers/real_templates/Qwen-Qwen2.5-7B-Instruct.jinja"), &jinja, &n), 0);
    char *mc = fs_join(qk, "config.json");
    set_json_key(cfgp, "chat_template", cJSON_CreateString(jinja));
    set_json_key(mc, "max_position_embeddings", cJSON_CreateNumber(1024));
    free(mc);
    rc = test_run(out, sizeof out,
                  "%s eval --model %s --data %s --out %s %s --template qwen-math-cot --tools calculator --tool-format "
                  "hermes --tool-prompt --tool-prompt-in template --chat-vars '{\"custom\": 1}' --max-new-tokens 4",
                  rlc_bin(), qk, ev, rec, common);
    if (rc) fail_msg("eval --tool-prompt-in template: %s", out);
    /* chat-message problems need no chat prompt template */
    char *msgs = fs_join(dir, "msgs.jsonl");
    FILE *mf = fopen(msgs, "w");
    fputs("{\"prompt\": [{\"role\": \"user\", \"content\": \"Compute 25 * 4.\"}], \"answer\": \"100\"}\n", mf);
    fclose(mf);
    rc = test_run(out, sizeof out,
                  "%s eval --model %s --data %s --out %s %s --tools calculator --tool-format hermes --tool-prompt "
                  "--tool-prompt-in template --max-new-tokens 4",
                  rlc_bin(), qk, msgs, rec, common);
    if (rc) fail_msg("eval --tool-prompt-in template, chat-message data: %s", out);
    free(msgs);
    free(jinja), free(qk), free(cfgp);
    fs_rm_rf(dir);
    free(ck), free(tr), free(ev), free(sft), free(rec), free(sum), free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cli_tool), cmocka_unit_test(test_train_with_tools),
                                       cmocka_unit_test(test_eval_with_tools)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
