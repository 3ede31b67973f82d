/* The gradient exchange of data-parallel training (docs/distributed.md "Overlap" and "ZeRO"):
 * the model's backward reports each range of parameters whose gradients are final (model.h
 * grad_ready: the head and final norm, then each layer from the last, then the embedding),
 * and the exchange sends them in buckets as they come, on a communication thread while the
 * backward goes on (overlap) or inline.
 *
 *   stage 0/1  one flat gradient buffer; the last micro-batch's backward all-reduces each
 *              finished range (so the exchange overlaps the rest of that backward)
 *   stage 2    no flat buffer: each micro-batch's gradients are written into per-layer
 *              staging slots (head + norm, two layer slots in turn, then the embedding in
 *              the head's slot, or in its own when a tied head writes it), each finished
 *              slot is reduced to the owners of its parts (the global shards, dist_shard) and
 *              the owner adds its part into its gradient shard; a slot is zeroed and reused
 *              two layers later. Every rank runs as many exchange rounds as the rank with the
 *              most micro-batches (the others send zeros).
 *
 * Owns: the communication thread, the staging slots and the gradient shard. */
#pragma once
#include <stddef.h>

#include "dist/dist.h"
#include "model/model.h"

typedef struct rl_gradsync rl_gradsync_t;

typedef struct {
    int stage;           /* 0, 1 or 2 (2 stages the gradients per layer) */
    int overlap;         /* exchange on a communication thread during backward */
    size_t bucket;       /* elements per exchange at most (0: a whole range at a time) */
    size_t lo, hi;       /* this rank's shard of the parameters (stage 2: its gradient shard) */
} rl_gradsync_cfg_t;

/* Install the hooks on m (world > 1). Stage 2 replaces m's flat gradient buffer by the
 * staging slots and allocates the shard. */
int rl_gradsync_create(dist_comm_t *comm, rlc_model_t *m, const rl_gradsync_cfg_t *cfg, rl_gradsync_t **out);
/* Stops the thread, removes the hooks, frees what it allocated (NULL ok). */
void rl_gradsync_free(void *g);
/* Before an update's micro-batches: zero the gradients; n_micro = the backward passes this
 * rank will run (collective at stage 2: the rounds are agreed). */
int rl_gradsync_begin(rl_gradsync_t *g, int n_micro);
/* After the update's last backward (or a failure): send what is left, run the missing
 * rounds, wait for the exchange. Every rank calls it; rc is this rank's result so far.
 * Afterwards the sums are in the flat buffer (all of it at stage 0/1) or the shard. */
int rl_gradsync_finish(rl_gradsync_t *g, int rc);
/* Stage 2: the gradient shard (hi - lo elements of kind GRAD); else NULL. */
void *rl_gradsync_shard(const rl_gradsync_t *g);
