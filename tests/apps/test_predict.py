"""End to end through the CLI: extract real clips, predict with a checkpoint, fuse two
checkpoints, export to ONNX and predict again with the same top-1; bad inputs are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gspmc.cli import main

CLIPS = ("autsl_signer0_sample1000_color.mp4", "wlasl_00339.mp4")  # the two shortest clips


def _predict_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert main(["predict", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def extracted(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("extracted")
    argv = ["extract", *[str(shared_data / "videos" / c) for c in CLIPS], "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return out


@pytest.mark.shared_data
def test_extract_predict_export_predict(extracted: Path, tiny_checkpoint: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], classes: list[str]) -> None:
    assert sorted(p.name for p in extracted.glob("*.pose")) == sorted(Path(c).stem + ".pose" for c in CLIPS)
    torch_out = _predict_json(capsys, str(extracted), "--checkpoint", str(tiny_checkpoint), "--top-k", "3")
    preds = torch_out["predictions"]
    assert len(preds) == 2 and not torch_out["errors"]
    for p in preds:
        assert len(p["top"]) == 3 and all(t["gloss"] in classes for t in p["top"])
        probs = [t["prob"] for t in p["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert {p["frames"] for p in preds} >= {43}

    onnx_path = tmp_path / "model.onnx"
    assert main(["export", str(tiny_checkpoint), "--format", "onnx", "--out", str(onnx_path)]) == 0
    onnx_out = _predict_json(capsys, str(extracted), "--checkpoint", str(onnx_path), "--top-k", "3")
    for a, b in zip(preds, onnx_out["predictions"], strict=True):
        assert a["input"] == b["input"]
        assert a["top"][0]["gloss"] == b["top"][0]["gloss"]  # same top-1
        np.testing.assert_allclose([t["prob"] for t in a["top"]], [t["prob"] for t in b["top"]], atol=1e-5)


@pytest.mark.shared_data
def test_predict_on_video_extracts_on_the_fly(shared_data: Path, extracted: Path, tiny_checkpoint: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    video = shared_data / "videos" / CLIPS[1]
    from_video = _predict_json(capsys, str(video), "-c", str(tiny_checkpoint))["predictions"][0]
    from_file = _predict_json(capsys, str(extracted / "wlasl_00339.pose"), "-c", str(tiny_checkpoint))
    assert from_video["frames"] == from_file["predictions"][0]["frames"]
    # MediaPipe is deterministic on the same frames: the same keypoints, the same probabilities
    assert [t["gloss"] for t in from_video["top"]] == [t["gloss"] for t in from_file["predictions"][0]["top"]]
    np.testing.assert_allclose([t["prob"] for t in from_video["top"]],
                               [t["prob"] for t in from_file["predictions"][0]["top"]], atol=1e-6)
    # the table form names the input and ranks 5 glosses
    capsys.readouterr()
    assert main(["predict", str(extracted / "wlasl_00339.pose"), "-c", str(tiny_checkpoint)]) == 0
    table = capsys.readouterr().out
    assert "wlasl_00339.pose" in table and " 5. " in table


@pytest.mark.shared_data
def test_fusion_of_two_streams_matches_weighted_average(extracted: Path, tiny_checkpoint: Path,
                                                        tiny_bone_checkpoint: Path,
                                                        capsys: pytest.CaptureFixture[str], classes: list[str]) -> None:
    pose = str(extracted / "wlasl_00339.pose")
    k = str(len(classes))

    def full(*ckpts: str, weights: tuple[str, ...] = ()) -> np.ndarray:
        argv = [pose, *[a for c in ckpts for a in ("-c", c)], "--top-k", k]
        if weights:
            argv += ["--weights", *weights]
        top = _predict_json(capsys, *argv)["predictions"][0]["top"]
        return np.array([next(t["prob"] for t in top if t["gloss"] == g) for g in classes])

    joint, bone = full(str(tiny_checkpoint)), full(str(tiny_bone_checkpoint))
    fused = full(str(tiny_checkpoint), str(tiny_bone_checkpoint), weights=("2", "1"))
    np.testing.assert_allclose(fused, (2 * joint + bone) / 3, atol=1e-5)
    assert np.abs(joint - bone).max() > 1e-3  # two different models, so the check has teeth


@pytest.mark.shared_data
def test_bad_inputs_are_reported(extracted: Path, tiny_checkpoint: Path, tmp_path: Path, make_ckpt,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    other = make_ckpt(tmp_path / "other.ckpt", ["coffee", "tea", "milk"])
    capsys.readouterr()
    pose = str(extracted / "wlasl_00339.pose")
    assert main(["predict", pose, "-c", str(tiny_checkpoint), "-c", str(other)]) == 2
    err = capsys.readouterr().err
    assert "other.ckpt" in err and "class lists differ" in err and "traceback" not in err.lower()
    assert main(["predict", pose, "-c", str(tiny_checkpoint), "--weights", "1", "2"]) == 2
    assert "2 fusion weights for 1" in capsys.readouterr().err
    # a broken file among good ones: reported, the others still predicted, exit code 1
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "broken.pose").write_bytes(b"\x01\x02")
    (bad / "ok.pose").write_bytes((extracted / "wlasl_00339.pose").read_bytes())
    assert main(["predict", str(bad), "-c", str(tiny_checkpoint), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [Path(p["input"]).name for p in out["predictions"]] == ["ok.pose"]
    assert "broken.pose" in out["errors"][0]["error"]


@pytest.mark.parametrize("size,same", [((400, 400), True), ((640, 360), False)])
def test_units_matter_only_through_the_aspect_ratio(size: tuple[int, int], same: bool) -> None:
    """With the "shoulders" normalisation, normalised and pixel units give the same model input
    on a square frame (a uniform scale cancels) and different inputs on a 16:9 frame."""
    from gspmc.inference.predictor import model_input, normalized_coords
    from gspmc.pose.transforms import InputConfig
    from gspmc.video.holistic import HolisticClip

    rng = np.random.default_rng(3)
    w, h = size
    coords = np.zeros((12, 543, 3), np.float32)
    coords[..., 0] = rng.uniform(0.3, 0.7, (12, 543)) * w
    coords[..., 1] = rng.uniform(0.2, 0.9, (12, 543)) * h
    clip = HolisticClip(coords, np.ones((12, 543), np.float32), 30.0, w, h)
    cfg = InputConfig(layout="gspmc-55", window=12, stream="joint", normalize="shoulders")
    x_norm = model_input(*normalized_coords(clip, "normalized"), "mediapipe-holistic-543", cfg)
    x_pix = model_input(*normalized_coords(clip, "pixels"), "mediapipe-holistic-543", cfg)
    diff = float(np.abs(x_norm - x_pix).max())  # (C, T, V) inputs, shoulder-width units
    assert (diff < 1e-4) if same else (diff > 0.05), diff
