/* The supervised phase (`rlc sft`): loss on response tokens only, prompts rendered with the
 * template as in training, the tokenizer's EOS appended so the model learns to stop; the
 * same run directory, metrics, checkpoints, resume and data parallelism as `rlc train`.
 * Its options are a key table (rl/keys.h) like train's, sharing the definitions (and so the
 * defaults) of every key both commands take (rl/keydefs.h). Owns: the strings inside
 * rl_sft_opts_t (rl_sft_free). */
#pragma once
#include "dist/dist.h"
#include "rl/keys.h"
#include "rl/loop.h"

typedef struct {
    /* table keys (rl_sft_table) */
    char *model, *data, *run_dir;
    char *prompt_key, *response_key; /* JSONL fields; empty: messages, prompt/completion|response, problem/solution */
    char *template_name;             /* how prompts are rendered (as in training) */
    char *chat_family;               /* empty: detected from the tokenizer */
    long steps, epochs;              /* steps = 0: epochs over the data */
    long batch_size, micro_batch;    /* sequences per step / per forward-backward */
    long micro_tokens;               /* and at most this many tokens per forward-backward; 0 = no limit */
    long max_len;                    /* longer examples are truncated (logged) */
    int mask_tool_output;            /* no loss on tool outputs inside responses */
    char *tool_format;               /* code | hermes | tags | llama3: how those outputs are wrapped */
    double lr, min_lr_ratio, weight_decay, max_grad_norm;
    int lr_schedule;
    long warmup_steps;
    long seed, save_every, keep_last, zero_stage;
    int overlap_comm;
    double reduce_bucket_mb;
    char *device, *save_dtype, *dist;
    long threads;
    int strict; /* bad rows are fatal before any work (default: warned about and skipped) */
    /* run options (not keys) */
    int resume, quiet, overwrite; /* overwrite: a fresh run may replace an earlier one (rl/rundir.h) */
    rl_step_cb on_step;
    void *user;
    dist_comm_t *comm; /* as in rl_run_opts_t: NULL = one process */
} rl_sft_opts_t;

const rl_keytab_t *rl_sft_table(void);
/* Defaults from the table (the run options zeroed). */
int rl_sft_defaults(rl_sft_opts_t *o);
void rl_sft_free(rl_sft_opts_t *o);
/* One key from text (as rl_keys_set). */
int rl_sft_set(rl_sft_opts_t *o, const char *key, const char *value, const char *origin);
/* Every value checked before any compute; the message names the key and the rule. */
int rl_sft_validate(const rl_sft_opts_t *o);
int rl_sft(const rl_sft_opts_t *o);
