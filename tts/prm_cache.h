/* Incremental PRM scoring for the search: a generic PRM (a 1-label score head reading the
 * policy's token ids, rewards/rm.h) runs on its own rollout engine with score-only requests,
 * so each scored beam keeps its PRM sequence in a paged KV cache, and a beam that extends a
 * scored one forks it and computes only its new tokens (plus the last shared one). A step's
 * score (sigmoid of the head at the token completing it) depends only on the tokens up to
 * there, so the scores of the parent's steps are reused; a step that ends inside the parent's
 * tokens at a position the parent did not score (a step end moved by the new text) makes the
 * child score from the prompt instead (correct, just not incremental). The scores equal
 * rlc_prm_score's within float rounding (the engine's row-invariant kernels vs the training
 * forward).
 * Owns: the PRM's engine, its requests (one per live handle) and one anchor per problem. */
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

/* prm: an open generic PRM (its model is shared, not owned). */
int tts_prm_cache_create(tts_prm_cache_t **out, rlc_prm_t *prm, const tok_t *policy_tok, int n_problems,
                         const int32_t *const *prompts, const int *plen, const gen_engine_cfg_t *ecfg);
void tts_prm_cache_free(tts_prm_cache_t *c);
/* Score n items in one engine run. */
int tts_prm_cache_score(tts_prm_cache_t *c, tts_prm_item_t *items, int n, rlc_step_agg_t agg);
void tts_prm_cache_retain(tts_prm_cache_t *c, int handle);
void tts_prm_cache_release(tts_prm_cache_t *c, int handle);
/* Live handles (tests: nothing leaks). */
int tts_prm_cache_live(const tts_prm_cache_t *c);
