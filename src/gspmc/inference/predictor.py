"""One clip -> fused class probabilities: the Predictor that ``predict``, ``live``, ``transcribe`` and the studio share.

Pipeline for one input:

1. keypoints: a video is run through MediaPipe Holistic (:mod:`gspmc.video.holistic`); a ``.pose``
   or ``.npz`` keypoint file is read (:mod:`gspmc.video.posefile`). Both give the
   ``mediapipe-holistic-543`` layout.
2. units (``units="normalized"``, the default): x and y are divided by the frame width and height,
   i.e. MediaPipe's own normalised image coordinates, the units of MediaPipe-recorded training data
   such as MP_Data (traduttore, what ``make demo`` trains on). ``units="pixels"`` keeps pixels, the
   units :func:`gspmc.data.readers.posefile.read_pose_file` gives, for a model trained on ``.pose``
   files. After the "shoulders" normalisation the two differ only in aspect ratio (x is scaled by
   1/width, y by 1/height), so this matters for non-square videos only. Checkpoints do not record
   their training units yet: choose the one that matches the training data.
3. model input: :func:`gspmc.pose.transforms.make_input` converts the layout to the model's layout
   by joint name and applies the checkpoint's ``InputConfig`` (window, stream, normalisation);
   uniform temporal sampling, no augmentation.
4. scores: each model's logits -> softmax probabilities ``p_m`` (N, K).
5. fusion (several checkpoints, e.g. the four streams): ``p = sum_m w_m p_m / sum_m w_m``, a
   weighted average of the per-model softmax probabilities, so ``p`` is itself a distribution
   (weights default to 1 each). All models must have the same class list, in the same order.

A model is a :class:`gspmc.inference.runners.Scorer`: a trained checkpoint, an exported ONNX file or
an exported TorchScript file (:func:`gspmc.inference.runners.load_scorer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import ConfigError, DataError
from gspmc.inference.runners import Scorer, load_scorer
from gspmc.inference.scores import fuse, fusion_weights, rank
from gspmc.pose.transforms import make_input
from gspmc.video.holistic import LAYOUT, VIDEO_EXTENSIONS, HolisticClip, HolisticRunner, extract_video
from gspmc.video.posefile import read_clip

POSE_EXTENSIONS = (".pose", ".npz")
UNITS = ("normalized", "pixels")


@dataclass(frozen=True)
class Prediction:
    """Top-k result for one input."""

    input: str
    glosses: list[str]
    probs: list[float]
    frames: int

    def to_json(self) -> dict:
        return {
            "input": self.input,
            "frames": self.frames,
            "top": [{"gloss": g, "prob": round(float(p), 6)} for g, p in zip(self.glosses, self.probs, strict=True)],
        }


# --- models -------------------------------------------------------------------------------------
def check_same_classes(scorers: Sequence[Scorer], names: Sequence[str]) -> list[str]:
    """The shared class list of several models; a clear error when they differ."""
    first = list(scorers[0].classes)
    for scorer, name in zip(scorers[1:], names[1:], strict=True):
        other = list(scorer.classes)
        if other != first:
            if sorted(other) == sorted(first):
                detail = "same classes in a different order"
            else:
                only_a = sorted(set(first) - set(other))[:5]
                only_b = sorted(set(other) - set(first))[:5]
                detail = f"{len(first)} vs {len(other)} classes; only in first: {only_a}, only in this one: {only_b}"
            raise ConfigError(f"cannot fuse {name} with {names[0]}: class lists differ ({detail})")
    return first


# --- inputs -------------------------------------------------------------------------------------
def normalized_coords(clip: HolisticClip, units: str = "normalized") -> tuple[np.ndarray, np.ndarray]:
    """coords (T, 543, 3) in MediaPipe's normalised image units (x / width, y / height), or in
    pixels with ``units="pixels"``, and mask (T, 543)."""
    if units not in UNITS:
        raise ConfigError(f"units {units!r} unknown; choose one of {UNITS}")
    mask = clip.mask
    if units == "pixels":
        return np.where(mask[..., None], clip.coords, 0.0).astype(np.float32), mask
    if clip.width <= 0 or clip.height <= 0:
        raise DataError(None, f"frame size {clip.width}x{clip.height} unknown: cannot normalise coordinates")
    scale = np.array([clip.width, clip.height, 1.0], np.float32)
    coords = np.where(mask[..., None], clip.coords / scale, 0.0).astype(np.float32)  # (T, 543, 3)
    return coords, mask


def find_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files to predict: the given files, and the videos / keypoint files inside given folders."""
    out: list[Path] = []
    known = VIDEO_EXTENSIONS + POSE_EXTENSIONS
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                raise DataError(path, f"folder holds no video or keypoint file ({', '.join(known)})")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(path, "no such file or folder")
    return out


def load_keypoints(path: str | Path, runner: Any | None = None) -> HolisticClip:
    """Keypoints of one input: extracted on the fly for a video, read for a keypoint file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in POSE_EXTENSIONS:
        return read_clip(path)
    if suffix in VIDEO_EXTENSIONS:
        if runner is None:
            with HolisticRunner() as own:
                return extract_video(path, own)
        return extract_video(path, runner)
    raise DataError(path, f"unknown input type {suffix!r} (expected a video {VIDEO_EXTENSIONS} or {POSE_EXTENSIONS})")


def model_input(coords: np.ndarray, mask: np.ndarray, src_layout: str, input_cfg: Any,
                score: np.ndarray | None = None, source: str | None = None) -> np.ndarray:
    """One clip -> model input (C, T, V) float32 via gspmc.pose (layout conversion by joint name;
    test-time path: uniform temporal sampling, no augmentation)."""
    return make_input(coords, mask, src_layout, input_cfg, None, None, score=score, source=source)


class Predictor:
    """One or several models fused by weighted softmax probabilities (see module docstring)."""

    def __init__(self, scorers: Sequence[Scorer], weights: Sequence[float] | None = None,
                 names: Sequence[str] | None = None, units: str = "normalized") -> None:
        if units not in UNITS:
            raise ConfigError(f"units {units!r} unknown; choose one of {UNITS}")
        self.units = units
        if not scorers:
            raise ConfigError("at least one --checkpoint is needed")
        names = list(names) if names is not None else [f"model{i}" for i in range(len(scorers))]
        self.scorers = list(scorers)
        self.classes = check_same_classes(self.scorers, names)
        self.weights = fusion_weights(weights, len(self.scorers))

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], weights: Sequence[float] | None = None,
                   units: str = "normalized") -> Predictor:
        return cls([load_scorer(p) for p in paths], weights, [str(p) for p in paths], units)

    def probabilities(self, coords: np.ndarray, mask: np.ndarray, src_layout: str = LAYOUT,
                      score: np.ndarray | None = None, source: str | None = None) -> np.ndarray:
        """Fused class probabilities (K,) for one clip (coords (T, V, D), mask (T, V), score (T, V))."""
        per_model = []
        for scorer in self.scorers:
            x = model_input(coords, mask, src_layout, scorer.input_cfg, score, source)[None]  # (1, C, T, V)
            per_model.append(scorer.logits(x))  # (1, K)
        return fuse(per_model, self.weights)[0]  # (K,)

    def top_k(self, probs: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """The k most probable glosses and their probabilities. Probabilities equal up to rounding
        (1e-9) are ties, broken by class order, so the ranking does not depend on the last bits of
        the softmax / fusion arithmetic."""
        order = rank(probs, k)
        return [self.classes[i] for i in order], [float(probs[i]) for i in order]

    def predict_clip(self, clip: HolisticClip, name: str, k: int = 5) -> Prediction:
        coords, mask = normalized_coords(clip, self.units)
        if not mask.any():
            raise DataError(name, "no keypoint was detected in any frame (no person visible?)")
        probs = self.probabilities(coords, mask, LAYOUT, score=clip.confidence, source=name)
        glosses, probs = self.top_k(probs, k)
        return Prediction(name, glosses, probs, clip.num_frames)
