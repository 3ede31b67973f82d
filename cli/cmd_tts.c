/* `rlc tts`: a test-time-scaling sweep over N for sampling-based methods. Samples N_max
 * completions per problem once, grades them, optionally scores them with an outcome reward
 * model (a 1-label score head; score = the head's value at the last token), and reports per
 * N: pass@N, majority@N, best-of-N and weighted majority (with the ORM), tokens and FLOPs,
 * as a markdown table, a JSON summary and an SVG plot (both written atomically). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "tts/eval.h"
#include "tts/sweep.h"

/* The ORM's score of one sequence: its score head's value at the last token. */
static int orm_score(rlc_model_t *orm, const int32_t *ids, int n, float *score) {
    int cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    int rc = rlc_batch_check(orm, &b);
    if (rc) return rlc_err_ctx(rc, "--orm (it must share the policy's tokenizer)");
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) return RLC_ENOMEM;
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_SCORE};
    rc = rlc_model_forward(orm, &b, &fo, NULL, NULL, v);
    if (!rc) *score = v[n - 1];
    free(v);
    return rc;
}

int cmd_tts(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *plot = NULL, *ns_str = "1,2,4,8,16", *orm_dir = NULL;
    cli_sample_args_t sa;
    cli_sample_args_default(&sa);
    cli_opt_t opts[6 + CLI_SAMPLE_NOPTS] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory (the policy)", 1, 0},
        {"--data", OPT_STR, &data, "JSONL dataset", 1, 0},
        {"--n", OPT_STR, &ns_str, "the sweep: increasing sample counts, e.g. 1,2,4,8,16 [default: 1,2,4,8,16]", 0, 0},
        {"--orm", OPT_STR, &orm_dir, "outcome reward model: HF directory with a 1-label score head", 0, 0},
        {"--out", OPT_STR, &out, "JSON summary (per-N points and per-sample records)", 0, 0},
        {"--plot", OPT_STR, &plot, "SVG plot of accuracy vs N per method", 0, 0},
    };
    int nopts = 6 + cli_sample_opts(opts + 6, &sa);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc tts --model DIR --data FILE.jsonl [--n 1,2,4,8,16] [--orm DIR] [--out S.json] "
                       "[--plot P.svg] [...]",
                       "Test-time-scaling sweep: sample N_max completions per problem once, then report per N\n"
                       "pass@N, majority@N and, with --orm, best-of-N and weighted majority, tokens and FLOPs.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    int *ns = NULL, n_ns = 0;
    if ((rc = tts_parse_ns(ns_str, &ns, &n_ns))) return cli_fail();
    int K = ns[n_ns - 1];
    data_tpl_t tpl;
    int extract_flags = 0;
    math_opts_t mo;
    math_opts_default(&mo);
    mo.percent = sa.percent;
    if ((rc = data_template_from_name(sa.tpl_name, &tpl)) ||
        (sa.extract && (rc = math_extract_flags_from_str(sa.extract, &extract_flags)))) {
        free(ns);
        return cli_fail();
    }
    if (sa.max_new < 1) {
        free(ns);
        rlc_errc(RLC_EINVAL, "--max-new-tokens must be at least 1");
        return cli_fail();
    }
    data_set_t ds = {0};
    if ((rc = cli_sample_load(data, &sa, &ds))) {
        free(ns);
        return cli_fail();
    }
    cli_model_t cm = {0};
    rlc_model_t *orm = NULL;
    gen_engine_t *e = NULL;
    int P = ds.n;
    int32_t **pids = calloc((size_t)P, sizeof *pids);
    int *plen = calloc((size_t)P, sizeof *plen), *reqs = calloc((size_t)P, sizeof *reqs);
    const char **formats = calloc((size_t)P, sizeof *formats);
    tts_sample_t *tab = calloc((size_t)P * K, sizeof *tab);
    char *answers = calloc((size_t)P * K, MATH_MAX_ANSWER);
    tts_point_t *pts = calloc((size_t)n_ns, sizeof *pts);
    cJSON *summary = NULL;
    char *md = NULL, *json_txt = NULL, *svg = NULL;
    if (!pids || !plen || !reqs || !formats || !tab || !answers || !pts) rc = RLC_ENOMEM;
    if (!rc) rc = cli_model_open(&cm, model, sa.device, (int)sa.threads, 1);
    if (!rc && orm_dir) {
        rc = rlc_model_load(&orm, orm_dir, cm.be);
        if (!rc && orm->score_labels != 1)
            rc = rlc_errc(RLC_EINVAL, "--orm %s: needs a score head with 1 label (it has %d)", orm_dir,
                          orm->score_labels);
    }
    gen_engine_cfg_t ec = cli_sample_engine_cfg(&sa);
    if (!rc) rc = gen_engine_create(&e, cm.m, cm.tok, &ec);
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = K;
    gp.temperature = (float)sa.temperature;
    gp.top_p = (float)sa.top_p;
    gp.top_k = (int)sa.top_k;
    gp.max_new_tokens = (int)sa.max_new;
    for (int i = 0; i < P && !rc; i++) {
        rc = tts_encode_problem(cm.tok, tpl, sa.family, ds.rows[i].problem, &pids[i], &plen[i], &formats[i]);
        if (!rc) {
            gp.seed = (uint64_t)sa.seed * 1000003ull + (uint64_t)i;
            reqs[i] = gen_submit(e, pids[i], plen[i], &gp, NULL);
            if (reqs[i] < 0) rc = reqs[i];
        }
        if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
    }
    if (!rc) {
        LOG_INFO("sampling %d problems x %d completions (%s template)%s", P, K, sa.tpl_name,
                 orm ? ", scoring them with the ORM" : "");
        rlc_progress_t pg;
        rlc_progress_begin(&pg, "tts", (long)P * K);
        rc = gen_run(e, &pg);
        rlc_progress_end(&pg);
    }
    int32_t *seq = NULL;
    for (int i = 0; i < P && !rc; i++) {
        int flags = extract_flags ? extract_flags : math_extract_flags_for_format(formats[i]);
        for (int k = 0; k < K && !rc; k++) {
            const gen_output_t *g = gen_output(e, reqs[i], k);
            tts_sample_t *s = &tab[(size_t)i * K + k];
            char *ans = answers + ((size_t)i * K + k) * MATH_MAX_ANSWER;
            s->correct = tts_grade(&ds.rows[i], g->text, flags, &mo, ans, MATH_MAX_ANSWER);
            s->answer = ans;
            s->tokens = g->n_tokens;
            if (orm) {
                int n = plen[i] + g->n_tokens;
                int32_t *t = realloc(seq, sizeof(int32_t) * (size_t)n);
                if (!t) {
                    rc = RLC_ENOMEM;
                    break;
                }
                seq = t;
                memcpy(seq, pids[i], sizeof(int32_t) * (size_t)plen[i]);
                memcpy(seq + plen[i], g->tokens, sizeof(int32_t) * (size_t)g->n_tokens);
                rc = orm_score(orm, seq, n, &s->score);
                s->orm_tokens = n;
                if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
            }
        }
    }
    free(seq);
    tts_sweep_cfg_t sc = {.n_problems = P, .n_max = K, .scored = orm != NULL,
                          .policy_params = cm.m ? (double)cm.m->n_params : 0,
                          .orm_params = orm ? (double)orm->n_params : 0};
    if (!rc) rc = tts_sweep(&sc, tab, ns, n_ns, &mo, pts);
    if (!rc && !(md = tts_sweep_markdown(&sc, pts, n_ns))) rc = RLC_ENOMEM;
    if (!rc && plot && !(svg = tts_sweep_svg(&sc, pts, n_ns))) rc = RLC_ENOMEM;
    if (!rc && out) {
        if (!(summary = tts_sweep_json(&sc, pts, n_ns))) rc = RLC_ENOMEM;
        cJSON *items = rc ? NULL : cJSON_AddArrayToObject(summary, "items");
        for (int i = 0; i < P && items; i++) {
            cJSON *it = cJSON_CreateObject(), *ss = cJSON_CreateArray();
            cJSON_AddStringToObject(it, "id", ds.rows[i].id);
            cJSON_AddStringToObject(it, "answer", ds.rows[i].answer);
            cJSON_AddNumberToObject(it, "prompt_tokens", plen[i]);
            for (int k = 0; k < K; k++) {
                const tts_sample_t *s = &tab[(size_t)i * K + k];
                cJSON *x = cJSON_CreateObject();
                rlc_json_add_text(x, "extracted", s->answer, strlen(s->answer));
                cJSON_AddBoolToObject(x, "correct", s->correct);
                cJSON_AddNumberToObject(x, "tokens", (double)s->tokens);
                if (orm) cJSON_AddNumberToObject(x, "score", s->score);
                cJSON_AddItemToArray(ss, x);
            }
            cJSON_AddItemToObject(it, "samples", ss);
            cJSON_AddItemToArray(items, it);
        }
        if (!rc && !(json_txt = rlc_json_print(summary, 1))) rc = RLC_ENOMEM;
    }
    /* Everything is computed before anything is written. */
    if (!rc && out) rc = fs_write_atomic(out, json_txt, strlen(json_txt));
    if (!rc && plot) rc = fs_write_atomic(plot, svg, strlen(svg));
    if (!rc) {
        fputs(md, stdout);
        fflush(stdout);
    }
    free(md);
    free(svg);
    free(json_txt);
    cJSON_Delete(summary);
    for (int i = 0; i < P && pids; i++) {
        free(pids[i]);
        if (e && reqs && reqs[i] >= 0 && !rc) gen_release(e, reqs[i]);
    }
    free(pids);
    free(plen);
    free(reqs);
    free(formats);
    free(tab);
    free(answers);
    free(pts);
    free(ns);
    gen_engine_free(e);
    if (orm) rlc_model_free(orm);
    cli_model_close(&cm);
    data_set_free(&ds);
    return rc ? cli_fail() : 0;
}
