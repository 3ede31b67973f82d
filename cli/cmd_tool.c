/* `rlc tool`: one tool call run exactly as the trainer runs it (same sandbox, limits and
 * output cap), so a user can check the setup: `rlc tool python --code 'print(2**100)'`,
 * `rlc tool calculator --expr '3^200/7'`, or a whole call in a format:
 * `rlc tool --format hermes --call '<tool_call>{"name": "calculator", ...}</tool_call>'`
 * prints what would be appended to the sequence. Exit 0 when the tool succeeded, 2 when it
 * answered with an error or timed out (its text is printed all the same), 1 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/err.h"
#include "tools/tool.h"

static int run_call(rlc_tools_t *t, rlc_tool_format_t f, const char *call) {
    gen_tool_call_t c = {.text = call, .text_len = strlen(call)};
    char *out = NULL;
    size_t n = 0;
    rlc_tools_stats_t st;
    if (rlc_tools_engine_batch(t, &c, 1, &out, &n)) return cli_fail();
    rlc_tools_stats_take(t, &st);
    if (!out) {
        fprintf(stderr, "rlc: the text does not end with a %s tool call (nothing would be appended)\n",
                rlc_tools_format_name(f));
        return 2;
    }
    fwrite(out, 1, n, stdout);
    free(out);
    return st.errors || st.timeouts || st.malformed ? 2 : 0;
}

int cmd_tool(int argc, char **argv) {
    const char *code = NULL, *expr = NULL, *input = NULL, *call = NULL, *format = "code", *python = "python3";
    const char *tools_csv = "calculator,python", *url = NULL, *mode = "fork", *preload = NULL;
    double timeout = 5.0;
    long max_out = 2048;
    cli_opt_t opts[] = {
        {"--code", OPT_STR, &code, "python: the code to run", 0, 0},
        {"--expr", OPT_STR, &expr, "calculator: the expression", 0, 0},
        {"--input", OPT_STR, &input, "the tool's input, whatever the tool", 0, 0},
        {"--call", OPT_STR, &call, "a model's text ending in a tool call: parsed and answered as in a rollout", 0, 0},
        {"--format", OPT_STR, &format, "with --call: code, hermes, tags, llama3, glm, qwen3_coder, mistral or glm47", 0,
         0},
        {"--tools", OPT_STR, &tools_csv, "with --call: the enabled tools", 0, 0},
        {"--timeout", OPT_FLOAT, &timeout, "seconds per call (tool_timeout_s)", 0, 0},
        {"--max-output", OPT_INT, &max_out, "bytes of output kept (tool_max_output_bytes)", 0, 0},
        {"--python", OPT_STR, &python, "the interpreter for the python tool", 0, 0},
        {"--python-mode", OPT_STR, &mode, "fork or exec (tool_python_mode)", 0, 0},
        {"--python-preload", OPT_STR, &preload, "modules the fork server imports once (tool_python_preload)", 0, 0},
        {"--url", OPT_STR, &url, "the http tool's endpoint (tool_http_url)", 0, 0},
    };
    /* the tool's name comes first: `rlc tool python --code ...` */
    const char *name = NULL;
    if (argc > 1 && argv[1][0] != '-') {
        name = argv[1];
        argv[1] = argv[0];
        argv++, argc--;
    }
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                       "rlc tool NAME (--code C | --expr E | --input X) [--url U] | rlc tool --call TEXT [--format F]",
                       "Run one tool call as the trainer would (docs/tools.md) and print its output.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if (call && (name || code || expr || input)) {
        rlc_errc(RLC_EINVAL, "--call takes the whole text: no tool name, --code, --expr or --input with it");
        return cli_fail();
    }
    if (!call) {
        if (!name) {
            rlc_errc(RLC_EINVAL, "name a tool (calculator, python) or give --call TEXT (see --help)");
            return cli_fail();
        }
        const char *in = code ? code : expr ? expr : input;
        if (!in || (!!code + !!expr + !!input) != 1) {
            rlc_errc(RLC_EINVAL, "give the input once: --code, --expr or --input");
            return cli_fail();
        }
        input = in;
    }
    /* checked as the trainer checks its tool keys (one worker: one call) */
    const rlc_tools_settings_t ts = {.tools = call ? tools_csv : name,
                                     .format = format,
                                     .python = python,
                                     .http_url = url,
                                     .python_mode = mode,
                                     .python_preload = preload,
                                     .max_calls = 4,
                                     .max_output_bytes = max_out,
                                     .workers = 1,
                                     .timeout_s = timeout};
    rlc_tools_cfg_t cfg;
    if (rlc_tools_cfg_from(&ts, &cfg)) return cli_fail();
    rlc_tools_t *t;
    if (rlc_tools_create(&t, &cfg)) return cli_fail();
    if (call) {
        rc = run_call(t, cfg.format, call);
    } else {
        char *out = NULL;
        size_t n = 0;
        rlc_tool_status_t st;
        if (rlc_tool_run(t, name, input, &out, &n, &st)) {
            rlc_tools_free(t);
            return cli_fail();
        }
        fwrite(out, 1, n, stdout);
        if (n && out[n - 1] != '\n') fputc('\n', stdout);
        free(out);
        rc = st == RLC_TOOL_OK ? 0 : 2;
    }
    rlc_tools_free(t);
    return rc;
}
