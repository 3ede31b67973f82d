/* Tool-call formats: where a call ends (the marker that pauses generation), how its tool and
 * input are read from the text, and how the answer is written back.
 *   code   (ToRL):   "```python\n<code>\n```"  ->  "\n```output\n<output>\n```\n"
 *   hermes (Qwen2.5): "<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>" -> the
 *            tool turn as Qwen2.5's chat template renders it: "<|im_end|>\n<|im_start|>user\n
 *            <tool_response>\n<output>\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
 *   tags   (Search-R1): "<search>query</search>" -> "\n\n<information>output</information>\n\n" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/str.h"
#include "tools/tool.h"

static char *dup_n(const char *b, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, b, n);
    s[n] = 0;
    return s;
}

static int fail_text(char **input, const char *msg) {
    *input = dup_n(msg, strlen(msg));
    return *input ? 2 : RLC_ENOMEM;
}

/* code: the text ends with "```" closing a "```python" block. */
static int parse_code(const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - 3; /* the closing fence */
    const char *open = rlc_last_in(text, end, "```");
    if (!open || strncmp(open, "```python", 9) || open + 9 > end) return 0; /* an opening fence, or not python */
    const char *b = open + 9;
    while (b < end && *b != '\n') b++;
    snprintf(tool, tool_cap, "python");
    *input = dup_n(b, (size_t)(end - b));
    return *input ? 1 : RLC_ENOMEM;
}

/* The input a tool takes from a hermes call's arguments. */
static char *hermes_input(const char *name, const cJSON *args) {
    const char *keys[] = {"code", "expression", "expr", "query", "input", NULL};
    for (const char *const *k = keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, *k);
        if (cJSON_IsString(v)) return dup_n(v->valuestring, strlen(v->valuestring));
    }
    (void)name;
    char *whole = args ? cJSON_PrintUnformatted(args) : NULL; /* http: the arguments as JSON */
    return whole ? whole : dup_n("{}", 2);
}

static int parse_hermes(const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - strlen("</tool_call>");
    const char *open = rlc_last_in(text, end, "<tool_call>");
    if (!open) return fail_text(input, "error: </tool_call> without <tool_call>");
    const char *b = open + strlen("<tool_call>");
    char *body = dup_n(b, (size_t)(end - b));
    if (!body) return RLC_ENOMEM;
    cJSON *j = cJSON_Parse(body);
    free(body);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fail_text(input, "error: the tool call is not a JSON object {\"name\": ..., \"arguments\": {...}}");
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    /* "arguments" (Qwen2.5 / Hermes) or "parameters" (Llama 3.x), an object or, as OpenAI's
     * API writes it, a string holding one */
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "arguments");
    if (!args) args = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    cJSON *decoded = cJSON_IsString(args) ? cJSON_ParseWithOpts(args->valuestring, NULL, 1) : NULL;
    if (decoded) args = decoded;
    if (!cJSON_IsString(name) || !name->valuestring[0] || (args && !cJSON_IsObject(args))) {
        cJSON_Delete(decoded);
        cJSON_Delete(j);
        return fail_text(input, "error: the tool call needs a \"name\" string and an \"arguments\" object");
    }
    snprintf(tool, tool_cap, "%s", name->valuestring);
    *input = hermes_input(name->valuestring, args);
    cJSON_Delete(decoded);
    cJSON_Delete(j);
    return *input ? 1 : RLC_ENOMEM;
}

static int parse_tags(const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - strlen("</search>");
    const char *open = rlc_last_in(text, end, "<search>");
    if (!open) return fail_text(input, "error: </search> without <search>");
    const char *b = open + strlen("<search>");
    snprintf(tool, tool_cap, "http");
    *input = dup_n(b, (size_t)(end - b));
    return *input ? 1 : RLC_ENOMEM;
}

/* The marker may end before the last byte (a token "```\n" carries the fence and a newline):
 * cut the text just after its last occurrence among the final bytes. */
static int cut_at_marker(const char *text, size_t *len, const char *marker) {
    size_t m = strlen(marker);
    const char *from = *len > m + 16 ? text + *len - m - 16 : text;
    const char *hit = rlc_last_in(from, text + *len, marker);
    if (!hit) return 0;
    *len = (size_t)(hit - text) + m;
    return 1;
}

int rlc_tool_parse(rlc_tool_format_t f, const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    *input = NULL;
    tool[0] = 0;
    switch (f) {
    case RLC_TOOL_FMT_CODE:
        if (!cut_at_marker(text, &len, "```")) return 0;
        return parse_code(text, len, tool, tool_cap, input);
    case RLC_TOOL_FMT_HERMES:
        if (!cut_at_marker(text, &len, "</tool_call>")) return 0;
        return parse_hermes(text, len, tool, tool_cap, input);
    case RLC_TOOL_FMT_TAGS:
        if (!cut_at_marker(text, &len, "</search>")) return 0;
        return parse_tags(text, len, tool, tool_cap, input);
    }
    return 0;
}

/* What the engine puts around a tool's output, per format. */
static const char *const pre[] = {"\n```output\n", "<|im_end|>\n<|im_start|>user\n<tool_response>\n",
                                  "\n\n<information>"};
static const char *const post[] = {"\n```\n", "\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
                                   "</information>\n\n"};

int rlc_tool_output_spans(rlc_tool_format_t f, const char *text, size_t len, size_t *starts, size_t *ends, int cap) {
    int n = 0;
    size_t a = strlen(pre[f]), b = strlen(post[f]), at = 0;
    while (at + a <= len) {
        const char *p = memmem(text + at, len - at, pre[f], a);
        if (!p) break;
        size_t s = (size_t)(p - text);
        const char *q = memmem(text + s + a, len - s - a, post[f], b);
        size_t e = q ? (size_t)(q - text) + b : len; /* an unclosed output runs to the end */
        if (n < cap) starts[n] = s, ends[n] = e;
        n++;
        at = e;
    }
    return n;
}

char *rlc_tool_render(rlc_tool_format_t f, const char *out, size_t out_len, size_t *len) {
    size_t a = strlen(pre[f]), b = strlen(post[f]);
    char *s = malloc(a + out_len + b + 1);
    if (!s) return NULL;
    memcpy(s, pre[f], a);
    memcpy(s + a, out, out_len);
    memcpy(s + a + out_len, post[f], b + 1);
    *len = a + out_len + b;
    return s;
}

char *rlc_tool_prompt(rlc_tool_format_t f, int tools) {
    char buf[2048];
    size_t n = 0;
    if (f == RLC_TOOL_FMT_CODE)
        n = (size_t)snprintf(buf, sizeof buf,
                             "You may run Python: write a ```python block; its output is shown in an ```output "
                             "block after it. Use print() to see values.");
    else if (f == RLC_TOOL_FMT_TAGS)
        n = (size_t)snprintf(buf, sizeof buf,
                             "You may search: write <search>query</search> and the results appear between "
                             "<information> and </information>.");
    else {
        n = (size_t)snprintf(buf, sizeof buf,
                             "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                             "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        if (tools & RLC_TOOL_CALCULATOR)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                                  "\n{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"description\": "
                                  "\"Exact arithmetic: + - * / ^ and parentheses on integers and fractions\", "
                                  "\"parameters\": {\"type\": \"object\", \"properties\": {\"expression\": "
                                  "{\"type\": \"string\"}}, \"required\": [\"expression\"]}}}");
        if (tools & RLC_TOOL_PYTHON)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                                  "\n{\"type\": \"function\", \"function\": {\"name\": \"python\", \"description\": "
                                  "\"Run Python code and return what it prints\", \"parameters\": {\"type\": "
                                  "\"object\", \"properties\": {\"code\": {\"type\": \"string\"}}, \"required\": "
                                  "[\"code\"]}}}");
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "\n</tools>\n\nFor each function call, return a json object with function name and "
                              "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
                              "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
    }
    return dup_n(buf, n < sizeof buf ? n : sizeof buf - 1);
}
