/* The RL training loop (`rlc train`): prompts → G completions each (the rollout engine,
 * same weights) → rewards → group filters with refill → advantages → clipped-surrogate
 * updates over micro-batches with global loss aggregation → AdamW → metrics, samples,
 * checkpoints; exact resume and checkpoint-on-signal. The supervised phase is rl/sft.h.
 * Owns nothing beyond a call. */
#pragma once
#include "dist/dist.h"
#include "rl/config.h"
#include "rl/metrics.h"

typedef void (*rl_step_cb)(void *user, const rl_step_metrics_t *m);

typedef struct {
    int resume;        /* continue cfg->run_dir from its newest complete checkpoint */
    int overwrite;     /* a fresh run may replace an earlier run in cfg->run_dir (rl/rundir.h) */
    /* With resume: the keys the command line changed from the run's saved config ({key:
     * value}; borrowed, may be NULL), recorded in RUN/config_history.jsonl. */
    const struct cJSON *overrides;
    int quiet;         /* no step lines on stdout */
    rl_step_cb on_step; /* called after each step (may be NULL) */
    void *user;
    /* No held-out evaluation at step 0 (the caller has it already: eval_before stays NaN). */
    int skip_eval_before;
    /* Held-out evaluation results of the last evaluation (filled when cfg->eval_data is set):
     * pass@1 before training (step 0) and after the last step. */
    double eval_before, eval_after;
    double eval_calls_before, eval_calls_after; /* held-out tool calls per sample (with tools) */
    double eval_tokens_before, eval_tokens_after; /* held-out completion tokens per sample */
    /* Data parallel: this rank's communicator (borrowed; NULL = one process). Every rank of
     * the communicator calls rl_train with the same configuration. */
    dist_comm_t *comm;
} rl_run_opts_t;

/* Returns 0, RLC_EINTR when stopped by SIGINT/SIGTERM (a checkpoint was written), or an
 * error with its message set. With several ranks every rank returns the same code (an error
 * on one is every rank's, "rank r: message"), and only rank 0 writes the run directory. */
int rl_train(const rl_config_t *cfg, rl_run_opts_t *o);
