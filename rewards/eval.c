/* Grading a dataset row (the math grader, or the exact Countdown verifier for Countdown
 * items) and evaluating a dataset with the rollout engine and the graders. */
#include "rewards/eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "data/encode.h"
#include "data/synth.h"
#include "rewards/evalsum.h"

void rlc_eval_opts_default(rlc_eval_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->tpl = DATA_TPL_QWEN_MATH_COT;
    o->samples = 1;
    o->temperature = 0.6f;
    o->top_p = 0.95f;
    o->max_new_tokens = 1024;
    math_opts_default(&o->math);
    o->records = 1;
}

int rlc_grade_row(const data_row_t *row, const char *completion, int extract_flags, const math_opts_t *mo,
              char *extracted, size_t cap) {
    const cJSON *task = row->meta ? cJSON_GetObjectItemCaseSensitive(row->meta, "task") : NULL;
    if (cJSON_IsString(task) && !strcmp(task->valuestring, "countdown")) {
        const cJSON *nums = cJSON_GetObjectItemCaseSensitive(row->meta, "numbers");
        const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(row->meta, "target");
        long v[16];
        int k = 0;
        for (const cJSON *x = nums ? nums->child : NULL; x && k < 16; x = x->next) v[k++] = (long)x->valuedouble;
        if (math_extract_answer(completion, extracted, cap, extract_flags) != 1) return 0;
        return cJSON_IsNumber(tgt) && data_countdown_check(extracted, v, k, (long)tgt->valuedouble, NULL, 0) == 1;
    }
    int r = math_grade(row->answer, completion, extract_flags, mo, extracted, cap);
    return r == 1;
}

int rlc_eval_run(gen_engine_t *e, const tok_t *tok, const data_set_t *ds, const rlc_eval_opts_t *o,
                 rlc_progress_t *progress, rlc_eval_result_t *out) {
    memset(out, 0, sizeof *out);
    if (o->samples < 1) return rlc_errc(RLC_EINVAL, "samples must be at least 1");
    int K = o->samples, n = ds->n, rc = 0;
    int *reqs = rlc_malloc((size_t)(n ? n : 1) * sizeof *reqs);
    const char **formats = rlc_calloc((size_t)(n ? n : 1), sizeof *formats);
    if (!reqs || !formats) {
        free(reqs);
        free(formats);
        return RLC_ENOMEM;
    }
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = K;
    gp.temperature = o->temperature;
    gp.top_p = o->top_p;
    gp.top_k = o->top_k;
    gp.max_new_tokens = o->max_new_tokens;
    gp.tool_markers = o->tool_markers;
    gp.n_tool_markers = o->n_tool_markers;
    gp.max_tool_calls = o->max_tool_calls;
    for (int i = 0; i < n && !rc; i++) {
        const data_row_t *row = &ds->rows[i];
        int32_t *ids = row->prompt_ids; /* encoded up front (data_encode_all), else now */
        int nid = row->n_prompt_ids;
        formats[i] = row->format;
        if (!ids) rc = data_encode_row(tok, o->tpl, o->chat_family, row, &ids, &nid, &formats[i]);
        if (!rc) {
            gp.seed = o->seed * 1000003ull + o->first_index + (uint64_t)i;
            reqs[i] = gen_submit(e, ids, nid, &gp, NULL);
            if (reqs[i] < 0) rc = reqs[i];
        }
        if (ids != row->prompt_ids) free(ids);
        if (rc) rlc_err_ctx(rc, "item %s", ds->rows[i].id);
    }
    if (!rc) {
        if (progress) progress->total = (long)n * K;
        rc = gen_run(e, progress);
    }
    rlc_evalsum_t *sum = NULL;
    if (!rc) rc = rlc_evalsum_new(K, &sum);
    if (!rc && o->records && !(out->items = cJSON_CreateArray())) rc = RLC_ENOMEM;
    int *correct = rlc_malloc((size_t)K * sizeof *correct);
    char **answers = rlc_calloc((size_t)K, sizeof *answers);
    if (!correct || !answers) rc = rc ? rc : RLC_ENOMEM;
    for (int i = 0; i < K && answers && !rc; i++)
        if (!(answers[i] = rlc_malloc(MATH_MAX_ANSWER))) rc = RLC_ENOMEM;
    long tokens = 0, calls = 0;
    double total = 0;
    for (int i = 0; i < n && !rc; i++) {
        const data_row_t *row = &ds->rows[i];
        int flags = o->extract_flags ? o->extract_flags : math_extract_flags_for_format(formats[i]);
        cJSON *comps = o->records ? cJSON_CreateArray() : NULL;
        for (int k = 0; k < K; k++) {
            const gen_output_t *g = gen_output(e, reqs[i], k);
            correct[k] = rlc_grade_row(row, g->text, flags, &o->math, answers[k], MATH_MAX_ANSWER);
            total += correct[k];
            tokens += g->n_tokens;
            calls += g->n_tool_calls;
            if (comps) {
                cJSON *c = cJSON_CreateObject();
                rlc_json_add_text(c, "text", g->text, g->text_len);
                rlc_json_add_text(c, "extracted", answers[k], strlen(answers[k]));
                cJSON_AddBoolToObject(c, "correct", correct[k]);
                cJSON_AddStringToObject(c, "finish_reason", gen_finish_name(g->finish));
                cJSON_AddNumberToObject(c, "tokens", g->n_tokens);
                if (o->n_tool_markers) cJSON_AddNumberToObject(c, "tool_calls", g->n_tool_calls);
                cJSON_AddItemToArray(comps, c);
            }
        }
        cJSON *item = NULL;
        rc = rlc_evalsum_add(sum, row->meta, K, correct, (const char *const *)answers, &o->math,
                             o->records ? &item : NULL);
        if (!rc && o->records) {
            cJSON *rec = cJSON_CreateObject();
            cJSON_AddStringToObject(rec, "id", row->id);
            cJSON_AddStringToObject(rec, "problem", row->problem);
            cJSON_AddStringToObject(rec, "answer", row->answer);
            for (cJSON *f = item ? item->child : NULL; f; f = f->next)
                cJSON_AddItemToObject(rec, f->string, cJSON_Duplicate(f, 1));
            cJSON_AddItemToObject(rec, "completions", comps);
            comps = NULL;
            cJSON_AddItemToArray(out->items, rec);
        }
        cJSON_Delete(item);
        cJSON_Delete(comps);
        gen_release(e, reqs[i]);
    }
    if (!rc) {
        gen_stats_t st;
        gen_stats(e, &st);
        rlc_evalsum_add_usage(sum, tokens, st.seconds);
        out->summary = rlc_evalsum_json(sum);
        out->pass1 = n ? total / ((double)n * K) : 0;
        out->tool_calls = n ? (double)calls / ((double)n * K) : 0;
        if (out->summary && o->n_tool_markers) cJSON_AddNumberToObject(out->summary, "tool_calls_mean", out->tool_calls);
        out->tokens = n ? (double)tokens / ((double)n * K) : 0;
        if (!out->summary) rc = RLC_ENOMEM;
    }
    for (int i = 0; i < K && answers; i++) free(answers[i]);
    free(answers);
    free(correct);
    rlc_evalsum_free(sum);
    free(reqs);
    free(formats);
    if (rc) rlc_eval_result_free(out);
    return rc;
}

void rlc_eval_result_free(rlc_eval_result_t *r) {
    cJSON_Delete(r->items);
    cJSON_Delete(r->summary);
    memset(r, 0, sizeof *r);
}
