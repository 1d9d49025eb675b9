"""Turn a recorded clip into a model input: validate, convert, normalise, sample, augment, stream.

:func:`make_input` is the one pipeline used for training, evaluation and live prediction::

    coords (T0, V0, D), mask (T0, V0) in layout ``src``
      1. validate      finite where observed, >= 1 frame, V0 matches ``src``       (DataError)
      2. convert       to ``cfg.layout`` by joint name; keep x, y (z is dropped)
      3. drop frames   in which no joint of ``cfg.layout`` is observed (if any frame has one; a clip
                       with nothing observed at all is valid, e.g. the empty scene of an idle class,
                       and gives all zeros)
      4. normalise     "shoulders": centre = mid-shoulders, scale = shoulder width (see normalize())
      5. sample        to ``cfg.window`` frames: uniform at test, random crop + segment sampling in training
      6. augment       (training only) rotation, scale, shear, shift, mirror, noise, joint / hand
                       dropout, hand gaps (a hand missing for a span of frames), temporal masking
                       (every joint missing for a span of frames)
      7. missing       "zero": coordinates of missing joints are 0; "last": each missing joint holds
                       its last seen position (the first seen one before it appears); c stays 0
      8. hand frame    (``cfg.hand_frame``) two more channels: each hand joint relative to its
                       hand's wrist, in units of the clip's palm size (see hand_frame())
      9. stream        joint | bone | joint_motion | bone_motion  (gspmc.pose.streams)
    -> (C, T, V) float32, channels (x, y, c) or (x, y, hx, hy, c); c = observation mask (or
       mask * score, or 1 everywhere with ``confidence: none``); C = ``cfg.channels``

Randomness comes only from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gspmc.errors import ConfigError, DataError
from gspmc.pose.layouts import Layout, conversion_indices, get_layout
from gspmc.pose.streams import STREAMS, compute_stream

__all__ = [
    "AugmentConfig",
    "InputConfig",
    "NORMALIZATIONS",
    "augment_clip",
    "fill_missing",
    "hand_frame",
    "make_input",
    "make_inputs",
    "mirror",
    "normalization_params",
    "normalize",
    "sample_indices",
    "shear",
    "time_mask",
]

NORMALIZATIONS = ("shoulders", "none")
CONFIDENCES = ("mask", "score", "none")
MISSING = ("zero", "last")
HANDS = ("left", "right")
PALM = ("hand_wrist", "middle_mcp")  # per hand: the hand frame's origin and the joint that sets its unit


@dataclass(frozen=True)
class InputConfig:
    """Everything needed to turn a clip into a model input; saved in checkpoints."""

    layout: str = "sam-slr-27"  # model layout (registry name) the clip is converted to
    window: int = 64  # T, frames fed to the model
    stream: str = "joint"  # joint | bone | joint_motion | bone_motion
    normalize: str = "shoulders"  # "shoulders": centre on mid-shoulders, unit shoulder width | "none"
    confidence: str = "mask"  # channel c: "mask" (0/1 observed) | "score" (mask * score) | "none" (c = 1)
    missing: str = "zero"  # a missing joint's x, y: "zero" | "last" (its last seen position; c stays 0)
    hand_frame: bool = False  # add (hx, hy): hand joints relative to their wrist, in palm sizes

    @property
    def channels(self) -> int:
        """C, the number of input channels: x, y[, hx, hy], c."""
        return 5 if self.hand_frame else 3

    @classmethod
    def from_dict(cls, data: dict) -> InputConfig:
        """Build from plain data (a checkpoint's or an exported file's ``input``); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown InputConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, (int, np.integer)) or self.window < 1:
            raise ConfigError(f"InputConfig.window must be a positive integer, got {self.window!r}")
        if self.stream not in STREAMS:
            raise ConfigError(f"InputConfig.stream {self.stream!r} is unknown; known: {', '.join(STREAMS)}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"InputConfig.normalize {self.normalize!r} is unknown; known: {', '.join(NORMALIZATIONS)}")
        if self.confidence not in CONFIDENCES:
            raise ConfigError(f"InputConfig.confidence {self.confidence!r} is unknown; known: {', '.join(CONFIDENCES)}")
        if self.missing not in MISSING:
            raise ConfigError(f"InputConfig.missing {self.missing!r} is unknown; known: {', '.join(MISSING)}")
        lay = get_layout(self.layout)  # a clear error for an unknown layout
        if self.hand_frame:
            need = [f"{h}_{j}" for h in HANDS for j in PALM]
            absent = [j for j in need if not lay.has(j)]
            if absent:
                raise ConfigError(f"InputConfig.hand_frame needs the hand joints {', '.join(need)}; layout "
                                  f"{self.layout!r} lacks {', '.join(absent)}")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; all geometry is in normalised units (shoulder widths).

    Every default is the step's neutral value (the step is off): ``AugmentConfig()`` only resamples
    frames at random positions. The recipes (e.g. rotation 10, scale 0.9-1.1, shift 0.1, crop 0.8-1.0)
    are written out in the shipped configs (``gspmc/configs``), the one place they live.
    """

    rotation_deg: float = 0.0  # in-plane rotation, angle uniform in [-r, r] degrees (0: off)
    scale: tuple[float, float] = (1.0, 1.0)  # isotropic scale factor, uniform in [lo, hi] (1: off)
    shift: float = 0.0  # translation per axis, uniform in [-s, s] shoulder widths (0: off)
    mirror_prob: float = 0.0  # probability of a left/right mirror (x -> -x and left_* <-> right_*);
    # off by default: it turns the dominant hand into the other one, which per-part descriptions name
    noise_std: float = 0.0  # Gaussian jitter per coordinate, in shoulder widths
    joint_dropout: float = 0.0  # probability to mask each observed (frame, joint)
    hand_dropout: float = 0.0  # probability to mask a whole hand in a frame (detectors miss hands)
    hand_gap: float = 0.0  # probability, per hand and clip, that the hand is missing for a random span
    crop: tuple[float, float] = (1.0, 1.0)  # fraction of the clip kept by the random temporal crop (1: all)
    speed: tuple[float, float] = (1.0, 1.0)  # play-back rate, uniform in [lo, hi] (>1 faster; 1: off)
    shear: float = 0.0  # shear factors (x += a y, y += b x), each uniform in [-s, s] (0: off)
    time_mask: float = 0.0  # probability per clip that one random span of frames is masked (all joints)
    time_mask_max: float = 0.4  # the longest masked span, as a share of the window (at least 1 frame)

    def __post_init__(self) -> None:
        for f in ("scale", "crop", "speed"):  # YAML gives lists; keep the frozen config hashable
            value = getattr(self, f)
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ConfigError(f"AugmentConfig.{f} must be a pair [lo, hi], got {value!r}")
            object.__setattr__(self, f, (float(value[0]), float(value[1])))
        lo, hi = self.scale
        if not 0 < lo <= hi:
            raise ConfigError(f"AugmentConfig.scale must satisfy 0 < lo <= hi, got {self.scale}")
        clo, chi = self.crop
        if not 0 < clo <= chi <= 1:
            raise ConfigError(f"AugmentConfig.crop must satisfy 0 < lo <= hi <= 1, got {self.crop}")
        slo, shi = self.speed
        if not 0 < slo <= shi:
            raise ConfigError(f"AugmentConfig.speed must satisfy 0 < lo <= hi, got {self.speed}")
        for f in ("mirror_prob", "joint_dropout", "hand_dropout", "hand_gap", "time_mask"):
            if not 0 <= getattr(self, f) <= 1:
                raise ConfigError(f"AugmentConfig.{f} must be a probability, got {getattr(self, f)}")
        for f in ("rotation_deg", "shift", "noise_std", "shear"):
            if getattr(self, f) < 0:
                raise ConfigError(f"AugmentConfig.{f} must be >= 0, got {getattr(self, f)}")
        if not 0 < self.time_mask_max <= 1:
            raise ConfigError(f"AugmentConfig.time_mask_max must be in (0, 1], got {self.time_mask_max}")


# ------------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------------
def _validate(coords: np.ndarray, mask: np.ndarray, src: Layout, source: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Shapes, joint count and finiteness (where observed); returns the arrays and a bool mask."""
    coords, mask = np.asarray(coords), np.asarray(mask)
    if coords.ndim != 3 or coords.shape[-1] not in (2, 3):
        raise DataError(source, f"a clip must be coords of shape (T, V, 2|3), got {coords.shape}")
    t0, v0, _ = coords.shape
    if t0 == 0:
        raise DataError(source, "the clip has no frames")
    if v0 != src.num_joints:
        raise DataError(source, f"the clip has {v0} joints but its layout {src.name!r} has {src.num_joints}")
    if mask.shape != (t0, v0):
        raise DataError(source, f"mask of shape {mask.shape} does not match coords of shape {coords.shape}")
    mask = mask.astype(bool)
    bad = ~np.isfinite(coords).all(axis=-1) & mask  # (T0, V0) observed but NaN/inf
    if bad.any():
        t, v = np.argwhere(bad)[0]
        raise DataError(source, f"{int(bad.sum())} observed joints have NaN/inf coordinates "
                                f"(first: frame {t}, joint {src.joints[v]!r})")  # fmt: skip
    return coords, mask


def _shoulder_width(lay: Layout) -> tuple[int, int] | None:
    if lay.has("left_shoulder") and lay.has("right_shoulder"):
        return lay.index("left_shoulder"), lay.index("right_shoulder")
    return None


def normalization_params(xy: np.ndarray, mask: np.ndarray, layout: Layout, eps: float = 1e-6) -> tuple[np.ndarray, float]:
    """Centre (2,) and scale of a clip for :func:`normalize` (see there); xy (T, V, 2), mask (T, V)."""
    pair = _shoulder_width(layout)
    if pair is not None:
        li, ri = pair
        both = mask[:, li] & mask[:, ri]  # (T,)
        if both.any():
            ls, rs = xy[both, li], xy[both, ri]  # (T', 2)
            width = float(np.median(np.linalg.norm(ls - rs, axis=-1)))
            if width > eps:
                return np.median((ls + rs) / 2, axis=0).astype(np.float32), width
    pts = xy[mask]  # (N, 2)
    if len(pts) == 0:
        return np.zeros(2, np.float32), 1.0
    scale = float((pts.max(axis=0) - pts.min(axis=0)).max()) / 2
    return np.median(pts, axis=0).astype(np.float32), (scale if scale > eps else 1.0)


def normalize(xy: np.ndarray, mask: np.ndarray, layout: Layout, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre and scale a clip so the mid-shoulder point is 0 and the shoulder width is 1.

    One centre and one scale per clip (per-frame centring would add the shoulders' detection
    jitter to every joint): the centre is the per-axis median, over the frames where both
    shoulders are observed, of the mid-shoulder point; the scale is the median shoulder width
    (x-y distance) over those frames. Medians ignore frames where the detector briefly jumps.

    Fallback when no frame has both shoulders (or the layout has none, or the width is ~0): the
    centre is the per-axis median of all observed points and the scale is half the larger side of
    their bounding box (so the clip spans about [-1, 1]); if that is ~0 too (a single point), 1.

    Args:
        xy: (T, V, 2) coordinates; masked entries are ignored.
        mask: (T, V) bool.
        layout: the layout of ``xy`` (for the shoulders).

    Returns:
        normalised xy (T, V, 2) float32 (masked entries 0), centre (2,), scale.
    """
    centre, scale = normalization_params(xy, mask, layout, eps)
    out = np.where(mask[..., None], (xy - centre) / scale, 0).astype(np.float32)  # (T, V, 2)
    return out, centre, scale


def sample_indices(length: int, window: int, rng: np.random.Generator | None = None,
                   crop: tuple[float, float] = (1.0, 1.0),
                   speed: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:  # fmt: skip
    """Frame indices (window,) that resample a clip of ``length`` frames to ``window`` frames.

    Test (``rng`` None): uniform, the centre of each of ``window`` equal segments,
    ``floor((t + 0.5) * length / window)``; clips shorter than the window repeat frames
    (e.g. length 3 -> window 6 gives 0 0 1 1 2 2), a 1-frame clip repeats its frame.

    Training (``rng`` given): a random crop of ``round(u * length)`` frames, ``u`` uniform in
    ``crop``, at a random start, split into ``n`` equal segments with one random frame drawn
    from each (TSN-style segment sampling), so speed and phase vary between epochs. Without a
    speed change ``n = window``. With ``speed`` (rate ``r`` uniform in [lo, hi], drawn only when
    the range is not exactly 1), the crop plays in ``n = round(window / r)`` frames: ``r > 1``
    (faster) gives ``n < window`` and the last frame is held for the rest of the window; ``r < 1``
    (slower) gives ``n > window`` and a random run of ``window`` of the ``n`` frames is kept.
    """
    if length < 1 or window < 1:
        raise ConfigError(f"cannot sample {window} frames from a clip of {length}")
    if rng is None:
        idx = np.floor((np.arange(window) + 0.5) * length / window).astype(np.int64)
        return np.minimum(idx, length - 1)
    lo, hi = crop
    keep = min(length, max(1, round(rng.uniform(lo, hi) * length)))
    start = int(rng.integers(0, length - keep + 1))
    n = window
    if speed != (1.0, 1.0):
        n = max(1, round(window / rng.uniform(*speed)))
    edges = start + keep * np.arange(n + 1) / n  # (n + 1,) segment boundaries
    pos = edges[:-1] + rng.uniform(0, 1, n) * (edges[1:] - edges[:-1])
    idx = np.clip(np.floor(pos).astype(np.int64), start, start + keep - 1)  # (n,)
    if n < window:  # faster: hold the last frame
        return np.concatenate([idx, np.full(window - n, idx[-1], np.int64)])
    if n > window:  # slower: a random run of window frames
        first = int(rng.integers(0, n - window + 1))
        return idx[first:first + window]
    return idx


def mirror(xy: np.ndarray, mask: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror of a centred clip: x -> -x and every ``left_*`` joint swapped with its
    ``right_*`` twin. An involution. xy (..., V, 2), mask (..., V)."""
    m = layout.mirror_indices()
    out = xy[..., m, :].copy()  # (..., V, 2)
    out[..., 0] *= -1
    return out, mask[..., m]


def augment_clip(xy: np.ndarray, mask: np.ndarray, layout: Layout, aug: AugmentConfig,
                 rng: np.random.Generator, conf: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """Random mirror, rotation, scale, shear, shift, noise, dropout and masking of a normalised clip.

    One random draw per clip for the geometric steps (the whole clip moves as one affine map;
    rotation, scale and shear about the origin, i.e. the mid-shoulder point after normalisation),
    except noise and dropout, which are per (frame, joint) / per (frame, hand). A step at its
    neutral value draws nothing from ``rng`` (so adding a step leaves the other steps' draws alone).

    Args:
        xy: (T, V, 2) normalised coordinates; mask: (T, V) bool; conf: optional (T, V) scores,
            permuted with the joints when mirroring.

    Returns:
        xy (T, V, 2) float32, mask (T, V) (dropout only removes joints), conf (or None).
    """
    xy = xy.astype(np.float32, copy=True)
    mask = mask.copy()
    if aug.mirror_prob > 0 and rng.uniform() < aug.mirror_prob:
        xy, mask = mirror(xy, mask, layout)
        if conf is not None:
            conf = conf[..., layout.mirror_indices()]
    angle = math.radians(rng.uniform(-aug.rotation_deg, aug.rotation_deg)) if aug.rotation_deg > 0 else 0.0
    s = rng.uniform(*aug.scale)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
    xy = (xy @ rot.T) * s  # (T, V, 2)
    if aug.shear > 0:
        xy = shear(xy, *rng.uniform(-aug.shear, aug.shear, 2))
    if aug.shift > 0:
        xy = xy + rng.uniform(-aug.shift, aug.shift, 2).astype(np.float32)
    if aug.noise_std > 0:
        xy = xy + rng.normal(0, aug.noise_std, xy.shape).astype(np.float32)
    if aug.joint_dropout > 0:
        mask &= rng.uniform(size=mask.shape) >= aug.joint_dropout
    if aug.hand_dropout > 0:
        parts = layout.part_indices()
        for hand in ("left_hand", "right_hand"):
            if hand in parts:
                drop = rng.uniform(size=mask.shape[0]) < aug.hand_dropout  # (T,)
                mask[np.ix_(drop, parts[hand])] = False
    if aug.hand_gap > 0:
        mask = hand_gap(mask, layout, aug.hand_gap, rng)
    if aug.time_mask > 0:
        mask = time_mask(mask, aug.time_mask, aug.time_mask_max, rng)
    return xy, mask, conf


def shear(xy: np.ndarray, a: float, b: float) -> np.ndarray:
    """Shear about the origin: ``x' = x + a y``, ``y' = y + b x`` (matrix [[1, a], [b, 1]]).

    xy (..., 2) -> (..., 2) float32."""
    m = np.array([[1.0, a], [b, 1.0]], np.float32)
    return (xy @ m.T).astype(np.float32, copy=False)


def time_mask(mask: np.ndarray, prob: float, max_share: float, rng: np.random.Generator) -> np.ndarray:
    """With probability ``prob``, mask every joint over one random run of frames (temporal masking).

    The run's length is uniform in 1..L with ``L = max(1, floor(max_share * T))`` and its start
    uniform among the positions where it fits: the model sees a clip with a hole, as after a
    detector drop-out of the whole person. One draw when the clip is not hit, three when it is.
    mask (T, V) -> a new (T, V).
    """
    mask = mask.copy()
    if rng.uniform() < prob:
        t = mask.shape[0]
        longest = max(1, int(math.floor(max_share * t)))
        span = int(rng.integers(1, longest + 1))
        first = int(rng.integers(0, t - span + 1))
        mask[first:first + span] = False
    return mask


def hand_gap(mask: np.ndarray, layout: Layout, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Mask each hand, with probability ``prob`` per hand, over one random run of frames.

    The run's length is uniform in 1..T and its start uniform among the positions where it fits,
    so a hand vanishes for a few frames or for the whole clip, as a detector that loses a hand
    does. Two draws per hand when it is hit, one when it is not. mask (T, V) -> a new (T, V).
    """
    mask = mask.copy()
    parts = layout.part_indices()
    t = mask.shape[0]
    for hand in ("left_hand", "right_hand"):
        if hand in parts and rng.uniform() < prob:
            span = int(rng.integers(1, t + 1))
            first = int(rng.integers(0, t - span + 1))
            mask[first:first + span, parts[hand]] = False
    return mask


def fill_missing(xy: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each missing joint takes its last seen position (before its first sighting: the first one).

    Args:
        xy: (T, V, C) coordinates; mask: (T, V) bool.

    Returns:
        filled xy (T, V, C) and ``valid`` (T, V): True where the value is an observation or a
        fill; a joint never seen in the clip stays 0 and not valid.
    """
    t = np.arange(xy.shape[0])[:, None]  # (T, 1)
    last = np.maximum.accumulate(np.where(mask, t, -1), axis=0)  # (T, V) index of the last sighting
    first = np.argmax(mask, axis=0)  # (V,) the first sighting (0 when never seen)
    src = np.where(last >= 0, last, first[None, :])  # (T, V)
    ever = mask.any(axis=0)  # (V,)
    out = np.take_along_axis(xy, src[..., None], axis=0)  # (T, V, C)
    valid = np.broadcast_to(ever, mask.shape).copy()
    return np.where(valid[..., None], out, 0).astype(xy.dtype, copy=False), valid


def hand_frame(xy: np.ndarray, mask: np.ndarray, layout: Layout, eps: float = 1e-6) -> np.ndarray:
    """Hand joints in their own hand's frame: origin the hand's wrist, unit the palm size.

    For each hand, per frame: ``(p - wrist) / palm``, with ``palm`` the clip's median distance from
    the hand's wrist to its middle-finger MCP (over the frames where both are seen; 1 if never).
    One scale per clip, like :func:`normalize`, so the detector's jitter is not amplified; the
    wrist is per frame, since the hand moves. Non-hand joints, and hand joints in frames where
    the joint or its wrist is missing, are 0. Invariant to where the signer stands and to the
    signer's size (any translation and isotropic scale of the clip).

    Args:
        xy: (T, V, 2) coordinates in ``layout``; mask: (T, V) bool.

    Returns:
        (T, V, 2) float32.
    """
    out = np.zeros(xy.shape, np.float32)  # (T, V, 2)
    parts = layout.part_indices()
    for side in HANDS:
        wi, mi = (layout.index(f"{side}_{j}") for j in PALM)
        joints = parts.get(f"{side}_hand", np.array([wi]))
        both = mask[:, wi] & mask[:, mi]  # (T,)
        palm = float(np.median(np.linalg.norm(xy[both, mi] - xy[both, wi], axis=-1))) if both.any() else 1.0
        palm = palm if palm > eps else 1.0
        rel = (xy[:, joints] - xy[:, wi : wi + 1]) / palm  # (T, J, 2)
        ok = mask[:, joints] & mask[:, wi : wi + 1]  # (T, J)
        out[:, joints] = np.where(ok[..., None], rel, 0)
    return out


# ------------------------------------------------------------------------------------------------
# The pipeline
# ------------------------------------------------------------------------------------------------
def make_input(
    coords: np.ndarray,
    mask: np.ndarray,
    src_layout: str,
    cfg: InputConfig,
    augment: AugmentConfig | None = None,
    rng: np.random.Generator | None = None,
    *,
    score: np.ndarray | None = None,
    source: str | None = None,
) -> np.ndarray:
    """One clip -> model input ``(C, cfg.window, V)`` float32, channels (x, y[, hx, hy], c).

    Args:
        coords: (T0, V0, D) coordinates in layout ``src_layout``, D = 2 or 3 (z is dropped).
        mask: (T0, V0) True where a joint was observed.
        src_layout: registry name of the clip's layout.
        cfg: the model's input settings.
        augment: training augmentation (and random temporal sampling); None at test time.
        rng: the randomness for ``augment``; required when ``augment`` is given.
        score: (T0, V0) detector confidence, used for channel c when ``cfg.confidence == "score"``.
        source: the clip's file or id, named in error messages.

    Returns:
        (C, T, V) float32, C = ``cfg.channels``: normalised x, y (0 where a joint is missing, or
        its last seen position with ``missing: last``), with ``hand_frame`` the hand-centred
        hx, hy, and c = mask (mask * score; 1 with ``confidence: none``), in ``cfg.stream``.

    Raises:
        DataError: bad clip (wrong joint count, no frames, NaN/inf where observed). A clip in which
            nothing is observed is not an error: it gives all zeros (c = 0 everywhere).
        ConfigError: ``augment`` without ``rng``; "score" confidence without ``score``.
    """
    src, dst = get_layout(src_layout), get_layout(cfg.layout)
    coords, mask = _validate(coords, mask, src, source)
    if augment is not None and rng is None:
        raise ConfigError("make_input: augmentation needs an np.random.Generator (rng)")
    if cfg.confidence == "score":
        if score is None:
            raise ConfigError(f"InputConfig.confidence is 'score' but the clip{' ' + source if source else ''} has no scores")
        score = np.asarray(score, dtype=np.float32)
        if score.shape != mask.shape:
            raise DataError(source, f"score of shape {score.shape} does not match mask of shape {mask.shape}")
        score = np.where(mask & np.isfinite(score), score, 0).astype(np.float32)

    # 2. convert by joint name; keep x, y
    idx = conversion_indices(src, dst)
    have = idx >= 0
    take = np.where(have, idx, 0)
    m = mask[:, take] & have  # (T0, V)
    xy = np.where(m[..., None], coords[:, take, :2], 0).astype(np.float32)  # (T0, V, 2); masked NaNs -> 0
    conf = None if score is None else np.where(m, score[:, take], 0)  # (T0, V)

    # 3. drop frames in which nothing of the model layout was seen
    seen = m.any(axis=1)  # (T0,)
    if seen.any() and not seen.all():
        xy, m = xy[seen], m[seen]
        conf = None if conf is None else conf[seen]

    # 4. normalisation statistics from the whole clip (applied after sampling: fewer frames)
    centre, scale = (normalization_params(xy, m, dst) if cfg.normalize == "shoulders"
                     else (np.zeros(2, np.float32), 1.0))  # fmt: skip

    # 5. temporal sampling, then normalise
    t_idx = sample_indices(len(xy), cfg.window, rng if augment is not None else None,
                           augment.crop if augment is not None else (1.0, 1.0),
                           augment.speed if augment is not None else (1.0, 1.0))  # fmt: skip
    xy, m = xy[t_idx], m[t_idx]  # (T, V, 2), (T, V)
    conf = None if conf is None else conf[t_idx]
    if cfg.normalize == "shoulders":
        xy = (xy - centre) / np.float32(scale)

    # 6. augmentation
    if augment is not None:
        xy, m, conf = augment_clip(xy, m, dst, augment, rng, conf)
    c = m.astype(np.float32) if conf is None else np.where(m, conf, 0).astype(np.float32)  # (T, V)

    # 7. missing joints: 0, or held at their last seen position (valid: where x, y carry a value)
    xy = np.where(m[..., None], xy, 0).astype(np.float32)
    valid = m
    if cfg.missing == "last":
        xy, valid = fill_missing(xy, m)

    # 8. hand-centred channels (from the observed joints only)
    if cfg.hand_frame:
        xy = np.concatenate([xy, hand_frame(xy, m, dst)], axis=-1)  # (T, V, 4)

    # 9. stream: the values follow the joints that carry a value (observed or filled), c the observed
    parents = dst.parents()
    if cfg.missing == "zero" and cfg.confidence != "none":
        xy, c = compute_stream(xy, c, cfg.stream, parents)
    else:
        values, c_valid = compute_stream(xy, valid.astype(np.float32), cfg.stream, parents)
        if cfg.confidence == "none":  # no mask channel: the model sees only the values
            c = np.ones_like(c_valid)
        else:
            _, c = compute_stream(xy, c, cfg.stream, parents)
        xy = values
    out = np.concatenate([xy, c[..., None]], axis=-1)  # (T, V, C)
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)  # (C, T, V)


def make_inputs(
    clips: Sequence[tuple[np.ndarray, np.ndarray]],
    src_layout: str,
    cfg: InputConfig,
    augment: AugmentConfig | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A batch of clips ``[(coords, mask), ...]`` (lengths may differ) -> (N, C, T, V) float32.

    The same as stacking :func:`make_input` over the clips (drawing from one ``rng`` in order).
    """
    if not clips:
        v = get_layout(cfg.layout).num_joints
        return np.zeros((0, cfg.channels, cfg.window, v), np.float32)
    return np.stack([make_input(c, m, src_layout, cfg, augment, rng) for c, m in clips])  # (N, C, T, V)
