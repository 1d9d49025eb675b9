"""The fast CTR-GC computes the same function as the direct reference: outputs and all gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gspmc.models.config import ModelConfig
from gspmc.models.ctrgc import CTRGC, ctrgc_fast, ctrgc_reference, relation_channels
from gspmc.models.ctrgcn import GraphConvUnit


def _random_layer(c_in: int, c_out: int, v: int, dtype: torch.dtype, gen: torch.Generator) -> CTRGC:
    adjacency = torch.rand(3, v, v, generator=gen)
    layer = CTRGC(c_in, c_out, adjacency).to(dtype)
    with torch.no_grad():  # every parameter random and non-zero, so every gradient path is exercised
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype) * 0.5)
    return layer


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


CASES = [(7, 5, 3, 16), (27, 9, 16, 24), (55, 4, 32, 32)]  # (V, T, C_in, C_out)


@pytest.mark.parametrize(("v", "t", "c_in", "c_out"), CASES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_fast_matches_reference_outputs_and_gradients(v, t, c_in, c_out, dtype, tol) -> None:
    gen = torch.Generator().manual_seed(v * 100 + t)
    layer = _random_layer(c_in, c_out, v, dtype, gen)
    x = torch.randn(3, c_in, t, v, generator=gen, dtype=torch.float64).to(dtype)
    grad_out = torch.randn(3, c_out, t, v, generator=gen, dtype=torch.float64).to(dtype)
    results = {}
    for name, fn in (("ref", ctrgc_reference), ("fast", ctrgc_fast)):
        xi = x.clone().requires_grad_(True)
        layer.zero_grad()
        y = fn(xi, layer.params())
        y.backward(grad_out)
        results[name] = (y.detach(), xi.grad, {n: p.grad.clone() for n, p in layer.named_parameters()})
    y_ref, gx_ref, gp_ref = results["ref"]
    y_fast, gx_fast, gp_fast = results["fast"]
    assert y_fast.shape == (3, c_out, t, v)
    assert _rel_err(y_fast, y_ref) < tol
    assert _rel_err(gx_fast, gx_ref) < tol
    assert set(gp_fast) == set(gp_ref) == {n for n, _ in layer.named_parameters()}
    for name in gp_ref:
        assert _rel_err(gp_fast[name], gp_ref[name]) < tol, name


# chunk budgets (bytes, float64) that force each shape of the chunked loop at V=10, C_out=16
_CHUNKINGS = {
    "one sample, channel blocks of 3": 8 * 3 * 10 * 10,  # blocks 3,3,3,3,3,1: do not divide C_out
    "two samples, all channels": 8 * 2 * 16 * 10 * 10,  # chunks of 2 of N=5: the last one is short
}


@pytest.mark.parametrize("budget", list(_CHUNKINGS.values()), ids=list(_CHUNKINGS))
def test_fast_matches_reference_in_every_chunking(budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunked loop (and its per-chunk gradient accumulation) gives the reference's outputs and
    gradients whichever way the batch is cut."""
    import gspmc.models.ctrgc as ctrgc_module

    v, n = 10, 5
    monkeypatch.setattr(ctrgc_module, "CPU_CHUNK_BYTES", {8: budget})
    samples, blocks = ctrgc_module._plan(n, 16, v, torch.float64, torch.device("cpu"))
    assert len(samples) > 1 and (len(blocks) > 1 or samples[0] != (0, 1))
    gen = torch.Generator().manual_seed(11)
    layer = _random_layer(8, 16, v, torch.float64, gen)
    x = torch.randn(n, 8, 6, v, generator=gen, dtype=torch.float64)
    grads = []
    for fn in (ctrgc_reference, ctrgc_fast):
        xi = x.clone().requires_grad_(True)
        layer.zero_grad()
        y = fn(xi, layer.params())
        (y * y).sum().backward()
        grads.append([y.detach(), xi.grad] + [p.grad.clone() for p in layer.parameters()])
    for a, b in zip(grads[1], grads[0], strict=True):
        assert _rel_err(a, b) < 1e-10


def test_plan_shapes() -> None:
    """Chunks cover the batch exactly once; a GPU gets the whole batch as one chunk."""
    import gspmc.models.ctrgc as ctrgc_module

    for n, c, v in [(32, 64, 75), (32, 256, 75), (7, 16, 27), (1, 8, 3)]:
        samples, blocks = ctrgc_module._plan(n, c, v, torch.float32, torch.device("cpu"))
        assert [i for s0, s1 in samples for i in range(s0, s1)] == list(range(n))
        assert [i for c0, c1 in blocks for i in range(c0, c1)] == list(range(c))
        assert len(blocks) == 1 or all(s1 - s0 == 1 for s0, s1 in samples)
    assert ctrgc_module._plan(120, 256, 87, torch.bfloat16, torch.device("cuda")) == ([(0, 120)], [(0, 256)])


def test_fast_under_bf16_autocast_is_close_and_keeps_float32_gradients() -> None:
    """Under CPU autocast the fast layer computes in bf16 (output bf16) and is within bf16 rounding of
    the float32 reference; parameter gradients come back in float32."""
    gen = torch.Generator().manual_seed(5)
    layer = _random_layer(16, 24, 27, torch.float32, gen)
    x = torch.randn(4, 16, 8, 27, generator=gen)
    ref = ctrgc_reference(x, layer.params())
    ref.square().sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in layer.named_parameters()}
    layer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ctrgc_fast(x, layer.params())
    assert y.dtype == torch.bfloat16
    assert _rel_err(y.float(), ref) < 2e-2
    y.float().square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad.dtype == torch.float32, name
        assert _rel_err(p.grad, ref_grads[name]) < 2e-2, name


def test_reference_matches_hand_computed_case() -> None:
    """V=2, one channel, one subset: the direct formula evaluated by hand."""
    layer = CTRGC(1, 1, torch.tensor([[[0.5, 0.25], [0.0, 1.0]]]), rel_reduction=8).double()
    assert layer.rel_channels == 8
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        layer.weight_a[0, 0, 0] = 1.0  # x1[r=0] = mean_T x
        layer.weight_b[0, 0, 0] = 2.0  # x2[r=0] = 2 mean_T x
        layer.weight_c[0, 0, 0] = 1.0  # Q = M[r=0]
        layer.weight_d[0, 0, 0] = 1.0  # x3 = x
        layer.alpha.fill_(0.5)
        layer.adjacency.copy_(torch.tensor([[[0.5, 0.25], [0.0, 1.0]]]))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 0.0]]]], dtype=torch.float64)  # (1, 1, T=2, V=2)
    mean = np.array([2.0, 1.0])  # mean over T per joint
    m = np.tanh(mean[:, None] - 2 * mean[None, :])
    refined = np.array([[0.5, 0.25], [0.0, 1.0]]) + 0.5 * m
    expected = x[0, 0].numpy() @ refined.T  # out[t, u] = sum_v x[t, v] R[u, v]
    for fn in (ctrgc_reference, ctrgc_fast):
        out = fn(x, layer.params())[0, 0].detach().numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_graph_conv_unit_fast_equals_reference(train: bool) -> None:
    """The whole unit (CTR-GC + BN + residual + ReLU), in train and eval mode, same weights."""
    gen = torch.Generator().manual_seed(3)
    adjacency = torch.rand(3, 11, 11, generator=gen)
    units = {}
    for impl in ("fast", "reference"):
        torch.manual_seed(0)
        units[impl] = GraphConvUnit(8, 16, adjacency, ModelConfig(ctrgc=impl)).double()
    units["reference"].load_state_dict(units["fast"].state_dict())
    with torch.no_grad():
        units["fast"].gc.alpha.fill_(0.3)
        units["reference"].gc.alpha.fill_(0.3)
    x = torch.randn(4, 8, 6, 11, generator=gen, dtype=torch.float64)
    outs = {}
    for impl, unit in units.items():
        unit.train(train)
        xi = x.clone().requires_grad_(True)
        y = unit(xi)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        outs[impl] = (y.detach(), xi.grad, [p.grad for p in unit.parameters()])
    assert _rel_err(outs["fast"][0], outs["reference"][0]) < 1e-10
    assert _rel_err(outs["fast"][1], outs["reference"][1]) < 1e-10
    for gf, gr in zip(outs["fast"][2], outs["reference"][2], strict=True):
        assert gf is not None and gr is not None
        assert float((gf - gr).abs().max()) <= 1e-10 * max(float(gr.abs().max()), 1e-12)


def test_relation_channels_and_bad_arguments() -> None:
    assert relation_channels(3) == 8 and relation_channels(64) == 8 and relation_channels(256) == 32
    with pytest.raises(ValueError, match="implementation"):
        CTRGC(3, 8, torch.rand(3, 5, 5), impl="slow")
    with pytest.raises(ValueError, match=r"\(K, V, V\)"):
        CTRGC(3, 8, torch.rand(5, 5))
