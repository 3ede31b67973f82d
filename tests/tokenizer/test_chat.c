/* Chat templates: the Jinja interpreter against transformers' own Jinja environment, the real
 * templates of public models rendered as apply_chat_template renders them, template
 * variables, chat prompts' ids against transformers, and the built-in chat families. */
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "testutil.h"
#include "tok_test.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_internal.h"

/* The Jinja interpreter against transformers' own Jinja environment: a Qwen3-style template
 * (thinking blocks, reasoning_content, tool calls and responses, enable_thinking, tools) and
 * snippets for whitespace control, Python reprs, string methods, filters, tests, loops,
 * scopes, namespaces and raise_exception (fixtures/tokenizers/jinja.jsonl). */
static void test_jinja_parity(void **s) {
    (void)s;
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, fixture("tokenizers/jinja.jsonl")), 0);
    cJSON *o;
    int n = 0, bad = 0;
    while (rlc_jsonl_next(&r, &o) == 1) {
        const char *name = cJSON_GetObjectItem(o, "name")->valuestring;
        jinja_t *j = NULL;
        char *out = NULL;
        int rc = jinja_compile(cJSON_GetObjectItem(o, "template")->valuestring, &j);
        if (!rc) rc = jinja_render(j, cJSON_GetObjectItem(o, "context"), &out);
        const cJSON *want = cJSON_GetObjectItem(o, "text");
        if (want ? rc || strcmp(out, want->valuestring) : !rc) {
            fprintf(stderr, "jinja %s: %s\n--- ours\n%s\n--- ref\n%s\n", name, rc ? rlc_errmsg() : "", out ? out : "",
                    want ? want->valuestring : "(an error)");
            bad++;
        }
        free(out);
        jinja_free(j);
        cJSON_Delete(o);
        n++;
    }
    rlc_jsonl_close(&r);
    fprintf(stderr, "jinja: %d cases, %d mismatches\n", n, bad);
    assert_true(n >= 40);
    assert_int_equal(bad, 0);
}

/* Real templates of public models (fixtures/tokenizers/real_templates: all 70 of llama.cpp's
 * models/templates — Qwen2.5, Qwen3, Qwen3.5, QwQ, Qwen3-Coder, Llama 3.1/3.2/3.3, DeepSeek R1
 * distills, V3.1, V3.2 and V4, Mistral Nemo, Small 3.2, Devstral, Ministral, Phi-3.5, Gemma 2
 * and 4, Granite 3.3/4.0/4.1, SmolLM3, Hermes 2/3, Kimi K2/K3, GLM 4.6/4.7, MiniMax, Nemotron,
 * Seed-OSS, Apertus, LFM2, MiniCPM, Command R/R7B, Functionary, gpt-oss, ...) over system,
 * multi-turn, thinking and tool conversations: the interpreter's rendering equals
 * transformers' (or, where the template refuses the conversation, it refuses too). */
static void test_real_templates(void **s) {
    (void)s;
    cJSON *convs = rlc_json_load_file(fixture("tokenizers/real_templates/conversations.json"));
    assert_non_null(convs);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, fixture("tokenizers/real_templates/cases.jsonl")), 0);
    cJSON *o;
    int n = 0, bad = 0, refused = 0;
    char shown[64][96];
    int nshown = 0;
    while (rlc_jsonl_next(&r, &o) == 1) {
        const char *name = cJSON_GetObjectItem(o, "template")->valuestring;
        char rel[256], *src = NULL, *out = NULL;
        size_t len;
        snprintf(rel, sizeof rel, "tokenizers/real_templates/%s.jinja", name);
        assert_int_equal(fs_read_all(fixture(rel), &src, &len), 0);
        cJSON *ctx = cJSON_Duplicate(cJSON_GetObjectItem(o, "vars"), 1);
        cJSON_AddItemToObject(ctx, "messages",
                              cJSON_Duplicate(cJSON_GetObjectItem(convs, cJSON_GetObjectItem(o, "conversation")->valuestring), 1));
        if (!cJSON_GetObjectItem(ctx, "tools")) cJSON_AddNullToObject(ctx, "tools");
        cJSON_AddNullToObject(ctx, "documents");
        cJSON_AddItemToObject(ctx, "add_generation_prompt", cJSON_Duplicate(cJSON_GetObjectItem(o, "add_generation_prompt"), 1));
        cJSON_AddItemToObject(ctx, "bos_token", cJSON_Duplicate(cJSON_GetObjectItem(o, "bos_token"), 1));
        cJSON_AddItemToObject(ctx, "eos_token", cJSON_Duplicate(cJSON_GetObjectItem(o, "eos_token"), 1));
        jinja_t *j = NULL;
        int rc = jinja_compile(src, &j);
        /* the day the references were rendered on (make_template_fixtures.py pins it) */
        struct tm day = {.tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 3, .tm_wday = 4, .tm_yday = 336};
        if (!rc) rc = jinja_render_at(j, ctx, &day, &out);
        const cJSON *want = cJSON_GetObjectItem(o, "text");
        refused += !want;
        if (want ? rc || strcmp(out, want->valuestring) : !rc) {
            int seen = 0;
            for (int k = 0; k < nshown; k++) seen |= !strcmp(shown[k], name);
            if (!seen && nshown < 64) {
                snprintf(shown[nshown++], sizeof shown[0], "%s", name);
                size_t at = 0; /* the first difference */
                while (out && want && out[at] && out[at] == want->valuestring[at]) at++;
                size_t from = at > 200 ? at - 200 : 0;
                fprintf(stderr, "template %s (%s): %s\n--- ours (differs at %zu, from byte %zu)\n%.400s\n--- ref\n%.400s\n", name,
                        cJSON_GetObjectItem(o, "conversation")->valuestring, rc ? rlc_errmsg() : "", at, from,
                        out ? out + (from < strlen(out) ? from : 0) : "",
                        want ? want->valuestring + from : "(refused)");
            }
            bad++;
        }
        free(out), free(src);
        jinja_free(j);
        cJSON_Delete(ctx), cJSON_Delete(o);
        n++;
    }
    rlc_jsonl_close(&r);
    cJSON_Delete(convs);
    fprintf(stderr, "real templates: %d renderings (%d refused by the template), %d mismatches\n", n, refused, bad);
    assert_true(n >= 560);
    assert_int_equal(bad, 0);
}

/* Template variables set on the tokenizer (chat_vars): Qwen3's enable_thinking switch. */
static void test_chat_vars(void **s) {
    (void)s;
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, fixture("tokenizers/jinja.jsonl")), 0);
    cJSON *o;
    assert_int_equal(rlc_jsonl_next(&r, &o), 1); /* the first case carries the Qwen3-style template */
    rlc_jsonl_close(&r);
    tok_t *t = load("tokenizers/bpe-qwen");
    assert_int_equal(tok_set_chat_template(t, cJSON_GetObjectItem(o, "template")->valuestring), 0);
    tok_msg_t m = {"user", "Hi"};
    char *out;
    assert_int_equal(tok_set_chat_vars(t, "{\"enable_thinking\": false}"), 0);
    assert_int_equal(tok_chat_apply(t, &m, 1, 1, NULL, &out), 0);
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    free(out);
    cJSON *extra = cJSON_Parse("{\"enable_thinking\": true}"), *msgs = cJSON_Parse("[{\"role\": \"user\", \"content\": \"Hi\"}]");
    assert_int_equal(tok_chat_render_json(t, msgs, extra, 1, &out), 0); /* the call's own variables win */
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_equal(tok_set_chat_vars(t, NULL), 0);
    assert_int_equal(tok_chat_apply(t, &m, 1, 1, NULL, &out), 0);
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_not_equal(tok_set_chat_vars(t, "[1]"), 0);
    assert_non_null(strstr(rlc_errmsg(), "JSON object"));
    cJSON_Delete(extra), cJSON_Delete(msgs), cJSON_Delete(o);
    tok_free(t);
    /* chat_template.jinja beside the tokenizer wins over tokenizer_config.json's template */
    char *dir = test_tmpdir(), src[1024], dst[1024];
    const char *files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/%s", fixture("tokenizers/tiny-chatml"), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        assert_int_equal(fs_copy_file(src, dst), 0);
    }
    snprintf(dst, sizeof dst, "%s/chat_template.jinja", dir);
    const char *tpl = "[{{ messages[0].content }}]\n"; /* (the final newline is dropped, as Jinja does) */
    assert_int_equal(fs_write_atomic(dst, tpl, strlen(tpl)), 0);
    assert_int_equal(tok_load(&t, dir), 0);
    assert_int_equal(tok_chat_apply(t, &m, 1, 1, NULL, &out), 0);
    assert_string_equal(out, "[Hi]");
    free(out);
    tok_free(t);
    fs_rm_rf(dir);
    free(dir);
}

/* Chat renderings of the real templates vs transformers' apply_chat_template. */
static void test_chat_parity(void **s) {
    (void)s;
    cJSON *templates = rlc_json_load_file(fixture("tokenizers/templates.json"));
    assert_non_null(templates);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, fixture("tokenizers/chat.jsonl")), 0);
    cJSON *o;
    int n = 0, bad = 0;
    while (rlc_jsonl_next(&r, &o) == 1) {
        char rel[128];
        snprintf(rel, sizeof rel, "tokenizers/%s", cJSON_GetObjectItem(o, "dir")->valuestring);
        const char *tname = cJSON_GetObjectItem(o, "template")->valuestring;
        tok_t *t = load(rel);
        assert_int_equal(tok_set_chat_template(t, cJSON_GetObjectItem(templates, tname)->valuestring), 0);
        const cJSON *date = cJSON_GetObjectItem(o, "date_string");
        if (date) assert_int_equal(tok_set_chat_date(t, date->valuestring), 0);
        assert_string_equal(tok_chat_template_status(t), "ok");
        /* the built-in format with these templates' defaults (Qwen2's own default system prompt
         * has none) */
        static const char *const builtin[][2] = {{"qwen2.5", "qwen"},         {"qwen2.5-math", "qwen-math"},
                                                 {"chatml", "chatml"},        {"llama3", "llama3"},
                                                 {"llama3.1", "llama3.1"},    {"llama3.2", "llama3.1"},
                                                 {"deepseek-r1", "deepseek-r1"}};
        const char *fname = NULL;
        for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++)
            if (!strcmp(builtin[k][0], tname)) fname = builtin[k][1];
        const cJSON *msgs = cJSON_GetObjectItem(o, "messages");
        int nm = cJSON_GetArraySize(msgs);
        tok_msg_t m[16];
        for (int i = 0; i < nm; i++) {
            m[i].role = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, i), "role")->valuestring;
            m[i].content = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, i), "content")->valuestring;
        }
        char *out, *fam;
        int gen = cJSON_IsTrue(cJSON_GetObjectItem(o, "add_generation_prompt"));
        /* the template itself (Jinja), and the recognised family's built-in renderer */
        assert_int_equal(tok_chat_apply(t, m, nm, gen, NULL, &out), 0);
        fam = NULL;
        if (fname) assert_int_equal(tok_chat_apply(t, m, nm, gen, fname, &fam), 0);
        const char *want = cJSON_GetObjectItem(o, "text")->valuestring;
        for (int k = 0; k < (fam ? 2 : 1); k++) {
            const char *got = k ? fam : out;
            if (strcmp(got, want)) {
                if (bad < 3)
                    fprintf(stderr, "chat %s (%s) conv %d:\n--- ours\n%s\n--- ref\n%s\n", tname,
                            k ? fname : "jinja", (int)cJSON_GetObjectItem(o, "conversation")->valuedouble,
                            got, want);
                bad++;
            }
        }
        free(fam);
        int32_t *ids, *wids;
        int ni, nw = json_ids(cJSON_GetObjectItem(o, "ids"), &wids);
        assert_int_equal(tok_encode(t, out, strlen(out), 0, &ids, &ni), 0);
        if (!same_ids(ids, ni, wids, nw)) bad++;
        free(ids);
        free(wids);
        free(out);
        tok_free(t);
        cJSON_Delete(o);
        n++;
    }
    rlc_jsonl_close(&r);
    cJSON_Delete(templates);
    fprintf(stderr, "chat: %d renderings, %d mismatches\n", n, bad);
    assert_true(n >= 100);
    assert_int_equal(bad, 0);
}

static void test_chat_families(void **s) {
    (void)s;
    tok_t *t = load("tokenizers/bpe-qwen");
    tok_msg_t m[2] = {{"user", "Hi"}, {"assistant", "Hello"}};
    char *out;
    /* built-in formats, forced by name */
    assert_int_equal(tok_chat_apply(t, m, 1, 1, "qwen-math", &out), 0);
    assert_non_null(strstr(out, "Please reason step by step, and put your final answer within \\boxed{}."));
    free(out);
    assert_int_equal(tok_chat_apply(t, m, 1, 1, "qwen", &out), 0);
    assert_non_null(strstr(out, "You are Qwen"));
    free(out);
    assert_int_equal(tok_chat_apply(t, m, 2, 1, "plain", &out), 0);
    assert_string_equal(out, "User: Hi\n\nAssistant: Hello\n\nAssistant:");
    free(out);
    assert_int_equal(tok_chat_apply(t, m, 1, 0, "chatml", &out), 0);
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n");
    free(out);
    assert_int_equal(tok_chat_apply(t, m, 1, 1, "deepseek-r1", &out), 0);
    assert_non_null(strstr(out, "<\xEF\xBD\x9CUser\xEF\xBD\x9C>Hi<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C><think>\n"));
    free(out);
    assert_int_not_equal(tok_chat_apply(t, m, 1, 1, "jinja2", &out), 0);
    assert_non_null(strstr(rlc_errmsg(), "unknown format"));
    /* any template renders through the interpreter; one it cannot run is a clear error
     * naming the line unless a format is forced */
    assert_int_equal(tok_set_chat_template(t, "{{ messages[0]['content'] }}"), 0);
    assert_string_equal(tok_chat_template_status(t), "ok");
    assert_int_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_string_equal(out, "Hi");
    free(out);
    assert_int_equal(tok_set_chat_template(t, "{{ messages[0].content }}\n{% include 'other.jinja' %}"), 0);
    assert_non_null(strstr(tok_chat_template_status(t), "line 2: statement 'include' is not supported"));
    assert_int_not_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_non_null(strstr(rlc_errmsg(), "line 2: statement 'include' is not supported"));
    assert_int_equal(tok_chat_apply(t, m, 1, 1, "qwen", &out), 0);
    assert_non_null(strstr(out, "You are Qwen"));
    free(out);
    assert_int_equal(tok_set_chat_template(t, NULL), 0);
    assert_string_equal(tok_chat_template_status(t), "none");
    assert_int_not_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_non_null(strstr(rlc_errmsg(), "no chat_template"));
    tok_msg_t badm = {NULL, "x"};
    assert_int_not_equal(tok_chat_apply(t, &badm, 1, 1, "plain", &out), 0);
    tok_free(t);
    t = load("tokenizers/bpe-llama3");
    assert_int_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_non_null(strstr(out, "Today Date: 26 Jul 2024\n\n"));
    free(out);
    /* Llama 3.2's template asks for today's date unless one is pinned */
    cJSON *templates = rlc_json_load_file(fixture("tokenizers/templates.json"));
    assert_int_equal(tok_set_chat_template(t, cJSON_GetObjectItem(templates, "llama3.2")->valuestring), 0);
    cJSON_Delete(templates);
    char today[64], want[96];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(today, sizeof today, "%d %b %Y", &tmv);
    snprintf(want, sizeof want, "Today Date: %s\n\n", today);
    assert_int_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_non_null(strstr(out, want));
    free(out);
    assert_int_equal(tok_set_chat_date(t, "01 Jan 2030"), 0);
    assert_int_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
    assert_non_null(strstr(out, "Today Date: 01 Jan 2030\n\n"));
    free(out);
    assert_int_equal(tok_chat_apply(t, m, 1, 1, "llama3.1", &out), 0); /* the built-in takes the pin too */
    assert_non_null(strstr(out, "Today Date: 01 Jan 2030\n\n"));
    free(out);
    assert_int_not_equal(tok_set_chat_date(t, ""), 0);
    assert_int_not_equal(tok_set_chat_date(t, "next Tuesday"), 0);
    assert_non_null(strstr(rlc_errmsg(), "give a day as"));
    tok_free(t);
    /* templates that read the clock themselves (gpt-oss, Granite): the pinned day too, in
     * either spelling */
    const char *clocked[][2] = {{"openai-gpt-oss-120b.jinja", "Current date: 2024-07-26\n"},
                                {"ibm-granite-granite-3.3-2B-Instruct.jinja", "Today's Date: July 26, 2024."}};
    for (int k = 0; k < 2; k++) {
        char rel[256], *src;
        size_t len;
        snprintf(rel, sizeof rel, "tokenizers/real_templates/%s", clocked[k][0]);
        assert_int_equal(fs_read_all(fixture(rel), &src, &len), 0);
        assert_int_equal(tok_load(&t, fixture("tokenizers/bpe-qwen")), 0);
        assert_int_equal(tok_set_chat_template(t, src), 0);
        assert_int_equal(tok_set_chat_date(t, k ? "26 Jul 2024" : "2024-07-26"), 0);
        assert_int_equal(tok_chat_apply(t, m, 1, 1, NULL, &out), 0);
        if (!strstr(out, clocked[k][1])) fail_msg("%s: %s", clocked[k][0], out);
        free(out), free(src);
        tok_free(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jinja_parity), cmocka_unit_test(test_chat_vars),     cmocka_unit_test(test_real_templates),
        cmocka_unit_test(test_chat_parity),  cmocka_unit_test(test_chat_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
