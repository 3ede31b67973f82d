/* AdamW over a model's parameter buffer: fp32 moments (and fp32 master weights where the
 * backend stores parameters in bf16), weight decay only on matrices, global grad-norm
 * clipping folded into the update. Owns: the optimizer state buffers. */
#pragma once
#include <stdint.h>

#include "model/model.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    float max_grad_norm; /* <= 0: no clipping */
} rlc_adamw_cfg_t;

typedef struct {
    rlc_model_t *m;
    rlc_adamw_cfg_t cfg;
    float *mom, *var, *master; /* device F32 over the shard [lo, hi), one block: mom | var | master */
    int step;
    /* ZeRO (rl/zero.c): the shard of the flat parameter vector this optimizer keeps state for
     * and updates; [0, n_params) when not sharded. zero_stage is the caller's (0, 1, 2). */
    size_t lo, hi;
    int zero_stage;
    int shards, shard_rank; /* ranks sharing the state and this one's index (1, 0 when not sharded) */
    /* The gradients of [lo, hi) when they live apart from m->grads (ZeRO stage 2: element i
     * is parameter lo + i); NULL: m->grads at the parameters' offsets. */
    void *gshard;
    /* The data-parallel gradient exchange attached to this optimizer (rl/gradsync.c), freed
     * with it; NULL with one process. */
    void *sync;
    void (*sync_free)(void *sync);
} rlc_optim_t;

int rlc_optim_create(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg);
/* An optimizer for the shard [lo, hi) of the parameter vector only (its state is hi - lo
 * floats per buffer). */
int rlc_optim_create_shard(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg, size_t lo, size_t hi);
/* 1 when the state covers only part of the parameters (a ZeRO shard); 0 for NULL. */
int rlc_optim_sharded(const rlc_optim_t *o);
void rlc_optim_free(rlc_optim_t *o);
/* Global L2 norm of the gradients (double accumulation). */
double rlc_model_grad_norm(rlc_model_t *m);
/* One update with learning rate lr. Clips by max_grad_norm when set; returns the pre-clip
 * gradient norm in *grad_norm (may be NULL). A non-finite norm skips the update and
 * returns RLC_EINVAL ("non-finite gradient"). seed keys stochastic rounding (GPU). */
int rlc_optim_step(rlc_optim_t *o, float lr, uint32_t seed, double *grad_norm);
/* The update of the optimizer's shard given the pre-clip global gradient norm (which a
 * sharded caller reduces across ranks); the gradients of [lo, hi) must be complete. */
int rlc_optim_step_norm(rlc_optim_t *o, float lr, uint32_t seed, double norm);
/* Optimizer state to/from host (for checkpoints), n_params floats each. get: an unsharded
 * optimizer only (a sharded one is saved per rank: rl/ckpt_shard.c). set: full arrays in,
 * the shard kept. */
int rlc_optim_get_state(const rlc_optim_t *o, float *mom, float *var);
int rlc_optim_set_state(rlc_optim_t *o, const float *mom, const float *var, int step);
/* The fp32 master weights, full size (o->master must exist; unsharded only). */
int rlc_optim_get_master(const rlc_optim_t *o, float *w);
/* Full-size fp32 weights in; the master of the shard set from them. */
int rlc_optim_set_master(rlc_optim_t *o, const float *w);
