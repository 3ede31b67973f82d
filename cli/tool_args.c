/* Tool flags for the sampling commands (cli/tool_args.h). */
#include "cli/tool_args.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rl/toolprompt.h"

void cli_tool_args_default(cli_tool_args_t *a) {
    rlc_tools_cfg_t d;
    rlc_tools_cfg_default(&d);
    *a = (cli_tool_args_t){.format = "code",
                           .python = d.python,
                           .python_mode = "fork",
                           .max_calls = 4,
                           .max_output = (long)d.max_output_bytes,
                           .workers = d.workers,
                           .timeout = d.timeout_s};
}

int cli_tool_opts(cli_opt_t *o, cli_tool_args_t *a, int with_prompt) {
    const cli_opt_t rows[CLI_TOOL_NOPTS] = {
        {"--tools", OPT_STR, &a->tools, "tools the model may call: calculator,python,http (default: none)", 0, 0},
        {"--tool-format", OPT_STR, &a->format,
         "how calls are written: code, hermes, tags, llama3, glm, qwen3_coder, mistral or glm47", 0, 0},
        {"--max-tool-calls", OPT_INT, &a->max_calls, "tool calls per sample at most", 0, 0},
        {"--tool-timeout-s", OPT_FLOAT, &a->timeout, "wall-clock seconds per tool call", 0, 0},
        {"--tool-max-output-bytes", OPT_INT, &a->max_output, "a call's output is cut here", 0, 0},
        {"--tool-workers", OPT_INT, &a->workers, "tool calls run at once", 0, 0},
        {"--tool-python", OPT_STR, &a->python, "the python tool's interpreter", 0, 0},
        {"--tool-python-mode", OPT_STR, &a->python_mode, "fork (calls forked from a started interpreter) or exec", 0,
         0},
        {"--tool-python-preload", OPT_STR, &a->python_preload, "modules the fork servers import once (numpy,sympy)", 0,
         0},
        {"--tool-http-url", OPT_STR, &a->url, "the http tool's endpoint", 0, 0},
        {"--tool-prompt", OPT_FLAG, &a->prompt, "describe the tools in every prompt (as tool_prompt)", 0, 0},
        {"--tool-prompt-in", OPT_STR, &a->prompt_in,
         "with --tool-prompt: problem (before the problem text) or template (the chat template's tools)", 0, 0},
    };
    int n = with_prompt ? CLI_TOOL_NOPTS : CLI_TOOL_NOPTS - 2;
    memcpy(o, rows, (size_t)n * sizeof rows[0]);
    return n;
}

static int tools_cfg(const cli_tool_args_t *a, rlc_tools_cfg_t *tc) {
    const rlc_tools_settings_t ts = {.tools = a->tools,
                                     .format = a->format,
                                     .python = a->python,
                                     .http_url = a->url,
                                     .python_mode = a->python_mode,
                                     .python_preload = a->python_preload,
                                     .max_calls = a->max_calls,
                                     .max_output_bytes = a->max_output,
                                     .workers = a->workers,
                                     .timeout_s = a->timeout};
    int rc = rlc_tools_cfg_from(&ts, tc);
    if (!rc && a->prompt_in && !a->prompt) rc = rlc_errc(RLC_EINVAL, "--tool-prompt-in says where --tool-prompt puts "
                                                                     "the tools: give --tool-prompt too");
    if (!rc && !tc->tools && a->prompt) rc = rlc_errc(RLC_EINVAL, "--tool-prompt describes the tools: give --tools too");
    return rc;
}

int cli_tools_open(const cli_tool_args_t *a, rlc_tools_t **out, gen_engine_cfg_t *ec) {
    *out = NULL;
    rlc_tools_cfg_t tc;
    int rc = tools_cfg(a, &tc);
    if (rc || !tc.tools) return rc;
    if ((rc = rlc_tools_create(out, &tc))) return rc;
    ec->tool_batch_fn = rlc_tools_engine_batch;
    ec->tool_user = *out;
    return 0;
}

int cli_tools_describe(const cli_tool_args_t *a, tok_t *tok, data_tpl_t tpl, const char *family, data_set_t *ds) {
    rlc_tools_cfg_t tc;
    int rc = tools_cfg(a, &tc);
    if (rc || !a->prompt) return rc;
    return rl_tool_prompt_apply(tok, tpl, family, tc.format, tc.tools, a->prompt_in, ds, NULL);
}

void cli_tools_params(const cli_tool_args_t *a, const rlc_tools_t *t, const char *const **markers, int *n_markers,
                      int *max_calls) {
    *n_markers = t ? rlc_tools_markers(t, markers) : 0;
    if (!t) *markers = NULL;
    *max_calls = t ? (int)a->max_calls : 0;
}
