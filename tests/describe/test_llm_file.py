"""The file-exchange backend: requests out to a file, answers back from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gspmc.describe.llm import FileExchangeBackend, LLMError, make_backend, request_id
from gspmc.errors import DataError

MSGS = [{"role": "user", "content": "Describe the sign coffee."}]
SCHEMA = {"type": "object"}


def test_request_then_answer(tmp_path: Path) -> None:
    b = make_backend(f"file:{tmp_path / 'ex'}")
    assert isinstance(b, FileExchangeBackend) and b.model == "file-exchange"
    for _ in range(2):  # asked twice: written once
        with pytest.raises(LLMError, match="waiting for an answer"):
            b.chat(MSGS, SCHEMA, 10)
    lines = b.requests.read_text().splitlines()
    assert len(lines) == 1
    req = json.loads(lines[0])
    assert req == {"id": request_id(MSGS), "messages": MSGS, "schema": SCHEMA}
    b.answers.write_text(json.dumps({"id": req["id"], "answer": '{"description": "x"}', "by": "a person"}) + "\n")
    again = FileExchangeBackend(tmp_path / "ex")
    assert again.model == "file-exchange:a person"
    assert again.chat(MSGS, SCHEMA, 10).text == '{"description": "x"}'


def test_bad_answers_file(tmp_path: Path) -> None:
    b = FileExchangeBackend(tmp_path / "ex")
    b.answers.write_text("not json\n")
    with pytest.raises(DataError, match=r"ex.answers.jsonl: line 1"):
        b.chat(MSGS, SCHEMA, 10)


def test_exchange_names_keep_dots_and_answers_may_come_in_parts(tmp_path: Path) -> None:
    """``file:store.claude`` writes ``store.claude.requests.jsonl`` (not ``store.requests.jsonl``), and
    answers from ``store.claude.answers.<part>.jsonl`` files count like the main answers file."""
    b = FileExchangeBackend(tmp_path / "autsl226.claude")
    assert b.requests.name == "autsl226.claude.requests.jsonl"
    assert b.answers.name == "autsl226.claude.answers.jsonl"
    other = [{"role": "user", "content": "Describe the sign tea."}]
    (tmp_path / "autsl226.claude.answers.part2.jsonl").write_text(
        json.dumps({"id": request_id(other), "answer": '{"description": "t"}', "by": "model-x"}) + "\n")
    b.answers.write_text(json.dumps({"id": request_id(MSGS), "answer": '{"description": "c"}', "by": "model-x"}) + "\n")
    again = FileExchangeBackend(tmp_path / "autsl226.claude")
    assert again.model == "file-exchange:model-x"
    assert again.chat(MSGS, SCHEMA, 10).text == '{"description": "c"}'
    assert again.chat(other, SCHEMA, 10).text == '{"description": "t"}'
    # the same request answered differently in two files is an error naming the file
    (tmp_path / "autsl226.claude.answers.part3.jsonl").write_text(
        json.dumps({"id": request_id(MSGS), "answer": '{"description": "other"}', "by": "model-x"}) + "\n")
    with pytest.raises(DataError, match=r"part3.jsonl: line 1: request \w+ has another answer"):
        again.chat(MSGS, SCHEMA, 10)
