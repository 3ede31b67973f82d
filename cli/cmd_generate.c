/* `rlc generate`: sample completions with the rollout engine, for one prompt or a JSONL
 * of prompts ({"prompt": ...} | {"messages": [...]} | {"ids": [...]}), n samples each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/tool_args.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "gen/engine.h"

typedef struct {
    int32_t *ids;
    int n;
    char *label; /* prompt text for printing */
} prompt_t;

static int read_prompts(const char *path, const tok_t *tok, int chat, const char *system, const char *family,
                        prompt_t **out, int *count) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    prompt_t *ps = NULL;
    int n = 0, cap = 0;
    cJSON *row;
    while ((rc = rlc_jsonl_next(&r, &row)) > 0) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", path, r.lineno);
        rc = 0; /* rlc_jsonl_next's "a row" is not this row's result */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            prompt_t *q = rlc_realloc(ps, (size_t)cap * sizeof *q);
            if (!q) {
                rc = RLC_ENOMEM;
                cJSON_Delete(row);
                break;
            }
            ps = q;
        }
        prompt_t *p = &ps[n];
        memset(p, 0, sizeof *p);
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(row, "prompt");
        cJSON *jm = cJSON_GetObjectItemCaseSensitive(row, "messages");
        const cJSON *ji = cJSON_GetObjectItemCaseSensitive(row, "ids");
        if (cJSON_IsString(jp)) {
            rc = cli_encode_prompt(tok, jp->valuestring, chat, system, family, &p->ids, &p->n);
            p->label = rlc_strdup(jp->valuestring);
        } else if (cJSON_IsArray(jm)) {
            tok_msg_t *msgs = NULL;
            int nm = 0;
            rc = tok_msgs_from_json(jm, "messages", &msgs, &nm);
            if (!rc) rc = tok_chat_encode(tok, msgs, nm, 1, family, &p->ids, &p->n);
            if (!rc) p->label = rlc_strdup(nm ? msgs[nm - 1].content : "");
            free(msgs);
        } else if (cJSON_IsArray(ji)) {
            rc = cli_ids_from_json(ji, "ids", &p->ids, &p->n);
            p->label = rlc_strdup("(ids)");
        } else {
            rc = rlc_errc(RLC_EFMT, "%s: needs \"prompt\", \"messages\" or \"ids\"", where);
        }
        cJSON_Delete(row);
        if (rc) {
            rlc_err_ctx(rc, "%s", where);
            free(p->ids);
            free(p->label);
            break;
        }
        n++;
    }
    rlc_jsonl_close(&r);
    if (rc < 0) {
        for (int i = 0; i < n; i++) free(ps[i].ids), free(ps[i].label);
        free(ps);
        return rc;
    }
    if (!n) {
        free(ps);
        return rlc_errc(RLC_EINVAL, "%s: no prompts", path);
    }
    *out = ps;
    *count = n;
    return 0;
}

static void print_json(const gen_engine_t *e, int req, const prompt_t *p, int n, const tok_t *tok) {
    cJSON *o = cJSON_CreateObject();
    rlc_json_add_text(o, "prompt", p->label ? p->label : "", p->label ? strlen(p->label) : 0);
    cJSON_AddNumberToObject(o, "prompt_tokens", p->n);
    cJSON *arr = cJSON_AddArrayToObject(o, "completions");
    for (int i = 0; i < n; i++) {
        const gen_output_t *g = gen_output(e, req, i);
        cJSON *c = cJSON_CreateObject();
        if (tok) rlc_json_add_text(c, "text", g->text, g->text_len);
        cJSON *ids = cJSON_AddArrayToObject(c, "ids"), *lps = cJSON_AddArrayToObject(c, "logprobs");
        for (int k = 0; k < g->n_tokens; k++) {
            cJSON_AddItemToArray(ids, cJSON_CreateNumber(g->tokens[k]));
            cJSON_AddItemToArray(lps, g->trainable[k] ? cJSON_CreateNumber(g->logp[k]) : cJSON_CreateNull());
        }
        cJSON_AddStringToObject(c, "finish_reason", gen_finish_name(g->finish));
        if (g->n_tool_calls) cJSON_AddNumberToObject(c, "tool_calls", g->n_tool_calls);
        cJSON_AddItemToArray(arr, c);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

/* Every completion: JSON lines, or text under a header per sample. */
static void print_outputs(const gen_engine_t *e, const int *reqs, const prompt_t *ps, int np, int n, int json, int tools,
                          const tok_t *tok) {
    for (int i = 0; i < np; i++) {
        if (json) {
            print_json(e, reqs[i], &ps[i], n, tok);
            continue;
        }
        for (int k = 0; k < n; k++) {
            const gen_output_t *g = gen_output(e, reqs[i], k);
            printf("=== prompt %d sample %d (%d tokens, %s", i + 1, k + 1, g->n_tokens, gen_finish_name(g->finish));
            if (tools) printf(", %d tool call%s", g->n_tool_calls, g->n_tool_calls == 1 ? "" : "s");
            printf(") ===\n%s\n", g->text);
        }
    }
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *prompts = NULL, *system = NULL, *family = NULL, *device = "cpu",
               *vars = NULL, *date = NULL;
    long n = 1, max_new = 256, top_k = 0, seed = 0, threads = 0, kv_mb = 0, page = 16, batch_tokens = 512;
    double temperature = 1.0, top_p = 1.0, min_p = 0.0;
    int chat = 0, json = 0, ignore_eos = 0;
    cli_list_t stops = {0};
    cli_opt_t base[] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory", 1, 0},
        {"--prompt", OPT_STR, &prompt, "a prompt", 0, 0},
        {"--prompts", OPT_STR, &prompts, "JSONL of {prompt} | {messages} | {ids}", 0, 0},
        {"--chat", OPT_FLAG, &chat, "render prompts with the model's chat template", 0, 0},
        {"--system", OPT_STR, &system, "system message (with --chat)", 0, 0},
        {"--chat-template", OPT_STR, &family, "force a template family (chatml, qwen, llama3, ...)", 0, 0},
        {"--chat-vars", OPT_STR, &vars, "variables for the model's chat template, a JSON object (as chat_vars)", 0, 0},
        {"--chat-date", OPT_STR, &date, "the day the chat template shows: 26 Jul 2024 or 2024-07-26 [default: today]", 0,
         0},
        {"-n", OPT_INT, &n, "samples per prompt (share the prompt's KV pages)", 0, 0},
        {"--max-new-tokens", OPT_INT, &max_new, "tokens to generate at most", 0, 0},
        {"--temperature", OPT_FLOAT, &temperature, "0 = greedy", 0, 0},
        {"--top-p", OPT_FLOAT, &top_p, "nucleus sampling mass", 0, 0},
        {"--top-k", OPT_INT, &top_k, "keep the k most likely tokens (0 = off)", 0, 0},
        {"--min-p", OPT_FLOAT, &min_p, "keep tokens with p >= min_p * max p (0 = off)", 0, 0},
        {"--seed", OPT_INT, &seed, "sampling seed", 0, 0},
        {"--stop", OPT_LIST, &stops, "stop string (repeatable)", 0, 0},
        {"--ignore-eos", OPT_FLAG, &ignore_eos, "keep generating after EOS", 0, 0},
        {"--json", OPT_FLAG, &json, "one JSON line per prompt (text, ids, logprobs, finish_reason)", 0, 0},
        {"--device", OPT_STR, &device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &threads, "CPU threads (0 = all cores)", 0, 0},
        {"--kv-cache-mb", OPT_INT, &kv_mb, "KV cache budget in MiB (0 = 256 on the CPU, 90% of free memory on a GPU)", 0, 0},
        {"--page-size", OPT_INT, &page, "tokens per KV page", 0, 0},
        {"--batch-tokens", OPT_INT, &batch_tokens, "tokens per engine step", 0, 0},
    };
    cli_tool_args_t ta;
    cli_tool_args_default(&ta);
    cli_opt_t opts[sizeof base / sizeof base[0] + CLI_TOOL_NOPTS];
    memcpy(opts, base, sizeof base);
    int nopts = (int)(sizeof base / sizeof base[0]);
    nopts += cli_tool_opts(opts + nopts, &ta, 0);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc generate --model DIR (--prompt P | --prompts FILE.jsonl) [--chat] [-n G] [options]",
                       "Generate completions with the rollout engine; a tokens/s summary goes to stderr.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if ((prompt != NULL) == (prompts != NULL)) {
        rlc_errc(RLC_EINVAL, "give exactly one of --prompt and --prompts");
        return cli_fail();
    }
    /* every number checked before the model loads */
    if (cli_engine_check(kv_mb, page, batch_tokens, threads) || cli_check_range("-n", n, 1, 65536) ||
        cli_check_range("--max-new-tokens", max_new, 1, 1L << 20) || cli_check_range("--top-k", top_k, 0, 1L << 30) ||
        cli_check_range("--seed", seed, 0, 2147483647L))
        return cli_fail();
    if (!(temperature >= 0) || !(top_p > 0 && top_p <= 1) || !(min_p >= 0 && min_p <= 1)) {
        rlc_errc(RLC_EINVAL, "--temperature must be >= 0, --top-p in (0, 1] and --min-p in [0, 1]");
        return cli_fail();
    }
    rlc_tools_t *tools = NULL; /* tool flags, too, before the model loads */
    gen_engine_cfg_t cfg = {.kv_budget_bytes = (size_t)kv_mb << 20, .page_size = (int)page,
                            .max_batch_tokens = (int)batch_tokens};
    if (cli_tools_open(&ta, &tools, &cfg)) return cli_fail();
    cli_model_t cm;
    if (cli_model_open(&cm, model, device, (int)threads, 1) || cli_chat_setup(cm.tok, vars, date, family)) {
        cli_model_close(&cm);
        rlc_tools_free(tools);
        return cli_fail();
    }
    prompt_t *ps = NULL;
    int np = 0;
    if (prompt) {
        ps = rlc_calloc(1, sizeof *ps);
        rc = ps ? cli_encode_prompt(cm.tok, prompt, chat, system, family, &ps[0].ids, &ps[0].n) : RLC_ENOMEM;
        if (!rc) {
            ps[0].label = rlc_strdup(prompt);
            np = 1;
        }
    } else {
        rc = read_prompts(prompts, cm.tok, chat, system, family, &ps, &np);
    }
    gen_engine_t *e = NULL;
    int *reqs = NULL;
    gen_params_t gp;
    gen_params_default(&gp);
    cli_tools_params(&ta, tools, &gp.tool_markers, &gp.n_tool_markers, &gp.max_tool_calls);
    if (!rc) rc = gen_engine_create(&e, cm.m, cm.tok, &cfg);
    if (!rc && !(reqs = rlc_malloc((size_t)np * sizeof *reqs))) rc = RLC_ENOMEM;
    gp.n = (int)n;
    gp.max_new_tokens = (int)max_new;
    gp.temperature = (float)temperature;
    gp.top_p = (float)top_p;
    gp.top_k = (int)top_k;
    gp.min_p = (float)min_p;
    gp.seed = (uint64_t)seed;
    gp.ignore_eos = ignore_eos;
    gp.stop_strings = stops.v;
    gp.n_stop_strings = stops.n;
    for (int i = 0; !rc && i < np; i++) {
        reqs[i] = gen_submit(e, ps[i].ids, ps[i].n, &gp, NULL);
        if (reqs[i] < 0) rc = rlc_err_ctx(reqs[i], "prompt %d", i + 1);
    }
    if (!rc) {
        rlc_progress_t pg;
        rlc_progress_begin(&pg, "generate", (long)np * n);
        rc = gen_run(e, &pg);
        rlc_progress_end(&pg);
    }
    if (!rc) print_outputs(e, reqs, ps, np, (int)n, json, tools != NULL, cm.tok);
    if (!rc) {
        gen_stats_t st;
        gen_stats(e, &st);
        LOG_INFO("generated %ld tokens for %d prompt%s x %ld in %.2f s: %.1f tok/s (prefill %ld tokens, %ld steps)",
                 st.sampled_tokens, np, np == 1 ? "" : "s", n, st.seconds,
                 st.seconds > 0 ? (double)st.sampled_tokens / st.seconds : 0.0, st.prefill_tokens, st.steps);
    }
    for (int i = 0; i < np; i++) free(ps[i].ids), free(ps[i].label);
    free(ps);
    free(reqs);
    gen_engine_free(e);
    rlc_tools_free(tools);
    cli_model_close(&cm);
    return rc ? cli_fail() : 0;
}
