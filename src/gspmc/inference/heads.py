"""The recogniser with a text-embedding output and enrolled classes: one module for predict and export.

A GSP-MC training checkpoint holds, besides the recognition network (``model.*``), the projection
heads of the contrastive objective (``objective.global_head.*``: S_g (D) -> text space (d);
``objective.part_heads.<part>.*``; ``objective.contrastive.log_scale`` = log(1/tau)). This module
rebuilds the global head next to the CTR-GCN and scores enrolled classes by cosine similarity
to their prototypes:

    S_g       = mean over time and joints of the last block             (N, D)
    z         = unit(global_head(S_g))                                  (N, d)  the embedding
    trained   = log_softmax(classifier(S_g))[:, keep]                   (N, K') (hidden classes dropped)
    enrolled  = (z @ unit(P).T - 1) / tau + bias                        (N, J)  bias (J,): per class
    logits    = [trained, enrolled]                                     (N, K' + J)

Without enrolled or hidden classes (``prototypes`` and ``keep`` None) ``logits`` are the
classifier's raw logits, exactly ``CTRGCN.forward``. ``softmax(logits)`` is what predict shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GLOBAL_HEAD = "objective.global_head"
PART_HEADS = "objective.part_heads"
LOG_SCALE = "objective.contrastive.log_scale"
NO_TEXT_SPACE_HINT = ("train one with GSP-MC on, e.g. `gspmc fit --config traduttore --set mc.enabled=true` "
                      "(the global or synonym term must be on: mc.options.terms)")


@dataclass(frozen=True)
class HeadWeights:
    """The projection heads found in a checkpoint's state_dict."""

    global_head: nn.Linear | None  # D -> d, trained by the global / synonym terms
    part_heads: dict[str, nn.Linear]  # model part -> (D -> d)
    tau: float | None  # the contrastive temperature (from log_scale), None if absent


def _linear(state: Mapping[str, Tensor], prefix: str) -> nn.Linear:
    w = state[f"{prefix}.weight"]  # (d, D)
    b = state.get(f"{prefix}.bias")
    lin = nn.Linear(int(w.shape[1]), int(w.shape[0]), bias=b is not None)
    with torch.no_grad():
        lin.weight.copy_(w)
        if b is not None:
            lin.bias.copy_(b)
    return lin.eval()


def head_weights(state: Mapping[str, Tensor]) -> HeadWeights:
    """The GSP-MC projection heads of a (Lightning) state_dict; absent heads are None / missing."""
    glob = _linear(state, GLOBAL_HEAD) if f"{GLOBAL_HEAD}.weight" in state else None
    parts: dict[str, nn.Linear] = {}
    for key in state:
        if key.startswith(f"{PART_HEADS}.") and key.endswith(".weight"):
            part = key[len(PART_HEADS) + 1 : -len(".weight")]
            parts[part] = _linear(state, f"{PART_HEADS}.{part}")
    tau = None
    if LOG_SCALE in state:
        tau = float(math.exp(-float(state[LOG_SCALE])))
    return HeadWeights(glob, parts, tau)


def head_state(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The entries of ``state`` that belong to the projection heads and the temperature."""
    return {k: v for k, v in state.items()
            if k.startswith((f"{GLOBAL_HEAD}.", f"{PART_HEADS}.")) or k == LOG_SCALE}


class OpenVocabNet(nn.Module):
    """CTR-GCN + global projection head (+ enrolled prototypes); see the module docstring.

    Args:
        model: the trained ``CTRGCN`` (shared, not copied).
        head: the GSP-MC global projection head (D -> d).
        prototypes: (J, d) enrolled class prototypes, or None for none.
        keep: (K',) indices of the trained classes still offered, or None for all.
        tau: the temperature scaling enrolled cosines (the training temperature).
        bias: (J,) added to the enrolled classes' scores (seen-class calibration, chosen on validation).
    """

    def __init__(self, model: nn.Module, head: nn.Linear, prototypes: Tensor | None = None,
                 keep: Tensor | None = None, tau: float = 0.1, bias: Tensor | None = None) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.open_set = prototypes is not None or keep is not None
        d = int(head.out_features)
        protos = torch.zeros(0, d) if prototypes is None else F.normalize(prototypes.float(), dim=1)
        if protos.ndim != 2 or protos.shape[1] != d:
            raise ValueError(f"prototypes must be (J, {d}), got {tuple(protos.shape)}")
        num_classes = int(model.num_classes)
        keep_t = torch.arange(num_classes) if keep is None else keep.long()
        self.register_buffer("prototypes", protos)  # (J, d), unit rows
        bias_t = torch.zeros(protos.shape[0]) if bias is None else bias.float().reshape(-1)
        if bias_t.shape[0] != protos.shape[0]:
            raise ValueError(f"{bias_t.shape[0]} biases for {protos.shape[0]} prototypes")
        self.register_buffer("keep", keep_t)  # (K',)
        self.register_buffer("bias", bias_t)  # (J,)
        self.tau = float(tau)

    @property
    def num_outputs(self) -> int:
        return int(self.keep.numel() + self.prototypes.shape[0])

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, T, V) -> (classifier logits (N, K), embedding (N, d) with unit rows)."""
        g = self.model.global_features(x)  # (N, D) = S_g (any backbone)
        logits = self.model.classify(g)  # (N, K)
        z = F.normalize(self.head(g), dim=1)  # (N, d)
        return logits, z

    def scores(self, logits: Tensor, z: Tensor) -> Tensor:
        """Classifier logits (N, K) and embeddings (N, d) -> the recogniser's logits (N, K' + J)."""
        if not self.open_set:
            return logits
        trained = torch.log_softmax(logits.float(), dim=1).index_select(1, self.keep)  # (N, K')
        enrolled = (z @ self.prototypes.T - 1.0) / self.tau + self.bias  # (N, J)
        return torch.cat([trained, enrolled], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T, V) -> logits (N, K' + J)."""
        logits, z = self.features(x)
        return self.scores(logits, z)

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, T, V) -> (logits (N, K' + J), embedding (N, d))."""
        logits, z = self.features(x)
        return self.scores(logits, z), z

    def embed(self, x: Tensor) -> Tensor:
        """(N, C, T, V) -> embedding (N, d), unit rows."""
        return self.features(x)[1]


class WithEmbedding(nn.Module):
    """Export wrapper: ``forward(x) -> (logits, embedding)`` of an :class:`OpenVocabNet`."""

    def __init__(self, net: OpenVocabNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.net.forward_with_embedding(x)
