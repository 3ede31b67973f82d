/* PRM-guided beam search and DVTS over step callbacks (see search.h for the rules). */
#include "tts/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int tts_search_method_parse(const char *s, int *method) {
    if (!strcmp(s, "beam")) *method = TTS_SEARCH_BEAM;
    else if (!strcmp(s, "dvts")) *method = TTS_SEARCH_DVTS;
    else return rlc_errc(RLC_EINVAL, "unknown search method '%s' (beam, dvts)", s);
    return 0;
}

const char *tts_search_method_name(int method) { return method == TTS_SEARCH_DVTS ? "dvts" : "beam"; }

int tts_search_cfg_check(const tts_search_cfg_t *c) {
    if (c->method != TTS_SEARCH_BEAM && c->method != TTS_SEARCH_DVTS)
        return rlc_errc(RLC_EINVAL, "unknown search method %d", c->method);
    if (c->width < 1) return rlc_errc(RLC_EINVAL, "--beam-width must be at least 1 (got %d)", c->width);
    if (c->n < c->width || c->n % c->width)
        return rlc_errc(RLC_EINVAL, "%s needs N to be a multiple of the beam width %d (got N = %d)",
                        tts_search_method_name(c->method), c->width, c->n);
    if (c->max_iterations < 1) return rlc_errc(RLC_EINVAL, "--max-iterations must be at least 1");
    if (c->lookahead < 0) return rlc_errc(RLC_EINVAL, "--lookahead must be at least 0");
    return 0;
}

/* One problem's search state. Beam search: nodes = the active beams; DVTS: the subtrees'
 * current nodes (live[i] while subtree i goes on). done = finals being collected. */
typedef struct {
    int *nodes, n_nodes;
    float *scores;
    uint8_t *live;
    tts_final_t *done;
    int n_done;
    int finished;
} prob_t;

typedef struct {
    const tts_search_cfg_t *c;
    const tts_search_ops_t *ops;
    int P;
    prob_t *pr;
    tts_search_out_t *out;
    /* per-iteration scratch */
    int *parents, *owner;
    tts_child_t *kids;
    float *sc;
    long *gen, *prm; /* per child: tokens generated (step + lookahead), tokens the PRM read */
    int cap;
} search_t;

static int continues(const tts_child_t *k) { return k->end == TTS_END_STEP && !k->empty; }

/* Scores of n candidates: those that continue are rolled `look` greedy steps first (the
 * continuations are released after scoring). gen[i] += continuation tokens, prm[i] = tokens
 * the PRM read for candidate i. */
static int score_candidates(search_t *S, const tts_child_t *k, int n, int look, float *sc, long *gen, long *prm) {
    const tts_search_ops_t *o = S->ops;
    int *cur = malloc(sizeof(int) * (size_t)n * 3), rc = 0;
    if (!cur) return RLC_ENOMEM;
    int *going = cur + n, *par = cur + 2 * n; /* going[i]: continuation i still rolls */
    tts_child_t *nx = look ? malloc(sizeof *nx * (size_t)n) : NULL;
    if (look && !nx) rc = RLC_ENOMEM;
    for (int i = 0; i < n; i++) cur[i] = k[i].node, going[i] = look > 0 && continues(&k[i]);
    for (int s = 0; s < look && !rc; s++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (going[i]) par[m++] = cur[i];
        if (!m) break;
        if ((rc = o->expand(o->user, par, m, 1, TTS_GEN_GREEDY_STEP, nx))) break;
        for (int i = 0, j = 0; i < n; i++) {
            if (!going[i]) continue;
            if (cur[i] != k[i].node) o->release(o->user, cur[i]); /* an earlier continuation */
            cur[i] = nx[j].node;
            gen[i] += nx[j].tokens;
            going[i] = continues(&nx[j]);
            j++;
        }
    }
    if (!rc) rc = o->score(o->user, cur, n, sc, prm);
    for (int i = 0; i < n; i++)
        if (cur[i] != k[i].node) o->release(o->user, cur[i]);
    free(nx);
    free(cur);
    return rc;
}

static int grow_scratch(search_t *S, int need) {
    if (need <= S->cap) return 0;
    int *p = realloc(S->parents, sizeof(int) * (size_t)need * 2);
    if (!p) return RLC_ENOMEM;
    S->parents = p;
    S->owner = p + need;
    tts_child_t *k = realloc(S->kids, sizeof *k * (size_t)need);
    if (!k) return RLC_ENOMEM;
    S->kids = k;
    float *f = realloc(S->sc, sizeof(float) * (size_t)need);
    if (!f) return RLC_ENOMEM;
    S->sc = f;
    long *g = realloc(S->gen, sizeof(long) * (size_t)need * 2);
    if (!g) return RLC_ENOMEM;
    S->gen = g;
    S->prm = g + need;
    S->cap = need;
    return 0;
}

/* Release every distinct real node of a list (a beam may appear several times). */
static void release_distinct(search_t *S, const int *nodes, int n) {
    for (int i = 0; i < n; i++) {
        if (nodes[i] < 0) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = nodes[j] == nodes[i];
        if (!seen) S->ops->release(S->ops->user, nodes[i]);
    }
}

static int same_text(search_t *S, int a, int b) {
    const char *ta, *tb;
    size_t la, lb;
    if (S->ops->text(S->ops->user, a, &ta, &la) || S->ops->text(S->ops->user, b, &tb, &lb)) return 0;
    return la == lb && !memcmp(ta, tb, la);
}

/* Beam search: the parents of iteration `it` for problem p (appended at S->parents + *m). */
static void beam_parents(search_t *S, int p, int it, int *m) {
    prob_t *q = &S->pr[p];
    int n = S->c->n;
    if (it == 0) {
        S->parents[*m] = TTS_ROOT(p), S->owner[(*m)++] = p;
        return;
    }
    for (int i = 0; i < n; i++) S->parents[*m] = q->nodes[i % q->n_nodes], S->owner[(*m)++] = p;
}

/* Beam search: completed children join the finals, the n/M best of the others stay. */
static void beam_select(search_t *S, prob_t *q, const tts_child_t *k, const float *sc, int n, int last) {
    const tts_search_cfg_t *c = S->c;
    int keep = c->n / c->width, m = 0;
    for (int i = 0; i < n; i++) {
        if (last || !continues(&k[i])) {
            q->done[q->n_done++] = (tts_final_t){k[i].node, sc[i]};
            continue;
        }
        int dup = 0;
        for (int j = 0; j < m && c->filter_duplicates && !dup; j++) dup = same_text(S, q->nodes[j], k[i].node);
        if (dup) {
            S->ops->release(S->ops->user, k[i].node);
            continue;
        }
        q->nodes[m] = k[i].node, q->scores[m++] = sc[i];
    }
    /* keep the `keep` best (ties: the earlier), in their order */
    while (m > keep) {
        int worst = m - 1;
        for (int i = m - 2; i >= 0; i--)
            if (q->scores[i] < q->scores[worst]) worst = i;
        S->ops->release(S->ops->user, q->nodes[worst]);
        memmove(q->nodes + worst, q->nodes + worst + 1, sizeof(int) * (size_t)(m - worst - 1));
        memmove(q->scores + worst, q->scores + worst + 1, sizeof(float) * (size_t)(m - worst - 1));
        m--;
    }
    q->n_nodes = m;
    q->finished = m == 0;
}

/* DVTS: each live subtree keeps its best candidate of M. */
static void dvts_select(search_t *S, prob_t *q, const tts_child_t *k, const float *sc, int last) {
    int M = S->c->width, j = 0;
    for (int t = 0; t < q->n_nodes; t++) {
        if (!q->live[t]) continue;
        const tts_child_t *g = k + (size_t)j * M;
        const float *s = sc + (size_t)j * M;
        int b = 0;
        for (int i = 1; i < M; i++)
            if (s[i] > s[b]) b = i;
        for (int i = 0; i < M; i++)
            if (i != b) S->ops->release(S->ops->user, g[i].node);
        q->nodes[t] = g[b].node;
        q->scores[t] = s[b];
        q->live[t] = !last && continues(&g[b]) && !g[b].boxed;
        j++;
    }
    q->finished = 1;
    for (int t = 0; t < q->n_nodes; t++) q->finished &= !q->live[t];
}

/* One iteration for every unfinished problem. */
static int iterate(search_t *S, int it) {
    const tts_search_cfg_t *c = S->c;
    int dvts = c->method == TTS_SEARCH_DVTS, last = it == c->max_iterations - 1, m = 0;
    int k = dvts ? c->width : it == 0 ? c->n : 1, rc;
    for (int p = 0; p < S->P; p++) {
        prob_t *q = &S->pr[p];
        if (q->finished) continue;
        if (!dvts) beam_parents(S, p, it, &m);
        for (int t = 0; dvts && t < q->n_nodes; t++)
            if (q->live[t]) S->parents[m] = q->nodes[t], S->owner[m++] = p;
    }
    if (!m) return 0;
    if ((rc = S->ops->expand(S->ops->user, S->parents, m, k, last ? TTS_GEN_TO_END : TTS_GEN_STEP, S->kids)))
        return rc;
    release_distinct(S, S->parents, m); /* the children share what they need */
    for (int i = 0; i < m * k; i++) S->gen[i] = S->kids[i].tokens, S->prm[i] = 0;
    rc = score_candidates(S, S->kids, m * k, last ? 0 : c->lookahead, S->sc, S->gen, S->prm);
    for (int i = 0; i < m;) { /* per problem: its run of parents */
        int p = S->owner[i], j = i;
        while (j < m && S->owner[j] == p) j++;
        prob_t *q = &S->pr[p];
        const tts_child_t *kk = S->kids + (size_t)i * k;
        if (rc) { /* the children are this iteration's: release them (the parents are gone) */
            for (int x = 0; x < (j - i) * k; x++) S->ops->release(S->ops->user, kk[x].node);
            for (int t = 0; dvts && t < q->n_nodes; t++)
                if (!q->live[t] && q->nodes[t] >= 0) S->ops->release(S->ops->user, q->nodes[t]);
            q->n_nodes = 0;
            q->finished = 1;
        } else if (dvts) {
            dvts_select(S, q, kk, S->sc + (size_t)i * k, last);
        } else {
            beam_select(S, q, kk, S->sc + (size_t)i * k, (j - i) * k, last);
        }
        for (int x = i * k; x < j * k; x++) S->out[p].gen_tokens += S->gen[x], S->out[p].prm_tokens += S->prm[x];
        S->out[p].iterations = it + 1;
        i = j;
    }
    return rc;
}

/* Beam search's finals: the completed beams by score, highest first (stable), at most n. */
static int beam_finals(search_t *S, prob_t *q, tts_search_out_t *o) {
    tts_final_t *d = q->done;
    for (int i = 1; i < q->n_done; i++) { /* insertion sort: ties keep completion order */
        tts_final_t x = d[i];
        int j = i - 1;
        while (j >= 0 && d[j].score < x.score) d[j + 1] = d[j], j--;
        d[j + 1] = x;
    }
    int nf = q->n_done < S->c->n ? q->n_done : S->c->n;
    for (int i = nf; i < q->n_done; i++) S->ops->release(S->ops->user, d[i].node);
    q->n_done = 0;
    o->finals = malloc(sizeof *o->finals * (size_t)(nf ? nf : 1));
    if (!o->finals) {
        for (int i = 0; i < nf; i++) S->ops->release(S->ops->user, d[i].node);
        return RLC_ENOMEM;
    }
    memcpy(o->finals, d, sizeof *d * (size_t)nf);
    o->n_finals = nf;
    return 0;
}

static int dvts_finals(search_t *S, prob_t *q, tts_search_out_t *o) {
    (void)S;
    o->finals = malloc(sizeof *o->finals * (size_t)q->n_nodes);
    if (!o->finals) return RLC_ENOMEM;
    for (int t = 0; t < q->n_nodes; t++) o->finals[t] = (tts_final_t){q->nodes[t], q->scores[t]};
    o->n_finals = q->n_nodes;
    q->n_nodes = 0;
    return 0;
}

static int prob_init(search_t *S, prob_t *q, int p) {
    const tts_search_cfg_t *c = S->c;
    int dvts = c->method == TTS_SEARCH_DVTS, n = c->n;
    q->nodes = malloc(sizeof(int) * (size_t)n);
    q->scores = malloc(sizeof(float) * (size_t)n);
    q->live = calloc((size_t)n, 1);
    q->done = dvts ? NULL : malloc(sizeof *q->done * (size_t)n * (size_t)c->max_iterations);
    if (!q->nodes || !q->scores || !q->live || (!dvts && !q->done)) return RLC_ENOMEM;
    if (dvts) {
        q->n_nodes = n / c->width;
        for (int t = 0; t < q->n_nodes; t++) q->nodes[t] = TTS_ROOT(p), q->scores[t] = 0, q->live[t] = 1;
    }
    return 0;
}

/* Release whatever a problem still holds (after an error, or its unselected finals). */
static void prob_free(search_t *S, prob_t *q) {
    for (int t = 0; t < q->n_nodes; t++)
        if (q->nodes[t] >= 0) S->ops->release(S->ops->user, q->nodes[t]);
    for (int i = 0; i < q->n_done; i++) S->ops->release(S->ops->user, q->done[i].node);
    free(q->nodes), free(q->scores), free(q->live), free(q->done);
}

int tts_search_run(const tts_search_cfg_t *c, const tts_search_ops_t *ops, int n_problems, tts_search_out_t *out) {
    int rc = tts_search_cfg_check(c);
    if (rc) return rc;
    if (n_problems < 0 || (n_problems && !out)) return rlc_errc(RLC_EINVAL, "tts_search_run: bad arguments");
    memset(out, 0, sizeof *out * (size_t)n_problems);
    search_t S = {.c = c, .ops = ops, .P = n_problems, .out = out};
    S.pr = calloc((size_t)(n_problems ? n_problems : 1), sizeof *S.pr);
    if (!S.pr) return RLC_ENOMEM;
    for (int p = 0; p < n_problems && !rc; p++) rc = prob_init(&S, &S.pr[p], p);
    if (!rc) rc = grow_scratch(&S, n_problems * c->n);
    for (int it = 0; it < c->max_iterations && !rc; it++) {
        rc = iterate(&S, it);
        if (c->progress) rlc_progress_update(c->progress, it + 1, NULL);
    }
    for (int p = 0; p < n_problems && !rc; p++)
        rc = c->method == TTS_SEARCH_DVTS ? dvts_finals(&S, &S.pr[p], &out[p]) : beam_finals(&S, &S.pr[p], &out[p]);
    if (rc) {
        for (int p = 0; p < n_problems; p++)
            for (int i = 0; i < out[p].n_finals; i++) ops->release(ops->user, out[p].finals[i].node);
        tts_search_out_free(out, n_problems);
    }
    for (int p = 0; p < n_problems; p++) prob_free(&S, &S.pr[p]);
    free(S.pr), free(S.parents), free(S.kids), free(S.sc), free(S.gen);
    return rc;
}

void tts_search_out_free(tts_search_out_t *out, int n_problems) {
    for (int p = 0; out && p < n_problems; p++) {
        free(out[p].finals);
        memset(&out[p], 0, sizeof out[p]);
    }
}
