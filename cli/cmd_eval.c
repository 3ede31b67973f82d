/* `rlc eval`: sample K completions per problem of a dataset, grade them, and write per-item
 * records (JSONL) and a summary (pass@1 over K, maj@K, pass@k, by subject/level, tokens,
 * time). Outputs are written atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/tool_args.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/encode.h"
#include "rewards/eval.h"

static int write_records(const char *path, const cJSON *items) {
    fs_atomic_t a;
    int rc = fs_atomic_open(&a, path);
    if (rc) return rc;
    for (const cJSON *it = items->child; it && !rc; it = it->next) rc = rlc_json_write_line(&a, it);
    if (rc) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a);
}

static void print_summary(const cJSON *s) {
    const cJSON *items = cJSON_GetObjectItem(s, "items"), *samples = cJSON_GetObjectItem(s, "samples");
    printf("items %d  samples %d", items ? items->valueint : 0, samples ? samples->valueint : 0);
    for (const cJSON *f = s->child; f; f = f->next)
        if (cJSON_IsNumber(f) && (!strncmp(f->string, "pass@", 5) || !strncmp(f->string, "maj@", 4)))
            printf("  %s %.4f", f->string, f->valuedouble);
    printf("\n");
    const char *groups[] = {"by_subject", "by_level"};
    for (int g = 0; g < 2; g++) {
        const cJSON *b = cJSON_GetObjectItem(s, groups[g]);
        if (!cJSON_IsObject(b) || !b->child) continue;
        printf("%s:\n", groups[g]);
        for (const cJSON *e = b->child; e; e = e->next) {
            const cJSON *n = cJSON_GetObjectItem(e, "items"), *p = cJSON_GetObjectItem(e, "pass@1");
            printf("  %-28s items %4d  pass@1 %.4f\n", e->string, n ? n->valueint : 0, p ? p->valuedouble : 0);
        }
    }
    const cJSON *t = cJSON_GetObjectItem(s, "tokens"), *sec = cJSON_GetObjectItem(s, "seconds"),
                *tps = cJSON_GetObjectItem(s, "tokens_per_second");
    if (t && sec)
        printf("generated %.0f tokens in %.1f s (%.1f tok/s)\n", t->valuedouble, sec->valuedouble,
               tps ? tps->valuedouble : 0);
    const cJSON *calls = cJSON_GetObjectItem(s, "tool_calls_mean");
    if (cJSON_IsNumber(calls)) printf("tool calls per sample %.3f\n", calls->valuedouble);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *summary = NULL;
    long samples = 1;
    cli_sample_args_t sa;
    cli_sample_args_default(&sa);
    cli_tool_args_t ta;
    cli_tool_args_default(&ta);
    cli_opt_t opts[5 + CLI_SAMPLE_NOPTS + CLI_TOOL_NOPTS] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory", 1, 0},
        {"--data", OPT_STR, &data,
         "dataset: JSONL, JSON array, CSV, parquet, Arrow (.gz too), or a directory of shards",
         1, 0},
        {"--out", OPT_STR, &out, "per-item records (JSONL)", 1, 0},
        {"--summary", OPT_STR, &summary, "summary JSON path [default: OUT.summary.json]", 0, 0},
        {"--samples", OPT_INT, &samples, "completions per problem (K)", 0, 0},
    };
    int nopts = 5 + cli_sample_opts(opts + 5, &sa);
    nopts += cli_tool_opts(opts + nopts, &ta, 1);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc eval --model DIR --data FILE.jsonl --out results.jsonl [--profile P] [--samples K] [...]",
                       "Evaluate a model on a math dataset: pass@1 (mean over K), maj@K, pass@k, by subject/level.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    rlc_eval_opts_t eo;
    rlc_eval_opts_default(&eo);
    eo.samples = (int)samples;
    eo.temperature = (float)sa.temperature;
    eo.top_p = (float)sa.top_p;
    eo.top_k = (int)sa.top_k;
    eo.max_new_tokens = (int)sa.max_new;
    eo.seed = (uint64_t)sa.seed;
    eo.chat_family = sa.family;
    cli_sample_math_opts(&sa, &eo.math);
    if ((rc = data_template_from_name(sa.tpl_name, &eo.tpl))) return cli_fail();
    if (sa.extract && (rc = math_extract_flags_from_str(sa.extract, &eo.extract_flags))) return cli_fail();
    if (samples < 1 || sa.max_new < 1) {
        rlc_errc(RLC_EINVAL, "--samples and --max-new-tokens must be at least 1");
        return cli_fail();
    }
    const char *inputs[1] = {data};
    if (cli_check_output("--out", out, inputs, 1) || cli_check_output("--summary", summary, inputs, 1)) return cli_fail();
    if (summary && !strcmp(summary, out)) {
        rlc_errc(RLC_EINVAL, "--summary and --out are the same file");
        return cli_fail();
    }
    data_set_t ds = {0};
    if ((rc = cli_sample_load(data, &sa, &ds))) return cli_fail();
    gen_engine_cfg_t ec = cli_sample_engine_cfg(&sa);
    rlc_tools_t *tools = NULL;
    if ((rc = cli_tools_open(&ta, &tools, &ec))) {
        data_set_free(&ds);
        return cli_fail();
    }
    cli_tools_params(&ta, tools, &eo.tool_markers, &eo.n_tool_markers, &eo.max_tool_calls);
    cli_model_t cm;
    if ((rc = cli_model_open(&cm, model, sa.device, (int)sa.threads, 1)) ||
        (rc = cli_chat_setup(cm.tok, sa.chat_vars, sa.chat_date, sa.family)) ||
        (rc = cli_tools_describe(&ta, cm.tok, eo.tpl, sa.family, &ds)) ||
        (rc = data_encode_all(cm.tok, eo.tpl, sa.family, data, cm.m->cfg.max_context - 1,
                              "the model's context", sa.strict, &ds, NULL))) {
        cli_model_close(&cm);
        data_set_free(&ds);
        rlc_tools_free(tools);
        return cli_fail();
    }
    gen_engine_t *e = NULL;
    rlc_eval_result_t res = {0};
    rc = gen_engine_create(&e, cm.m, cm.tok, &ec);
    if (!rc) {
        LOG_INFO("evaluating %d problems x %ld samples (%s template)", ds.n, samples, sa.tpl_name);
        rlc_progress_t pg;
        rlc_progress_begin(&pg, "eval", (long)ds.n * samples);
        rc = rlc_eval_run(e, cm.tok, &ds, &eo, &pg, &res);
        rlc_progress_end(&pg);
    }
    char *sp = NULL;
    if (!rc) rc = write_records(out, res.items);
    if (!rc) {
        if (summary)
            sp = rlc_strdup(summary);
        else if ((sp = rlc_malloc(strlen(out) + 16)))
            sprintf(sp, "%s.summary.json", out);
        cli_model_record(&cm, res.summary);
        char *txt = rlc_json_print(res.summary, 1);
        rc = (!sp || !txt) ? RLC_ENOMEM : fs_write_atomic(sp, txt, strlen(txt));
        free(txt);
    }
    if (!rc) {
        print_summary(res.summary);
        LOG_INFO("records: %s  summary: %s", out, sp);
    }
    free(sp);
    rlc_eval_result_free(&res);
    gen_engine_free(e);
    rlc_tools_free(tools);
    cli_model_close(&cm);
    data_set_free(&ds);
    return rc ? cli_fail() : 0;
}
