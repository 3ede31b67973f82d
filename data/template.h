/* Prompt templates (SPECS.md "Data formats"): qwen-math-cot gives chat messages for the
 * tokenizer's chat template; boxed, r1 and dapo give a plain prompt string. Each template
 * also names its answer format, so the grader's extraction and the format reward match it. */
#pragma once
#include "data/dataset.h"

typedef enum {
    DATA_TPL_QWEN_MATH_COT = 0, /* chat: system "Please reason step by step, ... \boxed{}." + user */
    DATA_TPL_BOXED,             /* plain: problem + "Please reason step by step ... \boxed{}." */
    DATA_TPL_R1,                /* plain R1-Zero: <think> reasoning </think> then the answer */
    DATA_TPL_DAPO,              /* plain DAPO: last line "Answer: $Answer" */
    DATA_TPL_RAW,               /* the problem text unchanged */
} data_tpl_t;

/* "qwen-math-cot", "boxed", "r1", "dapo", "raw" -> enum; unknown names are an error. */
int data_template_from_name(const char *name, data_tpl_t *out);
const char *data_template_name(data_tpl_t t);
/* 1 when t's prompts are chat messages rendered by the tokenizer's chat template. */
int data_template_is_chat(data_tpl_t t);
/* How t's answers look ("boxed", "think", "answer_line"; data_prompt_t.format), NULL for an
 * unknown t. */
const char *data_template_format(data_tpl_t t);
/* All names, NULL-terminated (for --help). */
extern const char *const data_template_names[];

/* The boxed-answer system prompt of Qwen2.5-Math. */
#define DATA_QWEN_MATH_SYSTEM "Please reason step by step, and put your final answer within \\boxed{}."

typedef struct {
    int chat;              /* 1: render msgs with the tokenizer's chat template; 0: use text */
    data_msg_t msgs[2];    /* system + user (chat only); contents point into owned storage */
    int n_msgs;
    char *text;            /* the plain prompt; for chat templates the user content; owned */
    const char *format;    /* how answers appear: "boxed", "think" (r1: </think> then \boxed{}),
                              "answer_line" (dapo); the format reward's "require" value */
} data_prompt_t;

/* Build the prompt for one problem. Free with data_prompt_free. */
int data_prompt_build(data_tpl_t t, const char *problem, data_prompt_t *out);
void data_prompt_free(data_prompt_t *p);
