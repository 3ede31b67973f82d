/* ZeRO stages 1 and 2 on the data-parallel communicator (docs/distributed.md "ZeRO"):
 * the AdamW state (moments, fp32 master weights) of each rank covers only its shard of the
 * flat parameter vector (dist_shard); every rank updates its shard and the updated
 * parameters are all-gathered. The gradient exchange (rl/gradsync.c) all-reduces the
 * gradients at stages 0 and 1; at stage 2 it reduces them per layer to the owners of the
 * shards (each rank keeps only its shard's sum), and the global gradient norm for clipping
 * comes from the shards' sums of squares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/gradsync.h"
#include "rl/step.h"

int rl_zero_optim_create(dist_comm_t *comm, const rl_zero_cfg_t *z, rlc_model_t *m, const rlc_adamw_cfg_t *cfg,
                         const char *what, rlc_optim_t **out) {
    size_t lo = 0, hi = m->n_params;
    int sharded = z->stage > 0 && comm->world > 1;
    if (sharded) dist_shard(m->n_params, comm->rank, comm->world, &lo, &hi);
    rl_gradsync_t *gs = NULL;
    int rc = 0;
    if (comm->world > 1) {
        rl_gradsync_cfg_t gc = {.stage = sharded ? z->stage : 0, .overlap = z->overlap, .bucket = z->bucket,
                                .lo = lo, .hi = hi};
        rc = rl_gradsync_create(comm, m, &gc, &gs);
    }
    if (!rc) rc = rlc_optim_create_shard(out, m, cfg, lo, hi);
    if (rc) {
        rl_gradsync_free(gs);
        return rc;
    }
    (*out)->zero_stage = sharded ? z->stage : 0;
    (*out)->shards = sharded ? comm->world : 1;
    (*out)->shard_rank = sharded ? comm->rank : 0;
    (*out)->sync = gs;
    (*out)->sync_free = rl_gradsync_free;
    (*out)->gshard = rl_gradsync_shard(gs);
    if (sharded)
        LOG_INFO("ZeRO stage %d: %s optimizer state%s for parameters [%zu, %zu) of %zu on this rank (1/%d)", z->stage,
                 what, z->stage >= 2 ? " and gradients" : "", lo, hi, m->n_params, comm->world);
    return 0;
}

size_t rl_bucket_elems(double mb) { return (size_t)(mb * (1 << 20) / sizeof(float)); }

int rl_grad_begin(rlc_optim_t *opt, int n_micro) {
    if (opt->sync) return rl_gradsync_begin(opt->sync, n_micro);
    rlc_model_zero_grads(opt->m);
    return 0;
}

int rl_reduce_and_step(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, int rc, float lr, uint32_t seed,
                       double *gnorm) {
    /* the exchange first: every rank joins it whatever its own result (rl/gradsync.c) */
    if (opt->sync) rc = rl_gradsync_finish(opt->sync, rc);
    rc = dist_agree(comm, rc);
    if (rc) return rc;
    rlc_backend_t *be = m->be;
    int stage = opt->zero_stage;
    if (stage == 0) { /* every rank the full sum and the full update */
        rc = rlc_optim_step(opt, lr, seed, gnorm);
        return dist_agree(comm, rc);
    }
    double norm = 0;
    if (stage == 1) {
        norm = rlc_model_grad_norm(m);
    } else { /* stage 2: this rank's shard of the sum; the norm from every shard's squares */
        double ss = 0;
        be->sumsq(be, &ss, opt->gshard, RLC_BUF_GRAD, opt->hi - opt->lo);
        rc = dist_allreduce_f64(comm, &ss, 1, DIST_SUM);
        norm = sqrt(ss);
    }
    if (gnorm) *gnorm = norm;
    if (!rc) rc = rlc_optim_step_norm(opt, lr, seed, norm); /* the same norm everywhere: the same verdict */
    rc = dist_agree(comm, rc);
    if (!rc) rc = dist_allgather_dev(comm, be, m->params, RLC_BUF_PARAM, m->n_params);
    return dist_agree(comm, rc);
}
