/* PRM-guided search at test time (search-and-learn's beam search and DVTS), over a step
 * generator and a step scorer given as callbacks, so the selection logic is the same for
 * the engine (tts/search_engine.c) and for the scripted generator of the tests.
 *
 * A node is a partial solution (the prompt plus the steps generated so far); the callbacks
 * own nodes and name them by an int handle. TTS_ROOT(p) names problem p's bare prompt.
 *
 * Beam search (n beams, width M): iteration 0 samples n first steps of the prompt; each later
 * iteration duplicates the active beams in order back up to n ((active * ⌈n/|active|⌉+1)[:n],
 * as search-and-learn does) and samples one step of each; the last iteration (max_iterations
 * - 1) samples to the end instead. Each new beam is scored (its text, plus `lookahead` greedy
 * steps when lookahead > 0 and it has not ended); a beam whose step ended at EOS or the length
 * limit, or was empty (no non-blank byte), is completed; among the others (optionally
 * without duplicate texts: the first of each text kept) the n/M best scores stay active
 * (ties: the earlier beam). Finals = the completed beams sorted by score, highest first
 * (stable: ties keep completion order), at most n.
 *
 * DVTS (n/M independent subtrees): each iteration expands M one-step candidates of every live
 * subtree (to the end on the last iteration), scores them (with lookahead), and keeps the
 * single best (ties: the first); a subtree stops when that step ended at EOS or the length
 * limit or was empty, or when its text contains "boxed{". Finals = the subtrees' last nodes in
 * subtree order, each with the score of its selection.
 *
 * Lookahead: a candidate that has not ended is continued `lookahead` steps at temperature 0
 * (stopping early at an end), scored as candidate + continuation, and the continuation is
 * released; its tokens count as generated. The last iteration uses no lookahead. */
#pragma once
#include <stddef.h>

#include "core/log.h"

#define TTS_ROOT(p) (-1 - (p))

typedef enum { TTS_END_STEP = 0, TTS_END_EOS, TTS_END_LENGTH } tts_end_t;
typedef enum { TTS_GEN_STEP = 0, TTS_GEN_TO_END, TTS_GEN_GREEDY_STEP } tts_gen_mode_t;
typedef enum { TTS_SEARCH_BEAM = 0, TTS_SEARCH_DVTS } tts_search_method_t;

typedef struct {
    int node;  /* the new node's handle */
    int end;   /* tts_end_t: how its last step ended */
    int empty; /* the last step had no non-blank byte */
    int boxed; /* the node's text so far contains "boxed{" */
    long tokens; /* tokens generated for the last step */
} tts_child_t;

typedef struct {
    void *user;
    /* For each parents[i], k continuations of one step (to the end with TTS_GEN_TO_END; at
     * temperature 0 with TTS_GEN_GREEDY_STEP) into out[i * k + j]. */
    int (*expand)(void *user, const int *parents, int n, int k, int mode, tts_child_t *out);
    /* The PRM aggregate (in [0, 1]) of each node's whole text; read[i] = tokens the PRM read. */
    int (*score)(void *user, const int *nodes, int n, float *agg, long *read);
    /* The node's completion text so far (valid until the node is released). */
    int (*text)(void *user, int node, const char **t, size_t *len);
    void (*release)(void *user, int node);
} tts_search_ops_t;

typedef struct {
    int method;         /* tts_search_method_t */
    int n;              /* beams (beam search) or n/M subtrees of M (DVTS); a multiple of width */
    int width;          /* M */
    int max_iterations; /* >= 1 */
    int lookahead;      /* greedy steps before scoring (>= 0) */
    int filter_duplicates;
    rlc_progress_t *progress; /* may be NULL: advanced once per iteration */
} tts_search_cfg_t;

typedef struct {
    int node;
    float score;
} tts_final_t;

typedef struct {
    tts_final_t *finals; /* malloc'd; their nodes are alive (the caller releases them) */
    int n_finals;
    long gen_tokens, prm_tokens; /* generated (lookahead included) and read by the PRM */
    int iterations;              /* iterations run */
} tts_search_out_t;

/* "beam" | "dvts". */
int tts_search_method_parse(const char *s, int *method);
const char *tts_search_method_name(int method);
int tts_search_cfg_check(const tts_search_cfg_t *c);
/* Run the search for problems 0..n_problems-1 in lockstep (one expand call per iteration for
 * all of them); out[n_problems]. On error every node made is released and out is empty. */
int tts_search_run(const tts_search_cfg_t *c, const tts_search_ops_t *ops, int n_problems, tts_search_out_t *out);
void tts_search_out_free(tts_search_out_t *out, int n_problems);
