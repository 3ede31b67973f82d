/* MRT (rl/mrt.c, rewards/steps.c): episode splitting on crafted texts; progress values
 * against hand-computed ones with a scripted grader over a crafted completion held in the
 * engine; the forks share the completion's KV pages (prefill counted); the termination
 * baseline; mrt_fraction 0 forks nothing; the reward sampling hook. */
#include "testutil.h"

#include "core/err.h"
#include "rewards/steps.h"
#include "rl/step.h"

static const char *const MARKS[] = {"Wait", "But wait", "Alternatively"};

static int episodes(const char *t, int gap, int merge, int max, size_t *ends, size_t *next) {
    return rlc_split_episodes(t, strlen(t), MARKS, 3, gap, merge, max, ends, next, 16);
}

static void test_split(void **s) {
    (void)s;
    size_t e[16], n[16];
    /* paragraphs 0..4; markers at 1 (Wait,), 2 (But wait) and 4 (Alternatively); "Waiting" is no marker */
    const char *t = "A.\n\nWait, B.\n\nBut wait C.\n\nWaiting D.\n\nAlternatively E.";
    assert_int_equal(episodes(t, 0, 1, 0, e, n), 4); /* cuts at 1, 2, 4 */
    assert_int_equal(e[0], 2);                       /* "A." */
    assert_int_equal(n[0], 4);                       /* prefix "A.\n\n" */
    assert_int_equal(e[1], 12);                      /* "Wait, B." */
    assert_int_equal(n[1], 14);
    assert_int_equal(e[2], 37); /* through "Waiting D." */
    assert_int_equal(n[2], 39);
    assert_int_equal(e[3], strlen(t));
    assert_int_equal(n[3], strlen(t));
    /* gap 1: the cut at 2 lies within 1 paragraph of the cut at 1 */
    assert_int_equal(episodes(t, 1, 1, 0, e, n), 3);
    assert_int_equal(e[1], 37);
    /* gap 2 (the default): the cut at 1 is too close to the start, 4 is 3 away from 0 */
    assert_int_equal(episodes(t, 2, 1, 0, e, n), 2);
    assert_int_equal(e[0], 37);
    /* merge pairs: [0,1] [2,3]; a bound of 2 episodes merges the same way */
    assert_int_equal(episodes(t, 0, 2, 0, e, n), 2);
    assert_int_equal(e[0], 12);
    assert_int_equal(n[0], 14);
    assert_int_equal(episodes(t, 0, 1, 2, e, n), 2);
    assert_int_equal(e[0], 12);
    assert_int_equal(episodes(t, 0, 1, 1, e, n), 1);
    assert_int_equal(e[0], strlen(t));
    /* blank pieces are no paragraphs; leading blanks before a marker are skipped */
    const char *u = "x\n\n\n\n  \n\n\nWait y";
    assert_int_equal(episodes(u, 0, 1, 0, e, n), 2);
    assert_int_equal(e[0], 1);
    assert_int_equal(n[0], 9);
    assert_int_equal(episodes("", 0, 1, 0, e, n), 0);
    assert_int_equal(episodes("\n\n \n\n", 0, 1, 0, e, n), 0);
    assert_int_equal(episodes("no markers here\n\nat all", 0, 1, 0, e, n), 1);
}

/* ---- progress on a crafted completion ---- */

static int g_calls;

/* The scripted grader: 1 when the text forced to answer already says "It is 7". */
static int script_score(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n, float *out,
                        float *const *tok_out, rlc_metrics_t *ms) {
    (void)self, (void)ctx, (void)tok_out, (void)ms;
    for (int i = 0; i < n; i++) out[i] = strstr(r[i].completion, "It is 7") ? 1.0f : 0.0f;
    g_calls += n;
    return 0;
}

typedef struct {
    rlc_backend_t *be;
    rlc_model_t *m;
    tok_t *tok;
    gen_engine_t *e;
    rl_config_t cfg;
    rlc_reward_t rw;
    rl_ctx_t c;
    data_row_t row;
    group_t g;
    rlc_rollout_t ro;
    int32_t *cids;
} fx_t;

static const char *PROMPT = "Q: 3+4?\n", *COMP = "First try: 5.\n\nWait, that is wrong. It is 7.\n\nSo the answer is 7.";

/* The crafted completion is fed as part of the request's prompt: the engine holds its
 * tokens and KV pages exactly as it would hold a sampled completion. */
static void fx_open(fx_t *f) {
    memset(f, 0, sizeof *f);
    assert_int_equal(rlc_backend_create(&f->be, "cpu", 0, 2), 0);
    if (rlc_model_load(&f->m, fixture("models/qwen2-tiny"), f->be)) fail_msg("%s", rlc_errmsg());
    assert_int_equal(tok_load(&f->tok, fixture("models/qwen2-tiny")), 0);
    gen_engine_cfg_t ec = {.page_size = 4};
    assert_int_equal(gen_engine_create(&f->e, f->m, f->tok, &ec), 0);
    int32_t *pids, *all;
    int np, nc;
    assert_int_equal(tok_encode(f->tok, PROMPT, strlen(PROMPT), 0, &pids, &np), 0);
    assert_int_equal(tok_encode(f->tok, COMP, strlen(COMP), 0, &f->cids, &nc), 0);
    all = malloc((size_t)(np + nc) * sizeof *all);
    memcpy(all, pids, (size_t)np * sizeof *all);
    memcpy(all + np, f->cids, (size_t)nc * sizeof *all);
    gen_params_t p;
    gen_params_default(&p);
    p.max_new_tokens = 1;
    int req = gen_submit(f->e, all, np + nc, &p, NULL);
    assert_true(req >= 0);
    assert_int_equal(gen_run(f->e, NULL), 0);
    free(all);
    assert_int_equal(rl_config_init(&f->cfg), 0);
    f->cfg.group_size = 1;
    f->cfg.mrt_alpha = 0.5;
    f->cfg.mrt_samples = 3;
    f->cfg.mrt_answer_tokens = 4;
    f->cfg.mrt_gap = 0;
    f->rw = (rlc_reward_t){.kind = "script", .weight = 1, .score = script_score};
    f->c = (rl_ctx_t){.cfg = &f->cfg, .eng = f->e, .tok = f->tok, .reward = &f->rw};
    f->row = (data_row_t){.id = "q", .problem = "3+4", .answer = "7", .format = "boxed"};
    f->g = (group_t){.row = &f->row, .req = req, .prompt = pids, .n_prompt = np, .prompt_text = (char *)PROMPT,
                     .seed = 42};
    f->ro = (rlc_rollout_t){.prompt = PROMPT, .completion = COMP, .tokens = f->cids, .n_tokens = nc,
                            .finish = RLC_FINISH_STOP};
}

static void fx_close(fx_t *f) {
    gen_engine_free(f->e);
    free(f->g.prompt);
    free(f->cids);
    rl_config_free(&f->cfg);
    tok_free(f->tok);
    rlc_model_free(f->m);
    rlc_backend_destroy(f->be);
}

/* The token holding the completion's byte at offset `end - 1`. */
static int token_at(const fx_t *f, size_t end) {
    size_t at = 0;
    for (int t = 0; t < f->ro.n_tokens; t++) {
        const char *b;
        size_t len;
        assert_int_equal(tok_token_bytes(f->tok, f->cids[t], &b, &len), 0);
        at += len;
        if (at >= end) return t;
    }
    return -1;
}

static void test_progress(void **s) {
    (void)s;
    fx_t f;
    fx_open(&f);
    float *tok = calloc((size_t)f.ro.n_tokens, sizeof *tok), base = -1;
    rlc_metrics_t ms = {0};
    rlc_reward_ctx_t rctx = {.tokenizer = f.tok};
    gen_stats_t a, b;
    gen_stats(f.e, &a);
    g_calls = 0;
    /* episodes: "First try: 5." | "Wait, that is wrong. It is 7.\n\nSo the answer is 7." (gap 0)
     * J_-1 = 0 (prompt alone), J_0 = 0, J_1 = 1: progress 0 then 1, α = 0.5 */
    assert_int_equal(rl_mrt_score(&f.c, &rctx, &f.g, &f.ro, 1, &tok, &base, &ms), 0);
    gen_stats(f.e, &b);
    assert_int_equal(g_calls, 3 * 3); /* three branches of K = 3 */
    int end0 = token_at(&f, strlen("First try: 5.")), end1 = token_at(&f, strlen(COMP));
    for (int t = 0; t < f.ro.n_tokens; t++) {
        double want = t == end1 ? 0.5 : 0.0;
        if (fabs(tok[t] - want) > 1e-7) fail_msg("token %d: %g, want %g (episode ends %d, %d)", t, tok[t], want, end0, end1);
    }
    assert_true(base == 0.0f); /* J_-1 */
    double v;
    assert_int_equal(rlc_metrics_get(&ms, "mrt/episodes", &v), 0);
    assert_true(v == 2);
    assert_int_equal(rlc_metrics_get(&ms, "mrt/J_first", &v), 0);
    assert_true(v == 0);
    assert_int_equal(rlc_metrics_get(&ms, "mrt/J_last", &v), 0);
    assert_true(v == 1);
    assert_int_equal(rlc_metrics_get(&ms, "mrt/progress", &v), 0);
    assert_true(v == 0.5); /* mean of 0 and 1 */
    /* forks share the prefix's pages: prefill is the termination text (and a re-encoded tail)
     * per branch, not the prompt + completion again */
    int32_t *ti;
    int nt;
    assert_int_equal(tok_encode(f.tok, rl_mrt_termination(&f.cfg, "boxed"), strlen(rl_mrt_termination(&f.cfg, "boxed")),
                                0, &ti, &nt),
                     0);
    free(ti);
    long prefill = b.prefill_tokens - a.prefill_tokens;
    if (prefill > 3 * (nt + 6)) fail_msg("MRT prefilled %ld tokens for 3 branches of %d-token termination", prefill, nt);
    /* the forks were released: every page is free again except the held request's */
    assert_true(b.pages_free >= a.pages_free);

    /* the default gap (2): one episode; J_0 = 1, progress 1 at the last token */
    memset(tok, 0, (size_t)f.ro.n_tokens * sizeof *tok);
    f.cfg.mrt_gap = 2;
    assert_int_equal(rl_mrt_score(&f.c, &rctx, &f.g, &f.ro, 1, &tok, &base, NULL), 0);
    for (int t = 0; t < f.ro.n_tokens; t++) assert_true(tok[t] == (t == end1 ? 0.5f : 0.0f));
    /* mrt_fraction 0 with the group baseline: nothing is forked, nothing added */
    memset(tok, 0, (size_t)f.ro.n_tokens * sizeof *tok);
    f.cfg.mrt_fraction = 0;
    g_calls = 0;
    base = -1;
    assert_int_equal(rl_mrt_score(&f.c, &rctx, &f.g, &f.ro, 1, &tok, &base, NULL), 0);
    assert_int_equal(g_calls, 0);
    assert_true(base == -1.0f);
    for (int t = 0; t < f.ro.n_tokens; t++) assert_true(tok[t] == 0);
    /* ... but the termination baseline still forks the prompt alone */
    free(f.cfg.mrt_baseline);
    f.cfg.mrt_baseline = strdup("termination");
    assert_int_equal(rl_mrt_score(&f.c, &rctx, &f.g, &f.ro, 1, &tok, &base, NULL), 0);
    assert_int_equal(g_calls, 3);
    assert_true(base == 0.0f);
    rlc_metrics_free(&ms);
    free(tok);
    fx_close(&f);
}

/* The reward sampling hook: k texts per prompt, reproducible by seed. */
static void test_sample_hook(void **s) {
    (void)s;
    fx_t f;
    fx_open(&f);
    const char *prompts[2] = {"Hello", "World"};
    char *x[6], *y[6];
    assert_int_equal(rl_reward_sample(f.e, prompts, 2, 3, 1.0, 5, 7, x), 0);
    assert_int_equal(rl_reward_sample(f.e, prompts, 2, 3, 1.0, 5, 7, y), 0);
    for (int i = 0; i < 6; i++) {
        assert_non_null(x[i]);
        assert_string_equal(x[i], y[i]);
        free(x[i]), free(y[i]);
    }
    fx_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_sample_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
