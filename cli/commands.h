/* Every subcommand: int cmd_<name>(int argc, char **argv) returning the process exit code.
 * argv[0] is the subcommand name. Each lives in its own cli/cmd_<name>.c. */
#pragma once

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command_t;

int cmd_info(int argc, char **argv);
int cmd_logprobs(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tts(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_init_model(int argc, char **argv);
int cmd_grade(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_tool(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
/* The whole command line (argv[0] = "rlc"): global flags, then the subcommand's exit code. */
int cli_main(int argc, char **argv);
