/* Forward+backward throughput of the CPU backend on a config.json-shaped random model:
 * prints one JSON line {"bench":"train_fwd_bwd_cpu","ours":tokens/s,...}. The peer (PyTorch
 * on the same config, threads and tokens) is bench_train_torch.py; run.sh runs both.
 * mode (6th argument): 0 = the LM head only in backward (the peer's shape), 1 = as an RL
 * update runs it (log-probs in the forward, the head again in backward), 2 = the same with
 * exact_on_policy (the engine's kernels in the forward). */
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/philox.h"
#include "model/model.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_train_cpu CONFIG.json [batch seqlen iters threads]\n");
        return 2;
    }
    int B = argc > 2 ? atoi(argv[2]) : 2, T = argc > 3 ? atoi(argv[3]) : 256;
    int iters = argc > 4 ? atoi(argv[4]) : 5, threads = argc > 5 ? atoi(argv[5]) : 0, mode = argc > 6 ? atoi(argv[6]) : 0;
    cJSON *cfg = rlc_json_load_file(argv[1]);
    rlc_backend_t *be;
    rlc_model_t *m;
    if (!cfg || rlc_backend_create(&be, "cpu", 0, threads) || rlc_model_create(&m, cfg, be, 1, 0.02f)) {
        fprintf(stderr, "bench: %s\n", rlc_errmsg());
        return 1;
    }
    int N = B * T;
    int32_t *ids = malloc((size_t)N * 4), *cu = malloc((size_t)(B + 1) * 4);
    float *dl = malloc((size_t)N * 4), *lp = malloc((size_t)N * 4);
    rlc_rng_t r;
    rlc_rng_init(&r, 3, 0);
    for (int i = 0; i < N; i++) ids[i] = (int32_t)rlc_rng_below(&r, (uint32_t)m->cfg.vocab_size);
    for (int s = 0; s <= B; s++) cu[s] = s * T;
    for (int i = 0; i < N; i++) dl[i] = (i % T == T - 1) ? 0.0f : -1.0f / (float)(N - B);
    rlc_batch_t b = {.n_tokens = N, .nseq = B, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_LM, .skip_head = mode == 0, .exact = mode == 2};
    double best = 1e30, total = 0;
    for (int it = 0; it < iters + 1; it++) {
        double t0 = rlc_now();
        if (rlc_model_forward(m, &b, &o, mode ? lp : NULL, NULL, NULL) ||
            rlc_model_backward(m, &b, &o, dl, NULL, NULL, lp, NULL)) {
            fprintf(stderr, "bench: %s\n", rlc_errmsg());
            return 1;
        }
        double dt = rlc_now() - t0;
        if (it == 0) continue; /* warm-up: first-touch of activation pages */
        total += dt;
        if (dt < best) best = dt;
    }
    double loss = 0;
    for (int i = 0; i < N; i++) loss += -lp[i] * (i % T == T - 1 ? 0 : 1.0 / (N - B));
    printf("{\"bench\":\"train_fwd_bwd_cpu\",\"impl\":\"rlc\",\"mode\":%d,\"params_m\":%.1f,\"tokens\":%d,\"threads\":%d,"
           "\"tok_per_s\":%.1f,\"best_tok_per_s\":%.1f,\"loss\":%.4f,\"device\":\"%s\"}\n",
           mode, (double)m->n_params / 1e6, N, be->threads, N * iters / total, N / best, loss, be->device_desc);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    cJSON_Delete(cfg);
    return 0;
}
