"""Helpers for the describe tests: a local OpenAI-protocol HTTP server and a tiny knowledge base."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply script maps the request body to (status, body dict or raw str, delay seconds).
Script = Callable[[dict[str, Any], int], tuple[int, Any, float]]


class FakeOpenAI:
    """A chat-completions server on 127.0.0.1 speaking the OpenAI protocol (what vLLM, Ollama and
    llama.cpp servers speak). ``script(request, n)`` decides each reply; ``requests`` records them."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: Script = lambda req, n: (200, good_reply(req), 0.0)
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                req = json.loads(self.rfile.read(length))
                with fake.lock:
                    fake.requests.append(req)
                    n = len(fake.requests)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    status, body, delay = fake.script(req, n)
                    time.sleep(delay)
                    raw = body if isinstance(body, str) else json.dumps(body)
                    data = raw.encode()
                    try:
                        self.send_response(status)
                        self.send_header("content-type", "application/json")
                        self.send_header("content-length", str(len(data)))
                        if status == 429:
                            self.send_header("retry-after", "0")
                        self.end_headers()
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(content: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


GOOD = {
    "p1": "The right hand makes a fist (S handshape) and moves in a circle on the thumb side of the left fist.",
    "p2": ["A closed right fist circles repeatedly on top of the left fist, touching its thumb side.",
           "The right S hand rotates in circles on the left hand's fingers."],
    "p4": {"left_hand": ["The left hand is a still fist under the right hand."],
           "right_hand": ["The right fist moves in a circle on the left hand."],
           "body": [], "face": [], "mouth": []},
}


def step_of(req: dict[str, Any]) -> str:
    user = req["messages"][1]["content"]
    if "Describe how" in user:
        return "p1"
    if "paraphrases" in user:
        return "p2"
    if "Rewrite the description" in user:
        return "p3"
    return "p4"


def good_reply(req: dict[str, Any]) -> dict[str, Any]:
    step = step_of(req)
    obj: Any = {"p1": {"description": GOOD["p1"]}, "p2": {"paraphrases": GOOD["p2"]},
                "p3": {"description": GOOD["p1"]}, "p4": GOOD["p4"]}[step]
    return completion(json.dumps(obj))


TINY_KB = [
    {"_meta": {"title": "test dictionary"}},
    {"id": "coffee", "gloss": "coffee", "aliases": ["java"],
     "text": "COFFEE: the right S hand (fist) circles on top of the left S hand, touching its thumb side.",
     "description": "The right hand forms a fist and moves in a circle on the thumb side of the left fist.",
     "paraphrase": "A right fist circles over a left fist.",
     "terms": {"handshape": ["fist", "s handshape"], "location": ["thumb", "left"], "movement": ["circle", "circles"]},
     "parts": {"right_hand": ["Right hand: a fist circling on the left fist."],
               "left_hand": ["Left hand: a still fist, thumb side up."]}},
    {"id": "tea", "gloss": "tea",
     "text": "TEA: the right F hand dips into the left O hand and circles, like stirring a tea bag.",
     "terms": {"handshape": ["f handshape", "f hand", "circle of thumb and index"], "location": ["o hand", "left"],
               "movement": ["circles", "stirs", "circle"]}},
    {"id": "water", "gloss": "water",
     "text": "WATER: the right W hand taps the chin twice with the index finger.",
     "terms": {"handshape": ["w handshape", "w hand", "three fingers"], "location": ["chin"],
               "movement": ["tap", "taps"]}},
]


