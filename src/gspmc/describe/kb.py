"""Knowledge-base ingestion: files and folders -> :class:`KBEntry` lists.

Supported sources (a folder is searched recursively, files in sorted order):

- **ASL-LEX 2.0** sign-data CSV (recognised by its columns; the key file next to it labels the
  fields, see :mod:`gspmc.describe.asllex`); the key file itself is not an entry source.
- **CSV** with a headword column (``gloss``/``word``/``sign``/``headword``/``entry``/``title``)
  and a text column (``text``/``description``/``definition``/``articulation``); without a text
  column the other columns are joined as ``column: value``. One entry per row.
- **JSONL**: one object per line with ``gloss`` and ``text`` (optional ``id``, ``aliases``,
  ``terms``, ``parts``, ``description``, ``paraphrase``; see :class:`KBEntry`). A line holding
  only ``{"_meta": {...}}`` documents the file and is skipped.
- **Markdown**: each heading starts a section whose heading text is the headword; long
  sections are chunked at paragraph boundaries.
- **Plain text**: paragraphs chunked to ``max_chars``; no headwords (retrieval only).

``builtin:asl-alphabet`` names the manual-alphabet file shipped with gspmc
(``knowledge/asl_manual_alphabet.jsonl``, written by us; sources in its ``_meta`` line).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

from gspmc.describe.asllex import KEY_FILE_NAME, is_asllex_csv, read_asllex
from gspmc.describe.entry import PARTS, KBEntry, normalize_gloss
from gspmc.errors import DataError

SUFFIXES = (".csv", ".jsonl", ".md", ".markdown", ".txt")
BUILTIN = {"asl-alphabet": "asl_manual_alphabet.jsonl"}
MAX_CHARS = 800
_HEADWORD_COLUMNS = ("gloss", "word", "sign", "headword", "entry", "title", "label")
_TEXT_COLUMNS = ("text", "description", "definition", "articulation")


def builtin_path(name: str) -> Path:
    """Path of a knowledge file shipped with gspmc (``builtin:<name>``)."""
    if name not in BUILTIN:
        raise DataError(None, f"unknown builtin knowledge source {name!r}; known: {sorted(BUILTIN)}")
    return Path(__file__).with_name("knowledge") / BUILTIN[name]


def resolve_sources(specs: list[str]) -> list[Path]:
    """Expand ``--kb`` arguments (files, folders, ``builtin:NAME``) into a sorted list of files."""
    files: list[Path] = []
    for spec in specs:
        path = builtin_path(spec.split(":", 1)[1]) if spec.startswith("builtin:") else Path(spec).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise DataError(path, f"no knowledge files ({', '.join(SUFFIXES)}) in this folder")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise DataError(path, f"unsupported knowledge file type; use one of {', '.join(SUFFIXES)}")
            files.append(path)
        else:
            raise DataError(path, "knowledge source not found")
    return list(dict.fromkeys(p.resolve() for p in files))


def sources_digest(files: list[Path]) -> str:
    """sha256 over the names and bytes of the source files (part of the index cache key)."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def chunk_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Split at blank lines, then sentences, so that each chunk has at most ``max_chars``
    characters (a single longer sentence is cut hard)."""
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    pieces: list[str] = []
    for para in filter(None, paragraphs):
        if len(para) <= max_chars:
            pieces.append(para)
            continue
        for sent in re.split(r"(?<=[.!?;])\s+", para):
            while len(sent) > max_chars:
                pieces.append(sent[:max_chars])
                sent = sent[max_chars:]
            if sent:
                pieces.append(sent)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def _source_label(path: Path, taken: set[str]) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "kb"
    base, n = label, 2
    while label in taken:
        label, n = f"{base}-{n}", n + 1
    taken.add(label)
    return label


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text ({err}); save it as UTF-8") from err


def read_jsonl(path: Path, source: str) -> list[KBEntry]:
    entries = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"line {n}: not valid JSON ({err.msg})") from err
        if not isinstance(obj, dict):
            raise DataError(path, f"line {n}: expected a JSON object")
        if set(obj) == {"_meta"}:
            continue
        if not isinstance(obj.get("gloss"), str) or not isinstance(obj.get("text"), str):
            raise DataError(path, f"line {n}: needs string fields 'gloss' and 'text'")
        parts = obj.get("parts", {})
        if not isinstance(parts, dict) or set(parts) - set(PARTS):
            raise DataError(path, f"line {n}: 'parts' must map part names {list(PARTS)} to lists of texts")
        local = str(obj.get("id") or obj["gloss"])
        headwords = [normalize_gloss(obj["gloss"])] + [normalize_gloss(a) for a in obj.get("aliases", [])]
        entries.append(
            KBEntry(
                id=f"{source}:{local}",
                source=source,
                text=obj["text"],
                headwords=tuple(dict.fromkeys(h for h in headwords if h)),
                terms={k: tuple(v) for k, v in obj.get("terms", {}).items()},
                parts={k: tuple(v) for k, v in parts.items()},
                description=str(obj.get("description", "")),
                paraphrase=str(obj.get("paraphrase", "")),
            )
        )
    return entries


def read_csv_kb(path: Path, source: str) -> list[KBEntry]:
    reader = csv.DictReader(_read_text(path).splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    lower = {h.lower(): h for h in header}
    head_col = next((lower[c] for c in _HEADWORD_COLUMNS if c in lower), None)
    if head_col is None:
        raise DataError(path, f"CSV knowledge file needs a headword column, one of {list(_HEADWORD_COLUMNS)}")
    text_col = next((lower[c] for c in _TEXT_COLUMNS if c in lower), None)
    entries = []
    for n, row in enumerate(reader, start=2):
        gloss = (row.get(head_col) or "").strip()
        if not gloss:
            continue
        if text_col:
            text = (row.get(text_col) or "").strip()
        else:
            text = "; ".join(f"{k}: {v}" for k, v in row.items() if k != head_col and v and v.strip())
        if not text:
            continue
        entries.append(KBEntry(id=f"{source}:{n}", source=source, text=f"{gloss}: {text}",
                               headwords=(normalize_gloss(gloss),)))
    return entries


def read_markdown(path: Path, source: str, max_chars: int = MAX_CHARS) -> list[KBEntry]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in _read_text(path).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            sections.append((m.group(1), []))
        else:
            sections[-1][1].append(line)
    entries = []
    for s_no, (heading, lines) in enumerate(sections):
        body = "\n".join(lines).strip()
        if not body:
            continue
        headword = normalize_gloss(re.split(r"[(:\[]", heading)[0]) if heading else ""
        for c_no, chunk in enumerate(chunk_text(body, max_chars)):
            text = f"{heading}: {chunk}" if heading else chunk
            entries.append(KBEntry(id=f"{source}:s{s_no}c{c_no}", source=source, text=text,
                                   headwords=(headword,) if headword else ()))
    return entries


def read_plain(path: Path, source: str, max_chars: int = MAX_CHARS) -> list[KBEntry]:
    return [KBEntry(id=f"{source}:c{i}", source=source, text=chunk)
            for i, chunk in enumerate(chunk_text(_read_text(path), max_chars))]


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        return next(csv.reader(f), [])


def load_entries(files: list[Path], max_chars: int = MAX_CHARS) -> list[KBEntry]:
    """Read every source file into entries (ids unique across files)."""
    taken: set[str] = set()
    entries: list[KBEntry] = []
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            header = _csv_header(path)
            if path.name == KEY_FILE_NAME or "VariableName(CSV&OSF)" in header:
                continue  # the ASL-LEX column key: read by read_asllex, not an entry source
            if is_asllex_csv(header):
                new = read_asllex(path, _source_label(Path("asl-lex"), taken))
            else:
                new = read_csv_kb(path, _source_label(path, taken))
        elif suffix == ".jsonl":
            new = read_jsonl(path, _source_label(path, taken))
        elif suffix in (".md", ".markdown"):
            new = read_markdown(path, _source_label(path, taken), max_chars)
        else:
            new = read_plain(path, _source_label(path, taken), max_chars)
        entries.extend(new)
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise DataError(files[0] if files else None, f"duplicate knowledge-base entry ids: {dup}")
    if not entries:
        raise DataError(files[0] if files else None, "the knowledge sources hold no entries")
    return entries
