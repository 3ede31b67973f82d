/* PRM-guided beam search and DVTS (tts/search.c) against a scripted step generator and a
 * scripted PRM, where the right choices are known by hand: selection of the n/M best with
 * ties to the earlier beam, duplication back up to n, completion on EOS / length / empty
 * steps, the last iteration generating to the end, duplicate filtering, DVTS's best of M
 * per subtree (ties: the first), its stop at "boxed{", lookahead continuations scored and
 * released, and every node released exactly once (also after an error). */
#include "testutil.h"

#include "core/err.h"
#include "tts/search.h"

#define MAXN 512

/* The script: a parent's text, the how-many-th draw from it (any mode: -1), the step. */
typedef struct {
    const char *parent;
    int draw, mode;
    const char *step;
    int end;
} rule_t;

typedef struct {
    const char *text;
    float score;
} score_rule_t;

typedef struct {
    char text[MAXN][128];
    int draws[MAXN], alive[MAXN], n;
    const rule_t *rules;
    const score_rule_t *scores;
    int fail_at_expand; /* the expand call that fails (1-based; 0 never) */
    int expands, released, double_release, scored;
    int modes[64];
} script_t;

static int node_new(script_t *s, const char *text) {
    assert_true(s->n < MAXN - 8);
    snprintf(s->text[s->n], sizeof s->text[0], "%s", text);
    s->alive[s->n] = 1;
    return s->n++;
}

static const rule_t *find_rule(const script_t *s, const char *parent, int draw, int mode) {
    for (const rule_t *r = s->rules; r->parent; r++)
        if (!strcmp(r->parent, parent) && r->draw == draw && (r->mode < 0 || r->mode == mode)) return r;
    return NULL;
}

static int sx_expand(void *u, const int *parents, int n, int k, int mode, tts_child_t *out) {
    script_t *s = u;
    if (s->expands < 64) s->modes[s->expands] = mode;
    if (++s->expands == s->fail_at_expand) return rlc_errc(RLC_EIO, "scripted failure");
    for (int i = 0; i < n; i++) {
        const char *pt = parents[i] < 0 ? "" : s->text[parents[i]];
        if (parents[i] >= 0) assert_true(s->alive[parents[i]]);
        int slot = parents[i] < 0 ? MAXN + parents[i] : parents[i]; /* roots count their draws at the end */
        for (int j = 0; j < k; j++) {
            int d = s->draws[slot]++;
            const rule_t *r = find_rule(s, pt, d, mode);
            if (!r) fail_msg("no rule for parent '%s' draw %d mode %d", pt, d, mode);
            char t[128];
            snprintf(t, sizeof t, "%s%s", pt, r->step);
            int node = node_new(s, t);
            int blank = 1;
            for (const char *c = r->step; *c; c++) blank &= *c == '\n' || *c == ' ';
            out[i * k + j] = (tts_child_t){node, r->end, blank, strstr(t, "boxed{") != NULL, (long)strlen(r->step)};
        }
    }
    return 0;
}

static int sx_score(void *u, const int *nodes, int n, float *agg, long *read) {
    script_t *s = u;
    for (int i = 0; i < n; i++) {
        assert_true(s->alive[nodes[i]]);
        agg[i] = 0.5f;
        for (const score_rule_t *r = s->scores; r->text; r++)
            if (!strcmp(r->text, s->text[nodes[i]])) agg[i] = r->score;
        read[i] = 1;
        s->scored++;
    }
    return 0;
}

static int sx_text(void *u, int node, const char **t, size_t *len) {
    script_t *s = u;
    *t = s->text[node];
    *len = strlen(*t);
    return 0;
}

static void sx_release(void *u, int node) {
    script_t *s = u;
    if (!s->alive[node]) s->double_release++;
    s->alive[node] = 0;
    s->released++;
}

static tts_search_ops_t ops_of(script_t *s) { return (tts_search_ops_t){s, sx_expand, sx_score, sx_text, sx_release}; }

static int n_alive(const script_t *s) {
    int a = 0;
    for (int i = 0; i < s->n; i++) a += s->alive[i];
    return a;
}

static void release_finals(script_t *s, tts_search_out_t *o, int P) {
    for (int p = 0; p < P; p++)
        for (int i = 0; i < o[p].n_finals; i++) sx_release(s, o[p].finals[i].node);
    tts_search_out_free(o, P);
    assert_int_equal(s->double_release, 0);
    assert_int_equal(n_alive(s), 0);
}

enum { E_S = TTS_END_STEP, E_EOS = TTS_END_EOS, E_LEN = TTS_END_LENGTH };
enum { M_STEP = TTS_GEN_STEP, M_END = TTS_GEN_TO_END, M_GREEDY = TTS_GEN_GREEDY_STEP };

/* n = 4, M = 2, 3 iterations. Root draws A B C D; A and C stay (0.9, 0.8). Iteration 1
 * expands [A, C, A, C]: A+a1 0.5, C+c1 0.7, A+a2 ends at EOS (completed, 0.95), C+c2 0.7
 * (ties C+c1: the earlier stays with it, A+a1 goes). Iteration 2 (the last) generates to
 * the end from [Cc1, Cc2, Cc1, Cc2]. */
static const rule_t BEAM_RULES[] = {
    {"", 0, M_STEP, "A\n\n", E_S},
    {"", 1, M_STEP, "B\n\n", E_S},
    {"", 2, M_STEP, "C\n\n", E_S},
    {"", 3, M_STEP, "D\n\n", E_S},
    {"A\n\n", 0, M_STEP, "a1\n\n", E_S},
    {"A\n\n", 1, M_STEP, "a2", E_EOS},
    {"C\n\n", 0, M_STEP, "c1\n\n", E_S},
    {"C\n\n", 1, M_STEP, "c2\n\n", E_S},
    {"C\n\nc1\n\n", 0, M_END, "x", E_EOS},
    {"C\n\nc1\n\n", 1, M_END, "y", E_LEN},
    {"C\n\nc2\n\n", 0, M_END, "z", E_EOS},
    {"C\n\nc2\n\n", 1, M_END, "w", E_EOS},
    {NULL, 0, 0, NULL, 0},
};
static const score_rule_t BEAM_SCORES[] = {
    {"A\n\n", 0.9f},          {"B\n\n", 0.1f},           {"C\n\n", 0.8f},           {"D\n\n", 0.3f},
    {"A\n\na1\n\n", 0.5f},    {"A\n\na2", 0.95f},        {"C\n\nc1\n\n", 0.7f},     {"C\n\nc2\n\n", 0.7f},
    {"C\n\nc1\n\nx", 0.2f},   {"C\n\nc1\n\ny", 0.6f},    {"C\n\nc2\n\nz", 0.6f},    {"C\n\nc2\n\nw", 0.99f},
    {NULL, 0},
};

static void test_beam(void **st) {
    (void)st;
    script_t s = {.rules = BEAM_RULES, .scores = BEAM_SCORES};
    tts_search_ops_t o = ops_of(&s);
    tts_search_cfg_t c = {.method = TTS_SEARCH_BEAM, .n = 4, .width = 2, .max_iterations = 3};
    tts_search_out_t out[1];
    assert_int_equal(tts_search_run(&c, &o, 1, out), 0);
    assert_int_equal(out[0].iterations, 3);
    assert_int_equal(s.modes[0], M_STEP), assert_int_equal(s.modes[1], M_STEP), assert_int_equal(s.modes[2], M_END);
    /* completed: Aa2 (0.95), then Cc1x 0.2, Cc2z 0.6, Cc1y 0.6, Cc2w 0.99; finals = best 4 by score, stable */
    assert_int_equal(out[0].n_finals, 4);
    const char *want[4] = {"C\n\nc2\n\nw", "A\n\na2", "C\n\nc2\n\nz", "C\n\nc1\n\ny"};
    float wsc[4] = {0.99f, 0.95f, 0.6f, 0.6f};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(s.text[out[0].finals[i].node], want[i]);
        assert_float_equal(out[0].finals[i].score, wsc[i], 1e-6);
    }
    /* generated bytes as tokens: 4 root steps (3 each) + a1 a2 c1 c2 (4+2+4+4) + x y z w */
    assert_int_equal(out[0].gen_tokens, 12 + 14 + 4);
    assert_int_equal(out[0].prm_tokens, 4 + 4 + 4);
    release_finals(&s, out, 1);
}

/* The same with --filter-duplicates and c2 = c1's text: the duplicate is dropped and A+a1
 * (0.5) stays instead. */
static const rule_t DUP_RULES[] = {
    {"", 0, M_STEP, "A\n\n", E_S},
    {"", 1, M_STEP, "B\n\n", E_S},
    {"", 2, M_STEP, "C\n\n", E_S},
    {"", 3, M_STEP, "D\n\n", E_S},
    {"A\n\n", 0, M_STEP, "a1\n\n", E_S},
    {"A\n\n", 1, M_STEP, "a2", E_EOS},
    {"C\n\n", 0, M_STEP, "c1\n\n", E_S},
    {"C\n\n", 1, M_STEP, "c1\n\n", E_S},
    {"C\n\nc1\n\n", 0, M_END, "x", E_EOS},
    {"C\n\nc1\n\n", 1, M_END, "y", E_EOS},
    {"A\n\na1\n\n", 0, M_END, "u", E_EOS},
    {"A\n\na1\n\n", 1, M_END, "v", E_EOS},
    {NULL, 0, 0, NULL, 0},
};

static void test_beam_duplicates(void **st) {
    (void)st;
    script_t s = {.rules = DUP_RULES, .scores = BEAM_SCORES};
    tts_search_ops_t o = ops_of(&s);
    tts_search_cfg_t c = {.method = TTS_SEARCH_BEAM, .n = 4, .width = 2, .max_iterations = 3, .filter_duplicates = 1};
    tts_search_out_t out[1];
    assert_int_equal(tts_search_run(&c, &o, 1, out), 0);
    /* iteration 2 expands [Aa1, Cc1, Aa1, Cc1] into u 0.5, x 0.2, v 0.5, y 0.6: finals Aa2 0.95,
     * Cc1y, then u and v (0.5, in completion order); x is dropped */
    assert_int_equal(out[0].n_finals, 4);
    const char *want[4] = {"A\n\na2", "C\n\nc1\n\ny", "A\n\na1\n\nu", "A\n\na1\n\nv"};
    for (int i = 0; i < 4; i++) assert_string_equal(s.text[out[0].finals[i].node], want[i]);
    release_finals(&s, out, 1);
}

/* Early ends: every root draw ends at once (EOS, length, an empty step): one iteration. */
static const rule_t EARLY_RULES[] = {
    {"", 0, M_STEP, "p", E_EOS},
    {"", 1, M_STEP, "q", E_LEN},
    {"", 2, M_STEP, "\n\n", E_S},
    {"", 3, M_STEP, "r", E_EOS},
    {NULL, 0, 0, NULL, 0},
};

static void test_beam_early(void **st) {
    (void)st;
    script_t s = {.rules = EARLY_RULES, .scores = (const score_rule_t[]){{"r", 0.7f}, {"q", 0.9f}, {NULL, 0}}};
    tts_search_ops_t o = ops_of(&s);
    tts_search_cfg_t c = {.method = TTS_SEARCH_BEAM, .n = 4, .width = 4, .max_iterations = 40};
    tts_search_out_t out[1];
    assert_int_equal(tts_search_run(&c, &o, 1, out), 0);
    assert_int_equal(out[0].iterations, 1);
    assert_int_equal(s.expands, 1);
    assert_int_equal(out[0].n_finals, 4);
    const char *want[4] = {"q", "r", "p", "\n\n"}; /* 0.9, 0.7, then 0.5 0.5 in completion order */
    for (int i = 0; i < 4; i++) assert_string_equal(s.text[out[0].finals[i].node], want[i]);
    release_finals(&s, out, 1);
}

/* Ties at the cut: A, B and C all score 0.6; the two earlier (A, B) stay. */
static const rule_t TIE_RULES[] = {
    {"", 0, M_STEP, "A\n\n", E_S},  {"", 1, M_STEP, "B\n\n", E_S},  {"", 2, M_STEP, "C\n\n", E_S},
    {"", 3, M_STEP, "D\n\n", E_S},  {"A\n\n", 0, M_END, "1", E_EOS}, {"A\n\n", 1, M_END, "2", E_EOS},
    {"B\n\n", 0, M_END, "3", E_EOS}, {"B\n\n", 1, M_END, "4", E_EOS}, {NULL, 0, 0, NULL, 0},
};

static void test_beam_ties(void **st) {
    (void)st;
    script_t s = {.rules = TIE_RULES,
                  .scores = (const score_rule_t[]){{"A\n\n", 0.6f}, {"B\n\n", 0.6f}, {"C\n\n", 0.6f}, {"D\n\n", 0.1f},
                                                   {NULL, 0}}};
    tts_search_ops_t o = ops_of(&s);
    tts_search_cfg_t c = {.method = TTS_SEARCH_BEAM, .n = 4, .width = 2, .max_iterations = 2};
    tts_search_out_t out[1];
    assert_int_equal(tts_search_run(&c, &o, 1, out), 0); /* a rule missing for C would fail */
    assert_int_equal(out[0].n_finals, 4);
    const char *want[4] = {"A\n\n1", "B\n\n3", "A\n\n2", "B\n\n4"}; /* all 0.5: completion order */
    for (int i = 0; i < 4; i++) assert_string_equal(s.text[out[0].finals[i].node], want[i]);
    release_finals(&s, out, 1);
}

/* DVTS, n = 4, M = 2 (two subtrees), lookahead 1. Subtree 0 draws A (0.4) and B; B's greedy
 * continuation B+g scores 0.9 so B is kept (A is worse even though A alone scores higher
 * than B alone); subtree 1 draws C and D, D ends at EOS (no lookahead), ties with C+h at
 * 0.6 and C is kept (the first). Iteration 1: B expands to "\boxed{1}" (stops: boxed), C to
 * two steps; the last iteration (2) expands C's best to the end. */
static const rule_t DVTS_RULES[] = {
    {"", 0, M_STEP, "A\n\n", E_S},
    {"", 1, M_STEP, "B\n\n", E_S},
    {"", 2, M_STEP, "C\n\n", E_S},
    {"", 3, M_STEP, "D", E_EOS},
    {"A\n\n", 0, M_GREEDY, "f\n\n", E_S},
    {"B\n\n", 0, M_GREEDY, "g\n\n", E_S},
    {"C\n\n", 0, M_GREEDY, "h\n\n", E_S},
    {"B\n\n", 1, M_STEP, "\\boxed{1}\n\n", E_S},
    {"B\n\n", 2, M_STEP, "b2\n\n", E_S},
    {"B\n\n\\boxed{1}\n\n", 0, M_GREEDY, "k", E_EOS},
    {"B\n\nb2\n\n", 0, M_GREEDY, "m\n\n", E_S},
    {"C\n\n", 1, M_STEP, "c1\n\n", E_S},
    {"C\n\n", 2, M_STEP, "c2\n\n", E_S},
    {"C\n\nc1\n\n", 0, M_GREEDY, "n\n\n", E_S},
    {"C\n\nc2\n\n", 0, M_GREEDY, "o", E_EOS},
    {"C\n\nc2\n\n", 1, M_END, "e1", E_EOS},
    {"C\n\nc2\n\n", 2, M_END, "e2", E_EOS},
    {NULL, 0, 0, NULL, 0},
};
static const score_rule_t DVTS_SCORES[] = {
    {"A\n\nf\n\n", 0.4f},           {"B\n\ng\n\n", 0.9f},         {"C\n\nh\n\n", 0.6f},    {"D", 0.6f},
    {"B\n\n\\boxed{1}\n\nk", 0.8f}, {"B\n\nb2\n\nm\n\n", 0.3f},   {"C\n\nc1\n\nn\n\n", 0.2f},
    {"C\n\nc2\n\no", 0.7f},         {"C\n\nc2\n\ne1", 0.1f},      {"C\n\nc2\n\ne2", 0.3f}, {NULL, 0},
};

static void test_dvts_lookahead(void **st) {
    (void)st;
    script_t s = {.rules = DVTS_RULES, .scores = DVTS_SCORES};
    tts_search_ops_t o = ops_of(&s);
    tts_search_cfg_t c = {.method = TTS_SEARCH_DVTS, .n = 4, .width = 2, .max_iterations = 3, .lookahead = 1};
    tts_search_out_t out[1];
    assert_int_equal(tts_search_run(&c, &o, 1, out), 0);
    assert_int_equal(out[0].n_finals, 2);
    assert_string_equal(s.text[out[0].finals[0].node], "B\n\n\\boxed{1}\n\n");
    assert_float_equal(out[0].finals[0].score, 0.8f, 1e-6);
    assert_string_equal(s.text[out[0].finals[1].node], "C\n\nc2\n\ne2");
    assert_float_equal(out[0].finals[1].score, 0.3f, 1e-6);
    assert_int_equal(out[0].iterations, 3);
    /* the last iteration runs no lookahead: modes step, greedy, step, greedy, to-end */
    assert_int_equal(s.expands, 5);
    assert_int_equal(s.modes[4], M_END);
    release_finals(&s, out, 1);
}

/* Two problems in lockstep, and an expand that fails in the second iteration: an error,
 * and every node released exactly once. */
static void test_error_releases(void **st) {
    (void)st;
    for (int method = 0; method < 2; method++) {
        script_t s = {.rules = BEAM_RULES, .scores = BEAM_SCORES, .fail_at_expand = 2};
        tts_search_ops_t o = ops_of(&s);
        tts_search_cfg_t c = {.method = method, .n = 4, .width = method ? 4 : 2, .max_iterations = 3};
        tts_search_out_t out[1];
        assert_int_not_equal(tts_search_run(&c, &o, 1, out), 0);
        assert_int_equal(out[0].n_finals, 0);
        assert_int_equal(s.double_release, 0);
        assert_int_equal(n_alive(&s), 0);
    }
}

static void test_cfg(void **st) {
    (void)st;
    tts_search_cfg_t c = {.method = TTS_SEARCH_BEAM, .n = 6, .width = 4, .max_iterations = 3};
    assert_int_not_equal(tts_search_cfg_check(&c), 0);
    c.n = 2;
    assert_int_not_equal(tts_search_cfg_check(&c), 0);
    c.n = 8;
    assert_int_equal(tts_search_cfg_check(&c), 0);
    c.max_iterations = 0;
    assert_int_not_equal(tts_search_cfg_check(&c), 0);
    int m;
    assert_int_equal(tts_search_method_parse("dvts", &m), 0);
    assert_int_equal(m, TTS_SEARCH_DVTS);
    assert_int_not_equal(tts_search_method_parse("mcts", &m), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beam),           cmocka_unit_test(test_beam_duplicates),
        cmocka_unit_test(test_beam_early),     cmocka_unit_test(test_beam_ties),
        cmocka_unit_test(test_dvts_lookahead),
        cmocka_unit_test(test_error_releases), cmocka_unit_test(test_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
