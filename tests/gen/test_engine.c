/* Rollout engine: greedy = transformers generate; batch invariance; prefix sharing page
 * counters and copy-on-write correctness; engine log-probs = training-forward log-probs;
 * stop strings across token boundaries; tool pause hook; forks; bad input. */
#include "testutil.h"

#include "core/err.h"
#include "core/json.h"
#include "gen/engine.h"

static rlc_backend_t *be;

static rlc_model_t *load(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s", name);
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture(rel), be)) fail_msg("%s", rlc_errmsg());
    return m;
}

static void test_greedy_matches_hf(void **s) {
    (void)s;
    const char *names[] = {"qwen2-tiny", "qwen2-untied", "llama3-tiny",     "llama-bias",    "qwen3-tiny",
                           "qwen2-yarn", "llama-yarn",   "mistral-sliding", "qwen2-sliding", "phi3-tiny",
                           "phi3-longrope", "gemma3-tiny", "gemma-tiny", "gemma2-tiny", "olmo2-tiny", "olmo3-tiny",
                           "granite-tiny", "smollm3-tiny", "ministral3-tiny", "qwen3moe-tiny", "mixtral-tiny",
                           "olmoe-tiny", "qwen2moe-tiny", "glm4moe-tiny",
                           "dots1-tiny", "ernie45-tiny", "ernie45moe-tiny",
                           "glm4-tiny", "dsv3-tiny", "moonlight-tiny", "glm47flash-tiny",
                           "dsv2-tiny", "minicpm3-tiny", "mistral4-tiny", "youtu-tiny",
                           "seed-oss-tiny", "qwen3-fp8", "minimax-m2-tiny",
                           "dsv32-tiny", "exaone4-tiny", "solar-open-tiny"};
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        rlc_model_t *m = load(names[k]);
        char rel[128];
        snprintf(rel, sizeof rel, "models/%s.ref/gen.json", names[k]);
        cJSON *g = rlc_json_load_file(fixture(rel));
        assert_non_null(g);
        cJSON *prompts = cJSON_GetObjectItem(g, "prompts"), *outs = cJSON_GetObjectItem(g, "outputs");
        int np = cJSON_GetArraySize(prompts);
        gen_engine_t *e;
        gen_engine_cfg_t cfg = {.page_size = 4, .max_batch_tokens = 16}; /* force chunked prefill */
        assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
        gen_params_t p;
        gen_params_default(&p);
        p.temperature = 0;
        p.max_new_tokens = cJSON_GetObjectItem(g, "max_new_tokens")->valueint;
        p.ignore_eos = 1;
        int req[8];
        for (int i = 0; i < np; i++) {
            cJSON *pr = cJSON_GetArrayItem(prompts, i);
            int n = cJSON_GetArraySize(pr);
            int32_t ids[64];
            for (int j = 0; j < n; j++) ids[j] = cJSON_GetArrayItem(pr, j)->valueint;
            req[i] = gen_submit(e, ids, n, &p, NULL);
            assert_true(req[i] >= 0);
        }
        assert_int_equal(gen_run(e, NULL), 0);
        for (int i = 0; i < np; i++) {
            const gen_output_t *o = gen_output(e, req[i], 0);
            assert_non_null(o);
            cJSON *want = cJSON_GetArrayItem(outs, i);
            assert_int_equal(o->n_tokens, cJSON_GetArraySize(want));
            for (int j = 0; j < o->n_tokens; j++)
                if (o->tokens[j] != cJSON_GetArrayItem(want, j)->valueint)
                    fail_msg("%s prompt %d token %d: %d vs transformers %d", names[k], i, j, o->tokens[j],
                             cJSON_GetArrayItem(want, j)->valueint);
            assert_int_equal(o->finish, GEN_FINISH_LENGTH);
        }
        gen_engine_free(e);
        cJSON_Delete(g);
        rlc_model_free(m);
    }
}

static void make_prompt(int32_t *ids, int n, int salt) {
    for (int i = 0; i < n; i++) ids[i] = (int32_t)(3 + (i * 37 + salt * 101) % 500);
}
/* make_prompt's ids folded into a smaller vocabulary */
static void fit_vocab(int32_t *ids, int n, int V) {
    for (int i = 0; i < n; i++) ids[i] = 3 + (ids[i] - 3) % (V - 3);
}

/* Engine log-probs of every sampled token equal the training forward's at temperature T. */
static void check_logprobs(rlc_model_t *m, gen_engine_t *e, int req, int sample, float T) {
    const int32_t *ids;
    int n, np;
    assert_int_equal(gen_sequence(e, req, sample, &ids, &n, &np), 0);
    const gen_output_t *o = gen_output(e, req, sample);
    int32_t cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f / T};
    float *lp = malloc((size_t)n * 4);
    assert_int_equal(rlc_model_forward(m, &b, &fo, lp, NULL, NULL), 0);
    for (int j = 0; j < o->n_tokens; j++) {
        if (!o->trainable[j]) continue;
        double d = fabs(o->logp[j] - lp[np + j - 1]);
        if (d > 1e-4) fail_msg("req %d sample %d token %d: engine logp %.6f vs forward %.6f", req, sample, j, o->logp[j],
                               lp[np + j - 1]);
    }
    free(lp);
}

/* A sequence alone equals itself in a crowd (tokens and log-probs, bit for bit). */
static void batch_invariance(const char *name) {
    rlc_model_t *m = load(name);
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 1.0f;
    p.top_p = 0.9f;
    p.max_new_tokens = 20;
    p.n = 3;
    p.seed = 77;
    p.ignore_eos = 1;
    int32_t x[21];
    make_prompt(x, 21, 5);
    fit_vocab(x, 21, m->cfg.vocab_size);
    /* alone */
    gen_engine_t *e;
    gen_engine_cfg_t c1 = {.page_size = 8};
    assert_int_equal(gen_engine_create(&e, m, NULL, &c1), 0);
    int r = gen_submit(e, x, 21, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    int32_t alone[3][20];
    for (int i = 0; i < 3; i++) memcpy(alone[i], gen_output(e, r, i)->tokens, sizeof alone[i]);
    /* the three samples differ from each other (independent seeds) */
    assert_true(memcmp(alone[0], alone[1], sizeof alone[0]) || memcmp(alone[1], alone[2], sizeof alone[0]));
    gen_engine_free(e);
    /* in a crowd of 64 requests with different lengths and budgets, small step budget and a
     * KV budget small enough to force preemption */
    gen_engine_cfg_t c2 = {.page_size = 8, .max_batch_tokens = 48, .num_pages = 60};
    assert_int_equal(gen_engine_create(&e, m, NULL, &c2), 0);
    int target = -1, reqs[64];
    for (int i = 0; i < 64; i++) {
        if (i == 30) {
            target = reqs[i] = gen_submit(e, x, 21, &p, NULL);
            continue;
        }
        int32_t y[40];
        int n = 3 + (i * 7) % 37;
        make_prompt(y, n, i);
        fit_vocab(y, n, m->cfg.vocab_size);
        gen_params_t q = p;
        q.n = 1 + i % 4;
        q.seed = 1000 + (uint64_t)i;
        q.max_new_tokens = 1 + (i * 13) % 30;
        q.temperature = (i % 3) ? 0.8f : 0;
        reqs[i] = gen_submit(e, y, n, &q, NULL);
        assert_true(reqs[i] >= 0);
    }
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats_t st;
    gen_stats(e, &st);
    assert_true(st.preemptions > 0); /* the crowd really ran out of pages */
    for (int i = 0; i < 3; i++) {
        const gen_output_t *o = gen_output(e, target, i);
        assert_int_equal(o->n_tokens, 20);
        if (memcmp(o->tokens, alone[i], sizeof alone[i])) fail_msg("sample %d differs in the crowd", i);
        check_logprobs(m, e, target, i, 1.0f);
    }
    gen_engine_free(e);
    rlc_model_free(m);
}

/* A dense model, and a mixture of experts: whatever the crowd, a token's routing, its experts'
 * matmuls (row-invariant over each expert's rows) and their weighted sum are its own. */
static void test_batch_invariance(void **s) {
    (void)s;
    batch_invariance("qwen2-tiny");
    batch_invariance("qwen3moe-tiny");
}

static void test_prefix_sharing(void **s) {
    (void)s;
    rlc_model_t *m = load("qwen2-tiny");
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 8};
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.n = 8;
    p.max_new_tokens = 12;
    p.seed = 3;
    p.temperature = 1.0f;
    p.ignore_eos = 1;
    int32_t x[37];
    make_prompt(x, 37, 9);
    int r = gen_submit(e, x, 37, &p, NULL);
    assert_int_equal(gen_step(e), 8); /* prefill of the prompt, 8 first tokens sampled */
    gen_stats_t st;
    gen_stats(e, &st);
    assert_int_equal(st.pages_allocated, 5); /* ceil(37/8): the prompt's pages, once */
    assert_int_equal(st.prefill_tokens, 37);
    assert_true(gen_step(e) == 8);
    gen_stats(e, &st);
    /* position 37 lives in the shared, partly filled page 4: 7 samples copy it, the last
     * one writes in place */
    assert_int_equal(st.cow_copies, 7);
    assert_int_equal(st.pages_allocated, 12);
    assert_int_equal(gen_run(e, NULL), 0);
    for (int i = 0; i < 8; i++) check_logprobs(m, e, r, i, 1.0f); /* KV correct after COW */
    /* releasing returns every page */
    gen_release(e, r);
    gen_stats(e, &st);
    assert_int_equal(st.pages_free, st.pages_total);
    gen_engine_free(e);
    rlc_model_free(m);
}

static tok_t *g_tok;

static int toy_tool(void *user, const gen_tool_call_t *call, char **out, size_t *out_len) {
    int *calls = user;
    (*calls)++;
    assert_true(call->text_len > 0);
    *out = strdup("<result>42</result>");
    *out_len = strlen(*out);
    return 0;
}

typedef struct {
    int batches, total, max_n, no_call;
} batch_log_t;

/* The batch hook: every call of a step at once; "no call" answers NULL for all. */
static int toy_batch(void *user, const gen_tool_call_t *calls, int n, char **outs, size_t *lens) {
    batch_log_t *b = user;
    b->batches++;
    b->total += n;
    if (n > b->max_n) b->max_n = n;
    for (int i = 0; i < n; i++) {
        assert_true(calls[i].text_len > 0);
        outs[i] = b->no_call ? NULL : strdup("<result>42</result>");
        lens[i] = outs[i] ? strlen(outs[i]) : 0;
    }
    return 0;
}

static void test_stops_and_tools(void **s) {
    (void)s;
    rlc_model_t *m = load("qwen2-tiny");
    assert_int_equal(tok_load(&g_tok, fixture("models/qwen2-tiny")), 0);
    int calls = 0;
    gen_engine_cfg_t cfg = {.page_size = 8, .tool_fn = toy_tool, .tool_user = &calls};
    gen_engine_t *e;
    assert_int_equal(gen_engine_create(&e, m, g_tok, &cfg), 0);
    int32_t *pr;
    int np;
    const char *prompt = "Question: what is 12 + 35? Think step by step.";
    assert_int_equal(tok_encode(g_tok, prompt, strlen(prompt), 0, &pr, &np), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0;
    p.max_new_tokens = 24;
    p.ignore_eos = 1;
    int r = gen_submit(e, pr, np, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o = gen_output(e, r, 0);
    assert_true(o->text_len > 8);
    /* a stop string spanning a token boundary: bytes [a, a+4) where a token ends inside */
    size_t off = 0, cut = 0;
    for (int j = 0; j < o->n_tokens && !cut; j++) {
        const char *b;
        size_t len;
        tok_token_bytes(g_tok, o->tokens[j], &b, &len);
        if (off + len >= 3 && off + len + 2 <= o->text_len && len >= 1 && off >= 1) cut = off + len - 1;
        off += len;
    }
    assert_true(cut > 0);
    char stop[8] = {0};
    memcpy(stop, o->text + cut - 1, 4);
    const char *stops[2] = {"never-appears-xyz", stop};
    gen_params_t q = p;
    q.stop_strings = stops;
    q.n_stop_strings = 2;
    int r2 = gen_submit(e, pr, np, &q, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o2 = gen_output(e, r2, 0);
    assert_int_equal(o2->finish, GEN_FINISH_STOP);
    assert_int_equal(o2->stop_index, 1);
    char *hit = strstr(o2->text, stop);
    assert_non_null(hit);
    assert_true(hit + strlen(stop) == o2->text + o2->text_len); /* stops right after the match */
    /* a stop string that never occurs: finishes by length */
    const char *never[1] = {"never-appears-xyz"};
    q.stop_strings = never;
    q.n_stop_strings = 1;
    int r3 = gen_submit(e, pr, np, &q, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    assert_int_equal(gen_output(e, r3, 0)->finish, GEN_FINISH_LENGTH);
    /* tool marker = the same boundary-spanning string: pause, append, continue */
    gen_params_t t = p;
    t.tool_markers = (const char *const *)&stops[1];
    t.n_tool_markers = 1;
    t.max_tool_calls = 1;
    t.max_new_tokens = 40;
    int r4 = gen_submit(e, pr, np, &t, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o4 = gen_output(e, r4, 0);
    assert_int_equal(calls, 1);
    assert_int_equal(o4->n_tool_calls, 1);
    char *res = strstr(o4->text, "<result>42</result>");
    assert_non_null(res);
    int32_t *tool_ids;
    int ntool;
    assert_int_equal(tok_encode(g_tok, "<result>42</result>", 19, 0, &tool_ids, &ntool), 0);
    int first = -1, masked = 0;
    for (int j = 0; j < o4->n_tokens; j++)
        if (!o4->trainable[j]) {
            if (first < 0) first = j;
            masked++;
        }
    assert_int_equal(masked, ntool);
    assert_memory_equal(o4->tokens + first, tool_ids, (size_t)ntool * 4);
    assert_true(first + ntool < o4->n_tokens); /* generation resumed after the tool output */
    check_logprobs(m, e, r4, 0, 1.0f);         /* greedy logp is at T = 1 */
    /* the batch hook: 4 greedy samples pause in the same step, are answered together, and
     * continue exactly as the one-at-a-time hook's sample did */
    batch_log_t bl = {0};
    gen_engine_cfg_t bcfg = {.page_size = 8, .tool_batch_fn = toy_batch, .tool_user = &bl};
    gen_engine_t *e2;
    assert_int_equal(gen_engine_create(&e2, m, g_tok, &bcfg), 0);
    gen_params_t t4 = t;
    t4.n = 4;
    int r5 = gen_submit(e2, pr, np, &t4, NULL);
    assert_int_equal(gen_run(e2, NULL), 0);
    assert_int_equal(bl.batches, 1);
    assert_int_equal(bl.max_n, 4);
    for (int i = 0; i < 4; i++) {
        const gen_output_t *oi = gen_output(e2, r5, i);
        assert_int_equal(oi->n_tool_calls, 1);
        assert_string_equal(oi->text, o4->text);
        assert_memory_equal(oi->trainable, o4->trainable, (size_t)o4->n_tokens);
    }
    /* a marker that closes no call (NULL answer): nothing appended, not counted */
    bl.no_call = 1;
    t4.n = 1;
    int r6 = gen_submit(e2, pr, np, &t4, NULL);
    assert_int_equal(gen_run(e2, NULL), 0);
    const gen_output_t *o6 = gen_output(e2, r6, 0);
    assert_int_equal(o6->n_tool_calls, 0);
    assert_null(strstr(o6->text, "<result>"));
    for (int j = 0; j < o6->n_tokens; j++) assert_int_equal(o6->trainable[j], 1);
    gen_engine_free(e2);
    free(tool_ids);
    free(pr);
    gen_engine_free(e);
    tok_free(g_tok);
    rlc_model_free(m);
}

static void test_fork(void **s) {
    (void)s;
    rlc_model_t *m = load("llama3-tiny");
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 4};
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.max_new_tokens = 16;
    p.seed = 5;
    p.ignore_eos = 1;
    int32_t x[10];
    make_prompt(x, 10, 2);
    for (int i = 0; i < 10; i++) x[i] %= 250;
    int r = gen_submit(e, x, 10, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats_t a, b;
    gen_stats(e, &a);
    gen_params_t q = p;
    q.n = 4;
    q.max_new_tokens = 6;
    q.seed = 9;
    int f = gen_fork(e, r, 0, 19, NULL, 0, &q, NULL); /* prompt + 9 generated tokens */
    assert_true(f >= 0);
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats(e, &b);
    /* the 18 cached prefix tokens (pages 0-4, page 4 partly) are shared, not recomputed */
    assert_true(b.prefill_tokens - a.prefill_tokens <= 1);
    for (int i = 0; i < 4; i++) {
        const int32_t *ids, *src;
        int n, n2, np;
        assert_int_equal(gen_sequence(e, f, i, &ids, &n, &np), 0);
        assert_int_equal(np, 19);
        assert_int_equal(gen_sequence(e, r, 0, &src, &n2, NULL), 0);
        assert_memory_equal(ids, src, 19 * 4);
        check_logprobs(m, e, f, i, 1.0f);
    }
    /* a fork with appended tokens (MRT's forced termination): the prefix's pages are shared,
     * only the last prefix token and the 3 appended ones are prefilled */
    const int32_t extra[3] = {7, 8, 9};
    gen_stats(e, &a);
    int f2 = gen_fork(e, r, 0, 13, extra, 3, &q, NULL);
    assert_true(f2 >= 0);
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats(e, &b);
    assert_true(b.prefill_tokens - a.prefill_tokens <= 4);
    /* 13 + 3 prompt tokens + 6 new = 22 tokens = 6 pages of 4; 3 pages (12 tokens) are shared,
     * so each of the 4 samples takes at most 3 + 1 (copy-on-write) fresh pages */
    assert_true(b.pages_allocated - a.pages_allocated <= 4 * 4);
    for (int i = 0; i < 4; i++) {
        const int32_t *ids, *src;
        int n, n2, np;
        assert_int_equal(gen_sequence(e, f2, i, &ids, &n, &np), 0);
        assert_int_equal(np, 16);
        assert_int_equal(gen_sequence(e, r, 0, &src, &n2, NULL), 0);
        assert_memory_equal(ids, src, 13 * 4);
        assert_memory_equal(ids + 13, extra, 3 * 4);
        check_logprobs(m, e, f2, i, 1.0f);
    }
    const int32_t bad[1] = {1 << 30};
    assert_true(gen_fork(e, r, 0, 13, bad, 1, &q, NULL) < 0);
    gen_engine_free(e);
    rlc_model_free(m);
}

/* A model whose embedding is larger than the tokenizer's vocabulary (as Qwen2.5 pads it):
 * sampled ids beyond the tokenizer give no text instead of an error. */
static void test_padded_vocab(void **s) {
    (void)s;
    cJSON *cfg_json = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    assert_non_null(cfg_json);
    cJSON_ReplaceItemInObject(cfg_json, "vocab_size", cJSON_CreateNumber(600));
    rlc_model_t *m;
    assert_int_equal(rlc_model_create(&m, cfg_json, be, 3, 0.5f), 0); /* large std: spread-out samples */
    cJSON_Delete(cfg_json);
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("models/qwen2-tiny")), 0);
    assert_true(tok_vocab_size(tok) < m->cfg.vocab_size);
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 8};
    assert_int_equal(gen_engine_create(&e, m, tok, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.n = 8;
    p.max_new_tokens = 24;
    p.seed = 1;
    p.ignore_eos = 1;
    int32_t x[5] = {3, 4, 5, 6, 7};
    int r = gen_submit(e, x, 5, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    int beyond = 0;
    for (int i = 0; i < 8; i++) {
        const gen_output_t *o = gen_output(e, r, i);
        for (int k = 0; k < o->n_tokens; k++) beyond += o->tokens[k] >= tok_vocab_size(tok);
    }
    assert_true(beyond > 0); /* the case really occurred */
    gen_engine_free(e);
    tok_free(tok);
    rlc_model_free(m);
}

static void test_bad_input(void **s) {
    (void)s;
    rlc_model_t *m = load("qwen2-tiny");
    gen_engine_t *e;
    gen_engine_cfg_t cfg = {.page_size = 4, .num_pages = 8}; /* 32 tokens of KV */
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.max_new_tokens = 8;
    int32_t x[300];
    make_prompt(x, 300, 1);
    assert_true(gen_submit(e, x, 300, &p, NULL) < 0); /* beyond the context (256) */
    assert_non_null(strstr(rlc_errmsg(), "does not fit the model's context"));
    gen_params_t q = p;
    q.n = 0;
    assert_true(gen_submit(e, x, 5, &q, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "at least 1"));
    q = p;
    q.temperature = -1;
    assert_true(gen_submit(e, x, 5, &q, NULL) < 0);
    q = p;
    q.top_p = 0;
    assert_true(gen_submit(e, x, 5, &q, NULL) < 0);
    q = p;
    q.max_new_tokens = 40; /* 45 tokens > 32 slots: can never fit */
    assert_true(gen_submit(e, x, 5, &q, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "KV pages"));
    const char *stops[1] = {"x"};
    q = p;
    q.stop_strings = stops;
    q.n_stop_strings = 1;
    assert_true(gen_submit(e, x, 5, &q, NULL) < 0); /* no tokenizer */
    int32_t bad[2] = {5, 9999};
    assert_int_equal(gen_submit(e, bad, 2, &p, NULL), RLC_ERANGE);
    /* many requests that each fit but not together: they wait and all finish */
    int reqs[6];
    for (int i = 0; i < 6; i++) {
        make_prompt(x, 12, i);
        reqs[i] = gen_submit(e, x, 12, &p, NULL);
        assert_true(reqs[i] >= 0);
    }
    assert_int_equal(gen_run(e, NULL), 0);
    for (int i = 0; i < 6; i++) assert_non_null(gen_output(e, reqs[i], 0));
    gen_engine_free(e);
    /* a budget below two pages is refused */
    gen_engine_cfg_t tiny = {.page_size = 4, .num_pages = 1};
    assert_true(gen_engine_create(&e, m, NULL, &tiny) < 0);
    rlc_model_free(m);
}

/* A sliding-window model (layer 1 slides with a window of 5, layer 0 attends to everything)
 * generates past its window with the log-probs of its training forward, in chunked prefill
 * and decode alike, and a sequence alone equals itself in a crowd. */
static void test_sliding_window(void **s) {
    (void)s;
    rlc_model_t *m = load("qwen2-tiny");
    m->cfg.sliding_window = 5;
    free(m->cfg.layer_slides); /* the fixture's layer_types: both full */
    m->cfg.layer_slides = calloc(2, 1); /* freed with the model */
    m->cfg.layer_slides[1] = 1;
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0.8f;
    p.max_new_tokens = 14;
    p.n = 2;
    p.seed = 5;
    p.ignore_eos = 1;
    int32_t x[12];
    gen_engine_t *e;
    gen_engine_cfg_t c1 = {.page_size = 4, .max_batch_tokens = 6}; /* prefill in chunks of up to 6 */
    assert_int_equal(gen_engine_create(&e, m, NULL, &c1), 0);
    int req[3];
    for (int i = 0; i < 3; i++) {
        make_prompt(x, 4 + 4 * i, 20 + i);
        req[i] = gen_submit(e, x, 4 + 4 * i, &p, NULL);
        assert_true(req[i] >= 0);
    }
    assert_int_equal(gen_run(e, NULL), 0);
    int32_t crowd[14];
    memcpy(crowd, gen_output(e, req[2], 1)->tokens, sizeof crowd);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++) check_logprobs(m, e, req[i], k, 0.8f);
    gen_engine_free(e);
    gen_engine_cfg_t c2 = {.page_size = 8};
    assert_int_equal(gen_engine_create(&e, m, NULL, &c2), 0);
    make_prompt(x, 12, 22);
    int r = gen_submit(e, x, 12, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    assert_memory_equal(gen_output(e, r, 1)->tokens, crowd, sizeof crowd);
    gen_engine_free(e);
    rlc_model_free(m);
}

/* The bytes of n pages of 4 tokens holding every layer (as with RLC_KV_KEEP_WINDOW=1). */
static size_t keep_pages_bytes(const rlc_model_t *m, int n) {
    return (size_t)n * 2 * m->cfg.num_layers * 4 * m->cfg.num_kv_heads * m->cfg.head_dim * m->be->esize[RLC_BUF_ACT];
}

/* One hybrid run (release: sliding groups give pages back; else RLC_KV_KEEP_WINDOW=1): three
 * requests of 3 samples (shared prompt pages) under a budget (30 all-layer pages' bytes) that
 * forces preemption either way, then a
 * fork of a finished sample from deep in its generation; tokens and log-probs into tok / lp
 * (4 outputs of 3 samples x 40 tokens). */
typedef struct {
    int32_t tok[4][3][40];
    float lp[4][3][40];
    gen_stats_t st;
} hybrid_run_t;
static void hybrid_run(rlc_model_t **m, const char *name, int release, hybrid_run_t *h) {
    setenv("RLC_KV_KEEP_WINDOW", release ? "0" : "1", 1);
    *m = load(name); /* (the KV layout is the engine's: chosen when it is created) */
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0.9f;
    p.max_new_tokens = 40;
    p.n = 3;
    p.seed = 11;
    p.ignore_eos = 1;
    gen_engine_t *e;
    gen_engine_cfg_t c = {.page_size = 4, .max_batch_tokens = 8, .kv_budget_bytes = keep_pages_bytes(*m, 30)};
    assert_int_equal(gen_engine_create(&e, *m, NULL, &c), 0);
    int req[4];
    int32_t x[20];
    for (int i = 0; i < 3; i++) {
        make_prompt(x, 6 + 5 * i, 40 + i);
        fit_vocab(x, 6 + 5 * i, (*m)->cfg.vocab_size);
        req[i] = gen_submit(e, x, 6 + 5 * i, &p, NULL);
        assert_true(req[i] >= 0);
    }
    assert_int_equal(gen_run(e, NULL), 0);
    int32_t extra[2] = {7, 9};
    req[3] = gen_fork(e, req[1], 2, 45, extra, 2, &p, NULL); /* prompt 11 + 34 generated tokens */
    assert_true(req[3] >= 0);
    assert_int_equal(gen_run(e, NULL), 0);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 3; k++) {
            const gen_output_t *o = gen_output(e, req[r], k);
            assert_int_equal(o->n_tokens, 40);
            memcpy(h->tok[r][k], o->tokens, sizeof h->tok[r][k]);
            memcpy(h->lp[r][k], o->logp, sizeof h->lp[r][k]);
        }
    gen_stats(e, &h->st);
    gen_engine_free(e);
    unsetenv("RLC_KV_KEEP_WINDOW");
}

/* Models that mix full and sliding-window layers release a sliding layer's KV pages once no
 * later query's window reaches them: the same tokens and log-probs, bit for bit, as keeping
 * every page, through prefix sharing, preemption and a fork (whose window the source had
 * released: it recomputes); and a sequence 24 windows long fits a budget that keeping every
 * page would not. */
static void test_window_release(void **s) {
    (void)s;
    const char *names[] = {"gemma2-tiny", "gemma3-tiny", "olmo3-tiny"};
    for (int n = 0; n < 3; n++) {
        static hybrid_run_t keep, rel;
        rlc_model_t *m;
        hybrid_run(&m, names[n], 0, &keep);
        rlc_model_free(m);
        hybrid_run(&m, names[n], 1, &rel);
        if (memcmp(keep.tok, rel.tok, sizeof keep.tok) || memcmp(keep.lp, rel.lp, sizeof keep.lp))
            fail_msg("%s: releasing window pages changed the output", names[n]);
        assert_true(keep.st.pages_released == 0 && rel.st.pages_released > 0);
        assert_true(keep.st.preemptions > 0 && rel.st.preemptions > 0);
        print_message("%s: %ld pages released, preemptions %ld (kept: %ld)\n", names[n], rel.st.pages_released,
                      rel.st.preemptions, keep.st.preemptions);
        /* 6 + 120 tokens, a window of 5, the bytes of 20 all-layer pages: keeping every page would
         * take 32 of them; the sliding layers' release leaves them a few pages each */
        gen_params_t p;
        gen_params_default(&p);
        p.temperature = 0.0f;
        p.max_new_tokens = 120;
        p.ignore_eos = 1;
        int32_t x[6];
        make_prompt(x, 6, 3);
        fit_vocab(x, 6, m->cfg.vocab_size);
        gen_engine_t *e;
        gen_engine_cfg_t c = {.page_size = 4, .max_batch_tokens = 8, .kv_budget_bytes = keep_pages_bytes(m, 20)};
        assert_int_equal(gen_engine_create(&e, m, NULL, &c), 0);
        int r = gen_submit(e, x, 6, &p, NULL);
        assert_true(r >= 0);
        assert_int_equal(gen_run(e, NULL), 0);
        check_logprobs(m, e, r, 0, 1.0f);
        /* a fork from the whole sequence still shares its pages: it prefills 2 tokens, not 127 */
        gen_stats_t before, after;
        gen_stats(e, &before);
        int32_t one = 5;
        p.max_new_tokens = 1;
        int f = gen_fork(e, r, 0, 126, &one, 1, &p, NULL);
        assert_true(f >= 0);
        assert_int_equal(gen_run(e, NULL), 0);
        gen_stats(e, &after);
        assert_int_equal(after.prefill_tokens - before.prefill_tokens, 2);
        p.max_new_tokens = 120;
        gen_engine_free(e);
        rlc_model_free(m);
        setenv("RLC_KV_KEEP_WINDOW", "1", 1);
        m = load(names[n]);
        assert_int_equal(gen_engine_create(&e, m, NULL, &c), 0);
        assert_true(gen_submit(e, x, 6, &p, NULL) < 0);
        assert_non_null(strstr(rlc_errmsg(), "needs 32 KV pages but the budget holds 20"));
        gen_engine_free(e);
        rlc_model_free(m);
        unsetenv("RLC_KV_KEEP_WINDOW");
    }
}

/* A LongRoPE model's context is its original one (model/config.h): a sequence stops there
 * ("length"), a prompt beyond it is refused. */
static void test_longrope_context(void **s) {
    (void)s;
    rlc_model_t *m = load("phi3-longrope");
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0;
    p.max_new_tokens = 30;
    p.ignore_eos = 1;
    gen_engine_t *e;
    gen_engine_cfg_t c = {.page_size = 4};
    assert_int_equal(gen_engine_create(&e, m, NULL, &c), 0);
    int32_t x[40];
    make_prompt(x, 40, 3);
    for (int i = 0; i < 40; i++) x[i] %= 300;
    int r = gen_submit(e, x, 20, &p, NULL);
    assert_true(r >= 0);
    assert_true(gen_submit(e, x, 33, &p, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "does not fit the model's context (32)"));
    assert_int_equal(gen_run(e, NULL), 0);
    assert_int_equal(gen_output(e, r, 0)->n_tokens, 12);
    assert_int_equal(gen_output(e, r, 0)->finish, GEN_FINISH_LENGTH);
    check_logprobs(m, e, r, 0, 1.0f);
    gen_engine_free(e);
    rlc_model_free(m);
}

static int setup(void **s) {
    (void)s;
    return rlc_backend_create(&be, "cpu", 0, 2);
}
static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_hf), cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_window_release),
        cmocka_unit_test(test_prefix_sharing),    cmocka_unit_test(test_stops_and_tools),
        cmocka_unit_test(test_fork),              cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sliding_window),    cmocka_unit_test(test_longrope_context), cmocka_unit_test(test_padded_vocab),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
