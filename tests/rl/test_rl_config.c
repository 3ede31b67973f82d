/* rl/config: defaults, JSON and YAML files (unknown keys, wrong types, nesting and
 * malformed input are errors naming the key or line), flags overriding the file, every
 * validation rule the issue lists, the resolved config round trip, and --help coverage. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "rl/algo.h"
#include "rl/config.h"
#include "rl/foreign.h"
#include "rl/sft.h"

static char *g_dir;

static char *write_file(const char *name, const char *text) {
    char *p = fs_join(g_dir, name);
    assert_int_equal(fs_write_atomic(p, text, strlen(text)), 0);
    return p;
}

static void has(const char *needle) {
    if (!strstr(rlc_errmsg(), needle)) fail_msg("error '%s' lacks '%s'", rlc_errmsg(), needle);
}

static void test_defaults(void **s) {
    (void)s;
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    assert_int_equal(c.algo, RL_ADV_GRPO);
    assert_int_equal(c.group_size, 8);
    assert_int_equal(c.loss_agg, RL_AGG_TOKEN_MEAN);
    assert_int_equal(c.kl_estimator, RL_KL_K3);
    assert_true(c.clip_low == 0.2 && c.clip_high == 0.2 && c.kl_coef == 0.001 && c.lam == 0.95);
    assert_int_equal(c.adv_std_sample, 1);
    assert_string_equal(c.run_dir, "runs/rl");
    assert_string_equal(c.model, "");
    assert_int_equal(rl_config_validate(&c), 0);
    char buf[256];
    assert_int_equal(rl_config_get(&c, "--lr", buf, sizeof buf), 0);
    assert_string_equal(buf, "1e-06");
    assert_int_equal(rl_config_get(&c, "loss-agg", buf, sizeof buf), 0);
    assert_string_equal(buf, "token-mean");
    assert_int_equal(rl_config_get(&c, "dynamic_sampling", buf, sizeof buf), 0);
    assert_string_equal(buf, "false");
    /* every table default reads back as itself */
    int n;
    const rl_config_key_t *k = rl_config_keys(&n);
    assert_true(n > 50);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rl_config_get(&c, k[i].name, buf, sizeof buf), 0);
        if (strcmp(buf, k[i].def)) fail_msg("%s: default '%s' reads back as '%s'", k[i].name, k[i].def, buf);
    }
    rl_config_free(&c);
}

static void test_json(void **s) {
    (void)s;
    char *p = write_file("a.json", "{\"algo\": \"rloo\", \"group_size\": 4, \"clip_high\": 0.28, \"lr\": \"3e-6\",\n"
                                   " \"dynamic_sampling\": true, \"model\": \"m/dir\", \"ref_model\": null,\n"
                                   " \"loss_agg\": \"seq_mean_token_sum_norm\", \"seed\": 1e3}");
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    assert_int_equal(rl_config_load_file(&c, p), 0);
    assert_int_equal(c.algo, RL_ADV_RLOO);
    assert_int_equal(c.group_size, 4);
    assert_true(c.clip_high == 0.28 && c.lr == 3e-6);
    assert_int_equal(c.dynamic_sampling, 1);
    assert_string_equal(c.model, "m/dir");
    assert_string_equal(c.ref_model, "");
    assert_int_equal(c.loss_agg, RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM);
    assert_int_equal(c.seed, 1000);
    free(p);

    struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"clip_hgih\": 0.3}", "unknown key 'clip_hgih' (did you mean 'clip_high'?)"},
        {"{\"frobnicate\": 1}", "unknown key 'frobnicate'"},
        {"{\"group_size\": \"many\"}", "group_size: expected an integer"},
        {"{\"group_size\": 2.5}", "group_size: expected an integer"},
        {"{\"dynamic_sampling\": 1}", "dynamic_sampling: expected true or false"},
        {"{\"model\": 3}", "model: expected a string"},
        {"{\"loss_agg\": \"sum\"}", "loss_agg: unknown value 'sum'"},
        {"{\"kl_estimator\": \"k7\"}", "kl_estimator: unknown value 'k7'"},
        {"{\"lr\": [1]}", "lr: expected a number"},
        {"{\"lr\": 1, \"lr\": 2}", "given twice"},
        {"[1, 2]", "must be a JSON object"},
        {"{\"lr\": 1,,}", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = write_file("bad.json", bad[i].text);
        assert_int_not_equal(rl_config_load_file(&c, p), 0);
        has(bad[i].needle);
        has("bad.json");
        free(p);
    }
    rl_config_free(&c);
}

static void test_yaml(void **s) {
    (void)s;
    char *p = write_file("a.yaml", "# GRPO run\n"
                                   "algo: drgrpo\n"
                                   "group_size: 16   # G\n"
                                   "clip-high: 0.28\n"
                                   "lr: 1e-6\n"
                                   "balanced_filter: yes\n"
                                   "pass_low: 0.1\n"
                                   "template: \"qwen-math-cot\"\n"
                                   "ref_model: ~\n"
                                   "reward: 'math'\n"
                                   "\n"
                                   "save_dtype: bfloat16\n");
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    assert_int_equal(rl_config_load_file(&c, p), 0);
    assert_int_equal(c.algo, RL_ADV_DRGRPO);
    assert_int_equal(c.group_size, 16);
    assert_true(c.clip_high == 0.28 && c.lr == 1e-6 && c.pass_low == 0.1);
    assert_int_equal(c.balanced_filter, 1);
    assert_string_equal(c.template_name, "qwen-math-cot");
    assert_string_equal(c.ref_model, "");
    assert_string_equal(c.save_dtype, "bfloat16");
    assert_int_equal(rl_config_validate(&c), 0);
    free(p);

    struct {
        const char *text, *needle;
    } bad[] = {
        {"lr: 1e-6\nclip_hihg: 0.2\n", "bad.yaml:2: unknown key 'clip_hihg' (did you mean 'clip_high'?)"},
        {"lr:\n  value: 1e-6\n", "lr: nested mappings are not allowed"},
        {"group_size: [1, 2]\n", "lists are not allowed"},
        {"lr: 1\nlr: 2\n", "bad.yaml:2: key 'lr' given twice"},
        {"lr: \"unterminated\n", "malformed YAML"},
        {"group_size: 4\nlr: fast\n", "bad.yaml:2: lr: expected a finite number, got 'fast'"},
        {"lr:\n", "lr: needs a value"},
        {"- a\n- b\n", "lists are not allowed"},
        {"just a string\n", "must be a mapping"},
        {"a: &x 1\nb: *x\n", "unknown key 'a'"},
        {"epsilon_high: 0.28\n", "unknown key 'epsilon_high' (TRL's epsilon_high is rlc's clip_high)"},
        {"importance_sampling_level: sequence\n",
         "unknown key 'importance_sampling_level' (TRL's importance_sampling_level is rlc's ratio_level"},
        {"trainer:\n  total_training_steps: 5\n",
         "unknown key 'trainer' (trainer is a section of verl's config; rlc's keys are flat"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = write_file("bad.yaml", bad[i].text);
        assert_int_not_equal(rl_config_load_file(&c, p), 0);
        has(bad[i].needle);
        free(p);
    }
    /* a comments-only file changes nothing */
    p = write_file("empty.yml", "# nothing yet\n");
    assert_int_equal(rl_config_load_file(&c, p), 0);
    free(p);
    /* no extension: sniffed */
    p = write_file("noext", "  {\"group_size\": 5}");
    assert_int_equal(rl_config_load_file(&c, p), 0);
    assert_int_equal(c.group_size, 5);
    free(p);
    p = write_file("noext2", "group_size: 6\n");
    assert_int_equal(rl_config_load_file(&c, p), 0);
    assert_int_equal(c.group_size, 6);
    free(p);
    p = fs_join(g_dir, "missing.yaml");
    assert_int_not_equal(rl_config_load_file(&c, p), 0);
    has("missing.yaml");
    free(p);
    rl_config_free(&c);
}

static void test_argv(void **s) {
    (void)s;
    char *p = write_file("f.yaml", "group_size: 4\nlr: 2e-6\nkl_coef: 0.01\n");
    char cfgarg[600];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s", p);
    /* flags override the file whether they come before or after --config */
    char *argv[] = {"train", "--lr", "5e-7", cfgarg, "--dynamic-sampling", "--mask_truncated", "true",
                    "--no-recompute", "--kl-coef=0", "--resume", "runs/x", "--algo", "rloo", "--seed", "-1"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    int rest[16], nrest;
    rl_config_t c;
    assert_int_equal(rl_config_from_argv(&c, argc, argv, rest, &nrest), 0);
    assert_int_equal(c.group_size, 4);
    assert_true(c.lr == 5e-7 && c.kl_coef == 0);
    assert_int_equal(c.dynamic_sampling, 1);
    assert_int_equal(c.mask_truncated, 1);
    assert_int_equal(c.recompute, 0);
    assert_int_equal(c.algo, RL_ADV_RLOO);
    assert_int_equal(c.seed, -1);
    assert_int_equal(nrest, 2);
    assert_string_equal(argv[rest[0]], "--resume");
    assert_string_equal(argv[rest[1]], "runs/x");
    /* seed -1 is rejected by validation, with the key named */
    assert_int_not_equal(rl_config_validate(&c), 0);
    has("seed");
    rl_config_free(&c);

    char *bad1[] = {"train", "--clip-hihg", "0.3"};
    assert_int_not_equal(rl_config_from_argv(&c, 3, bad1, NULL, NULL), 0);
    has("unknown flag --clip-hihg (did you mean --clip-high?)");
    rl_config_free(&c);
    /* a name from TRL or verl is answered with rlc's */
    char *trl[] = {"train", "--num-generations", "8"};
    assert_int_not_equal(rl_config_from_argv(&c, 3, trl, NULL, NULL), 0);
    has("unknown flag --num-generations (TRL's num_generations is rlc's --group-size)");
    rl_config_free(&c);
    char *verl[] = {"train", "--actor_rollout_ref.actor.kl_loss_type", "low_var_kl"};
    assert_int_not_equal(rl_config_from_argv(&c, 3, verl, NULL, NULL), 0);
    has("(verl's actor_rollout_ref.actor.kl_loss_type is rlc's --kl-estimator; low_var_kl is k3)");
    rl_config_free(&c);
    for (int i = 0; i < rl_foreign_count(); i++) /* every name the table gives is a key */
        if (rl_foreign_rlc_name(i) && rl_keys_find(rl_config_table(), rl_foreign_rlc_name(i)) < 0)
            fail_msg("rl/foreign.c names '%s', no key", rl_foreign_rlc_name(i));
    char *bad2[] = {"train", "--lr"};
    assert_int_not_equal(rl_config_from_argv(&c, 2, bad2, NULL, NULL), 0);
    has("--lr needs a value");
    rl_config_free(&c);
    char *bad3[] = {"train", "--group-size", "x"};
    assert_int_not_equal(rl_config_from_argv(&c, 3, bad3, NULL, NULL), 0);
    has("flag --group-size: group_size: expected an integer");
    rl_config_free(&c);
    char *bad4[] = {"train", "--config"};
    assert_int_not_equal(rl_config_from_argv(&c, 2, bad4, NULL, NULL), 0);
    rl_config_free(&c);
    /* the direct entry for the CLI */
    assert_int_equal(rl_config_init(&c), 0);
    assert_int_equal(rl_config_apply_flag(&c, "--loss-agg", "seq-mean-token-mean"), 0);
    assert_int_equal(c.loss_agg, RL_AGG_SEQ_MEAN_TOKEN_MEAN);
    assert_int_not_equal(rl_config_apply_flag(&c, "--kl-estimator", "k9"), 0);
    has("choose k1|k2|k3");
    assert_int_not_equal(rl_config_apply_flag(&c, "--no-such-thing", "1"), 0);
    has("unknown flag");
    rl_config_free(&c);
    free(p);
}

static void expect_invalid(const char *key, const char *value, const char *needle) {
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    if (rl_config_set(&c, key, value, "test")) fail_msg("set %s=%s: %s", key, value, rlc_errmsg());
    if (rl_config_validate(&c) == 0) fail_msg("%s = %s passed validation", key, value);
    has(needle);
    rl_config_free(&c);
}

static void test_validate(void **s) {
    (void)s;
    expect_invalid("group_size", "1", "group_size = 1: grpo needs G >= 2");
    expect_invalid("clip_low", "0", "clip_low = 0");
    expect_invalid("clip_high", "-0.1", "clip_high");
    expect_invalid("micro_batch", "7", "not divisible by micro_batch 7");
    expect_invalid("mini_batch", "12", "mini_batch");
    expect_invalid("lr", "0", "lr = 0: must be > 0");
    expect_invalid("dual_clip", "0.5", "dual_clip");
    expect_invalid("ratio_level", "sentence", "ratio_level = 'sentence': choose token or sequence (GSPO)");
    expect_invalid("pass_high", "0.1", "pass_high");
    expect_invalid("top_p", "0", "top_p");
    expect_invalid("temperature", "0", "temperature");
    expect_invalid("overlong_buffer", "5000", "overlong_buffer");
    expect_invalid("save_dtype", "int8", "save_dtype");
    expect_invalid("device", "tpu", "device");
    expect_invalid("ppo_epochs", "0", "ppo_epochs");
    expect_invalid("adam_beta2", "1", "adam_beta2");
    expect_invalid("min_lr_ratio", "2", "min_lr_ratio");
    /* G = 1 is fine where no group baseline is needed */
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    assert_int_equal(rl_config_set(&c, "algo", "ppo", NULL), 0);
    assert_int_equal(rl_config_set(&c, "group_size", "1", NULL), 0);
    assert_int_equal(rl_config_validate(&c), 0);
    assert_int_equal(rl_config_set(&c, "mini_batch", "16", NULL), 0);
    assert_int_equal(rl_config_validate(&c), 0);
    assert_int_equal(rl_config_batch_seqs(&c), 32);
    rl_config_free(&c);
}

static void test_roundtrip_and_help(void **s) {
    (void)s;
    rl_config_t a, b;
    assert_int_equal(rl_config_init(&a), 0);
    rl_config_set(&a, "lr", "1.234567890123e-7", NULL);
    rl_config_set(&a, "algo", "reinforce_pp", NULL);
    rl_config_set(&a, "data", "some \"quoted\" path", NULL);
    rl_config_set(&a, "adv_std", "population", NULL);
    char *p = fs_join(g_dir, "resolved.json");
    assert_int_equal(rl_config_write(&a, p), 0);
    assert_int_equal(rl_config_init(&b), 0);
    assert_int_equal(rl_config_load_file(&b, p), 0);
    cJSON *ja = rl_config_to_json(&a), *jb = rl_config_to_json(&b);
    char *ta = rlc_json_print(ja, 0), *tb = rlc_json_print(jb, 0);
    assert_string_equal(ta, tb);
    assert_true(b.lr == a.lr);
    assert_int_equal(b.algo, RL_ADV_REINFORCEPP);
    assert_int_equal(b.adv_std_sample, 0);
    free(ta), free(tb), cJSON_Delete(ja), cJSON_Delete(jb);
    rl_config_free(&a);
    rl_config_free(&b);
    free(p);

    char *hp = fs_join(g_dir, "help.txt");
    FILE *f = fopen(hp, "w");
    rl_config_print_help(f);
    fclose(f);
    char *text;
    size_t len;
    assert_int_equal(fs_read_all(hp, &text, &len), 0);
    int n;
    const rl_config_key_t *k = rl_config_keys(&n);
    for (int i = 0; i < n; i++) {
        char flag[96];
        snprintf(flag, sizeof flag, "--%s", k[i].name);
        for (char *q = flag + 2; *q; q++)
            if (*q == '_') *q = '-';
        if (!strstr(text, flag)) fail_msg("--help lacks %s", flag);
        assert_non_null(k[i].help);
        /* each section is one block: its header once, and this key after it */
        char hdr[96];
        snprintf(hdr, sizeof hdr, "\n%s:\n", k[i].section);
        const char *h = strstr(text, hdr);
        if (!h || strstr(h + 1, hdr)) fail_msg("--help: section '%s' not exactly once", k[i].section);
        const char *at = strstr(h, flag), *end = strstr(h + strlen(hdr), "\n\n");
        if (!at || (end && at > end)) fail_msg("--help: %s is not under '%s'", flag, k[i].section);
    }
    assert_non_null(strstr(text, "(default 0.2)"));
    assert_non_null(strstr(text, "{grpo|drgrpo|rloo|reinforce++|ppo|oreal}"));
    free(text);
    free(hp);
}

/* Algorithm-dependent defaults: oreal runs kl_coef 0.01 / k3 unless they were set, by a
 * flag, a file or a call, whatever the value. */
static void test_algo_defaults(void **s) {
    (void)s;
    rl_config_t c;
    assert_int_equal(rl_config_init(&c), 0);
    rl_config_algo_defaults(&c);
    assert_true(c.kl_coef == 0.001); /* grpo: unchanged */
    assert_int_equal(rl_config_set(&c, "algo", "oreal", "test"), 0);
    rl_config_algo_defaults(&c);
    assert_true(c.kl_coef == 0.01);
    assert_int_equal(c.kl_estimator, RL_KL_K3);
    rl_config_free(&c);
    char *argv[] = {"train", "--algo", "oreal", "--kl-coef", "0.001", "--kl-estimator", "k1"};
    int rest = 0, nrest = 0;
    assert_int_equal(rl_config_from_argv(&c, 7, argv, &rest, &nrest), 0);
    rl_config_algo_defaults(&c);
    assert_true(c.kl_coef == 0.001); /* set explicitly, even to the generic default */
    assert_int_equal(c.kl_estimator, RL_KL_K1);
    rl_config_free(&c);
}

/* docs/training.md documents every key (it is generated from the same table; this keeps it in
 * step when a knob is added). */
static void test_docs_cover_keys(void **s) {
    (void)s;
    const char *src = getenv("RLC_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/training.md", src ? src : "..");
    char *text;
    size_t len;
    if (fs_read_all(path, &text, &len)) fail_msg("%s", rlc_errmsg());
    int n;
    const rl_config_key_t *k = rl_config_keys(&n);
    for (int i = 0; i < n; i++) {
        char row[128];
        snprintf(row, sizeof row, "| `%s` |", k[i].name);
        if (!strstr(text, row)) fail_msg("docs/training.md has no row for '%s'", k[i].name);
    }
    free(text);
}

/* One flag grammar: every boolean key of both tables has --KEY and --no-KEY, in any order
 * (the last one wins), and an unknown flag's suggestion keeps its polarity. */
static void test_negation_and_suggestions(void **s) {
    (void)s;
    const rl_keytab_t *tabs[2] = {rl_config_table(), rl_sft_table()};
    for (int ti = 0; ti < 2; ti++) {
        const rl_keytab_t *t = tabs[ti];
        for (int i = 0; i < t->n; i++) {
            if (t->keys[i].type != RL_CFG_BOOL) continue;
            char on[128], off[128], flag[96];
            snprintf(flag, sizeof flag, "%s", t->keys[i].name);
            for (char *p = flag; *p; p++)
                if (*p == '_') *p = '-';
            snprintf(on, sizeof on, "--%s", flag);
            snprintf(off, sizeof off, "--no-%s", flag);
            rl_config_t c; /* large enough for either struct */
            rl_sft_opts_t so;
            void *obj = ti ? (void *)&so : (void *)&c;
            if (ti) assert_int_equal(rl_sft_defaults(&so), 0);
            else assert_int_equal(rl_config_init(&c), 0);
            int *field = (int *)((char *)obj + t->keys[i].offset);
            char *a1[] = {"x", on, off};
            assert_int_equal(rl_keys_apply_argv(t, obj, 3, a1, NULL, NULL), 0);
            assert_int_equal(*field, 0);
            char *a2[] = {"x", off, on};
            assert_int_equal(rl_keys_apply_argv(t, obj, 3, a2, NULL, NULL), 0);
            assert_int_equal(*field, 1);
            char eq[160];
            snprintf(eq, sizeof eq, "%s=true", off); /* --no-KEY takes no value */
            char *a3[] = {"x", eq};
            assert_int_not_equal(rl_keys_apply_argv(t, obj, 2, a3, NULL, NULL), 0);
            rl_keys_free(t, obj);
        }
    }
    rl_config_t c;
    char *docs[] = {"train", "--dynamic-sampling", "--balanced-filter", "--mask-truncated", "--recompute",
                    "--no-dynamic-sampling", "--no-mask-truncated", "--no-recompute", "--no-balanced-filter"};
    assert_int_equal(rl_config_from_argv(&c, 9, docs, NULL, NULL), 0);
    assert_true(!c.dynamic_sampling && !c.balanced_filter && !c.mask_truncated && !c.recompute);
    rl_config_free(&c);
    struct {
        const char *flag, *want, *never;
    } cases[] = {
        {"--no-dynamic-samplng", "(did you mean --no-dynamic-sampling?)", NULL},
        {"--nodynamic-sampling", "(did you mean --no-dynamic-sampling?)", NULL},
        {"--no-dynamic_sampling_", "(did you mean --no-dynamic-sampling?)", NULL},
        {"--dynamic-samplng", "(did you mean --dynamic-sampling?)", NULL},
        {"--no-lr", "(lr is not a boolean: give it a value)", "did you mean --lr"},
        {"--no-group-size", "not a boolean", "did you mean --group-size"},
        {"--no-clip-hihg", "unknown flag --no-clip-hihg", "did you mean --clip-high"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"train", (char *)cases[i].flag};
        assert_int_not_equal(rl_config_from_argv(&c, 2, argv, NULL, NULL), 0);
        has(cases[i].want);
        if (cases[i].never && strstr(rlc_errmsg(), cases[i].never)) fail_msg("%s: %s", cases[i].flag, rlc_errmsg());
        rl_config_free(&c);
    }
    assert_int_not_equal(rl_keys_unknown_flag(rl_sft_table(), "--no-recompute=1"), 0);
    has("unknown flag --no-recompute");
}

/* `rlc sft` and `rlc train` share one definition per common key: same type, same default,
 * same help; only the keys sft_config.c defines for itself may differ. */
static void test_sft_shares_keys(void **s) {
    (void)s;
    const rl_keytab_t *tr = rl_config_table(), *sf = rl_sft_table();
    const char *own[] = {"lr", "lr_schedule", "min_lr_ratio", "template", "data", "run_dir"};
    int shared = 0;
    for (int i = 0; i < sf->n; i++) {
        int j = rl_keys_find(tr, sf->keys[i].name), mine = 0;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) mine |= !strcmp(own[k], sf->keys[i].name);
        if (j < 0 || mine) continue;
        shared++;
        assert_int_equal(sf->keys[i].type, tr->keys[j].type);
        assert_string_equal(sf->keys[i].def, tr->keys[j].def);
        assert_string_equal(sf->keys[i].help, tr->keys[j].help);
    }
    assert_true(shared >= 12);
    rl_sft_opts_t o;
    assert_int_equal(rl_sft_defaults(&o), 0);
    assert_true(o.weight_decay == 0.01);
    assert_string_equal(o.device, "auto");
    assert_true(o.lr == 1e-5 && o.lr_schedule == RL_LR_COSINE && o.min_lr_ratio == 0.1);
    /* validation names the key */
    assert_int_equal(rl_sft_set(&o, "model", "m", "t"), 0);
    assert_int_equal(rl_sft_set(&o, "data", "d", "t"), 0);
    assert_int_equal(rl_sft_set(&o, "run_dir", "r", "t"), 0);
    assert_int_equal(rl_sft_validate(&o), 0);
    const char *bad[][3] = {{"epochs", "0", "epochs"}, {"min_lr_ratio", "1.5", "min_lr_ratio"},
                            {"device", "tpu", "device"}, {"save_dtype", "int8", "save_dtype"},
                            {"batch_size", "6", "multiple of micro_batch"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rl_sft_opts_t b;
        assert_int_equal(rl_sft_defaults(&b), 0);
        rl_sft_set(&b, "model", "m", "t"), rl_sft_set(&b, "data", "d", "t"), rl_sft_set(&b, "run_dir", "r", "t");
        assert_int_equal(rl_sft_set(&b, bad[k][0], bad[k][1], "t"), 0);
        if (rl_sft_validate(&b) == 0) fail_msg("%s = %s passed", bad[k][0], bad[k][1]);
        has(bad[k][2]);
        rl_sft_free(&b);
    }
    rl_sft_free(&o);
}

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    return 0;
}

static int teardown(void **s) {
    (void)s;
    fs_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_json),     cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_argv),     cmocka_unit_test(test_validate), cmocka_unit_test(test_roundtrip_and_help),
        cmocka_unit_test(test_docs_cover_keys), cmocka_unit_test(test_algo_defaults), cmocka_unit_test(test_negation_and_suggestions),
        cmocka_unit_test(test_sft_shares_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
