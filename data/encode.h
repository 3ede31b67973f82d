/* A problem as prompt token ids: rendered with a prompt template (data/template.h), chat
 * templates through the tokenizer's own chat template, then encoded. One rule for training,
 * SFT, evaluation and test-time scaling, so they all see the same prompt. */
#pragma once
#include <stdint.h>

#include "data/template.h"
#include "tokenizer/tok.h"

/* *ids malloc'd (*n tokens); *format (may be NULL) receives the template's answer format. */
int data_encode_problem(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const char *problem, int32_t **ids,
                        int *n, const char **format);
/* A row's prompt: its chat messages when it has them (rendered with the chat template as they
 * are, with the generation prompt; tpl gives only the answer format), else its problem
 * through tpl as above. */
int data_encode_row(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const data_row_t *row, int32_t **ids,
                    int *n, const char **format);


/* Every row of ds encoded once, before any work (row->prompt_ids, ->format): a row that
 * cannot be encoded (invalid UTF-8, a template error) or whose prompt is longer than
 * max_len tokens (max_len > 0; `limit` names the bound in the message) is bad. strict: the first bad row is an error
 * "PATH:LINE: reason"; else bad rows are dropped from ds, counted in *n_bad (may be NULL),
 * and the first few are warned about as "PATH:LINE: reason". No row left is an error. */
int data_encode_all(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const char *path, long max_len,
                    const char *limit, int strict, data_set_t *ds, long *n_bad);
