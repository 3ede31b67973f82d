#!/usr/bin/env python3
"""Make tests/fixtures/tokenizers/real_templates/: real chat templates of public models (as
collected in llama.cpp's models/templates, which the llama-cpp-python source distribution on
PyPI carries) rendered over conversations with system prompts, several turns, tool
definitions, tool calls and responses, and thinking content, by transformers' own Jinja
environment (what apply_chat_template runs). Writes <name>.jinja and cases.jsonl
({"template", "conversation", "add_generation_prompt", "vars", "text"} or "error": true), with
the conversations in conversations.json.

Usage: python3 scripts/make_template_fixtures.py DIR_WITH_JINJA_FILES
  (e.g. vendor/llama.cpp/models/templates of `pip download --no-binary :all: llama-cpp-python`).
Needs: transformers, jinja2. Tests never run this script."""
import datetime
import json
import os
import shutil
import sys

from transformers.utils.chat_template_utils import _compile_jinja_template

# strftime_now() shows this day, not today's (test_tokenizer.c renders with the same day
# pinned), so the references do not change at midnight.
DAY = datetime.datetime(2026, 12, 3)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tokenizers", "real_templates")

TEMPLATES = [  # (file in llama.cpp's models/templates, bos, eos)
    ("Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>"),
    ("Qwen-Qwen3-0.6B", "", "<|im_end|>"),
    ("Qwen-QwQ-32B", "", "<|im_end|>"),
    ("Qwen3-Coder", "", "<|im_end|>"),
    ("meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
    ("meta-llama-Llama-3.2-3B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
    ("meta-llama-Llama-3.3-70B-Instruct", "<|begin_of_text|>", "<|eot_id|>"),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("mistralai-Mistral-Nemo-Instruct-2407", "<s>", "</s>"),
    ("microsoft-Phi-3.5-mini-instruct", "<s>", "<|endoftext|>"),
    ("google-gemma-2-2b-it", "<bos>", "<eos>"),
    ("ibm-granite-granite-3.3-2B-Instruct", "", "<|end_of_text|>"),
    ("HuggingFaceTB-SmolLM3-3B", "", "<|im_end|>"),
    ("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "<|begin_of_text|>", "<|im_end|>"),
    ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "<|begin_of_text|>", "<|im_end|>"),
    ("fireworks-ai-llama-3-firefunction-v2", "<|begin_of_text|>", "<|eot_id|>"),
    ("meetkai-functionary-medium-v3.2", "<|begin_of_text|>", "<|eot_id|>"),
    ("unsloth-mistral-Devstral-Small-2507", "<s>", "</s>"),
    ("mistralai-Ministral-3-14B-Reasoning-2512", "<s>", "</s>"),
    ("CohereForAI-c4ai-command-r7b-12-2024-tool_use", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    ("llama-cpp-deepseek-r1", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai-DeepSeek-V3.1", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("ibm-granite-granite-4.0", "", "<|end_of_text|>"),
    ("openai-gpt-oss-120b", "", "<|return|>"),
    # the rest of llama.cpp's models/templates (llama-cpp-python 0.3.36); a template that does not use
    # bos_token / eos_token gets <s> and </s>
    ("Apertus-8B-Instruct", "<s>", "</s>"),
    ("Apriel-1.6-15b-Thinker-fixed", "<s>", "</s>"),
    ("Bielik-11B-v3.0-Instruct", "<s>", "</s>"),
    ("ByteDance-Seed-OSS", "<s>", "</s>"),
    ("Cohere2MoE", "<s>", "</s>"),
    ("CohereForAI-c4ai-command-r-plus-tool_use", "<s>", "</s>"),
    ("GLM-4.6", "<s>", "</s>"),
    ("GLM-4.7-Flash", "<s>", "</s>"),
    ("GigaChat3-10B-A1.8B", "<s>", "</s>"),
    ("GigaChat3.1-10B-A1.8B", "<s>", "</s>"),
    ("Kimi-K2-Instruct", "<s>", "</s>"),
    ("Kimi-K2-Thinking", "<s>", "</s>"),
    ("Kimi-K3", "<s>", "</s>"),
    ("LFM2-8B-A1B", "<s>", "</s>"),
    ("LFM2.5-8B-A1B", "<s>", "</s>"),
    ("LFM2.5-Instruct", "<s>", "</s>"),
    ("MiMo-VL", "<s>", "</s>"),
    ("MiniMax-M1", "<s>", "</s>"),
    ("MiniMax-M2", "<s>", "</s>"),
    ("MiniMax-M3", "<s>", "</s>"),
    ("Mistral-Small-3.2-24B-Instruct-2506", "<s>", "</s>"),
    ("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "<s>", "</s>"),
    ("NVIDIA-Nemotron-Nano-v2", "<s>", "</s>"),
    ("Qwen3.5-4B", "", "<|im_end|>"),
    ("Reka-Edge", "<s>", "</s>"),
    ("Spark2.5", "<s>", "</s>"),
    ("StepFun3.5-Flash", "<s>", "</s>"),
    ("deepseek-ai-DeepSeek-V3.2", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai-DeepSeek-V4", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai-DeepSeek-V4-Flash-0731", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("google-gemma-4-31B-it", "<bos>", "<eos>"),
    ("google-gemma-4-31B-it-interleaved", "<bos>", "<eos>"),
    ("ibm-granite-granite-4.1", "", "<|end_of_text|>"),
    ("inclusionai-ling-3.0-flash", "<s>", "</s>"),
    ("llama-cpp-rwkv-world", "<s>", "</s>"),
    ("meetkai-functionary-medium-v3.1", "<s>", "</s>"),
    ("moonshotai-Kimi-K2", "<s>", "</s>"),
    ("muse-glimmer", "<s>", "</s>"),
    ("openbmb-MiniCPM5-1B", "<s>", "</s>"),
    ("poolside-Laguna-S-2.1", "<s>", "</s>"),
    ("poolside-Laguna-XS-2.1", "<s>", "</s>"),
    ("poolside-Laguna-XS.2", "<s>", "</s>"),
    ("tencent-Hy3", "<s>", "</s>"),
    ("unsloth-Apriel-1.5", "<s>", "</s>"),
    ("upstage-Solar-Open-100B", "<s>", "</s>"),
]

TOOLS = [{"type": "function", "function": {"name": "python", "description": "Run Python code and return what it prints.",
                                           "parameters": {"type": "object", "properties": {"code": {"type": "string", "description": "the code"}},
                                                          "required": ["code"]}}}]
CONVS = {
    "single": [{"role": "user", "content": "What is 2+2?"}],
    "system-multi": [{"role": "system", "content": "You are a careful math tutor."},
                     {"role": "user", "content": "What is 2+2?"},
                     {"role": "assistant", "content": "2 + 2 = 4."},
                     {"role": "user", "content": "And 3*7?"}],
    "thinking": [{"role": "user", "content": "Is 91 prime?"},
                 {"role": "assistant", "content": "<think>\n91 = 7 * 13.\n</think>\n\nNo: 91 = 7 × 13."},
                 {"role": "user", "content": "And 97?"}],
    "tools": [{"role": "system", "content": "Use tools when helpful."},
              {"role": "user", "content": "Compute 123*456."},
              {"role": "assistant", "content": "",
               "tool_calls": [{"id": "call_1", "type": "function",
                               "function": {"name": "python", "arguments": {"code": "print(123*456)"}}}]},
              {"role": "tool", "content": "56088", "tool_call_id": "call_1", "name": "python"},
              {"role": "assistant", "content": "123 × 456 = 56088."}],
}


def main():
    src = sys.argv[1]
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    n = ok = 0
    with open(os.path.join(OUT, "conversations.json"), "w", encoding="utf-8") as f:
        json.dump(CONVS, f, ensure_ascii=False, indent=1)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for name, bos, eos in TEMPLATES:
            text = open(os.path.join(src, name + ".jinja"), encoding="utf-8").read()
            shutil.copyfile(os.path.join(src, name + ".jinja"), os.path.join(OUT, name + ".jinja"))
            for cname, conv in CONVS.items():
                for gen in (True, False):
                    extra = {"tools": TOOLS} if cname == "tools" else {}
                    ctx = {"messages": conv, "tools": None, "documents": None, "add_generation_prompt": gen,
                           "bos_token": bos, "eos_token": eos, "date_string": "26 Jul 2024",
                           "strftime_now": DAY.strftime, **extra}
                    rec = {"template": name, "conversation": cname, "add_generation_prompt": gen,
                           "bos_token": bos, "eos_token": eos, "vars": {"date_string": "26 Jul 2024", **extra}}
                    try:
                        rec["text"] = _compile_jinja_template(text).render(**ctx)
                        ok += 1
                    except Exception as e:  # the template refuses this conversation: rlc must refuse it too
                        rec["error"] = True
                        rec["python_error"] = f"{type(e).__name__}: {e}"[:200]
                    n += 1
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"{len(TEMPLATES)} templates, {n} renderings ({n - ok} refused by the template) -> {OUT}")


if __name__ == "__main__":
    main()
