"""The texts of a description store, grouped by gloss and kind, as the text side needs them.

The store is read by ``gspmc.describe.store.load_store`` (format: docs/architecture.md): a JSONL file,
line 1 a header ``{"format": "gspmc-descriptions", "version": 1, "parts": [...]}``, then one
record per gloss with ``global``, ``synonyms`` and ``parts`` {part: [texts]}.

Kinds used here: ``global``, ``synonym`` and one kind per description part (``left_hand``,
``right_hand``, ``body``, ``face``, ``mouth``). Records whose ``status`` is not ``"ok"`` are kept
out (listed in :attr:`StoreTexts.failed`): a failed generation must not become a training target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

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
    """Read a description store into :class:`StoreTexts`; bad input raises DataError.

    Parsing is :func:`gspmc.describe.store.load_store` (one reader of the format); this adds the
    checks the text side needs (part names, texts of parts the header does not declare).
    """
    from gspmc.describe.store import load_store

    store = load_store(path)
    path = Path(path)
    parts = store.parts
    if not all(isinstance(p, str) and p for p in parts) or len(set(parts)) != len(parts):
        raise DataError(path, f"line 1: 'parts' must be a list of distinct names, got {parts!r}")
    bad = set(parts) & set(GLOBAL_KINDS)
    if bad:
        raise DataError(path, f"line 1: part names {sorted(bad)} clash with the kinds 'global'/'synonym'")

    texts: dict[str, dict[str, list[str]]] = {}
    failed: list[str] = []
    for gloss in store.glosses:
        desc = store.get(gloss)
        assert desc is not None
        if not gloss:
            raise DataError(path, "a record has an empty 'gloss' name")
        if desc.status != "ok":
            failed.append(gloss)
            continue
        unknown = sorted(p for p, v in desc.parts.items() if v and p not in parts)
        if unknown:
            raise DataError(path, f"gloss {gloss!r}: texts for parts {unknown} that are not in the header's parts {parts}")
        per_kind = {"global": _clean(desc.global_), "synonym": _clean(desc.synonyms)}
        for part in parts:
            per_kind[part] = _clean(desc.parts.get(part, []))
        texts[gloss] = per_kind
    return StoreTexts(path=path, parts=tuple(parts), texts=texts, failed=tuple(failed))


def _clean(texts: list[str]) -> list[str]:
    """Stripped, non-empty, first occurrence of each text."""
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))
