/* A Jinja2 interpreter for chat templates: the subset that real templates use (docs/tokenizer.md
 * "Chat templates"), rendered the way transformers' apply_chat_template renders them
 * (trim_blocks and lstrip_blocks on, loop controls, raise_exception, strftime_now, tojson with
 * Python's json.dumps formatting). Something outside the subset is an error naming the
 * template line, never a silently different rendering. Internal to tokenizer/. */
#pragma once
#include <cjson/cJSON.h>

typedef struct jinja jinja_t;

/* Parse a template; *out NULL on error (the message names the line). */
int jinja_compile(const char *src, jinja_t **out);
void jinja_free(jinja_t *j);
/* Render with the variables of ctx (a JSON object: messages, tools, add_generation_prompt,
 * bos_token, ...); *out malloc'd. raise_exception() in the template is an error carrying its
 * message. */
int jinja_render(const jinja_t *j, const cJSON *ctx, char **out);
/* The same with strftime_now() showing `today` (its date; the time of day 00:00:00) instead
 * of the clock's: a pinned date, so that a prompt does not change at midnight. NULL: the
 * clock. */
struct tm;
int jinja_render_at(const jinja_t *j, const cJSON *ctx, const struct tm *today, char **out);
