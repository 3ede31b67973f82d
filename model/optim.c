/* AdamW driver: one backend adamw call per run of parameters sharing a decay flag. */
#include "model/optim.h"

#include <math.h>
#include <stdlib.h>

#include "core/err.h"

int rlc_optim_create(rlc_optim_t **out, rlc_model_t *m, const rlc_adamw_cfg_t *cfg) {
    *out = NULL;
    if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
        !(cfg->eps > 0) || !(cfg->weight_decay >= 0))
        return rlc_errc(RLC_EINVAL, "AdamW: lr, betas in [0,1), eps > 0 and weight decay >= 0 are required");
    int rc = rlc_model_alloc_grads(m);
    if (rc) return rc;
    rlc_optim_t *o = rlc_calloc(1, sizeof *o);
    if (!o) return RLC_ENOMEM;
    rlc_backend_t *be = m->be;
    o->m = m;
    o->cfg = *cfg;
    /* One block for the optimizer state: both moments, then (where the backend stores bf16
     * parameters) the fp32 master weights, read from the checkpoint's own precision. */
    int master = be->esize[RLC_BUF_PARAM] != 4;
    o->mom = be->alloc(be, master ? "AdamW moments + fp32 master weights" : "AdamW moments",
                       (master ? 3 : 2) * m->n_params, RLC_BUF_F32);
    if (!o->mom) {
        rlc_optim_free(o);
        return RLC_ENOMEM;
    }
    o->var = o->mom + m->n_params;
    be->zero(be, o->mom, RLC_BUF_F32, 2 * m->n_params);
    if (master) {
        o->master = o->mom + 2 * m->n_params;
        if ((rc = rlc_model_params_f32(m, o->master))) {
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
    free(o);
}

double rlc_model_grad_norm(rlc_model_t *m) {
    if (!m->grads) return 0;
    double ss = 0;
    m->be->sumsq(m->be, &ss, m->grads, RLC_BUF_GRAD, m->n_params);
    return sqrt(ss);
}

int rlc_optim_step(rlc_optim_t *o, float lr, uint32_t seed, double *grad_norm) {
    rlc_model_t *m = o->m;
    rlc_backend_t *be = m->be;
    double norm = rlc_model_grad_norm(m);
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) return rlc_errc(RLC_ENONFINITE, "non-finite gradient (norm %g); update skipped", norm);
    float scale = 1.0f;
    if (o->cfg.max_grad_norm > 0 && norm > o->cfg.max_grad_norm) scale = (float)(o->cfg.max_grad_norm / (norm + 1e-6));
    o->step++;
    m->params_changed = 1;
    size_t ep = be->esize[RLC_BUF_PARAM], eg = be->esize[RLC_BUF_GRAD];
    /* Runs of consecutive tensors with the same decay flag become one call. */
    for (int i = 0; i < m->n_info;) {
        int j = i;
        size_t n = 0;
        while (j < m->n_info && m->info[j].decay == m->info[i].decay &&
               m->info[j].offset == m->info[i].offset + n) {
            n += m->info[j].numel;
            j++;
        }
        size_t off = m->info[i].offset;
        float wd = m->info[i].decay ? o->cfg.weight_decay : 0.0f;
        be->adamw(be, (char *)m->params + off * ep, o->master ? o->master + off : NULL, (char *)m->grads + off * eg,
                  o->mom + off, o->var + off, n, lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps, wd, o->step, scale,
                  seed + (uint32_t)i);
        i = j;
    }
    return be->check(be);
}

int rlc_optim_get_state(const rlc_optim_t *o, float *mom, float *var) {
    rlc_backend_t *be = o->m->be;
    int rc = be->download(be, mom, o->mom, RLC_BUF_F32, o->m->n_params);
    if (!rc) rc = be->download(be, var, o->var, RLC_BUF_F32, o->m->n_params);
    return rc;
}

int rlc_optim_set_state(rlc_optim_t *o, const float *mom, const float *var, int step) {
    rlc_backend_t *be = o->m->be;
    int rc = be->upload(be, o->mom, RLC_BUF_F32, mom, o->m->n_params);
    if (!rc) rc = be->upload(be, o->var, RLC_BUF_F32, var, o->m->n_params);
    if (!rc) o->step = step;
    return rc;
}
