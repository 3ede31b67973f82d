/* Training configuration: one struct holding every knob of `rlc train`, described by one
 * table (name, type, default, help) that drives defaults, JSON/YAML loading (unknown keys are
 * errors naming the key), command-line overrides, `--help`, validation and the resolved
 * config.json written into the run directory. Owns: the strings inside rl_config_t. */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "rl/keys.h"
#include "tools/tool.h"

typedef struct {
    /* algorithm */
    int algo;              /* rl_adv_kind_t: grpo | drgrpo | rloo | reinforce++ | ppo */
    long group_size;       /* G completions per prompt */
    long prompts_per_step; /* prompts per optimizer step (before filtering) */
    long micro_batch;      /* sequences per forward/backward (gradient accumulation unit) */
    long micro_tokens;     /* and at most this many tokens per forward/backward; 0 = no limit */
    long mini_batch;       /* sequences per optimizer update; 0 = the whole step batch */
    long ppo_epochs;       /* passes over the step's batch */
    int adv_std_sample;    /* GRPO std: 1 sample (n-1, verl), 0 population */
    double adv_eps;
    double clip_low, clip_high, dual_clip;
    double kl_coef;
    int kl_estimator; /* rl_kl_kind_t */
    double entropy_coef;
    int loss_agg; /* rl_agg_mode_t */
    /* filtering and shaping */
    int dynamic_sampling;
    int balanced_filter;
    double pass_low, pass_high;
    long max_gen_rounds; /* generation rounds per step when filters need refills */
    long overlong_buffer;  /* L_buf; 0 = no overlong shaping */
    long overlong_max_len; /* L_max; 0 = max_new_tokens */
    double overlong_penalty;
    int mask_truncated;
    /* PPO critic */
    double gamma, lam, value_clip, critic_lr;
    char *critic_model;
    /* optimizer and schedule */
    double lr;
    int lr_schedule; /* rl_lr_sched_t */
    long warmup_steps;
    double min_lr_ratio;
    double adam_beta1, adam_beta2, adam_eps, weight_decay, max_grad_norm;
    /* generation */
    long max_new_tokens, max_prompt_len, kv_cache_mb;
    double temperature, top_p;
    long top_k;
    /* tools (docs/tools.md) */
    char *tools;       /* "calculator,python,http"; "" = none */
    char *tool_format; /* code | hermes | tags | llama3 */
    long max_tool_calls, tool_max_output_bytes, tool_workers;
    double tool_timeout_s;
    char *tool_python, *tool_http_url;
    char *tool_python_mode; /* fork | exec */
    char *tool_python_preload; /* modules the fork servers import once */
    int tool_prompt;   /* describe the tools in every prompt */
    char *tool_prompt_in; /* problem (before the problem text) | template (the chat template's `tools`) */
    char *otc;         /* off | grpo | ppo: OTC tool-efficiency shaping */
    double otc_c;      /* smoothing constant c; 0 = max_tool_calls */
    double otc_alpha;
    /* MRT progress bonus (docs/rewards.md, "MRT") */
    double mrt_alpha;        /* 0 = off */
    long mrt_samples;        /* K answers per episode prefix */
    double mrt_temperature, mrt_top_p;
    long mrt_max_episodes, mrt_answer_tokens, mrt_gap, mrt_merge;
    char *mrt_markers;       /* "|"-separated reconsideration markers */
    char *mrt_termination;   /* forced-termination text; "" = the default for the answer format */
    double mrt_fraction;     /* share of samples that get the bonus */
    char *mrt_baseline;      /* group | termination */
    /* rollout/trainer agreement */
    char *behavior_logprobs; /* recompute | engine */
    char *is_correction;     /* none | tis | mis */
    char *is_level;          /* token | sequence */
    char *ratio_level;       /* token | sequence (GSPO) */
    double is_cap;
    int tensorboard;         /* TensorBoard event files under RUN/tensorboard/ */
    long zero_stage;         /* ZeRO: 0, 1 (AdamW state sharded), 2 (gradients sharded too) */
    int overlap_comm;        /* gradient exchange on a communication thread during backward */
    double reduce_bucket_mb; /* gradient exchange bucket size */
    int exact_on_policy;     /* training forward through the engine's kernels (bitwise equal log-probs) */
    /* OREAL (docs/training.md) */
    double oreal_rm_lr, oreal_pos_weight, oreal_neg_weight;
    int oreal_keep_pairs;
    long oreal_rm_warmup_steps;
    /* run */
    long total_steps;
    long seed;
    long save_every, keep_last;
    char *save_dtype; /* "" keeps the loaded dtype; float32 | bfloat16 | float16 */
    long log_samples;
    long eval_every;
    int recompute;
    int strict; /* bad data rows are fatal before any work (default: warned about and skipped) */
    char *device;
    long threads;
    char *dist; /* data-parallel transport: auto | none | mpi | nccl (dist/dist.h) */
    /* paths and names */
    char *model, *data, *run_dir, *ref_model, *template_name, *reward, *eval_data;
    char *chat_vars; /* JSON object of chat-template variables ("" = none) */
    char *chat_date; /* the day templates show ("" = the run's first day, filled in by rl_train) */
    unsigned char set_[RL_KEYS_MAX]; /* keys set other than by default (rl/keys.h) */
} rl_config_t;

/* The table, in --help order (and as a key table for rl/keys.h). */
const rl_config_key_t *rl_config_keys(int *n);
const rl_keytab_t *rl_config_table(void);
/* Index of a key ("clip_high", "clip-high" or "--clip-high"), -1 if unknown. */
int rl_config_find(const char *name);

/* Defaults from the table. rl_config_free releases the strings (safe on a zeroed struct). */
int rl_config_init(rl_config_t *cfg);
/* Defaults that depend on the algorithm, for the keys not set explicitly: oreal runs
 * kl_coef 0.01 with kl_estimator k3 (its reference). rl_train applies it to its own copy. */
void rl_config_algo_defaults(rl_config_t *cfg);
void rl_config_free(rl_config_t *cfg);

/* Set one key from text (flag value, YAML scalar). `origin` names where it came from for
 * the error ("--lr", "train.yaml:12"). Unknown key: error naming it, with a suggestion. */
int rl_config_set(rl_config_t *cfg, const char *key, const char *value, const char *origin);
/* The CLI entry: name "--clip-high" / "clip_high", value text. */
int rl_config_apply_flag(rl_config_t *cfg, const char *name, const char *value);
/* Current value as text (bools true/false, enums by name, floats %.17g trimmed). */
int rl_config_get(const rl_config_t *cfg, const char *key, char *buf, size_t cap);

/* Merge a JSON object (values typed or as strings). */
int rl_config_load_json(rl_config_t *cfg, const cJSON *obj, const char *what);
/* Merge a YAML document: a flat mapping of scalars (comments, quoting as usual). */
int rl_config_load_yaml(rl_config_t *cfg, const char *text, size_t len, const char *what);
/* By extension (.json / .yaml / .yml), else by content ('{' first means JSON). */
int rl_config_load_file(rl_config_t *cfg, const char *path);

/* Defaults, then the command-line grammar of rl_keys_apply_argv (`--config FILE` first,
 * then `--key value`, `--key=value`, bare boolean `--key`, `--no-key`). Arguments that are
 * not config keys are handed back in rest[] when rest != NULL, else they are an error. On
 * error cfg is left initialized (free it). */
int rl_config_from_argv(rl_config_t *cfg, int argc, char **argv, int *rest, int *n_rest);

/* Check every value before any compute; the message names the key and the rule. Paths
 * (model, data) are the caller's to check. */
int rl_config_validate(const rl_config_t *cfg);

/* The tool keys as the tools library takes them (tools/tool.h). */
rlc_tools_settings_t rl_config_tools(const rl_config_t *cfg);

/* Every key in table order with its resolved value (caller deletes). */
cJSON *rl_config_to_json(const rl_config_t *cfg);
/* Write the resolved config as pretty JSON, atomically. */
int rl_config_write(const rl_config_t *cfg, const char *path);
/* Sequences per step (prompts_per_step × group_size). */
long rl_config_batch_seqs(const rl_config_t *cfg);

/* `--help` text: sections, flags, types, defaults and one-line help. */
void rl_config_print_help(FILE *f);
