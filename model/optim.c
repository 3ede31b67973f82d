/* AdamW driver: one backend adamw call per run of parameters sharing a decay flag. */
#include "model/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int rlc_optim_create(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg) {
    return rlc_optim_create_shard(out, m, cfg, 0, m->n_params);
}

int rlc_optim_create_shard(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg, size_t lo, size_t hi) {
    *out = NULL;
    if (lo > hi || hi > m->n_params) return rlc_errc(RLC_EINVAL, "AdamW: shard [%zu, %zu) outside the parameters", lo, hi);
    if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
        !(cfg->eps > 0) || !(cfg->weight_decay >= 0))
        return rlc_errc(RLC_EINVAL, "AdamW: lr, betas in [0,1), eps > 0 and weight decay >= 0 are required");
    int rc = rlc_model_alloc_grads(m); /* (staged gradients: already there) */
    if (rc) return rc;
    rlc_optim_t *o = rlc_calloc(1, sizeof *o);
    if (!o) return RLC_ENOMEM;
    rlc_backend_t *be = m->be;
    o->m = m;
    o->cfg = *cfg;
    o->lo = lo, o->hi = hi;
    o->shards = 1;
    size_t S = hi - lo;
    /* One block for the optimizer state: both moments, then (where the backend stores bf16
     * parameters) the fp32 master weights, read from the checkpoint's own precision. */
    int master = be->esize[RLC_BUF_PARAM] != 4;
    o->mom = be->alloc(be, master ? "AdamW moments + fp32 master weights" : "AdamW moments",
                       (master ? 3 : 2) * (S ? S : 1), RLC_BUF_F32);
    if (!o->mom) {
        rlc_optim_free(o);
        return RLC_ENOMEM;
    }
    o->var = o->mom + S;
    be->zero(be, o->mom, RLC_BUF_F32, 2 * S);
    if (master) {
        o->master = o->mom + 2 * S;
        float *full = S == m->n_params ? o->master : be->alloc(be, "fp32 master weights (staging)", m->n_params, RLC_BUF_F32);
        rc = full ? rlc_model_params_f32(m, full) : RLC_ENOMEM;
        if (!rc && full != o->master) be->copy(be, o->master, full + lo, RLC_BUF_F32, S);
        if (full && full != o->master) be->free(be, full);
        if (rc) {
            rlc_optim_free(o);
            return rc;
        }
    }
    *out = o;
    return 0;
}

void rlc_optim_free(rlc_optim_t *o) {
    if (!o) return;
    rlc_backend_t *be = o->m->be;
    if (o->mom) be->free(be, o->mom); /* var and master live in the same block */
    if (o->sync && o->sync_free) o->sync_free(o->sync);
    free(o);
}

double rlc_model_grad_norm(rlc_model_t *m) {
    if (!m->grads) return 0;
    double ss = 0;
    m->be->sumsq(m->be, &ss, m->grads, RLC_BUF_GRAD, m->n_params);
    return sqrt(ss);
}

int rlc_optim_step(rlc_optim_t *o, float lr, uint32_t seed, double *grad_norm) {
    double norm = rlc_model_grad_norm(o->m);
    if (grad_norm) *grad_norm = norm;
    return rlc_optim_step_norm(o, lr, seed, norm);
}

int rlc_optim_step_norm(rlc_optim_t *o, float lr, uint32_t seed, double norm) {
    rlc_model_t *m = o->m;
    rlc_backend_t *be = m->be;
    if (!isfinite(norm)) return rlc_errc(RLC_ENONFINITE, "non-finite gradient (norm %g); update skipped", norm);
    float scale = 1.0f;
    if (o->cfg.max_grad_norm > 0 && norm > o->cfg.max_grad_norm) scale = (float)(o->cfg.max_grad_norm / (norm + 1e-6));
    o->step++;
    m->params_changed = 1;
    size_t ep = be->esize[RLC_BUF_PARAM], eg = be->esize[RLC_BUF_GRAD];
    /* Runs of consecutive tensors with the same decay flag become one call, cut to the shard. */
    for (int i = 0; i < m->n_info;) {
        int j = i;
        size_t n = 0;
        while (j < m->n_info && m->info[j].decay == m->info[i].decay &&
               m->info[j].offset == m->info[i].offset + n) {
            n += m->info[j].numel;
            j++;
        }
        size_t a = m->info[i].offset > o->lo ? m->info[i].offset : o->lo;
        size_t b = m->info[i].offset + n < o->hi ? m->info[i].offset + n : o->hi;
        float wd = m->info[i].decay ? o->cfg.weight_decay : 0.0f;
        if (a < b) {
            void *g = o->gshard ? (char *)o->gshard + (a - o->lo) * eg : (char *)m->grads + a * eg;
            be->adamw(be, (char *)m->params + a * ep, o->master ? o->master + (a - o->lo) : NULL, g, o->mom + (a - o->lo),
                      o->var + (a - o->lo), b - a, lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps, wd, o->step, scale,
                      seed + (uint32_t)i);
        }
        i = j;
    }
    return be->check(be);
}

int rlc_optim_sharded(const rlc_optim_t *o) { return o && (o->lo != 0 || o->hi != o->m->n_params); }

int rlc_optim_get_state(const rlc_optim_t *o, float *mom, float *var) {
    rlc_backend_t *be = o->m->be;
    size_t n = o->m->n_params;
    if (rlc_optim_sharded(o)) return rlc_errc(RLC_EINVAL, "a sharded optimizer state is saved per rank, not in full");
    int rc = be->download(be, mom, o->mom, RLC_BUF_F32, n);
    if (!rc) rc = be->download(be, var, o->var, RLC_BUF_F32, n);
    return rc;
}

int rlc_optim_set_state(rlc_optim_t *o, const float *mom, const float *var, int step) {
    rlc_backend_t *be = o->m->be;
    int rc = be->upload(be, o->mom, RLC_BUF_F32, mom + o->lo, o->hi - o->lo);
    if (!rc) rc = be->upload(be, o->var, RLC_BUF_F32, var + o->lo, o->hi - o->lo);
    if (!rc) o->step = step;
    return rc;
}

int rlc_optim_get_master(const rlc_optim_t *o, float *w) {
    if (!o->master) return rlc_errc(RLC_EINVAL, "the optimizer keeps no master weights");
    if (rlc_optim_sharded(o)) return rlc_errc(RLC_EINVAL, "sharded master weights are saved per rank, not in full");
    return o->m->be->download(o->m->be, w, o->master, RLC_BUF_F32, o->m->n_params);
}

int rlc_optim_set_master(rlc_optim_t *o, const float *w) {
    if (!o->master) return rlc_errc(RLC_EINVAL, "the optimizer keeps no master weights");
    return o->m->be->upload(o->m->be, o->master, RLC_BUF_F32, w + o->lo, o->hi - o->lo);
}
