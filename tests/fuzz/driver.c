/* Standalone fuzz driver: feeds a target (LLVMFuzzerTestOneInput) with seed files and
 * random mutations of them for a bounded time, so fuzzing runs under gcc ASan/UBSan in the
 * normal test suite without libFuzzer. Usage: fuzz_x SECONDS [seed files...]. A crash or
 * sanitizer report fails the test. The same target builds with clang -fsanitize=fuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/philox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *read_file(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    if (len < 0 || len > (64 << 20)) {
        fclose(f);
        return NULL;
    }
    uint8_t *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 5;
    int nseeds = argc > 2 ? argc - 2 : 0;
    uint8_t **seeds = calloc((size_t)nseeds + 1, sizeof *seeds);
    size_t *lens = calloc((size_t)nseeds + 1, sizeof *lens);
    int have = 0;
    for (int i = 0; i < nseeds; i++) {
        seeds[have] = read_file(argv[2 + i], &lens[have]);
        if (seeds[have]) {
            LLVMFuzzerTestOneInput(seeds[have], lens[have]);
            have++;
        } else {
            fprintf(stderr, "fuzz: cannot read seed %s\n", argv[2 + i]);
            return 1;
        }
    }
    rlc_rng_t r;
    rlc_rng_init(&r, 12345, 0);
    time_t t0 = time(NULL);
    long iters = 0;
    uint8_t *buf = malloc(1 << 20);
    while (difftime(time(NULL), t0) < secs) {
        size_t n;
        if (have && rlc_rng_below(&r, 8) != 0) {
            int s = (int)rlc_rng_below(&r, (uint32_t)have);
            n = lens[s] < (1 << 20) ? lens[s] : (1 << 20);
            memcpy(buf, seeds[s], n);
            int muts = 1 + (int)rlc_rng_below(&r, 8);
            for (int m = 0; m < muts && n; m++) {
                uint32_t op = rlc_rng_below(&r, 5), pos = rlc_rng_below(&r, (uint32_t)n);
                if (op == 0) buf[pos] = (uint8_t)rlc_rng_u32(&r);                  /* random byte */
                else if (op == 1) buf[pos] ^= (uint8_t)(1u << rlc_rng_below(&r, 8)); /* bit flip */
                else if (op == 2) n = pos;                                           /* truncate */
                else if (op == 3 && n + 16 < (1 << 20)) {                            /* duplicate a chunk */
                    uint32_t len = 1 + rlc_rng_below(&r, 16);
                    if (pos + len > n) len = (uint32_t)(n - pos);
                    memmove(buf + pos + len, buf + pos, n - pos);
                    n += len;
                } else buf[pos] = "{}[]\":,0 -\\e9"[rlc_rng_below(&r, 13)];      /* structural char */
            }
        } else {
            n = rlc_rng_below(&r, 256);
            for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rlc_rng_u32(&r);
        }
        LLVMFuzzerTestOneInput(buf, n);
        iters++;
    }
    printf("fuzz: %ld inputs in %.0f s, no crash\n", iters, secs);
    for (int i = 0; i < have; i++) free(seeds[i]);
    free(seeds);
    free(lens);
    free(buf);
    return 0;
}
