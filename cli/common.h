/* Helpers shared by subcommands that run a model: loading backend + model + tokenizer,
 * turning a prompt (plain or chat) into token ids, and the dataset + sampling options that
 * `rlc eval` and `rlc tts` share. */
#pragma once
#include "rewards/math/math.h"
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "data/dataset.h"
#include "gen/engine.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "tokenizer/tok.h"

typedef struct {
    rlc_backend_t *be;
    rlc_model_t *m;
    tok_t *tok; /* NULL when the directory has no tokenizer and none is required */
    char *dir;  /* the model directory loaded (a run or checkpoint pointer resolved) */
    long step;  /* its step when it came from a run, else -1 */
} cli_model_t;

/* spec: a model directory, a run directory or a checkpoint pointer (rl_model_resolve).
 * need_tok: 1 fail when the model directory has no tokenizer; 0 load it when present;
 * -1 do not load it. */
int cli_model_open(cli_model_t *cm, const char *dir, const char *device, int threads, int need_tok);
void cli_model_close(cli_model_t *cm);
/* "model": the directory loaded, and "model_step" when it came from a run, into obj. */
void cli_model_record(const cli_model_t *cm, cJSON *obj);

/* ids of a prompt: chat = render [system?, user] with the chat template (family NULL =
 * detected) and add a generation prompt; otherwise the text with the tokenizer's special
 * tokens (BOS) added. */
int cli_encode_prompt(const tok_t *tok, const char *text, int chat, const char *system, const char *family,
                      int32_t **ids, int *n);
/* Token ids written as "1 2 3", "1,2,3" or "[1, 2, 3]" (any int32: range checks belong to
 * whoever uses them). what names the source in errors ("--ids"). *ids is malloc'd. */
int cli_parse_ids(const char *s, const char *what, int32_t **ids, int *n);
/* A JSON array of token ids, read as cli_parse_ids reads them (a non-integer is an error). */
int cli_ids_from_json(const cJSON *arr, const char *what, int32_t **ids, int *n);


/* The options of commands that sample completions for a math dataset (eval, tts). */
typedef struct {
    const char *profile, *prompt_key, *answer_key, *tpl_name, *family, *extract, *device, *chat_vars, *chat_date;
    double temperature, top_p;
    long top_k, max_new, seed, limit, threads, kv_mb, batch_tokens;
    int strict, percent, percent_strict, no_chains;
} cli_sample_args_t;

enum { CLI_SAMPLE_NOPTS = 22 };
void cli_sample_args_default(cli_sample_args_t *a);
/* Write the shared option rows (CLI_SAMPLE_NOPTS of them) into opts; returns the count. */
int cli_sample_opts(cli_opt_t *opts, cli_sample_args_t *a);
/* --chat-vars and --chat-date (the trainer's chat_vars, chat_date): variables every
 * rendering of tok's chat template gets (an error with a forced built-in format, family,
 * which reads none), and the day it shows. NULL: nothing. */
int cli_chat_setup(tok_t *tok, const char *vars, const char *date, const char *family);
/* The grading options a's flags choose (--percent, --percent-strict, --no-chains). */
void cli_sample_math_opts(const cli_sample_args_t *a, math_opts_t *mo);
/* The dataset at path with a's profile, keys, strictness and limit; skipped malformed lines
 * are reported; an empty dataset is an error. */
int cli_sample_load(const char *path, const cli_sample_args_t *a, data_set_t *ds);
/* The rollout engine's settings from a (KV budget, tokens per step). */
gen_engine_cfg_t cli_sample_engine_cfg(const cli_sample_args_t *a);
/* An output path checked before any work: not one of the inputs (n paths, NULL skipped; the
 * same file under another name counts), not a directory, and in a writable directory.
 * `what` names the option ("--out"). */
int cli_check_output(const char *what, const char *path, const char *const *inputs, int n);
/* The engine options of a command checked: --kv-cache-mb, --page-size, --batch-tokens, --threads. */
int cli_engine_check(long kv_mb, long page, long batch_tokens, long threads);
