/* Internal to tokenizer/: the tok_t layout shared by the front (tok.c: load, encode,
 * decode, chat encoding), the tokenizer.json loader (hf_json.c), slow-tokenizer files as a
 * tokenizer.json (slow.c), chat rendering (chat.c),
 * the byte-level BPE (bpe.c), pre-tokenization (pretok.c), the vocabulary table (vocab.c),
 * normalization (normalize.c) and helpers (util.c). Calls form a tree, top to leaves:
 * tok.c; hf_json.c, slow.c; chat.c, bpe.c, pretok.c; vocab.c, normalize.c, util.c — a file calls
 * only files below it. Nothing outside tokenizer/ includes this. */
#pragma once
#include <time.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strmap.h"
#include "tokenizer/spm.h"
#include "tokenizer/tok.h"

/* ---- growable int32 vector ---- */
typedef struct {
    int32_t *v;
    int n, cap;
} tok_ivec_t;
int tok_ivec_push(tok_ivec_t *a, int32_t x);
int tok_ivec_append(tok_ivec_t *a, const int32_t *x, int n);

/* dir/name parsed when the file exists (NULL and *rc = 0 when it does not); *rc set and NULL
 * when it is no JSON object (util.c). */
cJSON *tok_load_opt_json(const char *dir, const char *name, int *rc);

/* ---- UTF-8 helpers ---- */
/* Offset of the first invalid byte, or (size_t)-1 when s is valid UTF-8. */
size_t tok_utf8_invalid_at(const char *s, size_t n);
/* Decode one code point at s (valid UTF-8 assumed); returns its byte length. */
int tok_utf8_next(const char *s, size_t n, int32_t *cp);
int tok_utf8_encode(int32_t cp, char *out);
/* Python's str.isspace and the Rust regex \w / \s classes, per code point. */
int tok_cp_is_space(int32_t cp);
int tok_cp_is_word(int32_t cp);
/* Python's str.isspace exactly: tok_cp_is_space plus the separators 0x1C-0x1F. */
int tok_cp_is_pyspace(int32_t cp);
/* Narrow [*a, *b) of s: drop code points for which strip(cp, ctx) holds from the left
 * (left != 0) and the right (right != 0). strip NULL = tok_cp_is_space. */
void tok_utf8_trim(const char *s, size_t *a, size_t *b, int left, int right, int (*strip)(int32_t, const void *),
                   const void *ctx);

/* ---- byte-level BPE model ---- */
typedef struct tok_bpe tok_bpe_t;
/* vocab/merges from the tokenizer.json "model" object; sets *vocab (string -> id). */
/* chars: the initial symbols are characters (looked up whole, with byte_fallback to <0xXX>
 * tokens or unk), not GPT-2 byte characters. */
int tok_bpe_build(tok_bpe_t **out, const void *model_json, rlc_strmap_t *vocab, int *max_id, int chars);
void tok_bpe_free(tok_bpe_t *b);
/* Encode one pre-token (raw bytes) and append ids; uses and fills the shared word cache. */
int tok_bpe_word(const tok_bpe_t *b, const char *w, size_t n, tok_ivec_t *out);
/* Raw bytes of a model token given its vocab string (byte-level chars mapped back). */
int tok_bytelevel_decode(const char *s, size_t n, char *out, size_t *outn);

/* ---- pre-tokenizer pipeline ---- */
enum { PT_SPLIT = 1, PT_BYTELEVEL, PT_DIGITS, PT_METASPACE };
enum { PREPEND_ALWAYS = 0, PREPEND_FIRST, PREPEND_NEVER };
enum { SPLIT_REMOVED = 0, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
typedef struct {
    int type;
    void *re;            /* pcre2_code_8 * (Split, ByteLevel with use_regex) */
    int behavior, invert;
    int add_prefix_space; /* ByteLevel */
    int individual_digits;
    char *pattern;       /* translated pattern, for messages */
    char rep[8];         /* Metaspace: the replacement character (UTF-8), its length, */
    int rep_len, prepend, split; /* prepend scheme (PREPEND_*) and whether it splits */
} tok_pretok_t;
/* Compile a tokenizer.json regex (Oniguruma syntax) for PCRE2; literal when is_literal. */
int tok_regex_compile(const char *pattern, int is_literal, void **out, char **translated);
void tok_regex_free(void *re);
typedef int (*tok_piece_fn)(void *ctx, const char *s, size_t n);
/* Run steps[0..nsteps) over s, calling fn for every final piece in order. at_origin: s starts
 * at offset 0 of the text being encoded (Metaspace's prepend_scheme "first"). */
int tok_pretok_run(const tok_pretok_t *steps, int nsteps, const char *s, size_t n, int at_origin, tok_piece_fn fn,
                   void *ctx);

/* ---- normalizers (normalize.c) ---- */
enum { NORM_UNICODE = 1, NORM_PREPEND, NORM_REPLACE, NORM_LOWERCASE, NORM_STRIP };
typedef struct {
    int kind;
    int opts;          /* NORM_UNICODE: the utf8proc option set (NFC/NFD/NFKC/NFKD) */
    char *a, *b;       /* PREPEND: a; REPLACE: a (a literal) by b */
    size_t an, bn;
    int left, right;   /* STRIP */
} tok_norm_t;

/* ---- added tokens ---- */
typedef struct {
    char *content;
    size_t len;
    int32_t id;
    uint8_t special, lstrip, rstrip, single_word, normalized;
} tok_added_t;

/* ---- chat template description (chat.c) ---- */
typedef struct {
    char *source;           /* Jinja text as given, or NULL */
    char date_override[32]; /* tok_set_chat_date; "" = none */
    struct tm date_tm;      /* that date, for strftime_now() */
    struct jinja *jinja;    /* the template compiled (chat_jinja.c), or NULL */
    char jinja_err[320];    /* why it did not compile */
} tok_chat_t;
/* tok_chat_render_json over plain role/content messages (chat_jinja.c). */
int tok_chat_render_msgs(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, char **out);
void tok_chat_clear(tok_chat_t *c);

enum { TOK_KIND_BPE = 1, TOK_KIND_SPM = 2 };

struct tok {
    int kind;
    int vocab_size;
    /* id -> raw bytes it contributes to decoded text */
    char *blob;
    size_t blob_used, blob_cap;
    size_t *boff;
    uint32_t *blen;
    uint8_t *flags; /* TOKF_* */
    /* token strings as written in the file (vocab + added contents) -> id */
    rlc_strmap_t vocab;

    /* byte-level BPE (kind BPE) */
    tok_bpe_t *bpe;
    tok_norm_t *norm; /* the normalizer's steps, in order */
    int n_norm;
    int norm_is_nfc; /* the normalizer is exactly NFC */
    int spm_style;   /* BPE over characters (no ByteLevel): sentencepiece-style tokenizer.json */
    tok_pretok_t *pre;
    int n_pre;
    tok_added_t *added;
    int n_added;
    int has_normalized_added, has_raw_added;
    uint8_t added_first[256]; /* bit0: a non-normalized token starts with this byte, bit1: normalized */
    int32_t *post_prefix, *post_suffix;
    int n_post_prefix, n_post_suffix, has_post_template;

    /* sentencepiece (kind SPM) */
    spm_t *spm;
    int spm_dummy_prefix; /* decode drops the first token's leading space (sentencepiece; a Strip decoder) */
    int32_t *spm_specials; /* control and unknown pieces, split out of the text before encoding */
    int n_spm_specials;

    int cfg_add_bos, cfg_add_eos; /* -1 unset */
    int cfg_legacy;               /* tokenizer_config "legacy"; -1 unset (= true) */
    int32_t bos, eos, pad;
    int32_t *eos_ids;
    int n_eos;
    tok_chat_t chat;
    cJSON *chat_vars; /* template variables set for every rendering (tok_set_chat_vars) */
    int model_vocab;  /* > 0: encoded ids must be below it (tok_set_model_vocab) */
};

enum { TOKF_PRESENT = 1, TOKF_SPECIAL = 2, TOKF_ADDED = 4 };

/* Loaders (hf_json.c / tok.c). */
int tok_load_hf_json(tok_t *t, const char *path);
/* The same from a parsed tokenizer.json (taken and freed); path names it in errors. */
int tok_load_hf_root(tok_t *t, cJSON *root, const char *path);
/* A slow tokenizer's files in dir (vocab.json + merges.txt, with tokenizer_config.json,
 * special_tokens_map.json, added_tokens.json, config.json) as the tokenizer.json transformers
 * builds from them (slow.c): *root, or 1 when dir has no vocab.json + merges.txt. dflt[0..2]:
 * the bos, eos and pad ids the class gives when no config names them (<|endoftext|>), or -1. */
int tok_slow_root(const char *dir, cJSON **root, int32_t dflt[3]);
int tok_load_spm(tok_t *t, const char *path);
/* Grow the id -> bytes table to hold `id` and set its bytes and flags (vocab.c). */
int tok_set_token(tok_t *t, int32_t id, const char *bytes, size_t n, int flags);
/* Apply the tokenizer.json normalizers; *out malloc'd (normalize.c). */
int tok_normalize(const tok_t *t, const char *s, size_t n, char **out, size_t *outn);
