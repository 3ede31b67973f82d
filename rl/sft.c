/* Stage: the supervised phase (`rlc sft`). Prompts rendered as in training, loss on the
 * response tokens only (token-mean cross-entropy over the global batch), the tokenizer's
 * EOS appended so the model learns to stop; the same packed batches, micro-batches, run
 * directory, optimizer, checkpoints, resume and data parallelism as the RL loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/encode.h"
#include "rl/ckpt.h"
#include "rl/rundir.h"
#include "rl/signal.h"
#include "rl/sft.h"
#include "rl/step.h"

typedef struct {
    int32_t *ids;
    int n, n_prompt;
    uint8_t *trainable; /* per response token (n - n_prompt), or NULL: all */
} sft_ex_t;

/* The response's tokens, each piece tokenized on its own as the rollout does: the model's
 * text, and (mask_tool_output) the tool outputs, which are marked untrainable. */
static int encode_response(const rl_sft_opts_t *o, const tok_t *tok, const char *r, int32_t **ids, int *n,
                           uint8_t **train) {
    *train = NULL;
    rlc_tool_format_t f;
    size_t len = strlen(r), st[256], en[256];
    int ns = 0;
    if (o->mask_tool_output && !rlc_tools_parse_format(o->tool_format, &f))
        ns = rlc_tool_output_spans(f, r, len, st, en, 256);
    if (ns > 256) return rlc_errc(RLC_EINVAL, "more than 256 tool outputs in one response");
    if (!ns) return tok_encode(tok, r, len, 0, ids, n);
    int32_t *all = NULL;
    uint8_t *tr = NULL;
    int cnt = 0, rc = 0;
    size_t at = 0;
    for (int k = 0; k <= 2 * ns && !rc; k++) { /* model text, tool output, model text, ... */
        size_t a = at, b = k % 2 ? en[k / 2] : (k / 2 < ns ? st[k / 2] : len);
        at = b;
        if (b <= a) continue;
        int32_t *p = NULL;
        int m = 0;
        if ((rc = tok_encode(tok, r + a, b - a, 0, &p, &m))) break;
        int32_t *na = rlc_realloc(all, (size_t)(cnt + m) * sizeof *na);
        uint8_t *nt = rlc_realloc(tr, (size_t)(cnt + m));
        if (na) all = na;
        if (nt) tr = nt;
        if (!na || !nt) rc = RLC_ENOMEM;
        if (!rc) {
            memcpy(all + cnt, p, (size_t)m * sizeof *p);
            memset(tr + cnt, k % 2 ? 0 : 1, (size_t)m);
            cnt += m;
        }
        free(p);
    }
    if (rc) {
        free(all), free(tr);
        return rc;
    }
    *ids = all, *n = cnt, *train = tr;
    return 0;
}

/* The text of a response given as one assistant message ([{"role": "assistant", ...}]). */
static const char *assistant_text(const cJSON *v) {
    const cJSON *m = cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 ? v->child : v;
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role"), *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    return cJSON_IsString(role) && !strcmp(role->valuestring, "assistant") && cJSON_IsString(c) ? c->valuestring : NULL;
}

/* Chat content given as a list of text parts, joined in place (rlc_json_flatten_content)
 * when v holds messages; 1 with the reason set when it cannot be. */
static int flatten_field(cJSON *v, const char *name, const char *where) {
    const char *why;
    int rc = cJSON_IsArray(v) || cJSON_IsObject(v) ? rlc_json_flatten_content(v, &why) : 0;
    if (rc < 0) return rlc_errc(rc, "out of memory reading %s", where);
    if (rc) rlc_errc(RLC_EINVAL, "%s: field '%s': %s", where, name, why);
    return rc;
}

/* A row's prompt (text or chat messages, into pr: problem, messages owned) and response
 * text (borrowed from row). Fields: the keys given, else "messages" (a conversation whose
 * last turn, an assistant's, is the response and the turns before it the prompt), else
 * "prompt" or "problem" and "completion", "response" or "solution"; a prompt may be chat
 * messages, a response one assistant message (TRL's conversational prompt-completion). 1
 * with the reason set when the row has none of these. */
static int sft_fields(const rl_sft_opts_t *o, cJSON *row, const char *where, data_row_t *pr, const char **resp) {
    const char *pk = o->prompt_key && o->prompt_key[0] ? o->prompt_key : NULL;
    const char *rk = o->response_key && o->response_key[0] ? o->response_key : NULL, *why = NULL;
    cJSON *conv = pk || rk ? NULL : cJSON_GetObjectItemCaseSensitive(row, "messages"), *pv, *rv;
    memset(pr, 0, sizeof *pr);
    int rc = flatten_field(conv, "messages", where);
    if (rc) return rc;
    if (conv) {
        const cJSON *last = cJSON_IsArray(conv) ? cJSON_GetArrayItem(conv, cJSON_GetArraySize(conv) - 1) : NULL;
        if (!(*resp = assistant_text(last))) {
            rlc_errc(RLC_EINVAL, "%s: field 'messages': the last message is no assistant turn with text", where);
            return 1;
        }
        pv = pr->messages = cJSON_Duplicate(conv, 1);
        if (!pv) return RLC_ENOMEM;
        cJSON_Delete(cJSON_DetachItemFromArray(pr->messages, cJSON_GetArraySize(pr->messages) - 1));
    } else {
        if (!pk) pk = cJSON_GetObjectItemCaseSensitive(row, "prompt") ? "prompt" : "problem";
        if (!rk) rk = cJSON_GetObjectItemCaseSensitive(row, "completion") ? "completion"
                      : cJSON_GetObjectItemCaseSensitive(row, "response") ? "response" : "solution";
        pv = cJSON_GetObjectItemCaseSensitive(row, pk);
        rv = cJSON_GetObjectItemCaseSensitive(row, rk);
        if ((rc = flatten_field(pv, pk, where)) || (rc = flatten_field(rv, rk, where))) return rc;
        *resp = cJSON_IsString(rv) ? rv->valuestring : assistant_text(rv);
        if (!*resp) {
            rlc_errc(RLC_EINVAL, "%s: field '%s': %s", where, rk, rv ? "not text or one assistant message" : "missing");
            return 1;
        }
        if (cJSON_IsArray(pv) && !(pr->messages = cJSON_Duplicate(pv, 1))) return RLC_ENOMEM;
    }
    const char *problem = pr->messages      ? data_messages_check(pr->messages, &why)
                          : cJSON_IsString(pv) ? pv->valuestring
                                               : NULL;
    if (!problem) {
        rlc_errc(RLC_EINVAL, "%s: field '%s': %s", where, conv ? "messages" : pk, why ? why : pv ? "not text" : "missing");
        data_row_free(pr);
        return 1;
    }
    pr->problem = (char *)problem; /* borrowed: taken back before data_row_free */
    return 0;
}

/* One example: prompt rendered with the template (or its own chat messages), response, EOS;
 * > 0 with the reason in the error message when the row is bad, negative on a real error. */
static int sft_example(const rl_sft_opts_t *o, const tok_t *tok, data_tpl_t tpl, cJSON *row, const char *where,
                       sft_ex_t *ex, long *truncated) {
    data_row_t pr;
    const char *rtxt = NULL;
    int rc = sft_fields(o, row, where, &pr, &rtxt);
    if (rc) return rc;
    int32_t *p = NULL, *resp = NULL, eos = tok_eos_id(tok);
    int np = 0, nr = 0;
    rc = data_encode_row(tok, tpl, o->chat_family && o->chat_family[0] ? o->chat_family : NULL, &pr, &p, &np, NULL);
    pr.problem = NULL;
    data_row_free(&pr);
    uint8_t *tr = NULL;
    if (!rc) rc = encode_response(o, tok, rtxt, &resp, &nr, &tr);
    int total = np + nr + (eos >= 0);
    if (!rc && total > o->max_len) total = (int)o->max_len;
    if (!rc && np >= total) rc = rlc_errc(RLC_EINVAL, "the prompt alone fills max_len %ld", o->max_len);
    int32_t *all = rc ? NULL : rlc_malloc((size_t)(np + nr + 1) * sizeof *all);
    if (!rc && !all) rc = RLC_ENOMEM;
    if (!rc) {
        memcpy(all, p, (size_t)np * sizeof *all);
        memcpy(all + np, resp, (size_t)nr * sizeof *all);
        if (eos >= 0) all[np + nr] = eos;
        if (np + nr + (eos >= 0) > o->max_len) (*truncated)++;
        uint8_t *t2 = tr ? rlc_realloc(tr, (size_t)(nr + 1)) : NULL; /* the EOS is trained */
        if (t2) t2[nr] = 1, tr = NULL;
        if (tr) rc = RLC_ENOMEM, free(all);
        else *ex = (sft_ex_t){all, total, np, t2};
    }
    free(tr);
    free(p);
    free(resp);
    if (rc == RLC_ENOMEM) return rc;
    if (rc) rlc_err_ctx(rc, "%s", where);
    return rc ? 1 : 0;
}

/* Render, tokenize and check every example before training starts: bad rows (malformed
 * JSON, missing fields, text that cannot be encoded, a prompt that fills max_len) are
 * skipped with a count and the first few reasons, or fatal with strict. */
static int sft_prepare(const rl_sft_opts_t *o, const tok_t *tok, data_tpl_t tpl, sft_ex_t **out, int *count,
                       long *truncated) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, o->data);
    if (rc) return rc;
    sft_ex_t *ex = NULL;
    int n = 0, cap = 0;
    long bad = 0;
    for (;;) {
        cJSON *row = NULL;
        rc = rlc_jsonl_next(&r, &row);
        if (rc == 0) break;
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", o->data, r.lineno);
        if (rc > 0 && n == cap) {
            cap = cap ? cap * 2 : 256;
            sft_ex_t *q = rlc_realloc(ex, (size_t)cap * sizeof *q);
            if (q) ex = q;
            else rc = RLC_ENOMEM;
        }
        if (rc > 0) rc = sft_example(o, tok, tpl, row, where, &ex[n], truncated);
        cJSON_Delete(row);
        if (rc == 0) {
            n++;
            continue;
        }
        if (rc == RLC_ENOMEM || (rc < 0 && rc != RLC_EFMT) || o->strict) {
            if (o->strict && rc != RLC_ENOMEM) rlc_err_ctx(rc < 0 ? rc : RLC_EINVAL, "strict");
            rc = rc < 0 ? rc : RLC_EINVAL;
            break;
        }
        data_bad_row(&bad, rlc_errmsg());
        rc = 0;
    }
    rlc_jsonl_close(&r);
    data_bad_total(o->data, bad);
    if (rc < 0 || !n) {
        for (int i = 0; i < n; i++) free(ex[i].ids), free(ex[i].trainable);
        free(ex);
        return rc < 0 ? rc : rlc_errc(RLC_EINVAL, "%s: no usable examples", o->data);
    }
    *out = ex;
    *count = n;
    return 0;
}

/* Everything of a run of SFT. */
typedef struct {
    const rl_sft_opts_t *o;
    dist_comm_t *comm;
    int rank0;
    data_tpl_t tpl;
    rlc_backend_t *be;
    rlc_model_t *m;
    tok_t *tok;
    rlc_optim_t *opt;
    sft_ex_t *ex;
    int nex;
    long steps, epoch;
    micro_t micro;
    rl_jsonl_writer_t mw;
    rl_train_state_t st;
    char *ckdir;
    long ckstep;
    rl_rundir_t rundir;
    seqbuf_t b;
    uint32_t *order;
} sft_t;

static int sft_check_opts(const rl_sft_opts_t *o, data_tpl_t *tpl) {
    int rc = rl_sft_validate(o);
    return rc ? rc : data_template_from_name(o->template_name, tpl);
}

/* What a rank does alone: model, tokenizer, examples, optimizer, activations, checkpoint. */
static int sft_setup(sft_t *s) {
    const rl_sft_opts_t *o = s->o;
    dist_comm_t *comm = s->comm;
    int rc;
    long truncated = 0;
    const char *models[1] = {o->model};
    if (s->rank0 && (rc = rl_rundir_claim(&s->rundir, o->run_dir, models, 1, o->resume, o->overwrite))) return rc;
    if (o->resume && (rc = rl_rundir_resume_point(o->run_dir, &s->ckdir, &s->ckstep)) < 0) return rc;
    const char *src = s->ckdir ? s->ckdir : o->model;
    int ordinal = comm->world > 1 && strcmp(o->device, "cpu")
                      ? dist_device_ordinal(comm, o->device, rlc_backend_cuda_devices(NULL, 0))
                      : 0;
    if ((rc = rlc_backend_create(&s->be, o->device, ordinal, dist_cpu_threads(comm, (int)o->threads)))) return rc;
    if ((rc = rlc_model_load(&s->m, src, s->be))) return rc;
    if ((rc = tok_load(&s->tok, src))) return rc;
    tok_set_model_vocab(s->tok, s->m->cfg.vocab_size);
    gen_warn_vocab(s->m, s->tok);
    if (s->m->cfg.context_why && o->max_len > s->m->cfg.max_context) /* model/config.h */
        return rlc_errc(RLC_EINVAL, "max_len %ld is longer than the model's %s (%d): set --max-len %d or less",
                        o->max_len, s->m->cfg.context_why, s->m->cfg.max_context, s->m->cfg.max_context);
    if ((rc = sft_prepare(o, s->tok, s->tpl, &s->ex, &s->nex, &truncated))) return rc;
    if (truncated) LOG_WARN("%ld example(s) longer than max_len %ld were truncated", truncated, o->max_len);
    s->steps = o->steps > 0 ? o->steps : (long)((double)s->nex * o->epochs / o->batch_size);
    if (s->steps < 1) s->steps = 1;
    rlc_adamw_cfg_t ac = {.lr = (float)o->lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                          .weight_decay = (float)o->weight_decay, .max_grad_norm = (float)o->max_grad_norm};
    rl_zero_cfg_t zc = {(int)o->zero_stage, o->overlap_comm, rl_bucket_elems(o->reduce_bucket_mb)};
    if ((rc = rl_zero_optim_create(s->comm, &zc, s->m, &ac, "the model's", &s->opt))) return rc;
    s->micro = (micro_t){(int)o->micro_batch, o->micro_tokens};
    if ((rc = reserve_acts(s->m, &s->micro, (int)o->max_len, 1))) return rc;
    report_memory(s->m, &s->micro, (int)o->max_len);
    if (s->ckdir) {
        rl_ckpt_model_t ms = {NULL, s->m, s->opt};
        if ((rc = rl_ckpt_load_state(s->ckdir, &s->st, &ms, 1))) return rc;
        LOG_INFO("resuming SFT from %s (step %ld)", s->ckdir, s->st.step);
    }
    /* The example order: a Philox shuffle per epoch; the state is (epoch, position). */
    s->order = rlc_malloc((size_t)s->nex * sizeof *s->order);
    return s->order ? 0 : RLC_ENOMEM;
}

/* All ranks: the same run, checkpoint and weights everywhere; rank 0 opens the files. */
static int sft_shared(sft_t *s) {
    const rl_sft_opts_t *o = s->o;
    dist_comm_t *comm = s->comm;
    int rc = 0;
    if (comm->world > 1) {
        char text[1024];
        snprintf(text, sizeof text,
                 "model %s\ndata %s (%d examples)\nrun_dir %s\nresume step %ld\nsteps %ld\nbatch_size %ld\n"
                 "micro_batch %ld\nmax_len %ld\nlr %.17g\nseed %ld\ntemplate %s\n",
                 o->model, o->data, s->nex, o->run_dir, s->ckdir ? s->st.step : -1, s->steps, o->batch_size,
                 o->micro_batch, o->max_len, o->lr, o->seed, o->template_name ? o->template_name : "");
        if ((rc = dist_verify_same_text(comm, text, "SFT setup"))) return rc;
    }
    if ((rc = dist_agree(comm, dist_attach_backend(comm, s->be)))) return rc;
    if (comm->world > 1 && (rc = dist_verify_replicas(comm, s->be, s->m->params, RLC_BUF_PARAM, s->m->n_params,
                                                      "the initial weights", NULL)))
        return rc;
    if (s->rank0) rc = rl_open_run_files(o->run_dir, s->ckdir ? s->st.step : -1, &s->mw, NULL);
    return dist_agree(comm, rc);
}

/* This rank's share of the step's examples (global positions [k0, k1)) packed into s->b. */
static int sft_pack(sft_t *s, long step) {
    const rl_sft_opts_t *o = s->o;
    int rc = 0;
    s->b.nseq = s->b.ntok = 0;
    long k0, k1;
    dist_split(o->batch_size, s->comm->rank, s->comm->world, &k0, &k1);
    for (long k = k0; k < k1 && !rc; k++) {
        long gidx = step * o->batch_size + k, ep = gidx / s->nex, pos = gidx % s->nex;
        if (ep != s->epoch) { /* shuffle of epoch ep is a pure function of (seed, ep) */
            rlc_rng_t r;
            rlc_rng_init(&r, (uint64_t)o->seed, (uint64_t)ep + 1);
            for (int i = 0; i < s->nex; i++) s->order[i] = (uint32_t)i;
            for (int i = s->nex - 1; i > 0; i--) {
                uint32_t j = rlc_rng_below(&r, (uint32_t)i + 1), t = s->order[i];
                s->order[i] = s->order[j];
                s->order[j] = t;
            }
            s->epoch = ep;
        }
        const sft_ex_t *e = &s->ex[s->order[pos]];
        rc = sb_add(&s->b, e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt, e->trainable);
    }
    return rc;
}

/* One optimizer step: token-mean cross-entropy over the response tokens of every rank
 * (dlogp = -1/N), metrics into mt. */
static int sft_step(sft_t *s, long step, rl_step_metrics_t *mt) {
    const rl_sft_opts_t *o = s->o;
    dist_comm_t *comm = s->comm;
    seqbuf_t *b = &s->b;
    double t0 = rlc_now();
    int rc = sft_pack(s, step);
    double ntok = 0;
    for (int t = 0; t < b->ntok; t++) ntok += b->mask[t];
    if ((rc = dist_agree(comm, rc))) return rc;
    if ((rc = dist_allreduce_f64(comm, &ntok, 1, DIST_SUM))) return rc;
    for (int t = 0; t < b->ntok; t++) b->adv[t] = ntok > 0 ? -(float)(b->mask[t] / ntok) : 0;
    float lr = (float)rl_lr_at(o->lr_schedule, o->lr, step, o->warmup_steps, s->steps, o->min_lr_ratio);
    int32_t *cu = rlc_malloc((size_t)(o->micro_batch + 1) * sizeof *cu);
    float *lp = rlc_malloc((size_t)(b->ntok ? b->ntok : 1) * sizeof(float));
    if (!cu || !lp) rc = RLC_ENOMEM;
    int e = rl_grad_begin(s->opt, sb_count_micro(b, 0, b->nseq, &s->micro)); /* collective: whatever rc */
    if (!rc) rc = e;
    double loss = 0, correct_tok = 0;
    for (int s0 = 0, s1; s0 < b->nseq && !rc; s0 = s1) {
        s1 = micro_end(b, s0, b->nseq, &s->micro);
        rlc_batch_t v = sb_view(b, s0, s1, cu);
        rlc_fwd_opts_t fo = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_LM, .skip_head = 1};
        rc = rlc_model_forward(s->m, &v, &fo, NULL, NULL, NULL);
        if (!rc) rc = rlc_model_backward(s->m, &v, &fo, b->adv + b->cu[s0], NULL, NULL, lp + b->cu[s0], NULL);
    }
    for (int t = 0; t < b->ntok && !rc; t++) {
        loss -= b->mask[t] * lp[t];
        correct_tok += b->mask[t] * (lp[t] > -0.6931472f); /* p > 1/2: the argmax */
    }
    double gnorm = NAN;
    rc = rl_reduce_and_step(comm, s->m, s->opt, rc, lr, (uint32_t)step, &gnorm);
    free(cu);
    free(lp);
    if (rc) return rc;
    double sums[2] = {loss, correct_tok}, tt = rlc_now() - t0;
    int64_t ntrain = b->ntok;
    if (comm->world > 1 && ((rc = dist_allreduce_f64(comm, sums, 2, DIST_SUM)) ||
                            (rc = dist_allreduce_i64(comm, &ntrain, 1, DIST_SUM)) ||
                            (rc = dist_allreduce_f64(comm, &tt, 1, DIST_MAX))))
        return rc;
    loss = sums[0], correct_tok = sums[1];
    rl_step_metrics_init(mt);
    mt->step = step + 1;
    mt->loss = ntok > 0 ? loss / ntok : NAN;
    mt->grad_norm = gnorm;
    mt->lr = lr;
    mt->tokens_train = (long)ntrain;
    mt->t_train = mt->t_total = tt;
    mt->tok_per_s = mt->t_total > 0 ? (double)ntrain / mt->t_total : NAN;
    mt->extra = cJSON_CreateObject();
    if (mt->extra) cJSON_AddNumberToObject(mt->extra, "token_acc", ntok > 0 ? correct_tok / ntok : 0);
    if (mt->extra) cJSON_AddNumberToObject(mt->extra, "loss_tokens", ntok); /* response tokens in the loss, all ranks */
    return 0;
}

/* Collective: the replicas are checked to be identical, then rank 0 writes the checkpoint. */
static int sft_save(sft_t *s) {
    const rl_sft_opts_t *o = s->o;
    dist_comm_t *comm = s->comm;
    uint64_t h = 0;
    int rc = 0;
    if (comm->world > 1 &&
        !(rc = dist_verify_replicas(comm, s->be, s->m->params, RLC_BUF_PARAM, s->m->n_params, "the weights", &h)))
        LOG_INFO("step %ld: weights identical on all %d ranks (fnv64 %016llx)", s->st.step, comm->world,
                 (unsigned long long)h);
    rl_ckpt_model_t ms = {NULL, s->m, s->opt};
    /* a sharded optimizer state: every rank writes its shard for rank 0's save to move in */
    if (!rc) rc = dist_agree(comm, rl_ckpt_write_shards(o->run_dir, s->st.step, &ms, 1));
    if (!rc && s->rank0) {
        rl_sync_writer(&s->mw);
        s->st.data_epoch = (s->st.step * o->batch_size) / s->nex;
        s->st.data_cursor = (s->st.step * o->batch_size) % s->nex;
        s->st.seed = (uint64_t)o->seed;
        rc = rl_ckpt_save(o->run_dir, &s->st, &ms, 1, o->save_dtype, (int)o->keep_last, NULL);
    }
    return dist_agree(comm, rc);
}

static void sft_free(sft_t *s) {
    for (int i = 0; i < s->nex; i++) free(s->ex[i].ids), free(s->ex[i].trainable);
    free(s->ex);
    free(s->order);
    sb_free(&s->b);
    free(s->ckdir);
    rl_jsonl_writer_close(&s->mw);
    rl_train_state_free(&s->st);
    rlc_optim_free(s->opt);
    if (s->tok) tok_free(s->tok);
    rlc_model_free(s->m);
    rlc_backend_destroy(s->be);
    rl_rundir_release(&s->rundir);
}

/* The steps, with metrics, the progress bar, checkpoints and the signal stop. */
static int sft_run(sft_t *s) {
    const rl_sft_opts_t *o = s->o;
    dist_comm_t *comm = s->comm;
    int rc = 0;
    rlc_progress_t pg;
    rlc_progress_begin(&pg, "sft", s->steps - s->st.step);
    rl_signal_install();
    for (long step = s->st.step; step < s->steps && !rc; step++) {
        rl_step_metrics_t mt;
        if ((rc = sft_step(s, step, &mt))) break;
        if (s->rank0) rc = rl_metrics_put(&s->mw, &mt);
        rc = dist_agree(comm, rc);
        if (!rc && o->on_step) o->on_step(o->user, &mt);
        cJSON_Delete(mt.extra);
        if (rc) break;
        char extra_s[64];
        snprintf(extra_s, sizeof extra_s, "loss %.4f", mt.loss);
        rlc_progress_update(&pg, step + 1 - (s->ckdir ? s->ckstep : 0), extra_s);
        if (!o->quiet && s->rank0 && (step + 1) % 10 == 0 && !pg.tty)
            printf("sft step %ld | loss %.4f | gnorm %.3f | lr %.3g | %.2f s\n", step + 1, mt.loss, mt.grad_norm,
                   mt.lr, mt.t_total);
        s->st.step = step + 1;
        int last = s->st.step == s->steps, sig = dist_agree_signal(comm, rl_signal_pending());
        if ((o->save_every > 0 && s->st.step % o->save_every == 0) || last || sig) rc = sft_save(s);
        if (!rc && sig) {
            rl_signal_agreed(sig);
            rc = rlc_errc(RLC_EINTR, "interrupted at step %ld (checkpoint saved; --resume continues)", s->st.step);
            comm->error_agreed = 1;
        }
    }
    rlc_progress_end(&pg);
    rl_signal_uninstall();
    return rc;
}

int rl_sft(const rl_sft_opts_t *o) {
    dist_comm_t one;
    sft_t s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.comm = o->comm;
    if (!s.comm) {
        dist_none_init(&one);
        s.comm = &one;
    }
    s.rank0 = s.comm->rank == 0;
    s.rundir.fd = -1;
    s.epoch = -1;
    s.steps = 1;
    int rc = sft_check_opts(o, &s.tpl);
    if ((rc = dist_agree(s.comm, rc))) return rc;
    rc = dist_agree(s.comm, sft_setup(&s));
    if (!rc) rc = sft_shared(&s);
    if (!rc) rc = sft_run(&s);
    sft_free(&s);
    return rc;
}
