/* `rlc tokenize` and `rlc detokenize`: text -> ids and ids -> text with a model's tokenizer
 * (tokenizer.json or tokenizer.model), one text or a file of lines, and chat-template
 * rendering (--chat) for checking prompts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/json.h"
#include "tokenizer/tok.h"

static void print_ids(FILE *f, const int32_t *ids, int n, int json) {
    if (json) fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, i ? (json ? ",%d" : " %d") : "%d", ids[i]);
    fputs(json ? "]\n" : "\n", f);
}

static int tokenize_one(const tok_t *t, const char *text, size_t len, int special, int json) {
    int32_t *ids;
    int n;
    int rc = tok_encode(t, text, len, special, &ids, &n);
    if (rc) return rc;
    print_ids(stdout, ids, n, json);
    free(ids);
    return 0;
}

/* --chat '[{"role": "user", "content": "..."}]': the model's own template (any message fields
 * it reads: tool_calls, reasoning_content, ...; --chat-vars adds variables such as tools or
 * enable_thinking), or a built-in format with --chat-format. */
static int render_chat(const tok_t *t, const char *js, const char *family, const char *vars, int gen, char **out) {
    cJSON *arr = rlc_json_parse(js, strlen(js), "--chat");
    if (!arr) return RLC_EINVAL;
    int rc = 0;
    if (!family || !*family || !strcmp(family, "auto")) {
        cJSON *extra = vars ? rlc_json_parse(vars, strlen(vars), "--chat-vars") : NULL;
        if (vars && !extra) rc = RLC_EINVAL;
        else rc = tok_chat_render_json(t, arr, extra, gen, out);
        cJSON_Delete(extra);
    } else {
        tok_msg_t *m = NULL;
        int n = 0;
        rc = vars ? rlc_errc(RLC_EINVAL, "--chat-vars needs the model's own template (no --chat-format)")
                  : tok_msgs_from_json(arr, "--chat", &m, &n);
        if (!rc) rc = tok_chat_apply(t, m, n, gen, family, out);
        free(m);
    }
    cJSON_Delete(arr);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *file = NULL, *chat = NULL, *family = NULL, *date = NULL, *vars = NULL;
    int json = 0, special = 0, render = 0, nogen = 0, info = 0;
    cli_opt_t opts[] = {
        {"--tokenizer", OPT_STR, &path, "model directory, tokenizer.json or tokenizer.model", 1, 0},
        {"--text", OPT_STR, &text, "text to tokenize", 0, 0},
        {"--file", OPT_STR, &file, "tokenize every line of this file (one output line each; - for stdin)", 0, 0},
        {"--chat", OPT_STR, &chat, "JSON messages [{\"role\":..,\"content\":..}] rendered with the chat template", 0, 0},
        {"--chat-format", OPT_STR, &family,
         "a built-in format instead of the model's template: chatml, qwen, qwen-math, llama3, llama3.1, deepseek-r1, "
         "plain", 0, 0},
        {"--chat-date", OPT_STR, &date,
         "with --chat: the day the template shows (date_string, strftime_now): 26 Jul 2024 or 2024-07-26", 0, 0},
        {"--chat-vars", OPT_STR, &vars,
         "with --chat: more template variables as JSON ({\"enable_thinking\": false, \"tools\": [...]})", 0, 0},
        {"--no-generation-prompt", OPT_FLAG, &nogen, "with --chat: do not open an assistant turn", 0, 0},
        {"--render", OPT_FLAG, &render, "with --chat: print the rendered prompt instead of ids", 0, 0},
        {"--special", OPT_FLAG, &special, "add the tokenizer's BOS/EOS (post-processor / add_bos_token)", 0, 0},
        {"--json", OPT_FLAG, &json, "print ids as a JSON array", 0, 0},
        {"--info", OPT_FLAG, &info, "print the tokenizer's kind, vocab size, special ids and chat family", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts, "rlc tokenize --tokenizer PATH (--text STR | --file PATH | --chat JSON)",
                       "Print the token ids of a text, of every line of a file, or of a chat prompt.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if (!!text + !!file + !!chat > 1) {
        rlc_errc(RLC_EINVAL, "give one of --text, --file, --chat");
        return cli_fail();
    }
    if (!text && !file && !chat && !info) {
        rlc_errc(RLC_EINVAL, "nothing to tokenize: give --text, --file or --chat (see --help)");
        return cli_fail();
    }
    tok_t *t;
    if (tok_load(&t, path)) return cli_fail();
    if (date && tok_set_chat_date(t, date)) {
        tok_free(t);
        return cli_fail();
    }
    if (info) {
        const int32_t *e;
        int ne = tok_eos_ids(t, &e);
        printf("kind %s\nvocab_size %d\nbos %d\neos %d\npad %d\neos_ids", tok_kind(t), tok_vocab_size(t), tok_bos_id(t),
               tok_eos_id(t), tok_pad_id(t));
        for (int i = 0; i < ne; i++) printf(" %d", e[i]);
        printf("\nchat_template %s\n", tok_chat_template_status(t));
    }
    if (text) {
        rc = tokenize_one(t, text, strlen(text), special, json);
    } else if (chat) {
        char *prompt;
        rc = render_chat(t, chat, family, vars, !nogen, &prompt);
        if (!rc) {
            if (render) fputs(prompt, stdout);
            else rc = tokenize_one(t, prompt, strlen(prompt), special, json);
            free(prompt);
        }
    } else if (file) {
        FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        if (!f) {
            rc = rlc_err_errno("cannot open %s", file);
        } else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            long lineno = 0;
            while (!rc && (len = getline(&line, &cap, f)) >= 0) {
                lineno++;
                if (len && line[len - 1] == '\n') len--;
                rc = tokenize_one(t, line, (size_t)len, special, json);
                if (rc) rlc_err_ctx(rc, "%s:%ld", file, lineno);
            }
            free(line);
            if (f != stdin) fclose(f);
        }
    }
    tok_free(t);
    if (rc) return cli_fail();
    return 0;
}

static int detok_one(const tok_t *t, const char *s, int skip, int json) {
    int32_t *ids = NULL;
    int n = 0;
    int rc = cli_parse_ids(s, "--ids", &ids, &n);
    if (rc) return rc;
    char *txt;
    size_t len;
    rc = tok_decode(t, ids, n, skip, &txt, &len);
    free(ids);
    if (rc) return rc;
    if (json) {
        cJSON *js = cJSON_CreateString(txt);
        char *o = js ? cJSON_PrintUnformatted(js) : NULL;
        if (o) puts(o);
        free(o);
        cJSON_Delete(js);
    } else {
        fwrite(txt, 1, len, stdout);
    }
    free(txt);
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    const char *path = NULL, *ids = NULL, *file = NULL;
    int skip = 0, json = 0;
    cli_opt_t opts[] = {
        {"--tokenizer", OPT_STR, &path, "model directory, tokenizer.json or tokenizer.model", 1, 0},
        {"--ids", OPT_STR, &ids, "token ids: \"1 2 3\", \"1,2,3\" or \"[1,2,3]\"", 0, 0},
        {"--file", OPT_STR, &file, "decode every line of this file (a list of ids per line; - for stdin)", 0, 0},
        {"--skip-special", OPT_FLAG, &skip, "drop special tokens", 0, 0},
        {"--json", OPT_FLAG, &json, "print each text as a JSON string on its own line", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts, "rlc detokenize --tokenizer PATH (--ids LIST | --file PATH)",
                       "Print the text of token ids (the exact bytes; with --file one text per input line).");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if (!ids == !file) {
        rlc_errc(RLC_EINVAL, "give one of --ids or --file");
        return cli_fail();
    }
    tok_t *t;
    if (tok_load(&t, path)) return cli_fail();
    if (ids) {
        rc = detok_one(t, ids, skip, json);
    } else {
        FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        if (!f) {
            rc = rlc_err_errno("cannot open %s", file);
        } else {
            char *line = NULL;
            size_t cap = 0;
            long lineno = 0;
            while (!rc && getline(&line, &cap, f) >= 0) {
                lineno++;
                rc = detok_one(t, line, skip, json);
                if (!rc && !json) fputc('\n', stdout);
                if (rc) rlc_err_ctx(rc, "%s:%ld", file, lineno);
            }
            free(line);
            if (f != stdin) fclose(f);
        }
    }
    tok_free(t);
    if (rc) return cli_fail();
    return 0;
}
