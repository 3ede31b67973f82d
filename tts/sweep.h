/* Test-time-scaling sweep over N for sampling-based methods: from a table of per-sample
 * outcomes (N_max samples per problem: extracted answer, correctness, ORM score, tokens),
 * compute for every N of a sweep pass@N (unbiased estimator over the N_max samples),
 * majority vote over the first N samples, and with an outcome reward model best-of-N and
 * weighted majority, plus tokens and a FLOPs estimate. Pure functions (no model), used by
 * `rlc tts`. Rules:
 *  - answers are clustered in sample order: a sample joins the first cluster whose first
 *    member is math_equal to it, else opens a new one (the rule of math_majority, so maj@N
 *    agrees with `rlc eval`'s maj@K); NULL or "" answers abstain from votes;
 *  - majority: the largest cluster among the first N; ties go to the cluster seen first;
 *  - best-of-N: the sample with the highest score among the first N; ties go to the
 *    earliest sample (an abstaining sample may win: then the pick is wrong);
 *  - weighted majority: the cluster with the largest sum of sigmoid(score); ties go to the
 *    cluster seen first;
 *  - a pick is correct when its sample is (for votes: the cluster's first member);
 *  - with a process reward model the PRM aggregate (a value in [0, 1] per sample) is one
 *    more score column: PRM best-of-N = the highest aggregate among the first N (ties: the
 *    earliest sample); PRM weighted majority = the cluster with the largest sum of
 *    aggregates (no sigmoid: they are probabilities already; ties: the cluster seen first);
 *  - FLOPs = 2 * policy_params * generated tokens + 2 * orm_params * tokens read by the ORM
 *    + 2 * prm_params * tokens read by the PRM.
 * Steps (for PRMs): the completion's text split at "\n\n" (rewards/steps.h). */
#pragma once
#include <cjson/cJSON.h>

#include "rewards/math/math.h"
#include "rewards/steps.h"

typedef struct {
    const char *answer; /* extracted answer; NULL or "" abstains from votes */
    int correct;        /* 1 or 0 */
    float score;        /* ORM score (the head's value at the last token), when scored */
    long tokens;        /* generated tokens */
    long orm_tokens;    /* tokens the ORM read to score it (prompt + completion); 0 without */
    float prm;          /* PRM aggregate of the step scores, in [0, 1], when PRM-scored */
    long prm_tokens;    /* tokens the PRM read (one forward pass's worth); 0 without */
} tts_sample_t;

typedef struct {
    int n;                                  /* N */
    double pass, maj, best_of_n, weighted; /* fractions of problems; NAN for ORM methods without scores */
    double prm_best, prm_weighted;          /* PRM best-of-N and weighted majority; NAN without a PRM */
    long tokens, orm_tokens, prm_tokens;    /* over all problems, first N samples each */
    double flops;
} tts_point_t;

/* One point of a PRM-guided search (tts/search.h) at one N: the accuracy of the pick over
 * its final beams by best score, by PRM-weighted vote and by plain majority (the rules of
 * the picks above, over the finals in their order), tokens and FLOPs over all problems. */
typedef struct {
    int method; /* tts_search_method_t */
    int n;
    double best, weighted, majority;
    long tokens, prm_tokens; /* generated (lookahead included); read by the PRM */
    double flops;            /* 2 * policy_params * tokens + 2 * prm_params * prm_tokens */
    double iterations;       /* mean iterations per problem */
} tts_search_point_t;

typedef struct {
    int n_problems, n_max; /* n_max = 0: no sampling sweep (search methods only) */
    int scored; /* samples carry ORM scores */
    double policy_params, orm_params;
    int prm_scored; /* samples carry PRM aggregates */
    double prm_params;
    const char *prm_format, *prm_agg; /* names reported in the JSON (with a PRM) */
    const tts_search_point_t *search; /* search points, reported after the sweep's */
    int n_search;
} tts_sweep_cfg_t;

/* cluster[i] = index of the first member of sample i's cluster, or -1 when it abstains. */
int tts_cluster(const tts_sample_t *s, int n, const math_opts_t *o, int *cluster);
/* Picks among the first n samples (cluster from tts_cluster over at least n); -1: none. */
int tts_pick_majority(const int *cluster, int n);
int tts_pick_best(const tts_sample_t *s, int n);
int tts_pick_weighted(const tts_sample_t *s, const int *cluster, int n);
/* The same picks over a score column: TTS_COL_ORM (score; weights sigmoid(score)) or
 * TTS_COL_PRM (prm; weights prm). */
enum { TTS_COL_ORM = 0, TTS_COL_PRM = 1 };
int tts_pick_best_col(const tts_sample_t *s, int n, int col);
int tts_pick_weighted_col(const tts_sample_t *s, const int *cluster, int n, int col);

/* samples[p * n_max + i]: sample i of problem p. ns[k] in [1, n_max]. out[n_ns]. */
int tts_sweep(const tts_sweep_cfg_t *c, const tts_sample_t *samples, const int *ns, int n_ns, const math_opts_t *o,
              tts_point_t *out);
/* Reports: JSON {"problems", "n_max", "orm", "policy_params", "orm_params", "prm",
 * "prm_format", "prm_agg", "prm_params", "points": [...], "search": [...]},
 * a markdown table (and one for the search points), and an SVG plot of accuracy vs N per
 * method (malloc'd text). */
cJSON *tts_sweep_json(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts);
char *tts_sweep_markdown(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts);
char *tts_sweep_svg(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts);
/* "1,2,4,8": strictly increasing integers in [1, 4096]; *ns malloc'd. */
int tts_parse_ns(const char *s, int **ns, int *n);
