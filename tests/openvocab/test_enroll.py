"""``gspmc enroll``: prototypes written as computed, enrolled classes predicted for their own clips,
the recogniser's scores as documented, and every bad input a clear error that writes nothing."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gspmc.apps.predict import predict_files
from gspmc.cli import main
from gspmc.errors import ConfigError, DataError
from gspmc.inference.checkpoint import load_recognizer
from gspmc.inference.enrolled import DEFAULT_BIAS_CLIPS, DEFAULT_BIAS_TEXT
from gspmc.inference.predictor import Predictor, find_inputs
from gspmc.inference.prototypes import mean_prototype, unit
from gspmc.openvocab.enroll import clip_inputs, describe_classes, enroll, remove


def test_recognizer_embeds_with_the_global_head(gspmc_ckpt: Path, clip_files) -> None:
    rec = load_recognizer(gspmc_ckpt)
    assert rec.has_embedding and rec.classes == rec.trained_classes
    # not enrolled: the recognition model is the plain CTR-GCN (no head inside), logits unchanged
    assert not any(n.startswith(("head", "objective")) for n, _ in rec.model.named_parameters())
    x = clip_inputs(rec, clip_files[0])  # (3, 3, T, V)
    emb = rec.embed(x)
    data = torch.load(gspmc_ckpt, weights_only=True)["state_dict"]
    with torch.no_grad():
        g = rec.model.encode(torch.from_numpy(x)).global_  # (3, D)
        expect = g @ data["objective.global_head.weight"].T + data["objective.global_head.bias"]  # (3, d)
    np.testing.assert_allclose(emb, unit(expect.numpy()), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_enrolled_prototypes_and_scores_are_as_documented(gspmc_ckpt: Path, clip_files, tmp_path: Path) -> None:
    out = tmp_path / "enrolled.ckpt"
    enroll(gspmc_ckpt, out, "circle", clip_files[0], bias=2.0)
    rec0 = load_recognizer(gspmc_ckpt)
    rec = load_recognizer(out)
    assert rec.classes == rec0.classes + ["circle"]
    x = clip_inputs(rec0, clip_files[0])
    proto = mean_prototype(rec0.embed(x))  # the mean of the normalised clip embeddings
    stored = torch.load(out, weights_only=True)["state_dict"]["openvocab.clip"].numpy()
    np.testing.assert_allclose(stored[0], proto, atol=1e-6)
    # logits = [log_softmax(classifier), (cos - 1) / tau + bias], tau = 0.1 from the checkpoint
    q = clip_inputs(rec0, clip_files[1])
    base = torch.log_softmax(torch.from_numpy(rec0.logits(q)).double(), 1).numpy()
    cos = unit(rec0.embed(q)) @ unit(proto)
    expect = np.concatenate([base, ((cos - 1) / 0.1 + 2.0)[:, None]], axis=1)
    np.testing.assert_allclose(rec.logits(q), expect, atol=1e-4)
    assert math.isclose(rec.openvocab.tau, 0.1, rel_tol=1e-6) and rec.openvocab.enrolled[0].bias == 2.0


def test_an_enrolled_class_is_predicted_for_its_own_clips(gspmc_ckpt: Path, clip_files, tmp_path: Path) -> None:
    one = tmp_path / "one.ckpt"
    two = tmp_path / "two.ckpt"
    assert main(["enroll", "-c", str(gspmc_ckpt), "--gloss", "circle", "--clips", *map(str, clip_files[0]),
                 "--out", str(one)]) == 0
    assert main(["enroll", "-c", str(one), "--gloss", "updown", "--clips", *map(str, clip_files[1]),
                 "--out", str(two)]) == 0
    assert [c.bias for c in load_recognizer(two).openvocab.enrolled] == [DEFAULT_BIAS_CLIPS] * 2
    predictor = Predictor.from_files([two])
    for kind, name in ((0, "circle"), (1, "updown")):
        preds, errors = predict_files(predictor, find_inputs(map(str, clip_files[kind])), k=3)
        assert not errors
        assert [p.glosses[0] for p in preds] == [name] * 3, [(p.glosses, p.probs) for p in preds]


def test_description_enrolment_uses_the_checkpoint_encoder(gspmc_ckpt: Path, tmp_path: Path, hash_encoder,
                                                           helpers) -> None:
    out = tmp_path / "d.ckpt"
    text = "The right hand draws a circle in front of the chest."
    result = enroll(gspmc_ckpt, out, "circle", description=text)
    assert "a description" in result.message
    stored = torch.load(out, weights_only=True)
    proto = stored["state_dict"]["openvocab.text"][0].numpy()
    np.testing.assert_allclose(proto, unit(hash_encoder.encode([text])[0]), atol=1e-6)
    meta = stored["gspmc"]["openvocab"]["enrolled"][0]
    assert meta["has_text"] and not meta["has_clips"] and meta["description"] == text
    assert meta["bias"] == DEFAULT_BIAS_TEXT  # description-only classes get their own calibration
    # clips + description: w unit(text) + (1 - w) unit(clips)
    both = tmp_path / "both.ckpt"
    clips = helpers["write_clips"](tmp_path / "c", 0, 2)
    enroll(gspmc_ckpt, both, "circle", clips, text, text_weight=0.25)
    rec = load_recognizer(both)
    c = rec.openvocab.enrolled[0]
    np.testing.assert_allclose(c.prototype(), 0.25 * unit(c.text) + 0.75 * unit(c.clips), atol=1e-6)


def test_remove_and_list(gspmc_ckpt: Path, clip_files, tmp_path: Path, capsys) -> None:
    a = tmp_path / "a.ckpt"
    enroll(gspmc_ckpt, a, "circle", clip_files[0])
    b = tmp_path / "b.ckpt"
    result = remove(a, b, ["Circle", "tea"])  # names match case- and separator-insensitively
    rec = load_recognizer(b)
    assert rec.classes == ["coffee", "please", "-"] and result.classes == rec.classes
    assert rec.openvocab.hidden == ["tea"]
    assert rec.logits(clip_inputs(rec, clip_files[2])).shape == (3, 3)
    assert main(["enroll", "-c", str(a), "--list"]) == 0
    listed = capsys.readouterr().out
    assert "enrolled: circle (3 clip(s)" in listed and "4 trained, 1 enrolled" in listed
    assert "hidden (removed trained classes): tea" in describe_classes(b)
    with pytest.raises(ConfigError, match="more than once"):
        remove(a, tmp_path / "x.ckpt", ["tea", "Tea"])
    with pytest.raises(ConfigError, match="no class 'nope'"):
        remove(a, tmp_path / "x.ckpt", ["nope"])
    with pytest.raises(ConfigError, match="leave no class"):
        remove(a, tmp_path / "x.ckpt", ["coffee", "tea", "please", "-", "circle"])
    assert not (tmp_path / "x.ckpt").exists()


def test_existing_and_duplicate_names(gspmc_ckpt: Path, clip_files, tmp_path: Path) -> None:
    out = tmp_path / "o.ckpt"
    with pytest.raises(ConfigError, match="'coffee' is already a trained class.*--replace"):
        enroll(gspmc_ckpt, out, "Coffee", description="a new coffee sign")
    assert not out.exists()
    enroll(gspmc_ckpt, out, "Coffee", description="a new coffee sign", replace=True)
    rec = load_recognizer(out)
    assert rec.classes == ["tea", "please", "-", "Coffee"] and rec.openvocab.hidden == ["coffee"]
    with pytest.raises(ConfigError, match="already an enrolled class"):
        enroll(out, tmp_path / "p.ckpt", "coffee", clip_files[0])
    enroll(out, out, "coffee", clip_files[0], replace=True)  # an enrolled checkpoint may be updated in place
    again = load_recognizer(out)
    assert again.classes == ["tea", "please", "-", "coffee"] and again.openvocab.enrolled[0].text is None
    with pytest.raises(ConfigError, match="given twice"):
        enroll(gspmc_ckpt, tmp_path / "q.ckpt", "x", [clip_files[0][0], clip_files[0][0]])
    with pytest.raises(ConfigError, match="refusing to overwrite the training checkpoint"):
        enroll(gspmc_ckpt, gspmc_ckpt, "x", clip_files[0])
    with pytest.raises(ConfigError, match="--gloss"):
        enroll(gspmc_ckpt, tmp_path / "q.ckpt", "  ", clip_files[0])
    with pytest.raises(ConfigError, match="--clips and/or --description"):
        enroll(gspmc_ckpt, tmp_path / "q.ckpt", "x")
    assert not (tmp_path / "q.ckpt").exists()


def test_checkpoint_without_gspmc_says_how_to_get_one(ce_ckpt: Path, clip_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.ckpt"
    with pytest.raises(DataError, match=r"trained without GSP-MC.*gspmc fit --config traduttore --set mc.enabled=true"):
        enroll(ce_ckpt, out, "circle", clip_files[0])
    assert main(["enroll", "-c", str(ce_ckpt), "--gloss", "circle", "--clips", str(clip_files[0][0]),
                 "--out", str(out)]) == 2
    assert "mc.enabled=true" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(DataError, match="without GSP-MC"):
        load_recognizer(ce_ckpt).embed(np.zeros((1, 3, 20, 27), np.float32))


def test_bad_clips_are_named_and_nothing_is_written(gspmc_ckpt: Path, clip_files, tmp_path: Path, helpers) -> None:
    from gspmc.video.holistic import HolisticClip
    from gspmc.video.posefile import write_npz

    good = clip_files[0]
    clip = helpers["holistic_clip"](0, 0)
    empty = write_npz(tmp_path / "empty.npz", HolisticClip(clip.coords[:0], clip.confidence[:0], 30.0, 640, 480))
    missing = write_npz(tmp_path / "missing.npz", HolisticClip(clip.coords * 0, clip.confidence * 0, 30.0, 640, 480))
    face_only = clip.confidence.copy() * 0
    face_only[:, 33:501] = 1.0  # only the face: none of sam-slr-27's joints
    faces = write_npz(tmp_path / "faces.npz", HolisticClip(clip.coords, face_only, 30.0, 640, 480))
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, coords=np.zeros((5, 75, 3), np.float32), confidence=np.ones((5, 75), np.float32),
             fps=30.0, width=640, height=480, layout="mediapipe-75")
    junk = tmp_path / "junk.pose"
    junk.write_bytes(b"not a pose file")
    out = tmp_path / "out.ckpt"
    out.write_bytes(b"previous")  # an existing output stays as it was
    for bad, problem in ((empty, "no frames"), (missing, "no keypoint was observed"),
                         (faces, "none of the model's 27 joints"), (wrong, "layout 'mediapipe-75'"),
                         (junk, "corrupt or truncated|not a readable"), (tmp_path / "absent.npz", "no such clip file")):
        with pytest.raises(DataError) as err:
            enroll(gspmc_ckpt, out, "circle", [*good, bad])
        assert str(bad) in str(err.value) and re.search(problem, str(err.value)), str(err.value)
        assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.glob(".out.ckpt*")) == []  # no temporary left behind
