/* The search on the real engine (tts/search_engine.c) with the tiny fixture policy and a
 * generic PRM (the same model with a random 1-label score head): the KV pages of a beam's
 * prefix are shared, counted (each problem's prompt is prefilled once; a fork computes only
 * its last prefix token, then its samples); each child continues its parent's text; a
 * step ends at the delimiter; DVTS and beam search end with every node released; the same
 * seed gives the same finals, also with the PRM's KV cache (tts/prm_cache.c), which reads
 * fewer tokens; the cache's scores equal the full scorer's, incrementally and from scratch. */
#include <math.h>

#include "testutil.h"

#include "core/err.h"
#include "gen/engine.h"
#include "rewards/prm_formats.h"
#include "rewards/rm.h"
#include "tts/search_engine.h"

static rlc_backend_t *be;
static rlc_model_t *pol, *prm_m;
static tok_t *tok;
static int32_t *prompt[2];
static int plen[2];

static int setup(void **s) {
    (void)s;
    if (rlc_backend_create(&be, "cpu", 0, 2)) return -1;
    if (rlc_model_load(&pol, fixture("models/qwen2-tiny"), be) || rlc_model_load(&prm_m, fixture("models/qwen2-tiny"), be))
        return -1;
    if (rlc_model_add_score_head(prm_m, 1, 5, 0.5f) || tok_load(&tok, fixture("models/qwen2-tiny"))) return -1;
    const char *q[2] = {"What is 2 + 3? Answer step by step.", "Compute 7 times 6, then subtract 4."};
    for (int i = 0; i < 2; i++)
        if (tok_encode(tok, q[i], strlen(q[i]), 0, &prompt[i], &plen[i])) return -1;
    return 0;
}

static int teardown(void **s) {
    (void)s;
    for (int i = 0; i < 2; i++) free(prompt[i]);
    tok_free(tok);
    rlc_model_free(pol);
    rlc_model_free(prm_m);
    rlc_backend_destroy(be);
    return 0;
}

typedef struct {
    char *text[64];
    float score[64];
    int n;
    long prefill, decode, sampled, forks, preempt, prm_tokens;
} run_t;

static void run_search(int method, int lookahead, uint64_t seed, int cached, run_t *res) {
    gen_engine_t *e;
    gen_engine_cfg_t gc = {.page_size = 4};
    assert_int_equal(gen_engine_create(&e, pol, tok, &gc), 0);
    rlc_prm_t prm = {.m = prm_m, .format = RLC_PRM_GENERIC, .what = "prm"};
    assert_int_equal(rlc_prm_open_head(&prm), 0);
    const int32_t *pp[2] = {prompt[0], prompt[1]};
    const char *qs[2] = {"q0", "q1"};
    tts_engine_cfg_t ec = {.e = e, .tok = tok, .prm = &prm, .agg = RLC_STEP_AGG_MIN, .n_problems = 2, .prompts = pp,
                           .plen = plen, .questions = qs, .delimiter = " "};
    gen_params_default(&ec.sample);
    ec.sample.temperature = 1.0f;
    ec.sample.max_new_tokens = 24;
    ec.sample.seed = seed;
    tts_prm_cache_t *pc = NULL;
    gen_engine_cfg_t pcfg = {.page_size = 4};
    if (cached) assert_int_equal(tts_prm_cache_create(&pc, &prm, tok, 2, pp, plen, NULL, &pcfg), 0);
    ec.prm_cache = pc;
    tts_engine_ops_t *eo;
    assert_int_equal(tts_engine_ops_create(&eo, &ec), 0);
    tts_search_ops_t ops = tts_engine_ops(eo);
    tts_search_cfg_t c = {.method = method, .n = 4, .width = 2, .max_iterations = 4, .lookahead = lookahead};
    tts_search_out_t out[2];
    if (tts_search_run(&c, &ops, 2, out)) fail_msg("search: %s", rlc_errmsg());
    res->n = 0;
    res->prm_tokens = out[0].prm_tokens + out[1].prm_tokens;
    for (int p = 0; p < 2; p++) {
        assert_true(out[p].n_finals >= 1 && out[p].n_finals <= 4);
        assert_true(out[p].gen_tokens > 0 && out[p].prm_tokens > 0);
        for (int i = 0; i < out[p].n_finals; i++) {
            const char *t;
            size_t len;
            assert_int_equal(ops.text(ops.user, out[p].finals[i].node, &t, &len), 0);
            /* the node's text is the decode of its completion tokens */
            const int32_t *ids;
            int n;
            assert_int_equal(tts_engine_node_tokens(eo, out[p].finals[i].node, &ids, &n), 0);
            char *dt = NULL;
            size_t dl = 0, *ends = malloc(sizeof(size_t) * (size_t)(n + 1));
            assert_int_equal(rlc_token_text(tok, ids, n, 0, &dt, &dl, ends), 0);
            free(ends);
            assert_int_equal(dl, len);
            assert_memory_equal(dt, t, len);
            free(dt);
            assert_true(out[p].finals[i].score >= 0 && out[p].finals[i].score <= 1);
            res->score[res->n] = out[p].finals[i].score;
            res->text[res->n++] = strndup(t, len);
        }
    }
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < out[p].n_finals; i++) ops.release(ops.user, out[p].finals[i].node);
    tts_search_out_free(out, 2);
    assert_int_equal(tts_engine_live_nodes(eo), 0);
    res->forks = tts_engine_forks(eo);
    tts_engine_ops_free(eo);
    if (pc) assert_int_equal(tts_prm_cache_live(pc), 0);
    tts_prm_cache_free(pc);
    gen_stats_t st;
    gen_stats(e, &st);
    res->prefill = st.prefill_tokens;
    res->decode = st.decode_tokens;
    res->sampled = st.sampled_tokens;
    res->preempt = st.preemptions;
    assert_int_equal(st.pages_free, st.pages_total); /* every page came back */
    gen_engine_free(e);
    prm.m = NULL; /* shared: rlc_prm_close frees only the head */
    rlc_prm_close(&prm);
}

static void free_run(run_t *r) {
    for (int i = 0; i < r->n; i++) free(r->text[i]);
}

static void test_sharing_counted(void **s) {
    (void)s;
    for (int method = 0; method < 2; method++) {
        run_t a;
        run_search(method, method, 42, 0, &a);
        assert_int_equal(a.preempt, 0);
        assert_true(a.forks > 2);
        /* the prompts are computed once (the anchors); a fork computes only its last prefix
         * token (a one-token step, counted as decode) and then its samples' tokens */
        assert_int_equal(a.prefill, plen[0] + plen[1]);
        assert_true(a.decode <= a.forks + a.sampled);
        assert_true(a.decode >= a.forks);
        run_t b;
        run_search(method, method, 42, 0, &b);
        assert_int_equal(a.n, b.n);
        for (int i = 0; i < a.n; i++) assert_string_equal(a.text[i], b.text[i]);
        /* with the PRM cache: the same search (scores within rounding), fewer PRM tokens */
        run_t c;
        run_search(method, method, 42, 1, &c);
        assert_int_equal(a.n, c.n);
        for (int i = 0; i < a.n; i++) {
            assert_string_equal(a.text[i], c.text[i]);
            assert_true(fabsf(a.score[i] - c.score[i]) < 1e-4f);
        }
        assert_true(c.prm_tokens < a.prm_tokens);
        free_run(&a), free_run(&b), free_run(&c);
    }
}

/* Steps stop at the delimiter and continue the parent: expand the roots, then one child. */
static void test_steps(void **s) {
    (void)s;
    gen_engine_t *e;
    gen_engine_cfg_t gc = {.page_size = 4};
    assert_int_equal(gen_engine_create(&e, pol, tok, &gc), 0);
    rlc_prm_t prm = {.m = prm_m, .format = RLC_PRM_GENERIC, .what = "prm"};
    assert_int_equal(rlc_prm_open_head(&prm), 0);
    const int32_t *pp[2] = {prompt[0], prompt[1]};
    tts_engine_cfg_t ec = {.e = e, .tok = tok, .prm = &prm, .n_problems = 2, .prompts = pp, .plen = plen,
                           .delimiter = " "};
    gen_params_default(&ec.sample);
    ec.sample.temperature = 1.0f;
    ec.sample.max_new_tokens = 40;
    ec.sample.seed = 3;
    tts_engine_ops_t *eo;
    assert_int_equal(tts_engine_ops_create(&eo, &ec), 0);
    tts_search_ops_t o = tts_engine_ops(eo);
    int roots[2] = {TTS_ROOT(0), TTS_ROOT(1)};
    tts_child_t k[6], g[6];
    assert_int_equal(o.expand(o.user, roots, 2, 3, TTS_GEN_STEP, k), 0);
    int par[6], np = 0;
    for (int i = 0; i < 6; i++) {
        const char *t;
        size_t len;
        assert_int_equal(o.text(o.user, k[i].node, &t, &len), 0);
        if (k[i].end == TTS_END_STEP) {
            assert_non_null(memchr(t, ' ', len)); /* stopped at the delimiter */
            par[np++] = k[i].node;
        }
    }
    if (np) {
        assert_int_equal(o.expand(o.user, par, np, 1, TTS_GEN_GREEDY_STEP, g), 0);
        for (int i = 0; i < np; i++) {
            const char *pt, *ct;
            size_t pl, cl;
            assert_int_equal(o.text(o.user, par[i], &pt, &pl), 0);
            assert_int_equal(o.text(o.user, g[i].node, &ct, &cl), 0);
            assert_true(cl >= pl);
            assert_memory_equal(pt, ct, pl); /* the child continues its parent */
            o.release(o.user, g[i].node);
        }
    }
    for (int i = 0; i < 6; i++) o.release(o.user, k[i].node);
    o.release(o.user, k[0].node); /* a second release is harmless */
    assert_int_equal(tts_engine_live_nodes(eo), 0);
    assert_true(np > 0);
    tts_engine_ops_free(eo);
    gen_engine_free(e);
    prm.m = NULL;
    rlc_prm_close(&prm);
}

/* The PRM cache alone: a completion, then its extension from it, then an unrelated one;
 * every score and aggregate equals rlc_prm_score's, and the extension reads only its new
 * tokens (+ 1). */
static void test_prm_cache(void **s) {
    (void)s;
    rlc_prm_t prm = {.m = prm_m, .format = RLC_PRM_GENERIC, .what = "prm"};
    assert_int_equal(rlc_prm_open_head(&prm), 0);
    const int32_t *pp[2] = {prompt[0], prompt[1]};
    gen_engine_cfg_t pcfg = {.page_size = 4};
    tts_prm_cache_t *pc;
    assert_int_equal(tts_prm_cache_create(&pc, &prm, tok, 2, pp, plen, NULL, &pcfg), 0);
    const char *a = "First we add.\n\nThen 2 + 3 = 5", *b = "First we add.\n\nThen 2 + 3 = 5.\n\nSo \\boxed{5}.";
    int32_t *ia, *ib;
    int na, nb;
    assert_int_equal(tok_encode(tok, a, strlen(a), 0, &ia, &na), 0);
    assert_int_equal(tok_encode(tok, b, strlen(b), 0, &ib, &nb), 0);
    assert_true(nb > na && !memcmp(ia, ib, sizeof(int32_t) * (size_t)na)); /* a's ids are a prefix of b's */
    tts_prm_item_t it[2] = {{.parent = -1, .problem = 0, .comp = ia, .clen = na},
                            {.parent = -1, .problem = 1, .comp = ib, .clen = nb}};
    assert_int_equal(tts_prm_cache_score(pc, it, 2, RLC_STEP_AGG_MIN), 0);
    tts_prm_item_t ext = {.parent = it[0].handle, .problem = 0, .comp = ib, .clen = nb};
    assert_int_equal(tts_prm_cache_score(pc, &ext, 1, RLC_STEP_AGG_MIN), 0);
    assert_int_equal(ext.read, nb - na + 1);
    const tts_prm_item_t *all[3] = {&it[0], &it[1], &ext};
    for (int i = 0; i < 3; i++) {
        const tts_prm_item_t *x = all[i];
        float *sc = NULL;
        int ns = 0;
        long read = 0;
        assert_int_equal(rlc_prm_score(&prm, tok, "", prompt[x->problem], plen[x->problem], x->comp, x->clen, &sc, &ns,
                                       &read), 0);
        double want = rlc_step_aggregate(sc, ns, RLC_STEP_AGG_MIN);
        if (fabs(want - x->agg) > 1e-4) fail_msg("item %d: cached %g vs full %g", i, x->agg, want);
        free(sc);
    }
    for (int i = 0; i < 2; i++) tts_prm_cache_release(pc, it[i].handle);
    tts_prm_cache_release(pc, ext.handle);
    assert_int_equal(tts_prm_cache_live(pc), 0);
    tts_prm_cache_free(pc);
    free(ia), free(ib);
    prm.m = NULL;
    rlc_prm_close(&prm);
}

/* The cache with the formats that have their own tokenizer and layout (math-shepherd with
 * qwen2-tiny as the LM, qwen, skywork): an extension's scores equal full scoring, and it
 * computes fewer tokens than its whole input. */
static void test_prm_cache_formats(void **s) {
    (void)s;
    const char *dirs[3] = {"models/qwen2-tiny", "models/qwen-prm-tiny", "models/skywork-prm-tiny"};
    int fmts[3] = {RLC_PRM_SHEPHERD, RLC_PRM_QWEN, RLC_PRM_SKYWORK};
    const char *a = "First we add.\nThen 2 + 3 = 5\n\nCheck", *b = "First we add.\nThen 2 + 3 = 5\n\nCheck: 5 - 3 = 2.\n\nSo 5.";
    int32_t *ia, *ib;
    int na, nb;
    assert_int_equal(tok_encode(tok, a, strlen(a), 0, &ia, &na), 0);
    assert_int_equal(tok_encode(tok, b, strlen(b), 0, &ib, &nb), 0);
    assert_true(nb > na && !memcmp(ia, ib, sizeof(int32_t) * (size_t)na));
    const char *qs[2] = {"What is 2 + 3?", "Other."};
    const int32_t *pp[2] = {prompt[0], prompt[1]};
    for (int f = 0; f < 3; f++) {
        rlc_prm_t prm;
        char dir[512];
        snprintf(dir, sizeof dir, "%s", fixture(dirs[f]));
        if (rlc_prm_open(&prm, "prm", dir, fmts[f], be)) fail_msg("%s: %s", dirs[f], rlc_errmsg());
        gen_engine_cfg_t pcfg = {.page_size = 4};
        tts_prm_cache_t *pc;
        assert_int_equal(tts_prm_cache_create(&pc, &prm, tok, 2, pp, plen, qs, &pcfg), 0);
        tts_prm_item_t it = {.parent = -1, .problem = 0, .comp = ia, .clen = na};
        assert_int_equal(tts_prm_cache_score(pc, &it, 1, RLC_STEP_AGG_MEAN), 0);
        tts_prm_item_t ext = {.parent = it.handle, .problem = 0, .comp = ib, .clen = nb};
        assert_int_equal(tts_prm_cache_score(pc, &ext, 1, RLC_STEP_AGG_MEAN), 0);
        const tts_prm_item_t *all[2] = {&it, &ext};
        for (int i = 0; i < 2; i++) {
            float *sc = NULL;
            int ns = 0;
            long read = 0;
            assert_int_equal(rlc_prm_score(&prm, tok, qs[0], prompt[0], plen[0], all[i]->comp, all[i]->clen, &sc, &ns,
                                           &read), 0);
            double want = rlc_step_aggregate(sc, ns, RLC_STEP_AGG_MEAN);
            if (fabs(want - all[i]->agg) > 1e-4) fail_msg("%s item %d: cached %g vs full %g", dirs[f], i, all[i]->agg, want);
            if (i == 1) assert_true(ext.read < read); /* only the new part */
            free(sc);
        }
        tts_prm_cache_release(pc, it.handle);
        tts_prm_cache_release(pc, ext.handle);
        assert_int_equal(tts_prm_cache_live(pc), 0);
        tts_prm_cache_free(pc);
        rlc_prm_close(&prm);
    }
    free(ia), free(ib);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sharing_counted), cmocka_unit_test(test_steps),
                                       cmocka_unit_test(test_prm_cache), cmocka_unit_test(test_prm_cache_formats)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
