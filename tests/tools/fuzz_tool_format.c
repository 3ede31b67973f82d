/* Fuzz target: the tool-call formats on arbitrary model text (tools/format.c). Every format
 * parses the bytes (as they are, and with each of its markers appended); a call's input or
 * error text is rendered back and its output spans found; llama3's rendering is a JSON
 * string that must parse back to the bytes it wrapped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/tool.h"

static void one(rlc_tool_format_t f, const char *text, size_t len) {
    char tool[64], *input = NULL;
    int rc = rlc_tool_parse(f, text, len, tool, sizeof tool, &input);
    if (rc < 0) return;
    if ((rc == 1 || rc == 2) != (input != NULL)) abort();
    if (input) {
        size_t n, st[8], en[8];
        char *r = rlc_tool_render(f, input, strlen(input), &n);
        if (!r || strlen(r) != n) abort();
        if (rlc_tool_output_spans(f, r, n, st, en, 8) < 1) abort();
        free(r);
    }
    free(input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 16);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    for (int f = 0; f < RLC_TOOL_N_FORMATS; f++) one((rlc_tool_format_t)f, buf, size);
    for (int f = 0; f < RLC_TOOL_N_FORMATS; f++) { /* the text ending with a marker, as the engine hands it over */
        const char *const *ends;
        for (int k = 0, n = rlc_tool_format_markers((rlc_tool_format_t)f, &ends); k < n; k++) {
            size_t m = strlen(ends[k]);
            memcpy(buf + size, ends[k], m + 1);
            one((rlc_tool_format_t)f, buf, size + m);
        }
    }
    buf[size] = 0;
    size_t n;
    char *r = rlc_tool_render(RLC_TOOL_FMT_LLAMA3, buf, strlen(buf), &n);
    const char *pre = "<|start_header_id|>ipython<|end_header_id|>\n\n";
    const char *q = r ? strstr(r, "<|eot_id|><|start_header_id|>assistant") : NULL;
    while (q && strstr(q + 1, "<|eot_id|><|start_header_id|>assistant")) q = strstr(q + 1, "<|eot_id|><|start_header_id|>assistant");
    if (r && q) {
        char *js = strndup(r + strlen(pre), (size_t)(q - r) - strlen(pre));
        cJSON *j = js ? cJSON_Parse(js) : NULL;
        if (js && (!cJSON_IsString(j) || strcmp(j->valuestring, buf))) abort(); /* round trip */
        cJSON_Delete(j);
        free(js);
    }
    free(r);
    free(buf);
    return 0;
}
