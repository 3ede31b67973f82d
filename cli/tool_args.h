/* The tool options shared by the commands that sample (eval, generate): the same names,
 * defaults and ranges as the trainer's tool keys (docs/tools.md), so a model trained with
 * tools is evaluated with the tools it learnt to call. */
#pragma once
#include "cli/args.h"
#include "data/dataset.h"
#include "data/template.h"
#include "gen/engine.h"
#include "tools/tool.h"

typedef struct {
    const char *tools, *format, *python, *url, *python_mode, *python_preload;
    long max_calls, max_output, workers;
    double timeout;
    int prompt;
    const char *prompt_in; /* --tool-prompt-in: problem (NULL) or template */
} cli_tool_args_t;

enum { CLI_TOOL_NOPTS = 12 };
void cli_tool_args_default(cli_tool_args_t *a);
/* Write the option rows (at most CLI_TOOL_NOPTS) into opts; returns the count. --tool-prompt
 * and --tool-prompt-in only when with_prompt (commands that read problems from a dataset). */
int cli_tool_opts(cli_opt_t *opts, cli_tool_args_t *a, int with_prompt);

/* The tools the flags enable: *out NULL when --tools was not given (then nothing else is
 * touched). Otherwise the tool set is made and the engine config answers its calls (the
 * sampling parameters pause at its markers: cli_tools_params). Bad values: an error. */
int cli_tools_open(const cli_tool_args_t *a, rlc_tools_t **out, gen_engine_cfg_t *ec);
/* With --tool-prompt, before encoding: the tools described in every problem of ds or given
 * to tok's chat template, as --tool-prompt-in says (rl/toolprompt.h, the trainer's rule). */
int cli_tools_describe(const cli_tool_args_t *a, tok_t *tok, data_tpl_t tpl, const char *family, data_set_t *ds);
/* Pause markers and the call cap for the sampling parameters of an opened tool set. */
void cli_tools_params(const cli_tool_args_t *a, const rlc_tools_t *t, const char *const **markers, int *n_markers,
                      int *max_calls);
