/* ZeRO stages 1 and 2 on the data-parallel communicator (docs/distributed.md "ZeRO"):
 * the AdamW state (moments, fp32 master weights) of each rank covers only its shard of the
 * flat parameter vector (dist_shard); every rank updates its shard and the updated
 * parameters are all-gathered. Stage 1 all-reduces the gradients as stage 0 does; stage 2
 * reduce-scatters them (each rank receives the sum of its shard only) and takes the global
 * gradient norm for clipping from the shards' sums of squares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/step.h"

int rl_zero_optim_create(dist_comm_t *comm, int stage, rlc_model_t *m, const rlc_adamw_cfg_t *cfg, const char *what,
                         rlc_optim_t **out) {
    size_t lo = 0, hi = m->n_params;
    int sharded = stage > 0 && comm->world > 1;
    if (sharded) dist_shard(m->n_params, comm->rank, comm->world, &lo, &hi);
    int rc = rlc_optim_create_shard(out, m, cfg, lo, hi);
    if (rc) return rc;
    (*out)->zero_stage = sharded ? stage : 0;
    if (sharded)
        LOG_INFO("ZeRO stage %d: %s optimizer state for parameters [%zu, %zu) of %zu on this rank (1/%d)", stage, what,
                 lo, hi, m->n_params, comm->world);
    return 0;
}

int rl_reduce_and_step(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, int rc, float lr, uint32_t seed,
                       double *gnorm) {
    rc = dist_agree(comm, rc);
    if (rc) return rc;
    rlc_backend_t *be = m->be;
    int stage = opt->zero_stage;
    if (stage == 0) { /* every rank the full sum and the full update */
        rc = dist_allreduce_dev(comm, be, m->grads, RLC_BUF_GRAD, m->n_params);
        if (!rc) rc = rlc_optim_step(opt, lr, seed, gnorm);
        return dist_agree(comm, rc);
    }
    double norm = 0;
    if (stage == 1) {
        rc = dist_allreduce_dev(comm, be, m->grads, RLC_BUF_GRAD, m->n_params);
        if (!rc) norm = rlc_model_grad_norm(m);
    } else { /* stage 2: this rank's shard of the sum; the norm from every shard's squares */
        rc = dist_reduce_scatter_dev(comm, be, m->grads, RLC_BUF_GRAD, m->n_params);
        double ss = 0;
        if (!rc) be->sumsq(be, &ss, (char *)m->grads + opt->lo * be->esize[RLC_BUF_GRAD], RLC_BUF_GRAD, opt->hi - opt->lo);
        rc = dist_agree(comm, rc);
        if (!rc) rc = dist_allreduce_f64(comm, &ss, 1, DIST_SUM);
        norm = sqrt(ss);
    }
    if (gnorm) *gnorm = norm;
    if (!rc) rc = rlc_optim_step_norm(opt, lr, seed, norm); /* the same norm everywhere: the same verdict */
    rc = dist_agree(comm, rc);
    if (!rc) rc = dist_allgather_dev(comm, be, m->params, RLC_BUF_PARAM, m->n_params);
    return dist_agree(comm, rc);
}

/* One optimizer buffer's shards into a full host array on every rank (returned malloc'd). */
static int gather_buffer(dist_comm_t *comm, rlc_optim_t *o, const float *dev, float **full) {
    rlc_backend_t *be = o->m->be;
    size_t S = o->hi - o->lo, *lens = calloc((size_t)comm->world, sizeof *lens);
    float *mine = malloc((S ? S : 1) * sizeof *mine);
    char *all = NULL;
    int rc = lens && mine ? be->download(be, mine, dev, RLC_BUF_F32, S) : RLC_ENOMEM;
    rc = dist_agree(comm, rc);
    if (!rc) rc = dist_allgatherv(comm, mine, S * sizeof *mine, &all, lens);
    size_t tot = 0;
    for (int r = 0; r < comm->world && !rc; r++) tot += lens[r];
    if (!rc && tot != o->m->n_params * sizeof(float))
        rc = rlc_errc(RLC_EINVAL, "ZeRO: the gathered optimizer state has %zu bytes, not %zu", tot,
                      o->m->n_params * sizeof(float));
    free(lens), free(mine);
    if (rc) {
        free(all);
        return rc;
    }
    *full = (float *)all;
    return 0;
}

int rl_zero_gather(dist_comm_t *comm, rlc_optim_t *o) {
    if (!o || !o->zero_stage) return 0;
    rl_zero_gather_free(o);
    int rc = gather_buffer(comm, o, o->mom, &o->full_mom);
    if (!rc) rc = gather_buffer(comm, o, o->var, &o->full_var);
    if (!rc && o->master) rc = gather_buffer(comm, o, o->master, &o->full_master);
    if (rc || comm->rank != 0) rl_zero_gather_free(o); /* only rank 0 writes checkpoints */
    return rc;
}

void rl_zero_gather_free(rlc_optim_t *o) {
    if (!o) return;
    free(o->full_mom), free(o->full_var), free(o->full_master);
    o->full_mom = o->full_var = o->full_master = NULL;
}
