/* The tool set of a run: configuration, dispatch of a call to its tool, and the batch the
 * rollout engine hands over once per step, run by up to `workers` threads at once (a slow
 * tool does not serialise the batch). A call that is malformed, names an unknown or disabled
 * tool, fails or times out gets an error text as its output: the policy sees it, training
 * goes on. Counters feed the step's metrics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include <cjson/cJSON.h>

#include "net/http.h"
#include "tools/pyfork.h"
#include "tools/sandbox.h"
#include "tools/tool.h"

struct rlc_tools {
    rlc_tools_cfg_t cfg;
    char *python;         /* resolved interpreter, or NULL */
    rlc_pyfork_t *pyfork; /* the fork servers (NULL: every call execs its interpreter) */
    char *http_url;       /* owned copy */
    pthread_mutex_t mu;
    rlc_tools_stats_t st;
};

/* Two hours: longer than any call may run (tool_timeout_s <= 3600). */
static void sweep_stale(void) { rlc_tool_sweep_stale(7200); }

int rlc_tools_create(rlc_tools_t **out, const rlc_tools_cfg_t *cfg) {
    *out = NULL;
    int rc = rlc_tools_check_ranges(0, cfg->timeout_s, (long)cfg->max_output_bytes, cfg->workers);
    if (rc) return rc;
    if ((unsigned)cfg->format >= RLC_TOOL_N_FORMATS) return rlc_errc(RLC_EINVAL, "unknown tool format %d", (int)cfg->format);
    if ((cfg->tools & RLC_TOOL_HTTP) && !(cfg->http_url && *cfg->http_url))
        return rlc_errc(RLC_EINVAL, "the http tool needs a URL (tool_http_url)");
    rlc_tools_t *t = rlc_calloc(1, sizeof *t);
    if (!t) return RLC_ENOMEM;
    t->cfg = *cfg;
    if (cfg->tools & RLC_TOOL_PYTHON) {
        t->python = rlc_python_resolve(cfg->python ? cfg->python : "python3");
        if (!t->python) {
            free(t);
            return rlc_errc(RLC_EINVAL, "the python tool: no interpreter runs as '%s'", cfg->python ? cfg->python : "python3");
        }
        static pthread_once_t swept = PTHREAD_ONCE_INIT; /* what killed runs left, once per process */
        pthread_once(&swept, sweep_stale);
        if (!cfg->python_exec) t->pyfork = rlc_pyfork_create(t->python, cfg->python_preload, cfg->workers);
    }
    if (cfg->http_url) t->http_url = strdup(cfg->http_url);
    rlc_http_set_max_inflight(cfg->workers);
    t->cfg.http_url = t->http_url;
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return 0;
}

void rlc_tools_free(rlc_tools_t *t) {
    if (!t) return;
    pthread_mutex_destroy(&t->mu);
    rlc_pyfork_free(t->pyfork);
    free(t->python);
    free(t->http_url);
    free(t);
}

int rlc_tools_markers(const rlc_tools_t *t, const char *const **markers) {
    return rlc_tool_format_markers(t->cfg.format, markers);
}

/* The http tool: POST {"name", "input"} to the configured URL; the answer's "output" string,
 * or its whole body when it is not such JSON. */
static char *http_call(rlc_tools_t *t, const char *tool, const char *input, rlc_tool_status_t *st) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "name", tool);
    cJSON_AddStringToObject(b, "input", input);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body) return NULL;
    rlc_http_opts_t o;
    rlc_http_opts_default(&o);
    o.timeout_s = t->cfg.timeout_s;
    o.max_response = t->cfg.max_output_bytes * 4 + 4096;
    char *resp = NULL;
    long code;
    int rc = rlc_http_post_json(t->http_url, body, &o, &resp, NULL, &code);
    free(body);
    if (rc) {
        char msg[400];
        snprintf(msg, sizeof msg, "error: %s", rlc_errmsg());
        *st = strstr(msg, "imeout") || strstr(msg, "timed out") ? RLC_TOOL_TIMEOUT : RLC_TOOL_ERROR;
        return rlc_strdup(msg);
    }
    *st = RLC_TOOL_OK;
    cJSON *j = cJSON_Parse(resp);
    const cJSON *o2 = j ? cJSON_GetObjectItemCaseSensitive(j, "output") : NULL;
    if (cJSON_IsString(o2)) {
        char *r = rlc_strdup(o2->valuestring);
        free(resp);
        cJSON_Delete(j);
        return r;
    }
    cJSON_Delete(j);
    return resp;
}

int rlc_tool_run(rlc_tools_t *t, const char *tool, const char *input, char **out, size_t *out_len,
                 rlc_tool_status_t *st) {
    *out = NULL;
    *out_len = 0;
    *st = RLC_TOOL_ERROR;
    int k = 0;
    while (k < 3 && strcmp(tool, rlc_tool_names[k])) k++;
    char msg[160];
    if (k == 3 || !(t->cfg.tools & (1 << k))) {
        snprintf(msg, sizeof msg, "error: no tool named '%.60s' (enabled: %s%s%s)", tool,
                 t->cfg.tools & RLC_TOOL_CALCULATOR ? "calculator " : "", t->cfg.tools & RLC_TOOL_PYTHON ? "python " : "",
                 t->cfg.tools & RLC_TOOL_HTTP ? "http" : "");
        *out = rlc_strdup(msg);
    } else if (k == 0) {
        *out = rlc_calculator(input, st);
    } else if (k == 1) {
        *out = rlc_pyfork_run(t->pyfork, input, t->cfg.timeout_s, t->cfg.max_output_bytes, st);
        if (!*out) *out = rlc_python_run(t->python, input, t->cfg.timeout_s, t->cfg.max_output_bytes, st);
    } else {
        *out = http_call(t, tool, input, st);
    }
    if (!*out) return RLC_ENOMEM;
    *out_len = strlen(*out);
    /* the calculator's and error texts obey the cap too (room kept for a closing note such
     * as "[output truncated]" after a cut python output) */
    if (*out_len > t->cfg.max_output_bytes + 80) {
        (*out)[t->cfg.max_output_bytes] = 0;
        *out_len = t->cfg.max_output_bytes;
    }
    return 0;
}

/* One engine call: parse, run, render. *out NULL when the marker closed no call. */
static int handle_call(rlc_tools_t *t, const gen_tool_call_t *c, char **out, size_t *out_len) {
    char tool[64], *input = NULL, *res = NULL;
    size_t res_len = 0;
    rlc_tool_status_t st = RLC_TOOL_ERROR;
    int rc = rlc_tool_parse(t->cfg.format, c->text, c->text_len, tool, sizeof tool, &input);
    *out = NULL;
    *out_len = 0;
    if (rc <= 0) return rc; /* not a call, or no memory */
    double t0 = rlc_now();
    int malformed = rc == 2;
    if (malformed) res = input, input = NULL, res_len = strlen(res); /* the error text is the answer */
    else if ((rc = rlc_tool_run(t, tool, input, &res, &res_len, &st))) {
        free(input);
        return rc;
    }
    double dt = rlc_now() - t0;
    free(input);
    if (!res) return RLC_ENOMEM;
    if (res_len && res[res_len - 1] == '\n') res_len--; /* the format puts its own line break */
    *out = rlc_tool_render(t->cfg.format, res, res_len, out_len);
    free(res);
    pthread_mutex_lock(&t->mu);
    t->st.calls++;
    t->st.malformed += malformed;
    t->st.errors += !malformed && st == RLC_TOOL_ERROR;
    t->st.timeouts += st == RLC_TOOL_TIMEOUT;
    t->st.seconds += dt;
    pthread_mutex_unlock(&t->mu);
    return *out ? 0 : RLC_ENOMEM;
}

typedef struct {
    rlc_tools_t *t;
    const gen_tool_call_t *calls;
    char **outs;
    size_t *lens;
    int n, next, rc;
    pthread_mutex_t mu;
} batch_t;

static void *batch_worker(void *arg) {
    batch_t *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int i = b->rc ? b->n : b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n) return NULL;
        int rc = handle_call(b->t, &b->calls[i], &b->outs[i], &b->lens[i]);
        if (rc) {
            pthread_mutex_lock(&b->mu);
            if (!b->rc) b->rc = rc;
            pthread_mutex_unlock(&b->mu);
        }
    }
}

int rlc_tools_engine_batch(void *user, const gen_tool_call_t *calls, int n, char **outs, size_t *out_lens) {
    rlc_tools_t *t = user;
    batch_t b = {.t = t, .calls = calls, .outs = outs, .lens = out_lens, .n = n, .next = 0, .rc = 0};
    pthread_mutex_init(&b.mu, NULL);
    int nw = n < t->cfg.workers ? n : t->cfg.workers;
    pthread_t th[256];
    int started = 0;
    for (int w = 1; w < nw; w++) /* the calling thread is worker 0 */
        if (!pthread_create(&th[started], NULL, batch_worker, &b)) started++;
    batch_worker(&b);
    for (int w = 0; w < started; w++) pthread_join(th[w], NULL);
    pthread_mutex_destroy(&b.mu);
    if (b.rc)
        for (int i = 0; i < n; i++) free(outs[i]), outs[i] = NULL;
    return b.rc;
}

void rlc_tools_stats_take(rlc_tools_t *t, rlc_tools_stats_t *out) {
    pthread_mutex_lock(&t->mu);
    *out = t->st;
    memset(&t->st, 0, sizeof t->st);
    pthread_mutex_unlock(&t->mu);
}
