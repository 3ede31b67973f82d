/* Grading a dataset row, and dataset evaluation: render each problem with a prompt
 * template, sample K completions with the rollout engine, grade them (math grader, or the
 * exact Countdown verifier for Countdown items), and summarise (pass@1 over K, maj@K,
 * unbiased pass@k, by subject and level). Used by `rlc eval`, `rlc tts` and by training
 * (row grading of rollouts, held-out accuracy). */
#pragma once
#include <cjson/cJSON.h>

#include "core/log.h"
#include "data/dataset.h"
#include "data/template.h"
#include "gen/engine.h"
#include "rewards/math/math.h"
#include "tokenizer/tok.h"

typedef struct {
    data_tpl_t tpl;
    const char *chat_family; /* NULL: detected from the tokenizer */
    int samples;             /* K */
    float temperature, top_p;
    int top_k, max_new_tokens;
    uint64_t seed;
    /* Problem i of the set is sampled with seed·1000003 + first_index + i: a shard of a larger
     * set (rows [first_index, ...)) samples what the whole set's evaluation would. */
    uint64_t first_index;
    int extract_flags; /* 0: from the template's answer format */
    math_opts_t math;
    int records; /* build per-item records with completions */
    /* tool calls, as in training (the engine must have a tool callback): markers, calls per sample */
    const char *const *tool_markers;
    int n_tool_markers, max_tool_calls;
} rlc_eval_opts_t;

void rlc_eval_opts_default(rlc_eval_opts_t *o);

typedef struct {
    cJSON *items;   /* array of per-item records (when o->records), else NULL */
    cJSON *summary; /* rlc_evalsum_json() */
    double pass1;   /* mean correctness over items and samples */
    double tool_calls; /* mean tool calls per sample */
    double tokens;     /* mean completion tokens per sample */
} rlc_eval_result_t;

/* Grade one completion of a row: 1/0; extracted (cap bytes) receives the answer. */
int rlc_grade_row(const data_row_t *row, const char *completion, int extract_flags, const math_opts_t *mo,
              char *extracted, size_t cap);
int rlc_eval_run(gen_engine_t *e, const tok_t *tok, const data_set_t *ds, const rlc_eval_opts_t *o,
                 rlc_progress_t *progress, rlc_eval_result_t *out);
void rlc_eval_result_free(rlc_eval_result_t *r);
