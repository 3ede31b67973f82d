/* PyTorch checkpoints (pytorch_model.bin, torch.save's zip format since PyTorch 1.6): the
 * zip's stored entries and a restricted unpickler for data.pkl that builds tensors and
 * nothing else — no code runs: the only callables it knows are OrderedDict and torch's
 * tensor/parameter rebuild functions, anything else is an error naming it. Tensors come out
 * as safetensors.h's rlc_st_tensor_t with data pointers into the caller's buffer (the
 * storages are stored uncompressed), so a .bin reads like a .safetensors file. */
#pragma once
#include <stddef.h>

#include "core/safetensors.h"

/* Parse one torch.save zip image held in memory (a state dict of name -> tensor). On
 * success *out (sorted by name; names malloc'd, the array too) and *n_out. Every offset,
 * size, stride and dtype is checked; big-endian files, legacy (pre-1.6) files, compressed or
 * encrypted entries, non-contiguous tensors, objects other than tensors and a name given twice
 * are clear errors. */
int rlc_torch_parse(const void *buf, size_t size, const char *what, rlc_st_tensor_t **out, int *n_out);
