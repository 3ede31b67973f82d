/* End to end on the fixture models: the CUDA backend (bf16 storage) against the CPU
 * reference (fp32, itself within 1e-4 of transformers) through the whole model: per-token
 * log-probs and entropies, every parameter gradient, three AdamW steps, and greedy decoding
 * through the paged KV cache (prefill, then one token per step, both backends fed the CPU's
 * tokens so one near-tie cannot derail the rest). Also the GPU's precision bookkeeping: fp32
 * master weights come from an fp32 checkpoint file, not from the bf16 parameters, and a
 * checkpoint restores parameters and master weights bit for bit; the memory accounting
 * releases every device buffer; and the rollout engine on this backend is batch-invariant:
 * a request's tokens and log-probs are bit-identical alone and in a crowd. Built twice like test_cuda_ops: on a GPU
 * (test_gpu_model, label gpu, 77 without one) and on the CPU emulator (test_cuda_emu_model). */
#include "testref.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "gen/engine.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/optim.h"
#include "model/exact_check.h"
#include "rl/ckpt.h"

/* Tolerances for bf16 weights and activations through a small random model (2 layers):
 * each stored activation carries ~2^-9 relative rounding, so log-probs (|logp| ~ log V ~ 6)
 * move by a few 1e-2 at most; gradients are checked by relative L2 per tensor. */
#define LOGP_MAX_ABS 0.08
#define GRAD_REL_L2 0.05
#define LOSS_REL 0.01
#define TIE_GAP 0.05 /* a different greedy token is accepted only when the CPU sees a near tie */

static rlc_backend_t *cpu, *gpu;

static void load_pair(const char *name, rlc_model_t **mc, rlc_model_t **mg) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s", name);
    char *dir = strdup(fixture(rel));
    if (rlc_model_load(mc, dir, cpu) || rlc_model_load(mg, dir, gpu)) fail_msg("load %s: %s", name, rlc_errmsg());
    free(dir);
}

static double max_abs(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* d(mean NLL)/d logp over the tokens that have a target (not the last of a sequence). */
static float *nll_grad(const ref_t *r) {
    float *dl = calloc(r->N, sizeof(float));
    int cnt = r->N - r->nseq;
    for (int s = 0; s < r->nseq; s++)
        for (int n = r->cu[s]; n < r->cu[s + 1] - 1; n++) dl[n] = -1.0f / (float)cnt;
    return dl;
}

/* A sparse layer's choice value of expert e for token n on the CPU: its routing probability,
 * or GLM-4.5's sigmoid score plus its correction bias (DeepSeek-V2's softmax score: none). */
static float cpu_choice(rlc_model_t *mc, int l, int n, int e, const float *probs) {
    float c = probs[(size_t)n * mc->cfg.num_experts + e], bias = 0;
    if (mc->layer[l].router_bias != RLC_NO_OFFSET)
        assert_int_equal(cpu->download(cpu, &bias, mc->keep_f32 + mc->layer[l].router_bias + e, RLC_BUF_F32, 1), 0);
    return c + bias;
}

/* Tokens whose picked experts (as a set) differ between the backends in some sparse layer: the
 * bf16 rounding moved a near tie. Each such swap must be one (the CPU's choice values of the
 * swapped experts within 0.02), and they must be few; flipped[n] marks them, swapped[l·E + e]
 * the experts of layer l a swap involved (their gradients take the token on one side only). */
static int routing_flips(rlc_model_t *mc, rlc_model_t *mg, int N, unsigned char *flipped, unsigned char *swapped) {
    int E = mc->cfg.num_experts, K = mc->cfg.experts_per_tok, count = 0;
    memset(flipped, 0, (size_t)N);
    if (!mc->cfg.layer_moe) return 0;
    int32_t *ic = malloc((size_t)N * K * 4), *ig = malloc((size_t)N * K * 4);
    float *pc = malloc((size_t)N * E * 4);
    for (int l = 0; l < mc->cfg.num_layers; l++) {
        if (!rlc_config_layer_moe(&mc->cfg, l)) continue;
        assert_int_equal(cpu->download(cpu, ic, mc->acts.moe[l].idx, RLC_BUF_I32, (size_t)N * K), 0);
        assert_int_equal(gpu->download(gpu, ig, mg->acts.moe[l].idx, RLC_BUF_I32, (size_t)N * K), 0);
        assert_int_equal(cpu->download(cpu, pc, mc->acts.moe[l].probs, RLC_BUF_F32, (size_t)N * E), 0);
        for (int n = 0; n < N; n++)
            for (int a = 0; a < K; a++) {
                int e = ic[n * K + a], in_gpu = 0;
                for (int b = 0; b < K; b++) in_gpu |= ig[n * K + b] == e;
                if (in_gpu) continue;
                for (int b = 0; b < K; b++) { /* e was swapped for a GPU pick the CPU did not make */
                    int f = ig[n * K + b], in_cpu = 0;
                    for (int c = 0; c < K; c++) in_cpu |= ic[n * K + c] == f;
                    float gap = fabsf(cpu_choice(mc, l, n, e, pc) - cpu_choice(mc, l, n, f, pc));
                    if (!in_cpu && gap > 0.02f)
                        fail_msg("layer %d token %d: expert %d (CPU) vs %d (GPU), not a near tie (%.3g)", l, n, e, f,
                                 gap);
                    if (!in_cpu) swapped[(size_t)l * E + e] = swapped[(size_t)l * E + f] = 1;
                }
                count += !flipped[n];
                flipped[n] = 1;
            }
    }
    free(ic), free(ig), free(pc);
    if (count > 1 + N / 20) fail_msg("the routing differs between the backends at %d of %d tokens", count, N);
    return count;
}

static void forward_backward(const char *name) {
    print_message(" %s\n", name);
    ref_t r;
    load_ref(&r, name);
    rlc_model_t *mc, *mg;
    load_pair(name, &mc, &mg);
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .train = 1, .head = RLC_HEAD_LM};
    float *lc = malloc(r.N * 4), *ec = malloc(r.N * 4), *lg = malloc(r.N * 4), *eg = malloc(r.N * 4);
    assert_int_equal(rlc_model_forward(mc, &b, &o, lc, ec, NULL), 0);
    if (rlc_model_forward(mg, &b, &o, lg, eg, NULL)) fail_msg("gpu forward: %s", rlc_errmsg());
    unsigned char *flipped = malloc((size_t)r.N);
    int E = mc->cfg.num_experts, skipped = 0;
    unsigned char *swapped = calloc((size_t)mc->cfg.num_layers * (E ? E : 1), 1);
    int flips = routing_flips(mc, mg, r.N, flipped, swapped);
    for (int n = 0; n < r.N; n++) /* a token routed differently is compared above (a near tie), not here */
        if (flipped[n]) lg[n] = lc[n], eg[n] = ec[n];
    double dl = max_abs(lg, lc, r.N), de = max_abs(eg, ec, r.N);
    if (flips) print_message("  routing: %d token(s) differ at a near tie, left out of the next line\n", flips);
    print_message("  logp max |gpu-cpu| %.3g, entropy %.3g (limit %.2g)\n", dl, de, LOGP_MAX_ABS);
    assert_true(dl <= LOGP_MAX_ABS);
    assert_true(de <= LOGP_MAX_ABS);
    /* gradients of the mean NLL */
    float *g = nll_grad(&r);
    for (int n = 0; n < r.N; n++) /* ... nor in the gradients: the mean NLL of the tokens routed alike */
        if (flipped[n]) g[n] = 0;
    free(flipped);
    assert_int_equal(rlc_model_alloc_grads(mc), 0);
    assert_int_equal(rlc_model_alloc_grads(mg), 0);
    rlc_model_zero_grads(mc);
    rlc_model_zero_grads(mg);
    assert_int_equal(rlc_model_backward(mc, &b, &o, g, NULL, NULL, NULL, NULL), 0);
    if (rlc_model_backward(mg, &b, &o, g, NULL, NULL, NULL, NULL)) fail_msg("gpu backward: %s", rlc_errmsg());
    double worst = 0;
    const char *wname = "";
    for (int i = 0; i < mc->n_info; i++) {
        const rlc_param_info_t *pc = &mc->info[i], *pg = rlc_model_param(mg, pc->name);
        assert_non_null(pg);
        int ll, ee;
        if (sscanf(pc->name, "model.layers.%d.mlp.experts.%d.", &ll, &ee) == 2 && swapped[(size_t)ll * E + ee]) {
            skipped++; /* an expert a flipped token reached on one backend only */
            continue;
        }
        float *a = malloc(pc->numel * 4), *c = malloc(pc->numel * 4);
        assert_int_equal(rlc_model_get_grad(mc, pc, c), 0);
        assert_int_equal(rlc_model_get_grad(mg, pg, a), 0);
        double e = rel_l2(a, c, pc->numel);
        if (!(e <= worst)) {
            worst = e;
            wname = pc->name;
        }
        free(a);
        free(c);
    }
    print_message("  gradients: worst rel L2 %.3g (%s), limit %.2g; %d tensor(s) of the flips' experts left out\n",
                  worst, wname, GRAD_REL_L2, skipped);
    free(swapped);
    assert_true(worst <= GRAD_REL_L2);
    /* three AdamW steps: the loss curves agree */
    rlc_adamw_cfg_t ac = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, 1.0f};
    rlc_optim_t *oc, *og;
    assert_int_equal(rlc_optim_create(&oc, mc, &ac), 0);
    assert_int_equal(rlc_optim_create(&og, mg, &ac), 0);
    for (int step = 0; step < 3; step++) {
        double loss[2];
        rlc_model_t *ms[2] = {mc, mg};
        rlc_optim_t *os[2] = {oc, og};
        float *lp[2] = {lc, lg};
        for (int k = 0; k < 2; k++) {
            rlc_model_zero_grads(ms[k]);
            if (rlc_model_forward(ms[k], &b, &o, lp[k], NULL, NULL) ||
                rlc_model_backward(ms[k], &b, &o, g, NULL, NULL, NULL, NULL) ||
                rlc_optim_step(os[k], 1e-3f, 100u + (uint32_t)step, NULL))
                fail_msg("%s step %d: %s", k ? "gpu" : "cpu", step, rlc_errmsg());
            loss[k] = 0;
            for (int n = 0; n < r.N; n++) loss[k] += g[n] * lp[k][n];
        }
        print_message("  step %d loss cpu %.5f gpu %.5f\n", step, loss[0], loss[1]);
        assert_true(fabs(loss[1] - loss[0]) <= LOSS_REL * fabs(loss[0]));
    }
    rlc_optim_free(oc);
    rlc_optim_free(og);
    free(g);
    free(lc);
    free(ec);
    free(lg);
    free(eg);
    free_ref(&r);
    rlc_model_free(mc);
    rlc_model_free(mg);
}

/* Prefill the prompt, then 12 single-token steps; both models get the CPU's greedy token.
 * Each KV layer group (full and sliding layers: Gemma 2 and 3, OLMo 3) takes its own pages. */
static void greedy_decode(const char *name) {
    rlc_model_t *mc, *mg;
    load_pair(name, &mc, &mg);
    enum { PS = 16, PAGES = 4, STEPS = 12, MAXG = 8 };
    const int V = mc->cfg.vocab_size;
    rlc_kv_cache_t kc, kg;
    assert_int_equal(rlc_kv_cache_init(&kc, mc, PAGES * MAXG, PS), 0);
    if (rlc_kv_cache_init(&kg, mg, PAGES * MAXG, PS)) fail_msg("gpu kv cache: %s", rlc_errmsg());
    assert_true(kc.n_groups <= MAXG && kc.n_groups == kg.n_groups);
    int32_t toks[64] = {262, 424, 213, 75, 50, 75, 21, 475}, pos[64], bt[PAGES * MAXG], order[PAGES] = {2, 0, 3, 1};
    for (int g = 0; g < kc.n_groups; g++)
        for (int j = 0; j < PAGES; j++) bt[g * PAGES + j] = g * PAGES + order[j];
    int n = 8, agree = 0, ties = 0;
    float *hc = malloc((size_t)V * 4), *hg = malloc((size_t)V * 4);
    for (int i = 0; i < 64; i++) pos[i] = i;
    for (int i = 0; i < n; i++) toks[i] %= V; /* the fixtures' vocabularies differ */
    for (int step = 0; step <= STEPS; step++) {
        int first = step == 0 ? 0 : n - 1, cnt = n - first;
        int32_t slots[64 * MAXG], cu[2] = {0, cnt}, ctx = n, row = cnt - 1;
        for (int g = 0; g < kc.n_groups; g++)
            for (int i = 0; i < cnt; i++) slots[g * cnt + i] = bt[g * PAGES + (first + i) / PS] * PS + (first + i) % PS;
        rlc_step_batch_t sb = {.n_tokens = cnt, .nseq = 1, .ids = toks + first, .pos = pos + first, .slots = slots,
                               .cu_q = cu, .ctx_len = &ctx, .block_table = bt, .max_pages = PAGES,
                               .max_ctx = PAGES * PS, .n_out = 1, .out_rows = &row};
        const float *lc, *lg;
        assert_int_equal(rlc_model_step(mc, &kc, &sb, &lc), 0);
        if (rlc_model_step(mg, &kg, &sb, &lg)) fail_msg("gpu step: %s", rlc_errmsg());
        assert_int_equal(cpu->download(cpu, hc, lc, RLC_BUF_F32, V), 0);
        assert_int_equal(gpu->download(gpu, hg, lg, RLC_BUF_F32, V), 0);
        int ac = 0, ag = 0;
        for (int v = 1; v < V; v++) {
            if (hc[v] > hc[ac]) ac = v;
            if (hg[v] > hg[ag]) ag = v;
        }
        if (ag == ac)
            agree++;
        else if (hc[ac] - hc[ag] < TIE_GAP)
            ties++;
        else
            fail_msg("%s step %d: gpu picks %d (cpu logit %.4f), cpu %d (%.4f)", name, step, ag, hc[ag], ac, hc[ac]);
        toks[n++] = ac;
    }
    print_message("  %s greedy: %d/%d steps agree, %d near ties\n", name, agree, STEPS + 1, ties);
    assert_true(agree >= STEPS - 2);
    free(hc);
    free(hg);
    rlc_kv_cache_free(&kc, mc);
    rlc_kv_cache_free(&kg, mg);
    rlc_model_free(mc);
    rlc_model_free(mg);
}

/* qwen2-tiny is stored in fp32: the optimizer's master weights must be those values, not
 * the bf16 parameters widened. */
static void test_master_from_file(void **s) {
    (void)s;
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture("models/qwen2-tiny"), gpu)) fail_msg("load: %s", rlc_errmsg());
    rlc_adamw_cfg_t ac = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, 1.0f};
    rlc_optim_t *o;
    if (rlc_optim_create(&o, m, &ac)) fail_msg("optimizer: %s", rlc_errmsg());
    assert_non_null(o->master);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, fixture("models/qwen2-tiny")), 0);
    size_t off_bf16 = 0;
    for (int i = 0; i < m->n_info; i++) {
        const rlc_param_info_t *p = &m->info[i];
        const rlc_st_tensor_t *t = rlc_st_find(&st, p->name);
        assert_non_null(t);
        assert_int_equal(t->dtype, RLC_DT_F32);
        float *want = malloc(p->numel * 4), *got = malloc(p->numel * 4), *par = malloc(p->numel * 4);
        assert_int_equal(rlc_st_to_f32(t, want), 0);
        assert_int_equal(gpu->download(gpu, got, o->master + p->offset, RLC_BUF_F32, p->numel), 0);
        assert_int_equal(rlc_model_get_param(m, p, par), 0);
        if (memcmp(want, got, p->numel * 4)) fail_msg("master of %s differs from the file", p->name);
        for (size_t k = 0; k < p->numel; k++) off_bf16 += par[k] != want[k];
        free(want);
        free(got);
        free(par);
    }
    print_message("  master = file values; %zu of %zu differ from the bf16 parameters\n", off_bf16, m->n_params);
    assert_true(off_bf16 > m->n_params / 2); /* widening the bf16 copy would have lost them */
    rlc_st_close(&st);
    rlc_optim_free(o);
    rlc_model_free(m);
}

/* GLM-4.5's router bias on the bf16 backend: the routing reads an exact fp32 copy (most of the
 * fixture's values are not bf16 numbers), which two AdamW steps leave alone and a save writes in
 * float32, even a bf16 save. */
static void test_router_bias_fp32(void **s) {
    (void)s;
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture("models/glm4moe-tiny"), gpu)) fail_msg("load: %s", rlc_errmsg());
    const rlc_param_info_t *p = rlc_model_param(m, "model.layers.1.mlp.gate.e_score_correction_bias");
    assert_non_null(p);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, fixture("models/glm4moe-tiny")), 0);
    float want[8], got[8], par[8];
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, p->name), want), 0);
    rlc_st_close(&st);
    assert_int_equal(rlc_model_get_param(m, p, got), 0);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(gpu->download(gpu, par, (char *)m->params + p->offset * gpu->esize[RLC_BUF_PARAM], RLC_BUF_PARAM,
                                   8),
                     0);
    int rounded = 0;
    for (int e = 0; e < 8; e++) rounded += par[e] != want[e];
    assert_true(rounded >= 6); /* the bf16 parameter copy would have moved them */
    ref_t r;
    load_ref(&r, "glm4moe-tiny");
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    rlc_fwd_opts_t o = {.inv_temp = 1.0f, .train = 1, .head = RLC_HEAD_LM};
    float *g = nll_grad(&r);
    rlc_adamw_cfg_t ac = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    rlc_optim_t *opt;
    assert_int_equal(rlc_model_alloc_grads(m), 0);
    if (rlc_optim_create(&opt, m, &ac)) fail_msg("optimizer: %s", rlc_errmsg());
    for (int step = 0; step < 2; step++) {
        rlc_model_zero_grads(m);
        if (rlc_model_forward(m, &b, &o, NULL, NULL, NULL) ||
            rlc_model_backward(m, &b, &o, g, NULL, NULL, NULL, NULL) || rlc_optim_step(opt, ac.lr, (uint32_t)step, NULL))
            fail_msg("step %d: %s", step, rlc_errmsg());
    }
    assert_int_equal(rlc_model_get_param(m, p, got), 0);
    assert_memory_equal(got, want, sizeof want);
    char *run = test_tmpdir(), *dir = fs_join(run, "saved");
    assert_int_equal(rlc_model_save(m, dir, "bfloat16"), 0);
    assert_int_equal(rlc_st_open(&st, dir), 0);
    const rlc_st_tensor_t *t = rlc_st_find(&st, p->name);
    assert_true(t && t->dtype == RLC_DT_F32);
    assert_int_equal(rlc_st_to_f32(t, got), 0);
    assert_memory_equal(got, want, sizeof want);
    rlc_st_close(&st);
    fs_rm_rf(run);
    free(run), free(dir), free(g);
    free_ref(&r);
    rlc_optim_free(opt);
    rlc_model_free(m);
}

static void download_all(rlc_backend_t *be, float *dst, const void *src, rlc_buf_kind_t kind, size_t n) {
    if (be->download(be, dst, src, kind, n)) fail_msg("download: %s", rlc_errmsg());
}

/* Two AdamW steps (stochastic rounding writes the bf16 parameters), a bf16 checkpoint, and
 * a resume: parameters, master weights and moments come back bit for bit. The parameters
 * are not the master rounded to nearest, so restoring them from the master would fail. */
static void test_checkpoint_exact(void **s) {
    (void)s;
    ref_t r;
    load_ref(&r, "qwen2-tiny");
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture("models/qwen2-tiny"), gpu)) fail_msg("load: %s", rlc_errmsg());
    rlc_adamw_cfg_t ac = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.01f, 1.0f};
    rlc_optim_t *o;
    if (rlc_optim_create(&o, m, &ac)) fail_msg("optimizer: %s", rlc_errmsg());
    rlc_batch_t b = {.n_tokens = r.N, .nseq = r.nseq, .ids = r.ids, .cu_seqlens = r.cu};
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .train = 1, .head = RLC_HEAD_LM};
    float *g = nll_grad(&r);
    for (int step = 0; step < 2; step++) {
        rlc_model_zero_grads(m);
        if (rlc_model_forward(m, &b, &fo, NULL, NULL, NULL) || rlc_model_backward(m, &b, &fo, g, NULL, NULL, NULL, NULL) ||
            rlc_optim_step(o, 1e-2f, 7u + (uint32_t)step, NULL))
            fail_msg("step %d: %s", step, rlc_errmsg());
    }
    char *run = test_tmpdir(), *dir = NULL;
    rl_train_state_t st;
    memset(&st, 0, sizeof st);
    st.step = 2;
    rl_ckpt_model_t cm = {NULL, m, o};
    if (rl_ckpt_save(run, &st, &cm, 1, "bfloat16", 0, &dir)) fail_msg("save: %s", rlc_errmsg());
    rlc_model_t *m2;
    rlc_optim_t *o2;
    if (rlc_model_load(&m2, dir, gpu) || rlc_optim_create(&o2, m2, &ac)) fail_msg("reload: %s", rlc_errmsg());
    rl_train_state_t st2;
    rl_ckpt_model_t cm2 = {NULL, m2, o2};
    if (rl_ckpt_load_state(dir, &st2, &cm2, 1)) fail_msg("resume: %s", rlc_errmsg());
    size_t n = m->n_params;
    float *a = malloc(n * 4), *c = malloc(n * 4), *ma = malloc(2 * n * 4), *mc = malloc(2 * n * 4);
    download_all(gpu, a, m->params, RLC_BUF_PARAM, n);
    download_all(gpu, c, m2->params, RLC_BUF_PARAM, n);
    if (memcmp(a, c, n * 4)) fail_msg("resumed bf16 parameters differ");
    download_all(gpu, ma, o->master, RLC_BUF_F32, n);
    download_all(gpu, mc, o2->master, RLC_BUF_F32, n);
    if (memcmp(ma, mc, n * 4)) fail_msg("resumed master weights differ");
    size_t not_nearest = 0;
    for (size_t i = 0; i < n; i++) not_nearest += rlc_bf16_to_f32(rlc_f32_to_bf16(ma[i])) != a[i];
    print_message("  resume exact; %zu of %zu parameters are not the master rounded to nearest\n", not_nearest, n);
    assert_true(not_nearest > 0);
    download_all(gpu, ma, o->mom, RLC_BUF_F32, 2 * n); /* mom and var share one block */
    download_all(gpu, mc, o2->mom, RLC_BUF_F32, 2 * n);
    if (memcmp(ma, mc, 2 * n * 4)) fail_msg("resumed AdamW moments differ");
    assert_int_equal(o2->step, 2);
    free(a);
    free(c);
    free(ma);
    free(mc);
    free(g);
    free(dir);
    rl_train_state_free(&st2);
    rlc_optim_free(o2);
    rlc_model_free(m2);
    rlc_optim_free(o);
    rlc_model_free(m);
    fs_rm_rf(run);
    free(run);
    free_ref(&r);
}

/* Every device buffer of a model, its optimizer, activations, KV cache and decode step is
 * accounted for and freed. */
static void test_memory_accounting(void **s) {
    (void)s;
    assert_int_equal(rlc_backend_track(gpu), 0);
    size_t base = rlc_backend_mem_used(gpu);
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture("models/llama3-tiny"), gpu)) fail_msg("load: %s", rlc_errmsg());
    assert_true(rlc_backend_mem_used(gpu) - base >= m->n_params * 2); /* bf16 parameters */
    rlc_adamw_cfg_t ac = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, 1.0f};
    rlc_optim_t *o;
    if (rlc_optim_create(&o, m, &ac)) fail_msg("optimizer: %s", rlc_errmsg());
    if (rlc_model_reserve(m, 64, 1)) fail_msg("reserve: %s", rlc_errmsg());
    rlc_kv_cache_t kv;
    if (rlc_kv_cache_init(&kv, m, 4, 16)) fail_msg("kv: %s", rlc_errmsg());
    rlc_backend_mem_report(gpu, "emulated device");
    rlc_kv_cache_free(&kv, m);
    rlc_optim_free(o);
    rlc_model_free(m);
    assert_int_equal(rlc_backend_mem_used(gpu), base);
}

/* The engine tests run once per row-invariant kernel: the backend of the test's state
 * (created with RLC_CUDA_ROWINV=simt, and =tc, the default). */
static rlc_backend_t *gpu_ri[2];
static const char *ri_names[2] = {"simt", "tc"};

/* The rollout engine on the CUDA backend: a request sampled alone and inside a crowd of
 * requests with other lengths (chunked prefill, preemption) yields the same tokens and
 * bit-identical log-probs, which holds only if every op of the inference step computes a
 * row independently of the others (be->row_invariant). */
static void engine_invariance(rlc_backend_t *be, const char *rel) {
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture(rel), be)) fail_msg("load: %s", rlc_errmsg());
    int V = m->cfg.vocab_size - 3 < 500 ? m->cfg.vocab_size - 3 : 500; /* prompt ids below the vocabulary */
    gen_params_t p;
    gen_params_default(&p);
    p.temperature = 1.0f;
    p.max_new_tokens = 10;
    p.n = 2;
    p.seed = 5;
    p.ignore_eos = 1;
    int32_t x[13];
    for (int i = 0; i < 13; i++) x[i] = (int32_t)(3 + (i * 37 + 11) % V);
    gen_engine_t *e;
    gen_engine_cfg_t c1 = {.page_size = 4, .num_pages = 64};
    if (gen_engine_create(&e, m, NULL, &c1)) fail_msg("engine: %s", rlc_errmsg());
    int r = gen_submit(e, x, 13, &p, NULL);
    if (r < 0 || gen_run(e, NULL)) fail_msg("alone: %s", rlc_errmsg());
    int32_t tok[2][10];
    float lp[2][10];
    for (int k = 0; k < 2; k++) {
        const gen_output_t *o = gen_output(e, r, k);
        assert_int_equal(o->n_tokens, 10);
        memcpy(tok[k], o->tokens, sizeof tok[k]);
        memcpy(lp[k], o->logp, sizeof lp[k]);
    }
    gen_engine_free(e);
    /* a crowd: small token budget (prefill split differently), few pages (preemption) */
    gen_engine_cfg_t c2 = {.page_size = 4, .max_batch_tokens = 12, .num_pages = 24};
    if (gen_engine_create(&e, m, NULL, &c2)) fail_msg("engine: %s", rlc_errmsg());
    int target = -1;
    for (int i = 0; i < 10; i++) {
        if (i == 4) {
            target = gen_submit(e, x, 13, &p, NULL);
            continue;
        }
        int32_t y[20];
        int n = 2 + (i * 7) % 17;
        for (int j = 0; j < n; j++) y[j] = (int32_t)(3 + (j * 37 + i * 101) % V);
        gen_params_t q = p;
        q.n = 1 + i % 3;
        q.seed = 100 + (uint64_t)i;
        q.max_new_tokens = 2 + (i * 5) % 11;
        assert_true(gen_submit(e, y, n, &q, NULL) >= 0);
    }
    if (gen_run(e, NULL)) fail_msg("crowd: %s", rlc_errmsg());
    gen_stats_t st;
    gen_stats(e, &st);
    print_message("  crowd: %ld steps, %ld preemptions\n", st.steps, st.preemptions);
    for (int k = 0; k < 2; k++) {
        const gen_output_t *o = gen_output(e, target, k);
        assert_int_equal(o->n_tokens, 10);
        if (memcmp(o->tokens, tok[k], sizeof tok[k])) fail_msg("sample %d: tokens differ in the crowd", k);
        for (int j = 0; j < 10; j++)
            if (memcmp(&o->logp[j], &lp[k][j], 4))
                fail_msg("sample %d token %d: log-prob %.9g in the crowd, %.9g alone", k, j, o->logp[j], lp[k][j]);
    }
    gen_engine_free(e);
    rlc_model_free(m);
}

static void test_engine_batch_invariance(void **s) {
    rlc_backend_t *be = *(rlc_backend_t **)*s;
    print_message("  RLC_CUDA_ROWINV=%s\n", be == gpu_ri[0] ? ri_names[0] : ri_names[1]);
    engine_invariance(be, "models/qwen2-tiny");
    engine_invariance(be, "models/qwen3moe-tiny"); /* a mixture of experts: routing read back, no graphs */
}

/* Decode steps replayed from graphs give the same bits as eager steps: a crowd of requests
 * run twice, with the backend's graph ops and without them. */
typedef struct {
    int32_t tok[8][3][12];
    float lp[8][3][12];
    int n[8][3];
} crowd_out_t;

static void run_crowd(rlc_model_t *m, crowd_out_t *out) {
    gen_engine_t *e;
    gen_engine_cfg_t c = {.page_size = 4, .max_batch_tokens = 32, .num_pages = 128};
    if (gen_engine_create(&e, m, NULL, &c)) fail_msg("engine: %s", rlc_errmsg());
    int req[8], V = m->cfg.vocab_size - 3 < 500 ? m->cfg.vocab_size - 3 : 500;
    for (int i = 0; i < 8; i++) {
        int32_t y[24];
        int n = 3 + (i * 5) % 19;
        for (int j = 0; j < n; j++) y[j] = (int32_t)(3 + (j * 37 + i * 101) % V);
        gen_params_t q;
        gen_params_default(&q);
        q.temperature = 1.0f;
        q.ignore_eos = 1;
        q.n = 1 + i % 3;
        q.seed = 40 + (uint64_t)i;
        q.max_new_tokens = 4 + (i * 3) % 9;
        req[i] = gen_submit(e, y, n, &q, NULL);
        assert_true(req[i] >= 0);
    }
    if (gen_run(e, NULL)) fail_msg("run: %s", rlc_errmsg());
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 1 + i % 3; k++) {
            const gen_output_t *o = gen_output(e, req[i], k);
            out->n[i][k] = o->n_tokens;
            memcpy(out->tok[i][k], o->tokens, (size_t)o->n_tokens * 4);
            memcpy(out->lp[i][k], o->logp, (size_t)o->n_tokens * 4);
        }
    gen_engine_free(e);
}

/* A dense model, and one whose sliding layers have KV groups of their own (Gemma 2: three
 * groups, their slots and block tables padded into the graph's buckets). */
static void decode_graphs(rlc_backend_t *be, const char *rel) {
    rlc_model_t *m;
    if (rlc_model_load(&m, fixture(rel), be)) fail_msg("load: %s", rlc_errmsg());
    static crowd_out_t a, b;
    run_crowd(m, &a);
    rlc_step_graph_stats_t st = rlc_model_step_graph_stats(m);
    print_message("  graphs: %ld captures, %ld replays, %ld stale\n", st.captures, st.launches, st.stale);
    assert_true(st.captures > 0);
    assert_true(st.launches > st.captures); /* replayed, not only captured */
    rlc_model_free(m);
    /* the same without graphs */
    int (*begin)(rlc_backend_t *) = be->graph_begin;
    be->graph_begin = NULL;
    if (rlc_model_load(&m, fixture(rel), be)) fail_msg("load: %s", rlc_errmsg());
    run_crowd(m, &b);
    assert_int_equal(rlc_model_step_graph_stats(m).launches, 0);
    be->graph_begin = begin;
    rlc_model_free(m);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 3; k++) {
            assert_int_equal(a.n[i][k], b.n[i][k]);
            if (memcmp(a.tok[i][k], b.tok[i][k], sizeof a.tok[i][k]) || memcmp(a.lp[i][k], b.lp[i][k], sizeof a.lp[i][k]))
                fail_msg("%s request %d sample %d: graph replay differs from eager steps", rel, i, k);
        }
}

static void test_decode_graphs(void **s) {
    rlc_backend_t *be = *(rlc_backend_t **)*s;
    print_message("  RLC_CUDA_ROWINV=%s\n", be == gpu_ri[0] ? ri_names[0] : ri_names[1]);
    if (!be->graph_begin) {
        print_message("  graphs are disabled (RLC_CUDA_GRAPHS=0): nothing to compare\n");
        return;
    }
    decode_graphs(be, "models/qwen2-tiny");
    decode_graphs(be, "models/gemma2-tiny");
}

static const char *models[] = {"qwen2-tiny", "llama3-tiny",     "llama-bias",   "qwen2-untied",
                               "qwen3-tiny", "mistral-sliding", "qwen2-sliding", "phi3-tiny",
                               "gemma3-tiny", "gemma-tiny", "gemma2-tiny", "olmo2-tiny", "olmo3-tiny", "granite-tiny",
                               "smollm3-tiny", "ministral3-tiny", "qwen3moe-tiny", "mixtral-tiny", "olmoe-tiny",
                               "qwen2moe-tiny", "glm4moe-tiny", "dots1-tiny",
                               "ernie45-tiny", "ernie45moe-tiny", "glm4-tiny", "dsv3-tiny", "moonlight-tiny",
                               "glm47flash-tiny", "dsv2-tiny", "minicpm3-tiny", "mistral4-tiny",
                               "youtu-tiny", "seed-oss-tiny", "qwen3-fp8",
                               "minimax-m2-tiny", "dsv32-tiny", "exaone4-tiny",
                               "solar-open-tiny"};
enum { N_MODELS = (int)(sizeof models / sizeof models[0]) };

/* exact_on_policy on the CUDA backend: the training forward with exact = 1 reproduces the
 * engine's sampled log-probs bit for bit (preempted sequences, two micro-batch packings),
 * with either row-invariant GEMM. */
static void test_exact_on_policy(void **s) {
    rlc_backend_t *be = *(rlc_backend_t **)*s;
    print_message("  RLC_CUDA_ROWINV=%s\n", be == gpu_ri[0] ? ri_names[0] : ri_names[1]);
    const char *names[] = {"models/llama3-tiny", "models/mixtral-tiny"}; /* a dense model and a MoE */
    for (int k = 0; k < 2; k++) {
        rlc_model_t *m;
        if (rlc_model_load(&m, fixture(names[k]), be)) fail_msg("load: %s", rlc_errmsg());
        assert_true(exact_check(m, 1) > 200);
        rlc_model_free(m);
    }
}

static void test_forward_backward(void **s) {
    (void)s;
    for (int i = 0; i < N_MODELS; i++) forward_backward(models[i]);
}

static void test_greedy_decode(void **s) {
    (void)s;
    for (int i = 0; i < N_MODELS; i++) greedy_decode(models[i]);
}

int main(void) {
    char desc[256];
    if (rlc_cuda_device_count(desc, sizeof desc) <= 0) {
        printf("SKIP: no CUDA device (%s)\n", desc);
        return 77;
    }
    unsetenv("RLC_CUDA_ROWINV"); /* gpu: the default row-invariant kernel (tc) */
    if (rlc_cpu_backend_create(&cpu, 2) || rlc_cuda_backend_create(&gpu, 0, 2)) {
        fprintf(stderr, "backend: %s\n", rlc_errmsg());
        return 1;
    }
    setenv("RLC_CUDA_ROWINV", "simt", 1);
    int brc = rlc_cuda_backend_create(&gpu_ri[0], 0, 2);
    unsetenv("RLC_CUDA_ROWINV");
    if (brc) {
        fprintf(stderr, "backend (RLC_CUDA_ROWINV=simt): %s\n", rlc_errmsg());
        return 1;
    }
    gpu_ri[1] = gpu;
    printf("CUDA backend on %s\n", desc);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_greedy_decode),
        cmocka_unit_test(test_master_from_file),
        cmocka_unit_test(test_router_bias_fp32),
        cmocka_unit_test(test_checkpoint_exact),
        cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test_prestate(test_engine_batch_invariance, &gpu_ri[0]),
        cmocka_unit_test_prestate(test_engine_batch_invariance, &gpu_ri[1]),
        cmocka_unit_test_prestate(test_decode_graphs, &gpu_ri[0]),
        cmocka_unit_test_prestate(test_decode_graphs, &gpu_ri[1]),
        cmocka_unit_test_prestate(test_exact_on_policy, &gpu_ri[0]),
        cmocka_unit_test_prestate(test_exact_on_policy, &gpu_ri[1]),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rlc_backend_destroy(gpu_ri[0]);
    rlc_backend_destroy(gpu);
    rlc_backend_destroy(cpu);
    return rc;
}
