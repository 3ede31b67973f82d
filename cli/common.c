/* Model/tokenizer loading and prompt encoding shared by generate, eval, train. */
#include "cli/common.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"

int cli_model_open(cli_model_t *cm, const char *dir, const char *device, int threads, int need_tok) {
    memset(cm, 0, sizeof *cm);
    int rc = rlc_backend_create(&cm->be, device, 0, threads);
    if (!rc) rc = rlc_model_load(&cm->m, dir, cm->be);
    if (!rc) {
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

int cli_encode_messages(const tok_t *tok, const tok_msg_t *msgs, int n_msgs, const char *family, int32_t **ids,
                        int *n) {
    char *txt = NULL;
    int rc = tok_chat_apply(tok, msgs, n_msgs, 1, family, &txt);
    if (rc) return rc;
    /* the rendered template already holds BOS and special tokens */
    rc = tok_encode(tok, txt, strlen(txt), 0, ids, n);
    free(txt);
    return rc;
}

int cli_encode_prompt(const tok_t *tok, const char *text, int chat, const char *system, const char *family,
                      int32_t **ids, int *n) {
    if (!chat) return tok_encode(tok, text, strlen(text), 1, ids, n);
    tok_msg_t msgs[2];
    int k = 0;
    if (system) msgs[k++] = (tok_msg_t){"system", system};
    msgs[k++] = (tok_msg_t){"user", text};
    return cli_encode_messages(tok, msgs, k, family, ids, n);
}
