/* The GRPO / Dr.GRPO / RLOO / REINFORCE++ / PPO training loop. One engine and one model:
 * generation reads the weights the optimizer just wrote, so there is nothing to sync.
 * Determinism: sampling seeds are a function of (seed, step, round, prompt slot), the data
 * order of (seed, epoch), and everything else of the restored state, so a resumed run on
 * the CPU reproduces the uninterrupted run's metrics bit for bit (timings aside).
 *
 * Data parallel (dist/): every rank holds the whole model and the same data order; each
 * step's prompt groups are split between ranks by whole groups (dist_split), a prompt's
 * sampling seed depends on its global slot only, so N ranks generate exactly the rollouts
 * one process would. Keep/refill decisions, advantages, loss denominators, whitening and
 * metrics use global values; gradients are summed before clipping, so every rank takes the
 * same optimizer step. Rank 0 alone writes the run directory. Every collective below is
 * reached by all ranks with an agreed rc (dist_agree first where a rank may have failed). */
#include "rl/loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset.h"
#include "dist/dist.h"
#include "gen/engine.h"
#include "model/optim.h"
#include "rewards/reward.h"
#include "rl/algo.h"
#include "rl/ckpt.h"
#include "tokenizer/tok.h"
#include "tts/eval.h"

/* ------------------------------------------------------------------ packed sequences */

/* Sequences for training. Row t of a sequence predicts token t+1; per-row arrays hold
 * what the loss needs for that prediction (mask = 1 when token t+1 is trainable). */
typedef struct {
    int32_t *ids, *cu;
    float *mask, *adv, *old_logp, *ref_logp, *values, *rew_tok, *ret;
    int nseq, ntok, cap_tok, cap_seq;
} seqbuf_t;

static void sb_free(seqbuf_t *b) {
    free(b->ids), free(b->cu), free(b->mask), free(b->adv), free(b->old_logp), free(b->ref_logp);
    free(b->values), free(b->rew_tok), free(b->ret);
    memset(b, 0, sizeof *b);
}

static int sb_reserve(seqbuf_t *b, int ntok, int nseq) {
    if (ntok > b->cap_tok) {
        int c = b->cap_tok ? b->cap_tok : 1024;
        while (c < ntok) c *= 2;
        float **f[] = {&b->mask, &b->adv, &b->old_logp, &b->ref_logp, &b->values, &b->rew_tok, &b->ret};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            float *q = rlc_realloc(*f[i], (size_t)c * sizeof(float));
            if (!q) return RLC_ENOMEM;
            *f[i] = q;
        }
        int32_t *q = rlc_realloc(b->ids, (size_t)c * sizeof *q);
        if (!q) return RLC_ENOMEM;
        b->ids = q;
        b->cap_tok = c;
    }
    if (nseq + 1 > b->cap_seq) {
        int c = b->cap_seq ? b->cap_seq : 64;
        while (c < nseq + 1) c *= 2;
        int32_t *q = rlc_realloc(b->cu, (size_t)c * sizeof *q);
        if (!q) return RLC_ENOMEM;
        b->cu = q;
        b->cap_seq = c;
    }
    return 0;
}

/* Append prompt + completion; trainable[i] (NULL = all) marks completion tokens trained. */
static int sb_add(seqbuf_t *b, const int32_t *prompt, int np, const int32_t *comp, int nc, const uint8_t *trainable) {
    int n = np + nc;
    int rc = sb_reserve(b, b->ntok + n, b->nseq + 1);
    if (rc) return rc;
    if (!b->nseq) b->cu[0] = 0;
    int32_t *ids = b->ids + b->ntok;
    memcpy(ids, prompt, (size_t)np * sizeof *ids);
    memcpy(ids + np, comp, (size_t)nc * sizeof *ids);
    for (int t = 0; t < n; t++) {
        int next = t + 1; /* the token row t predicts */
        float m = 0;
        if (next >= np && next < n) m = (!trainable || trainable[next - np]) ? 1.0f : 0.0f;
        b->mask[b->ntok + t] = m;
        b->adv[b->ntok + t] = b->old_logp[b->ntok + t] = b->ref_logp[b->ntok + t] = 0;
        b->values[b->ntok + t] = b->rew_tok[b->ntok + t] = b->ret[b->ntok + t] = 0;
    }
    b->ntok += n;
    b->cu[++b->nseq] = b->ntok;
    return 0;
}

/* A view of sequences [s0, s1) as a model batch (cu rebased into `cu_local`). */
static rlc_batch_t sb_view(const seqbuf_t *b, int s0, int s1, int32_t *cu_local) {
    for (int s = s0; s <= s1; s++) cu_local[s - s0] = b->cu[s] - b->cu[s0];
    rlc_batch_t v = {.n_tokens = b->cu[s1] - b->cu[s0], .nseq = s1 - s0, .ids = b->ids + b->cu[s0],
                     .cu_seqlens = cu_local};
    return v;
}

/* How sequences are grouped into forward/backward passes: up to `seqs` sequences and, when
 * tokens > 0, at most `tokens` tokens (verl's dynamic batch size); a sequence longer than
 * the token budget runs alone. Any grouping gives the same loss and gradients (the
 * aggregation denominators are global), only memory and speed change. */
typedef struct {
    int seqs;
    long tokens;
} micro_t;

/* End of the micro-batch starting at sequence s (< s1). */
static int micro_end(const seqbuf_t *b, int s, int s1, const micro_t *mb) {
    int e = s + 1;
    while (e < s1 && e - s < mb->seqs && (mb->tokens <= 0 || b->cu[e + 1] - b->cu[s] <= mb->tokens)) e++;
    return e;
}

/* Tokens in the largest micro-batch of sequences [s0, s1). */
static int sb_max_micro_tokens(const seqbuf_t *b, int s0, int s1, const micro_t *mb) {
    int maxn = 0;
    for (int s = s0, e; s < s1; s = e) {
        e = micro_end(b, s, s1, mb);
        if (b->cu[e] - b->cu[s] > maxn) maxn = b->cu[e] - b->cu[s];
    }
    return maxn;
}

/* The largest micro-batch possible with sequences of up to seq_len tokens. */
static long micro_max_tokens(const micro_t *mb, int seq_len) {
    long by_seqs = (long)mb->seqs * seq_len;
    if (mb->tokens <= 0) return by_seqs;
    long by_tokens = mb->tokens > seq_len ? mb->tokens : seq_len;
    return by_tokens < by_seqs ? by_tokens : by_seqs;
}

/* Reserve the activations of the largest possible micro-batch (sequences of up to seq_len
 * tokens) up front, so a batch that cannot fit fails now rather than hours in. */
static int reserve_acts(rlc_model_t *m, const micro_t *mb, int seq_len, int train) {
    long want = micro_max_tokens(mb, seq_len);
    int rc = want > (1L << 30) ? rlc_errc(RLC_ENOMEM, "%ld tokens per micro-batch is too many", want)
                               : rlc_model_reserve(m, (int)want, train);
    if (rc)
        return rlc_err_ctx(rc, "micro-batches of %ld tokens (up to %d sequences of %d) do not fit (lower micro_batch "
                               "or micro_tokens, the length limits, or set recompute)",
                           want, mb->seqs, seq_len);
    return 0;
}

/* The start-up memory report: every buffer, free memory, and the largest micro-batch that
 * would fit beside what is allocated now. */
static void report_memory(rlc_model_t *m, const micro_t *mb, int seq_len) {
    rlc_backend_t *be = m->be;
    rlc_backend_mem_report(be, "memory");
    size_t fr = 0, tot = 0;
    if (rlc_backend_mem_info(be, &fr, &tot)) return;
    /* A GPU's free memory already excludes the reservation; on the CPU the reserved pages
     * count only once touched. */
    size_t budget = fr + (be->is_gpu ? rlc_model_act_bytes(m, m->acts.cap_tokens, 1) : 0);
    int most = rlc_model_max_tokens(m, (size_t)((double)budget * 0.95), 1);
    char how[96];
    if (mb->tokens > 0)
        snprintf(how, sizeof how, "micro_tokens %ld, sequences of up to %d", mb->tokens, seq_len);
    else
        snprintf(how, sizeof how, "%d sequences x %d", mb->seqs, seq_len);
    LOG_INFO("activations reserved for %d tokens (%s); the largest micro-batch that fits is about %d tokens%s",
             m->acts.cap_tokens, how, most,
             be->is_gpu ? " (the KV cache takes most free memory; kv_cache_mb trades it for activations)" : "");
}

/* Forward (no gradient) over sequences in micro-batches: per-row log-probs (LM head) or
 * values (score head) into out (global rows). */
static int sb_forward(rlc_model_t *m, const seqbuf_t *b, const micro_t *mb, float inv_temp, int head, float *out) {
    int32_t *cu = rlc_malloc((size_t)(mb->seqs + 1) * sizeof *cu);
    if (!cu) return RLC_ENOMEM;
    int rc = 0;
    for (int s0 = 0, s1; s0 < b->nseq && !rc; s0 = s1) {
        s1 = micro_end(b, s0, b->nseq, mb);
        rlc_batch_t v = sb_view(b, s0, s1, cu);
        rlc_fwd_opts_t fo = {.inv_temp = inv_temp, .head = head};
        float *dst = out + b->cu[s0];
        rc = head == RLC_HEAD_LM ? rlc_model_forward(m, &v, &fo, dst, NULL, NULL)
                                 : rlc_model_forward(m, &v, &fo, NULL, NULL, dst);
    }
    free(cu);
    return rc;
}

/* ------------------------------------------------------------------ shared helpers */

static uint64_t mix64(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int open_run_files(const char *run_dir, long keep_step, rl_jsonl_writer_t *metrics, rl_jsonl_writer_t *samples) {
    char *mp = fs_join(run_dir, "metrics.jsonl"), *sp = fs_join(run_dir, "samples.jsonl");
    int rc = (!mp || !sp) ? RLC_ENOMEM : 0;
    /* a resumed run's files read like an uninterrupted one's: drop steps after the checkpoint */
    if (!rc && keep_step >= 0 && rl_jsonl_truncate_steps(mp, keep_step) < 0) rc = RLC_EIO;
    if (!rc && keep_step >= 0 && rl_jsonl_truncate_steps(sp, keep_step) < 0) rc = RLC_EIO;
    if (!rc) rc = rl_jsonl_writer_open(metrics, mp);
    if (!rc && samples) rc = rl_jsonl_writer_open(samples, sp);
    /* Flush each line but fsync only with checkpoints: lines after the last checkpoint are
     * cut on resume anyway, and a torn tail is repaired on open. (An fsync per step cost
     * more than a whole tiny-model SFT step.) */
    if (!rc) metrics->fsync_each = 0;
    if (!rc && samples) samples->fsync_each = 0;
    free(mp);
    free(sp);
    return rc;
}

static void print_step(const rl_step_metrics_t *m, int quiet) {
    if (quiet) return;
    char line[512];
    rl_step_line(m, line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
}

/* One optimizer update over sequences [s0, s1) of b: micro-batched forward/backward of the
 * per-token loss, then AdamW. old_logp NULL in b means "on-policy": ratio 1 exactly. */
typedef struct {
    const rl_loss_cfg_t *lc;
    int agg_mode, max_resp_len, on_policy, want_entropy;
    micro_t micro;
    float inv_temp;
} update_cfg_t;

/* The gradients summed over ranks, then the optimizer step every rank takes identically.
 * rc is this rank's result so far (agreed first, so nobody waits in the reduction). */
static int reduce_and_step(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, int rc, float lr, uint32_t seed,
                           double *gnorm) {
    rc = dist_agree(comm, rc);
    if (!rc) rc = dist_allreduce_dev(comm, m->be, m->grads, RLC_BUF_GRAD, m->n_params);
    if (!rc) rc = rlc_optim_step(opt, lr, seed, gnorm);
    return dist_agree(comm, rc);
}

static int policy_update(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, seqbuf_t *b, int s0, int s1,
                         const update_cfg_t *u, float lr, uint32_t seed, rl_loss_stats_t *st, double *gnorm,
                         long *tokens) {
    int maxn = sb_max_micro_tokens(b, s0, s1, &u->micro);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1) * sizeof(float); /* a rank may own no sequence of an update */
    float *lp = rlc_malloc(cap), *ent = rlc_malloc(cap), *w = rlc_malloc(cap), *dl = rlc_malloc(cap);
    float *de = rlc_malloc(cap);
    int32_t *cu = rlc_malloc((size_t)(u->micro.seqs + 1) * sizeof *cu);
    int rc = (!lp || !ent || !w || !dl || !de || !cu) ? RLC_ENOMEM : 0;
    /* global denominators over the whole update: every micro-batch of every rank */
    rl_agg_count_t g = {0};
    for (int s = s0, e; s < s1 && !rc; s = e) {
        e = micro_end(b, s, s1, &u->micro);
        rlc_batch_t v = sb_view(b, s, e, cu);
        rl_agg_count_add(&g, b->mask + b->cu[s], v.cu_seqlens, v.nseq);
    }
    rc = dist_agree(comm, rc);
    if (!rc && comm->world > 1) {
        double gs[3] = {g.n_tokens, g.n_seq_valid, g.n_seq};
        rc = dist_allreduce_f64(comm, gs, 3, DIST_SUM);
        g.n_tokens = gs[0], g.n_seq_valid = gs[1], g.n_seq = gs[2];
    }
    if (rc) goto out;
    rlc_model_zero_grads(m);
    for (int s = s0, e; s < s1 && !rc; s = e) {
        e = micro_end(b, s, s1, &u->micro);
        rlc_batch_t v = sb_view(b, s, e, cu);
        int base = b->cu[s], n = v.n_tokens;
        rlc_fwd_opts_t fo = {.inv_temp = u->inv_temp, .train = 1, .head = RLC_HEAD_LM};
        if ((rc = rlc_model_forward(m, &v, &fo, lp, u->want_entropy ? ent : NULL, NULL))) break;
        const float *old = u->on_policy ? lp : b->old_logp + base;
        if ((rc = rl_agg_weights(u->agg_mode, b->mask + base, v.cu_seqlens, v.nseq, &g, u->max_resp_len, w))) break;
        rc = rl_token_loss(u->lc, (size_t)n, lp, old, u->lc->kl_coef > 0 ? b->ref_logp + base : NULL,
                           b->adv + base, u->want_entropy ? ent : NULL, b->mask + base, w, dl,
                           u->lc->entropy_coef != 0 ? de : NULL, st);
        if (rc) break;
        rc = rlc_model_backward(m, &v, &fo, dl, u->lc->entropy_coef != 0 ? de : NULL, NULL, NULL, NULL);
        *tokens += n;
    }
    rc = reduce_and_step(comm, m, opt, rc, lr, seed, gnorm);
out:
    free(lp), free(ent), free(w), free(dl), free(de), free(cu);
    return rc;
}

/* ------------------------------------------------------------------ RL */

typedef struct {
    const data_row_t *row;
    int req;
    int32_t *prompt;
    int n_prompt;
    char *prompt_text;
    int kidx; /* position among the step's kept groups of all ranks (the global batch order) */
} group_t;

typedef struct {
    const rl_config_t *cfg;
    rlc_backend_t *be;
    rlc_model_t *policy, *ref, *critic;
    rlc_optim_t *opt, *copt;
    tok_t *tok;
    gen_engine_t *eng;
    rlc_reward_t *reward;
    data_set_t data, eval_data;
    data_iter_t it;
    data_tpl_t tpl;
    int extract_flags;
    rl_jsonl_writer_t metrics, samples;
    dist_comm_t *comm; /* borrowed */
    int rank0;         /* this rank writes the run directory */
} rl_ctx_t;

static void ctx_free(rl_ctx_t *c) {
    gen_engine_free(c->eng);
    rlc_optim_free(c->opt);
    rlc_optim_free(c->copt);
    rlc_model_free(c->policy);
    rlc_model_free(c->ref);
    rlc_model_free(c->critic);
    if (c->tok) tok_free(c->tok);
    rlc_reward_free(c->reward);
    data_iter_free(&c->it);
    data_set_free(&c->data);
    data_set_free(&c->eval_data);
    rl_jsonl_writer_close(&c->metrics);
    rl_jsonl_writer_close(&c->samples);
    rlc_backend_destroy(c->be);
}

static int make_reward(const char *spec, rlc_reward_t **out) {
    if (!spec || !spec[0]) spec = "math";
    if (spec[0] == '{' || spec[0] == '[') return rlc_reward_create_str(spec, out);
    cJSON *j = cJSON_CreateObject();
    if (!j) return RLC_ENOMEM;
    cJSON_AddStringToObject(j, "name", spec);
    int rc = rlc_reward_create(j, out);
    cJSON_Delete(j);
    return rc;
}

/* x with x·a = 1 (mod 2^64), a odd (Newton's iteration doubles the correct bits). */
static uint64_t inv_odd64(uint64_t a) {
    uint64_t x = a; /* correct to 3 bits: a·a = 1 mod 8 for odd a */
    for (int i = 0; i < 5; i++) x *= 2 - a * x;
    return x;
}

/* Held-out pass@1 (4 samples per problem at the training temperature). With several ranks
 * each evaluates a contiguous share of the problems and the correct counts are summed. */
static int run_eval(rl_ctx_t *c, double *pass1) {
    const int K = 4;
    tts_eval_opts_t eo;
    tts_eval_opts_default(&eo);
    eo.tpl = c->tpl;
    eo.samples = K;
    eo.temperature = (float)c->cfg->temperature;
    eo.top_p = (float)c->cfg->top_p;
    eo.top_k = (int)c->cfg->top_k;
    eo.max_new_tokens = (int)c->cfg->max_new_tokens;
    eo.seed = (uint64_t)c->cfg->seed ^ 0xE7A1ull;
    eo.records = 0;
    dist_comm_t *comm = c->comm;
    long lo = 0, hi = c->eval_data.n;
    dist_split(c->eval_data.n, comm->rank, comm->world, &lo, &hi);
    data_set_t part = {.rows = c->eval_data.rows + lo, .n = (int)(hi - lo)};
    /* tts_eval seeds problem i with seed·1000003 + i; shifting the seed by lo/1000003 (mod
     * 2^64) gives this rank's problems the seeds they have in the whole set */
    eo.seed += (uint64_t)lo * inv_odd64(1000003ull);
    tts_eval_result_t r;
    memset(&r, 0, sizeof r);
    int rc = part.n ? tts_eval_run(c->eng, c->tok, &part, &eo, NULL, &r) : 0;
    double v[2] = {part.n ? (double)llround(r.pass1 * part.n * K) : 0, (double)part.n * K};
    if (!rc && comm->world == 1) *pass1 = r.pass1;
    tts_eval_result_free(&r);
    rc = dist_agree(comm, rc);
    if (!rc && comm->world > 1 && !(rc = dist_allreduce_f64(comm, v, 2, DIST_SUM))) *pass1 = v[1] > 0 ? v[0] / v[1] : 0;
    return rc;
}

/* Everything a rank does alone before training: data, reward, models, engine. The caller
 * agrees on the result before setup_shared. */
static int setup(rl_ctx_t *c, const rl_config_t *cfg, rl_run_opts_t *o, rl_train_state_t *st, long *resumed_from,
                 dist_comm_t *comm) {
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->comm = comm;
    c->rank0 = comm->rank == 0;
    *resumed_from = -1;
    int rc = rl_config_validate(cfg);
    if (rc) return rc;
    if (!cfg->model || !cfg->model[0]) return rlc_errc(RLC_EINVAL, "model: a model directory is required (--model)");
    if (!cfg->data || !cfg->data[0]) return rlc_errc(RLC_EINVAL, "data: a JSONL dataset is required (--data)");
    if (!cfg->run_dir || !cfg->run_dir[0]) return rlc_errc(RLC_EINVAL, "run_dir: a run directory is required");
    if ((rc = data_template_from_name(cfg->template_name, &c->tpl))) return rc;
    /* everything that can be checked before compute: data, reward, paths */
    data_load_opts_t lo = {.profile = "auto"};
    long skipped = 0;
    if ((rc = data_load_jsonl(cfg->data, &lo, &c->data, &skipped))) return rc;
    if (skipped) LOG_WARN("%s: %ld malformed line(s) skipped", cfg->data, skipped);
    if (cfg->eval_data && cfg->eval_data[0]) {
        if ((rc = data_load_jsonl(cfg->eval_data, &lo, &c->eval_data, &skipped))) return rc;
        long removed = 0;
        if ((rc = data_set_exclude(&c->data, &c->eval_data, &removed))) return rc;
        if (removed) LOG_WARN("removed %ld training problems that also occur in the evaluation set", removed);
        if (!c->data.n) return rlc_errc(RLC_EINVAL, "%s: no training rows left after removing held-out ones", cfg->data);
    }
    if ((rc = make_reward(cfg->reward, &c->reward))) return rc;
    if (c->rank0 && (rc = fs_mkdir_p(cfg->run_dir))) return rc;
    /* resume: the newest complete checkpoint */
    char *ckdir = NULL;
    long ckstep = 0;
    if (o->resume) {
        rc = rl_ckpt_latest(cfg->run_dir, 0, &ckdir, &ckstep);
        if (rc < 0) return rc;
        if (rc == 1) {
            LOG_WARN("%s has no complete checkpoint; starting from step 0", cfg->run_dir);
            rc = 0;
        }
    }
    /* several ranks on a node: each its own GPU (asking the driver only then) */
    int ordinal = comm->world > 1 && strcmp(cfg->device, "cpu")
                      ? dist_device_ordinal(comm, cfg->device, rlc_backend_cuda_devices(NULL, 0))
                      : 0;
    if ((rc = rlc_backend_create(&c->be, cfg->device, ordinal, dist_cpu_threads(comm, (int)cfg->threads)))) goto out;
    if ((rc = rlc_model_load(&c->policy, ckdir ? ckdir : cfg->model, c->be))) goto out;
    c->policy->recompute = cfg->recompute;
    if ((rc = tok_load(&c->tok, ckdir ? ckdir : cfg->model))) goto out;
    if (cfg->kl_coef > 0) {
        const char *refp = cfg->ref_model && cfg->ref_model[0] ? cfg->ref_model : cfg->model;
        if ((rc = rlc_model_load(&c->ref, refp, c->be))) goto out;
    }
    rlc_adamw_cfg_t ac = {.lr = (float)cfg->lr, .beta1 = (float)cfg->adam_beta1, .beta2 = (float)cfg->adam_beta2,
                          .eps = (float)cfg->adam_eps, .weight_decay = (float)cfg->weight_decay,
                          .max_grad_norm = (float)cfg->max_grad_norm};
    if ((rc = rlc_optim_create(&c->opt, c->policy, &ac))) goto out;
    if (cfg->algo == RL_ADV_GAE) {
        char *cdir = ckdir ? fs_join(ckdir, "critic") : NULL;
        const char *src = cdir ? cdir : (cfg->critic_model && cfg->critic_model[0] ? cfg->critic_model : cfg->model);
        rc = rlc_model_load(&c->critic, src, c->be);
        free(cdir);
        if (!rc && c->critic->score_labels == 0) rc = rlc_model_add_score_head(c->critic, 1, (uint64_t)cfg->seed, 0.0f);
        if (rc) goto out;
        c->critic->recompute = cfg->recompute;
        rlc_adamw_cfg_t cc = ac;
        cc.lr = (float)cfg->critic_lr;
        if ((rc = rlc_optim_create(&c->copt, c->critic, &cc))) goto out;
    }
    memset(st, 0, sizeof *st);
    if (ckdir) {
        rl_ckpt_model_t ms[2] = {{NULL, c->policy, c->opt}, {"critic", c->critic, c->copt}};
        if ((rc = rl_ckpt_load_state(ckdir, st, ms, c->critic ? 2 : 1))) goto out;
        *resumed_from = st->step;
        LOG_INFO("resuming %s from %s (step %ld)", cfg->run_dir, ckdir, st->step);
    }
    if ((rc = data_iter_init(&c->it, &c->data, (uint64_t)cfg->seed, 1, 0, 1))) goto out;
    if (ckdir) {
        data_cursor_t cur = {.epoch = st->data_epoch, .pos = st->data_cursor};
        if ((rc = data_iter_seek(&c->it, cur))) goto out;
    }
    /* Training activations first (policy, reference, critic), then the KV cache takes what
     * is left (see gen_engine_cfg_t.kv_budget_bytes). */
    int seq_len = (int)(cfg->max_prompt_len + cfg->max_new_tokens);
    micro_t micro = {(int)cfg->micro_batch, cfg->micro_tokens};
    if ((rc = reserve_acts(c->policy, &micro, seq_len, 1))) goto out;
    if (c->ref && (rc = reserve_acts(c->ref, &micro, seq_len, 0))) goto out;
    if (c->critic && (rc = reserve_acts(c->critic, &micro, seq_len, 1))) goto out;
    gen_engine_cfg_t ec = {.kv_budget_bytes = (size_t)cfg->kv_cache_mb << 20};
    if ((rc = gen_engine_create(&c->eng, c->policy, c->tok, &ec))) goto out;
    report_memory(c->policy, &micro, seq_len);
out:
    free(ckdir);
    return rc;
}

/* The resolved configuration as ranks must share it: every key but the per-rank ones. */
static char *config_text_for_ranks(const rl_config_t *cfg) {
    cJSON *j = rl_config_to_json(cfg);
    if (!j) return NULL;
    const char *per_rank[] = {"device", "threads"};
    for (int i = 0; i < 2; i++) cJSON_DeleteItemFromObjectCaseSensitive(j, per_rank[i]);
    char *t = cJSON_Print(j);
    cJSON_Delete(j);
    return t;
}

/* After every rank's setup succeeded: check the ranks agree (same configuration, same
 * checkpoint, same weights), bind the communicator to the backend (NCCL), and let rank 0
 * open the run directory's files. Collective; returns an agreed rc. */
static int setup_shared(rl_ctx_t *c, long resumed_from) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    int rc = 0;
    if (comm->world > 1) {
        int64_t r[2] = {resumed_from, -resumed_from};
        rc = dist_allreduce_i64(comm, r, 2, DIST_MAX);
        if (!rc && r[0] != -r[1])
            rc = rlc_errc(RLC_EINVAL, "ranks found different checkpoints in %s (it must be one directory that every "
                                      "rank sees)",
                          cfg->run_dir);
        rc = dist_agree(comm, rc);
        char *text = rc ? NULL : config_text_for_ranks(cfg);
        if (!rc) rc = dist_agree(comm, text ? 0 : RLC_ENOMEM);
        if (!rc) rc = dist_verify_same_text(comm, text, "configuration");
        free(text);
    }
    if (!rc) rc = dist_agree(comm, dist_attach_backend(comm, c->be));
    if (!rc && comm->world > 1) {
        uint64_t h;
        rc = dist_verify_replicas(comm, c->be, c->policy->params, RLC_BUF_PARAM, c->policy->n_params,
                                  "the policy weights", &h);
        if (!rc && c->critic)
            rc = dist_verify_replicas(comm, c->be, c->critic->params, RLC_BUF_PARAM, c->critic->n_params,
                                      "the critic weights", &h);
        if (!rc)
            LOG_INFO("data parallel: %d ranks over %s; each generates and trains on a share of every step's %ld "
                     "prompts",
                     comm->world, comm->transport, cfg->prompts_per_step);
        if (!rc && cfg->prompts_per_step < comm->world)
            LOG_WARN("prompts_per_step %ld < %d ranks: some ranks will have no prompt groups", cfg->prompts_per_step,
                     comm->world);
    }
    if (!rc && c->rank0) {
        char *cfgp = fs_join(cfg->run_dir, "config.json");
        rc = cfgp ? rl_config_write(cfg, cfgp) : RLC_ENOMEM;
        free(cfgp);
        if (!rc) rc = open_run_files(cfg->run_dir, resumed_from >= 0 ? resumed_from : -1, &c->metrics, &c->samples);
    }
    return dist_agree(comm, rc);
}

/* Make the run's JSONL lines durable up to this point (called before each checkpoint). */
static void sync_writer(rl_jsonl_writer_t *w) {
    if (w->f && fflush(w->f) == 0) fsync(fileno(w->f));
}

/* Collective: the replicas are checked to be identical, then rank 0 writes the checkpoint
 * (atomically, as always) while the others wait for its verdict. */
static int save_ckpt(rl_ctx_t *c, rl_train_state_t *st) {
    dist_comm_t *comm = c->comm;
    int rc = 0;
    if (comm->world > 1) {
        uint64_t h = 0;
        rc = dist_verify_replicas(comm, c->be, c->policy->params, RLC_BUF_PARAM, c->policy->n_params,
                                  "the policy weights", &h);
        if (!rc && c->critic)
            rc = dist_verify_replicas(comm, c->be, c->critic->params, RLC_BUF_PARAM, c->critic->n_params,
                                      "the critic weights", NULL);
        if (!rc)
            LOG_INFO("step %ld: weights identical on all %d ranks (fnv64 %016llx)", st->step, comm->world,
                     (unsigned long long)h);
        if (rc) return rc;
    }
    if (c->rank0) {
        sync_writer(&c->metrics);
        sync_writer(&c->samples);
        data_cursor_t cur = data_iter_cursor(&c->it);
        st->data_epoch = cur.epoch;
        st->data_cursor = cur.pos;
        st->seed = (uint64_t)c->cfg->seed;
        rl_ckpt_model_t ms[2] = {{NULL, c->policy, c->opt}, {"critic", c->critic, c->copt}};
        char *dir = NULL;
        rc = rl_ckpt_save(c->cfg->run_dir, st, ms, c->critic ? 2 : 1, c->cfg->save_dtype, (int)c->cfg->keep_last, &dir);
        if (!rc) LOG_INFO("checkpoint: %s", dir);
        free(dir);
    }
    return dist_agree(comm, rc);
}

/* Generate, score and filter until prompts_per_step groups are kept (or the round cap). With
 * several ranks each round's prompts are split by whole groups; the keep flags are gathered
 * so every rank makes the same keep/refill decisions over the global round, in global order.
 * A rank keeps the groups it generated; n_glob counts the kept groups of all ranks. The
 * statistics are summed over ranks before return. */
typedef struct {
    group_t *groups; /* kept by this rank, in global order (kidx ascending) */
    int n_groups, n_glob;
    float *reward, *correct; /* [n_groups * G] */
    rl_filter_stats_t fst;
    long hist[65];
    long tokens_gen, rounds, seen_groups;
    double acc_sum, reward_sum;
    long n_scored;
    rlc_metrics_t rmetrics;
} rollout_t;

static void rollout_free(rl_ctx_t *c, rollout_t *r) {
    for (int i = 0; i < r->n_groups; i++) {
        gen_release(c->eng, r->groups[i].req);
        free(r->groups[i].prompt);
        free(r->groups[i].prompt_text);
    }
    free(r->groups);
    free(r->reward);
    free(r->correct);
    rlc_metrics_free(&r->rmetrics);
    memset(r, 0, sizeof *r);
}

/* Named reward metrics summed over ranks (merged in rank order, so every rank gets the same). */
static int reduce_reward_metrics(dist_comm_t *comm, rlc_metrics_t *ms) {
    if (comm->world == 1) return 0;
    size_t rec = sizeof ms->m[0], len = (size_t)ms->n * rec;
    char *all = NULL;
    size_t *lens = rlc_calloc((size_t)comm->world, sizeof *lens);
    int rc = dist_agree(comm, lens ? 0 : RLC_ENOMEM);
    if (!rc) rc = dist_allgatherv(comm, ms->m, len, &all, lens);
    rlc_metrics_t sum = {0};
    size_t off = 0;
    for (int r = 0; r < comm->world && !rc; r++) {
        rlc_metrics_t part = {.m = (rlc_metric_t *)(all + off), .n = (int)(lens[r] / rec)};
        rc = rlc_metrics_merge(&sum, &part);
        off += lens[r];
    }
    free(all);
    free(lens);
    if (!rc) {
        rlc_metrics_free(ms);
        *ms = sum;
    } else {
        rlc_metrics_free(&sum);
    }
    return dist_agree(comm, rc);
}

/* The rollout statistics summed over ranks. */
static int reduce_rollout_stats(dist_comm_t *comm, rollout_t *R, int G) {
    if (comm->world == 1) return 0;
    int nh = G <= 64 ? G + 1 : 0;
    int64_t v[7 + 65] = {R->tokens_gen, R->seen_groups, R->n_scored, R->fst.seen, R->fst.kept, R->fst.zero_var,
                         R->fst.out_of_window};
    for (int i = 0; i < nh; i++) v[7 + i] = R->hist[i];
    double d[2] = {R->acc_sum, R->reward_sum};
    int rc = dist_allreduce_i64(comm, v, (size_t)(7 + nh), DIST_SUM);
    if (!rc) rc = dist_allreduce_f64(comm, d, 2, DIST_SUM);
    if (rc) return rc;
    R->tokens_gen = v[0], R->seen_groups = v[1], R->n_scored = v[2];
    R->fst.seen = v[3], R->fst.kept = v[4], R->fst.zero_var = v[5], R->fst.out_of_window = v[6];
    for (int i = 0; i < nh; i++) R->hist[i] = v[7 + i];
    R->acc_sum = d[0], R->reward_sum = d[1];
    return reduce_reward_metrics(comm, &R->rmetrics);
}

static int collect(rl_ctx_t *c, long step, rollout_t *R) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    int G = (int)cfg->group_size, want = (int)cfg->prompts_per_step, rc = 0, W = comm->world;
    memset(R, 0, sizeof *R);
    R->groups = rlc_calloc((size_t)want, sizeof *R->groups);
    R->reward = rlc_calloc((size_t)want * G, sizeof(float));
    R->correct = rlc_calloc((size_t)want * G, sizeof(float));
    group_t *round = rlc_calloc((size_t)want, sizeof *round);
    float *rw = rlc_calloc((size_t)want * G, sizeof(float)), *cr = rlc_calloc((size_t)want * G, sizeof(float));
    rlc_rollout_t *ro = rlc_calloc((size_t)want * G, sizeof *ro);
    uint8_t *keep = rlc_calloc((size_t)want, 1), *keep_all = rlc_calloc((size_t)want * W, 1);
    int *lens = rlc_calloc((size_t)want * G, sizeof(int));
    char *ext = rlc_malloc(MATH_MAX_ANSWER);
    if (!R->groups || !R->reward || !R->correct || !round || !rw || !cr || !ro || !keep || !keep_all || !lens || !ext)
        rc = RLC_ENOMEM;
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = G;
    gp.temperature = (float)cfg->temperature;
    gp.top_p = (float)cfg->top_p;
    gp.top_k = (int)cfg->top_k;
    gp.max_new_tokens = (int)cfg->max_new_tokens;
    rl_filter_cfg_t fc = {.dynamic_sampling = cfg->dynamic_sampling, .balanced = cfg->balanced_filter,
                          .p_low = (float)cfg->pass_low, .p_high = (float)cfg->pass_high};
    rlc_reward_ctx_t rctx = {.tokenizer = c->tok, .engine = c->eng, .policy = c->policy, .step = step,
                             .seed = (uint64_t)cfg->seed};
    rc = dist_agree(comm, rc);
    while (!rc && R->n_glob < want && R->rounds < cfg->max_gen_rounds) {
        int take = want - R->n_glob;
        R->rounds++;
        long lo, hi;
        dist_split(take, comm->rank, W, &lo, &hi);
        int mine = (int)(hi - lo);
        /* submit this rank's share; every rank walks the data order over the whole round */
        for (int g = 0; g < take && !rc; g++) {
            const data_row_t *row = data_iter_next(&c->it);
            if (g < lo || g >= hi) continue;
            group_t *q = &round[g - lo];
            memset(q, 0, sizeof *q);
            q->row = row;
            const char *fmt = NULL;
            rc = tts_encode_problem(c->tok, c->tpl, NULL, q->row->problem, &q->prompt, &q->n_prompt, &fmt);
            if (!rc && g == lo) c->extract_flags = math_extract_flags_for_format(fmt);
            if (!rc && cfg->max_prompt_len > 0 && q->n_prompt > cfg->max_prompt_len)
                rc = rlc_errc(RLC_ERANGE, "problem %s: prompt of %d tokens exceeds max_prompt_len %ld", q->row->id,
                              q->n_prompt, cfg->max_prompt_len);
            if (!rc) {
                /* the global slot g, never the rank: N ranks sample what one process would */
                gp.seed = mix64(mix64((uint64_t)cfg->seed, (uint64_t)step), (uint64_t)(R->rounds * 100003 + g));
                q->req = gen_submit(c->eng, q->prompt, q->n_prompt, &gp, NULL);
                if (q->req < 0) rc = q->req;
            }
            if (!rc) {
                size_t tl;
                rc = tok_decode(c->tok, q->prompt, q->n_prompt, 0, &q->prompt_text, &tl);
            }
        }
        if (!rc && mine > 0) {
            /* a bar within the step on a terminal (plain logs only get it for long rounds) */
            char label[48];
            snprintf(label, sizeof label, "step %ld rollout", step + 1);
            rlc_progress_t pg;
            rlc_progress_begin(&pg, label, (long)mine * G);
            rc = gen_run(c->eng, &pg);
            if (!pg.tty)
                rlc_progress_end(&pg);
            else if (pg.drawn)
                fprintf(stderr, "\r\033[K"); /* the step line replaces the bar */
        }
        /* score */
        for (int g = 0; g < mine && !rc; g++)
            for (int i = 0; i < G; i++) {
                const gen_output_t *out = gen_output(c->eng, round[g].req, i);
                rlc_rollout_t *x = &ro[g * G + i];
                x->prompt = round[g].prompt_text;
                x->completion = out->text;
                x->tokens = out->tokens;
                x->n_tokens = out->n_tokens;
                x->trainable = out->trainable;
                x->finish = out->finish == GEN_FINISH_LENGTH ? RLC_FINISH_LENGTH : RLC_FINISH_STOP;
                x->n_tool_calls = out->n_tool_calls;
                x->group = g;
                x->meta = round[g].row->meta;
                lens[g * G + i] = out->n_tokens;
                cr[g * G + i] = (float)tts_grade(round[g].row, out->text, c->extract_flags, NULL, ext, MATH_MAX_ANSWER);
                R->tokens_gen += out->n_tokens;
            }
        if (!rc && mine > 0) rc = rlc_reward_score(c->reward, &rctx, ro, mine * G, rw, NULL, &R->rmetrics);
        if (!rc && cfg->overlong_buffer > 0) {
            int Lmax = (int)(cfg->overlong_max_len > 0 ? cfg->overlong_max_len : cfg->max_new_tokens);
            rl_overlong_apply(rw, lens, mine * G, Lmax, (int)cfg->overlong_buffer, (float)cfg->overlong_penalty);
        }
        float *p = rc ? NULL : rlc_malloc((size_t)(mine > 0 ? mine : 1) * sizeof(float));
        if (!rc && !p) rc = RLC_ENOMEM;
        rc = dist_agree(comm, rc);
        if (rc) {
            free(p);
            break;
        }
        rl_pass_rates(cr, mine, G, p);
        if (G <= 64) rl_pass_hist_add(p, mine, G, R->hist);
        free(p);
        for (int k = 0; k < mine * G; k++) {
            R->acc_sum += cr[k];
            R->reward_sum += rw[k];
        }
        R->n_scored += mine * G;
        R->seen_groups += mine;
        memset(keep, 0, (size_t)want);
        rl_filter_groups(&fc, rw, cr, mine, G, keep, &R->fst);
        /* every rank learns every group's verdict and keeps the same first ones, in global order */
        if ((rc = dist_allgather(comm, keep, (size_t)want, keep_all))) break;
        for (int r = 0; r < W; r++) {
            long rlo, rhi;
            dist_split(take, r, W, &rlo, &rhi);
            for (long g = rlo; g < rhi; g++) {
                int kept = keep_all[(size_t)r * want + (size_t)(g - rlo)] && R->n_glob < want;
                int kidx = kept ? R->n_glob++ : -1;
                if (r != comm->rank) continue;
                group_t *q = &round[g - lo];
                if (kept) {
                    int k = R->n_groups++;
                    R->groups[k] = *q;
                    R->groups[k].kidx = kidx;
                    memcpy(R->reward + (size_t)k * G, rw + (size_t)(g - lo) * G, (size_t)G * sizeof(float));
                    memcpy(R->correct + (size_t)k * G, cr + (size_t)(g - lo) * G, (size_t)G * sizeof(float));
                } else {
                    gen_release(c->eng, q->req);
                    free(q->prompt);
                    free(q->prompt_text);
                }
                memset(q, 0, sizeof *q);
            }
        }
    }
    /* a failed round leaves its groups in `round` */
    for (int g = 0; g < want && round; g++) {
        if (round[g].prompt_text || round[g].prompt) {
            if (round[g].row) gen_release(c->eng, round[g].req);
            free(round[g].prompt);
            free(round[g].prompt_text);
        }
    }
    free(round), free(rw), free(cr), free(ro), free(keep), free(keep_all), free(lens), free(ext);
    if (!rc) rc = dist_agree(comm, reduce_rollout_stats(comm, R, G));
    return rc;
}

/* Per-sequence values of the global batch (the kept groups of every rank, in global order)
 * from each rank's own: global[kidx·G + i] = local[j·G + i]. Each slot has one writer and
 * zeros elsewhere, so the sum over ranks is exact. With one rank, a copy. Collective. */
static int gather_seq_values(dist_comm_t *comm, const rollout_t *R, int G, const float *local, float *global) {
    size_t n = (size_t)R->n_glob * G;
    if (comm->world == 1) {
        memcpy(global, local, n * sizeof *global);
        return 0;
    }
    double *d = rlc_calloc(n ? n : 1, sizeof *d);
    int rc = dist_agree(comm, d ? 0 : RLC_ENOMEM);
    if (rc) {
        free(d);
        return rc;
    }
    for (int j = 0; j < R->n_groups; j++)
        for (int i = 0; i < G; i++) d[(size_t)R->groups[j].kidx * G + i] = local[(size_t)j * G + i];
    rc = dist_allreduce_f64(comm, d, n, DIST_SUM);
    for (size_t k = 0; k < n && !rc; k++) global[k] = (float)d[k];
    free(d);
    return rc;
}

/* Sequence-level advantages of this rank's sequences, computed over the global batch so
 * that batch statistics (REINFORCE++'s mean and whitening) are those of all ranks. rew_glob
 * holds the global batch's rewards. Collective (enter with an agreed rc; the result is this
 * rank's own). */
static int compute_advantages(rl_ctx_t *c, const rollout_t *R, const seqbuf_t *b, const float *rew_glob,
                              float *adv_seq) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size, n = R->n_groups * G, N = R->n_glob * G;
    float *adv = rlc_malloc((size_t)N * sizeof *adv), *len_loc = NULL, *len_glob = NULL;
    int *lens = NULL, rc = adv ? 0 : RLC_ENOMEM, rpp = cfg->algo == RL_ADV_REINFORCEPP;
    if (rpp) { /* whitening over tokens: every sequence's trainable-token count */
        len_loc = rlc_malloc((size_t)(n ? n : 1) * sizeof *len_loc);
        len_glob = rlc_malloc((size_t)(N ? N : 1) * sizeof *len_glob);
        lens = rlc_malloc((size_t)(N ? N : 1) * sizeof *lens);
        if (!len_loc || !len_glob || !lens) rc = RLC_ENOMEM;
        for (int i = 0; i < n && !rc; i++) {
            double s = 0;
            for (int t = b->cu[i]; t < b->cu[i + 1]; t++) s += b->mask[t];
            len_loc[i] = (float)s;
        }
        rc = dist_agree(c->comm, rc);
        if (!rc) rc = gather_seq_values(c->comm, R, G, len_loc, len_glob);
        for (int k = 0; k < N && !rc; k++) lens[k] = (int)len_glob[k];
    }
    if (!rc) {
        switch (cfg->algo) {
        case RL_ADV_GRPO: rc = rl_adv_grpo(rew_glob, N, G, cfg->adv_std_sample, (float)cfg->adv_eps, adv); break;
        case RL_ADV_DRGRPO: rc = rl_adv_drgrpo(rew_glob, N, G, adv); break;
        case RL_ADV_RLOO: rc = rl_adv_rloo(rew_glob, N, G, adv); break;
        case RL_ADV_REINFORCEPP: rc = rl_adv_reinforcepp(rew_glob, N, G, lens, (float)cfg->adv_eps, adv); break;
        default: rc = rlc_errc(RLC_EINVAL, "no sequence-level advantage for this algorithm");
        }
    }
    for (int j = 0; j < R->n_groups && !rc; j++)
        memcpy(adv_seq + (size_t)j * G, adv + (size_t)R->groups[j].kidx * G, (size_t)G * sizeof *adv);
    free(adv), free(len_loc), free(len_glob), free(lens);
    return rc;
}

/* rl_whiten over the tokens of every rank (mean and population std of the global batch). */
static int whiten_global(dist_comm_t *comm, float *x, const float *mask, size_t n, float eps) {
    if (comm->world == 1) {
        rl_whiten(x, mask, n, 1, eps);
        return 0;
    }
    double v[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) v[0] += x[i], v[1] += 1;
    int rc = dist_allreduce_f64(comm, v, 2, DIST_SUM);
    if (rc || v[1] == 0) return rc;
    double mean = v[0] / v[1], ss = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    if ((rc = dist_allreduce_f64(comm, &ss, 1, DIST_SUM))) return rc;
    double sd = sqrt(ss / v[1]);
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0) x[i] = (float)(((double)x[i] - mean) / (sd + (double)eps));
    return 0;
}

/* PPO: values from the critic, the sequence reward on the last trainable row, GAE, and
 * advantages whitened over the global batch. Collective; rc agreed. */
static int ppo_advantages(rl_ctx_t *c, const rollout_t *R, seqbuf_t *b, const micro_t *mb) {
    const rl_config_t *cfg = c->cfg;
    int rc = sb_forward(c->critic, b, mb, 1.0f, RLC_HEAD_SCORE, b->values);
    for (int s = 0; s < b->nseq && !rc; s++) {
        int last = -1;
        for (int t = b->cu[s]; t < b->cu[s + 1]; t++) {
            if (b->mask[t] == 0) b->values[t] = 0;
            if (b->mask[t] > 0) last = t;
        }
        if (last >= 0) b->rew_tok[last] = R->reward[s];
    }
    if (!rc)
        rc = rl_adv_gae(b->rew_tok, b->values, b->mask, b->cu, b->nseq, (float)cfg->gamma, (float)cfg->lam, b->adv,
                        b->ret);
    rc = dist_agree(c->comm, rc);
    if (!rc) rc = whiten_global(c->comm, b->adv, b->mask, (size_t)b->ntok, 1e-8f);
    return rc;
}

/* Critic update: clipped value loss against the GAE returns, token-mean over the global
 * batch; the critic's gradients are summed over ranks like the policy's. Collective. */
static int critic_update(rl_ctx_t *c, seqbuf_t *b, int s0, int s1, const micro_t *mb, float lr, uint32_t seed,
                         double *vloss, double *vclip) {
    int maxn = sb_max_micro_tokens(b, s0, s1, mb);
    size_t cap = (size_t)(maxn > 0 ? maxn : 1);
    float *v = rlc_malloc(cap * sizeof(float)), *loss = rlc_malloc(cap * sizeof(float));
    float *dv = rlc_malloc(cap * sizeof(float));
    uint8_t *clip = rlc_malloc(cap);
    int32_t *cu = rlc_malloc((size_t)(mb->seqs + 1) * sizeof *cu);
    int rc = (!v || !loss || !dv || !clip || !cu) ? RLC_ENOMEM : 0;
    double ntok = 0, sum = 0, nclip = 0;
    for (int t = b->cu[s0]; t < b->cu[s1]; t++) ntok += b->mask[t];
    rc = dist_agree(c->comm, rc);
    if (!rc) rc = dist_allreduce_f64(c->comm, &ntok, 1, DIST_SUM); /* the global token count */
    *vloss = *vclip = 0;
    if (rc || !(ntok > 0)) goto out; /* the same on every rank */
    rlc_model_zero_grads(c->critic);
    for (int s = s0, e; s < s1 && !rc; s = e) {
        e = micro_end(b, s, s1, mb);
        rlc_batch_t bv = sb_view(b, s, e, cu);
        int base = b->cu[s], n = bv.n_tokens;
        rlc_fwd_opts_t fo = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_SCORE};
        if ((rc = rlc_model_forward(c->critic, &bv, &fo, NULL, NULL, v))) break;
        rl_value_loss(v, b->values + base, b->ret + base, (size_t)n, (float)c->cfg->value_clip, loss, dv, clip);
        for (int t = 0; t < n; t++) {
            float m = b->mask[base + t];
            sum += m * loss[t];
            nclip += m * clip[t];
            dv[t] *= (float)(m / ntok);
        }
        rc = rlc_model_backward(c->critic, &bv, &fo, NULL, NULL, dv, NULL, NULL);
    }
    rc = reduce_and_step(c->comm, c->critic, c->copt, rc, lr, seed, NULL);
    double sv[2] = {sum, nclip};
    if (!rc) rc = dist_allreduce_f64(c->comm, sv, 2, DIST_SUM);
    *vloss = sv[0] / ntok;
    *vclip = sv[1] / ntok;
out:
    free(v), free(loss), free(dv), free(clip), free(cu);
    return rc;
}

/* The first log_samples kept groups of the step (sample 0 of each). With several ranks the
 * owners send theirs to rank 0, which writes them in global order. Collective (enter with an
 * agreed rc); write errors are ignored, as a sample log is best effort. */
static int log_samples(rl_ctx_t *c, const rollout_t *R, long step) {
    int G = (int)c->cfg->group_size;
    dist_comm_t *comm = c->comm;
    cJSON *mine = cJSON_CreateArray();
    int rc = mine ? 0 : RLC_ENOMEM;
    for (int g = 0; g < R->n_groups && !rc; g++) {
        if (R->groups[g].kidx >= c->cfg->log_samples) continue;
        const gen_output_t *out = gen_output(c->eng, R->groups[g].req, 0);
        if (!out) continue;
        char *prompt = rlc_utf8_dup_valid(R->groups[g].prompt_text, strlen(R->groups[g].prompt_text));
        char *comp = rlc_utf8_dup_valid(out->text, out->text_len);
        cJSON *o = cJSON_CreateObject();
        if (prompt && comp && o) {
            cJSON_AddNumberToObject(o, "k", R->groups[g].kidx);
            cJSON_AddStringToObject(o, "prompt", prompt);
            cJSON_AddStringToObject(o, "completion", comp);
            cJSON_AddStringToObject(o, "answer", R->groups[g].row->answer ? R->groups[g].row->answer : "");
            cJSON_AddNumberToObject(o, "reward", R->reward[(size_t)g * G]);
            cJSON_AddBoolToObject(o, "correct", R->correct[(size_t)g * G] > 0.5f);
            cJSON_AddNumberToObject(o, "n_tokens", out->n_tokens);
            cJSON_AddBoolToObject(o, "truncated", out->finish == GEN_FINISH_LENGTH);
            cJSON_AddItemToArray(mine, o);
        } else {
            cJSON_Delete(o);
        }
        free(prompt);
        free(comp);
    }
    char *text = NULL, *all = NULL;
    size_t *lens = NULL;
    if (comm->world > 1) {
        text = rc ? NULL : cJSON_PrintUnformatted(mine);
        lens = rlc_calloc((size_t)comm->world, sizeof *lens);
        if (!text || !lens) rc = rc ? rc : RLC_ENOMEM;
        rc = dist_agree(comm, rc);
        if (!rc) rc = dist_allgatherv(comm, text, strlen(text), &all, lens);
    }
    cJSON *rows = mine; /* with one rank, ours are all there is */
    if (!rc && comm->world > 1 && c->rank0) {
        rows = cJSON_CreateArray();
        size_t off = 0;
        for (int r = 0; r < comm->world && rows; r++) {
            cJSON *part = cJSON_ParseWithLength(all + off, lens[r]);
            off += lens[r];
            while (part && cJSON_GetArraySize(part) > 0) cJSON_AddItemToArray(rows, cJSON_DetachItemFromArray(part, 0));
            cJSON_Delete(part);
        }
    }
    if (!rc && c->rank0 && rows) {
        /* in global order: the owners' runs interleave across refill rounds */
        int nr = cJSON_GetArraySize(rows);
        for (int k = 0; k < c->cfg->log_samples; k++)
            for (int i = 0; i < nr; i++) {
                const cJSON *o = cJSON_GetArrayItem(rows, i);
                if ((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "k")) != k) continue;
                rl_sample_t s = {.step = step, .index = (long)k * G,
                                 .prompt = cJSON_GetStringValue(cJSON_GetObjectItem(o, "prompt")),
                                 .completion = cJSON_GetStringValue(cJSON_GetObjectItem(o, "completion")),
                                 .answer = cJSON_GetStringValue(cJSON_GetObjectItem(o, "answer")),
                                 .reward = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "reward")),
                                 .correct = cJSON_IsTrue(cJSON_GetObjectItem(o, "correct")),
                                 .n_tokens = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "n_tokens")),
                                 .truncated = cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated"))};
                rl_samples_put(&c->samples, &s);
            }
    }
    if (rows != mine) cJSON_Delete(rows);
    cJSON_Delete(mine);
    free(text), free(all), free(lens);
    return rc;
}

/* Local indices [*a, *b) of this rank's sequences whose global index lies in [s0, s1). */
static void local_range(const rollout_t *R, int G, long s0, long s1, int *a, int *b) {
    int n = R->n_groups * G, i = 0;
    while (i < n && (long)R->groups[i / G].kidx * G + i % G < s0) i++;
    *a = i;
    while (i < n && (long)R->groups[i / G].kidx * G + i % G < s1) i++;
    *b = i;
}

/* The loss statistics of every rank (sums; the ratio extremes by max and min). */
static int reduce_loss_stats(dist_comm_t *comm, rl_loss_stats_t *ls, long *tokens) {
    if (comm->world == 1) return 0;
    double v[12] = {ls->loss,      ls->pg,       ls->kl,        ls->ent,    ls->n_tok,  ls->clip_high,
                    ls->clip_low,  ls->clip_dual, ls->ratio_sum, ls->kl_tok, ls->ent_tok, (double)*tokens};
    double mx[2] = {ls->ratio_max, -ls->ratio_min};
    int rc = dist_allreduce_f64(comm, v, 12, DIST_SUM);
    if (!rc) rc = dist_allreduce_f64(comm, mx, 2, DIST_MAX);
    if (rc) return rc;
    ls->loss = v[0], ls->pg = v[1], ls->kl = v[2], ls->ent = v[3], ls->n_tok = v[4], ls->clip_high = v[5];
    ls->clip_low = v[6], ls->clip_dual = v[7], ls->ratio_sum = v[8], ls->kl_tok = v[9], ls->ent_tok = v[10];
    *tokens = (long)v[11];
    ls->ratio_max = mx[0], ls->ratio_min = -mx[1];
    return 0;
}

int rl_train(const rl_config_t *cfg, rl_run_opts_t *o) {
    rl_ctx_t c;
    rl_train_state_t st;
    long resumed = -1;
    memset(&st, 0, sizeof st);
    o->eval_before = o->eval_after = NAN;
    dist_comm_t one, *comm = o->comm;
    if (!comm) {
        dist_none_init(&one);
        comm = &one;
    }
    int rc = dist_agree(comm, setup(&c, cfg, o, &st, &resumed, comm));
    if (!rc) rc = setup_shared(&c, resumed);
    if (rc) {
        ctx_free(&c);
        rl_train_state_free(&st);
        return rc;
    }
    rl_signal_install();
    int G = (int)cfg->group_size, quiet = o->quiet || !c.rank0;
    micro_t micro = {(int)cfg->micro_batch, cfg->micro_tokens};
    float inv_temp = cfg->temperature > 0 ? (float)(1.0 / cfg->temperature) : 1.0f;
    rl_loss_cfg_t lc = {.clip = {(float)cfg->clip_low, (float)cfg->clip_high, (float)cfg->dual_clip},
                        .kl_coef = (float)cfg->kl_coef, .kl_kind = cfg->kl_estimator,
                        .entropy_coef = (float)cfg->entropy_coef};
    if (c.eval_data.n && st.step == 0) {
        if (!(rc = run_eval(&c, &o->eval_before)))
            LOG_INFO("held-out pass@1 before training: %.4f (%d problems x 4 samples)", o->eval_before, c.eval_data.n);
    }
    seqbuf_t b = {0};
    float *adv_seq = NULL, *rew_glob = NULL;
    for (long step = st.step; !rc && step < cfg->total_steps; step++) {
        double t0 = rlc_now();
        rl_step_metrics_t mt;
        rl_step_metrics_init(&mt);
        mt.step = step + 1;
        rollout_t R;
        rc = collect(&c, step, &R);
        double t1 = rlc_now();
        if (rc) {
            rollout_free(&c, &R);
            break;
        }
        int n = R.n_groups * G; /* this rank's sequences */
        long N = (long)R.n_glob * G; /* the step's, over all ranks */
        mt.gen_rounds = R.rounds;
        mt.kept_frac = R.seen_groups ? (double)R.n_glob / (double)R.seen_groups : 0;
        mt.pass_hist = R.hist;
        mt.n_hist = G <= 64 ? G + 1 : 0;
        mt.tokens_gen = R.tokens_gen;
        mt.acc = R.n_scored ? R.acc_sum / (double)R.n_scored : NAN;
        /* reward statistics over what was generated this step */
        mt.reward_mean = R.n_scored ? R.reward_sum / (double)R.n_scored : NAN;
        double var = 0, lsum = 0, lmax = 0, trunc = 0;
        b.nseq = b.ntok = 0;
        for (int g = 0; g < R.n_groups && !rc; g++)
            for (int i = 0; i < G && !rc; i++) {
                const gen_output_t *out = gen_output(c.eng, R.groups[g].req, i);
                rc = sb_add(&b, R.groups[g].prompt, R.groups[g].n_prompt, out->tokens, out->n_tokens, out->trainable);
                lsum += out->n_tokens;
                if (out->n_tokens > lmax) lmax = out->n_tokens;
                trunc += out->finish == GEN_FINISH_LENGTH;
            }
        float *rg = rlc_realloc(rew_glob, (size_t)(N ? N : 1) * sizeof *rew_glob);
        if (rg) rew_glob = rg;
        else if (!rc) rc = RLC_ENOMEM;
        rc = dist_agree(comm, rc);
        if (!rc) rc = gather_seq_values(comm, &R, G, R.reward, rew_glob);
        if (!rc && comm->world > 1) {
            double sums[2] = {lsum, trunc};
            rc = dist_allreduce_f64(comm, sums, 2, DIST_SUM);
            if (!rc) rc = dist_allreduce_f64(comm, &lmax, 1, DIST_MAX);
            lsum = sums[0], trunc = sums[1];
        }
        for (long k = 0; k < N && !rc; k++) var += (rew_glob[k] - mt.reward_mean) * (rew_glob[k] - mt.reward_mean);
        mt.reward_std = N > 1 ? sqrt(var / (N - 1)) : NAN;
        mt.resp_len_mean = N ? lsum / N : NAN;
        mt.resp_len_max = lmax;
        mt.truncated_frac = N ? trunc / N : NAN;
        double t2 = rlc_now();
        rl_loss_stats_t ls;
        rl_loss_stats_init(&ls);
        double gnorm = NAN, vloss = NAN, vclip = NAN;
        float lr = (float)rl_lr_at(cfg->lr_schedule, cfg->lr, step, cfg->warmup_steps, cfg->total_steps,
                                   cfg->min_lr_ratio);
        if (!rc && N > 0) {
            if (cfg->mask_truncated) {
                uint8_t *tr = rlc_calloc((size_t)(n ? n : 1), 1);
                for (int g = 0, k = 0; tr && g < R.n_groups; g++)
                    for (int i = 0; i < G; i++, k++)
                        tr[k] = gen_output(c.eng, R.groups[g].req, i)->finish == GEN_FINISH_LENGTH;
                if (tr) rl_mask_truncated(b.mask, b.cu, n, tr);
                free(tr);
            }
            if (cfg->algo == RL_ADV_GAE) {
                rc = ppo_advantages(&c, &R, &b, &micro);
            } else {
                float *a = rlc_realloc(adv_seq, (size_t)(n ? n : 1) * sizeof *adv_seq);
                if (a) adv_seq = a;
                rc = dist_agree(comm, a ? 0 : RLC_ENOMEM);
                if (!rc) rc = compute_advantages(&c, &R, &b, rew_glob, adv_seq);
                if (!rc) rl_adv_to_tokens(adv_seq, b.cu, n, b.mask, b.adv);
            }
            if (!rc && cfg->kl_coef > 0) rc = sb_forward(c.ref, &b, &micro, inv_temp, RLC_HEAD_LM, b.ref_logp);
            long mini = cfg->mini_batch > 0 ? cfg->mini_batch : N;
            int updates = (int)(((N + mini - 1) / mini) * cfg->ppo_epochs);
            int on_policy = updates == 1;
            if (!rc && !on_policy) rc = sb_forward(c.policy, &b, &micro, inv_temp, RLC_HEAD_LM, b.old_logp);
            rc = dist_agree(comm, rc);
            int max_resp = (int)cfg->max_new_tokens;
            update_cfg_t u = {.lc = &lc, .agg_mode = cfg->loss_agg, .max_resp_len = max_resp, .micro = micro,
                              .on_policy = on_policy, .want_entropy = 1, .inv_temp = inv_temp};
            long tokens = 0;
            double vl_sum = 0, vc_sum = 0;
            int nup = 0;
            /* the updates walk the global batch; each rank trains on its sequences inside it */
            for (long ep = 0; ep < cfg->ppo_epochs && !rc; ep++)
                for (long s0 = 0; s0 < N && !rc; s0 += mini) {
                    long s1 = s0 + mini < N ? s0 + mini : N;
                    int a0, a1;
                    local_range(&R, G, s0, s1, &a0, &a1);
                    uint32_t seed = (uint32_t)mix64((uint64_t)cfg->seed, (uint64_t)(step * 1000 + nup));
                    if (cfg->algo == RL_ADV_GAE) {
                        double vl, vc;
                        rc = critic_update(&c, &b, a0, a1, &micro, (float)cfg->critic_lr, seed, &vl, &vc);
                        vl_sum += vl;
                        vc_sum += vc;
                    }
                    if (!rc) rc = policy_update(comm, c.policy, c.opt, &b, a0, a1, &u, lr, seed, &ls, &gnorm, &tokens);
                    nup++;
                }
            if (!rc) rc = reduce_loss_stats(comm, &ls, &tokens);
            if (rc == RLC_EINVAL && strstr(rlc_errmsg(), "non-finite"))
                rlc_err_ctx(rc, "step %ld (lower the learning rate or enable max_grad_norm)", step + 1);
            mt.tokens_train = tokens;
            if (nup) {
                /* stats summed over every update of the step: report per-update averages */
                mt.loss = ls.loss / nup;
                mt.pg_loss = ls.pg / nup;
                mt.kl = ls.n_tok > 0 ? ls.kl_tok / ls.n_tok : NAN;
                mt.entropy = ls.n_tok > 0 ? ls.ent_tok / ls.n_tok : NAN;
                mt.clip_frac = ls.n_tok > 0 ? (ls.clip_high + ls.clip_low + ls.clip_dual) / ls.n_tok : NAN;
                mt.clip_frac_high = ls.n_tok > 0 ? ls.clip_high / ls.n_tok : NAN;
                mt.clip_frac_low = ls.n_tok > 0 ? ls.clip_low / ls.n_tok : NAN;
                mt.ratio_mean = ls.n_tok > 0 ? ls.ratio_sum / ls.n_tok : NAN;
                mt.ratio_max = ls.ratio_max;
                if (cfg->algo == RL_ADV_GAE) {
                    vloss = vl_sum / nup;
                    vclip = vc_sum / nup;
                }
            }
        } else if (!rc && c.rank0) {
            LOG_WARN("step %ld: no group passed the filters after %ld round(s); no update", step + 1, R.rounds);
        }
        mt.grad_norm = gnorm;
        mt.value_loss = vloss;
        mt.value_clip_frac = vclip;
        mt.lr = lr;
        double t3 = rlc_now();
        /* the step is as slow as its slowest rank */
        double tm[4] = {t1 - t0, t2 - t1, t3 - t2, t3 - t0};
        if (!rc) rc = dist_allreduce_f64(comm, tm, 4, DIST_MAX);
        mt.t_rollout = tm[0];
        mt.t_score = tm[1];
        mt.t_train = tm[2];
        mt.t_total = tm[3];
        mt.tok_per_s = mt.t_total > 0 ? (double)R.tokens_gen / mt.t_total : NAN;
        cJSON *extra = rlc_metrics_json(&R.rmetrics);
        if (c.eval_data.n && cfg->eval_every > 0 && (step + 1) % cfg->eval_every == 0 && !rc) {
            double p1;
            if (!(rc = run_eval(&c, &p1))) {
                if (extra) cJSON_AddNumberToObject(extra, "eval_pass1", p1);
                o->eval_after = p1;
            }
        }
        mt.extra = extra;
        if (!rc) rc = log_samples(&c, &R, step + 1);
        if (!rc && c.rank0) rc = rl_metrics_put(&c.metrics, &mt);
        rc = dist_agree(comm, rc);
        if (!rc) print_step(&mt, quiet);
        if (!rc && o->on_step) o->on_step(o->user, &mt);
        cJSON_Delete(extra);
        rollout_free(&c, &R);
        if (rc) break;
        st.step = step + 1;
        st.lr = lr;
        /* a signal on any rank stops every rank after the same step, with one checkpoint */
        int last = st.step == cfg->total_steps, sig = dist_agree_signal(comm, rl_signal_pending());
        if ((cfg->save_every > 0 && st.step % cfg->save_every == 0) || last || sig) rc = save_ckpt(&c, &st);
        if (!rc && sig) {
            if (c.rank0) LOG_WARN("signal %d: checkpoint written at step %ld; stopping", sig, st.step);
            rc = rlc_errc(RLC_EINTR, "interrupted at step %ld (checkpoint saved; --resume continues)", st.step);
            comm->error_agreed = 1; /* every rank saw the same signal verdict */
        }
    }
    if (!rc && c.eval_data.n && isnan(o->eval_after)) rc = run_eval(&c, &o->eval_after);
    if (!rc && c.eval_data.n) LOG_INFO("held-out pass@1 after training: %.4f", o->eval_after);
    free(adv_seq);
    free(rew_glob);
    sb_free(&b);
    rl_signal_uninstall();
    ctx_free(&c);
    rl_train_state_free(&st);
    return rc;
}

/* ------------------------------------------------------------------ SFT */

void rl_sft_defaults(rl_sft_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->template_name = "raw";
    o->epochs = 1;
    o->batch_size = 32;
    o->micro_batch = 8;
    o->max_len = 1024;
    o->lr = 1e-5;
    o->min_lr_ratio = 0.1;
    o->weight_decay = 0.0;
    o->max_grad_norm = 1.0;
    o->lr_schedule = RL_LR_COSINE;
    o->warmup_steps = 0;
    o->seed = 0;
    o->keep_last = 2;
    o->device = "cpu";
}

typedef struct {
    int32_t *ids;
    int n, n_prompt;
} sft_ex_t;

/* Render, tokenize and check every example before training starts. */
static int sft_prepare(const rl_sft_opts_t *o, const tok_t *tok, data_tpl_t tpl, sft_ex_t **out, int *count,
                       long *truncated) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, o->data);
    if (rc) return rc;
    sft_ex_t *ex = NULL;
    int n = 0, cap = 0;
    cJSON *row;
    int32_t eos = tok_eos_id(tok);
    while ((rc = rlc_jsonl_next(&r, &row)) > 0) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", o->data, r.lineno);
        const char *pk = o->prompt_key, *rk = o->response_key;
        if (!pk) pk = cJSON_GetObjectItemCaseSensitive(row, "prompt") ? "prompt" : "problem";
        if (!rk) rk = cJSON_GetObjectItemCaseSensitive(row, "response") ? "response" : "solution";
        const char *ptxt = NULL, *rtxt = NULL;
        if ((rc = rlc_json_get_str(row, pk, &ptxt, 1, where)) || (rc = rlc_json_get_str(row, rk, &rtxt, 1, where))) {
            cJSON_Delete(row);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            sft_ex_t *q = rlc_realloc(ex, (size_t)cap * sizeof *q);
            if (!q) {
                rc = RLC_ENOMEM;
                cJSON_Delete(row);
                break;
            }
            ex = q;
        }
        int32_t *p = NULL, *resp = NULL;
        int np = 0, nr = 0;
        rc = tts_encode_problem(tok, tpl, o->chat_family, ptxt, &p, &np, NULL);
        if (!rc) rc = tok_encode(tok, rtxt, strlen(rtxt), 0, &resp, &nr);
        cJSON_Delete(row);
        if (rc) {
            free(p);
            free(resp);
            rlc_err_ctx(rc, "%s", where);
            break;
        }
        int total = np + nr + (eos >= 0);
        if (total > o->max_len) {
            (*truncated)++;
            total = (int)o->max_len;
        }
        if (np >= total) {
            free(p);
            free(resp);
            rc = rlc_errc(RLC_EINVAL, "%s: the prompt alone fills max_len %ld", where, o->max_len);
            break;
        }
        int32_t *all = rlc_malloc((size_t)(np + nr + 1) * sizeof *all);
        if (!all) {
            free(p);
            free(resp);
            rc = RLC_ENOMEM;
            break;
        }
        memcpy(all, p, (size_t)np * sizeof *all);
        memcpy(all + np, resp, (size_t)nr * sizeof *all);
        if (eos >= 0) all[np + nr] = eos;
        free(p);
        free(resp);
        ex[n++] = (sft_ex_t){all, total, np};
    }
    rlc_jsonl_close(&r);
    if (rc < 0 || !n) {
        for (int i = 0; i < n; i++) free(ex[i].ids);
        free(ex);
        return rc < 0 ? rc : rlc_errc(RLC_EINVAL, "%s: no usable examples", o->data);
    }
    *out = ex;
    *count = n;
    return 0;
}

int rl_sft(const rl_sft_opts_t *o) {
    dist_comm_t one, *comm = o->comm;
    if (!comm) {
        dist_none_init(&one);
        comm = &one;
    }
    int rc = 0, rank0 = comm->rank == 0;
    data_tpl_t tpl;
    if (!o->model || !o->data || !o->run_dir) rc = rlc_errc(RLC_EINVAL, "sft needs --model, --data and --run-dir");
    else if (o->batch_size < 1 || o->micro_batch < 1 || o->batch_size % o->micro_batch)
        rc = rlc_errc(RLC_EINVAL, "batch_size (%ld) must be a positive multiple of micro_batch (%ld)", o->batch_size,
                      o->micro_batch);
    else if (o->micro_tokens < 0) rc = rlc_errc(RLC_EINVAL, "micro_tokens must be 0 (no limit) or a token count");
    else if (!(o->lr > 0)) rc = rlc_errc(RLC_EINVAL, "lr must be positive");
    else if (o->max_len < 2) rc = rlc_errc(RLC_EINVAL, "max_len must be at least 2");
    else rc = data_template_from_name(o->template_name, &tpl);
    if ((rc = dist_agree(comm, rc))) return rc;
    rlc_backend_t *be = NULL;
    rlc_model_t *m = NULL;
    tok_t *tok = NULL;
    rlc_optim_t *opt = NULL;
    sft_ex_t *ex = NULL;
    int nex = 0;
    long truncated = 0, steps = 1;
    rl_jsonl_writer_t mw = {0};
    rl_train_state_t st;
    memset(&st, 0, sizeof st);
    char *ckdir = NULL;
    long ckstep = 0;
    seqbuf_t b = {0};
    uint32_t *order = NULL;
    const char *src = NULL;
    /* ---- this rank alone */
    if (rank0 && (rc = fs_mkdir_p(o->run_dir))) goto agree;
    if (o->resume && (rc = rl_ckpt_latest(o->run_dir, 0, &ckdir, &ckstep)) < 0) goto agree;
    rc = 0;
    src = ckdir ? ckdir : o->model;
    int ordinal = comm->world > 1 && strcmp(o->device, "cpu")
                      ? dist_device_ordinal(comm, o->device, rlc_backend_cuda_devices(NULL, 0))
                      : 0;
    if ((rc = rlc_backend_create(&be, o->device, ordinal, dist_cpu_threads(comm, (int)o->threads)))) goto agree;
    if ((rc = rlc_model_load(&m, src, be))) goto agree;
    if ((rc = tok_load(&tok, src))) goto agree;
    if ((rc = sft_prepare(o, tok, tpl, &ex, &nex, &truncated))) goto agree;
    if (truncated) LOG_WARN("%ld example(s) longer than max_len %ld were truncated", truncated, o->max_len);
    steps = o->steps > 0 ? o->steps : (long)((double)nex * o->epochs / o->batch_size);
    if (steps < 1) steps = 1;
    rlc_adamw_cfg_t ac = {.lr = (float)o->lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                          .weight_decay = (float)o->weight_decay, .max_grad_norm = (float)o->max_grad_norm};
    if ((rc = rlc_optim_create(&opt, m, &ac))) goto agree;
    micro_t micro = {(int)o->micro_batch, o->micro_tokens};
    if ((rc = reserve_acts(m, &micro, (int)o->max_len, 1))) goto agree;
    report_memory(m, &micro, (int)o->max_len);
    if (ckdir) {
        rl_ckpt_model_t ms = {NULL, m, opt};
        if ((rc = rl_ckpt_load_state(ckdir, &st, &ms, 1))) goto agree;
        LOG_INFO("resuming SFT from %s (step %ld)", ckdir, st.step);
    }
    /* The example order: a Philox shuffle per epoch; the state is (epoch, position). */
    order = rlc_malloc((size_t)nex * sizeof *order);
    if (!order) rc = RLC_ENOMEM;
agree:
    /* ---- all ranks: the same run, checkpoint and weights everywhere; rank 0 opens the files */
    if ((rc = dist_agree(comm, rc))) goto out;
    if (comm->world > 1) {
        char text[1024];
        snprintf(text, sizeof text,
                 "model %s\ndata %s (%d examples)\nrun_dir %s\nresume step %ld\nsteps %ld\nbatch_size %ld\n"
                 "micro_batch %ld\nmax_len %ld\nlr %.17g\nseed %ld\ntemplate %s\n",
                 o->model, o->data, nex, o->run_dir, ckdir ? st.step : -1, steps, o->batch_size, o->micro_batch,
                 o->max_len, o->lr, o->seed, o->template_name ? o->template_name : "");
        if ((rc = dist_verify_same_text(comm, text, "SFT setup"))) goto out;
    }
    if ((rc = dist_agree(comm, dist_attach_backend(comm, be)))) goto out;
    if (comm->world > 1 &&
        (rc = dist_verify_replicas(comm, be, m->params, RLC_BUF_PARAM, m->n_params, "the initial weights", NULL)))
        goto out;
    if (rank0) rc = open_run_files(o->run_dir, ckdir ? st.step : -1, &mw, NULL);
    if ((rc = dist_agree(comm, rc))) goto out;
    long epoch = -1;
    rlc_progress_t pg;
    rlc_progress_begin(&pg, "sft", steps - st.step);
    rl_signal_install();
    for (long step = st.step; step < steps && !rc; step++) {
        double t0 = rlc_now();
        b.nseq = b.ntok = 0;
        /* this rank's share of the step's examples (global positions [k0, k1)) */
        long k0, k1;
        dist_split(o->batch_size, comm->rank, comm->world, &k0, &k1);
        for (long k = k0; k < k1 && !rc; k++) {
            long gidx = step * o->batch_size + k, ep = gidx / nex, pos = gidx % nex;
            if (ep != epoch) { /* shuffle of epoch ep is a pure function of (seed, ep) */
                rlc_rng_t r;
                rlc_rng_init(&r, (uint64_t)o->seed, (uint64_t)ep + 1);
                for (int i = 0; i < nex; i++) order[i] = (uint32_t)i;
                for (int i = nex - 1; i > 0; i--) {
                    uint32_t j = rlc_rng_below(&r, (uint32_t)i + 1), t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                epoch = ep;
            }
            const sft_ex_t *e = &ex[order[pos]];
            rc = sb_add(&b, e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt, NULL);
        }
        /* token-mean cross-entropy over the response tokens of every rank: dlogp = -1/N */
        double ntok = 0;
        for (int t = 0; t < b.ntok; t++) ntok += b.mask[t];
        rc = dist_agree(comm, rc);
        if (rc) break;
        if ((rc = dist_allreduce_f64(comm, &ntok, 1, DIST_SUM))) break;
        for (int t = 0; t < b.ntok; t++) b.adv[t] = ntok > 0 ? -(float)(b.mask[t] / ntok) : 0;
        float lr = (float)rl_lr_at(o->lr_schedule, o->lr, step, o->warmup_steps, steps, o->min_lr_ratio);
        int32_t *cu = rlc_malloc((size_t)(o->micro_batch + 1) * sizeof *cu);
        float *lp = rlc_malloc((size_t)(b.ntok ? b.ntok : 1) * sizeof(float));
        if (!cu || !lp) rc = RLC_ENOMEM;
        rlc_model_zero_grads(m);
        double loss = 0, correct_tok = 0;
        for (int s0 = 0, s1; s0 < b.nseq && !rc; s0 = s1) {
            s1 = micro_end(&b, s0, b.nseq, &micro);
            rlc_batch_t v = sb_view(&b, s0, s1, cu);
            rlc_fwd_opts_t fo = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_LM, .skip_head = 1};
            rc = rlc_model_forward(m, &v, &fo, NULL, NULL, NULL);
            if (!rc) rc = rlc_model_backward(m, &v, &fo, b.adv + b.cu[s0], NULL, NULL, lp + b.cu[s0], NULL);
        }
        for (int t = 0; t < b.ntok && !rc; t++) {
            loss -= b.mask[t] * lp[t];
            correct_tok += b.mask[t] * (lp[t] > -0.6931472f); /* p > 1/2: the argmax */
        }
        double gnorm = NAN;
        rc = reduce_and_step(comm, m, opt, rc, lr, (uint32_t)step, &gnorm);
        free(cu);
        free(lp);
        if (rc) break;
        double sums[2] = {loss, correct_tok}, tt = rlc_now() - t0;
        int64_t ntrain = b.ntok;
        if (comm->world > 1 && ((rc = dist_allreduce_f64(comm, sums, 2, DIST_SUM)) ||
                                (rc = dist_allreduce_i64(comm, &ntrain, 1, DIST_SUM)) ||
                                (rc = dist_allreduce_f64(comm, &tt, 1, DIST_MAX))))
            break;
        loss = sums[0], correct_tok = sums[1];
        rl_step_metrics_t mt;
        rl_step_metrics_init(&mt);
        mt.step = step + 1;
        mt.loss = ntok > 0 ? loss / ntok : NAN;
        mt.grad_norm = gnorm;
        mt.lr = lr;
        mt.tokens_train = (long)ntrain;
        mt.t_train = mt.t_total = tt;
        mt.tok_per_s = mt.t_total > 0 ? (double)ntrain / mt.t_total : NAN;
        cJSON *extra = cJSON_CreateObject();
        if (extra) cJSON_AddNumberToObject(extra, "token_acc", ntok > 0 ? correct_tok / ntok : 0);
        mt.extra = extra;
        if (rank0) rc = rl_metrics_put(&mw, &mt);
        rc = dist_agree(comm, rc);
        if (!rc && o->on_step) o->on_step(o->user, &mt);
        cJSON_Delete(extra);
        if (rc) break;
        char extra_s[64];
        snprintf(extra_s, sizeof extra_s, "loss %.4f", mt.loss);
        rlc_progress_update(&pg, step + 1 - (ckdir ? ckstep : 0), extra_s);
        if (!o->quiet && rank0 && (step + 1) % 10 == 0 && !pg.tty)
            printf("sft step %ld | loss %.4f | gnorm %.3f | lr %.3g | %.2f s\n", step + 1, mt.loss, gnorm, lr,
                   mt.t_total);
        st.step = step + 1;
        int last = st.step == steps, sig = dist_agree_signal(comm, rl_signal_pending());
        if ((o->save_every > 0 && st.step % o->save_every == 0) || last || sig) {
            uint64_t h = 0;
            if (comm->world > 1 &&
                !(rc = dist_verify_replicas(comm, be, m->params, RLC_BUF_PARAM, m->n_params, "the weights", &h)))
                LOG_INFO("step %ld: weights identical on all %d ranks (fnv64 %016llx)", st.step, comm->world,
                         (unsigned long long)h);
            if (!rc && rank0) {
                rl_ckpt_model_t ms = {NULL, m, opt};
                sync_writer(&mw);
                st.data_epoch = (st.step * o->batch_size) / nex;
                st.data_cursor = (st.step * o->batch_size) % nex;
                st.seed = (uint64_t)o->seed;
                rc = rl_ckpt_save(o->run_dir, &st, &ms, 1, o->save_dtype, (int)o->keep_last, NULL);
            }
            rc = dist_agree(comm, rc);
        }
        if (!rc && sig) {
            rc = rlc_errc(RLC_EINTR, "interrupted at step %ld (checkpoint saved; --resume continues)", st.step);
            comm->error_agreed = 1;
        }
    }
    rlc_progress_end(&pg);
    rl_signal_uninstall();
out:
    for (int i = 0; i < nex; i++) free(ex[i].ids);
    free(ex);
    free(order);
    sb_free(&b);
    free(ckdir);
    rl_jsonl_writer_close(&mw);
    rl_train_state_free(&st);
    rlc_optim_free(opt);
    if (tok) tok_free(tok);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    return rc;
}
