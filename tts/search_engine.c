/* The search's step callbacks on the rollout engine and a PRM (see search_engine.h). */
#include "tts/search_engine.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/philox.h"
#include "core/str.h"

typedef struct {
    int req, sample, problem, live;
    int path_tokens; /* generated from the prompt to here */
    char *text;      /* completion text from the prompt */
    size_t len;
    int prm_h;   /* its PRM cache handle once scored, else -1 */
    int prm_par; /* the nearest scored ancestor's handle (retained until this node is scored), or -1 */
} snode_t;

struct tts_engine_ops {
    tts_engine_cfg_t c;
    int *anchor; /* per problem: the request that ran its prompt, or -1 */
    snode_t *nodes;
    int n_nodes, cap_nodes, live_nodes;
    int *req_live; /* per engine request id: live nodes on it */
    int cap_req;
    uint64_t draws; /* seeds: one per fork */
    long forks;
};

int tts_engine_ops_create(tts_engine_ops_t **out, const tts_engine_cfg_t *cfg) {
    *out = NULL;
    tts_engine_ops_t *o = calloc(1, sizeof *o);
    if (!o) return RLC_ENOMEM;
    o->c = *cfg;
    if (!o->c.delimiter || !o->c.delimiter[0]) o->c.delimiter = "\n\n";
    o->anchor = malloc(sizeof(int) * (size_t)(cfg->n_problems ? cfg->n_problems : 1));
    if (!o->anchor) {
        free(o);
        return RLC_ENOMEM;
    }
    for (int p = 0; p < cfg->n_problems; p++) o->anchor[p] = -1;
    *out = o;
    return 0;
}

static void drop_prm(tts_engine_ops_t *o, snode_t *s) {
    if (!o->c.prm_cache) return;
    tts_prm_cache_release(o->c.prm_cache, s->prm_h);
    tts_prm_cache_release(o->c.prm_cache, s->prm_par);
    s->prm_h = s->prm_par = -1;
}

void tts_engine_ops_free(tts_engine_ops_t *o) {
    if (!o) return;
    for (int i = 0; i < o->n_nodes; i++)
        if (o->nodes[i].live) {
            drop_prm(o, &o->nodes[i]);
            free(o->nodes[i].text);
            if (--o->req_live[o->nodes[i].req] == 0) gen_release(o->c.e, o->nodes[i].req);
        }
    for (int p = 0; p < o->c.n_problems; p++)
        if (o->anchor[p] >= 0) gen_release(o->c.e, o->anchor[p]);
    free(o->anchor), free(o->nodes), free(o->req_live);
    free(o);
}

long tts_engine_forks(const tts_engine_ops_t *o) { return o->forks; }
int tts_engine_live_nodes(const tts_engine_ops_t *o) { return o->live_nodes; }

/* Run each problem's prompt once (one greedy token, discarded) so forks share its pages. */
static int ensure_anchors(tts_engine_ops_t *o, const int *parents, int n) {
    int added = 0;
    gen_params_t gp;
    gen_params_default(&gp);
    gp.temperature = 0;
    gp.max_new_tokens = 1;
    for (int i = 0; i < n; i++) {
        if (parents[i] >= 0) continue;
        int p = -1 - parents[i];
        if (p >= o->c.n_problems) return rlc_errc(RLC_EINVAL, "search: no problem %d", p);
        if (o->anchor[p] >= 0) continue;
        int r = gen_submit(o->c.e, o->c.prompts[p], o->c.plen[p], &gp, NULL);
        if (r < 0) return r;
        o->anchor[p] = r;
        added++;
    }
    return added ? gen_run(o->c.e, NULL) : 0;
}

static int grow_req(tts_engine_ops_t *o, int req) {
    if (req < o->cap_req) return 0;
    int cap = o->cap_req ? o->cap_req : 64;
    while (cap <= req) cap *= 2;
    int *p = realloc(o->req_live, sizeof(int) * (size_t)cap);
    if (!p) return RLC_ENOMEM;
    memset(p + o->cap_req, 0, sizeof(int) * (size_t)(cap - o->cap_req));
    o->req_live = p;
    o->cap_req = cap;
    return 0;
}

/* The fork of one parent: its sequence's whole token list (an anchor: the prompt only). */
static int fork_parent(tts_engine_ops_t *o, int parent, int k, int mode, int *req) {
    gen_params_t gp = o->c.sample;
    int path = 0, src, sample = 0, prefix;
    if (parent < 0) {
        int p = -1 - parent;
        src = o->anchor[p];
        prefix = o->c.plen[p];
    } else {
        const snode_t *s = &o->nodes[parent];
        const int32_t *ids;
        int rc = gen_sequence(o->c.e, s->req, s->sample, &ids, &prefix, NULL);
        if (rc) return rc;
        src = s->req, sample = s->sample, path = s->path_tokens;
    }
    gp.n = k;
    gp.max_new_tokens = o->c.sample.max_new_tokens - path;
    if (gp.max_new_tokens < 1) return rlc_errc(RLC_EINVAL, "search: expanding a node at the length limit");
    if (mode == TTS_GEN_GREEDY_STEP) gp.temperature = 0;
    if (mode != TTS_GEN_TO_END) {
        gp.stop_strings = &o->c.delimiter;
        gp.n_stop_strings = 1;
    }
    gp.seed = rlc_splitmix64(o->c.sample.seed ^ rlc_splitmix64(++o->draws));
    int r = gen_fork(o->c.e, src, sample, prefix, NULL, 0, &gp, NULL);
    if (r < 0) return r;
    o->forks++;
    *req = r;
    return grow_req(o, r);
}

/* Child j of request req (forked from parent) as a node. */
static int make_child(tts_engine_ops_t *o, int parent, int req, int j, tts_child_t *out) {
    const gen_output_t *g = gen_output(o->c.e, req, j);
    if (!g) return rlc_errc(RLC_EINVAL, "search: request %d sample %d did not finish", req, j);
    if (o->n_nodes == o->cap_nodes) {
        int cap = o->cap_nodes ? o->cap_nodes * 2 : 256;
        snode_t *p = realloc(o->nodes, sizeof *p * (size_t)cap);
        if (!p) return RLC_ENOMEM;
        o->nodes = p;
        o->cap_nodes = cap;
    }
    const snode_t *par = parent >= 0 ? &o->nodes[parent] : NULL;
    size_t plen = par ? par->len : 0;
    snode_t s = {req, j, par ? par->problem : -1 - parent, 1, (par ? par->path_tokens : 0) + g->n_tokens, NULL, 0,
                 -1, par ? (par->prm_h >= 0 ? par->prm_h : par->prm_par) : -1};
    if (o->c.prm_cache) tts_prm_cache_retain(o->c.prm_cache, s.prm_par);
    s.len = plen + g->text_len;
    if (!(s.text = malloc(s.len + 1))) return RLC_ENOMEM;
    if (plen) memcpy(s.text, par->text, plen);
    memcpy(s.text + plen, g->text, g->text_len);
    s.text[s.len] = 0;
    int end = g->finish == GEN_FINISH_EOS ? TTS_END_EOS : g->finish == GEN_FINISH_LENGTH ? TTS_END_LENGTH : TTS_END_STEP;
    if (end == TTS_END_STEP && s.path_tokens >= o->c.sample.max_new_tokens) end = TTS_END_LENGTH;
    int node = o->n_nodes++;
    o->nodes[node] = s;
    o->req_live[req]++;
    o->live_nodes++;
    *out = (tts_child_t){node, end, rlc_is_blank(g->text, g->text_len), strstr(s.text, "boxed{") != NULL, g->n_tokens};
    return 0;
}

static int eng_expand(void *u, const int *parents, int n, int k, int mode, tts_child_t *out) {
    tts_engine_ops_t *o = u;
    int rc = ensure_anchors(o, parents, n);
    int *reqs = malloc(sizeof(int) * (size_t)(n ? n : 1)), made = 0;
    if (!reqs) return RLC_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        if (parents[i] >= 0 && (parents[i] >= o->n_nodes || !o->nodes[parents[i]].live))
            rc = rlc_errc(RLC_EINVAL, "search: node %d is not alive", parents[i]);
        if (!rc && !(rc = fork_parent(o, parents[i], k, mode, &reqs[i]))) made++;
    }
    if (!rc) rc = gen_run(o->c.e, NULL);
    int done = 0;
    for (int i = 0; i < n && !rc; i++)
        for (int j = 0; j < k && !rc; j++)
            if (!(rc = make_child(o, parents[i], reqs[i], j, &out[i * k + j]))) done++;
    if (rc) { /* undo: the children made, then requests without a node */
        for (int x = 0; x < done; x++) {
            snode_t *s = &o->nodes[out[x].node];
            drop_prm(o, s);
            free(s->text);
            s->live = 0;
            o->live_nodes--;
            o->req_live[s->req]--;
        }
        for (int i = 0; i < made; i++)
            if (o->req_live[reqs[i]] == 0) gen_release(o->c.e, reqs[i]);
    }
    free(reqs);
    return rc;
}

/* With the PRM cache: every node scored in one PRM engine run, from its nearest scored
 * ancestor. */
static int eng_score_cached(tts_engine_ops_t *o, const int *nodes, int n, float *agg, long *read) {
    tts_prm_item_t *it = calloc((size_t)n + 1, sizeof *it);
    int rc = it ? 0 : RLC_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        const snode_t *s = &o->nodes[nodes[i]];
        const int32_t *ids;
        int len;
        if ((rc = gen_sequence(o->c.e, s->req, s->sample, &ids, &len, NULL))) break;
        int pl = o->c.plen[s->problem];
        it[i] = (tts_prm_item_t){.parent = s->prm_h >= 0 ? s->prm_h : s->prm_par, .problem = s->problem,
                                 .comp = ids + pl, .clen = len - pl};
    }
    if (!rc) rc = tts_prm_cache_score(o->c.prm_cache, it, n, o->c.agg);
    for (int i = 0; i < n && !rc; i++) {
        snode_t *s = &o->nodes[nodes[i]];
        agg[i] = it[i].agg;
        read[i] = it[i].read;
        tts_prm_cache_release(o->c.prm_cache, s->prm_h); /* a node scored twice keeps the newer */
        tts_prm_cache_release(o->c.prm_cache, s->prm_par);
        s->prm_h = it[i].handle;
        s->prm_par = -1;
    }
    free(it);
    return rc;
}

static int eng_score(void *u, const int *nodes, int n, float *agg, long *read) {
    tts_engine_ops_t *o = u;
    if (o->c.prm_cache) return eng_score_cached(o, nodes, n, agg, read);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const snode_t *s = &o->nodes[nodes[i]];
        const int32_t *ids;
        int len, p = s->problem, pl = o->c.plen[p], ns = 0;
        float *st = NULL;
        if ((rc = gen_sequence(o->c.e, s->req, s->sample, &ids, &len, NULL))) break;
        rc = rlc_prm_score(o->c.prm, o->c.tok, o->c.questions ? o->c.questions[p] : "", o->c.prompts[p], pl,
                           ids + pl, len - pl, &st, &ns, &read[i]);
        if (!rc) agg[i] = (float)rlc_step_aggregate(st, ns, o->c.agg);
        free(st);
    }
    return rc;
}

static int eng_text(void *u, int node, const char **t, size_t *len) {
    tts_engine_ops_t *o = u;
    if (node < 0 || node >= o->n_nodes || !o->nodes[node].live) return rlc_errc(RLC_EINVAL, "search: no node %d", node);
    *t = o->nodes[node].text;
    *len = o->nodes[node].len;
    return 0;
}

static void eng_release(void *u, int node) {
    tts_engine_ops_t *o = u;
    if (node < 0 || node >= o->n_nodes || !o->nodes[node].live) return;
    snode_t *s = &o->nodes[node];
    drop_prm(o, s);
    free(s->text);
    s->text = NULL;
    s->live = 0;
    o->live_nodes--;
    if (--o->req_live[s->req] == 0) gen_release(o->c.e, s->req);
}

int tts_engine_node_tokens(tts_engine_ops_t *o, int node, const int32_t **ids, int *n) {
    if (node < 0 || node >= o->n_nodes || !o->nodes[node].live) return rlc_errc(RLC_EINVAL, "search: no node %d", node);
    const snode_t *s = &o->nodes[node];
    int len, rc = gen_sequence(o->c.e, s->req, s->sample, ids, &len, NULL);
    if (rc) return rc;
    *ids += o->c.plen[s->problem];
    *n = len - o->c.plen[s->problem];
    return 0;
}

tts_search_ops_t tts_engine_ops(tts_engine_ops_t *o) {
    return (tts_search_ops_t){o, eng_expand, eng_score, eng_text, eng_release};
}
