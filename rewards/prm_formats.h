/* Process reward model formats (see prm_formats.c): each format's input for a completion
 * (prm_layout.c) and its head on the host (prm_formats.c). The full scorer (rm.c
 * rlc_prm_score) and the search's incremental PRM cache (tts/prm_cache.c) both use them:
 * layout, final hidden states at the rows, rlc_prm_row_score. */
#pragma once
#include <stddef.h>

#include "rewards/rm.h"

/* Qwen2.5-Math-PRM's step separator (a special token of its tokenizer). */
#define RLC_QWEN_PRM_SEP "<extra_0>"

/* After the model is loaded: the format's head (host copies) and tokenizer. */
int rlc_prm_open_head(rlc_prm_t *p);
/* A step's score in [0, 1] from the final hidden state h[hidden] of its row. */
float rlc_prm_row_score(const rlc_prm_t *p, const float *h);
/* The PRM's token ids for prompt + completion (the completion decoded with the policy's
 * tokenizer for the formats with their own tokenizer) and the step rows: *ids[*n] and
 * *rows[*ns], malloc'd (NULL and 0 when the completion has no step). */
int rlc_prm_layout(const rlc_prm_t *p, const tok_t *policy_tok, const char *question, const int32_t *prompt, int plen,
                   const int32_t *comp, int clen, int32_t **ids, int *n, int32_t **rows, int *ns);
/* The steps a format scores: "\n\n"-separated paragraphs (rlc_split_steps) for every format
 * but skywork, whose steps are the non-blank lines. Same contract as rlc_split_steps. */
int rlc_prm_steps(int format, const char *text, size_t len, size_t *starts, size_t *ends, int cap);
