"""The texts of a description store, grouped by gloss and kind, as the text side needs them.

The store format is the contract in docs/architecture.md (``gspmc.describe.store``): a JSONL file,
line 1 a header ``{"format": "gspmc-descriptions", "version": 1, "parts": [...]}``, then one
record per gloss with ``global``, ``synonyms`` and ``parts`` {part: [texts]}.

Kinds used here: ``global``, ``synonym`` and one kind per description part (``left_hand``,
``right_hand``, ``body``, ``face``, ``mouth``). Records whose ``status`` is not ``"ok"`` are kept
out (listed in :attr:`StoreTexts.failed`): a failed generation must not become a training target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from gspmc.errors import DataError

STORE_FORMAT = "gspmc-descriptions"
DESCRIPTION_PARTS: tuple[str, ...] = ("left_hand", "right_hand", "body", "face", "mouth")
GLOBAL_KINDS: tuple[str, ...] = ("global", "synonym")


@dataclass(frozen=True)
class StoreTexts:
    """The usable texts of one store.

    Attributes:
        path: the store file.
        parts: the description part names (the header's ``parts``).
        texts: gloss -> kind -> texts (kinds: ``global``, ``synonym``, each part); empty texts
            and exact duplicates within one (gloss, kind) are dropped.
        failed: glosses whose record has a status other than ``ok`` (not in ``texts``).
    """

    path: Path
    parts: tuple[str, ...]
    texts: dict[str, dict[str, list[str]]]
    failed: tuple[str, ...] = field(default=())

    @property
    def kinds(self) -> tuple[str, ...]:
        return GLOBAL_KINDS + self.parts

    def all_texts(self) -> list[str]:
        """Every distinct text of the store, in first-seen order."""
        seen: dict[str, None] = {}
        for per_kind in self.texts.values():
            for texts in per_kind.values():
                seen.update(dict.fromkeys(texts))
        return list(seen)


def read_store_texts(path: str | PathLike[str]) -> StoreTexts:
    """Read a description store (JSONL) into :class:`StoreTexts`; bad input raises DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "description store not found")
    with open(path, encoding="utf-8") as f:
        lines = [(n, line) for n, line in enumerate(f, start=1) if line.strip()]
    if not lines:
        raise DataError(path, "empty file: expected a gspmc-descriptions header line")
    header = _json_line(path, *lines[0])
    if header.get("format") != STORE_FORMAT:
        raise DataError(path, f"line 1: not a description store (format {header.get('format')!r}, expected {STORE_FORMAT!r})")
    if header.get("version") != 1:
        raise DataError(path, f"line 1: unsupported store version {header.get('version')!r} (this gspmc reads 1)")
    parts = header.get("parts", list(DESCRIPTION_PARTS))
    if not isinstance(parts, list) or not all(isinstance(p, str) and p for p in parts) or len(set(parts)) != len(parts):
        raise DataError(path, f"line 1: 'parts' must be a list of distinct names, got {parts!r}")
    bad = set(parts) & set(GLOBAL_KINDS)
    if bad:
        raise DataError(path, f"line 1: part names {sorted(bad)} clash with the kinds 'global'/'synonym'")

    texts: dict[str, dict[str, list[str]]] = {}
    failed: list[str] = []
    seen: set[str] = set()
    for n, line in lines[1:]:
        rec = _json_line(path, n, line)
        gloss = rec.get("gloss")
        if not isinstance(gloss, str) or not gloss:
            raise DataError(path, f"line {n}: record without a 'gloss' name")
        if gloss in seen:
            raise DataError(path, f"line {n}: gloss {gloss!r} appears twice")
        seen.add(gloss)
        if rec.get("status", "ok") != "ok":
            failed.append(gloss)
            continue
        per_kind = {
            "global": _text_list(path, n, rec.get("global", []), "global"),
            "synonym": _text_list(path, n, rec.get("synonyms", []), "synonyms"),
        }
        rec_parts = rec.get("parts", {})
        if not isinstance(rec_parts, dict):
            raise DataError(path, f"line {n}: 'parts' must be a mapping part -> list of texts")
        unknown = set(rec_parts) - set(parts)
        if unknown:
            raise DataError(path, f"line {n}: parts {sorted(unknown)} are not in the header's parts {parts}")
        for part in parts:
            per_kind[part] = _text_list(path, n, rec_parts.get(part, []), f"parts.{part}")
        texts[gloss] = per_kind
    return StoreTexts(path=path, parts=tuple(parts), texts=texts, failed=tuple(failed))


def _json_line(path: Path, n: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(path, f"line {n}: invalid JSON ({err.msg})") from err
    if not isinstance(obj, dict):
        raise DataError(path, f"line {n}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _text_list(path: Path, n: int, value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(path, f"line {n}: {key!r} must be a list of strings")
    return list(dict.fromkeys(t.strip() for t in value if t.strip()))
