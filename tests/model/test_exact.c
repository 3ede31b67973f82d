/* exact_on_policy on the CPU backend: the training forward with exact = 1 gives the rollout
 * engine's sampled log-probs bit for bit, on every fixture architecture (sliding windows too), including sequences
 * the engine preempted and recomputed and sequences packed in different micro-batches; the
 * ordinary forward does not (it differs by summation order). */
#include "testutil.h"

#include "exact_check.h"

static void test_exact(void **s) {
    (void)s;
    rlc_backend_t *be;
    assert_int_equal(rlc_backend_create(&be, "cpu", 0, 2), 0);
    const char *names[] = {"models/qwen2-tiny",  "models/qwen2-untied",     "models/llama3-tiny",
                           "models/llama-bias",  "models/qwen3-tiny",       "models/mistral-sliding",
                           "models/qwen2-sliding", "models/phi3-tiny",      "models/gemma3-tiny",
                           "models/gemma-tiny",       "models/gemma2-tiny",     "models/olmo2-tiny",
                           "models/olmo3-tiny",       "models/granite-tiny",
                           "models/smollm3-tiny",     "models/ministral3-tiny", "models/qwen3moe-tiny",
                           "models/mixtral-tiny",     "models/olmoe-tiny",    "models/qwen2moe-tiny",
                           "models/glm4moe-tiny",     "models/dots1-tiny",       "models/ernie45-tiny",
                           "models/ernie45moe-tiny",  "models/glm4-tiny",
                           "models/dsv3-tiny",        "models/moonlight-tiny", "models/glm47flash-tiny",
                           "models/dsv2-tiny",        "models/minicpm3-tiny",
                           "models/mistral4-tiny",    "models/youtu-tiny",      "models/seed-oss-tiny",
                           "models/qwen3-fp8",        "models/minimax-m2-tiny",
                           "models/dsv32-tiny",       "models/exaone4-tiny",
                           "models/solar-open-tiny"};
    int loose = 0;
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        rlc_model_t *m;
        if (rlc_model_load(&m, fixture(names[k]), be)) fail_msg("%s: %s", names[k], rlc_errmsg());
        int n = exact_check(m, 1);
        assert_true(n > 200);
        loose += exact_check(m, 0);
        rlc_model_free(m);
    }
    print_message("ordinary forward: %d token log-probs differ from the engine's\n", loose);
    assert_true(loose > 0); /* the exact path is what makes them equal */
    rlc_backend_destroy(be);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exact)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
