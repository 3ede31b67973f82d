/* The tool formats of GLM-4.5 / 4.6 (glm: <tool_call> name <arg_key>/<arg_value>; glm47: GLM-4.7's,
 * on one line, its answer turn opening the assistant's thinking), Qwen3-Coder
 * (qwen3_coder: <function=name><parameter=k>) and Mistral (mistral: [TOOL_CALLS]name[ARGS]{...}
 * ended by </s>), docs/tools.md: their parsing of calls and of malformed ones; and, against the
 * real chat templates (GLM-4.6's, Qwen3-Coder's, Ministral 3's) run by rlc's interpreter, the
 * prompt with the tools (both ways rlc writes it), the call as the template writes it parsed
 * back to its tool and input, and the answer turn rlc renders equal to the template's bytes. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "tools/tool.h"
#include "tokenizer/tok.h"

static const rlc_tool_format_t F = RLC_TOOL_FMT_GLM, Q = RLC_TOOL_FMT_QWEN3_CODER, M = RLC_TOOL_FMT_MISTRAL;
static const rlc_tool_format_t G7 = RLC_TOOL_FMT_GLM47;

static void expect_f(rlc_tool_format_t f, const char *text, int want, const char *tool, const char *input) {
    char name[64] = "", *in = NULL;
    int rc = rlc_tool_parse(f, text, strlen(text), name, sizeof name, &in);
    if (rc != want || (tool && strcmp(name, tool)) || (input && (!in || strcmp(in, input)))) {
        fprintf(stderr, "parse([%s]) = %d tool [%s] input [%s]; want %d [%s] [%s]\n", text, rc, name,
                in ? in : "(null)", want, tool ? tool : "", input ? input : "");
        fail();
    }
    free(in);
}
#define expect(...) expect_f(F, __VA_ARGS__)

static void test_parse(void **s) {
    (void)s;
    expect("\n<tool_call>calculator\n<arg_key>expression</arg_key>\n<arg_value>6*7</arg_value>\n</tool_call>", 1,
           "calculator", "6*7");
    /* the value as it is, newlines and quotes kept; the tag split over the end ("</tool_call>\n") */
    expect("<tool_call>python\n<arg_key>code</arg_key>\n<arg_value>x = \"a\"\nprint(x)</arg_value>\n</tool_call>\n", 1,
           "python", "x = \"a\"\nprint(x)");
    /* two arguments: the one the tool reads; no arguments: the tool gets {} */
    expect("<tool_call>calculator<arg_key>note</arg_key><arg_value>n</arg_value><arg_key>expression</arg_key>"
           "<arg_value>1/3</arg_value></tool_call>",
           1, "calculator", "1/3");
    expect("<tool_call>calculator\n</tool_call>", 1, "calculator", "{}");
    /* only the last call counts */
    expect("<tool_call>python\n<arg_key>code</arg_key>\n<arg_value>1</arg_value>\n</tool_call><|observation|>x"
           "<tool_call>calculator\n<arg_key>expression</arg_key>\n<arg_value>2+2</arg_value>\n</tool_call>",
           1, "calculator", "2+2");
    /* malformed: the model is told */
    expect("<tool_call>\n<arg_key>expression</arg_key>\n<arg_value>1</arg_value>\n</tool_call>", 2, NULL, NULL);
    expect("<tool_call>calculator\n<arg_key>expression</arg_key>\n</tool_call>", 2, NULL, NULL);
    expect("<tool_call>calculator\n<arg_key>expression</arg_key><arg_value>1</tool_call>", 2, NULL, NULL);
    expect("stray </tool_call>", 2, NULL, NULL);
    /* no call: no marker at the end */
    expect("The answer is \\boxed{42}.", 0, NULL, NULL);
    expect("<tool_call>calculator\n<arg_key>expression</arg_key>\n<arg_value>1", 0, NULL, NULL);
}

#undef expect

static void test_parse_qwen3_coder(void **s) {
    (void)s;
    expect_f(Q, "<tool_call>\n<function=calculator>\n<parameter=expression>\n6*7\n</parameter>\n</function>\n"
                "</tool_call>", 1, "calculator", "6*7");
    /* a value keeps its inner newlines (one each side is the template's) */
    expect_f(Q, "<tool_call>\n<function=python>\n<parameter=code>\nx = 1\n\nprint(x)\n\n</parameter>\n</function>\n"
                "</tool_call>", 1, "python", "x = 1\n\nprint(x)\n");
    expect_f(Q, "<tool_call><function=calculator><parameter=expression>2+2</parameter></function></tool_call>", 1,
             "calculator", "2+2");
    expect_f(Q, "<tool_call>\n<function=calculator>\n</function>\n</tool_call>", 1, "calculator", "{}");
    expect_f(Q, "<tool_call>\n<parameter=expression>\n1\n</parameter>\n</tool_call>", 2, NULL, NULL);
    expect_f(Q, "<tool_call>\n<function=>\n</function>\n</tool_call>", 2, NULL, NULL);
    expect_f(Q, "<tool_call>\n<function=calculator>\n<parameter=expression>\n1\n</function>\n</tool_call>", 2, NULL,
             NULL);
    expect_f(Q, "stray </tool_call>", 2, NULL, NULL);
    expect_f(Q, "<tool_call>\n<function=calculator>\n<parameter=expression>\n1", 0, NULL, NULL);
}

static void test_parse_mistral(void **s) {
    (void)s;
    expect_f(M, "[TOOL_CALLS]calculator[ARGS]{\"expression\": \"6*7\"}</s>", 1, "calculator", "6*7");
    expect_f(M, "[THINK]hm[/THINK]Let me run it.[TOOL_CALLS]python[ARGS]{\"code\": \"print(1)\"}</s>", 1, "python",
             "print(1)");
    /* older tokenizers: a JSON list of calls (the last counts) */
    expect_f(M, "[TOOL_CALLS][{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1/3\"}}]</s>", 1,
             "calculator", "1/3");
    /* only the turn after the last tool result counts */
    expect_f(M, "[TOOL_CALLS]calculator[ARGS]{\"expression\": \"1\"}</s>[TOOL_RESULTS]1[/TOOL_RESULTS]It is 1.</s>", 0,
             NULL, NULL);
    expect_f(M, "[INST]q[/INST]The answer is 4.</s>", 0, NULL, NULL);
    expect_f(M, "[TOOL_CALLS]calculator[ARGS]{\"expression\": </s>", 2, NULL, NULL);
    expect_f(M, "[TOOL_CALLS][ARGS]{}</s>", 2, NULL, NULL);
    expect_f(M, "[TOOL_CALLS]\"calc\"</s>", 2, NULL, NULL);
    expect_f(M, "[TOOL_CALLS]calculator[ARGS]{\"expression\": \"1\"}", 0, NULL, NULL); /* no </s> yet */
}

static const char *CALC =
    "{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"description\": \"Exact arithmetic: + - * / ^ "
    "and parentheses on integers and fractions\", \"parameters\": {\"type\": \"object\", \"properties\": "
    "{\"expression\": {\"type\": \"string\"}}, \"required\": [\"expression\"]}}}";

static tok_t *real_template_with(const char *tokdir, const char *name) {
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture(tokdir)), 0);
    char *jinja, rel[256];
    size_t jl;
    snprintf(rel, sizeof rel, "tokenizers/real_templates/%s", name);
    assert_int_equal(fs_read_all(fixture(rel), &jinja, &jl), 0);
    assert_int_equal(tok_set_chat_template(tok, jinja), 0);
    free(jinja);
    return tok;
}

/* A template with a tokenizer whose vocabulary it does not need (only its BOS / EOS text). */
static tok_t *real_template(const char *name) { return real_template_with("tokenizers/bpe-qwen", name); }

static void render(const tok_t *tok, const char *msgs_json, const char *extra_json, int gen, char **out) {
    cJSON *m = cJSON_Parse(msgs_json), *ex = extra_json ? cJSON_Parse(extra_json) : NULL;
    assert_non_null(m);
    assert_int_equal(tok_chat_render_json(tok, m, ex, gen, out), 0);
    cJSON_Delete(m), cJSON_Delete(ex);
}

/* The template's rendering of a whole tool conversation equals rlc's pieces put together as a
 * rollout does: the prompt (the tools given to the template), the call as GLM writes it, the
 * observation turn rlc renders, the final answer. And the tool prompt rlc writes itself is the
 * template's system text. */
static void test_matches_real_template(void **s) {
    (void)s;
    tok_t *tok = real_template("GLM-4.6.jinja");

    char extra[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s]}", CALC);
    const char *conv =
        "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}, {\"role\": \"assistant\", \"content\": \"\", "
        "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"arguments\": "
        "{\"expression\": \"6*7\"}}}]}, {\"role\": \"tool\", \"content\": \"42 \\\"exact\\\"\\n\\tok\"}, "
        "{\"role\": \"assistant\", \"content\": \"It is 42.\"}]";
    char *want = NULL, *prompt = NULL;
    render(tok, conv, extra, 0, &want);
    render(tok, "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}]", extra, 1, &prompt);
    /* the call, cut from the template's own rendering after the prompt: it parses to the tool */
    size_t pl = strlen(prompt);
    assert_int_equal(strncmp(want, prompt, pl), 0);
    const char *call = want + pl, *call_end = strstr(call, "</tool_call>");
    assert_non_null(call_end);
    size_t cl = (size_t)(call_end - call) + strlen("</tool_call>");
    char name[64], *in = NULL;
    assert_int_equal(rlc_tool_parse(F, call, cl, name, sizeof name, &in), 1);
    assert_string_equal(name, "calculator");
    assert_string_equal(in, "6*7");
    /* rlc's observation turn and then the answer as the model writes it */
    const char res[] = "42 \"exact\"\n\tok";
    size_t n;
    char *ans = rlc_tool_render(F, res, sizeof res - 1, &n), got[8192];
    snprintf(got, sizeof got, "%s%.*s%s\n<think></think>\nIt is 42.", prompt, (int)cl, call, ans);
    assert_string_equal(got, want);
    size_t st, en;
    assert_int_equal(rlc_tool_output_spans(F, got, strlen(got), &st, &en, 1), 1);
    assert_int_equal(en - st, n); /* the masked span is exactly the rendered turn */
    /* the tool prompt rlc writes itself is the template's system text */
    char *p = rlc_tool_prompt(F, RLC_TOOL_CALCULATOR);
    char *sys = strstr(prompt, "<|system|>\n");
    assert_non_null(sys);
    sys += strlen("<|system|>\n");
    assert_int_equal(strncmp(sys, p, strlen(p)), 0);
    assert_non_null(strstr(sys + strlen(p), "<|user|>"));
    free(p), free(ans), free(in), free(prompt), free(want);
    /* tool_prompt_in = template takes the glm format */
    assert_int_equal(rlc_tools_template_vars(tok, F, RLC_TOOL_CALCULATOR), 0);
    tok_free(tok);
}

/* The same with GLM-4.7-Flash's template: the call on one line after the model's thinking, the
 * observation turn, and the template's generation prompt (the assistant's <think>) after it; rlc's
 * own tool prompt is the template's system text. */
static void test_glm47_template(void **s) {
    (void)s;
    tok_t *tok = real_template("GLM-4.7-Flash.jinja");
    char extra[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s]}", CALC);
    const char *conv =
        "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}, {\"role\": \"assistant\", \"content\": \"\", "
        "\"reasoning_content\": \"Multiply.\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": "
        "\"calculator\", \"arguments\": {\"expression\": \"6*7\"}}}]}, {\"role\": \"tool\", \"content\": "
        "\"42 \\\"exact\\\"\\n\\tok\"}]";
    char *want = NULL, *prompt = NULL;
    render(tok, conv, extra, 1, &want); /* up to the assistant's next turn, as a rollout continues */
    render(tok, "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}]", extra, 1, &prompt);
    size_t pl = strlen(prompt);
    assert_int_equal(strncmp(want, prompt, pl), 0); /* ...<|assistant|><think> */
    const char *call = want + pl, *call_end = strstr(call, "</tool_call>");
    assert_non_null(call_end);
    assert_non_null(strstr(call, "Multiply.</think><tool_call>calculator<arg_key>expression</arg_key><arg_value>6*7"));
    size_t cl = (size_t)(call_end - call) + strlen("</tool_call>");
    char name[64], *in = NULL;
    assert_int_equal(rlc_tool_parse(G7, call, cl, name, sizeof name, &in), 1);
    assert_string_equal(name, "calculator");
    assert_string_equal(in, "6*7");
    const char res[] = "42 \"exact\"\n\tok";
    size_t n;
    char *ans = rlc_tool_render(G7, res, sizeof res - 1, &n), got[8192];
    snprintf(got, sizeof got, "%s%.*s%s", prompt, (int)cl, call, ans);
    if (strcmp(got, want)) fail_msg("rlc:\n%s\ntemplate:\n%s", got, want);
    size_t st, en;
    assert_int_equal(rlc_tool_output_spans(G7, got, strlen(got), &st, &en, 1), 1);
    assert_int_equal(en - st, n);
    char *p = rlc_tool_prompt(G7, RLC_TOOL_CALCULATOR);
    char *sys = strstr(prompt, "<|system|>\n");
    assert_non_null(sys);
    sys += strlen("<|system|>\n");
    if (strncmp(sys, p, strlen(p))) fail_msg("tool prompt:\n%s\ntemplate:\n%s", p, sys);
    assert_int_equal(strncmp(sys + strlen(p), "<|user|>", 8), 0);
    free(p), free(ans), free(in), free(prompt), free(want);
    assert_int_equal(rlc_tools_template_vars(tok, G7, RLC_TOOL_CALCULATOR), 0);
    tok_free(tok);
}

/* The same with Qwen3-Coder's template: the tools in its system turn, the answer a user turn
 * of <tool_response>. */
static void test_qwen3_coder_template(void **s) {
    (void)s;
    tok_t *tok = real_template("Qwen3-Coder.jinja");
    char extra[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s]}", CALC);
    const char *conv =
        "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}, {\"role\": \"assistant\", \"content\": \"\", "
        "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"arguments\": "
        "{\"expression\": \"6*7\"}}}]}, {\"role\": \"tool\", \"content\": \"42\\n\\tok\"}, "
        "{\"role\": \"assistant\", \"content\": \"It is 42.\"}]";
    char *want = NULL, *prompt = NULL;
    render(tok, conv, extra, 0, &want);
    render(tok, "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}]", extra, 1, &prompt);
    size_t pl = strlen(prompt);
    assert_int_equal(strncmp(want, prompt, pl), 0);
    const char *call = want + pl, *call_end = strstr(call, "</tool_call>");
    assert_non_null(call_end);
    size_t cl = (size_t)(call_end - call) + strlen("</tool_call>");
    char name[64], *in = NULL;
    assert_int_equal(rlc_tool_parse(Q, call, cl, name, sizeof name, &in), 1);
    assert_string_equal(name, "calculator");
    assert_string_equal(in, "6*7");
    const char res[] = "42\n\tok";
    size_t n;
    char *ans = rlc_tool_render(Q, res, sizeof res - 1, &n), got[8192];
    snprintf(got, sizeof got, "%s%.*s%sIt is 42.<|im_end|>\n", prompt, (int)cl, call, ans);
    assert_string_equal(got, want);
    char *p = rlc_tool_prompt(Q, RLC_TOOL_CALCULATOR);
    const char *intro = "<|im_start|>system\nYou are Qwen, a helpful AI assistant that can interact with a computer to "
                        "solve tasks.\n\n";
    assert_int_equal(strncmp(prompt, intro, strlen(intro)), 0);
    const char *sys = prompt + strlen(intro);
    if (strncmp(sys, p, strlen(p))) fail_msg("tool prompt:\n%s\ntemplate:\n%s", p, sys);
    assert_int_equal(strncmp(sys + strlen(p), "<|im_end|>\n<|im_start|>user\n", 28), 0);
    free(p), free(ans), free(in), free(prompt), free(want);
    assert_int_equal(rlc_tools_template_vars(tok, Q, RLC_TOOL_CALCULATOR), 0);
    tok_free(tok);
}

/* The same with Ministral 3's template (Mistral's SentencePiece tokenizer: </s> ends a turn):
 * the definitions before the turns, the call ended by </s>, the results, the answer. */
static void test_mistral_template(void **s) {
    (void)s;
    tok_t *tok = real_template_with("tokenizers/spm-llama", "mistralai-Ministral-3-14B-Reasoning-2512.jinja");
    char extra[1024];
    snprintf(extra, sizeof extra, "{\"tools\": [%s]}", CALC);
    const char *conv =
        "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}, {\"role\": \"assistant\", \"content\": \"\", "
        "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"arguments\": "
        "{\"expression\": \"6*7\"}}}]}, {\"role\": \"tool\", \"content\": \"42\"}, "
        "{\"role\": \"assistant\", \"content\": \"It is 42.\"}]";
    char *want = NULL, *prompt = NULL;
    render(tok, conv, extra, 0, &want);
    render(tok, "[{\"role\": \"user\", \"content\": \"What is 6*7?\"}]", extra, 1, &prompt);
    size_t pl = strlen(prompt);
    assert_int_equal(strncmp(want, prompt, pl), 0);
    const char *call = want + pl, *call_end = strstr(call, "</s>");
    assert_non_null(call_end);
    size_t cl = (size_t)(call_end - call) + strlen("</s>");
    char name[64], *in = NULL;
    assert_int_equal(rlc_tool_parse(M, call, cl, name, sizeof name, &in), 1);
    assert_string_equal(name, "calculator");
    assert_string_equal(in, "6*7");
    size_t n;
    char *ans = rlc_tool_render(M, "42", 2, &n), got[16384];
    snprintf(got, sizeof got, "%s%.*s%sIt is 42.</s>", prompt, (int)cl, call, ans);
    assert_string_equal(got, want);
    char *p = rlc_tool_prompt(M, RLC_TOOL_CALCULATOR);
    assert_non_null(strstr(prompt, p)); /* the definitions as the template writes them */
    free(p), free(ans), free(in), free(prompt), free(want);
    assert_int_equal(rlc_tools_template_vars(tok, M, RLC_TOOL_CALCULATOR), 0);
    tok_free(tok);
}

static void test_names(void **s) {
    (void)s;
    rlc_tool_format_t f;
    const char *const *markers, *const *markers_;
    assert_int_equal(rlc_tools_parse_format("glm", &f), 0);
    assert_int_equal(f, F);
    assert_string_equal(rlc_tools_format_name(F), "glm");
    assert_true(rlc_tools_parse_format("glm45", &f) < 0);
    assert_non_null(strstr(rlc_errmsg(), "code, hermes, tags, llama3, glm, qwen3_coder, mistral, glm47"));
    assert_int_equal(rlc_tools_parse_format("glm47", &f), 0);
    assert_int_equal(f, G7);
    assert_int_equal(rlc_tool_format_markers(G7, &markers_), 1);
    assert_int_equal(rlc_tools_parse_format("qwen3_coder", &f), 0);
    assert_int_equal(f, Q);
    assert_int_equal(rlc_tool_format_markers(F, &markers), 1);
    assert_string_equal(markers[0], "</tool_call>");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_qwen3_coder),
        cmocka_unit_test(test_matches_real_template),
        cmocka_unit_test(test_glm47_template),
        cmocka_unit_test(test_qwen3_coder_template),
        cmocka_unit_test(test_parse_mistral),
        cmocka_unit_test(test_mistral_template),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
