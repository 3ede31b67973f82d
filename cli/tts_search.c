/* `rlc tts --method beam,dvts`: PRM-guided search (tts/search.h) on the rollout engine at
 * every N of the sweep that is a multiple of --beam-width; the final beams of each problem
 * are graded and picked by best score, PRM-weighted vote and majority. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/tts.h"
#include "core/err.h"
#include "core/log.h"
#include "tts/search_engine.h"

/* Grade the finals of one problem and add its picks to the point. */
static int grade_finals(tts_run_t *r, int p, const tts_search_out_t *o, tts_engine_ops_t *eo, tts_search_point_t *pt) {
    tts_co_record(r, r->co_search[pt->method], pt->n, p, 0, o->gen_tokens); /* no final: wrong */
    int n = o->n_finals, rc = 0;
    if (!n) return 0;
    tts_sample_t *s = calloc((size_t)n, sizeof *s);
    char *ans = calloc((size_t)n, MATH_MAX_ANSWER);
    int *cl = calloc((size_t)n, sizeof *cl);
    if (!s || !ans || !cl) rc = RLC_ENOMEM;
    int flags = r->extract_flags ? r->extract_flags : math_extract_flags_for_format(r->formats[p]);
    tts_search_ops_t ops = tts_engine_ops(eo);
    for (int i = 0; i < n && !rc; i++) {
        const char *t;
        size_t len;
        if ((rc = ops.text(ops.user, o->finals[i].node, &t, &len))) break;
        s[i].correct = rlc_grade_row(&r->ds.rows[p], t, flags, &r->mo, ans + (size_t)i * MATH_MAX_ANSWER,
                                     MATH_MAX_ANSWER);
        s[i].answer = ans + (size_t)i * MATH_MAX_ANSWER;
        s[i].prm = o->finals[i].score;
    }
    if (!rc) rc = tts_cluster(s, n, &r->mo, cl);
    if (!rc) {
        int b = tts_pick_best_col(s, n, TTS_COL_PRM), w = tts_pick_weighted_col(s, cl, n, TTS_COL_PRM);
        int m = tts_pick_majority(cl, n);
        pt->best += b >= 0 && s[b].correct;
        pt->weighted += w >= 0 && s[w].correct;
        pt->majority += m >= 0 && s[m].correct;
        tts_co_record(r, r->co_search[pt->method], pt->n, p, w >= 0 && s[w].correct, o->gen_tokens);
    }
    free(s), free(ans), free(cl);
    return rc;
}

/* One method at one N over every problem. */
static int run_one(tts_run_t *r, int method, int n, const char **qs, tts_search_point_t *pt) {
    tts_engine_cfg_t ec = {.e = r->e, .tok = r->cm.tok, .prm = &r->prm, .agg = r->agg, .n_problems = r->P,
                           .prompts = (const int32_t *const *)r->pids, .plen = r->plen, .questions = qs,
                           .delimiter = r->delimiter};
    gen_params_default(&ec.sample);
    ec.sample.temperature = (float)r->sa.temperature;
    ec.sample.top_p = (float)r->sa.top_p;
    ec.sample.top_k = (int)r->sa.top_k;
    ec.sample.max_new_tokens = (int)r->sa.max_new;
    ec.sample.seed = (uint64_t)r->sa.seed * 1000003ull + (uint64_t)n * 7919u + (uint64_t)method;
    tts_search_out_t *out = calloc((size_t)r->P, sizeof *out);
    tts_engine_ops_t *eo = NULL;
    tts_prm_cache_t *pc = NULL;
    int rc = out ? 0 : RLC_ENOMEM;
    if (!rc && !r->no_prm_cache) {
        gen_engine_cfg_t pcfg = cli_sample_engine_cfg(&r->sa);
        rc = tts_prm_cache_create(&pc, &r->prm, r->cm.tok, r->P, (const int32_t *const *)r->pids, r->plen, qs, &pcfg);
        ec.prm_cache = pc;
    }
    if (!rc) rc = tts_engine_ops_create(&eo, &ec);
    *pt = (tts_search_point_t){.method = method, .n = n};
    if (rc) {
        tts_prm_cache_free(pc);
        free(out);
        return rc;
    }
    rlc_progress_t pg;
    char label[48];
    snprintf(label, sizeof label, "%s N=%d", tts_search_method_name(method), n);
    rlc_progress_begin(&pg, label, r->max_iter);
    tts_search_cfg_t c = {.method = method, .n = n, .width = (int)r->beam_width, .max_iterations = (int)r->max_iter,
                          .lookahead = (int)r->lookahead, .filter_duplicates = r->filter_dups, .progress = &pg};
    tts_search_ops_t ops = tts_engine_ops(eo);
    rc = tts_search_run(&c, &ops, r->P, out);
    rlc_progress_end(&pg);
    for (int p = 0; p < r->P && !rc; p++) {
        rc = grade_finals(r, p, &out[p], eo, pt);
        if (rc) rlc_err_ctx(rc, "item %s", r->ds.rows[p].id);
        pt->tokens += out[p].gen_tokens;
        pt->prm_tokens += out[p].prm_tokens;
        pt->iterations += out[p].iterations;
    }
    double P = r->P ? r->P : 1;
    pt->best /= P, pt->weighted /= P, pt->majority /= P, pt->iterations /= P;
    pt->flops = 2.0 * (double)r->cm.m->n_params * (double)pt->tokens +
                2.0 * (double)r->prm.m->n_params * (double)pt->prm_tokens;
    for (int p = 0; p < r->P; p++)
        for (int i = 0; i < out[p].n_finals; i++) ops.release(ops.user, out[p].finals[i].node);
    tts_search_out_free(out, r->P);
    free(out);
    tts_engine_ops_free(eo);
    tts_prm_cache_free(pc);
    return rc;
}

int tts_run_searches(tts_run_t *r) {
    if (!r->do_search[0] && !r->do_search[1]) return 0;
    int usable = 0, rc = 0;
    for (int k = 0; k < r->n_ns; k++) usable += r->ns[k] % r->beam_width == 0;
    if (!usable)
        return rlc_errc(RLC_EINVAL, "beam search and DVTS need an N that is a multiple of --beam-width %ld (--n %s)",
                        r->beam_width, r->ns_str);
    if (usable < r->n_ns)
        LOG_WARN("beam search and DVTS skip the N of --n that are not multiples of --beam-width %ld", r->beam_width);
    const char **qs = calloc((size_t)r->P, sizeof *qs);
    r->spts = calloc((size_t)usable * 2, sizeof *r->spts);
    if (!qs || !r->spts) {
        free(qs);
        return RLC_ENOMEM;
    }
    for (int p = 0; p < r->P; p++) qs[p] = r->ds.rows[p].problem;
    LOG_INFO("PRM-guided search on %d problems (beam width %ld, up to %ld iterations, lookahead %ld)", r->P,
             r->beam_width, r->max_iter, r->lookahead);
    for (int m = 0; m < 2 && !rc; m++)
        for (int k = 0; k < r->n_ns && r->do_search[m] && !rc; k++)
            if (r->ns[k] % r->beam_width == 0) rc = run_one(r, m, r->ns[k], qs, &r->spts[r->n_spts++]);
    free(qs);
    return rc;
}
