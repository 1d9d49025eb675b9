"""Export keeps the open vocabulary: an enrolled ONNX / TorchScript model predicts the enrolled classes,
agrees with torch, and can output the text-space embedding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gspmc.apps.export import export_checkpoint
from gspmc.apps.predict import predict_files
from gspmc.cli import main
from gspmc.errors import DataError
from gspmc.inference.checkpoint import load_recognizer
from gspmc.inference.predictor import Predictor, find_inputs
from gspmc.inference.runners import OnnxRecognizer, TorchScriptRecognizer
from gspmc.openvocab.enroll import clip_inputs, enroll


@pytest.fixture
def enrolled(gspmc_ckpt: Path, clip_files, tmp_path: Path) -> Path:
    one = enroll(gspmc_ckpt, tmp_path / "one.ckpt", "circle", clip_files[0]).out
    two = enroll(one, tmp_path / "two.ckpt", "updown", clip_files[1], "The right hand moves up and down.",
                 text_weight=0.1).out  # the test encoder is unrelated to the untrained skeleton space
    return enroll(two, tmp_path / "three.ckpt", "Tea", clip_files[2], replace=True).out  # hides trained 'tea'


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_enrolled_export_agrees_with_torch_and_predicts_the_new_classes(enrolled: Path, clip_files, tmp_path: Path,
                                                                       fmt: str) -> None:
    rec = load_recognizer(enrolled)
    out = export_checkpoint(enrolled, fmt, tmp_path / f"m.{fmt}", embedding=True)
    exported = OnnxRecognizer(out) if fmt == "onnx" else TorchScriptRecognizer(out)
    assert exported.classes == rec.classes == ["coffee", "please", "-", "circle", "updown", "Tea"]
    assert exported.meta["enrolled"] == ["circle", "updown", "Tea"] and exported.meta["hidden"] == ["tea"]
    assert exported.meta["embedding"] == 32 and exported.has_embedding
    x = np.concatenate([clip_inputs(rec, clip_files[k]) for k in range(3)])  # (9, 3, T, V)
    ref, ref_emb = rec.logits(x), rec.embed(x)
    got, got_emb = exported.logits(x), exported.embed(x)
    diff, emb_diff = float(np.abs(got - ref).max()), float(np.abs(got_emb - ref_emb).max())
    print(f"{fmt}: max abs logit diff {diff:.2e}, embedding diff {emb_diff:.2e} (9 clips, enrolled model)")
    assert diff < 1e-3 and emb_diff < 1e-5  # enrolled scores are cosines x 1/tau = 10
    np.testing.assert_array_equal(got.argmax(1), ref.argmax(1))
    np.testing.assert_allclose(exported.logits(x[4:5]), ref[4:5], atol=1e-3)  # dynamic batch axis
    # the exported file predicts the enrolled class for its clips, through the predict pipeline
    predictor = Predictor.from_files([out])
    for kind, name in ((0, "circle"), (1, "updown"), (2, "Tea")):
        preds, errors = predict_files(predictor, find_inputs(map(str, clip_files[kind])), k=2)
        assert not errors and [p.glosses[0] for p in preds] == [name] * 3


def test_default_export_holds_only_the_logits(gspmc_ckpt: Path, enrolled: Path, tmp_path: Path, clip_files) -> None:
    import onnx

    plain = export_checkpoint(gspmc_ckpt, "onnx", tmp_path / "plain.onnx")
    proto = onnx.load(str(plain))
    assert [o.name for o in proto.graph.output] == ["logits"]
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["gspmc"])
    assert "embedding" not in meta and "enrolled" not in meta
    with pytest.raises(DataError, match="without the embedding output"):
        OnnxRecognizer(plain).embed(np.zeros((1, 3, 20, 27), np.float32))
    # --embedding on a model without enrolment: logits are the classifier's, unchanged
    assert main(["export", str(gspmc_ckpt), "--format", "onnx", "--embedding", "--out", str(tmp_path / "e.onnx")]) == 0
    e = OnnxRecognizer(tmp_path / "e.onnx")
    assert [o.name for o in e.session.get_outputs()] == ["logits", "embedding"]
    rec = load_recognizer(gspmc_ckpt)
    x = clip_inputs(rec, clip_files[0])
    np.testing.assert_allclose(e.logits(x), rec.logits(x), atol=1e-4)
    np.testing.assert_allclose(e.embed(x), rec.embed(x), atol=1e-5)
    np.testing.assert_allclose(OnnxRecognizer(plain).logits(x), rec.logits(x), atol=1e-4)


def test_embedding_export_needs_gspmc(ce_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="trained without GSP-MC.*mc.enabled=true"):
        export_checkpoint(ce_ckpt, "onnx", tmp_path / "x.onnx", embedding=True)
    assert not (tmp_path / "x.onnx").exists()
