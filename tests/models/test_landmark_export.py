"""The landmark backbone through the inference layer: a checkpoint in the training format loads as a
Recognizer and its ONNX export agrees with torch (logits within 1e-4) on real traduttore clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.shared_data

CLASSES = [f"c{i}" for i in range(33)]


def _landmark_checkpoint(path: Path) -> Path:
    """A seeded, untrained landmark-small recogniser with the traduttore inputs (sam-slr-27, T 20, hand frame)."""
    from gspmc.inference.checkpoint import checkpoint_meta
    from gspmc.models import build_model, get_profile
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import InputConfig
    from gspmc.train.config import Config, ModelSection, config_to_dict

    cfg = Config(name="landmark-export", input=InputConfig(layout="sam-slr-27", window=20, hand_frame=True),
                 model=ModelSection(profile="landmark-small", overrides={"in_channels": 5}))
    model_cfg = get_profile("landmark-small", in_channels=5)
    torch.manual_seed(0)
    model = build_model(model_cfg, len(CLASSES), get_layout("sam-slr-27")).eval()
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "gspmc": checkpoint_meta(config_to_dict(cfg), CLASSES, model_cfg, epoch=0),
                "epoch": 0}, path)
    return path


def test_landmark_onnx_matches_torch_on_real_traduttore_clips(shared_data: Path, tmp_path: Path) -> None:
    from gspmc.apps.export import export_checkpoint
    from gspmc.inference.checkpoint import load_recognizer
    from gspmc.inference.runners import OnnxRecognizer
    from gspmc.pose.layouts import split_mp_data_vectors
    from gspmc.pose.transforms import make_input

    ckpt = _landmark_checkpoint(tmp_path / "landmark.ckpt")
    rec = load_recognizer(ckpt)
    assert rec.input_cfg.hand_frame and rec.input_cfg.channels == 5
    with np.load(shared_data / "traduttore_asl33.npz") as z:
        clips = z["keypoints"][::400][:8].astype(np.float32)  # (8, 20, 258): spread over the recorders
    xs = []
    for clip in clips:
        coords, mask, _ = split_mp_data_vectors(clip)
        xs.append(make_input(coords, mask, "mp-data-258", rec.input_cfg))
    x = np.stack(xs)  # (8, 5, 20, 27)
    x[1, :, 14:] = 0.0  # a clip with trailing padding: masking, not padding, sets its length
    onnx_path = export_checkpoint(ckpt, "onnx", tmp_path / "landmark.onnx")
    exported = OnnxRecognizer(onnx_path)
    assert exported.classes == CLASSES
    ref = rec.logits(x)  # (8, K)
    got = exported.logits(x)
    diff = float(np.abs(got - ref).max())
    print(f"landmark-small ONNX vs torch on 8 real traduttore clips: max abs logit diff {diff:.2e}")
    assert ref.std() > 1e-3
    assert diff < 1e-4
    np.testing.assert_allclose(exported.logits(x[2:3]), ref[2:3], atol=1e-4)  # dynamic batch axis
