"""Embedding cache: every description text embedded ONCE by a frozen encoder, reused by training.

File format (one ``.npz``, written atomically: temp file in the same folder + ``os.replace``):

- ``embeddings``: (n, d) float32, unit-norm rows;
- ``hashes``: (n,) unicode, ``sha256(text.encode("utf-8")).hexdigest()`` of the text of each row;
- ``meta``: a JSON string ``{"format": "gspmc-embeddings", "version": 1, "encoder": <encoder id>,
  "dim": d, "count": n, "source": <store file name>, "created": <UTC time>}``.

Rows are keyed by the text hash (identical texts share one row) and the whole file by the
encoder id. Default location: next to the store, ``<store stem>.<encoder name>.emb.npz`` (under the cache folder
for a store shipped inside an installed gspmc).

Staleness rules (:func:`update_cache`): rows whose text is still in the store are reused, new or
changed texts are embedded, rows whose text left the store are dropped. A cache written by a
different encoder id (another model, another package version) is never mixed with new rows:
``update_cache`` raises :class:`~gspmc.errors.DataError` unless ``rebuild=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import DataError
from gspmc.io import write_bytes
from gspmc.paths import cache_dir, is_installed_package_file
from gspmc.text.encoders import TextEncoder

CACHE_FORMAT = "gspmc-embeddings"
CACHE_VERSION = 1


def text_hash(text: str) -> str:
    """The cache key of one text: sha256 of its UTF-8 bytes (hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_path(store_path: str | PathLike[str], encoder: TextEncoder) -> Path:
    """``<store folder>/<store stem>.<encoder name>.emb.npz``; for a store shipped inside an installed
    gspmc (site-packages, not to be written), the same name under ``cache_dir()/embeddings``."""
    store_path = Path(store_path)
    name = f"{store_path.stem}.{encoder.name}.emb.npz"
    if is_installed_package_file(store_path):
        return cache_dir() / "embeddings" / name
    return store_path.with_name(name)


@dataclass(frozen=True)
class EmbeddingCache:
    """Embeddings of distinct texts by one encoder.

    Attributes:
        encoder_id: :attr:`TextEncoder.id` of the encoder that wrote every row.
        hashes: (n,) text hashes, one per row, distinct.
        embeddings: (n, d) float32.
        meta: the JSON metadata (see module docstring).
        path: the file it was read from / written to, if any.
    """

    encoder_id: str
    hashes: np.ndarray
    embeddings: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rows", {h: i for i, h in enumerate(self.hashes.tolist())})

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The texts (distinct, in order) that have no row here."""
        rows: dict[str, int] = self._rows  # type: ignore[attr-defined]
        return [t for t in dict.fromkeys(texts) if text_hash(t) not in rows]

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        """Rows for ``texts`` -> (len(texts), d); a text without a row raises DataError."""
        rows: dict[str, int] = self._rows  # type: ignore[attr-defined]
        idx = []
        for t in texts:
            row = rows.get(text_hash(t))
            if row is None:
                raise DataError(self.path, f"no cached embedding for text {t[:60]!r}: the cache is stale; run `gspmc embed`")
            idx.append(row)
        return self.embeddings[np.asarray(idx, dtype=np.int64)].reshape(len(idx), self.dim)  # (m, d)


def load_cache(path: str | PathLike[str]) -> EmbeddingCache:
    """Read and check a cache file; a missing, unreadable or inconsistent file raises DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "embedding cache not found (build it with `gspmc embed`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            embeddings = np.asarray(z["embeddings"])
            hashes = np.asarray(z["hashes"])
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise DataError(path, f"unreadable embedding cache ({err}); delete it or rebuild with `gspmc embed --rebuild`") from err
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise DataError(path, f"not a gspmc embedding cache (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
    if meta.get("version") != CACHE_VERSION:
        raise DataError(path, f"unsupported embedding cache version {meta.get('version')!r}")
    n = hashes.shape[0] if hashes.ndim == 1 else -1
    if embeddings.ndim != 2 or embeddings.shape[0] != n or meta.get("count") != n or meta.get("dim") != embeddings.shape[1]:
        raise DataError(path, f"inconsistent cache: embeddings {embeddings.shape}, hashes {hashes.shape}, meta count/dim "
                        f"{meta.get('count')}/{meta.get('dim')}; rebuild with `gspmc embed --rebuild`")
    if len(set(hashes.tolist())) != n:
        raise DataError(path, "inconsistent cache: repeated text hashes; rebuild with `gspmc embed --rebuild`")
    if not np.isfinite(embeddings).all():
        raise DataError(path, "cache holds non-finite embeddings; rebuild with `gspmc embed --rebuild`")
    return EmbeddingCache(str(meta.get("encoder")), hashes.astype(str), embeddings.astype(np.float32), meta, path)


def save_cache(path: str | PathLike[str], cache: EmbeddingCache) -> Path:
    """Write ``cache`` to ``path`` atomically (a reader sees the old file or the new one, never half).

    A failed write (read-only folder, full disk) raises DataError and leaves the old file as it was.
    """
    path = Path(path)
    meta = dict(cache.meta)
    meta.update(format=CACHE_FORMAT, version=CACHE_VERSION, encoder=cache.encoder_id, dim=cache.dim, count=len(cache))
    buf = io.BytesIO()
    np.savez(
        buf,
        embeddings=cache.embeddings.astype(np.float32),
        hashes=np.asarray(cache.hashes, dtype="<U64"),
        meta=np.asarray(json.dumps(meta, sort_keys=True)),
    )
    try:
        write_bytes(path, buf.getvalue())
    except OSError as err:
        raise DataError(path, f"cannot write the embedding cache ({err}); the previous file, if any, is "
                        "unchanged; choose another file with --out (mc.cache)") from err
    return path


@dataclass(frozen=True)
class UpdateReport:
    """What :func:`update_cache` did."""

    path: Path
    total: int  # distinct texts now in the cache
    reused: int  # rows kept from the previous file
    embedded: int  # texts embedded now
    dropped: int  # rows removed because their text left the store
    rebuilt: bool  # the previous file was ignored (rebuild=True)
    written: bool  # the file changed

    def summary(self) -> str:
        what = "rebuilt" if self.rebuilt else "updated" if self.written else "up to date"
        return (f"{self.path}: {what}; {self.total} texts ({self.reused} reused, {self.embedded} embedded, "
                f"{self.dropped} dropped)")


def update_cache(
    texts: Sequence[str],
    encoder: TextEncoder,
    path: str | PathLike[str],
    *,
    rebuild: bool = False,
    source: str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[EmbeddingCache, UpdateReport]:
    """Make the cache at ``path`` hold exactly the distinct ``texts``, embedding only what is new.

    Raises DataError when an existing cache was written by another encoder (or is unreadable)
    and ``rebuild`` is False; the existing file is then left untouched.
    """
    path = Path(path)
    wanted = list(dict.fromkeys(texts))
    wanted_hashes = [text_hash(t) for t in wanted]
    existed = path.exists()
    old: EmbeddingCache | None = None
    if existed and not rebuild:
        old = load_cache(path)
        if old.encoder_id != encoder.id:
            raise DataError(path, f"embedding cache was built with encoder {old.encoder_id!r}, not {encoder.id!r}; "
                            "rebuild it (`gspmc embed --rebuild`) or write to another file (`--out`)")
    old_rows: dict[str, int] = {} if old is None else {h: i for i, h in enumerate(old.hashes.tolist())}
    todo = [t for t, h in zip(wanted, wanted_hashes, strict=True) if h not in old_rows]
    if todo or old is None:  # the encoder is loaded only when something must be embedded
        new_emb = encoder.encode(todo, batch_size=batch_size, progress=progress)  # (len(todo), d)
    else:
        new_emb = np.zeros((0, old.dim), dtype=np.float32)
    if old is not None and todo and new_emb.shape[1] != old.dim:
        raise DataError(path, f"cache dim {old.dim} differs from encoder output dim {new_emb.shape[1]}")
    dim = new_emb.shape[1]
    new_rows = {text_hash(t): i for i, t in enumerate(todo)}
    emb = np.zeros((len(wanted), dim), dtype=np.float32)  # (n, d)
    for j, h in enumerate(wanted_hashes):
        emb[j] = new_emb[new_rows[h]] if h in new_rows else old.embeddings[old_rows[h]]  # type: ignore[union-attr]
    reused = len(wanted) - len(todo)
    dropped = 0 if old is None else len(old) - reused
    unchanged = old is not None and old.hashes.tolist() == wanted_hashes
    if unchanged:
        cache = old
    else:
        meta = {"source": source or "", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        cache = EmbeddingCache(encoder.id, np.asarray(wanted_hashes, dtype="<U64"), emb, meta, path)
        save_cache(path, cache)
    report = UpdateReport(path, len(wanted), reused, len(todo), dropped, rebuild and existed, not unchanged)
    return cache, report  # type: ignore[return-value]
