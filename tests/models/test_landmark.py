"""Landmark Conv1D + Transformer encoder: gradients, padding invariance, part locality, frame
differences on hand-computed values, late dropout / drop-path, ONNX parity, config and profiles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gspmc.errors import ConfigError
from gspmc.models import (
    CTRGCN,
    LandmarkNet,
    ModelConfig,
    build_model,
    count_parameters,
    flops_per_clip,
    get_profile,
    list_profiles,
)
from gspmc.models.landmark import ConvBlock, DropPath, frame_differences, valid_frames

PARTS = [np.array([0, 1, 2]), np.array([3, 4, 5, 6]), np.array([7, 8])]
V = 9


def tiny(**overrides: object) -> ModelConfig:
    """The landmark structure (2 stages, fusion block, lags 1 and 2) at a width for unit tests."""
    base = {"dim": 16, "heads": 2, "depth": 2, "convs_per_stage": 2, "conv_kernel": 5}
    base.update(overrides)
    return get_profile("landmark", **base)


def clip(n: int, t: int, c: int = 3, seed: int = 0) -> torch.Tensor:
    """(N, C, T, V) random coordinates, a random 0/1 mask c with every frame observed somewhere."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, V, generator=gen)
    mask = (torch.rand(n, t, V, generator=gen) > 0.3).float()  # (N, T, V)
    mask[:, :, 0] = 1.0  # the last frame is observed: the clip's length is T
    x[:, :-1] *= mask.unsqueeze(1)  # missing joints are 0, as make_input gives them
    x[:, -1] = mask
    return x


def pad(x: torch.Tensor, frames: int, value: float = 0.0) -> torch.Tensor:
    """(N, C, T, V) -> (N, C, T + frames, V): trailing padding frames (mask channel 0)."""
    tail = torch.full((x.shape[0], x.shape[1], frames, x.shape[3]), value)  # (N, C, frames, V)
    tail[:, -1] = 0.0
    return torch.cat([x, tail], 2)


# ------------------------------------------------------------------------------------------------
# forward / backward


@pytest.mark.parametrize(
    "overrides",
    [{}, {"causal": True, "conv_kernel": 4}, {"in_channels": 5, "frame_diffs": ()},
     {"fusion_depth": 0, "convs_per_stage": 0, "late_dropout": 0.3, "dropout": 0.1}],
    ids=["default", "causal", "hand-frame-no-diffs", "minimal-dropouts"],
)
def test_forward_finite_and_every_parameter_gets_a_gradient(overrides: dict) -> None:
    torch.manual_seed(0)
    cfg = tiny(**overrides)
    model = LandmarkNet(cfg, 5, V, PARTS).train()
    x = clip(4, 12, cfg.in_channels)
    logits = model(x)
    assert logits.shape == (4, 5) and torch.isfinite(logits).all()
    feats = model.encode(x)
    assert feats.global_.shape == (4, cfg.dim) and feats.parts.shape == (4, 3, cfg.dim)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])) + feats.parts.square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


@pytest.mark.parametrize("profile", list_profiles("landmark"))
def test_profiles_build_from_a_layout_and_run(profile: str) -> None:
    torch.manual_seed(0)
    model = build_model(get_profile(profile), 7, "sam-slr-27").eval()
    assert isinstance(model, LandmarkNet)
    assert model.part_names == ("left_hand", "right_hand", "body")
    x = torch.randn(2, 3, 20, 27)
    x[:, -1] = 1.0
    with torch.no_grad():
        logits, g = model(x), model.global_features(x)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    torch.testing.assert_close(model.backbone(x).mean((2, 3)), g)  # the CTR-GCN-shaped call gives S_g
    torch.testing.assert_close(model.classify(g), logits)


def test_overfits_a_fixed_batch() -> None:
    torch.manual_seed(4)
    model = LandmarkNet(tiny(), 4, V, PARTS)
    x = clip(8, 12, seed=1)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0], losses


# ------------------------------------------------------------------------------------------------
# padding


def test_valid_frames_from_the_mask_channel_and_from_lengths() -> None:
    x = torch.zeros(3, 3, 5, 2)  # (N, C, T, V)
    x[0, -1, [0, 2], 1] = 1.0  # frames 0 and 2 seen: length 3 (frame 1 is a gap, not padding)
    x[1, -1] = 0.5  # scores: every frame seen
    # clip 2 sees nothing: length 1
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(valid_frames(x), expected)
    given = valid_frames(x, torch.tensor([2, 5, 0]))
    torch.testing.assert_close(given, torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]],
                                                   dtype=torch.float32))


@pytest.mark.parametrize("overrides", [{}, {"causal": True, "conv_kernel": 4}, {"in_channels": 5}],
                         ids=["centred", "causal", "hand-frame"])
def test_outputs_do_not_depend_on_trailing_padding(overrides: dict) -> None:
    torch.manual_seed(1)
    cfg = tiny(**overrides)
    model = LandmarkNet(cfg, 6, V, PARTS).eval()
    x = clip(3, 12, cfg.in_channels, seed=2)
    with torch.no_grad():
        ref = model.encode(x)
        ref_logits = model(x)
        for frames in (5, 17):
            xp = pad(x, frames)
            out = model.encode(xp)
            torch.testing.assert_close(out.global_, ref.global_, atol=1e-5, rtol=0)
            torch.testing.assert_close(out.parts, ref.parts, atol=1e-5, rtol=0)
            torch.testing.assert_close(model(xp), ref_logits, atol=1e-5, rtol=0)
            # with explicit lengths, whatever the padding holds is ignored
            junk = pad(x, frames, value=7.0)
            junk[:, -1, 12:] = 1.0  # even a "seen" mask there
            lengths = torch.full((3,), 12)
            torch.testing.assert_close(model(junk, lengths), ref_logits, atol=1e-5, rtol=0)


def test_padding_invariance_in_a_batch_of_different_lengths() -> None:
    torch.manual_seed(2)
    model = LandmarkNet(tiny(), 6, V, PARTS).eval()
    short, long = clip(1, 7, seed=3), clip(1, 15, seed=4)
    batch = torch.cat([pad(short, 8), long], 0)  # (2, C, 15, V)
    with torch.no_grad():
        torch.testing.assert_close(model(batch)[0], model(short)[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(model(batch)[1], model(long)[0], atol=1e-5, rtol=0)


def test_a_clip_with_nothing_observed_is_finite_and_padding_free() -> None:
    model = LandmarkNet(tiny(), 3, V, PARTS).eval()
    with torch.no_grad():
        a, b = model(torch.zeros(1, 3, 10, V)), model(torch.zeros(1, 3, 1, V))
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_causal_conv_block_does_not_read_the_future() -> None:
    torch.manual_seed(3)
    block = ConvBlock(8, 2, 4, causal=True, drop_path=0.0).eval()
    x = torch.randn(2, 10, 8)  # (B, T, D)
    m = torch.ones(2, 10, 1)
    later = x.clone()
    later[:, 6:] = torch.randn(2, 4, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(later, m)[:, :6], block(x, m)[:, :6])


# ------------------------------------------------------------------------------------------------
# part features


@pytest.mark.parametrize("layout_name", ["gspmc-55", "sam-slr-27"])
def test_a_part_feature_changes_only_with_its_own_joints(layout_name: str) -> None:
    from gspmc.pose import layouts

    layout = layouts.get_layout(layout_name)
    torch.manual_seed(5)
    model = build_model(tiny(), 4, layout).eval()
    v = layout.num_joints
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 10, v, generator=gen)
    x[:, -1] = 1.0
    with torch.no_grad():
        ref = model.encode(x)
        for p, joints in enumerate(layout.part_indices().values()):
            moved = x.clone()
            moved[:, :2, :, torch.tensor(joints)] += torch.randn(2, 2, 10, len(joints), generator=gen)
            out = model.encode(moved)
            others = [q for q in range(len(layout.parts)) if q != p]
            torch.testing.assert_close(out.parts[:, others], ref.parts[:, others], atol=1e-6, rtol=0)
            assert (out.parts[:, p] - ref.parts[:, p]).abs().max() > 1e-3
            assert (out.global_ - ref.global_).abs().max() > 1e-3


def test_parts_must_cover_every_joint() -> None:
    with pytest.raises(ConfigError, match="in no part"):
        LandmarkNet(tiny(), 3, V + 1, PARTS)
    with pytest.raises(ConfigError):
        LandmarkNet(tiny(), 3, V, PARTS, part_names=["a", "b"])


# ------------------------------------------------------------------------------------------------
# frame differences


def test_frame_differences_on_a_hand_computed_case() -> None:
    values = torch.tensor([[0.0, 1.0, 3.0, 6.0, 10.0], [0.0, 2.0, 2.0, 2.0, 5.0]])  # (C=2, T=5): x, y
    values = values.reshape(1, 2, 5, 1)  # (N, C, T, V)
    observed = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0]).reshape(1, 5, 1)  # (N, T, V): frame 2 missing
    out = frame_differences(values, observed, (1, 2))  # (1, 4, 5, 1): [d1 x, d1 y, d2 x, d2 y]
    expected = torch.tensor([
        [0.0, 1.0, 0.0, 0.0, 4.0],  # x[t] - x[t-1]; 0 at t=0 and wherever t or t-1 is missing
        [0.0, 2.0, 0.0, 0.0, 3.0],
        [0.0, 0.0, 0.0, 5.0, 0.0],  # x[t] - x[t-2]; t=3: 6 - 1; t=4: its t-2 is missing
        [0.0, 0.0, 0.0, 0.0, 0.0],  # y: t=3: 2 - 2
    ]).reshape(1, 4, 5, 1)
    torch.testing.assert_close(out, expected)
    assert frame_differences(values, observed, ()).shape == (1, 0, 5, 1)


def test_frame_inputs_are_values_differences_and_mask() -> None:
    model = LandmarkNet(tiny(), 3, V, PARTS)
    x = clip(1, 6)
    feats = model.frame_inputs(x)  # (1, F, 6, V)
    assert model.frame_features == feats.shape[1] == 2 * 3 + 1
    torch.testing.assert_close(feats[:, :2], x[:, :2])
    torch.testing.assert_close(feats[:, -1], x[:, -1])
    torch.testing.assert_close(feats[:, 2:6], frame_differences(x[:, :2], x[:, -1], (1, 2)))


# ------------------------------------------------------------------------------------------------
# regularisers


def test_late_dropout_is_on_only_from_its_epoch() -> None:
    torch.manual_seed(7)
    model = LandmarkNet(tiny(late_dropout=0.5, late_dropout_epoch=3), 5, V, PARTS).train()
    g = torch.randn(16, 16)
    assert not model.late_dropout_active
    model.set_epoch(2)
    torch.testing.assert_close(model.classify(g), model.classify(g))
    model.set_epoch(3)
    assert model.late_dropout_active
    assert not torch.allclose(model.classify(g), model.classify(g))
    model.eval()
    torch.testing.assert_close(model.classify(g), model.classify(g))
    ctr = CTRGCN(get_profile("cpu-small", channels=(8,) * 6), 3, np.stack([np.eye(V)] * 3), PARTS)
    ctr.set_epoch(5)  # the same per-epoch call works on both backbones (a no-op there)


def test_drop_path_drops_whole_samples_in_training_only() -> None:
    torch.manual_seed(8)
    dp = DropPath(0.5)
    y = torch.ones(64, 3, 4)
    out = dp.train()(y)
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample.std(1) == 0).all()  # one decision per sample
    assert 0 < (per_sample[:, 0] == 0).sum() < 64
    torch.testing.assert_close(dp.eval()(y), y)


# ------------------------------------------------------------------------------------------------
# export


def _export(model: torch.nn.Module, x: torch.Tensor, path: str, dynamic_frames: bool) -> None:
    axes = {0: "batch", 2: "frames"} if dynamic_frames else {0: "batch"}
    torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": axes, "logits": {0: "batch"}})


@pytest.mark.parametrize("dynamic_frames", [False, True], ids=["fixed-window", "dynamic-T"])
def test_onnx_export_matches_torch(tmp_path, dynamic_frames: bool) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(9)
    model = LandmarkNet(tiny(), 7, V, PARTS).eval()
    x = clip(2, 16, seed=10)
    path = str(tmp_path / "landmark.onnx")
    _export(model, x, path, dynamic_frames)
    onnx.checker.check_model(onnx.load(path))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = [clip(5, 16, seed=11), pad(clip(3, 9, seed=12), 7)]  # another batch size; a padded clip
    if dynamic_frames:
        inputs += [clip(2, 23, seed=13), clip(1, 4, seed=14), pad(clip(2, 5, seed=15), 30)]
    for xi in inputs:
        (out,) = sess.run(None, {"x": xi.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(out, model(xi).numpy(), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# config and profiles


def test_landmark_profile_size_and_the_small_profile_cost() -> None:
    model = build_model(get_profile("landmark"), 33, "gspmc-55")
    assert 1.7e6 <= count_parameters(model) <= 1.95e6  # the Kaggle 1st place had ~1.85M
    small = build_model(get_profile("landmark-small"), 33, "gspmc-55")
    ctr = build_model(get_profile("cpu-small"), 33, "gspmc-55")
    assert flops_per_clip(small, 55, 20) < 0.1 * flops_per_clip(ctr, 55, 20)


def test_config_backbone_dispatch_validation_and_old_checkpoints() -> None:
    cfg = get_profile("landmark")
    assert cfg.backbone == "landmark" and cfg.feature_dim == cfg.dim
    assert set(list_profiles("landmark")) == {"landmark", "landmark-small"}
    assert "landmark" not in list_profiles("ctrgcn")
    assert get_profile("cpu-small").feature_dim == 128
    # a checkpoint's stored fields round-trip; an old one without `backbone` is a CTR-GCN
    assert ModelConfig.from_dict(dataclasses.asdict(cfg)) == cfg
    old = dataclasses.asdict(get_profile("cpu-small"))
    for f in ("backbone", "dim", "depth", "convs_per_stage", "heads", "conv_kernel", "expand", "causal",
              "frame_diffs", "fusion_depth", "drop_path", "late_dropout", "late_dropout_epoch"):
        old.pop(f)
    old_cfg = ModelConfig.from_dict(old)
    assert old_cfg.backbone == "ctrgcn" and old_cfg == get_profile("cpu-small")
    assert isinstance(build_model(old_cfg, 3, "sam-slr-27"), CTRGCN)
    assert ModelConfig.from_dict({"backbone": "landmark", "frame_diffs": [1, 3]}).frame_diffs == (1, 3)
    bad = [{"backbone": "gcn"}, {"dim": 30, "heads": 4}, {"conv_kernel": 4}, {"frame_diffs": (1, 1)},
           {"frame_diffs": (0,)}, {"drop_path": 1.0}, {"late_dropout": -0.1}, {"late_dropout_epoch": -1},
           {"depth": 0}, {"backbone": "landmark", "in_channels": 1}]
    for fields in bad:
        with pytest.raises(ConfigError):
            ModelConfig(**fields)
    assert ModelConfig(conv_kernel=4, causal=True).conv_kernel == 4
