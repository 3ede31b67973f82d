/* The GRPO / Dr.GRPO / RLOO / REINFORCE++ / PPO training loop: setup, held-out evaluation,
 * checkpoints, and the step itself, which reads rollout (rollout.c: sample, score, filter)
 * → pack → update (update.c: advantages, losses, optimizer step) → report → save. The
 * packed batch is batch.c's, the supervised phase is sft.c. One engine and one model:
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
#include "rl/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/encode.h"
#include "rewards/eval.h"
#include "rl/ckpt.h"
#include "rl/rundir.h"
#include "rl/signal.h"
#include "rl/step.h"

int rl_open_run_files(const char *run_dir, long keep_step, rl_jsonl_writer_t *metrics, rl_jsonl_writer_t *samples) {
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

static void ctx_free(rl_ctx_t *c) {
    rl_tb_close(&c->tb);
    gen_engine_free(c->eng);
    rlc_tools_free(c->tools);
    free(c->otc_n);
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
    rl_rundir_release(&c->rundir);
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

/* The held-out result as one log line ("before" or "after" training). */
static void log_eval(const rl_ctx_t *c, const char *when, double pass1, double tool_calls) {
    char calls[48] = "";
    if (c->tools) snprintf(calls, sizeof calls, ", %.2f tool calls per sample", tool_calls);
    LOG_INFO("held-out pass@1 %s training: %.4f (%d problems x 4 samples%s)", when, pass1, c->eval_data.n, calls);
}

/* Held-out pass@1 (4 samples per problem at the training temperature). With several ranks
 * each evaluates a contiguous share of the problems and the correct counts are summed. */
static int run_eval(rl_ctx_t *c, double *pass1, double *tool_calls, double *tokens) {
    const int K = 4;
    rlc_eval_opts_t eo;
    rlc_eval_opts_default(&eo);
    eo.tpl = c->tpl;
    eo.samples = K;
    eo.temperature = (float)c->cfg->temperature;
    eo.top_p = (float)c->cfg->top_p;
    eo.top_k = (int)c->cfg->top_k;
    eo.max_new_tokens = (int)c->cfg->max_new_tokens;
    eo.seed = (uint64_t)c->cfg->seed ^ 0xE7A1ull;
    eo.records = 0;
    if (c->tools) { /* held-out problems are solved with the tools training uses */
        eo.tool_markers = c->tool_markers;
        eo.n_tool_markers = c->n_tool_markers;
        eo.max_tool_calls = (int)c->cfg->max_tool_calls;
    }
    dist_comm_t *comm = c->comm;
    long lo = 0, hi = c->eval_data.n;
    dist_split(c->eval_data.n, comm->rank, comm->world, &lo, &hi);
    data_set_t part = {.rows = c->eval_data.rows + lo, .n = (int)(hi - lo)};
    eo.first_index = (uint64_t)lo; /* this rank's problems keep the seeds they have in the whole set */
    rlc_eval_result_t r;
    memset(&r, 0, sizeof r);
    int rc = part.n ? rlc_eval_run(c->eng, c->tok, &part, &eo, NULL, &r) : 0;
    double v[4] = {part.n ? (double)llround(r.pass1 * part.n * K) : 0, (double)part.n * K,
                   part.n ? (double)llround(r.tool_calls * part.n * K) : 0,
                   part.n ? (double)llround(r.tokens * part.n * K) : 0};
    rlc_eval_result_free(&r);
    rc = dist_agree(comm, rc);
    if (!rc && comm->world > 1) rc = dist_allreduce_f64(comm, v, 4, DIST_SUM);
    if (!rc) {
        *pass1 = v[1] > 0 ? v[0] / v[1] : 0;
        *tool_calls = v[1] > 0 ? v[2] / v[1] : 0;
        *tokens = v[1] > 0 ? v[3] / v[1] : 0;
    }
    return rc;
}

/* The checks that need no model, the data and the reward. */
static int setup_inputs(rl_ctx_t *c, const rl_config_t *cfg) {
    int rc = rl_config_validate(cfg);
    if (rc) return rc;
    if (!cfg->model || !cfg->model[0]) return rlc_errc(RLC_EINVAL, "model: a model directory is required (--model)");
    if (!cfg->data || !cfg->data[0]) return rlc_errc(RLC_EINVAL, "data: a JSONL dataset is required (--data)");
    if (!cfg->run_dir || !cfg->run_dir[0]) return rlc_errc(RLC_EINVAL, "run_dir: a run directory is required");
    if ((rc = data_template_from_name(cfg->template_name, &c->tpl))) return rc;
    data_load_opts_t lo = {.profile = "auto", .strict = cfg->strict};
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
    return make_reward(cfg->reward, &c->reward);
}

/* A model that must have the policy's shape (the reference model, a critic's trunk). */
static int check_fits(const rlc_model_t *m, const rlc_model_t *policy, const char *key, const char *dir) {
    const rlc_model_config_t *a = &m->cfg, *b = &policy->cfg;
    if (a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size && a->num_layers == b->num_layers)
        return 0;
    return rlc_errc(RLC_EINVAL, "%s %s does not fit the policy (vocab %d, hidden %d, %d layers; the policy has %d, "
                                "%d, %d)",
                    key, dir, a->vocab_size, a->hidden_size, a->num_layers, b->vocab_size, b->hidden_size,
                    b->num_layers);
}

const char *rl_aux_name(const rl_config_t *cfg) { return cfg->algo == RL_ADV_OREAL ? "reward_model" : "critic"; }

/* Backend, policy (from the checkpoint when resuming), tokenizer, reference model,
 * optimizer, critic. */
static int setup_models(rl_ctx_t *c, const char *ckdir) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    /* several ranks on a node: each its own GPU (asking the driver only then) */
    int ordinal = comm->world > 1 && strcmp(cfg->device, "cpu")
                      ? dist_device_ordinal(comm, cfg->device, rlc_backend_cuda_devices(NULL, 0))
                      : 0;
    int rc = rlc_backend_create(&c->be, cfg->device, ordinal, dist_cpu_threads(comm, (int)cfg->threads));
    if (!rc) rc = rlc_model_load(&c->policy, ckdir ? ckdir : cfg->model, c->be);
    if (rc) return rc;
    c->policy->recompute = cfg->recompute;
    if ((rc = tok_load(&c->tok, ckdir ? ckdir : cfg->model))) return rc;
    tok_set_model_vocab(c->tok, c->policy->cfg.vocab_size);
    if ((rc = tok_set_chat_vars(c->tok, cfg->chat_vars))) return rlc_err_ctx(rc, "chat_vars");
    if (cfg->chat_date && cfg->chat_date[0] && (rc = tok_set_chat_date(c->tok, cfg->chat_date)))
        return rlc_err_ctx(rc, "chat_date");
    if (cfg->kl_coef > 0) {
        const char *refp = cfg->ref_model && cfg->ref_model[0] ? cfg->ref_model : cfg->model;
        if ((rc = rlc_model_load(&c->ref, refp, c->be)) || (rc = check_fits(c->ref, c->policy, "ref_model", refp)))
            return rc;
    }
    rlc_adamw_cfg_t ac = {.lr = (float)cfg->lr, .beta1 = (float)cfg->adam_beta1, .beta2 = (float)cfg->adam_beta2,
                          .eps = (float)cfg->adam_eps, .weight_decay = (float)cfg->weight_decay,
                          .max_grad_norm = (float)cfg->max_grad_norm};
    rl_zero_cfg_t zc = {(int)cfg->zero_stage, cfg->overlap_comm, rl_bucket_elems(cfg->reduce_bucket_mb)};
    if ((rc = rl_zero_optim_create(c->comm, &zc, c->policy, &ac, "the policy's", &c->opt))) return rc;
    if (cfg->algo == RL_ADV_GAE || cfg->algo == RL_ADV_OREAL) { /* the critic, or OREAL's token reward model */
        char *cdir = ckdir ? fs_join(ckdir, rl_aux_name(cfg)) : NULL;
        const char *src = cdir ? cdir : (cfg->critic_model && cfg->critic_model[0] ? cfg->critic_model : cfg->model);
        rc = rlc_model_load(&c->critic, src, c->be);
        if (!rc) rc = check_fits(c->critic, c->policy, "critic_model", src);
        free(cdir);
        if (!rc && c->critic->score_labels == 0) rc = rlc_model_add_score_head(c->critic, 1, (uint64_t)cfg->seed, 0.0f);
        if (rc) return rc;
        c->critic->recompute = cfg->recompute;
        rlc_adamw_cfg_t cc = ac;
        cc.lr = (float)(cfg->algo == RL_ADV_OREAL ? cfg->oreal_rm_lr : cfg->critic_lr);
        if ((rc = rl_zero_optim_create(c->comm, &zc, c->critic, &cc, rl_aux_name(cfg), &c->copt)))
            return rc;
    }
    return 0;
}

/* Everything a rank does alone before training: data, reward, the run directory (rank 0),
 * models, state, engine. The caller agrees on the result before setup_shared. */
static int setup(rl_ctx_t *c, const rl_config_t *cfg, rl_run_opts_t *o, rl_train_state_t *st, long *resumed_from,
                 dist_comm_t *comm) {
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->comm = comm;
    c->rank0 = comm->rank == 0;
    c->rundir.fd = -1;
    *resumed_from = -1;
    memset(st, 0, sizeof *st);
    int rc = setup_inputs(c, cfg);
    if (rc) return rc;
    /* the run directory's rules before anything is loaded or written (docs/training.md) */
    const char *models[3] = {cfg->model, cfg->ref_model, cfg->critic_model};
    if (c->rank0 && (rc = rl_rundir_claim(&c->rundir, cfg->run_dir, models, 3, o->resume, o->overwrite))) return rc;
    char *ckdir = NULL;
    long ckstep = 0;
    if (o->resume && (rc = rl_rundir_resume_point(cfg->run_dir, &ckdir, &ckstep)) < 0) return rc;
    if ((rc = setup_models(c, ckdir))) goto out;
    /* every prompt encoded once now: bad rows are skipped (or fatal with strict) before step 1,
     * and a resumed run sees the same rows */
    long ctx = c->policy->cfg.max_context - 1;
    long lim = cfg->max_prompt_len < ctx ? cfg->max_prompt_len : ctx;
    if (cfg->tool_prompt && (rc = rl_tools_prompt_rows(c))) goto out;
    if ((rc = data_encode_all(c->tok, c->tpl, NULL, cfg->data, lim, lim < ctx ? "max_prompt_len" : "the model's context",
                              cfg->strict, &c->data, NULL)))
        goto out;
    if (c->eval_data.n && (rc = data_encode_all(c->tok, c->tpl, NULL, cfg->eval_data, ctx, "the model's context",
                                                cfg->strict, &c->eval_data, NULL)))
        goto out;
    if (ckdir) {
        rl_ckpt_model_t ms[2] = {{NULL, c->policy, c->opt}, {rl_aux_name(c->cfg), c->critic, c->copt}};
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
    if ((rc = rl_tools_setup(c, st))) goto out;
    if (c->tools) ec.tool_batch_fn = rlc_tools_engine_batch, ec.tool_user = c->tools;
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
/* RUN/config_history.jsonl: one line per start of the run — fresh or resumed, at which
 * step, and the keys a resume's command line changed. */
static int record_history(const rl_config_t *cfg, long resumed_from, const cJSON *overrides) {
    char *hp = fs_join(cfg->run_dir, "config_history.jsonl");
    cJSON *j = cJSON_CreateObject();
    int rc = hp && j ? 0 : RLC_ENOMEM;
    if (!rc) {
        cJSON_AddStringToObject(j, "event", resumed_from >= 0 ? "resume" : "start");
        cJSON_AddNumberToObject(j, "step", resumed_from >= 0 ? (double)resumed_from : 0);
        cJSON_AddNumberToObject(j, "unix_time", (double)time(NULL));
        cJSON_AddItemToObject(j, "overrides", overrides ? cJSON_Duplicate(overrides, 1) : cJSON_CreateObject());
        rl_jsonl_writer_t w = {0};
        rc = rl_jsonl_writer_open(&w, hp);
        if (!rc) rc = rl_jsonl_writer_put(&w, j);
        rl_jsonl_writer_close(&w);
    }
    cJSON_Delete(j);
    free(hp);
    return rc;
}

static int setup_shared(rl_ctx_t *c, long resumed_from, const cJSON *overrides) {
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
    if (!rc && c->rank0 && !strcmp(cfg->ratio_level, "sequence") && (cfg->clip_low > 0.01 || cfg->clip_high > 0.01))
        LOG_WARN("ratio_level sequence (GSPO) clips sequence ratios at 1 - %g / 1 + %g; GSPO's paper uses 3e-4 / 4e-4 "
                 "(--clip-low, --clip-high; it matters when a batch takes several updates)",
                 cfg->clip_low, cfg->clip_high);
    if (!rc && c->rank0) {
        char *cfgp = fs_join(cfg->run_dir, "config.json");
        rc = cfgp ? rl_config_write(cfg, cfgp) : RLC_ENOMEM;
        free(cfgp);
        if (!rc) rc = record_history(cfg, resumed_from, overrides);
        if (!rc) rc = rl_open_run_files(cfg->run_dir, resumed_from >= 0 ? resumed_from : -1, &c->metrics, &c->samples);
        if (!rc && cfg->tensorboard) rc = rl_tb_open(&c->tb, cfg->run_dir, resumed_from);
    }
    return dist_agree(comm, rc);
}

void rl_sync_writer(rl_jsonl_writer_t *w) {
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
    rl_ckpt_model_t ms[2] = {{NULL, c->policy, c->opt}, {rl_aux_name(c->cfg), c->critic, c->copt}};
    /* sharded optimizer state: every rank writes its shard for rank 0's save to move in */
    rc = dist_agree(comm, rl_ckpt_write_shards(c->cfg->run_dir, st->step, ms, c->critic ? 2 : 1));
    if (rc) return rc;
    if (c->rank0) {
        rl_sync_writer(&c->metrics);
        rl_sync_writer(&c->samples);
        rc = rl_tb_flush(&c->tb);
        data_cursor_t cur = data_iter_cursor(&c->it);
        st->data_epoch = cur.epoch;
        st->data_cursor = cur.pos;
        st->seed = (uint64_t)c->cfg->seed;
        char *dir = NULL;
        cJSON *keep = st->extra;
        st->extra = rl_tools_state_json(c, keep);
        if (!rc) rc = st->extra || !c->otc_n ? 0 : RLC_ENOMEM;
        if (!rc)
            rc = rl_ckpt_save(c->cfg->run_dir, st, ms, c->critic ? 2 : 1, c->cfg->save_dtype, (int)c->cfg->keep_last, &dir);
        if (st->extra != keep) cJSON_Delete(st->extra);
        st->extra = keep;
        if (!rc) LOG_INFO("checkpoint: %s", dir);
        free(dir);
    }
    return dist_agree(comm, rc);
}

/* Timings and rewards' own metrics of the step, held-out evaluation when due, then the
 * step's lines: samples.jsonl, metrics.jsonl, the step log. Collective. */
static int report_step(rl_ctx_t *c, rl_run_opts_t *o, const rollout_t *R, long step, const double t[4],
                       rl_step_metrics_t *mt) {
    const rl_config_t *cfg = c->cfg;
    dist_comm_t *comm = c->comm;
    /* the step is as slow as its slowest rank */
    double tm[4] = {t[1] - t[0], t[2] - t[1], t[3] - t[2], t[3] - t[0]};
    int rc = dist_allreduce_f64(comm, tm, 4, DIST_MAX);
    mt->t_rollout = tm[0];
    mt->t_score = tm[1];
    mt->t_train = tm[2];
    mt->t_total = tm[3];
    mt->tok_per_s = mt->t_total > 0 ? (double)R->tokens_gen / mt->t_total : NAN;
    cJSON *extra = rlc_metrics_json(&R->rmetrics);
    if (c->eval_data.n && cfg->eval_every > 0 && (step + 1) % cfg->eval_every == 0 && !rc) {
        double p1, calls = 0, toks = 0;
        if (!(rc = run_eval(c, &p1, &calls, &toks))) {
            if (extra) cJSON_AddNumberToObject(extra, "eval_pass1", p1);
            if (extra) cJSON_AddNumberToObject(extra, "eval_tokens", toks);
            if (extra && c->tools) cJSON_AddNumberToObject(extra, "eval_tool_calls", calls);
            o->eval_after = p1;
            o->eval_calls_after = calls;
            o->eval_tokens_after = toks;
        }
    }
    mt->extra = extra;
    if (!rc) rc = rl_log_samples(c, R, step + 1);
    if (!rc && c->rank0) rc = rl_metrics_put(&c->metrics, mt);
    if (!rc && c->rank0 && c->tb.f) { /* the same row as TensorBoard scalars */
        cJSON *row = rl_step_metrics_json(mt);
        rc = row ? rl_tb_scalars(&c->tb, step + 1, 0, row) : RLC_ENOMEM;
        cJSON_Delete(row);
        double p1 = extra ? cJSON_GetNumberValue(cJSON_GetObjectItem(extra, "eval_pass1")) : NAN;
        if (!rc && isfinite(p1)) { /* the held-out evaluation, also as text */
            char t[160];
            snprintf(t, sizeof t, "held-out pass@1 %.4f after %ld steps (%d problems x 4 samples)", p1, step + 1,
                     c->eval_data.n);
            rc = rl_tb_text(&c->tb, step + 1, 0, "eval", t);
        }
    }
    rc = dist_agree(comm, rc);
    if (!rc) print_step(mt, o->quiet || !c->rank0);
    if (!rc && o->on_step) o->on_step(o->user, mt);
    cJSON_Delete(extra);
    mt->extra = NULL;
    return rc;
}

/* One step: rollout → pack → update → report. */
static int train_step(rl_ctx_t *c, rl_run_opts_t *o, long step, seqbuf_t *b, float **rew_glob, float *lr_out) {
    const rl_config_t *cfg = c->cfg;
    double t[4];
    t[0] = rlc_now();
    rl_step_metrics_t mt;
    rl_step_metrics_init(&mt);
    mt.step = step + 1;
    rollout_t R;
    int rc = rl_rollout(c, step, &R);
    t[1] = rlc_now();
    if (!rc) rc = rl_rollout_pack(c, &R, b, rew_glob, &mt);
    t[2] = rlc_now();
    float lr = (float)rl_lr_at(cfg->lr_schedule, cfg->lr, step, cfg->warmup_steps, cfg->total_steps,
                               cfg->min_lr_ratio);
    if (!rc && R.n_glob > 0)
        rc = rl_update(c, &R, b, *rew_glob, step, lr, &mt);
    else if (!rc && c->rank0)
        LOG_WARN("step %ld: no group passed the filters after %ld round(s); no update", step + 1, R.rounds);
    mt.lr = lr;
    t[3] = rlc_now();
    if (!rc) rc = report_step(c, o, &R, step, t, &mt);
    rl_rollout_free(c, &R);
    *lr_out = lr;
    return rc;
}

int rl_train(const rl_config_t *cfg_in, rl_run_opts_t *o) {
    rl_config_t eff = *cfg_in; /* a shallow copy (the strings stay cfg_in's) with the algorithm's defaults */
    rl_config_algo_defaults(&eff);
    const rl_config_t *cfg = &eff;
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
    /* the day chat templates show: pinned to the first day of a run (config.json keeps it,
     * so prompts rendered on a resume, or after midnight, are the same); rank 0's day on
     * every rank, so a start at midnight cannot give the ranks different prompts */
    char today[32] = "";
    time_t now = time(NULL);
    struct tm tmv;
    int rc = 0;
    if (!eff.chat_date || !eff.chat_date[0]) {
        if (localtime_r(&now, &tmv)) strftime(today, sizeof today, "%d %b %Y", &tmv);
        if ((rc = dist_bcast(comm, today, sizeof today, 0))) return rc;
        today[sizeof today - 1] = 0;
        if (today[0]) eff.chat_date = today;
    }
    rc = dist_agree(comm, setup(&c, cfg, o, &st, &resumed, comm));
    if (!rc) rc = setup_shared(&c, resumed, o->overrides);
    if (rc) {
        ctx_free(&c);
        rl_train_state_free(&st);
        return rc;
    }
    rl_signal_install();
    if (c.eval_data.n && st.step == 0 && !o->skip_eval_before) {
        if (!(rc = run_eval(&c, &o->eval_before, &o->eval_calls_before, &o->eval_tokens_before)))
            log_eval(&c, "before", o->eval_before, o->eval_calls_before);
    }
    seqbuf_t b = {0};
    float *rew_glob = NULL;
    for (long step = st.step; !rc && step < cfg->total_steps; step++) {
        float lr;
        if ((rc = train_step(&c, o, step, &b, &rew_glob, &lr))) break;
        st.step = step + 1;
        st.lr = lr;
        /* a signal on any rank stops every rank after the same step, with one checkpoint */
        int last = st.step == cfg->total_steps, sig = dist_agree_signal(comm, rl_signal_pending());
        if ((cfg->save_every > 0 && st.step % cfg->save_every == 0) || last || sig) rc = save_ckpt(&c, &st);
        if (!rc && sig) {
            if (c.rank0) LOG_WARN("signal %d: checkpoint written at step %ld; stopping", sig, st.step);
            rl_signal_agreed(sig);
            rc = rlc_errc(RLC_EINTR, "interrupted at step %ld (checkpoint saved; --resume continues)", st.step);
            comm->error_agreed = 1; /* every rank saw the same signal verdict */
        }
    }
    if (!rc && c.eval_data.n && isnan(o->eval_after)) rc = run_eval(&c, &o->eval_after, &o->eval_calls_after, &o->eval_tokens_after);
    if (!rc && c.eval_data.n) log_eval(&c, "after", o->eval_after, o->eval_calls_after);
    if (!rc && c.rank0) { /* the run's curves (rlc report); a failure here does not fail the run */
        rl_sync_writer(&c.metrics);
        rl_sync_writer(&c.samples);
        const char *runs[1] = {cfg->run_dir};
        rl_report_opts_t ro = {.x = "step", .smooth = 1};
        char *rdir = NULL;
        if (rl_report(runs, 1, &ro, &rdir)) LOG_WARN("no run report: %s", rlc_errmsg());
        else LOG_INFO("report: %s/report.md (rlc report %s)", rdir, cfg->run_dir);
        free(rdir);
        if (c.tb.f && !rl_tb_flush(&c.tb)) LOG_INFO("TensorBoard events: %s", c.tb.path);
    }
    free(rew_glob);
    sb_free(&b);
    rl_signal_uninstall();
    ctx_free(&c);
    rl_train_state_free(&st);
    return rc;
}
