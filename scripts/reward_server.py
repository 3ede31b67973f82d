#!/usr/bin/env python3
"""A reference reward service for rlc's "http" reward (docs/tools.md), standard library only.

    python3 scripts/reward_server.py [--port 8000] [--host 127.0.0.1]

POST / with {"items": [{"prompt", "completion", "answer", "meta"}, ...]} answers
{"rewards": [...]}: 1.0 when the last \\boxed{...} of the completion (else its last line)
equals the gold answer after removing spaces and a trailing period, else 0.0. A stand-in
for a real grading or reward-model service: replace `score` with your own rule.
"""
import argparse
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def last_boxed(text):
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth, j = 0, i + len("\\boxed")
    for k in range(j, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1:k]
    return None


def norm(s):
    return re.sub(r"\s+", "", s or "").rstrip(".")


def score(item):
    completion = item.get("completion") or ""
    answer = item.get("answer")
    if answer is None:
        return 0.0
    got = last_boxed(completion)
    if got is None:
        lines = [l for l in completion.strip().splitlines() if l.strip()]
        got = lines[-1] if lines else ""
    return 1.0 if norm(got) == norm(str(answer)) else 0.0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(n) or b"{}")
            items = req.get("items")
            if not isinstance(items, list):
                raise ValueError("expected {\"items\": [...]}")
            body = json.dumps({"rewards": [score(it) for it in items]}).encode()
            self.send_response(200)
        except Exception as e:  # a bad request is the client's error
            body = json.dumps({"error": str(e)}).encode()
            self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    a = ap.parse_args()
    ThreadingHTTPServer((a.host, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
