/* The search's step callbacks (search.h) on the rollout engine and a PRM. A node is one
 * finished engine sequence; expanding it forks the engine from its whole token list, so the
 * children share its KV pages (only the last prefix token is recomputed), and a step stops
 * at the delimiter (kept in the text), EOS or the length limit. Each problem's prompt is run
 * once (an anchor request) and every first step forks from it. Scores are the PRM's step
 * scores of prompt + the node's completion, aggregated; with a PRM cache each scored node
 * keeps its PRM sequence and a descendant scores only its new tokens.
 * Owns: the nodes (their engine requests) until released, and the anchors until free. */
#pragma once
#include <stdint.h>

#include "gen/engine.h"
#include "rewards/rm.h"
#include "rewards/steps.h"
#include "tts/prm_cache.h"
#include "tts/search.h"

typedef struct {
    gen_engine_t *e;
    const tok_t *tok; /* the policy's */
    rlc_prm_t *prm;
    rlc_step_agg_t agg;
    int n_problems;
    const int32_t *const *prompts;
    const int *plen;
    const char *const *questions;
    gen_params_t sample;   /* temperature, top_p, top_k, max_new_tokens (per path), seed */
    const char *delimiter; /* "\n\n" by default */
    tts_prm_cache_t *prm_cache; /* incremental PRM scoring (may be NULL: full re-scoring) */
} tts_engine_cfg_t;

typedef struct tts_engine_ops tts_engine_ops_t;

int tts_engine_ops_create(tts_engine_ops_t **out, const tts_engine_cfg_t *cfg);
void tts_engine_ops_free(tts_engine_ops_t *o);
tts_search_ops_t tts_engine_ops(tts_engine_ops_t *o);
/* A node's completion token ids (valid until released). */
int tts_engine_node_tokens(tts_engine_ops_t *o, int node, const int32_t **ids, int *n);
/* Forks made so far, and nodes alive (for tests: page sharing and leaks). */
long tts_engine_forks(const tts_engine_ops_t *o);
int tts_engine_live_nodes(const tts_engine_ops_t *o);
