/* The http reward and the http tool against services on 127.0.0.1: a small in-process HTTP
 * server whose path picks its behaviour (grade, dense token rewards, slow, 500, flaky, the
 * wrong number of rewards, a closed connection, a tool), and the reference server of
 * scripts/reward_server.py when python3 is present. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/log.h"
#include "rewards/reward.h"
#include "testutil.h"
#include "tools/tool.h"

static int g_port, g_listen = -1;
static volatile int g_flaky;

/* The answer for a request body at `path`: status and JSON text; 0 = close without answer. */
static int answer(const char *path, const char *body, char *out, size_t cap) {
    if (!strcmp(path, "/close")) return 0;
    if (!strcmp(path, "/500") || (!strcmp(path, "/flaky") && g_flaky++ < 2)) return snprintf(out, cap, "{}"), 500;
    if (!strcmp(path, "/slow")) sleep(3);
    cJSON *j = cJSON_Parse(body);
    if (!strcmp(path, "/tool")) {
        const cJSON *in = cJSON_GetObjectItem(j, "input");
        snprintf(out, cap, "{\"output\": \"found: %s\"}", cJSON_IsString(in) ? in->valuestring : "?");
        cJSON_Delete(j);
        return 200;
    }
    const cJSON *items = cJSON_GetObjectItem(j, "items");
    int n = cJSON_GetArraySize(items), k = 0;
    if (!strcmp(path, "/wrong")) n--;
    k += snprintf(out + k, cap - k, "{\"rewards\": [");
    for (int i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetArrayItem(items, i), *c = cJSON_GetObjectItem(it, "completion"),
                    *a = cJSON_GetObjectItem(it, "answer");
        int ok = cJSON_IsString(c) && cJSON_IsString(a) && strstr(c->valuestring, a->valuestring);
        k += snprintf(out + k, cap - k, "%s%d", i ? ", " : "", ok);
    }
    k += snprintf(out + k, cap - k, "]");
    if (!strcmp(path, "/dense")) /* 0.5 on every token of each completion (2 tokens each here) */
        k += snprintf(out + k, cap - k, ", \"token_rewards\": [[0.5, 0.5], [0.5, 0.5]]");
    snprintf(out + k, cap - k, "}");
    cJSON_Delete(j);
    return 200;
}

static void serve_one(int fd) {
    char req[65536];
    req[0] = 0;
    size_t n = 0;
    char *hdr_end = NULL;
    while (n < sizeof req - 1 && !(hdr_end = strstr(req, "\r\n\r\n"))) {
        ssize_t k = read(fd, req + n, sizeof req - 1 - n);
        if (k <= 0) return;
        n += (size_t)k;
        req[n] = 0;
    }
    if (!hdr_end) return;
    const char *cl = strcasestr(req, "Content-Length:");
    size_t want = cl ? (size_t)atol(cl + 15) : 0, have = n - (size_t)(hdr_end + 4 - req);
    while (have < want && n < sizeof req - 1) {
        ssize_t k = read(fd, req + n, sizeof req - 1 - n);
        if (k <= 0) return;
        n += (size_t)k, have += (size_t)k;
        req[n] = 0;
    }
    char path[64] = "/";
    sscanf(req, "POST %63s", path);
    char body[65536]; /* per connection: concurrent batches are served by concurrent threads */
    int status = answer(path, hdr_end + 4, body, sizeof body);
    if (!status) return;
    char head[256];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n", status, strlen(body));
    if (write(fd, head, (size_t)hl) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static void *serve_thread(void *arg) {
    int fd = (int)(intptr_t)arg;
    serve_one(fd);
    close(fd);
    return NULL;
}

/* A thread per connection, so a slow answer does not hold up the next request. */
static void *server(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept(g_listen, NULL, NULL);
        if (fd < 0) return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_thread, (void *)(intptr_t)fd)) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

static int start_server(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    g_listen = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t len = sizeof a;
    if (bind(g_listen, (struct sockaddr *)&a, sizeof a) || listen(g_listen, 16) ||
        getsockname(g_listen, (struct sockaddr *)&a, &len))
        return -1;
    g_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    pthread_detach(t);
    return 0;
}

/* A reward on path: a 1 s timeout where the test wants one (/slow answers after 3 s), else
 * 10 s, so a loaded machine (a parallel ctest, a build) does not turn answers into
 * timeouts. */
static rlc_reward_t *make(const char *path, const char *extra) {
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"kind\": \"http\", \"options\": {\"url\": \"http://127.0.0.1:%d%s\", \"timeout_s\": %d%s}}",
             g_port, path, strcmp(path, "/slow") ? 10 : 1, extra);
    cJSON *j = cJSON_Parse(cfg);
    rlc_reward_t *r = NULL;
    if (rlc_reward_create(j, &r)) fail_msg("create: %s", rlc_errmsg());
    cJSON_Delete(j);
    return r;
}

static cJSON *g_meta[2];

static void rollouts(rlc_rollout_t *ro, int32_t *toks) {
    const char *comp[4] = {"so 42", "so 41", "it is 7", "it is 8"};
    for (int i = 0; i < 4; i++)
        ro[i] = (rlc_rollout_t){.prompt = "q", .completion = comp[i], .tokens = toks, .n_tokens = 2, .meta = g_meta[i / 2]};
}

static void test_http_reward(void **state) {
    (void)state;
    g_meta[0] = cJSON_Parse("{\"answer\": \"42\"}");
    g_meta[1] = cJSON_Parse("{\"answer\": \"7\"}");
    rlc_rollout_t ro[4];
    int32_t toks[2] = {1, 2};
    rollouts(ro, toks);
    float out[4];
    rlc_metrics_t ms = {0};
    rlc_reward_t *r = make("/grade", ", \"batch_size\": 2");
    assert_int_equal(rlc_reward_score(r, NULL, ro, 4, out, NULL, &ms), 0);
    assert_true(out[0] == 1 && out[1] == 0 && out[2] == 1 && out[3] == 0); /* two batches of 2 */
    rlc_reward_free(r);
    /* dense terms land on the completion tokens */
    float t0[2] = {0}, t1[2] = {0}, *tok[2] = {t0, t1};
    r = make("/dense", "");
    assert_int_equal(rlc_reward_score(r, NULL, ro, 2, out, tok, &ms), 0);
    assert_true(t0[0] == 0.5f && t1[1] == 0.5f);
    rlc_reward_free(r);
    /* a flaky service: two 500s, then it answers (the retries absorb it) */
    g_flaky = 0;
    r = make("/flaky", ", \"batch_size\": 4, \"max_retries\": 2");
    assert_int_equal(rlc_reward_score(r, NULL, ro, 4, out, NULL, &ms), 0);
    assert_true(out[0] == 1);
    rlc_reward_free(r);
    /* failures: a clear error, never silent zeros */
    const char *bad[4][2] = {{"/500", "HTTP 500"}, {"/slow", "timed out"}, {"/wrong", "returned 1 rewards for 2"},
                             {"/close", "/close"}};
    for (int k = 0; k < 4; k++) {
        r = make(bad[k][0], ", \"max_retries\": 1");
        int rc = rlc_reward_score(r, NULL, ro, 2, out, NULL, &ms);
        print_message("  %-7s -> %s\n", bad[k][0], rc ? rlc_errmsg() : "(no error)");
        assert_true(rc < 0);
        assert_non_null(strstr(rlc_errmsg(), bad[k][1]));
        rlc_reward_free(r);
    }
    /* on_error: the fallback value, counted */
    rlc_metrics_t m2 = {0};
    r = make("/500", ", \"max_retries\": 0, \"on_error\": -1");
    assert_int_equal(rlc_reward_score(r, NULL, ro, 4, out, NULL, &m2), 0);
    assert_true(out[0] == -1 && out[3] == -1);
    double fb;
    assert_int_equal(rlc_metrics_get(&m2, "http_fallbacks", &fb), 0);
    assert_true(fb == 1.0);
    rlc_reward_free(r);
    rlc_metrics_free(&m2);
    rlc_metrics_free(&ms);
    /* bad options */
    cJSON *j = cJSON_Parse("{\"kind\": \"http\", \"options\": {\"url\": \"ftp://x\"}}");
    assert_true(rlc_reward_create(j, &r) < 0);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"kind\": \"http\", \"options\": {\"url\": \"http://x\", \"batch\": 2}}");
    assert_true(rlc_reward_create(j, &r) < 0);
    assert_non_null(strstr(rlc_errmsg(), "batch"));
    cJSON_Delete(j);
    cJSON_Delete(g_meta[0]);
    cJSON_Delete(g_meta[1]);
}

static void test_http_tool(void **state) {
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tool", g_port);
    rlc_tools_cfg_t c;
    rlc_tools_cfg_default(&c);
    c.tools = RLC_TOOL_HTTP;
    c.format = RLC_TOOL_FMT_TAGS;
    c.http_url = url;
    c.timeout_s = 10; /* 1 s below, where a timeout is wanted */
    rlc_tools_t *t;
    assert_int_equal(rlc_tools_create(&t, &c), 0);
    const char *text = "Let me look it up. <search>capital of France</search>";
    gen_tool_call_t call = {.text = text, .text_len = strlen(text)};
    char *out = NULL;
    size_t n;
    assert_int_equal(rlc_tools_engine_batch(t, &call, 1, &out, &n), 0);
    assert_string_equal(out, "\n\n<information>found: capital of France</information>\n\n");
    free(out);
    rlc_tools_free(t);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", g_port); /* a timeout is the tool's error text */
    c.timeout_s = 1;
    assert_int_equal(rlc_tools_create(&t, &c), 0);
    assert_int_equal(rlc_tools_engine_batch(t, &call, 1, &out, &n), 0);
    assert_non_null(strstr(out, "error:"));
    rlc_tools_stats_t st;
    rlc_tools_stats_take(t, &st);
    assert_int_equal(st.timeouts, 1);
    free(out);
    rlc_tools_free(t);
}

/* scripts/reward_server.py, the reference service, as a user would run it. */
static void test_reference_server(void **state) {
    (void)state;
    if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
        print_message("  SKIP: no python3 for scripts/reward_server.py\n");
        skip();
    }
    char script[1024];
    snprintf(script, sizeof script, "%s/scripts/reward_server.py", getenv("RLC_SRC") ? getenv("RLC_SRC") : ".");
    int port = g_port + 1;
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        execlp("python3", "python3", script, "--port", p, (char *)NULL);
        _exit(127);
    }
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"kind\": \"http\", \"options\": {\"url\": \"http://127.0.0.1:%d/\", \"max_retries\": 8}}", port);
    cJSON *j = cJSON_Parse(cfg);
    rlc_reward_t *r;
    assert_int_equal(rlc_reward_create(j, &r), 0);
    cJSON_Delete(j);
    cJSON *m = cJSON_Parse("{\"answer\": \"12\"}");
    rlc_rollout_t ro[2] = {{.prompt = "q", .completion = "... so \\boxed{12}", .meta = m},
                           {.prompt = "q", .completion = "... so \\boxed{13}", .meta = m}};
    float out[2];
    int rc = rlc_reward_score(r, NULL, ro, 2, out, NULL, NULL); /* retries wait for it to start */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (rc) fail_msg("reference server: %s", rlc_errmsg());
    assert_true(out[0] == 1.0f && out[1] == 0.0f);
    rlc_reward_free(r);
    cJSON_Delete(m);
}

int main(void) {
    rlc_log_set_level(RLC_LOG_WARN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_http_reward), cmocka_unit_test(test_http_tool),
                                       cmocka_unit_test(test_reference_server)};
    return cmocka_run_group_tests(tests, start_server, NULL);
}
