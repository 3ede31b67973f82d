/* Shared by the demo's tasks (cmd_demo.c: arithmetic, and the driver; demo_tools.c: tool use
 * with and without OTC): the knobs, the reward curve, and the steps both tasks take. */
#pragma once
#include <stddef.h>

#include "rl/config.h"
#include "rl/loop.h"

/* The demo's knobs. */
typedef struct {
    const char *dir, *model, *data, *eval_data, *template_name, *ops, *task, *algo, *tool_format, *arch;
    long seed, threads, sft_steps, rl_steps, n_train, n_rl, n_eval, hidden, layers;
    long min_digits, max_digits, group, prompts;
    double sft_lr, rl_lr, temperature, column_frac, easy_frac;
    int quick;
} demo_opts_t;

typedef struct {
    double reward[4096];
    int n;
} curve_t;

/* rl_run_opts_t.on_step: the step's training accuracy into the curve (user = curve_t). */
void on_rl_step(void *user, const rl_step_metrics_t *m);
/* The curve as a line of block characters. */
void sparkline(const double *v, int n, char *out, size_t cap);
/* A tiny model directory with the demo tokenizer: arch qwen2 (the default), llama, gemma3 or
 * olmo2 (the same widths, each family's own layer structure). */
int write_model(const char *dir, long seed, int hidden, int layers, const char *arch);
/* Set a numeric key (the demo's values are all in range). */
int set_num(rl_config_t *cfg, const char *key, double v);
/* The warm start: SFT of the model at init on train (JSONL); *ckpt its checkpoint. */
int demo_sft(const demo_opts_t *d, const char *init, const char *train, const char *sft_run, char **ckpt);
/* "Compute 47 * 385." -> "47 * 385" */
void demo_expr_of(const char *problem, char *out, size_t cap);

/* A GRPO run of the tool and MRT demos and what it reports. */
typedef struct {
    double before, after, calls_before, calls_after, tokens_before, tokens_after, seconds;
    curve_t curve;
} demo_result_t;
/* GRPO from the warm start ckpt on rl, held-out checks on heldout, in DIR/<name>: the demo's
 * settings (raw template, no KL, clip-higher 0.28, 160 new tokens, ...), then the n_kv
 * key/value pairs kv (they win). With `start` (the result of an earlier run from the same
 * warm start, on the same seed and held-out set) the warm start is not evaluated again: its
 * before-figures are copied. */
int demo_grpo(const demo_opts_t *d, const char *ckpt, const char *rl, const char *heldout, const char *const (*kv)[2],
              int n_kv, const char *name, const demo_result_t *start, demo_result_t *res);
/* --task mrt: the whole demo (model, traces with re-checks, warm start, GRPO without and with MRT). */
int demo_mrt(const demo_opts_t *d, double t0);
/* --task tools: the whole demo (model, traces, warm start, GRPO without and with OTC). */
int demo_tools(const demo_opts_t *d, double t0);
