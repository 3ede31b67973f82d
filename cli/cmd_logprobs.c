/* `rlc logprobs`: per-token log-probabilities of a text or id sequence under a model, the
 * user's "score a completion" command; with --prompt/--completion only the completion's
 * tokens are summed. --file scores a JSONL of such records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "tokenizer/tok.h"

typedef struct {
    rlc_model_t *m;
    tok_t *tok;
    double inv_temp;
    int add_special;
} ctx_t;

/* ids = encode(prompt) ++ encode(completion); *first = index of the first scored token. */
static int build_ids(ctx_t *c, const char *text, const char *prompt, const char *completion, int32_t **ids, int *n,
                     int *first) {
    if (!c->tok) return rlc_errc(RLC_EINVAL, "text input needs a tokenizer in the model directory (or use --ids)");
    *first = 1;
    if (text) return tok_encode(c->tok, text, strlen(text), c->add_special, ids, n);
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    int rc = tok_encode(c->tok, prompt, strlen(prompt), c->add_special, &a, &na);
    if (!rc) rc = tok_encode(c->tok, completion, strlen(completion), 0, &b, &nb);
    if (!rc && na == 0) rc = rlc_errc(RLC_EINVAL, "the prompt encodes to no tokens");
    if (!rc && !(*ids = rlc_malloc((size_t)(na + nb + 1) * sizeof **ids))) rc = RLC_ENOMEM;
    if (!rc) {
        memcpy(*ids, a, (size_t)na * sizeof *a);
        memcpy(*ids + na, b, (size_t)nb * sizeof *b);
        *n = na + nb;
        *first = na;
    }
    free(a);
    free(b);
    return rc;
}

/* lp[i] = log p(ids[i] | ids[<i]) for i >= 1. */
static int score(ctx_t *c, const int32_t *ids, int n, float *lp) {
    if (n < 2) return rlc_errc(RLC_EINVAL, "need at least two tokens to score (got %d)", n);
    if (n > c->m->cfg.max_context)
        return rlc_errc(RLC_ERANGE, "sequence of %d tokens exceeds the model's context (%d%s%s)", n,
                        c->m->cfg.max_context, c->m->cfg.context_why ? ": the " : "",
                        c->m->cfg.context_why ? c->m->cfg.context_why : "");
    int32_t cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = (float)c->inv_temp, .head = RLC_HEAD_LM};
    float *raw = rlc_malloc((size_t)n * sizeof(float));
    if (!raw) return RLC_ENOMEM;
    int rc = rlc_model_forward(c->m, &b, &o, raw, NULL, NULL);
    if (!rc) {
        lp[0] = NAN;
        for (int i = 1; i < n; i++) lp[i] = raw[i - 1];
    }
    free(raw);
    return rc;
}

static void json_token_text(ctx_t *c, cJSON *obj, int32_t id) {
    const char *b;
    size_t len;
    if (c->tok && tok_token_bytes(c->tok, id, &b, &len) == 0) rlc_json_add_text(obj, "token", b, len);
}

static void print_human(ctx_t *c, const int32_t *ids, int n, const float *lp, int first) {
    double sum = 0;
    printf("%6s %8s %12s  %s\n", "pos", "id", "logprob", c->tok ? "token" : "");
    for (int i = 1; i < n; i++) {
        const char *b = "";
        size_t len = 0;
        if (c->tok) tok_token_bytes(c->tok, ids[i], &b, &len);
        printf("%6d %8d %12.6f  ", i, ids[i], lp[i]);
        for (size_t k = 0; k < len; k++) {
            unsigned char ch = (unsigned char)b[k];
            if (ch == '\n') printf("\\n");
            else if (ch == '\t') printf("\\t");
            else if (ch < 0x20) printf("\\x%02x", ch);
            else putchar(ch);
        }
        printf("%s\n", i >= first ? "" : "   (prompt)");
        if (i >= first) sum += lp[i];
    }
    int scored = n - first;
    printf("scored tokens: %d  sum logprob: %.6f  mean: %.6f  perplexity: %.4f\n", scored, sum,
           scored ? sum / scored : 0, scored ? exp(-sum / scored) : 0);
}

static cJSON *to_json(ctx_t *c, const int32_t *ids, int n, const float *lp, int first, int per_token) {
    cJSON *o = cJSON_CreateObject();
    double sum = 0;
    cJSON *arr = per_token ? cJSON_AddArrayToObject(o, "tokens") : NULL;
    for (int i = 1; i < n; i++) {
        if (i >= first) sum += lp[i];
        if (!arr) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "pos", i);
        cJSON_AddNumberToObject(t, "id", ids[i]);
        json_token_text(c, t, ids[i]);
        cJSON_AddNumberToObject(t, "logprob", lp[i]);
        if (i < first) cJSON_AddBoolToObject(t, "prompt", 1);
        cJSON_AddItemToArray(arr, t);
    }
    cJSON_AddNumberToObject(o, "n_scored", n - first);
    cJSON_AddNumberToObject(o, "sum_logprob", sum);
    cJSON_AddNumberToObject(o, "mean_logprob", n - first > 0 ? sum / (n - first) : 0);
    return o;
}

static int run_file(ctx_t *c, const char *path, int per_token) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    cJSON *row;
    while ((rc = rlc_jsonl_next(&r, &row)) > 0) {
        const char *text = NULL, *prompt = NULL, *completion = NULL, *what = r.path;
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", what, r.lineno);
        int32_t *ids = NULL;
        int n = 0, first = 1;
        rc = rlc_json_get_str(row, "text", &text, 0, where);
        if (rc >= 0) rc = rlc_json_get_str(row, "prompt", &prompt, 0, where);
        if (rc >= 0) rc = rlc_json_get_str(row, "completion", &completion, 0, where);
        const cJSON *jids = cJSON_GetObjectItemCaseSensitive(row, "ids");
        if (rc >= 0) {
            rc = 0;
            if (cJSON_IsArray(jids)) {
                rc = cli_ids_from_json(jids, where, &ids, &n);
            } else if (text || (prompt && completion)) {
                rc = build_ids(c, text, prompt, completion, &ids, &n, &first);
            } else {
                rc = rlc_errc(RLC_EINVAL, "%s: needs \"text\", \"prompt\"+\"completion\" or \"ids\"", where);
            }
        }
        float *lp = NULL;
        if (!rc && !(lp = rlc_malloc((size_t)n * sizeof(float)))) rc = RLC_ENOMEM;
        if (!rc) rc = score(c, ids, n, lp);
        if (rc) rlc_err_ctx(rc, "%s", where);
        if (!rc) {
            cJSON *o = to_json(c, ids, n, lp, first, per_token);
            char *s = cJSON_PrintUnformatted(o);
            if (s) printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
        free(lp);
        free(ids);
        cJSON_Delete(row);
        if (rc) break;
    }
    rlc_jsonl_close(&r);
    return rc < 0 ? rc : 0;
}

int cmd_logprobs(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *text = NULL, *prompt = NULL, *completion = NULL, *file = NULL;
    const char *device = "cpu";
    long threads = 0;
    double temperature = 1.0;
    int json = 0, no_special = 0, per_token = 0;
    cli_opt_t opts[] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory", 1, 0},
        {"--ids", OPT_STR, &ids_s, "token ids, e.g. \"1 2 3\"", 0, 0},
        {"--text", OPT_STR, &text, "text to tokenize and score", 0, 0},
        {"--prompt", OPT_STR, &prompt, "prompt text (with --completion: score only the completion)", 0, 0},
        {"--completion", OPT_STR, &completion, "completion text scored given --prompt", 0, 0},
        {"--file", OPT_STR, &file, "JSONL of {text} | {prompt, completion} | {ids}; prints one JSON line each", 0, 0},
        {"--temperature", OPT_FLOAT, &temperature, "divide logits by T before the softmax", 0, 0},
        {"--no-special", OPT_FLAG, &no_special, "do not add BOS/special tokens when encoding", 0, 0},
        {"--tokens", OPT_FLAG, &per_token, "with --file: include per-token entries", 0, 0},
        {"--json", OPT_FLAG, &json, "print JSON", 0, 0},
        {"--device", OPT_STR, &device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &threads, "CPU threads (0 = all cores)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc logprobs --model DIR (--ids \"1 2 3\" | --text T | --prompt P --completion C | --file F)",
                       "Print, for each position >= 1, the token id and its log-probability given the prefix.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    int inputs = (ids_s != NULL) + (text != NULL) + (prompt != NULL || completion != NULL) + (file != NULL);
    if (inputs != 1) {
        rlc_errc(RLC_EINVAL, "give exactly one of --ids, --text, --prompt/--completion, --file");
        return cli_fail();
    }
    if ((prompt != NULL) != (completion != NULL)) {
        rlc_errc(RLC_EINVAL, "--prompt and --completion go together");
        return cli_fail();
    }
    if (!(temperature > 0)) {
        rlc_errc(RLC_EINVAL, "--temperature must be positive");
        return cli_fail();
    }
    cli_model_t cm;
    ctx_t c = {.inv_temp = 1.0 / temperature, .add_special = !no_special};
    int32_t *ids = NULL;
    float *lp = NULL;
    int n = 0, first = 1;
    /* the tokenizer is optional for --ids and for id-only files */
    rc = cli_model_open(&cm, model, device, (int)threads, ids_s ? -1 : 0);
    c.m = cm.m;
    c.tok = cm.tok;
    if (!rc && c.m->cfg.head != RLC_HEAD_LM) rc = rlc_errc(RLC_EINVAL, "%s has no language-model head", model);
    if (!rc && file) {
        rc = run_file(&c, file, per_token);
    } else if (!rc) {
        rc = ids_s ? cli_parse_ids(ids_s, "--ids", &ids, &n) : build_ids(&c, text, prompt, completion, &ids, &n, &first);
        if (!rc && !(lp = rlc_malloc((size_t)(n ? n : 1) * sizeof(float)))) rc = RLC_ENOMEM;
        if (!rc) rc = score(&c, ids, n, lp);
        if (!rc && json) {
            cJSON *o = to_json(&c, ids, n, lp, first, 1);
            char *s = cJSON_Print(o);
            if (s) printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else if (!rc) {
            print_human(&c, ids, n, lp, first);
        }
    }
    free(ids);
    free(lp);
    cli_model_close(&cm);
    return rc ? cli_fail() : 0;
}
