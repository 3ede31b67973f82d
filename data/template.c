/* Prompt templates: the wording of each prompt style and the answer format it asks for. */
#include "data/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

const char *const data_template_names[] = {"qwen-math-cot", "boxed", "r1", "dapo", "raw", NULL};

int data_template_from_name(const char *name, data_tpl_t *out) {
    for (int i = 0; data_template_names[i]; i++)
        if (name && !strcmp(name, data_template_names[i])) {
            *out = (data_tpl_t)i;
            return 0;
        }
    return rlc_errc(RLC_EINVAL, "unknown prompt template '%s' (qwen-math-cot, boxed, r1, dapo, raw)",
                    name ? name : "(null)");
}

int data_template_is_chat(data_tpl_t t) { return t == DATA_TPL_QWEN_MATH_COT; }

const char *data_template_format(data_tpl_t t) {
    switch (t) {
    case DATA_TPL_R1: return "think";
    case DATA_TPL_DAPO: return "answer_line";
    case DATA_TPL_QWEN_MATH_COT:
    case DATA_TPL_BOXED:
    case DATA_TPL_RAW: return "boxed";
    }
    return NULL;
}

const char *data_template_name(data_tpl_t t) {
    return (int)t >= 0 && t <= DATA_TPL_RAW ? data_template_names[t] : "?";
}

/* R1-Zero's instruction (DeepSeek-R1 paper, Table 1), asking for a boxed final answer so
 * the same grader applies; the prompt ends inside the assistant turn after "<think>". */
static const char R1_FMT[] =
    "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
    "The Assistant first thinks about the reasoning process in the mind and then provides the User with "
    "the answer. The reasoning process is enclosed within <think> </think> and the final answer is put "
    "within \\boxed{} after it, i.e., <think> reasoning process here </think> answer here with "
    "\\boxed{answer}.\nUser: %s\nAssistant: <think>";

/* DAPO-Math-17k's prompt wording. */
static const char DAPO_FMT[] =
    "Solve the following math problem step by step. The last line of your response should be of the "
    "form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n%s\n\n"
    "Remember to put your answer on its own line after \"Answer:\"";

static const char BOXED_FMT[] = "%s\nPlease reason step by step, and put your final answer within \\boxed{}.\n";

static char *fmt_dup(const char *fmt, const char *arg) {
    int n = snprintf(NULL, 0, fmt, arg);
    if (n < 0) return NULL;
    char *s = rlc_malloc((size_t)n + 1);
    if (s) snprintf(s, (size_t)n + 1, fmt, arg);
    return s;
}

int data_prompt_build(data_tpl_t t, const char *problem, data_prompt_t *out) {
    memset(out, 0, sizeof *out);
    if (!problem) return rlc_errc(RLC_EINVAL, "prompt template: NULL problem");
    switch (t) {
    case DATA_TPL_QWEN_MATH_COT:
        out->chat = 1;
        out->text = rlc_strdup(problem);
        if (!out->text) return RLC_ENOMEM;
        out->msgs[0].role = "system";
        out->msgs[0].content = DATA_QWEN_MATH_SYSTEM;
        out->msgs[1].role = "user";
        out->msgs[1].content = out->text;
        out->n_msgs = 2;
        out->format = data_template_format(t);
        return 0;
    case DATA_TPL_BOXED: out->text = fmt_dup(BOXED_FMT, problem); break;
    case DATA_TPL_R1: out->text = fmt_dup(R1_FMT, problem); break;
    case DATA_TPL_DAPO: out->text = fmt_dup(DAPO_FMT, problem); break;
    case DATA_TPL_RAW: out->text = rlc_strdup(problem); break;
    default: return rlc_errc(RLC_EINVAL, "prompt template: unknown template %d", (int)t);
    }
    out->format = data_template_format(t);
    return out->text ? 0 : RLC_ENOMEM;
}

void data_prompt_free(data_prompt_t *p) {
    free(p->text);
    memset(p, 0, sizeof *p);
}
