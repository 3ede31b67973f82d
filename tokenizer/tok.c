/* The tokenizer front: tok_load (path resolution, tokenizer_config / generation_config /
 * special_tokens_map), the sentencepiece loader, the encode pipeline (added-token split,
 * normalize, pre-tokenize, BPE or sentencepiece, post-processor), decode, chat encoding
 * (chat.c renders, this file encodes), and the special-token accessors. The top of the
 * tokenizer's file tree (tok_internal.h); nothing below calls back up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "tokenizer/tok_internal.h"

/* ---------------- sentencepiece ---------------- */

static const char SPM_SPACE[] = "\xE2\x96\x81"; /* U+2581 */

/* Whether the file starts like a tiktoken BPE file ("<base64 token> <rank>" lines, as Meta's
 * original Llama 3 tokenizer.model), not a sentencepiece protobuf. */
static int is_tiktoken(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char line[160];
    int yes = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t i = 0;
    while (yes && line[i] && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", line[i])) i++;
    if (!yes || !i || line[i] != ' ' || !line[i + 1]) return 0;
    for (i++; line[i] && line[i] != '\n' && line[i] != '\r'; i++)
        if (line[i] < '0' || line[i] > '9') return 0;
    return 1;
}

int tok_load_spm(tok_t *t, const char *path) {
    if (is_tiktoken(path))
        return rlc_errc(RLC_EUNSUP, "%s is a tiktoken BPE file (Meta's original Llama 3 download), not a sentencepiece "
                                    "model: use the Hugging Face release's tokenizer.json",
                        path);
    int rc = spm_load(&t->spm, path);
    if (rc) return rc;
    int n = spm_piece_size(t->spm);
    if ((rc = rlc_strmap_init(&t->vocab, (size_t)n + 16))) return rc;
    char *buf = NULL;
    size_t cap = 0;
    for (int id = 0; id < n && !rc; id++) {
        size_t pl;
        const char *p = spm_piece(t->spm, id, &pl);
        int ty = spm_piece_type(t->spm, id);
        if ((rc = rlc_strmap_put(&t->vocab, p, pl, id))) break;
        if (pl + 8 > cap) {
            cap = pl * 2 + 16;
            char *nb = rlc_realloc(buf, cap);
            if (!nb) {
                rc = RLC_ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t o = 0;
        int fl = TOKF_PRESENT;
        if ((ty == SPM_CONTROL || ty == SPM_UNKNOWN) && pl) {
            int32_t *ns = rlc_realloc(t->spm_specials, (size_t)(t->n_spm_specials + 1) * sizeof *ns);
            if (!ns) {
                rc = RLC_ENOMEM;
                break;
            }
            t->spm_specials = ns;
            ns[t->n_spm_specials++] = id;
        }
        if (ty == SPM_BYTE && pl == 6 && !memcmp(p, "<0x", 3) && p[5] == '>') {
            buf[o++] = (char)strtol(p + 3, NULL, 16);
        } else if (ty == SPM_UNKNOWN) {
            memcpy(buf, " \xE2\x81\x87 ", 5); /* sentencepiece's default unk surface " ⁇ " */
            o = 5;
        } else {
            if (ty == SPM_CONTROL) fl |= TOKF_SPECIAL;
            for (size_t i = 0; i < pl;) {
                if (i + 3 <= pl && !memcmp(p + i, SPM_SPACE, 3)) buf[o++] = ' ', i += 3;
                else buf[o++] = p[i++];
            }
        }
        rc = tok_set_token(t, id, buf, o, fl);
    }
    free(buf);
    if (rc) return rc;
    /* does the model prepend a dummy "▁"? (decode then drops the first space) */
    int32_t *ids;
    int nids;
    if ((rc = spm_encode(t->spm, "a", 1, &ids, &nids))) return rc;
    if (nids > 0 && ids[0] >= 0 && ids[0] < t->vocab_size && t->blen[ids[0]] && t->blob[t->boff[ids[0]]] == ' ')
        t->spm_dummy_prefix = 1;
    free(ids);
    t->bos = spm_bos_id(t->spm);
    t->eos = spm_eos_id(t->spm);
    t->pad = spm_pad_id(t->spm);
    return 0;
}

/* ---------------- config files ---------------- */

static int32_t cfg_token(const tok_t *t, const cJSON *cfg, const char *key, int *present) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *present = 0;
    if (!x) return -1;
    if (cJSON_IsObject(x)) x = cJSON_GetObjectItemCaseSensitive(x, "content");
    if (cJSON_IsNull(x)) {
        *present = 1;
        return -1;
    }
    if (!cJSON_IsString(x)) return -1;
    *present = 1;
    int32_t id = tok_token_to_id(t, x->valuestring);
    if (id < 0) LOG_WARN("tokenizer: %s \"%s\" from the config is not a token; ignored", key, x->valuestring);
    return id;
}

static int add_eos(tok_t *t, int32_t id) {
    if (id < 0) return 0;
    if (id >= t->vocab_size) {
        LOG_WARN("tokenizer: eos id %d from generation_config.json is beyond the vocab (%d); ignored", id, t->vocab_size);
        return 0;
    }
    for (int i = 0; i < t->n_eos; i++)
        if (t->eos_ids[i] == id) return 0;
    int32_t *n = rlc_realloc(t->eos_ids, (size_t)(t->n_eos + 1) * sizeof *n);
    if (!n) return RLC_ENOMEM;
    t->eos_ids = n;
    n[t->n_eos++] = id;
    return 0;
}

/* dflt: bos, eos and pad ids for when neither config names them (slow-tokenizer files), or NULL. */
static int read_configs(tok_t *t, const char *dir, const int32_t *dflt) {
    int rc;
    cJSON *tc = tok_load_opt_json(dir, "tokenizer_config.json", &rc);
    if (rc) return rc;
    cJSON *sm = tok_load_opt_json(dir, "special_tokens_map.json", &rc);
    if (rc) {
        cJSON_Delete(tc);
        return rc;
    }
    cJSON *gc = tok_load_opt_json(dir, "generation_config.json", &rc);
    if (rc) {
        cJSON_Delete(tc);
        cJSON_Delete(sm);
        return rc;
    }
    const char *keys[3] = {"bos_token", "eos_token", "pad_token"};
    int32_t *dst[3] = {&t->bos, &t->eos, &t->pad};
    int named[3] = {0, 0, 0}; /* the tokenizer's own config names it (even as null) */
    for (int k = 0; k < 3; k++) {
        int present;
        int32_t id = cfg_token(t, tc, keys[k], &present);
        if (!present) id = cfg_token(t, sm, keys[k], &present);
        if (present) *dst[k] = id, named[k] = 1;
        else if (dflt && dflt[k] >= 0) *dst[k] = dflt[k], named[k] = 1;
    }
    const cJSON *x;
    if (cJSON_IsBool(x = cJSON_GetObjectItemCaseSensitive(tc, "add_bos_token"))) t->cfg_add_bos = cJSON_IsTrue(x);
    if (cJSON_IsBool(x = cJSON_GetObjectItemCaseSensitive(tc, "add_eos_token"))) t->cfg_add_eos = cJSON_IsTrue(x);
    if (cJSON_IsBool(x = cJSON_GetObjectItemCaseSensitive(tc, "legacy"))) t->cfg_legacy = cJSON_IsTrue(x);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(tc, "chat_template");
    if (cJSON_IsArray(ct)) { /* [{"name": "default", "template": ...}, ...] */
        const cJSON *e, *pick = NULL;
        cJSON_ArrayForEach(e, ct) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default")) pick = e;
        }
        ct = pick ? cJSON_GetObjectItemCaseSensitive(pick, "template") : NULL;
    }
    char *jpath = fs_join(dir, "chat_template.jinja"), *jsrc = NULL;
    size_t jlen = 0;
    if (jpath && fs_exists(jpath)) { /* transformers 4.43+: the template in a file of its own wins */
        rc = fs_read_all(jpath, &jsrc, &jlen);
        if (!rc) rc = tok_set_chat_template(t, jsrc);
    } else if (cJSON_IsString(ct)) {
        rc = tok_set_chat_template(t, ct->valuestring);
    }
    free(jpath), free(jsrc);
    if (!rc && gc) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(gc, "eos_token_id"), *it;
        if (cJSON_IsNumber(e)) rc = add_eos(t, (int32_t)e->valuedouble);
        else if (cJSON_IsArray(e)) cJSON_ArrayForEach(it, e) if (!rc && cJSON_IsNumber(it)) rc = add_eos(t, (int32_t)it->valuedouble);
        /* generation_config's bos/pad only fill in for tokenizers whose config says nothing
         * (Qwen's says bos_token: null, as HF's bos_token_id is None there) */
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(gc, "bos_token_id");
        if (!named[0] && t->bos < 0 && cJSON_IsNumber(b) && b->valuedouble >= 0 && b->valuedouble < t->vocab_size) t->bos = (int32_t)b->valuedouble;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(gc, "pad_token_id");
        if (!named[2] && t->pad < 0 && cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble < t->vocab_size) t->pad = (int32_t)p->valuedouble;
    }
    if (!rc) rc = add_eos(t, t->eos);
    cJSON_Delete(tc);
    cJSON_Delete(sm);
    cJSON_Delete(gc);
    return rc;
}

/* ---------------- load ---------------- */

int tok_present(const char *dir) {
    return fs_exists_in(dir, "tokenizer.json") || fs_exists_in(dir, "tokenizer.model") ||
           (fs_exists_in(dir, "vocab.json") && fs_exists_in(dir, "merges.txt"));
}

int tok_missing(const char *dir) {
    return rlc_errc(RLC_EIO, "%s has no tokenizer (tokenizer.json, tokenizer.model, or vocab.json + merges.txt)", dir);
}

int tok_load(tok_t **out, const char *path) {
    *out = NULL;
    if (!path || !*path) return rlc_errc(RLC_EINVAL, "tokenizer: no path given");
    tok_t *t = rlc_calloc(1, sizeof *t);
    if (!t) return RLC_ENOMEM;
    t->bos = t->eos = t->pad = -1;
    t->cfg_add_bos = t->cfg_add_eos = t->cfg_legacy = -1;
    char *dir = NULL, *file = NULL;
    int rc = 0, kind = 0;
    int32_t slow_dflt[3] = {-1, -1, -1};
    if (fs_is_dir(path)) {
        dir = rlc_strdup(path);
        char *js = fs_join(path, "tokenizer.json"), *sp = fs_join(path, "tokenizer.model");
        if (!dir || !js || !sp) rc = RLC_ENOMEM;
        else if (fs_exists(js)) file = js, js = NULL, kind = TOK_KIND_BPE;
        else if (fs_exists(sp)) file = sp, sp = NULL, kind = TOK_KIND_SPM;
        else {
            cJSON *root;
            rc = tok_slow_root(path, &root, slow_dflt);
            if (rc == 1) rc = tok_missing(path);
            else if (!rc) t->kind = TOK_KIND_BPE, kind = -1, rc = tok_load_hf_root(t, root, path);
        }
        if (!rc && kind == TOK_KIND_BPE && sp && fs_exists(sp)) {
            /* both present: prefer tokenizer.json unless it is a sentencepiece-style one */
            t->kind = TOK_KIND_BPE;
            rc = tok_load_hf_json(t, file);
            if (rc == RLC_EUNSUP) {
                LOG_INFO("tokenizer: %s (%s); using %s", file, rlc_errmsg(), sp);
                tok_free(t);
                t = rlc_calloc(1, sizeof *t);
                if (!t) rc = RLC_ENOMEM;
                else {
                    t->bos = t->eos = t->pad = -1;
                    t->cfg_add_bos = t->cfg_add_eos = t->cfg_legacy = -1;
                    free(file);
                    file = sp, sp = NULL, kind = TOK_KIND_SPM;
                    rc = 0;
                }
            } else {
                kind = -1; /* loaded */
            }
        }
        free(js);
        free(sp);
    } else if (fs_exists(path)) {
        file = rlc_strdup(path);
        dir = fs_dirname(path);
        if (!file || !dir) rc = RLC_ENOMEM;
        else if (rlc_ends_with(path, ".json")) kind = TOK_KIND_BPE;
        else if (rlc_ends_with(path, ".model")) kind = TOK_KIND_SPM;
        else {
            char *buf;
            size_t n;
            rc = fs_read_all(path, &buf, &n);
            if (!rc) {
                size_t i = 0;
                while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
                kind = i < n && buf[i] == '{' ? TOK_KIND_BPE : TOK_KIND_SPM;
                free(buf);
            }
        }
    } else {
        rc = rlc_errc(RLC_EIO, "no such file or directory");
    }
    if (!rc && kind > 0) {
        t->kind = kind;
        rc = kind == TOK_KIND_BPE ? tok_load_hf_json(t, file) : tok_load_spm(t, file);
    }
    if (!rc) rc = read_configs(t, dir, slow_dflt); /* all -1 but for slow-tokenizer files */
    if (rc) {
        tok_free(t);
        if (!strstr(rlc_errmsg(), path)) rlc_err_ctx(rc, "tokenizer %s", path);
    } else {
        *out = t;
    }
    free(dir);
    free(file);
    return rc;
}

void tok_free(tok_t *t) {
    if (!t) return;
    tok_bpe_free(t->bpe);
    if (t->spm) spm_free(t->spm);
    for (int i = 0; i < t->n_pre; i++) {
        if (t->pre[i].re) tok_regex_free(t->pre[i].re);
        free(t->pre[i].pattern);
    }
    free(t->pre);
    for (int i = 0; i < t->n_norm; i++) free(t->norm[i].a), free(t->norm[i].b);
    free(t->norm);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->post_prefix);
    free(t->post_suffix);
    rlc_strmap_free(&t->vocab);
    free(t->blob);
    free(t->boff);
    free(t->blen);
    free(t->flags);
    free(t->eos_ids);
    free(t->spm_specials);
    tok_chat_clear(&t->chat);
    cJSON_Delete(t->chat_vars);
    free(t);
}

/* ---------------- accessors ---------------- */

const char *tok_kind(const tok_t *t) { return t->kind == TOK_KIND_SPM ? "sentencepiece" : "bpe"; }
int32_t tok_bos_id(const tok_t *t) { return t->bos; }
int32_t tok_eos_id(const tok_t *t) { return t->eos; }
int32_t tok_pad_id(const tok_t *t) { return t->pad; }
int tok_eos_ids(const tok_t *t, const int32_t **ids) {
    *ids = t->eos_ids;
    return t->n_eos;
}
int32_t tok_token_to_id(const tok_t *t, const char *token) {
    if (!token) return -1;
    return rlc_strmap_get(&t->vocab, token, strlen(token));
}
/* ---------------- encode ---------------- */

typedef struct {
    const tok_t *t;
    tok_ivec_t *out;
    int at0; /* the text being handed down starts at offset 0 of the input */
} enc_t;

static int piece_cb(void *ctx, const char *s, size_t n) {
    enc_t *e = ctx;
    return tok_bpe_word(e->t->bpe, s, n, e->out);
}

static int encode_plain(enc_t *e, const char *s, size_t n) {
    return tok_pretok_run(e->t->pre, e->t->n_pre, s, n, e->at0, piece_cb, e);
}

static int ends_with_word(const char *s, size_t n) {
    if (!n) return 0;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    int32_t cp;
    tok_utf8_next(s + i, n - i, &cp);
    return tok_cp_is_word(cp);
}

static int starts_with_word(const char *s, size_t n) {
    if (!n) return 0;
    int32_t cp;
    tok_utf8_next(s, n, &cp);
    return tok_cp_is_word(cp);
}

/* A gap between added tokens, at offset 0 of its text or not. */
static int gap_at(enc_t *e, int (*gap)(enc_t *, const char *, size_t), const char *s, size_t n, int first) {
    int keep = e->at0;
    e->at0 = keep && first;
    int rc = gap(e, s, n);
    e->at0 = keep;
    return rc;
}

/* Split s on added tokens of one kind (normalized or not), the way HF's AddedVocabulary does
 * (leftmost-longest, then single_word / lstrip / rstrip); gaps go to `gap`. */
static int split_added(enc_t *e, const char *s, size_t n, int normalized, int (*gap)(enc_t *, const char *, size_t)) {
    const tok_t *t = e->t;
    uint8_t bit = normalized ? 2 : 1;
    size_t start_off = 0, i = 0;
    int rc;
    while (i < n) {
        if (!(t->added_first[(unsigned char)s[i]] & bit)) {
            i++;
            continue;
        }
        int best = -1;
        for (int k = 0; k < t->n_added; k++) {
            const tok_added_t *a = &t->added[k];
            if (a->normalized != normalized || a->len > n - i || (best >= 0 && a->len <= t->added[best].len)) continue;
            if (!memcmp(s + i, a->content, a->len)) best = k;
        }
        if (best < 0) {
            i++;
            continue;
        }
        const tok_added_t *a = &t->added[best];
        size_t ms = i, me = i + a->len;
        i = me;
        if (a->single_word && ((ms > 0 && ends_with_word(s, ms)) || (me < n && starts_with_word(s + me, n - me))))
            continue;
        if (a->lstrip) { /* the white space before the match joins it */
            size_t from = start_off;
            tok_utf8_trim(s, &from, &ms, 0, 1, NULL, NULL);
        }
        if (a->rstrip) { /* and the white space after it */
            size_t to = n;
            tok_utf8_trim(s, &me, &to, 1, 0, NULL, NULL);
            i = me;
        }
        if (ms > start_off && (rc = gap_at(e, gap, s + start_off, ms - start_off, start_off == 0))) return rc;
        if ((rc = tok_ivec_push(e->out, a->id))) return rc;
        start_off = me;
    }
    if (start_off < n) return gap_at(e, gap, s + start_off, n - start_off, start_off == 0);
    return 0;
}

/* Every code point below U+0300 is unchanged by NFC (Unicode NFC_Quick_Check=Yes), and its
 * UTF-8 uses no byte >= 0xCC: such text skips the normalizer. */
static int nfc_quick_yes(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0xCC) return 0;
    return 1;
}

static int stage_normalized(enc_t *e, const char *s, size_t n) {
    const tok_t *t = e->t;
    char *ns = NULL;
    size_t nn = n;
    int rc;
    if (t->n_norm && !(t->norm_is_nfc && nfc_quick_yes(s, n))) {
        if ((rc = tok_normalize(t, s, n, &ns, &nn))) return rc;
        s = ns;
    }
    rc = t->has_normalized_added ? split_added(e, s, nn, 1, encode_plain) : encode_plain(e, s, nn);
    free(ns);
    return rc;
}

/* sentencepiece: split out control/unknown piece text first, as transformers does; the rest
 * is libsentencepiece's. A chunk right after such a token gets the dummy prefix "▁" again
 * unless tokenizer_config.json says legacy: false (transformers' two behaviours). */
static int spm_chunk(enc_t *e, const char *s, size_t n, int after_special) {
    int32_t *ids;
    int k;
    int rc = spm_encode_ex(e->t->spm, s, n, after_special && e->t->cfg_legacy == 0, &ids, &k);
    if (rc) return rc;
    rc = tok_ivec_append(e->out, ids, k);
    free(ids);
    return rc;
}

static int spm_encode_split(enc_t *e, const char *s, size_t n) {
    const tok_t *t = e->t;
    size_t start = 0, i = 0;
    int rc;
    while (i < n) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        int best = -1;
        size_t bl = 0;
        for (int j = 0; j < t->n_spm_specials; j++) {
            int32_t id = t->spm_specials[j];
            size_t pl;
            const char *p = spm_piece(t->spm, id, &pl);
            if (pl && pl > bl && pl <= n - i && !memcmp(s + i, p, pl)) best = id, bl = pl;
        }
        if (best < 0) {
            i++;
            continue;
        }
        if (i > start && (rc = spm_chunk(e, s + start, i - start, start > 0))) return rc;
        if ((rc = tok_ivec_push(e->out, best))) return rc;
        i += bl;
        start = i;
    }
    return start < n ? spm_chunk(e, s + start, n - start, start > 0) : 0;
}

int tok_encode(const tok_t *t, const char *text, size_t len, int add_special, int32_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    if (!text && len) return rlc_errc(RLC_EINVAL, "tok_encode: NULL text");
    if (len > (size_t)1 << 31) return rlc_errc(RLC_ERANGE, "tok_encode: text of %zu bytes is too long", len);
    size_t bad = len ? tok_utf8_invalid_at(text, len) : (size_t)-1;
    if (bad != (size_t)-1) return rlc_errc(RLC_EINVAL, "tok_encode: input is not valid UTF-8 (byte %zu)", bad);
    tok_ivec_t out = {0};
    enc_t e = {t, &out, 1};
    int rc = 0;
    int bos = 0, eos = 0;
    if (add_special) {
        if (t->kind == TOK_KIND_BPE && t->has_post_template) {
            rc = tok_ivec_append(&out, t->post_prefix, t->n_post_prefix);
        } else {
            bos = t->cfg_add_bos > 0 || (t->kind == TOK_KIND_SPM && t->cfg_add_bos < 0);
            eos = t->cfg_add_eos > 0;
            if (bos && t->bos >= 0) rc = tok_ivec_push(&out, t->bos);
        }
    }
    if (!rc && len) {
        if (t->kind == TOK_KIND_SPM) rc = spm_encode_split(&e, text, len);
        else if (t->has_raw_added) rc = split_added(&e, text, len, 0, stage_normalized);
        else rc = stage_normalized(&e, text, len);
    }
    if (!rc && add_special) {
        if (t->kind == TOK_KIND_BPE && t->has_post_template) rc = tok_ivec_append(&out, t->post_suffix, t->n_post_suffix);
        else if (eos && t->eos >= 0) rc = tok_ivec_push(&out, t->eos);
    }
    if (rc) {
        free(out.v);
        return rc;
    }
    for (int i = 0; t->model_vocab > 0 && i < out.n; i++)
        if (out.v[i] >= t->model_vocab) {
            int32_t id = out.v[i];
            free(out.v);
            char shown[41];
            size_t k = 0;
            for (; k < t->blen[id] && k + 1 < sizeof shown; k++) {
                unsigned char c = (unsigned char)t->blob[t->boff[id] + k];
                shown[k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
            }
            shown[k] = 0;
            return rlc_errc(RLC_ERANGE, "the text holds token '%s' (id %d), outside the model's vocabulary of %d ids",
                            shown, id, t->model_vocab);
        }
    if (!out.v && !(out.v = rlc_malloc(sizeof(int32_t)))) return RLC_ENOMEM;
    *ids = out.v;
    *n = out.n;
    return 0;
}

void tok_set_model_vocab(tok_t *t, int n) {
    t->model_vocab = n > 0 ? n : 0;
    if (n > 0 && t->vocab_size > n)
        LOG_WARN("the tokenizer knows %d tokens but the model's embedding has %d rows: a text holding ids %d..%d is "
                 "refused",
                 t->vocab_size, n, n, t->vocab_size - 1);
}

/* ---------------- decode ---------------- */

int tok_decode(const tok_t *t, const int32_t *ids, int n, int skip_special, char **text, size_t *len) {
    *text = NULL;
    if (len) *len = 0;
    if (n < 0 || (n && !ids)) return rlc_errc(RLC_EINVAL, "tok_decode: bad id array");
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size || !(t->flags[ids[i]] & TOKF_PRESENT))
            return rlc_errc(RLC_ERANGE, "tok_decode: token id %d at position %d is out of range (vocab size %d)", ids[i], i,
                            t->vocab_size);
        total += t->blen[ids[i]];
    }
    char *o = rlc_malloc(total + 1);
    if (!o) return RLC_ENOMEM;
    size_t k = 0;
    int first = 1; /* sentencepiece: the dummy-prefix space of the first token is dropped */
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        int special = t->flags[id] & TOKF_SPECIAL;
        if (special && skip_special) continue;
        const char *b = t->blob + t->boff[id];
        size_t bl = t->blen[id];
        if (first && t->spm_dummy_prefix && !special && bl && b[0] == ' ') b++, bl--;
        first = 0;
        memcpy(o + k, b, bl);
        k += bl;
    }
    o[k] = 0;
    *text = o;
    if (len) *len = k;
    return 0;
}

/* ---------------- chat: render with the template, then encode ---------------- */

int tok_chat_encode(const tok_t *t, const tok_msg_t *msgs, int n, int add_generation_prompt, const char *family,
                    int32_t **ids, int *n_ids) {
    char *txt = NULL;
    int rc = tok_chat_apply(t, msgs, n, add_generation_prompt, family, &txt);
    if (rc) return rc;
    rc = tok_encode(t, txt, strlen(txt), 0, ids, n_ids);
    free(txt);
    return rc;
}
