"""Time reading the shared traduttore npz into a ClipSet, against the bare minimum in the same process.

Reference: np.load of every array + the float16 -> float32 cast of the keypoints (what any reader
must do). Also reports the share spent in gspmc.pose.layouts.split_mp_data_vectors.

    .venv/bin/python bench/data_read.py [--repeats 5] [--path PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from gspmc.data.readers.npz import read_mp_npz
from gspmc.paths import data_dir
from gspmc.pose.layouts import split_mp_data_vectors


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--path", type=Path, default=None)
    args = parser.parse_args()
    path = args.path or data_dir() / "traduttore_asl33.npz"

    def reference() -> None:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["keypoints"].astype(np.float32)

    with np.load(path, allow_pickle=False) as z:
        flat = z["keypoints"].reshape(-1, z["keypoints"].shape[-1]).astype(np.float32)  # (N*T, F)
    ref = _time(reference, args.repeats)
    split = _time(lambda: split_mp_data_vectors(flat), args.repeats)
    full = _time(lambda: read_mp_npz(path), args.repeats)
    n = len(read_mp_npz(path))
    print(f"{path.name}: {n} clips, median of {args.repeats}")
    print(f"reference (np.load + cast)     {ref:.3f} s")
    print(f"split_mp_data_vectors alone    {split:.3f} s")
    print(f"read_mp_npz -> ClipSet         {full:.3f} s  ({full / ref:.1f}x reference)")


if __name__ == "__main__":
    main()
