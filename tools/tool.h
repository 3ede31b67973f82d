/* Tools a policy calls during a rollout (docs/tools.md): the call formats (code / hermes /
 * tags / llama3: how a call is written, where generation pauses, how the answer is rendered), the
 * tools (calculator in-process, python in a sandboxed child, http), and the batch runner the
 * rollout engine calls once per step so the calls of many samples run concurrently. */
#pragma once
#include <stddef.h>

#include "gen/engine.h"

typedef enum {
    RLC_TOOL_FMT_CODE = 0,   /* ToRL: ```python ... ``` answered by ```output ... ``` */
    RLC_TOOL_FMT_HERMES = 1, /* Qwen2.5 / Hermes: <tool_call>{json}</tool_call> -> <tool_response> turn */
    RLC_TOOL_FMT_TAGS = 2,   /* Search-R1: <search>q</search> -> <information>...</information> */
    RLC_TOOL_FMT_LLAMA3 = 3, /* Llama 3.1-3.3: {"name", "parameters"} or <|python_tag|>code, ended by
                                <|eot_id|> / <|eom_id|> -> the ipython turn */
    RLC_TOOL_FMT_GLM = 4,    /* GLM-4.5 / 4.6: <tool_call>name <arg_key>k</arg_key><arg_value>v</arg_value>...
                                </tool_call> -> the <|observation|> turn */
    RLC_TOOL_FMT_QWEN3_CODER = 5, /* Qwen3-Coder: <tool_call><function=name><parameter=k>v</parameter>...
                                     </function></tool_call> -> a user turn of <tool_response> */
    RLC_TOOL_FMT_MISTRAL = 6, /* Mistral (v11 tokenizers: Ministral 3, Mistral Small 3.2, Devstral):
                                 [TOOL_CALLS]name[ARGS]{json} ended by </s> -> [TOOL_RESULTS]...[/TOOL_RESULTS] */
    RLC_TOOL_FMT_GLM47 = 7,   /* GLM-4.7 / 4.7-Flash: glm's call without newlines -> <|observation|><tool_response>
                                 ...</tool_response>, then the assistant's <think> */
} rlc_tool_format_t;
#define RLC_TOOL_N_FORMATS 8

enum { RLC_TOOL_CALCULATOR = 1 << 0, RLC_TOOL_PYTHON = 1 << 1, RLC_TOOL_HTTP = 1 << 2 };
/* The tools' names, in bit order: rlc_tool_names[k] is tool 1 << k. */
extern const char *const rlc_tool_names[3];

typedef enum { RLC_TOOL_OK = 0, RLC_TOOL_ERROR = 1, RLC_TOOL_TIMEOUT = 2 } rlc_tool_status_t;

typedef struct {
    int tools;               /* RLC_TOOL_* bits enabled */
    rlc_tool_format_t format;
    double timeout_s;        /* per call, wall clock (5) */
    size_t max_output_bytes; /* a call's output is cut here (2048) */
    int workers;             /* calls run at once (8) */
    const char *python;      /* interpreter for the python tool ("python3": resolved once to its real path) */
    int python_exec;         /* 1: a fresh interpreter per call; 0 (default): fork servers (docs/tools.md) */
    const char *python_preload; /* fork servers import these modules once ("numpy,sympy"); NULL/"": none */
    const char *http_url;    /* the http tool's endpoint */
} rlc_tools_cfg_t;

void rlc_tools_cfg_default(rlc_tools_cfg_t *c);
/* "calculator,python" -> bits; "code" / "hermes" / "tags" / "llama3" / "glm" / "qwen3_coder" / "mistral" / "glm47" ->
 * format. Unknown names: error. */
int rlc_tools_parse_list(const char *csv, int *tools);
int rlc_tools_parse_format(const char *name, rlc_tool_format_t *f);
const char *rlc_tools_format_name(rlc_tool_format_t f);

typedef struct {
    long calls, errors, timeouts, malformed;
    double seconds; /* summed over calls (they overlap) */
} rlc_tools_stats_t;

typedef struct rlc_tools rlc_tools_t;

/* The tool settings as the trainer's keys and the CLI flags give them (names, not bits). */
typedef struct {
    const char *tools, *format, *python, *http_url; /* tools: "calculator,python"; NULL/"" = none */
    const char *python_mode;                        /* "fork" (NULL: the default) or "exec" */
    const char *python_preload;                     /* modules the fork servers import once; NULL/"" = none */
    long max_calls, max_output_bytes, workers;
    double timeout_s;
} rlc_tools_settings_t;
/* Parse and check the settings into a config, shared by the trainer's keys and the CLI flags:
 * 0, or an error naming the key (unknown tool or format; max_tool_calls in [0, 64],
 * tool_timeout_s in (0, 3600], tool_max_output_bytes in [16, 16 MiB], tool_workers in
 * [1, 256], tool_python_mode fork or exec, tool_python_preload module names). */
int rlc_tools_cfg_from(const rlc_tools_settings_t *s, rlc_tools_cfg_t *cfg);
/* The numeric ranges above: 0, or an error naming the key (rlc_tools_create checks a
 * config made by hand with it too). */
int rlc_tools_check_ranges(long max_calls, double timeout_s, long max_output_bytes, long workers);
/* tool_prompt_in: "problem" (or NULL) or "template" (*template_ 1); anything else an error. */
int rlc_tools_prompt_in(const char *where, int *template_);
/* tool_prompt_in = template describes function calls: 0 for hermes and llama3, else an error. */
int rlc_tools_check_template_format(rlc_tool_format_t f);

int rlc_tools_create(rlc_tools_t **out, const rlc_tools_cfg_t *cfg);
void rlc_tools_free(rlc_tools_t *t);
/* The strings whose appearance pauses generation for the format (for gen_params_t). */
int rlc_tools_markers(const rlc_tools_t *t, const char *const **markers);
/* gen_tool_batch_fn: user = the rlc_tools_t. */
int rlc_tools_engine_batch(void *user, const gen_tool_call_t *calls, int n, char **outs, size_t *out_lens);
/* Counters since the last take (then reset). */
void rlc_tools_stats_take(rlc_tools_t *t, rlc_tools_stats_t *out);

/* One call of a named tool on its input, as the trainer runs it: *out (malloc'd, the tool's
 * output or an error text) and *st. Returns 0, or a negative error for bad arguments (an
 * unknown or disabled tool). */
int rlc_tool_run(rlc_tools_t *t, const char *tool, const char *input, char **out, size_t *out_len,
                 rlc_tool_status_t *st);

/* ---- formats (format.c) ---- */
/* The strings that end a call in format f (for gen_params_t.tool_markers): one, or llama3's
 * two special tokens (<|eom_id|>, <|eot_id|>), on which the engine pauses when they are
 * sampled. Returns the count. */
int rlc_tool_format_markers(rlc_tool_format_t f, const char *const **markers);
/* The call that ends `text` (which ends with a marker of f): 1 with the tool's name and
 * malloc'd input; 0 when the marker closes no call (a code fence of another language, an
 * opening fence); 2 when the call is malformed (bad JSON, no name): *input is then a
 * malloc'd error text for the model; a negative error on allocation failure. */
int rlc_tool_parse(rlc_tool_format_t f, const char *text, size_t len, char *tool, size_t tool_cap, char **input);
/* The text appended after a call: the output (or error text) wrapped for the format;
 * malloc'd. */
char *rlc_tool_render(rlc_tool_format_t f, const char *out, size_t out_len, size_t *len);
/* The spans of a trace that are tool outputs as rlc_tool_render writes them (the wrapper
 * included): [starts[i], ends[i]) in order, non-overlapping; an output whose closing part is
 * missing runs to the end. Returns the count (at most cap written). SFT masks these, as the
 * rollout does. */
int rlc_tool_output_spans(rlc_tool_format_t f, const char *text, size_t len, size_t *starts, size_t *ends, int cap);
/* The prompt-side description of the enabled tools in the format (for templates); malloc'd. */
char *rlc_tool_prompt(rlc_tool_format_t f, int tools);
/* The enabled tools' definitions as chat templates take `tools` (OpenAI-style function
 * schemas, the same rlc_tool_prompt lists); a new array, NULL on allocation failure. */
cJSON *rlc_tool_defs(int tools);
/* tool_prompt_in = template: the definitions added to tok's chat-template variables as
 * `tools` (beside the variables already set), so the model's own template describes them as
 * it was trained to (Qwen2.5: a system-turn <tools> block; Llama 3.1: "Environment: ipython"
 * and the schemas in the first user turn). Errors: a format without function calls (code, tags), a
 * template that does not run or renders the same without tools, `tools` already set. */
int rlc_tools_template_vars(tok_t *tok, rlc_tool_format_t f, int tools);

/* ---- tools ---- */
/* calculator.c: exact arithmetic; returns the result text (or an error text) malloc'd. */
char *rlc_calculator(const char *expr, rlc_tool_status_t *st);
/* sandbox.c: run Python code in the sandbox; output (stdout + stderr, cut) malloc'd. */
char *rlc_python_run(const char *python, const char *code, double timeout_s, size_t max_out, rlc_tool_status_t *st);
/* The real interpreter behind a name on PATH (a pyenv shim resolved); malloc'd, NULL when
 * none runs. */
char *rlc_python_resolve(const char *name);
