/* Chat templates. The model's own template (chat_template.jinja or tokenizer_config.json's
 * chat_template) is rendered by the Jinja interpreter (jinja*.c, through chat_jinja.c). The
 * built-in formats here (ChatML, Qwen2.5, Qwen2.5-Math, Llama 3, Llama 3.1+, DeepSeek-R1,
 * plain) reproduce those models' templates for plain conversations and are used only when
 * forced by name (`--chat-format`): for a model without a template, or to prompt one in
 * another model's format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/str.h"
#include "core/log.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tok_internal.h"

#define QWEN_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
#define QWEN_MATH_SYSTEM "Please reason step by step, and put your final answer within \\boxed{}."
#define FAMILIES "chatml, qwen, qwen-math, llama3, llama3.1, deepseek-r1, plain"

void tok_chat_clear(tok_chat_t *c) {
    char keep[sizeof c->date_override];
    struct tm keep_tm = c->date_tm;
    memcpy(keep, c->date_override, sizeof keep); /* a pinned date outlives a template change */
    free(c->source);
    jinja_free(c->jinja);
    memset(c, 0, sizeof *c);
    memcpy(c->date_override, keep, sizeof keep);
    c->date_tm = keep_tm;
}

int tok_set_chat_date(tok_t *t, const char *date) {
    if (!date) {
        t->chat.date_override[0] = 0;
        return 0;
    }
    struct tm day;
    if (!*date || strlen(date) >= sizeof t->chat.date_override || rlc_parse_day(date, &day))
        return rlc_errc(RLC_EINVAL, "chat date '%.40s': give a day as '26 Jul 2024' or 2024-07-26", date);
    snprintf(t->chat.date_override, sizeof t->chat.date_override, "%s", date);
    t->chat.date_tm = day;
    return 0;
}

int tok_set_chat_template(tok_t *t, const char *jinja) {
    tok_chat_clear(&t->chat);
    if (!jinja) return 0;
    t->chat.source = rlc_strdup(jinja);
    if (!t->chat.source) return RLC_ENOMEM;
    int rc = jinja_compile(jinja, &t->chat.jinja);
    if (rc == RLC_ENOMEM) return rc;
    if (rc) { /* refused at use with this message (a built-in format can still be forced) */
        snprintf(t->chat.jinja_err, sizeof t->chat.jinja_err, "%s", rlc_errmsg());
        rlc_err_clear();
        LOG_WARN("%s: prompts need a built-in format (--chat-format)", t->chat.jinja_err);
    }
    return 0;
}

const char *tok_chat_template_status(const tok_t *t) {
    return !t->chat.source ? "none" : t->chat.jinja ? "ok" : t->chat.jinja_err;
}

/* ---- rendering ---- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *x = realloc(b->s, nc);
        if (!x) {
            b->oom = 1;
            return;
        }
        b->s = x;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void puts_(sbuf_t *b, const char *s) { put(b, s, strlen(s)); }

/* Python str.strip(), which Jinja's trim filter calls. */
static int py_space(int32_t cp, const void *ctx) {
    (void)ctx;
    return tok_cp_is_pyspace(cp);
}
static void put_trimmed(sbuf_t *b, const char *s) {
    size_t a = 0, e = strlen(s);
    tok_utf8_trim(s, &a, &e, 1, 1, py_space, NULL);
    put(b, s + a, e - a);
}

static int is_role(const tok_msg_t *m, const char *r) { return !strcmp(m->role, r); }

static void render_chatml(sbuf_t *b, const tok_msg_t *m, int n, int gen, const char *def_sys, int qwen) {
    if (qwen) {
        if (n > 0 && is_role(&m[0], "system")) {
            puts_(b, "<|im_start|>system\n"), puts_(b, m[0].content), puts_(b, "<|im_end|>\n");
        } else if (def_sys) {
            puts_(b, "<|im_start|>system\n"), puts_(b, def_sys), puts_(b, "<|im_end|>\n");
        }
        for (int i = 0; i < n; i++) {
            if (is_role(&m[i], "user") || (is_role(&m[i], "system") && i > 0) || is_role(&m[i], "assistant")) {
                puts_(b, "<|im_start|>"), puts_(b, m[i].role), puts_(b, "\n"), puts_(b, m[i].content), puts_(b, "<|im_end|>\n");
            } else if (is_role(&m[i], "tool")) {
                if (i == 0 || !is_role(&m[i - 1], "tool")) puts_(b, "<|im_start|>user");
                puts_(b, "\n<tool_response>\n"), puts_(b, m[i].content), puts_(b, "\n</tool_response>");
                if (i == n - 1 || !is_role(&m[i + 1], "tool")) puts_(b, "<|im_end|>\n");
            } /* other roles render nothing in Qwen2.5's template */
        }
    } else {
        if (def_sys && n > 0 && !is_role(&m[0], "system"))
            puts_(b, "<|im_start|>system\n"), puts_(b, def_sys), puts_(b, "<|im_end|>\n");
        for (int i = 0; i < n; i++)
            puts_(b, "<|im_start|>"), puts_(b, m[i].role), puts_(b, "\n"), puts_(b, m[i].content), puts_(b, "<|im_end|>\n");
    }
    if (gen) puts_(b, "<|im_start|>assistant\n");
}

static void llama_turn(sbuf_t *b, const char *role, const char *content) {
    puts_(b, "<|start_header_id|>"), puts_(b, role), puts_(b, "<|end_header_id|>\n\n");
    put_trimmed(b, content);
    puts_(b, "<|eot_id|>");
}

static int render_llama(sbuf_t *b, const tok_msg_t *m, int n, int gen, const char *bos, int v31, const char *date) {
    int first = 0;
    if (v31) {
        puts_(b, bos);
        puts_(b, "<|start_header_id|>system<|end_header_id|>\n\n");
        puts_(b, "Cutting Knowledge Date: December 2023\nToday Date: "), puts_(b, date), puts_(b, "\n\n");
        if (n > 0 && is_role(&m[0], "system")) put_trimmed(b, m[0].content), first = 1;
        puts_(b, "<|eot_id|>");
    }
    for (int i = first; i < n; i++) {
        if (v31 && (is_role(&m[i], "tool") || is_role(&m[i], "ipython")))
            return rlc_errc(RLC_EUNSUP, "chat template llama3.1: '%s' messages are not supported", m[i].role);
        if (!v31 && i == 0) puts_(b, bos);
        llama_turn(b, m[i].role, m[i].content);
    }
    if (gen) puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return 0;
}

#define FW_BAR "\xEF\xBD\x9C"   /* U+FF5C fullwidth vertical bar */
#define LOWER_BLK "\xE2\x96\x81" /* U+2581 */
static void render_r1(sbuf_t *b, const tok_msg_t *m, int n, int gen, const char *bos, int think, int strip) {
    const char *sys = "";
    for (int i = 0; i < n; i++)
        if (is_role(&m[i], "system")) sys = m[i].content;
    puts_(b, bos), puts_(b, sys);
    int is_tool = 0, out_first = 1;
    for (int i = 0; i < n; i++) {
        if (is_role(&m[i], "user")) {
            is_tool = 0;
            puts_(b, "<" FW_BAR "User" FW_BAR ">"), puts_(b, m[i].content);
        } else if (is_role(&m[i], "assistant")) {
            if (is_tool) {
                puts_(b, "<" FW_BAR "tool" LOWER_BLK "outputs" LOWER_BLK "end" FW_BAR ">"), puts_(b, m[i].content);
                puts_(b, "<" FW_BAR "end" LOWER_BLK "of" LOWER_BLK "sentence" FW_BAR ">");
                is_tool = 0;
            } else {
                const char *c = m[i].content;
                if (strip) { /* content.split('</think>')[-1] */
                    const char *p;
                    while ((p = strstr(c, "</think>"))) c = p + 8;
                }
                puts_(b, "<" FW_BAR "Assistant" FW_BAR ">"), puts_(b, c);
                puts_(b, "<" FW_BAR "end" LOWER_BLK "of" LOWER_BLK "sentence" FW_BAR ">");
            }
        } else if (is_role(&m[i], "tool")) {
            is_tool = 1;
            if (out_first) {
                puts_(b, "<" FW_BAR "tool" LOWER_BLK "outputs" LOWER_BLK "begin" FW_BAR "><" FW_BAR "tool" LOWER_BLK "output" LOWER_BLK "begin" FW_BAR ">");
                out_first = 0;
            } else {
                puts_(b, "\n<" FW_BAR "tool" LOWER_BLK "output" LOWER_BLK "begin" FW_BAR ">");
            }
            puts_(b, m[i].content);
            puts_(b, "<" FW_BAR "tool" LOWER_BLK "output" LOWER_BLK "end" FW_BAR ">");
        }
    }
    if (is_tool) puts_(b, "<" FW_BAR "tool" LOWER_BLK "outputs" LOWER_BLK "end" FW_BAR ">");
    if (gen && !is_tool) {
        puts_(b, "<" FW_BAR "Assistant" FW_BAR ">");
        if (think) puts_(b, "<think>\n");
    }
}

static void render_plain(sbuf_t *b, const tok_msg_t *m, int n, int gen) {
    for (int i = 0; i < n; i++) {
        char role[64];
        snprintf(role, sizeof role, "%s", m[i].role);
        if (role[0] >= 'a' && role[0] <= 'z') role[0] = (char)(role[0] - 'a' + 'A');
        puts_(b, role), puts_(b, ": "), puts_(b, m[i].content), puts_(b, "\n\n");
    }
    if (gen) puts_(b, "Assistant:");
}

int tok_chat_apply(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, const char *family,
                   char **out) {
    *out = NULL;
    if (n < 0 || (n && !msgs)) return rlc_errc(RLC_EINVAL, "chat: bad message array");
    for (int i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) return rlc_errc(RLC_EINVAL, "chat: message %d has no role or content", i);
        if (!msgs[i].role[0]) return rlc_errc(RLC_EINVAL, "chat: message %d has an empty role", i);
    }
    const tok_chat_t *c = &t->chat;
    if (family && (!*family || !strcmp(family, "auto"))) family = NULL;
    if (!family) { /* the model's own template */
        if (!c->source)
            return rlc_errc(RLC_EINVAL, "chat: the tokenizer has no chat_template; choose a format (" FAMILIES ")");
        if (!c->jinja) return rlc_errc(RLC_EUNSUP, "chat: %s; choose a format explicitly (" FAMILIES ")", c->jinja_err);
        return tok_chat_render_msgs(t, msgs, n, add_generation_prompt, out);
    }
    const char *bos = "";
    size_t bl;
    if (t->bos >= 0 && tok_token_bytes(t, t->bos, &bos, &bl)) bos = "";
    sbuf_t b = {0};
    int rc = 0;
    if (!strcmp(family, "chatml")) {
        render_chatml(&b, msgs, n, add_generation_prompt, NULL, 0);
    } else if (!strcmp(family, "qwen") || !strcmp(family, "qwen-math")) {
        render_chatml(&b, msgs, n, add_generation_prompt,
                      !strcmp(family, "qwen-math") ? QWEN_MATH_SYSTEM : QWEN_DEFAULT_SYSTEM, 1);
    } else if (!strcmp(family, "llama3") || !strcmp(family, "llama3.1")) {
        rc = render_llama(&b, msgs, n, add_generation_prompt, bos, !strcmp(family, "llama3.1"),
                          c->date_override[0] ? c->date_override : "26 Jul 2024");
    } else if (!strcmp(family, "deepseek-r1")) {
        render_r1(&b, msgs, n, add_generation_prompt, bos, 1, 1);
    } else if (!strcmp(family, "plain")) {
        render_plain(&b, msgs, n, add_generation_prompt);
    } else {
        return rlc_errc(RLC_EINVAL, "chat: unknown format '%s' (" FAMILIES ")", family);
    }
    if (!rc && b.oom) rc = rlc_errc(RLC_ENOMEM, "chat: out of memory");
    if (!rc && !b.s) {
        b.s = calloc(1, 1);
        if (!b.s) rc = rlc_errc(RLC_ENOMEM, "chat: out of memory");
    }
    if (rc) {
        free(b.s);
        return rc;
    }
    *out = b.s;
    return 0;
}
