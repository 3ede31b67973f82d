/* Process reward models with their own head and input layout (see prm_formats.c):
 * Qwen2.5-Math-PRM (`qwen`) and Skywork-o1-Open-PRM (`skywork`). Used by rm.c. */
#pragma once
#include <stddef.h>

#include "rewards/rm.h"

/* After the trunk is loaded (p->m, an RLC_HEAD_NONE model): read the head tensors and the
 * PRM's tokenizer (and the qwen step separator's id). */
int rlc_prm_open_head(rlc_prm_t *p);
/* Step scores of a completion's text (question: the problem). */
int rlc_prm_head_score(rlc_prm_t *p, const char *question, const char *text, size_t len, float **steps, int *n_steps,
                       long *read);
/* The steps a format scores: "\n\n"-separated paragraphs (rlc_split_steps) for every format
 * but skywork, whose steps are the non-blank lines. Same contract as rlc_split_steps. */
int rlc_prm_steps(int format, const char *text, size_t len, size_t *starts, size_t *ends, int cap);
