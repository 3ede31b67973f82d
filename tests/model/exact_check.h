/* The exact on-policy check shared by the CPU test (test_exact.c) and the CUDA emulator's
 * (tests/gpu/test_cuda_model.c): sample a crowd of requests with the rollout engine under a
 * KV budget that forces preemption, then run the training forward with exact = 1 over the
 * sequences packed into micro-batches two different ways; every sampled token's log-prob
 * must equal the engine's bit for bit. Returns the number of tokens compared (fails the
 * test on any difference). */
#pragma once
#include <string.h>

#include "gen/engine.h"
#include "model/decode.h"
#include "model/model.h"

static int exact_check(rlc_model_t *m, int with_exact_expected_equal) {
    enum { R = 12, NMAX = 64 };
    /* the bytes of 30 pages of every layer (a model with sliding layers gets more, smaller pages;
     * MLA's latent cache has no V rows of its own) */
    size_t page_all = (size_t)rlc_kv_planes(&m->cfg) * m->cfg.num_layers * 4 * rlc_kv_width(&m->cfg) *
                      m->be->esize[RLC_BUF_ACT];
    gen_engine_cfg_t cfg = {.page_size = 4, .max_batch_tokens = 24, .kv_budget_bytes = 30 * page_all};
    gen_engine_t *e;
    assert_int_equal(gen_engine_create(&e, m, NULL, &cfg), 0);
    const float T = 0.9f;
    int req[R], V = m->cfg.vocab_size;
    for (int i = 0; i < R; i++) {
        gen_params_t p;
        gen_params_default(&p);
        p.temperature = T;
        p.top_p = i % 3 ? 1.0f : 0.9f; /* the engine returns full-vocabulary log-probs either way */
        p.max_new_tokens = 8 + (i * 5) % 17;
        p.n = 1 + i % 2;
        p.seed = 500 + (uint64_t)i;
        p.ignore_eos = 1;
        int32_t pr[20];
        int n = 3 + (i * 7) % 17;
        for (int k = 0; k < n; k++) pr[k] = (int32_t)((k * 31 + i * 17 + 3) % (V - 1));
        req[i] = gen_submit(e, pr, n, &p, NULL);
        assert_true(req[i] >= 0);
    }
    assert_int_equal(gen_run(e, NULL), 0);
    gen_stats_t st;
    gen_stats(e, &st);
    assert_true(st.preemptions > 0); /* some sequences were recomputed */
    /* the sequences, then two packings: everything in one batch, and pairs in reverse order */
    int nseq = 0, compared = 0, differ = 0;
    const int32_t *ids[2 * R];
    int len[2 * R], np[2 * R];
    const float *elp[2 * R];
    for (int i = 0; i < R; i++)
        for (int k = 0; k < 1 + i % 2; k++) {
            assert_int_equal(gen_sequence(e, req[i], k, &ids[nseq], &len[nseq], &np[nseq]), 0);
            elp[nseq++] = gen_output(e, req[i], k)->logp;
        }
    for (int packing = 0; packing < 2; packing++) {
        for (int s0 = 0; s0 < nseq;) {
            int cnt = packing == 0 ? nseq : (nseq - s0 >= 2 ? 2 : 1), tot = 0, cu[2 * R + 1];
            int32_t buf[2 * R * NMAX];
            cu[0] = 0;
            for (int j = 0; j < cnt; j++) { /* packing 1: the pair in reverse order */
                int s = packing == 0 ? s0 + j : s0 + cnt - 1 - j;
                memcpy(buf + tot, ids[s], sizeof(int32_t) * (size_t)len[s]);
                tot += len[s];
                cu[j + 1] = tot;
            }
            rlc_batch_t b = {.n_tokens = tot, .nseq = cnt, .ids = buf, .cu_seqlens = cu};
            rlc_fwd_opts_t fo = {.inv_temp = 1.0f / T, .head = RLC_HEAD_LM, .exact = 1, .temperature = T};
            fo.exact = with_exact_expected_equal;
            float lp[2 * R * NMAX];
            assert_int_equal(rlc_model_forward(m, &b, &fo, lp, NULL, NULL), 0);
            for (int j = 0; j < cnt; j++) {
                int s = packing == 0 ? s0 + j : s0 + cnt - 1 - j;
                for (int t = np[s]; t < len[s]; t++) { /* token t is predicted at row t - 1 */
                    float mine = lp[cu[j] + t - 1], eng = elp[s][t - np[s]];
                    compared++;
                    if (memcmp(&mine, &eng, sizeof mine)) {
                        differ++;
                        if (with_exact_expected_equal)
                            fail_msg("sequence %d token %d: forward %.9g vs engine %.9g", s, t, mine, eng);
                    }
                }
            }
            s0 += cnt;
        }
    }
    gen_engine_free(e);
    return with_exact_expected_equal ? compared : differ;
}
