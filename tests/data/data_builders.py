"""Builders for the data tests: small MP_Data vectors, trees and packed npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mp_frame(rng: np.random.Generator, left: bool = True, right: bool = True, pose: bool = True,
             face: bool = False) -> np.ndarray:
    """One MP_Data vector (258, or 1662 with ``face``) with the given parts detected (others 0)."""
    parts = [rng.uniform(0.1, 0.9, 132) if pose else np.zeros(132)]
    if face:
        parts.append(rng.uniform(0.1, 0.9, 1404))
    parts += [rng.uniform(0.1, 0.9, 63) if left else np.zeros(63), rng.uniform(0.1, 0.9, 63) if right else np.zeros(63)]
    return np.concatenate(parts).astype(np.float32)


def make_npz_arrays(n: int = 6, t: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """A small packed-npz dict: n clips of t frames, 3 classes, 2 signers; clip 1 lacks its left
    hand in every frame, clip 2 is 3 frames long (zero padded)."""
    rng = np.random.default_rng(seed)
    kp = np.stack([np.stack([mp_frame(rng, left=(i != 1)) for _ in range(t)]) for i in range(n)])  # (n, t, 258)
    lengths = np.full(n, t, dtype=np.int32)
    lengths[2] = 3
    kp[2, 3:] = 0
    return {
        "keypoints": kp.astype(np.float16),
        "lengths": lengths,
        "labels": np.arange(n, dtype=np.int64) % 3,
        "classes": np.array(["coffee", "tea", "-"]),
        "signers": np.array(["ann", "bob"] * (n // 2) + ["ann"] * (n % 2)),
        "sessions": np.array(["MP_Data"] * n),
        "ids": np.array([f"MP_Data/c/{i}" for i in range(n)]),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def write_tree(root: Path, clips: dict[tuple[str, str], np.ndarray]) -> Path:
    """Write an MP_Data tree: {(class, sequence): (T, F) frames} -> root/<class>/<seq>/<frame>.npy."""
    for (cls, seq), frames in clips.items():
        d = root / cls / seq
        d.mkdir(parents=True, exist_ok=True)
        for k, vec in enumerate(frames):
            np.save(d / f"{k}.npy", vec)
    return root

