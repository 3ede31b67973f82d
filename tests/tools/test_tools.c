/* Tools (docs/tools.md): every call format's parsing, including malformed and partial calls;
 * the calculator's exact values and its refusals; the python sandbox against an infinite
 * loop, a fork bomb, a memory hog, huge output, writing outside its directory and a network
 * connection (each contained, reported as the tool's error text, within the timeout); the
 * batch runner's concurrency; OTC shaping values and n carried across steps; the removal of the
 * directories killed runs left. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "rl/algo.h"
#include "rl/step.h"
#include "testutil.h"
#include "tools/sandbox.h"
#include "tools/tool.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void expect_parse(rlc_tool_format_t f, const char *text, int want, const char *tool, const char *input) {
    char name[64], *in = NULL;
    int rc = rlc_tool_parse(f, text, strlen(text), name, sizeof name, &in);
    if (rc != want || (tool && strcmp(name, tool)) || (input && (!in || strcmp(in, input)))) {
        fprintf(stderr, "parse(%s, [%s]) = %d tool [%s] input [%s]; want %d [%s] [%s]\n", rlc_tools_format_name(f), text,
                rc, name, in ? in : "(null)", want, tool ? tool : "", input ? input : "");
        fail();
    }
    free(in);
}

static void test_formats(void **state) {
    (void)state;
    rlc_tool_format_t C = RLC_TOOL_FMT_CODE, H = RLC_TOOL_FMT_HERMES, T = RLC_TOOL_FMT_TAGS;
    expect_parse(C, "So:\n```python\nprint(1+1)\n```", 1, "python", "\nprint(1+1)\n");
    expect_parse(C, "So:\n```python\nprint(1)\n```\n", 1, "python", "\nprint(1)\n"); /* "```\n" in one token */
    expect_parse(C, "Let me write code:\n```", 0, NULL, NULL);                         /* an opening fence */
    expect_parse(C, "```js\nx = 1\n```", 0, NULL, NULL);                               /* not python */
    expect_parse(C, "```python\nprint(1)\n```\n```output\n1\n```\n\nthen ```", 0, NULL, NULL);
    expect_parse(C, "no fence at all", 0, NULL, NULL);
    expect_parse(H, "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"2+3\"}}\n</tool_call>", 1,
                 "calculator", "2+3");
    expect_parse(H, "<tool_call>{\"name\": \"python\", \"arguments\": {\"code\": \"print(7)\"}}</tool_call>", 1, "python",
                 "print(7)");
    /* Llama 3.x's "parameters"; arguments as a JSON string (OpenAI's API) */
    expect_parse(H, "<tool_call>{\"name\": \"python\", \"parameters\": {\"code\": \"print(8)\"}}</tool_call>", 1,
                 "python", "print(8)");
    expect_parse(H, "<tool_call>{\"name\": \"calculator\", \"arguments\": \"{\\\"expression\\\": \\\"6*7\\\"}\"}</tool_call>",
                 1, "calculator", "6*7");
    expect_parse(H, "<tool_call>{\"name\": \"calculator\", \"arguments\": \"6*7\"}</tool_call>", 2, "", NULL);
    expect_parse(H, "<tool_call>{\"name\": \"calculator\", \"arguments\": [1]}</tool_call>", 2, "", NULL);
    expect_parse(H, "<tool_call>{\"name\": \"calc\"</tool_call>", 2, "", NULL);           /* bad JSON */
    expect_parse(H, "<tool_call>{\"arguments\": {}}</tool_call>", 2, "", NULL);          /* no name */
    expect_parse(H, "<tool_call>{\"name\": 3}</tool_call>", 2, "", NULL);                 /* name not a string */
    expect_parse(H, "stray </tool_call>", 2, "", NULL);                                   /* no opening tag */
    expect_parse(H, "<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1", 0, NULL, NULL);
    expect_parse(T, "I need facts. <search>capital of France</search>", 1, "http", "capital of France");
    expect_parse(T, "</search>", 2, "", NULL);
    /* the rendered answers */
    size_t n;
    char *r = rlc_tool_render(C, "2", 1, &n);
    assert_string_equal(r, "\n```output\n2\n```\n");
    assert_int_equal(n, strlen(r));
    free(r);
    r = rlc_tool_render(H, "5", 1, &n);
    assert_string_equal(r, "<|im_end|>\n<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n<|im_start|>assistant\n");
    free(r);
    r = rlc_tool_render(T, "Paris", 5, &n);
    assert_string_equal(r, "\n\n<information>Paris</information>\n\n");
    free(r);
    char *p = rlc_tool_prompt(H, RLC_TOOL_CALCULATOR | RLC_TOOL_PYTHON);
    assert_non_null(strstr(p, "\"name\": \"calculator\""));
    assert_non_null(strstr(p, "<tool_call>"));
    free(p);
    int tools;
    assert_int_equal(rlc_tools_parse_list("calculator, python", &tools), 0);
    assert_int_equal(tools, RLC_TOOL_CALCULATOR | RLC_TOOL_PYTHON);
    assert_true(rlc_tools_parse_list("calculator,shell", &tools) < 0);
    assert_non_null(strstr(rlc_errmsg(), "shell"));
    rlc_tool_format_t f;
    assert_true(rlc_tools_parse_format("xml", &f) < 0);
}

static void expect_calc(const char *expr, const char *want, rlc_tool_status_t want_st) {
    rlc_tool_status_t st;
    char *out = rlc_calculator(expr, &st);
    if (st != want_st || strncmp(out, want, strlen(want))) {
        fprintf(stderr, "calculator(%s) = [%s] status %d; want [%s...] status %d\n", expr, out, st, want, want_st);
        fail();
    }
    free(out);
}

static void test_calculator(void **state) {
    (void)state;
    expect_calc("2+3*4", "14", RLC_TOOL_OK);
    expect_calc("(2+3)*4", "20", RLC_TOOL_OK);
    expect_calc("2^10", "1024", RLC_TOOL_OK);
    expect_calc("2**3**2", "512", RLC_TOOL_OK); /* right-associative */
    expect_calc("-2^2", "-4", RLC_TOOL_OK);
    expect_calc("2^-2", "1/4", RLC_TOOL_OK);
    expect_calc("1/3 + 1/6", "1/2 = 0.5", RLC_TOOL_OK);
    expect_calc("2.5 * 4", "10", RLC_TOOL_OK);
    expect_calc("1,000 + 1", "1001", RLC_TOOL_OK);
    expect_calc("123456789123456789 * 987654321987654321", "121932631356500531347203169112635269", RLC_TOOL_OK);
    expect_calc("3^200/7", "265613988875874769338781322035779626829233452653394495974574961739092490901302182994384699044001/7",
                RLC_TOOL_OK);
    expect_calc("6 \xc3\x97 7 \xc3\xb7 3", "14", RLC_TOOL_OK);
    expect_calc("1/0", "error: division by zero", RLC_TOOL_ERROR);
    expect_calc("0^-1", "error: division by zero", RLC_TOOL_ERROR);
    expect_calc("2^(1/2)", "error: the exponent must be an integer", RLC_TOOL_ERROR);
    expect_calc("10^10^10", "error: the result would exceed", RLC_TOOL_ERROR);
    expect_calc("2 +", "error: expected a number", RLC_TOOL_ERROR);
    expect_calc("2 3", "error: unexpected text", RLC_TOOL_ERROR);
    expect_calc("import os", "error:", RLC_TOOL_ERROR);
    expect_calc("(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1", "error: the expression nests",
                RLC_TOOL_ERROR);
    double t0 = now_s();
    expect_calc("99999^99999", "error: the result would exceed", RLC_TOOL_ERROR);
    assert_true(now_s() - t0 < 1.0);
}

static int g_python_exec; /* the python mode make_tools gives (0: fork servers) */

static rlc_tools_t *make_tools(int tools, double timeout, size_t max_out, int workers) {
    rlc_tools_cfg_t c;
    rlc_tools_cfg_default(&c);
    c.python_exec = g_python_exec;
    c.tools = tools;
    c.timeout_s = timeout;
    c.max_output_bytes = max_out;
    c.workers = workers;
    rlc_tools_t *t = NULL;
    if (rlc_tools_create(&t, &c)) fail_msg("tools: %s", rlc_errmsg());
    return t;
}

/* One python call: its status, output, and the seconds it took. */
static double run_py(rlc_tools_t *t, const char *code, rlc_tool_status_t *st, char **out) {
    size_t n;
    double t0 = now_s();
    assert_int_equal(rlc_tool_run(t, "python", code, out, &n, st), 0);
    return now_s() - t0;
}

static void expect_contained(rlc_tools_t *t, const char *what, const char *code, rlc_tool_status_t want_st,
                             const char *needle, double limit_s) {
    rlc_tool_status_t st;
    char *out;
    double dt = run_py(t, code, &st, &out);
    print_message("  %-22s %.2f s, status %d: %.60s\n", what, dt, st, strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out);
    if (st != want_st || !strstr(out, needle) || dt > limit_s)
        fail_msg("%s: status %d (want %d), %.2f s (limit %.1f), output [%s] lacks [%s]", what, st, want_st, dt, limit_s,
                 out, needle);
    free(out);
}

static void expect_output(rlc_tools_t *t, const char *code, rlc_tool_status_t want_st, const char *want) {
    rlc_tool_status_t st;
    char *out;
    run_py(t, code, &st, &out);
    if (st != want_st || strcmp(out, want))
        fail_msg("[%s]: status %d (want %d), output [%s] (want [%s])", code, st, want_st, out, want);
    free(out);
}

/* The sandbox's promises (docs/tools.md), in the mode of g_python_exec. */
static void sandbox_suite(void) {
    rlc_tools_t *t = make_tools(RLC_TOOL_PYTHON, 2.0, 1024, 1);
    rlc_tool_status_t st;
    char *out;
    run_py(t, "print(2**100)", &st, &out);
    assert_int_equal(st, RLC_TOOL_OK);
    assert_string_equal(out, "1267650600228229401496703205376\n");
    free(out);
    expect_contained(t, "infinite loop", "while True: pass", RLC_TOOL_TIMEOUT, "timed out", 4.0);
    expect_contained(t, "fork bomb", "import os\nwhile True: os.fork()", RLC_TOOL_ERROR, "Operation not permitted", 4.0);
    expect_contained(t, "subprocess", "import subprocess\nsubprocess.run(['true'])", RLC_TOOL_ERROR, "Operation not permitted",
                     4.0);
    expect_contained(t, "memory hog", "x = bytearray(8 * 1024**3)", RLC_TOOL_ERROR, "MemoryError", 4.0);
    expect_contained(t, "huge output", "while True: print('x' * 1000)", RLC_TOOL_ERROR, "[output truncated]", 4.0);
    expect_contained(t, "cut, then silent", "print('x' * 5000, flush=True)\nimport time\ntime.sleep(30)", RLC_TOOL_ERROR,
                     "[output truncated]", 4.0);
    expect_contained(t, "write outside", "open('/tmp/rlc_sandbox_escape_test', 'w').write('x')", RLC_TOOL_ERROR,
                     "Read-only file system", 4.0);
    assert_false(access("/tmp/rlc_sandbox_escape_test", F_OK) == 0);
    expect_contained(t, "network", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)", RLC_TOOL_ERROR,
                     "Error", 4.0);
    /* its own directory is writable, and fresh each call */
    run_py(t, "open('f.txt', 'w').write('hi'); print(open('f.txt').read())", &st, &out);
    assert_int_equal(st, RLC_TOOL_OK);
    assert_string_equal(out, "hi\n");
    free(out);
    run_py(t, "import os; print(os.listdir('.'))", &st, &out);
    assert_string_equal(out, "['main.py']\n");
    free(out);
    /* what a script run as `python main.py` sees and does */
    expect_output(t, "if __name__ == '__main__': print(__file__, open(__file__).read().startswith('if'))", RLC_TOOL_OK,
                  "main.py True\n");
    /* a traceback names the file "main.py", whatever directory the call got: the same text
     * in every run and both modes */
    {
        rlc_tool_status_t st;
        char *out;
        run_py(t, "x = 1\nprint(x / 0)", &st, &out);
        const char *head = "Traceback (most recent call last):\n  File \"main.py\", line 2, in <module>\n    print(x / 0)\n";
        if (st != RLC_TOOL_ERROR || strncmp(out, head, strlen(head)) || !strstr(out, "ZeroDivisionError: division by zero\n"))
            fail_msg("traceback: status %d, [%s]", st, out);
        free(out);
    }
    expect_output(t, "import sys; print('out'); sys.exit(3)", RLC_TOOL_ERROR, "out\n");
    expect_output(t, "import sys; sys.exit(0)", RLC_TOOL_OK, "");
    expect_output(t, "import sys; sys.exit('bye')", RLC_TOOL_ERROR, "bye\n");
    expect_output(t, "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()",
                  RLC_TOOL_OK, "late\n");
    expect_output(t, "import atexit; atexit.register(print, 'bye')", RLC_TOOL_OK, "bye\n");
    expect_output(t, "# -*- coding: latin-1 -*-\nprint(len('\xe9'))", RLC_TOOL_OK, "1\n");
    expect_output(t, "import builtins; print(hasattr(builtins, 'left_by_a_call')); builtins.left_by_a_call = 1",
                  RLC_TOOL_OK, "False\n");
    expect_output(t, "import builtins; print(hasattr(builtins, 'left_by_a_call'))", RLC_TOOL_OK, "False\n");
    /* str hashing is fixed (PYTHONHASHSEED=0): the same value on another interpreter or
     * server, so set orders and the like repeat from run to run */
    {
        rlc_tool_status_t st;
        char *a, *b;
        run_py(t, "print(hash('rlc'), list({'a', 'b', 'c', 'd'}))", &st, &a);
        rlc_tools_t *t2 = make_tools(RLC_TOOL_PYTHON, 2.0, 1024, 1);
        run_py(t2, "print(hash('rlc'), list({'a', 'b', 'c', 'd'}))", &st, &b);
        assert_int_equal(st, RLC_TOOL_OK);
        assert_string_equal(a, b);
        free(a), free(b);
        rlc_tools_free(t2);
    }
    /* an unknown or disabled tool is an error text, not a failure */
    size_t n;
    assert_int_equal(rlc_tool_run(t, "calculator", "1+1", &out, &n, &st), 0);
    assert_int_equal(st, RLC_TOOL_ERROR);
    assert_non_null(strstr(out, "no tool named 'calculator'"));
    free(out);
    rlc_tools_free(t);
}


/* SIGKILL this process's child processes (the sandboxes: a fork server dies with its
 * sandbox's outer process); returns how many. */
static int kill_children(void) {
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == getpid()) {
            kill(atoi(e->d_name), SIGKILL);
            n++;
        }
    }
    closedir(d);
    usleep(100 * 1000);
    return n;
}

static void *kill_children_later(void *arg) {
    (void)arg;
    usleep(500 * 1000);
    kill_children();
    return NULL;
}

static void test_sandbox_fork(void **state) {
    (void)state;
    g_python_exec = 0;
    sandbox_suite();
}

static void test_sandbox_exec(void **state) {
    (void)state;
    g_python_exec = 1;
    sandbox_suite();
    g_python_exec = 0;
}

/* Fork mode: the calls come from one started interpreter (the server's modules are there, a
 * fresh interpreter's are not); a call that kills its server loses itself only, and the next
 * call gets a new server. */
static void test_fork_server(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        g_python_exec = mode;
        rlc_tools_t *t = make_tools(RLC_TOOL_PYTHON, 2.0, 1024, 2);
        expect_output(t, "import sys; print('socket' in sys.modules)", RLC_TOOL_OK, mode ? "False\n" : "True\n");
        rlc_tools_free(t);
    }
    g_python_exec = 0;
    rlc_tools_t *t = make_tools(RLC_TOOL_PYTHON, 2.0, 1024, 1);
    /* the server is init of its PID namespace: a call cannot kill it */
    expect_output(t, "import os, signal; os.kill(os.getppid(), signal.SIGKILL); print(os.getppid())", RLC_TOOL_OK,
                  "1\n");
    /* files left beside the call's directory are gone for the next call */
    expect_output(t, "open('../left', 'w').write('x'); print('ok')", RLC_TOOL_OK, "ok\n");
    expect_output(t, "import os; print(os.listdir('..'))", RLC_TOOL_OK, "['c3']\n");
    /* a server killed between calls is replaced unseen; one killed during a call loses it */
    assert_true(kill_children() >= 1);
    expect_output(t, "print(6 * 7)", RLC_TOOL_OK, "42\n");
    pthread_t killer;
    assert_int_equal(pthread_create(&killer, NULL, kill_children_later, NULL), 0);
    rlc_tool_status_t st;
    char *out;
    run_py(t, "import time; time.sleep(1.5); print('slept')", &st, &out);
    pthread_join(killer, NULL);
    assert_int_equal(st, RLC_TOOL_ERROR);
    if (!strstr(out, "server stopped")) fail_msg("a call whose server was killed: [%s]", out);
    free(out);
    expect_output(t, "import sys; print('socket' in sys.modules)", RLC_TOOL_OK, "True\n");
    rlc_tools_free(t);
}

/* An interpreter that cannot run the server (here a wrapper that refuses to start one): the
 * calls run the exec way, with the same answers. */
static void test_fork_server_fallback(void **state) {
    (void)state;
    char *real = rlc_python_resolve("python3");
    assert_non_null(real);
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/python-without-c", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\ncase \"$*\" in *sys.executable*) echo \"$0\"; exit 0;; esac\n"
               "[ \"$2\" = -c ] && [ \"$4\" != --run ] && { echo 'no server here' >&2; exit 3; }\nexec '%s' \"$@\"\n",
            real);
    fclose(f);
    chmod(path, 0755);
    rlc_tools_cfg_t c;
    rlc_tools_cfg_default(&c);
    c.tools = RLC_TOOL_PYTHON;
    c.python = path;
    rlc_tools_t *t = NULL;
    if (rlc_tools_create(&t, &c)) fail_msg("tools: %s", rlc_errmsg());
    for (int i = 0; i < 2; i++) {
        expect_output(t, "print(2 ** 10)", RLC_TOOL_OK, "1024\n");
        expect_output(t, "import sys; print('socket' in sys.modules)", RLC_TOOL_OK, "False\n");
    }
    rlc_tools_free(t);
    unlink(path);
    rmdir(dir);
    free(dir);
    free(real);
}

/* What killed runs left: only the directories whose owner is gone and that are old go. */
static void test_sweep_stale(void **state) {
    (void)state;
    char *root = test_tmpdir(), *old_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", root, 1);
    pid_t dead = fork();
    if (!dead) _exit(0);
    waitpid(dead, NULL, 0);
    char made[512];
    assert_int_equal(rlc_tool_mkdtemp("pyfork", made, sizeof made), 0); /* this process's own */
    char names[5][600];
    snprintf(names[0], 600, "%s/rlc-pyfork-%ld-abc123", root, (long)dead);    /* gone, old: removed */
    snprintf(names[1], 600, "%s/rlc-tool-%ld-xyz789", root, (long)dead);      /* gone, old: removed */
    snprintf(names[2], 600, "%s/rlc-tool-%ld-young1", root, (long)dead);      /* gone, recent: kept */
    snprintf(names[3], 600, "%s/rlc-tool-%ld-alive1", root, (long)getppid()); /* owner runs: kept */
    snprintf(names[4], 600, "%s/rlc-other-%ld-abc123", root, (long)dead);     /* not ours: kept */
    struct timespec old_t[2] = {{.tv_sec = time(NULL) - 3 * 3600}, {.tv_sec = time(NULL) - 3 * 3600}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mkdir(names[i], 0700), 0);
        char f[700];
        snprintf(f, sizeof f, "%s/main.py", names[i]);
        FILE *fp = fopen(f, "w");
        fputs("print(1)\n", fp);
        fclose(fp);
        if (i != 2) assert_int_equal(utimensat(AT_FDCWD, names[i], old_t, 0), 0);
    }
    assert_int_equal(utimensat(AT_FDCWD, made, old_t, 0), 0);
    assert_int_equal(rlc_tool_sweep_stale(7200), 2);
    struct stat st;
    assert_int_not_equal(stat(names[0], &st), 0);
    assert_int_not_equal(stat(names[1], &st), 0);
    for (int i = 2; i < 5; i++) assert_int_equal(stat(names[i], &st), 0);
    assert_int_equal(stat(made, &st), 0);
    assert_non_null(strstr(made, "/rlc-pyfork-"));
    if (old_tmp) setenv("TMPDIR", old_tmp, 1);
    else unsetenv("TMPDIR");
    free(old_tmp);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    free(root);
}

/* A step's calls run concurrently: 6 calls of 0.6 s on 6 workers take about 0.6 s, not 3.6. */
static void test_batch(void **state) {
    (void)state;
    rlc_tools_t *t = make_tools(RLC_TOOL_PYTHON | RLC_TOOL_CALCULATOR, 5.0, 256, 6);
    enum { N = 7 };
    const char *texts[N];
    for (int i = 0; i < 6; i++) texts[i] = "```python\nimport time; time.sleep(0.6); print('slept')\n```";
    texts[6] = "plain text ending with a fence ```"; /* not a call */
    gen_tool_call_t calls[N];
    for (int i = 0; i < N; i++) calls[i] = (gen_tool_call_t){.text = texts[i], .text_len = strlen(texts[i])};
    char *outs[N] = {0};
    size_t lens[N];
    double t0 = now_s();
    assert_int_equal(rlc_tools_engine_batch(t, calls, N, outs, lens), 0);
    double dt = now_s() - t0;
    print_message("  6 sleeping calls on 6 workers: %.2f s\n", dt);
    assert_true(dt < 2.5);
    for (int i = 0; i < 6; i++) {
        assert_non_null(outs[i]);
        assert_string_equal(outs[i], "\n```output\nslept\n```\n");
        free(outs[i]);
    }
    assert_null(outs[6]);
    rlc_tools_stats_t st;
    rlc_tools_stats_take(t, &st);
    assert_int_equal(st.calls, 6);
    assert_int_equal(st.errors + st.timeouts + st.malformed, 0);
    rlc_tools_free(t);
}

/* OTC-GRPO with n kept per question: hand-computed factors (SPECS.md "OTC"). */
static void test_otc(void **state) {
    (void)state;
    float r[4] = {1, 1, 0, 1}, cr[4] = {1, 1, 0, 1}, fac[4];
    int calls[4] = {2, 4, 1, 3};
    int n = -1;
    rl_otc_group(r, calls, cr, 4, 1, 4.0, 1.0, &n, fac);
    assert_int_equal(n, 2); /* the fewest calls among the correct ones (the wrong sample's 1 does not count) */
    assert_true(fabsf(fac[0] - 1.0f) < 1e-6f);                                  /* m = n: sin(pi/2) */
    assert_true(fabs(fac[1] - sin((2.0 * 2 * 4 / 6) * M_PI / 4)) < 1e-6);       /* f = 2nm/(m+n) = 8/3 */
    assert_true(fabs(fac[3] - sin((2.0 * 2 * 3 / 5) * M_PI / 4)) < 1e-6);       /* f = 12/5 */
    assert_true(fabsf(fac[2] - 1.0f) < 1e-6f && r[2] == 0.0f);                  /* wrong: untouched */
    assert_true(fabsf(r[1] - fac[1]) < 1e-6f);
    /* the next epoch: a sample with 1 call lowers n for everyone after it */
    float r2[2] = {1, 1}, cr2[2] = {1, 1};
    int c2[2] = {1, 2};
    rl_otc_group(r2, c2, cr2, 2, 1, 4.0, 1.0, &n, fac);
    assert_int_equal(n, 1);
    assert_true(fabs(fac[1] - sin((2.0 * 1 * 2 / 3) * M_PI / 2)) < 1e-6);
    /* a group with no correct sample keeps n */
    float r3[2] = {0, 0}, cr3[2] = {0, 0};
    int c3[2] = {0, 0};
    rl_otc_group(r3, c3, cr3, 2, 1, 4.0, 1.0, &n, NULL);
    assert_int_equal(n, 1);
    /* OTC-PPO: cos(m pi / (2m + c)), alpha scales */
    float r4[1] = {1}, cr4[1] = {1};
    int c4[1] = {2};
    int n4 = -1;
    rl_otc_group(r4, c4, cr4, 1, 0, 4.0, 0.5, &n4, fac);
    assert_true(fabs(fac[0] - cos(2 * M_PI / 8)) < 1e-6);
    assert_true(fabs(r4[0] - 0.5 * cos(2 * M_PI / 8)) < 1e-6);
}

/* OTC's per-question n survives a checkpoint: restored by row id from the trainer state's
 * extra ("otc_n"), written back with the rest of extra kept. */
static void test_otc_state(void **state) {
    (void)state;
    rl_config_t cfg;
    assert_int_equal(rl_config_init(&cfg), 0);
    assert_int_equal(rl_config_set(&cfg, "tools", "calculator", "test"), 0);
    assert_int_equal(rl_config_set(&cfg, "otc", "grpo", "test"), 0);
    rl_ctx_t c;
    memset(&c, 0, sizeof c);
    c.cfg = &cfg;
    data_row_t rows[3];
    memset(rows, 0, sizeof rows);
    char *ids[3] = {"q-a", "q-b", "q-c"};
    for (int i = 0; i < 3; i++) rows[i].id = ids[i];
    c.data.rows = rows;
    c.data.n = 3;
    rl_train_state_t st;
    memset(&st, 0, sizeof st);
    st.extra = cJSON_Parse("{\"otc_n\": {\"q-b\": 2, \"gone\": 1}, \"other\": 5}");
    assert_int_equal(rl_tools_setup(&c, &st), 0);
    assert_non_null(c.tools);
    assert_int_equal(c.n_tool_markers, 1);
    assert_string_equal(c.tool_markers[0], "```");
    assert_int_equal(c.otc_n[0], -1);
    assert_int_equal(c.otc_n[1], 2);
    assert_int_equal(c.otc_n[2], -1);
    c.otc_n[2] = 0;
    cJSON *j = rl_tools_state_json(&c, st.extra);
    assert_true(j != st.extra);
    char *txt = cJSON_PrintUnformatted(j);
    assert_string_equal(txt, "{\"otc_n\":{\"q-b\":2,\"q-c\":0},\"other\":5}");
    free(txt);
    cJSON_Delete(j);
    cJSON_Delete(st.extra);
    rlc_tools_free(c.tools);
    free(c.otc_n);
    rl_config_free(&cfg);
}

int main(void) {
    rlc_log_set_level(RLC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),      cmocka_unit_test(test_calculator),
        cmocka_unit_test(test_sandbox_fork), cmocka_unit_test(test_sandbox_exec),
        cmocka_unit_test(test_fork_server),  cmocka_unit_test(test_fork_server_fallback),
        cmocka_unit_test(test_batch),        cmocka_unit_test(test_otc),
        cmocka_unit_test(test_otc_state),    cmocka_unit_test(test_sweep_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
