"""Benchmark: clip -> model input (gspmc.pose.transforms.make_input), ms per clip on one CPU core.

Two shapes: the traduttore data (20-frame MP_Data clips, mp-data-258 -> sam-slr-27; the real
clips when ../shared/data is there, else random ones of the same shape) and an SLR500-like
shape (100-frame COCO-WholeBody clips -> gspmc-87, window 64). Each is timed at test time
(no augmentation), in training (augmentation + random sampling, bone-motion stream), and against a
minimal reference in the same process (name conversion + uniform frame indices + stacking, no
normalisation / augmentation / streams), reported as a ratio.

    .venv/bin/python bench/pose_inputs.py [--clips 2000]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np

from gspmc.paths import data_dir
from gspmc.pose.layouts import conversion_indices, split_mp_data_vectors
from gspmc.pose.transforms import AugmentConfig, InputConfig, make_input, sample_indices


def _time(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _reference(clips: list[tuple[np.ndarray, np.ndarray]], src: str, cfg: InputConfig) -> np.ndarray:
    idx = conversion_indices(src, cfg.layout)
    take = np.maximum(idx, 0)
    out = []
    for c, m in clips:
        t = sample_indices(len(c), cfg.window)
        xy = c[t][:, take, :2]  # (T, V, 2)
        out.append(np.concatenate([xy, m[t][:, take, None]], axis=-1).transpose(2, 0, 1))  # (C, T, V)
    return np.stack(out)


def _bench(name: str, clips: list[tuple[np.ndarray, np.ndarray]], src: str, cfg: InputConfig) -> None:
    n = len(clips)
    aug = AugmentConfig(mirror_prob=0.5, hand_dropout=0.1, noise_std=0.01)
    train_cfg = InputConfig(cfg.layout, cfg.window, "bone_motion", cfg.normalize)
    rng = np.random.default_rng(0)
    ref = _time(lambda: _reference(clips, src, cfg)) / n * 1e3
    test = _time(lambda: [make_input(c, m, src, cfg) for c, m in clips]) / n * 1e3
    train = _time(lambda: [make_input(c, m, src, train_cfg, aug, rng) for c, m in clips]) / n * 1e3
    print(f"| {name} | {n} | {ref:.3f} | {test:.3f} ({test / ref:.1f}x) | {train:.3f} ({train / ref:.1f}x) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=2000, help="clips per shape")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    path = data_dir() / "traduttore_asl33.npz"
    if path.is_file():
        with np.load(path) as z:
            kp = z["keypoints"][: args.clips]
        source = "real traduttore clips"
    else:
        kp = rng.uniform(0, 1, (args.clips, 20, 258)).astype(np.float16)
        source = "random clips of the traduttore shape"
    trad = [split_mp_data_vectors(k)[:2] for k in kp]
    coco = [(rng.uniform(0, 500, (100, 133, 2)).astype(np.float32), rng.uniform(size=(100, 133)) > 0.1)
            for _ in range(max(1, args.clips // 4))]  # fmt: skip
    print(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, numpy {np.__version__}; {source}")
    print("| shape | clips | reference ms/clip | make_input test ms/clip | make_input train ms/clip |")
    print("|---|---|---|---|---|")
    _bench("traduttore: mp-data-258 (T0=20) -> sam-slr-27, T=20", trad, "mp-data-258", InputConfig("sam-slr-27", 20))
    _bench("SLR500-like: coco-wholebody-133 (T0=100) -> gspmc-87, T=64", coco, "coco-wholebody-133",
           InputConfig("gspmc-87", 64))  # fmt: skip


if __name__ == "__main__":
    main()
