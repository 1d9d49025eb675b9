"""What a dataset holds, in a few lines: classes, clips per group, frames, and the folds a protocol makes.

`gspmc info PATH` prints :func:`describe_data`; it is how to check your own recordings were read as
meant (the classes from the folders, the sessions or signers from the path pattern) before training.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from gspmc.data.sample import ClipSet


def group_columns(clips: ClipSet) -> list[str]:
    """Per-clip columns that can be a protocol's ``data.group``: ``signer`` (if any clip has one) and meta."""
    known = ["signer"] if any(s.signer for s in clips.samples) else []
    return known + [k for k in sorted(clips.meta) if k != "split"]


def _counts_line(counter: Counter[str], limit: int = 12) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k or '(none)'} {v:,}" for k, v in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def describe_data(clips: ClipSet, protocols: Sequence[tuple[str, Any]] = (), seed: int = 0) -> str:
    """Classes with clip counts, frames per clip, clips per group value, and per protocol the
    train / val / test clips and classes of each fold (``protocols``: (title, protocol) pairs)."""
    from gspmc.data.protocols import group_values

    frames = np.array([s.num_frames for s in clips.samples])
    counts = clips.class_counts()
    lines = [f"{clips.name}: {len(clips):,} clips, layout {clips.layout}, {len(clips.classes)} classes",
             f"frames per clip: min {frames.min()}, median {int(np.median(frames))}, max {frames.max()} "
             f"(input.window: auto would use {max(1, int(round(float(np.median(frames)))))})"]
    lines.append("classes: " + ", ".join(f"{c} {n:,}" for c, n in zip(clips.classes, counts, strict=True)))
    unlabelled = int((clips.labels() < 0).sum())
    if unlabelled:
        lines.append(f"clips without a label: {unlabelled:,}")
    for column in group_columns(clips):
        values = group_values(clips, column)
        lines.append(f"clips per {column} ({len(set(values))}): {_counts_line(Counter(values))}")
    for title, protocol in protocols:
        lines.append(f"folds of {title}:")
        for fold in protocol.fold_names(clips):
            try:
                split = protocol.split(clips, fold, seed)
            except Exception as err:  # a fold this data cannot make: say why, go on
                lines.append(f"  {fold}: {err}")
                continue
            parts = [f"{p} {split.summary[p]['clips']:,} clips / {split.summary[p]['classes']} classes"
                     for p in ("train", "val", "test")]
            lines.append(f"  {fold}: " + ", ".join(parts))
    return "\n".join(lines)
