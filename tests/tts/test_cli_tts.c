/* `rlc tts` end to end on the tiny fixture model: a sweep over N = 1,2,4 with an outcome
 * reward model made by `rlc init-model` (the qwen2-score fixture's head fits, 1 label, but
 * its vocabulary of 256 cannot read qwen2-tiny's token ids: that is checked as an error);
 * the JSON summary agrees with its per-sample records; the same run with a generic process
 * reward model (another `rlc init-model` 1-label score head) scoring steps, and a
 * math-shepherd run with qwen2-tiny itself as the PRM (an LM: its scores mean nothing, the
 * checks are consistency: scores in [0, 1], aggregates of the step scores, PRM best-of-1 =
 * first-sample accuracy, tokens and FLOPs); bad input gives one error line, a non-zero
 * exit and no output files. */
#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"



static int exists(const char *p) { return access(p, F_OK) == 0; }

static void test_tts(void **s) {
    (void)s;
    char *d = test_tmpdir();
    char *data = fs_join(d, "d.jsonl"), *orm_cfg = fs_join(d, "orm.json"), *orm = fs_join(d, "orm");
    char *js = fs_join(d, "s.json"), *svg = fs_join(d, "p.svg"), *prm = fs_join(d, "prm");
    test_write_sum_problems(data, 4);
    /* the ORM: qwen2-tiny's architecture with a 1-label token-classification head */
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    assert_non_null(cfg);
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    char *txt = cJSON_Print(cfg);
    assert_int_equal(fs_write_atomic(orm_cfg, txt, strlen(txt)), 0);
    free(txt);
    cJSON_Delete(cfg);
    char log[8192];
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --seed 7", rlc_bin(), orm_cfg, orm))
        fail_msg("init-model: %s", log);
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --seed 11", rlc_bin(), orm_cfg, prm))
        fail_msg("init-model: %s", log);
    const char *model = fixture("models/qwen2-tiny");
    if (test_run(log, sizeof log,
                 "%s tts --model %s --data %s --n 1,2,4 --max-new-tokens 12 --temperature 1 --seed 3 --orm %s "
                 "--prm %s --prm-format generic --prm-agg min --out %s --plot %s",
                 rlc_bin(), model, data, orm, prm, js, svg))
        fail_msg("tts: %s", log);
    assert_non_null(strstr(log, "| N | pass@N | majority@N | best-of-N | weighted maj@N | PRM best-of-N | "
                                "PRM weighted maj@N | tokens | FLOPs |"));
    cJSON *j = rlc_json_load_file(js);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "problems")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(j, "n_max")->valueint, 4);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "orm")));
    double pp = cJSON_GetObjectItem(j, "policy_params")->valuedouble, op = cJSON_GetObjectItem(j, "orm_params")->valuedouble;
    assert_true(pp > 0 && op > 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "prm")));
    assert_string_equal(cJSON_GetObjectItem(j, "prm_format")->valuestring, "generic");
    assert_string_equal(cJSON_GetObjectItem(j, "prm_agg")->valuestring, "min");
    double prp = cJSON_GetObjectItem(j, "prm_params")->valuedouble;
    assert_true(prp > 0);
    /* per-sample records: sums over the first N samples, first-sample accuracy, mean correctness */
    const cJSON *items = cJSON_GetObjectItem(j, "items");
    assert_int_equal(cJSON_GetArraySize(items), 4);
    long tok[3] = {0}, otok[3] = {0}, ptok[3] = {0};
    const int ns[3] = {1, 2, 4};
    double first = 0, mean = 0;
    for (const cJSON *it = items->child; it; it = it->next) {
        const cJSON *ss = cJSON_GetObjectItem(it, "samples");
        int pl = cJSON_GetObjectItem(it, "prompt_tokens")->valueint;
        assert_int_equal(cJSON_GetArraySize(ss), 4);
        int i = 0;
        for (const cJSON *x = ss->child; x; x = x->next, i++) {
            int t = cJSON_GetObjectItem(x, "tokens")->valueint, c = cJSON_IsTrue(cJSON_GetObjectItem(x, "correct"));
            assert_true(t >= 1 && t <= 12);
            assert_true(cJSON_IsNumber(cJSON_GetObjectItem(x, "score")));
            /* generic PRM: sigmoid scores per step, their minimum, prompt + completion read once */
            const cJSON *st = cJSON_GetObjectItem(x, "prm_steps");
            double ps = cJSON_GetObjectItem(x, "prm_score")->valuedouble, mn = 0;
            int pt = cJSON_GetObjectItem(x, "prm_tokens")->valueint, nst = cJSON_GetArraySize(st);
            for (const cJSON *v = st ? st->child : NULL; v; v = v->next) {
                assert_true(v->valuedouble > 0 && v->valuedouble < 1);
                if (v == st->child || v->valuedouble < mn) mn = v->valuedouble;
            }
            assert_true(fabs(ps - mn) < 1e-6);
            assert_int_equal(pt, nst ? pl + t : 0);
            for (int k = 0; k < 3; k++)
                if (i < ns[k]) tok[k] += t, otok[k] += pl + t, ptok[k] += pt;
            if (i == 0) first += c;
            mean += c;
        }
    }
    const cJSON *pts = cJSON_GetObjectItem(j, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 3);
    double prev = -1;
    for (int k = 0; k < 3; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        double pass = cJSON_GetObjectItem(p, "pass")->valuedouble;
        assert_int_equal(cJSON_GetObjectItem(p, "n")->valueint, ns[k]);
        assert_true(pass >= prev - 1e-12 && pass <= 1); /* pass@N non-decreasing in N */
        prev = pass;
        const char *acc[] = {"majority", "best_of_n", "weighted_majority", "prm_best_of_n", "prm_weighted_majority"};
        for (int m = 0; m < 5; m++) {
            double v = cJSON_GetObjectItem(p, acc[m])->valuedouble;
            assert_true(v >= 0 && v <= 1);
            if (k == 0) assert_true(fabs(v - first / 4) < 1e-12); /* @1 all pick the first sample */
            if (k == 2) assert_true(v <= pass + 1e-12);           /* a pick is right only if some sample is */
        }
        if (k == 0) assert_true(fabs(pass - mean / 16) < 1e-12); /* pass@1 = mean correctness */
        assert_int_equal((long)cJSON_GetObjectItem(p, "tokens")->valuedouble, tok[k]);
        assert_int_equal((long)cJSON_GetObjectItem(p, "orm_tokens")->valuedouble, otok[k]);
        assert_int_equal((long)cJSON_GetObjectItem(p, "prm_tokens")->valuedouble, ptok[k]);
        double fl = cJSON_GetObjectItem(p, "flops")->valuedouble;
        assert_true(fabs(fl - (2 * pp * tok[k] + 2 * op * otok[k] + 2 * prp * ptok[k])) < 1e-6 * fl);
    }
    cJSON_Delete(j);
    /* math-shepherd with qwen2-tiny as the PRM (its own tokenizer has "+" and "-"), prod */
    if (test_run(log, sizeof log,
                 "%s tts --model %s --data %s --n 1,2 --max-new-tokens 24 --temperature 1 --seed 5 --prm %s "
                 "--prm-format math-shepherd --prm-agg prod --out %s",
                 rlc_bin(), model, data, model, js))
        fail_msg("tts math-shepherd: %s", log);
    assert_non_null(strstr(log, "| N | pass@N | majority@N | PRM best-of-N | PRM weighted maj@N | tokens | FLOPs |"));
    assert_non_null(j = rlc_json_load_file(js));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "orm")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "prm")));
    assert_string_equal(cJSON_GetObjectItem(j, "prm_format")->valuestring, "math-shepherd");
    assert_string_equal(cJSON_GetObjectItem(j, "prm_agg")->valuestring, "prod");
    first = 0;
    int steps = 0;
    for (const cJSON *it = cJSON_GetObjectItem(j, "items")->child; it; it = it->next) {
        int i = 0;
        for (const cJSON *x = cJSON_GetObjectItem(it, "samples")->child; x; x = x->next, i++) {
            const cJSON *st = cJSON_GetObjectItem(x, "prm_steps");
            assert_true(cJSON_IsArray(st));
            double prod = cJSON_GetArraySize(st) ? 1 : 0;
            for (const cJSON *v = st->child; v; v = v->next, steps++) {
                assert_true(v->valuedouble >= 0 && v->valuedouble <= 1);
                prod *= v->valuedouble;
            }
            double ps = cJSON_GetObjectItem(x, "prm_score")->valuedouble;
            assert_true(ps >= 0 && ps <= 1 && fabs(ps - prod) < 1e-6);
            /* the PRM reads its own tokenization of problem + tagged steps */
            assert_true(cJSON_GetArraySize(st) ? cJSON_GetObjectItem(x, "prm_tokens")->valueint > 0
                                               : cJSON_GetObjectItem(x, "prm_tokens")->valueint == 0);
            if (i == 0) first += cJSON_IsTrue(cJSON_GetObjectItem(x, "correct"));
        }
    }
    assert_true(steps > 0);
    pts = cJSON_GetObjectItem(j, "points");
    const cJSON *p1 = cJSON_GetArrayItem(pts, 0);
    assert_true(fabs(cJSON_GetObjectItem(p1, "prm_best_of_n")->valuedouble - first / 4) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(p1, "prm_weighted_majority")->valuedouble - first / 4) < 1e-12);
    for (int k = 0; k < 2; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        double v = cJSON_GetObjectItem(p, "prm_best_of_n")->valuedouble;
        assert_true(v >= 0 && v <= 1);
        assert_null(cJSON_GetObjectItem(p, "best_of_n"));
    }
    cJSON_Delete(j);
    unlink(js);
    char *sv = NULL;
    size_t svn = 0;
    assert_int_equal(fs_read_all(svg, &sv, &svn), 0);
    assert_true(svn > 100 && !strncmp(sv, "<?xml", 5) && strstr(sv, "</svg>"));
    free(sv);
    /* without an ORM: no ORM columns */
    if (test_run(log, sizeof log, "%s tts --model %s --data %s --n 2 --max-new-tokens 4", rlc_bin(), model, data))
        fail_msg("tts: %s", log);
    assert_non_null(strstr(log, "| N | pass@N | majority@N | tokens | FLOPs |"));
    /* bad input: one line, non-zero exit, no output written */
    unlink(js), unlink(svg);
    char *bad = fs_join(d, "bad.jsonl");
    FILE *f = fopen(bad, "w");
    fprintf(f, "{\"problem\": \"Compute 1 + 1.\", \"answer\": \"2\"}\n{\"problem\": broken\n");
    fclose(f);
    const char *outs = "--out %s --plot %s";
    char o[2048];
    snprintf(o, sizeof o, outs, js, svg);
    test_expect_cli_error("bad.jsonl:2", "%s tts --model %s --data %s --strict --max-new-tokens 4 %s", rlc_bin(), model, bad, o);
    test_expect_cli_error("--n must be", "%s tts --model %s --data %s --n 0 %s", rlc_bin(), model, data, o);
    test_expect_cli_error("--n must be", "%s tts --model %s --data %s --n 4,2 %s", rlc_bin(), model, data, o);
    test_expect_cli_error("unknown option '--bogus'", "%s tts --model %s --data %s --bogus %s", rlc_bin(), model, data, o);
    test_expect_cli_error("does not exist", "%s tts --model %s/missing --data %s %s", rlc_bin(), d, data, o);
    test_expect_cli_error("1 label", "%s tts --model %s --data %s --orm %s --max-new-tokens 4 %s", rlc_bin(), model, data,
                 model, o);
    test_expect_cli_error("out of range (vocab size 256)", "%s tts --model %s --data %s --orm %s --max-new-tokens 4 %s",
                 rlc_bin(), model, data, fixture("models/qwen2-score"), o);
    /* PRM options */
    test_expect_cli_error("--prm-format must be generic, math-shepherd, qwen or skywork",
                          "%s tts --model %s --data %s --prm %s --prm-format bogus %s", rlc_bin(), model, data, prm, o);
    test_expect_cli_error("--prm-agg must be last, min, prod or mean",
                          "%s tts --model %s --data %s --prm %s --prm-agg max %s", rlc_bin(), model, data, prm, o);
    test_expect_cli_error("expects a Qwen2ForProcessRewardModel checkpoint",
                          "%s tts --model %s --data %s --prm %s --prm-format qwen-prm %s", rlc_bin(), model, data, prm, o);
    test_expect_cli_error("need --prm", "%s tts --model %s --data %s --prm-agg min %s", rlc_bin(), model, data, o);
    test_expect_cli_error("needs a score head with 1 label (it has 0)",
                          "%s tts --model %s --data %s --prm %s --max-new-tokens 4 %s", rlc_bin(), model, data, model, o);
    test_expect_cli_error("needs a language-model head", "%s tts --model %s --data %s --prm %s --prm-format math-shepherd "
                          "--max-new-tokens 4 %s", rlc_bin(), model, data, prm, o);
    test_expect_cli_error("out of range (vocab size 256)", "%s tts --model %s --data %s --prm %s --max-new-tokens 4 %s",
                          rlc_bin(), model, data, fixture("models/qwen2-score"), o);
    /* math-shepherd whose tokenizer has no "+" token: qwen2-tiny with "+" taken out of the vocabulary */
    char *ms = fs_join(d, "noplus");
    snprintf(log, sizeof log, "mkdir -p %s && cp %s/config.json %s/model.safetensors %s/", ms, model, model, ms);
    assert_int_equal(system(log), 0);
    cJSON *tj = rlc_json_load_file(fixture("models/qwen2-tiny/tokenizer.json"));
    assert_non_null(tj);
    cJSON *tm = cJSON_GetObjectItem(tj, "model"), *merges = cJSON_GetObjectItem(tm, "merges");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(tm, "vocab"), "+");
    for (int m = cJSON_GetArraySize(merges) - 1; m >= 0; m--) {
        cJSON *mg = cJSON_GetArrayItem(merges, m);
        int has = 0;
        for (const cJSON *q = mg->child; q; q = q->next) has |= cJSON_IsString(q) && !strcmp(q->valuestring, "+");
        if (cJSON_IsString(mg)) has = strstr(mg->valuestring, "+") != NULL;
        if (has) cJSON_DeleteItemFromArray(merges, m);
    }
    char *tpath = fs_join(ms, "tokenizer.json");
    txt = cJSON_PrintUnformatted(tj);
    assert_int_equal(fs_write_atomic(tpath, txt, strlen(txt)), 0);
    free(txt), free(tpath);
    cJSON_Delete(tj);
    test_expect_cli_error("\"+\" is not a single token", "%s tts --model %s --data %s --prm %s --prm-format math-shepherd "
                          "--max-new-tokens 4 %s", rlc_bin(), model, data, ms, o);
    free(ms);
    assert_false(exists(js));
    assert_false(exists(svg));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(bad), free(data), free(orm_cfg), free(orm), free(prm), free(js), free(svg), free(d);
}

/* `rlc score`: a generic PRM's per-step scores as JSON (the steps of the solution, each score
 * in (0, 1), the aggregates consistent with them), the same through --jsonl, an outcome
 * model's one score, and clear errors for a missing tokenizer or a bad row. */
static void test_score(void **s) {
    (void)s;
    char *d = test_tmpdir(), *cfgp = fs_join(d, "prm.json"), *prm = fs_join(d, "prm"), *rows = fs_join(d, "r.jsonl");
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    char *txt = cJSON_Print(cfg), out[16384];
    assert_int_equal(fs_write_atomic(cfgp, txt, strlen(txt)), 0);
    free(txt);
    cJSON_Delete(cfg);
    if (test_run(out, sizeof out, "%s init-model --config %s --out %s --seed 5", rlc_bin(), cfgp, prm)) fail_msg("%s", out);
    const char *tk = fixture("models/qwen2-tiny");
    if (test_run_stdout(out, sizeof out, "%s score --model %s --tokenizer %s --problem 'Add 1 and 1.' --solution \"$(printf "
                 "'It is 2.\\n\\nSo 2.\\n\\nDone.')\"",
                 rlc_bin(), prm, tk))
        fail_msg("score: %s", out);
    cJSON *j = cJSON_Parse(out);
    if (!j) fail_msg("not JSON: %s", out);
    const cJSON *steps = cJSON_GetObjectItem(j, "steps"), *ag = cJSON_GetObjectItem(j, "aggregate");
    assert_int_equal(cJSON_GetArraySize(steps), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(steps, 1), "text")->valuestring, "So 2.");
    double prod = 1, mn = 1, sum = 0, last = 0;
    for (int k = 0; k < 3; k++) {
        double v = cJSON_GetObjectItem(cJSON_GetArrayItem(steps, k), "score")->valuedouble;
        assert_true(v > 0 && v < 1);
        prod *= v, sum += v, last = v, mn = v < mn ? v : mn;
    }
    assert_true(fabs(cJSON_GetObjectItem(ag, "prod")->valuedouble - prod) < 1e-6);
    assert_true(fabs(cJSON_GetObjectItem(ag, "mean")->valuedouble - sum / 3) < 1e-6);
    assert_true(fabs(cJSON_GetObjectItem(ag, "min")->valuedouble - mn) < 1e-6);
    assert_true(fabs(cJSON_GetObjectItem(ag, "last")->valuedouble - last) < 1e-6);
    /* --jsonl: one line per row, the same scores for the same text */
    FILE *f = fopen(rows, "w");
    fprintf(f, "{\"problem\": \"Add 1 and 1.\", \"solution\": \"It is 2.\\n\\nSo 2.\\n\\nDone.\"}\n"
               "{\"prompt\": \"Q\", \"completion\": \"A\"}\n");
    fclose(f);
    if (test_run_stdout(out, sizeof out, "%s score --model %s --tokenizer %s --jsonl %s", rlc_bin(), prm, tk, rows))
        fail_msg("score --jsonl: %s", out);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = 0;
    cJSON *j2 = cJSON_Parse(out);
    assert_non_null(j2);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j2, "aggregate"), "last")->valuedouble == last);
    assert_non_null(strstr(nl + 1, "\"steps\""));
    cJSON_Delete(j2);
    if (test_run_stdout(out, sizeof out, "%s score --model %s --outcome --tokenizer %s --problem Q --solution A", rlc_bin(), prm, tk))
        fail_msg("score --outcome: %s", out);
    assert_non_null(strstr(out, "\"score\""));
    test_expect_cli_error("--tokenizer", "%s score --model %s --problem Q --solution A", rlc_bin(), prm);
    f = fopen(rows, "w");
    fprintf(f, "{\"problem\": \"Q\"}\n");
    fclose(f);
    test_expect_cli_error("needs a problem", "%s score --model %s --tokenizer %s --jsonl %s", rlc_bin(), prm, tk, rows);
    cJSON_Delete(j);
    fs_rm_rf(d);
    free(d), free(cfgp), free(prm), free(rows);
}

/* `rlc tts --method beam,dvts`: one search point per method and usable N (multiples of the
 * beam width), accuracies in [0, 1], FLOPs from the policy's and the PRM's tokens, a plot
 * with the search curves, the same numbers from the same seed, and errors for a search
 * without a PRM, without a usable N, or an unknown method. */
static void test_search(void **s) {
    (void)s;
    char *d = test_tmpdir(), *data = fs_join(d, "d.jsonl"), *cfgp = fs_join(d, "prm.json"), *prm = fs_join(d, "prm");
    char *js = fs_join(d, "s.json"), *js2 = fs_join(d, "s2.json"), *svg = fs_join(d, "p.svg");
    test_write_sum_problems(data, 3);
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    char *txt = cJSON_Print(cfg), log[16384];
    assert_int_equal(fs_write_atomic(cfgp, txt, strlen(txt)), 0);
    free(txt);
    cJSON_Delete(cfg);
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --seed 9", rlc_bin(), cfgp, prm)) fail_msg("%s", log);
    const char *model = fixture("models/qwen2-tiny");
    /* steps end at a space, so that the random tiny policy makes many of them */
    const char *args = "tts --model %s --data %s --prm %s --method beam,dvts --n 1,2,4 --beam-width 2 "
                       "--max-iterations 4 --lookahead 1 --step-delimiter ' ' --max-new-tokens 20 --seed 4";
    char fmt[1024];
    snprintf(fmt, sizeof fmt, "%%s %s --out %%s --plot %%s", args);
    if (test_run(log, sizeof log, fmt, rlc_bin(), model, data, prm, js, svg)) fail_msg("tts search: %s", log);
    assert_non_null(strstr(log, "| method | N | best score | PRM-weighted maj | majority |"));
    assert_null(strstr(log, "| N | pass@N |")); /* no sampling sweep asked for */
    snprintf(fmt, sizeof fmt, "%%s %s --out %%s", args);
    if (test_run(log, sizeof log, fmt, rlc_bin(), model, data, prm, js2)) fail_msg("tts search: %s", log);
    cJSON *j = rlc_json_load_file(js), *j2 = rlc_json_load_file(js2);
    assert_non_null(j), assert_non_null(j2);
    double pp = cJSON_GetObjectItem(j, "policy_params")->valuedouble, prp = cJSON_GetObjectItem(j, "prm_params")->valuedouble;
    const cJSON *se = cJSON_GetObjectItem(j, "search"), *se2 = cJSON_GetObjectItem(j2, "search");
    assert_int_equal(cJSON_GetArraySize(se), 4); /* beam and dvts at N = 2, 4 */
    const char *meth[4] = {"beam", "beam", "dvts", "dvts"};
    const int ns[4] = {2, 4, 2, 4};
    for (int k = 0; k < 4; k++) {
        const cJSON *p = cJSON_GetArrayItem(se, k), *p2 = cJSON_GetArrayItem(se2, k);
        assert_string_equal(cJSON_GetObjectItem(p, "method")->valuestring, meth[k]);
        assert_int_equal(cJSON_GetObjectItem(p, "n")->valueint, ns[k]);
        const char *acc[3] = {"best", "weighted_majority", "majority"};
        for (int m = 0; m < 3; m++) {
            double v = cJSON_GetObjectItem(p, acc[m])->valuedouble;
            assert_true(v >= 0 && v <= 1);
            assert_true(v == cJSON_GetObjectItem(p2, acc[m])->valuedouble); /* same seed, same result */
        }
        double t = cJSON_GetObjectItem(p, "tokens")->valuedouble, pt = cJSON_GetObjectItem(p, "prm_tokens")->valuedouble;
        double it = cJSON_GetObjectItem(p, "iterations")->valuedouble;
        assert_true(t >= ns[k] * 3 && pt > 0);            /* at least one token per beam and problem */
        assert_true(it >= 1 && it <= 4);
        assert_true(t == cJSON_GetObjectItem(p2, "tokens")->valuedouble);
        double fl = cJSON_GetObjectItem(p, "flops")->valuedouble;
        assert_true(fabs(fl - (2 * pp * t + 2 * prp * pt)) < 1e-6 * fl);
        double pf = cJSON_GetObjectItem(p, "policy_flops")->valuedouble, rf = cJSON_GetObjectItem(p, "prm_flops")->valuedouble;
        assert_true(fabs(pf - 2 * pp * t) < 1e-6 * fl && fabs(rf - 2 * prp * pt) < 1e-6 * fl);
    }
    cJSON_Delete(j), cJSON_Delete(j2);
    char *sv = NULL;
    size_t svn = 0;
    assert_int_equal(fs_read_all(svg, &sv, &svn), 0);
    assert_non_null(strstr(sv, "beam: best"));
    assert_non_null(strstr(sv, "DVTS: weighted"));
    free(sv);
    unlink(js), unlink(svg);
    char o[2048];
    snprintf(o, sizeof o, "--out %s --plot %s", js, svg);
    /* DVTS guided by a Qwen2.5-Math-PRM-layout checkpoint (its own tokenizer and chat layout) */
    if (test_run(log, sizeof log,
                 "%s tts --model %s --data %s --prm %s --prm-format qwen --method dvts --n 4 --beam-width 2 "
                 "--max-iterations 3 --step-delimiter ' ' --max-new-tokens 16 --out %s",
                 rlc_bin(), model, data, fixture("models/qwen-prm-tiny"), js))
        fail_msg("tts qwen prm: %s", log);
    assert_non_null(j = rlc_json_load_file(js));
    assert_string_equal(cJSON_GetObjectItem(j, "prm_format")->valuestring, "qwen");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "search")), 1);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "search"), 0), "prm_tokens")->valuedouble > 0);
    cJSON_Delete(j);
    unlink(js);
    test_expect_cli_error("need a process reward model", "%s tts --model %s --data %s --method beam %s", rlc_bin(), model,
                          data, o);
    test_expect_cli_error("multiple of --beam-width 4", "%s tts --model %s --data %s --prm %s --method dvts --n 2 %s",
                          rlc_bin(), model, data, prm, o);
    test_expect_cli_error("unknown method 'mcts'", "%s tts --model %s --data %s --method bon,mcts %s", rlc_bin(), model,
                          data, o);
    test_expect_cli_error("--lookahead", "%s tts --model %s --data %s --prm %s --method beam --lookahead -1 %s", rlc_bin(),
                          model, data, prm, o);
    assert_false(exists(js));
    assert_false(exists(svg));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(d), free(data), free(cfgp), free(prm), free(js), free(js2), free(svg);
}

/* --compute-optimal: bins partition the problems; per N the optimal curve is at least as
 * good as every method (chosen in-sample) and its choice names a method per bin. */
static void test_compute_optimal(void **s) {
    (void)s;
    char *d = test_tmpdir(), *data = fs_join(d, "d.jsonl"), *cfgp = fs_join(d, "prm.json"), *prm = fs_join(d, "prm");
    char *js = fs_join(d, "s.json"), log[16384], *sv = NULL;
    size_t svn = 0;
    cJSON *j;
    test_write_sum_problems(data, 3);
    cJSON *cfg = rlc_json_load_file(fixture("models/qwen2-tiny/config.json"));
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen2ForTokenClassification"}, 1));
    cJSON_AddNumberToObject(cfg, "num_labels", 1);
    char *txt = cJSON_Print(cfg);
    assert_int_equal(fs_write_atomic(cfgp, txt, strlen(txt)), 0);
    free(txt);
    cJSON_Delete(cfg);
    if (test_run(log, sizeof log, "%s init-model --config %s --out %s --seed 9", rlc_bin(), cfgp, prm)) fail_msg("%s", log);
    const char *model = fixture("models/qwen2-tiny");
    char *co = fs_join(d, "co.svg");
    if (test_run(log, sizeof log,
                 "%s tts --model %s --data %s --prm %s --method majority,beam --n 2,4 --beam-width 2 --max-iterations 3 "
                 "--step-delimiter ' ' --max-new-tokens 16 --compute-optimal --bins 3 --out %s --co-plot %s",
                 rlc_bin(), model, data, prm, js, co))
        fail_msg("tts compute-optimal: %s", log);
    assert_non_null(strstr(log, "Compute-optimal (3 difficulty bins by pass rate"));
    assert_non_null(strstr(log, "| N | majority | best-of-N (PRM) | weighted (PRM) | beam (weighted) | compute-optimal |"));
    assert_non_null(j = rlc_json_load_file(js));
    const cJSON *cj = cJSON_GetObjectItem(j, "compute_optimal"), *bins = cJSON_GetObjectItem(cj, "bins");
    int tot = 0;
    for (const cJSON *b = bins->child; b; b = b->next) tot += cJSON_GetObjectItem(b, "size")->valueint;
    assert_int_equal(cJSON_GetArraySize(bins), 3);
    assert_int_equal(tot, 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cj, "budgets")), 2);
    for (const cJSON *b = cJSON_GetObjectItem(cj, "budgets")->child; b; b = b->next) {
        const cJSON *opt = cJSON_GetObjectItem(b, "compute_optimal");
        double oa = cJSON_GetObjectItem(opt, "accuracy")->valuedouble;
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(opt, "choice")), 3);
        int nm = 0;
        for (const cJSON *m = cJSON_GetObjectItem(b, "methods")->child; m; m = m->next, nm++)
            assert_true(oa >= cJSON_GetObjectItem(m, "accuracy")->valuedouble - 1e-12);
        assert_int_equal(nm, 4);
    }
    cJSON_Delete(j);
    assert_int_equal(fs_read_all(co, &sv, &svn), 0);
    assert_non_null(strstr(sv, "compute-optimal"));
    free(sv);
    unlink(js), unlink(co);
    test_expect_cli_error("--co-plot needs --compute-optimal", "%s tts --model %s --data %s --co-plot %s", rlc_bin(),
                          model, data, co);
    test_expect_cli_error("--difficulty prm needs --prm", "%s tts --model %s --data %s --compute-optimal --difficulty prm",
                          rlc_bin(), model, data);
    free(co);
    snprintf(log, sizeof log, "rm -rf %s", d);
    assert_int_equal(system(log), 0);
    free(d), free(data), free(cfgp), free(prm), free(js);
}

/* `rlc score --prm-format qwen|skywork` prints the reference step scores of the fixtures. */
static void test_score_formats(void **s) {
    (void)s;
    const char *names[2] = {"models/qwen-prm-tiny", "models/skywork-prm-tiny"}, *fmts[2] = {"qwen", "skywork"};
    for (int f = 0; f < 2; f++) {
        char dir[512], ref[600], out[16384];
        snprintf(dir, sizeof dir, "%s", fixture(names[f]));
        snprintf(ref, sizeof ref, "%s.ref/prm.json", dir);
        cJSON *r = rlc_json_load_file(ref);
        assert_non_null(r);
        const cJSON *c = cJSON_GetObjectItem(r, "cases")->child; /* the first case: 3 paragraphs */
        char *d = test_tmpdir(), *rows = fs_join(d, "r.jsonl");
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "problem", cJSON_GetObjectItem(c, "question")->valuestring);
        cJSON_AddStringToObject(row, "solution", cJSON_GetObjectItem(c, "solution")->valuestring);
        char *line = cJSON_PrintUnformatted(row);
        FILE *fp = fopen(rows, "w");
        fprintf(fp, "%s\n", line);
        fclose(fp);
        free(line);
        cJSON_Delete(row);
        if (test_run_stdout(out, sizeof out, "%s score --model %s --prm-format %s --tokenizer %s --jsonl %s", rlc_bin(),
                            dir, fmts[f], fixture("models/qwen2-tiny"), rows))
            fail_msg("score %s: %s", fmts[f], out);
        cJSON *j = cJSON_Parse(out);
        if (!j) fail_msg("not JSON: %s", out);
        const cJSON *steps = cJSON_GetObjectItem(j, "steps"), *want = cJSON_GetObjectItem(c, "scores");
        assert_int_equal(cJSON_GetArraySize(steps), cJSON_GetArraySize(want));
        for (int k = 0; k < cJSON_GetArraySize(want); k++) {
            double v = cJSON_GetObjectItem(cJSON_GetArrayItem(steps, k), "score")->valuedouble;
            assert_true(fabs(v - cJSON_GetArrayItem(want, k)->valuedouble) < 1e-4);
        }
        cJSON_Delete(j), cJSON_Delete(r);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "rm -rf %s", d);
        assert_int_equal(system(cmd), 0);
        free(rows), free(d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tts), cmocka_unit_test(test_score),
                                       cmocka_unit_test(test_search), cmocka_unit_test(test_compute_optimal),
                                       cmocka_unit_test(test_score_formats)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
