"""Continuous signing streams composed from real isolated clips: the evaluation protocol of
``gspmc transcribe`` (docs/transcribe.md).

A stream is built from one pool of real clips (e.g. the held-out recorder's test clips of one
traduttore fold, or the fold's validation carve-out) with a seeded generator:

1. ``signs`` clips drawn from the pool's non-idle clips in random order (without replacement while the
   pool lasts);
2. each clip resampled in time to a random speed in ``speed`` (0.7-1.4x: a 20-frame clip becomes
   14-29 frames; coordinates interpolated linearly where a joint is seen on both neighbouring frames,
   the mask taken from the nearer frame);
3. a gap of ``gap`` frames (uniform) before every sign and after the last one, filled with the pool's
   real idle clips (each resampled to a random speed, concatenated, cut to length) with probability
   ``idle_prob``, else with the previous frame held still (the next sign's first frame before the first
   sign); a pool without idle clips always holds;
4. every join between two pieces smoothed: the ``join`` frames on each side are replaced by a linear
   interpolation between the frames just outside (joints seen at one end only switch at the middle), so
   a boundary is not visible as a jump in position (:func:`jump_boundaries` is the check).

The ground truth is the list of sign pieces as :class:`~gspmc.apps.segments.Segment` (start, end, gloss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gspmc.apps.segments import Segment
from gspmc.data.protocols import get_protocol
from gspmc.data.registry import load_dataset
from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError

IDLE = "-"  # traduttore's idle class ("no sign")


@dataclass(frozen=True)
class StreamConfig:
    signs: int = 30                              # signs per stream
    speed: tuple[float, float] = (0.7, 1.4)      # playback speed range of each clip
    gap: tuple[int, int] = (6, 30)               # frames between signs (inclusive range)
    idle_prob: float = 0.5                       # a gap is real idle clips with this probability, else a hold
    join: int = 3                                # frames each side of a join that are interpolated


@dataclass(frozen=True)
class Clip:
    """One real clip: coords (T, V, D) float32, mask (T, V) bool, its gloss."""

    coords: np.ndarray
    mask: np.ndarray
    gloss: str


@dataclass
class Stream:
    """A composed stream: coords (T, V, D), mask (T, V), the layout and the true sign segments."""

    coords: np.ndarray
    mask: np.ndarray
    layout: str
    truth: list[Segment]
    seed: int
    joins: list[int]

    @property
    def num_frames(self) -> int:
        return int(self.coords.shape[0])


def resample(coords: np.ndarray, mask: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """A clip (T, V, D), (T, V) resampled to ``length`` frames (see the module docstring, step 2)."""
    t0 = coords.shape[0]
    pos = np.linspace(0.0, t0 - 1, length) if length > 1 else np.zeros(1)  # (L,)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t0 - 1)
    w = (pos - lo)[:, None]  # (L, 1)
    near = np.where(w[:, 0] < 0.5, lo, hi)
    both = mask[lo] & mask[hi]  # (L, V)
    lerp = (1 - w)[..., None] * coords[lo] + w[..., None] * coords[hi]  # (L, V, D)
    out = np.where(both[..., None], lerp, coords[near]).astype(np.float32)
    out_mask = np.where(both, True, mask[near])
    return out, out_mask


def smooth_join(coords: np.ndarray, mask: np.ndarray, j: int, h: int) -> None:
    """Replace frames ``[j - h, j + h)`` by a linear blend between frames ``j - h - 1`` and ``j + h`` (in place)."""
    a, b = j - h - 1, j + h
    if a < 0 or b >= coords.shape[0] or h <= 0:
        return
    both = mask[a] & mask[b]  # (V,)
    for k in range(a + 1, b):
        w = (k - a) / (b - a)
        near = a if w < 0.5 else b
        coords[k] = np.where(both[:, None], (1 - w) * coords[a] + w * coords[b], coords[near])
        mask[k] = np.where(both, True, mask[near])


def _speed_length(rng: np.random.Generator, frames: int, speed: tuple[float, float]) -> int:
    return max(2, int(round(frames / rng.uniform(*speed))))


def compose_stream(signs: Sequence[Clip], idles: Sequence[Clip], layout: str, seed: int,
                   cfg: StreamConfig = StreamConfig(), smooth: bool = True) -> Stream:
    """Compose one stream from real clips (module docstring); same seed and pools -> the same stream."""
    if not signs:
        raise ConfigError("cannot compose a stream: the pool has no sign clip")
    rng = np.random.default_rng(seed)
    order = rng.choice(len(signs), size=cfg.signs, replace=len(signs) < cfg.signs)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    truth: list[Segment] = []
    t = 0

    def gap(prev: tuple[np.ndarray, np.ndarray]) -> None:
        nonlocal t
        n = int(rng.integers(cfg.gap[0], cfg.gap[1] + 1))
        if n <= 0:
            return
        if idles and rng.random() < cfg.idle_prob:
            got: list[tuple[np.ndarray, np.ndarray]] = []
            total = 0
            while total < n:
                clip = idles[int(rng.integers(len(idles)))]
                c, m = resample(clip.coords, clip.mask, _speed_length(rng, clip.coords.shape[0], cfg.speed))
                got.append((c, m))
                total += c.shape[0]
            c = np.concatenate([g[0] for g in got])[:n]
            m = np.concatenate([g[1] for g in got])[:n]
        else:
            c = np.repeat(prev[0][None], n, axis=0)
            m = np.repeat(prev[1][None], n, axis=0)
        pieces.append((c, m))
        t += n

    for i, idx in enumerate(order):
        clip = signs[int(idx)]
        c, m = resample(clip.coords, clip.mask, _speed_length(rng, clip.coords.shape[0], cfg.speed))
        prev = (pieces[-1][0][-1], pieces[-1][1][-1]) if pieces else (c[0], m[0])
        gap(prev)
        truth.append(Segment(t, t + c.shape[0], clip.gloss))
        pieces.append((c, m))
        t += c.shape[0]
        if i == len(order) - 1:
            gap((c[-1], m[-1]))
    coords = np.concatenate([p[0] for p in pieces]).astype(np.float32)  # (T, V, D)
    mask = np.concatenate([p[1] for p in pieces]).astype(bool)  # (T, V)
    joins = list(np.cumsum([p[0].shape[0] for p in pieces])[:-1].astype(int))
    if smooth:
        for j in joins:
            smooth_join(coords, mask, j, cfg.join)
    return Stream(coords, mask, layout, truth, seed, joins)


def fold_pools(clips: ClipSet, fold: str, part: str, protocol: str = "traduttore-xsigner",
               split_seed: int = 0) -> tuple[list[Clip], list[Clip]]:
    """(sign clips, idle clips) of one part of a fold's split: ``test`` (the held-out recorder's clips of
    the classes the training side has) or ``val`` (the validation carve-out of the training recorders)."""
    if part not in ("val", "test"):
        raise ConfigError(f"stream pool {part!r}: choose val or test (never train)")
    split = get_protocol(protocol).split(clips, fold, split_seed)
    signs: list[Clip] = []
    idles: list[Clip] = []
    for i in getattr(split, part):
        s = clips.samples[int(i)]
        clip = Clip(s.coords.astype(np.float32), s.mask.astype(bool), clips.classes[s.label])
        (idles if clip.gloss == IDLE else signs).append(clip)
    return signs, idles


def load_pools(fold: str, part: str, path: str | None = None) -> tuple[list[Clip], list[Clip], str]:
    """:func:`fold_pools` of traduttore (``$GSPMC_DATA/traduttore_asl33.npz`` unless ``path``) and its layout."""
    clips = load_dataset(path or "traduttore")
    signs, idles = fold_pools(clips, fold, part)
    return signs, idles, clips.layout


# --- the jump-only check --------------------------------------------------------------------------
def frame_jumps(coords: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(T,) mean displacement of the joints seen on both frames t-1 and t (0 for t = 0 or none seen)."""
    both = mask[1:] & mask[:-1]  # (T-1, V)
    step = np.linalg.norm(coords[1:, :, :2] - coords[:-1, :, :2], axis=-1)  # (T-1, V)
    n = both.sum(1)
    mean = np.where(n > 0, (step * both).sum(1) / np.maximum(n, 1), 0.0)
    return np.concatenate([[0.0], mean])


def jump_boundaries(coords: np.ndarray, mask: np.ndarray, threshold: float) -> np.ndarray:
    """Frames whose jump from the previous frame exceeds ``threshold``: the jump-only boundary detector."""
    return np.flatnonzero(frame_jumps(coords, mask) > threshold)


def boundary_f1(found: np.ndarray, truth: Sequence[int], tolerance: int = 2) -> float:
    """F1 of boundary frames, a hit within ``tolerance`` frames, one-to-one (greedy in time)."""
    truth = sorted(int(x) for x in truth)
    used = set()
    hits = 0
    for f in sorted(int(x) for x in found):
        for k, b in enumerate(truth):
            if k not in used and abs(f - b) <= tolerance:
                used.add(k)
                hits += 1
                break
    p = hits / len(found) if len(found) else 0.0
    r = hits / len(truth) if truth else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def true_boundaries(stream: Stream) -> list[int]:
    """Frames where a sign starts or ends (end exclusive) in ``stream``."""
    out = set()
    for s in stream.truth:
        out.update((s.start, s.end))
    return sorted(out)
