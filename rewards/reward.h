/* The reward interface: a reward scores a batch of finished rollouts (a read-only view, so
 * rewards/ does not depend on gen/) into per-sequence rewards, optional per-token rewards and
 * named metrics. Rewards are created by name from a JSON config and combined with weights.
 * Owns: reward objects and the metrics accumulator. */
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Why a completion ended. */
typedef enum {
    RLC_FINISH_STOP = 0,   /* EOS or a stop string */
    RLC_FINISH_LENGTH = 1, /* hit max_new_tokens (truncated) */
    RLC_FINISH_TOOL = 2,   /* paused on a tool call that was not resumed */
    RLC_FINISH_ABORT = 3,
} rlc_finish_t;

/* One finished rollout as a reward sees it. Everything is borrowed from the caller. */
typedef struct {
    const char *prompt;        /* the rendered prompt text */
    const char *completion;    /* the completion text (tool outputs included) */
    const int32_t *tokens;     /* completion token ids (may be NULL when n_tokens == 0) */
    int n_tokens;
    const uint8_t *trainable;  /* per completion token: 1 = sampled by the policy, 0 = tool output;
                                  NULL means all trainable */
    int finish;                /* rlc_finish_t */
    int n_tool_calls;
    int group;                 /* prompt index: the G samples of one prompt share it */
    const cJSON *meta;         /* the item's metadata: "answer", "subject", "level", task fields */
} rlc_rollout_t;

/* Sampling hook for rewards that need more generations (self-verification, a judge with the
 * policy): n_prompts prompt texts (rendered: special tokens as text, no BOS added), k samples
 * each, texts malloc'd into out[i*k + j] (caller frees each; all NULL on error), seeded by
 * `seed` (the same seed gives the same samples). Training sets it to the rollout engine's
 * (rl/mrt.c, rl_reward_sample); NULL when unavailable. */
typedef int (*rlc_reward_sample_fn)(void *engine, const char *const *prompts, int n_prompts, int k,
                                    double temperature, int max_new_tokens, uint64_t seed, char **out);

/* What a reward may reach beyond the rollouts. All pointers are opaque here and may be NULL;
 * a reward that needs one fails with a clear message when it is missing. */
typedef struct {
    void *tokenizer;            /* tok_t * */
    void *engine;               /* the rollout engine */
    rlc_reward_sample_fn sample; /* generation hook over `engine` */
    void *policy;               /* the policy model (token-level reward models) */
    void *user;                 /* anything a custom reward wants */
    long step;                  /* training step (schedules) */
    uint64_t seed;
} rlc_reward_ctx_t;

/* ---- named metrics: running means keyed by name, insertion-ordered ---- */
typedef struct {
    char name[48];
    double sum;
    long count;
} rlc_metric_t;

typedef struct {
    rlc_metric_t *m;
    int n, cap;
} rlc_metrics_t;

/* Add one observation to the mean named `name` (created on first use). */
int rlc_metrics_add(rlc_metrics_t *ms, const char *name, double value);
/* Mean of `name`; returns 0 and sets *out, or 1 when absent. */
int rlc_metrics_get(const rlc_metrics_t *ms, const char *name, double *out);
/* Merge b into a (sums and counts add). */
int rlc_metrics_merge(rlc_metrics_t *a, const rlc_metrics_t *b);
/* {"name": mean, ...} */
cJSON *rlc_metrics_json(const rlc_metrics_t *ms);
void rlc_metrics_clear(rlc_metrics_t *ms);
void rlc_metrics_free(rlc_metrics_t *ms);

/* ---- rewards ---- */
typedef struct rlc_reward rlc_reward_t;

/* score: fill out[i] for each rollout. tok_out (may be NULL: not wanted) holds one array per
 * rollout with r[i].n_tokens entries, zero-filled by the caller; a reward adds dense
 * per-token terms there (the sequence reward conceptually sits on the last token and is
 * not repeated). Metrics are added to `metrics` (may be NULL). Returns 0 or an error. */
typedef int (*rlc_reward_score_fn)(rlc_reward_t *self, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *r, int n,
                                   float *out, float *const *tok_out, rlc_metrics_t *metrics);

struct rlc_reward {
    const char *kind;  /* registry name: "math", "format", "countdown", "sum" */
    char name[64];     /* instance name (config "name", defaults to the kind) */
    double weight;     /* used by the combiner */
    void *state;
    rlc_reward_score_fn score;
    void (*destroy)(rlc_reward_t *self);
};

/* A registry entry: build the reward's state from its "options" object (NULL = defaults).
 * Unknown option keys must be rejected. */
typedef int (*rlc_reward_create_fn)(rlc_reward_t *r, const cJSON *options);

typedef struct {
    const char *kind;
    rlc_reward_create_fn create;
    const char *summary;
} rlc_reward_kind_t;

/* The built-in kinds (NULL-terminated). */
extern const rlc_reward_kind_t rlc_reward_kinds[];

/* Create from config. `cfg` is either one object {"name"|"kind", "weight", "options"} or an
 * array of them (combined as a weighted sum, each part's mean also logged as
 * "reward/<name>"). "kind" picks the registry entry and defaults to "name". Unknown keys
 * and unknown kinds are errors. */
int rlc_reward_create(const cJSON *cfg, rlc_reward_t **out);
/* Parse the JSON text of a config and create (convenience for flags like --reward). */
int rlc_reward_create_str(const char *json, rlc_reward_t **out);
void rlc_reward_free(rlc_reward_t *r);

/* Score with the reward (validates arguments, then calls r->score). */
int rlc_reward_score(rlc_reward_t *r, const rlc_reward_ctx_t *ctx, const rlc_rollout_t *ro, int n, float *out,
                     float *const *tok_out, rlc_metrics_t *metrics);
