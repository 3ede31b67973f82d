/* The test-time-scaling sweep's per-N metrics on hand-made tables with hand-computed
 * values: majority with ties (first cluster wins) and equivalent answers clustered,
 * best-of-N with an ORM (an abstaining sample can win), weighted majority with sigmoid
 * weights, pass@N equal to the unbiased estimator, tokens and FLOPs; --n parsing. */
#include "testutil.h"

#include "rewards/evalsum.h"
#include "tts/sweep.h"

/* Three problems of 4 samples each (see the expected values in the tests). */
static tts_sample_t T[12];

static void fill(void) {
    const char *ans[12] = {"3", "5", "5", "3", "7", "", "\\frac{1}{2}", "0.5", "4", "4", "9", "9"};
    int cor[12] = {0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0};
    float sc[12] = {2, -1, 0.5f, 0, -3, 5, 1, 1, -2, -2, 3, 3};
    long tok[12] = {10, 20, 30, 40, 1, 2, 3, 4, 5, 5, 5, 5};
    float prm[12] = {0.2f, 0.9f, 0.3f, 0.6f, 0.7f, 0.95f, 0.4f, 0.4f, 0.5f, 0.5f, 0.5f, 0.5f};
    for (int i = 0; i < 12; i++) T[i] = (tts_sample_t){ans[i], cor[i], sc[i], tok[i], tok[i] + 100, prm[i], tok[i] + 50};
}

static void test_picks(void **s) {
    (void)s;
    fill();
    int cl[4];
    /* A: "3" "5" "5" "3" */
    assert_int_equal(tts_cluster(T, 4, NULL, cl), 0);
    assert_int_equal(cl[0], 0), assert_int_equal(cl[1], 1), assert_int_equal(cl[2], 1), assert_int_equal(cl[3], 0);
    assert_int_equal(tts_pick_majority(cl, 1), 0);
    assert_int_equal(tts_pick_majority(cl, 2), 0); /* 1-1 tie: the cluster seen first */
    assert_int_equal(tts_pick_majority(cl, 3), 1); /* "5" twice */
    assert_int_equal(tts_pick_majority(cl, 4), 0); /* 2-2 tie */
    assert_int_equal(tts_pick_best(T, 4), 0);      /* score 2 */
    /* weighted @4: "3": s(2)+s(0) = 1.3808 > "5": s(-1)+s(0.5) = 0.8914 */
    assert_int_equal(tts_pick_weighted(T, cl, 4), 0);
    /* B: "7" "" "\frac{1}{2}" "0.5": the empty answer abstains, the last two are one cluster */
    assert_int_equal(tts_cluster(T + 4, 4, NULL, cl), 0);
    assert_int_equal(cl[0], 0), assert_int_equal(cl[1], -1), assert_int_equal(cl[2], 2), assert_int_equal(cl[3], 2);
    assert_int_equal(tts_pick_majority(cl, 2), 0);
    assert_int_equal(tts_pick_majority(cl, 4), 2);
    assert_int_equal(tts_pick_best(T + 4, 4), 1);         /* the abstaining sample has the top score */
    assert_int_equal(tts_pick_weighted(T + 4, cl, 4), 2); /* 2 s(1) = 1.4621 > s(-3) = 0.0474 */
    assert_int_equal(tts_pick_weighted(T + 4, cl, 2), 0);
    /* C: "4" "4" "9" "9" with the ORM preferring the wrong "9" */
    assert_int_equal(tts_cluster(T + 8, 4, NULL, cl), 0);
    assert_int_equal(tts_pick_majority(cl, 4), 0);        /* 2-2 tie: "4" first */
    assert_int_equal(tts_pick_best(T + 8, 2), 0);         /* equal scores: the earlier sample */
    assert_int_equal(tts_pick_best(T + 8, 4), 2);         /* 3 > -2; sample 3 ties sample 2 */
    assert_int_equal(tts_pick_weighted(T + 8, cl, 4), 2); /* 2 s(3) = 1.9051 > 2 s(-2) = 0.2384 */
    /* all abstain */
    tts_sample_t none[2] = {{NULL, 0, 0, 0, 0, 0, 0}, {"", 0, 0, 0, 0, 0, 0}};
    assert_int_equal(tts_cluster(none, 2, NULL, cl), 0);
    assert_int_equal(tts_pick_majority(cl, 2), -1);
    assert_int_equal(tts_pick_weighted(none, cl, 2), -1);
}

static void test_sweep(void **s) {
    (void)s;
    fill();
    int ns[3] = {1, 2, 4};
    tts_point_t p[3];
    tts_sweep_cfg_t c = {.n_problems = 3, .n_max = 4, .scored = 1, .policy_params = 1000, .orm_params = 10};
    assert_int_equal(tts_sweep(&c, T, ns, 3, NULL, p), 0);
    const double third = 1.0 / 3;
    double pass[3] = {0.5, 5.0 / 6, 1}, maj[3] = {third, third, 2 * third}, bon[3] = {third, third, 0},
           wm[3] = {third, third, third};
    long tok[3] = {16, 43, 130}, otok[3] = {316, 643, 1330};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(p[k].n, ns[k]);
        assert_true(fabs(p[k].pass - pass[k]) < 1e-12);
        assert_true(fabs(p[k].pass - rlc_pass_at_k(4, 2, ns[k])) < 1e-12); /* each problem has 2 of 4 correct */
        assert_true(fabs(p[k].maj - maj[k]) < 1e-12);
        assert_true(fabs(p[k].best_of_n - bon[k]) < 1e-12);
        assert_true(fabs(p[k].weighted - wm[k]) < 1e-12);
        assert_int_equal(p[k].tokens, tok[k]);
        assert_int_equal(p[k].orm_tokens, otok[k]);
        assert_true(fabs(p[k].flops - (2000.0 * tok[k] + 20.0 * otok[k])) < 1e-6);
    }
    assert_true(fabs(p[0].flops - 38320) < 1e-6);
    /* without scores: no ORM methods, policy FLOPs only */
    c.scored = 0;
    assert_int_equal(tts_sweep(&c, T, ns, 3, NULL, p), 0);
    assert_true(isnan(p[2].best_of_n) && isnan(p[2].weighted));
    assert_true(fabs(p[2].maj - 2 * third) < 1e-12);
    assert_true(fabs(p[2].flops - 2000.0 * 130) < 1e-6);
    cJSON *j = tts_sweep_json(&c, p, 3);
    assert_non_null(j);
    cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "points"), 2);
    assert_null(cJSON_GetObjectItem(pt, "best_of_n"));
    assert_true(fabs(cJSON_GetObjectItem(pt, "majority")->valuedouble - 2 * third) < 1e-12);
    cJSON_Delete(j);
    char *md = tts_sweep_markdown(&c, p, 3);
    assert_non_null(strstr(md, "| N | pass@N | majority@N |"));
    assert_null(strstr(md, "best-of-N"));
    assert_non_null(strstr(md, "| 4 | 1.0000 | 0.6667 |"));
    free(md);
    c.scored = 1;
    assert_int_equal(tts_sweep(&c, T, ns, 3, NULL, p), 0);
    char *svg = tts_sweep_svg(&c, p, 3);
    assert_true(!strncmp(svg, "<?xml", 5));
    assert_non_null(strstr(svg, "weighted maj@N (ORM)"));
    assert_string_equal(svg + strlen(svg) - 7, "</svg>\n");
    free(svg);
    /* N beyond the samples */
    int bad[1] = {5};
    assert_int_not_equal(tts_sweep(&c, T, bad, 1, NULL, p), 0);
}

/* The PRM column: A prm {0.2, 0.9, 0.3, 0.6}, B {0.7, 0.95, 0.4, 0.4}, C all 0.5. */
static void test_prm_picks(void **s) {
    (void)s;
    fill();
    int cl[4];
    assert_int_equal(tts_cluster(T, 4, NULL, cl), 0);
    assert_int_equal(tts_pick_best_col(T, 4, TTS_COL_PRM), 1);        /* 0.9 */
    assert_int_equal(tts_pick_weighted_col(T, cl, 4, TTS_COL_PRM), 1); /* "5": 0.9 + 0.3 = 1.2 > "3": 0.8 */
    assert_int_equal(tts_pick_weighted_col(T, cl, 1, TTS_COL_PRM), 0);
    assert_int_equal(tts_pick_best_col(T, 4, TTS_COL_ORM), tts_pick_best(T, 4)); /* the ORM column is the old pick */
    assert_int_equal(tts_cluster(T + 4, 4, NULL, cl), 0);
    assert_int_equal(tts_pick_best_col(T + 4, 4, TTS_COL_PRM), 1);        /* the abstaining sample: 0.95 */
    assert_int_equal(tts_pick_weighted_col(T + 4, cl, 4, TTS_COL_PRM), 2); /* 0.4 + 0.4 = 0.8 > "7": 0.7 */
    assert_int_equal(tts_pick_weighted_col(T + 4, cl, 2, TTS_COL_PRM), 0); /* only "7" votes */
    assert_int_equal(tts_cluster(T + 8, 4, NULL, cl), 0);
    assert_int_equal(tts_pick_best_col(T + 8, 4, TTS_COL_PRM), 0);        /* all equal: the earliest */
    assert_int_equal(tts_pick_weighted_col(T + 8, cl, 4, TTS_COL_PRM), 0); /* 1.0 - 1.0: the cluster seen first */
    int ns[3] = {1, 2, 4};
    tts_point_t p[3];
    tts_sweep_cfg_t c = {.n_problems = 3, .n_max = 4, .scored = 1, .policy_params = 1000, .orm_params = 10,
                         .prm_scored = 1, .prm_params = 5, .prm_format = "generic", .prm_agg = "min"};
    assert_int_equal(tts_sweep(&c, T, ns, 3, NULL, p), 0);
    const double third = 1.0 / 3;
    double pb[3] = {third, 2 * third, 2 * third}, pw[3] = {third, 2 * third, 1}, bon[3] = {third, third, 0};
    long tok[3] = {16, 43, 130}, otok[3] = {316, 643, 1330}, ptok[3] = {166, 343, 730};
    for (int k = 0; k < 3; k++) {
        assert_true(fabs(p[k].prm_best - pb[k]) < 1e-12);
        assert_true(fabs(p[k].prm_weighted - pw[k]) < 1e-12);
        assert_true(fabs(p[k].best_of_n - bon[k]) < 1e-12); /* the ORM methods are unchanged */
        assert_int_equal(p[k].prm_tokens, ptok[k]);
        assert_true(fabs(p[k].flops - (2000.0 * tok[k] + 20.0 * otok[k] + 10.0 * ptok[k])) < 1e-6);
    }
    cJSON *j = tts_sweep_json(&c, p, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "prm")));
    assert_string_equal(cJSON_GetObjectItem(j, "prm_format")->valuestring, "generic");
    assert_string_equal(cJSON_GetObjectItem(j, "prm_agg")->valuestring, "min");
    cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "points"), 2);
    assert_true(fabs(cJSON_GetObjectItem(pt, "prm_weighted_majority")->valuedouble - 1) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(pt, "prm_best_of_n")->valuedouble - 2 * third) < 1e-12);
    assert_int_equal(cJSON_GetObjectItem(pt, "prm_tokens")->valueint, 730);
    cJSON_Delete(j);
    char *md = tts_sweep_markdown(&c, p, 3);
    assert_non_null(strstr(md, "| N | pass@N | majority@N | best-of-N | weighted maj@N | PRM best-of-N | "
                               "PRM weighted maj@N | tokens | FLOPs |"));
    assert_non_null(strstr(md, "| 4 | 1.0000 | 0.6667 | 0.0000 | 0.3333 | 0.6667 | 1.0000 |"));
    free(md);
    char *svg = tts_sweep_svg(&c, p, 3);
    assert_non_null(strstr(svg, "weighted maj@N (PRM)"));
    free(svg);
    /* a PRM without an ORM: no ORM columns, the PRM ones */
    c.scored = 0;
    assert_int_equal(tts_sweep(&c, T, ns, 3, NULL, p), 0);
    assert_true(isnan(p[0].best_of_n));
    assert_true(fabs(p[2].prm_weighted - 1) < 1e-12);
    assert_true(fabs(p[2].flops - (2000.0 * 130 + 10.0 * 730)) < 1e-6);
    md = tts_sweep_markdown(&c, p, 3);
    assert_non_null(strstr(md, "| N | pass@N | majority@N | PRM best-of-N | PRM weighted maj@N | tokens |"));
    free(md);
    j = tts_sweep_json(&c, p, 3);
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "points"), 0), "best_of_n"));
    cJSON_Delete(j);
}

static void test_split_steps(void **s) {
    (void)s;
    size_t st[8], en[8];
#define SPLIT(txt) rlc_split_steps(txt, strlen(txt), st, en, 8)
    assert_int_equal(SPLIT("a\n\nb"), 2);
    assert_true(st[0] == 0 && en[0] == 1 && st[1] == 3 && en[1] == 4);
    assert_int_equal(SPLIT("Step 1.\n\nStep 2.\n\n"), 2); /* the trailing separator opens no step */
    assert_true(st[0] == 0 && en[0] == 7 && st[1] == 9 && en[1] == 16);
    /* leading separator and an empty piece are dropped; trailing whitespace stays in the step */
    assert_int_equal(SPLIT("\n\nx\n\n\n\ny \n"), 2);
    assert_true(st[0] == 2 && en[0] == 3 && st[1] == 7 && en[1] == 10);
    /* three newlines: the separator is the first two, the third starts the next step */
    assert_int_equal(SPLIT("a\n\n\nb"), 2);
    assert_true(en[0] == 1 && st[1] == 3 && en[1] == 5);
    assert_int_equal(SPLIT("abc"), 1);
    assert_true(st[0] == 0 && en[0] == 3);
    assert_int_equal(SPLIT("a\nb"), 1); /* a single newline does not split */
    assert_int_equal(SPLIT(""), 0);
    assert_int_equal(SPLIT(" \n\n\t\n"), 0);
#undef SPLIT
    /* the count is exact when cap is smaller; NULL arrays with cap 0 only count */
    assert_int_equal(rlc_split_steps("a\n\nb\n\nc", 7, NULL, en, 1), 3);
    assert_int_equal(en[0], 1);
    assert_int_equal(rlc_split_steps("a\n\nb\n\nc", 7, NULL, NULL, 0), 3);
    /* a length shorter than the string: only those bytes */
    assert_int_equal(rlc_split_steps("a\n\nb", 3, st, en, 8), 1);
    assert_int_equal(en[0], 1);
    assert_int_equal(rlc_split_steps("a\n\nb", 2, st, en, 8), 1); /* "a\n": no separator, the newline stays */
    assert_int_equal(en[0], 2);
    /* step ends to tokens: token t ends at tok_end[t] */
    size_t tok_end[4] = {2, 5, 5, 9}, ends[5] = {1, 5, 6, 9, 10};
    int pos[5];
    rlc_step_token_pos(tok_end, 4, ends, 5, pos);
    assert_int_equal(pos[0], 0);  /* token 0 (bytes 0-1) completes byte offset 1 */
    assert_int_equal(pos[1], 1);  /* the first token reaching 5, not the empty token 2 */
    assert_int_equal(pos[2], 3);
    assert_int_equal(pos[3], 3);
    assert_int_equal(pos[4], -1); /* beyond the tokens */
}

static void test_aggregate(void **s) {
    (void)s;
    const float sc[3] = {0.9f, 0.5f, 0.8f};
    assert_true(fabs(rlc_step_aggregate(sc, 3, RLC_STEP_AGG_LAST) - 0.8f) < 1e-7);
    assert_true(fabs(rlc_step_aggregate(sc, 3, RLC_STEP_AGG_MIN) - 0.5f) < 1e-7);
    assert_true(fabs(rlc_step_aggregate(sc, 3, RLC_STEP_AGG_PROD) - 0.36) < 1e-6);
    assert_true(fabs(rlc_step_aggregate(sc, 3, RLC_STEP_AGG_MEAN) - 2.2 / 3) < 1e-6);
    assert_true(fabs(rlc_step_aggregate(sc, 1, RLC_STEP_AGG_PROD) - 0.9f) < 1e-7);
    for (int a = 0; a < 4; a++) assert_true(rlc_step_aggregate(sc, 0, (rlc_step_agg_t)a) == 0); /* no step: 0 */
    rlc_step_agg_t a;
    const char *names[4] = {"last", "min", "prod", "mean"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rlc_step_agg_from_name(names[i], &a), 0);
        assert_int_equal(a, i);
        assert_string_equal(rlc_step_agg_name(a), names[i]);
    }
    assert_int_not_equal(rlc_step_agg_from_name("max", &a), 0);
    assert_int_not_equal(rlc_step_agg_from_name("", &a), 0);
    assert_int_not_equal(rlc_step_agg_from_name(NULL, &a), 0);
}

static void test_parse_ns(void **s) {
    (void)s;
    int *ns, n;
    assert_int_equal(tts_parse_ns("1,2,4,8", &ns, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(ns[3], 8);
    free(ns);
    assert_int_equal(tts_parse_ns("3", &ns, &n), 0);
    assert_int_equal(n, 1);
    free(ns);
    const char *bad[] = {"", "0", "2,1", "1,,2", "1,2,", "a", "1,2x", "-1", "4097", "2,2"};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        assert_int_not_equal(tts_parse_ns(bad[i], &ns, &n), 0);
        assert_null(ns);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_picks),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_parse_ns),
        cmocka_unit_test(test_prm_picks),
        cmocka_unit_test(test_split_steps),
        cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
