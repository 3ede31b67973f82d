/* Fuzz target: tokenizer encode/decode/chat on arbitrary bytes, and tokenizer.json loading
 * from arbitrary bytes. Valid UTF-8 must round-trip exactly (with the tokenizer that has no
 * normalizer and no stripping added tokens); anything else must fail with an error, never crash. The first byte picks
 * the operation; an input starting with '{' is loaded as a tokenizer.json, one starting with 'J' is a chat template
 * for the Jinja interpreter, one starting with 'S' is a slow tokenizer's vocab.json, merges.txt and
 * tokenizer_config.json (NUL-separated). Fixture tokenizers come from $RLC_FIXTURES (or the source tree). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tok.h"

static tok_t *toks[3]; /* loaded once for the whole run (fuzz harness only) */

static void load_all(void) {
    static int done;
    if (done) return;
    done = 1;
    const char *root = getenv("RLC_FIXTURES");
    const char *names[3] = {"tiny-chatml", "bpe-llama3", "spm-bpe"};
    for (int i = 0; i < 3; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/tokenizers/%s", root ? root : RLC_FIXTURE_DIR, names[i]);
        if (tok_load(&toks[i], p)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", rlc_errmsg());
            abort();
        }
    }
}

static void roundtrip(const tok_t *t, const uint8_t *d, size_t n, int exact) {
    int32_t *ids;
    int k;
    if (tok_encode(t, (const char *)d, n, exact ? 0 : (int)(n & 1), &ids, &k)) return; /* invalid UTF-8: an error */
    char *txt;
    size_t len;
    if (tok_decode(t, ids, k, 0, &txt, &len)) abort();
    if (exact && (len != n || memcmp(txt, d, n))) {
        fprintf(stderr, "fuzz_tokenizer: round trip failed on %zu bytes:", n);
        for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, " %02x", d[i]);
        fprintf(stderr, "\n");
        abort();
    }
    for (int i = 0; i < k; i++) {
        const char *b;
        size_t bl;
        if (tok_token_bytes(t, ids[i], &b, &bl)) abort();
    }
    free(txt);
    free(ids);
}

/* A chat template from arbitrary bytes: compiled, then rendered over a small conversation
 * with tools; errors are fine, crashes and hangs are not. */
static void jinja_case(const uint8_t *d, size_t n) {
    char *src = malloc(n + 1);
    memcpy(src, d, n);
    src[n] = 0;
    jinja_t *j;
    if (!jinja_compile(src, &j)) {
        cJSON *ctx = cJSON_Parse("{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", "
                                 "\"content\": \"u <think>x</think>\"}, {\"role\": \"assistant\", \"content\": null, "
                                 "\"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {\"a\": [1, 2.5]}}}]}], "
                                 "\"tools\": [{\"name\": \"f\"}], \"add_generation_prompt\": true, \"bos_token\": \"<s>\"}");
        char *out;
        if (!jinja_render(j, ctx, &out)) free(out);
        cJSON_Delete(ctx);
        jinja_free(j);
    }
    free(src);
}

/* A slow tokenizer's directory from arbitrary bytes: NUL-separated vocab.json, merges.txt and
 * (when present) tokenizer_config.json, loaded and used. */
static void slow_case(const uint8_t *d, size_t n) {
    static const char *const files[] = {"vocab.json", "merges.txt", "tokenizer_config.json"};
    char dir[] = "/tmp/rlc_fuzz_slow_XXXXXX";
    if (!mkdtemp(dir)) return;
    const uint8_t *p = d, *end = d + n;
    int k = 0;
    for (; k < 3 && p <= end; k++) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        FILE *f = fopen(path, "wb");
        if (f) fwrite(p, 1, len, f), fclose(f);
        p += len + 1;
        if (!z) break;
    }
    tok_t *lt;
    if (!tok_load(&lt, dir)) {
        roundtrip(lt, (const uint8_t *)"Hello world 123 <|im_end|>", 26, 0);
        tok_free(lt);
    }
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_all();
    if (size < 2) return 0;
    if (data[0] == 'J') { /* a Jinja template */
        jinja_case(data + 1, size - 1);
        return 0;
    }
    if (data[0] == 'S') { /* slow-tokenizer files */
        slow_case(data + 1, size - 1);
        return 0;
    }
    int op = data[0] == '{' ? 4 : data[0] % 4, which = data[1] % 3;
    const uint8_t *d = op == 4 ? data : data + 2;
    size_t n = op == 4 ? size : size - 2;
    const tok_t *t = toks[which];
    switch (op) {
    case 0:
    case 1: roundtrip(t, d, n, which == 1); break; /* bpe-llama3: no normalizer, no stripping tokens */
    case 2: { /* ids, in range or not */
        int k = (int)(n / 4);
        int32_t *ids = malloc(sizeof *ids * (size_t)(k + 1));
        for (int i = 0; i < k; i++) {
            uint32_t v;
            memcpy(&v, d + 4 * (size_t)i, 4);
            ids[i] = (v & 0x80000000u) ? (int32_t)v : (int32_t)(v % (uint32_t)(tok_vocab_size(t) + 8));
        }
        char *txt;
        size_t len;
        if (!tok_decode(t, ids, k, (int)(n & 1), &txt, &len)) free(txt);
        free(ids);
        break;
    }
    case 3: { /* chat: NUL-separated role/content pairs */
        char *buf = malloc(n + 1);
        memcpy(buf, d, n);
        buf[n] = 0;
        tok_msg_t m[8];
        int nm = 0;
        char *p = buf, *end = buf + n;
        while (nm < 8 && p < end) {
            m[nm].role = p;
            p += strlen(p) + 1;
            m[nm].content = p < end ? p : "";
            if (p < end) p += strlen(p) + 1;
            nm++;
        }
        static const char *fam[] = {NULL, "chatml", "qwen", "qwen-math", "llama3", "llama3.1", "deepseek-r1", "plain", "bogus"};
        char *out;
        if (!tok_chat_apply(t, m, nm, (int)(n & 1), fam[data[1] % 9], &out)) free(out);
        free(buf);
        break;
    }
    case 4: { /* tokenizer.json from arbitrary bytes */
        char path[] = "/tmp/rlc_fuzz_tok_XXXXXX.json";
        int fd = mkstemps(path, 5);
        if (fd < 0) return 0;
        if (write(fd, d, n) != (ssize_t)n) {
            close(fd);
            unlink(path);
            return 0;
        }
        close(fd);
        tok_t *lt;
        if (!tok_load(&lt, path)) {
            roundtrip(lt, (const uint8_t *)"Hello world 123 <|im_end|>", 26, 0);
            tok_free(lt);
        }
        unlink(path);
        break;
    }
    }
    return 0;
}
