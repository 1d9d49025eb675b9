"""Export: ONNX / TorchScript hold only the recognition path, carry classes + input config, and
agree with the torch model on real keypoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gspmc.apps.export import export_checkpoint
from gspmc.errors import DataError
from gspmc.inference.predictor import model_input, normalized_coords
from gspmc.inference.runners import OnnxRecognizer, TorchScriptRecognizer
from gspmc.video.posefile import read_pose

CLASSES = ["coffee", "tea", "muffin", "please", "thank-you", "-"]  # as in conftest.CLASSES


def _real_batch(shared_data: Path, input_cfg: object) -> np.ndarray:
    """(8, 3, T, V) model inputs from the AUTSL keypoints shipped with the data: 8 temporal crops."""
    clip = read_pose(shared_data / "videos/autsl_signer0_sample1000_holistic.pose")
    coords, mask = normalized_coords(clip)
    xs = [model_input(coords[s : s + 24], mask[s : s + 24], "mediapipe-holistic-543", input_cfg) for s in range(0, 40, 5)]
    return np.stack(xs)  # (8, 3, T, V)


@pytest.mark.shared_data
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_agrees_with_torch_on_real_inputs(shared_data: Path, tiny_checkpoint: Path, tmp_path: Path,
                                                 fmt: str) -> None:
    from gspmc.inference.checkpoint import load_recognizer

    rec = load_recognizer(tiny_checkpoint)
    out = export_checkpoint(tiny_checkpoint, fmt, tmp_path / f"model.{fmt}")
    exported = OnnxRecognizer(out) if fmt == "onnx" else TorchScriptRecognizer(out)
    assert exported.classes == CLASSES
    assert exported.input_cfg == rec.input_cfg
    x = _real_batch(shared_data, rec.input_cfg)
    ref = rec.logits(x)  # (8, K)
    got = exported.logits(x)
    assert got.shape == ref.shape == (8, len(CLASSES))
    diff = float(np.abs(got - ref).max())
    print(f"{fmt}: max abs logit diff vs torch eager on 8 real clips = {diff:.2e}")
    assert diff < 1e-4
    assert ref.std() > 1e-3  # the logits are not constant, so agreement means something
    np.testing.assert_array_equal(got.argmax(1), ref.argmax(1))
    # dynamic batch axis: a single clip gives the same row
    np.testing.assert_allclose(exported.logits(x[3:4]), ref[3:4], atol=1e-4)


def test_onnx_holds_only_the_recognition_path(tmp_path: Path, make_ckpt) -> None:
    import onnx

    ckpt = make_ckpt(tmp_path / "m.ckpt", CLASSES)
    # add a training-only head, as a contrastive run's checkpoint has
    data = torch.load(ckpt, weights_only=True)
    data["state_dict"]["objective.proj.weight"] = torch.randn(512, 32)
    torch.save(data, ckpt)
    out = export_checkpoint(ckpt, "onnx")  # default output: next to the checkpoint
    assert out == tmp_path / "m.onnx"
    proto = onnx.load(str(out))
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 20, 55]
    assert proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value == len(CLASSES)
    # the 512x32 projection is not in the file: every initializer is smaller
    assert all(np.prod(init.dims) < 512 * 32 for init in proto.graph.initializer)
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["gspmc"])
    assert meta["classes"] == CLASSES and meta["layout"] == "gspmc-55" and meta["input"]["window"] == 20


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.ckpt"):
        export_checkpoint(junk, "onnx", tmp_path / "x.onnx")
    # a valid ONNX model without our metadata
    node = helper.make_node("Identity", ["x"], ["logits"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(plain))
    with pytest.raises(DataError, match="plain.onnx.*metadata"):
        OnnxRecognizer(plain)


def test_load_scorer_tells_torchscript_from_a_checkpoint_named_pt(tmp_path: Path, make_ckpt) -> None:
    from gspmc.inference.checkpoint import Recognizer
    from gspmc.inference.runners import load_scorer

    ckpt = make_ckpt(tmp_path / "weights.pt", CLASSES)  # a training checkpoint with a .pt name
    assert isinstance(load_scorer(ckpt), Recognizer)
    scripted = export_checkpoint(ckpt, "torchscript", tmp_path / "scripted.pt")
    assert isinstance(load_scorer(scripted), TorchScriptRecognizer)
    with pytest.raises(DataError, match="missing.onnx"):
        load_scorer(tmp_path / "missing.onnx")
