/* Reasoning steps for process reward models: a completion's text split at "\n\n" into
 * steps, the token that completes each step, and the aggregation of per-step scores into
 * one (last, min, prod, mean). Pure functions; used by the PRM scorers (rm.h) in training
 * rewards and in `rlc tts`. */
#pragma once
#include <stddef.h>

/* Step aggregation of a PRM's per-step scores. */
typedef enum { RLC_STEP_AGG_LAST = 0, RLC_STEP_AGG_MIN, RLC_STEP_AGG_PROD, RLC_STEP_AGG_MEAN } rlc_step_agg_t;
/* "last" | "min" | "prod" | "mean"; anything else is an error naming the choices. */
int rlc_step_agg_from_name(const char *name, rlc_step_agg_t *agg);
const char *rlc_step_agg_name(rlc_step_agg_t agg);
/* The aggregate of n step scores: the last one, the minimum, the product or the mean.
 * A completion with no step (n = 0) scores 0. */
double rlc_step_aggregate(const float *scores, int n, rlc_step_agg_t agg);

/* Steps of a completion: text is split at every "\n\n" found scanning left to right
 * (non-overlapping); the pieces between separators (and the rest after the last one) are
 * the steps, except pieces made only of whitespace, which are dropped. ends[k] receives
 * the byte offset just past step k's own text (the separator is not part of the step);
 * starts (may be NULL) the offset of its first byte. Returns the number of steps (at most
 * cap are written; the count is exact either way). */
int rlc_split_steps(const char *text, size_t len, size_t *starts, size_t *ends, int cap);
/* For each byte offset ends[k] (increasing), the index of the first token whose text
 * completes it: the smallest t with tok_end[t] >= ends[k], where tok_end[t] is the byte
 * offset just past token t in the concatenated token texts (non-decreasing). pos[k] = -1
 * when no token reaches it (ends[k] > tok_end[n_tok - 1]). */
void rlc_step_token_pos(const size_t *tok_end, int n_tok, const size_t *ends, int n_ends, int *pos);
