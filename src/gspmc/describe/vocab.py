"""Vocabulary readers: a class list -> ``[VocabEntry(gloss, query, hint)]``.

``gloss`` is the key of the description store (the dataset's own label); ``query`` is the text
used to look the sign up and to name it in prompts (an English word where the file has one);
``hint`` is extra context for the prompt. Formats (detected from suffix and header):

| file | gloss | query |
|---|---|---|
| ``*.npz`` with a ``classes`` array (traduttore) | class name | class name; single letters -> "letter X" |
| AUTSL ``ClassId,TR,EN`` CSV | Turkish | English |
| SLR500 ``actual_gloss,normalized_gloss`` CSV | Chinese word (unique) | English concept (not unique) |
| CSV with a ``gloss`` column (optional ``query``/``english``) | gloss | query or gloss |
| ``.tsv`` ``id<TAB>gloss`` (WLASL) | gloss | gloss |
| ``.md`` ``id|name|R or B|`` (LSA64) | name | name; R/B -> one/two-handed hint |
| ``.txt`` one gloss per line (SLR500 Chinese, plain lists) | line | line |
| ``.json`` ``{"sign": index, ...}`` (GISLR ``sign_to_prediction_index_map.json``) | sign, in index order | sign; GISLR's run-together compounds spelled out (``thankyou`` -> "thank you", ``hesheit`` -> "he she it") |
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from gspmc.errors import DataError


@dataclass(frozen=True)
class VocabEntry:
    gloss: str
    query: str
    hint: str = ""


def _letter_query(gloss: str) -> str:
    if len(gloss) == 1 and gloss.isalpha():
        return f"letter {gloss.upper()}"
    return gloss.replace("-", " ").strip() or gloss


def _dedupe(path: Path, entries: list[VocabEntry]) -> list[VocabEntry]:
    seen: dict[str, int] = {}
    for n, e in enumerate(entries):
        if e.gloss in seen:
            raise DataError(path, f"gloss {e.gloss!r} appears twice (entries {seen[e.gloss] + 1} and {n + 1})")
        seen[e.gloss] = n
    if not entries:
        raise DataError(path, "the vocabulary is empty")
    return entries


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read vocabulary: {err}") from err


def read_npz_classes(path: Path) -> list[VocabEntry]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            if "classes" not in data.files:
                raise DataError(path, f"no 'classes' array (found {data.files})")
            classes = [str(c) for c in data["classes"].tolist()]
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read npz: {err}") from err
    return [VocabEntry(c, _letter_query(c)) for c in classes]


def read_csv_vocab(path: Path) -> list[VocabEntry]:
    rows = list(csv.reader(_read(path).splitlines()))
    if not rows:
        raise DataError(path, "empty CSV")
    header = [h.strip() for h in rows[0]]
    low = [h.lower() for h in header]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if low[:3] == ["classid", "tr", "en"]:  # AUTSL
        return [VocabEntry(r[1].strip(), r[2].strip().replace("_", " "), f"Turkish Sign Language class {r[1].strip()}")
                for r in body]
    if low[:2] == ["actual_gloss", "normalized_gloss"]:  # SLR500 Chinese -> English concept
        return [VocabEntry(r[0].strip(), r[1].strip().lower(), f"Chinese: {r[0].strip()}") for r in body]
    if "gloss" in low:
        g = low.index("gloss")
        q = next((low.index(c) for c in ("query", "english", "en") if c in low), g)
        return [VocabEntry(r[g].strip(), r[q].strip() or r[g].strip()) for r in body]
    raise DataError(path, f"unknown vocabulary CSV header {header}: expected ClassId,TR,EN (AUTSL), "
                    "actual_gloss,normalized_gloss (SLR500) or a 'gloss' column")


def read_tsv_vocab(path: Path) -> list[VocabEntry]:
    out = []
    for n, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataError(path, f"line {n}: expected 'id<TAB>gloss'")
        out.append(VocabEntry(cols[1].strip(), cols[1].strip()))
    return out


def read_md_vocab(path: Path) -> list[VocabEntry]:
    out = []
    for n, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) < 2 or not re.fullmatch(r"\d+", cols[0]):
            raise DataError(path, f"line {n}: expected 'id|name|R or B|'")
        hands = {"R": " It is a one-handed sign.", "B": " It is a two-handed sign."}.get(cols[2] if len(cols) > 2 else "", "")
        out.append(VocabEntry(cols[1], cols[1].lower(), hands.strip()))
    return out


def read_txt_vocab(path: Path) -> list[VocabEntry]:
    return [VocabEntry(s, _letter_query(s)) for s in (line.strip() for line in _read(path).splitlines()) if s]


# GISLR (Kaggle asl-signs) writes multi-word signs run together; the query (prompt name and retrieval
# text) spells them out. The gloss (store key) stays the map's own label.
GISLR_QUERIES = {"callonphone": "call on phone", "frenchfries": "french fries", "glasswindow": "glass window",
                 "haveto": "have to", "hesheit": "he she it", "icecream": "ice cream", "minemy": "mine my",
                 "thankyou": "thank you", "weus": "we us"}


def read_json_index_map(path: Path) -> list[VocabEntry]:
    """A ``{"sign": class_index}`` map (GISLR's ``sign_to_prediction_index_map.json``): the class order is
    the index order, which must be 0..n-1 without gaps or repeats."""
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON: {err.msg} (line {err.lineno})") from err
    if not isinstance(data, dict) or not data:
        raise DataError(path, "expected a non-empty JSON object {\"sign\": class index, ...}")
    bad = [k for k, v in data.items() if isinstance(v, bool) or not isinstance(v, int)]
    if bad:
        raise DataError(path, f"class indices must be integers; not for {bad[:5]}")
    if sorted(data.values()) != list(range(len(data))):
        seen: dict[int, str] = {}
        for sign, idx in data.items():
            if idx in seen:
                raise DataError(path, f"class index {idx} is given to both {seen[idx]!r} and {sign!r}")
            seen[idx] = sign
        missing = sorted(set(range(len(data))) - set(data.values()))
        raise DataError(path, f"class indices must be 0..{len(data) - 1}; missing {missing[:5]}")
    signs = sorted(data, key=lambda k: data[k])
    return [VocabEntry(s.strip(), GISLR_QUERIES.get(s.strip(), _letter_query(s.strip()))) for s in signs]


def read_vocab(path: str | Path) -> list[VocabEntry]:
    """Read any supported vocabulary file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "vocabulary file not found")
    readers = {".npz": read_npz_classes, ".csv": read_csv_vocab, ".tsv": read_tsv_vocab, ".md": read_md_vocab,
               ".txt": read_txt_vocab, ".json": read_json_index_map}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(path, f"unknown vocabulary format {path.suffix!r}; use one of {sorted(readers)}")
    return _dedupe(path, reader(path))
