"""The data module's choices that come from the data: ``input.window: auto`` reads the training split only."""

from __future__ import annotations

import numpy as np

from gspmc.data.sample import ClipSet, Sample
from gspmc.train.config import load_config
from gspmc.train.datamodule import SkeletonDataModule


def _clipset() -> ClipSet:
    """Two signers with 6 10-frame clips per class, one with 15 40-frame clips per class: over every
    clip the median is 40, over the first two signers' 10."""
    rng = np.random.default_rng(0)
    samples = []
    for signer, frames, count in (("a", 10, 6), ("b", 10, 6), ("c", 40, 15)):
        for label in range(2):
            for k in range(count):
                coords = rng.normal(size=(frames, 75, 2)).astype(np.float32)
                samples.append(Sample(coords, np.ones((frames, 75), bool), "mediapipe-75", label,
                                      f"{signer}{label}{k}", signer=signer))
    return ClipSet(samples, ["x", "y"], "mediapipe-75", "toy")


def test_window_auto_is_the_training_clips_median_not_the_test_groups() -> None:
    clips = _clipset()
    # hold out the long-clip signer: its 40 frames (the majority of all clips) must not count
    cfg = load_config(None, ["input.layout=sam-slr-27", "input.window=auto", "data.protocol=leave-one-group-out",
                             "data.group=signer", "data.fold=c"])
    dm = SkeletonDataModule(cfg, clips)
    dm.setup("fit")
    assert dm.cfg.input.window == 10
    assert sorted({clips.samples[i].signer for i in dm.split.test}) == ["c"]
    # holding out a short-clip signer: the training side is half long clips, so the median moves
    cfg = load_config(None, ["input.layout=sam-slr-27", "input.window=auto", "data.protocol=leave-one-group-out",
                             "data.group=signer", "data.fold=a"])
    dm = SkeletonDataModule(cfg, clips)
    dm.setup("fit")
    lengths = [clips.samples[i].num_frames for i in dm.split.train]
    assert dm.cfg.input.window == int(round(float(np.median(lengths))))
