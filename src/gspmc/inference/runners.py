"""Run an exported recogniser (ONNX or TorchScript) or a training checkpoint: the Scorer family.

A *Scorer* is what prediction needs from a model: its ``classes``, its ``input_cfg``
(:class:`gspmc.pose.transforms.InputConfig`) and ``logits(x (N, C, T, V)) -> (N, K)``. Three kinds:

- a training (or enrolled) checkpoint: :func:`gspmc.inference.checkpoint.load_recognizer`;
- an exported ``.onnx`` file run with onnxruntime: :class:`OnnxRecognizer`;
- an exported TorchScript ``.pt``: :class:`TorchScriptRecognizer`.

Exported files carry their metadata (written by :mod:`gspmc.apps.export`):

- ONNX: ``metadata_props`` key ``gspmc`` holds a JSON object;
- TorchScript: the same JSON as the extra file ``gspmc.json``.

The JSON: ``{"format": "gspmc-export", "version": 1, "classes": [...], "input": {InputConfig
fields}, "layout": "...", "epoch": ..., "source": "<checkpoint file name>", "opset": 17}`` (plus
``"embedding": d`` when the file has the embedding output, and ``enrolled`` / ``hidden`` for an
enrolled checkpoint).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gspmc.errors import DataError
from gspmc.inference.checkpoint import load_recognizer

EXPORT_FORMAT = "gspmc-export"
EXPORT_VERSION = 1
METADATA_KEY = "gspmc"
TORCHSCRIPT_EXTRA = "gspmc.json"


class Scorer(Protocol):
    """What prediction needs from a model: its classes, its input config, its logits."""

    classes: list[str]
    input_cfg: Any  # gspmc.pose.transforms.InputConfig

    def logits(self, x: np.ndarray) -> np.ndarray:  # (N, C, T, V) -> (N, K)
        ...


def _parse_metadata(path: Path, text: str | None) -> dict[str, Any]:
    if text is None:
        raise DataError(path, f"no '{METADATA_KEY}' metadata: not exported by `gspmc export`")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, f"'{METADATA_KEY}' metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise DataError(path, f"'{METADATA_KEY}' metadata is not a {EXPORT_FORMAT} record")
    if meta.get("version") != EXPORT_VERSION:
        raise DataError(path, f"export version {meta.get('version')!r} not supported (expected {EXPORT_VERSION})")
    if not isinstance(meta.get("classes"), list) or not meta["classes"]:
        raise DataError(path, "metadata has no class list")
    return meta


def _input_config(path: Path, fields: dict[str, Any]) -> Any:
    from gspmc.pose.transforms import InputConfig

    try:
        return InputConfig.from_dict(fields)
    except (TypeError, ValueError) as err:
        raise DataError(path, f"input config in metadata does not match this gspmc version ({err})") from None


class OnnxRecognizer:
    """An exported ``.onnx`` recogniser run with onnxruntime (CPU). A :class:`Scorer`."""

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise DataError(self.path, f"onnxruntime cannot load this model ({type(err).__name__}: {err})") from None
        meta = _parse_metadata(self.path, self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY))
        self.meta = meta
        self.classes = [str(c) for c in meta["classes"]]
        self.input_cfg = _input_config(self.path, meta["input"])
        self.layout_name = str(meta["layout"])
        self.has_embedding = "embedding" in {o.name for o in self.session.get_outputs()}

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T, V) -> (N, K) float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run(["logits"], {"x": x})[0]

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T, V) -> unit embeddings (N, d); DataError for a file exported without ``--embedding``."""
        if not self.has_embedding:
            raise DataError(self.path, "exported without the embedding output (re-export with --embedding)")
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run(["embedding"], {"x": x})[0]


class TorchScriptRecognizer:
    """An exported TorchScript recogniser. A :class:`Scorer`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import torch

        self.path = Path(path)
        extra = {TORCHSCRIPT_EXTRA: ""}
        try:
            self.module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
        except Exception as err:
            raise DataError(self.path, f"not a TorchScript file ({type(err).__name__}: {err})") from None
        self.module.eval()
        raw = extra[TORCHSCRIPT_EXTRA]
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        meta = _parse_metadata(self.path, raw or None)
        self.meta = meta
        self.classes = [str(c) for c in meta["classes"]]
        self.input_cfg = _input_config(self.path, meta["input"])
        self.layout_name = str(meta["layout"])
        self.has_embedding = "embedding" in meta

    def _run(self, x: np.ndarray) -> Any:
        import torch

        with torch.no_grad():
            return self.module(torch.as_tensor(np.asarray(x, np.float32)))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T, V) -> (N, K) float32."""
        out = self._run(x)
        return (out[0] if self.has_embedding else out).numpy()

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T, V) -> unit embeddings (N, d); DataError for a file exported without ``--embedding``."""
        if not self.has_embedding:
            raise DataError(self.path, "exported without the embedding output (re-export with --embedding)")
        return self._run(x)[1].numpy()


def load_scorer(path: str | os.PathLike[str]) -> Scorer:
    """Load a model by file type: ``.onnx`` (exported), ``.pt``/``.ts`` TorchScript (exported) or a
    training checkpoint (``.ckpt`` or anything else torch can load)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "model file not found")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxRecognizer(path)
    if suffix in (".pt", ".ts", ".torchscript"):
        # a .pt may also be a plain torch.save checkpoint: TorchScript archives hold our extra file
        try:
            with zipfile.ZipFile(path) as zf:
                scripted = any(n.endswith(f"extra/{TORCHSCRIPT_EXTRA}") for n in zf.namelist())
        except zipfile.BadZipFile:
            scripted = False
        if scripted:
            return TorchScriptRecognizer(path)
    return load_recognizer(path)
