/* Private to rl/ckpt*.c: what the checkpoint directory code (ckpt.c) and the models' state
 * code (ckpt_models.c) share. */
#pragma once
#include <cjson/cJSON.h>

#include "core/safetensors.h"
#include "rl/ckpt.h"

/* The tensors of trainer_state.safetensors being assembled, and their host buffers. */
typedef struct {
    rlc_st_wtensor_t t[4 * 8];
    char names[4 * 8][96];
    float *bufs[4 * 8];
    int n, nbuf;
} st_list_t;

/* "policy" for the top model, else its name. */
const char *rl_ckpt_model_key(const rl_ckpt_model_t *m);
/* A required integer of j ("what" names the file in errors). */
int rl_ckpt_get_long(const cJSON *j, const char *key, long *out, const char *what);
/* "RUN/checkpoints/step-N.shards": where the ranks stage their optimizer shards. */
char *rl_ckpt_shard_stage_dir(const char *run_dir, long step);
/* Save: each model's weights directory under tmp, its entry in jmodels, its optimizer state
 * into L (or its ranks' shard files moved in from stage_dir). */
int rl_ckpt_save_models(const char *tmp, const char *stage_dir, const rl_ckpt_model_t *models, int n_models,
                        const char *dtype, cJSON *jmodels, st_list_t *L);
/* Load: one model's optimizer state and master weights (its entry jm; sf is
 * trainer_state.safetensors). */
int rl_ckpt_load_model(const char *ckpt_dir, const char *what, const rlc_st_t *sf, const cJSON *jm,
                       const rl_ckpt_model_t *cm);
