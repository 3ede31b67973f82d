/* Dense families' configs read as their classes define them (the numerics: test_model_parity's
 * fixture of each family). EXAONE 4.0: its sliding and NoPE layers from layer_types, an int
 * pattern or a string of L and G, none with sliding_window null; bad patterns as one error. */
#include "testutil.h"

#include "core/err.h"
#include "core/json.h"
#include "model/model.h"

static int parse(rlc_model_config_t *c, const char *extra) {
    char j[1024];
    snprintf(j, sizeof j,
             "{\"model_type\": \"exaone4\", \"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 24, "
             "\"num_hidden_layers\": 6, \"num_attention_heads\": 4%s}",
             extra);
    cJSON *p = cJSON_Parse(j);
    assert_non_null(p);
    return rlc_config_from_json(c, p, "cfg");
}

/* layer l slides (window W) and turns by RoPE exactly where want[l] is 'L' */
static void layers_are(const rlc_model_config_t *c, const char *want, int W) {
    for (int l = 0; l < c->num_layers; l++) {
        int slides = want[l] == 'L';
        if (rlc_config_layer_window(c, l) != (slides ? W : 0) || rlc_config_layer_rope(c, l) != (slides || !W))
            fail_msg("layer %d: window %d, rope %d (want %c)", l, rlc_config_layer_window(c, l),
                     rlc_config_layer_rope(c, l), want[l]);
    }
}

static void test_exaone4(void **s) {
    (void)s;
    rlc_model_config_t c;
    assert_int_equal(parse(&c, ""), 0); /* Exaone4Config's: window 4096, every 4th layer full */
    assert_true(c.post_only && c.post_norms && c.qk_norm && !c.qk_norm_full && c.rms_norm_eps == 1e-5f);
    assert_true(c.head_dim == 8 && !c.tie_word_embeddings);
    layers_are(&c, "LLLGLL", 4096);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, ", \"sliding_window\": 16, \"sliding_window_pattern\": \"LG\""), 0);
    layers_are(&c, "LGLGLG", 16);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, ", \"sliding_window_pattern\": 3, \"layer_types\": [\"full_attention\", "
                               "\"sliding_attention\", \"full_attention\", \"full_attention\", "
                               "\"sliding_attention\", \"sliding_attention\"]"),
                     0);
    layers_are(&c, "GLGGLL", 4096);
    rlc_config_free(&c);
    assert_int_equal(parse(&c, ", \"sliding_window\": null"), 0); /* every layer full and rotary */
    layers_are(&c, "GGGGGG", 0);
    rlc_config_free(&c);
    const char *bad[][2] = {{", \"sliding_window_pattern\": \"LXG\"", "must be of L and G"},
                            {", \"sliding_window_pattern\": 0", "sliding_window_pattern must be positive"},
                            {", \"sliding_window\": -1", "sliding_window must be a positive number"},
                            {", \"layer_types\": [\"full_attention\"]", "one type per layer (6)"}};
    for (int i = 0; i < 4; i++) {
        assert_true(parse(&c, bad[i][0]) < 0);
        if (!strstr(rlc_errmsg(), bad[i][1])) fail_msg("%s: %s", bad[i][0], rlc_errmsg());
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exaone4)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
