/* `rlc sft`: supervised fine-tuning on prompt/response pairs (loss on response tokens only),
 * with the same prompt rendering, run directory, metrics and checkpoints as `rlc train`, and
 * the same data parallelism under mpirun/srun (each rank a share of every batch). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dist_run.h"
#include "core/err.h"
#include "rl/algo.h"
#include "rl/loop.h"

int cmd_sft(int argc, char **argv) {
    rl_sft_opts_t o;
    rl_sft_defaults(&o);
    const char *sched = "cosine", *resume = NULL, *dist = "auto";
    int quiet = 0;
    cli_opt_t opts[] = {
        {"--model", OPT_STR, &o.model, "Hugging Face model directory", 0, 0},
        {"--data", OPT_STR, &o.data, "JSONL with prompt/response (or problem/solution) fields", 0, 0},
        {"--run-dir", OPT_STR, &o.run_dir, "run directory (metrics.jsonl, checkpoints/)", 0, 0},
        {"--resume", OPT_STR, &resume, "continue this run directory from its newest checkpoint", 0, 0},
        {"--prompt-key", OPT_STR, &o.prompt_key, "prompt field [default: prompt, else problem]", 0, 0},
        {"--response-key", OPT_STR, &o.response_key, "response field [default: response, else solution]", 0, 0},
        {"--template", OPT_STR, &o.template_name, "prompt template: qwen-math-cot, boxed, r1, dapo, raw", 0, 0},
        {"--chat-template", OPT_STR, &o.chat_family, "force a chat template family", 0, 0},
        {"--steps", OPT_INT, &o.steps, "optimizer steps (0 = --epochs over the data)", 0, 0},
        {"--epochs", OPT_INT, &o.epochs, "passes over the data when --steps is 0", 0, 0},
        {"--batch-size", OPT_INT, &o.batch_size, "sequences per optimizer step", 0, 0},
        {"--micro-batch", OPT_INT, &o.micro_batch, "sequences per forward/backward", 0, 0},
        {"--micro-tokens", OPT_INT, &o.micro_tokens, "and at most this many tokens per forward/backward (0 = no limit)",
         0, 0},
        {"--max-len", OPT_INT, &o.max_len, "tokens per example at most (longer ones are truncated)", 0, 0},
        {"--lr", OPT_FLOAT, &o.lr, "peak learning rate", 0, 0},
        {"--lr-schedule", OPT_STR, &sched, "constant, linear or cosine", 0, 0},
        {"--warmup-steps", OPT_INT, &o.warmup_steps, "linear warm-up steps", 0, 0},
        {"--min-lr-ratio", OPT_FLOAT, &o.min_lr_ratio, "final lr as a fraction of the peak", 0, 0},
        {"--weight-decay", OPT_FLOAT, &o.weight_decay, "AdamW weight decay (matrices only)", 0, 0},
        {"--max-grad-norm", OPT_FLOAT, &o.max_grad_norm, "clip the global gradient norm (0 = off)", 0, 0},
        {"--seed", OPT_INT, &o.seed, "data order seed", 0, 0},
        {"--save-every", OPT_INT, &o.save_every, "checkpoint every N steps (and at the end)", 0, 0},
        {"--keep-last", OPT_INT, &o.keep_last, "keep the newest K checkpoints", 0, 0},
        {"--save-dtype", OPT_STR, &o.save_dtype, "float32, bfloat16 or float16 (default: as loaded)", 0, 0},
        {"--device", OPT_STR, &o.device, "cpu, cuda, cuda:N (GPU N) or auto", 0, 0},
        {"--threads", OPT_INT, &o.threads, "CPU threads (0 = all cores; under mpirun, shared by the node's ranks)", 0,
         0},
        {"--dist", OPT_STR, &dist, "data parallel: auto, none, mpi or nccl (docs/distributed.md)", 0, 0},
        {"--quiet", OPT_FLAG, &quiet, "no step lines", 0, 0},
    };
    cli_dist_early();
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                       "rlc sft --model DIR --data FILE.jsonl --run-dir DIR [options]",
                       "Supervised fine-tuning (loss on response tokens only); checkpoints are Hugging Face directories.");
    if (rc) return rc > 0 ? 0 : cli_dist_fail();
    if (resume) {
        o.run_dir = resume;
        o.resume = 1;
        if (!o.model) o.model = resume;
    }
    o.quiet = quiet;
    o.lr_schedule = rl_lr_parse(sched);
    if (o.lr_schedule < 0) {
        rlc_errc(RLC_EINVAL, "unknown --lr-schedule '%s' (constant, linear, cosine)", sched);
        return cli_dist_fail();
    }
    dist_comm_t *comm = NULL;
    if (cli_dist_open(dist, &comm)) return 1;
    o.comm = comm;
    rc = rl_sft(&o);
    return cli_dist_finish(comm, rc);
}
