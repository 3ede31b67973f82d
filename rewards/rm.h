/* Reward models as scorers, shared by training rewards and `rlc tts`.
 *  - Outcome reward model (ORM): a model with a 1-label score head; a completion's score is
 *    the head's value at its last token (prompt + completion read in one pass).
 *  - Process reward model (PRM): scores per reasoning step (steps.h: text split at "\n\n").
 *    generic: a 1-label score head; step k's score is sigmoid(head) at the token completing
 *    step k, all steps in one pass over prompt + completion (it shares the policy's
 *    tokenizer). math-shepherd: a language model with its own tokenizer reading
 *    "<question> <step 1> ки\n<step 2> ки\n..."; step k's score is P("+") / (P("+") + P("-"))
 *    of the next token after step k's tag. qwen (Qwen2.5-Math-PRM) and skywork (Skywork PRM):
 *    their own layouts and heads, see prm_formats.c.
 * `what` names the model in error messages (the flag or key it came from, e.g. "--prm").
 * Owns: the loaded model (and the PRM's tokenizer) until close. */
#pragma once
#include <stdint.h>

#include "model/model.h"
#include "tokenizer/tok.h"

typedef struct {
    rlc_model_t *m;
    const char *what; /* borrowed */
} rlc_orm_t;

int rlc_orm_open(rlc_orm_t *o, const char *what, const char *dir, rlc_backend_t *be);
void rlc_orm_close(rlc_orm_t *o);
/* The score of prompt + completion; *read (may be NULL) = tokens read. */
int rlc_orm_score(rlc_orm_t *o, const int32_t *prompt, int plen, const int32_t *comp, int clen, float *score,
                  long *read);

enum { RLC_PRM_GENERIC = 0, RLC_PRM_SHEPHERD = 1, RLC_PRM_QWEN = 2, RLC_PRM_SKYWORK = 3 };

typedef struct {
    rlc_model_t *m;
    tok_t *tok;           /* math-shepherd, qwen, skywork: the PRM's own tokenizer */
    int format;           /* RLC_PRM_* */
    int32_t plus, minus;  /* math-shepherd: the ids of "+" and "-" */
    int32_t sep;          /* qwen: the id of "<extra_0>" */
    /* The head, applied on the host to final hidden states (prm_formats.c): an optional
     * hidden layer w1 [C,C] b1 [C] with ReLU (qwen), then w2 [head_out, C] b2 [head_out];
     * head_out 1: sigmoid(w2·x + b2) (generic score head, skywork v_head); 2: softmax[1] =
     * sigmoid(l1 - l0) (qwen; math-shepherd with the LM head's rows of "-" and "+"). */
    float *w1, *b1, *w2, *b2, *act;
    int head_out;
    const char *dir, *what; /* borrowed */
} rlc_prm_t;

/* "generic" | "math-shepherd" | "qwen" (also "qwen-prm") | "skywork". */
int rlc_prm_format_parse(const char *s, int *fmt);
const char *rlc_prm_format_name(int fmt);
int rlc_prm_open(rlc_prm_t *p, const char *what, const char *dir, int format, rlc_backend_t *be);
void rlc_prm_close(rlc_prm_t *p);
/* Step scores (in [0, 1]) of one completion: *steps malloc'd with *n_steps entries (NULL and
 * 0 when the completion has no step); *read = tokens the PRM read. policy_tok decodes the
 * completion's tokens; question is the problem text (math-shepherd). */
int rlc_prm_score(rlc_prm_t *p, const tok_t *policy_tok, const char *question, const int32_t *prompt, int plen,
                  const int32_t *comp, int clen, float **steps, int *n_steps, long *read);

/* The text of token ids as the engine builds it (special tokens included when with_special,
 * else contributing nothing; ids outside the tokenizer's vocabulary contribute nothing) and,
 * per token, the byte offset just past it in ends[n]. text (malloc'd) and len may be NULL
 * when only the offsets are wanted. */
int rlc_token_text(const tok_t *tok, const int32_t *ids, int n, int with_special, char **text, size_t *len,
                   size_t *ends);
