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
    float *mom, *var, *master; /* device F32, parameter layout, one block: mom | var | master */
    int step;
} rlc_optim_t;

int rlc_optim_create(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg);
void rlc_optim_free(rlc_optim_t *o);
/* Global L2 norm of the gradients (double accumulation). */
double rlc_model_grad_norm(rlc_model_t *m);
/* One update with learning rate lr. Clips by max_grad_norm when set; returns the pre-clip
 * gradient norm in *grad_norm (may be NULL). A non-finite norm skips the update and
 * returns RLC_EINVAL ("non-finite gradient"). seed keys stochastic rounding (GPU). */
int rlc_optim_step(rlc_optim_t *o, float lr, uint32_t seed, double *grad_norm);
/* Optimizer state to/from host (for checkpoints): moments then master weights, n_params
 * floats each; `master` may be NULL when the backend keeps fp32 parameters. */
int rlc_optim_get_state(const rlc_optim_t *o, float *mom, float *var);
int rlc_optim_set_state(rlc_optim_t *o, const float *mom, const float *var, int step);
