/* Problems as prompt token ids (see encode.h). */
#include "data/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

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

int data_encode_row(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const data_row_t *row, int32_t **ids,
                    int *n, const char **format) {
    if (!row->messages) return data_encode_problem(tok, tpl, chat_family, row->problem, ids, n, format);
    const char *fmt = data_template_format(tpl);
    if (!fmt) return rlc_errc(RLC_EINVAL, "prompt template: unknown template %d", (int)tpl);
    if (format) *format = fmt;
    tok_msg_t *msgs = NULL;
    int k = 0, rc = tok_msgs_from_json(row->messages, "chat prompt", &msgs, &k);
    if (!rc) rc = tok_chat_encode(tok, msgs, k, 1, chat_family, ids, n);
    free(msgs);
    return rc;
}

/* The reason row r is bad (into why), or 0 with its ids stored. */
static int encode_row(const tok_t *tok, data_tpl_t tpl, const char *family, long max_len, const char *limit,
                      data_row_t *r, char *why, size_t cap) {
    int32_t *ids = NULL;
    int n = 0;
    const char *fmt = NULL;
    int rc = data_encode_row(tok, tpl, family, r, &ids, &n, &fmt);
    if (rc == RLC_ENOMEM) return rc;
    if (rc) {
        snprintf(why, cap, "%s", rlc_errmsg());
        return 1;
    }
    if (max_len > 0 && n > max_len) {
        free(ids);
        snprintf(why, cap, "prompt of %d tokens exceeds %s %ld", n, limit ? limit : "the limit", max_len);
        return 1;
    }
    free(r->prompt_ids);
    r->prompt_ids = ids;
    r->n_prompt_ids = n;
    r->format = fmt;
    return 0;
}

int data_encode_all(const tok_t *tok, data_tpl_t tpl, const char *chat_family, const char *path, long max_len,
                    const char *limit, int strict, data_set_t *ds, long *n_bad) {
    long bad = 0;
    int k = 0;
    if (n_bad) *n_bad = 0;
    for (int i = 0; i < ds->n; i++) {
        char why[400];
        data_row_t *r = &ds->rows[i];
        int rc = encode_row(tok, tpl, chat_family, max_len, limit, r, why, sizeof why);
        if (rc < 0) return rc;
        if (rc > 0 && strict)
            return rlc_errc(RLC_EINVAL, "%s:%ld: %s (strict: bad rows are fatal)", path, r->line, why);
        if (rc > 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s:%ld: %s", path, r->line, why);
            data_bad_row(&bad, msg);
            data_row_free(r);
            continue;
        }
        ds->rows[k++] = *r;
    }
    ds->n = k;
    data_bad_total(path, bad);
    if (n_bad) *n_bad = bad;
    if (!ds->n) return rlc_errc(RLC_EINVAL, "%s: no usable row (%ld bad)", path, bad);
    return 0;
}
