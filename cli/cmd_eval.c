/* `rlc eval`: sample K completions per problem of a dataset, grade them, and write per-item
 * records (JSONL) and a summary (pass@1 over K, maj@K, pass@k, by subject/level, tokens,
 * time). Outputs are written atomically. */
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
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *profile = "auto", *prompt_key = NULL, *answer_key = NULL;
    const char *tpl_name = "qwen-math-cot", *family = NULL, *out = NULL, *summary = NULL, *device = "cpu";
    const char *extract = NULL;
    long samples = 1, max_new = 1024, top_k = 0, seed = 0, limit = 0, threads = 0, kv_mb = 0, batch_tokens = 512;
    double temperature = 0.6, top_p = 0.95;
    int strict = 0, percent = 0;
    cli_opt_t opts[] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory", 1, 0},
        {"--data", OPT_STR, &data, "JSONL dataset", 1, 0},
        {"--profile", OPT_STR, &profile, "auto, math500, aime, gsm8k or custom", 0, 0},
        {"--prompt-key", OPT_STR, &prompt_key, "field holding the problem (custom)", 0, 0},
        {"--answer-key", OPT_STR, &answer_key, "field holding the gold answer (custom)", 0, 0},
        {"--template", OPT_STR, &tpl_name, "qwen-math-cot, boxed, r1, dapo or raw", 0, 0},
        {"--chat-template", OPT_STR, &family, "force a chat template family", 0, 0},
        {"--samples", OPT_INT, &samples, "completions per problem (K)", 0, 0},
        {"--temperature", OPT_FLOAT, &temperature, "sampling temperature (0 = greedy)", 0, 0},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass", 0, 0},
        {"--top-k", OPT_INT, &top_k, "top-k (0 = off)", 0, 0},
        {"--max-new-tokens", OPT_INT, &max_new, "tokens per completion at most", 0, 0},
        {"--seed", OPT_INT, &seed, "sampling seed", 0, 0},
        {"--limit", OPT_INT, &limit, "evaluate the first N problems (0 = all)", 0, 0},
        {"--strict", OPT_FLAG, &strict, "a malformed JSONL line is fatal (default: reported and skipped)", 0, 0},
        {"--extract", OPT_STR, &extract, "answer extraction rules, e.g. boxed,final_answer (default: by template)", 0,
         0},
        {"--percent", OPT_FLAG, &percent, "also accept answers off by a factor of 100 (percent problems)", 0, 0},
        {"--out", OPT_STR, &out, "per-item records (JSONL)", 1, 0},
        {"--summary", OPT_STR, &summary, "summary JSON path [default: OUT.summary.json]", 0, 0},
        {"--device", OPT_STR, &device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &threads, "CPU threads (0 = all cores)", 0, 0},
        {"--kv-cache-mb", OPT_INT, &kv_mb, "KV cache budget in MiB (0 = 256 on the CPU, 90% of free memory on a GPU)", 0, 0},
        {"--batch-tokens", OPT_INT, &batch_tokens, "tokens per engine step", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc eval --model DIR --data FILE.jsonl --out results.jsonl [--profile P] [--samples K] [...]",
                       "Evaluate a model on a math dataset: pass@1 (mean over K), maj@K, pass@k, by subject/level.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    tts_eval_opts_t eo;
    tts_eval_opts_default(&eo);
    eo.samples = (int)samples;
    eo.temperature = (float)temperature;
    eo.top_p = (float)top_p;
    eo.top_k = (int)top_k;
    eo.max_new_tokens = (int)max_new;
    eo.seed = (uint64_t)seed;
    eo.chat_family = family;
    eo.math.percent = percent;
    if ((rc = data_template_from_name(tpl_name, &eo.tpl))) return cli_fail();
    if (extract && (rc = math_extract_flags_from_str(extract, &eo.extract_flags))) return cli_fail();
    if (samples < 1 || max_new < 1) {
        rlc_errc(RLC_EINVAL, "--samples and --max-new-tokens must be at least 1");
        return cli_fail();
    }
    data_set_t ds = {0};
    data_load_opts_t lo = {.profile = profile, .prompt_key = prompt_key, .answer_key = answer_key, .strict = strict,
                           .limit = limit};
    long skipped = 0;
    if ((rc = data_load_jsonl(data, &lo, &ds, &skipped))) return cli_fail();
    if (skipped) LOG_WARN("%s: %ld malformed line(s) skipped (--strict makes them fatal)", data, skipped);
    cli_model_t cm;
    if ((rc = cli_model_open(&cm, model, device, (int)threads, 1))) {
        data_set_free(&ds);
        return cli_fail();
    }
    gen_engine_t *e = NULL;
    gen_engine_cfg_t ec = {.kv_budget_bytes = (size_t)kv_mb << 20, .max_batch_tokens = (int)batch_tokens};
    tts_eval_result_t res = {0};
    rc = gen_engine_create(&e, cm.m, cm.tok, &ec);
    if (!rc) {
        LOG_INFO("evaluating %d problems x %ld samples (%s template)", ds.n, samples, tpl_name);
        rlc_progress_t pg;
        rlc_progress_begin(&pg, "eval", (long)ds.n * samples);
        rc = tts_eval_run(e, cm.tok, &ds, &eo, &pg, &res);
        rlc_progress_end(&pg);
    }
    char *sp = NULL;
    if (!rc) rc = write_records(out, res.items);
    if (!rc) {
        if (summary)
            sp = rlc_strdup(summary);
        else if ((sp = rlc_malloc(strlen(out) + 16)))
            sprintf(sp, "%s.summary.json", out);
        char *txt = rlc_json_print(res.summary, 1);
        rc = (!sp || !txt) ? RLC_ENOMEM : fs_write_atomic(sp, txt, strlen(txt));
        free(txt);
    }
    if (!rc) {
        print_summary(res.summary);
        LOG_INFO("records: %s  summary: %s", out, sp);
    }
    free(sp);
    tts_eval_result_free(&res);
    gen_engine_free(e);
    cli_model_close(&cm);
    data_set_free(&ds);
    return rc ? cli_fail() : 0;
}
