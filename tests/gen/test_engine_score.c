/* Score-only requests of the rollout engine (reward models through the paged KV cache): the
 * outputs at the requested positions equal the training forward's (a score head's values, a
 * head-less trunk's hidden states, an LM's logits as log-probs), a fork appending tokens to a
 * scored sequence computes only its new tokens and agrees with the full forward, and bad
 * positions or sampling on a model without an LM head are refused. */
#include <math.h>

#include "testutil.h"

#include "core/err.h"
#include "gen/engine.h"

static rlc_backend_t *be;

static int setup(void **s) {
    (void)s;
    return rlc_backend_create(&be, "cpu", 0, 2) ? -1 : 0;
}

static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    return 0;
}

/* n ids of a fixed pseudo-random sequence within vocab. */
static void make_ids(int32_t *ids, int n, int vocab, int seed) {
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 37 + seed * 101 + 7) % (vocab - 3));
}

/* Values of the score head over ids (training forward). */
static void full_values(rlc_model_t *m, const int32_t *ids, int n, float *v) {
    int cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t fo = {.inv_temp = 1, .head = RLC_HEAD_SCORE};
    assert_int_equal(rlc_model_forward(m, &b, &fo, NULL, NULL, v), 0);
}

static void test_score_head(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-score"), be), 0);
    int V = m->cfg.vocab_size, L = m->score_labels, n = 23;
    int32_t ids[40];
    make_ids(ids, 40, V, 1);
    float *ref = malloc(sizeof(float) * 40 * (size_t)L);
    full_values(m, ids, 40, ref);
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 4, .max_batch_tokens = 8}; /* chunked */
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.score_only = 1;
    int32_t pos[4] = {0, 5, 13, 22};
    p.score_pos = pos;
    p.n_score_pos = 4;
    int r0 = gen_submit(e, ids, n, &p, NULL);
    assert_true(r0 >= 0);
    /* sampling on a model without an LM head is refused */
    gen_params_t g;
    gen_params_default(&g);
    assert_int_not_equal(gen_submit(e, ids, 4, &g, NULL) >= 0, 1);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o = gen_output(e, r0, 0);
    assert_non_null(o);
    assert_int_equal(o->finish, GEN_FINISH_SCORED);
    assert_int_equal(o->n_scores, 4), assert_int_equal(o->score_width, L);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < L; j++)
            if (fabsf(o->scores[k * L + j] - ref[pos[k] * L + j]) > 1e-4f)
                fail_msg("position %d label %d: %g vs forward %g", pos[k], j, o->scores[k * L + j], ref[pos[k] * L + j]);
    /* fork: the 23 scored tokens + 17 more; only the new part (and the last prefix token) is computed */
    gen_stats_t a, b;
    gen_stats(e, &a);
    int32_t fpos[3] = {22, 30, 39};
    p.score_pos = fpos;
    p.n_score_pos = 3;
    int r1 = gen_fork(e, r0, 0, n, ids + n, 40 - n, &p, NULL);
    assert_true(r1 >= 0);
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats(e, &b);
    assert_int_equal(b.prefill_tokens + b.decode_tokens - a.prefill_tokens - a.decode_tokens, 40 - n + 1);
    o = gen_output(e, r1, 0);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < L; j++) assert_true(fabsf(o->scores[k * L + j] - ref[fpos[k] * L + j]) < 1e-4f);
    /* bad positions: before the fork's first computed token, past the end, not increasing */
    int32_t bad1[1] = {5}, bad2[1] = {40}, bad3[2] = {30, 30};
    const int32_t *bads[3] = {bad1, bad2, bad3};
    int nb[3] = {1, 1, 2};
    for (int i = 0; i < 3; i++) {
        p.score_pos = bads[i];
        p.n_score_pos = nb[i];
        assert_true(gen_fork(e, r0, 0, n, ids + n, 40 - n, &p, NULL) < 0);
    }
    p.n = 2;
    p.n_score_pos = 0;
    assert_true(gen_submit(e, ids, 4, &p, NULL) < 0);
    gen_release(e, r0);
    gen_release(e, r1);
    gen_engine_free(e);
    free(ref);
    rlc_model_free(m);
}

/* A head-less trunk (Qwen2ForProcessRewardModel's layout) returns hidden states equal to
 * rlc_model_hidden's; an LM model's score rows are its logits (log-softmax = forward logp). */
static void test_trunk_and_lm(void **s) {
    (void)s;
    rlc_model_t *m;
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen-prm-tiny"), be), 0);
    int C = m->cfg.hidden_size, n = 19;
    int32_t ids[19], rows[3] = {2, 11, 18};
    make_ids(ids, n, m->cfg.vocab_size, 2);
    float *ref = malloc(sizeof(float) * 3 * (size_t)C);
    int cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    assert_int_equal(rlc_model_hidden(m, &b, rows, 3, ref), 0);
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 4};
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.score_only = 1;
    p.score_pos = rows;
    p.n_score_pos = 3;
    int r = gen_submit(e, ids, n, &p, NULL);
    assert_true(r >= 0);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o = gen_output(e, r, 0);
    assert_int_equal(o->score_width, C);
    for (int i = 0; i < 3 * C; i++) assert_true(fabsf(o->scores[i] - ref[i]) < 1e-4f);
    gen_engine_free(e);
    rlc_model_free(m);
    free(ref);
    /* LM: logits at position t; log-softmax at the next token = the forward's logp */
    assert_int_equal(rlc_model_load(&m, fixture("models/qwen2-tiny"), be), 0);
    int V = m->cfg.vocab_size;
    float lp[19];
    rlc_fwd_opts_t fo = {.inv_temp = 1, .head = RLC_HEAD_LM};
    assert_int_equal(rlc_model_forward(m, &b, &fo, lp, NULL, NULL), 0);
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    r = gen_submit(e, ids, n, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    o = gen_output(e, r, 0);
    assert_int_equal(o->score_width, V);
    for (int k = 0; k < 3; k++) {
        const float *lg = o->scores + (size_t)k * V;
        double mx = lg[0], z = 0;
        for (int v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
        for (int v = 0; v < V; v++) z += exp(lg[v] - mx);
        double want = lg[ids[rows[k] + 1 < n ? rows[k] + 1 : rows[k]]] - mx - log(z);
        if (rows[k] + 1 < n) assert_true(fabs(want - lp[rows[k]]) < 1e-4);
    }
    gen_engine_free(e);
    rlc_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_score_head), cmocka_unit_test(test_trunk_and_lm)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
