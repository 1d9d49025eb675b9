"""The description store: one JSONL file per vocabulary (format in docs/architecture.md).

Line 1 is a header ``{"format": "gspmc-descriptions", "version": 1, "parts": [...], ...}``;
each further line is one gloss (:class:`Description`). "Dominant hand" in dictionaries maps to
``right_hand`` unless the header says ``"dominant_hand": "left"``.

:class:`StoreWriter` rewrites the whole file atomically (temp file + fsync + ``os.replace``)
after every gloss, so a crash or Ctrl-C loses at most the gloss in progress and the file on
disk is always complete. A store that cannot be parsed is never overwritten: opening it for
writing raises :class:`DataError`, unless ``force`` is given, in which case it is first moved to
``<name>.corrupt-<time>.bak``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gspmc.describe.entry import PARTS
from gspmc.errors import DataError
from gspmc.io import remove_stale_temps, write_text

FORMAT = "gspmc-descriptions"
VERSION = 1
STATUSES = ("ok", "failed")


@dataclass
class Description:
    """Texts for one gloss plus where they came from."""

    gloss: str
    status: str  # "ok" | "failed"
    global_: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    parts: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PARTS})
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"gloss": self.gloss, "status": self.status, "global": self.global_, "synonyms": self.synonyms,
                "parts": {p: list(self.parts.get(p, [])) for p in PARTS}, "provenance": self.provenance}

    @classmethod
    def from_json(cls, obj: Any, where: str = "") -> Description:
        """Parse one record; raises ``ValueError`` naming the problem."""
        if not isinstance(obj, dict):
            raise ValueError(f"{where}expected a JSON object")
        if not isinstance(obj.get("gloss"), str):
            raise ValueError(f"{where}missing string field 'gloss'")
        if obj.get("status") not in STATUSES:
            raise ValueError(f"{where}'status' must be one of {STATUSES}")
        for key in ("global", "synonyms"):
            if not isinstance(obj.get(key, []), list) or not all(isinstance(t, str) for t in obj.get(key, [])):
                raise ValueError(f"{where}'{key}' must be a list of strings")
        parts = obj.get("parts", {})
        if not isinstance(parts, dict) or not all(
            isinstance(v, list) and all(isinstance(t, str) for t in v) for v in parts.values()
        ):
            raise ValueError(f"{where}'parts' must map part names to lists of strings")
        if not isinstance(obj.get("provenance", {}), dict):
            raise ValueError(f"{where}'provenance' must be an object")
        return cls(obj["gloss"], obj["status"], list(obj.get("global", [])), list(obj.get("synonyms", [])),
                   {p: list(parts.get(p, [])) for p in PARTS} | {k: list(v) for k, v in parts.items()},
                   dict(obj.get("provenance", {})))


@dataclass
class DescriptionStore:
    """A loaded store: header + records in file order."""

    path: Path | None
    header: dict[str, Any]
    records: dict[str, Description]

    @property
    def glosses(self) -> list[str]:
        return list(self.records)

    def get(self, gloss: str) -> Description | None:
        return self.records.get(gloss)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def parts(self) -> list[str]:
        return list(self.header.get("parts", PARTS))


def new_header(**extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "parts": list(PARTS), "dominant_hand": "right", **extra}


def load_store(path: str | os.PathLike[str]) -> DescriptionStore:
    """Read a store; any malformed line raises :class:`DataError` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DataError(path, "description store not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read description store: {err}") from err
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataError(path, "empty file: not a gspmc description store")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as err:
        raise DataError(path, f"line 1 (header) is not valid JSON: {err.msg}") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DataError(path, f"line 1 is not a '{FORMAT}' header")
    if header.get("version") != VERSION:
        raise DataError(path, f"store version {header.get('version')!r} is not supported (expected {VERSION})")
    if not isinstance(header.get("parts"), list):
        raise DataError(path, "header has no 'parts' list")
    records: dict[str, Description] = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            desc = Description.from_json(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(path, f"line {n} is not valid JSON ({err.msg}); the store may be truncated or edited") from err
        except ValueError as err:
            raise DataError(path, f"line {n}: {err}") from err
        if desc.gloss in records:
            raise DataError(path, f"line {n}: gloss {desc.gloss!r} appears twice")
        records[desc.gloss] = desc
    return DescriptionStore(path, header, records)


class StoreWriter:
    """Incremental, atomic writer. Opening an existing store keeps its records (resume)."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any], force: bool = False) -> None:
        self.path = Path(path)
        remove_stale_temps(self.path.parent)  # the half-written temporary of a killed run, if any
        self.backup: Path | None = None
        self.records: dict[str, Description] = {}
        self.header = dict(header)
        if self.path.exists():
            try:
                old = load_store(self.path)
            except DataError as err:
                if not force:
                    raise DataError(self.path, f"{err.problem}. The file was left untouched; fix it, move it away, "
                                    "or rerun with --force (which keeps it as a .bak copy)") from err
                self.backup = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.bak")
                os.replace(self.path, self.backup)
            else:
                if old.parts != list(header.get("parts", PARTS)):
                    raise DataError(self.path, f"store has parts {old.parts}, this run writes {header.get('parts')}")
                if old.header.get("dominant_hand", "right") != header.get("dominant_hand", "right"):
                    raise DataError(self.path, "store was written with another dominant-hand convention")
                self.records = old.records
                self.header = {**old.header, **header}
                if old.header.get("created"):  # a resumed store keeps its creation time
                    self.header["created"] = old.header["created"]

    def done(self, gloss: str, template_hash: str, backend: str, model: str) -> bool:
        """True when ``gloss`` has an ok record made with this template hash, backend and model."""
        rec = self.records.get(gloss)
        if rec is None or rec.status != "ok":
            return False
        prov = rec.provenance
        return (prov.get("template_hash"), prov.get("backend"), prov.get("model")) == (template_hash, backend, model)

    def put(self, desc: Description) -> None:
        """Add or replace one record and rewrite the file atomically."""
        self.records[desc.gloss] = desc
        self.flush()

    def flush(self) -> None:
        hits = sorted(g for g, d in self.records.items() if d.provenance.get("kb_hit"))
        self.header["kb_hit_glosses"] = hits
        self.header["kb_miss_glosses"] = sorted(g for g, d in self.records.items()
                                                if not d.provenance.get("kb_hit") and not d.provenance.get("idle"))
        self.header["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        lines = [json.dumps(self.header, ensure_ascii=False)]
        lines += [json.dumps(d.to_json(), ensure_ascii=False) for d in self.records.values()]
        write_text(self.path, "\n".join(lines) + "\n")
