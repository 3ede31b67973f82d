/* `rlc tts`, shared by its two files: cmd_tts.c (options, the sampling sweep, reports) and
 * tts_search.c (PRM-guided beam search and DVTS over the same problems). */
#pragma once
#include "cli/common.h"
#include "data/encode.h"
#include "rewards/eval.h"
#include "rewards/rm.h"
#include "tts/search.h"
#include "tts/sweep.h"

/* Everything of one sweep. */
typedef struct {
    const char *model, *data, *out, *plot, *ns_str, *orm_dir, *prm_dir, *prm_format, *prm_agg;
    cli_sample_args_t sa;
    int *ns, n_ns, K, P, prm_fmt, extract_flags;
    rlc_step_agg_t agg;
    data_tpl_t tpl;
    math_opts_t mo;
    data_set_t ds;
    cli_model_t cm;
    rlc_orm_t orm;
    rlc_prm_t prm;
    gen_engine_t *e;
    int32_t **pids;
    int *plen, *reqs;
    const char **formats;
    tts_sample_t *tab;
    char *answers;
    tts_point_t *pts;
    float **psteps;
    int *pnsteps;
    char *orm_path, *prm_path; /* --orm / --prm resolved (a run or checkpoint pointer allowed) */
    /* methods: the sampling sweep (bon, majority, weighted) and the searches */
    const char *methods, *delimiter;
    char delim_buf[64];
    int do_sample, do_search[2], filter_dups, no_prm_cache;
    long beam_width, max_iter, lookahead;
    tts_search_point_t *spts;
    int n_spts;
    /* --compute-optimal: per-problem outcomes of every method at every N (tts/optimal.h) */
    int compute_optimal, co_m, co_search[2]; /* co_search[method]: its column, -1 none */
    const char *difficulty, *co_plot;
    long bins;
    const char *co_names[8];
    signed char *co_correct; /* [(m * n_ns + k) * P + p] */
    long *co_tokens;
} tts_run_t;

/* Beam search and DVTS (those chosen by --method) at every N of the sweep that is a multiple
 * of the beam width, into r->spts. */
int tts_run_searches(tts_run_t *r);

/* tts_optimal.c: the method columns and tables (after the prompts are known); the sampling
 * methods' per-problem outcomes (after scoring); a search's outcome for one problem; the
 * report parts (markdown appended to *md, "compute_optimal" added to summary when given,
 * the SVG for --co-plot). */
int tts_co_prepare(tts_run_t *r);
int tts_co_fill_sampling(tts_run_t *r);
void tts_co_record(tts_run_t *r, int method, int n, int p, int correct, long tokens);
int tts_co_report(tts_run_t *r, char **md, cJSON *summary, char **svg);

