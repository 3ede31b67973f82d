/* Fuzz target: the whole command line, in process (cli_main), over every command and its
 * options, with huge, negative, NaN, infinite, empty and malformed values and unknown
 * flags. The bytes choose a command, then (option, value) pairs. Paths are never taken
 * from the bytes: path options get values from a fixed set inside a private temporary
 * directory (the process works there), so nothing outside it is read or written. Commands
 * that would do real work (train, sft, eval, tts, demo) get a missing model last on the
 * command line, so they run their parsing and validation and stop; cheap ones (generate,
 * logprobs, tokenize, ...) may run on the tiny fixture model with small limits appended.
 * A crash or sanitizer report fails the test; the last command line is kept in
 * fuzz_cli.last in the work directory to reproduce it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/log.h"

typedef struct {
    const char *name;
    int heavy;            /* gets a missing model appended */
    const char *opts;     /* space-separated */
} cmd_spec_t;

static const cmd_spec_t CMDS[] = {
    {"train", 1,
     "--algo --group-size --prompts-per-step --micro-batch --micro-tokens --mini-batch --ppo-epochs --adv-std "
     "--adv-eps --clip-low --clip-high --dual-clip --kl-coef --kl-estimator --entropy-coef --loss-agg "
     "--dynamic-sampling --no-dynamic-sampling --balanced-filter --pass-low --pass-high --max-gen-rounds "
     "--overlong-buffer --overlong-max-len --overlong-penalty --mask-truncated --gamma --lam --value-clip --critic-lr "
     "--critic-model --lr --lr-schedule --warmup-steps --min-lr-ratio --adam-beta1 --adam-beta2 --adam-eps "
     "--weight-decay --max-grad-norm --max-new-tokens --max-prompt-len --temperature --kv-cache-mb --top-p --top-k "
     "--total-steps --seed --save-every --keep-last --save-dtype --log-samples --eval-every --recompute --strict "
     "--device --threads --dist --model --data --run-dir --ref-model --template --reward --eval-data --resume "
     "--overwrite --config --no-lr"},
    {"sft", 1,
     "--prompt-key --response-key --template --chat-template --max-len --steps --epochs --batch-size --micro-batch "
     "--micro-tokens --lr --lr-schedule --warmup-steps --min-lr-ratio --weight-decay --max-grad-norm --seed "
     "--save-every --keep-last --save-dtype --strict --device --threads --dist --model --data --run-dir --resume "
     "--overwrite --quiet --config"},
    {"generate", 0,
     "--model --prompt --prompts --chat --system --chat-template -n --max-new-tokens --temperature --top-p --top-k "
     "--min-p --seed --stop --ignore-eos --json --device --threads --kv-cache-mb --page-size --batch-tokens"},
    {"eval", 1,
     "--model --data --out --summary --samples --profile --prompt-key --answer-key --template --chat-template "
     "--temperature --top-p --top-k --max-new-tokens --seed --limit --strict --extract --percent --device --threads "
     "--kv-cache-mb --batch-tokens"},
    {"tts", 1,
     "--model --data --n --orm --out --plot --prm --prm-format --prm-agg --profile --prompt-key --answer-key "
     "--template --chat-template --temperature --top-p --top-k --max-new-tokens --seed --limit --strict --extract "
     "--percent --device --threads --kv-cache-mb --batch-tokens"},
    {"logprobs", 0, "--model --ids --text --prompt --completion --file --temperature --no-special --tokens --json "
                    "--device --threads"},
    {"grade", 0, "--gold --pred --jsonl --out --gold-key --pred-key --extract --percent --rel-tol --strict --explain"},
    {"tokenize", 0, "--tokenizer --text --file --chat --chat-format --chat-date --no-generation-prompt --render "
                    "--special --json --info"},
    {"detokenize", 0, "--tokenizer --ids --file --skip-special --json"},
    {"init-model", 0, "--config --out --tokenizer --seed --std --dtype"},
    {"demo", 1, "--dir --model --data --eval-data --template --sft-steps --rl-steps --train-size --rl-size "
                "--eval-size --min-digits --max-digits --ops --column-frac --sft-lr --rl-lr --temperature "
                "--group-size --prompts-per-step --hidden --layers --seed --threads --quick"},
    {"info", 0, "--json"},
    {"score", 0, "--model --prm-format --outcome --tokenizer --problem --solution --jsonl --device --threads"},
    {"report", 0, "--out --x --smooth --run"},
    {"tool", 0, "--expr --format --timeout --max-output"}, /* the calculator only: no code from the bytes runs */
    {"data", 0, "--data --profile --prompt-key --answer-key --head --out --strict"},
};
#define NCMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

static const char *const VALUES[] = {
    "0",   "-1",   "4294967297", "-9223372036854775809", "nan", "inf", "1e309", "",    "2147483648", "0x1f",
    "[1,2", "1",   "65536",      "-0.5",                 "true", "1e-300", "3", "[1, 2, 3]", "grpo", "k9",
};
#define NVALUES ((int)(sizeof VALUES / sizeof VALUES[0]))

static char g_model[4096], g_dir[4096];
static int g_ready;

static void init_once(void) {
    if (g_ready) return;
    g_ready = 1;
    const char *fx = getenv("RLC_FIXTURES");
    snprintf(g_model, sizeof g_model, "%s/models/qwen2-tiny", fx ? fx : "tests/fixtures");
    char tmpl[] = "/tmp/rlc_fuzz_cli_XXXXXX";
    if (!mkdtemp(tmpl)) abort();
    snprintf(g_dir, sizeof g_dir, "%s", tmpl);
    if (chdir(g_dir)) abort(); /* relative names from the bytes land here */
    FILE *f = fopen("data.jsonl", "w");
    if (!f) abort();
    fprintf(f, "{\"problem\": \"1 + 1?\", \"answer\": \"2\", \"response\": \"2\", \"gold\": \"2\", \"pred\": \"2\"}\n"
               "{\"ids\": [5, 6]}\n{\"problem\": \"bad \\u0000\", \"answer\": 0.1}\n");
    fclose(f);
    f = fopen("cfg.json", "w");
    if (!f) abort();
    fprintf(f, "{\"lr\": 1e-6, \"group_size\": 4294967298}\n");
    fclose(f);
    if (system("mkdir -p sub") != 0) abort();
    rlc_log_set_level(rlc_log_parse_level("quiet"));
}

/* The option names of a command, split (static storage per call). */
static int opt_names(const char *opts, char names[][40], int cap) {
    int n = 0;
    for (const char *p = opts; *p && n < cap;) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!l) break;
        snprintf(names[n++], 40, "%.*s", (int)l, p);
        p += l;
    }
    return n;
}

static int is_path_opt(const char *o) {
    static const char *const P[] = {"--model", "--data", "--prompts", "--jsonl", "--file", "--eval-data",
                                    "--run-dir", "--dir", "--out", "--summary", "--plot", "--resume", "--config",
                                    "--tokenizer", "--orm", "--prm", "--ref-model", "--critic-model", "--run", NULL};
    for (int i = 0; P[i]; i++)
        if (!strcmp(o, P[i])) return 1;
    return 0;
}

/* A path from the fixed set: missing, a directory, the data file, a config, or the model. */
static const char *path_value(uint8_t b, int allow_model) {
    static const char *const P[] = {"/nonexistent-rlc-fuzz", "sub", "data.jsonl", "cfg.json", "out/x.json", "run"};
    int k = b % 7;
    if (k == 6) return allow_model ? g_model : "sub";
    return P[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    init_once();
    const cmd_spec_t *c = &CMDS[data[0] % NCMDS];
    char names[128][40], strs[64][48];
    int nn = opt_names(c->opts, names, 128), ns = 0;
    char *argv[160];
    int argc = 0;
    argv[argc++] = "rlc";
    argv[argc++] = (char *)c->name;
    for (size_t i = 1; i + 1 < size && argc < 140; i += 2) {
        uint8_t a = data[i], b = data[i + 1];
        if (a == 255 && ns < 64) { /* an unknown flag or a stray word from the bytes */
            snprintf(strs[ns], sizeof strs[ns], "--x%u", b);
            argv[argc++] = strs[ns++];
            continue;
        }
        const char *o = names[a % nn];
        argv[argc++] = (char *)o;
        if ((b & 0xe0) == 0xe0) continue; /* now and then a flag without its value */
        if (is_path_opt(o)) {
            argv[argc++] = (char *)path_value(b, !c->heavy);
        } else if ((b & 0xe0) == 0x60 && ns < 64 && i + 2 < size) {
            /* printable junk taken from the following bytes */
            size_t len = (size_t)(b & 0x1f) % 40;
            size_t k = 0;
            for (; k < len && i + 2 + k < size; k++) strs[ns][k] = (char)(' ' + data[i + 2 + k] % 95);
            strs[ns][k] = 0;
            if (strs[ns][0] == '/') strs[ns][0] = '_';
            argv[argc++] = strs[ns++];
        } else {
            argv[argc++] = (char *)VALUES[b % NVALUES];
        }
    }
    /* bounds on the work a valid command line may start (the last flag wins) */
    static char *heavy_tail[] = {"--model", "/nonexistent-rlc-fuzz", "--data", "/nonexistent-rlc-fuzz"};
    static char *gen_tail[] = {"-n", "1", "--max-new-tokens", "4", "--threads", "1", "--batch-tokens", "64"};
    static char *lp_tail[] = {"--threads", "1"};
    if (c->heavy)
        for (int k = 0; k < (strcmp(c->name, "demo") && strcmp(c->name, "train") && strcmp(c->name, "sft") ? 2 : 4);
             k++)
            argv[argc++] = heavy_tail[k];
    if (!strcmp(c->name, "generate"))
        for (int k = 0; k < 8; k++) argv[argc++] = gen_tail[k];
    if (!strcmp(c->name, "logprobs"))
        for (int k = 0; k < 2; k++) argv[argc++] = lp_tail[k];
    argv[argc] = NULL;
    FILE *last = fopen("fuzz_cli.last", "w");
    if (last) {
        for (int k = 0; k < argc; k++) fprintf(last, "'%s' ", argv[k]);
        fclose(last);
    }
    fflush(stdout);
    int saved = dup(1);
    FILE *dn = freopen("/dev/null", "w", stdout);
    (void)dn;
    cli_main(argc, argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    return 0;
}
