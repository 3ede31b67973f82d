/* Tools with chat models (docs/tools.md). The llama3 format: its parsing of JSON calls,
 * <|python_tag|> code and plain answers; its rendering of the ipython turn, checked byte for
 * byte against Llama 3.1's real chat template run by rlc's interpreter; the engine pausing
 * on a special token that is also an EOS id, run end to end with the real tools on a model
 * built to write a given token sequence (a "bigram" model: no attention or MLP, so each
 * token's embedding alone picks the next token). tool_prompt_in = template: the tools given
 * to the real Qwen2.5 and Llama 3.1 templates, and the refusals. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "gen/engine.h"
#include "tools/tool.h"

static rlc_backend_t *be;
static const rlc_tool_format_t L = RLC_TOOL_FMT_LLAMA3;
#define HDR "<|start_header_id|>assistant<|end_header_id|>\n\n"
#define IPY "<|start_header_id|>ipython<|end_header_id|>\n\n"

static void expect(const char *text, int want, const char *tool, const char *input) {
    char name[64] = "", *in = NULL;
    int rc = rlc_tool_parse(L, text, strlen(text), name, sizeof name, &in);
    if (rc != want || (tool && strcmp(name, tool)) || (input && (!in || strcmp(in, input)))) {
        fprintf(stderr, "parse([%s]) = %d tool [%s] input [%s]; want %d [%s] [%s]\n", text, rc, name,
                in ? in : "(null)", want, tool ? tool : "", input ? input : "");
        fail();
    }
    free(in);
}

static void test_parse(void **s) {
    (void)s;
    expect("{\"name\": \"calculator\", \"parameters\": {\"expression\": \"6*7\"}}<|eot_id|>", 1, "calculator", "6*7");
    expect(" \n{\"name\": \"python\", \"parameters\": \"{\\\"code\\\": \\\"print(1)\\\"}\"}<|eom_id|>", 1, "python",
           "print(1)");
    expect("{\"name\": \"calculator\"}<|eot_id|>", 1, "calculator", "{}");
    /* <|python_tag|>: Llama 3.1's code interpreter, or a JSON call after the tag */
    expect("<|python_tag|>import math\nprint(math.pi)<|eom_id|>", 1, "python", "import math\nprint(math.pi)");
    expect("<|python_tag|> {\"name\": \"calculator\", \"parameters\": {\"expression\": \"1/3\"}}<|eom_id|>", 1,
           "calculator", "1/3");
    /* answers: no call */
    expect("The answer is \\boxed{42}.<|eot_id|>", 0, NULL, NULL);
    expect("{\"answer\": 42}<|eot_id|>", 0, NULL, NULL);
    expect("{x} is a set<|eot_id|>", 0, NULL, NULL);
    expect("<|eot_id|>", 0, NULL, NULL);
    expect("{\"name\": \"calculator\"}", 0, NULL, NULL); /* no marker at the end */
    /* starts like a call but is none: the model is told */
    expect("{\"name\": \"calculator\", \"parameters\": {<|eot_id|>", 2, NULL, NULL);
    expect("{ \"name\": \"a\"}; {\"name\": \"b\"}<|eot_id|>", 2, NULL, NULL);
    expect("{\"name\": 5}<|eot_id|>", 2, NULL, NULL);
    expect("{\"name\": \"python\", \"parameters\": [1]}<|eot_id|>", 2, NULL, NULL);
    /* only the turn after the last tool answer counts */
    const char *first = "{\"name\": \"calculator\", \"parameters\": {\"expression\": \"6*7\"}}<|eot_id|>" IPY
                        "\"42\"<|eot_id|>" HDR;
    char buf[512];
    snprintf(buf, sizeof buf, "%sSo it is 42.<|eot_id|>", first);
    expect(buf, 0, NULL, NULL);
    snprintf(buf, sizeof buf, "%s<|python_tag|>x = 1<|eom_id|>", first);
    expect(buf, 1, "python", "x = 1");
    rlc_tool_format_t f;
    assert_int_equal(rlc_tools_parse_format("llama3", &f), 0);
    assert_int_equal(f, L);
    assert_string_equal(rlc_tools_format_name(L), "llama3");
    assert_true(rlc_tools_parse_format("llama4", &f) < 0);
    assert_non_null(strstr(rlc_errmsg(), "llama3"));
}

static void test_render_and_spans(void **s) {
    (void)s;
    size_t n;
    const char out[] = "a\"b\\c\n\t\x01\x1f\x7f é/<";
    char *r = rlc_tool_render(L, out, sizeof out - 1, &n);
    assert_string_equal(r, IPY "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f é/<\"<|eot_id|>" HDR);
    assert_int_equal(n, strlen(r));
    free(r);
    /* a trace with two answers: both spans, the wrappers included */
    char trace[512];
    snprintf(trace, sizeof trace, "<|python_tag|>1<|eom_id|>%s\"1\"<|eot_id|>%s<|python_tag|>2<|eom_id|>%s\"2\"", IPY,
             HDR, IPY);
    size_t st[4], en[4];
    assert_int_equal(rlc_tool_output_spans(L, trace, strlen(trace), st, en, 4), 2);
    assert_memory_equal(trace + st[0], IPY "\"1\"<|eot_id|>" HDR, en[0] - st[0]);
    assert_int_equal(en[0] - st[0], strlen(IPY "\"1\"<|eot_id|>" HDR));
    assert_int_equal(en[1], strlen(trace)); /* unclosed: to the end */
    /* the set's markers: the two special tokens */
    rlc_tools_cfg_t c;
    rlc_tools_cfg_default(&c);
    c.tools = RLC_TOOL_CALCULATOR;
    c.format = L;
    rlc_tools_t *t;
    assert_int_equal(rlc_tools_create(&t, &c), 0);
    const char *const *mk;
    assert_int_equal(rlc_tools_markers(t, &mk), 2);
    assert_string_equal(mk[0], "<|eom_id|>");
    assert_string_equal(mk[1], "<|eot_id|>");
    rlc_tools_free(t);
    c.format = (rlc_tool_format_t)RLC_TOOL_N_FORMATS;
    assert_true(rlc_tools_create(&t, &c) < 0);
}

/* The prompt and the turns the format writes, put together as a rollout does, equal Llama
 * 3.1's real template rendering the same conversation with `tools` (but for the system
 * line "Environment: ipython", which only a rendering with tools gets). */
static void test_matches_real_template(void **s) {
    (void)s;
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("tokenizers/bpe-llama3")), 0);
    char *jinja;
    size_t jl;
    assert_int_equal(fs_read_all(fixture("tokenizers/real_templates/meta-llama-Llama-3.1-8B-Instruct.jinja"), &jinja, &jl), 0);
    assert_int_equal(tok_set_chat_template(tok, jinja), 0);
    free(jinja);
    const char *calc = "{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"description\": \"Exact "
                       "arithmetic: + - * / ^ and parentheses on integers and fractions\", \"parameters\": {\"type\": "
                       "\"object\", \"properties\": {\"expression\": {\"type\": \"string\"}}, \"required\": "
                       "[\"expression\"]}}}";
    const char *py = "{\"type\": \"function\", \"function\": {\"name\": \"python\", \"description\": \"Run Python code "
                     "and return what it prints\", \"parameters\": {\"type\": \"object\", \"properties\": {\"code\": "
                     "{\"type\": \"string\"}}, \"required\": [\"code\"]}}}";
    char extra[2048], conv[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s, %s]}", calc, py);
    snprintf(conv, sizeof conv,
             "[{\"role\": \"system\", \"content\": \"Reason step by step.\"}, {\"role\": \"user\", \"content\": "
             "\"What is 6*7?\"}, {\"role\": \"assistant\", \"tool_calls\": [{\"type\": \"function\", \"function\": "
             "{\"name\": \"calculator\", \"arguments\": {\"expression\": \"6*7\"}}}]}, {\"role\": \"tool\", "
             "\"content\": \"42 \\\"exact\\\"\\n\\tok\"}, {\"role\": \"assistant\", \"content\": \"It is 42.\"}]");
    cJSON *msgs = cJSON_Parse(conv), *ex = cJSON_Parse(extra);
    char *want;
    assert_int_equal(tok_chat_render_json(tok, msgs, ex, 0, &want), 0);
    const char *env = "Environment: ipython\n";
    char *at = strstr(want, env);
    assert_non_null(at);
    memmove(at, at + strlen(env), strlen(at + strlen(env)) + 1);
    /* rlc's side: the tool prompt before the problem, the generation prompt, the call, the
     * rendered answer, the final turn */
    char *pre = rlc_tool_prompt(L, RLC_TOOL_CALCULATOR | RLC_TOOL_PYTHON), user[4096];
    snprintf(user, sizeof user, "%s\n\n%s", pre, "What is 6*7?");
    cJSON *m2 = cJSON_CreateArray(), *sys = cJSON_CreateObject(), *u = cJSON_CreateObject();
    cJSON_AddStringToObject(sys, "role", "system");
    cJSON_AddStringToObject(sys, "content", "Reason step by step.");
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", user);
    cJSON_AddItemToArray(m2, sys);
    cJSON_AddItemToArray(m2, u);
    char *prompt;
    assert_int_equal(tok_chat_render_json(tok, m2, NULL, 1, &prompt), 0);
    size_t n;
    const char res[] = "42 \"exact\"\n\tok";
    char *ans = rlc_tool_render(L, res, sizeof res - 1, &n);
    char got[8192];
    snprintf(got, sizeof got, "%s{\"name\": \"calculator\", \"parameters\": {\"expression\": \"6*7\"}}<|eot_id|>%sIt is 42.<|eot_id|>",
             prompt, ans);
    assert_string_equal(got, want);
    free(ans), free(prompt), free(pre), free(want);
    cJSON_Delete(m2), cJSON_Delete(msgs), cJSON_Delete(ex);
    tok_free(tok);
}

static const char *CALC_DEF =
    "{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"description\": \"Exact arithmetic: + - * / ^ "
    "and parentheses on integers and fractions\", \"parameters\": {\"type\": \"object\", \"properties\": "
    "{\"expression\": {\"type\": \"string\"}}, \"required\": [\"expression\"]}}}";

static tok_t *tok_with_template(const char *tokdir, const char *jinja_name) {
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture(tokdir)), 0);
    if (jinja_name) {
        char rel[256], *jinja;
        size_t jl;
        snprintf(rel, sizeof rel, "tokenizers/real_templates/%s", jinja_name);
        assert_int_equal(fs_read_all(fixture(rel), &jinja, &jl), 0);
        assert_int_equal(tok_set_chat_template(tok, jinja), 0);
        free(jinja);
    }
    return tok;
}

static char *render(const tok_t *tok, const char *extra_json) {
    cJSON *m = cJSON_Parse("[{\"role\": \"system\", \"content\": \"Reason step by step.\"}, {\"role\": \"user\", "
                           "\"content\": \"What is 6*7?\"}]");
    cJSON *ex = extra_json ? cJSON_Parse(extra_json) : NULL;
    char *out = NULL;
    assert_int_equal(tok_chat_render_json(tok, m, ex, 1, &out), 0);
    cJSON_Delete(m), cJSON_Delete(ex);
    return out;
}

/* tool_prompt_in = template: the prompt equals the template's own rendering with `tools`
 * (the definitions written out here), the variables already set stay, and the templates or
 * formats that cannot describe tools are refused. */
static void test_template_tools(void **s) {
    (void)s;
    tok_t *tok = tok_with_template("tokenizers/bpe-qwen", "Qwen-Qwen2.5-7B-Instruct.jinja");
    char extra[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s]}", CALC_DEF);
    char *want = render(tok, extra), *plain = render(tok, NULL);
    assert_string_not_equal(want, plain);
    assert_int_equal(tok_set_chat_vars(tok, "{\"custom\": 1}"), 0);
    assert_int_equal(rlc_tools_template_vars(tok, RLC_TOOL_FMT_HERMES, RLC_TOOL_CALCULATOR), 0);
    char *got = render(tok, NULL);
    assert_string_equal(got, want);
    /* Qwen2.5: the tools in the system turn, after its content */
    assert_non_null(strstr(got, "<|im_start|>system\nReason step by step.\n\n# Tools\n"));
    assert_non_null(strstr(got, "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"calculator\""));
    assert_non_null(cJSON_GetObjectItem(tok_chat_vars(tok), "custom"));
    /* tools set twice: refused */
    assert_true(rlc_tools_template_vars(tok, RLC_TOOL_FMT_HERMES, RLC_TOOL_CALCULATOR) < 0);
    assert_non_null(strstr(rlc_errmsg(), "already sets tools"));
    free(want), free(plain), free(got);
    tok_free(tok);
    /* Llama 3.1 with the llama3 format: its system line and the schemas in the user turn */
    tok = tok_with_template("tokenizers/bpe-llama3", "meta-llama-Llama-3.1-8B-Instruct.jinja");
    assert_int_equal(rlc_tools_template_vars(tok, L, RLC_TOOL_CALCULATOR | RLC_TOOL_PYTHON), 0);
    got = render(tok, NULL);
    assert_non_null(strstr(got, "<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"));
    assert_non_null(strstr(got, "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions"));
    assert_non_null(strstr(got, "\"name\": \"python\""));
    free(got);
    /* formats whose calls no chat template describes */
    assert_true(rlc_tools_template_vars(tok, RLC_TOOL_FMT_CODE, RLC_TOOL_PYTHON) < 0);
    assert_non_null(strstr(rlc_errmsg(), "function-call tool_format"));
    tok_free(tok);
    /* a template that ignores tools (plain ChatML) */
    tok = tok_with_template("tokenizers/tiny-chatml", NULL);
    assert_true(rlc_tools_template_vars(tok, RLC_TOOL_FMT_HERMES, RLC_TOOL_CALCULATOR) < 0);
    assert_non_null(strstr(rlc_errmsg(), "ignores `tools`"));
    assert_null(tok_chat_vars(tok)); /* nothing set */
    tok_free(tok);
}

/* A model that writes chain[1..] after chain[0], for each chain: token a's embedding is a
 * unit vector of its own, and the LM head's row of a's successor reads it (a token has one
 * successor in all chains). Other tokens have a zero embedding. No attention or MLP: every
 * layer's weights are zero, so the residual stream is the embedding. */
static rlc_model_t *bigram_model_eos(const int32_t *const *chains, const int *lens, int n_chains, float scale,
                                     const char *eos) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64, "
             "\"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
             "\"num_key_value_heads\": 2, \"head_dim\": 16, \"vocab_size\": 1811, \"rms_norm_eps\": 1e-5, "
             "\"max_position_embeddings\": 512, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, "
             "\"bos_token_id\": 1800, \"eos_token_id\": %s}",
             eos);
    cJSON *j = cJSON_Parse(cfg);
    rlc_model_t *m;
    if (rlc_model_create(&m, j, be, 1, 0.0f)) fail_msg("%s", rlc_errmsg());
    cJSON_Delete(j);
    enum { D = 64, V = 1811 };
    float *emb = calloc((size_t)V * D, sizeof *emb), *head = calloc((size_t)V * D, sizeof *head);
    int slot_of[V], next = 0;
    for (int v = 0; v < V; v++) slot_of[v] = -1;
    for (int c = 0; c < n_chains; c++)
        for (int i = 0; i + 1 < lens[c]; i++) {
            int32_t a = chains[c][i], b = chains[c][i + 1];
            if (slot_of[a] < 0) {
                assert_true(next < D);
                slot_of[a] = next++;
                emb[(size_t)a * D + slot_of[a]] = 1;
            } else {
                assert_true(head[(size_t)b * D + slot_of[a]] == scale); /* the same successor */
            }
            head[(size_t)b * D + slot_of[a]] = scale;
        }
    assert_int_equal(rlc_model_set_param(m, rlc_model_param(m, "model.embed_tokens.weight"), emb), 0);
    assert_int_equal(rlc_model_set_param(m, rlc_model_param(m, "lm_head.weight"), head), 0);
    free(emb), free(head);
    return m;
}

static rlc_model_t *bigram_model(const int32_t *const *chains, const int *lens, int n_chains, float scale) {
    return bigram_model_eos(chains, lens, n_chains, scale, "[1801, 1808, 1809]");
}

static int32_t *encode(const tok_t *tok, const char *s, int *n) {
    int32_t *ids;
    assert_int_equal(tok_encode(tok, s, strlen(s), 0, &ids, n), 0);
    return ids;
}

typedef struct {
    int calls;
} no_call_t;

/* A tool answering bytes that are not UTF-8 (a NUL, a stray continuation byte, a cut
 * character). */
static int bad_bytes(void *user, const gen_tool_call_t *c, char **out, size_t *len) {
    (void)user, (void)c;
    static const char b[] = "\xff" "4" "\x00" "2" "\xe2\x82";
    *out = malloc(sizeof b);
    memcpy(*out, b, sizeof b);
    *len = sizeof b - 1;
    return 0;
}

static int no_call(void *user, const gen_tool_call_t *c, char **out, size_t *len) {
    (void)c;
    ((no_call_t *)user)->calls++;
    *out = NULL;
    *len = 0;
    return 0;
}

static void check_trainable(const gen_output_t *o, int sampled_before, int tool_tokens, int sampled_after) {
    assert_int_equal(o->n_tokens, sampled_before + tool_tokens + sampled_after);
    for (int j = 0; j < o->n_tokens; j++)
        assert_int_equal(o->trainable[j], j < sampled_before || j >= sampled_before + tool_tokens);
}

/* <|eom_id|> and <|eot_id|> are EOS ids of this model: the engine pauses on them while calls
 * remain, the real tool set runs <|python_tag|> code, and a turn that is no call ends the
 * sample as at EOS. */
static void test_engine_pauses_on_special_tokens(void **s) {
    (void)s;
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("tokenizers/bpe-llama3")), 0);
    int n1, n2, nc, nt;
    int32_t *p1 = encode(tok, "Compute 6 times 7.", &n1), *p2 = encode(tok, "Hello there", &n2);
    int32_t *code = encode(tok, "print(6*7)", &nc);
    int32_t chain1[16] = {p1[n1 - 1], 1810}, chain2[] = {198, 1287, 282, 1809}, chain3[] = {p2[n2 - 1], 1287};
    memcpy(chain1 + 2, code, (size_t)nc * sizeof *code);
    chain1[2 + nc] = 1808;
    const int32_t *chains[] = {chain1, chain2, chain3};
    int lens[] = {nc + 3, 4, 2};
    rlc_model_t *m = bigram_model(chains, lens, 3, 1.0f);
    rlc_tools_cfg_t tc;
    rlc_tools_cfg_default(&tc);
    tc.tools = RLC_TOOL_CALCULATOR | RLC_TOOL_PYTHON;
    tc.format = L;
    tc.workers = 2;
    rlc_tools_t *tools;
    assert_int_equal(rlc_tools_create(&tools, &tc), 0);
    gen_engine_cfg_t ec = {.page_size = 8, .tool_batch_fn = rlc_tools_engine_batch, .tool_user = tools};
    gen_engine_t *e;
    assert_int_equal(gen_engine_create(&e, m, tok, &ec), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0;
    p.max_new_tokens = 60;
    p.n_tool_markers = rlc_tools_markers(tools, &p.tool_markers);
    p.max_tool_calls = 2;
    int r1 = gen_submit(e, p1, n1, &p, NULL), r2 = gen_submit(e, p2, n2, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o1 = gen_output(e, r1, 0), *o2 = gen_output(e, r2, 0);
    assert_int_equal(o1->finish, GEN_FINISH_EOS);
    assert_int_equal(o1->n_tool_calls, 1);
    assert_string_equal(o1->text, "<|python_tag|>print(6*7)<|eom_id|>" IPY "\"42\"<|eot_id|>" HDR "The answer");
    int32_t *ans = encode(tok, IPY "\"42\"<|eot_id|>" HDR, &nt);
    check_trainable(o1, nc + 2, nt, 3);
    assert_memory_equal(o1->tokens + nc + 2, ans, (size_t)nt * sizeof *ans);
    assert_int_equal(o1->tokens[nc + 1], 1808);
    assert_int_equal(o1->tokens[o1->n_tokens - 1], 1809);
    assert_int_equal(o2->finish, GEN_FINISH_EOS); /* an answer: the turn ends at <|eot_id|> */
    assert_int_equal(o2->n_tool_calls, 0);
    assert_string_equal(o2->text, "The answer");
    check_trainable(o2, 3, 0, 0);
    /* no calls left: <|eom_id|> is an EOS again; the tag's text stays in the output */
    p.max_tool_calls = 0;
    int r3 = gen_submit(e, p1, n1, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o3 = gen_output(e, r3, 0);
    assert_int_equal(o3->finish, GEN_FINISH_EOS);
    assert_int_equal(o3->n_tool_calls, 0);
    assert_string_equal(o3->text, "<|python_tag|>print(6*7)");
    check_trainable(o3, nc + 2, 0, 0);
    /* without markers, special tokens write no text (as before) */
    gen_params_t plain;
    gen_params_default(&plain);
    plain.temperature = 0;
    plain.max_new_tokens = 60;
    int r4 = gen_submit(e, p1, n1, &plain, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    assert_string_equal(gen_output(e, r4, 0)->text, "print(6*7)");
    assert_int_equal(gen_output(e, r4, 0)->finish, GEN_FINISH_EOS);
    gen_engine_free(e);
    /* the one-call-at-a-time hook: a NULL answer at a special marker ends the sample too */
    no_call_t nc_user = {0};
    gen_engine_cfg_t ec2 = {.page_size = 8, .tool_fn = no_call, .tool_user = &nc_user};
    assert_int_equal(gen_engine_create(&e, m, tok, &ec2), 0);
    p.max_tool_calls = 2;
    int r5 = gen_submit(e, p1, n1, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o5 = gen_output(e, r5, 0);
    assert_int_equal(nc_user.calls, 1);
    assert_int_equal(o5->finish, GEN_FINISH_EOS);
    assert_int_equal(o5->n_tool_calls, 0);
    assert_string_equal(o5->text, "<|python_tag|>print(6*7)");
    gen_engine_free(e);
    /* an answer that is not UTF-8 goes in with U+FFFD, as Python decodes with errors="replace" */
    gen_engine_cfg_t ec3 = {.page_size = 8, .tool_fn = bad_bytes};
    assert_int_equal(gen_engine_create(&e, m, tok, &ec3), 0);
    p.max_new_tokens = 16;
    int r6 = gen_submit(e, p1, n1, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o6 = gen_output(e, r6, 0);
    assert_int_equal(o6->n_tool_calls, 1);
    assert_non_null(strstr(o6->text, "<|eom_id|>\xEF\xBF\xBD" "4" "\xEF\xBF\xBD" "2" "\xEF\xBF\xBD\xEF\xBF\xBD"));
    gen_engine_free(e);
    rlc_tools_free(tools);
    free(p1), free(p2), free(code), free(ans);
    rlc_model_free(m);
    tok_free(tok);
}

/* rlc train and rlc eval with --tool-format llama3: a saved bigram model that calls the
 * python tool with <|python_tag|> after every problem, then answers; its logits are sharp
 * (scale 4), so sampling at T = 1 writes that sequence. Every sample makes one call, the
 * trainer's samples show the ipython turn, and the run finishes with finite losses. */
/* Mistral's calls end at the </s> token (an EOS of the model): the engine pauses on it while calls
 * remain, the format's answer turn [TOOL_RESULTS]...[/TOOL_RESULTS] is appended (here the parser's
 * error for a call without a JSON object, which a bigram model can write: its tokens never repeat),
 * the sample goes on after it; a turn without [TOOL_CALLS] ends at </s> as an answer, and with no
 * calls left </s> is an EOS again. The tokenizer is bpe-llama3's with five reserved specials named
 * as Mistral's. */
static void test_engine_pauses_on_mistral_eos(void **s) {
    (void)s;
    char *dir = test_tmpdir(), out[512];
    assert_int_equal(test_run(out, sizeof out, "cp '%s'/* '%s'/", fixture("tokenizers/bpe-llama3"), dir), 0);
    char *tj = fs_join(dir, "tokenizer.json");
    cJSON *j = rlc_json_load_file(tj), *a;
    assert_non_null(j);
    const char *names[] = {"[TOOL_CALLS]", "[ARGS]", "</s>", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"};
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "added_tokens")) {
        int id = cJSON_GetObjectItem(a, "id")->valueint;
        if (id >= 1802 && id <= 1806) cJSON_ReplaceItemInObject(a, "content", cJSON_CreateString(names[id - 1802]));
    }
    char *txt = cJSON_PrintUnformatted(j);
    assert_int_equal(fs_write_atomic(tj, txt, strlen(txt)), 0);
    free(txt), free(tj);
    cJSON_Delete(j);
    tok_t *tok;
    assert_int_equal(tok_load(&tok, dir), 0);
    int n1, n2, nn, na, nt;
    int32_t *p1 = encode(tok, "Compute 6 times 7.", &n1), *p2 = encode(tok, "Hello there", &n2);
    int32_t *name = encode(tok, "sum", &nn), *args = encode(tok, "6*7", &na);
    int32_t chain1[32] = {p1[n1 - 1], 1802}, k = 2;
    for (int i = 0; i < nn; i++) chain1[k++] = name[i];
    chain1[k++] = 1803;
    for (int i = 0; i < na; i++) chain1[k++] = args[i];
    chain1[k++] = 1804;
    int32_t chain2[] = {1806, 1287, 282, 1804}, chain3[] = {p2[n2 - 1], 1287};
    const int32_t *chains[] = {chain1, chain2, chain3};
    int lens[] = {k, 4, 2};
    rlc_model_t *m = bigram_model_eos(chains, lens, 3, 1.0f, "1804");
    rlc_tools_cfg_t tc;
    rlc_tools_cfg_default(&tc);
    tc.tools = RLC_TOOL_CALCULATOR;
    tc.format = RLC_TOOL_FMT_MISTRAL;
    rlc_tools_t *tools;
    assert_int_equal(rlc_tools_create(&tools, &tc), 0);
    gen_engine_cfg_t ec = {.page_size = 8, .tool_batch_fn = rlc_tools_engine_batch, .tool_user = tools};
    gen_engine_t *e;
    assert_int_equal(gen_engine_create(&e, m, tok, &ec), 0);
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 0;
    p.max_new_tokens = 80;
    p.n_tool_markers = rlc_tools_markers(tools, &p.tool_markers);
    p.max_tool_calls = 2;
    int r1 = gen_submit(e, p1, n1, &p, NULL), r2 = gen_submit(e, p2, n2, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    const gen_output_t *o1 = gen_output(e, r1, 0), *o2 = gen_output(e, r2, 0);
#define ERR "error: the tool call is not [TOOL_CALLS]name[ARGS]{...} with a JSON object"
    assert_int_equal(o1->finish, GEN_FINISH_EOS);
    assert_int_equal(o1->n_tool_calls, 1);
    assert_string_equal(o1->text, "[TOOL_CALLS]sum[ARGS]6*7</s>[TOOL_RESULTS]" ERR "[/TOOL_RESULTS]The answer");
    int32_t *ans = encode(tok, "[TOOL_RESULTS]" ERR "[/TOOL_RESULTS]", &nt);
#undef ERR
    check_trainable(o1, k - 1, nt, 3);
    assert_memory_equal(o1->tokens + k - 1, ans, (size_t)nt * sizeof *ans);
    assert_int_equal(o1->tokens[k - 2], 1804);
    assert_int_equal(o2->finish, GEN_FINISH_EOS); /* no [TOOL_CALLS]: an answer, ended at </s> */
    assert_int_equal(o2->n_tool_calls, 0);
    assert_string_equal(o2->text, "The answer");
    p.max_tool_calls = 0; /* no calls left: </s> is an EOS again */
    int r3 = gen_submit(e, p1, n1, &p, NULL);
    assert_int_equal(gen_run(e, NULL), 0);
    assert_string_equal(gen_output(e, r3, 0)->text, "[TOOL_CALLS]sum[ARGS]6*7");
    assert_int_equal(gen_output(e, r3, 0)->n_tool_calls, 0);
    gen_engine_free(e);
    rlc_tools_free(tools);
    rlc_model_free(m);
    tok_free(tok);
    free(p1), free(p2), free(name), free(args), free(ans);
    fs_rm_rf(dir);
    free(dir);
}

static void test_train_llama3(void **s) {
    (void)s;
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("tokenizers/bpe-llama3")), 0);
    int nc, na;
    int32_t *code = encode(tok, "print(6*7)", &nc), *ans = encode(tok, "The answer is \\boxed{42}.", &na);
    int32_t chain1[16] = {13, 1810}, chain2[16] = {198};
    memcpy(chain1 + 2, code, (size_t)nc * sizeof *code);
    chain1[2 + nc] = 1808;
    memcpy(chain2 + 1, ans, (size_t)na * sizeof *ans);
    chain2[1 + na] = 1809;
    const int32_t *chains[] = {chain1, chain2};
    int lens[] = {nc + 3, na + 2};
    rlc_model_t *m = bigram_model(chains, lens, 2, 4.0f);
    char *dir = test_tmpdir(), model[600], data[600], run[600], rec[600], out[16384];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(data, sizeof data, "%s/data.jsonl", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(rec, sizeof rec, "%s/rec.jsonl", dir);
    assert_int_equal(rlc_model_save(m, model, "float32"), 0);
    assert_int_equal(rlc_model_copy_tokenizer_files(fixture("tokenizers/bpe-llama3"), model), 0);
    test_write_sum_problems(data, 4); /* "Compute a + b.": every prompt ends with "." (13) */
    int rc = test_run(out, sizeof out,
                      "%s train --model %s --data %s --run-dir %s --template raw --group-size 2 --prompts-per-step 2 "
                      "--micro-batch 4 --max-new-tokens 48 --threads 2 --seed 1 --kl-coef 0 --total-steps 2 --tools "
                      "python --tool-format llama3 --max-tool-calls 2",
                      rlc_bin(), model, data, run);
    if (rc) fail_msg("rlc train --tool-format llama3: %s", out);
    char path[700], *text = NULL;
    size_t n;
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    assert_int_equal(fs_read_all(path, &text, &n), 0);
    assert_non_null(strstr(text, "\"tool_calls_mean\":1,"));
    assert_null(strstr(text, "nan"));
    free(text);
    snprintf(path, sizeof path, "%s/samples.jsonl", run);
    assert_int_equal(fs_read_all(path, &text, &n), 0);
    assert_non_null(strstr(text, "<|python_tag|>print(6*7)<|eom_id|><|start_header_id|>ipython<|end_header_id|>"
                                 "\\n\\n\\\"42\\\"<|eot_id|>"));
    free(text);
    rc = test_run(out, sizeof out,
                  "%s eval --model %s --data %s --out %s --template raw --temperature 0 --max-new-tokens 48 "
                  "--threads 2 --tools python --tool-format llama3",
                  rlc_bin(), model, data, rec);
    if (rc) fail_msg("rlc eval --tool-format llama3: %s", out);
    snprintf(path, sizeof path, "%s.summary.json", rec);
    cJSON *sum = rlc_json_load_file(path);
    assert_non_null(sum);
    assert_true(cJSON_GetObjectItem(sum, "tool_calls_mean")->valuedouble == 1.0);
    cJSON_Delete(sum);
    snprintf(out, sizeof out, "rm -rf %s", dir);
    assert_int_equal(system(out), 0);
    free(dir), free(code), free(ans);
    rlc_model_free(m);
    tok_free(tok);
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
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_render_and_spans),
        cmocka_unit_test(test_matches_real_template),
        cmocka_unit_test(test_template_tools),
        cmocka_unit_test(test_engine_pauses_on_special_tokens),
        cmocka_unit_test(test_engine_pauses_on_mistral_eos),
        cmocka_unit_test(test_train_llama3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
