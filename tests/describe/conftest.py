"""Fixtures for the describe tests (helpers live in describe_helpers.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from describe_helpers import TINY_KB, FakeOpenAI


@pytest.fixture()
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture()
def tiny_kb(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_dictionary.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in TINY_KB), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def encoder():  # noqa: ANN201
    """The real offline sentence encoder, loaded once per test session."""
    from gspmc.describe.retrieval import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture()
def tiny_index(tiny_kb: Path, encoder, tmp_path: Path):  # noqa: ANN001, ANN201
    from gspmc.describe.kb import resolve_sources
    from gspmc.describe.retrieval import open_index

    return open_index(resolve_sources([str(tiny_kb)]), tmp_path / "index", encoder=encoder, progress=False)
