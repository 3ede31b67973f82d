/* How prompts describe the tools (tool_prompt / tool_prompt_in, docs/tools.md): one rule for
 * the trainer and `rlc eval --tool-prompt`, so a model is evaluated with the prompt it was
 * trained on. */
#pragma once
#include "data/dataset.h"
#include "data/template.h"
#include "tools/tool.h"

/* where = "problem" (or NULL): the enabled tools' description (rlc_tool_prompt, in format f) put before
 * every problem of a and b (either may be NULL), ahead of encoding. where = "template": the
 * tools given to the model's chat template as `tools` (rlc_tools_template_vars), which needs
 * chat prompts (a chat prompt template tpl, or rows that all give chat messages) and the
 * model's own chat template (chat_family NULL). */
int rl_tool_prompt_apply(tok_t *tok, data_tpl_t tpl, const char *chat_family, rlc_tool_format_t f, int tools,
                         const char *where, data_set_t *a, data_set_t *b);
