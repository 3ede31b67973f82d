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
    const char *model = NULL, *data = NULL, *profile = "auto", *prompt_key = NULL, *answer_key = NULL;
    const char *tpl_name = "qwen-math-cot", *family = NULL, *out = NULL, *plot = NULL, *device = "cpu";
    const char *extract = NULL, *ns_str = "1,2,4,8,16", *orm_dir = NULL;
    long max_new = 1024, top_k = 0, seed = 0, limit = 0, threads = 0, kv_mb = 0, batch_tokens = 512;
    double temperature = 0.6, top_p = 0.95;
    int strict = 0, percent = 0;
    cli_opt_t opts[] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory (the policy)", 1, 0},
        {"--data", OPT_STR, &data, "JSONL dataset", 1, 0},
        {"--n", OPT_STR, &ns_str, "the sweep: increasing sample counts, e.g. 1,2,4,8,16 [default: 1,2,4,8,16]", 0, 0},
        {"--orm", OPT_STR, &orm_dir, "outcome reward model: HF directory with a 1-label score head", 0, 0},
        {"--out", OPT_STR, &out, "JSON summary (per-N points and per-sample records)", 0, 0},
        {"--plot", OPT_STR, &plot, "SVG plot of accuracy vs N per method", 0, 0},
        {"--profile", OPT_STR, &profile, "auto, math500, aime, gsm8k or custom", 0, 0},
        {"--prompt-key", OPT_STR, &prompt_key, "field holding the problem (custom)", 0, 0},
        {"--answer-key", OPT_STR, &answer_key, "field holding the gold answer (custom)", 0, 0},
        {"--template", OPT_STR, &tpl_name, "qwen-math-cot, boxed, r1, dapo or raw", 0, 0},
        {"--chat-template", OPT_STR, &family, "force a chat template family", 0, 0},
        {"--temperature", OPT_FLOAT, &temperature, "sampling temperature (0 = greedy)", 0, 0},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass", 0, 0},
        {"--top-k", OPT_INT, &top_k, "top-k (0 = off)", 0, 0},
        {"--max-new-tokens", OPT_INT, &max_new, "tokens per completion at most", 0, 0},
        {"--seed", OPT_INT, &seed, "sampling seed", 0, 0},
        {"--limit", OPT_INT, &limit, "use the first N problems (0 = all)", 0, 0},
        {"--strict", OPT_FLAG, &strict, "a malformed JSONL line is fatal (default: reported and skipped)", 0, 0},
        {"--extract", OPT_STR, &extract, "answer extraction rules, e.g. boxed,final_answer (default: by template)", 0,
         0},
        {"--percent", OPT_FLAG, &percent, "also accept answers off by a factor of 100 (percent problems)", 0, 0},
        {"--device", OPT_STR, &device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &threads, "CPU threads (0 = all cores)", 0, 0},
        {"--kv-cache-mb", OPT_INT, &kv_mb, "KV cache budget in MiB (0 = 256 on the CPU, 90% of free memory on a GPU)", 0, 0},
        {"--batch-tokens", OPT_INT, &batch_tokens, "tokens per engine step", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
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
    mo.percent = percent;
    if ((rc = data_template_from_name(tpl_name, &tpl)) ||
        (extract && (rc = math_extract_flags_from_str(extract, &extract_flags)))) {
        free(ns);
        return cli_fail();
    }
    if (max_new < 1) {
        free(ns);
        rlc_errc(RLC_EINVAL, "--max-new-tokens must be at least 1");
        return cli_fail();
    }
    data_set_t ds = {0};
    data_load_opts_t lo = {.profile = profile, .prompt_key = prompt_key, .answer_key = answer_key, .strict = strict,
                           .limit = limit};
    long skipped = 0;
    if ((rc = data_load_jsonl(data, &lo, &ds, &skipped))) {
        free(ns);
        return cli_fail();
    }
    if (skipped) LOG_WARN("%s: %ld malformed line(s) skipped (--strict makes them fatal)", data, skipped);
    if (ds.n < 1) {
        rlc_errc(RLC_EINVAL, "%s: no problems to evaluate", data);
        free(ns);
        data_set_free(&ds);
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
    if (!rc) rc = cli_model_open(&cm, model, device, (int)threads, 1);
    if (!rc && orm_dir) {
        rc = rlc_model_load(&orm, orm_dir, cm.be);
        if (!rc && orm->score_labels != 1)
            rc = rlc_errc(RLC_EINVAL, "--orm %s: needs a score head with 1 label (it has %d)", orm_dir,
                          orm->score_labels);
    }
    gen_engine_cfg_t ec = {.kv_budget_bytes = (size_t)kv_mb << 20, .max_batch_tokens = (int)batch_tokens};
    if (!rc) rc = gen_engine_create(&e, cm.m, cm.tok, &ec);
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = K;
    gp.temperature = (float)temperature;
    gp.top_p = (float)top_p;
    gp.top_k = (int)top_k;
    gp.max_new_tokens = (int)max_new;
    for (int i = 0; i < P && !rc; i++) {
        rc = tts_encode_problem(cm.tok, tpl, family, ds.rows[i].problem, &pids[i], &plen[i], &formats[i]);
        if (!rc) {
            gp.seed = (uint64_t)seed * 1000003ull + (uint64_t)i;
            reqs[i] = gen_submit(e, pids[i], plen[i], &gp, NULL);
            if (reqs[i] < 0) rc = reqs[i];
        }
        if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
    }
    if (!rc) {
        LOG_INFO("sampling %d problems x %d completions (%s template)%s", P, K, tpl_name,
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
