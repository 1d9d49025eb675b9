"""The OpenAI-compatible backend against a local server speaking the same protocol."""

from __future__ import annotations

import json
import threading

import pytest
from describe_helpers import FakeOpenAI, completion, good_reply

from gspmc.describe.llm import LLMError, OpenAIBackend, make_backend

SCHEMA = {"type": "object", "properties": {"description": {"type": "string"}}, "required": ["description"]}
MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "Describe how x is made."}]


def backend(server: FakeOpenAI, **kw: object) -> tuple[OpenAIBackend, list[float]]:
    sleeps: list[float] = []
    kw.setdefault("timeout", 5.0)
    b = OpenAIBackend("fake-model", base_url=server.url, sleep=sleeps.append, **kw)  # type: ignore[arg-type]
    return b, sleeps


def test_request_carries_model_params_and_schema(fake_openai: FakeOpenAI) -> None:
    b, _ = backend(fake_openai, temperature=0.3, seed=7, response_format="json_schema")
    reply = b.chat(MESSAGES, SCHEMA, max_tokens=42)
    req = fake_openai.requests[0]
    assert (req["model"], req["temperature"], req["seed"], req["max_tokens"]) == ("fake-model", 0.3, 7, 42)
    assert req["response_format"]["json_schema"]["schema"] == SCHEMA
    assert req["messages"] == MESSAGES
    assert json.loads(reply.text)["description"].startswith("The right hand")
    assert (reply.prompt_tokens, reply.completion_tokens) == (10, 5)


def test_429_then_success_backs_off_exponentially(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = lambda req, n: (429, {"error": {"message": "slow down"}}, 0) if n <= 2 else (
        200, good_reply(req), 0)
    b, sleeps = backend(fake_openai, backoff=0.5, max_retries=4)
    reply = b.chat(MESSAGES, SCHEMA, 50)
    assert len(fake_openai.requests) == 3
    assert sleeps == [0.5, 1.0]  # backoff * 2**attempt (Retry-After: 0 is lower)
    assert "description" in json.loads(reply.text)


def test_5xx_retried_but_400_is_not(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = lambda req, n: (503, {"error": {"message": "busy"}}, 0) if n == 1 else (200, good_reply(req), 0)
    b, sleeps = backend(fake_openai, backoff=1.0)
    b.chat(MESSAGES, SCHEMA, 50)
    assert len(fake_openai.requests) == 2 and sleeps == [1.0]

    fake_openai.script = lambda req, n: (400, {"error": {"message": "bad model"}}, 0)
    with pytest.raises(LLMError, match="HTTP 400"):
        b.chat(MESSAGES, SCHEMA, 50)
    assert len(fake_openai.requests) == 3  # one more request, no retry


def test_timeout_is_retried_then_reported(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = lambda req, n: (200, good_reply(req), 1.5)
    b, sleeps = backend(fake_openai, timeout=0.2, max_retries=1, backoff=0.1)
    with pytest.raises(LLMError, match="2 attempts.*Timeout"):
        b.chat(MESSAGES, SCHEMA, 50)
    assert sleeps == [0.1]
    assert len(fake_openai.requests) == 2


def test_timeout_then_success(fake_openai: FakeOpenAI) -> None:
    """The first request never gets a reply before the client's timeout (the server holds it until the
    test ends), the retry is answered at once: no race with how fast the machine is."""
    release = threading.Event()

    def script(req, n):  # noqa: ANN001, ANN202
        if n == 1:
            release.wait(60)  # held past the client's timeout
        return 200, good_reply(req), 0

    fake_openai.script = script
    try:
        b, _ = backend(fake_openai, timeout=3, max_retries=2, backoff=0.01)
        assert "description" in json.loads(b.chat(MESSAGES, SCHEMA, 50).text)
        assert len(fake_openai.requests) == 2
    finally:
        release.set()


def test_concurrency_is_bounded(fake_openai: FakeOpenAI) -> None:
    """Each reply waits until a second request is in flight (a barrier of 2), so two always overlap;
    without the client's bound all six would be in flight at once."""
    pair = threading.Barrier(2, timeout=60)
    fake_openai.script = lambda req, n: (pair.wait(), (200, good_reply(req), 0))[1]
    b, _ = backend(fake_openai, concurrency=2)
    threads = [threading.Thread(target=b.chat, args=(MESSAGES, SCHEMA, 10)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_openai.requests) == 6
    assert fake_openai.max_in_flight == 2


def test_key_comes_from_environment(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    original = fake_openai.script
    monkeypatch.setenv("MY_TEST_KEY", "sk-test-123")
    b = make_backend("openai:fake-model", base_url=fake_openai.url, api_key_env="MY_TEST_KEY", threads=3)
    assert isinstance(b, OpenAIBackend) and b.model == "fake-model"
    assert b._client.api_key == "sk-test-123"
    fake_openai.script = lambda req, n: (seen.append(req["model"]), original(req, n))[1]
    b.chat(MESSAGES, SCHEMA, 5)
    assert seen == ["fake-model"]


def test_reply_without_choices_is_an_error(fake_openai: FakeOpenAI) -> None:
    body = completion("x")
    body["choices"] = []
    fake_openai.script = lambda req, n: (200, body, 0)
    b, _ = backend(fake_openai)
    with pytest.raises(LLMError, match="without choices"):
        b.chat(MESSAGES, SCHEMA, 5)
