/* `rlc tts`: a test-time-scaling sweep over N for sampling-based methods. Samples N_max
 * completions per problem once, grades them, optionally scores them with an outcome reward
 * model (a 1-label score head; score = the head's value at the last token), and reports per
 * N: pass@N, majority@N, best-of-N and weighted majority (with the ORM), tokens and FLOPs,
 * as a markdown table, a JSON summary and an SVG plot (both written atomically). With a
 * process reward model (--prm) each completion's steps (text split at "\n\n") are scored
 * (generic: sigmoid of a 1-label score head at each step's last token; math-shepherd:
 * P("+") over {"+","-"} after each " ки" step tag), aggregated (last/min/prod/mean), and
 * PRM best-of-N and PRM-weighted majority are reported too. */
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
#include "data/encode.h"
#include "rewards/eval.h"
#include "rewards/rm.h"
#include "rl/rundir.h"
#include "cli/tts.h"
#include "tts/sweep.h"

enum { NOPTS = 20 };

/* --method: a comma-separated subset of bon, majority, weighted, beam, dvts. */
static int parse_methods(tts_run_t *r) {
    const char *p = r->methods;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 3 && !strncmp(p, "bon", 3)) || (n == 8 && !strncmp(p, "majority", 8)) ||
            (n == 8 && !strncmp(p, "weighted", 8)))
            r->do_sample = 1;
        else if (n == 4 && !strncmp(p, "beam", 4))
            r->do_search[TTS_SEARCH_BEAM] = 1;
        else if (n == 4 && !strncmp(p, "dvts", 4))
            r->do_search[TTS_SEARCH_DVTS] = 1;
        else
            return rlc_errc(RLC_EINVAL, "--method: unknown method '%.*s' (bon, majority, weighted, beam, dvts)", (int)n,
                            p);
        p += n + (e != NULL);
    }
    if (!r->do_sample && !r->do_search[0] && !r->do_search[1]) return rlc_errc(RLC_EINVAL, "--method is empty");
    if ((r->do_search[0] || r->do_search[1]) && !r->prm_dir)
        return rlc_errc(RLC_EINVAL, "--method beam and dvts need a process reward model (--prm)");
    return 0;
}

/* --step-delimiter with its C escapes resolved (in place: the result is never longer). */
static int parse_delimiter(tts_run_t *r, char *buf, size_t cap) {
    size_t k = 0;
    for (const char *p = r->delimiter; *p && k + 1 < cap; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = *++p;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        buf[k++] = c;
    }
    buf[k] = 0;
    if (!k) return rlc_errc(RLC_EINVAL, "--step-delimiter is empty");
    r->delimiter = buf;
    return 0;
}

/* Options, then everything checkable before a model is loaded. Returns 1 after --help. */
static int tts_parse(tts_run_t *r, int argc, char **argv) {
    cli_sample_args_default(&r->sa);
    r->sa.temperature = 0.8; /* search-and-learn's defaults */
    r->sa.top_p = 1.0;
    r->ns_str = "1,2,4,8,16";
    r->methods = "bon,majority,weighted";
    r->delimiter = "\\n\\n";
    r->beam_width = 4;
    r->max_iter = 40;
    r->difficulty = "pass";
    r->bins = 5;
    cli_opt_t opts[NOPTS + CLI_SAMPLE_NOPTS] = {
        {"--model", OPT_STR, &r->model, "Hugging Face model directory (the policy)", 1, 0},
        {"--data", OPT_STR, &r->data,
         "dataset: JSONL, JSON array, CSV, parquet, Arrow (.gz too), or a directory of shards", 1, 0},
        {"--n", OPT_STR, &r->ns_str, "the sweep: increasing sample counts, e.g. 1,2,4,8,16 [default: 1,2,4,8,16]", 0,
         0},
        {"--orm", OPT_STR, &r->orm_dir, "outcome reward model: HF directory with a 1-label score head", 0, 0},
        {"--out", OPT_STR, &r->out, "JSON summary (per-N points and per-sample records)", 0, 0},
        {"--plot", OPT_STR, &r->plot, "SVG plot of accuracy vs N per method", 0, 0},
        {"--prm", OPT_STR, &r->prm_dir, "process reward model: HF directory (see --prm-format)", 0, 0},
        {"--prm-format", OPT_STR, &r->prm_format,
         "generic (1-label score head at step ends), math-shepherd (LM, step tag \" ки\"), qwen "
         "(Qwen2.5-Math-PRM) or skywork (Skywork PRM) [default: generic]", 0, 0},
        {"--prm-agg", OPT_STR, &r->prm_agg, "step-score aggregation: last, min, prod or mean [default: min]", 0, 0},
        {"--method", OPT_STR, &r->methods,
         "methods: bon, majority, weighted (one sampling sweep) and beam, dvts (PRM-guided search; need --prm)", 0, 0},
        {"--beam-width", OPT_INT, &r->beam_width, "M: beam search keeps N/M beams; DVTS runs N/M subtrees of M", 0, 0},
        {"--max-iterations", OPT_INT, &r->max_iter, "search iterations (steps); the last generates to the end", 0, 0},
        {"--lookahead", OPT_INT, &r->lookahead, "greedy steps rolled out before a candidate is scored", 0, 0},
        {"--filter-duplicates", OPT_FLAG, &r->filter_dups, "beam search: drop active beams with the same text", 0, 0},
        {"--step-delimiter", OPT_STR, &r->delimiter, "a search step ends at this text (C escapes \\n \\t)", 0, 0},
        {"--no-prm-cache", OPT_FLAG, &r->no_prm_cache,
         "search: re-score each beam's whole text (the PRM otherwise keeps a KV cache per beam)", 0, 0},
        {"--compute-optimal", OPT_FLAG, &r->compute_optimal,
         "bin problems by difficulty and report the best method per bin and N (runs the sampling sweep)", 0, 0},
        {"--difficulty", OPT_STR, &r->difficulty, "difficulty for the bins: pass (pass rate) or prm (mean PRM score)", 0, 0},
        {"--bins", OPT_INT, &r->bins, "difficulty bins (quantiles)", 0, 0},
        {"--co-plot", OPT_STR, &r->co_plot, "SVG plot of accuracy vs generated tokens with the compute-optimal curve", 0, 0},
    };
    int nopts = NOPTS + cli_sample_opts(opts + NOPTS, &r->sa);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc tts --model DIR --data FILE.jsonl [--n 1,2,4,8,16] [--method bon,beam,dvts] [--orm DIR] "
                       "[--prm DIR [--prm-format F] [--prm-agg A]] [--compute-optimal] [--out S.json] [--plot P.svg] [...]",
                       "Test-time-scaling sweep: sample N_max completions per problem once, then report per N\n"
                       "pass@N, majority@N and, with --orm or --prm, best-of-N and weighted majority, tokens and FLOPs;\n"
                       "PRM-guided beam search and DVTS per N (--method beam,dvts); the compute-optimal choice\n"
                       "of method per difficulty bin (--compute-optimal).");
    if (rc) return rc;
    r->prm_fmt = RLC_PRM_GENERIC;
    r->agg = RLC_STEP_AGG_MIN;
    if (!r->prm_dir && (r->prm_format || r->prm_agg))
        return rlc_errc(RLC_EINVAL, "--prm-format and --prm-agg need --prm");
    if ((r->prm_format && (rc = rlc_prm_format_parse(r->prm_format, &r->prm_fmt))) ||
        (r->prm_agg && (rc = rlc_step_agg_from_name(r->prm_agg, &r->agg))))
        return rc;
    if ((rc = tts_parse_ns(r->ns_str, &r->ns, &r->n_ns)) || (rc = parse_methods(r)) ||
        (rc = parse_delimiter(r, r->delim_buf, sizeof r->delim_buf)) ||
        (rc = cli_check_range("--beam-width", r->beam_width, 1, 4096)) ||
        (rc = cli_check_range("--max-iterations", r->max_iter, 1, 10000)) ||
        (rc = cli_check_range("--lookahead", r->lookahead, 0, 100)) || (rc = cli_check_range("--bins", r->bins, 1, 100)))
        return rc;
    if (strcmp(r->difficulty, "pass") && strcmp(r->difficulty, "prm"))
        return rlc_errc(RLC_EINVAL, "--difficulty must be pass or prm (got '%s')", r->difficulty);
    if (!strcmp(r->difficulty, "prm") && !r->prm_dir) return rlc_errc(RLC_EINVAL, "--difficulty prm needs --prm");
    if (r->co_plot && !r->compute_optimal) return rlc_errc(RLC_EINVAL, "--co-plot needs --compute-optimal");
    if (r->compute_optimal) r->do_sample = 1; /* the difficulty estimate and the sampling methods */
    r->K = r->ns[r->n_ns - 1];
    math_opts_default(&r->mo);
    cli_sample_math_opts(&r->sa, &r->mo);
    if ((rc = data_template_from_name(r->sa.tpl_name, &r->tpl)) ||
        (r->sa.extract && (rc = math_extract_flags_from_str(r->sa.extract, &r->extract_flags))))
        return rc;
    if (r->sa.max_new < 1) return rlc_errc(RLC_EINVAL, "--max-new-tokens must be at least 1");
    const char *inputs[1] = {r->data};
    if ((rc = cli_check_output("--out", r->out, inputs, 1)) || (rc = cli_check_output("--plot", r->plot, inputs, 1)))
        return rc;
    if ((rc = cli_check_output("--co-plot", r->co_plot, inputs, 1))) return rc;
    const char *outs[3] = {r->out, r->plot, r->co_plot};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                return rlc_errc(RLC_EINVAL, "--out, --plot and --co-plot must be different files");
    return cli_sample_load(r->data, &r->sa, &r->ds);
}

/* The tables, the policy, the reward models and the engine. */
static int tts_open(tts_run_t *r) {
    int P = r->P = r->ds.n, K = r->K, rc = 0;
    r->pids = calloc((size_t)P, sizeof *r->pids);
    r->plen = calloc((size_t)P, sizeof *r->plen);
    r->reqs = calloc((size_t)P, sizeof *r->reqs);
    r->formats = calloc((size_t)P, sizeof *r->formats);
    r->tab = calloc((size_t)P * K, sizeof *r->tab);
    r->answers = calloc((size_t)P * K, MATH_MAX_ANSWER);
    r->pts = calloc((size_t)r->n_ns, sizeof *r->pts);
    r->psteps = calloc((size_t)P * K, sizeof *r->psteps);
    r->pnsteps = calloc((size_t)P * K, sizeof *r->pnsteps);
    if (!r->pids || !r->plen || !r->reqs || !r->formats || !r->tab || !r->answers || !r->pts || !r->psteps ||
        !r->pnsteps)
        return RLC_ENOMEM;
    if ((rc = cli_model_open(&r->cm, r->model, r->sa.device, (int)r->sa.threads, 1)) ||
        (rc = cli_chat_setup(r->cm.tok, r->sa.chat_vars, r->sa.chat_date, r->sa.family)))
        return rc;
    /* every prompt encoded before any sampling; bad rows skipped (or fatal with --strict) */
    if ((rc = data_encode_all(r->cm.tok, r->tpl, r->sa.family, r->data, r->cm.m->cfg.max_context - 1,
                              "the model's context", r->sa.strict, &r->ds, NULL)))
        return rc;
    r->P = r->ds.n;
    long st;
    if (r->orm_dir && ((rc = rl_model_resolve(r->orm_dir, "--orm", &r->orm_path, &st)) ||
                       (rc = rlc_orm_open(&r->orm, "--orm", r->orm_path, r->cm.be))))
        return rc;
    if (r->prm_dir && ((rc = rl_model_resolve(r->prm_dir, "--prm", &r->prm_path, &st)) ||
                       (rc = rlc_prm_open(&r->prm, "--prm", r->prm_path, r->prm_fmt, r->cm.be))))
        return rc;
    gen_engine_cfg_t ec = cli_sample_engine_cfg(&r->sa);
    return gen_engine_create(&r->e, r->cm.m, r->cm.tok, &ec);
}

/* Every problem's prompt ids (kept for the reward models and the searches). */
static int tts_prompts(tts_run_t *r) {
    for (int i = 0; i < r->P; i++) {
        const data_row_t *row = &r->ds.rows[i];
        r->reqs[i] = -1;
        r->plen[i] = row->n_prompt_ids;
        r->formats[i] = row->format;
        r->pids[i] = rlc_malloc((size_t)(row->n_prompt_ids ? row->n_prompt_ids : 1) * sizeof(int32_t));
        if (!r->pids[i]) return RLC_ENOMEM;
        memcpy(r->pids[i], row->prompt_ids, (size_t)row->n_prompt_ids * sizeof(int32_t));
    }
    return 0;
}

/* K samples of every problem, problem i seeded with seed·1000003 + i. */
static int tts_sample(tts_run_t *r) {
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = r->K;
    gp.temperature = (float)r->sa.temperature;
    gp.top_p = (float)r->sa.top_p;
    gp.top_k = (int)r->sa.top_k;
    gp.max_new_tokens = (int)r->sa.max_new;
    int rc = 0;
    for (int i = 0; i < r->P && !rc; i++) {
        gp.seed = (uint64_t)r->sa.seed * 1000003ull + (uint64_t)i;
        r->reqs[i] = gen_submit(r->e, r->pids[i], r->plen[i], &gp, NULL);
        if (r->reqs[i] < 0) rc = r->reqs[i];
        if (rc) rlc_err_ctx(rc, "item %s", r->ds.rows[i].id);
    }
    if (rc) return rc;
    LOG_INFO("sampling %d problems x %d completions (%s template)%s%s", r->P, r->K, r->sa.tpl_name,
             r->orm.m ? ", scoring them with the ORM" : "", r->prm.m ? ", scoring their steps with the PRM" : "");
    rlc_progress_t pg;
    rlc_progress_begin(&pg, "tts", (long)r->P * r->K);
    rc = gen_run(r->e, &pg);
    rlc_progress_end(&pg);
    return rc;
}

/* Grade every sample, and score it with the ORM and the PRM when given. */
static int tts_score(tts_run_t *r) {
    int rc = 0, K = r->K;
    for (int i = 0; i < r->P && !rc; i++) {
        int flags = r->extract_flags ? r->extract_flags : math_extract_flags_for_format(r->formats[i]);
        for (int k = 0; k < K && !rc; k++) {
            const gen_output_t *g = gen_output(r->e, r->reqs[i], k);
            size_t q = (size_t)i * K + k;
            tts_sample_t *s = &r->tab[q];
            char *ans = r->answers + q * MATH_MAX_ANSWER;
            s->correct = rlc_grade_row(&r->ds.rows[i], g->text, flags, &r->mo, ans, MATH_MAX_ANSWER);
            s->answer = ans;
            s->tokens = g->n_tokens;
            if (r->orm.m)
                rc = rlc_orm_score(&r->orm, r->pids[i], r->plen[i], g->tokens, g->n_tokens, &s->score, &s->orm_tokens);
            if (!rc && r->prm.m) {
                rc = rlc_prm_score(&r->prm, r->cm.tok, r->ds.rows[i].problem, r->pids[i], r->plen[i], g->tokens,
                                   g->n_tokens, &r->psteps[q], &r->pnsteps[q], &s->prm_tokens);
                if (!rc) s->prm = (float)rlc_step_aggregate(r->psteps[q], r->pnsteps[q], r->agg);
            }
            if (rc) rlc_err_ctx(rc, "item %s", r->ds.rows[i].id);
        }
    }
    for (int i = 0; i < r->P && !rc; i++) { /* the searches need the KV cache */
        gen_release(r->e, r->reqs[i]);
        r->reqs[i] = -1;
    }
    return rc;
}

/* The summary's per-item records. */
static int tts_items_json(const tts_run_t *r, cJSON *summary) {
    cJSON *items = cJSON_AddArrayToObject(summary, "items");
    if (!items) return RLC_ENOMEM;
    for (int i = 0; i < r->P; i++) {
        cJSON *it = cJSON_CreateObject(), *ss = cJSON_CreateArray();
        cJSON_AddStringToObject(it, "id", r->ds.rows[i].id);
        cJSON_AddStringToObject(it, "answer", r->ds.rows[i].answer);
        cJSON_AddNumberToObject(it, "prompt_tokens", r->plen[i]);
        for (int k = 0; k < (r->do_sample ? r->K : 0); k++) {
            size_t q = (size_t)i * r->K + k;
            const tts_sample_t *s = &r->tab[q];
            cJSON *x = cJSON_CreateObject();
            rlc_json_add_text(x, "extracted", s->answer, strlen(s->answer));
            cJSON_AddBoolToObject(x, "correct", s->correct);
            cJSON_AddNumberToObject(x, "tokens", (double)s->tokens);
            if (r->orm.m) cJSON_AddNumberToObject(x, "score", s->score);
            if (r->prm.m) {
                cJSON *a = cJSON_AddArrayToObject(x, "prm_steps");
                for (int t = 0; t < r->pnsteps[q] && a; t++) cJSON_AddItemToArray(a, cJSON_CreateNumber(r->psteps[q][t]));
                cJSON_AddNumberToObject(x, "prm_score", s->prm);
                cJSON_AddNumberToObject(x, "prm_tokens", (double)s->prm_tokens);
            }
            cJSON_AddItemToArray(ss, x);
        }
        cJSON_AddItemToObject(it, "samples", ss);
        cJSON_AddItemToArray(items, it);
    }
    return 0;
}

/* The sweep, then the table on stdout and the files; everything is computed before
 * anything is written. */
static int tts_report(tts_run_t *r) {
    tts_sweep_cfg_t sc = {.n_problems = r->P, .n_max = r->do_sample ? r->K : 0, .scored = r->orm.m != NULL,
                          .policy_params = r->cm.m ? (double)r->cm.m->n_params : 0,
                          .orm_params = r->orm.m ? (double)r->orm.m->n_params : 0, .prm_scored = r->prm.m != NULL,
                          .prm_params = r->prm.m ? (double)r->prm.m->n_params : 0,
                          .prm_format = rlc_prm_format_name(r->prm_fmt), .prm_agg = rlc_step_agg_name(r->agg),
                          .search = r->spts, .n_search = r->n_spts};
    int n_pts = r->do_sample ? r->n_ns : 0;
    char *md = NULL, *json_txt = NULL, *svg = NULL, *co_svg = NULL;
    cJSON *summary = NULL;
    int rc = n_pts ? tts_sweep(&sc, r->tab, r->ns, n_pts, &r->mo, r->pts) : 0;
    if (!rc && !(md = tts_sweep_markdown(&sc, r->pts, n_pts))) rc = RLC_ENOMEM;
    if (!rc && r->plot && !(svg = tts_sweep_svg(&sc, r->pts, n_pts))) rc = RLC_ENOMEM;
    if (!rc && r->out) {
        if (!(summary = tts_sweep_json(&sc, r->pts, n_pts))) rc = RLC_ENOMEM;
        cli_model_record(&r->cm, summary);
        if (!rc) rc = tts_items_json(r, summary);
    }
    if (!rc) rc = tts_co_report(r, &md, summary, &co_svg);
    if (!rc && r->out && !(json_txt = rlc_json_print(summary, 1))) rc = RLC_ENOMEM;
    if (!rc && r->out) rc = fs_write_atomic(r->out, json_txt, strlen(json_txt));
    if (!rc && r->plot) rc = fs_write_atomic(r->plot, svg, strlen(svg));
    if (!rc && r->co_plot) rc = fs_write_atomic(r->co_plot, co_svg, strlen(co_svg));
    if (!rc) {
        fputs(md, stdout);
        fflush(stdout);
    }
    free(md), free(svg), free(co_svg), free(json_txt);
    cJSON_Delete(summary);
    return rc;
}

static void tts_free(tts_run_t *r) {
    for (int i = 0; i < r->P && r->pids; i++) {
        free(r->pids[i]);
        if (r->e && r->reqs && r->reqs[i] >= 0) gen_release(r->e, r->reqs[i]);
    }
    free(r->pids), free(r->plen), free(r->reqs), free(r->formats), free(r->tab), free(r->answers), free(r->pts);
    for (size_t q = 0; r->psteps && q < (size_t)r->P * r->K; q++) free(r->psteps[q]);
    free(r->psteps), free(r->pnsteps), free(r->ns), free(r->spts), free(r->co_correct), free(r->co_tokens);
    gen_engine_free(r->e);
    rlc_orm_close(&r->orm);
    rlc_prm_close(&r->prm);
    free(r->orm_path), free(r->prm_path);
    cli_model_close(&r->cm);
    data_set_free(&r->ds);
}

int cmd_tts(int argc, char **argv) {
    tts_run_t r;
    memset(&r, 0, sizeof r);
    int rc = tts_parse(&r, argc, argv);
    if (rc > 0) {
        tts_free(&r);
        return 0;
    }
    if (!rc) rc = tts_open(&r);
    if (!rc) rc = tts_prompts(&r);
    if (!rc) rc = tts_co_prepare(&r);
    if (!rc && r.do_sample) rc = tts_sample(&r);
    if (!rc && r.do_sample) rc = tts_score(&r);
    if (!rc) rc = tts_co_fill_sampling(&r);
    if (!rc) rc = tts_run_searches(&r);
    if (!rc) rc = tts_report(&r);
    tts_free(&r);
    return rc ? cli_fail() : 0;
}
