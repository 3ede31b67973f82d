/* Model/tokenizer loading and prompt encoding shared by generate, eval, train. */
#include "cli/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"

int cli_model_open(cli_model_t *cm, const char *dir, const char *device, int threads, int need_tok) {
    memset(cm, 0, sizeof *cm);
    int rc = rlc_backend_create(&cm->be, device, 0, threads);
    if (!rc) rc = rlc_model_load(&cm->m, dir, cm->be);
    if (!rc && need_tok >= 0) {
        char *tj = fs_join(dir, "tokenizer.json"), *tm = fs_join(dir, "tokenizer.model");
        int have = (tj && fs_exists(tj)) || (tm && fs_exists(tm));
        free(tj);
        free(tm);
        if (have)
            rc = tok_load(&cm->tok, dir);
        else if (need_tok)
            rc = rlc_errc(RLC_EINVAL, "%s has no tokenizer.json or tokenizer.model", dir);
    }
    if (rc) cli_model_close(cm);
    return rc;
}

void cli_model_close(cli_model_t *cm) {
    if (cm->tok) tok_free(cm->tok);
    rlc_model_free(cm->m);
    rlc_backend_destroy(cm->be);
    memset(cm, 0, sizeof *cm);
}

int cli_parse_ids(const char *s, const char *what, int32_t **ids, int *n) {
    int cap = 64, k = 0;
    int32_t *v = rlc_malloc(sizeof *v * (size_t)cap);
    if (!v) return RLC_ENOMEM;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '[' || *p == ']' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < -2147483647L || x > 2147483647L) {
            free(v);
            return rlc_errc(RLC_EINVAL, "%s: '%.20s' is not a token id", what, p);
        }
        if (k == cap) {
            int32_t *nv = rlc_realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!nv) {
                free(v);
                return RLC_ENOMEM;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cli_messages_from_json(const cJSON *arr, const char *what, tok_msg_t **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(arr))
        return rlc_errc(RLC_EINVAL, "%s: expected a JSON array of {\"role\", \"content\"}", what);
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

int cli_encode_prompt(const tok_t *tok, const char *text, int chat, const char *system, const char *family,
                      int32_t **ids, int *n) {
    if (!chat) return tok_encode(tok, text, strlen(text), 1, ids, n);
    tok_msg_t msgs[2];
    int k = 0;
    if (system) msgs[k++] = (tok_msg_t){"system", system};
    msgs[k++] = (tok_msg_t){"user", text};
    return tok_chat_encode(tok, msgs, k, 1, family, ids, n);
}
