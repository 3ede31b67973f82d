/* data/ tests: profiles over the committed fixtures (MATH-style, both AIME spellings, GSM8K,
 * verl's chat-message layout, custom and dotted keys), malformed-line reporting, the shuffling/sharding iterator and exact resume,
 * templates, and the synthetic tasks checked against independent computations. */
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/encode.h"
#include "data/synth.h"
#include "data/template.h"
#include "testutil.h"

static const char *meta_str(const data_row_t *r, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->meta, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_profiles(void **state) {
    (void)state;
    data_set_t ds;
    long skipped = -1;
    data_load_opts_t o = {.profile = "math500"};
    assert_int_equal(data_load_jsonl(fixture("math/math500_sample.jsonl"), &o, &ds, &skipped), 0);
    assert_int_equal(ds.n, 12);
    assert_int_equal(skipped, 0);
    assert_string_equal(ds.rows[0].answer, "\\frac{5}{6}");
    assert_string_equal(ds.rows[0].id, "test/prealgebra/1.json");
    assert_non_null(strstr(ds.rows[0].problem, "\\frac{1}{2}"));
    assert_non_null(ds.rows[0].solution);
    assert_string_equal(meta_str(&ds.rows[0], "subject"), "Prealgebra");
    assert_int_equal(cJSON_GetObjectItem(ds.rows[0].meta, "level")->valueint, 1);
    assert_string_equal(meta_str(&ds.rows[0], "answer"), "\\frac{5}{6}");
    assert_null(cJSON_GetObjectItem(ds.rows[0].meta, "problem")); /* long texts stay out of meta */
    assert_int_equal(ds.rows[3].line, 4);
    data_set_free(&ds);

    o.profile = "aime";
    assert_int_equal(data_load_jsonl(fixture("math/aime_aimo.jsonl"), &o, &ds, NULL), 0);
    assert_int_equal(ds.n, 3);
    assert_string_equal(ds.rows[0].id, "60");
    assert_string_equal(ds.rows[0].answer, "23");
    data_set_free(&ds);
    assert_int_equal(data_load_jsonl(fixture("math/aime_maxwell.jsonl"), &o, &ds, NULL), 0);
    assert_int_equal(ds.n, 3);
    assert_string_equal(ds.rows[2].id, "2024-I-3");
    assert_string_equal(ds.rows[2].answer, "343"); /* an integer field becomes text */
    assert_non_null(strstr(ds.rows[2].problem, "7^3"));
    data_set_free(&ds);
    /* the 1983-2024 set as CSV: ID, Question, Answer (a numeric column) */
    assert_int_equal(data_load_jsonl(fixture("math/aime_1983_2024.csv"), &o, &ds, NULL), 0);
    assert_int_equal(ds.n, 3);
    assert_string_equal(ds.rows[0].id, "1983-1");
    assert_string_equal(ds.rows[0].problem, "Find $x$ if $2x + 3 = 11$, with \"x\" an integer.");
    assert_string_equal(ds.rows[1].answer, "28");
    assert_non_null(strstr(ds.rows[1].problem, "49$.\nWhat"));
    assert_string_equal(ds.rows[2].answer, "343");
    assert_int_equal(ds.rows[2].line, 5); /* a record's first line: the one before spans two */
    data_set_free(&ds);

    o.profile = "gsm8k";
    assert_int_equal(data_load_jsonl(fixture("math/gsm8k_sample.jsonl"), &o, &ds, NULL), 0);
    assert_int_equal(ds.n, 3);
    assert_string_equal(ds.rows[0].answer, "18");
    assert_string_equal(ds.rows[2].answer, "1500"); /* "#### 1,500" */
    assert_non_null(strstr(ds.rows[0].solution, "3 * 6"));
    assert_null(strstr(ds.rows[0].solution, "####"));
    assert_string_equal(ds.rows[1].id, "gsm8k_sample.jsonl:2");
    data_set_free(&ds);

    /* auto detects each layout */
    const char *files[] = {"math/math500_sample.jsonl", "math/aime_maxwell.jsonl", "math/gsm8k_sample.jsonl"};
    const char *first[] = {"\\frac{5}{6}", "23", "18"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(data_load_jsonl(fixture(files[i]), NULL, &ds, NULL), 0);
        assert_string_equal(ds.rows[0].answer, first[i]);
        data_set_free(&ds);
    }

    /* custom keys, and a limit */
    data_load_opts_t c = {.profile = "custom", .prompt_key = "question", .answer_key = "answer", .limit = 2};
    assert_int_equal(data_load_jsonl(fixture("math/gsm8k_sample.jsonl"), &c, &ds, NULL), 0);
    assert_int_equal(ds.n, 2);
    assert_non_null(strstr(ds.rows[0].answer, "#### 18")); /* custom keeps the field as it is */
    data_set_free(&ds);
    data_load_opts_t c2 = {.profile = "custom", .prompt_key = "question"};
    assert_true(data_load_jsonl(fixture("math/gsm8k_sample.jsonl"), &c2, &ds, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "--answer-key"));
    data_load_opts_t bad = {.profile = "math5000"};
    assert_true(data_load_jsonl(fixture("math/gsm8k_sample.jsonl"), &bad, &ds, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "math5000"));
    /* the right file with the wrong profile: no usable rows, said clearly */
    o.profile = "gsm8k";
    assert_true(data_load_jsonl(fixture("math/math500_sample.jsonl"), &o, &ds, NULL) < 0);
    assert_non_null(strstr(rlc_errmsg(), "no usable rows"));
    /* ... naming the fields the rows do have, and how to point at them */
    assert_non_null(strstr(rlc_errmsg(), "its first row has the fields problem, "));
    assert_non_null(strstr(rlc_errmsg(), "--profile custom --prompt-key K --answer-key K"));
    assert_true(data_load_jsonl("/nonexistent/x.jsonl", NULL, &ds, NULL) < 0);
}

static void test_malformed(void **state) {
    (void)state;
    data_set_t ds;
    long skipped = 0;
    data_load_opts_t o = {.profile = "math500"};
    assert_int_equal(data_load_jsonl(fixture("math/malformed.jsonl"), &o, &ds, &skipped), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(skipped, 4); /* lines 2, 3, 5, 6 */
    assert_string_equal(ds.rows[1].answer, "8");
    assert_int_equal(ds.rows[1].line, 7);
    data_set_free(&ds);
    o.strict = 1;
    assert_true(data_load_jsonl(fixture("math/malformed.jsonl"), &o, &ds, &skipped) < 0);
    assert_non_null(strstr(rlc_errmsg(), "malformed.jsonl:2"));
    assert_null(ds.rows);
}

/* verl's layout (its parquet files exported as JSONL): the prompt as chat messages, the
 * gold answer at reward_model.ground_truth, the id at extra_info.index. */
static void test_verl_messages(void **state) {
    (void)state;
    data_set_t ds;
    long skipped = 0;
    const char *profiles[] = {"verl", "auto"};
    for (int k = 0; k < 2; k++) {
        data_load_opts_t o = {.profile = profiles[k]};
        assert_int_equal(data_load_jsonl(fixture("math/verl_sample.jsonl"), &o, &ds, &skipped), 0);
        assert_int_equal(ds.n, 3);
        assert_int_equal(skipped, 4); /* no user turn, a message without content, no messages, no answer */
        assert_string_equal(ds.rows[0].answer, "72");
        assert_int_equal(cJSON_GetArraySize(ds.rows[0].messages), 1);
        assert_non_null(strstr(ds.rows[0].problem, "Natalia sold clips"));
        assert_string_equal(ds.rows[1].answer, "\\frac{5}{6}");
        assert_string_equal(ds.rows[2].answer, "6");
        assert_string_equal(ds.rows[2].problem, "And 3 + 3?"); /* the last user turn */
        assert_int_equal(cJSON_GetArraySize(ds.rows[2].messages), 4);
        assert_null(cJSON_GetObjectItem(ds.rows[0].meta, "prompt")); /* the messages live in the row */
        assert_string_equal(meta_str(&ds.rows[0], "data_source"), "openai/gsm8k");
        if (k == 0) assert_string_equal(ds.rows[1].id, "1"); /* extra_info.index */
        if (k == 1) assert_non_null(strstr(ds.rows[1].id, "verl_sample.jsonl:2"));
        data_set_free(&ds);
    }
    /* dotted keys in custom profiles too; a missing path is a missing field */
    data_load_opts_t c = {.profile = "custom", .prompt_key = "prompt", .answer_key = "reward_model.ground_truth"};
    assert_int_equal(data_load_jsonl(fixture("math/verl_sample.jsonl"), &c, &ds, &skipped), 0);
    assert_int_equal(ds.n, 3);
    data_set_free(&ds);
    c.answer_key = "reward_model.truth";
    assert_true(data_load_jsonl(fixture("math/verl_sample.jsonl"), &c, &ds, &skipped) < 0);
    c.answer_key = "reward_model.ground_truth";
    c.strict = 1;
    assert_true(data_load_jsonl(fixture("math/verl_sample.jsonl"), &c, &ds, &skipped) < 0);
    assert_non_null(strstr(rlc_errmsg(), "verl_sample.jsonl:3: chat prompt in field 'prompt': no user message"));
    /* a tool description goes before the first user turn; rows are written back as messages */
    data_load_opts_t o = {.profile = "verl"};
    assert_int_equal(data_load_jsonl(fixture("math/verl_sample.jsonl"), &o, &ds, &skipped), 0);
    assert_int_equal(data_set_prefix_problems(&ds, "TOOLS"), 0);
    const cJSON *m2 = ds.rows[2].messages;
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(m2, 1), "content")->valuestring, "TOOLS\n\nWhat is 2 + 2?");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(m2, 3), "content")->valuestring, "And 3 + 3?");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(m2, 0), "content")->valuestring, "Hello.");
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/w.jsonl", dir);
    assert_int_equal(data_set_write_jsonl(&ds, path), 0);
    data_set_t back;
    data_load_opts_t a = {.profile = "auto"};
    assert_int_equal(data_load_jsonl(path, &a, &back, &skipped), 0);
    assert_int_equal(back.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(cJSON_Compare(back.rows[i].messages, ds.rows[i].messages, 1));
        assert_string_equal(back.rows[i].answer, ds.rows[i].answer);
        assert_string_equal(back.rows[i].id, ds.rows[i].id);
    }
    /* encoded: the messages through the chat template, as they are; a text row as before */
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("tokenizers/tiny-chatml")), 0);
    int32_t *ids, *want;
    int n, nw;
    const char *fmt = NULL;
    assert_int_equal(data_encode_row(tok, DATA_TPL_BOXED, NULL, &ds.rows[2], &ids, &n, &fmt), 0);
    assert_string_equal(fmt, "boxed");
    tok_msg_t msgs[4] = {{"assistant", "Hello."}, {"user", "TOOLS\n\nWhat is 2 + 2?"}, {"assistant", "4"},
                         {"user", "And 3 + 3?"}};
    assert_int_equal(tok_chat_encode(tok, msgs, 4, 1, NULL, &want, &nw), 0);
    assert_int_equal(n, nw);
    assert_memory_equal(ids, want, (size_t)n * sizeof *ids);
    free(ids), free(want);
    cJSON_Delete(ds.rows[2].messages);
    ds.rows[2].messages = NULL;
    assert_int_equal(data_encode_row(tok, DATA_TPL_QWEN_MATH_COT, NULL, &ds.rows[2], &ids, &n, &fmt), 0);
    assert_int_equal(data_encode_problem(tok, DATA_TPL_QWEN_MATH_COT, NULL, ds.rows[2].problem, &want, &nw, NULL), 0);
    assert_int_equal(n, nw);
    assert_memory_equal(ids, want, (size_t)n * sizeof *ids);
    free(ids), free(want);
    tok_free(tok);
    data_set_free(&back);
    data_set_free(&ds);
    /* TRL's conversational layout with only a solution (NuminaMath-TIR style): with no answer
     * field the solution is the gold, read by the grader as a completion is */
    FILE *f = fopen(path, "w");
    fputs("{\"prompt\": [{\"role\": \"user\", \"content\": \"What is 2+3?\"}], \"solution\": \"2+3 = 5, so "
          "$\\\\boxed{5}$.\"}\n{\"problem\": \"And 1+1?\", \"answer\": \"2\", \"solution\": \"1+1 = 2\"}\n",
          f);
    fclose(f);
    assert_int_equal(data_load_jsonl(path, &a, &ds, &skipped), 0);
    assert_int_equal(ds.n, 2);
    assert_string_equal(ds.rows[0].answer, "2+3 = 5, so $\\boxed{5}$.");
    assert_non_null(ds.rows[0].messages);
    assert_string_equal(ds.rows[1].answer, "2"); /* an answer field wins */
    assert_string_equal(ds.rows[1].solution, "1+1 = 2");
    data_set_free(&ds);
    /* an answer holding "####" read by a profile that keeps it (aime) is written so that auto
     * reads it back whole, not cut as a GSM8K answer; auto cuts only GSM8K's "answer" field */
    f = fopen(path, "w");
    fputs("{\"Problem\": \"How many?\", \"Answer\": \"3 * 6 = 18\\n#### 18\"}\n"
          "{\"problem\": \"And?\", \"final_answer\": \"x #### 2\"}\n",
          f);
    fclose(f);
    data_load_opts_t aime = {.profile = "aime"};
    assert_int_equal(data_load_jsonl(path, &aime, &ds, &skipped), 0);
    assert_int_equal(ds.n, 1);
    assert_string_equal(ds.rows[0].answer, "3 * 6 = 18\n#### 18");
    char path2[620];
    snprintf(path2, sizeof path2, "%s.out", path);
    assert_int_equal(data_set_write_jsonl(&ds, path2), 0);
    data_set_free(&ds);
    assert_int_equal(data_load_jsonl(path2, &a, &ds, &skipped), 0);
    assert_string_equal(ds.rows[0].answer, "3 * 6 = 18\n#### 18");
    data_set_free(&ds);
    remove(path2);
    assert_int_equal(data_load_jsonl(path, &a, &ds, &skipped), 0);
    assert_int_equal(ds.n, 2);
    assert_string_equal(ds.rows[0].answer, "3 * 6 = 18\n#### 18"); /* "Answer" is no GSM8K field */
    assert_string_equal(ds.rows[1].answer, "x #### 2");
    data_set_free(&ds);
    /* content as a list of text parts (OpenAI / TRL multimodal schema): joined into a string;
     * a part that is not text makes the row bad, with the reason */
    f = fopen(path, "w");
    fputs("{\"prompt\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"What is 2+3?\", "
          "\"image\": null}, {\"type\": \"text\", \"text\": \"Be brief.\"}]}], \"answer\": \"5\"}\n"
          "{\"prompt\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\", \"image\": \"x.png\"}]}], "
          "\"answer\": \"1\"}\n",
          f);
    fclose(f);
    assert_int_equal(data_load_jsonl(path, &a, &ds, &skipped), 0);
    assert_int_equal(ds.n, 1);
    assert_int_equal(skipped, 1);
    assert_string_equal(ds.rows[0].problem, "What is 2+3?\nBe brief.");
    const cJSON *c0 = cJSON_GetObjectItem(cJSON_GetArrayItem(ds.rows[0].messages, 0), "content");
    assert_true(cJSON_IsString(c0));
    assert_string_equal(c0->valuestring, "What is 2+3?\nBe brief.");
    data_set_free(&ds);
    a.strict = 1;
    assert_true(data_load_jsonl(path, &a, &ds, &skipped) < 0);
    assert_non_null(strstr(rlc_errmsg(), "w.jsonl:2: chat prompt in field 'prompt': a content part is not text"));
    remove(path);
    rmdir(dir);
    free(dir);
}

static void test_iterator(void **state) {
    (void)state;
    data_set_t ds = {0};
    char id[32], prob[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "r%d", i);
        snprintf(prob, sizeof prob, "problem %d", i);
        assert_int_equal(data_set_add(&ds, id, prob, "1", NULL, NULL), 0);
    }
    /* no shuffle: file order, wrapping into epochs */
    data_iter_t it;
    assert_int_equal(data_iter_init(&it, &ds, 1, 0, 0, 1), 0);
    for (int i = 0; i < 25; i++) {
        const data_row_t *r = data_iter_next(&it);
        snprintf(id, sizeof id, "r%d", i % 10);
        assert_string_equal(r->id, id);
    }
    assert_int_equal(data_iter_cursor(&it).epoch, 2);
    assert_int_equal(data_iter_cursor(&it).pos, 5);
    data_iter_free(&it);
    /* shuffled: a permutation per epoch, different across epochs, same for the same seed */
    data_iter_t a, b;
    assert_int_equal(data_iter_init(&a, &ds, 42, 1, 0, 1), 0);
    assert_int_equal(data_iter_init(&b, &ds, 42, 1, 0, 1), 0);
    int seen[10] = {0}, order0[10], differs = 0, identity = 1;
    for (int i = 0; i < 10; i++) {
        const data_row_t *r = data_iter_next(&a);
        assert_ptr_equal(r, data_iter_next(&b));
        int k = atoi(r->id + 1);
        seen[k]++;
        order0[i] = k;
        identity &= k == i;
    }
    assert_false(identity);
    for (int i = 0; i < 10; i++) assert_int_equal(seen[i], 1);
    for (int i = 0; i < 10; i++) differs |= atoi(data_iter_next(&a)->id + 1) != order0[i];
    assert_true(differs);
    data_iter_free(&b);
    /* exact resume: a fresh iterator seeked to a saved cursor continues identically */
    data_cursor_t cur = data_iter_cursor(&a);
    cJSON *cj = data_cursor_json(cur, ds.n);
    const data_row_t *next[7];
    for (int i = 0; i < 7; i++) next[i] = data_iter_next(&a);
    data_cursor_t back;
    assert_int_equal(data_cursor_from_json(cj, ds.n, &back), 0);
    assert_true(data_cursor_from_json(cj, ds.n + 1, &back) < 0); /* saved for another dataset */
    assert_int_equal(data_iter_init(&b, &ds, 42, 1, 0, 1), 0);
    assert_int_equal(data_iter_seek(&b, back), 0);
    for (int i = 0; i < 7; i++) assert_ptr_equal(data_iter_next(&b), next[i]);
    data_cursor_t wild = {0, 99};
    assert_true(data_iter_seek(&b, wild) < 0);
    cJSON_Delete(cj);
    data_iter_free(&a);
    data_iter_free(&b);
    /* sharding: 3 ranks take disjoint rows, together the same sequence as one process */
    data_iter_t one, r[3];
    assert_int_equal(data_iter_init(&one, &ds, 9, 1, 0, 1), 0);
    for (int k = 0; k < 3; k++) assert_int_equal(data_iter_init(&r[k], &ds, 9, 1, k, 3), 0);
    assert_int_equal(r[0].per_rank, 3); /* 10 rows / 3 ranks: one row left out per epoch */
    for (int step = 0; step < 3; step++)
        for (int k = 0; k < 3; k++) assert_ptr_equal(data_iter_next(&r[k]), data_iter_next(&one));
    for (int k = 0; k < 3; k++) data_iter_free(&r[k]);
    data_iter_free(&one);
    assert_true(data_iter_init(&it, &ds, 1, 1, 3, 3) < 0);
    assert_true(data_iter_init(&it, &ds, 1, 1, 0, 11) < 0);
    data_set_free(&ds);
}

static void test_exclude_and_write(void **state) {
    (void)state;
    data_set_t a = {0}, b = {0};
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_digits = o.max_digits = 1;
    o.ops = "+";
    assert_int_equal(data_synth_arith(&a, 200, &o, 1), 0);
    assert_int_equal(data_synth_arith(&b, 200, &o, 2), 0);
    long removed = 0;
    assert_int_equal(data_set_exclude(&b, &a, &removed), 0);
    assert_true(removed > 0); /* 1-digit sums collide a lot */
    assert_int_equal(b.n, 200 - removed);
    for (int i = 0; i < b.n; i++)
        for (int j = 0; j < a.n; j++) assert_true(strcmp(b.rows[i].problem, a.rows[j].problem) != 0);
    /* write then load back */
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/arith.jsonl", dir);
    assert_int_equal(data_set_write_jsonl(&a, path), 0);
    data_set_t c;
    assert_int_equal(data_load_jsonl(path, NULL, &c, NULL), 0);
    assert_int_equal(c.n, a.n);
    for (int i = 0; i < a.n; i++) {
        assert_string_equal(c.rows[i].id, a.rows[i].id);
        assert_string_equal(c.rows[i].problem, a.rows[i].problem);
        assert_string_equal(c.rows[i].answer, a.rows[i].answer);
        assert_string_equal(c.rows[i].solution, a.rows[i].solution);
        assert_string_equal(meta_str(&c.rows[i], "task"), "arith");
    }
    data_set_free(&c);
    test_run(NULL, 0, "rm -rf %s", dir);
    free(dir);
    data_set_free(&a);
    data_set_free(&b);
}

static void test_templates(void **state) {
    (void)state;
    data_tpl_t t;
    assert_int_equal(data_template_from_name("qwen-math-cot", &t), 0);
    data_prompt_t p;
    assert_int_equal(data_prompt_build(t, "What is 1+1?", &p), 0);
    assert_int_equal(p.chat, 1);
    assert_int_equal(p.n_msgs, 2);
    assert_string_equal(p.msgs[0].role, "system");
    assert_string_equal(p.msgs[0].content, "Please reason step by step, and put your final answer within \\boxed{}.");
    assert_string_equal(p.msgs[1].role, "user");
    assert_string_equal(p.msgs[1].content, "What is 1+1?");
    assert_string_equal(p.format, "boxed");
    data_prompt_free(&p);
    const char *names[] = {"boxed", "r1", "dapo", "raw"};
    const char *must[] = {"\\boxed{}", "<think>", "Answer:", "What is 1+1?"};
    const char *fmt[] = {"boxed", "think", "answer_line", "boxed"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(data_template_from_name(names[i], &t), 0);
        assert_string_equal(data_template_name(t), names[i]);
        assert_int_equal(data_prompt_build(t, "What is 1+1?", &p), 0);
        assert_int_equal(p.chat, 0);
        assert_non_null(strstr(p.text, "What is 1+1?"));
        assert_non_null(strstr(p.text, must[i]));
        assert_string_equal(p.format, fmt[i]);
        data_prompt_free(&p);
    }
    assert_true(data_template_from_name("qwen", &t) < 0);
    assert_non_null(strstr(rlc_errmsg(), "qwen-math-cot"));
    /* the r1 prompt ends inside the assistant turn, ready for the thinking */
    assert_int_equal(data_prompt_build(DATA_TPL_R1, "Q", &p), 0);
    size_t n = strlen(p.text);
    assert_true(n > 7 && !strcmp(p.text + n - 7, "<think>"));
    data_prompt_free(&p);
}

/* Evaluate "a op b op c ..." with the usual precedence, independently of the generator. */
static long long eval_plain(const char *s) {
    long long terms[16], cur;
    char sign[16];
    int nt = 0;
    const char *p = s;
    cur = strtoll(p, (char **)&p, 10);
    char pending = '+';
    for (;;) {
        while (*p == ' ') p++;
        char op = *p;
        if (op != '+' && op != '-' && op != '*' && op != '/') break;
        p++;
        long long v = strtoll(p, (char **)&p, 10);
        if (op == '*') cur *= v;
        else if (op == '/') cur /= v;
        else {
            sign[nt] = pending;
            terms[nt++] = cur;
            pending = op;
            cur = v;
        }
    }
    sign[nt] = pending;
    terms[nt++] = cur;
    long long acc = 0;
    for (int i = 0; i < nt; i++) acc += sign[i] == '+' ? terms[i] : -terms[i];
    return acc;
}

static void test_arith(void **state) {
    (void)state;
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_operands = 2;
    o.max_operands = 4;
    o.ops = "+-*/";
    data_set_t ds = {0}, again = {0};
    assert_int_equal(data_synth_arith(&ds, 300, &o, 77), 0);
    assert_int_equal(data_synth_arith(&again, 10, &o, 77), 0);
    int saw_div = 0, saw_detail = 0;
    for (int i = 0; i < ds.n; i++) {
        const data_row_t *r = &ds.rows[i];
        assert_true(!strncmp(r->problem, "Compute ", 8));
        long long want = eval_plain(r->problem + 8);
        assert_int_equal(atoll(r->answer), want);
        assert_true(want >= 0); /* allow_negative = 0 */
        char tail[64];
        snprintf(tail, sizeof tail, "\\boxed{%s}.", r->answer);
        assert_non_null(strstr(r->solution, tail));
        saw_div |= strchr(r->problem + 8, '/') != NULL;
        saw_detail |= strstr(r->solution, " + ") != NULL && strstr(r->problem, "*") != NULL;
        if (i < again.n) { /* problem i depends only on (seed, i) */
            assert_string_equal(r->problem, again.rows[i].problem);
            assert_string_equal(r->solution, again.rows[i].solution);
        }
    }
    assert_true(saw_div);
    assert_true(saw_detail);
    /* digits are respected */
    data_set_free(&ds);
    data_arith_opts_default(&o);
    o.min_digits = o.max_digits = 4;
    o.ops = "+";
    assert_int_equal(data_synth_arith(&ds, 50, &o, 3), 0);
    for (int i = 0; i < ds.n; i++) {
        long long a, b;
        assert_int_equal(sscanf(ds.rows[i].problem, "Compute %lld + %lld.", &a, &b), 2);
        assert_true(a >= 1000 && a <= 9999 && b >= 1000 && b <= 9999);
    }
    data_set_free(&ds);
    data_set_free(&again);
    o.min_digits = 0;
    assert_true(data_synth_arith(&ds, 1, &o, 3) < 0);
    data_arith_opts_default(&o);
    o.ops = "+^";
    assert_true(data_synth_arith(&ds, 1, &o, 3) < 0);
    assert_non_null(strstr(rlc_errmsg(), "'^'"));
}

/* Column-by-column solutions: every line's arithmetic holds and the last partial result is
 * the answer; the style is chosen per problem without changing the problems themselves. */
static void test_arith_columns(void **state) {
    (void)state;
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_digits = 1;
    o.max_digits = 3;
    o.ops = "+-";
    data_set_t plain = {0}, cols = {0}, half = {0};
    assert_int_equal(data_synth_arith(&plain, 300, &o, 5), 0);
    o.column_frac = 1;
    assert_int_equal(data_synth_arith(&cols, 300, &o, 5), 0);
    o.column_frac = 0.5;
    assert_int_equal(data_synth_arith(&half, 300, &o, 5), 0);
    int n_half = 0;
    for (int i = 0; i < 300; i++) {
        assert_string_equal(plain.rows[i].problem, cols.rows[i].problem); /* same problems */
        assert_null(strstr(plain.rows[i].solution, "column by column"));
        const char *sol = cols.rows[i].solution;
        assert_non_null(strstr(sol, "column by column"));
        n_half += strstr(half.rows[i].solution, "column by column") != NULL;
        /* each "x + y (+ c) = t" / "x - y (- 1) = t" line is right; the last "so P" is the answer */
        char last[64] = "";
        for (const char *line = strchr(sol, '\n') + 1; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
            int x, y, c, t;
            if (sscanf(line, "%d + %d + %d = %d", &x, &y, &c, &t) == 4) assert_int_equal(x + y + c, t);
            else if (sscanf(line, "%d + %d = %d, so", &x, &y, &t) == 3) assert_int_equal(x + y, t);
            else if (sscanf(line, "%d - %d - 1 = %d", &x, &y, &t) == 3) assert_int_equal(x - y - 1, t);
            const char *so = strstr(line, ", so ");
            const char *nl = strchr(line, '\n');
            if (so && (!nl || so < nl)) sscanf(so + 5, "%63[0-9]", last);
        }
        long v = strtol(last, NULL, 10);
        assert_int_equal(v, strtol(cols.rows[i].answer, NULL, 10));
    }
    assert_true(n_half > 100 && n_half < 200);
    o.column_frac = 1.5;
    data_set_t bad = {0};
    assert_true(data_synth_arith(&bad, 1, &o, 1) < 0);
    data_set_free(&plain);
    data_set_free(&cols);
    data_set_free(&half);
}

static void test_countdown(void **state) {
    (void)state;
    long nums[4] = {3, 7, 25, 50};
    char why[128];
    assert_int_equal(data_countdown_check("(25 - 7) * 3", nums, 4, 54, why, sizeof why), 1);
    assert_int_equal(data_countdown_check("(25-7)\\times 3 = 54", nums, 4, 54, why, sizeof why), 1);
    assert_int_equal(data_countdown_check("\\left(25-7\\right)\\cdot3", nums, 4, 54, why, sizeof why), 1);
    assert_int_equal(data_countdown_check("50 / (7 - 3) * 4", nums, 4, 50, why, sizeof why), 0);
    assert_non_null(strstr(why, "4"));
    assert_int_equal(data_countdown_check("25 + 25 + 3 + 1", nums, 4, 54, why, sizeof why), 0); /* 25 twice */
    assert_int_equal(data_countdown_check("50 + 3", nums, 4, 54, why, sizeof why), 0);
    assert_non_null(strstr(why, "53"));
    assert_int_equal(data_countdown_check("50 / (7 - 7)", nums, 4, 1, why, sizeof why), 0);
    assert_int_equal(data_countdown_check("(50 + 25) / 3 * 7", nums, 4, 175, why, sizeof why), 1);
    assert_int_equal(data_countdown_check("(50 + 25) / 3 * 7 - 3", nums, 4, 172, why, sizeof why), 0); /* 3 twice */
    assert_int_equal(data_countdown_check("50 / 3", nums, 4, 16, why, sizeof why), 0); /* 50/3 is not 16 */
    assert_int_equal(data_countdown_check("(25 - 7) * 3 = 55", nums, 4, 54, why, sizeof why), 0);
    assert_int_equal(data_countdown_check("-3 + 7", nums, 4, 4, why, sizeof why), 0);
    assert_int_equal(data_countdown_check("7 * (3 + 50", nums, 4, 371, why, sizeof why), 0);
    assert_int_equal(data_countdown_check("", nums, 4, 0, why, sizeof why), 0);
    assert_int_equal(data_countdown_check("99999999999999999999 + 3", nums, 4, 1, why, sizeof why), 0);
    /* deep nesting is refused, not a stack overflow */
    char deep[4200];
    memset(deep, '(', 2000);
    deep[2000] = '3';
    memset(deep + 2001, ')', 2000);
    deep[4001] = 0;
    assert_int_equal(data_countdown_check(deep, nums, 4, 3, why, sizeof why), 0);
    /* every generated puzzle is solvable by its stored answer and not trivial */
    data_countdown_opts_t o;
    data_countdown_opts_default(&o);
    data_set_t ds = {0};
    assert_int_equal(data_synth_countdown(&ds, 300, &o, 5), 0);
    for (int i = 0; i < ds.n; i++) {
        const cJSON *arr = cJSON_GetObjectItem(ds.rows[i].meta, "numbers");
        long v[8];
        int k = 0;
        for (const cJSON *c = arr->child; c; c = c->next) v[k++] = (long)c->valuedouble;
        assert_int_equal(k, o.n_numbers);
        long target = (long)cJSON_GetObjectItem(ds.rows[i].meta, "target")->valuedouble;
        assert_true(target >= 1 && target <= o.max_target);
        if (!data_countdown_check(ds.rows[i].answer, v, k, target, why, sizeof why)) {
            fprintf(stderr, "row %d: %s -> %ld: %s\n", i, ds.rows[i].answer, target, why);
            fail();
        }
        assert_non_null(strstr(ds.rows[i].solution, "\\boxed{"));
    }
    data_set_free(&ds);
    o.n_numbers = 9;
    assert_true(data_synth_countdown(&ds, 1, &o, 5) < 0);
}

/* verl's own parquet layout (and a save_to_disk directory) loads as its JSONL export does:
 * chat prompts, ground truths, ids from extra_info.index (exact beyond 2^53); rows without
 * a user turn are malformed. */
static void test_parquet_verl(void **s) {
    (void)s;
    data_load_opts_t o = {.profile = "verl"};
    data_set_t ds, js;
    long skipped, js_skipped;
    assert_int_equal(data_load_jsonl(fixture("parquet/rows_snappy_v1.parquet"), &o, &ds, &skipped), 0);
    assert_int_equal(data_load_jsonl(fixture("parquet/rows.jsonl"), &o, &js, &js_skipped), 0);
    assert_int_equal(ds.n, 7);
    assert_int_equal(skipped, 4);
    assert_int_equal(js.n, ds.n);
    assert_int_equal(js_skipped, skipped);
    for (int i = 0; i < ds.n; i++) {
        assert_string_equal(ds.rows[i].answer, js.rows[i].answer);
        assert_string_equal(ds.rows[i].id, js.rows[i].id);
        assert_string_equal(ds.rows[i].problem, js.rows[i].problem);
        assert_true(cJSON_Compare(ds.rows[i].messages, js.rows[i].messages, 1));
    }
    assert_string_equal(ds.rows[0].answer, "5");
    assert_string_equal(ds.rows[1].id, "9007199254740993");
    assert_int_equal(cJSON_GetArraySize(ds.rows[1].messages), 2);
    data_set_free(&ds);
    /* the same rows saved by Hugging Face datasets (save_to_disk: Arrow shards and metadata) */
    assert_int_equal(data_load_jsonl(fixture("arrow/hf_saved"), &o, &ds, &skipped), 0);
    assert_int_equal(ds.n, js.n);
    for (int i = 0; i < ds.n; i++) {
        assert_string_equal(ds.rows[i].id, js.rows[i].id);
        assert_true(cJSON_Compare(ds.rows[i].messages, js.rows[i].messages, 1));
    }
    data_set_free(&ds);
    data_set_free(&js);
}

/* A directory of shards loads as one data set; rows without an id are named by their own
 * file and line, so ids stay unique across shards. */
static void test_directory_shards(void **s) {
    (void)s;
    char *dir = test_tmpdir(), a[600], b[600];
    snprintf(a, sizeof a, "%s/train-00000.jsonl", dir);
    snprintf(b, sizeof b, "%s/train-00001.jsonl", dir);
    const char *ra = "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n";
    const char *rb = "{\"problem\": \"2+2?\", \"answer\": \"4\"}\n";
    assert_int_equal(fs_write_atomic(a, ra, strlen(ra)), 0);
    assert_int_equal(fs_write_atomic(b, rb, strlen(rb)), 0);
    data_load_opts_t o = {.profile = "auto"};
    data_set_t ds;
    long skipped;
    assert_int_equal(data_load_jsonl(dir, &o, &ds, &skipped), 0);
    assert_int_equal(ds.n, 2);
    assert_string_equal(ds.rows[0].id, "train-00000.jsonl:1");
    assert_string_equal(ds.rows[1].id, "train-00001.jsonl:1");
    assert_string_equal(ds.rows[1].answer, "4");
    data_set_free(&ds);
    fs_rm_rf(dir);
    free(dir);
}

/* A row whose prompt holds a token the model has no embedding row for (a tokenizer larger
 * than the model) is a bad row: skipped with its reason, or fatal under strict. */
static void test_encode_model_vocab(void **s) {
    (void)s;
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/v.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"problem\": \"What is 1+1?\", \"answer\": \"2\"}\n"
          "{\"problem\": \"Say <|im_end|> now.\", \"answer\": \"3\"}\n",
          f);
    fclose(f);
    tok_t *tok;
    assert_int_equal(tok_load(&tok, fixture("tokenizers/tiny-chatml")), 0);
    tok_set_model_vocab(tok, tok_token_to_id(tok, "<|im_end|>"));
    data_load_opts_t o = {.profile = "auto"};
    data_set_t ds;
    long skipped, bad;
    for (int strict = 1; strict >= 0; strict--) {
        assert_int_equal(data_load_jsonl(path, &o, &ds, &skipped), 0);
        int rc = data_encode_all(tok, DATA_TPL_RAW, NULL, path, 0, NULL, strict, &ds, &bad);
        if (strict) {
            assert_int_equal(rc, RLC_EINVAL);
            assert_non_null(strstr(rlc_errmsg(), "v.jsonl:2: "));
            assert_non_null(strstr(rlc_errmsg(), "'<|im_end|>'"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(ds.n, 1);
            assert_int_equal(bad, 1);
            assert_string_equal(ds.rows[0].answer, "2");
        }
        data_set_free(&ds);
    }
    tok_free(tok);
    remove(path);
    remove(dir);
    free(dir);
}

int main(void) {
    rlc_log_set_level(RLC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),  cmocka_unit_test(test_malformed), cmocka_unit_test(test_verl_messages), cmocka_unit_test(test_iterator),
        cmocka_unit_test(test_exclude_and_write), cmocka_unit_test(test_templates), cmocka_unit_test(test_arith),
        cmocka_unit_test(test_countdown), cmocka_unit_test(test_arith_columns),
        cmocka_unit_test(test_encode_model_vocab), cmocka_unit_test(test_parquet_verl),
        cmocka_unit_test(test_directory_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
