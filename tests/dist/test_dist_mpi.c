/* Data-parallel training under `mpirun` (label mpi), on the tiny fixture model with a small
 * synthetic dataset:
 *   (a) -np 2 generates exactly the step-1 rollouts and rewards of one process, and after 3
 *       steps its weights equal one process's within a tight tolerance (only the order in
 *       which gradients are summed differs; see weights_close);
 *   (b) both ranks hold bit-identical weights (the run checks every rank's hash at each
 *       checkpoint; dist_collectives shows the check catches one flipped bit);
 *   (c) -np 2 for 2 steps, then --resume to 4, gives the uninterrupted -np 2 run's metrics
 *       and weights exactly; a resume with another world size continues the same rollouts;
 *   (d) an error on one rank (a bad data path, an overlong prompt mid-run, a configuration
 *       that differs) ends every rank promptly with one error line; a SIGTERM on one rank
 *       stops every rank after one complete checkpoint.
 * Skipped (77) when MPI was not built or Open MPI's mpirun is missing. */
#include "testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "dist/dist.h"
#include "model/model.h"
#include "rl/ckpt.h"

static char *g_dir, *g_data;
static char g_mpirun[2048];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- runs */

/* Common settings. The rewards come from DAPO's overlong shaping (a random model's answers
 * are never right, its lengths vary), and the KL and entropy terms add gradient everywhere. */
static const char *GRPO = "--template raw --group-size 4 --prompts-per-step 5 --micro-batch 2 --max-new-tokens 16 "
                          "--lr 1e-2 --kl-coef 0.01 --entropy-coef 0.01 --overlong-buffer 12 --threads 1 --seed 3 "
                          "--log-samples 5 --save-every 0";
static const double LR = 1e-2;

static int train(char *out, size_t cap, int np, const char *run, const char *extra) {
    if (np == 0)
        return test_run(out, cap, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(),
                        fixture("models/qwen2-tiny"), g_data, run, extra);
    return test_run(out, cap, "timeout 60 %s -np %d %s train --model %s --data %s --run-dir %s %s", g_mpirun, np,
                    rlc_bin(), fixture("models/qwen2-tiny"), g_data, run, extra);
}

static void train_ok(int np, const char *run, const char *extra, char *log, size_t cap) {
    char buf[32768];
    if (!log) log = buf, cap = sizeof buf;
    int rc = train(log, cap, np, run, extra);
    if (rc) fail_msg("rlc train (-np %d) exited %d: %s", np, rc, log);
}

/* metrics.jsonl lines, timings removed. */
static cJSON *metrics(const char *run) {
    char *p = fs_join(run, "metrics.jsonl");
    rlc_jsonl_t r;
    if (rlc_jsonl_open(&r, p)) fail_msg("%s: cannot read", p);
    cJSON *all = cJSON_CreateArray(), *row;
    while (rlc_jsonl_next(&r, &row) > 0) {
        const char *drop[] = {"t_rollout", "t_score", "t_train", "t_total", "tok_per_s", "t_mrt"};
        for (int i = 0; i < 6; i++) cJSON_DeleteItemFromObject(row, drop[i]);
        cJSON_AddItemToArray(all, row);
    }
    rlc_jsonl_close(&r);
    free(p);
    return all;
}

/* The fields of a step that depend on the rollouts and rewards alone. */
static const char *const ROLLOUT_KEYS[] = {"reward_mean", "reward_std",    "acc",           "kept_frac",
                                           "pass_hist",   "gen_rounds",    "resp_len_mean", "resp_len_max",
                                           "truncated_frac", "tokens_gen", "tokens_train",  NULL};

static void rollout_fields_equal(const cJSON *a, const cJSON *b, int step) {
    const cJSON *x = cJSON_GetArrayItem(a, step - 1), *y = cJSON_GetArrayItem(b, step - 1);
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; ROLLOUT_KEYS[i]; i++) {
        const cJSON *u = cJSON_GetObjectItem(x, ROLLOUT_KEYS[i]), *v = cJSON_GetObjectItem(y, ROLLOUT_KEYS[i]);
        if (!u || !v || !cJSON_Compare(u, v, 1)) {
            char *su = u ? cJSON_PrintUnformatted(u) : NULL, *sv = v ? cJSON_PrintUnformatted(v) : NULL;
            fail_msg("step %d %s: %s vs %s", step, ROLLOUT_KEYS[i], su ? su : "(none)", sv ? sv : "(none)");
        }
    }
}

/* samples.jsonl lines of one step, as text. */
static char *samples_of_step(const char *run, int step) {
    char *p = fs_join(run, "samples.jsonl"), *text;
    size_t n;
    if (fs_read_all(p, &text, &n)) fail_msg("%s: cannot read", p);
    free(p);
    char *out = calloc(n + 1, 1), *line = text, key[32];
    snprintf(key, sizeof key, "{\"step\":%d,", step);
    size_t o = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (!strncmp(line, key, strlen(key))) memcpy(out + o, line, len), o += len;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return out;
}

/* Parameters of a model directory as host floats (the CPU backend keeps them on the host). */
typedef struct {
    rlc_backend_t *be;
    rlc_model_t *m;
} loaded_t;

static loaded_t load(const char *dir) {
    loaded_t l = {0};
    assert_int_equal(rlc_backend_create(&l.be, "cpu", 0, 1), 0);
    if (rlc_model_load(&l.m, dir, l.be)) fail_msg("%s does not load: %s", dir, rlc_errmsg());
    return l;
}

static void unload(loaded_t *l) {
    rlc_model_free(l->m);
    rlc_backend_destroy(l->be);
}

/* The weights of two runs agree within the tolerance of a different gradient summation
 * order. float32 sums taken in another order differ in their last bits; AdamW divides each
 * weight's update by sqrt(v) + eps, which leaves that noise tiny except for the few weights
 * whose gradient is itself at the eps scale (a sum that nearly cancels), where it can change
 * the update by a fraction of lr. So: the difference is at most 1e-3 of the whole update in
 * L2, at most 0.1% of the weights differ by more than 1e-3·lr·steps, and none by half the
 * most an AdamW step can move it (lr per step). Measured over 8 seeds: L2 1e-6 (GRPO) to
 * 1.3e-4 (SFT), at most 3 weights of 120k beyond the threshold; one process with another
 * micro_batch differs from itself as much. The runs must also have moved the weights. */
static void weights_close_from(const char *dir_a, const char *dir_b, const char *init, double lr, int steps) {
    loaded_t a = load(dir_a), b = load(dir_b), w0 = load(init);
    assert_int_equal(a.m->n_params, b.m->n_params);
    const float *pa = a.m->params, *pb = b.m->params, *p0 = w0.m->params;
    size_t n = a.m->n_params, far = 0, n0 = w0.m->n_params;
    double dmax = 0, num = 0, den = 0, moved = 0, thr = 1e-3 * lr * steps;
    for (size_t i = 0; i < n; i++) {
        /* a model that gained a head (a reward model) has parameters its start lacks: from 0 */
        double d = fabs((double)pa[i] - pb[i]), u = (double)pa[i] - (i < n0 ? p0[i] : 0.0f);
        if (d > dmax || d != d) dmax = d;
        far += !(d <= thr);
        num += d * d;
        den += u * u;
        if (fabs(u) > moved) moved = fabs(u);
    }
    double rel = den > 0 ? sqrt(num / den) : INFINITY;
    print_message("  weights after %d steps: diff/update in L2 %.3g (bound 1e-3); %zu of %zu differ by more than "
                  "%.3g (bound 0.1%%); max |diff| %.3g = %.3g lr*steps (bound 0.5); largest update %.3g\n",
                  steps, rel, far, n, thr, dmax, dmax / (lr * steps), moved);
    if (!(moved > 0.1 * lr)) fail_msg("the weights barely moved (%g): the test would prove nothing", moved);
    if (!(rel <= 1e-3)) fail_msg("diff/update %g exceeds 1e-3", rel);
    if (!((double)far <= 1e-3 * (double)n)) fail_msg("%zu weights differ by more than %g", far, thr);
    if (!(dmax <= 0.5 * lr * steps)) fail_msg("max |diff| %g exceeds %g", dmax, 0.5 * lr * steps);
    unload(&a), unload(&b), unload(&w0);
}

/* Runs that started from the qwen2-tiny fixture. */
static void weights_close(const char *dir_a, const char *dir_b, double lr, int steps) {
    weights_close_from(dir_a, dir_b, fixture("models/qwen2-tiny"), lr, steps);
}

static int count_lines_with(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* ---------------------------------------------------------------- tests */

static void test_collectives(void **s) {
    (void)s;
    const char *prog = getenv("RLC_DIST_COLLECTIVES");
    assert_non_null(prog);
    for (int np = 2; np <= 3; np++) {
        char out[8192];
        int rc = test_run(out, sizeof out, "timeout 60 %s -np %d %s", g_mpirun, np, prog);
        if (rc || !strstr(out, "dist_collectives: ok")) fail_msg("-np %d: exit %d: %s", np, rc, out);
    }
}

/* (a) and (b) with GRPO, 5 prompts over 2 ranks (3 + 2 groups). */
static void test_grpo_np2_equals_np1(void **s) {
    (void)s;
    char *r1 = fs_join(g_dir, "grpo1"), *r2 = fs_join(g_dir, "grpo2"), extra[1024], log[32768];
    snprintf(extra, sizeof extra, "%s --total-steps 3", GRPO);
    double t = now_s();
    train_ok(0, r1, extra, NULL, 0);
    double t1 = now_s();
    train_ok(2, r2, extra, log, sizeof log);
    print_message("  -np 1: %.2f s, -np 2: %.2f s (mpirun included)\n", t1 - t, now_s() - t1);
    cJSON *m1 = metrics(r1), *m2 = metrics(r2);
    assert_int_equal(cJSON_GetArraySize(m1), 3);
    assert_int_equal(cJSON_GetArraySize(m2), 3);
    rollout_fields_equal(m1, m2, 1);
    char *s1 = samples_of_step(r1, 1), *s2 = samples_of_step(r2, 1);
    assert_int_equal(count_lines_with(s1, "\n"), 5); /* every group's first completion */
    assert_string_equal(s1, s2);
    /* rank 0 alone printed the step log */
    assert_int_equal(count_lines_with(log, "step 1 |"), 1);
    /* (b): the ranks' weights hash the same at the final checkpoint */
    if (!strstr(log, "step 3: weights identical on all 2 ranks")) fail_msg("no replica check in: %s", log);
    char *c1 = fs_join(r1, "checkpoints/step-000003"), *c2 = fs_join(r2, "checkpoints/step-000003");
    weights_close(c1, c2, LR, 3);
    cJSON_Delete(m1), cJSON_Delete(m2);
    free(s1), free(s2), free(c1), free(c2), free(r1), free(r2);
}

/* MRT over 2 ranks: each rank forks and scores its own groups' branches, seeded by the
 * group's global slot, so step 1's rollouts, MRT metrics and dense totals are those of one
 * process (the means may differ in the last bits: their sums are merged in another order). */
static void test_mrt_np2_equals_np1(void **s) {
    (void)s;
    char *r1 = fs_join(g_dir, "mrt1"), *r2 = fs_join(g_dir, "mrt2"), extra[1024];
    snprintf(extra, sizeof extra,
             "%s --seed 4 --total-steps 1 --mrt-alpha 1 --mrt-samples 3 --mrt-gap 0 --mrt-answer-tokens 12 "
             "--mrt-termination '\nAnswer: ' --reward '{\"kind\": \"format\", \"options\": {\"require\": "
             "\"answer_line\"}}'",
             GRPO);
    train_ok(0, r1, extra, NULL, 0);
    train_ok(2, r2, extra, NULL, 0);
    cJSON *m1 = metrics(r1), *m2 = metrics(r2);
    rollout_fields_equal(m1, m2, 1);
    const char *keys[] = {"mrt/episodes", "mrt/progress", "mrt/J_prompt", "mrt/J_first", "mrt/J_last", "reward/dense_sum"};
    const cJSON *a = cJSON_GetArrayItem(m1, 0), *b = cJSON_GetArrayItem(m2, 0);
    for (int i = 0; i < 6; i++) {
        const cJSON *u = cJSON_GetObjectItem(a, keys[i]), *v = cJSON_GetObjectItem(b, keys[i]);
        if (!u || !v) fail_msg("%s missing", keys[i]);
        if (fabs(u->valuedouble - v->valuedouble) > 1e-12) fail_msg("%s: %.17g vs %.17g", keys[i], u->valuedouble, v->valuedouble);
    }
    cJSON_Delete(m1), cJSON_Delete(m2);
    free(r1), free(r2);
}

/* (a) with REINFORCE++ and G = 1: samples.jsonl then holds every rollout of the step with
 * its reward, and the advantages are whitened over both ranks' tokens. (The seed gives
 * step 1 varied rewards: a step without policy gradient leaves only KL gradients of ~1e-8
 * at step 2, where Adam's eps-level normalisation turns rounding noise into whole steps,
 * between any two summation orders, one process or many.) */
static void test_reinforcepp_every_rollout(void **s) {
    (void)s;
    char *r1 = fs_join(g_dir, "rpp1"), *r2 = fs_join(g_dir, "rpp2");
    const char *extra = "--algo reinforce++ --template raw --group-size 1 --prompts-per-step 8 --micro-batch 2 "
                        "--max-new-tokens 16 --lr 1e-2 --kl-coef 0.01 --overlong-buffer 12 --threads 1 --seed 6 "
                        "--log-samples 8 --total-steps 3 --save-every 0";
    train_ok(0, r1, extra, NULL, 0);
    train_ok(2, r2, extra, NULL, 0);
    cJSON *m1 = metrics(r1), *m2 = metrics(r2);
    rollout_fields_equal(m1, m2, 1);
    char *s1 = samples_of_step(r1, 1), *s2 = samples_of_step(r2, 1);
    assert_int_equal(count_lines_with(s1, "\n"), 8);
    assert_string_equal(s1, s2);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(m1, 0), "reward_std")->valuedouble > 0);
    char *c1 = fs_join(r1, "checkpoints/step-000003"), *c2 = fs_join(r2, "checkpoints/step-000003");
    weights_close(c1, c2, LR, 3);
    cJSON_Delete(m1), cJSON_Delete(m2);
    free(s1), free(s2), free(c1), free(c2), free(r1), free(r2);
}

/* (c): resume at the same world size is exact; at another world size the rollouts go on. */
static void test_resume(void **s) {
    (void)s;
    char *u = fs_join(g_dir, "resU"), *r = fs_join(g_dir, "resR"), *q = fs_join(g_dir, "resQ"), extra[1024];
    char out[32768];
    snprintf(extra, sizeof extra, "%s --save-every 2", GRPO);
    char e4[1100], e2[1100];
    snprintf(e4, sizeof e4, "%s --total-steps 4", extra);
    snprintf(e2, sizeof e2, "%s --total-steps 2", extra);
    train_ok(2, u, e4, NULL, 0);
    train_ok(2, r, e2, NULL, 0);
    train_ok(2, q, e2, NULL, 0);
    int rc = test_run(out, sizeof out, "timeout 60 %s -np 2 %s train --resume %s --total-steps 4", g_mpirun,
                      rlc_bin(), r);
    if (rc) fail_msg("resume -np 2 exited %d: %s", rc, out);
    rc = test_run(out, sizeof out, "%s train --resume %s --total-steps 4", rlc_bin(), q);
    if (rc) fail_msg("resume -np 1 exited %d: %s", rc, out);
    cJSON *mu = metrics(u), *mr = metrics(r), *mq = metrics(q);
    char *a = cJSON_PrintUnformatted(mu), *b = cJSON_PrintUnformatted(mr);
    if (strcmp(a, b)) fail_msg("resumed -np 2 metrics differ:\n%s\nvs\n%s", a, b);
    char *wu = fs_join(u, "checkpoints/step-000004/model.safetensors"),
         *wr = fs_join(r, "checkpoints/step-000004/model.safetensors");
    char *xa, *xb;
    size_t na, nb;
    assert_int_equal(fs_read_all(wu, &xa, &na), 0);
    assert_int_equal(fs_read_all(wr, &xb, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(xa, xb, na);
    /* -np 2 checkpoint resumed by one process: step 3 samples the same rollouts */
    assert_int_equal(cJSON_GetArraySize(mq), 4);
    rollout_fields_equal(mu, mq, 3);
    char *cu = fs_join(u, "checkpoints/step-000004"), *cq = fs_join(q, "checkpoints/step-000004");
    weights_close(cu, cq, LR, 4);
    cJSON_Delete(mu), cJSON_Delete(mr), cJSON_Delete(mq);
    free(a), free(b), free(wu), free(wr), free(xa), free(xb), free(cu), free(cq), free(u), free(r), free(q);
}

/* (d): one rank fails; every rank exits non-zero promptly, one error line names the rank. */
static void expect_failure(const char *what, const char *cmd, const char *needle) {
    char out[32768];
    double t = now_s();
    int rc = test_run(out, sizeof out, "%s", cmd);
    double el = now_s() - t;
    print_message("  %s: exit %d after %.2f s\n", what, rc, el);
    if (rc == 0 || rc == 124 || rc == 137) fail_msg("%s: exit %d (want a prompt failure): %s", what, rc, out);
    if (el > 30) fail_msg("%s: took %.1f s", what, el);
    if (count_lines_with(out, "rlc: error") != 1) fail_msg("%s: want one error line: %s", what, out);
    if (!strstr(out, needle)) fail_msg("%s: no '%s' in: %s", what, needle, out);
}

static void test_error_on_one_rank(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "err"), cmd[8192], base[2048];
    snprintf(base, sizeof base, "%s train --model %s --run-dir %s --template raw --group-size 4 --prompts-per-step 2 "
                                "--micro-batch 2 --max-new-tokens 16 --threads 1 --total-steps 3",
             rlc_bin(), fixture("models/qwen2-tiny"), run);
    /* a data file that rank 1 cannot open (Open MPI's MPMD syntax: one command per rank) */
    snprintf(cmd, sizeof cmd, "timeout 60 %s -np 1 %s --data %s : -np 1 %s --data %s/nonexistent.jsonl", g_mpirun, base,
             g_data, base, g_dir);
    expect_failure("bad data path on rank 1", cmd, "rlc: error: rank 1: ");
    /* a prompt longer than max_prompt_len: skipped with a warning (the run trains on the
     * rest), and with --strict fatal on every rank before step 1, one error line naming it */
    char *longp = fs_join(g_dir, "long.jsonl");
    FILE *f = fopen(longp, "w");
    fprintf(f, "{\"problem\": \"Compute 1 + 2.\", \"answer\": \"3\"}\n{\"problem\": \"Compute");
    for (int i = 0; i < 60; i++) fprintf(f, " %d +", i);
    fprintf(f, " 0.\", \"answer\": \"1770\"}\n");
    fclose(f);
    fs_rm_rf(run);
    char out[32768];
    snprintf(cmd, sizeof cmd, "timeout 60 %s -np 2 %s --data %s --max-prompt-len 40 --seed 3", g_mpirun, base, longp);
    if (test_run(out, sizeof out, "%s", cmd)) fail_msg("a skipped overlong row stopped the run: %s", out);
    if (!strstr(out, "long.jsonl:2: prompt of 234 tokens exceeds max_prompt_len 40; row skipped")) fail_msg("%s", out);
    fs_rm_rf(run);
    snprintf(cmd, sizeof cmd, "timeout 60 %s -np 2 %s --data %s --max-prompt-len 40 --seed 3 --strict", g_mpirun, base,
             longp);
    expect_failure("overlong prompt under --strict", cmd, "long.jsonl:2: prompt of 234 tokens exceeds max_prompt_len 40");
    /* ranks that were given different settings */
    fs_rm_rf(run);
    snprintf(cmd, sizeof cmd, "timeout 60 %s -np 1 %s --data %s --lr 1e-3 : -np 1 %s --data %s --lr 2e-3", g_mpirun,
             base, g_data, base, g_data);
    expect_failure("different configurations", cmd, "\"lr\": 0.001 vs \"lr\": 0.002");
    free(longp);
    free(run);
}

/* A SIGTERM to rank 1 alone: every rank stops after the same step with one complete
 * checkpoint (exit 143 = 128 + SIGTERM on every rank), and the run resumes from it. */
static void test_sigterm_one_rank(void **s) {
    (void)s;
    char *run = fs_join(g_dir, "sig"), *pidf = fs_join(g_dir, "sig.pid"), *rcf = fs_join(g_dir, "sig.rc"),
         *logf = fs_join(g_dir, "sig.log"), *mp = fs_join(run, "metrics.jsonl"), cmd[8192], base[2048];
    snprintf(base, sizeof base, "%s train --model %s --data %s --run-dir %s --template raw --group-size 4 "
                                "--prompts-per-step 2 --micro-batch 2 --max-new-tokens 16 --threads 1 --total-steps "
                                "100000 --save-every 0",
             rlc_bin(), fixture("models/qwen2-tiny"), g_data, run);
    snprintf(cmd, sizeof cmd,
             "( timeout 60 %s -np 1 %s : -np 1 sh -c 'echo $$ > %s; exec %s' > %s 2>&1; echo $? > %s ) &", g_mpirun,
             base, pidf, base, logf, rcf);
    assert_int_equal(system(cmd), 0);
    /* wait until training is under way, then signal rank 1 only */
    int lines = 0;
    for (int i = 0; i < 600 && lines < 2; i++) {
        char *t = NULL;
        size_t tn;
        if (fs_read_all(mp, &t, &tn) == 0) lines = count_lines_with(t, "\n");
        free(t);
        if (lines < 2) usleep(50000);
    }
    if (lines < 2) fail_msg("the run did not start");
    char *ps;
    size_t n;
    assert_int_equal(fs_read_all(pidf, &ps, &n), 0);
    pid_t pid = (pid_t)atol(ps);
    free(ps);
    assert_true(pid > 1);
    assert_int_equal(kill(pid, SIGTERM), 0);
    char *rcs = NULL;
    for (int i = 0; i < 600 && fs_read_all(rcf, &rcs, &n); i++) usleep(50000);
    if (!rcs) fail_msg("no exit within 30 s of the signal");
    char *log;
    assert_int_equal(fs_read_all(logf, &log, &n), 0);
    if (atoi(rcs) != 143) fail_msg("exit %s (want 143): %s", rcs, log);
    if (!strstr(log, "interrupted at step")) fail_msg("no interruption message: %s", log);
    /* the newest checkpoint verifies in full, and no temporary directory is left over */
    char *dir = NULL;
    long step = 0;
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_true(step >= 2);
    char *ck = fs_join(run, "checkpoints");
    char out[32768];
    assert_int_equal(test_run(out, sizeof out, "ls %s", ck), 0);
    if (strstr(out, ".tmp")) fail_msg("a temporary checkpoint was left behind: %s", out);
    int rc = test_run(out, sizeof out, "timeout 60 %s -np 2 %s train --resume %s --total-steps %ld", g_mpirun,
                      rlc_bin(), run, step + 1);
    if (rc) fail_msg("resume after the signal exited %d: %s", rc, out);
    free(dir), free(ck), free(log), free(rcs), free(run), free(pidf), free(rcf), free(logf), free(mp);
}

/* `rlc sft` under mpirun: each rank a share of every batch, the same update as one process. */
static void test_sft(void **s) {
    (void)s;
    char *r1 = fs_join(g_dir, "sft1"), *r2 = fs_join(g_dir, "sft2"), out[32768];
    const char *extra = "--template raw --steps 3 --batch-size 6 --micro-batch 2 --lr 1e-3 --threads 1";
    int rc = test_run(out, sizeof out, "%s sft --model %s --data %s --run-dir %s %s", rlc_bin(),
                      fixture("models/qwen2-tiny"), g_data, r1, extra);
    if (rc) fail_msg("sft exited %d: %s", rc, out);
    rc = test_run(out, sizeof out, "timeout 60 %s -np 2 %s sft --model %s --data %s --run-dir %s %s", g_mpirun,
                  rlc_bin(), fixture("models/qwen2-tiny"), g_data, r2, extra);
    if (rc) fail_msg("sft -np 2 exited %d: %s", rc, out);
    if (!strstr(out, "step 3: weights identical on all 2 ranks")) fail_msg("no replica check in: %s", out);
    cJSON *m1 = metrics(r1), *m2 = metrics(r2);
    const cJSON *a = cJSON_GetArrayItem(m1, 0), *b = cJSON_GetArrayItem(m2, 0);
    double l1 = cJSON_GetObjectItem(a, "loss")->valuedouble, l2 = cJSON_GetObjectItem(b, "loss")->valuedouble;
    assert_true(fabs(l1 - l2) <= 1e-6 * fabs(l1));
    assert_int_equal(cJSON_GetObjectItem(a, "tokens_train")->valueint,
                     cJSON_GetObjectItem(b, "tokens_train")->valueint);
    char *c1 = fs_join(r1, "checkpoints/step-000003"), *c2 = fs_join(r2, "checkpoints/step-000003");
    weights_close(c1, c2, 1e-3, 3);
    cJSON_Delete(m1), cJSON_Delete(m2);
    free(c1), free(c2), free(r1), free(r2);
}

/* OREAL under mpirun: the token reward model's gradients are summed over ranks like the
 * policy's; from one warm start, 2 ranks give one process's rollouts and reward-model
 * metrics, and weights (policy and reward model) within summation-order tolerance. */
static void test_oreal(void **s) {
    (void)s;
    char *sft = fs_join(g_dir, "oreal_sft"), *r1 = fs_join(g_dir, "oreal1"), *r2 = fs_join(g_dir, "oreal2"), out[32768];
    int rc = test_run(out, sizeof out,
                      "%s sft --model %s --data %s --run-dir %s --template raw --steps 150 --batch-size 16 "
                      "--micro-batch 16 --lr 3e-3 --threads 1 --save-every 0",
                      rlc_bin(), fixture("models/qwen2-tiny"), g_data, sft);
    if (rc) fail_msg("sft: %s", out);
    const char *extra = "--algo oreal --template raw --group-size 4 --prompts-per-step 5 --micro-batch 2 "
                        "--max-new-tokens 28 --temperature 1.5 --lr 1e-3 --oreal-rm-lr 1e-2 --kl-coef 0.01 "
                        "--kl-estimator k3 --oreal-rm-warmup-steps 1 --threads 1 --seed 3 --total-steps 2 --save-every 0";
    char *ck = fs_join(sft, "checkpoints/step-000150");
    rc = test_run(out, sizeof out, "%s train --model %s --data %s --run-dir %s %s", rlc_bin(), ck, g_data, r1, extra);
    if (rc) fail_msg("oreal -np 1: %s", out);
    rc = test_run(out, sizeof out, "timeout 60 %s -np 2 %s train --model %s --data %s --run-dir %s %s", g_mpirun,
                  rlc_bin(), ck, g_data, r2, extra);
    if (rc) fail_msg("oreal -np 2: %s", out);
    cJSON *m1 = metrics(r1), *m2 = metrics(r2);
    rollout_fields_equal(m1, m2, 1);
    const char *keys[] = {"oreal/rm_loss", "oreal/rm_acc", "oreal/correct_frac"};
    for (int step = 0; step < 2; step++)
        for (int i = 0; i < 3; i++) {
            const cJSON *u = cJSON_GetObjectItem(cJSON_GetArrayItem(m1, step), keys[i]),
                        *v = cJSON_GetObjectItem(cJSON_GetArrayItem(m2, step), keys[i]);
            if (!u || !v) fail_msg("step %d: %s missing", step + 1, keys[i]);
            if (step == 0 && fabs(u->valuedouble - v->valuedouble) > 1e-9)
                fail_msg("%s: %.17g vs %.17g", keys[i], u->valuedouble, v->valuedouble);
        }
    char *p1 = fs_join(r1, "checkpoints/step-000002"), *p2 = fs_join(r2, "checkpoints/step-000002");
    char *q1 = fs_join(p1, "reward_model"), *q2 = fs_join(p2, "reward_model");
    weights_close_from(q1, q2, ck, 1e-2, 2); /* both started from the SFT checkpoint (+ a zero head) */
    weights_close_from(p1, p2, ck, 1e-3, 1);
    cJSON_Delete(m1), cJSON_Delete(m2);
    free(sft), free(r1), free(r2), free(ck), free(p1), free(p2), free(q1), free(q2);
}

static void test_info(void **s) {
    (void)s;
    char out[4096];
    assert_int_equal(test_run(out, sizeof out, "%s info --json", rlc_bin()), 0);
    assert_non_null(strstr(out, "\"mpi_compiled\":true"));
    assert_int_equal(test_run(out, sizeof out, "%s info", rlc_bin()), 0);
    assert_non_null(strstr(out, "data parallel: none, mpi"));
}

/* ---------------------------------------------------------------- setup */

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

/* Open MPI's mpirun with what a container and a 2-core CI box need: quiet, oversubscribed,
 * unbound, shared-memory transport without CMA, idle ranks yielding, and root allowed when
 * we are root. */
static int find_mpirun(void) {
    const char *m = getenv("RLC_MPIEXEC");
    if (!m || !m[0]) m = "mpirun";
    char out[4096];
    /* "mpirun (Open MPI) 4.1.4", "mpiexec (OpenRTE) 4.1.4 ... open-mpi.org" */
    if (test_run(out, sizeof out, "%s --version", m) != 0 ||
        !(strstr(out, "Open MPI") || strstr(out, "OpenRTE") || strstr(out, "open-mpi.org"))) {
        printf("skipped: no Open MPI mpirun (%s --version: %.200s)\n", m, out);
        return 77;
    }
    setenv("OMPI_MCA_btl", "self,vader", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    setenv("OMPI_MCA_plm", "isolated", 1);
    /* ranks waiting in a collective yield the core instead of spinning on it: the suite runs
     * other tests beside this one on 2 cores */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    snprintf(g_mpirun, sizeof g_mpirun, "%s -q --oversubscribe --bind-to none%s", m,
             geteuid() == 0 ? " --allow-run-as-root" : "");
    return 0;
}

/* Two checkpoints' weights files, byte for byte. */
static void same_weights(const char *run_a, const char *run_b, const char *ckpt) {
    char *wa = fs_join(run_a, ckpt), *wb = fs_join(run_b, ckpt), *xa, *xb;
    size_t na, nb;
    assert_int_equal(fs_read_all(wa, &xa, &na), 0);
    assert_int_equal(fs_read_all(wb, &xb, &nb), 0);
    assert_int_equal(na, nb);
    if (memcmp(xa, xb, na)) fail_msg("%s and %s differ", wa, wb);
    free(xa), free(xb), free(wa), free(wb);
}

/* ZeRO: -np 2 stage 1 takes exactly the steps of -np 2 stage 0 (the same all-reduced
 * gradients, the same AdamW arithmetic per weight, only split across ranks); -np 3 stage 2
 * (uneven shards, reduce-scattered gradients: another summation order) stays within the
 * tolerance of weights_close; a stage-2 -np 2 run checkpointed at step 2 resumes at -np 3
 * with stage 0 (the gathered optimizer state re-partitioned) and ends close to the
 * uninterrupted stage-0 run. */
static void test_zero(void **s) {
    (void)s;
    char *r0 = fs_join(g_dir, "zero0"), *r1 = fs_join(g_dir, "zero1"), *r2 = fs_join(g_dir, "zero2");
    char *rr = fs_join(g_dir, "zero_resume"), extra[1024], log[32768];
    snprintf(extra, sizeof extra, "%s --total-steps 4 --save-every 2", GRPO);
    train_ok(2, r0, extra, NULL, 0);
    snprintf(extra, sizeof extra, "%s --total-steps 4 --save-every 2 --zero-stage 1", GRPO);
    train_ok(2, r1, extra, log, sizeof log);
    assert_non_null(strstr(log, "ZeRO stage 1"));
    snprintf(extra, sizeof extra, "%s --total-steps 4 --save-every 2 --zero-stage 2", GRPO);
    train_ok(3, r2, extra, log, sizeof log);
    assert_non_null(strstr(log, "ZeRO stage 2"));
    same_weights(r0, r1, "checkpoints/step-000004/model.safetensors"); /* stage 1 = stage 0, bit for bit */
    char *c0 = fs_join(r0, "checkpoints/step-000004"), *c2 = fs_join(r2, "checkpoints/step-000004");
    weights_close(c0, c2, LR, 4);
    /* stage 2 at -np 2 for 2 steps, then -np 3 stage 0 from its checkpoint to step 4 */
    snprintf(extra, sizeof extra, "%s --total-steps 2 --save-every 2 --zero-stage 2", GRPO);
    train_ok(2, rr, extra, NULL, 0);
    int rc = test_run(log, sizeof log, "timeout 60 %s -np 3 %s train --resume %s --total-steps 4 --save-every 2 --zero-stage 0",
                      g_mpirun, rlc_bin(), rr);
    if (rc) fail_msg("resume at -np 3: %s", log);
    char *cr = fs_join(rr, "checkpoints/step-000004");
    weights_close(c0, cr, LR, 4);
    /* the per-rank optimizer shards: -np 3 stage 2 resumed at -np 3 stage 2 from step 2 ends
     * on the uninterrupted run's bytes; a checkpoint missing a shard file does not verify, so
     * a resume names the file and takes the checkpoint before it (one process, stage 0) */
    char *rx = fs_join(g_dir, "zero_exact");
    snprintf(extra, sizeof extra, "%s --total-steps 2 --save-every 2 --zero-stage 2", GRPO);
    train_ok(3, rx, extra, NULL, 0);
    char *sh = fs_join(rx, "checkpoints/step-000002/policy.optim-00001-of-00003.safetensors");
    assert_true(fs_exists(sh));
    rc = test_run(log, sizeof log, "timeout 60 %s -np 3 %s train --resume %s --total-steps 4 --save-every 2", g_mpirun,
                  rlc_bin(), rx);
    if (rc) fail_msg("resume at -np 3 stage 2: %s", log);
    same_weights(r2, rx, "checkpoints/step-000004/model.safetensors");
    char *sh4 = fs_join(rx, "checkpoints/step-000004/policy.optim-00001-of-00003.safetensors"),
         *bak = fs_join(g_dir, "shard.bak");
    assert_int_equal(rename(sh4, bak), 0);
    rc = test_run(log, sizeof log, "%s train --resume %s --total-steps 3", rlc_bin(), rx);
    if (rc || !strstr(log, "step-000004: policy.optim-00001-of-00003.safetensors is missing") ||
        !strstr(log, "checkpoints/step-000002 (step 2)"))
        fail_msg("a checkpoint without one of its shards is skipped for the one before: exit %d: %s", rc, log);
    free(c0), free(c2), free(cr), free(r0), free(r1), free(r2), free(rr), free(rx), free(sh), free(sh4), free(bak);
}

/* The gradient exchange (rl/gradsync.c) overlapped with backward on its thread gives the
 * same bytes as the same exchange inline (the same windows, the same sums): stage 0 at -np 2
 * on the tied model, stage 2 at -np 3 on an untied one in small buckets (the embedding shares
 * the head's staging slot; uneven shards and micro-batch counts). Stage 2 stays within
 * weights_close of stage 0 there. A failure injected in one rank's backward pass mid-update
 * stops every rank with one error line. */
static void test_zero_overlap(void **s) {
    (void)s;
    static const char *const RUNS[] = {"ov0_on", "ov0_off", "ov2_on", "ov2_off", "ov2_st0"};
    char *run[5], extra[1024], log[32768];
    for (int i = 0; i < 5; i++) run[i] = fs_join(g_dir, RUNS[i]);
    snprintf(extra, sizeof extra, "%s --total-steps 3", GRPO);
    train_ok(2, run[0], extra, log, sizeof log);
    assert_non_null(strstr(log, "gradient exchange: overlapped with backward"));
    snprintf(extra, sizeof extra, "%s --total-steps 3 --overlap-comm false", GRPO);
    train_ok(2, run[1], extra, log, sizeof log);
    assert_non_null(strstr(log, "inline (overlap_comm is off)"));
    same_weights(run[0], run[1], "checkpoints/step-000003/model.safetensors");
    /* qwen2-tiny with its own LM head: a fresh model with the fixture's tokenizer */
    char *cfgp = fs_join(g_dir, "untied.json"), *untied = fs_join(g_dir, "untied"), *txt;
    size_t len;
    assert_int_equal(fs_read_all(fixture("models/qwen2-tiny/config.json"), &txt, &len), 0);
    cJSON *cj = cJSON_Parse(txt);
    assert_non_null(cj);
    cJSON_ReplaceItemInObject(cj, "tie_word_embeddings", cJSON_CreateFalse());
    char *out = cJSON_Print(cj);
    FILE *f = fopen(cfgp, "w");
    fputs(out, f);
    fclose(f);
    free(out), free(txt), cJSON_Delete(cj);
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --tokenizer %s --seed 5", rlc_bin(), cfgp, untied,
                 fixture("models/qwen2-tiny")))
        fail_msg("init-model: %s", log);
    for (int i = 2; i < 5; i++) {
        snprintf(extra, sizeof extra, "%s --total-steps 3 --zero-stage %d --reduce-bucket-mb 0.01 --overlap-comm %s",
                 GRPO, i == 4 ? 0 : 2, i == 3 ? "false" : "true");
        int rc = test_run(log, sizeof log, "timeout 60 %s -np 3 %s train --model %s --data %s --run-dir %s %s",
                          g_mpirun, rlc_bin(), untied, g_data, run[i], extra);
        if (rc) fail_msg("-np 3 %s: %s", RUNS[i], log);
        if (i == 2) assert_non_null(strstr(log, "gradient shard"));
    }
    same_weights(run[2], run[3], "checkpoints/step-000003/model.safetensors");
    char *c2 = fs_join(run[2], "checkpoints/step-000003"), *c0 = fs_join(run[4], "checkpoints/step-000003");
    weights_close_from(c0, c2, untied, LR, 3);
    free(c2), free(c0);
    /* rank 1 fails in its third backward pass (step 1's second update has begun), with the
     * exchange of the earlier layers already under way */
    char *err = fs_join(g_dir, "ov_err"), cmd[8192], base[2048];
    snprintf(base, sizeof base, "%s train --model %s --data %s --run-dir %s %s --total-steps 2 --zero-stage 2",
             rlc_bin(), untied, g_data, err, GRPO);
    snprintf(cmd, sizeof cmd, "timeout 60 %s -np 1 %s : -np 1 env RLC_FAULT_BACKWARD=3 %s", g_mpirun, base, base);
    expect_failure("a failure in one rank's backward", cmd, "rlc: error: rank 1: injected failure in backward pass 3");
    for (int i = 0; i < 5; i++) free(run[i]);
    free(err), free(cfgp), free(untied);
}

/* ZeRO stage 2 on architectures whose layers do not start with input_layernorm (OLMo 2: no
 * norms before the blocks, q/k norms over whole projections) or hold four norms (Gemma 3:
 * post-norms, (1 + w) norms, GeGLU): the gradient staging follows each layer's first parameter,
 * and -np 3 stage 2 ends within weights_close of -np 3 stage 0; and a mixture of experts (Qwen3-MoE:
 * 4 experts, 2 per token, whose gradients each rank reduces as any other). The models are
 * qwen2-tiny's config under the other model types (Gemma 3's defaults fill what it lacks:
 * head_dim 256), randomly initialised, with its tokenizer. */
static void test_zero_archs(void **s) {
    (void)s;
    const char *types[] = {"olmo2", "gemma3_text", "qwen3_moe"};
    char log[32768], extra[1024];
    for (int t = 0; t < 3; t++) {
        char name[64];
        snprintf(name, sizeof name, "arch_%s", types[t]);
        char *cfgp = fs_join(g_dir, "arch.json"), *init = fs_join(g_dir, name), *txt;
        size_t len;
        assert_int_equal(fs_read_all(fixture("models/qwen2-tiny/config.json"), &txt, &len), 0);
        cJSON *cj = cJSON_Parse(txt);
        assert_non_null(cj);
        cJSON_ReplaceItemInObject(cj, "model_type", cJSON_CreateString(types[t]));
        cJSON_DeleteItemFromObject(cj, "layer_types");
        cJSON_DeleteItemFromObject(cj, "sliding_window");
        cJSON_AddItemToObject(cj, "sliding_window", cJSON_CreateNumber(12)); /* Gemma 3: layer 0 slides */
        cJSON_AddItemToObject(cj, "sliding_window_pattern", cJSON_CreateNumber(2));
        if (t == 2) {
            cJSON_AddItemToObject(cj, "num_experts", cJSON_CreateNumber(4));
            cJSON_AddItemToObject(cj, "num_experts_per_tok", cJSON_CreateNumber(2));
            cJSON_AddItemToObject(cj, "moe_intermediate_size", cJSON_CreateNumber(48));
            cJSON_AddItemToObject(cj, "norm_topk_prob", cJSON_CreateTrue());
        }
        char *out = cJSON_Print(cj);
        assert_int_equal(fs_write_atomic(cfgp, out, strlen(out)), 0);
        free(out), free(txt), cJSON_Delete(cj);
        if (test_run(log, sizeof log, "%s init-model --config %s --out %s --tokenizer %s --seed 7", rlc_bin(), cfgp,
                     init, fixture("models/qwen2-tiny")))
            fail_msg("init-model %s: %s", types[t], log);
        char *run[2];
        for (int z = 0; z < 2; z++) {
            snprintf(name, sizeof name, "arch_%s_z%d", types[t], z * 2);
            run[z] = fs_join(g_dir, name);
            snprintf(extra, sizeof extra, "%s --total-steps 3 --zero-stage %d --reduce-bucket-mb 0.01", GRPO, z * 2);
            if (test_run(log, sizeof log, "timeout 60 %s -np 3 %s train --model %s --data %s --run-dir %s %s", g_mpirun,
                         rlc_bin(), init, g_data, run[z], extra))
                fail_msg("-np 3 %s stage %d: %s", types[t], z * 2, log);
        }
        char *c0 = fs_join(run[0], "checkpoints/step-000003"), *c2 = fs_join(run[1], "checkpoints/step-000003");
        weights_close_from(c0, c2, init, LR, 3);
        free(c0), free(c2), free(run[0]), free(run[1]), free(cfgp), free(init);
    }
}

int main(void) {
    if (!dist_mpi_compiled()) {
        printf("skipped: this build has no MPI transport (install libopenmpi-dev and rebuild)\n");
        return 77;
    }
    int rc = find_mpirun();
    if (rc) return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collectives),
        cmocka_unit_test(test_grpo_np2_equals_np1),
        cmocka_unit_test(test_reinforcepp_every_rollout),
        cmocka_unit_test(test_mrt_np2_equals_np1),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_zero_overlap),
        cmocka_unit_test(test_zero_archs),
        cmocka_unit_test(test_error_on_one_rank),
        cmocka_unit_test(test_sigterm_one_rank),
        cmocka_unit_test(test_sft),
        cmocka_unit_test(test_oreal),
        cmocka_unit_test(test_info),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
