"""Multi-positive contrastive loss between skeleton features and text embeddings (Eq. 7-10).

GSP-MC (Liang et al., 2025), for B skeleton features s_i and M text embeddings t_a:

- Eq. 7: q^{s->t}_{i,a} = exp(cos(s_i, t_a)/tau) / sum_{a'} exp(cos(s_i, t_{a'})/tau)  (row softmax)
- Eq. 8: q^{t->s}_{i,a} = exp(cos(s_i, t_a)/tau) / sum_{i'} exp(cos(s_{i'}, t_a)/tau)  (column softmax)
- Eq. 9: p_{i,a} = 1[y(s_i) = y(t_a)] / sum_c 1[y(s_i) = y(t_c)]: every text of the sample's sign
  is a positive, also texts drawn for other samples of the same sign. A text may belong to a set of
  signs Y(t_a) (the same text written for several signs): then 1[y(s_i) in Y(t_a)]. For the text->skeleton
  direction the target is the same indicator normalised per column:
  p^T_{i,a} = 1[y(s_i) = y(t_a)] / sum_j 1[y(s_j) = y(t_a)].
- Eq. 10: L_con = 1/2 ( KL(p || q^{s->t}) + KL(p^T || q^{t->s}) ), where each KL is summed over
  its distribution's support and averaged over the distributions (rows for s->t, columns for
  t->s). With one-hot p (one text per sample, distinct labels) this is exactly the CLIP /
  InfoNCE loss 1/2 (CE(logits, arange) + CE(logits^T, arange)).

Rows (skeletons) whose sign has no text among the M, and columns (texts) whose sign has no
skeleton among the B, have no target distribution: they contribute no KL term (they still act
as negatives in the other direction's softmax). When no row has a positive the loss is inactive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def multi_positive_targets(
    skel_labels: Tensor, text_labels: Tensor, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 9: the positive indicator and its row- and column-normalised targets.

    Args:
        skel_labels: (B,) int class of each skeleton (negative = unknown: never a positive).
        text_labels: (M,) int class of each text, or (M, K) bool: the classes each text is a positive
            of (a text that several signs share is a positive of all of them, Eq. 9's multi-positive form).
        dtype: floating dtype of the targets.

    Returns:
        pos (B, M) bool, p_s2t (B, M) rows summing to 1 (or 0 where a row has no positive),
        p_t2s (B, M) columns summing to 1 (or 0 where a column has no positive).
    """
    known = skel_labels[:, None] >= 0  # (B, 1)
    if text_labels.ndim == 2:
        pos = text_labels.bool()[:, skel_labels.clamp_min(0)].T & known  # (B, M)
    else:
        pos = (skel_labels[:, None] == text_labels[None, :]) & known  # (B, M)
    posf = pos.to(dtype)
    p_s2t = posf / posf.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, M)
    p_t2s = posf / posf.sum(dim=0, keepdim=True).clamp_min(1.0)  # (B, M)
    return pos, p_s2t, p_t2s


def _kl_rows(p: Tensor, log_q: Tensor, active: Tensor) -> Tensor:
    """Mean over ``active`` rows of KL(p_row || q_row) = sum_a p log(p / q), with 0 log 0 = 0."""
    plogp = torch.where(p > 0, p * torch.log(p.clamp_min(1e-30)), torch.zeros_like(p))  # (R, K)
    kl = (plogp - p * log_q).sum(dim=1)  # (R,)
    return (kl * active).sum() / active.sum().clamp_min(1)


class MultiPositiveContrastive(nn.Module):
    """Symmetric KL between multi-positive targets and softmaxed cosine similarities (Eq. 7-10).

    Args:
        tau: temperature (0.1 in the paper).
        learnable_tau: learn tau (as log(1/tau), like CLIP's logit scale, clamped to tau >= 0.01).
    """

    def __init__(self, tau: float = 0.1, learnable_tau: bool = False) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        log_scale = torch.tensor(math.log(1.0 / tau))
        if learnable_tau:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.learnable_tau = learnable_tau

    @property
    def tau(self) -> float:
        return float(torch.exp(-self.log_scale.detach()))

    def logits(self, skel: Tensor, text: Tensor) -> Tensor:
        """cos(s_i, t_a) / tau -> (B, M)."""
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()
        return scale * F.normalize(skel, dim=-1) @ F.normalize(text, dim=-1).T  # (B, M)

    def forward(self, skel: Tensor, text: Tensor, skel_labels: Tensor, text_labels: Tensor) -> dict[str, Tensor]:
        """Eq. 10 for skeleton features ``skel`` (B, d) and texts ``text`` (M, d); ``text_labels`` is (M,)
        int or an (M, K) bool class-membership mask (see :func:`multi_positive_targets`).

        Returns a dict: ``loss`` (scalar), ``s2t`` and ``t2s`` (the two KL means),
        ``active`` (bool scalar: some row has a positive), ``rows`` / ``cols`` (how many rows /
        columns had a target).
        """
        if skel.ndim != 2 or text.ndim != 2 or skel.shape[1] != text.shape[1]:
            raise ValueError(f"expected skel (B, d) and text (M, d), got {tuple(skel.shape)} and {tuple(text.shape)}")
        # cosines / tau in float32 even under autocast: with tau = 0.1, bf16's 8-bit mantissa would put
        # ~0.04 of error into every logit before the softmax
        dtype = torch.promote_types(torch.promote_types(skel.dtype, text.dtype), torch.float32)  # >= float32
        with torch.autocast(device_type=skel.device.type, enabled=False):
            logits = self.logits(skel.to(dtype), text.to(dtype))  # (B, M)
        pos, p_s2t, p_t2s = multi_positive_targets(skel_labels, text_labels, logits.dtype)
        rows = pos.any(dim=1)  # (B,)
        cols = pos.any(dim=0)  # (M,)
        log_q_s2t = F.log_softmax(logits, dim=1)  # Eq. 7, (B, M)
        log_q_t2s = F.log_softmax(logits, dim=0)  # Eq. 8, (B, M)
        s2t = _kl_rows(p_s2t, log_q_s2t, rows.to(logits.dtype))
        t2s = _kl_rows(p_t2s.T, log_q_t2s.T, cols.to(logits.dtype))  # columns as rows: (M, B)
        loss = 0.5 * (s2t + t2s)
        return {
            "loss": loss,
            "s2t": s2t,
            "t2s": t2s,
            "active": rows.any(),
            "rows": rows.sum(),
            "cols": cols.sum(),
        }
