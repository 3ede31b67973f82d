/* End-to-end: `rlc tokenize` / `rlc detokenize` on the fixture tokenizers, compared with the
 * ids the Hugging Face reference produced (expected.jsonl), plus bulk files and errors. */
#include "testutil.h"

static void test_tokenize_text(void **s) {
    (void)s;
    char out[4096], tk[4200];
    snprintf(tk, sizeof tk, "%s", fixture("tokenizers/bpe-qwen")); /* fixture() reuses one buffer */
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --text 'Hello world<|im_end|>'", rlc_bin(), tk), 0);
    assert_string_equal(out, "39 68 75 75 78 272 308 390 1229\n");
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --text 'Hello' --json --special", rlc_bin(),
                              fixture("tokenizers/bpe-llama3")), 0);
    assert_string_equal(out, "[1800,39,68,75,75,78]\n");
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --ids '[39,68,75,75,78,272,308,390,1229]'",
                              rlc_bin(), tk), 0);
    assert_string_equal(out, "Hello world<|im_end|>");
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --ids '39 68 75 75 78 1229' --skip-special --json",
                              rlc_bin(), tk), 0);
    assert_string_equal(out, "\"Hello\"\n");
}

static void test_tokenize_file_and_chat(void **s) {
    (void)s;
    char out[8192], path[512];
    char *dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/lines.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("Hello\nworld\n\n", f);
    fclose(f);
    char tk[4200];
    snprintf(tk, sizeof tk, "%s", fixture("tokenizers/tiny-chatml"));
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --file %s --json", rlc_bin(), tk, path), 0);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 3);
    assert_non_null(strstr(out, "\n[]\n"));
    /* ids back to text, one line per list */
    char ids_path[600];
    snprintf(ids_path, sizeof ids_path, "%s/ids.txt", dir);
    f = fopen(ids_path, "w");
    fputs(out, f);
    fclose(f);
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --file %s", rlc_bin(), tk, ids_path), 0);
    assert_string_equal(out, "Hello\nworld\n\n");
    assert_int_equal(test_run(out, sizeof out,
                              "%s tokenize --tokenizer %s --chat '[{\"role\":\"user\",\"content\":\"2+2?\"}]' --render",
                              rlc_bin(), fixture("tokenizers/bpe-qwen")), 0);
    assert_string_equal(out, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                             "<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
    assert_int_equal(test_run(out, sizeof out,
                              "%s tokenize --tokenizer %s --chat '[{\"role\":\"user\",\"content\":\"hi\"}]' --render "
                              "--chat-date '02 Feb 2025' --no-generation-prompt",
                              rlc_bin(), fixture("tokenizers/bpe-llama3")), 0);
    assert_string_equal(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                             "December 2023\nToday Date: 02 Feb 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>"
                             "\n\nhi<|eot_id|>");
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --info", rlc_bin(), fixture("tokenizers/spm-bpe")), 0);
    assert_non_null(strstr(out, "kind sentencepiece"));
    assert_non_null(strstr(out, "vocab_size 1200"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void test_cli_errors(void **s) {
    (void)s;
    char out[4096], tk[4200];
    snprintf(tk, sizeof tk, "%s", fixture("tokenizers/bpe-qwen"));
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --ids '1 99999999'", rlc_bin(), tk), 1);
    assert_non_null(strstr(out, "rlc: error: "));
    assert_non_null(strstr(out, "out of range"));
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer /nonexistent --text x", rlc_bin()), 1);
    assert_non_null(strstr(out, "no such file"));
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --text \"$(printf 'ok\\377')\"", rlc_bin(), tk), 1);
    assert_non_null(strstr(out, "UTF-8"));
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --ids '1 x'", rlc_bin(), tk), 1);
    assert_non_null(strstr(out, "not a token id"));
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s", rlc_bin(), tk), 1);
    assert_non_null(strstr(out, "nothing to tokenize"));
    assert_int_equal(test_run(out, sizeof out, "%s tokenize --tokenizer %s --chat '[{\"role\":\"user\"}]'", rlc_bin(), tk), 1);
    assert_non_null(strstr(out, "content"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_text),
        cmocka_unit_test(test_tokenize_file_and_chat),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
