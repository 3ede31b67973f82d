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
