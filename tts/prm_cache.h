/* Incremental PRM scoring for the search: the PRM (any format: rewards/prm_formats.h) runs on
 * its own rollout engine with score-only requests returning final hidden states, so each
 * scored beam keeps its PRM input in a paged KV cache. A beam scored after one it extends
 * builds its PRM input (the format's layout), forks the parent's sequence at their common
 * token prefix and computes only the rest; a step's score depends only on the tokens up to
 * its row, so the parent's scores of rows inside the shared prefix are reused (a row there
 * the parent did not score moves the fork point before it). A beam without a scored parent
 * forks the problem's first scored input (the prompt, for a generic PRM). The scores equal
 * rlc_prm_score's within float rounding (the engine's row-invariant kernels vs the training
 * forward). Owns: the PRM's engine, its requests (one per live handle) and one root per
 * problem. */
#pragma once
#include <stdint.h>

#include "gen/engine.h"
#include "rewards/rm.h"
#include "rewards/steps.h"

typedef struct tts_prm_cache tts_prm_cache_t;

typedef struct {
    int parent;          /* a live handle whose tokens are a prefix of this item's, or -1 */
    int problem;
    const int32_t *comp; /* the completion's policy token ids */
    int clen;
    float agg;   /* out: the aggregate of the step scores (0 without a step) */
    long read;   /* out: tokens the PRM computed for it */
    int handle;  /* out: the item's handle (release it) */
} tts_prm_item_t;

/* prm: an open PRM (shared, not owned); questions: the problems' text (formats with their own
 * layout; may be NULL for generic). */
int tts_prm_cache_create(tts_prm_cache_t **out, rlc_prm_t *prm, const tok_t *policy_tok, int n_problems,
                         const int32_t *const *prompts, const int *plen, const char *const *questions,
                         const gen_engine_cfg_t *ecfg);
void tts_prm_cache_free(tts_prm_cache_t *c);
/* Score n items in one engine run. */
int tts_prm_cache_score(tts_prm_cache_t *c, tts_prm_item_t *items, int n, rlc_step_agg_t agg);
void tts_prm_cache_retain(tts_prm_cache_t *c, int handle);
void tts_prm_cache_release(tts_prm_cache_t *c, int handle);
/* Live handles besides the problems' roots (tests: nothing leaks). */
int tts_prm_cache_live(const tts_prm_cache_t *c);
