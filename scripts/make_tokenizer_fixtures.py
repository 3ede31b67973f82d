#!/usr/bin/env python3
"""Writes the tokenizer parity fixtures under tests/fixtures/tokenizers/ with the reference
libraries (PyPI tokenizers, transformers, sentencepiece, protobuf): small byte-level BPE tokenizers
(Qwen2 and Llama 3 pre-tokenizer patterns), sentencepiece BPE and unigram models, the ids
those libraries produce for a hard test corpus, and chat renderings of the real templates.
Run from the repo root: python3 scripts/make_tokenizer_fixtures.py  (tests never need it)."""
import io
import json
import os
import random
import sys

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tokenizers")

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# ---- the real chat templates (as stored in the models' tokenizer_config.json) ----

QWEN25_TOOLS_AND_SYSTEM = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- '@DEFAULT@' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\n@DEFAULT@<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""
TEMPLATES = {
    "qwen2.5": QWEN25_TOOLS_AND_SYSTEM.replace("@DEFAULT@", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "qwen2.5-math": QWEN25_TOOLS_AND_SYSTEM.replace(
        "@DEFAULT@", r"Please reason step by step, and put your final answer within \\boxed{}."),
    # Qwen2-Instruct / generic ChatML with a default system prompt
    "qwen2": "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    # plain ChatML (the tiny fixture's template)
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "llama3": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    "llama3.1": r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
""",
    "deepseek-r1": "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}",
}

# ---- text ----

WORDS = ("the of and to in is that for it as with was on be by this are or at from an which have not has "
         "but all they one were we their can more there when so what also about time would been into its "
         "number value function equation solve answer proof therefore because triangle integer prime sum "
         "product derivative integral matrix vector probability expected variance step reasoning final "
         "Let Suppose Then Hence Thus Since Note We If The A In").split()
MULTI = ["Bonjour, ça va ? L'élève a répondu « oui ».", "Größe, Straße, Übermaß — schön!",
         "¿Dónde está la biblioteca? Año nuevo, niño.", "Привет, как дела? Решим уравнение x² − 4 = 0.",
         "Γειά σου κόσμε· η λύση είναι π/2.", "مرحبا بالعالم، ٣ + ٤ = ٧", "שלום עולם, 12 שקלים",
         "नमस्ते दुनिया, क्षत्रिय हिन्दी", "こんにちは世界、数学の問題を解きます。", "你好，世界！我们来解方程：2x+3=7。",
         "안녕하세요 세계, 정답은 42입니다.", "สวัสดีชาวโลก ตอบ ๑๒๓", "Xin chào thế giới, đáp án là ba.",
         "Türkçe: İstanbul ılık, IŞIK", "Ελληνικά: ΣΊΣΥΦΟΣ ς σ", "Ærøskøbing og Ålborg, ñandú"]
LATEX = [r"\frac{a}{b} + \sqrt{x^2 + y^2} = \boxed{42}", r"$\int_0^1 x^2\,dx = \tfrac{1}{3}$",
         r"\begin{align} f(x) &= \sum_{k=0}^{\infty} \frac{x^k}{k!} \\ &= e^x \end{align}",
         r"Let $n \ge 1$. Then $\binom{n}{k} = \frac{n!}{k!(n-k)!}$ and $\lim_{n\to\infty} (1+1/n)^n = e$.",
         r"\left( \frac{3}{4} \right)^{-2} = \frac{16}{9} \approx 1.777\ldots", r"$x \in [0, 2\pi)$, $\cos\theta = -\tfrac12$"]
CODE = ["def f(x):\n    return x ** 2 + 3*x - 1\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        "if __name__ == '__main__':\n    print(f'{x:.3f}')\n", "const y = arr.map((v) => v * 2); // doubles\n",
        "SELECT id, name FROM users WHERE age >= 18;\n", "#include <stdio.h>\nint main(void) { return 0; }\r\n"]


def training_corpus(rng):
    lines = []
    for _ in range(3000):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + rng.choice([".", "?", "!", ":", ","]))
    for _ in range(1500):
        a, b = rng.randint(0, 99999), rng.randint(1, 999)
        op = rng.choice(["+", "-", "*", "/", "^"])
        lines.append(f"Compute {a} {op} {b}. The answer is \\boxed{{{a + b}}}.")
        lines.append(f"$x_{rng.randint(1, 9)} = {rng.random() * 100:.4f}$ and $y = {rng.randint(-500, 500)}$")
    for _ in range(200):
        lines.extend(MULTI)
        lines.extend(LATEX)
        lines.extend(CODE)
    lines += ["I'm sure you'll see it's what they've said, we'd go.", "DON'T SHOUT, IT'S LOUD", "emoji 😀 🎉 👍🏽 👨‍👩‍👧‍👦 ❤️"] * 50
    return lines


SPECIAL_TEXT = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>",
                "<|start_header_id|>", "<think>", "</think>", "<｜User｜>", "<mask>", "[SW]", "<rs>", "<note>"]


def test_cases(rng):
    cases = [
        "", " ", "  ", "\n", "\t", "Hello world", "Hello, world! How are you?", " leading space", "trailing space ",
        "hello  world   three    spaces", "a\tb\t\tc", "line1\nline2\r\nline3\rline4\n\n\nend", "\r\n\r\n  \t \n x",
        "    indented code\n\tand tab\n", "12345678901234567890123456789", "3.14159265358979 and 2.718281828",
        "1,000,000 + 2,500 = 1,002,500", "x = 42; y = -17; z = 1e-9", "digits: a٣b½c²d12 ٤٥ ⅷ ①②",
        "I'm you'll they've she'd it's we're I'LL WE'D 'S 'tis", "don't DON'T Don'T",
        "naïve café résumé", "e\u0301 vs \u00e9 and A\u030a vs \u00c5 (combining vs precomposed)",
        "Zalgo: Z\u0351\u036b\u0343a\u0310l\u0352g\u0357o\u0350", "Hangul jamo: \u1100\u1161\u11a8 vs \uac01",
        "😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️‍🔥 1️⃣", "🧑🏾‍💻 writes code; 👩‍🔬 does science",
        "CJK: 我爱数学。数学爱我吗？日本語のテキスト、カタカナ、ひらがな。", "한국어 텍스트와 English mix 中文mix",
        "Arabic: السلام عليكم ورحمة الله", "Hebrew: עברית עם ניקוד: בְּרֵאשִׁית", "Devanagari: क्षत्रिय संस्कृतम्",
        "Thai: ภาษาไทยไม่มีช่องว่าง", "Math symbols: ∀x∈ℝ, ∃y: x²+y² ≥ 0 ⇒ √(x²) = |x| ∞ ∑ ∏ ∫ ∂",
        "NBSP:\u00a0here, thin\u2009space, ideographic\u3000space, NEL\u0085next, LS\u2028PS\u2029end",
        "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom", "long s: \u017f and Kelvin \u212a and 'ſ 'K",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "text<|endoftext|>more text",
        "<|im_start|><|im_end|><|im_start|>", "<|im_start", "im_end|>", "<<|im_end|>>", "<|begin_of_text|>hi<|eot_id|>",
        "<think>\nreasoning here\n</think>\n\nanswer", "x<think>y</think>z", "<｜User｜>hello<｜Assistant｜>",
        "a <mask> b", "a    <mask>b", "<mask>", "word [SW] word", "word[SW]word", "[SW]", "x <rs>   y", "<note> and <note>x",
        "Special text inside words: foo<|im_end|>bar", "$\\frac{1}{2}$ is \\boxed{0.5}", *LATEX, *CODE, *MULTI,
        "a" * 300, " " * 200 + "x", "\n" * 50, "1" * 200, "ab" * 150, "!!!???..." * 20, "\t \n" * 30,
        "The quick brown fox jumps over the lazy dog. " * 10,
    ]
    pool = [
        "a", "Z", "the", " ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\xa0", "\u3000", "\u2028", "0", "7",
        "123", "٣", "½", "²", "'s", "'LL", "'", '"', ".", ",", "!", "?", "-", "_", "(", ")", "{", "}", "\\", "$", "^",
        "é", "e\u0301", "ß", "ſ", "İ", "ı", "Σ", "ς", "ж", "中", "文", "の", "ア", "한", "ا", "ש", "क्ष", "ไ", "😀",
        "👍🏽", "👨‍👩‍👧", "❤️", "🇫🇷", "\u200d", "\ufe0f", "\u0301", "\u0300", "𝔸", "𐍈", "\\frac", "\\boxed{", "x^2", "<|im_end|>",
        "<|im_start|>", "<|endoftext|>", "<think>", "</think>", "<mask>", "[SW]", "<rs>", "<note>", "<|eot_id|>", "<", "|", ">",
    ]
    # characters where regex engines disagree on \s or \w: each between letters and before punctuation
    for c in ["\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029",
              "\u202f", "\u205f", "\u3000", "\u180e", "\u200b", "\ufeff", "\u00ad", "\u0600"]:
        cases += ["x" + c + c + "!y", "a " + c + " b", c + "word" + c, "1" + c + "2"]
    for _ in range(400):
        cases.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    for _ in range(40):  # random code points from several planes (valid scalar values only)
        s = []
        for _ in range(rng.randint(1, 30)):
            cp = rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff), rng.randint(0x3000, 0xd7ff),
                             rng.randint(0xe000, 0xfffd), rng.randint(0x10000, 0x1faff)])
            s.append(chr(cp))
        cases.append("".join(s))
    return cases


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def train_bpe(corpus, pattern, vocab_size, ignore_merges=False, nfc=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return tok


def save_tokenizer(tok, d, merges_as_strings=False):
    os.makedirs(d, exist_ok=True)
    js = json.loads(tok.to_str())
    if merges_as_strings:
        js["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in js["model"]["merges"]]
    write_json(os.path.join(d, "tokenizer.json"), js, compact=True)
    return Tokenizer.from_file(os.path.join(d, "tokenizer.json"))


PRETOK_VARIANTS = {  # pre-tokenizer / normalizer variants on the tiny vocabulary
    "gpt2": (None, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}),
    "gpt2-prefix": (None, {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
    "split-removed": (None, [{"type": "Split", "pattern": {"String": " "}, "behavior": "Removed", "invert": False}]),
    "merged-prev": (None, [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithPrevious", "invert": False}]),
    "merged-next": (None, [{"type": "Split", "pattern": {"Regex": "[,.!?]"}, "behavior": "MergedWithNext", "invert": False}]),
    "contiguous": (None, [{"type": "Split", "pattern": {"Regex": "\\d"}, "behavior": "Contiguous", "invert": False}]),
    "invert": (None, [{"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated", "invert": True}]),
    "digits": (None, [{"type": "Digits", "individual_digits": True},
                      {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False}]),
    "digits-runs": (None, [{"type": "Digits", "individual_digits": False}]),
    "nfkc": ({"type": "NFKC"}, None),
    "nfd-nfc": ({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "NFC"}]}, None),
    "nfkd": ({"type": "NFKD"}, None),
    "lowercase": ({"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}, None),
    "strip": ({"type": "Strip", "strip_left": True, "strip_right": True}, None),
    "strip-right": ({"type": "Strip", "strip_left": False, "strip_right": True}, None),
    "replace": ({"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": "  "}, "content": " "},
                                                     {"type": "Replace", "pattern": {"String": "e"}, "content": "E"}]},
                None),
}


def pretok_variants(cases):
    base = json.load(open(os.path.join(OUT, "tiny-chatml", "tokenizer.json"), encoding="utf-8"))
    for name, (norm, pre) in PRETOK_VARIANTS.items():
        js = json.loads(json.dumps(base))
        if norm is not None:
            js["normalizer"] = norm
        if isinstance(pre, list):
            js["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": pre + [
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
        elif pre is not None:
            js["pre_tokenizer"] = pre
        d = os.path.join(OUT, "variants", name)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "tokenizer.json"), js, compact=True)
        extra = ["\u0130STANBUL \u039f\u0394\u039f\u03a3 Stra\u00dfe \u01c5 \u212a\u212b \uff21\uff22"]  # case mappings
        expected_ids(Tokenizer.from_file(os.path.join(d, "tokenizer.json")), d, cases + extra)
    print(f"variants: {len(PRETOK_VARIANTS)}")


def expected_ids(tok, d, cases):
    with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as f:
        for text in cases:
            enc = tok.encode(text, add_special_tokens=False).ids
            enc_sp = tok.encode(text, add_special_tokens=True).ids
            rec = {"text": text, "ids": enc, "ids_special": enc_sp,
                   "decoded": tok.decode(enc, skip_special_tokens=False),
                   "decoded_skip": tok.decode(enc, skip_special_tokens=True)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def tok_config(d, **kw):
    write_json(os.path.join(d, "tokenizer_config.json"), kw)


CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a careful math tutor."}, {"role": "user", "content": "Solve $x^2=4$."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Compute \\frac{3}{4} + \\frac{1}{4}."}],
    [{"role": "system", "content": "  Be brief.  \n"}, {"role": "user", "content": "\n  spaced question  \n"},
     {"role": "assistant", "content": " spaced answer\t"}],
    [{"role": "user", "content": "Think first."},
     {"role": "assistant", "content": "<think>\nLet me reason: 6*7.\n</think>\n\nThe answer is \\boxed{42}."},
     {"role": "user", "content": "Again?"}],
    [{"role": "user", "content": "你好，请用中文回答 😀"}, {"role": "assistant", "content": "好的！"}],
    [{"role": "user", "content": "first"}, {"role": "system", "content": "late system"}, {"role": "user", "content": "second"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "Call a tool."}, {"role": "assistant", "content": "I will call it."},
     {"role": "tool", "content": "{\"result\": 4}"}, {"role": "tool", "content": "second output"},
     {"role": "user", "content": "Thanks"}],
]
# Llama 3.2 (and 3.3): today's date via strftime_now, no builtin tools
TEMPLATES["llama3.2"] = (TEMPLATES["llama3.1"]
    .replace("""{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}""", """{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}""")
    .replace("""{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}""", """{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}"""))
assert "strftime_now" in TEMPLATES["llama3.2"] and "builtin_tools | reject" not in TEMPLATES["llama3.2"]
CHAT_DATE = {"llama3.2": "05 Mar 2025"}  # rendered with date_string=..., as a trainer pins it

# which template families render which conversations (tool messages only for Qwen2.5's template)
TEMPLATE_DIRS = {"qwen2.5": "bpe-qwen", "qwen2.5-math": "bpe-qwen", "qwen2": "bpe-qwen", "chatml": "tiny-chatml",
                 "llama3": "bpe-llama3", "llama3.1": "bpe-llama3", "llama3.2": "bpe-llama3", "deepseek-r1": "bpe-r1"}


def chat_fixtures():
    from transformers import AutoTokenizer
    out = []
    for name, d in TEMPLATE_DIRS.items():
        hf = AutoTokenizer.from_pretrained(os.path.join(OUT, d))
        base = Tokenizer.from_file(os.path.join(OUT, d, "tokenizer.json"))
        for ci, conv in enumerate(CONVERSATIONS):
            has_tool = any(m["role"] == "tool" for m in conv)
            if has_tool and name not in ("qwen2.5", "qwen2.5-math", "chatml", "qwen2", "deepseek-r1"):
                continue
            for gen in (True, False):
                extra = {"date_string": CHAT_DATE[name]} if name in CHAT_DATE else {}
                text = hf.apply_chat_template(conv, chat_template=TEMPLATES[name], tokenize=False, add_generation_prompt=gen,
                                              **extra)
                ids = base.encode(text, add_special_tokens=False).ids
                out.append({"template": name, "dir": d, "conversation": ci, "messages": conv,
                            "add_generation_prompt": gen, "text": text, "ids": ids, **extra})
    write_json(os.path.join(OUT, "templates.json"), TEMPLATES)
    with open(os.path.join(OUT, "chat.jsonl"), "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"chat: {len(out)} renderings")


def spm_models(corpus, cases):
    text = [l for l in corpus if l.strip()]
    for name, kw in [("spm-bpe", dict(model_type="bpe", vocab_size=1200, byte_fallback=True, split_digits=True,
                                      normalization_rule_name="identity", remove_extra_whitespaces=False,
                                      allow_whitespace_only_pieces=True)),
                     ("spm-unigram", dict(model_type="unigram", vocab_size=900))]:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=buf, character_coverage=0.9995,
                                       user_defined_symbols=["<|im_start|>", "<|im_end|>"], minloglevel=2,
                                       bos_id=1, eos_id=2, unk_id=0, pad_id=-1, num_threads=1, seed_sentencepiece_size=200000,
                                       **kw)
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(buf.getvalue())
        sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
        with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as f:
            for t in cases:
                ids = sp.encode(t)
                f.write(json.dumps({"text": t, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")
        print(f"{name}: {sp.get_piece_size()} pieces")


SPM_SPECIAL_TEXTS = ["Hello</s>world", "<s>[INST] hi [/INST]", "</s>\n<|assistant|>\nok", "a<s>b</s>c",
                     "Q: 1+1?</s><s>A: 2</s>", "<|im_start|>user\nhi</s>", "x</s>", "</s></s>"]


def spm_split(text, specials):
    """Chunks of text and special-token strings, leftmost-longest (what tok_encode does)."""
    out, i, start = [], 0, 0
    while i < len(text):
        best = max((s for s in specials if text.startswith(s, i)), key=len, default=None)
        if best is None:
            i += 1
            continue
        if i > start:
            out.append(("text", text[start:i], start > 0))
        out.append(("special", best, None))
        i += len(best)
        start = i
    if start < len(text):
        out.append(("text", text[start:], start > 0))
    return out


def spm_legacy_fixture():
    """A Llama-style sentencepiece tokenizer with tokenizer_config legacy=false: text after a
    special token gets no dummy prefix. Expected ids from the sentencepiece library with
    add_dummy_prefix switched off in the model proto, checked against transformers."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    from transformers import AutoTokenizer
    src = os.path.join(OUT, "spm-bpe", "tokenizer.model")
    d = os.path.join(OUT, "spm-llama")
    os.makedirs(d, exist_ok=True)
    model = open(src, "rb").read()
    open(os.path.join(d, "tokenizer.model"), "wb").write(model)
    write_json(os.path.join(d, "tokenizer_config.json"), {"tokenizer_class": "LlamaTokenizer", "legacy": False,
               "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    sp = spm.SentencePieceProcessor(model_proto=model)
    m = pb.ModelProto()
    m.ParseFromString(model)
    m.normalizer_spec.add_dummy_prefix = False
    sp_np = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
    specials = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    specials = [s for s in specials if s]
    hf = AutoTokenizer.from_pretrained(d)
    agree = 0
    with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as f:
        for text in SPM_SPECIAL_TEXTS:
            ids = []
            for kind, piece, after in spm_split(text, specials):
                ids += [sp.piece_to_id(piece)] if kind == "special" else (sp_np if after else sp).encode(piece)
            agree += hf.encode(text, add_special_tokens=False) == ids
            f.write(json.dumps({"text": text, "ids": ids, "ids_special": [sp.bos_id()] + ids,
                                "decoded": hf.decode(ids, skip_special_tokens=False),
                                "decoded_skip": hf.decode(ids, skip_special_tokens=True)}, ensure_ascii=False) + "\n")
    print(f"spm-llama: transformers (legacy=false) agrees on {agree}/{len(SPM_SPECIAL_TEXTS)}")


SPM_JSON_VARIANTS = {  # sentencepiece-style tokenizer.json: edits of transformers' conversion of spm-bpe
    "metaspace-always": {},  # LlamaTokenizerFast, legacy=True: Metaspace prepend_scheme "always", split false
    "metaspace-first": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                                          "split": False}},  # legacy=False
    "metaspace-split": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                                          "split": True}},
    "metaspace-never": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never",
                                          "split": True}},
    # Llama 2 / Mistral 7B as first published: the normalizer does the work, no pre-tokenizer
    "prepend-replace": {"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None},
    # Gemma / Gemma 3 (transformers' GemmaTokenizer): spaces become ▁ with no prefix space,
    # a Split on " " that finds none after that, the whole text one BPE word; no Strip decoder
    "gemma": {"normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
              "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                                "invert": False},
              "decoder": {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
                  {"type": "Fuse"}]}},
    # no byte fallback: unknown characters become <unk> (consecutive ones fused)
    "unk-fused": {"model.byte_fallback": False, "model.unk_token": "<unk>"},
}


def spm_json_fixtures(cases):
    """tokenizer.json files of the sentencepiece kind (BPE with byte_fallback, Metaspace or
    Prepend/Replace, decoders Replace/ByteFallback/Fuse/Strip), converted by transformers from
    the spm-bpe model and edited per variant; expected ids and decodes from HF tokenizers."""
    from tokenizers import models as tmodels
    from transformers.convert_slow_tokenizer import SentencePieceExtractor
    # what transformers' LlamaConverter builds (its vocab and merges, Metaspace, the decoders, BOS)
    kw = SentencePieceExtractor(os.path.join(OUT, "spm-bpe", "tokenizer.model")).extract(tmodels.BPE)
    tok = Tokenizer(tmodels.BPE(vocab=kw["vocab"], merges=kw["merges"], unk_token=None, fuse_unk=True,
                                byte_fallback=True))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<unk>", "<s>", "</s>"]])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    base = json.loads(tok.to_str())
    texts = cases + SPM_SPECIAL_TEXTS + ["  two  spaces ", " lead", "trail ", "\u2581already", "a\u2581b",
                                         "emoji \U0001F600 and \u0F00 rare", "\u00e9t\u00e9 na\u00efve", ""]
    for name, edits in SPM_JSON_VARIANTS.items():
        js = json.loads(json.dumps(base))
        for k, v in edits.items():
            obj, key = (js["model"], k[6:]) if k.startswith("model.") else (js, k)
            obj[key] = v
        d = os.path.join(OUT, "spm-json", name)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "tokenizer.json"), js, compact=True)
        tok_config(d, add_bos_token=True, add_eos_token=False, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                   tokenizer_class="LlamaTokenizerFast", legacy=name != "metaspace-first")
        expected_ids(Tokenizer.from_file(os.path.join(d, "tokenizer.json")), d, texts)
    print(f"spm-json: {len(SPM_JSON_VARIANTS)} variants")


def main():
    rng = random.Random(1234)
    corpus = training_corpus(rng)
    cases = test_cases(random.Random(99))
    os.makedirs(OUT, exist_ok=True)

    # Qwen2-style: NFC normalizer, Qwen2 split pattern, ByteLevel post-processor, specials at the end of the vocab
    d = os.path.join(OUT, "bpe-qwen")
    tok = train_bpe(corpus, QWEN2_PATTERN, 1500, nfc=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in
                            ["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                             "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]])
    tok.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    tok.add_tokens([AddedToken("<think>", special=False, normalized=False), AddedToken("</think>", special=False, normalized=False),
                    AddedToken("[SW]", special=False, normalized=False, single_word=True),
                    AddedToken("<rs>", special=False, normalized=False, rstrip=True),
                    AddedToken("<note>", special=False, normalized=True)])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok = save_tokenizer(tok, d)
    tok_config(d, add_bos_token=False, add_prefix_space=False, bos_token=None, eos_token="<|im_end|>",
               pad_token="<|endoftext|>", unk_token=None, clean_up_tokenization_spaces=False, errors="replace",
               model_max_length=131072, split_special_tokens=False, tokenizer_class="Qwen2Tokenizer",
               chat_template=TEMPLATES["qwen2.5"])
    write_json(os.path.join(d, "generation_config.json"),
               {"bos_token_id": tok.token_to_id("<|endoftext|>"),
                "eos_token_id": [tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")],
                "pad_token_id": tok.token_to_id("<|endoftext|>")})
    expected_ids(tok, d, cases)

    # DeepSeek-R1-Distill-Qwen style: same vocabulary, BOS added by a TemplateProcessing post-processor
    d = os.path.join(OUT, "bpe-r1")
    bos = "<｜begin▁of▁sentence｜>"
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                      special_tokens=[(bos, tok.token_to_id(bos))])])
    tok = save_tokenizer(tok, d)
    tok_config(d, add_bos_token=True, add_eos_token=False, bos_token={"content": bos, "lstrip": False, "normalized": True,
               "rstrip": False, "single_word": False, "__type": "AddedToken"}, eos_token="<｜end▁of▁sentence｜>",
               pad_token="<｜end▁of▁sentence｜>", clean_up_tokenization_spaces=False, legacy=True,
               model_max_length=16384, tokenizer_class="LlamaTokenizerFast", chat_template=TEMPLATES["deepseek-r1"])
    write_json(os.path.join(d, "generation_config.json"), {"bos_token_id": tok.token_to_id(bos),
               "eos_token_id": tok.token_to_id("<｜end▁of▁sentence｜>"), "do_sample": True, "temperature": 0.6})
    expected_ids(tok, d, cases)

    # Llama 3-style: no normalizer, Llama 3 pattern, ignore_merges, merges stored as "a b" strings, BOS post-processor
    d = os.path.join(OUT, "bpe-llama3")
    tok = train_bpe(corpus, LLAMA3_PATTERN, 1800, ignore_merges=True)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                "<|eot_id|>", "<|python_tag|>"]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    bos = "<|begin_of_text|>"
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos}:1 $B:1",
                                      special_tokens=[(bos, tok.token_to_id(bos))])])
    tok = save_tokenizer(tok, d, merges_as_strings=True)
    tok_config(d, bos_token=bos, eos_token="<|eot_id|>", clean_up_tokenization_spaces=True,
               model_input_names=["input_ids", "attention_mask"], model_max_length=131072,
               tokenizer_class="PreTrainedTokenizerFast", chat_template=TEMPLATES["llama3.1"])
    write_json(os.path.join(d, "generation_config.json"), {"bos_token_id": tok.token_to_id(bos),
               "eos_token_id": [tok.token_to_id("<|end_of_text|>"), tok.token_to_id("<|eom_id|>"), tok.token_to_id("<|eot_id|>")]})
    expected_ids(tok, d, cases)

    # tiny ChatML tokenizer for the tiny test models: 509 BPE tokens + 3 specials = 512
    d = os.path.join(OUT, "tiny-chatml")
    tok = train_bpe(corpus, QWEN2_PATTERN, 509, nfc=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok = save_tokenizer(tok, d)
    assert tok.get_vocab_size() <= 512, tok.get_vocab_size()
    tok_config(d, add_bos_token=False, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
               unk_token=None, clean_up_tokenization_spaces=False, model_max_length=2048,
               tokenizer_class="Qwen2Tokenizer", chat_template=TEMPLATES["chatml"])
    write_json(os.path.join(d, "generation_config.json"),
               {"eos_token_id": [tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")]})
    expected_ids(tok, d, cases)
    print(f"tiny-chatml: vocab {tok.get_vocab_size()}")

    pretok_variants(cases[:75] + cases[-25:])
    spm_models(corpus, cases)
    spm_legacy_fixture()
    spm_json_fixtures(cases[:150])
    chat_fixtures()
    slow_fixtures(cases[:150] + cases[-50:])


def slow_fixtures(cases):
    """Slow-tokenizer directories (vocab.json + merges.txt + tokenizer_config.json, no
    tokenizer.json) made from two fixtures' tokenizer.json, with the ids transformers gives
    when it builds the tokenizer from those files (Qwen2Tokenizer; GPT2Tokenizer with and
    without add_prefix_space)."""
    from transformers import AutoTokenizer
    gpt2_cfg = dict(tokenizer_class="GPT2Tokenizer", bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                    unk_token="<|endoftext|>", clean_up_tokenization_spaces=False, model_max_length=1024)
    with open(os.path.join(OUT, "bpe-qwen", "tokenizer_config.json"), encoding="utf-8") as f:
        qwen_cfg = json.load(f)
    # slow-gpt2-legacy: no added_tokens_decoder; added_tokens.json and special_tokens_map.json
    # name the added tokens; bos added by add_bos_token; unk/bos/eos left to GPT2Tokenizer's defaults
    legacy_cfg = dict(tokenizer_class="GPT2Tokenizer", add_bos_token=True, model_max_length=1024,
                      clean_up_tokenization_spaces=False)
    legacy_files = {"added_tokens.json": {"<|im_start|>": 509, "<|im_end|>": 510},
                    "special_tokens_map.json": {"additional_special_tokens": ["<|im_end|>"]}}
    for name, src, cfg in [("slow-qwen", "bpe-qwen", qwen_cfg),
                           ("slow-gpt2", os.path.join("variants", "gpt2"), dict(gpt2_cfg, add_prefix_space=False)),
                           ("slow-gpt2-prefix", os.path.join("variants", "gpt2"), dict(gpt2_cfg, add_prefix_space=True)),
                           ("slow-gpt2-legacy", os.path.join("variants", "gpt2"), legacy_cfg)]:
        with open(os.path.join(OUT, src, "tokenizer.json"), encoding="utf-8") as f:
            js = json.load(f)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "vocab.json"), js["model"]["vocab"], compact=True)
        lines = [m if isinstance(m, str) else " ".join(m) for m in js["model"]["merges"]]
        with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(lines) + "\n")
        if name.endswith("legacy"):
            for f, obj in legacy_files.items():
                write_json(os.path.join(d, f), obj)
        else:
            cfg = dict(cfg, added_tokens_decoder={
                str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
                for a in js["added_tokens"]})
        write_json(os.path.join(d, "tokenizer_config.json"), cfg)
        tok = AutoTokenizer.from_pretrained(d)
        assert not os.path.exists(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as f:
            for text in cases:
                enc = tok.encode(text, add_special_tokens=False)
                rec = {"text": text, "ids": enc, "ids_special": tok.encode(text, add_special_tokens=True),
                       "decoded": tok.decode(enc, skip_special_tokens=False),
                       "decoded_skip": tok.decode(enc, skip_special_tokens=True)}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"{name}: {type(tok).__name__}, {len(cases)} cases")


if __name__ == "__main__":
    if sys.argv[1:] == ["--slow"]:  # only the slow-tokenizer (vocab.json + merges.txt) fixtures
        c = test_cases(random.Random(99))
        slow_fixtures(c[:150] + c[-50:])
        sys.exit(0)
    if sys.argv[1:] == ["--variants"]:  # only the pre-tokenizer / normalizer variants
        c = test_cases(random.Random(99))
        pretok_variants(c[:75] + c[-25:])
        sys.exit(0)
    if sys.argv[1:] == ["--spm-json"]:  # only the sentencepiece-style tokenizer.json fixtures
        spm_json_fixtures(test_cases(random.Random(99))[:150])
        sys.exit(0)
    sys.exit(main())
