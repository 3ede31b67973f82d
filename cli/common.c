/* Model/tokenizer loading and prompt encoding shared by generate, eval, train. */
#include "cli/common.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "rl/rundir.h"

int cli_model_open(cli_model_t *cm, const char *spec, const char *device, int threads, int need_tok) {
    memset(cm, 0, sizeof *cm);
    int rc = rl_model_resolve(spec, "--model", &cm->dir, &cm->step);
    if (rc) return rc;
    const char *dir = cm->dir;
    rc = rlc_backend_create(&cm->be, device, 0, threads);
    if (!rc) rc = rlc_model_load(&cm->m, dir, cm->be);
    if (!rc && need_tok >= 0) {
        if (tok_present(dir)) {
            if (!(rc = tok_load(&cm->tok, dir))) tok_set_model_vocab(cm->tok, cm->m->cfg.vocab_size);
        } else if (need_tok)
            rc = tok_missing(dir);
    }
    if (rc) cli_model_close(cm);
    return rc;
}

void cli_model_record(const cli_model_t *cm, cJSON *obj) {
    if (!obj || !cm->dir) return;
    cJSON_AddStringToObject(obj, "model", cm->dir);
    if (cm->step >= 0) cJSON_AddNumberToObject(obj, "model_step", (double)cm->step);
}

void cli_model_close(cli_model_t *cm) {
    if (cm->tok) tok_free(cm->tok);
    rlc_model_free(cm->m);
    rlc_backend_destroy(cm->be);
    free(cm->dir);
    memset(cm, 0, sizeof *cm);
}

int cli_parse_ids(const char *s, const char *what, int32_t **ids, int *n) {
    int cap = 64, k = 0;
    int32_t *v = rlc_malloc(sizeof *v * (size_t)cap);
    if (!v) return RLC_ENOMEM;
    /* "1 2 3", "1,2,3" or one bracketed list "[1, 2, 3]": brackets only as a matched pair
     * around the whole list */
    const char *p = s, *end_all = s + strlen(s);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    while (end_all > p && (end_all[-1] == ' ' || end_all[-1] == '\t' || end_all[-1] == '\r' || end_all[-1] == '\n'))
        end_all--;
    int bracketed = *p == '[';
    if (bracketed != (end_all > p && end_all[-1] == ']') || (bracketed && end_all - p < 2)) {
        free(v);
        return rlc_errc(RLC_EINVAL, "%s: unbalanced brackets in '%.40s'", what, s);
    }
    if (bracketed) p++, end_all--;
    for (const char *q = p; q < end_all; q++)
        if (*q == '[' || *q == ']') {
            free(v);
            return rlc_errc(RLC_EINVAL, "%s: a list of token ids takes one pair of brackets ('%.40s')", what, s);
        }
    for (;;) {
        while (p < end_all && (*p == ' ' || *p == ',' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
        if (p >= end_all) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < -2147483647L || x > 2147483647L) {
            free(v);
            return rlc_errc(RLC_EINVAL, "%s: '%.20s' is not a token id", what, p);
        }
        if (k == cap) {
            int32_t *nv = rlc_realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!nv) {
                free(v);
                return RLC_ENOMEM;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cli_ids_from_json(const cJSON *arr, const char *what, int32_t **ids, int *n) {
    char *s = cJSON_PrintUnformatted(arr);
    int rc = s ? cli_parse_ids(s, what, ids, n) : RLC_ENOMEM;
    free(s);
    return rc;
}

int cli_encode_prompt(const tok_t *tok, const char *text, int chat, const char *system, const char *family,
                      int32_t **ids, int *n) {
    if (!chat) return tok_encode(tok, text, strlen(text), 1, ids, n);
    tok_msg_t msgs[2];
    int k = 0;
    if (system) msgs[k++] = (tok_msg_t){"system", system};
    msgs[k++] = (tok_msg_t){"user", text};
    return tok_chat_encode(tok, msgs, k, 1, family, ids, n);
}

void cli_sample_args_default(cli_sample_args_t *a) {
    memset(a, 0, sizeof *a);
    a->profile = "auto";
    a->tpl_name = "qwen-math-cot";
    a->device = "cpu";
    a->temperature = 0.6;
    a->top_p = 0.95;
    a->max_new = 1024;
    a->batch_tokens = 512;
}

int cli_sample_opts(cli_opt_t *o, cli_sample_args_t *a) {
    const cli_opt_t rows[CLI_SAMPLE_NOPTS] = {
        {"--profile", OPT_STR, &a->profile, "auto, math500, aime, gsm8k, verl or custom", 0, 0},
        {"--prompt-key", OPT_STR, &a->prompt_key, "field holding the problem (custom)", 0, 0},
        {"--answer-key", OPT_STR, &a->answer_key, "field holding the gold answer (custom)", 0, 0},
        {"--template", OPT_STR, &a->tpl_name, "qwen-math-cot, boxed, r1, dapo or raw", 0, 0},
        {"--chat-template", OPT_STR, &a->family, "force a chat template family", 0, 0},
        {"--chat-vars", OPT_STR, &a->chat_vars,
         "variables for the model's chat template, a JSON object (as chat_vars), e.g. {\"enable_thinking\": false}", 0,
         0},
        {"--chat-date", OPT_STR, &a->chat_date,
         "the day the chat template shows (as chat_date): 26 Jul 2024 or 2024-07-26 [default: today]", 0, 0},
        {"--temperature", OPT_FLOAT, &a->temperature, "sampling temperature (0 = greedy)", 0, 0},
        {"--top-p", OPT_FLOAT, &a->top_p, "nucleus sampling mass", 0, 0},
        {"--top-k", OPT_INT, &a->top_k, "top-k (0 = off)", 0, 0},
        {"--max-new-tokens", OPT_INT, &a->max_new, "tokens per completion at most", 0, 0},
        {"--seed", OPT_INT, &a->seed, "sampling seed", 0, 0},
        {"--limit", OPT_INT, &a->limit, "use the first N problems (0 = all)", 0, 0},
        {"--strict", OPT_FLAG, &a->strict,
         "a bad row (malformed, unencodable, longer than the context) is fatal (default: reported and skipped)", 0, 0},
        {"--extract", OPT_STR, &a->extract, "answer extraction rules, e.g. boxed,final_answer (default: by template)",
         0, 0},
        {"--percent", OPT_FLAG, &a->percent, "also accept answers off by a factor of 100 (percent problems)", 0, 0},
        {"--percent-strict", OPT_FLAG, &a->percent_strict, "a % sign is notation only: 28% = 28 but not 0.28", 0, 0},
        {"--no-chains", OPT_FLAG, &a->no_chains, "compare a = b = c and equations as written, not by their last side",
         0, 0},
        {"--device", OPT_STR, &a->device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &a->threads, "CPU threads (0 = all cores)", 0, 0},
        {"--kv-cache-mb", OPT_INT, &a->kv_mb, "KV cache budget in MiB (0 = 256 on the CPU, 90% of free memory on a GPU)",
         0, 0},
        {"--batch-tokens", OPT_INT, &a->batch_tokens, "tokens per engine step", 0, 0},
    };
    memcpy(o, rows, sizeof rows);
    return CLI_SAMPLE_NOPTS;
}

int cli_chat_setup(tok_t *tok, const char *vars, const char *date, const char *family) {
    if (vars && family && *family)
        return rlc_errc(RLC_EINVAL, "--chat-vars needs the model's own template (not --chat-template %s)", family);
    int rc = vars ? tok_set_chat_vars(tok, vars) : 0;
    if (rc) return rlc_err_ctx(rc, "--chat-vars");
    return date ? tok_set_chat_date(tok, date) : 0;
}

void cli_sample_math_opts(const cli_sample_args_t *a, math_opts_t *mo) {
    mo->percent = a->percent;
    mo->percent_strict = a->percent_strict;
    mo->chains = !a->no_chains;
}

/* The directory part of path ("." when none); malloc'd. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return rlc_strdup(".");
    if (slash == path) return rlc_strdup("/");
    char *d = rlc_malloc((size_t)(slash - path) + 1);
    if (d) memcpy(d, path, (size_t)(slash - path)), d[slash - path] = 0;
    return d;
}

int cli_check_output(const char *what, const char *path, const char *const *inputs, int n) {
    if (!path) return 0;
    struct stat so;
    int exists = stat(path, &so) == 0;
    for (int i = 0; i < n; i++) {
        struct stat si;
        if (!inputs[i]) continue;
        if (!strcmp(path, inputs[i]) ||
            (exists && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino))
            return rlc_errc(RLC_EINVAL, "%s %s is also an input: writing it would destroy the input", what, path);
    }
    if (exists && S_ISDIR(so.st_mode)) return rlc_errc(RLC_EINVAL, "%s %s is a directory", what, path);
    char *d = dir_of(path);
    if (!d) return RLC_ENOMEM;
    int rc = 0;
    if (!fs_is_dir(d)) rc = rlc_errc(RLC_EINVAL, "%s %s: directory %s does not exist", what, path, d);
    else if (access(d, W_OK) != 0) rc = rlc_err_errno("%s %s: cannot write in %s", what, path, d);
    else if (exists && access(path, W_OK) != 0) rc = rlc_err_errno("%s %s: cannot overwrite it", what, path);
    free(d);
    return rc;
}

int cli_engine_check(long kv_mb, long page, long batch_tokens, long threads) {
    int rc = cli_check_range("--kv-cache-mb", kv_mb, 0, 1L << 24);
    if (!rc) rc = cli_check_range("--page-size", page, 1, 4096);
    if (!rc) rc = cli_check_range("--batch-tokens", batch_tokens, 1, 1L << 22);
    if (!rc) rc = cli_check_range("--threads", threads, 0, RLC_MAX_THREADS);
    return rc;
}

int cli_sample_load(const char *path, const cli_sample_args_t *a, data_set_t *ds) {
    int rc = cli_engine_check(a->kv_mb, 16, a->batch_tokens, a->threads);
    if (!rc) rc = cli_check_range("--max-new-tokens", a->max_new, 1, 1L << 20);
    if (!rc) rc = cli_check_range("--top-k", a->top_k, 0, 1L << 30);
    if (!rc) rc = cli_check_range("--seed", a->seed, 0, 2147483647L);
    if (!rc) rc = cli_check_range("--limit", a->limit, 0, 2147483647L);
    if (!rc && !(a->temperature >= 0)) rc = rlc_errc(RLC_EINVAL, "--temperature must be >= 0");
    if (!rc && !(a->top_p > 0 && a->top_p <= 1)) rc = rlc_errc(RLC_EINVAL, "--top-p must lie in (0, 1]");
    if (rc) return rc;
    data_load_opts_t lo = {.profile = a->profile, .prompt_key = a->prompt_key, .answer_key = a->answer_key,
                           .strict = a->strict, .limit = a->limit};
    long skipped = 0;
    if ((rc = data_load_jsonl(path, &lo, ds, &skipped))) return rc;
    if (skipped) LOG_WARN("%s: %ld malformed line(s) skipped (--strict makes them fatal)", path, skipped);
    if (ds->n < 1) {
        data_set_free(ds);
        return rlc_errc(RLC_EINVAL, "%s: no problems to evaluate", path);
    }
    return 0;
}

gen_engine_cfg_t cli_sample_engine_cfg(const cli_sample_args_t *a) {
    gen_engine_cfg_t ec = {.kv_budget_bytes = (size_t)a->kv_mb << 20, .max_batch_tokens = (int)a->batch_tokens};
    return ec;
}
