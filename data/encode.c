/* Problems as prompt token ids (see encode.h). */
#include "data/encode.h"

#include <string.h>

int data_encode_problem(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const char *problem, int32_t **ids,
                        int *n, const char **format) {
    data_prompt_t dp;
    int rc = data_prompt_build(tpl, problem, &dp);
    if (rc) return rc;
    if (format) *format = dp.format;
    if (dp.chat) {
        tok_msg_t msgs[2];
        for (int i = 0; i < dp.n_msgs; i++) msgs[i] = (tok_msg_t){dp.msgs[i].role, dp.msgs[i].content};
        rc = tok_chat_encode(tok, msgs, dp.n_msgs, 1, chat_family, ids, n);
    } else {
        rc = tok_encode(tok, dp.text, strlen(dp.text), 1, ids, n);
    }
    data_prompt_free(&dp);
    return rc;
}
