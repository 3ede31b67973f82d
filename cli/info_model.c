/* `rlc info --model DIR`: what rlc makes of a checkpoint without loading it — architecture
 * and shapes from config.json, the parameter count, context, RoPE and sliding windows, the
 * weight files (format, tensors, dtypes) and the tokenizer — as text or one JSON object.
 * Everything it reads is validated as loading would validate it, so a checkpoint rlc cannot
 * load fails here with the same one-line error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/info_model.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/str.h"
#include "model/config.h"
#include "rl/rundir.h"
#include "tokenizer/tok.h"

static const char *rope_name(rlc_rope_type_t t) {
    static const char *const n[] = {"default", "linear", "llama3", "yarn", "longrope"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

static const char *head_name(rlc_head_kind_t h) {
    return h == RLC_HEAD_LM ? "causal LM" : h == RLC_HEAD_SCORE ? "score (reward / value)" : "trunk only (PRM)";
}

/* The layers that slide, as "all", "none" or a count "k of L". */
static void sliding_desc(const rlc_model_config_t *c, char *out, size_t cap) {
    int k = 0;
    for (int l = 0; l < c->num_layers; l++) k += rlc_config_layer_window(c, l) > 0;
    if (!k) snprintf(out, cap, "none");
    else if (k == c->num_layers) snprintf(out, cap, "window %d in every layer", c->sliding_window);
    else snprintf(out, cap, "window %d in %d of %d layers", c->sliding_window, k, c->num_layers);
}

/* The weight files: their format, tensor count and tensors per dtype. */
static int weights_of(const char *dir, cJSON *o) {
    rlc_st_t st;
    int rc = rlc_st_open(&st, dir);
    if (rc) return rc;
    int per[RLC_DT_COUNT] = {0};
    size_t bytes = 0;
    for (int i = 0; i < st.n; i++) per[st.t[i].dtype]++, bytes += st.t[i].nbytes;
    const char *first = st.nfiles ? st.files[0].path : "";
    cJSON_AddStringToObject(o, "weights_format", rlc_ends_with(first, ".safetensors") ? "safetensors" : "pytorch");
    cJSON_AddNumberToObject(o, "weight_files", st.nfiles);
    cJSON_AddNumberToObject(o, "tensors", st.n);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)bytes);
    cJSON *d = cJSON_AddObjectToObject(o, "tensor_dtypes");
    for (int t = 0; t < RLC_DT_COUNT; t++)
        if (per[t]) cJSON_AddNumberToObject(d, rlc_dtype_name((rlc_dtype_t)t), per[t]);
    rlc_st_close(&st);
    return 0;
}

static void tokenizer_of(const char *dir, cJSON *o) {
    if (!tok_present(dir)) {
        cJSON_AddStringToObject(o, "tokenizer", "none");
        return;
    }
    tok_t *t;
    if (tok_load(&t, dir)) {
        cJSON_AddStringToObject(o, "tokenizer_error", rlc_errmsg());
        return;
    }
    cJSON_AddStringToObject(o, "tokenizer", tok_kind(t));
    cJSON_AddNumberToObject(o, "tokenizer_vocab", tok_vocab_size(t));
    cJSON_AddNumberToObject(o, "eos_id", tok_eos_id(t));
    cJSON_AddStringToObject(o, "chat_template", tok_chat_template_status(t));
    tok_free(t);
}

static cJSON *summary(const char *dir, const rlc_model_config_t *c) {
    cJSON *o = cJSON_CreateObject();
    char buf[160];
    cJSON_AddStringToObject(o, "model", dir);
    cJSON_AddStringToObject(o, "model_type", c->model_type);
    cJSON_AddStringToObject(o, "head", head_name(c->head));
    cJSON_AddNumberToObject(o, "layers", c->num_layers);
    cJSON_AddNumberToObject(o, "hidden", c->hidden_size);
    cJSON_AddNumberToObject(o, "heads", c->num_heads);
    cJSON_AddNumberToObject(o, "kv_heads", c->num_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "ffn", c->intermediate_size);
    cJSON_AddNumberToObject(o, "vocab", c->vocab_size);
    cJSON_AddBoolToObject(o, "tied_embeddings", c->tie_word_embeddings);
    cJSON_AddNumberToObject(o, "parameters", (double)rlc_config_num_params(c));
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddNumberToObject(o, "context", c->max_context);
    if (c->context_why && c->max_context < c->max_position_embeddings)
        cJSON_AddStringToObject(o, "context_why", c->context_why);
    cJSON_AddStringToObject(o, "rope", rope_name(c->rope_type));
    cJSON_AddBoolToObject(o, "rope_interleaved", c->rope_interleaved);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    cJSON_AddNumberToObject(o, "rotary_dim", c->rotary_dim);
    if (c->rope_local_theta > 0) cJSON_AddNumberToObject(o, "rope_local_theta", c->rope_local_theta);
    cJSON_AddBoolToObject(o, "multimodal", c->multimodal);
    sliding_desc(c, buf, sizeof buf);
    cJSON_AddStringToObject(o, "sliding", buf);
    if (c->attn_softcap > 0) cJSON_AddNumberToObject(o, "attn_softcap", c->attn_softcap);
    if (c->final_softcap > 0) cJSON_AddNumberToObject(o, "final_softcap", c->final_softcap);
    if (c->layer_moe) { /* mixture of experts: the experts, and the parameters a token runs through */
        int sparse = 0;
        for (int l = 0; l < c->num_layers; l++) sparse += rlc_config_layer_moe(c, l);
        double idle = (double)sparse * (c->num_experts - c->experts_per_tok) * 3.0 * c->moe_intermediate_size *
                      c->hidden_size;
        cJSON_AddNumberToObject(o, "experts", c->num_experts);
        cJSON_AddNumberToObject(o, "experts_per_token", c->experts_per_tok);
        cJSON_AddNumberToObject(o, "expert_ffn", c->moe_intermediate_size);
        cJSON_AddBoolToObject(o, "experts_renormalised", c->moe_norm_topk);
        cJSON_AddNumberToObject(o, "sparse_layers", sparse);
        if (c->moe_no_bias)
            snprintf(buf, sizeof buf, "softmax scores, the best %d of %d expert groups by their %s, weights x%g",
                     c->moe_topk_groups, c->moe_groups, c->moe_group_max ? "best" : "two best", c->moe_scale);
        else if (c->moe_biased && c->moe_softmax)
            snprintf(buf, sizeof buf, "softmax scores with a correction bias");
        else if (c->moe_biased)
            snprintf(buf, sizeof buf, "sigmoid scores with a correction bias, the best %d of %d expert groups, "
                     "weights x%g", c->moe_topk_groups, c->moe_groups, c->moe_scale);
        else
            snprintf(buf, sizeof buf, "softmax");
        cJSON_AddStringToObject(o, "routing", buf);
        if (c->moe_shared_size) cJSON_AddNumberToObject(o, "shared_expert_ffn", c->moe_shared_size);
        cJSON_AddNumberToObject(o, "active_parameters", (double)rlc_config_num_params(c) - idle);
    }
    if (c->mla) { /* multi-head latent attention: its ranks and head dims */
        char q[32] = "no query bottleneck";
        if (c->q_lora_rank) snprintf(q, sizeof q, "query rank %d", c->q_lora_rank);
        snprintf(buf, sizeof buf, "%s, key/value latent %d + a shared rope key of %d, per head %d + %d query/key dims "
                 "and %d value dims", q, c->kv_lora_rank, c->qk_rope_dim, c->qk_nope_dim, c->qk_rope_dim, c->v_head_dim);
        cJSON_AddStringToObject(o, "mla", buf);
        cJSON_AddNumberToObject(o, "kv_row", rlc_config_mla_latent(c));
    }
    cJSON_AddStringToObject(o, "dtype", c->dtype);
    if (c->fp8) { /* model/fp8.c */
        char q[96] = "fp8, per tensor or channel";
        if (c->fp8_block[0]) snprintf(q, sizeof q, "fp8, blocks of %d x %d", c->fp8_block[0], c->fp8_block[1]);
        cJSON_AddStringToObject(o, "quantization", q);
    }
    return o;
}

static void print_text(const cJSON *o) {
#define S(k) cJSON_GetObjectItem(o, k)->valuestring
#define N(k) cJSON_GetObjectItem(o, k)->valuedouble
    printf("model: %s\n", S("model"));
    printf("  architecture: %s, %s head, %s%s\n", S("model_type"), S("head"), S("dtype"),
           cJSON_IsTrue(cJSON_GetObjectItem(o, "multimodal"))
               ? " (the language model of a multimodal checkpoint; its vision tower is not loaded)"
               : "");
    printf("  shape: %.0f layers, hidden %.0f, %.0f heads (%.0f kv, head_dim %.0f), ffn %.0f, vocab %.0f%s\n",
           N("layers"), N("hidden"), N("heads"), N("kv_heads"), N("head_dim"), N("ffn"), N("vocab"),
           cJSON_IsTrue(cJSON_GetObjectItem(o, "tied_embeddings")) ? ", tied embeddings" : "");
    printf("  parameters: %.1fM\n", N("parameters") / 1e6);
    if (cJSON_GetObjectItem(o, "experts"))
        printf("  experts: %.0f of width %.0f, %.0f per token%s, in %.0f of %.0f layers; %.1fM parameters active per "
               "token\n",
               N("experts"), N("expert_ffn"), N("experts_per_token"),
               cJSON_IsTrue(cJSON_GetObjectItem(o, "experts_renormalised")) ? " (weights renormalised)" : "",
               N("sparse_layers"), N("layers"), N("active_parameters") / 1e6);
    if (cJSON_GetObjectItem(o, "experts")) {
        printf("  routing: %s", S("routing"));
        if (cJSON_GetObjectItem(o, "shared_expert_ffn"))
            printf("; a shared expert of width %.0f", N("shared_expert_ffn"));
        printf("\n");
    }
    if (cJSON_GetObjectItem(o, "mla"))
        printf("  attention: multi-head latent (%s; the KV cache holds the latent and rope key: %.0f values a token "
               "and layer)\n", S("mla"), N("kv_row"));
    const cJSON *why = cJSON_GetObjectItem(o, "context_why");
    printf("  context: %.0f tokens%s%s%s\n", N("context"), why ? " (the " : "", why ? why->valuestring : "",
           why ? ")" : "");
    printf("  rope: %s%s, theta %g, rotary dims %.0f of %.0f", S("rope"),
           cJSON_IsTrue(cJSON_GetObjectItem(o, "rope_interleaved")) ? " (interleaved pairs)" : "", N("rope_theta"),
           N("rotary_dim"), N("head_dim"));
    if (cJSON_GetObjectItem(o, "rope_local_theta"))
        printf("; sliding layers: default, theta %g", N("rope_local_theta"));
    printf("\n");
    printf("  sliding window: %s\n", S("sliding"));
    if (cJSON_GetObjectItem(o, "attn_softcap") || cJSON_GetObjectItem(o, "final_softcap"))
        printf("  soft-capping: attention scores %g, logits %g (0: none)\n",
               cJSON_GetObjectItem(o, "attn_softcap") ? N("attn_softcap") : 0.0,
               cJSON_GetObjectItem(o, "final_softcap") ? N("final_softcap") : 0.0);
    const cJSON *d = cJSON_GetObjectItem(o, "tensor_dtypes"), *e;
    printf("  weights: %s, %.0f file(s), %.0f tensors, %.1f MB (", S("weights_format"), N("weight_files"), N("tensors"),
           N("weight_bytes") / 1e6);
    for (e = d ? d->child : NULL; e; e = e->next) printf("%s%s %.0f", e == d->child ? "" : ", ", e->string, e->valuedouble);
    printf(")\n");
    if (cJSON_GetObjectItem(o, "quantization"))
        printf("  quantization: %s (dequantized as rlc loads it; saved in bf16)\n", S("quantization"));
    if (cJSON_GetObjectItem(o, "tokenizer_error")) printf("  tokenizer: cannot load (%s)\n", S("tokenizer_error"));
    else if (!strcmp(S("tokenizer"), "none")) printf("  tokenizer: none in the directory\n");
    else
        printf("  tokenizer: %s, %.0f tokens, eos %.0f, chat template %s\n", S("tokenizer"), N("tokenizer_vocab"),
               N("eos_id"), S("chat_template"));
#undef S
#undef N
}

int info_model(const char *spec, int json) {
    char *dir = NULL;
    long step;
    int rc = rl_model_resolve(spec, "--model", &dir, &step);
    if (rc) return rc;
    char *cfg_path = fs_join(dir, "config.json");
    rlc_model_config_t c;
    rc = cfg_path ? rlc_config_load(&c, cfg_path) : RLC_ENOMEM;
    free(cfg_path);
    if (rc) return free(dir), rc;
    cJSON *o = summary(dir, &c);
    rlc_config_free(&c);
    rc = o ? weights_of(dir, o) : RLC_ENOMEM;
    if (!rc) tokenizer_of(dir, o);
    if (!rc && json) {
        char *s = cJSON_PrintUnformatted(o);
        if (s) puts(s);
        free(s);
    } else if (!rc) {
        print_text(o);
    }
    cJSON_Delete(o);
    free(dir);
    return rc;
}
