"""Sign segments and the transcript metrics of ``gspmc transcribe`` (docs/transcribe.md).

A segment covers frames ``[start, end)`` (end exclusive) of one input. Metrics:

- temporal IoU of two segments: overlap / union, in frames;
- segment precision / recall / F1: a found segment is a hit when it has the reference segment's gloss
  and temporal IoU >= ``min_iou`` (0.5); matching is one-to-one, greedy by IoU (highest first);
- gloss error rate: Levenshtein distance between the found and reference gloss sequences (each in
  time order) over the reference length (ASR's word error rate on glosses);
- emission delay of a hit: the frame at which the segment was emitted minus the reference segment's
  last frame (``end - 1``); 0 means emitted on the sign's last frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """One sign: frames ``[start, end)``, its gloss and score.

    Attributes:
        emitted: the frame whose arrival made the transcriber emit it (-1: not a streamed segment).
        partial: the input ended while the sign was still going (cut mid-sign).
    """

    start: int
    end: int
    gloss: str
    score: float = 1.0
    emitted: int = -1
    partial: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_json(self, fps: float | None = None) -> dict:
        out = asdict(self)
        out["score"] = round(float(self.score), 4)
        if fps:
            out["start_s"] = round(self.start / fps, 3)
            out["end_s"] = round(self.end / fps, 3)
        return out


def temporal_iou(a: Segment, b: Segment) -> float:
    """Overlap over union of two frame intervals (0 when they do not touch)."""
    inter = min(a.end, b.end) - max(a.start, b.start)
    if inter <= 0:
        return 0.0
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union


def match_segments(found: Sequence[Segment], truth: Sequence[Segment], min_iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one hits (found index, truth index): same gloss, IoU >= ``min_iou``, greedy by IoU."""
    pairs = []
    for i, f in enumerate(found):
        for j, t in enumerate(truth):
            if f.gloss == t.gloss:
                iou = temporal_iou(f, t)
                if iou >= min_iou:
                    pairs.append((-iou, i, j))
    pairs.sort()
    used_f: set[int] = set()
    used_t: set[int] = set()
    hits = []
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            hits.append((i, j))
    return sorted(hits)


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class SegmentScores:
    hits: int
    found: int
    truth: int
    precision: float
    recall: float
    f1: float
    ger: float                 # gloss error rate: edit distance / reference length
    delays: tuple[int, ...]    # emission delay (frames) of each hit whose segment was emitted

    def to_json(self) -> dict:
        out = asdict(self)
        out["delays"] = list(self.delays)
        out["delay_mean"] = float(np.mean(self.delays)) if self.delays else None
        return out


def score_segments(found: Sequence[Segment], truth: Sequence[Segment], min_iou: float = 0.5) -> SegmentScores:
    """Precision, recall, F1, gloss error rate and emission delays of ``found`` against ``truth``."""
    hits = match_segments(found, truth, min_iou)
    n_hit, n_found, n_truth = len(hits), len(found), len(truth)
    precision = n_hit / n_found if n_found else (1.0 if n_truth == 0 else 0.0)
    recall = n_hit / n_truth if n_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    order_f = [s.gloss for s in sorted(found, key=lambda s: (s.start, s.end))]
    order_t = [s.gloss for s in sorted(truth, key=lambda s: (s.start, s.end))]
    ger = edit_distance(order_f, order_t) / n_truth if n_truth else float(n_found > 0)
    delays = tuple(found[i].emitted - (truth[j].end - 1) for i, j in hits if found[i].emitted >= 0)
    return SegmentScores(n_hit, n_found, n_truth, precision, recall, f1, ger, delays)
