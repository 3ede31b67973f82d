/* `rlc report` on hand-made run directories: the groups with data get an SVG (the others
 * none), every SVG renders to PNG with rsvg-convert (librsvg, from Debian: scripts/deps.sh)
 * without a warning, report.md carries the settings, final and best held-out pass@1, the
 * speed and the early/late best and worst samples; two runs overlay with a legend, x in
 * tokens with smoothing; bad input is one error line and writes nothing. */
#include "testutil.h"

#include "core/fs.h"

static void write_run(const char *dir, double scale, int with_eval) {
    assert_int_equal(fs_mkdir_p(dir), 0);
    char *p = fs_join(dir, "metrics.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int s = 1; s <= 12; s++) {
        fprintf(f, "{\"step\":%d,\"reward_mean\":%g,\"acc\":%g,\"kl\":%g,\"entropy\":%g,\"resp_len_mean\":%d,"
                   "\"clip_frac\":0.01,\"grad_norm\":%g,\"tokens_gen\":1000,\"t_rollout\":1.5,\"t_score\":0.1,"
                   "\"t_train\":2,\"t_total\":3.6,\"tok_per_s\":%d",
                s, scale * s / 12.0, scale * s / 13.0, 0.001 * s, 1.0 - 0.05 * s, 40 + s, 0.5 / s, 2000 + 10 * s);
        if (with_eval && s == 5) fprintf(f, ",\"eval_pass1\":0.6");
        if (with_eval && s == 10) fprintf(f, ",\"eval_pass1\":0.5");
        fprintf(f, "}\n");
    }
    fclose(f);
    free(p);
    p = fs_join(dir, "samples.jsonl");
    f = fopen(p, "w");
    const char *rows[4] = {"{\"step\":1,\"prompt\":\"Compute 2 + 2.\",\"completion\":\"FIRSTGOOD \\\\boxed{4}\",\"reward\":1}",
                           "{\"step\":1,\"prompt\":\"Compute 3 + 3.\",\"completion\":\"FIRSTBAD\",\"reward\":0}",
                           "{\"step\":12,\"prompt\":\"Compute 5 + 5.\",\"completion\":\"LASTGOOD\",\"reward\":1}",
                           "{\"step\":12,\"prompt\":\"Compute 6 + 6.\",\"completion\":\"LASTBAD ```code```\",\"reward\":-1}"};
    for (int i = 0; i < 4; i++) fprintf(f, "%s\n", rows[i]);
    fclose(f);
    free(p);
    p = fs_join(dir, "config.json");
    f = fopen(p, "w");
    fprintf(f, "{\"algo\": \"grpo\", \"lr\": 0.0002, \"group_size\": 8, \"model\": \"tiny\"}\n");
    fclose(f);
    free(p);
}

static char *read_file(const char *dir, const char *name) {
    char *p = fs_join(dir, name), *t = NULL;
    size_t n;
    if (fs_read_all(p, &t, &n)) fail_msg("%s missing", p);
    free(p);
    return t;
}

static void render_all(const char *dir, int expect) {
    static const char *groups[] = {"reward", "heldout", "kl", "entropy", "length", "clip", "grad_norm", "throughput"};
    char out[4096];
    for (int i = 0; i < expect; i++) {
        if (test_run(out, sizeof out, "rsvg-convert -o %s/%s.png %s/%s.svg", dir, groups[i], dir, groups[i]))
            fail_msg("rsvg-convert %s.svg (install librsvg2-bin: scripts/deps.sh): %s", groups[i], out);
        if (out[0]) fail_msg("rsvg-convert %s.svg warned: %s", groups[i], out);
        char png[512];
        snprintf(png, sizeof png, "%s.png", groups[i]);
        char *p = fs_join(dir, png), *t;
        size_t n;
        assert_int_equal(fs_read_all(p, &t, &n), 0);
        assert_true(n > 1000 && !memcmp(t, "\x89PNG", 4));
        free(t), free(p);
    }
}

static void test_report(void **s) {
    (void)s;
    char *d = test_tmpdir(), *a = fs_join(d, "runA"), *b = fs_join(d, "runB"), *both = fs_join(d, "both");
    write_run(a, 1.0, 1);
    write_run(b, 0.5, 0);
    char out[8192];
    if (test_run(out, sizeof out, "%s report %s", rlc_bin(), a)) fail_msg("report: %s", out);
    char *rd = fs_join(a, "report");
    assert_non_null(strstr(out, "report.md"));
    char *md = read_file(rd, "report.md");
    assert_non_null(strstr(md, "held-out pass@1: final 0.5000 (step 10), best 0.6000 (step 5)"));
    assert_non_null(strstr(md, "| algo | `grpo` |"));
    assert_non_null(strstr(md, "time per step (mean): rollout 1.50 s"));
    assert_non_null(strstr(md, "FIRSTGOOD") && strstr(md, "FIRSTBAD") && strstr(md, "LASTGOOD") && strstr(md, "LASTBAD"));
    assert_non_null(strstr(md, "~~~")); /* a completion holding ``` is fenced with ~~~ */
    assert_non_null(strstr(md, "![Held-out pass@1](heldout.svg)"));
    char *tp = fs_join(rd, "tools.svg");
    assert_false(fs_exists(tp)); /* no tool metrics, no plot */
    free(tp);
    render_all(rd, 8);
    char *svg = read_file(rd, "reward.svg");
    assert_non_null(strstr(svg, ">reward_mean<") && strstr(svg, ">acc<") && strstr(svg, ">step<"));
    free(svg), free(md);
    /* two runs overlaid, x = generated tokens, smoothed */
    if (test_run(out, sizeof out, "%s report %s --run %s --out %s --x tokens --smooth 3", rlc_bin(), a, b, both))
        fail_msg("report: %s", out);
    svg = read_file(both, "reward.svg");
    assert_non_null(strstr(svg, ">runA: reward_mean<") && strstr(svg, ">runB: acc<") && strstr(svg, "generated tokens"));
    free(svg);
    svg = read_file(both, "kl.svg");
    assert_non_null(strstr(svg, ">runA<") && strstr(svg, ">runB<"));
    free(svg);
    render_all(both, 8);
    /* bad input */
    char *bad = fs_join(d, "bad"), *none = fs_join(d, "none");
    assert_int_equal(fs_mkdir_p(bad), 0);
    char *bm = fs_join(bad, "metrics.jsonl");
    assert_int_equal(fs_write_atomic(bm, "{\"step\": 1}\n{\"step\": 2,\n", 24), 0);
    test_expect_cli_error("metrics.jsonl:2", "%s report %s", rlc_bin(), bad);
    test_expect_cli_error("no metrics.jsonl", "%s report %s", rlc_bin(), none);
    test_expect_cli_error("--x must be step, tokens or time", "%s report %s --x epochs", rlc_bin(), a);
    test_expect_cli_error("needs a run directory", "%s report", rlc_bin());
    char *br = fs_join(bad, "report");
    assert_false(fs_exists(br));
    snprintf(out, sizeof out, "rm -rf %s", d);
    assert_int_equal(system(out), 0);
    free(d), free(a), free(b), free(both), free(rd), free(bad), free(none), free(bm), free(br);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
