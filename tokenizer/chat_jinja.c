/* The model's own chat template through the Jinja interpreter, with the variables
 * transformers' apply_chat_template passes: messages, tools and documents (None unless
 * given), add_generation_prompt, the tokenizer's special tokens (bos_token, eos_token, ...),
 * and the caller's extra variables (enable_thinking, date_string, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tok_internal.h"

static int add_token(cJSON *ctx, const tok_t *t, const char *key, int32_t id) {
    const char *b;
    size_t n;
    if (id < 0 || tok_token_bytes(t, id, &b, &n)) return 0;
    char *s = malloc(n + 1);
    if (!s) return RLC_ENOMEM;
    memcpy(s, b, n), s[n] = 0;
    int ok = cJSON_AddStringToObject(ctx, key, s) != NULL;
    free(s);
    return ok ? 0 : RLC_ENOMEM;
}

int tok_chat_render_json(const tok_t *t, const cJSON *messages, const cJSON *extra, int add_generation_prompt,
                         char **out) {
    *out = NULL;
    const tok_chat_t *c = &t->chat;
    if (!c->source) return rlc_errc(RLC_EINVAL, "chat: the tokenizer has no chat_template");
    if (!c->jinja) return rlc_errc(RLC_EUNSUP, "chat: %s", c->jinja_err);
    if (!cJSON_IsArray(messages)) return rlc_errc(RLC_EINVAL, "chat: messages must be a JSON array");
    if (extra && !cJSON_IsObject(extra)) return rlc_errc(RLC_EINVAL, "chat: the template variables must be an object");
    int i = 0;
    for (const cJSON *m = messages->child; m; m = m->next, i++) { /* what every template reads */
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role) || !role->valuestring[0])
            return rlc_errc(RLC_EINVAL, "chat: message %d has no \"role\"", i + 1);
        if (!cJSON_GetObjectItemCaseSensitive(m, "content") && !cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
            return rlc_errc(RLC_EINVAL, "chat: message %d has no \"content\"", i + 1);
    }
    cJSON *ctx = cJSON_CreateObject();
    int rc = ctx ? 0 : RLC_ENOMEM;
    if (!rc && (!cJSON_AddItemToObject(ctx, "messages", cJSON_Duplicate(messages, 1)) || !cJSON_AddNullToObject(ctx, "tools") ||
                !cJSON_AddNullToObject(ctx, "documents") ||
                !cJSON_AddBoolToObject(ctx, "add_generation_prompt", add_generation_prompt)))
        rc = RLC_ENOMEM;
    if (!rc) rc = add_token(ctx, t, "bos_token", t->bos);
    if (!rc) rc = add_token(ctx, t, "eos_token", t->eos);
    if (!rc) rc = add_token(ctx, t, "pad_token", t->pad);
    if (!rc && c->date_override[0] && !cJSON_AddStringToObject(ctx, "date_string", c->date_override)) rc = RLC_ENOMEM;
    const cJSON *layers[2] = {t->chat_vars, extra}; /* the tokenizer's, then the caller's (which win) */
    for (int k = 0; k < 2; k++)
        for (const cJSON *e = layers[k] ? layers[k]->child : NULL; !rc && e; e = e->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(ctx, e->string);
            if (!cJSON_AddItemToObject(ctx, e->string, cJSON_Duplicate(e, 1))) rc = RLC_ENOMEM;
        }
    if (!rc) rc = jinja_render_at(c->jinja, ctx, c->date_override[0] ? &c->date_tm : NULL, out);
    cJSON_Delete(ctx);
    return rc;
}

int tok_chat_render_msgs(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, char **out) {
    cJSON *arr = cJSON_CreateArray();
    int rc = arr ? 0 : RLC_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(arr, m) || !cJSON_AddStringToObject(m, "role", msgs[i].role) ||
            !cJSON_AddStringToObject(m, "content", msgs[i].content))
            rc = RLC_ENOMEM;
    }
    if (!rc) rc = tok_chat_render_json(t, arr, NULL, add_generation_prompt, out);
    cJSON_Delete(arr);
    return rc;
}

const cJSON *tok_chat_vars(const tok_t *t) { return t->chat_vars; }

int tok_set_chat_vars(tok_t *t, const char *json) {
    cJSON_Delete(t->chat_vars);
    t->chat_vars = NULL;
    if (!json || !*json) return 0;
    cJSON *v = cJSON_Parse(json);
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return rlc_errc(RLC_EINVAL, "chat template variables must be a JSON object (got '%.60s')", json);
    }
    t->chat_vars = v;
    return 0;
}

int tok_msgs_from_json(cJSON *arr, const char *what, tok_msg_t **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(arr))
        return rlc_errc(RLC_EINVAL, "%s: expected a JSON array of {\"role\", \"content\"}", what);
    const char *why;
    int f = rlc_json_flatten_content(arr, &why);
    if (f) return f < 0 ? rlc_errc(f, "out of memory reading %s", what) : rlc_errc(RLC_EINVAL, "%s: %s", what, why);
    int k = cJSON_GetArraySize(arr), rc = 0, i = 0;
    tok_msg_t *m = rlc_calloc((size_t)k + 1, sizeof *m);
    if (!m) return RLC_ENOMEM;
    for (const cJSON *e = arr->child; e && !rc; e = e->next, i++) {
        char where[128];
        snprintf(where, sizeof where, "%s entry %d", what, i + 1);
        rc = rlc_json_get_str(e, "role", &m[i].role, 1, where);
        if (!rc) rc = rlc_json_get_str(e, "content", &m[i].content, 1, where);
    }
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    *n = k;
    return 0;
}
