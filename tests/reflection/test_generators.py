"""Text generators: scripted, callable adapter, and an OpenAI-compatible endpoint (local)."""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from reflection.generators import (
    CallableGenerator,
    OpenAIGenerator,
    ScriptedGenerator,
    TextGenerator,
)

CONV = [{"role": "user", "content": "hello"}]


def test_scripted_list_and_function():
    g = ScriptedGenerator(["abcd", "efghijkl"])
    assert isinstance(g, TextGenerator)
    assert g.generate([CONV, CONV]) == ["abcd", "efghijkl"]
    assert g.tokens_generated == 3 and len(g.calls) == 1
    with pytest.raises(RuntimeError, match="ran out"):
        g.generate([CONV])
    f = ScriptedGenerator(lambda conv: conv[-1]["content"].upper())
    assert f.generate([CONV]) == ["HELLO"]


@dataclass
class Completion:
    text: str
    token_ids: list


def test_callable_adapter():
    g = CallableGenerator(lambda convs: [Completion("hi", [1, 2, 3]) for _ in convs])
    assert g.generate([CONV, CONV]) == ["hi", "hi"] and g.tokens_generated == 6
    seen = {}

    def fn(convs, max_new_tokens):
        seen["m"] = max_new_tokens
        return ["x" * 8, None]

    g2 = CallableGenerator(fn, pass_max_new_tokens=True)
    assert g2.generate([CONV, CONV], max_new_tokens=7) == ["xxxxxxxx", ""]
    assert seen["m"] == 7 and g2.tokens_generated == 2
    with pytest.raises(RuntimeError, match="1 outputs for 2"):
        CallableGenerator(lambda convs: ["a"]).generate([CONV, CONV])


class Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append((self.path, self.headers.get("Authorization"), body))
        text = body["messages"][-1]["content"]
        if text == "fail":
            self.send_response(500)
            self.end_headers()
            return
        reply = {
            "choices": [{"message": {"content": text[::-1]}}],
            "usage": {"completion_tokens": 5},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_generator_against_local_server():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        g = OpenAIGenerator(url, "m", api_key="k", max_new_tokens=9, retries=0)
        out = g.generate(
            [[{"role": "user", "content": "abc"}], [{"role": "user", "content": "fail"}]],
            max_new_tokens=3,
        )
        assert out == ["cba", ""]
        assert g.tokens_generated == 5 and g.failures == 1
        path, auth, body = Handler.requests[0]
        assert path == "/v1/chat/completions" and auth == "Bearer k"
        assert body["model"] == "m" and body["max_tokens"] == 3
    finally:
        server.shutdown()
        server.server_close()
    dead = OpenAIGenerator(url, "m", timeout_s=2, retries=0)
    assert dead.generate([CONV]) == [""] and dead.failures == 1
