/* rlc used as a careless or hostile user would: out-of-range numbers, malformed ids, odd
 * paths, a second process on a run directory, a run directory inside the model, fresh runs
 * over earlier ones, resumes with overrides or damaged checkpoints, signals. Every case
 * ends with one clear error line and a non-zero exit, or with the documented behaviour;
 * none crashes or loses an earlier run's files. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>

#include "core/fs.h"
#include "core/json.h"

static char *g_dir, *g_data;
static char out[1 << 16];

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    g_data = fs_join(g_dir, "data.jsonl");
    test_write_sum_problems(g_data, 24);
    return 0;
}

static int teardown(void **s) {
    (void)s;
    fs_rm_rf(g_dir);
    free(g_dir);
    free(g_data);
    return 0;
}

static const char *TINY = "--template raw --group-size 2 --prompts-per-step 2 --micro-batch 2 --max-new-tokens 6 "
                          "--threads 1 --kl-coef 0 --save-every 1";

static int train(const char *run, const char *extra) {
    return test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s %s", rlc_bin(),
                    fixture("models/qwen2-tiny"), g_data, run, TINY, extra);
}

static char *read_file(const char *dir, const char *name) {
    char *p = fs_join(dir, name), *t = NULL;
    size_t n;
    if (fs_read_all(p, &t, &n)) t = NULL;
    free(p);
    return t;
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Numbers out of range never wrap or crash: each is one error line naming the option. */
static void test_numbers_range_checked(void **s) {
    (void)s;
    const char *m = fixture("models/qwen2-tiny");
    test_expect_cli_error("group_size = 4294967298: out of range", "%s train --model %s --data %s --group-size "
                          "4294967298", rlc_bin(), m, g_data);
    test_expect_cli_error("-n = 4294967297: out of range", "%s generate --model %s --prompt hi -n 4294967297",
                          rlc_bin(), m);
    test_expect_cli_error("-n = 1000000: must be at most 65536", "%s generate --model %s --prompt hi -n 1000000",
                          rlc_bin(), m);
    test_expect_cli_error("threads = 100000: must lie in [0, 1024]", "%s train --model %s --data %s --threads 100000",
                          rlc_bin(), m, g_data);
    test_expect_cli_error("--threads = 100000: must be at most 1024", "%s generate --model %s --prompt hi --threads "
                          "100000", rlc_bin(), m);
    test_expect_cli_error("--page-size = 0: must be at least 1", "%s generate --model %s --prompt hi --page-size 0",
                          rlc_bin(), m);
    test_expect_cli_error("--batch-tokens = -5: must be at least 1", "%s generate --model %s --prompt hi "
                          "--batch-tokens -5", rlc_bin(), m);
    test_expect_cli_error("--kv-cache-mb = -1: must be at least 0", "%s eval --model %s --data %s --out %s/e.jsonl "
                          "--kv-cache-mb -1", rlc_bin(), m, g_data, g_dir);
    test_expect_cli_error("--kv-cache-mb = 17592186044416: out of range", "%s tts --model %s --data %s "
                          "--kv-cache-mb 17592186044416", rlc_bin(), m, g_data);
    test_expect_cli_error("sft: epochs = 0: must be at least 1", "%s sft --model %s --data %s --run-dir %s/x "
                          "--epochs 0", rlc_bin(), m, g_data, g_dir);
    test_expect_cli_error("sft: min_lr_ratio = 1.5: must lie in [0, 1]", "%s sft --model %s --data %s --run-dir %s/x "
                          "--min-lr-ratio 1.5", rlc_bin(), m, g_data, g_dir);
    char *x = fs_join(g_dir, "x");
    assert_false(fs_exists(x)); /* refused before anything was written */
    free(x);
}

/* Model configs that make NaN are refused at load. */
static void test_nan_configs_refused(void **s) {
    (void)s;
    const char *keys[2][2] = {{"rms_norm_eps", "rms_norm_eps = 0 must be positive"},
                              {"rope_theta", "rope_theta = 0 must be a positive number"}};
    for (int k = 0; k < 2; k++) {
        char *dir = fs_join(g_dir, keys[k][0]);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/* %s/ && sed -i 's/\"%s\": [^,}]*/\"%s\": 0/' %s/config.json",
                 dir, fixture("models/qwen2-tiny"), dir, keys[k][0], keys[k][0], dir);
        assert_int_equal(system(cmd), 0);
        test_expect_cli_error(keys[k][1], "%s generate --model %s --prompt hi", rlc_bin(), dir);
        free(dir);
    }
}

/* Small things: id rows in a prompts file, a missing tokenizer, unbalanced ids, a directory
 * given as a file. */
static void test_small_inputs(void **s) {
    (void)s;
    const char *m = fixture("models/qwen2-tiny");
    char *pf = fs_join(g_dir, "prompts.jsonl");
    const char *rows = "{\"ids\": [5, 6, 7]}\n{\"prompt\": \"hi\"}\n{\"ids\": [8]}\n";
    assert_int_equal(fs_write_atomic(pf, rows, strlen(rows)), 0);
    assert_int_equal(test_run_stdout(out, sizeof out, "%s generate --model %s --prompts %s --max-new-tokens 2 --json",
                                     rlc_bin(), m, pf),
                     0);
    assert_int_equal(count(out, "\"completions\""), 3);
    const char *only = "{\"ids\": [5, 6]}\n{\"ids\": [9]}\n";
    assert_int_equal(fs_write_atomic(pf, only, strlen(only)), 0);
    assert_int_equal(test_run_stdout(out, sizeof out, "%s generate --model %s --prompts %s --max-new-tokens 2 --json",
                                     rlc_bin(), m, pf),
                     0);
    assert_int_equal(count(out, "\"completions\""), 2);
    free(pf);

    char *mo = fs_join(g_dir, "newmodel");
    test_expect_cli_error("--tokenizer /nonexistent-dir: no tokenizer.json or tokenizer.model",
                          "%s init-model --config %s/config.json --out %s --tokenizer /nonexistent-dir", rlc_bin(), m, mo);
    assert_false(fs_exists(mo));
    free(mo);

    test_expect_cli_error("unbalanced brackets", "%s detokenize --tokenizer %s --ids '[1,2'", rlc_bin(), m);
    test_expect_cli_error("unbalanced brackets", "%s detokenize --tokenizer %s --ids '1,2]'", rlc_bin(), m);
    test_expect_cli_error("one pair of brackets", "%s detokenize --tokenizer %s --ids '[1,[2]]'", rlc_bin(), m);
    assert_int_equal(test_run(out, sizeof out, "%s detokenize --tokenizer %s --ids ' [5, 6] '", rlc_bin(), m), 0);

    test_expect_cli_error("is a directory, not a file", "%s train --model %s --data %s --config %s", rlc_bin(), m,
                          g_data, g_dir);
}

/* A fresh run never lands on an earlier one, a run directory is never inside the model, and
 * one process holds a run directory at a time. */
static void test_run_dir_rules(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "r1");
    if (train(run, "--total-steps 1")) fail_msg("%s", out);
    char *before = read_file(run, "metrics.jsonl");
    test_expect_cli_error("already holds a run", "%s train --model %s --data %s --run-dir %s %s --total-steps 1",
                          rlc_bin(), fixture("models/qwen2-tiny"), g_data, run, TINY);
    test_expect_cli_error("--resume", "%s sft --model %s --data %s --run-dir %s --steps 1", rlc_bin(),
                          fixture("models/qwen2-tiny"), g_data, run);
    char *after = read_file(run, "metrics.jsonl");
    assert_string_equal(before, after); /* untouched */
    free(after);
    if (train(run, "--total-steps 2 --overwrite")) fail_msg("%s", out);
    after = read_file(run, "metrics.jsonl");
    assert_int_equal(count(after, "\"step\""), 2); /* the new run's lines only */
    free(before), free(after);

    /* the model directory itself, or a directory inside it */
    char cmd[8192], *mcopy = fs_join(g_dir, "modelcopy");
    snprintf(cmd, sizeof cmd, "cp -r %s %s", fixture("models/qwen2-tiny"), mcopy);
    assert_int_equal(system(cmd), 0);
    char *cfg_before = read_file(mcopy, "config.json");
    test_expect_cli_error("the model directory", "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), mcopy,
                          g_data, mcopy, TINY);
    test_expect_cli_error("is inside the model directory", "%s train --model %s --data %s --run-dir %s/runs/a %s",
                          rlc_bin(), mcopy, g_data, mcopy, TINY);
    test_expect_cli_error("is inside the model directory", "%s sft --model %s/ --data %s --run-dir %s/./sub",
                          rlc_bin(), mcopy, g_data, mcopy);
    char *cfg_after = read_file(mcopy, "config.json");
    assert_string_equal(cfg_before, cfg_after);
    free(cfg_before), free(cfg_after), free(mcopy);

    /* a held lock: the second process fails at once, naming the holder */
    char *lockp = fs_join(run, ".rlc.lock");
    int fd = open(lockp, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "4242\n", 5, 0), 5);
    test_expect_cli_error("in use by another rlc process (pid 4242)", "%s train --resume %s", rlc_bin(), run);
    close(fd);
    free(lockp), free(run);
}

/* --resume: flags override only the keys named (printed, recorded in the history); a
 * reference model that does not fit fails before the run is rewritten; a damaged newest
 * checkpoint falls back; all damaged is an error; no duplicate metric lines. */
static void test_resume_rules(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "r2");
    if (train(run, "--total-steps 3 --keep-last 5")) fail_msg("%s", out);
    char *cfg0 = read_file(run, "config.json");
    test_expect_cli_error("does not fit the policy", "%s train --resume %s --kl-coef 0.01 --ref-model %s --total-steps 4",
                          rlc_bin(), run, fixture("models/qwen2-untied"));
    char *cfg1 = read_file(run, "config.json");
    assert_string_equal(cfg0, cfg1); /* nothing in RUN rewritten */
    free(cfg1);

    /* damage the newest checkpoint without changing its size: resume falls back to step 2 */
    char *st = fs_join(run, "checkpoints/step-000003/model.safetensors");
    int fd = open(st, O_RDWR);
    assert_true(fd >= 0);
    char b;
    assert_int_equal(pread(fd, &b, 1, 200), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, 200), 1);
    close(fd);
    int rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 4 --lr 5e-4", rlc_bin(), run);
    if (rc) fail_msg("resume: %s", out);
    assert_non_null(strstr(out, "skipped"));
    assert_non_null(strstr(out, "(step 2)"));
    assert_non_null(strstr(out, "resume: lr = 0.0005"));
    assert_non_null(strstr(out, "resume: total_steps = 4 (was 3)"));
    char *met = read_file(run, "metrics.jsonl");
    for (int k = 1; k <= 4; k++) {
        char key[32];
        snprintf(key, sizeof key, "{\"step\":%d,", k);
        assert_int_equal(count(met, key), 1); /* each step once, after resuming from step 2 */
    }
    assert_int_equal(count(met, "{\"step\":"), 4);
    free(met);
    char *hist = read_file(run, "config_history.jsonl");
    assert_non_null(hist);
    assert_int_equal(count(hist, "\"event\":\"start\""), 1);
    assert_int_equal(count(hist, "\"event\":\"resume\""), 1);
    assert_non_null(strstr(hist, "\"overrides\":{\"lr\":0.0005,\"total_steps\":4}"));
    free(hist);

    /* every checkpoint damaged: an error, never a silent restart at step 0 */
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "for f in %s/checkpoints/step-*/trainer_state.safetensors; do printf 'X' | dd of=$f bs=1 seek=100 "
             "conv=notrunc 2>/dev/null; done",
             run);
    assert_int_equal(system(cmd), 0);
    test_expect_cli_error("every checkpoint in", "%s train --resume %s --total-steps 5", rlc_bin(), run);
    free(st), free(cfg0), free(run);
}

/* SIGTERM exits 143 and SIGINT 130 after a checkpoint, as shells and schedulers expect. */
static void test_signal_exit_codes(void **s) {
    (void)s;
    const int sigs[2] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "sig%d", sigs[i]);
        char *run = fs_join(g_dir, name), cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "%s train --model %s --data %s --run-dir %s %s --total-steps 100000 --save-every 0 >/dev/null 2>&1 & "
                 "p=$!; for i in $(seq 600); do [ -s %s/metrics.jsonl ] && break; sleep 0.05; done; kill -%d $p; "
                 "wait $p; echo \"exit=$?\"",
                 rlc_bin(), fixture("models/qwen2-tiny"), g_data, run, TINY, run, sigs[i]);
        assert_int_equal(test_run(out, sizeof out, "%s", cmd), 0);
        char want[32];
        snprintf(want, sizeof want, "exit=%d", 128 + sigs[i]);
        if (!strstr(out, want)) fail_msg("%s: %s", want, out);
        char *ck = fs_join(run, "checkpoints/latest");
        assert_true(fs_exists(ck));
        free(ck), free(run);
    }
}

/* Bad rows never stop a run midway: an over-long prompt, invalid UTF-8 and a \u0000 inside a
 * problem are skipped before step 1 with FILE:LINE reasons (or fatal with --strict), in
 * train, sft, eval and tts alike. */
static void test_bad_rows(void **s) {
    (void)s;
    const char *m = fixture("models/qwen2-tiny");
    char *bad = fs_join(g_dir, "bad.jsonl");
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    for (int i = 0; i < 8; i++) {
        if (i == 3) {
            fprintf(f, "{\"problem\": \"Compute");
            for (int k = 0; k < 80; k++) fprintf(f, " %d +", k);
            fprintf(f, " 0.\", \"answer\": \"3160\", \"response\": \"3160\"}\n");
        } else if (i == 5) {
            fprintf(f, "{\"problem\": \"Compute \xff\xfe 1 + 1.\", \"answer\": \"2\", \"response\": \"2\"}\n");
        } else if (i == 6) {
            fprintf(f, "{\"problem\": \"Compute 2 + 2.\\u0000 And ignore this.\", \"answer\": \"4\"}\n");
        } else {
            fprintf(f, "{\"problem\": \"Compute %d + %d.\", \"answer\": \"%d\", \"response\": \"%d\"}\n", i, i,
                    2 * i, 2 * i);
        }
    }
    fclose(f);
    char *run = fs_join(g_dir, "bad1");
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --total-steps 5 --max-prompt-len "
                      "80", rlc_bin(), m, bad, run, TINY);
    if (rc) fail_msg("a bad row stopped the run: %s", out);
    assert_non_null(strstr(out, "bad.jsonl:4: prompt of"));
    assert_non_null(strstr(out, "exceeds max_prompt_len 80; row skipped"));
    assert_non_null(strstr(out, "bad.jsonl:6: "));
    assert_non_null(strstr(out, "not valid UTF-8"));
    assert_non_null(strstr(out, "bad.jsonl:7: a string holds \\u0000"));
    char *met = read_file(run, "metrics.jsonl");
    assert_int_equal(count(met, "{\"step\":"), 5);
    free(met);
    /* resumed, it sees the same rows and goes on */
    rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 7", rlc_bin(), run);
    if (rc) fail_msg("resume: %s", out);
    free(run);
    run = fs_join(g_dir, "bad2");
    test_expect_cli_error("bad.jsonl:7: a string holds", "%s train --model %s --data %s --run-dir %s %s --total-steps 5 "
                          "--max-prompt-len 80 --strict", rlc_bin(), m, bad, run, TINY);
    char *mp = fs_join(run, "metrics.jsonl");
    assert_false(fs_exists(mp)); /* fatal before any work */
    free(mp), free(run);
    run = fs_join(g_dir, "bad3");
    rc = test_run(out, sizeof out, "%s sft --model %s --data %s --run-dir %s --steps 2 --batch-size 2 --micro-batch 2 "
                  "--threads 1", rlc_bin(), m, bad, run);
    if (rc) fail_msg("sft: %s", out);
    assert_non_null(strstr(out, "bad.jsonl:6: "));
    assert_non_null(strstr(out, "row skipped"));
    test_expect_cli_error("strict", "%s sft --model %s --data %s --run-dir %s/s --steps 2 --batch-size 2 "
                          "--micro-batch 2 --strict", rlc_bin(), m, bad, g_dir);
    free(run);
    char *eo = fs_join(g_dir, "e.jsonl");
    rc = test_run(out, sizeof out, "%s eval --model %s --data %s --out %s --max-new-tokens 2 --template raw", rlc_bin(), m,
                  bad, eo);
    if (rc) fail_msg("eval: %s", out);
    assert_non_null(strstr(out, "not valid UTF-8"));
    char *recs = read_file(g_dir, "e.jsonl");
    assert_int_equal(count(recs, "\"id\""), 5); /* 8 rows; the \u0000, invalid UTF-8 and over-long ones skipped */
    free(recs);
    rc = test_run(out, sizeof out, "%s tts --model %s --data %s --n 1,2 --max-new-tokens 2 --template raw", rlc_bin(), m,
                  bad);
    if (rc) fail_msg("tts: %s", out);
    free(eo), free(bad);
}

/* Outputs are checked before any sampling: never an input, always writable. */
static void test_output_paths(void **s) {
    (void)s;
    const char *m = fixture("models/qwen2-tiny");
    char *copy = fs_join(g_dir, "copy.jsonl");
    char *orig = read_file(g_dir, "data.jsonl");
    assert_int_equal(fs_write_atomic(copy, orig, strlen(orig)), 0);
    test_expect_cli_error("is also an input", "%s eval --model %s --data %s --out %s", rlc_bin(), m, copy, copy);
    test_expect_cli_error("is also an input", "%s tts --model %s --data %s --out %s", rlc_bin(), m, copy, copy);
    test_expect_cli_error("is also an input", "%s eval --model %s --data %s --out %s/x.jsonl --summary %s", rlc_bin(),
                          m, copy, g_dir, copy);
    char *now = read_file(g_dir, "copy.jsonl");
    assert_string_equal(orig, now); /* the input survived */
    test_expect_cli_error("directory /nonexistent-dir does not exist", "%s eval --model %s --data %s --out "
                          "/nonexistent-dir/r.jsonl", rlc_bin(), m, copy);
    test_expect_cli_error("--plot /nonexistent-dir/p.svg", "%s tts --model %s --data %s --plot /nonexistent-dir/p.svg",
                          rlc_bin(), m, copy);
    free(copy), free(orig), free(now);
}

/* Numbers are exact: a gold answer stored as a JSON number is graded as written. */
static void test_json_numbers_exact(void **s) {
    (void)s;
    char *g = fs_join(g_dir, "g.jsonl");
    const char *rows = "{\"gold\": 0.1, \"pred\": \"0.1\"}\n{\"gold\": 9007199254740993, \"pred\": "
                       "\"9007199254740993\"}\n{\"gold\": 1e400, \"pred\": \"1e400\"}\n";
    assert_int_equal(fs_write_atomic(g, rows, strlen(rows)), 0);
    assert_int_equal(test_run_stdout(out, sizeof out, "%s grade --jsonl %s", rlc_bin(), g), 0);
    assert_int_equal(count(out, "\"correct\":true"), 3);
    assert_non_null(strstr(out, "\"extracted\":\"9007199254740993\""));
    free(g);
}

/* init-model saves the config's numbers as written: Gemma 2's caps stay floats (1.0, not 1,
 * which transformers 5 refuses for a float field). */
static void test_init_model_literals(void **s) {
    (void)s;
    char *mdir = fs_join(g_dir, "g2init"), *src = fs_join(fixture("models/gemma2-tiny"), "config.json");
    assert_int_equal(test_run(out, sizeof out, "%s init-model --config %s --out %s", rlc_bin(), src, mdir), 0);
    char *cfg = read_file(mdir, "config.json");
    assert_non_null(strstr(cfg, "\"attn_logit_softcapping\":\t1.0,"));
    assert_non_null(strstr(cfg, "\"rope_theta\":\t10000.0"));
    free(cfg), free(src), free(mdir);
}

/* A model whose embedding is larger than its tokenizer's vocabulary is warned about. */
static void test_vocab_warning(void **s) {
    (void)s;
    char *cfgp = fs_join(g_dir, "big.json"), *mdir = fs_join(g_dir, "bigvocab");
    char *cfg = read_file(fixture("models/qwen2-tiny"), "config.json");
    cJSON *j = cJSON_Parse(cfg);
    cJSON_ReplaceItemInObject(j, "vocab_size", cJSON_CreateNumber(600));
    char *txt = cJSON_Print(j);
    assert_int_equal(fs_write_atomic(cfgp, txt, strlen(txt)), 0);
    assert_int_equal(test_run(out, sizeof out, "%s init-model --config %s --out %s --tokenizer %s", rlc_bin(), cfgp,
                              mdir, fixture("models/qwen2-tiny")),
                     0);
    assert_int_equal(test_run(out, sizeof out, "%s generate --model %s --prompt hi --max-new-tokens 2", rlc_bin(), mdir),
                     0);
    assert_int_equal(count(out, "embedding has 600 rows but its tokenizer knows"), 1);
    cJSON_Delete(j);
    free(txt), free(cfg), free(cfgp), free(mdir);
}

/* A tokenizer larger than the model: a warning when the pair is loaded; a prompt holding a
 * token the model has no row for is a skipped row in eval (fatal with --strict) and an
 * error naming the token in generate. A damaged tokenizer.json is named as damaged. */
static void test_tokenizer_beyond_model(void **s) {
    (void)s;
    char *cfgp = fs_join(g_dir, "small.json"), *mdir = fs_join(g_dir, "smallvocab");
    char *cfg = read_file(fixture("models/qwen2-tiny"), "config.json");
    cJSON *j = cJSON_Parse(cfg);
    cJSON_ReplaceItemInObject(j, "vocab_size", cJSON_CreateNumber(300));
    cJSON_ReplaceItemInObject(j, "eos_token_id", cJSON_CreateNumber(299));
    cJSON_ReplaceItemInObject(j, "pad_token_id", cJSON_CreateNumber(299));
    char *txt = cJSON_Print(j);
    assert_int_equal(fs_write_atomic(cfgp, txt, strlen(txt)), 0);
    assert_int_equal(test_run(out, sizeof out, "%s init-model --config %s --out %s --tokenizer %s", rlc_bin(), cfgp,
                              mdir, fixture("models/qwen2-tiny")),
                     0);
    assert_non_null(strstr(out, "the tokenizer knows 512 tokens but the model's embedding has 300 rows"));
    assert_int_not_equal(test_run(out, sizeof out, "%s generate --model %s --prompt 'hello world' --max-new-tokens 2",
                                  rlc_bin(), mdir),
                         0);
    assert_non_null(strstr(out, "outside the model's vocabulary of 300 ids"));
    char *data = fs_join(g_dir, "vocab.jsonl"), *res = fs_join(g_dir, "vocab_eval.jsonl");
    const char *rows = "{\"problem\": \"Compute 10 + 3.\", \"answer\": \"13\"}\n"
                       "{\"problem\": \"hello world\", \"answer\": \"1\"}\n";
    assert_int_equal(fs_write_atomic(data, rows, strlen(rows)), 0);
    const char *ev = "%s eval --model %s --data %s --out %s --template raw --max-new-tokens 2 --threads 1 %s";
    assert_int_equal(test_run(out, sizeof out, ev, rlc_bin(), mdir, data, res, ""), 0);
    assert_non_null(strstr(out, "vocab.jsonl:2: the text holds token"));
    assert_int_not_equal(test_run(out, sizeof out, ev, rlc_bin(), mdir, data, res, "--strict"), 0);
    assert_non_null(strstr(out, "vocab.jsonl:2: "));
    /* a truncated tokenizer.json is reported as what it is, not as a missing tokenizer */
    char *tj = fs_join(mdir, "tokenizer.json");
    assert_int_equal(truncate(tj, 3000), 0);
    assert_int_not_equal(test_run(out, sizeof out, "%s generate --model %s --prompt hi", rlc_bin(), mdir), 0);
    assert_non_null(strstr(out, "malformed JSON"));
    assert_null(strstr(out, "has no tokenizer"));
    cJSON_Delete(j);
    free(tj), free(data), free(res), free(txt), free(cfg), free(cfgp), free(mdir);
}

/* `rlc data` shows how a set is read (verl's parquet here) and writes it as JSONL that reads
 * back to the same rows, int64 ids exact; a file that is none of the forms, or --strict with
 * a malformed row, is an error. */
static void test_data_command(void **s) {
    (void)s;
    char *conv = fs_join(g_dir, "conv.jsonl");
    assert_int_equal(test_run(out, sizeof out, "%s data --data %s --profile verl --head 2 --out %s", rlc_bin(),
                              fixture("parquet/rows_snappy_v1.parquet"), conv),
                     0);
    assert_non_null(strstr(out, "rows: 7 kept, 4 skipped as malformed"));
    assert_non_null(strstr(out, "prompts: 7 as chat messages, 0 as text"));
    assert_non_null(strstr(out, "fields (of the first row): data_source, prompt, ability, reward_model.ground_truth, "
                                "reward_model.style, extra_info.index"));
    assert_non_null(strstr(out, "[2] id \"9007199254740993\"  answer \"42\""));
    assert_null(strstr(out, "[3] id"));
    char *txt = read_file(g_dir, "conv.jsonl");
    assert_non_null(txt);
    assert_non_null(strstr(txt, "\"index\":9007199254740993"));
    free(txt);
    assert_int_equal(test_run(out, sizeof out, "%s data --data %s --head 0", rlc_bin(), conv), 0);
    assert_non_null(strstr(out, "rows: 7 kept, 0 skipped"));
    assert_int_not_equal(test_run(out, sizeof out, "%s data --data %s --profile verl --strict", rlc_bin(),
                                  fixture("parquet/rows_snappy_v1.parquet")),
                         0);
    assert_non_null(strstr(out, "rows_snappy_v1.parquet:3: "));
    assert_int_not_equal(
        test_run(out, sizeof out, "%s data --data %s", rlc_bin(), fixture("models/qwen2-tiny/model.safetensors")), 0);
    assert_int_equal(count(out, "rlc: error: "), 1);
    free(conv);
}

/* A run is a model: every form a --model takes (run directory, its checkpoints/, the latest
 * pointer, RUN@STEP, RUN/checkpoints/step-N) loads, says what it loaded and records it; what
 * is none of these is an error that says what was expected and what was found. */
static void test_run_as_model(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "src");
    if (train(run, "--total-steps 2")) fail_msg("%s", out);
    char forms[5][4200];
    snprintf(forms[0], sizeof forms[0], "%s", run);
    snprintf(forms[1], sizeof forms[1], "%s/checkpoints", run);
    snprintf(forms[2], sizeof forms[2], "%s/checkpoints/latest", run);
    snprintf(forms[3], sizeof forms[3], "%s@1", run);
    snprintf(forms[4], sizeof forms[4], "%s/checkpoints/step-000001/", run);
    const char *want_step[5] = {"step-000002", "step-000002", "step-000002", "step-000001", "step-000001"};
    for (int k = 0; k < 5; k++) {
        int rc = test_run(out, sizeof out, "%s generate --model %s --prompt hi --max-new-tokens 2", rlc_bin(), forms[k]);
        if (rc) fail_msg("generate --model %s: %s", forms[k], out);
        if (!strstr(out, want_step[k]) || count(out, "--model: ") != 1) fail_msg("%s: %s", forms[k], out);
    }
    /* eval records what it loaded */
    char *eo = fs_join(g_dir, "ev.jsonl");
    int rc = test_run(out, sizeof out, "%s eval --model %s@1 --data %s --out %s --max-new-tokens 2 --template raw",
                      rlc_bin(), run, g_data, eo);
    if (rc) fail_msg("eval: %s", out);
    char *sum = read_file(g_dir, "ev.jsonl.summary.json");
    assert_non_null(sum);
    assert_non_null(strstr(sum, "checkpoints/step-000001\""));
    cJSON *sj = cJSON_Parse(sum);
    assert_non_null(sj);
    assert_int_equal(cJSON_GetObjectItem(sj, "model_step")->valueint, 1);
    cJSON_Delete(sj);
    free(sum), free(eo);
    /* a new run from a run's weights: a fresh optimizer, the loaded directory in config.json */
    char *run2 = fs_join(g_dir, "from_src");
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --total-steps 1", rlc_bin(), run,
                  g_data, run2, TINY);
    if (rc) fail_msg("train --model RUN: %s", out);
    char *cfg = read_file(run2, "config.json");
    assert_non_null(strstr(cfg, "src/checkpoints/step-000002\""));
    free(cfg), free(run2);
    test_expect_cli_error("or start a new run from its weights in another directory", "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), run,
                          g_data, run, TINY);
    /* errors that say what was expected and what was found */
    char *empty = fs_join(g_dir, "norun");
    assert_int_equal(fs_mkdir_p(empty), 0);
    char *ck = fs_join(empty, "checkpoints");
    assert_int_equal(fs_mkdir_p(ck), 0);
    test_expect_cli_error("is a run directory with no complete checkpoint yet", "%s generate --model %s --prompt hi",
                          rlc_bin(), empty);
    test_expect_cli_error("has no checkpoint of step 7", "%s generate --model %s@7 --prompt hi", rlc_bin(), run);
    test_expect_cli_error("is neither a model directory", "%s eval --model %s --data %s --out %s/e2.jsonl", rlc_bin(),
                          g_dir, g_data, g_dir);
    test_expect_cli_error("does not exist", "%s generate --model %s/nothing --prompt hi", rlc_bin(), g_dir);
    /* a damaged explicit step is refused, the newest good one is taken for the run */
    char *st = fs_join(run, "checkpoints/step-000002/model.safetensors");
    int fd = open(st, O_RDWR);
    assert_true(fd >= 0);
    char b;
    assert_int_equal(pread(fd, &b, 1, 300), 1);
    b ^= 0x33;
    assert_int_equal(pwrite(fd, &b, 1, 300), 1);
    close(fd);
    test_expect_cli_error("damaged", "%s generate --model %s@2 --prompt hi", rlc_bin(), run);
    rc = test_run(out, sizeof out, "%s generate --model %s --prompt hi --max-new-tokens 2", rlc_bin(), run);
    if (rc || !strstr(out, "step-000001")) fail_msg("fallback: %s", out);
    free(st), free(ck), free(empty), free(run);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_range_checked), cmocka_unit_test(test_nan_configs_refused),
        cmocka_unit_test(test_small_inputs),          cmocka_unit_test(test_run_dir_rules),
        cmocka_unit_test(test_resume_rules),          cmocka_unit_test(test_signal_exit_codes),
        cmocka_unit_test(test_bad_rows),              cmocka_unit_test(test_output_paths),
        cmocka_unit_test(test_json_numbers_exact),    cmocka_unit_test(test_vocab_warning),
        cmocka_unit_test(test_init_model_literals),
        cmocka_unit_test(test_run_as_model),          cmocka_unit_test(test_tokenizer_beyond_model),
        cmocka_unit_test(test_data_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
