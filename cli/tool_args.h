/* The tool options shared by the commands that sample (eval, generate): the same names,
 * defaults and ranges as the trainer's tool keys (docs/tools.md), so a model trained with
 * tools is evaluated with the tools it learnt to call. */
#pragma once
#include "cli/args.h"
#include "data/dataset.h"
#include "gen/engine.h"
#include "tools/tool.h"

typedef struct {
    const char *tools, *format, *python, *url, *python_mode, *python_preload;
    long max_calls, max_output, workers;
    double timeout;
    int prompt;
} cli_tool_args_t;

enum { CLI_TOOL_NOPTS = 11 };
void cli_tool_args_default(cli_tool_args_t *a);
/* Write the option rows (at most CLI_TOOL_NOPTS) into opts; returns the count. --tool-prompt
 * only when with_prompt (commands that read problems from a dataset). */
int cli_tool_opts(cli_opt_t *opts, cli_tool_args_t *a, int with_prompt);

/* The tools the flags enable: *out NULL when --tools was not given (then nothing else is
 * touched). Otherwise the tool set is made, the engine config answers its calls, gp pauses
 * at its markers (max_tool_calls per sample), and with --tool-prompt every problem of ds (if
 * not NULL, before encoding) gets the tools' description first. Bad values: an error. */
int cli_tools_open(const cli_tool_args_t *a, rlc_tools_t **out, gen_engine_cfg_t *ec, data_set_t *ds);
/* Pause markers and the call cap for the sampling parameters of an opened tool set. */
void cli_tools_params(const cli_tool_args_t *a, const rlc_tools_t *t, const char *const **markers, int *n_markers,
                      int *max_calls);
