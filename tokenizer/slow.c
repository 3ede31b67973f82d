/* Slow-tokenizer files — vocab.json + merges.txt, the form of GPT-2 and of Qwen2 checkpoints
 * saved without tokenizer.json — read as the tokenizer.json transformers 5 builds from them,
 * so one loader (hf_json.c) serves both forms:
 *   Qwen2Tokenizer: NFC; Split(Qwen2 pattern, Isolated) + ByteLevel(add_prefix_space, no regex);
 *   GPT2Tokenizer:  ByteLevel(add_prefix_space, GPT-2 regex); unk/bos/eos <|endoftext|>;
 * both: byte-level decoder; added tokens from added_tokens_decoder (tokenizer_config.json)
 * and added_tokens.json, then every named special token not among them (its vocab id, or the
 * next free id), special and not normalized; a post-processor adding bos / eos when
 * add_bos_token / add_eos_token say so. The class comes from tokenizer_config.json's
 * tokenizer_class, else config.json's model_type (qwen2, qwen3: Qwen2; else GPT-2). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/str.h"
#include "tokenizer/tok_internal.h"

#define QWEN2_PATTERN                                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
    "\\s+(?!\\S)|\\s+"

/* merges.txt as a JSON array of "a b" strings: a "#version" first line and empty lines are
 * skipped; every other line holds two symbols separated by one space. */
static int read_merges(const char *path, cJSON *arr) {
    char *buf;
    size_t n;
    int rc = fs_read_all(path, &buf, &n);
    if (rc) return rc;
    long line = 0;
    for (size_t i = 0; !rc && i < n;) {
        size_t e = i;
        while (e < n && buf[e] != '\n') e++;
        size_t end = e > i && buf[e - 1] == '\r' ? e - 1 : e;
        line++;
        char *sp = memchr(buf + i, ' ', end - i);
        if (end == i || (line == 1 && end - i >= 8 && !memcmp(buf + i, "#version", 8))) {
            /* nothing to merge */
        } else if (!sp || sp == buf + i || sp + 1 == buf + end || memchr(sp + 1, ' ', (size_t)(buf + end - sp - 1))) {
            rc = rlc_errc(RLC_EFMT, "%s:%ld: a merge is two symbols separated by one space", path, line);
        } else {
            buf[end] = '\0';
            cJSON *s = cJSON_CreateString(buf + i);
            if (!s || !cJSON_AddItemToArray(arr, s)) rc = RLC_ENOMEM;
        }
        i = e + 1;
    }
    free(buf);
    return rc;
}

/* A special-token entry of a config: a string, or {"content": ..., lstrip ...}. */
static const char *token_content(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static int has_content(const cJSON *added, const char *content) {
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        const char *c = token_content(e);
        if (c && !strcmp(c, content)) return 1;
    }
    return 0;
}

/* Append {id, content, special, lstrip, rstrip, single_word, normalized} to added; props
 * (optional) gives the flags, special the default of "special". */
static int add_token(cJSON *added, int id, const char *content, const cJSON *props, int special) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(added, o)) return cJSON_Delete(o), RLC_ENOMEM;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(props, "special");
    if (cJSON_IsBool(x)) special = cJSON_IsTrue(x);
    if (!cJSON_AddNumberToObject(o, "id", id) || !cJSON_AddStringToObject(o, "content", content) ||
        !cJSON_AddBoolToObject(o, "special", special))
        return RLC_ENOMEM;
    const char *flags[4] = {"lstrip", "rstrip", "single_word", "normalized"};
    for (int k = 0; k < 4; k++) {
        x = cJSON_GetObjectItemCaseSensitive(props, flags[k]);
        int v = cJSON_IsBool(x) ? cJSON_IsTrue(x) : k == 3 ? !special : 0;
        if (!cJSON_AddBoolToObject(o, flags[k], v)) return RLC_ENOMEM;
    }
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* added_tokens_decoder {"id": {content, ...}} in id order, then added_tokens.json
 * {content: id}. */
static int listed_tokens(cJSON *added, const cJSON *tc, const cJSON *atj, const char *dir, int *next) {
    const cJSON *atd = cJSON_GetObjectItemCaseSensitive(tc, "added_tokens_decoder"), *e;
    int n = cJSON_IsObject(atd) ? cJSON_GetArraySize(atd) : 0, rc = 0;
    long *ids = rlc_calloc((size_t)n + 1, sizeof *ids);
    if (!ids) return RLC_ENOMEM;
    int k = 0;
    const cJSON *dec = n ? atd : NULL;
    cJSON_ArrayForEach(e, dec) {
        char *end;
        long id = strtol(e->string, &end, 10);
        if (*end || end == e->string || id < 0 || id > 0x7ffffff0 || !token_content(e)) {
            free(ids);
            return rlc_errc(RLC_EFMT, "%s: added_tokens_decoder entry '%s' needs an id and a content", dir, e->string);
        }
        ids[k++] = id;
    }
    qsort(ids, (size_t)k, sizeof *ids, cmp_id);
    for (int i = 0; !rc && i < k; i++) {
        char key[24];
        snprintf(key, sizeof key, "%ld", ids[i]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(atd, key);
        rc = add_token(added, (int)ids[i], token_content(v), v, 0);
        if (ids[i] >= *next) *next = (int)ids[i] + 1;
    }
    free(ids);
    if (rc) return rc;
    cJSON_ArrayForEach(e, atj) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 0x7ffffff0)
            return rlc_errc(RLC_EFMT, "%s: added_tokens.json: '%s' needs a non-negative id", dir, e->string);
        if (has_content(added, e->string)) continue;
        if ((rc = add_token(added, (int)e->valuedouble, e->string, NULL, 0))) return rc;
        if ((int)e->valuedouble >= *next) *next = (int)e->valuedouble + 1;
    }
    return rc;
}

/* The configs a slow tokenizer's special tokens come from. */
typedef struct {
    const cJSON *tc, *sm; /* tokenizer_config.json, special_tokens_map.json (either may be NULL) */
    unsigned dflt;        /* bit k: SPECIAL_KEYS[k] defaults to <|endoftext|> (the class's __init__) */
} specials_t;

/* The entry naming special token `key` (a string, an object, a list, or NULL). */
static const cJSON *named(const specials_t *sp, const char *key, int k) {
    static cJSON eot = {.type = cJSON_String, .valuestring = "<|endoftext|>"};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sp->tc, key);
    if (!v) v = cJSON_GetObjectItemCaseSensitive(sp->sm, key);
    return !v && (sp->dflt >> k & 1) ? &eot : v;
}

static const char *const SPECIAL_KEYS[] = {"unk_token", "bos_token", "eos_token", "pad_token",
                                           "additional_special_tokens", "extra_special_tokens"};

/* The named special tokens, each added unless already listed: special, with its vocab id or
 * the next free one. */
static int special_tokens(cJSON *added, const specials_t *sp, const cJSON *vocab, int *next) {
    for (int k = 0; k < 6; k++) {
        const cJSON *v = named(sp, SPECIAL_KEYS[k], k), *one = cJSON_IsArray(v) ? v->child : v;
        int rc = 0;
        for (; !rc && one; one = cJSON_IsArray(v) ? one->next : NULL) {
            const char *c = token_content(one);
            if (!c || !*c || has_content(added, c)) continue;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(vocab, c);
            rc = add_token(added, cJSON_IsNumber(id) ? (int)id->valuedouble : (*next)++, c,
                           cJSON_IsObject(one) ? one : NULL, 1);
        }
        if (rc) return rc;
    }
    return 0;
}

/* The id among added of special token k (1 bos, 2 eos, 3 pad), -1 when absent. */
static int named_id(const cJSON *added, const specials_t *sp, int k) {
    const char *c = token_content(named(sp, SPECIAL_KEYS[k], k));
    const cJSON *e;
    if (!c) return -1;
    cJSON_ArrayForEach(e, added) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring, c))
            return (int)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
    }
    return -1;
}

/* TemplateProcessing: [bos] $A [eos] as add_bos_token / add_eos_token ask (NULL: neither). */
static cJSON *post_processor(const cJSON *added, const specials_t *sp) {
    int bos = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sp->tc, "add_bos_token")) ? named_id(added, sp, 1) : -1;
    int eos = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sp->tc, "add_eos_token")) ? named_id(added, sp, 2) : -1;
    if (bos < 0 && eos < 0) return NULL;
    char txt[320];
    snprintf(txt, sizeof txt,
             "{\"type\": \"TemplateProcessing\", \"single\": [%s{\"Sequence\": {\"id\": \"A\"}}%s], "
             "\"special_tokens\": {\"bos\": {\"ids\": [%d]}, \"eos\": {\"ids\": [%d]}}}",
             bos >= 0 ? "{\"SpecialToken\": {\"id\": \"bos\"}}, " : "",
             eos >= 0 ? ", {\"SpecialToken\": {\"id\": \"eos\"}}" : "", bos, eos);
    return cJSON_Parse(txt);
}

/* Qwen2 or GPT-2 (1), or an error for another class. */
static int pick_class(const char *dir, const cJSON *tc, int *qwen) {
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(tc, "tokenizer_class");
    if (cJSON_IsString(cls)) {
        const char *c = cls->valuestring;
        *qwen = !strcmp(c, "Qwen2Tokenizer") || !strcmp(c, "Qwen2TokenizerFast");
        if (*qwen || !strcmp(c, "GPT2Tokenizer") || !strcmp(c, "GPT2TokenizerFast")) return 0;
        return rlc_errc(RLC_EUNSUP,
                        "%s: tokenizer_class '%s' with vocab.json and merges.txt is not supported (Qwen2Tokenizer, "
                        "GPT2Tokenizer): write tokenizer.json with transformers "
                        "(AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR))",
                        dir, c);
    }
    int rc;
    cJSON *cfg = tok_load_opt_json(dir, "config.json", &rc);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    *qwen = !rc && cJSON_IsString(mt) && (!strcmp(mt->valuestring, "qwen2") || !strcmp(mt->valuestring, "qwen3"));
    cJSON_Delete(cfg);
    return rc;
}

static cJSON *pre_tokenizer(int qwen, int prefix) {
    cJSON *bl = cJSON_CreateObject();
    if (!bl || !cJSON_AddStringToObject(bl, "type", "ByteLevel") ||
        !cJSON_AddBoolToObject(bl, "add_prefix_space", prefix) || !cJSON_AddBoolToObject(bl, "use_regex", !qwen))
        return cJSON_Delete(bl), NULL;
    if (!qwen) return bl;
    cJSON *seq = cJSON_Parse("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {}, "
                             "\"behavior\": \"Isolated\", \"invert\": false}]}");
    cJSON *list = cJSON_GetObjectItemCaseSensitive(seq, "pretokenizers");
    cJSON *pat = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "pattern");
    if (!pat || !cJSON_AddStringToObject(pat, "Regex", QWEN2_PATTERN) || !cJSON_AddItemToArray(list, bl))
        return cJSON_Delete(seq), cJSON_Delete(bl), NULL;
    return seq;
}

/* The model object {"type": "BPE", "vocab": ..., "merges": [...]} (vocab taken). */
static int bpe_model(cJSON *root, cJSON *vocab, const char *merges_path) {
    cJSON *model = cJSON_AddObjectToObject(root, "model"), *merges = cJSON_CreateArray();
    if (!model || !merges || !cJSON_AddStringToObject(model, "type", "BPE")) {
        cJSON_Delete(vocab), cJSON_Delete(merges);
        return RLC_ENOMEM;
    }
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    return read_merges(merges_path, merges);
}

static int build(cJSON *root, const char *dir, const char *vpath, const char *mpath, int32_t dflt[3]) {
    cJSON *vocab = rlc_json_load_file(vpath), *tc = NULL, *sm = NULL, *atj = NULL;
    if (!vocab) return rlc_err_ctx(RLC_EFMT, "tokenizer");
    if (!cJSON_IsObject(vocab)) return cJSON_Delete(vocab), rlc_errc(RLC_EFMT, "%s: not a JSON object", vpath);
    int next = 0, qwen = 0, rc;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (cJSON_IsNumber(e) && e->valuedouble >= next && e->valuedouble < 0x7ffffff0) next = (int)e->valuedouble + 1;
    }
    if ((rc = bpe_model(root, vocab, mpath))) return rc;
    vocab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "vocab");
    if (!(tc = tok_load_opt_json(dir, "tokenizer_config.json", &rc)) && rc) goto out;
    if (!(sm = tok_load_opt_json(dir, "special_tokens_map.json", &rc)) && rc) goto out;
    if (!(atj = tok_load_opt_json(dir, "added_tokens.json", &rc)) && rc) goto out;
    if ((rc = pick_class(dir, tc, &qwen))) goto out;
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    if (!added) rc = RLC_ENOMEM;
    if (!rc) rc = listed_tokens(added, tc, atj, dir, &next);
    /* GPT2Tokenizer: unk, bos, eos default to <|endoftext|>; Qwen2Tokenizer: unk, eos, pad */
    specials_t sp = {tc, sm, qwen ? 1u | 4u | 8u : 1u | 2u | 4u};
    if (!rc) rc = special_tokens(added, &sp, vocab, &next);
    if (rc) goto out;
    for (int k = 1; k <= 3; k++) /* the class's defaults, when neither config names the token */
        if (!cJSON_GetObjectItemCaseSensitive(tc, SPECIAL_KEYS[k]) &&
            !cJSON_GetObjectItemCaseSensitive(sm, SPECIAL_KEYS[k]))
            dflt[k - 1] = named_id(added, &sp, k);
    int prefix = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "add_prefix_space"));
    cJSON *pre = pre_tokenizer(qwen, prefix), *dec = cJSON_Parse("{\"type\": \"ByteLevel\"}");
    cJSON *norm = qwen ? cJSON_Parse("{\"type\": \"NFC\"}") : cJSON_CreateNull(), *post = post_processor(added, &sp);
    if (!post) post = cJSON_CreateNull();
    if (!pre || !dec || !norm || !post) rc = RLC_ENOMEM;
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    cJSON_AddItemToObject(root, "decoder", dec);
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON_AddItemToObject(root, "post_processor", post);
out:
    cJSON_Delete(tc), cJSON_Delete(sm), cJSON_Delete(atj);
    return rc;
}

int tok_slow_root(const char *dir, cJSON **root, int32_t dflt[3]) {
    *root = NULL;
    dflt[0] = dflt[1] = dflt[2] = -1;
    if (!fs_exists_in(dir, "vocab.json") || !fs_exists_in(dir, "merges.txt")) return 1;
    char *v = fs_join(dir, "vocab.json"), *m = fs_join(dir, "merges.txt");
    int rc = !v || !m || !(*root = cJSON_CreateObject()) ? RLC_ENOMEM : build(*root, dir, v, m, dflt);
    if (rc) cJSON_Delete(*root), *root = NULL;
    free(v), free(m);
    return rc;
}
