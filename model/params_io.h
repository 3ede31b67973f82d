/* Checkpoint reading shared by the loader (params.c) and the saver (save.c). */
#pragma once
#include "core/safetensors.h"
#include "model/model.h"

/* Open dir's weights under the table's names: a multimodal checkpoint's language model renamed,
 * stacked experts split into per-expert views (*fused: any were stacked; may be NULL). */
int rlc_params_open_weights(const rlc_model_t *m, const char *dir, rlc_st_t *st, int *fused);
/* Tensor p of an open set as fp32 in buf (p->numel floats; FP8 dequantized), checked for shape
 * and finite values; *found receives the file's tensor. */
int rlc_params_read_tensor(const rlc_model_t *m, const rlc_st_t *st, const char *dir, const rlc_param_info_t *p,
                           float *buf, const rlc_st_tensor_t **found);
