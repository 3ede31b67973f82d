/* The names of tools and call formats (config keys and flags); no dependencies, so the
 * config readers and their fuzz target use it alone. */
#include <ctype.h>
#include <string.h>

#include "core/err.h"
#include "tools/tool.h"

const char *const rlc_tool_names[3] = {"calculator", "python", "http"};
static const char *const FORMAT_NAMES[RLC_TOOL_N_FORMATS] = {"code", "hermes", "tags", "llama3", "glm",
                                                                   "qwen3_coder", "mistral", "glm47"};

void rlc_tools_cfg_default(rlc_tools_cfg_t *c) {
    memset(c, 0, sizeof *c);
    c->format = RLC_TOOL_FMT_CODE;
    c->timeout_s = 5.0;
    c->max_output_bytes = 2048;
    c->workers = 8;
    c->python = "python3";
}

int rlc_tools_parse_list(const char *csv, int *tools) {
    int t = 0;
    for (const char *p = csv; p && *p;) {
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        int k = 0;
        while (k < 3 && !(strlen(rlc_tool_names[k]) == n && !strncmp(rlc_tool_names[k], p, n))) k++;
        if (k == 3) return rlc_errc(RLC_EINVAL, "unknown tool '%.*s' (calculator, python, http)", (int)n, p);
        t |= 1 << k;
        p += n;
    }
    *tools = t;
    return 0;
}

int rlc_tools_parse_format(const char *name, rlc_tool_format_t *f) {
    for (int k = 0; k < RLC_TOOL_N_FORMATS; k++)
        if (!strcmp(name, FORMAT_NAMES[k])) {
            *f = (rlc_tool_format_t)k;
            return 0;
        }
    return rlc_errc(RLC_EINVAL,
                    "unknown tool format '%s' (code, hermes, tags, llama3, glm, qwen3_coder, mistral, glm47)", name);
}

const char *rlc_tools_format_name(rlc_tool_format_t f) { return (unsigned)f < RLC_TOOL_N_FORMATS ? FORMAT_NAMES[f] : "?"; }

int rlc_tools_prompt_in(const char *where, int *template_) {
    *template_ = where && !strcmp(where, "template");
    if (where && strcmp(where, "problem") && !*template_)
        return rlc_errc(RLC_EINVAL, "tool_prompt_in = '%s': choose problem or template", where);
    return 0;
}

int rlc_tools_check_template_format(rlc_tool_format_t f) {
    if (f != RLC_TOOL_FMT_CODE && f != RLC_TOOL_FMT_TAGS) return 0;
    return rlc_errc(RLC_EINVAL, "tool_prompt_in = template needs a function-call tool_format (hermes, llama3, glm, "
                                "qwen3_coder, mistral, glm47: chat templates describe function calls), not %s",
                    rlc_tools_format_name(f));
}

int rlc_tools_check_ranges(long max_calls, double timeout_s, long max_output_bytes, long workers) {
    if (max_calls < 0 || max_calls > 64) return rlc_errc(RLC_EINVAL, "max_tool_calls = %ld: must lie in [0, 64]", max_calls);
    if (!(timeout_s > 0 && timeout_s <= 3600))
        return rlc_errc(RLC_EINVAL, "tool_timeout_s = %g: must lie in (0, 3600]", timeout_s);
    if (max_output_bytes < 16 || max_output_bytes > (1L << 24))
        return rlc_errc(RLC_EINVAL, "tool_max_output_bytes = %ld: must lie in [16, 16777216]", max_output_bytes);
    if (workers < 1 || workers > 256) return rlc_errc(RLC_EINVAL, "tool_workers = %ld: must lie in [1, 256]", workers);
    return 0;
}

int rlc_tools_cfg_from(const rlc_tools_settings_t *s, rlc_tools_cfg_t *cfg) {
    rlc_tools_cfg_default(cfg);
    int rc = rlc_tools_parse_list(s->tools, &cfg->tools);
    if (!rc) rc = rlc_tools_parse_format(s->format, &cfg->format);
    if (!rc) rc = rlc_tools_check_ranges(s->max_calls, s->timeout_s, s->max_output_bytes, s->workers);
    if (rc) return rc;
    cfg->timeout_s = s->timeout_s;
    cfg->max_output_bytes = (size_t)s->max_output_bytes;
    cfg->workers = (int)s->workers;
    if (s->python) cfg->python = s->python;
    if (s->python_mode && strcmp(s->python_mode, "fork")) {
        if (strcmp(s->python_mode, "exec"))
            return rlc_errc(RLC_EINVAL, "tool_python_mode = '%s': must be fork or exec", s->python_mode);
        cfg->python_exec = 1;
    }
    for (const char *c = s->python_preload; c && *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == ',' || *c == ' '))
            return rlc_errc(RLC_EINVAL, "tool_python_preload = '%s': module names separated by commas", s->python_preload);
    cfg->python_preload = s->python_preload;
    cfg->http_url = s->http_url;
    return 0;
}
