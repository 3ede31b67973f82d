/* Compute-optimal test-time scaling (Snell et al. 2024, "Scaling LLM Test-Time Compute
 * Optimally..."): problems are binned by difficulty, and at every budget N the best method
 * of each bin is chosen; the compute-optimal curve (each bin answered by its best method)
 * is set against every fixed method. Pure functions over per-problem outcomes.
 *
 * Rules:
 *  - difficulty[p]: higher = easier (the pass rate of p's sampled solutions, or their mean
 *    PRM score when gold answers are absent). Problems are sorted by it, easiest first
 *    (ties: the lower index first), and cut into n_bins quantile bins of sizes as equal as
 *    possible (bin b holds ranks [b·P/B, (b+1)·P/B)); bin 0 is the easiest.
 *  - a method's accuracy in a bin at N = its correct problems / the bin's size; a method not
 *    run at N (correct = -1 for its problems) takes no part at that N;
 *  - the winner of a bin at N = the method with the highest accuracy there (ties: the method
 *    listed first); the compute-optimal accuracy at N = Σ_bins (correct of the bin's winner) / P,
 *    its tokens = Σ_bins tokens of the winner on the bin's problems.
 * The choice is made on the same problems it is scored on (in-sample, an upper bound of what
 * a choice fitted on other problems achieves); the report says so. */
#pragma once
#include <cjson/cJSON.h>

typedef struct {
    int n_methods, n_ns, n_problems, n_bins;
    const char *const *methods; /* names, n_methods */
    const int *ns;              /* budgets N, n_ns */
    const signed char *correct; /* [(m * n_ns + k) * P + p]: 1, 0, or -1 = not run */
    const long *tokens;         /* same layout: generated tokens for problem p */
    const double *difficulty;   /* [P] */
    const char *difficulty_name; /* "pass rate" or "mean PRM score" (reports) */
} tts_co_in_t;

typedef struct {
    int *bin_of;     /* [P] */
    int *bin_size;   /* [B] */
    double *bin_lo, *bin_hi; /* [B] difficulty range of each bin */
    double *acc;     /* [(m * n_ns + k) * B + b]; NAN when not run */
    int *winner;     /* [k * B + b]; -1 when no method ran */
    double *all_acc; /* [m * n_ns + k] over all problems; NAN when not run */
    double *all_tok; /* [m * n_ns + k] */
    double *opt_acc, *opt_tok; /* [k] */
} tts_co_out_t;

int tts_compute_optimal(const tts_co_in_t *in, tts_co_out_t *out);
void tts_co_out_free(tts_co_out_t *out);
/* {"bins": [{"size", "difficulty_min", "difficulty_max"}], "difficulty": name,
 *  "budgets": [{"n", "compute_optimal": {"accuracy", "tokens", "choice": [method per bin]},
 *               "methods": {name: {"accuracy", "tokens", "per_bin": [...]}}}], "in_sample": true} */
cJSON *tts_co_json(const tts_co_in_t *in, const tts_co_out_t *out);
/* Two markdown tables: accuracy per N (every method and the compute-optimal curve with its
 * choices), and the winner of every bin at every N. */
char *tts_co_markdown(const tts_co_in_t *in, const tts_co_out_t *out);
/* Accuracy vs generated tokens (log x), one curve per method and the compute-optimal one. */
char *tts_co_svg(const tts_co_in_t *in, const tts_co_out_t *out);
