"""Training-time regularisers of the landmark recipe that act on batches or weights (issue 20, point 2).

- **Mixup** (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018, arXiv 1710.09412):
  ``x~ = lam x_i + (1 - lam) x_perm(i)`` with ``lam ~ Beta(a, a)``; the loss is mixed the same way,
  ``lam L(y_i) + (1 - lam) L(y_perm(i))``. For cross-entropy this equals the loss against the mixed
  one-hot target. The GSP-MC term (a KL divergence to multi-positive targets, Eq. 10) is mixed in the
  same loss form: ``lam L_multi(y) + (1 - lam) L_multi(y_perm)``, each with its own text draw; for one
  fixed set of texts this is the KL to the lam-mixed target up to a term that has no gradient (the
  targets' entropy), so mixing the losses is mixing the contrastive targets.
  The draws come from a generator seeded by ``(seed, step)``: no global RNG state is touched, so a run
  with mixup off is unchanged, and a resumed run redraws the same ``lam`` and permutation.
- **AWP**, adversarial weight perturbation (Wu, Xia and Wang, "Adversarial Weight Perturbation Helps
  Robust Generalization", NeurIPS 2020, arXiv 2004.05884), as used by the ISLR 2023 winners: each weight
  matrix W moves by ``delta_W = gamma * ||W|| * g_W / ||g_W||`` (g_W the loss gradient at W, norms
  Frobenius, per tensor; vectors such as biases and norm scales are not perturbed), the training loss is
  computed at ``W + delta_W``, and the perturbation is removed before the optimiser step, which applies
  that gradient to W.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["awp_deltas", "mixup_draw", "mix"]


def mixup_draw(alpha: float, n: int, seed: int, step: int) -> tuple[float, np.ndarray]:
    """``lam ~ Beta(alpha, alpha)`` and a permutation of the batch (n,), from the generator (seed, step)."""
    rng = np.random.default_rng([int(seed), 1_000_003, int(step)])
    lam = float(rng.beta(alpha, alpha))
    return lam, rng.permutation(n)


def mix(x: Tensor, lam: float, perm: np.ndarray) -> Tensor:
    """``lam x + (1 - lam) x[perm]``: x (N, ...) -> (N, ...)."""
    idx = torch.as_tensor(perm, device=x.device, dtype=torch.long)
    return lam * x + (1.0 - lam) * x.index_select(0, idx)


@torch.no_grad()
def awp_deltas(params: Sequence[Tensor], grads: Sequence[Tensor | None], gamma: float,
               eps: float = 1e-12) -> list[Tensor]:
    """AWP's weight perturbations ``gamma * ||W|| * g / ||g||`` per tensor (zeros where g is None or 0).

    Args:
        params: the weights W to perturb (weight matrices / kernels).
        grads: the loss gradient at each W (same order).
        gamma: the relative size of the perturbation (the perturbation's norm is gamma * ||W||).
    """
    out = []
    for w, g in zip(params, grads, strict=True):
        if g is None:
            out.append(torch.zeros_like(w))
            continue
        gn = g.float().norm()
        scale = gamma * w.float().norm() / (gn + eps) if gn > 0 else gn * 0.0
        out.append((scale * g.float()).to(w.dtype))
    return out
