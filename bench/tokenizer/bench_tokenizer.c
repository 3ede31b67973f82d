/* Tokenizer encode throughput, ours vs Hugging Face tokenizers (Rust, one thread) on the same
 * tokenizer.json and file, rounds interleaved (ours, peer, ours, peer...), best round each.
 * Prints JSON lines {"bench","ours","peer","unit","ratio","tokens","ids_match"}; the peer
 * runs through bench/tokenizer/peer_hf.py (skipped when python3 + tokenizers are missing).
 * Usage: bench_tokenizer TOKENIZER CORPUS [ROUNDS]   (inputs: make_bench_data.py) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "tokenizer/tok.h"

typedef struct {
    double mbps;
    long n;
    unsigned long long hash;
    int ok;
} res_t;

static unsigned long long hash_ids(unsigned long long h, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++) h = (h ^ (unsigned long long)(uint32_t)ids[i]) * 1099511628211ull;
    return h;
}

static int ours(const tok_t *t, const char *text, size_t len, int lines, res_t *r) {
    double t0 = rlc_now();
    unsigned long long h = 1469598103934665603ull;
    long total = 0;
    if (!lines) {
        int32_t *ids;
        int n;
        if (tok_encode(t, text, len, 0, &ids, &n)) return -1;
        double dt = rlc_now() - t0;
        h = hash_ids(h, ids, n);
        total = n;
        free(ids);
        r->mbps = len / dt / 1e6;
    } else {
        double enc = 0;
        size_t a = 0;
        while (a <= len) {
            const char *nl = memchr(text + a, '\n', len - a);
            size_t b = nl ? (size_t)(nl - text) : len;
            int32_t *ids;
            int n;
            double s = rlc_now();
            if (tok_encode(t, text + a, b - a, 0, &ids, &n)) return -1;
            enc += rlc_now() - s;
            h = hash_ids(h, ids, n);
            total += n;
            free(ids);
            a = b + 1;
        }
        r->mbps = len / enc / 1e6;
    }
    r->n = total;
    r->hash = h;
    r->ok = 1;
    return 0;
}

static void peer(const char *script, const char *tdir, const char *corpus, int lines, res_t *r) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "python3 %s %s %s %s 1 2>/dev/null", script, tdir, corpus, lines ? "lines" : "whole");
    FILE *p = popen(cmd, "r");
    r->ok = 0;
    if (!p) return;
    char buf[512], hs[64];
    if (fgets(buf, sizeof buf, p) &&
        sscanf(buf, "{\"mbps\": %lf, \"n\": %ld, \"hash\": \"%63[0-9]\"", &r->mbps, &r->n, hs) == 3) {
        r->hash = strtoull(hs, NULL, 10);
        r->ok = 1;
    }
    pclose(p);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER CORPUS [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (rounds < 1) rounds = 1;
    double t0 = rlc_now();
    tok_t *t;
    if (tok_load(&t, argv[1])) {
        fprintf(stderr, "bench_tokenizer: %s\n", rlc_errmsg());
        return 1;
    }
    double load = rlc_now() - t0;
    char *text;
    size_t len;
    if (fs_read_all(argv[2], &text, &len)) {
        fprintf(stderr, "bench_tokenizer: %s\n", rlc_errmsg());
        return 1;
    }
    printf("{\"bench\":\"tokenizer_load\",\"ours\":%.3f,\"unit\":\"s\",\"vocab\":%d}\n", load, tok_vocab_size(t));
    char script[4096];
    snprintf(script, sizeof script, "%s/bench/tokenizer/peer_hf.py", RLC_SOURCE_DIR);
    for (int lines = 0; lines < 2; lines++) {
        res_t best = {0}, pbest = {0};
        for (int r = 0; r < rounds; r++) {
            res_t o = {0}, p = {0};
            if (ours(t, text, len, lines, &o)) {
                fprintf(stderr, "bench_tokenizer: %s\n", rlc_errmsg());
                return 1;
            }
            if (o.mbps > best.mbps) best = o;
            peer(script, argv[1], argv[2], lines, &p);
            if (p.ok && p.mbps > pbest.mbps) pbest = p;
        }
        const char *name = lines ? "tokenizer_encode_lines" : "tokenizer_encode_whole_file";
        if (pbest.ok)
            printf("{\"bench\":\"%s\",\"ours\":%.2f,\"peer\":%.2f,\"unit\":\"MB/s\",\"ratio\":%.2f,\"tokens\":%ld,"
                   "\"peer_tokens\":%ld,\"ids_match\":%s,\"bytes\":%zu}\n",
                   name, best.mbps, pbest.mbps, best.mbps / pbest.mbps, best.n, pbest.n,
                   best.hash == pbest.hash && best.n == pbest.n ? "true" : "false", len);
        else
            printf("{\"bench\":\"%s\",\"ours\":%.2f,\"peer\":null,\"unit\":\"MB/s\",\"tokens\":%ld,\"bytes\":%zu}\n", name,
                   best.mbps, best.n, len);
        fflush(stdout);
    }
    free(text);
    tok_free(t);
    return 0;
}
