/* rl/ckpt: a checkpoint round-trips weights, AdamW state, RNG streams and loop state bit for
 * bit; training resumed from it continues exactly (also when the weights are saved in bf16);
 * keep-last-K, leftovers, damaged and incomplete directories; tokenizer files survive
 * pruning; SIGINT/SIGTERM handling; and a torture test that SIGKILLs a writer at random
 * moments and checks that the newest loadable checkpoint is always complete and correct. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "rl/ckpt.h"
#include "rl/signal.h"

static rlc_backend_t *be;
static char *g_dir;

static const char *CFG =
    "{\"architectures\":[\"Qwen2ForCausalLM\"],\"model_type\":\"qwen2\",\"hidden_size\":32,"
    "\"intermediate_size\":64,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"num_hidden_layers\":2,"
    "\"vocab_size\":128,\"max_position_embeddings\":64,\"rms_norm_eps\":1e-6,\"tie_word_embeddings\":true,"
    "\"torch_dtype\":\"float32\"}";

static rlc_model_t *new_model(uint64_t seed, const char *cfg_text) {
    cJSON *j = cJSON_Parse(cfg_text ? cfg_text : CFG);
    assert_non_null(j);
    rlc_model_t *m;
    if (rlc_model_create(&m, j, be, seed, 0.05f)) fail_msg("%s", rlc_errmsg());
    cJSON_Delete(j);
    return m;
}

static rlc_optim_t *new_optim(rlc_model_t *m) {
    rlc_adamw_cfg_t c = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f};
    rlc_optim_t *o;
    if (rlc_optim_create(&o, m, &c)) fail_msg("%s", rlc_errmsg());
    return o;
}

/* One real training step: maximize the log-prob of a fixed batch. */
static void train_step(rlc_model_t *m, rlc_optim_t *o, int k) {
    int32_t ids[10], cu[3] = {0, 6, 10};
    for (int i = 0; i < 10; i++) ids[i] = (int32_t)((i * 7 + k * 3) % 128);
    rlc_batch_t b = {.n_tokens = 10, .nseq = 2, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t fo = {.inv_temp = 1, .train = 1};
    float lp[10], dl[10];
    rlc_model_zero_grads(m);
    if (rlc_model_forward(m, &b, &fo, lp, NULL, NULL)) fail_msg("%s", rlc_errmsg());
    for (int i = 0; i < 10; i++) dl[i] = -0.1f;
    if (rlc_model_backward(m, &b, &fo, dl, NULL, NULL, NULL, NULL)) fail_msg("%s", rlc_errmsg());
    if (rlc_optim_step(o, 1e-2f, 1, NULL)) fail_msg("%s", rlc_errmsg());
}

static float *params_of(rlc_model_t *m) {
    float *p = malloc(m->n_params * sizeof(float));
    assert_int_equal(be->download(be, p, m->params, RLC_BUF_PARAM, m->n_params), 0);
    return p;
}

static void same_params(rlc_model_t *a, rlc_model_t *b) {
    assert_int_equal(a->n_params, b->n_params);
    float *x = params_of(a), *y = params_of(b);
    if (memcmp(x, y, a->n_params * sizeof(float))) fail_msg("parameters differ");
    free(x);
    free(y);
}

static void same_optim(rlc_optim_t *a, rlc_optim_t *b) {
    size_t n = a->m->n_params;
    float *m1 = malloc(n * 4), *v1 = malloc(n * 4), *m2 = malloc(n * 4), *v2 = malloc(n * 4);
    assert_int_equal(rlc_optim_get_state(a, m1, v1), 0);
    assert_int_equal(rlc_optim_get_state(b, m2, v2), 0);
    if (memcmp(m1, m2, n * 4) || memcmp(v1, v2, n * 4)) fail_msg("optimizer moments differ");
    assert_int_equal(a->step, b->step);
    free(m1), free(v1), free(m2), free(v2);
}

static char *run_dir(const char *name) {
    char *p = fs_join(g_dir, name);
    fs_rm_rf(p);
    assert_int_equal(fs_mkdir_p(p), 0);
    return p;
}

static char *sub(const char *dir, const char *name) { return fs_join(dir, name); }

static void test_roundtrip(void **s) {
    (void)s;
    char *run = run_dir("rt");
    rlc_model_t *m = new_model(1, NULL);
    rlc_optim_t *o = new_optim(m);
    for (int k = 0; k < 3; k++) train_step(m, o, k);
    rl_train_state_t st = {0};
    st.step = 3;
    st.data_epoch = 1;
    st.data_cursor = 17;
    st.seed = 0xFFFFFFFFFFFFFFF1ull; /* beyond 2^53: must survive JSON */
    st.lr = 1e-2;
    rlc_rng_t r;
    rlc_rng_init(&r, 0xDEADBEEFCAFEull, 3);
    for (int i = 0; i < 7; i++) rlc_rng_u32(&r); /* mid-block: buffered words matter */
    assert_int_equal(rl_train_state_set_rng(&st, "sample", &r), 0);
    st.extra = cJSON_Parse("{\"best_acc\":0.5,\"order\":[3,1,2]}");
    rl_ckpt_model_t cm = {NULL, m, o};
    char *dir;
    if (rl_ckpt_save(run, &st, &cm, 1, NULL, 0, &dir)) fail_msg("%s", rlc_errmsg());
    char *want = rl_ckpt_path(run, 3);
    assert_string_equal(dir, want);
    const char *files[] = {"config.json", "model.safetensors", "trainer_state.safetensors", "trainer_state.json"};
    for (int i = 0; i < 4; i++) {
        char *p = sub(dir, files[i]);
        if (!fs_exists(p)) fail_msg("missing %s", p);
        free(p);
    }
    char *lp = sub(run, "checkpoints/latest"), *txt;
    assert_int_equal(fs_read_all(lp, &txt, NULL), 0);
    assert_string_equal(txt, "step-000003\n");
    free(txt), free(lp);
    assert_int_equal(rl_ckpt_verify(dir, 1), 0);

    char *found;
    long step;
    assert_int_equal(rl_ckpt_latest(run, 1, &found, &step), 0);
    assert_string_equal(found, dir);
    assert_int_equal(step, 3);
    rlc_model_t *m2;
    if (rlc_model_load(&m2, found, be)) fail_msg("%s", rlc_errmsg());
    rlc_optim_t *o2 = new_optim(m2);
    rl_train_state_t st2;
    rl_ckpt_model_t cm2 = {NULL, m2, o2};
    if (rl_ckpt_load_state(found, &st2, &cm2, 1)) fail_msg("%s", rlc_errmsg());
    same_params(m, m2);
    same_optim(o, o2);
    assert_int_equal(st2.step, 3);
    assert_int_equal(st2.data_epoch, 1);
    assert_int_equal(st2.data_cursor, 17);
    assert_true(st2.seed == st.seed);
    assert_true(st2.lr == 1e-2);
    const rlc_rng_t *r2 = rl_train_state_rng(&st2, "sample");
    assert_non_null(r2);
    rlc_rng_t rc2 = *r2;
    for (int i = 0; i < 9; i++) assert_int_equal(rlc_rng_u32(&r), rlc_rng_u32(&rc2));
    assert_null(rl_train_state_rng(&st2, "other"));
    char *e1 = rlc_json_print(st.extra, 0), *e2 = rlc_json_print(st2.extra, 0);
    assert_string_equal(e1, e2);
    free(e1), free(e2);
    rl_train_state_free(&st2);
    cJSON_Delete(st.extra);
    rlc_optim_free(o2), rlc_model_free(m2), rlc_optim_free(o), rlc_model_free(m);
    free(found), free(dir), free(want), free(run);
}

/* 4 steps straight == 2 steps, checkpoint, fresh process state, 2 more steps. */
static void resume_case(const char *dtype) {
    rlc_model_t *a = new_model(5, NULL);
    rlc_optim_t *oa = new_optim(a);
    for (int k = 0; k < 4; k++) train_step(a, oa, k);

    char *run = run_dir("resume");
    rlc_model_t *b = new_model(5, NULL);
    rlc_optim_t *ob = new_optim(b);
    for (int k = 0; k < 2; k++) train_step(b, ob, k);
    rl_train_state_t st = {.step = 2};
    rl_ckpt_model_t cm = {NULL, b, ob};
    if (rl_ckpt_save(run, &st, &cm, 1, dtype, 2, NULL)) fail_msg("%s", rlc_errmsg());
    rlc_optim_free(ob), rlc_model_free(b);

    char *dir;
    long step;
    assert_int_equal(rl_ckpt_latest(run, 0, &dir, &step), 0);
    assert_int_equal(step, 2);
    rlc_model_t *c;
    if (rlc_model_load(&c, dir, be)) fail_msg("%s", rlc_errmsg());
    if (dtype) assert_int_equal(c->info[0].file_dtype, RLC_DT_BF16);
    rlc_optim_t *oc = new_optim(c);
    rl_train_state_t st2;
    rl_ckpt_model_t cm2 = {NULL, c, oc};
    if (rl_ckpt_load_state(dir, &st2, &cm2, 1)) fail_msg("%s", rlc_errmsg());
    for (int k = 2; k < 4; k++) train_step(c, oc, k);
    same_params(a, c);
    same_optim(oa, oc);
    rl_train_state_free(&st2);
    rlc_optim_free(oc), rlc_model_free(c), rlc_optim_free(oa), rlc_model_free(a);
    free(dir), free(run);
}

static void test_exact_resume(void **s) {
    (void)s;
    resume_case(NULL);
}

static void test_exact_resume_bf16_weights(void **s) {
    (void)s;
    resume_case("bfloat16"); /* the fp32 master in trainer_state keeps it exact */
}

static int count_entries(const char *dir, const char *prefix) {
    char out[4096];
    test_run(out, sizeof out, "ls -1 '%s'", dir);
    int n = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) n += !strncmp(l, prefix, strlen(prefix));
    return n;
}

static void save_step(const char *run, rlc_model_t *m, rlc_optim_t *o, long step, int keep) {
    rl_train_state_t st = {.step = step, .data_cursor = step * 10};
    rl_ckpt_model_t cm = {NULL, m, o};
    if (rl_ckpt_save(run, &st, &cm, 1, NULL, keep, NULL)) fail_msg("step %ld: %s", step, rlc_errmsg());
}

static void test_keep_last_and_damage(void **s) {
    (void)s;
    char *run = run_dir("keep");
    rlc_model_t *m = new_model(2, NULL);
    rlc_optim_t *o = new_optim(m);
    for (long k = 1; k <= 5; k++) save_step(run, m, o, k, 2);
    char *root = sub(run, "checkpoints");
    assert_int_equal(count_entries(root, "step-"), 2);
    char *d4 = rl_ckpt_path(run, 4), *d5 = rl_ckpt_path(run, 5);
    assert_true(fs_is_dir(d4) && fs_is_dir(d5));
    char out[1024];
    /* a dead writer's temp dir, an incomplete newer dir, and a non-canonical name: all ignored */
    assert_int_equal(test_run(out, sizeof out,
                              "mkdir -p '%s/step-000009.tmp-999999' '%s/step-000007' '%s/step-8' && "
                              "cp -r '%s'/* '%s/step-000009.tmp-999999/' && cp '%s/config.json' '%s/step-000007/'",
                              root, root, root, d5, root, d5, root),
                     0);
    char *dir;
    long step;
    assert_int_equal(rl_ckpt_latest(run, 0, &dir, &step), 0);
    assert_int_equal(step, 5);
    free(dir);
    /* same-size corruption: only a full verify sees it */
    char *mp = sub(d5, "model.safetensors");
    assert_int_equal(test_run(out, sizeof out, "printf 'XXXX' | dd of='%s' bs=1 seek=200 conv=notrunc", mp), 0);
    assert_int_equal(rl_ckpt_latest(run, 0, &dir, &step), 0);
    assert_int_equal(step, 5);
    free(dir);
    assert_int_equal(rl_ckpt_verify(d5, 1) != 0, 1);
    assert_non_null(strstr(rlc_errmsg(), "model.safetensors"));
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_int_equal(step, 4);
    free(dir);
    /* truncation: a size check is enough */
    assert_int_equal(test_run(out, sizeof out, "truncate -s 100 '%s'", mp), 0);
    assert_int_equal(rl_ckpt_latest(run, 0, &dir, &step), 0);
    assert_int_equal(step, 4);
    free(dir);
    /* the next save clears the dead writer's leftover; pruning counts complete checkpoints only
     * (keeps 6 and 4) and leaves the damaged 5 and the incomplete 7 alone */
    save_step(run, m, o, 6, 2);
    assert_int_equal(count_entries(root, "step-000009.tmp"), 0);
    assert_true(fs_is_dir(d4) && fs_is_dir(d5));
    save_step(run, m, o, 7, 2); /* replaces the incomplete 7; 4 is pruned now */
    assert_false(fs_is_dir(d4));
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_int_equal(step, 7);
    free(dir);
    /* saving the same step twice replaces it */
    save_step(run, m, o, 7, 0);
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_int_equal(step, 7);
    free(dir);
    /* nothing at all */
    char *empty = run_dir("empty");
    assert_int_equal(rl_ckpt_latest(empty, 0, &dir, &step), 1);
    assert_null(dir);
    free(empty);
    rlc_optim_free(o), rlc_model_free(m);
    free(mp), free(d4), free(d5), free(root), free(run);
}

static void test_tokenizer_survives_pruning(void **s) {
    (void)s;
    char *run = run_dir("tok");
    rlc_model_t *m = new_model(3, NULL);
    rlc_optim_t *o = new_optim(m);
    save_step(run, m, o, 1, 1);
    char *d1 = rl_ckpt_path(run, 1), *tk = sub(d1, "tokenizer.json");
    assert_int_equal(fs_write_atomic(tk, "{\"fake\":1}", 10), 0);
    rlc_optim_free(o), rlc_model_free(m);
    /* resume from step 1: src_dir is inside the run's checkpoints */
    if (rlc_model_load(&m, d1, be)) fail_msg("%s", rlc_errmsg());
    o = new_optim(m);
    save_step(run, m, o, 2, 1);
    save_step(run, m, o, 3, 1); /* step 1 and 2 are gone by now */
    assert_false(fs_exists(d1));
    char *d3 = rl_ckpt_path(run, 3), *tk3 = sub(d3, "tokenizer.json");
    assert_true(fs_exists(tk3));
    rlc_optim_free(o), rlc_model_free(m);
    free(d1), free(tk), free(d3), free(tk3), free(run);
}

static void test_two_models_and_errors(void **s) {
    (void)s;
    char *run = run_dir("two");
    rlc_model_t *p = new_model(4, NULL), *c = new_model(8, NULL);
    rlc_optim_t *op = new_optim(p), *oc = new_optim(c);
    train_step(p, op, 0);
    train_step(c, oc, 1);
    train_step(c, oc, 2);
    rl_ckpt_model_t cm[2] = {{NULL, p, op}, {"critic", c, oc}};
    rl_train_state_t st = {.step = 1};
    if (rl_ckpt_save(run, &st, cm, 2, NULL, 0, NULL)) fail_msg("%s", rlc_errmsg());
    char *dir = rl_ckpt_path(run, 1), *cdir = sub(dir, "critic");
    rlc_model_t *p2, *c2;
    assert_int_equal(rlc_model_load(&p2, dir, be), 0);
    assert_int_equal(rlc_model_load(&c2, cdir, be), 0);
    rlc_optim_t *op2 = new_optim(p2), *oc2 = new_optim(c2);
    rl_ckpt_model_t cm2[2] = {{NULL, p2, op2}, {"critic", c2, oc2}};
    rl_train_state_t st2;
    if (rl_ckpt_load_state(dir, &st2, cm2, 2)) fail_msg("%s", rlc_errmsg());
    same_params(p, p2);
    same_params(c, c2);
    same_optim(op, op2);
    same_optim(oc, oc2);
    assert_int_equal(oc2->step, 2);
    rl_train_state_free(&st2);
    /* a model of another size is refused with a clear message */
    rlc_model_t *small = new_model(1, "{\"model_type\":\"llama\",\"hidden_size\":16,\"intermediate_size\":32,"
                                      "\"num_attention_heads\":2,\"num_hidden_layers\":1,\"vocab_size\":64}");
    rlc_optim_t *os = new_optim(small);
    rl_ckpt_model_t bad = {NULL, small, os};
    assert_int_not_equal(rl_ckpt_load_state(dir, &st2, &bad, 1), 0);
    assert_non_null(strstr(rlc_errmsg(), "parameters"));
    rl_ckpt_model_t unknown = {"value", c2, oc2};
    assert_int_not_equal(rl_ckpt_load_state(dir, &st2, &unknown, 1), 0);
    assert_non_null(strstr(rlc_errmsg(), "no state for model 'value'"));
    rl_ckpt_model_t dup[2] = {{"critic", c, oc}, {"critic", p, op}};
    assert_int_not_equal(rl_ckpt_save(run, &st, dup, 2, NULL, 0, NULL), 0);
    rl_ckpt_model_t slash = {"../x", c, oc};
    assert_int_not_equal(rl_ckpt_save(run, &st, &slash, 1, NULL, 0, NULL), 0);
    assert_int_not_equal(rl_ckpt_save(run, &st, cm, 1, "int4", 0, NULL), 0);
    char *lst;
    long step;
    assert_int_equal(rl_ckpt_latest(run, 1, &lst, &step), 0); /* the failed saves left nothing behind */
    assert_int_equal(step, 1);
    char *root = sub(run, "checkpoints");
    assert_int_equal(count_entries(root, "step-000001.tmp"), 0);
    free(root);
    free(lst);
    rlc_optim_free(os), rlc_model_free(small);
    rlc_optim_free(op2), rlc_optim_free(oc2), rlc_model_free(p2), rlc_model_free(c2);
    rlc_optim_free(op), rlc_optim_free(oc), rlc_model_free(p), rlc_model_free(c);
    free(dir), free(cdir), free(run);
}

/* ---------------------------------------------------------------- child processes */

/* Children are this binary re-executed (fork + exec): OpenMP's thread pool does not survive a
 * bare fork, and a checkpoint writer must be a separate process to be killed. */
static pid_t spawn_child(const char *mode, const char *run, long start) {
    char sbuf[32];
    snprintf(sbuf, sizeof sbuf, "%ld", start);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execl("/proc/self/exe", "test_rl_ckpt", "--child", mode, run, sbuf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void set_state(rlc_model_t *m, rlc_optim_t *o, long step);

/* Train until SIGTERM/SIGINT, then checkpoint and exit 0. */
static int child_signal(const char *run) {
    rl_signal_install();
    rlc_model_t *m = new_model(9, NULL);
    rlc_optim_t *o = new_optim(m);
    long step = 0;
    while (!rl_signal_pending()) {
        train_step(m, o, (int)step);
        step++;
        if (step == 1) { /* tell the parent the handler is in place and a step is done */
            char *ready = fs_join(run, "ready");
            fs_mkdir_p(run);
            if (ready) fs_write_atomic(ready, "1", 1);
            free(ready);
        }
    }
    rl_train_state_t st = {.step = step, .data_cursor = step};
    rl_ckpt_model_t cm = {NULL, m, o};
    int rc = rl_ckpt_save(run, &st, &cm, 1, NULL, 2, NULL) ? 1 : 0;
    rlc_optim_free(o);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    return rc;
}

/* Write checkpoints start, start+1, ... until killed. */
static int child_torture(const char *run, long start) {
    rlc_model_t *m = new_model(1, NULL);
    rlc_optim_t *o = new_optim(m);
    char *ready = fs_join(run, "torture-ready"); /* the parent's random delay starts now */
    fs_mkdir_p(run);
    if (ready) fs_write_atomic(ready, "1", 1);
    free(ready);
    for (long step = start;; step++) {
        set_state(m, o, step);
        rl_train_state_t st = {.step = step, .data_cursor = step * 7};
        rl_ckpt_model_t cm = {NULL, m, o};
        if (rl_ckpt_save(run, &st, &cm, 1, NULL, 2, NULL)) return 1;
    }
}

/* ---------------------------------------------------------------- signals */

static void test_signal_flag(void **s) {
    (void)s;
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY); /* the handler's notice */
    dup2(devnull, 2);
    close(devnull);
    assert_int_equal(rl_signal_install(), 0);
    assert_int_equal(rl_signal_pending(), 0);
    raise(SIGTERM);
    assert_int_equal(rl_signal_pending(), SIGTERM);
    rl_signal_clear();
    raise(SIGINT);
    assert_int_equal(rl_signal_pending(), SIGINT);
    rl_signal_uninstall();
    dup2(saved, 2);
    close(saved);
    /* a second signal of the same kind ends the process the default way */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        rl_signal_install();
        raise(SIGINT);
        raise(SIGINT);
        _exit(3);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
}

/* A loop that checkpoints when SIGTERM arrives and exits 0. */
static void test_signal_checkpoint(void **s) {
    (void)s;
    char *run = run_dir("sig");
    pid_t pid = spawn_child("signal", run, 0);
    /* wait (up to 60 s on a loaded machine) until the child has its handler and a step */
    char *ready = fs_join(run, "ready");
    for (int i = 0; i < 6000 && !fs_exists(ready); i++) usleep(10 * 1000);
    assert_true(fs_exists(ready));
    free(ready);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *dir;
    long step;
    assert_int_equal(rl_ckpt_latest(run, 1, &dir, &step), 0);
    assert_true(step >= 1);
    free(dir);
    free(run);
}

/* ---------------------------------------------------------------- SIGKILL torture */

static float pval(long step, size_t i) { return (float)((double)step * 0.001 + (double)(i % 1000) * 1e-6); }

static void set_state(rlc_model_t *m, rlc_optim_t *o, long step) {
    size_t n = m->n_params;
    float *w = malloc(n * 4), *mo = malloc(n * 4), *va = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        w[i] = pval(step, i);
        mo[i] = -pval(step, i);
        va[i] = pval(step, i) * 2;
    }
    be->upload(be, m->params, RLC_BUF_PARAM, w, n);
    rlc_optim_set_state(o, mo, va, (int)step);
    free(w), free(mo), free(va);
}

static void check_state(rlc_model_t *m, rlc_optim_t *o, long step) {
    size_t n = m->n_params;
    float *w = params_of(m), *mo = malloc(n * 4), *va = malloc(n * 4);
    assert_int_equal(rlc_optim_get_state(o, mo, va), 0);
    for (size_t i = 0; i < n; i++)
        if (w[i] != pval(step, i) || mo[i] != -pval(step, i) || va[i] != pval(step, i) * 2)
            fail_msg("step %ld: value %zu is not the one written at that step", step, i);
    assert_int_equal(o->step, step);
    free(w), free(mo), free(va);
}

static void test_sigkill_torture(void **s) {
    (void)s;
    char *run = run_dir("torture");
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    rlc_rng_t r;
    rlc_rng_init(&r, seed, 0);
    long last = 0;
    int kills_mid_write = 0;
    /* 20 kills at random moments of the writing loop; under heavy load (CI neighbours, fsync
     * stalls) none of them may have let a first checkpoint finish, so up to 6 more trials
     * wait longer and longer until one has. The delay counts from the child's readiness,
     * not from the fork, so start-up time does not eat it. */
    int trials = 20;
    char *ready = sub(run, "torture-ready");
    for (int t = 0; t < trials; t++) {
        fs_rm_rf(ready);
        pid_t pid = spawn_child("torture", run, last + 1);
        for (int w = 0; w < 2000 && !fs_exists(ready); w++) usleep(5000);
        useconds_t delay = (useconds_t)(10000 + rlc_rng_below(&r, 90000));
        if (t >= 20) delay = (useconds_t)(250000u << (t - 20));
        usleep(delay);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("trial %d (seed %llu): the writer exited on its own (status %d)", t, (unsigned long long)seed,
                     status);
        char *root = sub(run, "checkpoints"), out[4096];
        test_run(out, sizeof out, "ls -1 '%s'", root);
        kills_mid_write += strstr(out, ".tmp-") != NULL || strstr(out, ".del-") != NULL;
        char *dir;
        long step;
        if (rl_ckpt_latest(run, 1, &dir, &step) != 0) {
            /* killed before the very first checkpoint completed */
            assert_int_equal(last, 0);
            free(root);
            if (t == trials - 1 && trials < 26) trials++;
            continue;
        }
        if (step < last) fail_msg("trial %d (seed %llu): latest went back from %ld to %ld", t, (unsigned long long)seed,
                                  last, step);
        rlc_model_t *m;
        if (rlc_model_load(&m, dir, be)) fail_msg("trial %d: %s", t, rlc_errmsg());
        rlc_optim_t *o = new_optim(m);
        rl_train_state_t st;
        rl_ckpt_model_t cm = {NULL, m, o};
        if (rl_ckpt_load_state(dir, &st, &cm, 1)) fail_msg("trial %d: %s", t, rlc_errmsg());
        assert_int_equal(st.step, step);
        assert_int_equal(st.data_cursor, step * 7);
        check_state(m, o, step);
        rl_train_state_free(&st);
        rlc_optim_free(o), rlc_model_free(m);
        last = step;
        free(dir), free(root);
    }
    free(ready);
    assert_true(last > 0);
    print_message("torture: %d kills, %d left a partial write behind, reached step %ld (seed %llu)\n", trials,
                  kills_mid_write, last, (unsigned long long)seed);
    free(run);
}

static int setup(void **s) {
    (void)s;
    rlc_log_set_level(RLC_LOG_ERROR);
    g_dir = test_tmpdir();
    return rlc_backend_create(&be, "cpu", 0, 2);
}

static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    fs_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--child")) {
        rlc_log_set_level(RLC_LOG_ERROR);
        if (rlc_backend_create(&be, "cpu", 0, 1)) return 2;
        return !strcmp(argv[2], "signal") ? child_signal(argv[3]) : child_torture(argv[3], atol(argv[4]));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_exact_resume),
        cmocka_unit_test(test_exact_resume_bf16_weights),
        cmocka_unit_test(test_keep_last_and_damage),
        cmocka_unit_test(test_tokenizer_survives_pruning),
        cmocka_unit_test(test_two_models_and_errors),
        cmocka_unit_test(test_signal_flag),
        cmocka_unit_test(test_signal_checkpoint),
        cmocka_unit_test(test_sigkill_torture),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
