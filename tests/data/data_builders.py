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



def learnable_clip(rng: np.random.Generator, label: int, frames: int, offset: float = 0.0) -> np.ndarray:
    """(frames, 258) MP_Data vectors: a still body; the right hand stays (label 0), moves up (1) or right
    (2); the left hand is never detected. ``offset`` shifts the whole person (a session / signer effect)."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, 0] = 0.5 + rng.normal(0, 0.02, 33)
    pose[:, 1] = 0.5 + np.linspace(-0.3, 0.4, 33)
    pose[11, :2], pose[12, :2] = (0.6, 0.4), (0.4, 0.4)  # shoulders
    pose[:, 3] = 1.0
    pose[:, :2] += offset
    out = []
    for t in range(frames):
        step = t / max(frames - 1, 1)
        hand = np.zeros((21, 3), np.float32)
        hand[:, 0] = 0.35 + offset + rng.normal(0, 0.01, 21) + (0.2 * step if label == 2 else 0.0)
        hand[:, 1] = 0.6 + offset + rng.normal(0, 0.01, 21) - (0.2 * step if label == 1 else 0.0)
        out.append(np.concatenate([pose.reshape(-1), np.zeros(63, np.float32), hand.reshape(-1)]))
    return np.stack(out).astype(np.float32)


def write_session_trees(root: Path, sessions: tuple[str, ...] = ("session1", "session2", "session3"),
                        classes: tuple[str, ...] = ("hello", "thanks", "yes"), clips_per_class: int = 4,
                        frames: int = 30, seed: int = 0) -> Path:
    """One MP_Data tree per recording session: ``root/<session>/<class>/<sequence>/<frame>.npy``."""
    rng = np.random.default_rng(seed)
    for s, session in enumerate(sessions):
        for label, name in enumerate(classes):
            for k in range(clips_per_class):
                seq = root / session / name / str(k)
                seq.mkdir(parents=True)
                for t, vec in enumerate(learnable_clip(rng, label, frames, offset=0.03 * s)):
                    np.save(seq / f"{t}.npy", vec)
    return root
