/* tool_prompt_in = template: the enabled tools' definitions handed to the model's own chat
 * template as `tools` (tools/tool.h, docs/tools.md). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "tools/tool.h"

/* A one-turn conversation rendered with extra variables (NULL: none), malloc'd. */
static int probe(const tok_t *tok, const cJSON *extra, char **out) {
    cJSON *m = cJSON_Parse("[{\"role\": \"user\", \"content\": \"2+2?\"}]");
    int rc = m ? tok_chat_render_json(tok, m, extra, 1, out) : RLC_ENOMEM;
    cJSON_Delete(m);
    return rc;
}

int rlc_tools_template_vars(tok_t *tok, rlc_tool_format_t f, int tools) {
    int rc = rlc_tools_check_template_format(f);
    if (rc) return rc;
    const char *st = tok_chat_template_status(tok);
    if (strcmp(st, "ok"))
        return rlc_errc(RLC_EINVAL, "tool_prompt_in = template: the model's chat template cannot render tools (%s)", st);
    const cJSON *have = tok_chat_vars(tok);
    if (have && cJSON_GetObjectItemCaseSensitive(have, "tools"))
        return rlc_errc(RLC_EINVAL, "tool_prompt_in = template: chat_vars already sets tools");
    cJSON *vars = have ? cJSON_Duplicate(have, 1) : cJSON_CreateObject(), *defs = rlc_tool_defs(tools);
    char *with = NULL, *without = NULL, *text = NULL;
    rc = vars && defs && cJSON_AddItemToObject(vars, "tools", defs) ? 0 : RLC_ENOMEM;
    if (rc) cJSON_Delete(defs);
    if (!rc) rc = probe(tok, vars, &with);
    if (!rc) rc = probe(tok, NULL, &without);
    if (!rc && !strcmp(with, without))
        rc = rlc_errc(RLC_EINVAL, "tool_prompt_in = template: the model's chat template ignores `tools` (use "
                                  "tool_prompt_in = problem)");
    if (!rc) rc = (text = cJSON_PrintUnformatted(vars)) ? tok_set_chat_vars(tok, text) : RLC_ENOMEM;
    free(with), free(without), free(text);
    cJSON_Delete(vars);
    return rc;
}
