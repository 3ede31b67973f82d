/* Tool-call formats: where a call ends (the marker that pauses generation), how its tool and
 * input are read from the text, and how the answer is written back.
 *   code   (ToRL):   "```python\n<code>\n```"  ->  "\n```output\n<output>\n```\n"
 *   hermes (Qwen2.5): "<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>" -> the
 *            tool turn as Qwen2.5's chat template renders it: "<|im_end|>\n<|im_start|>user\n
 *            <tool_response>\n<output>\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
 *   tags   (Search-R1): "<search>query</search>" -> "\n\n<information>output</information>\n\n"
 *   llama3 (Llama 3.1-3.3): the assistant turn {"name": ..., "parameters": {...}} or
 *            <|python_tag|>code, ended by <|eot_id|> / <|eom_id|> (special tokens: the engine
 *            pauses on the token) -> the ipython turn as Llama 3.1's chat template renders it:
 *            "<|start_header_id|>ipython<|end_header_id|>\n\n<output as a JSON string><|eot_id|>
 *            <|start_header_id|>assistant<|end_header_id|>\n\n" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/sbuf.h"
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

/* A parsed call object: {"name": ..., "arguments" | "parameters": {...} or a string holding
 * one}. 1 with the tool and its input, 2 with an error text (args_key names the expected
 * arguments in it). */
static int json_call(const cJSON *j, const char *args_key, char *tool, size_t tool_cap, char **input) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    /* "arguments" (Qwen2.5 / Hermes) or "parameters" (Llama 3.x), an object or, as OpenAI's
     * API writes it, a string holding one */
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "arguments");
    if (!args) args = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    cJSON *decoded = cJSON_IsString(args) ? cJSON_ParseWithOpts(args->valuestring, NULL, 1) : NULL;
    if (decoded) args = decoded;
    if (!cJSON_IsString(name) || !name->valuestring[0] || (args && !cJSON_IsObject(args))) {
        cJSON_Delete(decoded);
        char msg[120];
        snprintf(msg, sizeof msg, "error: the tool call needs a \"name\" string and a%s \"%s\" object",
                 args_key[0] == 'a' ? "n" : "", args_key);
        return fail_text(input, msg);
    }
    snprintf(tool, tool_cap, "%s", name->valuestring);
    *input = hermes_input(name->valuestring, args);
    cJSON_Delete(decoded);
    return *input ? 1 : RLC_ENOMEM;
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
    int rc = j && cJSON_IsObject(j)
                 ? json_call(j, "arguments", tool, tool_cap, input)
                 : fail_text(input, "error: the tool call is not a JSON object {\"name\": ..., \"arguments\": {...}}");
    cJSON_Delete(j);
    return rc;
}

/* llama3: the assistant turn that the marker token ends (after the last assistant header a
 * tool answer opened, or the whole text). <|python_tag|> starts a call: JSON, or else Python
 * code (Llama 3.1's code interpreter); a bare JSON object with a "name" is a call; a turn
 * that only starts like one ({"name") is a malformed call; anything else is the answer. */
static int parse_llama3(const char *text, size_t len, size_t marker_len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - marker_len, *hdr = "<|start_header_id|>assistant<|end_header_id|>\n\n";
    const char *b = rlc_last_in(text, end, hdr);
    b = b ? b + strlen(hdr) : text;
    while (b < end && strchr(" \t\r\n", *b)) b++;
    int tagged = (size_t)(end - b) >= 14 && !memcmp(b, "<|python_tag|>", 14);
    if (tagged)
        for (b += 14; b < end && strchr(" \t\r\n", *b);) b++;
    char *body = dup_n(b, (size_t)(end - b));
    if (!body) return RLC_ENOMEM;
    cJSON *j = body[0] == '{' ? cJSON_ParseWithOpts(body, NULL, 1) : NULL;
    int named = cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "name");
    int rc = 0;
    if (named) {
        rc = json_call(j, "parameters", tool, tool_cap, input);
    } else if (tagged) { /* the code interpreter */
        snprintf(tool, tool_cap, "python");
        *input = body, body = NULL;
        rc = 1;
    } else {
        const char *q = body + (body[0] == '{');
        while (*q && strchr(" \t\r\n", *q)) q++;
        if (body[0] == '{' && !strncmp(q, "\"name\"", 6))
            rc = fail_text(input, "error: the tool call is not a JSON object {\"name\": ..., \"parameters\": {...}}");
    }
    cJSON_Delete(j);
    free(body);
    return rc;
}

/* The first occurrence of tag in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *tag) {
    size_t n = strlen(tag);
    return p < end ? memmem(p, (size_t)(end - p), tag, n) : NULL;
}

/* The arguments of an XML-style call in [p, end): each key between ko and kc, its value between vo
 * (NULL: right after kc) and vc, less one newline on each side when nl (Qwen3-Coder's template
 * writes them); every value a string (rlc's tools take strings). Then the call: its tool
 * name[0..n) and the input the tool reads from the arguments, as from a hermes call's; 2 with
 * an error text when a key lacks its value (bad names the expected form). */
static int xml_call(const char *name, size_t n, const char *p, const char *end, const char *ko, const char *kc,
                    const char *vo, const char *vc, int nl, const char *bad, char *tool, size_t tool_cap,
                    char **input) {
    cJSON *args = cJSON_CreateObject();
    int rc = args ? 0 : RLC_ENOMEM;
    for (const char *k = find(p, end, ko); k && !rc; k = find(k, end, ko)) {
        const char *ke = find(k, end, kc), *v = !ke ? NULL : vo ? find(ke, end, vo) : ke + strlen(kc);
        const char *ve = v ? find(v, end, vc) : NULL;
        if (!ve) {
            rc = 2;
            break;
        }
        if (vo) v += strlen(vo);
        const char *vend = ve;
        if (nl && v < vend && *v == '\n') v++;
        if (nl && vend > v && vend[-1] == '\n') vend--;
        char *key = dup_n(k + strlen(ko), (size_t)(ke - k - strlen(ko))), *val = dup_n(v, (size_t)(vend - v));
        if (!key || !val || !cJSON_AddStringToObject(args, key, val)) rc = RLC_ENOMEM;
        free(key), free(val);
        k = ve;
    }
    if (!rc) {
        snprintf(tool, tool_cap, "%.*s", (int)n, name);
        *input = hermes_input(tool, args);
        rc = *input ? 1 : RLC_ENOMEM;
    } else if (rc == 2) {
        rc = fail_text(input, bad);
    }
    cJSON_Delete(args);
    return rc;
}

/* glm (GLM-4.5 / 4.6): <tool_call>name\n<arg_key>k</arg_key>\n<arg_value>v</arg_value>...</tool_call>
 * (the template writes a string value as it is, others with tojson); glm47 (GLM-4.7): the same
 * without the newlines. */
static int parse_glm(const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - strlen("</tool_call>");
    const char *open = rlc_last_in(text, end, "<tool_call>");
    if (!open) return fail_text(input, "error: </tool_call> without <tool_call>");
    const char *p = open + strlen("<tool_call>"), *k = find(p, end, "<arg_key>"), *ne = k ? k : end;
    while (p < ne && strchr(" \t\r\n", *p)) p++;
    const char *q = p;
    while (q < ne && !strchr("\r\n", *q)) q++;
    while (q > p && strchr(" \t", q[-1])) q--;
    if (q == p || (size_t)(q - p) >= tool_cap)
        return fail_text(input, "error: the tool call needs a function name right after <tool_call>");
    return xml_call(p, (size_t)(q - p), q, end, "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", 0,
                    "error: each <arg_key>key</arg_key> needs an <arg_value>value</arg_value>", tool, tool_cap, input);
}

/* qwen3_coder (Qwen3-Coder): <tool_call>\n<function=name>\n<parameter=k>\nv\n</parameter>\n...
 * </function>\n</tool_call>. */
static int parse_qwen3_coder(const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    const char *end = text + len - strlen("</tool_call>");
    const char *open = rlc_last_in(text, end, "<tool_call>");
    if (!open) return fail_text(input, "error: </tool_call> without <tool_call>");
    const char *f = find(open, end, "<function="), *fe = f ? find(f, end, ">") : NULL;
    if (!fe || fe == f + 10 || (size_t)(fe - f - 10) >= tool_cap)
        return fail_text(input, "error: the tool call needs <function=name> after <tool_call>");
    return xml_call(f + 10, (size_t)(fe - f - 10), fe, end, "<parameter=", ">", NULL, "</parameter>", 1,
                    "error: each <parameter=name> needs its value and </parameter>", tool, tool_cap, input);
}

/* mistral: the assistant turn that </s> ends (after the last [/TOOL_RESULTS] or [/INST], or the
 * whole text) calls a tool when it holds [TOOL_CALLS]: name[ARGS]{json} (v11 tokenizers: Ministral
 * 3, Mistral Small 3.2), or a JSON list of {"name", "arguments"} (older ones); the last call
 * counts. A turn without [TOOL_CALLS] is the answer. */
static int parse_mistral(const char *text, size_t len, size_t marker_len, char *tool, size_t tool_cap,
                         char **input) {
    const char *end = text + len - marker_len, *b = text, *r = rlc_last_in(text, end, "[/TOOL_RESULTS]");
    const char *inst = rlc_last_in(text, end, "[/INST]");
    if (r) b = r + strlen("[/TOOL_RESULTS]");
    if (inst && inst + strlen("[/INST]") > b) b = inst + strlen("[/INST]");
    const char *call = rlc_last_in(b, end, "[TOOL_CALLS]");
    if (!call) return 0;
    const char *p = call + strlen("[TOOL_CALLS]"), *a = find(p, end, "[ARGS]");
    char *body = dup_n(a ? a + strlen("[ARGS]") : p, (size_t)(end - (a ? a + strlen("[ARGS]") : p)));
    if (!body) return RLC_ENOMEM;
    cJSON *j = cJSON_Parse(body);
    free(body);
    int rc;
    if (a) { /* name[ARGS]{...} */
        while (p < a && strchr(" \t\r\n", *p)) p++;
        const char *q = a;
        while (q > p && strchr(" \t\r\n", q[-1])) q--;
        if (q == p || (size_t)(q - p) >= tool_cap || !cJSON_IsObject(j)) {
            rc = fail_text(input, "error: the tool call is not [TOOL_CALLS]name[ARGS]{...} with a JSON object");
        } else {
            snprintf(tool, tool_cap, "%.*s", (int)(q - p), p);
            *input = hermes_input(tool, j);
            rc = *input ? 1 : RLC_ENOMEM;
        }
    } else { /* [TOOL_CALLS][{"name": ..., "arguments": {...}}] */
        const cJSON *c = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, cJSON_GetArraySize(j) - 1) : j;
        rc = cJSON_IsObject(c) ? json_call(c, "arguments", tool, tool_cap, input)
                               : fail_text(input, "error: the tool call is not [TOOL_CALLS]name[ARGS]{...} nor a JSON "
                                                  "list of {\"name\": ..., \"arguments\": {...}}");
    }
    cJSON_Delete(j);
    return rc;
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

/* Where generation pauses, per format: text, or (llama3) special tokens' text, on which the
 * engine pauses when the token is sampled. */
static const char *const MARKERS[RLC_TOOL_N_FORMATS][2] = {
    {"```"}, {"</tool_call>"}, {"</search>"}, {"<|eom_id|>", "<|eot_id|>"}, {"</tool_call>"}, {"</tool_call>"},
    {"</s>"}, {"</tool_call>"}};

int rlc_tool_format_markers(rlc_tool_format_t f, const char *const **markers) {
    *markers = MARKERS[f];
    return MARKERS[f][1] ? 2 : 1;
}

int rlc_tool_parse(rlc_tool_format_t f, const char *text, size_t len, char *tool, size_t tool_cap, char **input) {
    *input = NULL;
    tool[0] = 0;
    if ((unsigned)f >= RLC_TOOL_N_FORMATS) return 0;
    if (f == RLC_TOOL_FMT_LLAMA3 || f == RLC_TOOL_FMT_MISTRAL) {
        for (int k = 0; k < 2 && MARKERS[f][k]; k++) { /* the marker token's text ends the text */
            size_t m = strlen(MARKERS[f][k]);
            if (len >= m && !memcmp(text + len - m, MARKERS[f][k], m))
                return f == RLC_TOOL_FMT_LLAMA3 ? parse_llama3(text, len, m, tool, tool_cap, input)
                                                : parse_mistral(text, len, m, tool, tool_cap, input);
        }
        return 0;
    }
    if (!cut_at_marker(text, &len, MARKERS[f][0])) return 0;
    return f == RLC_TOOL_FMT_CODE     ? parse_code(text, len, tool, tool_cap, input)
           : f == RLC_TOOL_FMT_HERMES ? parse_hermes(text, len, tool, tool_cap, input)
           : f == RLC_TOOL_FMT_GLM || f == RLC_TOOL_FMT_GLM47 ? parse_glm(text, len, tool, tool_cap, input)
           : f == RLC_TOOL_FMT_TAGS   ? parse_tags(text, len, tool, tool_cap, input)
                                      : parse_qwen3_coder(text, len, tool, tool_cap, input);
}

/* What the engine puts around a tool's output, per format (GLM's: the observation turn as its
 * chat template writes it, then the assistant's header; GLM-4.7's header opens its thinking, as
 * its template's generation prompt does). */
static const char *const pre[] = {"\n```output\n", "<|im_end|>\n<|im_start|>user\n<tool_response>\n",
                                  "\n\n<information>", "<|start_header_id|>ipython<|end_header_id|>\n\n",
                                  "<|observation|>\n<tool_response>\n",
                                  "<|im_end|>\n<|im_start|>user\n<tool_response>\n", "[TOOL_RESULTS]",
                                  "<|observation|><tool_response>"};
static const char *const post[] = {"\n```\n", "\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
                                   "</information>\n\n", "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                                   "\n</tool_response><|assistant|>",
                                   "\n</tool_response>\n<|im_end|>\n<|im_start|>assistant\n", "[/TOOL_RESULTS]",
                                   "</tool_response><|assistant|><think>"};

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

/* s[0..n) as a JSON string, as Python's json.dumps(ensure_ascii=False) writes it (the
 * chat templates' tojson). */
static void json_string(rlc_sbuf_t *b, const char *s, size_t n) {
    rlc_sbuf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc) rlc_sbuf_add(b, esc, 2);
        else if (c < 0x20) rlc_sbuf_printf(b, "\\u%04x", c);
        else rlc_sbuf_add(b, (const char *)&s[i], 1);
    }
    rlc_sbuf_add(b, "\"", 1);
}

char *rlc_tool_render(rlc_tool_format_t f, const char *out, size_t out_len, size_t *len) {
    rlc_sbuf_t b = {0};
    rlc_sbuf_add(&b, pre[f], strlen(pre[f]));
    if (f == RLC_TOOL_FMT_LLAMA3) json_string(&b, out, out_len); /* the template's tojson of the content */
    else rlc_sbuf_add(&b, out, out_len);
    rlc_sbuf_add(&b, post[f], strlen(post[f]));
    size_t n = b.len;
    char *s = rlc_sbuf_done(&b);
    if (s) *len = n;
    return s;
}

/* A JSON value as Python's json.dumps writes it: indent 0 gives one line with ", " and ": "
 * (Qwen2.5's tools block), indent > 0 one item per line (Llama 3.1's tojson(indent=4)). */
static void json_value(rlc_sbuf_t *b, const cJSON *v, int indent, int level) {
    if (cJSON_IsString(v)) return json_string(b, v->valuestring, strlen(v->valuestring));
    if (cJSON_IsNumber(v)) return rlc_sbuf_printf(b, "%g", v->valuedouble);
    if (cJSON_IsBool(v)) return rlc_sbuf_printf(b, "%s", cJSON_IsTrue(v) ? "true" : "false");
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return rlc_sbuf_printf(b, "null");
    int obj = cJSON_IsObject(v);
    rlc_sbuf_add(b, obj ? "{" : "[", 1);
    for (const cJSON *c = v->child; c; c = c->next) {
        if (indent) rlc_sbuf_printf(b, "\n%*s", indent * (level + 1), "");
        if (obj) {
            json_string(b, c->string, strlen(c->string));
            rlc_sbuf_add(b, ": ", 2);
        }
        json_value(b, c, indent, level + 1);
        if (c->next) rlc_sbuf_add(b, indent ? "," : ", ", indent ? 1 : 2);
    }
    if (indent && v->child) rlc_sbuf_printf(b, "\n%*s", indent * level, "");
    rlc_sbuf_add(b, obj ? "}" : "]", 1);
}

/* The function-calling tools, in bit order, as OpenAI-style tool definitions. */
static const char *const TOOL_DEFS[3] = {
    "{\"type\": \"function\", \"function\": {\"name\": \"calculator\", \"description\": \"Exact arithmetic: + - * / ^ "
    "and parentheses on integers and fractions\", \"parameters\": {\"type\": \"object\", \"properties\": "
    "{\"expression\": {\"type\": \"string\"}}, \"required\": [\"expression\"]}}}",
    "{\"type\": \"function\", \"function\": {\"name\": \"python\", \"description\": \"Run Python code and return what "
    "it prints\", \"parameters\": {\"type\": \"object\", \"properties\": {\"code\": {\"type\": \"string\"}}, "
    "\"required\": [\"code\"]}}}",
    "{\"type\": \"function\", \"function\": {\"name\": \"http\", \"description\": \"Send a query to the search "
    "service and return its answer\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": "
    "{\"type\": \"string\"}}, \"required\": [\"query\"]}}}",
};

cJSON *rlc_tool_defs(int tools) {
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < 3 && a; k++) {
        if (!(tools & (1 << k))) continue;
        cJSON *j = cJSON_Parse(TOOL_DEFS[k]);
        if (!j || !cJSON_AddItemToArray(a, j)) {
            cJSON_Delete(j);
            cJSON_Delete(a);
            a = NULL;
        }
    }
    return a;
}

/* The enabled tools' definitions, each after `before` (the first after `first`). */
static void tool_defs(rlc_sbuf_t *b, int tools, int indent, const char *first, const char *before) {
    cJSON *a = rlc_tool_defs(tools);
    if (!a) b->failed = 1;
    int n = 0;
    for (const cJSON *j = a ? a->child : NULL; j; j = j->next) {
        rlc_sbuf_printf(b, "%s", n++ ? before : first);
        json_value(b, j, indent, 0);
    }
    cJSON_Delete(a);
}

/* Qwen3-Coder's tool list: each function's name, description and parameters (name and type),
 * then any other key of its parameters (required) as JSON, as its chat template writes them. */
static void coder_tools(rlc_sbuf_t *b, int tools) {
    cJSON *a = rlc_tool_defs(tools);
    if (!a) b->failed = 1;
    rlc_sbuf_printf(b, "<tools>");
    for (const cJSON *t = a ? a->child : NULL; t; t = t->next) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        rlc_sbuf_printf(b, "\n<function>\n<name>%s</name>\n<description>%s</description>\n<parameters>",
                        cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring,
                        cJSON_GetObjectItemCaseSensitive(fn, "description")->valuestring);
        for (const cJSON *p = cJSON_GetObjectItemCaseSensitive(ps, "properties")->child; p; p = p->next)
            rlc_sbuf_printf(b, "\n<parameter>\n<name>%s</name>\n<type>%s</type>\n</parameter>", p->string,
                            cJSON_GetObjectItemCaseSensitive(p, "type")->valuestring);
        for (const cJSON *k = ps->child; k; k = k->next) {
            if (!strcmp(k->string, "type") || !strcmp(k->string, "properties")) continue;
            rlc_sbuf_printf(b, "\n<%s>", k->string);
            json_value(b, k, 0, 0);
            rlc_sbuf_printf(b, "</%s>", k->string);
        }
        rlc_sbuf_printf(b, "\n</parameters>\n</function>");
    }
    rlc_sbuf_printf(b, "\n</tools>");
    cJSON_Delete(a);
}

char *rlc_tool_prompt(rlc_tool_format_t f, int tools) {
    rlc_sbuf_t b = {0};
    if (f == RLC_TOOL_FMT_CODE)
        rlc_sbuf_printf(&b, "You may run Python: write a ```python block; its output is shown in an ```output "
                            "block after it. Use print() to see values.");
    else if (f == RLC_TOOL_FMT_TAGS)
        rlc_sbuf_printf(&b, "You may search: write <search>query</search> and the results appear between "
                            "<information> and </information>.");
    else if (f == RLC_TOOL_FMT_LLAMA3) { /* Llama 3.1's template, tools in the first user message */
        rlc_sbuf_printf(&b, "Given the following functions, please respond with a JSON for a function call with its "
                            "proper arguments that best answers the given prompt.\n\nRespond in the format "
                            "{\"name\": function name, \"parameters\": dictionary of argument name and its value}."
                            "Do not use variables.");
        tool_defs(&b, tools, 4, "\n\n", "\n\n");
    } else if (f == RLC_TOOL_FMT_MISTRAL) { /* Mistral's template: the definitions as JSON, before the turns */
        rlc_sbuf_printf(&b, "[AVAILABLE_TOOLS][");
        tool_defs(&b, tools, 0, "", ", ");
        rlc_sbuf_printf(&b, "][/AVAILABLE_TOOLS]");
    } else if (f == RLC_TOOL_FMT_QWEN3_CODER) { /* Qwen3-Coder's template, tools in the system turn */
        rlc_sbuf_printf(&b, "# Tools\n\nYou have access to the following tools:\n\n");
        coder_tools(&b, tools);
        rlc_sbuf_printf(&b, "\n\nIf you choose to call a tool ONLY reply in the following format with NO suffix:\n\n"
                            "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n"
                            "</parameter>\n<parameter=example_parameter_2>\nvalue_2\n</parameter>\n</function>\n"
                            "</tool_call>\n\n<IMPORTANT>\nReminder:\n- Function calls MUST follow the specified "
                            "format: the tool calling block MUST begin with an opening <tool_call> tag and end with a "
                            "closing </tool_call> tag.\n- Required parameters MUST be specified\n- You may provide "
                            "optional reasoning for your function call in natural language BEFORE the function call, "
                            "but NOT after\n- If there is no function call available, answer the question like normal "
                            "with your current knowledge and do not tell the user about function calls\n</IMPORTANT>");
    } else if (f == RLC_TOOL_FMT_GLM || f == RLC_TOOL_FMT_GLM47) { /* GLM-4.5-4.7's templates, in the system turn */
        const char *nl = f == RLC_TOOL_FMT_GLM ? "\n" : ""; /* GLM-4.7 writes the call on one line */
        rlc_sbuf_printf(&b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        tool_defs(&b, tools, 0, "\n", "\n");
        rlc_sbuf_printf(&b, "\n</tools>\n\nFor each function call, output the function name and arguments within the "
                            "following XML format:\n<tool_call>{function-name}%s<arg_key>{arg-key-1}</arg_key>%s"
                            "<arg_value>{arg-value-1}</arg_value>%s<arg_key>{arg-key-2}</arg_key>%s<arg_value>"
                            "{arg-value-2}</arg_value>%s...%s</tool_call>", nl, nl, nl, nl, nl, nl);
    } else {
        rlc_sbuf_printf(&b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        tool_defs(&b, tools, 0, "\n", "\n");
        rlc_sbuf_printf(&b, "\n</tools>\n\nFor each function call, return a json object with function name and "
                            "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
                            "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
    }
    return rlc_sbuf_done(&b);
}
