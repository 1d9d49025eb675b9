"""CTR-GCN encoder: every profile runs forward/backward cleanly; pooling, equivalence, export, training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gspmc.errors import ConfigError
from gspmc.models import (
    CTRGCN,
    ModelConfig,
    build_model,
    count_parameters,
    flops_per_clip,
    get_profile,
    list_profiles,
    part_pooling_matrix,
)


def chain_adjacency(v: int) -> np.ndarray:
    """(3, V, V): identity, inward (i <- i-1), outward (i-1 <- i) of a chain, rows normalised."""
    a = np.zeros((3, v, v), dtype=np.float32)
    a[0] = np.eye(v)
    for i in range(1, v):
        a[1, i, i - 1] = 1.0
        a[2, i - 1, i] = 1.0
    return a


def tiny(profile: str) -> ModelConfig:
    """The profile's structure (depth, strides, kernels) at a width small enough for unit tests."""
    cfg = get_profile(profile)
    return dataclasses.replace(cfg, channels=tuple(max(8, c // 8) for c in cfg.channels))


PARTS = [np.array([0, 1, 2]), np.array([3, 4, 5, 6]), np.array([7, 8])]
V = 9


@pytest.mark.parametrize("profile", list_profiles("ctrgcn"))
def test_profile_forward_backward_every_parameter_gets_a_gradient(profile: str) -> None:
    torch.manual_seed(0)
    model = CTRGCN(tiny(profile), 5, chain_adjacency(V), PARTS)
    for m in model.modules():  # alpha starts at 0, which zeroes the correlation branches' gradients
        if hasattr(m, "alpha"):
            torch.nn.init.constant_(m.alpha, 0.5)
    x = torch.randn(4, 3, 12, V)
    logits = model(x)
    assert logits.shape == (4, 5) and torch.isfinite(logits).all()
    feats = model.encode(x)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])) + feats.parts.square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


def test_full_profile_is_paper_size() -> None:
    cfg = get_profile("full")
    assert cfg.channels == (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    assert cfg.strides == (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    model = CTRGCN(cfg, 60, chain_adjacency(25), [np.arange(25)])
    # CTR-GCN reports 1.46 M parameters on NTU (25 joints, 60 classes); ours is the same architecture
    assert 1.3e6 < count_parameters(model) < 1.6e6


def test_encode_pools_time_all_joints_and_each_part() -> None:
    torch.manual_seed(1)
    model = CTRGCN(tiny("cpu-small"), 4, chain_adjacency(V), PARTS, part_names=["a", "b", "c"]).eval()
    x = torch.randn(2, 3, 8, V)
    feats = model.encode(x)
    d = model.feature_dim
    assert feats.global_.shape == (2, d) and feats.parts.shape == (2, 3, d)
    h = model.backbone(x)  # (N, D, T', V)
    torch.testing.assert_close(feats.global_, h.mean((2, 3)))
    for p, idx in enumerate(PARTS):
        torch.testing.assert_close(feats.parts[:, p], h[..., idx].mean((2, 3)))
    torch.testing.assert_close(model(x), model.classify(feats.global_))
    assert model.part_names == ("a", "b", "c")


def test_part_pooling_matrix_values_and_errors() -> None:
    pool = part_pooling_matrix([[0, 2], [1]], 3)
    np.testing.assert_allclose(pool.numpy(), [[0.5, 0.0], [0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ConfigError, match="no joints"):
        part_pooling_matrix([[]], 3)
    with pytest.raises(ConfigError, match="outside"):
        part_pooling_matrix([[0, 3]], 3)
    with pytest.raises(ConfigError, match="repeats"):
        part_pooling_matrix([[1, 1]], 3)


@pytest.mark.parametrize("train", [True, False])
def test_whole_model_fast_equals_reference(train: bool) -> None:
    torch.manual_seed(2)
    cfg = tiny("full")
    fast = CTRGCN(cfg, 6, chain_adjacency(V), PARTS).double()
    ref = CTRGCN(dataclasses.replace(cfg, ctrgc="reference"), 6, chain_adjacency(V), PARTS).double()
    with torch.no_grad():
        for m in fast.modules():
            if hasattr(m, "alpha"):
                m.alpha.fill_(0.4)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(3, 3, 16, V, dtype=torch.float64)
    outs = []
    for model in (fast, ref):
        model.train(train)
        y = model(x)
        y.sum().backward()
        outs.append((y.detach(), [p.grad for p in model.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-9, atol=1e-12)
    for gf, gr in zip(outs[0][1], outs[1][1], strict=True):
        torch.testing.assert_close(gf, gr, rtol=1e-8, atol=1e-12)


def test_wrong_input_shape_is_a_clear_error() -> None:
    model = CTRGCN(tiny("cpu-small"), 3, chain_adjacency(V), PARTS)
    with pytest.raises(ConfigError, match="layout"):
        model(torch.randn(2, 3, 8, V + 1))
    with pytest.raises(ConfigError, match="adjacency"):
        CTRGCN(tiny("cpu-small"), 3, np.zeros((3, 4, 5)), PARTS)


def test_config_validation_and_profiles() -> None:
    assert set(list_profiles()) >= {"full", "cpu-small"}
    assert get_profile("full", ctrgc="reference").ctrgc == "reference"
    with pytest.raises(ConfigError, match="unknown model profile"):
        get_profile("huge")
    with pytest.raises(ConfigError, match="strides"):
        ModelConfig(channels=(8, 8), strides=(1,))
    with pytest.raises(ConfigError, match="unknown ModelConfig field"):
        ModelConfig.from_dict({"widths": [8]})
    assert ModelConfig.from_dict({"channels": [8, 16], "strides": [1, 2]}).channels == (8, 16)


def test_flops_counted_and_scale_with_time() -> None:
    model = CTRGCN(tiny("cpu-small"), 3, chain_adjacency(V), PARTS)
    f20, f40 = flops_per_clip(model, V, 20), flops_per_clip(model, V, 40)
    assert f20 > 0
    # everything but the T-independent correlation maps scales with T
    assert 1.5 * f20 < f40 < 2.0 * f20 + 1
    assert model.training  # flops_per_clip restores the mode


def test_jit_trace_matches_eager_and_onnx_exports(tmp_path) -> None:
    torch.manual_seed(3)
    model = CTRGCN(tiny("full"), 7, chain_adjacency(V), PARTS).eval()
    x = torch.randn(2, 3, 16, V)
    traced = torch.jit.trace(model, x)
    x2 = torch.randn(5, 3, 16, V)  # another batch size through the traced graph
    torch.testing.assert_close(traced(x2), model(x2))
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        model,
        (x,),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
    )
    onnx.checker.check_model(onnx.load(str(path)))
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"x": x2.numpy()})
    np.testing.assert_allclose(out, model(x2).detach().numpy(), rtol=1e-4, atol=1e-4)


def test_overfits_a_fixed_batch() -> None:
    torch.manual_seed(4)
    model = CTRGCN(tiny("cpu-small"), 4, chain_adjacency(V), PARTS)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 12, V, generator=gen)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0], losses


@pytest.mark.parametrize("layout_name", ["sam-slr-27", "gspmc-55"])
def test_build_model_uses_the_layout_graph_and_parts(layout_name: str) -> None:
    from gspmc.pose import graph, layouts

    layout = layouts.get_layout(layout_name)
    model = build_model(tiny("cpu-small"), 6, layout_name)
    assert model.num_joints == layout.num_joints
    assert model.part_names == tuple(layout.parts)
    first = model.blocks[0].gcn.gc.adjacency.detach().numpy()
    np.testing.assert_allclose(first, graph.adjacency(layout))
    for p, joints in enumerate(layout.parts.values()):
        column = model.part_pool[:, p].numpy()
        idx = [layout.index(j) for j in joints]
        np.testing.assert_allclose(column[idx], 1.0 / len(idx))
        assert np.count_nonzero(column) == len(idx)
    feats = model.encode(torch.randn(2, 3, 8, layout.num_joints))
    assert feats.parts.shape == (2, len(layout.parts), model.feature_dim)
