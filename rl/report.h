/* Run reports (`rlc report`): the curves of one or more runs' metrics.jsonl as SVG plots,
 * one per metric group (runs overlaid, optional moving-average smoothing, x = step, tokens
 * generated or wall time), and a report.md that embeds them beside each run's configuration
 * summary, final and best held-out pass@1, throughput, phase times and a few logged samples
 * (the best and worst reward of the first and the last logged step). Every file is written
 * atomically, after everything was computed. */
#pragma once

typedef struct {
    const char *x;   /* "step" (default), "tokens" or "time" */
    int smooth;      /* moving average over this many steps (1 = none) */
    const char *out; /* output directory; NULL = the first run's report/ */
} rl_report_opts_t;

/* *out_dir (malloc'd) receives the directory written. */
int rl_report(const char *const *runs, int n_runs, const rl_report_opts_t *o, char **out_dir);
