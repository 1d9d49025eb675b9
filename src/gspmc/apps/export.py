"""``gspmc export``: a training checkpoint -> a self-contained ONNX or TorchScript recogniser.

Only the recognition path is exported: the CTR-GCN backbone and its classifier
(``CTRGCN.forward``), input ``x`` (N, C, T, V) float32 -> ``logits`` (N, K). The batch axis N is
dynamic; T and V are fixed to the checkpoint's window and layout. Training-only parts
(contrastive projection heads, text features) are not in the file.

Open vocabulary (docs/open-vocabulary.md): an enrolled checkpoint (``gspmc enroll``) exports its
whole scoring, the enrolled prototypes included (:class:`gspmc.inference.heads.OpenVocabNet`), so
the exported file predicts the enrolled classes. ``embedding=True`` (``gspmc export --embedding``)
adds a second output ``embedding`` (N, d): the clip's unit embedding in the text space (the GSP-MC
global projection head, which is then in the file); the metadata says so (``"embedding": d``).

What predict needs besides the weights travels inside the file (:func:`export_metadata`; the format
and the runners that read it back: :mod:`gspmc.inference.runners`), so nothing can fall out of sync.

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

from gspmc.errors import DataError, GspmcError
from gspmc.inference.checkpoint import load_recognizer
from gspmc.inference.heads import NO_TEXT_SPACE_HINT, OpenVocabNet, WithEmbedding
from gspmc.inference.runners import EXPORT_FORMAT, EXPORT_VERSION, METADATA_KEY, TORCHSCRIPT_EXTRA
from gspmc.io import atomic_write

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
    if fmt not in FORMATS:
        raise GspmcError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    recognizer = load_recognizer(checkpoint)
    target = Path(out) if out is not None else Path(checkpoint).with_suffix(SUFFIX[fmt])
    if target.resolve() == Path(checkpoint).resolve():
        raise GspmcError(f"{target}: refusing to overwrite the checkpoint; pass --out")
    if fmt == "onnx":
        return export_onnx(recognizer, target, embedding=embedding)
    return export_torchscript(recognizer, target, embedding=embedding)
