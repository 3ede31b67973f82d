/* Incremental generic-PRM scoring through the engine's KV cache (see prm_cache.h). */
#include "tts/prm_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef struct {
    int req, problem, refs, n_tokens; /* n_tokens: prompt + completion */
    int n_pos;
    int32_t *pos; /* completion positions of the node's step ends (increasing) */
    float *score; /* their scores */
} pnode_t;

struct tts_prm_cache {
    rlc_prm_t *prm;
    const tok_t *tok;
    gen_engine_t *e;
    int P;
    const int32_t *const *prompts;
    const int *plen;
    int *anchor;
    pnode_t *nodes;
    int n_nodes, cap_nodes, live;
};

int tts_prm_cache_create(tts_prm_cache_t **out, rlc_prm_t *prm, const tok_t *policy_tok, int n_problems,
                         const int32_t *const *prompts, const int *plen, const gen_engine_cfg_t *ecfg) {
    *out = NULL;
    if (prm->format != RLC_PRM_GENERIC) return rlc_errc(RLC_EINVAL, "the PRM cache needs a generic PRM");
    tts_prm_cache_t *c = calloc(1, sizeof *c);
    if (!c) return RLC_ENOMEM;
    *c = (tts_prm_cache_t){.prm = prm, .tok = policy_tok, .P = n_problems, .prompts = prompts, .plen = plen};
    c->anchor = malloc(sizeof(int) * (size_t)(n_problems ? n_problems : 1));
    gen_engine_cfg_t ec = *ecfg;
    ec.step_out = RLC_STEP_OUT_SCORE; /* the score head, also on a causal LM that carries one */
    int rc = c->anchor ? gen_engine_create(&c->e, prm->m, NULL, &ec) : RLC_ENOMEM;
    for (int p = 0; p < n_problems && c->anchor; p++) c->anchor[p] = -1;
    if (rc) {
        tts_prm_cache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void tts_prm_cache_free(tts_prm_cache_t *c) {
    if (!c) return;
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].refs > 0) free(c->nodes[i].pos), free(c->nodes[i].score);
    gen_engine_free(c->e); /* releases every request */
    free(c->nodes), free(c->anchor);
    free(c);
}

int tts_prm_cache_live(const tts_prm_cache_t *c) { return c->live; }

void tts_prm_cache_retain(tts_prm_cache_t *c, int h) {
    if (h >= 0 && h < c->n_nodes && c->nodes[h].refs > 0) c->nodes[h].refs++;
}

void tts_prm_cache_release(tts_prm_cache_t *c, int h) {
    if (h < 0 || h >= c->n_nodes || c->nodes[h].refs <= 0 || --c->nodes[h].refs > 0) return;
    pnode_t *n = &c->nodes[h];
    gen_release(c->e, n->req);
    free(n->pos), free(n->score);
    n->pos = NULL, n->score = NULL;
    c->live--;
}

/* The completion positions of an item's step ends (the generic PRM's rule), malloc'd. */
static int step_positions(const tts_prm_cache_t *c, const tts_prm_item_t *it, int32_t **pos, int *ns) {
    size_t *tend = malloc(sizeof(size_t) * (size_t)(it->clen ? it->clen : 1)), tl = 0;
    char *text = NULL;
    int rc = tend ? rlc_token_text(c->tok, it->comp, it->clen, 0, &text, &tl, tend) : RLC_ENOMEM;
    int n = rc ? 0 : rlc_split_steps(text, tl, NULL, NULL, 0);
    size_t *ends = malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    int *tp = malloc(sizeof(int) * (size_t)(n ? n : 1));
    *pos = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!rc && (!ends || !tp || !*pos)) rc = RLC_ENOMEM;
    if (!rc && n) {
        rlc_split_steps(text, tl, NULL, ends, n);
        rlc_step_token_pos(tend, it->clen, ends, n, tp);
        for (int k = 0; k < n; k++) (*pos)[k] = tp[k] >= 0 ? tp[k] : it->clen - 1;
    }
    *ns = n;
    free(tend), free(text), free(ends), free(tp);
    if (rc) free(*pos), *pos = NULL;
    return rc;
}

/* Submit the anchors of the problems that lack one, and run them. */
static int ensure_anchors(tts_prm_cache_t *c, const tts_prm_item_t *items, int n) {
    gen_params_t gp;
    gen_params_default(&gp);
    gp.score_only = 1;
    int added = 0;
    for (int i = 0; i < n; i++) {
        int p = items[i].problem;
        if (p < 0 || p >= c->P) return rlc_errc(RLC_EINVAL, "PRM cache: no problem %d", p);
        if (c->anchor[p] >= 0) continue;
        int r = gen_submit(c->e, c->prompts[p], c->plen[p], &gp, NULL);
        if (r < 0) return rlc_err_ctx(r, "%s (it must share the policy's tokenizer)", c->prm->what);
        c->anchor[p] = r;
        added++;
    }
    return added ? gen_run(c->e, NULL) : 0;
}

static int new_node(tts_prm_cache_t *c) {
    if (c->n_nodes == c->cap_nodes) {
        int cap = c->cap_nodes ? 2 * c->cap_nodes : 256;
        pnode_t *p = realloc(c->nodes, sizeof *p * (size_t)cap);
        if (!p) return RLC_ENOMEM;
        c->nodes = p, c->cap_nodes = cap;
    }
    memset(&c->nodes[c->n_nodes], 0, sizeof c->nodes[0]);
    return c->n_nodes++;
}

/* Plan and submit one item: reuse the parent's scores of steps ending in its tokens, ask the
 * engine for the rest. need[k] = 1 when step k's score comes from the engine. */
static int submit_item(tts_prm_cache_t *c, tts_prm_item_t *it, pnode_t *nd, uint8_t *need) {
    int pl = c->plen[it->problem], n = pl + it->clen, k = 0;
    const pnode_t *par = it->parent >= 0 && it->parent < c->n_nodes && c->nodes[it->parent].refs > 0 &&
                                 c->nodes[it->parent].problem == it->problem && c->nodes[it->parent].n_tokens <= n
                             ? &c->nodes[it->parent]
                             : NULL;
    for (int s = 0; s < nd->n_pos && par; s++) { /* a step end inside the parent's tokens must be one it scored */
        if (pl + nd->pos[s] >= par->n_tokens) break;
        while (k < par->n_pos && par->pos[k] < nd->pos[s]) k++;
        if (k == par->n_pos || par->pos[k] != nd->pos[s]) par = NULL;
        else nd->score[s] = par->score[k];
    }
    int src = par ? par->req : c->anchor[it->problem], prefix = par ? par->n_tokens : pl;
    int32_t *want = malloc(sizeof(int32_t) * (size_t)(nd->n_pos ? nd->n_pos : 1));
    if (!want) return RLC_ENOMEM;
    int m = 0;
    for (int s = 0; s < nd->n_pos; s++) {
        need[s] = pl + nd->pos[s] >= prefix - 1;
        if (need[s]) want[m++] = pl + nd->pos[s];
    }
    gen_params_t gp;
    gen_params_default(&gp);
    gp.score_only = 1;
    gp.score_pos = want;
    gp.n_score_pos = m;
    int r = gen_fork(c->e, src, 0, prefix, it->comp + (prefix - pl), n - prefix, &gp, NULL);
    free(want);
    if (r < 0) return r;
    nd->req = r;
    it->read = n - prefix + 1;
    return 0;
}

int tts_prm_cache_score(tts_prm_cache_t *c, tts_prm_item_t *items, int n, rlc_step_agg_t agg) {
    if (n < 0) return rlc_errc(RLC_EINVAL, "PRM cache: bad item count");
    int rc = ensure_anchors(c, items, n), made = 0;
    uint8_t **need = calloc((size_t)n + 1, sizeof *need);
    if (!need) rc = RLC_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        int h = new_node(c);
        if (h < 0) {
            rc = h;
            break;
        }
        pnode_t *nd = &c->nodes[h];
        nd->req = -1;
        nd->problem = items[i].problem;
        nd->n_tokens = c->plen[items[i].problem] + items[i].clen;
        rc = step_positions(c, &items[i], &nd->pos, &nd->n_pos);
        if (!rc && !(nd->score = malloc(sizeof(float) * (size_t)(nd->n_pos ? nd->n_pos : 1)))) rc = RLC_ENOMEM;
        if (!rc && !(need[i] = malloc((size_t)(nd->n_pos ? nd->n_pos : 1)))) rc = RLC_ENOMEM;
        if (!rc) rc = submit_item(c, &items[i], nd, need[i]);
        nd->refs = 1; /* live (released below on error) */
        c->live++;
        items[i].handle = h;
        made++;
    }
    if (!rc) rc = gen_run(c->e, NULL);
    for (int i = 0; i < n && !rc; i++) {
        pnode_t *nd = &c->nodes[items[i].handle];
        const gen_output_t *o = gen_output(c->e, nd->req, 0);
        if (!o) rc = rlc_errc(RLC_EINVAL, "PRM cache: request %d did not finish", nd->req);
        for (int s = 0, q = 0; s < nd->n_pos && !rc; s++)
            if (need[i][s]) nd->score[s] = (float)(1.0 / (1.0 + exp(-(double)o->scores[q++])));
        if (!rc) items[i].agg = (float)rlc_step_aggregate(nd->score, nd->n_pos, agg);
    }
    for (int i = 0; i < n; i++) free(need[i]);
    free(need);
    if (rc)
        for (int i = 0; i < made; i++) {
            tts_prm_cache_release(c, items[i].handle);
            items[i].handle = -1;
        }
    return rc;
}
