"""The slow reference of Eq. 7-10, written straight from the formulas with Python loops (float64)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest


def slow_con(skel: Sequence[Sequence[float]], text: Sequence[Sequence[float]], ys: Sequence[int],
             yt: Sequence[int | Sequence[int]], tau: float) -> float:
    """L_con of Eq. 10 for skeleton rows ``skel`` (B) and text rows ``text`` (M); ``yt[a]`` is the class of
    text a, or the collection of classes it is a positive of (a text several signs share)."""
    B, M = len(skel), len(text)

    def is_pos(y: int, t: int | Sequence[int]) -> bool:
        return y >= 0 and (y in t if isinstance(t, list | tuple | set | frozenset) else y == t)

    def cos(u, v):
        return sum(a * b for a, b in zip(u, v, strict=True)) / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))

    sim = [[cos(skel[i], text[a]) / tau for a in range(M)] for i in range(B)]
    # Eq. 7: softmax over texts for each skeleton
    q_st = [[math.exp(sim[i][a]) / sum(math.exp(sim[i][c]) for c in range(M)) for a in range(M)] for i in range(B)]
    # Eq. 8: softmax over skeletons for each text
    q_ts = [[math.exp(sim[i][a]) / sum(math.exp(sim[j][a]) for j in range(B)) for a in range(M)] for i in range(B)]
    # Eq. 9 + Eq. 10, skeleton -> text: one KL per skeleton that has a positive
    kls = []
    for i in range(B):
        n_pos = sum(1 for c in range(M) if is_pos(ys[i], yt[c]))
        if n_pos == 0:
            continue
        kl = 0.0
        for a in range(M):
            if is_pos(ys[i], yt[a]):
                p = 1.0 / n_pos
                kl += p * math.log(p / q_st[i][a])
        kls.append(kl)
    # text -> skeleton: one KL per text that has a positive skeleton
    klt = []
    for a in range(M):
        n_pos = sum(1 for j in range(B) if is_pos(ys[j], yt[a]))
        if n_pos == 0:
            continue
        kl = 0.0
        for i in range(B):
            if is_pos(ys[i], yt[a]):
                p = 1.0 / n_pos
                kl += p * math.log(p / q_ts[i][a])
        klt.append(kl)
    s2t = sum(kls) / len(kls) if kls else 0.0
    t2s = sum(klt) / len(klt) if klt else 0.0
    return 0.5 * (s2t + t2s)


@pytest.fixture
def reference() -> Callable[..., float]:
    return slow_con


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread avoids thread hand-off cost on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
