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

/* Episodes of a reasoning trace (MRT, SPECS.md "MRT progress bonus"): the paragraphs of
 * rlc_split_steps; a new episode starts at a paragraph that begins (after blanks) with one of
 * the markers as a whole word ("Wait" matches "Wait," but not "Waiting"), unless it lies
 * within `gap` paragraphs of the previous cut (paragraph p cuts when p - previous > gap; the
 * first paragraph is the first cut). Then every `merge` consecutive episodes are merged
 * (<= 1: none), and more when needed so that at most max_episodes remain (<= 0: no bound).
 * ends[j] = offset past episode j's own text (its last paragraph, no separator); next[j] =
 * offset where episode j+1 begins (text length for the last), so text[0, next[j]) is the
 * prefix through episode j with its trailing separator. Returns the number of episodes (at
 * most cap written; 0 for a blank text) or RLC_ENOMEM. */
int rlc_split_episodes(const char *text, size_t len, const char *const *markers, int n_markers, int gap, int merge,
                       int max_episodes, size_t *ends, size_t *next, int cap);
