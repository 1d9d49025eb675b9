"""The knowledge-base entry: one retrievable unit of dictionary text.

Every source (ASL-LEX, the manual-alphabet file, a user's Markdown/CSV/JSONL/text dictionary)
is turned into :class:`KBEntry` records. Besides the text that retrieval indexes and prompts
show, an entry may carry

- ``headwords``: the glosses it describes (normalised with :func:`normalize_gloss`); a gloss
  "has a knowledge-base hit" when a retrieved entry lists it as a headword;
- ``terms``: key-term groups (e.g. ``{"handshape": [...], "location": [...], "movement": [...]}``)
  that a generated text must keep to pass validation (see :mod:`gspmc.describe.validate`);
- ``description``, ``parts`` and ``paraphrase``: deterministic texts used when generated ones fail validation
  (the ``kb-fallback`` path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PARTS: tuple[str, ...] = ("left_hand", "right_hand", "body", "face", "mouth")


def normalize_gloss(text: str) -> str:
    """Lower-case, ``-``/``_`` to spaces, collapse whitespace: ``"Thank-You"`` -> ``"thank you"``."""
    text = re.sub(r"[-_\s]+", " ", text.strip().lower())
    return text.strip()


@dataclass(frozen=True)
class KBEntry:
    """One knowledge-base entry (a dictionary sign, or one chunk of a free-text document)."""

    id: str  # "<source>:<local id>", unique within an index
    source: str  # source label (file name), shown in provenance
    text: str  # readable text: what is indexed, shown to the LLM, and the global fallback
    headwords: tuple[str, ...] = ()  # normalised glosses this entry describes
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # validation key-term groups
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # part fallback texts
    description: str = ""  # the entry as one explicit description (global fallback; else ``text``)
    paraphrase: str = ""  # an alternative wording (synonym fallback)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "text": self.text,
            "headwords": list(self.headwords),
            "terms": {k: list(v) for k, v in self.terms.items()},
            "parts": {k: list(v) for k, v in self.parts.items()},
            "description": self.description,
            "paraphrase": self.paraphrase,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> KBEntry:
        return cls(
            id=str(obj["id"]),
            source=str(obj["source"]),
            text=str(obj["text"]),
            headwords=tuple(obj.get("headwords", ())),
            terms={k: tuple(v) for k, v in obj.get("terms", {}).items()},
            parts={k: tuple(v) for k, v in obj.get("parts", {}).items()},
            description=str(obj.get("description", "")),
            paraphrase=str(obj.get("paraphrase", "")),
        )
