"""MultiPositiveContrastive (Eq. 7-10) against the slow reference, hand-computed cases and InfoNCE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gspmc.losses.contrastive import MultiPositiveContrastive, multi_positive_targets


@pytest.mark.parametrize("B, M, d, n_cls, seed", [(4, 4, 8, 2, 0), (6, 9, 5, 3, 1), (10, 3, 16, 4, 2),
                                                  (1, 5, 4, 2, 3), (7, 7, 3, 7, 4), (12, 20, 32, 5, 5)])
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_matches_slow_reference(reference, B, M, d, n_cls, seed, tau):
    g = torch.Generator().manual_seed(seed)
    skel = torch.randn(B, d, generator=g, dtype=torch.float64) * 3
    text = torch.randn(M, d, generator=g, dtype=torch.float64)
    ys = torch.randint(0, n_cls, (B,), generator=g)
    yt = torch.randint(0, n_cls, (M,), generator=g)
    ys[0] = yt[0]  # at least one positive
    loss_fn = MultiPositiveContrastive(tau=tau).double()
    assert loss_fn.tau == pytest.approx(tau, rel=1e-6)
    loss = loss_fn(skel, text, ys, yt)
    expected = reference(skel.tolist(), text.tolist(), ys.tolist(), yt.tolist(), loss_fn.tau)  # tau as stored
    assert loss["loss"].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert bool(loss["active"])


def test_rows_and_columns_without_positive_are_skipped(reference):
    g = torch.Generator().manual_seed(7)
    skel, text = torch.randn(5, 6, generator=g, dtype=torch.float64), torch.randn(4, 6, generator=g, dtype=torch.float64)
    ys = torch.tensor([0, 0, 1, 9, -1])  # class 9 has no text, -1 is unknown
    yt = torch.tensor([0, 1, 1, 5])  # class 5 has no skeleton
    loss_fn = MultiPositiveContrastive(tau=0.2).double()
    out = loss_fn(skel, text, ys, yt)
    assert int(out["rows"]) == 3 and int(out["cols"]) == 3
    expected = reference(skel.tolist(), text.tolist(), ys.tolist(), yt.tolist(), loss_fn.tau)
    assert out["loss"].item() == pytest.approx(expected, rel=1e-9)


def test_hand_computed_identity_case():
    # s = t = unit axes, one-to-one labels, tau = 1: cos = I, each KL = log(1 + 1/e)
    eye = torch.eye(2, dtype=torch.float64)
    out = MultiPositiveContrastive(tau=1.0).double()(eye, eye, torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert out["s2t"].item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-12)
    assert out["t2s"].item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-12)
    assert out["loss"].item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-12)


def test_hand_computed_repeated_labels():
    # both skeletons are sign 0; texts t1 (sign 0) = e1, t2 (sign 1) = e2; skeletons s1 = e1, s2 = e2; tau = 1
    eye = torch.eye(2, dtype=torch.float64)
    out = MultiPositiveContrastive(tau=1.0).double()(eye, eye, torch.tensor([0, 0]), torch.tensor([0, 1]))
    e = math.e
    # s->t: row 1 p = [1, 0], q = [e, 1]/(e+1); row 2 p = [1, 0], q = [1, e]/(e+1)
    s2t = 0.5 * (math.log((e + 1) / e) + math.log(e + 1))
    # t->s: column of t1 p = [1/2, 1/2], q = [e, 1]/(e+1); column of t2 has no positive skeleton
    t2s = 0.5 * math.log(0.5 * (e + 1) / e) + 0.5 * math.log(0.5 * (e + 1))
    assert out["s2t"].item() == pytest.approx(s2t, rel=1e-12)
    assert out["t2s"].item() == pytest.approx(t2s, rel=1e-12)
    assert out["loss"].item() == pytest.approx(0.5 * (s2t + t2s), rel=1e-12)


@pytest.mark.parametrize("n, tau", [(3, 0.1), (8, 0.07), (16, 1.0)])
def test_one_hot_targets_equal_clip_infonce(n, tau):
    g = torch.Generator().manual_seed(n)
    skel, text = torch.randn(n, 12, generator=g), torch.randn(n, 12, generator=g)
    labels = torch.randperm(n, generator=g)
    out = MultiPositiveContrastive(tau=tau)(skel, text[labels.argsort()][labels], labels, labels)
    logits = F.normalize(skel, dim=1) @ F.normalize(text, dim=1).T / tau
    clip = 0.5 * (F.cross_entropy(logits, torch.arange(n)) + F.cross_entropy(logits.T, torch.arange(n)))
    assert out["loss"].item() == pytest.approx(clip.item(), rel=1e-5)


def test_targets_normalised_per_row_and_column():
    pos, p_r, p_c = multi_positive_targets(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1, 0]))
    assert pos.tolist() == [[True, False, False, False, True]] * 2 + [[False, True, True, True, False],
                                                                     [False] * 5]
    assert torch.allclose(p_r.sum(1), torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert p_r[2, 1].item() == pytest.approx(1 / 3)
    assert torch.allclose(p_c.sum(0), torch.ones(5))
    assert p_c[0, 0].item() == pytest.approx(0.5)


def test_no_positive_at_all_is_inactive_zero_with_gradient():
    skel = torch.randn(3, 4, requires_grad=True)
    out = MultiPositiveContrastive()(skel, torch.randn(2, 4), torch.tensor([0, 1, 2]), torch.tensor([5, 6]))
    assert not bool(out["active"]) and out["loss"].item() == 0.0
    out["loss"].backward()
    assert skel.grad is not None and torch.all(skel.grad == 0)


def test_gradients_reach_features_and_learnable_tau():
    loss_fn = MultiPositiveContrastive(tau=0.1, learnable_tau=True)
    assert loss_fn.tau == pytest.approx(0.1)
    skel = torch.randn(6, 8, requires_grad=True)
    text = torch.randn(6, 8)
    out = loss_fn(skel, text, torch.tensor([0, 0, 1, 1, 2, 3]), torch.tensor([0, 1, 1, 2, 2, 3]))
    out["loss"].backward()
    assert skel.grad.abs().sum() > 0
    assert loss_fn.log_scale.grad is not None and loss_fn.log_scale.grad.abs() > 0
    fixed = MultiPositiveContrastive(tau=0.1)
    assert not any(p.requires_grad for p in fixed.parameters()) and "log_scale" in dict(fixed.named_buffers())


def test_bad_shapes_and_tau():
    with pytest.raises(ValueError, match="tau"):
        MultiPositiveContrastive(tau=0.0)
    with pytest.raises(ValueError, match="expected skel"):
        MultiPositiveContrastive()(torch.randn(2, 3), torch.randn(2, 4), torch.tensor([0, 1]), torch.tensor([0, 1]))


def test_class_mask_targets_match_reference(reference):
    """Texts given as an (M, K) class mask: a text of several signs is a positive of each of them."""
    g = torch.Generator().manual_seed(11)
    skel, text = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    ys = torch.tensor([0, 1, 2, 1, 0, -1])
    member = torch.tensor([[True, True, False], [False, False, True], [True, False, False]])  # (M=3, K=3)
    loss_fn = MultiPositiveContrastive(tau=0.3).double()
    out = loss_fn(skel, text, ys, member)
    expected = reference(skel.tolist(), text.tolist(), ys.tolist(), [[0, 1], [2], [0]], loss_fn.tau)
    assert out["loss"].item() == pytest.approx(expected, rel=1e-9)
    pos, p_s2t, _ = multi_positive_targets(ys, member)
    assert pos.tolist()[0] == [True, False, True] and pos.tolist()[1] == [True, False, False]
    assert not pos[5].any()  # unknown label
    # one-label-per-text input gives the same as its one-hot mask
    yt = torch.tensor([0, 2, 1])
    onehot = torch.nn.functional.one_hot(yt, 3).bool()
    assert loss_fn(skel, text, ys, yt)["loss"].item() == pytest.approx(loss_fn(skel, text, ys, onehot)["loss"].item())


def test_logits_are_float32_under_bf16_autocast() -> None:
    """Under CPU bf16 autocast the loss equals the float32 loss: cosines / tau are computed in float32."""
    from gspmc.losses.contrastive import MultiPositiveContrastive

    g = torch.Generator().manual_seed(0)
    skel = torch.randn(16, 64, generator=g)
    text = torch.randn(40, 64, generator=g)
    skel_labels = torch.arange(16) % 8
    text_labels = torch.arange(40) % 8
    loss_fn = MultiPositiveContrastive(tau=0.1)
    ref = loss_fn(skel, text, skel_labels, text_labels)["loss"]
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = loss_fn(skel.bfloat16().float(), text.bfloat16().float(), skel_labels, text_labels)["loss"]
        inside = loss_fn.logits(skel, text)  # what autocast alone would give: bf16
    assert inside.dtype == torch.bfloat16  # the hazard is real
    assert got.dtype == torch.float32
    # inputs rounded to bf16 (as features under autocast are), but every operation after them in float32
    ref_rounded = loss_fn(skel.bfloat16().float(), text.bfloat16().float(), skel_labels, text_labels)["loss"]
    torch.testing.assert_close(got, ref_rounded, rtol=1e-6, atol=1e-6)
    assert abs(float(got) - float(ref)) < 1e-2
