/* Tokenizers: one interface over byte-level BPE (Hugging Face tokenizer.json: Qwen2/2.5,
 * Llama 3, DeepSeek-R1-Distill) and sentencepiece (tokenizer.model: Llama 2, Mistral,
 * TinyLlama), plus chat templates. This is the only header other modules include.
 * A loaded tok_t is immutable apart from an internal, locked word cache, so one handle
 * may be shared by threads (tok_set_chat_template / tok_set_chat_date excepted). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct tok tok_t; /* opaque */

/* path: a model directory (tokenizer.json, tokenizer.model, or a slow tokenizer's vocab.json
 * + merges.txt), a tokenizer.json or a tokenizer.model. Beside it, when present,
 * tokenizer_config.json (bos/eos/pad, add_bos_token, chat_template), generation_config.json
 * (eos_token_id int or list) and special_tokens_map.json are read. */
int tok_load(tok_t **out, const char *path);
/* Whether dir holds a tokenizer tok_load reads: tokenizer.json, tokenizer.model, or a slow
 * tokenizer's vocab.json + merges.txt. */
int tok_present(const char *dir);
/* The error for a model directory without any of them. */
int tok_missing(const char *dir);
void tok_free(tok_t *t);

/* "bpe" or "sentencepiece". */
const char *tok_kind(const tok_t *t);
/* Size including added tokens (max id + 1). */
int tok_vocab_size(const tok_t *t);

/* The embedding rows of the model this tokenizer feeds (0 = no bound). Afterwards an
 * encoding (tok_encode, tok_chat_encode) that yields an id >= n is an error naming the
 * token, so a text the model cannot read is refused where it is encoded (a data row is
 * then skipped or fatal under strict) rather than at a forward. When the tokenizer knows
 * more than n tokens this warns once. Set it before sharing t between threads. */
void tok_set_model_vocab(tok_t *t, int n);

/* Encode `len` bytes of UTF-8 (invalid UTF-8 is an error). Special-token text in `text`
 * (e.g. "<|im_end|>") becomes the special token, as Hugging Face does by default.
 * add_special: add what the tokenizer adds around a sequence (the tokenizer.json
 * post-processor, else add_bos_token/add_eos_token from tokenizer_config.json; for
 * sentencepiece BOS unless the config says add_bos_token=false). *ids is malloc'd. */
int tok_encode(const tok_t *t, const char *text, size_t len, int add_special, int32_t **ids, int *n);
/* Concatenated token bytes (exact, so decode(encode(x)) == x); skip_special drops special
 * tokens. For sentencepiece the leading space of the dummy prefix is removed. *text is
 * malloc'd and NUL-terminated (*len excludes the NUL). Out-of-range id: RLC_ERANGE. */
int tok_decode(const tok_t *t, const int32_t *ids, int n, int skip_special, char **text, size_t *len);
/* The raw bytes one token contributes to decoded text (may be a partial UTF-8 sequence);
 * valid while t lives. For sentencepiece '▁' is a space and byte pieces are their byte. */
int tok_token_bytes(const tok_t *t, int32_t id, const char **bytes, size_t *len);

int32_t tok_bos_id(const tok_t *t); /* -1 if none */
int32_t tok_eos_id(const tok_t *t); /* the tokenizer's eos token; -1 if none */
int32_t tok_pad_id(const tok_t *t); /* -1 if none */
/* All EOS ids: generation_config.json eos_token_id (int or list) plus the eos token. */
int tok_eos_ids(const tok_t *t, const int32_t **ids);
/* Exact token-string lookup ("<|im_end|>", or a vocab entry as written in the file, e.g.
 * "Ġthe" or "▁the"); -1 if absent. */
int32_t tok_token_to_id(const tok_t *t, const char *token);
/* 1 for special tokens (HF added tokens marked special; sentencepiece control tokens). */
int tok_is_special(const tok_t *t, int32_t id);

/* Chat prompts. family NULL (or "auto"): the model's own chat template, rendered by the Jinja
 * interpreter (an error when there is none or it cannot run). Otherwise a built-in format:
 * "chatml" (ChatML, no default system prompt), "qwen" (ChatML + Qwen2.5 rules: its default
 * system prompt, tool turns), "qwen-math" (Qwen2.5-Math's default system prompt), "llama3"
 * (Llama 3.0 headers), "llama3.1" (Llama 3.1/3.2 dated system block, "26 Jul 2024" unless
 * tok_set_chat_date), "deepseek-r1" (DeepSeek-R1-Distill: <think> opened, history cut after
 * </think>), "plain" ("Role: content" blocks). */
typedef struct {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content;
} tok_msg_t;
int tok_chat_apply(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, const char *family,
                   char **out);
/* tok_chat_apply, then tok_encode of the rendering without adding special tokens (the
 * template already holds BOS and the role markers): the ids a chat prompt is fed as. */
int tok_chat_encode(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, const char *family,
                    int32_t **ids, int *n_ids);
/* "none" (no chat template), "ok" (the interpreter runs it), or why it cannot run. */
const char *tok_chat_template_status(const tok_t *t);
/* The day templates show: "26 Jul 2024" or "2024-07-26" (anything else is an error), passed
 * as written to the template as transformers' apply_chat_template(date_string=...) passes
 * it (Llama 3.1+), used by the built-in "llama3.1" format, and the day strftime_now()
 * formats (templates that read the clock: gpt-oss, Granite, Llama 3.2 without a
 * date_string); NULL restores the template's own (its fixed date, or today's). Pin it for
 * reproducible prompts. */
int tok_set_chat_date(tok_t *t, const char *date);
/* The model's own chat template (Jinja) over messages given as JSON: an array of objects
 * with role and content plus whatever the template reads (tool_calls, reasoning_content,
 * name, ...); extra (may be NULL) holds more variables as transformers passes them (tools,
 * documents, enable_thinking, date_string, ...). bos_token/eos_token/pad_token and
 * add_generation_prompt are set as apply_chat_template sets them. */
int tok_chat_render_json(const tok_t *t, const cJSON *messages, const cJSON *extra, int add_generation_prompt,
                         char **out);
/* Variables every rendering of the model's template gets (a JSON object as text, e.g.
 * {"enable_thinking": false}); a call's own extra variables win. NULL or "" clears them. */
int tok_set_chat_vars(tok_t *t, const char *json);
/* Those variables (borrowed; NULL when none are set). */
const cJSON *tok_chat_vars(const tok_t *t);
/* A JSON array of {"role", "content"} objects as messages; *out (malloc'd) points into arr,
 * whose contents given as lists of text parts are first joined (rlc_json_flatten_content).
 * what names the source in errors ("--chat"). */
int tok_msgs_from_json(cJSON *arr, const char *what, tok_msg_t **out, int *n);
/* Replace the chat template (Jinja source) and compile it; NULL clears it.
 * Returns 0 even when the interpreter cannot run it (tok_chat_template_status says why). */
int tok_set_chat_template(tok_t *t, const char *jinja);
