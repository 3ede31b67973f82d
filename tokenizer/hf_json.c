/* Loader for Hugging Face tokenizer.json files with a BPE model, byte-level (GPT-2 style) or
 * sentencepiece-style (BPE over characters with byte_fallback, Metaspace or the
 * Prepend/Replace normalizers: Llama 2, Mistral, TinyLlama): model vocab and merges, added
 * tokens, the normalizers, the pre-tokenizer pipeline, the decoder check and the
 * TemplateProcessing post-processor. Anything else is refused with a message naming it,
 * rather than tokenizing differently from HF. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "tokenizer/tok_internal.h"

static const char *jtype(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}

static int jbool(const cJSON *o, const char *k, int def) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(x) ? cJSON_IsTrue(x) : def;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int add_norm(tok_t *t, const cJSON *n) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *ty = jtype(n);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "normalizers"), *e;
        if (!cJSON_IsArray(arr)) return rlc_errc(RLC_EFMT, "tokenizer.json: normalizer Sequence without a list");
        cJSON_ArrayForEach(e, arr) {
            int rc = add_norm(t, e);
            if (rc) return rc;
        }
        return 0;
    }
    tok_norm_t st = {0};
    if (!strcmp(ty, "NFC")) st.kind = NORM_UNICODE, st.opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    else if (!strcmp(ty, "NFD")) st.kind = NORM_UNICODE, st.opts = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    else if (!strcmp(ty, "NFKC")) st.kind = NORM_UNICODE, st.opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(ty, "NFKD")) st.kind = NORM_UNICODE, st.opts = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(ty, "Lowercase")) st.kind = NORM_LOWERCASE;
    else if (!strcmp(ty, "Strip")) st.kind = NORM_STRIP, st.left = jbool(n, "strip_left", 1), st.right = jbool(n, "strip_right", 1);
    else if (!strcmp(ty, "Prepend")) {
        const char *p = jstr(n, "prepend");
        if (!p) return rlc_errc(RLC_EFMT, "tokenizer.json: Prepend normalizer without 'prepend'");
        st.kind = NORM_PREPEND, st.a = rlc_strdup(p), st.an = strlen(p);
    } else if (!strcmp(ty, "Replace")) {
        const char *pat = jstr(cJSON_GetObjectItemCaseSensitive(n, "pattern"), "String"), *c = jstr(n, "content");
        if (!pat || !c)
            return rlc_errc(RLC_EUNSUP, "tokenizer.json: Replace normalizer: only a String pattern with a content "
                                        "is supported");
        st.kind = NORM_REPLACE, st.a = rlc_strdup(pat), st.an = strlen(pat), st.b = rlc_strdup(c), st.bn = strlen(c);
        if (!st.b) free(st.a), st.a = NULL;
    } else {
        return rlc_errc(RLC_EUNSUP, "tokenizer.json: normalizer '%s' is not supported (NFC, NFD, NFKC, NFKD, "
                                    "Lowercase, Strip, Prepend, Replace)", ty);
    }
    if ((st.kind == NORM_PREPEND || st.kind == NORM_REPLACE) && !st.a) return RLC_ENOMEM;
    tok_norm_t *nn = rlc_realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *nn);
    if (!nn) {
        free(st.a), free(st.b);
        return RLC_ENOMEM;
    }
    t->norm = nn;
    t->norm[t->n_norm++] = st;
    return 0;
}

static int add_pretok(tok_t *t, const cJSON *p, int *saw_bytelevel) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *ty = jtype(p);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *e;
        if (!cJSON_IsArray(arr)) return rlc_errc(RLC_EFMT, "tokenizer.json: pre_tokenizer Sequence without a list");
        cJSON_ArrayForEach(e, arr) {
            int rc = add_pretok(t, e, saw_bytelevel);
            if (rc) return rc;
        }
        return 0;
    }
    tok_pretok_t st = {0};
    int rc;
    if (!strcmp(ty, "Split")) {
        st.type = PT_SPLIT;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (!cJSON_IsString(rx) && !cJSON_IsString(lit))
            return rlc_errc(RLC_EFMT, "tokenizer.json: Split pre-tokenizer without a Regex or String pattern");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        const char *b = cJSON_IsString(beh) ? beh->valuestring : "Isolated";
        if (!strcmp(b, "Removed")) st.behavior = SPLIT_REMOVED;
        else if (!strcmp(b, "Isolated")) st.behavior = SPLIT_ISOLATED;
        else if (!strcmp(b, "MergedWithPrevious")) st.behavior = SPLIT_MERGED_PREV;
        else if (!strcmp(b, "MergedWithNext")) st.behavior = SPLIT_MERGED_NEXT;
        else if (!strcmp(b, "Contiguous")) st.behavior = SPLIT_CONTIGUOUS;
        else return rlc_errc(RLC_EFMT, "tokenizer.json: unknown Split behavior '%s'", b);
        st.invert = jbool(p, "invert", 0);
        rc = tok_regex_compile(cJSON_IsString(rx) ? rx->valuestring : lit->valuestring, !cJSON_IsString(rx), &st.re,
                               &st.pattern);
        if (rc) return rc;
    } else if (!strcmp(ty, "ByteLevel")) {
        *saw_bytelevel = 1;
        st.type = PT_BYTELEVEL;
        st.add_prefix_space = jbool(p, "add_prefix_space", 1);
        if (jbool(p, "use_regex", 1)) {
            rc = tok_regex_compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", 0,
                                   &st.re, &st.pattern);
            if (rc) return rc;
        }
        if (!st.re && !st.add_prefix_space) return 0; /* only maps bytes to chars: nothing to do on raw bytes */
    } else if (!strcmp(ty, "Digits")) {
        st.type = PT_DIGITS;
        st.individual_digits = jbool(p, "individual_digits", 0);
    } else if (!strcmp(ty, "Metaspace")) {
        st.type = PT_METASPACE;
        const char *rep = jstr(p, "replacement"), *sch = jstr(p, "prepend_scheme");
        if (!rep) rep = "\xE2\x96\x81";
        int32_t cp;
        size_t rl = strlen(rep);
        if (!rl || rl > 4 || tok_utf8_next(rep, rl, &cp) != (int)rl)
            return rlc_errc(RLC_EFMT, "tokenizer.json: Metaspace replacement must be one character");
        memcpy(st.rep, rep, rl), st.rep_len = (int)rl;
        /* older files: add_prefix_space (true = always) instead of prepend_scheme */
        st.prepend = sch ? (!strcmp(sch, "first") ? PREPEND_FIRST : !strcmp(sch, "never") ? PREPEND_NEVER : PREPEND_ALWAYS)
                         : jbool(p, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
        if (sch && strcmp(sch, "first") && strcmp(sch, "never") && strcmp(sch, "always"))
            return rlc_errc(RLC_EFMT, "tokenizer.json: Metaspace prepend_scheme '%s' (always, first, never)", sch);
        st.split = jbool(p, "split", 1);
    } else {
        return rlc_errc(RLC_EUNSUP, "tokenizer.json: pre-tokenizer '%s' is not supported (Split, ByteLevel, Digits, "
                                    "Metaspace)", ty);
    }
    tok_pretok_t *np = rlc_realloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *np);
    if (!np) {
        tok_regex_free(st.re);
        free(st.pattern);
        return RLC_ENOMEM;
    }
    t->pre = np;
    t->pre[t->n_pre++] = st;
    return 0;
}

/* The decoder: ByteLevel for a byte-level BPE; for the sentencepiece kind Replace(▁ → " "),
 * ByteFallback, Fuse and Strip(" ", 1, 0) (the first token's leading space dropped), in any
 * order HF files use. */
static int check_decoder(tok_t *t, const cJSON *d) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *ty = jtype(d);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(d, "decoders"), *e;
        cJSON_ArrayForEach(e, arr) {
            int rc = check_decoder(t, e);
            if (rc) return rc;
        }
        return 0;
    }
    if (!t->spm_style && !strcmp(ty, "ByteLevel")) return 0;
    if (t->spm_style) {
        if (!strcmp(ty, "ByteFallback") || !strcmp(ty, "Fuse")) return 0;
        if (!strcmp(ty, "Replace")) {
            const char *pat = jstr(cJSON_GetObjectItemCaseSensitive(d, "pattern"), "String"), *c = jstr(d, "content");
            if (pat && c && !strcmp(pat, "\xE2\x96\x81") && !strcmp(c, " ")) return 0;
        } else if (!strcmp(ty, "Strip")) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "start"), *z = cJSON_GetObjectItemCaseSensitive(d, "stop");
            const char *c = jstr(d, "content");
            if (c && !strcmp(c, " ") && cJSON_IsNumber(a) && cJSON_IsNumber(z) && a->valueint <= 1 && z->valueint == 0) {
                t->spm_dummy_prefix = a->valueint == 1;
                return 0;
            }
        } else if (!strcmp(ty, "Metaspace")) { /* older files: the Metaspace decoder */
            t->spm_dummy_prefix = 1;
            return 0;
        }
    }
    return rlc_errc(RLC_EUNSUP, "tokenizer.json: decoder '%s' (with these settings) is not supported with a %s BPE", ty,
                    t->spm_style ? "sentencepiece-style" : "byte-level");
}

static int post_template(tok_t *t, const cJSON *p) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *ty = jtype(p);
    if (!strcmp(ty, "ByteLevel")) return 0; /* offsets only */
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "processors"), *e;
        cJSON_ArrayForEach(e, arr) {
            int rc = post_template(t, e);
            if (rc) return rc;
        }
        return 0;
    }
    if (strcmp(ty, "TemplateProcessing"))
        return rlc_errc(RLC_EUNSUP, "tokenizer.json: post-processor '%s' is not supported", ty);
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(p, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
    if (!cJSON_IsArray(single)) return rlc_errc(RLC_EFMT, "tokenizer.json: TemplateProcessing without 'single'");
    int after = 0;
    const cJSON *it;
    t->has_post_template = 1;
    cJSON_ArrayForEach(it, single) {
        if (cJSON_GetObjectItemCaseSensitive(it, "Sequence")) {
            after = 1;
            continue;
        }
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        if (!cJSON_IsString(name)) return rlc_errc(RLC_EFMT, "tokenizer.json: TemplateProcessing item is malformed");
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids"), *x;
        if (!cJSON_IsArray(ids))
            return rlc_errc(RLC_EFMT, "tokenizer.json: TemplateProcessing special token '%s' has no ids", name->valuestring);
        cJSON_ArrayForEach(x, ids) {
            if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 0x7ffffff0)
                return rlc_errc(RLC_EFMT, "tokenizer.json: TemplateProcessing id is invalid");
            int32_t **arr = after ? &t->post_suffix : &t->post_prefix;
            int *n = after ? &t->n_post_suffix : &t->n_post_prefix;
            int32_t *na = rlc_realloc(*arr, (size_t)(*n + 1) * sizeof *na);
            if (!na) return RLC_ENOMEM;
            *arr = na;
            na[(*n)++] = (int32_t)x->valuedouble;
        }
    }
    return 0;
}

static int load_added(tok_t *t, const cJSON *arr) {
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr)) return rlc_errc(RLC_EFMT, "tokenizer.json: added_tokens is not an array");
    int n = cJSON_GetArraySize(arr);
    t->added = rlc_calloc((size_t)n + 1, sizeof *t->added);
    if (!t->added) return RLC_ENOMEM;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 0x7ffffff0 || !cJSON_IsString(c) ||
            !c->valuestring[0])
            return rlc_errc(RLC_EFMT, "tokenizer.json: added_tokens[%d] needs an id and a non-empty content", i);
        tok_added_t *a = &t->added[t->n_added++];
        a->id = (int32_t)id->valuedouble;
        a->special = (uint8_t)jbool(e, "special", 0);
        a->lstrip = (uint8_t)jbool(e, "lstrip", 0);
        a->rstrip = (uint8_t)jbool(e, "rstrip", 0);
        a->single_word = (uint8_t)jbool(e, "single_word", 0);
        a->normalized = (uint8_t)jbool(e, "normalized", !a->special);
        size_t cl = strlen(c->valuestring);
        if (tok_utf8_invalid_at(c->valuestring, cl) != (size_t)-1)
            return rlc_errc(RLC_EFMT, "tokenizer.json: added_tokens[%d] is not valid UTF-8", i);
        /* HF matches normalized tokens by their normalized content */
        if (a->normalized && t->n_norm) {
            int rc = tok_normalize(t, c->valuestring, cl, &a->content, &a->len);
            if (rc) return rc;
        } else {
            a->content = rlc_strdup(c->valuestring);
            if (!a->content) return RLC_ENOMEM;
            a->len = cl;
        }
        if (a->normalized) t->has_normalized_added = 1;
        else t->has_raw_added = 1;
        t->added_first[(unsigned char)a->content[0]] |= (uint8_t)(a->normalized ? 2 : 1);
        i++;
    }
    return 0;
}

/* What a sentencepiece-style token decodes to: <0xXX> its byte (ByteFallback), else its text
 * with U+2581 as a space (the Replace decoder). out holds at least n bytes. */
static void spm_piece_bytes(const char *s, size_t n, char *out, size_t *outn) {
    static const char hex[] = "0123456789ABCDEF";
    if (n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && strchr(hex, s[3]) && strchr(hex, s[4]) && s[3] && s[4]) {
        out[0] = (char)((strchr(hex, s[3]) - hex) * 16 + (strchr(hex, s[4]) - hex));
        *outn = 1;
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, "\xE2\x96\x81", 3)) out[o++] = ' ', i += 3;
        else out[o++] = s[i++];
    }
    *outn = o;
}

int tok_load_hf_json(tok_t *t, const char *path) {
    cJSON *root = rlc_json_load_file(path);
    if (!root) return rlc_err_ctx(RLC_EFMT, "tokenizer");
    return tok_load_hf_root(t, root, path);
}

int tok_load_hf_root(tok_t *t, cJSON *root, const char *path) {
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = rlc_errc(RLC_EFMT, "%s: not a JSON object", path);
        goto out;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        rc = rlc_errc(RLC_EFMT, "%s: no \"model\" object (not a tokenizer.json?)", path);
        goto out;
    }
    const char *mt = jtype(model);
    if (!(!strcmp(mt, "BPE") || (!mt[0] && cJSON_GetObjectItemCaseSensitive(model, "merges")))) {
        rc = rlc_errc(RLC_EUNSUP, "%s: model type '%s' is not supported (BPE only; a Unigram sentencepiece model "
                                  "loads from its tokenizer.model)", path, mt[0] ? mt : "?");
        goto out;
    }
    if ((rc = add_norm(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer")))) goto out;
    t->norm_is_nfc = t->n_norm == 1 && t->norm[0].kind == NORM_UNICODE &&
                     t->norm[0].opts == (UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int saw_bl = 0;
    if ((rc = add_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &saw_bl))) goto out;
    t->spm_style = !saw_bl; /* BPE over characters: Metaspace / Prepend+Replace, byte_fallback */
    if ((rc = check_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder")))) goto out;
    if ((rc = post_template(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor")))) goto out;
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if ((rc = rlc_strmap_init(&t->vocab, cJSON_IsObject(jv) ? (size_t)cJSON_GetArraySize(jv) + 64 : 64))) goto out;
    int max_id = -1;
    if ((rc = tok_bpe_build(&t->bpe, model, &t->vocab, &max_id, t->spm_style))) goto out;
    if ((rc = load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")))) goto out;

    /* id -> bytes: model tokens through the byte-level decoder, added tokens too (HF runs them
     * through the same decoder, falling back to their UTF-8 when a char is not a byte char) */
    const cJSON *e;
    char *tmp = NULL;
    size_t tmpcap = 0;
    cJSON_ArrayForEach(e, jv) {
        size_t n = strlen(e->string), bn;
        if (n > tmpcap) {
            tmpcap = n * 2 + 16;
            char *nt = rlc_realloc(tmp, tmpcap);
            if (!nt) {
                rc = RLC_ENOMEM;
                break;
            }
            tmp = nt;
        }
        int32_t id = (int32_t)e->valuedouble;
        if (t->spm_style) spm_piece_bytes(e->string, n, tmp, &bn), rc = tok_set_token(t, id, tmp, bn, TOKF_PRESENT);
        else if (tok_bytelevel_decode(e->string, n, tmp, &bn)) rc = tok_set_token(t, id, e->string, n, TOKF_PRESENT);
        else rc = tok_set_token(t, id, tmp, bn, TOKF_PRESENT);
        if (rc) break;
    }
    for (int i = 0; !rc && i < t->n_added; i++) {
        tok_added_t *a = &t->added[i];
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
        const char *content = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "content")->valuestring;
        size_t n = strlen(content), bn;
        if (n > tmpcap) {
            tmpcap = n * 2 + 16;
            char *nt = rlc_realloc(tmp, tmpcap);
            if (!nt) {
                rc = RLC_ENOMEM;
                break;
            }
            tmp = nt;
        }
        int fl = TOKF_PRESENT | TOKF_ADDED | (a->special ? TOKF_SPECIAL : 0);
        if (t->spm_style) spm_piece_bytes(content, n, tmp, &bn), rc = tok_set_token(t, a->id, tmp, bn, fl);
        else if (tok_bytelevel_decode(content, n, tmp, &bn)) rc = tok_set_token(t, a->id, content, n, fl);
        else rc = tok_set_token(t, a->id, tmp, bn, fl);
        if (!rc) rc = rlc_strmap_put(&t->vocab, content, n, a->id);
    }
    free(tmp);
    if (rc) goto out;
    for (int i = 0; i < t->n_post_prefix; i++)
        if (t->post_prefix[i] >= t->vocab_size) rc = rlc_errc(RLC_EFMT, "%s: post-processor id %d is not a token", path, t->post_prefix[i]);
    for (int i = 0; i < t->n_post_suffix; i++)
        if (t->post_suffix[i] >= t->vocab_size) rc = rlc_errc(RLC_EFMT, "%s: post-processor id %d is not a token", path, t->post_suffix[i]);
    (void)max_id;
out:
    cJSON_Delete(root);
    return rc;
}
