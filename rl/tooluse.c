/* Tool use in training (docs/tools.md): the run's tool set, the tool metrics of a step, and
 * OTC (Wang et al. 2025) reward shaping of correct samples by how few tool calls they made,
 * with n — the fewest calls among a question's correct samples — kept per question across
 * steps and epochs, made equal on every rank, and saved in the checkpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/step.h"
#include "rl/toolprompt.h"

typedef struct {
    const char *id;
    int row;
} id_row_t;

static int cmp_id(const void *a, const void *b) { return strcmp(((const id_row_t *)a)->id, ((const id_row_t *)b)->id); }

/* n per row from a checkpoint's {"id": n}; ids no longer in the data are ignored. */
static int restore_otc(rl_ctx_t *c, const cJSON *saved) {
    int n = c->data.n;
    id_row_t *ix = rlc_malloc(sizeof *ix * (size_t)(n ? n : 1));
    if (!ix) return RLC_ENOMEM;
    for (int i = 0; i < n; i++) ix[i] = (id_row_t){c->data.rows[i].id ? c->data.rows[i].id : "", i};
    qsort(ix, (size_t)n, sizeof *ix, cmp_id);
    long restored = 0;
    for (const cJSON *e = saved ? saved->child : NULL; e; e = e->next) {
        if (!e->string || !cJSON_IsNumber(e)) continue;
        id_row_t key = {e->string, 0}, *hit = bsearch(&key, ix, (size_t)n, sizeof *ix, cmp_id);
        if (hit && e->valuedouble >= 0 && e->valuedouble < 1e6) c->otc_n[hit->row] = (int)e->valuedouble, restored++;
    }
    free(ix);
    if (restored) LOG_INFO("OTC: restored the fewest-tool-calls count of %ld questions", restored);
    return 0;
}

int rl_tools_setup(rl_ctx_t *c, const rl_train_state_t *st) {
    const rl_config_t *cfg = c->cfg;
    const rlc_tools_settings_t ts = rl_config_tools(cfg);
    rlc_tools_cfg_t tc;
    int rc = rlc_tools_cfg_from(&ts, &tc);
    if (rc || !tc.tools) return rc;
    if ((rc = rlc_tools_create(&c->tools, &tc))) return rc;
    c->n_tool_markers = rlc_tools_markers(c->tools, &c->tool_markers);
    if (!strcmp(cfg->otc, "off")) return 0;
    c->otc_n = rlc_malloc(sizeof *c->otc_n * (size_t)(c->data.n ? c->data.n : 1));
    if (!c->otc_n) return RLC_ENOMEM;
    for (int i = 0; i < c->data.n; i++) c->otc_n[i] = -1;
    const cJSON *saved = st && st->extra ? cJSON_GetObjectItemCaseSensitive(st->extra, "otc_n") : NULL;
    return saved ? restore_otc(c, saved) : 0;
}

/* 1 when every row of the sets (NULL: none) gives its prompt as chat messages. */
static int all_chat(const data_set_t *a, const data_set_t *b) {
    const data_set_t *sets[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int i = 0; sets[k] && i < sets[k]->n; i++)
            if (!sets[k]->rows[i].messages) return 0;
    return 1;
}

int rl_tool_prompt_apply(tok_t *tok, data_tpl_t tpl, const char *chat_family, rlc_tool_format_t f, int tools,
                         const char *where, data_set_t *a, data_set_t *b) {
    int in_template, rc = rlc_tools_prompt_in(where, &in_template);
    if (rc) return rc;
    if (in_template) {
        if (!data_template_is_chat(tpl) && !all_chat(a, b))
            return rlc_errc(RLC_EINVAL, "tool_prompt_in = template: the prompt template %s is no chat template "
                                        "(qwen-math-cot is) and not every problem is given as chat messages",
                            data_template_name(tpl));
        if (chat_family && *chat_family)
            return rlc_errc(RLC_EINVAL, "tool_prompt_in = template: needs the model's own chat template, not the "
                                        "built-in %s", chat_family);
        return rlc_tools_template_vars(tok, f, tools);
    }
    char *pre = rlc_tool_prompt(f, tools);
    rc = pre ? 0 : RLC_ENOMEM;
    if (!rc && a) rc = data_set_prefix_problems(a, pre);
    if (!rc && b) rc = data_set_prefix_problems(b, pre);
    free(pre);
    return rc;
}

int rl_tools_prompt_rows(rl_ctx_t *c) {
    const rl_config_t *cfg = c->cfg;
    const rlc_tools_settings_t ts = rl_config_tools(cfg);
    rlc_tools_cfg_t tc;
    int rc = rlc_tools_cfg_from(&ts, &tc);
    if (rc || !tc.tools) return rc;
    return rl_tool_prompt_apply(c->tok, c->tpl, NULL, tc.format, tc.tools, cfg->tool_prompt_in, &c->data, &c->eval_data);
}

int rl_tools_score(rl_ctx_t *c, const group_t *g, const rlc_rollout_t *ro, float *rw, const float *cr, int mine,
                   rlc_metrics_t *ms) {
    const rl_config_t *cfg = c->cfg;
    int G = (int)cfg->group_size, rc = 0;
    int *calls = rlc_malloc(sizeof *calls * (size_t)(G ? G : 1));
    float *factor = rlc_malloc(sizeof *factor * (size_t)(G ? G : 1));
    if (!calls || !factor) rc = RLC_ENOMEM;
    double c_otc = cfg->otc_c > 0 ? cfg->otc_c : (double)cfg->max_tool_calls;
    long n_calls = 0, n_correct = 0;
    for (int q = 0; q < mine && !rc; q++) {
        for (int i = 0; i < G; i++) {
            const rlc_rollout_t *x = &ro[q * G + i];
            calls[i] = x->n_tool_calls;
            n_calls += x->n_tool_calls;
            n_correct += cr[q * G + i] > 0.5f;
            rc = rlc_metrics_add(ms, "tool_calls_mean", x->n_tool_calls);
            if (!rc) rc = rlc_metrics_add(ms, cr[q * G + i] > 0.5f ? "tool_calls_correct" : "tool_calls_wrong", x->n_tool_calls);
        }
        if (rc || !c->otc_n) continue;
        int row = (int)(g[q].row - c->data.rows);
        rl_otc_group(rw + (size_t)q * G, calls, cr + (size_t)q * G, G, !strcmp(cfg->otc, "grpo"), c_otc, cfg->otc_alpha,
                     &c->otc_n[row], factor);
        for (int i = 0; i < G && !rc; i++)
            if (cr[q * G + i] > 0.5f) rc = rlc_metrics_add(ms, "otc_factor_mean", factor[i]);
    }
    free(calls);
    free(factor);
    rlc_tools_stats_t st;
    rlc_tools_stats_take(c->tools, &st);
    if (!rc && mine > 0) rc = rlc_metrics_add(ms, "tool_productivity", n_calls ? (double)n_correct / (double)n_calls : 0);
    if (!rc) rc = rlc_metrics_add(ms, "tool_errors", (double)(st.errors + st.malformed));
    if (!rc) rc = rlc_metrics_add(ms, "tool_timeouts", (double)st.timeouts);
    if (!rc) rc = rlc_metrics_add(ms, "tool_seconds", st.seconds);
    return rc;
}

int rl_tools_sync(rl_ctx_t *c) {
    if (c->comm->world == 1) return 0;
    int n = c->data.n;
    int64_t *v = rlc_malloc(sizeof *v * (size_t)(n ? n : 1));
    int rc = dist_agree(c->comm, v ? 0 : RLC_ENOMEM);
    if (rc) {
        free(v);
        return rc;
    }
    for (int i = 0; i < n; i++) v[i] = c->otc_n[i] < 0 ? INT64_MAX : c->otc_n[i]; /* "none yet" loses the min */
    rc = dist_allreduce_i64(c->comm, v, (size_t)n, DIST_MIN);
    for (int i = 0; i < n && !rc; i++) c->otc_n[i] = v[i] == INT64_MAX ? -1 : (int)v[i];
    free(v);
    return rc;
}

cJSON *rl_tools_state_json(const rl_ctx_t *c, cJSON *extra) {
    if (!c->otc_n) return extra;
    cJSON *j = extra ? cJSON_Duplicate(extra, 1) : cJSON_CreateObject();
    cJSON *m = cJSON_CreateObject();
    if (!j || !m) {
        cJSON_Delete(j);
        cJSON_Delete(m);
        return NULL;
    }
    for (int i = 0; i < c->data.n; i++)
        if (c->otc_n[i] >= 0 && c->data.rows[i].id) cJSON_AddNumberToObject(m, c->data.rows[i].id, c->otc_n[i]);
    if (cJSON_GetObjectItemCaseSensitive(j, "otc_n")) cJSON_ReplaceItemInObjectCaseSensitive(j, "otc_n", m);
    else cJSON_AddItemToObject(j, "otc_n", m);
    return j;
}
