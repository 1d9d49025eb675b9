"""``gspmc export``: a training checkpoint -> a self-contained ONNX or TorchScript recogniser.

Only the recognition path is exported: the CTR-GCN backbone and its classifier
(``CTRGCN.forward``), input ``x`` (N, 3, T, V) float32 -> ``logits`` (N, K). The batch axis N is
dynamic; T and V are fixed to the checkpoint's window and layout. Training-only parts
(contrastive projection heads, text features) are not in the file.

Open vocabulary (docs/open-vocabulary.md): an enrolled checkpoint (``gspmc enroll``) exports its
whole scoring, the enrolled prototypes included (:class:`gspmc.openvocab.model.OpenVocabNet`), so
the exported file predicts the enrolled classes. ``embedding=True`` (``gspmc export --embedding``)
adds a second output ``embedding`` (N, d): the clip's unit embedding in the text space (the GSP-MC
global projection head, which is then in the file); the metadata says so (``"embedding": d``).

What predict needs besides the weights travels inside the file, so nothing can fall out of sync:

- ONNX: ``metadata_props`` key ``gspmc`` holds a JSON object (:func:`export_metadata`).
- TorchScript: the same JSON as the extra file ``gspmc.json`` (``torch.jit.save(_extra_files=...)``).

The JSON: ``{"format": "gspmc-export", "version": 1, "classes": [...], "input": {InputConfig
fields}, "layout": "...", "epoch": ..., "source": "<checkpoint file name>", "opset": 17}``.

ONNX export uses the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``), the
combination known to work with onnx==1.17 / protobuf 4.25 (see the offline-stack notes).
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import DataError, GspmcError
from gspmc.video.posefile import atomic_write

EXPORT_FORMAT = "gspmc-export"
EXPORT_VERSION = 1
METADATA_KEY = "gspmc"
TORCHSCRIPT_EXTRA = "gspmc.json"
OPSET = 17
FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


def export_metadata(recognizer: Any, opset: int | None = None, embedding: bool = False) -> dict[str, Any]:
    """The JSON-safe metadata stored in an exported file."""
    cfg = recognizer.input_cfg
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "classes": list(recognizer.classes),
        "input": dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg),
        "layout": recognizer.layout.name if hasattr(recognizer.layout, "name") else str(recognizer.layout),
        "epoch": getattr(recognizer, "epoch", None),
        "source": Path(getattr(recognizer, "path", "")).name,
    }
    if opset is not None:
        meta["opset"] = opset
    state = getattr(recognizer, "openvocab", None)
    if state is not None and state.active:
        meta["enrolled"] = [c.gloss for c in state.enrolled]
        meta["hidden"] = list(state.hidden)
    if embedding:
        meta["embedding"] = int(recognizer.net.head.out_features)
    return meta


def _export_module(recognizer: Any, embedding: bool) -> tuple[Any, list[str]]:
    """The module to trace and its output names: the recogniser, or it + the embedding output."""
    if not embedding:
        return recognizer.model.eval(), ["logits"]
    from gspmc.openvocab.model import NO_TEXT_SPACE_HINT, OpenVocabNet, WithEmbedding

    if getattr(recognizer, "net", None) is None:
        raise DataError(getattr(recognizer, "path", None), "--embedding: the checkpoint was trained without GSP-MC, "
                        f"so it has no text-embedding space; {NO_TEXT_SPACE_HINT}")
    net = recognizer.model if isinstance(recognizer.model, OpenVocabNet) else recognizer.net
    return WithEmbedding(net).eval(), ["logits", "embedding"]


def _example_input(recognizer: Any, batch: int = 1) -> Any:
    import torch

    t = int(recognizer.input_cfg.window)
    v = int(recognizer.layout.num_joints)
    c = int(recognizer.input_cfg.channels)
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, c, t, v, generator=g)  # (N, C, T, V)


def export_onnx(recognizer: Any, out: str | os.PathLike[str], opset: int = OPSET, embedding: bool = False) -> Path:
    """Write the recognition path of ``recognizer`` as ONNX (dynamic batch) with metadata (atomic);
    ``embedding``: also output the text-space embedding (module docstring)."""
    import io

    import onnx
    import torch

    model, outputs = _export_module(recognizer, embedding)
    example = _example_input(recognizer, batch=2)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the model's input-shape check is a Python branch: fine, T and V are fixed by the export
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            (example,),
            buf,
            input_names=["x"],
            output_names=outputs,
            dynamic_axes={"x": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(export_metadata(recognizer, opset, embedding))
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    return atomic_write(out, lambda f: f.write(data))


def export_torchscript(recognizer: Any, out: str | os.PathLike[str], embedding: bool = False) -> Path:
    """Write the recognition path as a traced TorchScript module with metadata (atomic); with
    ``embedding`` the module returns ``(logits, embedding)``."""
    import io

    import torch

    model, _ = _export_module(recognizer, embedding)
    example = _example_input(recognizer, batch=2)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, (example,), check_trace=False)
    buf = io.BytesIO()
    extra = {TORCHSCRIPT_EXTRA: json.dumps(export_metadata(recognizer, embedding=embedding))}
    torch.jit.save(traced, buf, _extra_files=extra)
    data = buf.getvalue()
    return atomic_write(out, lambda f: f.write(data))


def export_checkpoint(checkpoint: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str] | None = None,
                      embedding: bool = False) -> Path:
    """Load a training (or enrolled) checkpoint and export it; default output: the checkpoint path with
    .onnx / .pt. ``embedding``: add the ``embedding`` output (GSP-MC checkpoints only)."""
    from gspmc.train.checkpoint import load_recognizer

    if fmt not in FORMATS:
        raise GspmcError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    recognizer = load_recognizer(checkpoint)
    target = Path(out) if out is not None else Path(checkpoint).with_suffix(SUFFIX[fmt])
    if target.resolve() == Path(checkpoint).resolve():
        raise GspmcError(f"{target}: refusing to overwrite the checkpoint; pass --out")
    if fmt == "onnx":
        return export_onnx(recognizer, target, embedding=embedding)
    return export_torchscript(recognizer, target, embedding=embedding)


# --- loading exported files ---------------------------------------------------------------------
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
        return InputConfig(**fields)
    except TypeError as err:
        raise DataError(path, f"input config in metadata does not match this gspmc version ({err})") from None


class OnnxRecognizer:
    """An exported ``.onnx`` recogniser run with onnxruntime (CPU). Satisfies predict's Scorer."""

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
        """(N, 3, T, V) -> (N, K) float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run(["logits"], {"x": x})[0]

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, T, V) -> unit embeddings (N, d); DataError for a file exported without ``--embedding``."""
        if not self.has_embedding:
            raise DataError(self.path, "exported without the embedding output (re-export with --embedding)")
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run(["embedding"], {"x": x})[0]


class TorchScriptRecognizer:
    """An exported TorchScript recogniser. Satisfies predict's Scorer."""

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
        """(N, 3, T, V) -> (N, K) float32."""
        out = self._run(x)
        return (out[0] if self.has_embedding else out).numpy()

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, T, V) -> unit embeddings (N, d); DataError for a file exported without ``--embedding``."""
        if not self.has_embedding:
            raise DataError(self.path, "exported without the embedding output (re-export with --embedding)")
        return self._run(x)[1].numpy()
