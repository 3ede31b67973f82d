/* Checkpoints of a training run: RUN/checkpoints/step-000010/ holds an HF model directory
 * (config.json, model.safetensors, tokenizer files; a PPO critic in critic/) plus
 * trainer_state.safetensors (AdamW moments, fp32 master weights when the saved weights are
 * not fp32) and trainer_state.json (step, data cursor, RNG states, loop extras, and a
 * manifest of every file with its size and hash). A checkpoint is written into
 * step-N.tmp-<pid>/, fsynced, renamed into place, then `latest` is updated; old ones are
 * deleted only after that. Loading picks the newest directory that verifies. (The stop
 * signal the loops poll beside their checkpoints is rl/signal.h.) */
#pragma once
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/philox.h"
#include "model/model.h"
#include "model/optim.h"

#define RL_CKPT_MAX_RNG 8

typedef struct {
    long step;        /* optimizer steps completed */
    long data_epoch;  /* passes over the data so far */
    long data_cursor; /* next prompt index within the epoch's order */
    uint64_t seed;
    double lr;        /* lr used by the last step (informational: schedules are functions of step) */
    int n_rng;
    char rng_name[RL_CKPT_MAX_RNG][32];
    rlc_rng_t rng[RL_CKPT_MAX_RNG];
    /* Anything else the loop needs to continue exactly (saved verbatim). On save it is
     * borrowed; after rl_ckpt_load_state the state owns it (rl_train_state_free). */
    cJSON *extra;
} rl_train_state_t;

/* Register (or overwrite) a named RNG stream in the state. */
int rl_train_state_set_rng(rl_train_state_t *st, const char *name, const rlc_rng_t *r);
/* The saved stream of that name, or NULL. */
const rlc_rng_t *rl_train_state_rng(const rl_train_state_t *st, const char *name);
void rl_train_state_free(rl_train_state_t *st);

typedef struct {
    const char *name;   /* NULL or "" = the policy at the top of the directory; else a subdirectory ("critic") */
    rlc_model_t *model;
    rlc_optim_t *optim; /* NULL: no optimizer state for this model */
} rl_ckpt_model_t;

/* "RUN/checkpoints/step-000010" (malloc'd). */
char *rl_ckpt_path(const char *run_dir, long step);

/* Write the checkpoint of st->step. dtype: NULL/"" keeps each tensor's loaded dtype, or
 * "float32" / "bfloat16" / "float16". keep_last > 0 deletes all but the newest keep_last
 * complete checkpoints afterwards (never the new one). out_dir (may be NULL) receives the
 * final directory (malloc'd). An existing checkpoint of the same step is replaced.
 * A model whose src_dir (where tokenizer files are copied from) lies inside this run's
 * checkpoints is re-pointed to the new directory, so keep-last-K never strands it. */
int rl_ckpt_save(const char *run_dir, const rl_train_state_t *st, const rl_ckpt_model_t *models, int n_models,
                 const char *dtype, int keep_last, char **out_dir);

/* Check a checkpoint directory: trainer_state.json parses and every file of its manifest
 * exists with the recorded size; full != 0 also re-hashes the contents. */
int rl_ckpt_verify(const char *ckpt_dir, int full);

/* The newest complete checkpoint of a run (dirs named step-N that verify; .tmp-* and other
 * leftovers are ignored). Returns 0 with *dir (malloc'd) and *step, 1 when there is none,
 * 2 when there are checkpoints but none verifies, negative on error. */
int rl_ckpt_latest(const char *run_dir, int full, char **dir, long *step);

/* Before rank 0's rl_ckpt_save, every rank writes the state of each sharded optimizer among
 * models (rlc_optim_t.shards > 1) for that save to move into the checkpoint
 * (rl/ckpt_models.c; nothing to do without one). Not collective: agree on the result. */
int rl_ckpt_write_shards(const char *run_dir, long step, const rl_ckpt_model_t *models, int n_models);

/* Restore trainer state from a checkpoint directory. The caller has already loaded the
 * models from it (rlc_model_load(dir) for the policy, dir/critic for a critic) and created
 * their optimizers; this restores AdamW moments and step, and the fp32 master weights where
 * they were saved. *st is overwritten (free it with rl_train_state_free). */
int rl_ckpt_load_state(const char *ckpt_dir, rl_train_state_t *st, const rl_ckpt_model_t *models, int n_models);
