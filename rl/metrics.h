/* What a training run reports: metrics.jsonl (one JSON object per step), samples.jsonl
 * (a few prompts with completions and rewards per step), and the one-line human step log.
 * Lines are flushed and fsynced as written; on resume the files are cut back to the
 * checkpoint's step so a resumed run's files read like an uninterrupted one's. */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Append-only JSONL writer. Opening drops a torn last line left by a crash. */
typedef struct {
    FILE *f;
    char *path;
    int fsync_each; /* fsync after every line (default 1) */
} rl_jsonl_writer_t;

int rl_jsonl_writer_open(rl_jsonl_writer_t *w, const char *path);
/* One compact line, flushed (and fsynced when fsync_each). */
int rl_jsonl_writer_put(rl_jsonl_writer_t *w, const cJSON *obj);
void rl_jsonl_writer_close(rl_jsonl_writer_t *w);

/* Rewrite a JSONL file (atomically) keeping only lines whose "step" <= max_step; lines that
 * do not parse (a torn tail) are dropped. A missing file is fine. Returns lines dropped. */
int rl_jsonl_truncate_steps(const char *path, long max_step);

/* One step's metrics. Doubles left NaN (rl_step_metrics_init) are omitted from the JSON
 * line and from the step log. */
typedef struct {
    long step;
    double reward_mean, reward_std, acc;
    double kept_frac;      /* groups kept by the filters / groups generated */
    const long *pass_hist; /* n_hist = G+1 counts by number correct, or NULL */
    int n_hist;
    long gen_rounds;       /* generation rounds used this step (refills) */
    double loss, pg_loss, kl, entropy;
    double clip_frac, clip_frac_low, clip_frac_high, clip_frac_dual;
    double ratio_mean, ratio_max;
    /* the engine's log-probs of the sampled tokens vs the training forward's (d = train - engine) */
    double gap_mean, gap_max;  /* mean and max |d| per token */
    double gap_seq;            /* mean over sequences of |Σ_t d| */
    double gap_kl;             /* k3 estimate of KL(engine || trainer) per token */
    double is_frac;            /* share of tokens capped (TIS) or masked (MIS) */
    double value_loss, value_clip_frac; /* PPO critic */
    double grad_norm, lr;
    double resp_len_mean, resp_len_max, truncated_frac;
    long tokens_gen; /* tokens generated this step (rollout) */
    long tokens_train;
    double t_rollout, t_score, t_train, t_total;
    double tok_per_s; /* generated tokens per second of step time */
    cJSON *extra;     /* more fields appended to the JSON line (borrowed) */
} rl_step_metrics_t;

void rl_step_metrics_init(rl_step_metrics_t *m);
/* Fill loss, pg_loss (aggregated, averaged over the step's n_updates optimizer updates),
 * kl and entropy (token means), clip fractions and ratio stats (over trainable tokens) from
 * the loss statistics accumulated over every micro-batch of the step. */
struct rl_loss_stats;
void rl_step_metrics_add_loss(rl_step_metrics_t *m, const struct rl_loss_stats *st, int n_updates, int have_kl);
/* The JSON object of one step (caller deletes). Key order is fixed. */
cJSON *rl_step_metrics_json(const rl_step_metrics_t *m);
int rl_metrics_put(rl_jsonl_writer_t *w, const rl_step_metrics_t *m);

/* "step 12 | reward 0.41±0.22 | acc 0.38 | kl 0.0021 | ent 0.81 | clip 0.03 | gnorm 0.72 |
 * lr 1e-6 | 31.2 s | 812 tok/s" (NaN fields left out; kept fraction shown when < 1).
 * Returns the length written (truncated to cap). */
int rl_step_line(const rl_step_metrics_t *m, char *buf, size_t cap);

typedef struct {
    long step;
    long index; /* position in the step's batch (prompt g, sample i => g*G+i) */
    const char *prompt, *completion, *answer;
    double reward;
    int correct;   /* 1 / 0, or -1 unknown (omitted) */
    long n_tokens; /* completion tokens */
    int truncated;
    cJSON *extra; /* borrowed */
} rl_sample_t;

int rl_samples_put(rl_jsonl_writer_t *w, const rl_sample_t *s);
