"""Mixup and AWP (issue 20, point 2) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import torch

from gspmc.train.regularize import awp_deltas, mix, mixup_draw


def test_awp_delta_hand_computed() -> None:
    w = torch.tensor([[3.0, 4.0]])  # ||W|| = 5
    g = torch.tensor([[0.0, 2.0]])  # ||g|| = 2
    (d,) = awp_deltas([w], [g], gamma=0.1)
    torch.testing.assert_close(d, torch.tensor([[0.0, 0.5]]))  # 0.1 * 5 * g / 2
    assert abs(float(d.norm()) - 0.1 * 5.0) < 1e-6  # the perturbation's norm is gamma * ||W||
    zero, none = awp_deltas([w, w], [torch.zeros_like(w), None], gamma=0.1)
    assert not zero.any() and not none.any()


def test_awp_ascends_the_loss() -> None:
    """For L(W) = ||W x - y||^2 the perturbed weights have a larger loss (first order: + gamma ||W|| ||g||)."""
    torch.manual_seed(0)
    w = torch.randn(3, 4, requires_grad=True)
    x, y = torch.randn(4), torch.randn(3)
    loss = ((w @ x - y) ** 2).sum()
    (g,) = torch.autograd.grad(loss, [w])
    (d,) = awp_deltas([w.detach()], [g], gamma=0.01)
    with torch.no_grad():
        after = (((w + d) @ x - y) ** 2).sum()
    assert float(after) > float(loss)
    assert abs(float(after - loss) - 0.01 * float(w.norm()) * float(g.norm())) < 0.05 * float(after - loss)


def test_mixup_draw_is_seeded_by_seed_and_step_only() -> None:
    lam, perm = mixup_draw(0.4, 6, seed=3, step=10)
    rng = np.random.default_rng([3, 1_000_003, 10])
    assert lam == rng.beta(0.4, 0.4)
    np.testing.assert_array_equal(perm, rng.permutation(6))
    state = torch.random.get_rng_state()
    lam2, perm2 = mixup_draw(0.4, 6, seed=3, step=10)
    assert lam2 == lam and np.array_equal(perm2, perm)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert mixup_draw(0.4, 6, seed=3, step=11)[0] != lam


def test_mix_hand_computed() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = mix(x, 0.75, np.array([2, 0, 1]))
    torch.testing.assert_close(out, torch.tensor([[2.0, 3.0], [2.5, 3.5], [4.5, 5.5]]))
