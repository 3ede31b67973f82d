/* `rlc init-model`: a randomly initialised Hugging Face model directory from a config.json
 * (weights N(0, std), norms 1, biases 0), optionally with a tokenizer copied in; for tests,
 * benchmarks and from-scratch runs. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "kernels/backend.h"
#include "model/model.h"

int cmd_init_model(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *tokenizer = NULL, *dtype = NULL;
    long seed = 0;
    double std = 0.02;
    cli_opt_t opts[] = {
        {"--config", OPT_STR, &config, "config.json of the architecture", 1, 0},
        {"--out", OPT_STR, &out, "output directory", 1, 0},
        {"--tokenizer", OPT_STR, &tokenizer, "directory whose tokenizer files are copied in", 0, 0},
        {"--seed", OPT_INT, &seed, "initialisation seed", 0, 0},
        {"--std", OPT_FLOAT, &std, "standard deviation of the weights", 0, 0},
        {"--dtype", OPT_STR, &dtype, "float32, bfloat16 or float16 [default: float32]", 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                       "rlc init-model --config FILE --out DIR [--tokenizer DIR] [--seed S]",
                       "Write a randomly initialised Hugging Face model directory.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if (!(std > 0)) {
        rlc_errc(RLC_EINVAL, "--std must be positive");
        return cli_fail();
    }
    tok_t *tok = NULL;
    if (tokenizer) { /* loaded (so checked) before anything is written */
        if (!tok_present(tokenizer)) {
            rlc_errc(RLC_EINVAL, "--tokenizer %s: no tokenizer.json or tokenizer.model there", tokenizer);
            return cli_fail();
        }
        if (tok_load(&tok, tokenizer)) return cli_fail();
    }
    cJSON *j = rlc_json_load_file_lit(config); /* numbers saved as written (50.0 stays a float) */
    if (!j) {
        if (tok) tok_free(tok);
        return cli_fail();
    }
    rlc_backend_t *be = NULL;
    rlc_model_t *m = NULL;
    rc = rlc_backend_create(&be, "cpu", 0, 0);
    if (!rc) rc = rlc_model_create(&m, j, be, (uint64_t)seed, (float)std);
    if (!rc && tok) tok_set_model_vocab(tok, m->cfg.vocab_size); /* warns when the tokenizer is the larger */
    if (!rc) rc = rlc_model_save(m, out, dtype ? dtype : "float32");
    if (!rc && tokenizer) rc = rlc_model_copy_tokenizer_files(tokenizer, out);
    if (!rc) printf("%s: %.1fM parameters\n", out, (double)m->n_params / 1e6);
    if (tok) tok_free(tok);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    cJSON_Delete(j);
    return rc ? cli_fail() : 0;
}
