#!/usr/bin/env python3
"""Make tests/fixtures/tokenizers/jinja.jsonl: chat-template snippets and a Qwen3-style
template rendered by transformers' own Jinja environment (the one apply_chat_template uses:
trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception, strftime_now), one
JSON line per case {"name", "template", "context", "text"} or {"name", ..., "error": true}.
Needs: transformers, jinja2 (PyPI). Tests never run this script."""
import json
import os

from transformers.utils.chat_template_utils import _compile_jinja_template

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tokenizers", "jinja.jsonl")

QWEN3 = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "qwen3_chat_template.jinja")).read()

TOOLS = [{"type": "function", "function": {"name": "python", "description": "Run Python code and return stdout.",
                                           "parameters": {"type": "object", "properties": {"code": {"type": "string"}},
                                                          "required": ["code"]}}}]
CONVS = {
    "user": [{"role": "user", "content": "What is 2+2?"}],
    "system-multi": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\n\nHello!"},
                     {"role": "user", "content": "And 3*7?"}],
    "reasoning-field": [{"role": "user", "content": "x?"},
                        {"role": "assistant", "content": "21", "reasoning_content": "3*7 = 21"},
                        {"role": "user", "content": "y?"}],
    "tools": [{"role": "user", "content": "Compute 123*456."},
              {"role": "assistant", "content": "",
               "tool_calls": [{"type": "function", "function": {"name": "python", "arguments": {"code": "print(123*456)"}}}]},
              {"role": "tool", "content": "56088"},
              {"role": "tool", "content": "(done)"},
              {"role": "assistant", "content": "It is \\boxed{56088}."}],
    "tool-args-string": [{"role": "user", "content": "Go"},
                         {"role": "assistant", "content": "Calling.",
                          "tool_calls": [{"function": {"name": "python", "arguments": "{\"code\": \"1\"}"}},
                                         {"function": {"name": "python", "arguments": {"code": "2", "n": [1, 2.5, None, True]}}}]},
                         {"role": "tool", "content": "1"}],
}

SNIPPETS = [
    ("ws-minus", "a  {%- if true %} b {% endif -%}  c", {}),
    ("ws-blocks", "line1\n    {% if true %}\n    x\n    {% endif %}\nend\n", {}),
    ("ws-plus", "a\n    {%+ if true %}y{% endif %}\n", {}),
    ("ws-comment", "a\n  {#- note -#}\n  b {# c #}\nd", {}),
    ("ws-var", "[ {{- ' x ' -}} ]", {}),
    ("repr", "{{ [1, 'a', none, true, {'k': 1.5}] }}|{{ 0.1 + 0.2 }}|{{ 1e-05 }}|{{ 100.0 }}|{{ 1e16 }}|{{ 2 ** 10 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ 7 / 2 }}", {}),
    ("strings", "{{ 'It''s' }}|{{ \"a\\nb\" }}|{{ 'x' ~ 1 ~ none }}|{{ 'abc'[1] }}|{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ 'a,b,,c'.split(',') }}|{{ '  a b  '.split() }}|{{ 'xxhixx'.strip('x') }}|{{ 'Hello World'.lower() }}|{{ 'abc'.upper() }}|{{ 'hi there'.title() }}|{{ 'a-b-c'.replace('-', '+') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith('bc') }}", {}),
    ("filters", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }}|{{ msgs | rejectattr('role', 'equalto', 'user') | list | length }}|{{ msgs | length }}|{{ (msgs | first).role }}|{{ (msgs | last).content | upper }}|{{ missing | default('dflt') }}|{{ '' | default('e', true) }}|{{ [3, 1, 3, 2] | unique | list }}|{{ '  pad  ' | trim }}|{{ 'x' | capitalize }}|{{ 'a\nb' | indent(2) }}|{{ '42' | int + 1 }}|{{ 3 | string + '!' }}|{{ [1, 2] | tojson }}", {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    ("tojson", "{{ obj | tojson }}\n{{ obj | tojson(indent=2) }}\n{{ obj | tojson(indent=4, sort_keys=true) }}\n{{ 'quote \" and \\\\ and é and \\u2028' | tojson }}\n{{ [] | tojson(indent=2) }}|{{ {} | tojson }}", {"obj": {"z": 1, "a": [True, None, 2.5, "s\n\t"], "m": {"k": {}}}}),
    ("tests", "{% for v in vals %}{{ v is defined }}{{ v is none }}{{ v is string }}{{ v is number }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is boolean }}{{ v is true }}{{ v is false }};{% endfor %}{{ nope is defined }}{{ nope is undefined }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is in 'cat' }}{{ 2 is in [1, 2] }}{{ 'x' is not in {'x': 1} }}", {"vals": [None, "s", 3, 2.5, {"a": 1}, [1], True, False]}),
    ("loops", "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }}/{{ loop.previtem }}/{{ loop.nextitem }};{% endfor %}|{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}|{% for x in [] %}no{% else %}empty{% endfor %}|{% for k, v in d | items %}{{ k }}={{ v }},{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}|{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(5, 1, -2) %}{{ i }}{% endfor %}", {"xs": [1, 2, 3, 4], "d": {"b": 1, "a": 2}}),
    ("scopes", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}|{% set ns = namespace(n=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }}{{ ns.s }}|{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}|{% set blk %}B{{ x }}{% endset %}{{ blk }}|{{ 'yes' if x == 1 else 'no' }}{{ 'u' if false }}|{{ not x == 2 }}{{ x != 1 or 'r' }}{{ x and 'and' }}|{{ d.get('a') }}{{ d.get('zz', 'none') }}{{ d['b'] }}{{ d.keys() | list }}{{ d.values() | list }}|{{ {'a': 1}.items() | list }}", {"d": {"a": 1, "b": [2]}}),
    ("raise", "{% if messages | length == 0 %}{{ raise_exception('no messages!') }}{% endif %}ok", {"messages": []}),
    ("undefined-add", "{{ 'a' + nothing }}", {}),
    ("macro", "{% macro render(m, prefix='> ', end='') %}{{ prefix }}{{ m.role }}: {{ m.content | trim }}{{ end }}\n{% endmacro %}{% for m in messages %}{{ render(m) }}{{ render(m, prefix='* ', end='.') }}{% endfor %}{{ render(messages[0], '# ') }}", {"messages": [{"role": "user", "content": " hi "}, {"role": "assistant", "content": "yo"}]}),
    ("generation", "{% for m in messages %}{% generation %}<{{ m.content }}>{% endgeneration %}{% endfor %}", {"messages": [{"content": "x"}]}),
    ("sorting", "{% for k, v in d | dictsort %}{{ k }}={{ v }},{% endfor %}|{% for k, v in d | dictsort(true) %}{{ k }},{% endfor %}|{% for k, v in d | dictsort(by='value', reverse=true) %}{{ k }},{% endfor %}|{{ xs | sort }}|{{ xs | sort(reverse=true) }}|{{ ws | sort | join(' ') }}|{{ ws | sort(case_sensitive=true) | join(' ') }}|{{ ms | sort(attribute='n') | map(attribute='n') | list }}|{{ xs | min }}|{{ xs | max }}|{{ ws | min }}|[{{ [] | min }}]|{{ ms | max(attribute='n') }}|{{ xs }}", {"d": {"b": 2, "B": 1, "a": 3}, "xs": [3, 1.5, 2], "ws": ["b", "A", "c", "a"], "ms": [{"n": 2}, {"n": 1}, {"n": 3}]}),
    ("int-keys", "{% set d = {0: 'zero', 512: 128, 16: 'x'} %}{{ d[512] }}|{{ d[0] }}|{% for k, v in d | dictsort %}{{ k + 1 }}:{{ v }},{% endfor %}|{{ d }}|{{ d | tojson }}|{{ 16 in d }}|{{ '16' in d }}|{{ d.get(16) }}|{% for k in d %}{{ k }};{% endfor %}|{{ d.items() | list }}", {}),
    ("format-markup", r"""{{ 'a{}b{}c'.format(1, 'x') }}|{{ '{1}-{0}'.format('p', 'q') }}|{{ '{{lit}} {name}'.format(name='N') }}|{{ 'x' | safe + s }}|{{ s + ('y' | safe) }}|{{ ('a' | safe) + ('<' | safe) }}|{{ 'p' + s }}|{{ none | selectattr('type') | list }}|{{ [] | reject | list }}|{{ {'k': 1} | select | list }}""", {"s": "<&\"'>"}),
    ("select-without-test", "{{ [1, 0, 2] | select | list }}|{{ [1, 0, 2] | reject | list }}|{{ msgs | selectattr(\"role\") | list | length }}|{{ [1, 2, 3] | select(\"odd\") | list }}", {'msgs': [{'role': 'user'}, {'role': ''}]}),
    ("unicode-space", "[{{ s | trim }}]|[{{ s.strip() }}]|[{{ s.lstrip() }}]|[{{ s.rstrip() }}]|{{ s.split() }}|[{{ t.strip('\u00e9x') }}]|[{{ t | trim('\u00e9') }}]", {"s": "\u3000\x1c hi\u00a0there\u2003\x1f\u2029", "t": "\u00e9x\u00e9caf\u00e9\u00e9"}),
]


def render(tmpl, ctx):
    try:
        return {"text": _compile_jinja_template(tmpl).render(**ctx)}
    except Exception as e:  # the template raised or failed: rlc must fail too
        return {"error": True, "python_error": type(e).__name__}


def main():
    cases = []
    for name, conv in CONVS.items():
        for gen in (True, False):
            for extra in ({}, {"enable_thinking": False}, {"tools": TOOLS}):
                ctx = {"messages": conv, "add_generation_prompt": gen, "tools": None, "documents": None,
                       "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>"}
                ctx.update(extra)
                cases.append({"name": f"qwen3-{name}-{int(gen)}-{'-'.join(extra) or 'plain'}", "template": QWEN3,
                              "context": ctx, **render(QWEN3, ctx)})
    for name, tmpl, ctx in SNIPPETS:
        cases.append({"name": name, "template": tmpl, "context": ctx, **render(tmpl, ctx)})
    with open(OUT, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {OUT}; errors: {sum('error' in c for c in cases)}")


if __name__ == "__main__":
    main()
