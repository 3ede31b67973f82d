/* The RL training loop (`rlc train`): prompts → G completions each (the rollout engine,
 * same weights) → rewards → group filters with refill → advantages → clipped-surrogate
 * updates over micro-batches with global loss aggregation → AdamW → metrics, samples,
 * checkpoints; exact resume and checkpoint-on-signal. Also the supervised phase
 * (`rlc sft`), which shares the prompt rendering, run directory, optimizer schedule and
 * checkpoints. Owns nothing beyond a call. */
#pragma once
#include "dist/dist.h"
#include "rl/config.h"
#include "rl/metrics.h"

typedef void (*rl_step_cb)(void *user, const rl_step_metrics_t *m);

typedef struct {
    int resume;        /* continue cfg->run_dir from its newest complete checkpoint */
    int quiet;         /* no step lines on stdout */
    rl_step_cb on_step; /* called after each step (may be NULL) */
    void *user;
    /* Held-out evaluation results of the last evaluation (filled when cfg->eval_data is set):
     * pass@1 before training (step 0) and after the last step. */
    double eval_before, eval_after;
    /* Data parallel: this rank's communicator (borrowed; NULL = one process). Every rank of
     * the communicator calls rl_train with the same configuration. */
    dist_comm_t *comm;
} rl_run_opts_t;

/* Returns 0, RLC_EINTR when stopped by SIGINT/SIGTERM (a checkpoint was written), or an
 * error with its message set. With several ranks every rank returns the same code (an error
 * on one is every rank's, "rank r: message"), and only rank 0 writes the run directory. */
int rl_train(const rl_config_t *cfg, rl_run_opts_t *o);

typedef struct {
    const char *model, *data, *run_dir;
    const char *prompt_key, *response_key; /* JSONL fields (default: prompt/response, else problem/solution) */
    const char *template_name;             /* how prompts are rendered (as in training) */
    const char *chat_family;
    long steps, epochs;          /* steps = 0: epochs over the data */
    long batch_size, micro_batch; /* sequences per step / per forward-backward */
    long micro_tokens;            /* and at most this many tokens per forward-backward; 0 = no limit */
    long max_len;                /* longer examples are truncated (logged) */
    double lr, min_lr_ratio, weight_decay, max_grad_norm;
    int lr_schedule;
    long warmup_steps;
    long seed, save_every, keep_last;
    const char *device, *save_dtype;
    long threads;
    int resume, quiet;
    rl_step_cb on_step;
    void *user;
    dist_comm_t *comm; /* as in rl_run_opts_t: NULL = one process */
} rl_sft_opts_t;

void rl_sft_defaults(rl_sft_opts_t *o);
/* Loss on response tokens only (prompt rendered with the template; the tokenizer's EOS is
 * appended so the model learns to stop). */
int rl_sft(const rl_sft_opts_t *o);
