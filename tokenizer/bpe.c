/* Byte-level BPE model: the GPT-2 byte<->unicode mapping, vocabulary and merge tables from
 * tokenizer.json, and the merge loop on one pre-token. The merge order reproduces Hugging
 * Face tokenizers exactly (a min-heap on (rank, position), entries validated by the id the
 * pair would produce). A bounded, mutex-guarded cache keeps the ids of frequent words. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "tokenizer/tok_internal.h"

#define CACHE_SLOTS (1u << 16)   /* power of two */
#define CACHE_MAX_WORD 64        /* longer words are rarely repeated: not cached */
#define CACHE_KEY_BYTES (2u << 20)
#define CACHE_IDS (1u << 20)

typedef struct {
    uint64_t hash; /* 0 = empty */
    uint32_t koff, ioff;
    uint16_t klen, nids;
} cache_slot_t;

struct tok_bpe {
    int32_t byte_id[256];
    char byte_str[256][3];
    uint8_t byte_strlen[256];
    uint64_t *mkey; /* (a << 32 | b) + 1; 0 = empty */
    uint32_t *mrank;
    int32_t *mnew;
    size_t mcap;
    int ignore_merges, fuse_unk;
    int chars, byte_fallback; /* sentencepiece-style: characters are the initial symbols */
    int32_t fb_id[256];       /* <0xXX> tokens, -1 where absent */
    int32_t unk;
    const rlc_strmap_t *vocab;
    /* word cache */
    pthread_mutex_t mu;
    cache_slot_t *slots;
    char *ckeys;
    int32_t *cids;
    uint32_t kused, iused, nused;
};

/* GPT-2's reversible byte -> printable code point map. */
static int32_t byte_to_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static int cp_to_byte(int32_t cp) {
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255)) return cp;
    if (cp < 256 || cp >= 256 + 68) return -1;
    int n = 0;
    for (int x = 0; x < 256; x++) {
        if ((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)) continue;
        if (256 + n == cp) return x;
        n++;
    }
    return -1;
}

int tok_bytelevel_decode(const char *s, size_t n, char *out, size_t *outn) {
    size_t o = 0, i = 0;
    while (i < n) {
        int32_t cp;
        int k = tok_utf8_next(s + i, n - i, &cp);
        int b = cp_to_byte(cp);
        if (b < 0) return -1;
        out[o++] = (char)b;
        i += (size_t)k;
    }
    *outn = o;
    return 0;
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int merges_put(tok_bpe_t *b, int32_t l, int32_t r, uint32_t rank, int32_t nw) {
    uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
    size_t j = mix64(key) & (b->mcap - 1);
    while (b->mkey[j] && b->mkey[j] != key) j = (j + 1) & (b->mcap - 1);
    b->mkey[j] = key; /* a repeated pair keeps its last rank, as HF's map does */
    b->mrank[j] = rank;
    b->mnew[j] = nw;
    return 0;
}

static inline int merges_get(const tok_bpe_t *b, int32_t l, int32_t r, uint32_t *rank, int32_t *nw) {
    uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
    size_t j = mix64(key) & (b->mcap - 1);
    for (;;) {
        uint64_t k = b->mkey[j];
        if (!k) return 0;
        if (k == key) {
            *rank = b->mrank[j];
            *nw = b->mnew[j];
            return 1;
        }
        j = (j + 1) & (b->mcap - 1);
    }
}

static int get_merge_parts(const cJSON *m, int idx, const char **a, size_t *an, const char **bb, size_t *bn) {
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring;
        const char *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return rlc_errc(RLC_EFMT, "tokenizer.json: merge %d (\"%.40s\") is not of the form \"a b\"", idx, s);
        *a = s, *an = (size_t)(sp - s), *bb = sp + 1, *bn = strlen(sp + 1);
        return 0;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring;
        *bb = cJSON_GetArrayItem(m, 1)->valuestring;
        *an = strlen(*a), *bn = strlen(*bb);
        return 0;
    }
    return rlc_errc(RLC_EFMT, "tokenizer.json: merge %d is neither \"a b\" nor [\"a\", \"b\"]", idx);
}

int tok_bpe_build(tok_bpe_t **out, const void *model_json, rlc_strmap_t *vocab, int *max_id, int chars) {
    const cJSON *model = model_json;
    *out = NULL;
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(jv)) return rlc_errc(RLC_EFMT, "tokenizer.json: model.vocab is missing or not an object");
    if (jm && !cJSON_IsArray(jm) && !cJSON_IsNull(jm))
        return rlc_errc(RLC_EFMT, "tokenizer.json: model.merges is not an array");
    const char *bad[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(model, bad[i]);
        if (x && cJSON_IsString(x) && x->valuestring[0])
            return rlc_errc(RLC_EUNSUP, "tokenizer.json: BPE %s \"%s\" is not supported", bad[i], x->valuestring);
    }
    const cJSON *bf = cJSON_GetObjectItemCaseSensitive(model, "byte_fallback");
    if (cJSON_IsTrue(bf) && !chars)
        return rlc_errc(RLC_EUNSUP, "tokenizer.json: BPE byte_fallback with a ByteLevel pre-tokenizer is not supported");
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dr) && dr->valuedouble > 0)
        return rlc_errc(RLC_EUNSUP, "tokenizer.json: BPE dropout is not supported");

    tok_bpe_t *b = rlc_calloc(1, sizeof *b);
    if (!b) return RLC_ENOMEM;
    pthread_mutex_init(&b->mu, NULL);
    b->vocab = vocab;
    b->unk = -1;
    int rc = 0;
    int mx = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, jv) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 0x7ffffff0 || e->valuedouble != (double)(int32_t)e->valuedouble) {
            rc = rlc_errc(RLC_EFMT, "tokenizer.json: vocab entry \"%.40s\" has an invalid id", e->string ? e->string : "");
            goto fail;
        }
        int32_t id = (int32_t)e->valuedouble;
        if ((rc = rlc_strmap_put(vocab, e->string, strlen(e->string), id))) goto fail;
        if (id > mx) mx = id;
    }
    *max_id = mx;
    b->chars = chars;
    b->byte_fallback = cJSON_IsTrue(bf);
    for (int x = 0; x < 256; x++) {
        b->byte_strlen[x] = (uint8_t)tok_utf8_encode(byte_to_cp(x), b->byte_str[x]);
        b->byte_id[x] = rlc_strmap_get(vocab, b->byte_str[x], b->byte_strlen[x]);
        char fb[8];
        snprintf(fb, sizeof fb, "<0x%02X>", x);
        b->fb_id[x] = rlc_strmap_get(vocab, fb, 6);
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        b->unk = rlc_strmap_get(vocab, unk->valuestring, strlen(unk->valuestring));
        if (b->unk < 0) {
            rc = rlc_errc(RLC_EFMT, "tokenizer.json: unk_token \"%.40s\" is not in the vocab", unk->valuestring);
            goto fail;
        }
    }
    b->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    b->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));

    int nm = jm && cJSON_IsArray(jm) ? cJSON_GetArraySize(jm) : 0;
    b->mcap = 64;
    while (b->mcap < (size_t)nm * 2 + 2) b->mcap *= 2;
    b->mkey = rlc_calloc(b->mcap, sizeof *b->mkey);
    b->mrank = rlc_malloc(b->mcap * sizeof *b->mrank);
    b->mnew = rlc_malloc(b->mcap * sizeof *b->mnew);
    if (!b->mkey || !b->mrank || !b->mnew) {
        rc = RLC_ENOMEM;
        goto fail;
    }
    char *cat = NULL;
    size_t catcap = 0;
    int idx = 0;
    if (nm) cJSON_ArrayForEach(e, jm) {
        const char *a = NULL, *c = NULL;
        size_t an = 0, cn = 0;
        if ((rc = get_merge_parts(e, idx, &a, &an, &c, &cn))) break;
        int32_t ia = rlc_strmap_get(vocab, a, an), ic = rlc_strmap_get(vocab, c, cn);
        if (ia < 0 || ic < 0) {
            rc = rlc_errc(RLC_EFMT, "tokenizer.json: merge %d uses a token not in the vocab (\"%.*s\")", idx,
                          (int)(ia < 0 ? (an > 40 ? 40 : an) : (cn > 40 ? 40 : cn)), ia < 0 ? a : c);
            break;
        }
        if (an + cn > catcap) {
            catcap = (an + cn) * 2 + 64;
            char *nc = rlc_realloc(cat, catcap);
            if (!nc) {
                rc = RLC_ENOMEM;
                break;
            }
            cat = nc;
        }
        memcpy(cat, a, an);
        memcpy(cat + an, c, cn);
        int32_t inew = rlc_strmap_get(vocab, cat, an + cn);
        if (inew < 0) {
            rc = rlc_errc(RLC_EFMT, "tokenizer.json: merge %d produces \"%.*s\", which is not in the vocab", idx,
                          (int)(an + cn > 60 ? 60 : an + cn), cat);
            break;
        }
        merges_put(b, ia, ic, (uint32_t)idx, inew);
        idx++;
    }
    free(cat);
    if (rc) goto fail;

    b->slots = rlc_calloc(CACHE_SLOTS, sizeof *b->slots);
    b->ckeys = rlc_malloc(CACHE_KEY_BYTES);
    b->cids = rlc_malloc(CACHE_IDS * sizeof *b->cids);
    if (!b->slots || !b->ckeys || !b->cids) {
        rc = RLC_ENOMEM;
        goto fail;
    }
    *out = b;
    return 0;
fail:
    tok_bpe_free(b);
    return rc;
}

void tok_bpe_free(tok_bpe_t *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b->mkey);
    free(b->mrank);
    free(b->mnew);
    free(b->slots);
    free(b->ckeys);
    free(b->cids);
    free(b);
}

/* ---- word cache ---- */

static int cache_get(tok_bpe_t *b, const char *w, size_t n, uint64_t h, tok_ivec_t *out) {
    int hit = 0, rc = 0;
    pthread_mutex_lock(&b->mu);
    uint32_t j = (uint32_t)h & (CACHE_SLOTS - 1);
    for (;;) {
        cache_slot_t *s = &b->slots[j];
        if (!s->hash) break;
        if (s->hash == h && s->klen == n && !memcmp(b->ckeys + s->koff, w, n)) {
            rc = tok_ivec_append(out, b->cids + s->ioff, s->nids);
            hit = 1;
            break;
        }
        j = (j + 1) & (CACHE_SLOTS - 1);
    }
    pthread_mutex_unlock(&b->mu);
    return rc ? rc : hit;
}

static void cache_put(tok_bpe_t *b, const char *w, size_t n, uint64_t h, const int32_t *ids, int nids) {
    if (pthread_mutex_trylock(&b->mu)) return; /* busy: another thread is using it; skip */
    if (b->nused * 2 >= CACHE_SLOTS || b->kused + n > CACHE_KEY_BYTES || b->iused + (uint32_t)nids > CACHE_IDS) {
        /* full: start over rather than track recency */
        memset(b->slots, 0, CACHE_SLOTS * sizeof *b->slots);
        b->nused = b->kused = b->iused = 0;
    }
    uint32_t j = (uint32_t)h & (CACHE_SLOTS - 1);
    while (b->slots[j].hash) {
        if (b->slots[j].hash == h && b->slots[j].klen == n && !memcmp(b->ckeys + b->slots[j].koff, w, n)) {
            pthread_mutex_unlock(&b->mu);
            return;
        }
        j = (j + 1) & (CACHE_SLOTS - 1);
    }
    cache_slot_t *s = &b->slots[j];
    memcpy(b->ckeys + b->kused, w, n);
    if (nids) memcpy(b->cids + b->iused, ids, (size_t)nids * sizeof *ids); /* a word may encode to nothing */
    s->hash = h;
    s->koff = b->kused;
    s->klen = (uint16_t)n;
    s->ioff = b->iused;
    s->nids = (uint16_t)nids;
    b->kused += (uint32_t)n;
    b->iused += (uint32_t)nids;
    b->nused++;
    pthread_mutex_unlock(&b->mu);
}

/* ---- merge loop ---- */

typedef struct {
    int32_t id, prev, next, len;
} sym_t;
typedef struct {
    uint32_t rank;
    int32_t pos, nw;
} cand_t;

static inline int cand_less(const cand_t *a, const cand_t *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(cand_t *h, int *n, cand_t c) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand_t heap_pop(cand_t *h, int *n) {
    cand_t top = h[0];
    cand_t last = h[--(*n)];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1;
        if (l >= *n) break;
        int m = (l + 1 < *n && cand_less(&h[l + 1], &h[l])) ? l + 1 : l;
        if (!cand_less(&h[m], &last)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static void sym_push(sym_t *sy, int *ns, int32_t id, int32_t len) {
    sy[*ns] = (sym_t){id, *ns - 1, -1, len};
    if (*ns) sy[*ns - 1].next = *ns;
    (*ns)++;
}

/* Sentencepiece-style initial symbols, as HF's BPE with characters: each character that is a
 * token; else its UTF-8 bytes as <0xXX> tokens (byte_fallback, when all exist); else unk
 * (consecutive unknowns fused into one with fuse_unk); else dropped. len counts bytes. */
static int char_symbols(const tok_bpe_t *b, const char *w, size_t n, sym_t *sy) {
    int ns = 0;
    int32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = tok_utf8_next(w + i, n - i, &cp);
        if (k <= 0) k = 1;
        int32_t id = rlc_strmap_get(b->vocab, w + i, (size_t)k);
        int fb = id < 0 && b->byte_fallback;
        for (int j = 0; fb && j < k; j++) fb = b->fb_id[(unsigned char)w[i + j]] >= 0;
        if (id >= 0) {
            if (unk_len) sym_push(sy, &ns, b->unk, unk_len), unk_len = 0;
            sym_push(sy, &ns, id, k);
        } else if (fb) { /* (HF leaves a pending unk pending here) */
            for (int j = 0; j < k; j++) sym_push(sy, &ns, b->fb_id[(unsigned char)w[i + j]], 1);
        } else if (b->unk >= 0) {
            if (unk_len && !b->fuse_unk) sym_push(sy, &ns, b->unk, unk_len), unk_len = 0;
            unk_len += k;
        }
        i += (size_t)k;
    }
    if (unk_len) sym_push(sy, &ns, b->unk, unk_len);
    return ns;
}

int tok_bpe_word(const tok_bpe_t *cb, const char *w, size_t n, tok_ivec_t *out) {
    tok_bpe_t *b = (tok_bpe_t *)cb; /* only the locked cache is written */
    if (!n) return 0;
    if (b->ignore_merges && b->chars) {
        int32_t id = rlc_strmap_get(b->vocab, w, n);
        if (id >= 0) return tok_ivec_push(out, id);
    } else if (b->ignore_merges) {
        char sbuf[512];
        char *m = n * 2 <= sizeof sbuf ? sbuf : rlc_malloc(n * 2);
        if (!m) return RLC_ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)w[i];
            memcpy(m + k, b->byte_str[c], b->byte_strlen[c]);
            k += b->byte_strlen[c];
        }
        int32_t id = rlc_strmap_get(b->vocab, m, k);
        if (m != sbuf) free(m);
        if (id >= 0) return tok_ivec_push(out, id);
    }
    uint64_t h = 0;
    if (n <= CACHE_MAX_WORD) {
        h = rlc_hash_bytes(w, n);
        int r = cache_get(b, w, n, h, out);
        if (r) return r < 0 ? r : 0;
    }
    sym_t sbuf[128];
    cand_t cbuf[256];
    sym_t *sy = n <= 128 ? sbuf : rlc_malloc(n * sizeof *sy);
    /* each merge pushes at most 2 candidates: n initial + 2n */
    cand_t *hp = n <= 80 ? cbuf : rlc_malloc((3 * n + 2) * sizeof *hp);
    if (!sy || !hp) {
        if (sy != sbuf) free(sy);
        if (hp != cbuf) free(hp);
        return RLC_ENOMEM;
    }
    int ns = 0;
    int32_t unk_len = 0;
    if (b->chars) {
        ns = char_symbols(b, w, n, sy);
        goto merge;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = b->byte_id[(unsigned char)w[i]];
        if (id >= 0) {
            if (unk_len) {
                sy[ns] = (sym_t){b->unk, ns - 1, -1, unk_len};
                if (ns) sy[ns - 1].next = ns;
                ns++;
                unk_len = 0;
            }
            sy[ns] = (sym_t){id, ns - 1, -1, 1};
            if (ns) sy[ns - 1].next = ns;
            ns++;
        } else if (b->unk >= 0) {
            if (unk_len && !b->fuse_unk) {
                sy[ns] = (sym_t){b->unk, ns - 1, -1, unk_len};
                if (ns) sy[ns - 1].next = ns;
                ns++;
                unk_len = 0;
            }
            unk_len += 1;
        } /* else: a byte absent from the vocab with no unk token is dropped, as in HF */
    }
    if (unk_len) {
        sy[ns] = (sym_t){b->unk, ns - 1, -1, unk_len};
        if (ns) sy[ns - 1].next = ns;
        ns++;
    }
merge:;
    int nh = 0;
    for (int i = 0; i + 1 < ns; i++) {
        uint32_t rank;
        int32_t nw;
        if (merges_get(b, sy[i].id, sy[i + 1].id, &rank, &nw)) heap_push(hp, &nh, (cand_t){rank, i, nw});
    }
    while (nh) {
        cand_t top = heap_pop(hp, &nh);
        sym_t *s = &sy[top.pos];
        if (!s->len || s->next < 0) continue;
        sym_t *r = &sy[s->next];
        uint32_t rank;
        int32_t nw;
        if (!merges_get(b, s->id, r->id, &rank, &nw) || nw != top.nw) continue;
        s->id = top.nw;
        s->len += r->len;
        r->len = 0;
        s->next = r->next;
        if (s->next >= 0) sy[s->next].prev = top.pos;
        if (s->prev >= 0 && merges_get(b, sy[s->prev].id, s->id, &rank, &nw))
            heap_push(hp, &nh, (cand_t){rank, s->prev, nw});
        if (s->next >= 0 && merges_get(b, s->id, sy[s->next].id, &rank, &nw))
            heap_push(hp, &nh, (cand_t){rank, top.pos, nw});
    }
    int start = out->n, rc = 0;
    for (int i = 0; i < ns && !rc; i++)
        if (sy[i].len) rc = tok_ivec_push(out, sy[i].id);
    if (!rc && n <= CACHE_MAX_WORD && out->n > start) cache_put(b, w, n, h, out->v + start, out->n - start);
    if (sy != sbuf) free(sy);
    if (hp != cbuf) free(hp);
    return rc;
}
