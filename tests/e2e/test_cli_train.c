/* `rlc train` and `rlc sft` end to end on the tiny fixture model: metrics.jsonl fields, a
 * checkpoint that loads, bit-exact resume (timings aside), a SIGKILL at a random moment
 * never leaving a corrupt latest checkpoint, and configuration errors before any compute. */
#include "testutil.h"

#include <signal.h>
#include <time.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/str.h"
#include "model/model.h"
#include "rl/ckpt.h"
#include "tokenizer/tok.h"

static char *g_dir, *g_data;
static cJSON *first_metrics(const char *run);

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    g_data = fs_join(g_dir, "data.jsonl");
    test_write_sum_problems(g_data, 40);
    return 0;
}

static int teardown(void **s) {
    (void)s;
    fs_rm_rf(g_dir);
    free(g_dir);
    free(g_data);
    return 0;
}

static const char *COMMON = "--template raw --group-size 4 --prompts-per-step 3 --micro-batch 3 --mini-batch 6 "
                            "--ppo-epochs 2 --max-new-tokens 12 --lr 1e-3 --kl-coef 0.01 --entropy-coef 0.001 "
                            "--threads 2 --seed 11";

static void train(const char *run, const char *extra, int expect_rc) {
    char out[16384];
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), g_data, run, COMMON, extra);
    if (rc != expect_rc) fail_msg("rlc train exited %d (want %d): %s", rc, expect_rc, out);
}

/* metrics.jsonl lines with the timing fields removed, as one string. */
static char *metrics_without_timing(const char *run) {
    char *p = fs_join(run, "metrics.jsonl");
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, p), 0);
    size_t cap = 1 << 20, n = 0;
    char *all = calloc(cap, 1);
    cJSON *row;
    while (rlc_jsonl_next(&r, &row) > 0) {
        for (cJSON *e = row->child, *nx; e; e = nx) { /* the timings: t_* and tok_per_s */
            nx = e->next;
            if (e->string && (!strncmp(e->string, "t_", 2) || !strcmp(e->string, "tok_per_s")))
                cJSON_Delete(cJSON_DetachItemViaPointer(row, e));
        }
        char *s = cJSON_PrintUnformatted(row);
        n += (size_t)snprintf(all + n, cap - n, "%s\n", s);
        free(s);
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    free(p);
    return all;
}

/* Two runs' metrics (timings aside) and final weights at step `step` are identical. */
static void expect_same_runs(const char *a, const char *b, int step) {
    char *ma = metrics_without_timing(a), *mb = metrics_without_timing(b);
    if (strcmp(ma, mb)) fail_msg("metrics differ:\n%s\nvs\n%s", ma, mb);
    char rel[64];
    snprintf(rel, sizeof rel, "checkpoints/step-%06d/model.safetensors", step);
    char *fa = fs_join(a, rel), *fb = fs_join(b, rel), *xa, *xb;
    size_t na, nb;
    assert_int_equal(fs_read_all(fa, &xa, &na), 0);
    assert_int_equal(fs_read_all(fb, &xb, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(xa, xb, na);
    free(xa), free(xb), free(fa), free(fb), free(ma), free(mb);
}

static void test_grpo_run_and_resume(void **s) {
    (void)s;
    char *a = fs_join(g_dir, "runA"), *b = fs_join(g_dir, "runB");
    train(a, "--total-steps 4 --save-every 2", 0);
    /* metrics.jsonl: one line per step with the documented fields */
    char *mp = fs_join(a, "metrics.jsonl");
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, mp), 0);
    cJSON *row;
    int lines = 0;
    while (rlc_jsonl_next(&r, &row) > 0) {
        lines++;
        const char *need[] = {"step", "reward_mean", "acc", "kept_frac", "pass_hist", "kl", "entropy", "clip_frac",
                              "grad_norm", "lr", "tokens_gen", "t_rollout", "t_train", "t_total", "tok_per_s",
                              "logp_gap_mean", "logp_gap_max", "logp_gap_kl"};
        for (int i = 0; i < 18; i++)
            if (!cJSON_GetObjectItem(row, need[i])) fail_msg("metrics line %d lacks %s", lines, need[i]);
        assert_int_equal(cJSON_GetObjectItem(row, "step")->valueint, lines);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(row, "pass_hist")), 5); /* G + 1 bins */
        /* the engine and the trainer differ by summation order only on the CPU */
        double gap = cJSON_GetObjectItem(row, "logp_gap_max")->valuedouble;
        if (!(gap >= 0 && gap < 1e-4)) fail_msg("step %d: log-prob gap %g", lines, gap);
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    assert_int_equal(lines, 4);
    /* checkpoints: keep-last default leaves step 4; it loads as an HF directory with tokenizer */
    char *ck = fs_join(a, "checkpoints/step-000004");
    assert_true(fs_is_dir(ck));
    rlc_backend_t *be;
    assert_int_equal(rlc_backend_create(&be, "cpu", 0, 2), 0);
    rlc_model_t *m;
    if (rlc_model_load(&m, ck, be)) fail_msg("checkpoint does not load");
    rlc_model_free(m);
    rlc_backend_destroy(be);
    char *tj = fs_join(ck, "tokenizer.json"), *sp = fs_join(a, "samples.jsonl"), *cj = fs_join(a, "config.json");
    assert_true(fs_exists(tj));
    assert_true(fs_exists(sp));
    assert_true(fs_exists(cj));
    /* the day chat templates show is pinned to the run's first day and recorded */
    cJSON *conf = rlc_json_load_file(cj);
    assert_non_null(conf);
    struct tm day;
    const cJSON *cd = cJSON_GetObjectItem(conf, "chat_date");
    if (!cJSON_IsString(cd) || rlc_parse_day(cd->valuestring, &day)) fail_msg("config.json: chat_date missing or no day");
    cJSON_Delete(conf);
    /* interrupted run: 2 steps, then --resume to 4: identical metrics (timings aside) */
    train(b, "--total-steps 2 --save-every 2", 0);
    char out[16384];
    int rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 4 --save-every 2", rlc_bin(), b);
    if (rc) fail_msg("resume failed: %s", out);
    expect_same_runs(a, b, 4); /* metrics (timings aside) and the final weights */
    free(tj), free(sp), free(cj), free(ck), free(mp);
    free(a), free(b);
}

/* MRT: with nothing chosen (mrt_fraction 0) a run is bit-identical to one without MRT; with
 * MRT on (a format reward whose forced answers vary, so the dense terms are nonzero), a run
 * interrupted at step 2 and resumed is bit-identical to an uninterrupted one. */
static void test_mrt_runs(void **s) {
    (void)s;
    char *off = fs_join(g_dir, "mrt_off"), *zero = fs_join(g_dir, "mrt_zero"), *a = fs_join(g_dir, "mrt_a"),
         *b = fs_join(g_dir, "mrt_b");
    train(off, "--total-steps 2", 0);
    train(zero, "--total-steps 2 --mrt-alpha 1 --mrt-fraction 0", 0);
    expect_same_runs(off, zero, 2);
    const char *mrt = "--mrt-alpha 1 --mrt-samples 4 --mrt-gap 0 --mrt-answer-tokens 6 --mrt-termination '\nAnswer: ' "
                      "--reward '{\"kind\": \"format\", \"options\": {\"require\": \"answer_line\"}}'";
    char extra[512];
    snprintf(extra, sizeof extra, "--total-steps 4 --save-every 2 %s", mrt);
    train(a, extra, 0);
    snprintf(extra, sizeof extra, "--total-steps 2 --save-every 2 %s", mrt);
    train(b, extra, 0);
    char out[16384];
    int rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 4 --save-every 2", rlc_bin(), b);
    if (rc) fail_msg("resume failed: %s", out);
    char *m = metrics_without_timing(a);
    assert_non_null(strstr(m, "\"mrt/progress\""));
    assert_non_null(strstr(m, "\"reward/dense_sum\"")); /* the dense path really ran */
    free(m);
    expect_same_runs(a, b, 4);
    free(off), free(zero), free(a), free(b);
}

/* The parameters of two model directories are bit-identical. */
static int same_params(const char *a, const char *b) {
    rlc_backend_t *be;
    assert_int_equal(rlc_backend_create(&be, "cpu", 0, 1), 0);
    rlc_model_t *x, *y;
    if (rlc_model_load(&x, a, be) || rlc_model_load(&y, b, be)) fail_msg("%s", rlc_errmsg());
    int same = x->n_params == y->n_params && !memcmp(x->params, y->params, x->n_params * sizeof(float));
    rlc_model_free(x), rlc_model_free(y);
    rlc_backend_destroy(be);
    return same;
}

/* OREAL on a briefly warm-started model (so groups mix correct and wrong samples): the
 * reward-model warm-up leaves the policy bit-identical while the reward model trains; the
 * kept groups are mixed; an interrupted and resumed run equals an uninterrupted one,
 * reward model included; OREAL with PPO-only or entropy settings is refused. */
static void test_oreal_runs(void **s) {
    (void)s;
    char *sft = fs_join(g_dir, "oreal_sft"), *w = fs_join(g_dir, "oreal_w"), *a = fs_join(g_dir, "oreal_a"),
         *b = fs_join(g_dir, "oreal_b"), out[16384];
    int rc = test_run(out, sizeof out,
                      "%s sft --model %s --data %s --run-dir %s --template raw --steps 150 --batch-size 16 "
                      "--micro-batch 16 --lr 3e-3 --threads 2 --save-every 0",
                      rlc_bin(), fixture("models/qwen2-tiny"), g_data, sft);
    if (rc) fail_msg("sft: %s", out);
    char flags[1024];
    const char *base = "--algo oreal --template raw --group-size 4 --prompts-per-step 3 --micro-batch 3 "
                       "--max-new-tokens 28 --temperature 1.5 --lr 1e-3 --oreal-rm-lr 1e-2 --kl-coef 0.01 "
                       "--kl-estimator k3 --threads 2 --seed 11";
    snprintf(flags, sizeof flags, "%s --oreal-rm-warmup-steps 2 --total-steps 2 --save-every 2", base);
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), sft, g_data, w, flags);
    if (rc) fail_msg("oreal: %s", out);
    char *ck = fs_join(w, "checkpoints/step-000002"), *rm = fs_join(ck, "reward_model"), *init = fs_join(sft, "checkpoints/step-000150");
    assert_true(same_params(ck, init));   /* the policy did not move */
    assert_true(fs_is_dir(rm));
    cJSON *m = first_metrics(w);
    const cJSON *cf = cJSON_GetObjectItem(m, "oreal/correct_frac");
    assert_non_null(cf);
    assert_true(cf->valuedouble > 0 && cf->valuedouble < 1); /* only mixed groups are kept */
    assert_non_null(cJSON_GetObjectItem(m, "oreal/rm_acc"));
    cJSON_Delete(m);
    snprintf(flags, sizeof flags, "%s --oreal-rm-warmup-steps 1 --total-steps 4 --save-every 2", base);
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), sft, g_data, a, flags);
    if (rc) fail_msg("oreal: %s", out);
    snprintf(flags, sizeof flags, "%s --oreal-rm-warmup-steps 1 --total-steps 2 --save-every 2", base);
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), sft, g_data, b, flags);
    if (rc) fail_msg("oreal: %s", out);
    rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 4 --save-every 2", rlc_bin(), b);
    if (rc) fail_msg("resume failed: %s", out);
    expect_same_runs(a, b, 4);
    char *ra = fs_join(a, "checkpoints/step-000004/reward_model"), *rb = fs_join(b, "checkpoints/step-000004/reward_model");
    assert_true(same_params(ra, rb));
    char *ia = fs_join(a, "checkpoints/step-000004");
    assert_false(same_params(ia, init)); /* after the warm-up the policy trains */
    test_expect_cli_error("entropy", "%s train --model %s --data %s --run-dir %s/x %s --entropy-coef 0.01", rlc_bin(), sft,
                          g_data, g_dir, base);
    free(ck), free(rm), free(init), free(ra), free(rb), free(ia), free(sft), free(w), free(a), free(b);
}

static void test_algorithms_run(void **s) {
    (void)s;
    const char *algos[] = {"--algo drgrpo --loss-agg seq-mean-token-sum-norm", "--algo rloo --loss-agg seq-mean-token-mean",
                           "--algo reinforce++ --dynamic-sampling", "--algo ppo --critic-lr 1e-3",
                           "--balanced-filter --pass-low 0 --pass-high 1 --overlong-buffer 4 --mask-truncated",
                           "--behavior-logprobs engine", "--is-correction mis --is-level sequence --is-cap 1.5",
                           "--exact-on-policy", "--exact-on-policy --ppo-epochs 2"};
    for (int i = 0; i < 9; i++) {
        char run[64], extra[256];
        snprintf(run, sizeof run, "alg%d", i);
        char *d = fs_join(g_dir, run);
        snprintf(extra, sizeof extra, "--total-steps 2 %s", algos[i]);
        train(d, extra, 0);
        char *mp = fs_join(d, "metrics.jsonl");
        char *txt;
        size_t n;
        assert_int_equal(fs_read_all(mp, &txt, &n), 0);
        assert_non_null(strstr(txt, "\"step\":2"));
        if (i == 3) assert_non_null(strstr(txt, "value_loss"));
        if (i >= 5) assert_non_null(strstr(txt, "\"logp_gap_mean\""));
        if (i == 6) assert_non_null(strstr(txt, "\"is_frac\":0")); /* a CPU gap of ~1e-6 masks nothing */
        if (i >= 7) { /* exact_on_policy: the trainer's log-probs are the engine's, on- and off-policy */
            rlc_jsonl_t r;
            cJSON *row;
            int rows = 0;
            assert_int_equal(rlc_jsonl_open(&r, mp), 0);
            while (rlc_jsonl_next(&r, &row) > 0) {
                rows++;
                assert_true(cJSON_GetObjectItem(row, "logp_gap_max")->valuedouble == 0);
                assert_true(cJSON_GetObjectItem(row, "logp_gap_kl")->valuedouble == 0);
                cJSON_Delete(row);
            }
            rlc_jsonl_close(&r);
            assert_int_equal(rows, 2);
        }
        free(txt), free(mp), free(d);
    }
}

static void test_sigkill_then_resume(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "killed");
    srand((unsigned)time(NULL));
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            char cmd[4096];
            if (round == 0) /* a fresh run, checkpointing every step */
                snprintf(cmd, sizeof cmd,
                         "exec %s train --model %s --data %s --run-dir %s %s --total-steps 40 --save-every 1 > /dev/null 2>&1",
                         rlc_bin(), fixture("models/qwen2-tiny"), g_data, run, COMMON);
            else /* its resumption, killed again */
                snprintf(cmd, sizeof cmd, "exec %s train --resume %s > /dev/null 2>&1", rlc_bin(), run);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        /* once the run has a checkpoint (up to 120 s on a loaded machine), kill it at a
         * random moment: mid-step, often mid-checkpoint (it saves every step) */
        char *latest = fs_join(run, "checkpoints/latest");
        for (int i = 0; i < 12000 && !fs_exists(latest); i++) usleep(10000);
        free(latest);
        usleep((useconds_t)(rand() % 1500000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    /* whatever moment the kill hit, the newest complete checkpoint loads and resume finishes */
    char out[16384];
    int rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 42", rlc_bin(), run);
    if (rc) fail_msg("resume after SIGKILL failed: %s", out);
    assert_non_null(strstr(out, "resuming"));
    char *ck = fs_join(run, "checkpoints/step-000042");
    assert_true(fs_is_dir(ck));
    free(ck);
    free(run);
}

/* rlc sft --mask-tool-output: the tool outputs inside responses (as the engine renders them)
 * leave the loss, exactly their tokens; the rest trains as before. */
static void test_sft_mask_tool_output(void **s) {
    (void)s;
    char *data = fs_join(g_dir, "tooltrace.jsonl"), *a = fs_join(g_dir, "sft_nomask"), *b = fs_join(g_dir, "sft_mask");
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    for (int i = 0; i < 8; i++)
        fprintf(f,
                "{\"prompt\": \"Compute %d * 7.\", \"response\": \"```python\\nprint(%d * 7)\\n```\\n```output\\n%d\\n```\\n"
                "The answer is \\\\boxed{%d}.\"}\n",
                i + 3, i + 3, (i + 3) * 7, (i + 3) * 7);
    fclose(f);
    char out[16384];
    const char *fl = "--steps 1 --batch-size 8 --micro-batch 8 --lr 1e-3 --quiet --threads 2 --save-every 0";
    int rc = test_run(out, sizeof out, "%s sft --model %s --data %s --run-dir %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), data, a, fl);
    if (rc) fail_msg("sft: %s", out);
    rc = test_run(out, sizeof out, "%s sft --model %s --data %s --run-dir %s %s --mask-tool-output --tool-format code",
                  rlc_bin(), fixture("models/qwen2-tiny"), data, b, fl);
    if (rc) fail_msg("sft: %s", out);
    cJSON *ma = first_metrics(a), *mb = first_metrics(b);
    double na = cJSON_GetObjectItem(ma, "loss_tokens")->valuedouble, nb = cJSON_GetObjectItem(mb, "loss_tokens")->valuedouble;
    /* each response's output block "\n```output\nNN\n```\n" is masked: its tokens, counted by hand */
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("models/qwen2-tiny")), 0);
    double want = 0;
    for (int i = 0; i < 8; i++) {
        char blk[64];
        snprintf(blk, sizeof blk, "\n```output\n%d\n```\n", (i + 3) * 7);
        int32_t *ids;
        int n;
        assert_int_equal(tok_encode(tok, blk, strlen(blk), 0, &ids, &n), 0);
        want += n;
        free(ids);
    }
    tok_free(tok);
    if (na - nb != want) fail_msg("masked %g tokens, want %g", na - nb, want);
    test_expect_cli_error("unknown tool format", "%s sft --model %s --data %s --run-dir %s/x %s --tool-format nope", rlc_bin(),
                          fixture("models/qwen2-tiny"), data, g_dir, fl);
    cJSON_Delete(ma), cJSON_Delete(mb);
    free(data), free(a), free(b);
}

static void test_sft(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "sft");
    char out[16384];
    int rc = test_run(out, sizeof out,
                      "%s sft --model %s --data %s --run-dir %s --steps 30 --batch-size 8 --micro-batch 4 --lr 3e-3 "
                      "--warmup-steps 3 --max-len 64 --quiet --threads 2",
                      rlc_bin(), fixture("models/qwen2-tiny"), g_data, run);
    if (rc) fail_msg("sft failed: %s", out);
    char *mp = fs_join(run, "metrics.jsonl");
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, mp), 0);
    cJSON *row;
    double first = 0, last = 0;
    int n = 0;
    while (rlc_jsonl_next(&r, &row) > 0) {
        double l = cJSON_GetObjectItem(row, "loss")->valuedouble;
        if (!n) first = l;
        last = l;
        n++;
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    assert_int_equal(n, 30);
    assert_true(last < 0.7 * first); /* it learns the worked solutions */
    char *ck = fs_join(run, "checkpoints/step-000030/model.safetensors");
    assert_true(fs_exists(ck));
    free(ck), free(mp), free(run);
}

/* rlc sft on the chat layouts of TRL and verl: a conversation ("messages"), chat-message
 * prompts with a text or one-message completion, contents as lists of text parts, all give
 * the very examples that the qwen-math-cot template makes of problem/solution (same loss
 * and loss tokens at step 1). */
static void test_sft_chat_layouts(void **s) {
    (void)s;
    const char *names[] = {"plain", "messages", "prompt_completion", "prompt_completion_msg", "content_parts"};
    double loss[5], ntok[5];
    for (int k = 0; k < 5; k++) {
        char file[64], out[16384];
        snprintf(file, sizeof file, "sft_%s.jsonl", names[k]);
        char *data = fs_join(g_dir, file), *run = fs_join(g_dir, file + 4);
        FILE *f = fopen(data, "w");
        assert_non_null(f);
        for (int i = 0; i < 8; i++) {
            char q[64], a[96], sys[] = "Please reason step by step, and put your final answer within \\\\boxed{}.";
            snprintf(q, sizeof q, "Compute %d + %d.", i + 10, 2 * i + 3);
            snprintf(a, sizeof a, "%d + %d = %d\\nThe answer is \\\\boxed{%d}.", i + 10, 2 * i + 3, 3 * i + 13, 3 * i + 13);
            if (k == 0) fprintf(f, "{\"problem\": \"%s\", \"solution\": \"%s\"}\n", q, a);
            const char *pmsgs = "[{\"role\": \"system\", \"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"%s\"}";
            char pm[512];
            snprintf(pm, sizeof pm, pmsgs, sys, q);
            if (k == 1) fprintf(f, "{\"messages\": %s, {\"role\": \"assistant\", \"content\": \"%s\"}]}\n", pm, a);
            if (k == 2) fprintf(f, "{\"prompt\": %s], \"completion\": \"%s\"}\n", pm, a);
            if (k == 3) fprintf(f, "{\"prompt\": %s], \"completion\": [{\"role\": \"assistant\", \"content\": \"%s\"}]}\n", pm, a);
            const char *part = "[{\"type\": \"text\", \"text\": \"%s\"}]";
            char ps[256], pq[128], pa[192];
            snprintf(ps, sizeof ps, part, sys), snprintf(pq, sizeof pq, part, q), snprintf(pa, sizeof pa, part, a);
            if (k == 4)
                fprintf(f, "{\"messages\": [{\"role\": \"system\", \"content\": %s}, {\"role\": \"user\", \"content\": %s}, "
                        "{\"role\": \"assistant\", \"content\": %s}]}\n", ps, pq, pa);
        }
        fclose(f);
        int rc = test_run(out, sizeof out,
                          "%s sft --model %s --data %s --run-dir %s --steps 1 --batch-size 8 --micro-batch 8 --lr 1e-3 "
                          "--quiet --threads 2 --save-every 0 --template %s",
                          rlc_bin(), fixture("models/qwen2-tiny"), data, run, k ? "raw" : "qwen-math-cot");
        if (rc) fail_msg("sft %s: %s", names[k], out);
        cJSON *m = first_metrics(run);
        loss[k] = cJSON_GetObjectItem(m, "loss")->valuedouble;
        ntok[k] = cJSON_GetObjectItem(m, "loss_tokens")->valuedouble;
        cJSON_Delete(m);
        free(data), free(run);
    }
    for (int k = 1; k < 5; k++) {
        if (loss[k] != loss[0] || ntok[k] != ntok[0])
            fail_msg("%s: loss %.9g over %g tokens, problem/solution %.9g over %g", names[k], loss[k], ntok[k], loss[0], ntok[0]);
    }
    /* a conversation that does not end with the assistant: one line naming the field */
    char *bad = fs_join(g_dir, "sft_bad.jsonl");
    FILE *f = fopen(bad, "w");
    fputs("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n", f);
    fclose(f);
    test_expect_cli_error("no assistant turn", "%s sft --model %s --data %s --run-dir %s/sft_bad --steps 1 --strict",
                          rlc_bin(), fixture("models/qwen2-tiny"), bad, g_dir);
    free(bad);
}

static void expect_config_error(const char *flags, const char *needle) {
    char out[16384];
    char *run = fs_join(g_dir, "bad");
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), g_data, run, flags);
    if (rc == 0 || !strstr(out, needle)) fail_msg("flags '%s': rc %d, output '%s' lacks '%s'", flags, rc, out, needle);
    assert_false(fs_exists(run)); /* rejected before anything was written */
    free(run);
}

static void test_bad_config(void **s) {
    (void)s;
    expect_config_error("--group-size 1", "group_size");
    expect_config_error("--chat-date 31/12/2024", "chat_date = '31/12/2024'");
    expect_config_error("--clip-low 0", "clip_low");
    expect_config_error("--prompts-per-step 3 --group-size 4 --micro-batch 3 --mini-batch 5", "mini_batch");
    expect_config_error("--clip-hihg 0.3", "unknown");
    expect_config_error("--loss-agg sum", "loss_agg");
    char *empty = fs_join(g_dir, "empty.jsonl");
    fs_write_atomic(empty, "{\"x\": 1}\n", 9);
    char out[8192];
    char *run = fs_join(g_dir, "bad2");
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), empty, run);
    assert_true(rc != 0);
    assert_non_null(strstr(out, "no usable"));
    assert_false(fs_exists(run));
    free(empty), free(run);
}

/* One flag grammar for train and sft: every boolean's --no- form works on the command line
 * (the resolved config.json says so), and unknown flags get a suggestion of their polarity. */
static void test_flag_grammar(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "flags");
    train(run,
          "--total-steps 1 --dynamic-sampling --balanced-filter --mask-truncated --recompute --no-dynamic-sampling "
          "--no-balanced-filter --no-mask-truncated --no-recompute",
          0);
    char *cp = fs_join(run, "config.json"), *txt;
    size_t n;
    assert_int_equal(fs_read_all(cp, &txt, &n), 0);
    cJSON *j = cJSON_Parse(txt);
    assert_non_null(j);
    const char *keys[] = {"dynamic_sampling", "balanced_filter", "mask_truncated", "recompute"};
    for (int i = 0; i < 4; i++)
        if (!cJSON_IsFalse(cJSON_GetObjectItem(j, keys[i]))) fail_msg("%s is not false in %s", keys[i], txt);
    cJSON_Delete(j);
    free(txt), free(cp), free(run);
    test_expect_cli_error("unknown flag --no-dynamic-samplng (did you mean --no-dynamic-sampling?)",
                          "%s train --model %s --data %s --no-dynamic-samplng", rlc_bin(), fixture("models/qwen2-tiny"),
                          g_data);
    test_expect_cli_error("unknown flag --no-lr (lr is not a boolean: give it a value)",
                          "%s train --model %s --data %s --no-lr", rlc_bin(), fixture("models/qwen2-tiny"), g_data);
    test_expect_cli_error("unknown flag --bach-size (did you mean --batch-size?)", "%s sft --model %s --data %s "
                          "--run-dir x --bach-size 4", rlc_bin(), fixture("models/qwen2-tiny"), g_data);
    test_expect_cli_error("sft: epochs = 0: must be at least 1", "%s sft --model %s --data %s --run-dir x --epochs 0",
                          rlc_bin(), fixture("models/qwen2-tiny"), g_data);
}

/* `rlc demo --quick`: every phase runs, the three problem sets are pairwise disjoint, the
 * report has before/after numbers, the final model is an HF directory. (The learning claim
 * itself takes minutes and is measured by running the demo; see README.) */
static void test_demo_quick(void **s) {
    (void)s;
    char *d = fs_join(g_dir, "demo");
    char out[65536];
    int rc = test_run(out, sizeof out, "%s demo --quick --dir %s --threads 2", rlc_bin(), d);
    if (rc) fail_msg("demo failed: %s", out);
    assert_non_null(strstr(out, "before GRPO:"));
    assert_non_null(strstr(out, "after GRPO:"));
    const char *names[3] = {"sft.jsonl", "rl.jsonl", "heldout.jsonl"};
    cJSON *sets[3];
    for (int k = 0; k < 3; k++) {
        char *p = fs_join(d, names[k]);
        rlc_jsonl_t r;
        assert_int_equal(rlc_jsonl_open(&r, p), 0);
        sets[k] = cJSON_CreateObject();
        cJSON *row;
        while (rlc_jsonl_next(&r, &row) > 0) {
            const char *prob = cJSON_GetObjectItem(row, "problem")->valuestring;
            if (!cJSON_GetObjectItem(sets[k], prob)) cJSON_AddTrueToObject(sets[k], prob);
            cJSON_Delete(row);
        }
        rlc_jsonl_close(&r);
        assert_true(cJSON_GetArraySize(sets[k]) > 0);
        free(p);
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            for (cJSON *x = sets[a]->child; x; x = x->next)
                if (cJSON_GetObjectItem(sets[b], x->string)) fail_msg("%s in both %s and %s", x->string, names[a], names[b]);
    for (int k = 0; k < 3; k++) cJSON_Delete(sets[k]);
    char *ck = fs_join(d, "grpo/checkpoints/step-000003/config.json");
    assert_true(fs_exists(ck));
    free(ck);
    /* --arch: the same demo on a Gemma 3-shaped tiny model (a few steps); an unknown one is refused */
    char *d3 = fs_join(g_dir, "demo-gemma3");
    rc = test_run(out, sizeof out,
                  "%s demo --quick --arch gemma3 --sft-steps 4 --rl-steps 1 --train-size 60 --rl-size 40 --eval-size 8 "
                  "--dir %s --threads 2",
                  rlc_bin(), d3);
    if (rc || !strstr(out, "after GRPO:") || !strstr(out, "tiny gemma3-shaped model"))
        fail_msg("demo --arch gemma3 failed: %s", out);
    ck = fs_join(d3, "grpo/checkpoints/step-000001/config.json");
    cJSON *cj = rlc_json_load_file(ck);
    assert_non_null(cj);
    assert_string_equal(cJSON_GetObjectItem(cj, "model_type")->valuestring, "gemma3_text");
    cJSON_Delete(cj);
    free(ck), free(d3);
    rc = test_run(out, sizeof out, "%s demo --quick --arch gpt2 --dir %s", rlc_bin(), d);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "--arch: qwen2, llama, gemma3, olmo2, gemma2, glm4, ernie4_5, qwen3_moe, glm4_moe, "
                                "ernie4_5_moe or deepseek_v3 (got 'gpt2')"));
    /* under mpirun the demo refuses (N copies would share its directory) and writes nothing */
    char *d2 = fs_join(g_dir, "demo-mpi");
    rc = test_run(out, sizeof out, "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 %s demo --quick --dir %s", rlc_bin(),
                  d2);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "one process"));
    assert_false(fs_exists(d2));
    free(d2);
    free(d);
}

/* `rlc demo --task mrt --quick`: both runs happen from one warm start, the report compares
 * pass@1 and tokens, the MRT run logged its episodes and progress; the warm-start solutions
 * really contain re-checks. */
static void test_demo_mrt_quick(void **s) {
    (void)s;
    char *d = fs_join(g_dir, "demo_mrt");
    char out[65536];
    int rc = test_run(out, sizeof out, "%s demo --task mrt --quick --dir %s --threads 2", rlc_bin(), d);
    if (rc) fail_msg("demo failed: %s", out);
    assert_non_null(strstr(out, "GRPO + MRT"));
    assert_non_null(strstr(out, "tokens/sample after"));
    char *m = fs_join(d, "grpo_mrt/metrics.jsonl"), *m0 = fs_join(d, "grpo_no_mrt/metrics.jsonl"),
         *sft = fs_join(d, "mrt_sft.jsonl"), *txt;
    size_t n;
    assert_int_equal(fs_read_all(m, &txt, &n), 0);
    assert_non_null(strstr(txt, "\"mrt/episodes\""));
    free(txt);
    assert_int_equal(fs_read_all(m0, &txt, &n), 0);
    assert_null(strstr(txt, "\"mrt/"));
    free(txt);
    assert_int_equal(fs_read_all(sft, &txt, &n), 0);
    assert_non_null(strstr(txt, "Wait, let me check."));
    free(txt);
    free(m), free(m0), free(sft), free(d);
}

/* `rlc demo --task tools --quick`: both runs from one warm start, the report compares pass@1
 * and tool calls, the OTC run logged its factor; the warm-start traces answer every product
 * through the tool (0-call traces only for the problems that need none). */
/* One quick tools demo in a call format: both arms ran with their OTC setting, and every
 * product's warm-start trace calls the tool in that format. */
static void demo_tools_quick(const char *format, const char *call) {
    char sub[64];
    snprintf(sub, sizeof sub, "demo_tools_%s", format);
    char *d = fs_join(g_dir, sub);
    char out[65536];
    int rc = test_run(out, sizeof out,
                      "%s demo --task tools --quick --dir %s --threads 2 --prompts-per-step 2 --group-size 4 "
                      "--train-size 200 --rl-size 50 --eval-size 4 --tool-format %s",
                      rlc_bin(), d, format);
    if (rc) fail_msg("demo failed: %s", out);
    assert_non_null(strstr(out, "GRPO + OTC-GRPO"));
    assert_non_null(strstr(out, "calls/sample after"));
    char *m = fs_join(d, "grpo_otc/metrics.jsonl"), *c0 = fs_join(d, "grpo_no_otc/config.json"),
         *c1 = fs_join(d, "grpo_otc/config.json"), *sft = fs_join(d, "tools_sft.jsonl"), *txt;
    size_t n;
    assert_int_equal(fs_read_all(m, &txt, &n), 0);
    assert_non_null(strstr(txt, "\"tool_calls_mean\""));
    free(txt);
    const char *cfg[2] = {c0, c1}, *otc[2] = {"off", "grpo"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fs_read_all(cfg[i], &txt, &n), 0);
        cJSON *j = cJSON_Parse(txt);
        assert_string_equal(cJSON_GetObjectItem(j, "otc")->valuestring, otc[i]);
        assert_string_equal(cJSON_GetObjectItem(j, "tools")->valuestring, "python");
        assert_string_equal(cJSON_GetObjectItem(j, "tool_format")->valuestring, format);
        cJSON_Delete(j);
        free(txt);
    }
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, sft), 0);
    cJSON *row = NULL;
    int easy_none = 0, products = 0;
    while (rlc_jsonl_next(&r, &row) > 0) {
        int easy = cJSON_IsTrue(cJSON_GetObjectItem(row, "easy"));
        const char *sol = cJSON_GetObjectItem(row, "solution")->valuestring;
        int calls = strstr(sol, call) != NULL;
        if (!easy) assert_true(calls), products++;
        easy_none += easy && !calls;
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    assert_true(products > 0 && easy_none > 0);
    free(m), free(c0), free(c1), free(sft), free(d);
}

static void test_demo_tools_quick(void **s) {
    (void)s;
    demo_tools_quick("code", "```python\nprint(");
    demo_tools_quick("hermes", "<tool_call>\n{\"name\": \"python\", \"arguments\": {\"code\": \"print(");
    test_expect_cli_error("no Llama 3 tokens", "%s demo --task tools --tool-format llama3 --dir %s/x", rlc_bin(), g_dir);
    test_expect_cli_error("goes with --task tools", "%s demo --tool-format hermes --dir %s/x", rlc_bin(), g_dir);
}

/* First-step metrics of a run (one line of metrics.jsonl), parsed. */
static cJSON *first_metrics(const char *run) {
    char *p = fs_join(run, "metrics.jsonl");
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, p), 0);
    cJSON *row = NULL;
    assert_true(rlc_jsonl_next(&r, &row) > 0);
    rlc_jsonl_close(&r);
    free(p);
    return row;
}

/* micro_tokens regroups the forward/backward passes by a token budget: the same rollouts,
 * the same loss and gradient (only the order of summation changes), and a smaller
 * activation reservation (one sequence instead of micro_batch of them). */
static void test_micro_tokens(void **s) {
    (void)s;
    char *a = fs_join(g_dir, "mtA"), *b = fs_join(g_dir, "mtB");
    char out[16384];
    const char *base = "--total-steps 1 --save-every 0 --max-prompt-len 40";
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), g_data, a, COMMON, base);
    if (rc) fail_msg("%s", out);
    if (!strstr(out, "activations reserved for 156 tokens (3 sequences x 52)")) fail_msg("reservation: %s", out);
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s %s --micro-tokens 30", rlc_bin(),
                  fixture("models/qwen2-tiny"), g_data, b, COMMON, base);
    if (rc) fail_msg("%s", out);
    if (!strstr(out, "activations reserved for 52 tokens (micro_tokens 30")) fail_msg("reservation: %s", out);
    cJSON *ma = first_metrics(a), *mb = first_metrics(b);
    const char *same[] = {"reward_mean", "tokens_gen", "tokens_train", "resp_len_mean"};
    for (int i = 0; i < 4; i++)
        assert_true(cJSON_GetObjectItem(ma, same[i])->valuedouble == cJSON_GetObjectItem(mb, same[i])->valuedouble);
    const char *close[] = {"loss", "grad_norm", "kl", "entropy"};
    for (int i = 0; i < 4; i++) {
        double x = cJSON_GetObjectItem(ma, close[i])->valuedouble, y = cJSON_GetObjectItem(mb, close[i])->valuedouble;
        if (fabs(x - y) > 1e-5 * (fabs(x) + 1e-3)) fail_msg("%s: %.9g vs %.9g with micro_tokens", close[i], x, y);
    }
    cJSON_Delete(ma);
    cJSON_Delete(mb);
    expect_config_error("--micro-tokens -1", "micro_tokens");
    free(a);
    free(b);
}

/* A run whose weights blow up (lr 1e30) stops at the first non-finite gradient with one
 * clear line and a non-zero exit; the checkpoint before it stays complete. */
static void test_nan_stops_cleanly(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "nan");
    char out[16384];
    int rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s --total-steps 4 --save-every 1 --lr 1e30 "
                      "--ppo-epochs 1 --mini-batch 0",
                      rlc_bin(), fixture("models/qwen2-tiny"), g_data, run, COMMON);
    assert_int_equal(rc, 1);
    if (!strstr(out, "rlc: error: step 2") || !strstr(out, "non-finite gradient")) fail_msg("%s", out);
    char *dir = NULL;
    long step = 0;
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_int_equal(step, 1);
    free(dir);
    free(run);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpo_run_and_resume), cmocka_unit_test(test_algorithms_run), cmocka_unit_test(test_mrt_runs), cmocka_unit_test(test_demo_mrt_quick), cmocka_unit_test(test_demo_tools_quick), cmocka_unit_test(test_oreal_runs),
        cmocka_unit_test(test_sigkill_then_resume), cmocka_unit_test(test_sft), cmocka_unit_test(test_sft_mask_tool_output), cmocka_unit_test(test_sft_chat_layouts), cmocka_unit_test(test_flag_grammar),
        cmocka_unit_test(test_bad_config), cmocka_unit_test(test_demo_quick), cmocka_unit_test(test_micro_tokens),
        cmocka_unit_test(test_nan_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
