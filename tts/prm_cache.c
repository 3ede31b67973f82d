/* Incremental PRM scoring through the engine's KV cache (see prm_cache.h). */
#include "tts/prm_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rewards/prm_formats.h"

typedef struct {
    int req, problem, refs;
    int32_t *ids; /* the PRM's input */
    int n;
    int32_t *rows; /* step rows (increasing) */
    float *score;  /* their scores */
    int n_rows;
} pnode_t;

struct tts_prm_cache {
    rlc_prm_t *prm;
    const tok_t *tok;
    gen_engine_t *e;
    int P;
    const int32_t *const *prompts;
    const int *plen;
    const char *const *questions;
    int *root; /* per problem: the first node scored (kept), a prefix source for the others */
    pnode_t *nodes;
    int n_nodes, cap_nodes, live;
};

int tts_prm_cache_create(tts_prm_cache_t **out, rlc_prm_t *prm, const tok_t *policy_tok, int n_problems,
                         const int32_t *const *prompts, const int *plen, const char *const *questions,
                         const gen_engine_cfg_t *ecfg) {
    *out = NULL;
    tts_prm_cache_t *c = calloc(1, sizeof *c);
    if (!c) return RLC_ENOMEM;
    *c = (tts_prm_cache_t){.prm = prm, .tok = policy_tok, .P = n_problems, .prompts = prompts, .plen = plen,
                           .questions = questions};
    c->root = malloc(sizeof(int) * (size_t)(n_problems ? n_problems : 1));
    gen_engine_cfg_t ec = *ecfg;
    ec.step_out = RLC_STEP_OUT_HIDDEN; /* every format's head runs on the host (rlc_prm_row_score) */
    int rc = c->root ? gen_engine_create(&c->e, prm->m, NULL, &ec) : RLC_ENOMEM;
    for (int p = 0; p < n_problems && c->root; p++) c->root[p] = -1;
    if (rc) {
        tts_prm_cache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void node_free(pnode_t *n) {
    free(n->ids), free(n->rows), free(n->score);
    n->ids = n->rows = NULL, n->score = NULL;
}

void tts_prm_cache_free(tts_prm_cache_t *c) {
    if (!c) return;
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].refs > 0) node_free(&c->nodes[i]);
    gen_engine_free(c->e); /* releases every request */
    free(c->nodes), free(c->root);
    free(c);
}

int tts_prm_cache_live(const tts_prm_cache_t *c) {
    int roots = 0;
    for (int p = 0; p < c->P; p++) roots += c->root[p] >= 0;
    return c->live - roots;
}

static int alive(const tts_prm_cache_t *c, int h) { return h >= 0 && h < c->n_nodes && c->nodes[h].refs > 0; }

void tts_prm_cache_retain(tts_prm_cache_t *c, int h) {
    if (alive(c, h)) c->nodes[h].refs++;
}

void tts_prm_cache_release(tts_prm_cache_t *c, int h) {
    if (!alive(c, h) || --c->nodes[h].refs > 0) return;
    gen_release(c->e, c->nodes[h].req);
    node_free(&c->nodes[h]);
    c->live--;
}

static int new_node(tts_prm_cache_t *c) {
    if (c->n_nodes == c->cap_nodes) {
        int cap = c->cap_nodes ? 2 * c->cap_nodes : 256;
        pnode_t *p = realloc(c->nodes, sizeof *p * (size_t)cap);
        if (!p) return RLC_ENOMEM;
        c->nodes = p, c->cap_nodes = cap;
    }
    memset(&c->nodes[c->n_nodes], 0, sizeof c->nodes[0]);
    c->nodes[c->n_nodes].req = -1;
    return c->n_nodes++;
}

/* Fork the node's input from the source node's sequence (their common token prefix; a step
 * row inside it that the source did not score moves the fork point before it), or submit it
 * whole. need[k] = 1 when row k's output comes from the engine; the others are copied. */
static int submit_node(tts_prm_cache_t *c, pnode_t *nd, const pnode_t *src, uint8_t *need, long *read) {
    int prefix = 0, k = 0;
    if (src) {
        while (prefix < src->n && prefix < nd->n && src->ids[prefix] == nd->ids[prefix]) prefix++;
        for (int s = 0; s < nd->n_rows && nd->rows[s] < prefix - 1; s++) {
            while (k < src->n_rows && src->rows[k] < nd->rows[s]) k++;
            if (k < src->n_rows && src->rows[k] == nd->rows[s]) nd->score[s] = src->score[k];
            else prefix = nd->rows[s] + 1; /* computed again from there */
        }
    }
    int32_t *want = malloc(sizeof(int32_t) * (size_t)(nd->n_rows ? nd->n_rows : 1));
    int m = 0;
    if (!want) return RLC_ENOMEM;
    for (int s = 0; s < nd->n_rows; s++)
        if ((need[s] = prefix < 1 || nd->rows[s] >= prefix - 1)) want[m++] = nd->rows[s];
    gen_params_t gp;
    gen_params_default(&gp);
    gp.score_only = 1;
    gp.score_pos = want;
    gp.n_score_pos = m;
    int r = prefix >= 1 ? gen_fork(c->e, src->req, 0, prefix, nd->ids + prefix, nd->n - prefix, &gp, NULL)
                        : gen_submit(c->e, nd->ids, nd->n, &gp, NULL);
    free(want);
    if (r < 0) return rlc_err_ctx(r, "%s", c->prm->what);
    nd->req = r;
    *read = prefix >= 1 ? nd->n - prefix + 1 : nd->n;
    return 0;
}

/* Build item i's node (layout, then the fork or submission). */
static int plan_item(tts_prm_cache_t *c, tts_prm_item_t *it, uint8_t **need) {
    int h = new_node(c), p = it->problem;
    if (h < 0) return h;
    pnode_t *nd = &c->nodes[h];
    nd->problem = p;
    nd->refs = 1;
    c->live++;
    it->handle = h;
    int rc = rlc_prm_layout(c->prm, c->tok, c->questions ? c->questions[p] : "", c->prompts[p], c->plen[p], it->comp,
                            it->clen, &nd->ids, &nd->n, &nd->rows, &nd->n_rows);
    if (!rc && !nd->n) { /* no step: nothing to compute */
        it->read = 0;
        return 0;
    }
    if (!rc && (!(nd->score = malloc(sizeof(float) * (size_t)nd->n_rows)) || !(*need = malloc((size_t)nd->n_rows))))
        rc = RLC_ENOMEM;
    const pnode_t *src = alive(c, it->parent) && c->nodes[it->parent].problem == p && c->nodes[it->parent].n
                             ? &c->nodes[it->parent]
                         : alive(c, c->root[p]) ? &c->nodes[c->root[p]]
                                                : NULL;
    if (!rc) rc = submit_node(c, nd, src, *need, &it->read);
    if (!rc && c->root[p] < 0) { /* the problem's first: kept as the prefix source of parentless items */
        c->root[p] = h;
        nd->refs++;
    }
    return rc;
}

int tts_prm_cache_score(tts_prm_cache_t *c, tts_prm_item_t *items, int n, rlc_step_agg_t agg) {
    if (n < 0) return rlc_errc(RLC_EINVAL, "PRM cache: bad item count");
    uint8_t **need = calloc((size_t)n + 1, sizeof *need);
    int rc = need ? 0 : RLC_ENOMEM, made = 0, C = c->prm->m->cfg.hidden_size;
    for (int i = 0; i < n && !rc; i++, made++) {
        items[i].handle = -1;
        if (items[i].problem < 0 || items[i].problem >= c->P) rc = rlc_errc(RLC_EINVAL, "PRM cache: no problem");
        else rc = plan_item(c, &items[i], &need[i]);
    }
    if (!rc) rc = gen_run(c->e, NULL);
    for (int i = 0; i < n && !rc; i++) {
        pnode_t *nd = &c->nodes[items[i].handle];
        const gen_output_t *o = nd->n ? gen_output(c->e, nd->req, 0) : NULL;
        if (nd->n && !o) rc = rlc_errc(RLC_EINVAL, "PRM cache: request %d did not finish", nd->req);
        for (int s = 0, q = 0; s < nd->n_rows && !rc; s++)
            if (need[i][s]) nd->score[s] = rlc_prm_row_score(c->prm, o->scores + (size_t)(q++) * C);
        if (!rc) items[i].agg = (float)rlc_step_aggregate(nd->score, nd->n_rows, agg);
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
