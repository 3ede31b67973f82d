/* Dataset evaluation: render each problem with a prompt template, sample K completions
 * with the rollout engine, grade them (math grader, or the exact Countdown verifier for
 * Countdown items), and summarise (pass@1 over K, maj@K, unbiased pass@k, by subject and
 * level). Used by `rlc eval` and by training for held-out accuracy. */
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
    int extract_flags; /* 0: from the template's answer format */
    math_opts_t math;
    int records; /* build per-item records with completions */
} tts_eval_opts_t;

void tts_eval_opts_default(tts_eval_opts_t *o);

typedef struct {
    cJSON *items;   /* array of per-item records (when o->records), else NULL */
    cJSON *summary; /* rlc_evalsum_json() */
    double pass1;   /* mean correctness over items and samples */
} tts_eval_result_t;

/* Encode one problem with the template (chat templates go through the tokenizer). */
int tts_encode_problem(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const char *problem, int32_t **ids,
                       int *n, const char **format);
/* Grade one completion of a row: 1/0; extracted (cap bytes) receives the answer. */
int tts_grade(const data_row_t *row, const char *completion, int extract_flags, const math_opts_t *mo,
              char *extracted, size_t cap);
int tts_eval_run(gen_engine_t *e, const tok_t *tok, const data_set_t *ds, const tts_eval_opts_t *o,
                 rlc_progress_t *progress, tts_eval_result_t *out);
void tts_eval_result_free(tts_eval_result_t *r);
