"""Fixtures for gspmc.text tests: a tiny description-store writer and a deterministic local
encoder (hashed character trigrams) that counts what it embeds, for the cache logic. The real
encoders (MiniLM, USE, CLIP) are tested in test_text_encoders.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gspmc.text import encoders as enc_mod
from gspmc.text.encoders import TextEncoder

PARTS = ["left_hand", "right_hand", "body", "face", "mouth"]


class HashEncoder(TextEncoder):
    """Bag of hashed character trigrams in ``dim`` buckets; records every text it embeds."""

    name = "hash"

    def __init__(self, dim: int = 32, version: str = "1"):
        self._dim = dim
        self.version = version
        self.seen: list[str] = []

    @property
    def id(self) -> str:
        return f"test-hash@{self.version}"

    @property
    def dim(self) -> int:
        return self._dim

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float64)
        for i, t in enumerate(texts):
            s = f"  {t.lower()} "
            for j in range(len(s) - 2):
                h = int.from_bytes(hashlib.md5(s[j : j + 3].encode()).digest()[:4], "little")
                out[i, h % self._dim] += 1.0
        return out


def record(gloss: str, status: str = "ok", glob: list[str] | None = None, syn: list[str] | None = None,
           **parts: list[str]) -> dict[str, Any]:
    return {
        "gloss": gloss,
        "status": status,
        "global": glob or [],
        "synonyms": syn or [],
        "parts": {p: parts.get(p, []) for p in PARTS},
        "provenance": {"backend": "test"},
    }


def write_store(path: Path, records: list[dict[str, Any]], header: dict[str, Any] | None = None) -> Path:
    head = header or {"format": "gspmc-descriptions", "version": 1, "parts": PARTS}
    lines = [json.dumps(head)] + [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., Path]:
    def _make(records: list[dict[str, Any]], name: str = "store.jsonl", header: dict[str, Any] | None = None) -> Path:
        return write_store(tmp_path / name, records, header)

    return _make


@pytest.fixture
def hash_encoder(monkeypatch: pytest.MonkeyPatch) -> HashEncoder:
    """A HashEncoder, also reachable as get_text_encoder("test-hash") during the test."""
    encoder = HashEncoder()
    monkeypatch.setitem(enc_mod._REGISTRY, "test-hash", lambda arg, device: encoder)
    return encoder


@pytest.fixture
def rec() -> Callable[..., dict[str, Any]]:
    """The store-record builder: rec(gloss, status="ok", glob=[...], syn=[...], left_hand=[...], ...)."""
    return record
