/* Generation throughput of the rollout engine on the CPU: P distinct prompts x G samples
 * (the G samples share their prompt's KV pages), fixed prompt and output lengths, sampling
 * at T=1. Prints one JSON line; the peer is bench_gen_hf.py (transformers generate). */
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/json.h"
#include "core/philox.h"
#include "gen/engine.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gen_cpu CONFIG.json [prompts G prompt_len new_tokens threads]\n");
        return 2;
    }
    int P = argc > 2 ? atoi(argv[2]) : 4, G = argc > 3 ? atoi(argv[3]) : 8;
    int L = argc > 4 ? atoi(argv[4]) : 64, NEW = argc > 5 ? atoi(argv[5]) : 64, threads = argc > 6 ? atoi(argv[6]) : 0;
    cJSON *cfg = rlc_json_load_file(argv[1]);
    rlc_backend_t *be;
    rlc_model_t *m;
    if (!cfg || rlc_backend_create(&be, "cpu", 0, threads) || rlc_model_create(&m, cfg, be, 1, 0.02f)) {
        fprintf(stderr, "bench: %s\n", rlc_errmsg());
        return 1;
    }
    gen_engine_t *e;
    gen_engine_cfg_t ec = {.page_size = 16, .max_batch_tokens = 1024};
    if (gen_engine_create(&e, m, NULL, &ec)) {
        fprintf(stderr, "bench: %s\n", rlc_errmsg());
        return 1;
    }
    rlc_rng_t r;
    rlc_rng_init(&r, 4, 0);
    int32_t *ids = malloc((size_t)L * 4);
    gen_params_t p;
    gen_params_default(&p);
    p.n = G;
    p.max_new_tokens = NEW;
    p.ignore_eos = 1;
    double t0 = rlc_now();
    for (int i = 0; i < P; i++) {
        for (int k = 0; k < L; k++) ids[k] = (int32_t)rlc_rng_below(&r, (uint32_t)m->cfg.vocab_size);
        p.seed = (uint64_t)i;
        if (gen_submit(e, ids, L, &p, NULL) < 0) {
            fprintf(stderr, "bench: %s\n", rlc_errmsg());
            return 1;
        }
    }
    if (gen_run(e, NULL)) {
        fprintf(stderr, "bench: %s\n", rlc_errmsg());
        return 1;
    }
    double dt = rlc_now() - t0;
    gen_stats_t st;
    gen_stats(e, &st);
    printf("{\"bench\":\"generate_cpu\",\"impl\":\"rlc\",\"prompts\":%d,\"G\":%d,\"batch\":%d,\"prompt_len\":%d,"
           "\"new_tokens\":%d,\"threads\":%d,\"new_tok_per_s\":%.1f,\"seconds\":%.3f,\"prefill_tokens\":%ld,"
           "\"device\":\"%s\"}\n",
           P, G, P * G, L, NEW, be->threads, (double)st.sampled_tokens / dt, dt, st.prefill_tokens, be->device_desc);
    gen_engine_free(e);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    cJSON_Delete(cfg);
    free(ids);
    return 0;
}
